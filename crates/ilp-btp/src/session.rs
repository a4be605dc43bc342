//! The sans-IO BTP session: authentication, ILP over BTP, request ids, deadlines and limits.
//!
//! See [`Session`] for the rules it follows.

mod config;
mod event;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use ilp_core::{reject, IlpResult, Principal};
use ilp_packet::{ErrorCode as IlpErrorCode, Packet, Prepare, Reject, Timestamp};
use tracing::debug;

pub use config::SessionConfig;
pub use event::{AuthToken, CloseReason, Event, RequestId};

use crate::{Body, Frame, FrameType, MAX_FRAME_LEN};

/// Misuse of a [`Session`] by the embedder (never the peer's fault; the peer's faults are
/// handled inside the session and show as [`Event`]s or [`CloseReason`]s).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// [`Session::respond`] named a request that is not waiting for an answer: never
    /// received, answered already, or answered by the session itself (it expired). Remedy:
    /// answer each [`Event::Request`] once, before its Prepare expires.
    #[error("request {0} is not waiting for an answer")]
    UnknownRequest(RequestId),
    /// [`Session::accept`] or [`Session::reject_auth`] was called when no
    /// [`Event::AuthRequested`] is waiting for an answer (a client session, or one already
    /// answered). Remedy: call one of them once per `AuthRequested`.
    #[error("no authentication is waiting for an answer")]
    NoPendingAuth,
    /// The session is closed. Remedy: start a new connection and session.
    #[error("the session is closed")]
    Closed,
    /// The client's username and token do not fit in one frame ([`MAX_FRAME_LEN`]).
    #[error("the credentials do not fit in a BTP frame")]
    CredentialsTooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Client: the auth Message went out under this id; waiting for its answer.
    ClientWaiting(u32),
    /// Server: waiting for the first frame.
    ServerWaitingFrame,
    /// Server: [`Event::AuthRequested`] was reported for this id; waiting for the embedder.
    ServerPending(u32),
    /// ILP flows.
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    /// A Prepare we sent.
    Outgoing,
    /// A Prepare the peer sent.
    Incoming,
}

#[derive(Debug)]
struct Outgoing {
    deadline: Option<Instant>,
    /// The frame, while authentication has not completed.
    unsent: Option<Bytes>,
}

/// SplitMix64: a tiny, fast generator; seeded once, so no system call per request id.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn seeded(seed: Option<u64>) -> Self {
        Self(seed.unwrap_or_else(|| {
            getrandom::u64().unwrap_or_else(|_| {
                use std::hash::{BuildHasher, Hasher};
                // Randomly keyed by std from the OS; good enough for request ids.
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
            })
        }))
    }

    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 32) as u32
    }
}

