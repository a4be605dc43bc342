//! The server core: [`Endpoint`] turns an HTTP request into an HTTP response, with no I/O of
//! its own (no hyper, no sockets, no clock). With the `tokio` feature, [`IlpHttpService`]
//! wraps it as a `tower::Service` and [`HttpServer`] serves it with hyper.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use ilp_core::{AuthError, Authenticator, Credentials, PacketHandler, Principal, Request};
use ilp_packet::{ErrorCode, Prepare, RejectBuilder};
use tracing::{debug, field, Instrument, Span};

mod config;
#[cfg(feature = "tokio")]
mod listener;
#[cfg(feature = "tokio")]
mod replies;
#[cfg(feature = "tokio")]
mod service;

pub use config::{ServerConfig, DEFAULT_MAX_BODY_LEN};
#[cfg(feature = "tokio")]
pub use listener::HttpServer;
#[cfg(feature = "tokio")]
pub use replies::AsyncConfig;
#[cfg(feature = "tokio")]
pub use service::IlpHttpService;

/// The media type of ILP packets in requests and responses.
pub const OCTET_STREAM: &str = "application/octet-stream";
/// The deprecated media type that ilp-plugin-http and interledger4j also use; accepted in
/// requests, never sent.
pub const ILP_OCTET_STREAM: &str = "application/ilp+octet-stream";
/// The header that names the account when the path does not (peer-based credentials).
pub const ILP_PEER_ID: &str = "ilp-peer-id";

/// Why a request is refused before it reaches the handler. The one place HTTP statuses are
/// chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 404: the path does not match [`ServerConfig::path`].
    NotFound,
    /// 405 with `Allow: POST`.
    MethodNotAllowed,
    /// 415: a content type other than the ILP ones.
    UnsupportedMediaType,
    /// 413: the body is over [`ServerConfig::max_body_len`].
    PayloadTooLarge,
    /// 400 with no body: a malformed head or body stream (not a bad packet).
    BadRequest,
    /// 408: the body did not arrive in time.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    RequestTimeout,
    /// 401 with `WWW-Authenticate: Bearer` and no detail.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 429 with `Retry-After` (whole seconds, at least 1).
    TooManyRequests(Duration),
    /// 503.
    Unavailable,
}

impl Refusal {
    fn from_auth(error: &AuthError) -> Self {
        match (error, error.http_status()) {
            (AuthError::Throttled { retry_after }, _) => Self::TooManyRequests(*retry_after),
            (_, 403) => Self::Forbidden,
            (_, 503) => Self::Unavailable,
            _ => Self::Unauthorized,
        }
    }

    pub(crate) fn into_response(self) -> Response<Bytes> {
        let status = match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        match self {
            Self::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests(retry_after) => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            _ => {}
        }
        response
    }
}

/// The ILP-over-HTTP server core (synchronous mode; the asynchronous one, which needs a
/// runtime to send replies later, is in [`IlpHttpService::with_async`]): checks a request, authenticates it through
/// an [`Authenticator`], decodes the Prepare, asks the [`PacketHandler`] and answers with the
/// Fulfill or Reject. Cheap to clone (one `Arc`).
///
/// | Request | Answer |
/// |---|---|
/// | `POST` on [`ServerConfig::path`], a valid Prepare, good credentials | `200`, `application/octet-stream`, the Fulfill or the Reject |
/// | a body that is not a Prepare | `400`, `application/octet-stream`, a Reject `F01` from [`ServerConfig::node_address`] |
/// | no, malformed or refused credentials | `401`, `WWW-Authenticate: Bearer`, no body |
/// | a credential that does not allow sending on the account | `403` |
/// | too many failed attempts | `429`, `Retry-After` |
/// | the credential store failed | `503` |
/// | a body over [`ServerConfig::max_body_len`] | `413`, the body left unread |
/// | another method than `POST` | `405`, `Allow: POST` |
/// | a content type other than `application/octet-stream` or `application/ilp+octet-stream` | `415` |
/// | another path | `404` |
///
/// Checks run cheapest first: path, method, content type, `Content-Length`; then the
/// credentials; then the body is read and decoded. Decisions:
///
/// - **Content type**: `application/octet-stream` or the deprecated
///   `application/ilp+octet-stream` (ilp-plugin-http), case-insensitive, parameters ignored.
///   A request **without** `Content-Type` is accepted (as interledger-rs does): the body is
///   checked by decoding it anyway.
/// - **Credentials**: `Authorization: Bearer <token>` (scheme case-insensitive) or a bare
///   `Authorization: <token>` (ilp-plugin-http sends its JWTs so); any other scheme, an empty
///   token or several `Authorization` headers are refused (`401`). They go to the
///   authenticator as `Credentials::Bearer { token, account }` with the client's IP address
///   as `source`.
/// - **Account**: from the path's `{account}` segment. When the path has none, an
///   `ilp-peer-id` header names it (peer-based credentials holding several accounts); with
///   neither, the token alone names it. When both name one they must agree, else `401`.
/// - **Scopes**: a principal whose credential does not allow sending gets `403`.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

