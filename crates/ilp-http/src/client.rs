//! [`HttpClient`]: sends Prepares to a peer over ILP-over-HTTP (synchronous mode).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderName, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use ilp_core::{reject, AccountId, Clock, IlpResult, PacketHandler, Request, SystemClock};
use ilp_packet::{Address, ErrorCode, Packet, Reject, Timestamp};
use tracing::debug;

use crate::callback::{
    Callbacks, RegisterError, Waiting, CALLBACK_URL, PREFER, REQUEST_ID, RESPOND_ASYNC,
};

/// The largest response body accepted, in bytes (as interledger-rs): a Fulfill or a Reject is
/// at most about 32 KiB. A longer body is refused with `T00` without being read to the end.
pub const MAX_RESPONSE_LEN: usize = 40_000;

const OCTET_STREAM: &str = "application/octet-stream";

/// A static bearer token. `Debug` prints `BearerToken(<redacted>)`; the client never logs it.
#[derive(Clone)]
pub struct BearerToken(String);

impl BearerToken {
    /// Wraps a token (without the `Bearer ` prefix).
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The secret. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Makes the token of each outgoing request at the given time (for example a JWT minter;
/// closures `Fn(Timestamp) -> String` implement it). The token is never logged.
pub trait TokenSource: Send + Sync {
    /// The token to send now.
    fn token(&self, now: Timestamp) -> String;
}

impl<F: Fn(Timestamp) -> String + Send + Sync> TokenSource for F {
    fn token(&self, now: Timestamp) -> String {
        self(now)
    }
}

/// The `Authorization` header the client sends. `Debug` shows no secret.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum OutgoingAuth {
    /// No `Authorization` header (default).
    #[default]
    None,
    /// `Authorization: Bearer <token>` (the SIMPLE profile; Rafiki, interledger-rs).
    Bearer(BearerToken),
    /// A token made for each request at the client's clock, typically a short-lived JWT HS256
    /// (the `JWT_HS_256` profile) from `ilp_auth::jwt::JwtMinter`, which caches it:
    /// `OutgoingAuth::jwt(move |now| minter.token(now))`. This crate does not depend on
    /// ilp-auth; any [`TokenSource`] fits. Sent as `Authorization: Bearer <jwt>`, or as
    /// `Authorization: <jwt>` when `omit_bearer` is set (what ilp-plugin-http sends and
    /// expects).
    Jwt {
        /// Makes the tokens.
        minter: Arc<dyn TokenSource>,
        /// Leave out the word `Bearer ` (for ilp-plugin-http peers).
        omit_bearer: bool,
    },
}

impl OutgoingAuth {
    /// [`OutgoingAuth::Bearer`] with `token`.
    #[must_use]
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::Bearer(BearerToken::new(token))
    }

    /// [`OutgoingAuth::Jwt`] sent as `Bearer <jwt>`.
    #[must_use]
    pub fn jwt(minter: impl TokenSource + 'static) -> Self {
        Self::Jwt {
            minter: Arc::new(minter),
            omit_bearer: false,
        }
    }

    /// [`OutgoingAuth::Jwt`] sent without `Bearer ` (ilp-plugin-http).
    #[must_use]
    pub fn jwt_without_bearer(minter: impl TokenSource + 'static) -> Self {
        Self::Jwt {
            minter: Arc::new(minter),
            omit_bearer: true,
        }
    }
}

/// Settings of an [`HttpClient`]. Pub fields and by-value `with_*` setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The peer's ILP-over-HTTP endpoint, an `http://` URL (e.g.
    /// `http://peer.example:7770/accounts/alice/ilp`).
    pub url: Uri,
    /// This node's address: the `triggeredBy` of the Rejects the client makes.
    pub node_address: Address,
    /// The `Authorization` header (default none).
    pub auth: OutgoingAuth,
    /// Speak HTTP/2 with prior knowledge instead of HTTP/1.1 (default off).
    pub http2_only: bool,
    /// How long the TCP connect may take at most (default 10 s); the Prepare's expiry bounds it
    /// too.
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept (default 90 s).
    pub pool_idle_timeout: Duration,
    /// How many idle connections are kept per host (default 256: at least as many as the
    /// requests a sender keeps in flight over HTTP/1.1, or each extra one opens a connection).
    pub pool_max_idle_per_host: usize,
    /// Send in the asynchronous mode (default off: synchronous).
    pub asynchronous: Option<AsyncCaller>,
    /// The TLS settings for `https://` URLs (feature `rustls`): which servers to trust
    /// (default `None`: Mozilla's roots, from webpki-roots). See
    /// [`tls_client_config`](crate::tls_client_config).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// How an [`HttpClient`] sends in the asynchronous mode (see [`crate::callback`]): each
