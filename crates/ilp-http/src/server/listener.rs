//! [`HttpServer`]: serves an [`IlpHttpService`] with hyper on tokio.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use ilp_core::{Authenticator, PacketHandler};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
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
///   once, and at most [`max_connections_per_source`](ServerConfig::max_connections_per_source)
///   from one source address; more are closed as soon as accepted.
/// - A connection with no request in progress for
///   [`idle_timeout`](ServerConfig::idle_timeout) is closed (HTTP/2: `GOAWAY` first), so an
///   idle client cannot hold a connection slot. HTTP/2 connections are pinged every
///   [`http2_keep_alive_interval`](ServerConfig::http2_keep_alive_interval) and closed when a
///   ping goes unanswered for [`http2_keep_alive_timeout`](ServerConfig::http2_keep_alive_timeout).
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

/// How long a connection closed for idleness has, after its `GOAWAY`, to end (an HTTP/2
/// graceful close waits for the peer to answer a ping).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

async fn accept_loop(
    listener: TcpListener,
    service: IlpHttpService,
    mut stop: watch::Receiver<bool>,
) {
    let config = service.endpoint().config().clone();
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let sources = Arc::new(Sources::default());
    let mut tasks = JoinSet::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.http2_keep_alive_interval)
        .keep_alive_timeout(config.http2_keep_alive_timeout);
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
                    let Some(source_slot) = Sources::enter(&sources, addr.ip(), config.max_connections_per_source) else {
                        warn!(%addr, max = config.max_connections_per_source, "ilp-http: too many connections from this source, refused");
                        continue;
                    };
                    let service = service.clone().with_source(Some(addr.ip()));
                    let builder = Arc::clone(&builder);
                    let stop = stop.clone();
                    let first_bytes = config.header_read_timeout;
                    let idle_timeout = config.idle_timeout;
                    #[cfg(feature = "rustls")]
                    let tls = tls.clone();
                    tasks.spawn(async move {
                        let _permit = permit;
                        let _source_slot = source_slot;
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
                        let connection = Connection { stop, addr, idle_timeout };
                        #[cfg(feature = "rustls")]
                        if let Some(tls) = tls {
                            let accept = tokio_rustls::TlsAcceptor::from(tls).accept(tcp);
                            match tokio::time::timeout(first_bytes, accept).await {
                                Ok(Ok(stream)) => connection.serve(&builder, stream, service).await,
                                Ok(Err(error)) => {
                                    debug!(%addr, %error, "ilp-http: TLS handshake failed");
                                }
                                Err(_) => debug!(%addr, "ilp-http: TLS handshake timed out"),
                            }
                            return;
                        }
                        connection.serve(&builder, tcp, service).await;
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
    // The connections (told by `stop` to end gracefully) and their requests first, then the
    // asynchronous replies still to be sent (the connections' own requests may have started
    // some), within one shutdown_timeout.
    let drain = async {
        while tasks.join_next().await.is_some() {}
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

/// The connections open per source: an IPv4 address, or an IPv6 `/64` prefix. Holds only
/// the sources with a connection open (at most `max_connections` entries).
#[derive(Default)]
struct Sources {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl Sources {
    /// A slot for one more connection from `ip`, or `None` when it has `max` open.
    fn enter(this: &Arc<Self>, ip: IpAddr, max: usize) -> Option<SourceSlot> {
        let key = source_key(ip);
        let mut open = this.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= max {
            if *count == 0 {
                open.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(SourceSlot {
            sources: Arc::clone(this),
            key,
        })
    }
}

/// One connection counted for its source until dropped.
struct SourceSlot {
    sources: Arc<Sources>,
    key: IpAddr,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut open = self
            .sources
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The key a source is counted under: an IPv4 address (also when mapped in IPv6), or the
/// `/64` prefix of an IPv6 address.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// One accepted connection.
struct Connection {
    stop: watch::Receiver<bool>,
    addr: SocketAddr,
    idle_timeout: Duration,
}

impl Connection {
    /// Serves the connection (plain or TLS) until it ends, stays idle for `idle_timeout`, or
    /// the server shuts down.
    async fn serve<I>(
        mut self,
        builder: &auto::Builder<TokioExecutor>,
        io: I,
        service: IlpHttpService,
    ) where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let addr = self.addr;
        let activity = Arc::new(Activity::new());
        let hyper_service = hyper::service::service_fn({
            let activity = Arc::clone(&activity);
            move |request| {
                let request_open = Activity::start(&activity);
                let answer = service.serve(request);
                async move {
                    let response = answer.await;
                    drop(request_open);
                    response
                }
            }
        });
        let mut connection = pin!(builder.serve_connection(TokioIo::new(io), hyper_service));
        let shutting_down = tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    debug!(%addr, %error, "ilp-http: connection ended with an error");
                }
                return;
            }
            () = activity.idle_for(self.idle_timeout) => false,
            _ = self.stop.wait_for(|stop| *stop) => true,
        };
        connection.as_mut().graceful_shutdown();
        if shutting_down {
            // Bounded by the server's shutdown_timeout.
            let _ = connection.await;
            return;
        }
        debug!(%addr, "ilp-http: connection idle, closed");
        if tokio::time::timeout(CLOSE_GRACE, connection).await.is_err() {
            debug!(%addr, "ilp-http: idle connection did not end in time, dropped");
        }
    }
}

/// The requests in progress on one connection, and when the last one ended.
struct Activity {
    open: AtomicUsize,
    /// When the connection last became idle (or started).
    idle_since: Mutex<Instant>,
    /// Notified when the last request in progress ends.
    idle: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            open: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            idle: Notify::new(),
        }
    }

    /// Counts a request in progress until the returned guard is dropped.
    fn start(this: &Arc<Self>) -> RequestOpen {
        this.open.fetch_add(1, Ordering::AcqRel);
        RequestOpen(Arc::clone(this))
    }

    /// Returns once no request has been in progress for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            if self.open.load(Ordering::Acquire) > 0 {
                // A stored permit may wake this early: the loop checks again.
                self.idle.notified().await;
                continue;
            }
            let since = *self
                .idle_since
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            tokio::time::sleep_until(since + timeout).await;
            let since = *self
                .idle_since
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if self.open.load(Ordering::Acquire) == 0 && since + timeout <= Instant::now() {
                return;
            }
        }
    }
}

/// A request in progress on a connection.
struct RequestOpen(Arc<Activity>);

impl Drop for RequestOpen {
    fn drop(&mut self) {
        let activity = &self.0;
        *activity
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        if activity.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            activity.idle.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_counted_per_ipv4_address_and_ipv6_prefix() {
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        assert_eq!(source_key(v6("2001:db8:1:2:3:4:5:6")), v6("2001:db8:1:2::"));
        assert_eq!(
            source_key(v6("::ffff:192.0.2.1")),
            IpAddr::V4("192.0.2.1".parse().unwrap())
        );
        let sources = Arc::new(Sources::default());
        let a = IpAddr::V4("192.0.2.1".parse().unwrap());
        let first = Sources::enter(&sources, a, 2).unwrap();
        let second = Sources::enter(&sources, v6("::ffff:192.0.2.1"), 2).unwrap();
        assert!(Sources::enter(&sources, a, 2).is_none());
        assert!(Sources::enter(&sources, v6("2001:db8::1"), 2).is_some());
        drop(first);
        let third = Sources::enter(&sources, a, 2).unwrap();
        drop((second, third));
        assert!(sources.open.lock().unwrap().is_empty());
        assert!(Sources::enter(&sources, a, 0).is_none());
        assert!(sources.open.lock().unwrap().is_empty());
    }
}
