//! [`BtpServer`]: accepts BTP clients over WebSocket.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::{Sink, Stream};
use ilp_core::{AccountId, AuthError, Authenticator, Credentials, PacketHandler, Principal};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::Message;

use super::driver::{start, Connection, DriveConfig};
use super::{ws_config, Error};
use crate::{Session, SessionConfig};

/// What a client replaced by a newer connection for the same account is told (in the
/// WebSocket Close frame), in ilp-plugin-btp's words.
pub(crate) const REPLACED: &str =
    "This connection has been ended because the user has opened a new connection";

/// Settings of a [`BtpServer`]. Pub fields, [`Default`] and by-value `with_*` setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Each connection's session settings (auth timeout, in-flight limit, node address, ...).
    pub session: SessionConfig,
    /// The most connections open at once (default 10 000); more are closed at once.
    pub max_connections: usize,
    /// How long the WebSocket upgrade (with the TLS handshake before it, if any) may take
    /// (default 10 s).
    pub handshake_timeout: Duration,
    /// How long [`BtpServer::shutdown`] waits for requests in flight (default 30 s).
    pub shutdown_timeout: Duration,
    /// Where Messages without an `ilp` entry and Transfers from the peer go (see
    /// [`SideMessage`](super::SideMessage)); `None` (default): they are only logged.
    pub side_messages: Option<tokio::sync::mpsc::Sender<super::SideMessage>>,
    /// How long one write to a connection's socket may take (default 10 s); past it the
    /// connection is closed, its Prepares in flight fail with `T01`, and a warning naming the
    /// account is logged. See [`DriveConfig::write_timeout`](super::DriveConfig::write_timeout).
    pub write_timeout: Duration,
    /// The bound of each connection's outgoing queue, in bytes (default 256 KiB): reading
    /// stops while it is full, and the connection closes past twice it. See
    /// [`DriveConfig::max_queued_bytes`](super::DriveConfig::max_queued_bytes).
    pub max_queued_bytes: usize,
    /// TLS (feature `rustls`): when set, every connection starts with a TLS handshake with
    /// these settings, and clients connect with `btp+wss://`. `None` (default): plain
    /// `btp+ws://`. Build one from a certificate and key with
    /// [`tls_server_config`](super::tls_server_config).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            session: SessionConfig::default(),
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(30),
            side_messages: None,
            write_timeout: super::driver::DEFAULT_WRITE_TIMEOUT,
            max_queued_bytes: super::driver::DEFAULT_MAX_QUEUED_BYTES,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }
}

impl ServerConfig {
    /// Sets [`session`](Self::session).
    #[must_use]
    pub fn with_session(mut self, session: SessionConfig) -> Self {
        self.session = session;
        self
    }

    /// Sets [`side_messages`](Self::side_messages).
    #[must_use]
    pub fn with_side_messages(
        mut self,
        side_messages: tokio::sync::mpsc::Sender<super::SideMessage>,
    ) -> Self {
        self.side_messages = Some(side_messages);
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    #[must_use]
    pub const fn with_max_connections(mut self, max_connections: usize) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    #[must_use]
    pub const fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`shutdown_timeout`](Self::shutdown_timeout).
    #[must_use]
    pub const fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets [`write_timeout`](Self::write_timeout).
    #[must_use]
    pub const fn with_write_timeout(mut self, write_timeout: Duration) -> Self {
        self.write_timeout = write_timeout;
        self
    }

    /// Sets [`max_queued_bytes`](Self::max_queued_bytes).
    #[must_use]
    pub const fn with_max_queued_bytes(mut self, max_queued_bytes: usize) -> Self {
        self.max_queued_bytes = max_queued_bytes;
        self
    }