/// Prepare goes with `Prefer: respond-async`, `Callback-Url: <callback_url>` and a new random
/// `Request-Id`, and its reply is awaited in [`callbacks`](Self::callbacks), where this
/// process's callback endpoint
/// ([`IlpHttpService::with_callbacks`](crate::IlpHttpService::with_callbacks)) puts it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AsyncCaller {
    /// This process's callback endpoint, as the peer can reach it.
    pub callback_url: Uri,
    /// The table shared with the callback endpoint.
    pub callbacks: Callbacks,
    /// The account the peer authenticates as when it POSTs replies to the callback endpoint:
    /// a reply from any other account is refused.
    pub peer_account: AccountId,
}

impl AsyncCaller {
    /// Replies to be POSTed by the peer, authenticated as `peer_account`, to `callback_url`,
    /// served with `callbacks`.
    #[must_use]
    pub fn new(callback_url: Uri, callbacks: Callbacks, peer_account: AccountId) -> Self {
        Self {
            callback_url,
            callbacks,
            peer_account,
        }
    }
}

impl ClientConfig {
    /// A configuration for `url`, Rejects triggered by `node_address`, and defaults for the
    /// rest.
    #[must_use]
    pub fn new(url: Uri, node_address: Address) -> Self {
        Self {
            url,
            node_address,
            auth: OutgoingAuth::None,
            http2_only: false,
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
            asynchronous: None,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// Sets [`tls`](Self::tls) (feature `rustls`).
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn with_tls(mut self, tls: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets [`asynchronous`](Self::asynchronous).
    #[must_use]
    pub fn with_async(mut self, caller: AsyncCaller) -> Self {
        self.asynchronous = Some(caller);
        self
    }

    /// Sets [`auth`](Self::auth).
    #[must_use]
    pub fn with_auth(mut self, auth: OutgoingAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets [`http2_only`](Self::http2_only).
    #[must_use]
    pub fn with_http2_only(mut self, http2_only: bool) -> Self {
        self.http2_only = http2_only;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn with_connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// Sets [`pool_idle_timeout`](Self::pool_idle_timeout).
    #[must_use]
    pub fn with_pool_idle_timeout(mut self, pool_idle_timeout: Duration) -> Self {
        self.pool_idle_timeout = pool_idle_timeout;
        self
    }

    /// Sets [`pool_max_idle_per_host`](Self::pool_max_idle_per_host).
    #[must_use]
    pub fn with_pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }
}

/// Why a configuration was refused by [`HttpClient::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// The URL is not `http://` (or, with the `rustls` feature, `https://`) with a host.
    #[error("unsupported peer URL (an http:// or, with the rustls feature, https:// URL with a host is required)")]
    UnsupportedUrl,
    /// The bearer token cannot be an HTTP header value (the message does not contain it).
    #[error("bearer token is not a valid HTTP header value")]
    InvalidToken,
    /// The asynchronous mode's callback URL is not an absolute `http://` or `https://` URL.
    #[error("the callback URL must be an absolute http:// or https:// URL")]
    InvalidCallbackUrl,
    /// The TLS settings are unusable: the crypto provider supports no safe protocol version
    /// (feature `rustls`).
    #[error("TLS settings unusable: {0}")]
    Tls(String),
}

/// Why a request did not bring a Fulfill or a Reject back; [`failure_reject`] turns it into
/// the Reject [`HttpClient`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFailure {
    /// No connection could be made (refused, unreachable, DNS, connect timeout).
    Connect,
    /// The connection failed after it was made (reset, closed, protocol error), before the
    /// whole response arrived.
    Transport,
    /// The Prepare expired before the response arrived (or before it was sent).
    Expired,
    /// The peer answered with this status, not `200 OK`.
    Status(StatusCode),
    /// A `200 OK` whose body is not an ILP Fulfill or Reject.
    InvalidBody,
    /// A response body longer than [`MAX_RESPONSE_LEN`].
    BodyTooLarge,
    /// The asynchronous mode's table of requests waiting for a reply is full (or the system
    /// has no random source for a `Request-Id`): the Prepare was not sent.
    TooManyPending,
}

/// The Reject, triggered by `node`, for a request that failed. This is the one place where
/// HTTP failures become ILP errors:
///
/// | failure | code | message |
/// |---|---|---|
/// | cannot connect ([`SendFailure::Connect`]) | `T01` Peer Unreachable | `cannot connect to peer` |
/// | connection lost mid-request ([`SendFailure::Transport`]) | `T01` Peer Unreachable | `connection to peer failed` |
/// | the Prepare expired first ([`SendFailure::Expired`]) | `R00` Transfer Timed Out | `peer did not answer before the Prepare expired` |
/// | `5xx` | `T00` Internal Error | `peer answered HTTP <status>` |
/// | `4xx` | `F00` Bad Request | `peer answered HTTP <status>` |
/// | other non-`200` (`1xx`, `2xx` such as `202`, `3xx`) | `T00` Internal Error | `peer answered HTTP <status>` |
/// | `200` whose body is not a Fulfill or a Reject (a Prepare, garbage, empty) | `T00` Internal Error | `peer answered with an invalid ILP packet` |
/// | a body over [`MAX_RESPONSE_LEN`] bytes | `T00` Internal Error | `peer's response is too large` |
/// | asynchronous mode: too many requests waiting for a reply ([`SendFailure::TooManyPending`]) | `T03` Connector Busy | `too many requests waiting for a callback` |
///
/// A `200` with a Reject is not a failure: the peer's Reject is returned unchanged.
#[must_use]
pub fn failure_reject(failure: SendFailure, node: &Address) -> Reject {
    let status_message;
    let (code, message) = match failure {
        SendFailure::Connect => (ErrorCode::T01_PEER_UNREACHABLE, "cannot connect to peer"),
        SendFailure::Transport => (ErrorCode::T01_PEER_UNREACHABLE, "connection to peer failed"),
        SendFailure::Expired => (
            ErrorCode::R00_TRANSFER_TIMED_OUT,
            "peer did not answer before the Prepare expired",
        ),
        SendFailure::Status(status) => {
            status_message = format!("peer answered HTTP {status}");
            let code = if status.is_client_error() {
                ErrorCode::F00_BAD_REQUEST
            } else {
                ErrorCode::T00_INTERNAL_ERROR
            };
            (code, status_message.as_str())
        }
        SendFailure::InvalidBody => (
            ErrorCode::T00_INTERNAL_ERROR,
            "peer answered with an invalid ILP packet",
        ),
        SendFailure::BodyTooLarge => (
            ErrorCode::T00_INTERNAL_ERROR,
            "peer's response is too large",
        ),
        SendFailure::TooManyPending => (
            ErrorCode::T03_CONNECTOR_BUSY,
            "too many requests waiting for a callback",
        ),
    };
    reject(code, node, message)
}

/// The ILP-over-HTTP client: a [`PacketHandler`] that sends each Prepare to one peer. Cheap
/// to clone; clones share the connection pool.
///
/// Each Prepare is one `POST <peer URL>` whose body is the Prepare's bytes as they are (never
/// re-encoded), with `Content-Type: application/octet-stream`,
/// `Accept: application/octet-stream` and the configured [`OutgoingAuth`]. A `200 OK` answer
/// carries the Fulfill or the Reject; a peer's Reject is returned unchanged. Anything else
/// becomes a Reject from [`ClientConfig::node_address`], in one place: [`failure_reject`] (see
/// the table there). The response's `Content-Type` is not checked.
///
/// With [`ClientConfig::asynchronous`] set, each request also carries
/// `Prefer: respond-async`, `Callback-Url` and a new `Request-Id`; a `202 Accepted` answer
/// means the reply will come to the callback endpoint, and is awaited there (a peer that
/// ignores the preference and answers `200` with the Fulfill or Reject is fine too).
///
/// Connections come from a hyper-util pool and are kept alive between requests. Over
/// `http://`: HTTP/1.1 by default, HTTP/2 with prior knowledge (`h2c`) with
/// [`ClientConfig::http2_only`]. Over `https://` (feature `rustls`, trusting
/// [`ClientConfig::tls`]): HTTP/2 or HTTP/1.1 as ALPN settles, only HTTP/2 with
/// `http2_only`.
///
/// The time a request may take is the time left until the Prepare's `expires_at`, read through
/// the client's [`Clock`]: when it runs out (in the asynchronous mode: before the reply came)
/// the request is dropped and the answer is `R00`. An already expired Prepare is rejected with
/// `R00` without a request.
///
/// ```no_run
/// use ilp_core::{PacketHandler, Principal, Request};
/// use ilp_http::{ClientConfig, HttpClient, OutgoingAuth};
/// use ilp_packet::Address;
///
/// # async fn f(request: Request) -> Result<(), Box<dyn std::error::Error>> {
/// let config = ClientConfig::new(
///     "http://127.0.0.1:7770/accounts/alice/ilp".parse()?,
///     Address::from_static("example.alice"),
/// )
/// .with_auth(OutgoingAuth::bearer("secret-token"));
/// let client = HttpClient::new(config)?;
/// let result = client.handle(request).await; // Ok(Fulfill) or Err(Reject)
/// # drop(result); Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClient<C = SystemClock> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    transport: Transport,
    url: Uri,
    node_address: Address,
    auth: Auth,
    asynchronous: Option<Async>,
    clock: C,
}

/// [`AsyncCaller`] with the callback URL as a header value.
struct Async {
    callback_url: HeaderValue,
    callbacks: Callbacks,
    peer_account: AccountId,
}

/// The auth with the static header prepared once.
pub(crate) enum Auth {
    None,
    Static(HeaderValue),
    Jwt {
        minter: Arc<dyn TokenSource>,
        omit_bearer: bool,
    },
}

impl Auth {
    pub(crate) fn new(auth: OutgoingAuth) -> Result<Self, ClientConfigError> {
        Ok(match auth {
            OutgoingAuth::None => Self::None,
            OutgoingAuth::Bearer(token) => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
                    .map_err(|_| ClientConfigError::InvalidToken)?;
                value.set_sensitive(true);
                Self::Static(value)
            }
            OutgoingAuth::Jwt {
                minter,
                omit_bearer,
            } => Self::Jwt {
                minter,
                omit_bearer,
            },
        })
    }

