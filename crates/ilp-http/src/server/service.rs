//! [`IlpHttpService`]: the core as a `tower::Service` over any request body.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tracing::{debug, Instrument};

use super::{record_status, request_span, Endpoint, Refusal};

/// An [`Endpoint`] as a `tower::Service<http::Request<B>>` for any body `B`, to mount in an
/// axum or hyper application (or serve with [`HttpServer`](crate::HttpServer)).
///
/// It checks the head and the credentials before reading the body, reads at most
/// [`max_body_len`](crate::ServerConfig::max_body_len) bytes of it (more: `413`) within
/// [`body_read_timeout`](crate::ServerConfig::body_read_timeout) (slower: `408`), then answers
/// as [`Endpoint`] does. It never fails: every outcome is a response.
///
/// The client's address (for throttling failed attempts) is a `SocketAddr` request
/// extension when there is one, else the one set by [`with_source`](Self::with_source).
#[derive(Debug, Clone)]
pub struct IlpHttpService {
    endpoint: Endpoint,
    source: Option<IpAddr>,
}

impl IlpHttpService {
    /// A service around `endpoint`.
    #[must_use]
    pub const fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            source: None,
        }
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

    pub(crate) async fn serve<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let source = request
            .extensions()
            .get::<SocketAddr>()
            .map(SocketAddr::ip)
            .or(self.source);
        let (parts, body) = request.into_parts();
        let span = request_span(&parts);
        let response = async {
            let config = self.endpoint.config();
            let response = match self.endpoint.admit(&parts, source).await {
                Err(refusal) => refusal.into_response(),
                Ok(principal) => {
                    let read = Limited::new(body, config.max_body_len).collect();
                    match tokio::time::timeout(config.body_read_timeout, read).await {
                        Err(_) => Refusal::RequestTimeout.into_response(),
                        Ok(Err(error)) if error.is::<LengthLimitError>() => {
                            Refusal::PayloadTooLarge.into_response()
                        }
                        Ok(Err(error)) => {
                            debug!(%error, "ilp-http: reading the body failed");
                            Refusal::BadRequest.into_response()
                        }
                        Ok(Ok(body)) => self.endpoint.respond(principal, body.to_bytes()).await,
                    }
                }
            };
            record_status(&response);
            response
        }
        .instrument(span)
        .await;
        response.map(Full::new)
    }
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
        let this = self.clone();
        Box::pin(async move { Ok(this.serve(request).await) })
    }
}
