//! What a [`Session`](super::Session) reports: events, request ids, close reasons.

use std::fmt;

use ilp_core::IlpResult;
use ilp_packet::Prepare;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::ProtocolData;

/// A BTP request id: pairs a request (Message, Transfer) with its answer (Response, Error).
///
/// The ids of requests this side sends come from the session's generator; the ids of requests
/// the peer sends are the peer's. The two never mix: [`Session::respond`](super::Session::respond)
/// takes the id of an [`Event::Request`], an [`Event::Response`] carries the id that
/// [`Session::send_prepare`](super::Session::send_prepare) returned.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u32);

impl RequestId {
    /// The id with this wire value.
    #[must_use]
    pub const fn new(id: u32) -> Self {
        Self(id)
    }

    /// The wire value.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for RequestId {
    fn from(id: u32) -> Self {
        Self(id)
    }
}

impl From<RequestId> for u32 {
    fn from(id: RequestId) -> Self {
        id.0
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({:#010x})", self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// The `auth_token` a client presented. `Debug` never shows it and there is no `Display`:
/// read it with [`AuthToken::expose`] only to check it (in constant time). `==` compares in
/// constant time, and the memory is zeroed on drop (with the `zeroize` crate).
///
/// ```
/// # use ilp_btp::AuthToken;
/// let token = AuthToken::new("s3cret");
/// assert_eq!(format!("{token:?}"), "AuthToken(<redacted>)");
/// assert_eq!(token.expose(), "s3cret");
/// assert_eq!(token, AuthToken::new("s3cret"));
/// ```
#[derive(Clone)]
pub struct AuthToken(Zeroizing<String>);

impl AuthToken {
    /// Wraps a token.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(Zeroizing::new(token.into()))
    }

    /// The secret. Compare it in constant time; never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for AuthToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for AuthToken {}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// Why a session closed. Carried by [`Event::Closed`] and [`Session::close_reason`](super::Session::close_reason).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// Authentication did not finish within [`SessionConfig::auth_timeout`](super::SessionConfig::auth_timeout):
    /// on a server, no auth Message came or the embedder did not call
    /// [`accept`](super::Session::accept) or [`reject_auth`](super::Session::reject_auth) in
    /// time; on a client, the server did not answer the auth Message. Remedy: check the
    /// peer's URL and that it speaks BTP 2.0; on a server, answer `AuthRequested` promptly.
    AuthTimeout,
    /// Server: the peer's first frame was not an authentication Message (a Message whose
    /// primary entry is `auth` and which has a UTF-8 `auth_token`). It was answered with an
    /// Error `F00 NotAcceptedError` when it decoded. Remedy: the peer must authenticate first.
    NotAuthenticated,
    /// Authentication was refused. On a server, the reason given to
    /// [`reject_auth`](super::Session::reject_auth) (also sent to the client); on a client,
    /// the `data` of the server's Error, as text. Remedy: check the username and token.
    AuthRejected {
        /// Why, in words. Never contains the token.
        reason: String,
    },
    /// The peer sent [`SessionConfig::max_invalid_frames`](super::SessionConfig::max_invalid_frames)
    /// frames that did not decode or were over [`SessionConfig::max_frame_size`](super::SessionConfig::max_frame_size).
    /// Remedy: the peer is broken or hostile.
    TooManyInvalidFrames,
    /// The embedder reported the connection gone ([`Session::handle_closed`](super::Session::handle_closed)).
    /// Remedy: reconnect (and authenticate again) if this side is the client.
    ConnectionLost,
    /// The embedder closed the session ([`Session::close`](super::Session::close)).
    Local,
    /// A write to the socket did not complete within the write timeout: the peer stopped
    /// reading (or the network stalled) and the socket's buffers are full. Reported by the
    /// `ws` connection loop (its `write_timeout` setting), never by a `Session` itself.
    /// Remedy: nothing on this side (a client reconnects by itself); check the peer.
    WriteTimeout,
    /// The frames waiting to be written grew past twice the connection's outgoing queue bound
    /// while the loop had stopped reading (the peer does not read, and answers kept coming).
    /// Reported by the `ws` connection loop (its `max_queued_bytes` setting), never by a
    /// `Session` itself. Remedy: check the peer; raise the bound if it is set very low.
    QueueFull,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthTimeout => f.write_str("authentication timed out"),
            Self::NotAuthenticated => f.write_str("the first frame was not an auth message"),
            Self::AuthRejected { reason } => write!(f, "authentication refused: {reason}"),
            Self::TooManyInvalidFrames => f.write_str("too many invalid frames"),
            Self::ConnectionLost => f.write_str("connection lost"),
            Self::Local => f.write_str("closed locally"),
            Self::WriteTimeout => f.write_str("write timed out: the peer does not read"),
            Self::QueueFull => f.write_str("outgoing queue full: the peer does not read"),
        }
    }
}

/// Something the embedder must act on or may want to know, from [`Session::poll_event`](super::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server: the client asked to authenticate. Check the credentials (for example with an
    /// `ilp_core::Authenticator`), then call [`Session::accept`](super::Session::accept) or
    /// [`Session::reject_auth`](super::Session::reject_auth).
    AuthRequested {
        /// The request id of the auth Message (the answer goes back under it).
        id: RequestId,
        /// The `auth_username` entry; `None` when it is missing or empty (the JavaScript client
        /// sends an empty one when its URL has no user; interledger-rs sends none).
        username: Option<String>,
        /// The `auth_token` entry.
        token: AuthToken,
    },
    /// Client: the server accepted the auth Message; Prepares queued before now are sent.
    Authenticated,
    /// The peer sent a Prepare. Answer it exactly once with
    /// [`Session::respond`](super::Session::respond); if no answer is given before the
    /// Prepare expires, the session answers `R00` itself and `respond` then fails.
    Request {
        /// The id to answer under.
        id: RequestId,
        /// The Prepare (its bytes are a view of the received frame).
        prepare: Prepare,
    },
    /// The answer to a Prepare sent with [`Session::send_prepare`](super::Session::send_prepare):
    /// the peer's Fulfill or Reject, or a Reject made by this session (`R00` when the Prepare
    /// expired unanswered, `T01` when the session closed first, `T00` when the peer's answer
    /// was unreadable, `T01`/`F00` when the peer answered with a BTP Error). Exactly one per
    /// sent Prepare.
    Response {
        /// The id `send_prepare` returned.
        id: RequestId,
        /// The outcome.
        result: IlpResult,
    },
    /// The peer sent a Message without an `ilp` entry (for example a settlement subprotocol
    /// such as `paychan`). The session has already answered it with an empty Response, as
    /// ilp-plugin-btp does; this event is for the embedder to act on the entries.
    Message {
        /// The Message's request id.
        id: RequestId,
        /// All its entries.
        protocol_data: ProtocolData,
    },
    /// The peer sent a Transfer. The session has already answered it with an empty Response
    /// (an acknowledgement of receipt); what the amount means is agreed out of band.
    Transfer {
        /// The Transfer's request id.
        id: RequestId,
        /// The amount, in units agreed out of band.
        amount: u64,
        /// Its entries.
        protocol_data: ProtocolData,
    },
    /// The session closed; it reports nothing after this. Write out what
    /// [`Session::poll_transmit`](super::Session::poll_transmit) still has, then close the
    /// WebSocket.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}
