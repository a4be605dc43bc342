//! The connection loop: one [`Session`] over one WebSocket.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use ilp_core::{
    reject, AuthError, Authenticator, Credentials, IlpResult, PacketHandler, Principal, Request,
};
use ilp_packet::{Address, ErrorCode, Prepare};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, field, info, info_span, warn, Instrument, Span};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

use crate::{CloseReason, Event, ProtocolData, RequestId, Session};

/// How many commands (Prepares to send) may wait for the connection loop.
const COMMAND_QUEUE: usize = 1024;
/// How long the writer may take to send the WebSocket Close once the session is over.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What [`drive`] needs besides the socket, the session and the handler. Pub fields,
/// [`Default`] and by-value `with_*` setters.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct DriveConfig {
    /// Server: checks the client's credentials when the session reports
    /// [`Event::AuthRequested`]. Without one, a server refuses every client.
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// Server: the account named by the URL path (`/accounts/{name}/ilp/btp`). It is the
    /// username checked with the token; an `auth_username` that differs is refused.
    pub path_account: Option<String>,
    /// The peer's address: logged, and passed to the authenticator (for throttling).
    pub peer_addr: Option<SocketAddr>,
    /// Client: the [`Principal`] that incoming Prepares are handed to the handler as (a
    /// server uses the principal its authenticator returned).
    pub peer: Option<Principal>,
    /// Send a WebSocket Ping this often; the connection is taken as lost when nothing at all
    /// arrives for two intervals. `None` (default): no pings.
    pub keepalive: Option<Duration>,
    /// Where BTP Messages without an `ilp` entry and Transfers from the peer go (settlement
    /// and other subprotocols). The session has already answered each with an empty Response.
    /// When the channel is full or closed, the message is dropped with a warning. `None`
    /// (default): they are only logged.
    pub side_messages: Option<mpsc::Sender<SideMessage>>,
}

/// A BTP Message without an `ilp` entry, or a Transfer, received from the peer: the
/// subprotocols ILP does not define (settlement, payment channel claims, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SideMessage {
    /// Who sent it: the authenticated principal on a server, the configured peer on a client.
    pub from: Option<Principal>,
    /// The amount of a Transfer; `None` for a Message.
    pub transfer_amount: Option<u64>,
    /// Its entries.
    pub protocol_data: ProtocolData,
}

impl DriveConfig {
    /// Sets [`authenticator`](Self::authenticator).
    #[must_use]
    pub fn with_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.authenticator = Some(authenticator);
        self
    }

    /// Sets [`path_account`](Self::path_account).
    #[must_use]
    pub fn with_path_account(mut self, account: impl Into<String>) -> Self {
        self.path_account = Some(account.into());
        self
    }

    /// Sets [`peer_addr`](Self::peer_addr).
    #[must_use]
    pub const fn with_peer_addr(mut self, peer_addr: SocketAddr) -> Self {
        self.peer_addr = Some(peer_addr);
        self
    }

    /// Sets [`peer`](Self::peer).
    #[must_use]
    pub fn with_peer(mut self, peer: Principal) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Sets [`keepalive`](Self::keepalive).
    #[must_use]
    pub const fn with_keepalive(mut self, keepalive: Option<Duration>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets [`side_messages`](Self::side_messages).
    #[must_use]
    pub fn with_side_messages(mut self, side_messages: mpsc::Sender<SideMessage>) -> Self {
        self.side_messages = Some(side_messages);
        self
    }
}

impl fmt::Debug for DriveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriveConfig")
            .field(
                "authenticator",
                &self.authenticator.as_ref().map(|_| "dyn Authenticator"),
            )
            .field("path_account", &self.path_account)
            .field("peer_addr", &self.peer_addr)
            .field("peer", &self.peer)
            .field("keepalive", &self.keepalive)
            .field("side_messages", &self.side_messages.is_some())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Authenticating,
    Ready(Option<Principal>),
    Closed(CloseReason),
}

enum Command {
    Prepare(Prepare, oneshot::Sender<IlpResult>),
    /// Close now, telling the peer why in the WebSocket Close frame.
    Close(Option<String>),
    /// Graceful shutdown: answer what is in flight, refuse new Prepares (`T01`), then close.
    Drain,
}