    /// Sets [`tls`](Self::tls) (feature `rustls`).
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn with_tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// What every connection of one server shares: the authenticator, the handler, the accounts
/// connected, the connection limit and the shutdown signals.
pub(crate) struct Shared {
    authenticator: Arc<dyn Authenticator>,
    handler: Arc<dyn PacketHandler>,
    pub(crate) config: ServerConfig,
    accounts: Mutex<HashMap<AccountId, Registered>>,
    /// Bumped on every change of `accounts`.
    changes: watch::Sender<u64>,
    /// The last authentication's stamp: each accepted authentication takes the next one.
    order: AtomicU64,
    /// One per connection open, [`ServerConfig::max_connections`] in all.
    pub(crate) permits: Arc<Semaphore>,
    /// Graceful shutdown: refuse new connections, drain the open ones.
    pub(crate) stop: watch::Sender<bool>,
    /// Drop every connection at once.
    pub(crate) kill: watch::Sender<bool>,
}

/// An account's connection, with the stamp of its authentication.
struct Registered {
    stamp: u64,
    connection: Connection,
}

impl Shared {
    /// The most connections counted: what one `acquire_many` can take back.
    pub(crate) const MAX_CONNECTIONS: usize = if (u32::MAX as usize) < Semaphore::MAX_PERMITS {
        u32::MAX as usize
    } else {
        Semaphore::MAX_PERMITS
    };

    pub(crate) fn new(
        authenticator: Arc<dyn Authenticator>,
        handler: Arc<dyn PacketHandler>,
        config: ServerConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            authenticator,
            handler,
            permits: Arc::new(Semaphore::new(
                config.max_connections.min(Self::MAX_CONNECTIONS),
            )),
            config,
            accounts: Mutex::new(HashMap::new()),
            changes: watch::channel(0).0,
            order: AtomicU64::new(0),
            stop: watch::channel(false).0,
            kill: watch::channel(false).0,
        })
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Registered>> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn account(&self, account: &AccountId) -> Option<Connection> {
        self.accounts()
            .get(account)
            .map(|r| &r.connection)
            .filter(|c| !c.is_closed())
            .cloned()
    }

    pub(crate) fn account_ids(&self) -> Vec<AccountId> {
        self.accounts().keys().cloned().collect()
    }

    pub(crate) fn connected(&self) -> usize {
        self.accounts().len()
    }