/// One BTP connection's state, client or server side, without I/O.
///
/// A [`Session`] has no socket and reads no monotonic clock: the embedder feeds it each binary
/// WebSocket message ([`Session::handle_frame`]), the time ([`Session::handle_timeout`] at
/// [`Session::poll_timeout`]) and the end of the connection ([`Session::handle_closed`]), and
/// takes out frames to write ([`Session::poll_transmit`]) and [`Event`]s to act on
/// ([`Session::poll_event`]). The verbs are quinn's: `handle_*` is input, `poll_*` is output.
///
/// # Decisions
///
/// - **Time.** Every `Instant` comes from the embedder. A Prepare's `expiresAt` is wall-clock
///   time, so turning it into a deadline needs the wall clock once, when the Prepare is sent or
///   received: the session reads [`SessionConfig::clock`] (default `ilp_core::SystemClock`;
///   tests inject `ilp_core::ManualClock`) and sets `deadline = now + (expiresAt - wall_now)`.
///   That clock also stamps the `triggeredAt` of the Error frames the session makes.
/// - **Deadlines both ways.** A sent Prepare unanswered at its expiry gets an `R00` Reject as
///   its [`Event::Response`]; a late answer is then ignored. A received Prepare the embedder
///   has not answered by its expiry is answered `R00` by the session (so a stuck handler cannot
///   hold a slot forever), and a later [`Session::respond`] fails with
///   [`SessionError::UnknownRequest`].
/// - **Authentication first.** A server processes nothing before [`Session::accept`]: the first
///   frame must be the auth Message; frames after it and before the embedder's answer are
///   dropped. Prepares either side sends before authentication completes are held (their
///   deadlines run) and go out when it does. A client likewise holds what the server sends
///   before it answers the auth Message (Prepares, Messages, Transfers): they are reported
///   after [`Event::Authenticated`], in order, and a held Prepare that expires first is
///   answered `R00` and never reported.
/// - **Request ids** come from a SplitMix64 generator seeded once per session
///   ([`SessionConfig::rng_seed`], or the OS through `getrandom`), skipping ids in flight.
/// - **Other subprotocols.** A Message without an `ilp` entry is answered at once with an empty
///   Response (as ilp-plugin-btp does) and surfaced as [`Event::Message`]; a Transfer likewise
///   as [`Event::Transfer`]. There is no API to answer them differently.
/// - **Peer misbehaviour.** Responses and Errors with an unknown or already answered request id
///   get no reply (RFC 0023). Undecodable or oversized frames get no reply and are counted
///   ([`SessionConfig::max_invalid_frames`]). A Message whose `ilp` entry does not decode is
///   answered with an `F01` Reject; a reply to our Prepare that does not decode, or that has no
///   `ilp` entry, resolves it with `T00`. A request reusing the id of one of the peer's
///   requests still in flight is dropped. A BTP Error answering our Prepare becomes a Reject:
///   `T01` for a temporary (`T..`) BTP code, `F00` otherwise.
/// - **Closing** drops frames not yet taken by [`Session::poll_transmit`], except the final
///   Error the close itself queues, so a Prepare reported failed (`T01`) is never sent later.
///
/// # Example
///
/// ```
/// use std::time::{Duration, Instant};
/// use ilp_btp::{Event, Session, SessionConfig};
/// use ilp_core::Principal;
/// use ilp_packet::{Address, Condition, PrepareBuilder, Timestamp};
///
/// let now = Instant::now();
/// let mut client = Session::client(SessionConfig::default(), "alice", "s3cret", now)?;
/// let mut server = Session::server(SessionConfig::default(), now);
///
/// // The embedder moves frames between the two (over a WebSocket, in real life).
/// let auth = client.poll_transmit().expect("the auth message");
/// server.handle_frame(auth, now);
/// let Some(Event::AuthRequested { token, .. }) = server.poll_event() else { panic!() };
/// assert_eq!(token.expose(), "s3cret");
/// server.accept(Principal::account("alice".parse()?))?;
/// client.handle_frame(server.poll_transmit().expect("the auth response"), now);
/// assert_eq!(client.poll_event(), Some(Event::Authenticated));
///
/// let prepare = PrepareBuilder {
///     amount: 10,
///     expires_at: Timestamp::now().checked_add(Duration::from_secs(30)).unwrap(),
///     execution_condition: Condition::from_bytes([7; 32]),
///     destination: &Address::from_static("g.bob"),
///     data: b"",
/// }
/// .build()?;
/// let id = client.send_prepare(prepare, now).expect("room in flight");
/// server.handle_frame(client.poll_transmit().expect("the prepare"), now);
/// let Some(Event::Request { id: theirs, .. }) = server.poll_event() else { panic!() };
/// let reject = ilp_core::reject(ilp_packet::ErrorCode::F02_UNREACHABLE, &"g.server".parse()?, "no route");
/// server.respond(theirs, Err(reject))?;
/// client.handle_frame(server.poll_transmit().expect("the reply"), now);
/// let Some(Event::Response { id: answered, result }) = client.poll_event() else { panic!() };
/// assert_eq!((answered, result.unwrap_err().message()), (id, "no route"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Driving
///
/// Drive it like this (the `ws::drive` loop does): after every input, write out every
/// [`poll_transmit`](Self::poll_transmit) frame as a binary WebSocket message, act on every
/// [`poll_event`](Self::poll_event), and arm a timer for [`poll_timeout`](Self::poll_timeout)
/// that calls [`handle_timeout`](Self::handle_timeout).
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    auth: Auth,
    auth_deadline: Option<Instant>,
    principal: Option<Principal>,
    rng: Rng,
    /// Our Prepares waiting for an answer, by request id.
    outgoing: HashMap<u32, Outgoing>,
    /// Ids of our Prepares held until authentication completes, in send order.
    unsent: VecDeque<u32>,
    /// Client: what the server sent before its answer to our auth Message (Prepares,
    /// Messages, Transfers), reported after [`Event::Authenticated`].
    held: VecDeque<Event>,
    /// The peer's Prepares waiting for the embedder's answer, with their deadlines.
    incoming: HashMap<u32, Option<Instant>>,
    deadlines: BTreeSet<(Instant, Direction, u32)>,
    transmits: VecDeque<Bytes>,
    events: VecDeque<Event>,
    invalid_frames: u32,
    close_reason: Option<CloseReason>,
}

