//! [`SessionConfig`]: limits and timeouts of a [`Session`](super::Session).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ilp_core::{Clock, SystemClock};
use ilp_packet::Address;

use crate::MAX_FRAME_LEN;

/// Limits and timeouts of a [`Session`](super::Session). Pub fields, [`Default`], and by-value
/// `with_*` setters.
///
/// ```
/// use std::time::Duration;
/// use ilp_btp::SessionConfig;
/// use ilp_packet::Address;
///
/// let config = SessionConfig::default()
///     .with_node_address(Address::from_static("g.connector"))
///     .with_auth_timeout(Duration::from_secs(5))
///     .with_max_in_flight(64);
/// assert_eq!(config.max_in_flight, 64);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// This node's ILP address: the `triggeredBy` of the Rejects the session makes itself
    /// (`R00`, `T01`, `T03`, `T05`, ...). Default `private.btp`; set it to the node's address.
    pub node_address: Address,
    /// How long authentication may take from the session's start (default 10 s, as
    /// interledger-rs). Also bounds how long a server embedder may take to answer
    /// [`Event::AuthRequested`](super::Event::AuthRequested).
    pub auth_timeout: Duration,
    /// The largest frame read (default and maximum [`MAX_FRAME_LEN`], 64 KiB). A larger one is
    /// refused unread and counts as an invalid frame.
    pub max_frame_size: usize,
    /// The most Prepares in flight in each direction (default 1024). One more to send is
    /// refused at once with `T03`; one more received is answered at once with `T05`.
    pub max_in_flight: usize,
    /// The session closes on the invalid frame (undecodable or too large) that brings the
    /// count to this number (default 10; 0 and 1 both close on the first, as
    /// ilp-plugin-btp does). A server closes on an invalid *first* frame regardless.
    pub max_invalid_frames: u32,
    /// Accept the interledger-rs form of ILP over BTP on input: a Prepare in a Response and a
    /// Fulfill or Reject in a Message (default `true`). Output is always the RFC 0023 form.
    pub accept_inverted: bool,
    /// The wall clock, read to turn a Prepare's `expiresAt` into a deadline (and to stamp
    /// `triggeredAt` of Error frames). Default [`SystemClock`]; tests use
    /// `ilp_core::ManualClock`.
    pub clock: Arc<dyn Clock>,
    /// Seed of the request id generator. `None` (default): seeded once from the OS.
    pub rng_seed: Option<u64>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            node_address: Address::from_static("private.btp"),
            auth_timeout: Duration::from_secs(10),
            max_frame_size: MAX_FRAME_LEN,
            max_in_flight: 1024,
            max_invalid_frames: 10,
            accept_inverted: true,
            clock: Arc::new(SystemClock),
            rng_seed: None,
        }
    }
}

impl SessionConfig {
    /// Sets [`node_address`](Self::node_address).
    #[must_use]
    pub fn with_node_address(mut self, node_address: Address) -> Self {
        self.node_address = node_address;
        self
    }

    /// Sets [`auth_timeout`](Self::auth_timeout).
    #[must_use]
    pub const fn with_auth_timeout(mut self, auth_timeout: Duration) -> Self {
        self.auth_timeout = auth_timeout;
        self
    }

    /// Sets [`max_frame_size`](Self::max_frame_size) (values above [`MAX_FRAME_LEN`] act as
    /// [`MAX_FRAME_LEN`]: the codec reads nothing larger).
    #[must_use]
    pub const fn with_max_frame_size(mut self, max_frame_size: usize) -> Self {
        self.max_frame_size = max_frame_size;
        self
    }

    /// Sets [`max_in_flight`](Self::max_in_flight).
    #[must_use]
    pub const fn with_max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// Sets [`max_invalid_frames`](Self::max_invalid_frames).
    #[must_use]
    pub const fn with_max_invalid_frames(mut self, max_invalid_frames: u32) -> Self {
        self.max_invalid_frames = max_invalid_frames;
        self
    }

    /// Sets [`accept_inverted`](Self::accept_inverted).
    #[must_use]
    pub const fn with_accept_inverted(mut self, accept_inverted: bool) -> Self {
        self.accept_inverted = accept_inverted;
        self
    }

    /// Sets [`clock`](Self::clock).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets [`rng_seed`](Self::rng_seed).
    #[must_use]
    pub const fn with_rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("node_address", &self.node_address)
            .field("auth_timeout", &self.auth_timeout)
            .field("max_frame_size", &self.max_frame_size)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_invalid_frames", &self.max_invalid_frames)
            .field("accept_inverted", &self.accept_inverted)
            .field("clock", &format_args!("dyn Clock"))
            .field("rng_seed", &self.rng_seed.map(|_| "<set>"))
            .finish()
    }
}