    pub(crate) async fn wait_for_account(&self, account: &AccountId) -> Connection {
        let mut changes = self.changes.subscribe();
        loop {
            if let Some(c) = self.account(account) {
                return c;
            }
            if changes.changed().await.is_err() {
                // Unreachable while `self` holds the sender; wait forever, like a pending future.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Registers `connection`, authenticated with `stamp`, as `account`'s, unless a connection
    /// authenticated later holds the account already: the older of the two is closed, whatever
    /// order the two connections' tasks run in. Whether `connection` was registered.
    fn register(&self, account: &AccountId, stamp: u64, connection: &Connection) -> bool {
        let mut accounts = self.accounts();
        let newer_up = accounts
            .get(account)
            .is_some_and(|r| r.stamp > stamp && !r.connection.is_closed());
        if newer_up {
            drop(accounts);
            info!(%account, "btp: a newer connection holds the account; this older one is closed");
            connection.close_with(Some(REPLACED.to_owned()));
            return false;
        }
        let registered = Registered {
            stamp,
            connection: connection.clone(),
        };
        let old = accounts.insert(account.clone(), registered);
        drop(accounts);
        if let Some(old) = old {
            info!(%account, "btp: new connection replaces the old one");
            old.connection.close_with(Some(REPLACED.to_owned()));
        }
        self.changes.send_modify(|n| *n += 1);
        true
    }

    fn unregister(&self, account: &AccountId, connection: &Connection) {
        let mut accounts = self.accounts();
        if accounts
            .get(account)
            .is_some_and(|r| r.connection.same(connection))
        {
            accounts.remove(account);
            drop(accounts);
            self.changes.send_modify(|n| *n += 1);
        }
    }
}

/// The server's authenticator for one connection: stamps the order in which authentications
/// succeed. The stamp is taken in the same poll in which the connection loop accepts the
/// session, so stamps follow the order of acceptance.
struct Stamping {
    shared: Arc<Shared>,
    stamp: Arc<AtomicU64>,
}

#[async_trait]
impl Authenticator for Stamping {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        source: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        let principal = self
            .shared
            .authenticator
            .authenticate(credentials, source)
            .await?;
        let stamp = self.shared.order.fetch_add(1, Ordering::Relaxed) + 1;
        self.stamp.store(stamp, Ordering::Relaxed);
        Ok(principal)
    }
}

/// A BTP server: accepts WebSocket upgrades on `/accounts/{name}/ilp/btp` (the account named
/// by the path, as interledger-rs) or on any other path (the account named by the client's
/// `auth_username`, as ilp-plugin-btp; with neither, the token alone names it).
///
/// - Each client authenticates through the [`Authenticator`] with
///   `Credentials::UsernameToken { username, token }` (`Credentials::Bearer` with no account
///   when no name is given); an `auth_username` that differs from the path's account is
///   refused. A refused client gets an Error `F00 NotAcceptedError` and is closed.
/// - Prepares from a client go to the handler as `Request { from: principal, prepare }`,
///   called at once; one whose future does not complete at its first poll goes on in its own
///   task.
/// - [`account`](Self::account) gives the [`Connection`] of a connected account, to send
///   Prepares down to it. A second connection for the same account replaces the first, which
///   is closed with a WebSocket Close frame (code 1008) saying why. "Second" is the order in
///   which the server accepted their authentications, whatever order their tasks run in: of
///   two connections authenticated at once, the one accepted last keeps the account.
/// - Dropping the server stops it at once (connections are dropped, as if the process died);
///   [`shutdown`](Self::shutdown) stops it gracefully.
///
/// To serve BTP on the port of an HTTP application instead of a port of its own, see
/// `BtpService` (feature `axum`).
pub struct BtpServer {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for BtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BtpServer")
            .field("local_addr", &self.local_addr)
            .field("accounts", &self.shared.connected())
            .finish_non_exhaustive()
    }
}

impl BtpServer {
    /// Binds `addr` and starts accepting clients (on the current tokio runtime).
    pub async fn bind(
        addr: SocketAddr,
        authenticator: Arc<dyn Authenticator>,
        handler: impl PacketHandler + 'static,
        config: ServerConfig,
    ) -> Result<Self, Error> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::from_listener(
            listener,
            authenticator,
            handler,
            config,
        )?)
    }

    /// Starts accepting clients on a bound listener.
    pub fn from_listener(
        listener: TcpListener,
        authenticator: Arc<dyn Authenticator>,
        handler: impl PacketHandler + 'static,
        config: ServerConfig,
    ) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let shared = Shared::new(authenticator, Arc::new(handler), config);
        #[cfg(feature = "rustls")]
        let tls = shared.config.tls.is_some();
        #[cfg(not(feature = "rustls"))]
        let tls = false;
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        info!(%local_addr, tls, "btp server listening");
        Ok(Self {
            local_addr,
            shared,
            task: Some(task),
        })
    }

    /// The address the server listens on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
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

    /// Stops gracefully: stops accepting, lets the requests in flight on every connection be
    /// answered (new Prepares get `T01`), then closes each connection (WebSocket Close 1001),
    /// waiting at most [`ServerConfig::shutdown_timeout`].
    pub async fn shutdown(mut self) {
        let _ = self.shared.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for BtpServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, addr)) => {
                    let Ok(permit) = Arc::clone(&shared.permits).try_acquire_owned() else {
                        warn!(%addr, max = shared.config.max_connections, "btp: too many connections, refused");
                        continue;
                    };
                    let shared = Arc::clone(&shared);
                    tasks.spawn(async move {
                        serve(tcp, addr, &shared).await;
                        drop(permit);
                    });
                }
                Err(error) => {
                    warn!(%error, "btp: accept failed");
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    info!(connections = tasks.len(), "btp server shutting down");
    let drained = tokio::time::timeout(shared.config.shutdown_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!("btp server: shutdown timed out, closing the remaining connections");
        tasks.shutdown().await;
    }
}