impl Session {
    /// A client session. Queues the auth Message as ilp-plugin-btp sends it (`auth`,
    /// `auth_username`, `auth_token`); the answer is [`Event::Authenticated`] or
    /// [`Event::Closed`]. Fails only with [`SessionError::CredentialsTooLong`].
    pub fn client(
        config: SessionConfig,
        username: &str,
        token: &str,
        now: Instant,
    ) -> Result<Self, SessionError> {
        let mut session = Self::new(config, Auth::Ready, now);
        let id = session.next_id();
        let frame =
            Frame::auth(id, username, token).map_err(|_| SessionError::CredentialsTooLong)?;
        session.auth = Auth::ClientWaiting(id);
        session.transmits.push_back(frame.into_bytes());
        debug!(id, username, "btp client: auth message queued");
        Ok(session)
    }

    /// A server session, waiting for the client's auth Message.
    #[must_use]
    pub fn server(config: SessionConfig, now: Instant) -> Self {
        Self::new(config, Auth::ServerWaitingFrame, now)
    }

    fn new(config: SessionConfig, auth: Auth, now: Instant) -> Self {
        Self {
            auth_deadline: now.checked_add(config.auth_timeout),
            rng: Rng::seeded(config.rng_seed),
            config,
            auth,
            principal: None,
            outgoing: HashMap::new(),
            unsent: VecDeque::new(),
            held: VecDeque::new(),
            incoming: HashMap::new(),
            deadlines: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            invalid_frames: 0,
            close_reason: None,
        }
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether authentication has completed (ILP flows).
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.auth == Auth::Ready && !self.is_closed()
    }

