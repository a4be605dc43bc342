//! [`HttpClient`]: sends Prepares to a peer over ILP-over-HTTP (synchronous mode).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use bytes::BytesMut;
use http::header::{HeaderName, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use ilp_core::{reject, AccountId, Clock, IlpResult, PacketHandler, Request, SystemClock};
use ilp_packet::{Address, ErrorCode, Packet, Prepare, Reject, Timestamp, MAX_PACKET_LEN};
use tracing::debug;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::callback::{
    Callbacks, RegisterError, Waiting, CALLBACK_URL, PREFER, REQUEST_ID, RESPOND_ASYNC,
};

/// The largest response body accepted, in bytes: the largest Fulfill or Reject
/// ([`ilp_packet::MAX_PACKET_LEN`], 41 997 bytes: a Reject with a 1 023-byte `triggeredBy`, an
/// 8 191-byte message and 32 767 bytes of data). A longer body is refused with `T00` without
/// being read to the end.
pub const MAX_RESPONSE_LEN: usize = MAX_PACKET_LEN;

const OCTET_STREAM: &str = "application/octet-stream";

/// A static bearer token. `Debug` prints `BearerToken(<redacted>)`; the client never logs it;
/// its bytes are zeroed when it is dropped (and those of the `Authorization` value a client
/// builds from it, when the client is dropped).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
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
/// closures `Fn(Timestamp) -> String` implement it). The token is never logged, and the
/// client zeroes the returned `String` and the header value it makes from it once the request
/// is sent.
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

/// Settings of an [`HttpClient`]. Made by [`ClientConfig::new`], which checks the URL; pub
/// fields and by-value `with_*` setters. `Debug` shows no secret.
///
/// ```
/// use ilp_http::{ClientConfig, ClientConfigError, OutgoingAuth};
/// use ilp_packet::Address;
///
/// let me = Address::from_static("example.alice");
/// let config = ClientConfig::new("http://127.0.0.1:7770/accounts/alice/ilp", me.clone())?
///     .with_auth(OutgoingAuth::bearer("secret-token"));
/// assert!(!format!("{config:?}").contains("secret-token"));
///
/// // A port that does not fit in 16 bits is refused, never read as the default port 80.
/// let bad = ClientConfig::new("http://127.0.0.1:99999/x", me).unwrap_err();
/// assert_eq!(bad, ClientConfigError::InvalidPort { url: "peer URL", port: "99999".into() });
/// # Ok::<(), ClientConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The peer's ILP-over-HTTP endpoint, an `http://` URL (or `https://` with the `rustls`
    /// feature), e.g. `http://peer.example:7770/accounts/alice/ilp`. Checked again by
    /// [`HttpClient::new`] when changed after [`ClientConfig::new`].
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
    /// A configuration for `url` (a `&str`, a `String` or a parsed [`Uri`]), Rejects
    /// triggered by `node_address`, and defaults for the rest.
    ///
    /// # Errors
    ///
    /// When `url` does not parse ([`ClientConfigError::InvalidUrl`]), is relative
    /// ([`RelativeUrl`](ClientConfigError::RelativeUrl)), is not `http://` (or `https://`
    /// with the `rustls` feature: [`UnsupportedScheme`](ClientConfigError::UnsupportedScheme)),
    /// has an invalid host ([`InvalidHost`](ClientConfigError::InvalidHost)) or port
    /// ([`InvalidPort`](ClientConfigError::InvalidPort): empty, `0`, or over 65535; a port is
    /// never replaced by the scheme's default), or carries `user:password@`
    /// ([`CredentialsInUrl`](ClientConfigError::CredentialsInUrl)). Each error names the part.
    pub fn new<U>(url: U, node_address: Address) -> Result<Self, ClientConfigError>
    where
        U: TryInto<Uri>,
        U::Error: Into<http::Error>,
    {
        let url = url
            .try_into()
            .map_err(|error| ClientConfigError::InvalidUrl {
                url: PEER_URL,
                reason: error.into().to_string(),
            })?;
        check_peer_url(&url)?;
        Ok(Self {
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
        })
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

/// The name of the peer's URL in [`ClientConfigError`]s.
const PEER_URL: &str = "peer URL";
/// The name of the asynchronous mode's callback URL in [`ClientConfigError`]s.
pub(crate) const CALLBACK_URL_NAME: &str = "callback URL";

fn check_peer_url(url: &Uri) -> Result<(), ClientConfigError> {
    crate::url::check(url, PEER_URL, cfg!(feature = "rustls"))
}

/// Why a configuration was refused by [`ClientConfig::new`] or [`HttpClient::new`]. Each URL
/// error names the URL (`url`: `"peer URL"` or `"callback URL"`) and the part at fault; none
/// contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// The URL text is not a URI (`reason` says why). Remedy: give an absolute URL such as
    /// `http://peer.example:7770/accounts/alice/ilp`.
    #[error("{url} is not a valid URL: {reason}")]
    InvalidUrl {
        /// Which URL.
        url: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The URL has no scheme or no host. Remedy: give an absolute URL, with `http://` and a
    /// host.
    #[error("{url} must be absolute, with a scheme and a host")]
    RelativeUrl {
        /// Which URL.
        url: &'static str,
    },
    /// The scheme is not `http` (or `https`: for the peer URL, only with the `rustls`
    /// feature). Remedy: use `http://`, or enable `rustls` for `https://`.
    #[error(
        "{url} has the unsupported scheme `{scheme}` (http, or https with the rustls feature)"
    )]
    UnsupportedScheme {
        /// Which URL.
        url: &'static str,
        /// The scheme given.
        scheme: String,
    },
    /// The host is not a DNS name (letters, digits, `-`, `_` in non-empty labels), a dotted
    /// IPv4 address or a bracketed IPv6 address. Remedy: fix the host.
    #[error("{url} has an invalid host `{host}`")]
    InvalidHost {
        /// Which URL.
        url: &'static str,
        /// The host given.
        host: String,
    },
    /// The port is empty, `0` or over 65535 (a connector would silently use the scheme's
    /// default port instead, sending the credentials there). Remedy: give a port from 1 to
    /// 65535, or none for the scheme's default.
    #[error("{url} has an invalid port `{port}` (1 to 65535, or none for the default)")]
    InvalidPort {
        /// Which URL.
        url: &'static str,
        /// The port text given.
        port: String,
    },
    /// The URL carries `user:password@` (which would not be sent). Remedy: remove it and set
    /// [`ClientConfig::auth`] (or the callback route's auth).
    #[error("{url} carries credentials (user:password@); set them as the auth instead")]
    CredentialsInUrl {
        /// Which URL.
        url: &'static str,
    },
    /// A callback URL has a `.` or `..` path segment, literal or percent-encoded (`%2e`),
    /// which the server may resolve to a path outside the one allowed. Remedy: give the path
    /// without dot segments.
    #[error("{url} has a `.` or `..` path segment")]
    DotSegment {
        /// Which URL.
        url: &'static str,
    },
    /// The bearer token cannot be an HTTP header value (the message does not contain it).
    /// Remedy: a token of visible ASCII characters.
    #[error("bearer token is not a valid HTTP header value")]
    InvalidToken,
    /// The TLS settings are unusable: the crypto provider supports no safe protocol version
    /// (feature `rustls`). Remedy: install a crypto provider with TLS 1.2 or 1.3.
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
/// Send with [`send`](Self::send), as with `ilp_btp::ws::BtpClient::send`; as a
/// [`PacketHandler`], `handle` sends the request's Prepare (its `from` is not used: the peer
/// knows this node by the credentials).
///
/// ```no_run
/// use ilp_http::{ClientConfig, HttpClient, OutgoingAuth};
/// use ilp_packet::{Address, Prepare};
///
/// # async fn f(prepare: Prepare) -> Result<(), Box<dyn std::error::Error>> {
/// let config = ClientConfig::new(
///     "http://127.0.0.1:7770/accounts/alice/ilp",
///     Address::from_static("example.alice"),
/// )?
/// .with_auth(OutgoingAuth::bearer("secret-token"));
/// let client = HttpClient::new(config)?;
/// let result = client.send(prepare).await; // Ok(Fulfill) or Err(Reject)
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
    Static(SecretHeader),
    Jwt {
        minter: Arc<dyn TokenSource>,
        omit_bearer: bool,
    },
}