    /// The `Authorization` header to send now (`now` is read only for minted tokens).
    pub(crate) fn header(&self, now: impl FnOnce() -> Timestamp) -> Option<HeaderValue> {
        match self {
            Self::None => None,
            Self::Static(value) => Some(value.clone()),
            Self::Jwt {
                minter,
                omit_bearer,
            } => {
                let token = minter.token(now());
                let text = if *omit_bearer {
                    token
                } else {
                    format!("Bearer {token}")
                };
                // A JWT is base64url and dots: always a valid header value.
                let mut value = HeaderValue::try_from(text).ok()?;
                value.set_sensitive(true);
                Some(value)
            }
        }
    }
}

impl fmt::Debug for OutgoingAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(token) => f.debug_tuple("Bearer").field(token).finish(),
            Self::Jwt { omit_bearer, .. } => f
                .debug_struct("Jwt")
                .field("omit_bearer", omit_bearer)
                .finish_non_exhaustive(),
        }
    }
}

impl<C> fmt::Debug for HttpClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.inner.auth {
            Auth::None => "none",
            Auth::Static(_) => "bearer",
            Auth::Jwt { .. } => "jwt",
        };
        f.debug_struct("HttpClient")
            .field("url", &self.inner.url)
            .field("node_address", &self.inner.node_address)
            .field("auth", &auth)
            .field("asynchronous", &self.inner.asynchronous.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "rustls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "rustls"))]
type Connector = HttpConnector;

/// The settings of a [`Transport`].
pub(crate) struct TransportSettings {
    pub(crate) http2_only: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) pool_max_idle_per_host: usize,
    #[cfg(feature = "rustls")]
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

/// The pooled hyper client shared by [`HttpClient`] and the server's reply sender: one `POST`
/// and its response head. With the `rustls` feature it speaks `https://` too, offering ALPN
/// `h2` and `http/1.1` (only `h2` when `http2_only`).
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<Connector, Full<Bytes>>,
}

