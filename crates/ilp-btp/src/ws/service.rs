//! [`BtpService`]: BTP on an HTTP server you run (feature `axum`).

use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use ilp_core::{AccountId, Authenticator, PacketHandler};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info, warn};
use tungstenite::protocol::Role;

use super::server::{path_account, serve_connection, Shared};
use super::{ws_config, Connection, ServerConfig};

/// How long [`BtpService::shutdown`] waits for connections to go once it has dropped them.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// BTP on an HTTP server you run: a `tower::Service` that answers WebSocket upgrade requests
/// and runs each upgraded connection as a [`BtpServer`](super::BtpServer) would (feature
/// `axum`). Mount it on any route of an axum application, beside ILP-over-HTTP and the
/// application's own routes, all on one port:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use std::sync::Arc;
/// use axum::{routing::get, Router};
/// use ilp_btp::ws::{BtpService, ServerConfig};
/// use ilp_core::{Authenticator, TestReceiver};
/// use ilp_packet::Address;
///
/// # async fn run(authenticator: Arc<dyn Authenticator>) -> Result<(), Box<dyn std::error::Error>> {
/// let handler = TestReceiver::new(Address::from_static("example.node"));
/// let btp = BtpService::new(authenticator, handler, ServerConfig::default());
/// let app = Router::new()
///     .route("/health", get(|| async { "ok" }))
///     .route_service("/accounts/{name}/ilp/btp", btp.clone())
///     .route_service("/btp", btp.clone()); // the account from `auth_username`
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:7768").await?;
/// let app = app.into_make_service_with_connect_info::<SocketAddr>();
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
///
/// - **What it accepts**: an HTTP/1.1 `GET` with `Connection: Upgrade`, `Upgrade: websocket`,
///   `Sec-WebSocket-Version: 13` and a valid `Sec-WebSocket-Key` (RFC 6455), served by hyper
///   (as axum is), which hands over the connection after the `101 Switching Protocols`. The
///   account comes from the request's path when it is `/accounts/{name}/ilp/btp` (as the
///   service sees it: mount it with `route_service`, not under `nest_service`, which strips
///   the prefix), else from the client's `auth_username`, as on a `BtpServer`.
/// - **What it refuses**, every time with a short `text/plain` body and no connection:
///   another method, `405` (with `Allow: GET`); not HTTP/1.1, `505`; no WebSocket upgrade
///   headers, `426` (with `Upgrade: websocket`); another WebSocket version, `426` (with
///   `Sec-WebSocket-Version: 13`); a missing or malformed key, `400`; a request hyper cannot
///   upgrade (not served by hyper), `500`; while shutting down or with
///   [`ServerConfig::max_connections`] open, `503`.
/// - **The client's address** (logged, and given to the authenticator to throttle failed
///   attempts) is axum's `ConnectInfo<SocketAddr>` request extension (serve the app with
///   `into_make_service_with_connect_info::<SocketAddr>()`), else a `SocketAddr` extension.
/// - **Settings**: [`ServerConfig`] as for a `BtpServer`; `handshake_timeout` bounds the wait
///   for hyper to hand over the connection. `ServerConfig::tls` is not used: TLS, if any, is
///   the HTTP server's.
/// - **Connections** are the service's, shared by its clones: [`account`](Self::account),
///   [`accounts`](Self::accounts) and [`wait_for_account`](Self::wait_for_account) as on a
///   `BtpServer` (the last authenticated connection of an account replaces the older ones).
///   Each runs in its own tokio task until it closes or [`shutdown`](Self::shutdown); stopping
///   the HTTP server does not close them.
///
/// For a server other than hyper, do the upgrade there and hand the connection to
/// [`serve_upgraded`](Self::serve_upgraded).
#[derive(Clone)]
pub struct BtpService {
    shared: Arc<Shared>,
}

impl fmt::Debug for BtpService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BtpService")
            .field("accounts", &self.shared.connected())
            .field("stopping", &*self.shared.stop.borrow())
            .finish_non_exhaustive()
    }
}

/// The response type of [`BtpService`].
pub type BtpResponse = Response<Full<Bytes>>;

impl BtpService {
    /// A service authenticating clients with `authenticator` and handing their Prepares to
    /// `handler`. It starts nothing until a request comes.
    pub fn new(
        authenticator: Arc<dyn Authenticator>,
        handler: impl PacketHandler + 'static,
        config: ServerConfig,
    ) -> Self {
        Self {
            shared: Shared::new(authenticator, Arc::new(handler), config),
        }
    }

