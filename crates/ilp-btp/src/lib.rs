//! The Bilateral Transfer Protocol 2.0 ([RFC 0023]): frame codec and sans-IO session.
//!
//! BTP carries ILP packets (and authentication, settlement messages and transfers) between two
//! peers over a WebSocket, one [`Frame`] per binary message. [`Frame`] reads and writes those
//! frames (strict, zero-copy, never panics on any input); [`Session`] is the protocol state
//! machine of one connection, client or server, with no sockets and no clock of its own: feed
//! it frames and time, and take frames to write and events out. No `unsafe` code.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use ilp_btp::{Frame, FrameType};
//! use ilp_packet::{Address, Condition, Packet, PrepareBuilder};
//!
//! // A client authenticates as ilp-plugin-btp does ...
//! let auth = Frame::auth(1, "alice", "s3cret")?;
//! let received = Frame::decode(auth.to_bytes())?;
//! assert_eq!(received.auth_token(), Some("s3cret"));
//! assert_eq!(received.auth_username(), Some("alice"));
//!
//! // ... then sends a Prepare in the `ilp` entry of a Message.
//! let prepare = PrepareBuilder {
//!     amount: 10,
//!     expires_at: "2030-01-01T00:00:30.000Z".parse()?,
//!     execution_condition: Condition::from_bytes([7; 32]),
//!     destination: &Address::from_static("g.bob"),
//!     data: b"",
//! }
//! .build()?;
//! let wire: Bytes = Frame::ilp_message(2, &prepare)?.to_bytes();
//!
//! let frame = Frame::decode(wire)?;
//! assert_eq!((frame.frame_type(), frame.request_id()), (FrameType::Message, 2));
//! let packet = Packet::decode(frame.ilp().expect("an ilp entry").clone())?; // no copy
//! assert_eq!(packet, Packet::Prepare(prepare));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Decisions
//!
//! - **Types**: Response (1), Error (2), Message (6) and Transfer (7) are read and written.
//!   The BTP 1.0 types 3, 4 and 5 are refused with [`DecodeError::LegacyFrameType`], any other
//!   type with [`DecodeError::UnknownFrameType`].
//! - **Canonical OER**, through [`ilp_packet::oer`]: non-minimal lengths and VarUInts (such as
//!   a ProtocolData count `02 00 01`, which both references accept) are refused.
//! - **Extra bytes** after the ProtocolData (inside the envelope) and after the envelope are
//!   accepted and kept, so [`Frame::to_bytes`] of a decoded frame is its input (RFC 0030 says
//!   receivers MUST ignore them; the JavaScript reference does; interledger-rs refuses them).
//! - **Size**: frames over [`MAX_FRAME_LEN`] (64 KiB, room for the largest ILP packet) are
//!   refused unread, and never built. The ProtocolData count is not trusted for allocation.
//!   An Error's `data` is bounded by [`MAX_ERROR_DATA_LEN`] (8192, from the ASN.1).
//! - **IA5 fields** (protocol names, the Error's code and name) must be ASCII. Entry data and
//!   the Error's data are bytes, never checked; [`ContentType`] values outside 0-2 round-trip.
//! - **`triggeredAt`** (GeneralizedTime) is read in every form RFC 0030 allows,
//!   `YYYYMMDDHHmmss[.f{1,3}]Z` (0 to 3 fraction digits; trailing zeros such as `.200Z` and
//!   `.20Z` are accepted too, since the JavaScript reference always writes them), with every
//!   field range-checked by hand (month 13, February 30 and hour 24 are refused). A leap second
//!   (`60`) is accepted at 23:59 only, and read as the first second of the next day, since
//!   [`ilp_packet::Timestamp`] has no second 60. It is always written `YYYYMMDDHHmmss.fffZ`:
//!   the only form the JavaScript reference can read (RFC 0030 would drop trailing zeros), and
//!   interledger-rs reads it too. A frame rebuilt from a decoded one's fields therefore writes
//!   `…32Z`, `…32.2Z` or a leap second in that form; the decoded frame's own bytes are unchanged.
//! - **ILP over BTP**: [`Frame::ilp`] finds the `ilp` entry by name in any frame type (so
//!   interledger-rs, which swaps Message and Response, can be read); the builders put a Prepare
//!   in a Message and a Fulfill or Reject in a Response, as RFC 0023 says.
//!
//! # Features
//!
//! - `tokio` (default): [`ws`], the WebSocket adapters on tokio and tokio-tungstenite: a
//!   [`ws::BtpServer`] (accounts from the URL path or `auth_username`, checked by an
//!   `ilp_core::Authenticator`; a second connection for an account replaces the first), a
//!   [`ws::BtpClient`] (`btp+ws://user:token@host:port/path`, reconnects with backoff,
//!   re-authenticating), and the connection loop [`ws::drive`] they share. URLs are checked
//!   strictly ([`ws::BtpUrl`]: a bad scheme, host or port is refused, never replaced by a
//!   default), and tokens in URLs and in [`AuthToken`]s are zeroed on drop (`zeroize`),
//!   compared in constant time, and never printed by `Debug`.
//! - `axum` (off by default; implies `tokio`): `ws::BtpService`, a `tower::Service` that
//!   serves BTP on a route of an axum (or hyper) application, on the same port as the
//!   application's own routes and ILP-over-HTTP (`ilp_http::IlpHttpService`); see the
//!   `ilp-one-port` example. `ws::BtpService::serve_upgraded` runs BTP on any stream whose
//!   WebSocket upgrade another server did.
//! - `rustls` (off by default; implies `tokio`): TLS through rustls (its `ring` provider). The
//!   client connects to `btp+wss://` URLs, trusting Mozilla's roots (webpki-roots) or the
//!   roots given with `ws::ClientConfig::with_tls`; the server serves TLS with the certificate
//!   given with `ws::ServerConfig::with_tls`. Without it, `btp+wss://` fails with
//!   [`ws::Error::TlsUnavailable`].
//! - `serde`: the JSON form of [`Frame`] used by `ilp-inspect --as btp` (`type`, `requestId`,
//!   `protocolData` entries with `name`, `contentType`, hex `data` and, for a decodable `ilp`
//!   entry, the `packet` in the `ilp-packet` JSON form; Errors add `code`, `name`,
//!   `triggeredAt` and hex `data`; Transfers a decimal-string `amount`).
//!
//! [RFC 0023]: https://interledger.org/rfcs/0023-bilateral-transfer-protocol/

#![forbid(unsafe_code)]
// The crate docs link to `ws`, which only exists with the `tokio` feature.
#![cfg_attr(not(feature = "tokio"), allow(rustdoc::broken_intra_doc_links))]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod error;
mod error_code;
mod frame;
mod protocol_data;
#[cfg(feature = "serde")]
mod serde_impl;
mod time;

pub use error::DecodeError;
pub use error_code::ErrorCode;
pub use frame::{Body, ErrorBody, Frame, FrameType, ILP, MAX_ERROR_DATA_LEN, MAX_FRAME_LEN};
pub use protocol_data::{ContentType, ProtocolData, ProtocolEntry};

/// `Result` with this crate's [`DecodeError`].
pub type Result<T, E = DecodeError> = std::result::Result<T, E>;

mod session;
pub use session::{AuthToken, CloseReason, Event, RequestId, Session, SessionConfig, SessionError};

#[cfg(feature = "tokio")]
pub mod ws;
