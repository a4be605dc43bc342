//! Interledger core: the traits every other crate plugs into, and small composable handlers.
//!
//! - [`PacketHandler`] handles a [`Request`] (a Prepare and its authenticated sender) and
//!   returns an [`IlpResult`]: a Fulfill, or a Reject (a value, not an error). Servers call it;
//!   transport clients implement it.
//! - [`Authenticator`] turns [`Credentials`] into a [`Principal`] (the account the request acts
//!   on, the peer holding it, the [`Scopes`] its credential allows), or an [`AuthError`].
//!   Implementations are in `ilp-auth`.
//! - [`Clock`] passes time in, so that handlers are testable with a [`ManualClock`].
#![forbid(unsafe_code)]

mod auth;
mod clock;
mod handler;
mod identity;

pub use auth::{AuthError, Authenticator, Credentials};
pub use clock::{Clock, ManualClock, SystemClock};
pub use handler::{reject, IlpResult, PacketHandler, Request};
pub use identity::{AccountId, NameError, PeerId, Principal, Scopes};