impl Transport {
    pub(crate) fn new(settings: TransportSettings) -> Result<Self, ClientConfigError> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        #[cfg(feature = "rustls")]
        let connector = {
            http.enforce_http(false);
            let tls = crate::tls::client_config(settings.tls.as_ref())
                .map_err(|e| ClientConfigError::Tls(e.to_string()))?;
            let builder = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http();
            if settings.http2_only {
                builder.enable_http2().wrap_connector(http)
            } else {
                builder.enable_all_versions().wrap_connector(http)
            }
        };
        #[cfg(not(feature = "rustls"))]
        let connector = http;
        let client = Client::builder(TokioExecutor::new())
            .http2_only(settings.http2_only)
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Self { client })
    }

    /// POSTs `body` to `url` as `application/octet-stream` with `headers`; gives the response
    /// head and its unread body.
    pub(crate) async fn post(
        &self,
        url: &Uri,
        headers: impl IntoIterator<Item = (HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<http::Response<Incoming>, SendFailure> {
        // Built in place rather than with `http::request::Builder`, which moves the whole
        // request at each step and copies the static header values into new buffers.
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = url.clone();
        let map = request.headers_mut();
        map.insert(CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
        map.insert(ACCEPT, HeaderValue::from_static(OCTET_STREAM));
        for (name, value) in headers {
            map.insert(name, value);
        }
        self.client.request(request).await.map_err(|e| {
            debug!(error = %e, %url, "ILP-over-HTTP request failed");
            if e.is_connect() {
                SendFailure::Connect
            } else {
                SendFailure::Transport
            }
        })
    }
}

impl HttpClient<SystemClock> {
    /// A client on the system clock. Needs a tokio runtime when sending, not to be built.
    pub fn new(config: ClientConfig) -> Result<Self, ClientConfigError> {
        Self::with_clock(config, SystemClock)
    }
}

impl<C: Clock> HttpClient<C> {
    /// A client reading the time (for expiries and JWTs) from `clock`.
    pub fn with_clock(config: ClientConfig, clock: C) -> Result<Self, ClientConfigError> {
        let scheme_ok = config.url.scheme() == Some(&http::uri::Scheme::HTTP)
            || (cfg!(feature = "rustls") && config.url.scheme() == Some(&http::uri::Scheme::HTTPS));
        if !scheme_ok || config.url.host().is_none() {
            return Err(ClientConfigError::UnsupportedUrl);
        }
        let auth = Auth::new(config.auth)?;
        let asynchronous = match config.asynchronous {
            None => None,
            Some(caller) => {
                let url = &caller.callback_url;
                let scheme_ok = url.scheme() == Some(&http::uri::Scheme::HTTP)
                    || url.scheme() == Some(&http::uri::Scheme::HTTPS);
                if !scheme_ok || url.host().is_none() {
                    return Err(ClientConfigError::InvalidCallbackUrl);
                }
                Some(Async {
                    callback_url: HeaderValue::try_from(url.to_string())
                        .map_err(|_| ClientConfigError::InvalidCallbackUrl)?,
                    callbacks: caller.callbacks,
                    peer_account: caller.peer_account,
                })
            }
        };
        let transport = Transport::new(TransportSettings {
            http2_only: config.http2_only,
            connect_timeout: config.connect_timeout,
            pool_idle_timeout: config.pool_idle_timeout,
            pool_max_idle_per_host: config.pool_max_idle_per_host,
            #[cfg(feature = "rustls")]
            tls: config.tls,
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                url: config.url,
                node_address: config.node_address,
                auth,
                asynchronous,
                clock,
            }),
        })
    }

    /// Sends `body` and reads the answer, without any time limit (the caller sets it). In the
    /// asynchronous mode, `waiting` is the reply's entry in the callback table.
    async fn exchange(
        &self,
        body: Bytes,
        waiting: Option<Waiting>,
    ) -> Result<IlpResult, SendFailure> {
        // No allocation for the headers: an iterator over at most four.
        let authorization = self
            .inner
            .auth
            .header(|| self.inner.clock.now())
            .map(|value| (AUTHORIZATION, value));
        let asynchronous = match (&waiting, &self.inner.asynchronous) {
            (Some(waiting), Some(caller)) => Some([
                (
                    HeaderName::from_static(PREFER),
                    HeaderValue::from_static(RESPOND_ASYNC),
                ),
                (
                    HeaderName::from_static(CALLBACK_URL),
                    caller.callback_url.clone(),
                ),
                (
                    HeaderName::from_static(REQUEST_ID),
                    HeaderValue::from_str(waiting.id.as_str())
                        .map_err(|_| SendFailure::Transport)?,
                ),
            ]),
            _ => None,
        };
        let headers = authorization
            .into_iter()
            .chain(asynchronous.into_iter().flatten());
        let response = self
            .inner
            .transport
            .post(&self.inner.url, headers, body)
            .await?;
        let status = response.status();
        if let (StatusCode::ACCEPTED, Some(mut waiting)) = (status, waiting) {
            // The body is not read (a 202's is empty; if not, its HTTP/1.1 connection closes).
            drop(response);
            debug!(request_id = %waiting.id, "ILP-over-HTTP: accepted, waiting for the callback");
            // The sender lives in the table until the reply or the `Waiting` drop: an error
            // here cannot happen while `waiting` is alive.
            return (&mut waiting.reply)
                .await
                .map_err(|_| SendFailure::Transport);
        }
        if status != StatusCode::OK {
            return Err(SendFailure::Status(status));
        }
        let declared_too_large = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|len| len > MAX_RESPONSE_LEN as u64);
        if declared_too_large {
            return Err(SendFailure::BodyTooLarge);
        }
        let body = Limited::new(response.into_body(), MAX_RESPONSE_LEN)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    SendFailure::BodyTooLarge
                } else {
                    SendFailure::Transport
                }
            })?
            .to_bytes();
        match Packet::decode(body) {
            Ok(Packet::Fulfill(fulfill)) => Ok(Ok(fulfill)),
            Ok(Packet::Reject(reject)) => Ok(Err(reject)),
            Ok(Packet::Prepare(_)) | Err(_) => Err(SendFailure::InvalidBody),
        }
    }
}

#[async_trait]
impl<C: Clock + 'static> PacketHandler for HttpClient<C> {
    async fn handle(&self, request: Request) -> IlpResult {
        let now = self.inner.clock.now();
        let expires_at = request.prepare.expires_at();
        let node = &self.inner.node_address;
        if expires_at <= now {
            return Err(failure_reject(SendFailure::Expired, node));
        }
        let waiting = match &self.inner.asynchronous {
            None => None,
            Some(caller) => match caller.callbacks.register(caller.peer_account.clone()) {
                Ok(waiting) => Some(waiting),
                Err(RegisterError::Full | RegisterError::Random) => {
                    return Err(failure_reject(SendFailure::TooManyPending, node));
                }
            },
        };
        let left = expires_at.saturating_duration_since(now);
        // The Prepare's own bytes, shared, not re-encoded.
        let body = request.prepare.into_bytes();
        match tokio::time::timeout(left, self.exchange(body, waiting)).await {
            Ok(Ok(result)) => result,
            Ok(Err(failure)) => Err(failure_reject(failure, node)),
            Err(_elapsed) => Err(failure_reject(SendFailure::Expired, node)),
        }
    }
}