/// A handle to a connection run by [`drive`] (or by a [`BtpServer`](super::BtpServer) or
/// [`BtpClient`](super::BtpClient)). Cheap to clone.
///
/// As a [`PacketHandler`] it sends each Prepare to the peer and returns the peer's answer; the
/// request's `from` is not used. When the connection is gone, or goes before the peer answers,
/// the answer is a `T01` Reject at once.
#[derive(Clone)]
pub struct Connection {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<State>,
    peer_addr: Option<SocketAddr>,
    node_address: Address,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer_addr", &self.peer_addr)
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Sends `prepare` to the peer and waits for its answer (or the session's own: `R00` at
    /// expiry, `T01` when the connection is gone, `T03` when too many are in flight).
    pub async fn send(&self, prepare: Prepare) -> IlpResult {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Prepare(prepare, tx))
            .await
            .is_err()
        {
            return Err(self.unreachable());
        }
        rx.await.unwrap_or_else(|_| Err(self.unreachable()))
    }

    fn unreachable(&self) -> ilp_packet::Reject {
        reject(
            ErrorCode::T01_PEER_UNREACHABLE,
            &self.node_address,
            "BTP connection closed",
        )
    }

    /// The peer's socket address, when known.
    #[must_use]
    pub const fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// The authenticated account (server side), or the configured peer (client side), once
    /// authentication has completed.
    #[must_use]
    pub fn principal(&self) -> Option<Principal> {
        match &*self.state.borrow() {
            State::Ready(p) => p.clone(),
            _ => None,
        }
    }

    /// Whether authentication has completed and the connection is up.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        matches!(*self.state.borrow(), State::Ready(_))
    }

    /// Whether the connection is over.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(*self.state.borrow(), State::Closed(_))
    }

    /// Waits until authentication completes (the principal, as [`principal`](Self::principal))
    /// or the connection closes first (why).
    pub async fn ready(&self) -> Result<Option<Principal>, CloseReason> {
        let mut state = self.state.clone();
        let result = state
            .wait_for(|s| !matches!(s, State::Authenticating))
            .await
            .map(|s| s.clone());
        match result {
            Ok(State::Ready(p)) => Ok(p),
            Ok(State::Closed(reason)) => Err(reason),
            Ok(State::Authenticating) | Err(_) => Err(CloseReason::ConnectionLost),
        }
    }

    /// Waits until the connection is over, and says why.
    pub async fn closed(&self) -> CloseReason {
        let mut state = self.state.clone();
        let result = state
            .wait_for(|s| matches!(s, State::Closed(_)))
            .await
            .map(|s| s.clone());
        match result {
            Ok(State::Closed(reason)) => reason,
            _ => CloseReason::ConnectionLost,
        }
    }

    /// Closes the connection: Prepares in flight both ways fail (`T01` here; the peer's get no
    /// answer). Returns at once; see [`closed`](Self::closed).
    pub fn close(&self) {
        self.close_with(None);
    }

    pub(crate) fn close_with(&self, reason: Option<String>) {
        // Full queue: the loop is busy, a Close will be seen after the queued Prepares.
        if let Err(mpsc::error::TrySendError::Full(cmd)) =
            self.commands.try_send(Command::Close(reason))
        {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                let _ = commands.send(cmd).await;
            });
        }
    }

    pub(crate) fn drain(&self) {
        let commands = self.commands.clone();
        tokio::spawn(async move {
            let _ = commands.send(Command::Drain).await;
        });
    }

    pub(crate) fn same(&self, other: &Self) -> bool {
        self.commands.same_channel(&other.commands)
    }
}

#[async_trait]
impl PacketHandler for Connection {
    async fn handle(&self, request: Request) -> IlpResult {
        self.send(request.prepare).await
    }
}

/// Runs `session` over the WebSocket `ws` until the session closes or the socket does.
///
/// Returns a [`Connection`] handle (to send Prepares and to watch the connection) and the
/// future that runs it, which resolves to why the session closed; spawn it (it needs a tokio
/// runtime: it spawns the handler calls and uses tokio timers). `ws` is any
/// `Stream + Sink` of [`tungstenite::Message`]s, such as tokio-tungstenite's `WebSocketStream`.
///
/// The loop writes every frame the session has as one binary message (several at once are
/// fed and flushed together), reads binary messages into [`Session::handle_frame`] (text
/// messages are ignored; pings are answered by tungstenite), arms a timer for
/// [`Session::poll_timeout`], and acts on the events: `AuthRequested` goes to the
/// [`DriveConfig::authenticator`], each `Request` to `handler` in its own task (a slow handler
/// does not hold the connection up), each `Response` to the caller waiting in
/// [`Connection::send`]. When the socket closes or fails, every Prepare in flight fails with
/// `T01` at once.
pub fn drive<S, E, H>(
    ws: S,
    session: Session,
    handler: H,
    config: DriveConfig,
) -> (
    Connection,
    impl std::future::Future<Output = CloseReason> + Send + 'static,
)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Send + Unpin + 'static,
    E: fmt::Display + Send + 'static,
    H: PacketHandler + 'static,
{
    start(ws, session, Arc::new(handler), config)
}