struct Inner {
    authenticator: Arc<dyn Authenticator>,
    handler: Arc<dyn PacketHandler>,
    config: ServerConfig,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A server core that authenticates with `authenticator` and hands Prepares to `handler`.
    pub fn new(
        authenticator: Arc<dyn Authenticator>,
        handler: impl PacketHandler + 'static,
        config: ServerConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                authenticator,
                handler: Arc::new(handler),
                config,
            }),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Answers one request whose body is already read. `source` is the client's address,
    /// for throttling failed attempts. Runs in a `tracing` span `ilp_http` (method, path,
    /// account, status; never a token).
    pub async fn handle(
        &self,
        request: http::Request<Bytes>,
        source: Option<IpAddr>,
    ) -> Response<Bytes> {
        let (parts, body) = request.into_parts();
        let span = request_span(&parts);
        async {
            let response = match self.admit(&parts, source).await {
                Err(refusal) => refusal.into_response(),
                Ok(_) if body.len() > self.inner.config.max_body_len => {
                    Refusal::PayloadTooLarge.into_response()
                }
                Ok(principal) => self.respond(principal, body).await,
            };
            record_status(&response);
            response
        }
        .instrument(span)
        .await
    }

    /// The checks done before the body is read: path, method, content type,
    /// `Content-Length`, then the credentials. Gives the authenticated principal.
    pub(crate) async fn admit(
        &self,
        parts: &http::request::Parts,
        source: Option<IpAddr>,
    ) -> Result<Principal, Refusal> {
        let path_account =
            match_path(&self.inner.config.path, parts.uri.path()).ok_or(Refusal::NotFound)?;
        let max_len = self.inner.config.max_body_len;
        self.admit_on(path_account, max_len, parts, source).await
    }

    /// [`admit`](Self::admit) on a path already matched, naming `path_account`, for a body
    /// of at most `max_len` bytes.
    pub(crate) async fn admit_on(
        &self,
        path_account: Option<&str>,
        max_len: usize,
        parts: &http::request::Parts,
        source: Option<IpAddr>,
    ) -> Result<Principal, Refusal> {
        if parts.method != Method::POST {
            return Err(Refusal::MethodNotAllowed);
        }
        check_content_type(&parts.headers)?;
        if let Some(len) = parts.headers.get(header::CONTENT_LENGTH) {
            let len: u64 = len
                .to_str()
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(Refusal::BadRequest)?;
            if len > max_len as u64 {
                return Err(Refusal::PayloadTooLarge);
            }
        }
        let account = account(path_account, &parts.headers)?;
        let token = bearer_token(&parts.headers).ok_or(Refusal::Unauthorized)?;
        let credentials = Credentials::Bearer { token, account };
        // Through the trait object itself: `Arc<dyn Authenticator>`'s own impl would box a
        // second future around the authenticator's.
        let authenticator: &dyn Authenticator = &*self.inner.authenticator;
        let principal = match authenticator.authenticate(credentials, source).await {
            Ok(principal) => principal,
            Err(error) => {
                debug!(%error, "ilp-http: authentication failed");
                return Err(Refusal::from_auth(&error));
            }
        };
        Span::current().record("account", principal.account.as_str());
        if !principal.scopes.send {
            debug!("ilp-http: credential may not send");
            return Err(Refusal::Forbidden);
        }
        Ok(principal)
    }

    /// Decodes the body and asks the handler: `200` with the Fulfill or Reject, or `400` with
    /// an `F01` Reject.
    pub(crate) async fn respond(&self, principal: Principal, body: Bytes) -> Response<Bytes> {
        let prepare = match self.decode(body) {
            Ok(prepare) => prepare,
            Err(response) => return *response,
        };
        // Through the trait object itself, as for the authenticator (one boxed future, not two).
        let handler: &dyn PacketHandler = &*self.inner.handler;
        let result = handler
            .handle(Request {
                from: principal,
                prepare,
            })
            .await;
        let body = match result {
            Ok(fulfill) => fulfill.into_bytes(),
            Err(reject) => {
                debug!(code = %reject.code(), "ilp-http: rejected");
                reject.into_bytes()
            }
        };
        packet_response(StatusCode::OK, body)
    }

    /// Decodes a Prepare, or gives the `400` with an `F01` Reject.
    pub(crate) fn decode(&self, body: Bytes) -> Result<Prepare, Box<Response<Bytes>>> {
        Prepare::decode(body).map_err(|error| {
            debug!(%error, "ilp-http: invalid Prepare");
            Box::new(self.bad_request(
                ErrorCode::F01_INVALID_PACKET,
                &format!("invalid ILP Prepare packet: {error}"),
            ))
        })
    }

    /// A `400` whose body is a Reject from this node.
    pub(crate) fn bad_request(&self, code: ErrorCode, message: &str) -> Response<Bytes> {
        let reject = RejectBuilder {
            code,
            triggered_by: &self.inner.config.node_address,
            message,
            data: &[],
        }
        .build_lossy();
        packet_response(StatusCode::BAD_REQUEST, reject.into_bytes())
    }

    /// The packet handler.
    #[cfg(feature = "tokio")]
    pub(crate) fn handler(&self) -> &Arc<dyn PacketHandler> {
        &self.inner.handler
    }
}

