//! [`IlpHttpService`]: the core as a `tower::Service` over any request body.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::net::{IpAddr, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use ilp_packet::MAX_PACKET_LEN;
use tokio::time::error::Elapsed;
use tokio::time::Instant;
use tracing::{debug, warn, Instrument};

use super::replies::{self, async_request, AsyncConfig, Replies};
use super::{match_path, record_status, request_span, Endpoint, Refusal};
use crate::callback::Callbacks;

/// An [`Endpoint`] as a `tower::Service<http::Request<B>>` for any body `B`, to mount in an
/// axum or hyper application (or serve with [`HttpServer`](crate::HttpServer)).
///
/// It checks the head and the credentials before reading the body, reads at most
/// [`max_body_len`](crate::ServerConfig::max_body_len) bytes of it (more: `413`) within
/// [`body_read_timeout`](crate::ServerConfig::body_read_timeout) (slower: `408`), then answers
/// as [`Endpoint`] does. It never fails: every outcome is a response.
///
/// The client's address, by which the authenticator throttles failed attempts, is taken from
/// the request's extensions: a `SocketAddr`, or, with the `axum` feature, the
/// `axum::extract::ConnectInfo<SocketAddr>` that axum's
/// `Router::into_make_service_with_connect_info::<SocketAddr>()` inserts; else it is the one
/// set by [`with_source`](Self::with_source) ([`HttpServer`](crate::HttpServer) sets it for
/// each connection). A request with none of them is served without per-source throttling, and
/// the first one is logged as a warning. In another server, insert the peer's `SocketAddr`
/// as a request extension.
///
/// ```ignore
/// // axum 0.8, with ilp-http's `axum` feature:
/// let app = axum::Router::new().route_service("/accounts/{account}/ilp", service);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:7770").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
/// ```
///
/// Two more roles, off by default, for the asynchronous mode (see [`crate::callback`]):
///
/// - as the callee, [`with_async`](Self::with_async): answers `202` to requests asking for
///   it and POSTs their replies to the caller's callback URL (see [`AsyncConfig`]);
/// - as the caller, [`with_callbacks`](Self::with_callbacks): serves the callback endpoint
///   where peers POST the replies to this process's asynchronous
///   [`HttpClient`](crate::HttpClient)s.
#[derive(Debug, Clone)]
pub struct IlpHttpService {
    endpoint: Endpoint,
    source: Option<IpAddr>,
    replies: Option<Arc<Replies>>,
    callbacks: Option<Arc<CallbackEndpoint>>,
}

#[derive(Debug)]
struct CallbackEndpoint {
    path: String,
    callbacks: Callbacks,
}

impl IlpHttpService {
    /// A service around `endpoint`.
    #[must_use]
    pub const fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            source: None,
            replies: None,
            callbacks: None,
        }
    }

    /// Answers requests that ask for the asynchronous mode with `202`, and POSTs their replies
    /// to the callbacks `config` allows (see [`AsyncConfig`]). Without it they are answered
    /// synchronously.
    ///
    /// With the `rustls` feature, if the TLS settings for the callbacks are unusable (the
    /// crypto provider supports no safe protocol version) the mode stays off, with an error
    /// logged.
    #[must_use]
    pub fn with_async(mut self, config: AsyncConfig) -> Self {
        match Replies::new(config) {
            Ok(replies) => self.replies = Some(Arc::new(replies)),
            Err(error) => tracing::error!(%error, "ilp-http: asynchronous mode left off"),
        }
        self
    }

    /// Serves the callback endpoint at `path` (`{account}` may stand for one segment, as in
    /// [`ServerConfig::path`](crate::ServerConfig::path)), handing replies to `callbacks`.
    /// The path is matched first: it must not also match the Prepare path.
    ///
    /// A callback request is checked as a Prepare request is (method, content type, size,
    /// credentials through the same authenticator, with the account from the path or
    /// `ilp-peer-id`), then answered `200` when it is the first reply to a request waiting in
    /// `callbacks` and comes from the account that request was sent to, else `400`: missing or
    /// malformed `Request-Id`, a body that is not a Fulfill or Reject, a `Request-Id` unknown,
    /// already answered, expired, or another account's.
    #[must_use]
    pub fn with_callbacks(mut self, path: impl Into<String>, callbacks: Callbacks) -> Self {
        self.callbacks = Some(Arc::new(CallbackEndpoint {
            path: path.into(),
            callbacks,
        }));
        self
    }

    /// Sets the client's address for requests that carry no `SocketAddr` extension (a server
    /// makes one service per connection).
    #[must_use]
    pub const fn with_source(mut self, source: Option<IpAddr>) -> Self {
        self.source = source;
        self
    }

    /// The server core.
    #[must_use]
    pub const fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Waits until the asynchronous mode has no request in progress (at once without it).
    pub(crate) async fn replies_drained(&self) {
        if let Some(replies) = &self.replies {
            replies.drained().await;
        }
    }

    /// Answers `request` (never an error: the `Result` is what hyper and tower want).
    ///
    /// Not an `async fn`, and the future owns what it needs (the service, the request's parts)
    /// and is the one hyper and tower await: an `async fn` would keep the request it was
    /// called with beside its parts, a borrowed service would have to live beside the future,
    /// and each `async` wrapper doubles the size. The future is moved several times before
    /// hyper's task holds it.
    pub(crate) fn serve<B>(
        &self,
        request: Request<B>,
    ) -> impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + 'static
    where
        B: Body + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let source = client_address(request.extensions()).or(self.source);
        if source.is_none() && !NO_SOURCE_WARNED.swap(true, Ordering::Relaxed) {
            warn!(
                "ilp-http: a request came without the client's address (no SocketAddr or \
                 ConnectInfo<SocketAddr> extension): failed attempts are not throttled per source"
            );
        }
        let (parts, body) = request.into_parts();
        let span = request_span(&parts);
        let this = self.clone();
        async move {
            let response = this.answer(&parts, body, source).await;
            record_status(&response);
            Ok(response.map(Full::new))
        }
        .instrument(span)
    }
}