pub(crate) fn start<S, E>(
    ws: S,
    session: Session,
    handler: Arc<dyn PacketHandler>,
    config: DriveConfig,
) -> (
    Connection,
    impl std::future::Future<Output = CloseReason> + Send + 'static,
)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Send + Unpin + 'static,
    E: fmt::Display + Send + 'static,
{
    let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
    let (state_tx, state) = watch::channel(State::Authenticating);
    let connection = Connection {
        commands: commands_tx,
        state,
        peer_addr: config.peer_addr,
        node_address: session.config().node_address.clone(),
    };
    let span = info_span!(
        "btp",
        peer = field::Empty,
        account = field::Empty,
        side = if config.authenticator.is_some() {
            "server"
        } else {
            "client"
        },
    );
    if let Some(addr) = config.peer_addr {
        span.record("peer", field::display(addr));
    }
    let task = Loop {
        session,
        handler,
        config,
        commands,
        state: state_tx,
        span: span.clone(),
    }
    .run(ws)
    .instrument(span);
    (connection, task)
}

struct Loop {
    session: Session,
    handler: Arc<dyn PacketHandler>,
    config: DriveConfig,
    commands: mpsc::Receiver<Command>,
    state: watch::Sender<State>,
    span: Span,
}

type AuthFuture = BoxFuture<'static, Result<Principal, AuthError>>;

