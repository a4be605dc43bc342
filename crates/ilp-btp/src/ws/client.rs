//! [`BtpClient`]: connects to a BTP server, authenticates, reconnects.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ilp_core::{reject, AccountId, IlpResult, PacketHandler, Principal, Request};
use ilp_packet::{ErrorCode, Prepare};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use tracing::{debug, info, warn};

use super::driver::{start, Connection, DriveConfig};
use super::{ws_config, BtpUrl, Error};
use crate::{CloseReason, Session, SessionConfig};

/// Settings of a [`BtpClient`]. Pub fields, [`Default`] and by-value `with_*` setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The session settings (auth timeout, in-flight limit, node address, ...).
    pub session: SessionConfig,
    /// WebSocket Ping interval; the connection counts as lost when nothing arrives for two
    /// intervals (default 30 s, as interledger-rs; `None`: no pings).
    pub keepalive: Option<Duration>,
    /// Delays before each reconnection attempt, the last one repeating (default 0, 100, 500,
    /// 1000, 2000, 5000 ms), each plus up to 20 % random jitter. Back to the first after a
    /// connection authenticates.
    pub backoff: Vec<Duration>,
    /// How long the TCP connect and WebSocket upgrade may take (default 10 s).
    pub connect_timeout: Duration,
    /// The account incoming Prepares (from the server) are handed to the handler as. `None`
    /// (default): the URL's username, or `peer` when it has none.
    pub peer_account: Option<AccountId>,
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
    /// The TLS settings for `btp+wss://` URLs (feature `rustls`): which servers to trust.
    /// `None` (default): Mozilla's root certificates (webpki-roots). Build one that trusts a
    /// private CA or a self-signed certificate with
    /// [`tls_client_config`](super::tls_client_config).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            session: SessionConfig::default(),
            keepalive: Some(Duration::from_secs(30)),
            backoff: [0, 100, 500, 1000, 2000, 5000]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            connect_timeout: Duration::from_secs(10),
            peer_account: None,
            side_messages: None,
            write_timeout: super::driver::DEFAULT_WRITE_TIMEOUT,
            max_queued_bytes: super::driver::DEFAULT_MAX_QUEUED_BYTES,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }
}

impl ClientConfig {
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

    /// Sets [`keepalive`](Self::keepalive).
    #[must_use]
    pub const fn with_keepalive(mut self, keepalive: Option<Duration>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets [`backoff`](Self::backoff).
    #[must_use]
    pub fn with_backoff(mut self, backoff: Vec<Duration>) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`peer_account`](Self::peer_account).
    #[must_use]
    pub fn with_peer_account(mut self, account: AccountId) -> Self {
        self.peer_account = Some(account);
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
    pub fn with_tls(mut self, tls: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(tls);
        self
    }
}

struct Inner {
    current: watch::Receiver<Option<Connection>>,
    closed: watch::Sender<bool>,
    /// Its sender is held by the background task: `changed()` fails once the task is over.
    done: watch::Receiver<()>,
    config: ClientConfig,
}

/// A BTP client: one connection to a server, kept up.
///
/// - [`connect`](Self::connect) takes a `btp+ws://user:token@host:port/path` URL (see
///   [`BtpUrl`]), connects to `ws://host:port/path`, authenticates with `auth_username` and
///   `auth_token` (as ilp-plugin-btp), and returns once the server accepted, or with the
///   error of that first attempt ([`Error::AuthRejected`] when the server refused).
/// - Later, when the connection drops, it reconnects in the background with
///   [`ClientConfig::backoff`] and authenticates again, until [`close`](Self::close).
/// - As a [`PacketHandler`] it sends Prepares to the server. **While disconnected, a Prepare
///   gets a `T01` Reject at once** (it is not held until a reconnection: the caller, a
///   connector or a sender, decides whether to retry), as do the Prepares in flight when the
///   connection drops.
/// - Prepares from the server go to the `incoming` handler, with `from` set to
///   [`ClientConfig::peer_account`].
/// - **No connection outlives its client.** When the future returned by
///   [`connect`](Self::connect) is dropped before it completes (for example by a
///   `tokio::time::timeout`), the connection it was opening is dropped with it, never left
///   to log in on its own; [`close`](Self::close) likewise ends a reconnection in progress,
///   and returns, for every caller, only once the connection is closed and the background
///   task is over; dropping the last clone of the client closes it too.
#[derive(Clone)]
pub struct BtpClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for BtpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BtpClient")
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

struct Dial {
    url: BtpUrl,
    config: ClientConfig,
    handler: Arc<dyn PacketHandler>,
    peer: Principal,
    /// For a `wss` URL: the TLS settings used.
    #[cfg(feature = "rustls")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Dial {
    /// One connection attempt: connect, authenticate; the connection and its running loop.
    async fn once(&self) -> Result<(Connection, JoinHandle<CloseReason>), Error> {
        #[cfg(feature = "rustls")]
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            self.url.ws_url(),
            Some(ws_config()),
            true,
            self.tls
                .as_ref()
                .map(|tls| tokio_tungstenite::Connector::Rustls(Arc::clone(tls))),
        );
        #[cfg(not(feature = "rustls"))]
        let connect = tokio_tungstenite::connect_async_with_config(
            self.url.ws_url(),
            Some(ws_config()),
            true,
        );
        let (ws, _response) = tokio::time::timeout(self.config.connect_timeout, connect)
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(connect_error)?;
        let peer_addr = match ws.get_ref() {
            tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.peer_addr().ok(),
            #[cfg(feature = "rustls")]
            tokio_tungstenite::MaybeTlsStream::Rustls(tls) => tls.get_ref().0.peer_addr().ok(),
            _ => None,
        };
        let session = Session::client(
            self.config.session.clone(),
            self.url.username(),
            self.url.token(),
            std::time::Instant::now(),
        )
        .map_err(|_| Error::InvalidUrl("the credentials do not fit in a BTP frame"))?;
        let mut drive = DriveConfig::default()
            .with_peer(self.peer.clone())
            .with_keepalive(self.config.keepalive);
        drive.peer_addr = peer_addr;
        drive.write_timeout = self.config.write_timeout;
        drive.max_queued_bytes = self.config.max_queued_bytes;
        drive.side_messages.clone_from(&self.config.side_messages);
        let (connection, run) = start(ws, session, Arc::clone(&self.handler), drive);
        // Until this attempt returns, the connection is this future's: if it is dropped
        // (connect cancelled, close() during a reconnection), the guard aborts the task, so
        // no connection goes on to authenticate and answer Prepares with no handle.
        let task = tokio::spawn(run);
        let guard = AbortOnDrop(Some(task.abort_handle()));
        match connection.ready().await {
            Ok(_) => {
                guard.disarm();
                Ok((connection, task))
            }
            Err(reason) => {
                let _ = task.await;
                guard.disarm();
                Err(reason.into())
            }
        }
    }