impl Auth {
    pub(crate) fn new(auth: OutgoingAuth) -> Result<Self, ClientConfigError> {
        Ok(match auth {
            OutgoingAuth::None => Self::None,
            OutgoingAuth::Bearer(token) => Self::Static(
                SecretHeader::new(b"Bearer ", token.expose())
                    .ok_or(ClientConfigError::InvalidToken)?,
            ),
            OutgoingAuth::Jwt {
                minter,
                omit_bearer,
            } => Self::Jwt {
                minter,
                omit_bearer,
            },
        })
    }

    /// The `Authorization` header to send now (`now` is read only for minted tokens), and,
    /// for a minted one, its owner: keep it until the request is sent, and its bytes are
    /// zeroed when it is dropped.
    pub(crate) fn header(
        &self,
        now: impl FnOnce() -> Timestamp,
    ) -> Option<(HeaderValue, Option<SecretHeader>)> {
        match self {
            Self::None => None,
            Self::Static(secret) => Some((secret.value.clone(), None)),
            Self::Jwt {
                minter,
                omit_bearer,
            } => {
                let token = Zeroizing::new(minter.token(now()));
                let prefix: &[u8] = if *omit_bearer { b"" } else { b"Bearer " };
                // A JWT is base64url and dots: always a valid header value.
                let secret = SecretHeader::new(prefix, &token)?;
                Some((secret.value.clone(), Some(secret)))
            }
        }
    }
}