/// The span of one request. Its fields `account` and `status` are filled in later.
pub(crate) fn request_span(parts: &http::request::Parts) -> Span {
    tracing::debug_span!(
        "ilp_http",
        method = %parts.method,
        path = parts.uri.path(),
        account = field::Empty,
        status = field::Empty,
    )
}

pub(crate) fn record_status<B>(response: &Response<B>) {
    let status = response.status().as_u16();
    Span::current().record("status", status);
    debug!(status, "ilp-http: answered");
}

pub(crate) fn packet_response(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
    response
}

/// Matches `path` against `pattern`: `None` if it does not match, else the `{account}`
/// segment if the pattern has one.
pub(crate) fn match_path<'p>(pattern: &str, path: &'p str) -> Option<Option<&'p str>> {
    match pattern.split_once("{account}") {
        None => (path == pattern).then_some(None),
        Some((prefix, suffix)) => {
            let name = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
            (!name.is_empty() && !name.contains('/')).then_some(Some(name))
        }
    }
}

pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let value = value.to_str().map_err(|_| Refusal::UnsupportedMediaType)?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(OCTET_STREAM) || essence.eq_ignore_ascii_case(ILP_OCTET_STREAM)
    {
        Ok(())
    } else {
        Err(Refusal::UnsupportedMediaType)
    }
}

/// The account named by the path, or else by the `ilp-peer-id` header; both must agree.
fn account<'a>(path: Option<&'a str>, headers: &'a HeaderMap) -> Result<Option<&'a str>, Refusal> {
    // Parsed once, not at each lookup.
    static NAME: http::HeaderName = http::HeaderName::from_static(ILP_PEER_ID);
    let header = match headers.get(&NAME) {
        None => None,
        Some(value) => match value.to_str() {
            Ok(name) if !name.trim().is_empty() => Some(name.trim()),
            _ => return Err(Refusal::Unauthorized),
        },
    };
    match (path, header) {
        (Some(path), Some(header)) if path != header => Err(Refusal::Unauthorized),
        (Some(name), _) | (None, Some(name)) => Ok(Some(name)),
        (None, None) => Ok(None),
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive) or of a bare
/// `Authorization: <token>`.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None if value.eq_ignore_ascii_case("bearer") => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_the_pattern() {
        let p = "/accounts/{account}/ilp";
        assert_eq!(match_path(p, "/accounts/alice/ilp"), Some(Some("alice")));
        assert_eq!(match_path(p, "/accounts//ilp"), None);
        assert_eq!(match_path(p, "/accounts/a/b/ilp"), None);
        assert_eq!(match_path(p, "/accounts/ilp"), None);
        assert_eq!(match_path(p, "/"), None);
        assert_eq!(match_path("/ilp", "/ilp"), Some(None));
        assert_eq!(match_path("/ilp", "/ilp/x"), None);
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn bearer_tokens_are_read_in_both_forms() {
        let t = |v: &str| bearer_token(&headers(&[("authorization", v)])).map(str::to_owned);
        assert_eq!(t("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(t("bEaReR   abc ").as_deref(), Some("abc"));
        assert_eq!(t("abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert_eq!(t("Basic abc"), None);
        assert_eq!(t("Bearer"), None);
        assert_eq!(t("Bearer "), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
        let two = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert_eq!(bearer_token(&two), None);
    }

    #[test]
    fn content_types() {
        let c = |v: &str| check_content_type(&headers(&[("content-type", v)]));
        assert_eq!(c("application/octet-stream"), Ok(()));
        assert_eq!(c("Application/Octet-Stream; foo=bar"), Ok(()));
        assert_eq!(c("application/ilp+octet-stream"), Ok(()));
        assert_eq!(c("application/json"), Err(Refusal::UnsupportedMediaType));
        assert_eq!(check_content_type(&HeaderMap::new()), Ok(()));
    }

    #[test]
    fn path_and_header_accounts_combine() {
        let none = HeaderMap::new();
        let bob = headers(&[(ILP_PEER_ID, "bob")]);
        assert_eq!(account(Some("alice"), &none), Ok(Some("alice")));
        assert_eq!(account(None, &bob), Ok(Some("bob")));
        assert_eq!(account(Some("bob"), &bob), Ok(Some("bob")));
        assert_eq!(account(Some("alice"), &bob), Err(Refusal::Unauthorized));
        assert_eq!(account(None, &none), Ok(None));
    }

    #[test]
    fn retry_after_rounds_up() {
        let r = Refusal::TooManyRequests(Duration::from_millis(1500)).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        let r = Refusal::TooManyRequests(Duration::ZERO).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