    fn delay(&self, attempt: usize) -> Duration {
        let Some(last) = self.config.backoff.len().checked_sub(1) else {
            return Duration::ZERO;
        };
        let base = self.config.backoff[attempt.min(last)];
        let max_jitter = u64::try_from(base.as_millis() / 5).unwrap_or(u64::MAX);
        let jitter = if max_jitter == 0 {
            0
        } else {
            getrandom::u64().unwrap_or(0) % (max_jitter + 1)
        };
        base + Duration::from_millis(jitter)
    }
}

/// Aborts a connection's task when dropped armed.
struct AbortOnDrop(Option<AbortHandle>);

impl AbortOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            debug!("btp client: connection attempt dropped, its connection aborted");
            task.abort();
        }
    }
}

impl BtpClient {
    /// Connects to `url` (`btp+ws://user:token@host:port/path`, or `btp+wss://` with the
    /// `rustls` feature) and authenticates; Prepares from the server go to `incoming`. Fails
    /// with the first attempt's error; after that it reconnects by itself.
    ///
    /// A `btp+wss://` URL fails with [`Error::TlsUnavailable`] without the `rustls` feature,
    /// and with [`Error::Tls`] when the server's certificate is not trusted (see
    /// `ClientConfig::tls`).
    pub async fn connect(
        url: &str,
        incoming: impl PacketHandler + 'static,
        config: ClientConfig,
    ) -> Result<Self, Error> {
        Self::connect_url(url.parse()?, incoming, config).await
    }