/// The account named by `/accounts/{name}/ilp/btp`.
pub(crate) fn path_account(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/accounts/")?;
    let name = rest.strip_suffix("/ilp/btp")?;
    (!name.is_empty() && !name.contains('/')).then(|| name.to_owned())
}

async fn serve(tcp: TcpStream, addr: SocketAddr, shared: &Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + shared.config.handshake_timeout;
    #[cfg(feature = "rustls")]
    if let Some(tls) = &shared.config.tls {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(tls));
        match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => serve_ws(stream, addr, shared, deadline).await,
            Ok(Err(error)) => debug!(%addr, %error, "btp: TLS handshake failed"),
            Err(_) => debug!(%addr, "btp: TLS handshake timed out"),
        }
        return;
    }
    serve_ws(tcp, addr, shared, deadline).await;
}

async fn serve_ws<S>(
    stream: S,
    addr: SocketAddr,
    shared: &Arc<Shared>,
    deadline: tokio::time::Instant,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut path = None;
    #[allow(clippy::result_large_err)] // the closure's signature is tungstenite's
    let callback = |request: &Request, response: Response| {
        path = path_account(request.uri().path());
        Ok(response)
    };
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config()));
    let ws = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => {
            debug!(%addr, %error, "btp: WebSocket handshake failed");
            return;
        }
        Err(_) => {
            debug!(%addr, "btp: WebSocket handshake timed out");
            return;
        }
    };
    serve_connection(ws, Some(addr), path, shared).await;
}

/// Runs one server connection over an upgraded WebSocket until it closes: authenticates it,
/// registers its account, drains it on graceful shutdown, drops it on `kill`.
pub(crate) async fn serve_connection<S, E>(
    ws: S,
    addr: Option<SocketAddr>,
    path: Option<String>,
    shared: &Arc<Shared>,
) where
    S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Send + Unpin + 'static,
    E: fmt::Display + Send + 'static,
{
    let mut stop = shared.stop.subscribe();
    let mut kill = shared.kill.subscribe();
    if *kill.borrow() {
        return;
    }
    let session = Session::server(shared.config.session.clone(), std::time::Instant::now());
    let stamp = Arc::new(AtomicU64::new(0));
    let stamping = Stamping {
        shared: Arc::clone(shared),
        stamp: Arc::clone(&stamp),
    };
    let mut config = DriveConfig::default().with_authenticator(Arc::new(stamping));
    config.peer_addr = addr;
    config.path_account = path;
    config.write_timeout = shared.config.write_timeout;
    config.max_queued_bytes = shared.config.max_queued_bytes;
    config
        .side_messages
        .clone_from(&shared.config.side_messages);
    let (connection, run) = start(ws, session, Arc::clone(&shared.handler), config);
    tokio::pin!(run);
    let mut registered: Option<AccountId> = None;
    let mut ready = std::pin::pin!(connection.ready());
    let mut waiting_ready = true;
    let mut stopping = *stop.borrow();
    if stopping {
        connection.drain();
    }
    loop {
        tokio::select! {
            _reason = &mut run => break,
            result = &mut ready, if waiting_ready => {
                waiting_ready = false;
                if let Ok(Some(principal)) = result {
                    let account = principal.account;
                    if shared.register(&account, stamp.load(Ordering::Relaxed), &connection) {
                        registered = Some(account);
                    }
                }
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                connection.drain();
            }
            _ = kill.changed() => break,
        }
    }
    if let Some(account) = registered {
        shared.unregister(&account, &connection);
    }
}

#[cfg(test)]
mod tests {
    use super::path_account;

    #[test]
    fn account_comes_from_the_interledger_rs_path() {
        assert_eq!(
            path_account("/accounts/alice/ilp/btp").as_deref(),
            Some("alice")
        );
        assert_eq!(path_account("/accounts//ilp/btp"), None);
        assert_eq!(path_account("/accounts/a/b/ilp/btp"), None);
        assert_eq!(path_account("/"), None);
    }
}