    /// Server: the principal given to [`accept`](Self::accept).
    #[must_use]
    pub const fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Whether the session has closed (it then takes no input; drain
    /// [`poll_transmit`](Self::poll_transmit) and close the socket).
    #[must_use]
    pub const fn is_closed(&self) -> bool {
        self.close_reason.is_some()
    }

    /// Why the session closed, once it has.
    #[must_use]
    pub const fn close_reason(&self) -> Option<&CloseReason> {
        self.close_reason.as_ref()
    }

    /// How many of our Prepares are waiting for an answer.
    #[must_use]
    pub fn outgoing_in_flight(&self) -> usize {
        self.outgoing.len()
    }

    /// How many of the peer's Prepares are waiting for the embedder's answer.
    #[must_use]
    pub fn incoming_in_flight(&self) -> usize {
        self.incoming.len()
    }

    // ---------------------------------------------------------------------------------------
    // Input

    /// Handles one binary WebSocket message. Never fails: whatever the peer sends is handled
    /// as the [type docs](Session) say. Ignored once the session is closed.
    pub fn handle_frame(&mut self, bytes: Bytes, now: Instant) {
        if self.is_closed() {
            return;
        }
        let max = self.config.max_frame_size.min(MAX_FRAME_LEN);
        if bytes.len() > max {
            debug!(len = bytes.len(), max, "btp: frame too large, dropped");
            self.invalid_frame();
            return;
        }
        let frame = match Frame::decode(bytes) {
            Ok(frame) => frame,
            Err(error) => {
                debug!(%error, "btp: undecodable frame, dropped");
                self.invalid_frame();
                return;
            }
        };
        match self.auth {
            Auth::ServerWaitingFrame => self.handle_auth_frame(&frame),
            Auth::ServerPending(_) => {
                debug!(
                    id = frame.request_id(),
                    "btp server: frame before authentication completed, dropped"
                );
            }
            Auth::ClientWaiting(_) | Auth::Ready => self.handle_ready_frame(frame, now),
        }
    }

    /// Reports that the connection is gone: every Prepare in flight fails at once with `T01`,
    /// then [`Event::Closed`] with [`CloseReason::ConnectionLost`]. A no-op once closed.
    pub fn handle_closed(&mut self, now: Instant) {
        let _ = now;
        self.close_with(CloseReason::ConnectionLost, None);
    }

    /// Closes the session from this side (as [`handle_closed`](Self::handle_closed), with
    /// [`CloseReason::Local`]). A no-op once closed.
    pub fn close(&mut self) {
        self.close_with(CloseReason::Local, None);
    }

    /// Handles the passing of time: authentication timeout, expired Prepares. Call it at
    /// [`poll_timeout`](Self::poll_timeout) (calling it early or late is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if self.auth_deadline.is_some_and(|d| d <= now) {
            debug!("btp: authentication timed out");
            self.close_with(CloseReason::AuthTimeout, None);
            return;
        }
        while let Some(&first) = self.deadlines.first() {
            let (deadline, direction, id) = first;
            if deadline > now {
                break;
            }
            self.deadlines.remove(&first);
            match direction {
                Direction::Outgoing => {
                    if self.outgoing.remove(&id).is_some() {
                        debug!(id, "btp: our prepare expired unanswered");
                        let reject = self.reject(
                            IlpErrorCode::R00_TRANSFER_TIMED_OUT,
                            "prepare expired before the peer answered",
                        );
                        self.push_response(id, Err(reject));
                    }
                }
                Direction::Incoming => {
                    if self.incoming.remove(&id).is_some() {
                        self.held.retain(
                            |e| !matches!(e, Event::Request { id: held, .. } if held.get() == id),
                        );
                        debug!(
                            id,
                            "btp: peer's prepare expired before the embedder answered"
                        );
                        let reject = self.reject(
                            IlpErrorCode::R00_TRANSFER_TIMED_OUT,
                            "prepare expired before it was answered",
                        );
                        self.transmit_reply(id, Err(&reject));
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Commands

    /// Sends a Prepare (in a Message's `ilp` entry; its bytes are copied into the frame, not
    /// encoded again). Its answer comes as an [`Event::Response`] with the returned id:
    /// the peer's, or `R00` at its expiry, or `T01` if the session closes first. A Prepare
    /// already expired is not sent and gets its `R00` at once. Before authentication completes
    /// it is held and sent when it does.
    ///
    /// Returns a Reject instead, and sends nothing, when [`SessionConfig::max_in_flight`] of
    /// ours are in flight (`T03`), when the session is closed (`T01`), or when the Prepare does
    /// not fit in a frame (`F00`).
    pub fn send_prepare(&mut self, prepare: Prepare, now: Instant) -> Result<RequestId, Reject> {
        if self.is_closed() {
            return Err(self.reject(IlpErrorCode::T01_PEER_UNREACHABLE, "BTP session closed"));
        }
        if self.outgoing.len() >= self.config.max_in_flight {
            debug!(
                max = self.config.max_in_flight,
                "btp: too many prepares in flight, refused"
            );
            return Err(self.reject(
                IlpErrorCode::T03_CONNECTOR_BUSY,
                "too many prepares in flight to this peer",
            ));
        }
        let id = self.next_id();
        let Ok(frame) = Frame::ilp_message(id, &prepare) else {
            return Err(self.reject(
                IlpErrorCode::F00_BAD_REQUEST,
                "prepare too large for a BTP frame",
            ));
        };
        let wall = self.config.clock.now();
        if prepare.expires_at() <= wall {
            debug!(id, "btp: prepare already expired, not sent");
            let reject = self.reject(
                IlpErrorCode::R00_TRANSFER_TIMED_OUT,
                "prepare expired before it was sent",
            );
            self.push_response(id, Err(reject));
            return Ok(RequestId::new(id));
        }
        let deadline = deadline(prepare.expires_at(), wall, now);
        if let Some(d) = deadline {
            self.deadlines.insert((d, Direction::Outgoing, id));
        }
        let bytes = frame.into_bytes();
        let unsent = if self.auth == Auth::Ready {
            self.transmits.push_back(bytes);
            None
        } else {
            self.unsent.push_back(id);
            Some(bytes)
        };
        self.outgoing.insert(id, Outgoing { deadline, unsent });
        debug!(id, amount = prepare.amount(), "btp: prepare sent");
        Ok(RequestId::new(id))
    }

    /// Answers the peer's Prepare ([`Event::Request`]) with a Fulfill or Reject, in a Response
    /// with the same request id (the packet's bytes are copied into the frame, not encoded
    /// again). Fails when that request is not waiting for an answer, or the session is closed.
    pub fn respond(&mut self, id: RequestId, result: IlpResult) -> Result<(), SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        let Some(deadline) = self.incoming.remove(&id.get()) else {
            return Err(SessionError::UnknownRequest(id));
        };
        if let Some(d) = deadline {
            self.deadlines.remove(&(d, Direction::Incoming, id.get()));
        }
        debug!(id = id.get(), fulfilled = result.is_ok(), "btp: answered");
        self.transmit_reply(id.get(), result.as_ref());
        Ok(())
    }

    /// Server: accepts the client's credentials ([`Event::AuthRequested`]). Sends the empty
    /// Response under the auth Message's id; from now on ILP flows, starting with the Prepares
    /// held so far.
    pub fn accept(&mut self, principal: Principal) -> Result<(), SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        let Auth::ServerPending(id) = self.auth else {
            return Err(SessionError::NoPendingAuth);
        };
        debug!(id, account = %principal.account, "btp server: authenticated");
        self.principal = Some(principal);
        self.transmits
            .push_back(Frame::empty_response(id).into_bytes());
        self.authenticated();
        Ok(())
    }

    /// Server: refuses the client's credentials ([`Event::AuthRequested`]). Sends an Error
    /// `F00 NotAcceptedError` with `reason` as its data under the auth Message's id, then
    /// closes ([`CloseReason::AuthRejected`]). Never put a secret in `reason`: the peer sees it.
    pub fn reject_auth(&mut self, reason: &str) -> Result<(), SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        let Auth::ServerPending(id) = self.auth else {
            return Err(SessionError::NoPendingAuth);
        };
        debug!(id, reason, "btp server: authentication refused");
        let error = Frame::not_accepted(id, reason, self.config.clock.now());
        self.close_with(
            CloseReason::AuthRejected {
                reason: reason.to_owned(),
            },
            Some(error.into_bytes()),
        );
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Output

    /// The next frame to write, as one binary WebSocket message.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next: the authentication
    /// deadline or the earliest Prepare deadline. `None` when nothing is waiting or the
    /// session is closed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let first = self.deadlines.first().map(|&(d, _, _)| d);
        match (self.auth_deadline, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Internals

    fn next_id(&mut self) -> u32 {
        loop {
            let id = self.rng.next_u32();
            let auth_id = matches!(self.auth, Auth::ClientWaiting(a) if a == id);
            if !auth_id && !self.outgoing.contains_key(&id) {
                return id;
            }
        }
    }

    fn reject(&self, code: IlpErrorCode, message: &str) -> Reject {
        reject(code, &self.config.node_address, message)
    }

    fn push_response(&mut self, id: u32, result: IlpResult) {
        self.events.push_back(Event::Response {
            id: RequestId::new(id),
            result,
        });
    }

    /// Queues `Response{ilp: reply}`; a reply too large for a frame becomes a `T00` Reject.
    fn transmit_reply(&mut self, id: u32, reply: Result<&ilp_packet::Fulfill, &Reject>) {
        let frame = Frame::ilp_response(id, reply).unwrap_or_else(|_| {
            let reject = self.reject(
                IlpErrorCode::T00_INTERNAL_ERROR,
                "reply too large for a BTP frame",
            );
            Frame::ilp_response(id, Err(&reject)).expect("a short Reject fits in a frame")
        });
        self.transmits.push_back(frame.into_bytes());
    }

    fn invalid_frame(&mut self) {
        self.invalid_frames = self.invalid_frames.saturating_add(1);
        if self.auth == Auth::ServerWaitingFrame {
            self.close_with(CloseReason::NotAuthenticated, None);
        } else if self.invalid_frames >= self.config.max_invalid_frames.max(1) {
            self.close_with(CloseReason::TooManyInvalidFrames, None);
        }
    }

    fn handle_auth_frame(&mut self, frame: &Frame) {
        let id = frame.request_id();
        let Some(token) = frame.auth_token() else {
            debug!(
                id,
                "btp server: first frame is not an auth message, refused"
            );
            let error = Frame::not_accepted(
                id,
                "the first BTP message must be an auth message",
                self.config.clock.now(),
            );
            self.close_with(CloseReason::NotAuthenticated, Some(error.into_bytes()));
            return;
        };
        let username = frame
            .auth_username()
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        debug!(
            id,
            username = username.as_deref(),
            "btp server: auth requested"
        );
        self.auth = Auth::ServerPending(id);
        self.events.push_back(Event::AuthRequested {
            id: RequestId::new(id),
            username,
            token: AuthToken::new(token),
        });
    }

    /// Reports a Request, Message or Transfer from the peer; a client holds it until the
    /// server has accepted its auth Message (a Prepare counts in flight while held, and is
    /// answered `R00` if it expires first; other requests beyond
    /// [`SessionConfig::max_in_flight`] held are dropped, already answered).
    fn report(&mut self, event: Event) {
        if !matches!(self.auth, Auth::ClientWaiting(_)) {
            self.events.push_back(event);
        } else if matches!(event, Event::Request { .. })
            || self.held.len() < self.config.max_in_flight
        {
            debug!("btp client: request before the auth response, held");
            self.held.push_back(event);
        } else {
            debug!("btp client: too many requests before the auth response, dropped");
        }
    }

    fn authenticated(&mut self) {
        self.auth = Auth::Ready;
        self.auth_deadline = None;
        while let Some(id) = self.unsent.pop_front() {
            if let Some(bytes) = self.outgoing.get_mut(&id).and_then(|o| o.unsent.take()) {
                self.transmits.push_back(bytes);
            }
        }
    }

    fn handle_ready_frame(&mut self, frame: Frame, now: Instant) {
        let id = frame.request_id();
        if let Auth::ClientWaiting(auth_id) = self.auth {
            if id == auth_id {
                match frame.body() {
                    Body::Response(_) => {
                        debug!(id, held = self.held.len(), "btp client: authenticated");
                        self.authenticated();
                        self.events.push_back(Event::Authenticated);
                        self.events.append(&mut self.held);
                        return;
                    }
                    Body::Error(error) => {
                        let reason = String::from_utf8_lossy(error.data()).into_owned();
                        debug!(id, code = %error.code(), "btp client: authentication refused");
                        self.close_with(CloseReason::AuthRejected { reason }, None);
                        return;
                    }
                    // A request reusing our auth id: handled below as any request.
                    Body::Message(_) | Body::Transfer { .. } => {}
                }
            }
        }
        match frame.body() {
            Body::Response(_) | Body::Message(_) => self.handle_ilp(&frame, now),
            Body::Error(error) => {
                if !self.outgoing.contains_key(&id) {
                    debug!(id, "btp: error for an unknown request id, ignored");
                    return;
                }
                let (code, what) = if error.code().as_bytes()[0] == b'T' {
                    (IlpErrorCode::T01_PEER_UNREACHABLE, "temporary")
                } else {
                    (IlpErrorCode::F00_BAD_REQUEST, "final")
                };
                let message = format!(
                    "peer answered with BTP error {} {} ({what})",
                    error.code(),
                    error.name()
                );
                let reject = self.reject(code, &message);
                self.resolve(id, Err(reject));
            }
            Body::Transfer {
                amount,
                protocol_data,
            } => {
                debug!(id, amount, "btp: transfer received");
                self.report(Event::Transfer {
                    id: RequestId::new(id),
                    amount: *amount,
                    protocol_data: protocol_data.clone(),
                });
                self.transmits
                    .push_back(Frame::empty_response(id).into_bytes());
            }
        }
    }

    /// A Response or Message (either may carry ILP, in the RFC or the interledger-rs form).
    fn handle_ilp(&mut self, frame: &Frame, now: Instant) {
        let id = frame.request_id();
        let is_message = frame.frame_type() == FrameType::Message;
        let Some(ilp) = frame.ilp() else {
            if is_message {
                debug!(id, "btp: message without ilp entry, answered empty");
                self.report(Event::Message {
                    id: RequestId::new(id),
                    protocol_data: frame.protocol_data().clone(),
                });
                self.transmits
                    .push_back(Frame::empty_response(id).into_bytes());
            } else if self.outgoing.contains_key(&id) {
                let reject = self.reject(
                    IlpErrorCode::T00_INTERNAL_ERROR,
                    "peer answered without an ILP packet",
                );
                self.resolve(id, Err(reject));
            } else {
                debug!(id, "btp: response for an unknown request id, ignored");
            }
            return;
        };
        let inverted_ok = self.config.accept_inverted;
        match (is_message, Packet::decode(ilp.clone())) {
            (true, Ok(Packet::Prepare(prepare))) => self.incoming_prepare(id, prepare, now),
            (false, Ok(Packet::Prepare(prepare))) if inverted_ok => {
                self.incoming_prepare(id, prepare, now);
            }
            (false, Ok(Packet::Fulfill(f))) => self.resolve_if_ours(id, Ok(f)),
            (false, Ok(Packet::Reject(r))) => self.resolve_if_ours(id, Err(r)),
            (true, Ok(Packet::Fulfill(f))) if inverted_ok => self.resolve_if_ours(id, Ok(f)),
            (true, Ok(Packet::Reject(r))) if inverted_ok => self.resolve_if_ours(id, Err(r)),
            (false, Ok(Packet::Prepare(_))) => {
                debug!(
                    id,
                    "btp: prepare in a response (inverted form refused), ignored"
                );
            }
            (true, Ok(_)) => {
                debug!(id, "btp: reply in a message (inverted form refused)");
                let error = Frame::not_accepted(
                    id,
                    "an ILP reply must come in a BTP Response",
                    self.config.clock.now(),
                );
                self.transmits.push_back(error.into_bytes());
            }
            (true, Err(error)) => {
                debug!(id, %error, "btp: undecodable ILP packet in a message");
                let reject = self.reject(
                    IlpErrorCode::F01_INVALID_PACKET,
                    &format!("invalid ILP packet: {error}"),
                );
                self.transmit_reply(id, Err(&reject));
            }
            (false, Err(error)) => {
                if self.outgoing.contains_key(&id) {
                    debug!(id, %error, "btp: undecodable ILP reply");
                    let reject = self.reject(
                        IlpErrorCode::T00_INTERNAL_ERROR,
                        &format!("peer answered with an invalid ILP packet: {error}"),
                    );
                    self.resolve(id, Err(reject));
                } else {
                    debug!(id, "btp: response for an unknown request id, ignored");
                }
            }
        }
    }

    fn incoming_prepare(&mut self, id: u32, prepare: Prepare, now: Instant) {
        if self.incoming.contains_key(&id) {
            debug!(
                id,
                "btp: peer reused the id of a request in flight, dropped"
            );
            return;
        }
        if self.incoming.len() >= self.config.max_in_flight {
            debug!(
                id,
                max = self.config.max_in_flight,
                "btp: too many incoming prepares in flight, rejected T05"
            );
            let reject = self.reject(
                IlpErrorCode::T05_RATE_LIMITED,
                "too many prepares in flight from this peer",
            );
            self.transmit_reply(id, Err(&reject));
            return;
        }
        let deadline = deadline(prepare.expires_at(), self.config.clock.now(), now);
        if let Some(d) = deadline {
            self.deadlines.insert((d, Direction::Incoming, id));
        }
        self.incoming.insert(id, deadline);
        debug!(id, amount = prepare.amount(), "btp: prepare received");
        self.report(Event::Request {
            id: RequestId::new(id),
            prepare,
        });
    }

    fn resolve_if_ours(&mut self, id: u32, result: IlpResult) {
        if self.outgoing.contains_key(&id) {
            self.resolve(id, result);
        } else {
            debug!(id, "btp: reply for an unknown request id, ignored");
        }
    }

    fn resolve(&mut self, id: u32, result: IlpResult) {
        let Some(out) = self.outgoing.remove(&id) else {
            return;
        };
        if let Some(d) = out.deadline {
            self.deadlines.remove(&(d, Direction::Outgoing, id));
        }
        debug!(id, fulfilled = result.is_ok(), "btp: our prepare answered");
        self.push_response(id, result);
    }

    fn close_with(&mut self, reason: CloseReason, last: Option<Bytes>) {
        if self.is_closed() {
            return;
        }
        debug!(%reason, in_flight = self.outgoing.len(), "btp: session closed");
        self.transmits.clear();
        self.transmits.extend(last);
        let mut ids: Vec<u32> = self.outgoing.drain().map(|(id, _)| id).collect();
        ids.sort_unstable();
        for id in ids {
            let reject = self.reject(
                IlpErrorCode::T01_PEER_UNREACHABLE,
                "BTP connection closed before the peer answered",
            );
            self.push_response(id, Err(reject));
        }
        self.unsent.clear();
        self.held.clear();
        self.incoming.clear();
        self.deadlines.clear();
        self.auth_deadline = None;
        self.events.push_back(Event::Closed {
            reason: reason.clone(),
        });
        self.close_reason = Some(reason);
    }
}

/// `now + (expires_at - wall_now)`; `None` past what an `Instant` can hold.
fn deadline(expires_at: Timestamp, wall_now: Timestamp, now: Instant) -> Option<Instant> {
    now.checked_add(expires_at.saturating_duration_since(wall_now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_per_seed_and_spread() {
        let mut a = Rng::seeded(Some(7));
        let mut b = Rng::seeded(Some(7));
        let xs: Vec<u32> = (0..100).map(|_| a.next_u32()).collect();
        let ys: Vec<u32> = (0..100).map(|_| b.next_u32()).collect();
        assert_eq!(xs, ys);
        let distinct: std::collections::HashSet<_> = xs.iter().collect();
        assert_eq!(distinct.len(), 100);
        assert_ne!(Rng::seeded(Some(8)).next_u32(), xs[0]);
    }

    #[test]
    fn next_id_skips_ids_in_flight() {
        let now = Instant::now();
        let mut s = Session::server(SessionConfig::default().with_rng_seed(42), now);
        let mut peek = s.rng.clone();
        let (first, second) = (peek.next_u32(), peek.next_u32());
        s.outgoing.insert(
            first,
            Outgoing {
                deadline: None,
                unsent: None,
            },
        );
        assert_eq!(s.next_id(), second);
    }

    #[test]
    fn deadline_is_now_plus_time_left() {
        let now = Instant::now();
        let wall: Timestamp = "2030-01-01T00:00:00.000Z".parse().unwrap();
        let exp: Timestamp = "2030-01-01T00:00:02.500Z".parse().unwrap();
        assert_eq!(
            deadline(exp, wall, now),
            Some(now + std::time::Duration::from_millis(2500))
        );
        assert_eq!(deadline(wall, exp, now), Some(now));
    }
}