/// Whether a request without a client address was logged (once per process).
static NO_SOURCE_WARNED: AtomicBool = AtomicBool::new(false);

/// The client's address from the request's extensions: a `SocketAddr`, or (feature `axum`)
/// axum's `ConnectInfo<SocketAddr>`.
fn client_address(extensions: &http::Extensions) -> Option<IpAddr> {
    if let Some(addr) = extensions.get::<SocketAddr>() {
        return Some(addr.ip());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip());
    }
    None
}

impl IlpHttpService {
    async fn answer<B>(
        &self,
        parts: &http::request::Parts,
        body: B,
        source: Option<IpAddr>,
    ) -> Response<Bytes>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let config = self.endpoint.config();
        let callback = self.callbacks.as_deref().and_then(|endpoint| {
            let account = match_path(&endpoint.path, parts.uri.path())?;
            Some((endpoint, account))
        });
        // A callback carries a Fulfill or a Reject: the largest one is always accepted.
        let max_len = match callback {
            Some(_) => config.max_body_len.max(MAX_PACKET_LEN),
            None => config.max_body_len,
        };
        let admitted = match callback {
            Some((_, account)) => {
                self.endpoint
                    .admit_on(account, max_len, parts, source)
                    .await
            }
            None => self.endpoint.admit(parts, source).await,
        };
        let principal = match admitted {
            Ok(principal) => principal,
            Err(refusal) => return refusal.into_response(),
        };
        let read = pin!(Limited::new(body, max_len).collect());
        let body = match read_within(config.body_read_timeout, read).await {
            Ok(Ok(body)) => body.to_bytes(),
            Err(_) => return Refusal::RequestTimeout.into_response(),
            Ok(Err(error)) if error.is::<LengthLimitError>() => {
                return Refusal::PayloadTooLarge.into_response();
            }
            Ok(Err(error)) => {
                debug!(%error, "ilp-http: reading the body failed");
                return Refusal::BadRequest.into_response();
            }
        };
        if let Some((endpoint, _)) = callback {
            return replies::receive(&endpoint.callbacks, &principal, &parts.headers, body);
        }
        // The asynchronous headers are only looked at when the mode is on.
        let asynchronous = self
            .replies
            .as_ref()
            .and_then(|replies| async_request(&parts.headers).map(|request| (replies, request)));
        match asynchronous {
            Some((replies, request)) => replies.accept(&self.endpoint, principal, request, body),
            None => self.endpoint.respond(principal, body).await,
        }
    }
}

/// `read`'s output, or `Elapsed` if it takes longer than `timeout` from its first poll.
///
/// The timer is armed only for a body that is neither complete at the first poll nor after one
/// turn of the scheduler: an HTTP/1.1 body usually comes with the head, and an HTTP/2 stream's
/// handler usually first runs before its connection has read the DATA frame that follows the
/// HEADERS. A tokio timer costs a wheel insertion and removal, and, when the runtime has no
/// other timer, a write to wake its driver: more than the rest of the body read.
async fn read_within<F: Future>(
    timeout: Duration,
    mut read: Pin<&mut F>,
) -> Result<F::Output, Elapsed> {
    if let Poll::Ready(output) = poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await {
        return Ok(output);
    }
    let deadline = Instant::now() + timeout;
    // Woken again once the tasks that are ready now (the connection's among them) have run.
    tokio::task::yield_now().await;
    // Boxed: rarely needed, and a timer would otherwise make every request's future larger.
    Box::pin(tokio::time::timeout_at(deadline, read)).await
}

impl<B> tower::Service<Request<B>> for IlpHttpService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        Box::pin(self.serve(request))
    }
}