impl Loop {
    async fn run<S, E>(mut self, ws: S) -> CloseReason
    where
        S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Send + Unpin + 'static,
        E: fmt::Display + Send + 'static,
    {
        let (sink, mut stream) = ws.split();
        let (out, out_rx) = mpsc::unbounded_channel::<Message>();
        let (write_failed_tx, mut write_failed) = oneshot::channel::<()>();
        let writer = write_loop(sink, out_rx, write_failed_tx);

        let main = async move {
            if self.config.authenticator.is_none() && self.config.peer.is_none() {
                // A client that was given no peer principal: name the server "peer".
                self.config.peer = "peer".parse().ok().map(Principal::account);
            }
            let (answers_tx, mut answers) = mpsc::unbounded_channel::<(RequestId, IlpResult)>();
            let mut waiting: HashMap<RequestId, oneshot::Sender<IlpResult>> = HashMap::new();
            let mut auth: Option<AuthFuture> = None;
            let mut principal: Option<Principal> = None;
            let mut draining = false;
            let mut close_frame: Option<CloseFrame> = None;
            let mut commands_open = true;
            let mut text_messages: u64 = 0;
            let mut writer_up = true;
            let keepalive = self.config.keepalive.filter(|d| !d.is_zero());
            let mut ping = keepalive.map(|d| {
                let mut i = tokio::time::interval_at(Instant::now() + d, d);
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                i
            });
            let mut last_rx = Instant::now();
            let far = Instant::now() + Duration::from_secs(86_400 * 365);
            let sleep = tokio::time::sleep_until(far);
            tokio::pin!(sleep);
            let mut armed: Option<Instant> = None;
            let mut turns: u32 = 0;

            loop {
                while let Some(event) = self.session.poll_event() {
                    match event {
                        Event::AuthRequested {
                            username, token, ..
                        } => {
                            auth = self.authenticate(username, token);
                        }
                        Event::Authenticated => {
                            principal.clone_from(&self.config.peer);
                            info!("btp: authenticated");
                            self.state.send_replace(State::Ready(principal.clone()));
                        }
                        Event::Request { id, prepare } => {
                            let Some(from) = principal.clone() else {
                                continue;
                            };
                            if draining {
                                let r = reject(
                                    ErrorCode::T01_PEER_UNREACHABLE,
                                    &self.session.config().node_address,
                                    "BTP server shutting down",
                                );
                                let _ = self.session.respond(id, Err(r));
                                continue;
                            }
                            let handler = Arc::clone(&self.handler);
                            let answers = answers_tx.clone();
                            let node = self.session.config().node_address.clone();
                            let span = self.span.clone();
                            tokio::spawn(
                                async move {
                                    let call = handler.handle(Request { from, prepare });
                                    let result = AssertUnwindSafe(call)
                                        .catch_unwind()
                                        .await
                                        .unwrap_or_else(|_| {
                                            warn!("btp: packet handler panicked");
                                            Err(reject(
                                                ErrorCode::T00_INTERNAL_ERROR,
                                                &node,
                                                "internal error",
                                            ))
                                        });
                                    let _ = answers.send((id, result));
                                }
                                .instrument(span),
                            );
                        }
                        Event::Response { id, result } => {
                            if let Some(tx) = waiting.remove(&id) {
                                let _ = tx.send(result);
                            }
                        }
                        Event::Message { id, protocol_data } => {
                            debug!(%id, "btp: message without ilp");
                            self.side_message(principal.clone(), None, protocol_data);
                        }
                        Event::Transfer {
                            id,
                            amount,
                            protocol_data,
                        } => {
                            debug!(%id, amount, "btp: transfer");
                            self.side_message(principal.clone(), Some(amount), protocol_data);
                        }
                        Event::Closed { reason } => {
                            info!(%reason, "btp: session closed");
                        }
                    }
                }
                while let Some(frame) = self.session.poll_transmit() {
                    let _ = out.send(Message::Binary(frame));
                }
                if self.session.is_closed() {
                    break;
                }
                if draining
                    && self.session.incoming_in_flight() == 0
                    && self.session.outgoing_in_flight() == 0
                {
                    close_frame = Some(close(CloseCode::Away, "server shutting down"));
                    self.session.close();
                    continue;
                }
                // The writer runs in this task: give it a turn every few events, so that frames
                // leave in batches of about `WRITE_BATCH` while the peer works on the last one,
                // rather than in one burst per window.
                turns += 1;
                if turns % WRITE_BATCH == 0 {
                    tokio::task::yield_now().await;
                }
                let timeout = self.session.poll_timeout().map(Instant::from_std);
                if timeout != armed {
                    sleep.as_mut().reset(timeout.unwrap_or(far));
                    armed = timeout;
                }
                tokio::select! {
                    message = stream.next() => {
                        let now = std::time::Instant::now();
                        last_rx = Instant::now();
                        match message {
                            Some(Ok(Message::Binary(frame))) => self.session.handle_frame(frame, now),
                            Some(Ok(Message::Text(_))) => {
                                text_messages += 1;
                                debug!(text_messages, "btp: text message ignored");
                            }
                            Some(Ok(Message::Close(frame))) => {
                                debug!(?frame, "btp: peer closed the WebSocket");
                                self.session.handle_closed(now);
                            }
                            Some(Ok(_)) => {}
                            Some(Err(error)) => {
                                debug!(%error, "btp: WebSocket read failed");
                                self.session.handle_closed(now);
                            }
                            None => self.session.handle_closed(now),
                        }
                    }
                    () = &mut sleep, if armed.is_some() => {
                        armed = None;
                        self.session.handle_timeout(std::time::Instant::now());
                    }
                    command = self.commands.recv(), if commands_open => match command {
                        Some(Command::Prepare(prepare, tx)) => {
                            match self.session.send_prepare(prepare, std::time::Instant::now()) {
                                Ok(id) => { waiting.insert(id, tx); }
                                Err(reject) => { let _ = tx.send(Err(reject)); }
                            }
                        }
                        Some(Command::Close(reason)) => {
                            close_frame = reason.map(|r| close(CloseCode::Policy, &r));
                            self.session.close();
                        }
                        Some(Command::Drain) => draining = true,
                        None => commands_open = false,
                    },
                    Some((id, result)) = answers.recv() => {
                        if let Err(error) = self.session.respond(id, result) {
                            debug!(%error, "btp: answer dropped");
                        }
                    }
                    result = async { auth.as_mut().expect("guarded").await }, if auth.is_some() => {
                        auth = None;
                        match result {
                            Ok(p) => {
                                self.span.record("account", field::display(&p.account));
                                if self.session.accept(p.clone()).is_ok() {
                                    info!("btp: client authenticated");
                                    principal = Some(p.clone());
                                    self.state.send_replace(State::Ready(Some(p)));
                                }
                            }
                            Err(error) => {
                                info!(%error, "btp: client authentication refused");
                                let reason = match error {
                                    AuthError::Rejected => "invalid auth_token".to_owned(),
                                    other => other.to_string(),
                                };
                                let _ = self.session.reject_auth(&reason);
                            }
                        }
                    }
                    _ = &mut write_failed, if writer_up => {
                        writer_up = false;
                        self.session.handle_closed(std::time::Instant::now());
                    }
                    _ = async { ping.as_mut().expect("guarded").tick().await }, if ping.is_some() => {
                        let interval = keepalive.unwrap_or_default();
                        if last_rx.elapsed() > interval * 2 {
                            info!("btp: keepalive timed out");
                            self.session.handle_closed(std::time::Instant::now());
                        } else {
                            let _ = out.send(Message::Ping(bytes::Bytes::new()));
                        }
                    }
                }
            }
            // The session's last frames (such as the Error refusing authentication).
            while let Some(frame) = self.session.poll_transmit() {
                let _ = out.send(Message::Binary(frame));
            }
            if let Some(frame) = close_frame {
                let _ = out.send(Message::Close(Some(frame)));
            }
            drop(out);
            let reason = self
                .session
                .close_reason()
                .cloned()
                .unwrap_or(CloseReason::ConnectionLost);
            self.state.send_replace(State::Closed(reason.clone()));
            // Dropping `waiting` and the command queue fails the rest with T01.
            reason
        };
        let (reason, ()) = tokio::join!(main, writer);
        reason
    }