    /// As [`connect`](Self::connect), with a parsed URL (for example one given its
    /// credentials with [`BtpUrl::with_credentials`]).
    pub async fn connect_url(
        url: BtpUrl,
        incoming: impl PacketHandler + 'static,
        config: ClientConfig,
    ) -> Result<Self, Error> {
        let peer_account = config
            .peer_account
            .clone()
            .or_else(|| url.username().parse().ok())
            .or_else(|| "peer".parse().ok())
            .ok_or(Error::InvalidUrl("no valid peer account name"))?;
        #[cfg(feature = "rustls")]
        let tls = match (url.is_tls(), &config.tls) {
            (false, _) => None,
            (true, Some(tls)) => Some(Arc::clone(tls)),
            (true, None) => Some(super::tls::default_client_config()?),
        };
        #[cfg(not(feature = "rustls"))]
        if url.is_tls() {
            return Err(Error::TlsUnavailable);
        }
        let dial = Dial {
            url,
            config: config.clone(),
            handler: Arc::new(incoming),
            peer: Principal::account(peer_account),
            #[cfg(feature = "rustls")]
            tls,
        };
        let (connection, run) = dial.once().await?;
        info!(url = dial.url.ws_url(), "btp client connected");
        let (current_tx, current) = watch::channel(Some(connection));
        let (closed, closed_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(());
        // No await between `once` returning and this spawn: the connection always has an owner.
        tokio::spawn(async move {
            supervise(dial, run, current_tx, closed_rx).await;
            drop(done_tx);
        });
        Ok(Self {
            inner: Arc::new(Inner {
                current,
                closed,
                done,
                config,
            }),
        })
    }

    /// The current connection, when connected and authenticated.
    #[must_use]
    pub fn connection(&self) -> Option<Connection> {
        self.inner
            .current
            .borrow()
            .as_ref()
            .filter(|c| c.is_ready())
            .cloned()
    }

    /// Whether connected and authenticated now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.connection().is_some()
    }

    /// Waits until connected and authenticated (at once when it is).
    pub async fn connected(&self) -> Connection {
        let mut current = self.inner.current.clone();
        loop {
            if let Some(c) = self.connection() {
                return c;
            }
            if current.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Sends a Prepare to the server and waits for the answer; `T01` at once when
    /// disconnected.
    pub async fn send(&self, prepare: Prepare) -> IlpResult {
        match self.connection() {
            Some(c) => c.send(prepare).await,
            None => Err(reject(
                ErrorCode::T01_PEER_UNREACHABLE,
                &self.inner.config.session.node_address,
                "BTP client not connected",
            )),
        }
    }

    /// Closes the connection and stops reconnecting (a connection attempt in progress is
    /// dropped). Prepares in flight fail with `T01`. Returns, for every caller and clone, once
    /// the connection is closed and the background task is over.
    pub async fn close(&self) {
        let _ = self.inner.closed.send(true);
        let mut done = self.inner.done.clone();
        // Fails only when the task has dropped its sender, that is, when it is over.
        while done.changed().await.is_ok() {}
    }
}

#[async_trait]
impl PacketHandler for BtpClient {
    async fn handle(&self, request: Request) -> IlpResult {
        self.send(request.prepare).await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.closed.send(true);
    }
}

async fn supervise(
    dial: Dial,
    mut run: JoinHandle<CloseReason>,
    current: watch::Sender<Option<Connection>>,
    mut closed: watch::Receiver<bool>,
) {
    loop {
        // Connected: wait for the connection to end, or for close().
        let reason = tokio::select! {
            r = &mut run => r.unwrap_or(CloseReason::ConnectionLost),
            () = until_closed(&mut closed) => {
                if let Some(c) = current.borrow().as_ref() {
                    c.close();
                }
                let _ = (&mut run).await;
                current.send_replace(None);
                return;
            }
        };
        current.send_replace(None);
        warn!(%reason, url = dial.url.ws_url(), "btp client disconnected, reconnecting");
        let mut attempt = 0;
        loop {
            let delay = dial.delay(attempt);
            attempt += 1;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = until_closed(&mut closed) => return,
            }
            let result = tokio::select! {
                r = dial.once() => r,
                () = until_closed(&mut closed) => return,
            };
            match result {
                Ok((connection, task)) => {
                    info!(url = dial.url.ws_url(), attempt, "btp client reconnected");
                    current.send_replace(Some(connection));
                    run = task;
                    break;
                }
                Err(error) => {
                    warn!(%error, attempt, "btp client: reconnection failed");
                }
            }
        }
    }
}

/// A failed connection attempt as this module's [`Error`].
fn connect_error(error: tungstenite::Error) -> Error {
    match error {
        #[cfg(feature = "rustls")]
        tungstenite::Error::Io(io) => super::tls::from_io(io),
        #[cfg(not(feature = "rustls"))]
        tungstenite::Error::Io(io) => Error::Io(io),
        tungstenite::Error::Url(tungstenite::error::UrlError::TlsFeatureNotEnabled) => {
            Error::TlsUnavailable
        }
        #[cfg(feature = "rustls")]
        tungstenite::Error::Tls(tls) => Error::Tls(Box::new(tls)),
        other => Error::Handshake(Box::new(other)),
    }
}

async fn until_closed(closed: &mut watch::Receiver<bool>) {
    let _ = closed.wait_for(|c| *c).await;
}