/// A sensitive header value whose bytes are zeroed on drop when no other copy is left (the
/// copies given to hyper are dropped once the request is written). Bytes that hyper copied
/// into its own write buffers are beyond its reach.
pub(crate) struct SecretHeader {
    value: HeaderValue,
    bytes: Bytes,
}

impl SecretHeader {
    /// `prefix` then `secret`, as one header value; `None` if not a valid header value.
    fn new(prefix: &[u8], secret: &str) -> Option<Self> {
        let mut buf = BytesMut::with_capacity(prefix.len() + secret.len());
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(secret.as_bytes());
        let bytes = buf.freeze();
        // Shares `bytes`, no copy.
        let Ok(mut value) = HeaderValue::from_maybe_shared(bytes.clone()) else {
            wipe(bytes);
            return None;
        };
        value.set_sensitive(true);
        Some(Self { value, bytes })
    }
}

impl Drop for SecretHeader {
    fn drop(&mut self) {
        // Our own copy of the bytes goes first, so that `bytes` may be the last.
        self.value = HeaderValue::from_static("");
        wipe(std::mem::take(&mut self.bytes));
    }
}

/// Zeroes `bytes` when it is the last handle on its buffer; gives the zeroed buffer back
/// (for tests), or `None` when another handle still shares it.
pub(crate) fn wipe(bytes: Bytes) -> Option<BytesMut> {
    let mut buf = bytes.try_into_mut().ok()?;
    buf[..].zeroize();
    Some(buf)
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
    ///
    /// # Errors
    ///
    /// As [`ClientConfig::new`], for the peer URL and the asynchronous mode's callback URL
    /// (which may also be `https://` without the `rustls` feature, and must not have a `.` or
    /// `..` segment); [`ClientConfigError::InvalidToken`] for a bearer token that is not a
    /// header value; [`ClientConfigError::Tls`] for unusable TLS settings.
    pub fn with_clock(config: ClientConfig, clock: C) -> Result<Self, ClientConfigError> {
        check_peer_url(&config.url)?;
        let auth = Auth::new(config.auth)?;
        let asynchronous = match config.asynchronous {
            None => None,
            Some(caller) => {
                let url = &caller.callback_url;
                crate::url::check(url, CALLBACK_URL_NAME, true)?;
                if crate::url::has_dot_segment(url) {
                    return Err(ClientConfigError::DotSegment {
                        url: CALLBACK_URL_NAME,
                    });
                }
                Some(Async {
                    callback_url: HeaderValue::try_from(url.to_string()).map_err(|error| {
                        ClientConfigError::InvalidUrl {
                            url: CALLBACK_URL_NAME,
                            reason: error.to_string(),
                        }
                    })?,
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
        // No allocation for the headers: an iterator over at most four. `_secret` keeps a
        // minted token's bytes until the request is sent, then zeroes them.
        let (authorization, _secret) = match self.inner.auth.header(|| self.inner.clock.now()) {
            Some((value, secret)) => (Some((AUTHORIZATION, value)), secret),
            None => (None, None),
        };
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

impl<C: Clock> HttpClient<C> {
    /// Sends a Prepare to the peer and waits for the answer: the peer's Fulfill or Reject,
    /// or a Reject from [`ClientConfig::node_address`] as [`failure_reject`] says (`R00` when
    /// the Prepare expires first, `T01` when the peer cannot be reached, ...).
    pub async fn send(&self, prepare: Prepare) -> IlpResult {
        let now = self.inner.clock.now();
        let expires_at = prepare.expires_at();
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
        let body = prepare.into_bytes();
        match tokio::time::timeout(left, self.exchange(body, waiting)).await {
            Ok(Ok(result)) => result,
            Ok(Err(failure)) => Err(failure_reject(failure, node)),
            Err(_elapsed) => Err(failure_reject(SendFailure::Expired, node)),
        }
    }
}

/// Sends the request's Prepare with [`HttpClient::send`]; `from` is not used.
#[async_trait]
impl<C: Clock + 'static> PacketHandler for HttpClient<C> {
    async fn handle(&self, request: Request) -> IlpResult {
        self.send(request.prepare).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_headers_are_zeroed_when_the_last_copy_goes() {
        let secret = SecretHeader::new(b"Bearer ", "abc").unwrap();
        assert_eq!(secret.value, "Bearer abc");
        assert!(secret.value.is_sensitive());
        // Another copy alive: not wiped (it would be freed by its owner).
        let copy = secret.bytes.clone();
        assert!(wipe(secret.bytes.clone()).is_none());
        drop(secret);
        let wiped = wipe(copy).expect("last copy");
        assert_eq!(&wiped[..], &[0u8; 10]);
        assert!(SecretHeader::new(b"Bearer ", "line\nbreak").is_none());
    }

    #[test]
    fn bearer_tokens_zero_themselves() {
        fn zeroed_on_drop<T: ZeroizeOnDrop>() {}
        zeroed_on_drop::<BearerToken>();
        let mut token = BearerToken::new("s3cret");
        token.zeroize();
        assert_eq!(token.expose(), "");
    }

    #[test]
    fn debug_shows_no_secret() {
        let config =
            ClientConfig::new("http://peer.example/ilp", Address::from_static("example.a"))
                .unwrap()
                .with_auth(OutgoingAuth::bearer("s3cret-token"));
        let jwt = OutgoingAuth::jwt(|_now: Timestamp| "s3cret-jwt".to_owned());
        let client = HttpClient::new(config.clone()).unwrap();
        for text in [
            format!("{config:?}"),
            format!("{jwt:?}"),
            format!("{client:?}"),
            format!("{:?}", BearerToken::new("s3cret-token")),
            format!(
                "{:?}",
                crate::CallbackRoutes::new().allow(
                    "a".parse().unwrap(),
                    "http://a.example/cb".parse().unwrap(),
                    OutgoingAuth::bearer("s3cret-token"),
                )
            ),
        ] {
            assert!(!text.contains("s3cret"), "{text}");
        }
    }
}