    /// The connection of `account`, when it is connected and authenticated. It is a
    /// [`PacketHandler`]: Prepares given to it go down to that client.
    #[must_use]
    pub fn account(&self, account: &AccountId) -> Option<Connection> {
        self.shared.account(account)
    }

    /// The accounts connected now.
    #[must_use]
    pub fn accounts(&self) -> Vec<AccountId> {
        self.shared.account_ids()
    }

    /// Waits until `account` is connected (or returns its connection at once), and returns
    /// its connection.
    pub async fn wait_for_account(&self, account: &AccountId) -> Connection {
        self.shared.wait_for_account(account).await
    }

    /// Serves one BTP connection on `io`, a connection whose WebSocket upgrade (the `101`
    /// answer to the client's request for `path`) is already done, until it closes. For HTTP
    /// servers other than hyper; the `tower::Service` impl calls it. `peer_addr` is logged and
    /// given to the authenticator. It counts against [`ServerConfig::max_connections`]: beyond
    /// it, or once [`shutdown`](Self::shutdown) was called, `io` is dropped at once.
    pub async fn serve_upgraded<S>(&self, io: S, path: &str, peer_addr: Option<SocketAddr>)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        match self.admit() {
            Ok(permit) => serve_io(io, path_account(path), peer_addr, &self.shared, permit).await,
            Err(refusal) => debug!(peer = ?peer_addr, refusal, "btp: connection dropped"),
        }
    }

    /// Stops gracefully: refuses new upgrades (`503`), lets the requests in flight on every
    /// connection be answered (new Prepares get `T01`), then closes each connection
    /// (WebSocket Close 1001). After [`ServerConfig::shutdown_timeout`] the remaining
    /// connections are dropped. Returns once every connection is gone.
    pub async fn shutdown(&self) {
        let _ = self.shared.stop.send(true);
        let all = u32::try_from(
            self.shared
                .config
                .max_connections
                .min(Shared::MAX_CONNECTIONS),
        )
        .unwrap_or(u32::MAX);
        let permits = &self.shared.permits;
        info!(
            connections = self.shared.connected(),
            "btp service shutting down"
        );
        let timeout = self.shared.config.shutdown_timeout;
        if tokio::time::timeout(timeout, permits.acquire_many(all))
            .await
            .is_err()
        {
            warn!("btp service: shutdown timed out, dropping the remaining connections");
            let _ = self.shared.kill.send(true);
            let _ = tokio::time::timeout(KILL_TIMEOUT, permits.acquire_many(all)).await;
        }
    }

    /// A connection slot, unless shutting down or full.
    fn admit(&self) -> Result<OwnedSemaphorePermit, &'static str> {
        if *self.shared.stop.borrow() {
            return Err("BTP server shutting down");
        }
        Arc::clone(&self.shared.permits)
            .try_acquire_owned()
            .map_err(|_| "too many BTP connections")
    }

    /// Answers an upgrade request: `101` (and the connection runs in its own task) or a
    /// refusal.
    fn upgrade<B>(&self, mut request: Request<B>) -> BtpResponse {
        let peer_addr = peer_addr(&request);
        let accept = match check_upgrade(request.method(), request.version(), request.headers()) {
            Ok(accept) => accept,
            Err(refusal) => {
                debug!(peer = ?peer_addr, ?refusal, "btp: upgrade request refused");
                return refusal.into_response();
            }
        };
        let permit = match self.admit() {
            Ok(permit) => permit,
            Err(reason) => {
                debug!(peer = ?peer_addr, reason, "btp: upgrade request refused");
                return text(StatusCode::SERVICE_UNAVAILABLE, reason);
            }
        };
        let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
            warn!("btp: the request cannot be upgraded: serve the BtpService with hyper or axum");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this server cannot upgrade connections",
            );
        };
        let path = path_account(request.uri().path());
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let timeout = shared.config.handshake_timeout;
            match tokio::time::timeout(timeout, on_upgrade).await {
                Ok(Ok(upgraded)) => {
                    serve_io(TokioIo::new(upgraded), path, peer_addr, &shared, permit).await;
                }
                Ok(Err(error)) => debug!(peer = ?peer_addr, %error, "btp: upgrade failed"),
                Err(_) => debug!(peer = ?peer_addr, "btp: upgrade timed out"),
            }
        });
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        response
    }
}

impl<B> tower::Service<Request<B>> for BtpService {
    type Response = BtpResponse;
    type Error = Infallible;
    type Future = Ready<Result<BtpResponse, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.upgrade(request)))
    }
}

