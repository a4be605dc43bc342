//! The connection loop: one [`Session`] over one WebSocket.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use ilp_core::{
    reject, AuthError, Authenticator, Credentials, IlpResult, PacketHandler, Principal, Request,
};
use ilp_packet::{Address, ErrorCode, Prepare};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;
use tracing::{debug, field, info, info_span, warn, Instrument, Span};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

use crate::{CloseReason, Event, ProtocolData, RequestId, Session, MAX_FRAME_LEN};

/// How many commands (Prepares to send) may wait for the connection loop.
const COMMAND_QUEUE: usize = 1024;
/// How long the writer may take to send the WebSocket Close once the session is over.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// What queueing one WebSocket message costs besides its payload (the message, the channel's
/// slot, the allocation): counted in [`Connection::queued_bytes`], so that a flood of tiny
/// frames is bounded too.
pub(crate) const MESSAGE_OVERHEAD: usize = 64;
/// The smallest outgoing queue bound: one frame of the largest size always fits.
const MIN_QUEUED_BYTES: usize = MAX_FRAME_LEN + MESSAGE_OVERHEAD;
/// The default of [`DriveConfig::write_timeout`] (and of the server's and client's).
pub(crate) const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of [`DriveConfig::max_queued_bytes`] (and of the server's and client's).
pub(crate) const DEFAULT_MAX_QUEUED_BYTES: usize = 256 * 1024;

/// What [`drive`] needs besides the socket, the session and the handler. Pub fields,
/// [`Default`] and by-value `with_*` setters.
#[derive(Clone)]
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
    /// How long one write to the socket may take (default 10 s): when writing a message, or
    /// flushing the ones written, does not complete in time (the peer stopped reading and the
    /// socket's buffers are full), the connection is closed with
    /// [`CloseReason::WriteTimeout`], its Prepares in flight fail with `T01` at once, and a
    /// warning naming the account is logged once.
    pub write_timeout: Duration,
    /// The bound of the outgoing queue, in bytes (default 256 KiB; values below 64 KiB + 64,
    /// one frame of the largest size, act as that). Each frame waiting to be written counts
    /// its length plus 64 bytes (see [`Connection::queued_bytes`]).
    ///
    /// When the queue reaches the bound, the loop stops reading from the socket, taking
    /// Prepares to send and taking the handler's answers (backpressure) until the writer has
    /// written what is queued. Only the session's own answers (`R00` at a Prepare's expiry)
    /// and the answer to the frame being read can still be queued then; if the queue grows
    /// past **twice the bound** the connection is closed with [`CloseReason::QueueFull`].
    /// So the frames a connection holds waiting to be written stay under twice this, plus
    /// what one turn of the loop adds (the answer to one frame, or the `R00`s of the Prepares
    /// expiring at that instant, at most [`SessionConfig::max_in_flight`](crate::SessionConfig::max_in_flight)),
    /// plus tungstenite's write buffer (128 KiB by default).
    pub max_queued_bytes: usize,
}

impl Default for DriveConfig {
    fn default() -> Self {
        Self {
            authenticator: None,
            path_account: None,
            peer_addr: None,
            peer: None,
            keepalive: None,
            side_messages: None,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
        }
    }
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
            .field("write_timeout", &self.write_timeout)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Authenticating,
    Ready(Option<Principal>),
    Closed(CloseReason),
}

/// A Prepare to send, and where its answer goes.
type Command = (Prepare, oneshot::Sender<IlpResult>);

/// What the embedder asked of the connection as a whole. Kept apart from the Prepares, so that
/// a close is seen at once even while the loop takes no Prepares (backpressure).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Control {
    Run,
    /// Graceful shutdown: answer what is in flight, refuse new Prepares (`T01`), then close.
    Drain,
    /// Close now, telling the peer why in the WebSocket Close frame.
    Close(Option<String>),
}

/// The outgoing queue's byte count, shared by the loop (adds), the writer (subtracts once
/// written) and the [`Connection`] handles (read).
#[derive(Debug)]
struct Queue {
    bytes: AtomicUsize,
    /// Backpressure starts at this many bytes.
    limit: usize,
    /// Woken when the count falls below `limit`.
    room: Notify,
}

impl Queue {
    fn new(max_queued_bytes: usize) -> Self {
        Self {
            bytes: AtomicUsize::new(0),
            limit: max_queued_bytes.max(MIN_QUEUED_BYTES),
            room: Notify::new(),
        }
    }

    fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    fn is_full(&self) -> bool {
        self.bytes() >= self.limit
    }

    fn add(&self, n: usize) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    fn release(&self, n: usize) {
        let before = self.bytes.fetch_sub(n, Ordering::Relaxed);
        if before >= self.limit && before - n < self.limit {
            self.room.notify_one();
        }
    }
}

/// What one queued message counts in [`Queue`].
fn cost(message: &Message) -> usize {
    let payload = match message {
        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
        Message::Text(t) => t.len(),
        Message::Close(c) => c.as_ref().map_or(0, |c| c.reason.len()),
        Message::Frame(f) => f.len(),
    };
    payload + MESSAGE_OVERHEAD
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
    control: Arc<watch::Sender<Control>>,
    state: watch::Receiver<State>,
    queue: Arc<Queue>,
    peer_addr: Option<SocketAddr>,
    node_address: Address,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer_addr", &self.peer_addr)
            .field("state", &*self.state.borrow())
            .field("queued_bytes", &self.queue.bytes())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Sends `prepare` to the peer and waits for its answer (or the session's own: `R00` at
    /// expiry, `T01` when the connection is gone or shutting down, `T03` when too many are in
    /// flight).
    ///
    /// While the connection's outgoing queue is full ([`DriveConfig::max_queued_bytes`]), the
    /// Prepare waits for room (at most [`DriveConfig::write_timeout`] per write, after which
    /// the connection closes and the answer is `T01`).
    pub async fn send(&self, prepare: Prepare) -> IlpResult {
        let (tx, rx) = oneshot::channel();
        if self.commands.send((prepare, tx)).await.is_err() {
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

    /// How much the frames waiting to be written take, in bytes: each frame's length plus 64
    /// (what queueing it costs), from when the session makes it until the writer has flushed
    /// it to the socket. Reading stops while it is at [`DriveConfig::max_queued_bytes`] or
    /// more, and past twice that the connection is closed with [`CloseReason::QueueFull`];
    /// 0 once the connection's future (from [`drive`]) has finished.
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
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
        self.control.send_if_modified(|c| {
            if matches!(c, Control::Close(_)) {
                return false;
            }
            *c = Control::Close(reason);
            true
        });
    }

    pub(crate) fn drain(&self) {
        self.control.send_if_modified(|c| {
            if *c != Control::Run {
                return false;
            }
            *c = Control::Drain;
            true
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
/// [`DriveConfig::authenticator`], each `Request` to `handler` (called at once; when its
/// future does not complete at its first poll, it goes on in its own task, so a slow handler
/// does not hold the connection up), each `Response` to the caller waiting in
/// [`Connection::send`]. When the socket closes or fails, every Prepare in flight fails with
/// `T01` at once.
///
/// The outgoing queue is bounded ([`DriveConfig::max_queued_bytes`]: while it is full the loop
/// stops reading), and so is each write ([`DriveConfig::write_timeout`]: a peer that stops
/// reading is disconnected, with [`CloseReason::WriteTimeout`]).
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
    let (control_tx, control) = watch::channel(Control::Run);
    let (state_tx, state) = watch::channel(State::Authenticating);
    let queue = Arc::new(Queue::new(config.max_queued_bytes));
    let connection = Connection {
        commands: commands_tx,
        control: Arc::new(control_tx),
        state,
        queue: Arc::clone(&queue),
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
        control,
        queue,
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
    control: watch::Receiver<Control>,
    queue: Arc<Queue>,
    state: watch::Sender<State>,
    span: Span,
}

type AuthFuture = BoxFuture<'static, Result<Principal, AuthError>>;

/// Why the writer stopped before the loop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteEnd {
    /// A write or flush failed (the socket is gone).
    Failed,
    /// A write or flush did not complete within the write timeout.
    TimedOut,
}

/// The loop's end of the outgoing queue.
struct Outbox {
    tx: mpsc::UnboundedSender<Message>,
    queue: Arc<Queue>,
}

impl Outbox {
    fn push(&self, message: Message) {
        let n = cost(&message);
        // Counted only when the writer is still there to take it (and give it back).
        if self.tx.send(message).is_ok() {
            self.queue.add(n);
        }
    }
}

impl Loop {
    async fn run<S, E>(self, ws: S) -> CloseReason
    where
        S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Send + Unpin + 'static,
        E: fmt::Display + Send + 'static,
    {
        let (sink, stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel::<Message>();
        let (write_end_tx, write_end) = oneshot::channel::<WriteEnd>();
        let outbox = Outbox {
            tx,
            queue: Arc::clone(&self.queue),
        };
        let writer = write_loop(
            sink,
            rx,
            Arc::clone(&self.queue),
            write_end_tx,
            self.config.write_timeout,
        );
        let main = self.main(stream, outbox, write_end);
        // The loop and the writer run in this one task. When the loop ends by closing a
        // connection whose writer is stuck, the writer is dropped (with the socket).
        let mut main = pin!(main);
        let mut writer = pin!(writer);
        let mut writer_done = false;
        let (reason, abort) = std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = main.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            if !writer_done && writer.as_mut().poll(cx).is_ready() {
                writer_done = true;
            }
            Poll::Pending
        })
        .await;
        if !abort && !writer_done {
            writer.await;
        }
        reason
    }

    /// The loop proper; returns why the session closed, and whether to drop the writer
    /// rather than let it finish.
    #[allow(clippy::too_many_lines)] // one select over every input, as before
    async fn main<T, E>(
        mut self,
        mut stream: T,
        outbox: Outbox,
        mut write_end: oneshot::Receiver<WriteEnd>,
    ) -> (CloseReason, bool)
    where
        T: Stream<Item = Result<Message, E>> + Unpin,
        E: fmt::Display,
    {
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
        let mut control_open = true;
        let mut text_messages: u64 = 0;
        let mut writer_up = true;
        // Set when the loop itself ends the connection for a reason the session does not know.
        let mut forced: Option<CloseReason> = None;
        let hard_limit = self.queue.limit.saturating_mul(2);
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
                        if let Some(p) = &principal {
                            self.span.record("account", field::display(&p.account));
                        }
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
                        self.call_handler(id, Request { from, prepare }, &answers_tx);
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
                outbox.push(Message::Binary(frame));
            }
            if self.session.is_closed() {
                break;
            }
            if self.queue.bytes() > hard_limit {
                warn!(
                    account = %account_name(principal.as_ref()),
                    queued_bytes = self.queue.bytes(),
                    max_queued_bytes = self.queue.limit,
                    "btp: outgoing queue over twice its bound (the peer does not read), closing"
                );
                forced = Some(CloseReason::QueueFull);
                self.session.handle_closed(std::time::Instant::now());
                continue;
            }
            if draining
                && self.session.incoming_in_flight() == 0
                && self.session.outgoing_in_flight() == 0
            {
                close_frame = Some(close(CloseCode::Away, "server shutting down"));
                self.session.close();
                continue;
            }
            // The writer runs in this task, when the loop has nothing ready (so frames leave in
            // one batch per burst of input, one flush each, as a batching echo does), and at
            // the latest every `WRITE_BATCH` turns (so a peer that keeps us busy still gets
            // its answers).
            turns += 1;
            if turns % WRITE_BATCH == 0 {
                tokio::task::yield_now().await;
            }
            // The timer is moved only to an earlier instant: when the earliest deadline goes
            // later (its Prepare was answered, the usual case), the timer stays and fires
            // early once, finds nothing expired and is armed again. That saves a timer
            // re-registration per Prepare.
            if let Some(timeout) = self.session.poll_timeout().map(Instant::from_std) {
                if armed.is_none_or(|a| timeout < a) {
                    sleep.as_mut().reset(timeout);
                    armed = Some(timeout);
                }
            }
            // Backpressure: while the queue is full, take nothing that makes frames to write
            // (the peer's frames, our Prepares, the handler's answers) until the writer has
            // made room.
            let paused = self.queue.is_full();
            tokio::select! {
                message = stream.next(), if !paused => {
                    let now = std::time::Instant::now();
                    last_rx = Instant::from_std(now);
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
                changed = self.control.changed(), if control_open => {
                    if changed.is_err() {
                        control_open = false;
                    } else {
                        let control = self.control.borrow_and_update().clone();
                        match control {
                            Control::Run => {}
                            Control::Drain => draining = true,
                            Control::Close(reason) => {
                                close_frame = reason.map(|r| close(CloseCode::Policy, &r));
                                self.session.close();
                            }
                        }
                    }
                }
                command = self.commands.recv(), if commands_open && !paused => match command {
                    Some(command) => {
                        let now = std::time::Instant::now();
                        self.take(command, (!draining).then_some(now), &mut waiting, &outbox);
                        // The others already queued are taken in this turn too (one clock
                        // read and one select for the lot), each frame counted in the queue
                        // before the next is taken, up to the queue's bound.
                        for _ in 1..COMMAND_BATCH {
                            if self.queue.is_full() {
                                break;
                            }
                            let Ok(command) = self.commands.try_recv() else {
                                break;
                            };
                            self.take(command, (!draining).then_some(now), &mut waiting, &outbox);
                        }
                    }
                    None => commands_open = false,
                },
                Some((id, result)) = answers.recv(), if !paused => {
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
                end = &mut write_end, if writer_up => {
                    writer_up = false;
                    if matches!(end, Ok(WriteEnd::TimedOut)) {
                        warn!(
                            account = %account_name(principal.as_ref()),
                            timeout = ?self.config.write_timeout,
                            "btp: write timed out (the peer does not read), closing the connection"
                        );
                        forced = Some(CloseReason::WriteTimeout);
                    }
                    self.session.handle_closed(std::time::Instant::now());
                }
                () = self.queue.room.notified(), if paused => {}
                _ = async { ping.as_mut().expect("guarded").tick().await }, if ping.is_some() => {
                    let interval = keepalive.unwrap_or_default();
                    if paused {
                        // Not reading by choice: silence now says nothing about the peer.
                        last_rx = Instant::now();
                    } else if last_rx.elapsed() > interval * 2 {
                        info!("btp: keepalive timed out");
                        self.session.handle_closed(std::time::Instant::now());
                    } else {
                        outbox.push(Message::Ping(bytes::Bytes::new()));
                    }
                }
            }
        }
        let abort = forced == Some(CloseReason::QueueFull);
        if !abort {
            // The session's last frames (such as the Error refusing authentication).
            while let Some(frame) = self.session.poll_transmit() {
                outbox.push(Message::Binary(frame));
            }
            if let Some(frame) = close_frame {
                outbox.push(Message::Close(Some(frame)));
            }
        }
        drop(outbox);
        if abort {
            // The writer is dropped unpolled, with what it holds.
            self.queue.bytes.store(0, Ordering::Relaxed);
        }
        let reason = forced
            .or_else(|| self.session.close_reason().cloned())
            .unwrap_or(CloseReason::ConnectionLost);
        self.state.send_replace(State::Closed(reason.clone()));
        // Dropping `waiting` and the command queue fails the rest with T01.
        (reason, abort)
    }

    /// Sends one of the embedder's Prepares and queues its frame at once; `now` is `None`
    /// while draining: the Prepare is then refused with `T01`.
    fn take(
        &mut self,
        (prepare, tx): Command,
        now: Option<std::time::Instant>,
        waiting: &mut HashMap<RequestId, oneshot::Sender<IlpResult>>,
        outbox: &Outbox,
    ) {
        let Some(now) = now else {
            let _ = tx.send(Err(reject(
                ErrorCode::T01_PEER_UNREACHABLE,
                &self.session.config().node_address,
                "BTP connection shutting down",
            )));
            return;
        };
        match self.session.send_prepare(prepare, now) {
            Ok(id) => {
                waiting.insert(id, tx);
            }
            Err(reject) => {
                let _ = tx.send(Err(reject));
            }
        }
        while let Some(frame) = self.session.poll_transmit() {
            outbox.push(Message::Binary(frame));
        }
    }

    /// Calls the handler for one of the peer's Prepares. A handler that completes at its first
    /// poll (most Rejects, a local receiver) is answered at once, in this task; one that does
    /// not goes on in its own task, whose answer comes back through `answers`.
    fn call_handler(
        &mut self,
        id: RequestId,
        request: Request,
        answers: &mpsc::UnboundedSender<(RequestId, IlpResult)>,
    ) {
        // The call owns its handler, so that it can move to a task of its own if need be.
        let handler = Arc::clone(&self.handler);
        let call: BoxFuture<'static, IlpResult> =
            Box::pin(async move { handler.handle(request).await });
        let mut call = AssertUnwindSafe(call).catch_unwind();
        let node = &self.session.config().node_address;
        let result = match (&mut call).now_or_never() {
            Some(result) => result.unwrap_or_else(|_| panicked(node)),
            None => {
                let answers = answers.clone();
                let node = node.clone();
                tokio::spawn(
                    async move {
                        let result = call.await.unwrap_or_else(|_| panicked(&node));
                        let _ = answers.send((id, result));
                    }
                    .instrument(self.span.clone()),
                );
                return;
            }
        };
        if let Err(error) = self.session.respond(id, result) {
            debug!(%error, "btp: answer dropped");
        }
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

/// The most loop turns (frames read, commands, answers) between two turns of the writer. 16
/// gave the best overlap of the two ends on an idle machine while each Prepare was spawned;
/// with handlers called inline, fewer flushes (and wake-ups of the peer) win: 64 in flight
/// went from about 90k to 110k-130k round trips per second on the shared machine with 64 or
/// no bound, against 16. 128 is also tokio's cooperative budget per task poll.
const WRITE_BATCH: u32 = 128;

/// The most Prepares to send taken from the command queue in one turn of the loop.
const COMMAND_BATCH: usize = 64;

/// The `T00` Reject answering a Prepare whose handler panicked.
fn panicked(node: &Address) -> IlpResult {
    warn!("btp: packet handler panicked");
    Err(reject(
        ErrorCode::T00_INTERNAL_ERROR,
        node,
        "internal error",
    ))
}

/// How the account is named in the loop's warnings.
fn account_name(principal: Option<&Principal>) -> String {
    principal.map_or_else(
        || "(not authenticated)".to_owned(),
        |p| p.account.to_string(),
    )
}

/// Runs `operation`, allowing it `limit` when it does not complete at its first poll (so a
/// write that completes at once arms no timer).
async fn within<F: Future + Unpin>(
    limit: Duration,
    mut operation: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    if let Some(output) = (&mut operation).now_or_never() {
        return Ok(output);
    }
    tokio::time::timeout(limit, operation).await
}

/// Writes queued messages, feeding all that are ready and flushing once, each write and flush
/// within `write_timeout`; gives their bytes back to `queue` once flushed. Tells the loop
/// through `ended` when it stops before the loop does.
async fn write_loop<K, E>(
    mut sink: K,
    mut rx: mpsc::UnboundedReceiver<Message>,
    queue: Arc<Queue>,
    ended: oneshot::Sender<WriteEnd>,
    write_timeout: Duration,
) where
    K: Sink<Message, Error = E> + Unpin,
    E: fmt::Display,
{
    let end = 'outer: loop {
        // Not `rx.recv()`: its waker is this very task's, so each frame the loop queues while
        // the writer waits would wake the task again from inside its own poll (one more
        // scheduler turn). The writer needs no wake-up: `Loop::run` polls it after every poll
        // of the loop, which is where frames are queued, and awaits it once the loop is over
        // (the queue is then closed, so this ends).
        let next = std::future::poll_fn(|_| match rx.try_recv() {
            Ok(message) => Poll::Ready(Some(message)),
            Err(mpsc::error::TryRecvError::Disconnected) => Poll::Ready(None),
            Err(mpsc::error::TryRecvError::Empty) => Poll::Pending,
        });
        let Some(message) = next.await else {
            break None;
        };
        let mut batch = 0;
        let mut next = Some(message);
        while let Some(message) = next.take() {
            batch += cost(&message);
            match within(write_timeout, sink.feed(message)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    debug!(%error, "btp: WebSocket write failed");
                    break 'outer Some(WriteEnd::Failed);
                }
                Err(_) => break 'outer Some(WriteEnd::TimedOut),
            }
            next = rx.try_recv().ok();
        }
        match within(write_timeout, sink.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                debug!(%error, "btp: WebSocket flush failed");
                break 'outer Some(WriteEnd::Failed);
            }
            Err(_) => break 'outer Some(WriteEnd::TimedOut),
        }
        queue.release(batch);
    };
    // Whatever is still queued is dropped: nothing is counted any more.
    drop(rx);
    queue.bytes.store(0, Ordering::Relaxed);
    queue.room.notify_one();
    match end {
        None => {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
        }
        Some(WriteEnd::Failed) => {
            let _ = ended.send(WriteEnd::Failed);
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
        }
        // The peer does not read: a Close would not get through either. The socket is
        // dropped with the loop.
        Some(WriteEnd::TimedOut) => {
            let _ = ended.send(WriteEnd::TimedOut);
        }
    }
}
