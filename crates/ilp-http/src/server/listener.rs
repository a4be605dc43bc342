//! [`HttpServer`]: serves an [`IlpHttpService`] with hyper on tokio.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use ilp_core::{Authenticator, PacketHandler};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

use super::{Endpoint, IlpHttpService, ServerConfig};

/// An ILP-over-HTTP server on hyper: HTTP/1.1, and HTTP/2 with prior knowledge (`h2c`), on
/// one port; with the `rustls` feature and [`ServerConfig::tls`] set, the same over TLS, HTTP/2
/// or HTTP/1.1 as ALPN settles. Each request is answered by an [`IlpHttpService`].
///
/// - A connection that sends nothing within
///   [`header_read_timeout`](ServerConfig::header_read_timeout) is closed; HTTP/1.1 request
///   heads must also arrive within it.
/// - At most [`max_connections`](ServerConfig::max_connections) connections are open at
///   once; more are closed as soon as accepted.
/// - Dropping the server stops it at once; [`shutdown`](Self::shutdown) stops it gracefully.
pub struct HttpServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Binds `addr` and starts serving (on the current tokio runtime).
    pub async fn bind(
        addr: SocketAddr,
        authenticator: Arc<dyn Authenticator>,
        handler: impl PacketHandler + 'static,
        config: ServerConfig,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Self::from_listener(
            listener,
            IlpHttpService::new(Endpoint::new(authenticator, handler, config)),
        )
    }

    /// Binds `addr` and serves `service` (for the asynchronous mode, see
    /// [`IlpHttpService::with_async`] and [`IlpHttpService::with_callbacks`]).
    pub async fn bind_service(addr: SocketAddr, service: IlpHttpService) -> std::io::Result<Self> {
        Self::from_listener(TcpListener::bind(addr).await?, service)
    }

    /// Starts serving `service` on a bound listener.
    pub fn from_listener(listener: TcpListener, service: IlpHttpService) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, service, stop_rx));
        info!(%local_addr, "ilp-http server listening");
        Ok(Self {
            local_addr,
            stop,
            task: Some(task),
        })
    }

    /// The address the server listens on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops gracefully: stops accepting, lets the requests in flight be answered and, in the
    /// asynchronous mode, the replies in progress be sent (or given up at their expiry), then
    /// closes every connection, waiting at most
    /// [`shutdown_timeout`](ServerConfig::shutdown_timeout) in all. Replies still in progress
    /// then go on in the background until their Prepares expire.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    service: IlpHttpService,
    mut stop: watch::Receiver<bool>,
) {
    let config = service.endpoint().config().clone();
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    #[cfg(feature = "rustls")]
    let tls = config.tls.as_ref().map(crate::tls::with_alpn);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, addr)) => {
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                        warn!(%addr, max = config.max_connections, "ilp-http: too many connections, refused");
                        continue;
                    };
                    let service = service.clone().with_source(Some(addr.ip()));
                    let builder = Arc::clone(&builder);
                    let watcher = graceful.watcher();
                    let first_bytes = config.header_read_timeout;
                    #[cfg(feature = "rustls")]
                    let tls = tls.clone();
                    tasks.spawn(async move {
                        let _permit = permit;
                        let _ = tcp.set_nodelay(true);
                        // The auto builder waits for the first bytes to tell HTTP/1.1 from
                        // HTTP/2 with no timeout of its own.
                        let mut probe = [0u8; 1];
                        match tokio::time::timeout(first_bytes, tcp.peek(&mut probe)).await {
                            Ok(Ok(n)) if n > 0 => {}
                            _ => {
                                debug!(%addr, "ilp-http: connection sent nothing, closed");
                                return;
                            }
                        }
                        #[cfg(feature = "rustls")]
                        if let Some(tls) = tls {
                            let accept = tokio_rustls::TlsAcceptor::from(tls).accept(tcp);
                            match tokio::time::timeout(first_bytes, accept).await {
                                Ok(Ok(stream)) => {
                                    serve(&builder, watcher, stream, service, addr).await;
                                }
                                Ok(Err(error)) => {
                                    debug!(%addr, %error, "ilp-http: TLS handshake failed");
                                }
                                Err(_) => debug!(%addr, "ilp-http: TLS handshake timed out"),
                            }
                            return;
                        }
                        serve(&builder, watcher, tcp, service, addr).await;
                    });
                }
                Err(error) => {
                    warn!(%error, "ilp-http: accept failed");
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    info!(connections = tasks.len(), "ilp-http server shutting down");
    // The connections' requests first, then the asynchronous replies still to be sent (the
    // connections' own requests may have started some), within one shutdown_timeout.
    let drain = async {
        graceful.shutdown().await;
        service.replies_drained().await;
    };
    if tokio::time::timeout(config.shutdown_timeout, drain)
        .await
        .is_err()
    {
        warn!("ilp-http server: shutdown timed out, closing the remaining connections");
    }
    tasks.shutdown().await;
}

/// Serves one connection (plain or TLS) until it ends or the server shuts down.
async fn serve<I>(
    builder: &auto::Builder<TokioExecutor>,
    watcher: Watcher,
    io: I,
    service: IlpHttpService,
    addr: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let hyper_service = hyper::service::service_fn(move |request| service.serve(request));
    let connection = builder.serve_connection(TokioIo::new(io), hyper_service);
    if let Err(error) = watcher.watch(connection).await {
        debug!(%addr, %error, "ilp-http: connection ended with an error");
    }
}