async fn serve_io<S>(
    io: S,
    path: Option<String>,
    peer_addr: Option<SocketAddr>,
    shared: &Arc<Shared>,
    permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config())).await;
    serve_connection(ws, peer_addr, path, shared).await;
    drop(permit);
}

/// axum's `ConnectInfo<SocketAddr>`, else a `SocketAddr` extension.
fn peer_addr<B>(request: &Request<B>) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
        .or_else(|| extensions.get::<SocketAddr>().copied())
}

/// Why an upgrade request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Method,
    HttpVersion,
    NotUpgrade,
    WebSocketVersion,
    Key,
}

impl Refusal {
    fn into_response(self) -> BtpResponse {
        match self {
            Self::Method => {
                let mut refusal = text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "BTP: send a WebSocket upgrade (GET)",
                );
                refusal
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET"));
                refusal
            }
            Self::HttpVersion => text(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "BTP over WebSocket needs HTTP/1.1",
            ),
            Self::NotUpgrade => upgrade_required("BTP: this endpoint speaks WebSocket only"),
            Self::WebSocketVersion => {
                let mut refusal = upgrade_required("BTP: WebSocket version 13 only");
                refusal
                    .headers_mut()
                    .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
                refusal
            }
            Self::Key => text(
                StatusCode::BAD_REQUEST,
                "BTP: missing or malformed Sec-WebSocket-Key",
            ),
        }
    }
}

/// Checks a WebSocket upgrade request (RFC 6455 section 4.2.1); its `Sec-WebSocket-Accept`.
fn check_upgrade(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<HeaderValue, Refusal> {
    if method != Method::GET {
        return Err(Refusal::Method);
    }
    if version != Version::HTTP_11 {
        return Err(Refusal::HttpVersion);
    }
    if !has_token(headers, &CONNECTION, "upgrade") || !has_token(headers, &UPGRADE, "websocket") {
        return Err(Refusal::NotUpgrade);
    }
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(Refusal::WebSocketVersion);
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .map(HeaderValue::as_bytes)
        .filter(|key| is_websocket_key(key))
        .ok_or(Refusal::Key)?;
    // Base64 is always a valid header value.
    HeaderValue::from_str(&tungstenite::handshake::derive_accept_key(key)).map_err(|_| Refusal::Key)
}

/// Whether any `name` header holds `token` in its comma-separated list (any case).
fn has_token(headers: &HeaderMap, name: &http::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// The base64 form of 16 bytes: 22 base64 characters and `==`.
fn is_websocket_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn upgrade_required(body: &'static str) -> BtpResponse {
    let mut refusal = text(StatusCode::UPGRADE_REQUIRED, body);
    let headers = refusal.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    refusal
}

fn text(status: StatusCode, body: &'static str) -> BtpResponse {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|&(k, v)| {
                (
                    http::header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    const GOOD: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn a_good_upgrade_gets_rfc_6455_s_accept_key() {
        let accept = check_upgrade(&Method::GET, Version::HTTP_11, &headers(&GOOD)).unwrap();
        // The example of RFC 6455 section 1.3.
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn bad_upgrades_get_the_right_status() {
        let refusal = |method: Method, version, pairs: &[(&'static str, &'static str)]| {
            check_upgrade(&method, version, &headers(pairs))
                .unwrap_err()
                .into_response()
        };
        let r = refusal(Method::POST, Version::HTTP_11, &GOOD);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "GET");
        let r = refusal(Method::GET, Version::HTTP_10, &GOOD);
        assert_eq!(r.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);
        let r = refusal(Method::GET, Version::HTTP_11, &GOOD[1..]);
        assert_eq!(r.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(r.headers()[UPGRADE], "websocket");
        let r = refusal(Method::GET, Version::HTTP_11, &[GOOD[0], GOOD[2], GOOD[3]]);
        assert_eq!(r.status(), StatusCode::UPGRADE_REQUIRED);
        let r = refusal(
            Method::GET,
            Version::HTTP_11,
            &[GOOD[0], GOOD[1], ("sec-websocket-version", "8"), GOOD[3]],
        );
        assert_eq!(r.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(r.headers()[SEC_WEBSOCKET_VERSION], "13");
        for key in [
            "",
            "short==",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25j*Q==",
        ] {
            let mut h = headers(&GOOD[..3]);
            h.insert(SEC_WEBSOCKET_KEY, HeaderValue::from_str(key).unwrap());
            let r = check_upgrade(&Method::GET, Version::HTTP_11, &h)
                .unwrap_err()
                .into_response();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{key:?}");
        }
        let r = refusal(Method::GET, Version::HTTP_11, &GOOD[..3]);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
