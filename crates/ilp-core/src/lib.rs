//! Interledger core: the traits every other crate plugs into, and small composable handlers.
//!
//! - [`PacketHandler`] handles a [`Request`] (a Prepare and its authenticated sender) and
//!   returns an [`IlpResult`]: a Fulfill, or a Reject (a value, not an error). Servers call it;
//!   transport clients implement it.
//! - [`Authenticator`] turns [`Credentials`] into a [`Principal`] (the account the request acts
//!   on, the peer holding it, the [`Scopes`] its credential allows), or an [`AuthError`].
//!   Implementations are in `ilp-auth`.
//! - [`Clock`] passes time in, so that handlers are testable with a [`ManualClock`].
//!
//! # Handlers
//!
//! Each is a struct wrapping an inner [`PacketHandler`]; wrap them inside one another to build
//! a pipeline. Their Rejects name the node's own address as `triggeredBy`; each type's docs
//! list its Rejects with their cause and remedy.
//!
//! | Handler | Does |
//! |---|---|
//! | [`ExpiryCheck`] | refuses expired Prepares (`R00`) and those with too little time left (`R02`) |
//! | [`MaxPacketAmount`] | refuses amounts above a maximum (`F08` with [`AmountTooLarge`](ilp_packet::AmountTooLarge) data) |
//! | [`FulfillmentCheck`] | turns a Fulfill that does not match the condition into `F05` |
//! | [`IldcpResponder`] | answers IL-DCP requests (`peer.config`) from child accounts ([`ChildConfig`]) |
//! | [`TestReceiver`] | fulfills by the test convention, fulfillment = SHA-256(data) ([`test_condition`], [`test_fulfillment`]) |
//!
//! The other side of IL-DCP, [`IldcpRequester`], asks a parent for this node's address and
//! asset, retrying with backoff ([`BackoffConfig`]); it fails with an [`IldcpError`].
//!
//! ```
//! use std::time::Duration;
//! use futures::executor::block_on;
//! use ilp_core::{
//!     test_condition, ExpiryCheck, FulfillmentCheck, ManualClock, MaxPacketAmount, PacketHandler,
//!     Principal, Request, TestReceiver,
//! };
//! use ilp_packet::{Address, ErrorCode, PrepareBuilder};
//!
//! let node = Address::from_static("example.connector");
//! let clock = ManualClock::new("2030-01-01T00:00:00.000Z".parse()?);
//! // Checked from the outside in: expiry, then amount, then the receiver's answer.
//! let pipeline = ExpiryCheck::new(
//!     MaxPacketAmount::new(
//!         FulfillmentCheck::new(TestReceiver::new(node.clone()), node.clone()),
//!         node.clone(),
//!         1_000,
//!     ),
//!     node.clone(),
//! )
//! .with_clock(clock.clone());
//!
//! let prepare = |amount| {
//!     PrepareBuilder {
//!         amount,
//!         expires_at: "2030-01-01T00:00:30.000Z".parse().unwrap(),
//!         execution_condition: test_condition(b"invoice 17"),
//!         destination: &Address::from_static("example.bob"),
//!         data: b"invoice 17",
//!     }
//!     .build()
//!     .unwrap()
//! };
//! let from = Principal::account("alice".parse()?);
//!
//! let fulfill = block_on(pipeline.handle(Request { from: from.clone(), prepare: prepare(500) }));
//! assert_eq!(fulfill.unwrap().data(), b"invoice 17");
//!
//! let too_large = block_on(pipeline.handle(Request { from: from.clone(), prepare: prepare(5_000) }));
//! assert_eq!(too_large.unwrap_err().code(), ErrorCode::F08_AMOUNT_TOO_LARGE);
//!
//! clock.advance(Duration::from_secs(30));
//! let expired = block_on(pipeline.handle(Request { from, prepare: prepare(500) }));
//! assert_eq!(expired.unwrap_err().code(), ErrorCode::R00_TRANSFER_TIMED_OUT);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod auth;
mod clock;
mod expiry;
mod fulfillment_check;
mod handler;
mod identity;
mod ildcp_requester;
mod ildcp_responder;
mod max_amount;
mod test_receiver;
mod test_sender;

pub use auth::{AuthError, Authenticator, Credentials};
pub use clock::{Clock, ManualClock, SystemClock};
pub use expiry::ExpiryCheck;
pub use fulfillment_check::FulfillmentCheck;
pub use handler::{reject, IlpResult, PacketHandler, Request};
pub use identity::{AccountId, NameError, PeerId, Principal, Scopes};
pub use ildcp_requester::{BackoffConfig, IldcpError, IldcpRequester};
pub use ildcp_responder::{ChildConfig, IldcpResponder};
pub use max_amount::MaxPacketAmount;
pub use test_receiver::{test_condition, test_fulfillment, TestReceiver};
pub use test_sender::{Breakdown, CodeCount, TestSend, TestSendError, TestSummary, LINK_FAILURES};