    /// Hands a Message without `ilp` or a Transfer to the embedder, if it asked for them.
    fn side_message(
        &self,
        from: Option<Principal>,
        transfer_amount: Option<u64>,
        protocol_data: ProtocolData,
    ) {
        let Some(tx) = &self.config.side_messages else {
            return;
        };
        let message = SideMessage {
            from,
            transfer_amount,
            protocol_data,
        };
        if let Err(error) = tx.try_send(message) {
            warn!(%error, "btp: side message dropped");
        }
    }

    fn authenticate(
        &mut self,
        username: Option<String>,
        token: crate::AuthToken,
    ) -> Option<AuthFuture> {
        let Some(authenticator) = self.config.authenticator.clone() else {
            let _ = self
                .session
                .reject_auth("this side does not accept clients");
            return None;
        };
        let username = match (self.config.path_account.clone(), username) {
            (Some(path), Some(user)) if path != user => {
                let _ = self
                    .session
                    .reject_auth("auth_username does not match the account in the URL path");
                return None;
            }
            (Some(path), _) => Some(path),
            (None, user) => user,
        };
        let source = self.config.peer_addr.map(|a| a.ip());
        Some(Box::pin(async move {
            let credentials = match username.as_deref() {
                Some(username) => Credentials::UsernameToken {
                    username,
                    token: token.expose(),
                },
                None => Credentials::Bearer {
                    token: token.expose(),
                    account: None,
                },
            };
            authenticator.authenticate(credentials, source).await
        }))
    }
}

fn close(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

/// How many loop turns (frames read, commands, answers) between turns of the writer.
const WRITE_BATCH: u32 = 16;

/// Writes queued messages, feeding all that are ready and flushing once.
async fn write_loop<K, E>(
    mut sink: K,
    mut rx: mpsc::UnboundedReceiver<Message>,
    failed: oneshot::Sender<()>,
) where
    K: Sink<Message, Error = E> + Unpin,
    E: fmt::Display,
{
    let mut failed = Some(failed);
    'outer: while let Some(message) = rx.recv().await {
        let mut next = Some(message);
        while let Some(message) = next.take() {
            if let Err(error) = sink.feed(message).await {
                debug!(%error, "btp: WebSocket write failed");
                break 'outer;
            }
            next = rx.try_recv().ok();
        }
        if let Err(error) = sink.flush().await {
            debug!(%error, "btp: WebSocket flush failed");
            break 'outer;
        }
    }
    if let Some(tx) = failed.take() {
        let _ = tx.send(());
    }
    // Drain so that the sender never blocks (it is unbounded; this just frees memory).
    rx.close();
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
}
