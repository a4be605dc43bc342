//! [`ExpiryCheck`]: refuses Prepares that have expired or that leave too little time to forward.

use std::time::Duration;

use async_trait::async_trait;
use ilp_packet::{Address, ErrorCode};
use tracing::debug;

use crate::{reject, Clock, IlpResult, PacketHandler, Request, SystemClock};

/// Refuses Prepares that have expired, or that expire too soon to be forwarded, before they
/// reach the inner handler.
///
/// | Case | Reject | Cause | Remedy (for the sender) |
/// |---|---|---|---|
/// | `expires_at` is at or before now | `R00 Transfer Timed Out` | the packet expired on its way here, or the sender's clock is behind | send again with a later expiry; check the clock |
/// | less than [`min_remaining`](Self::with_min_remaining) left | `R02 Insufficient Timeout` | not enough time for this node to forward the packet and get the answer back | send again with a later expiry |
///
/// Both Rejects carry this node's address as `triggeredBy`, no data, and a message with the
/// times involved. The default minimum is one second, as ilp-connector's `minMessageWindow`.
///
/// This handler only looks at the expiry when the Prepare arrives: it does not cut short an
/// inner handler that answers after the packet has expired.
///
/// ```
/// use std::time::Duration;
/// use futures::executor::block_on;
/// use ilp_core::{test_condition, ExpiryCheck, ManualClock, PacketHandler, Principal, Request, TestReceiver};
/// use ilp_packet::{Address, ErrorCode, PrepareBuilder};
///
/// let node = Address::from_static("example.connector");
/// let clock = ManualClock::new("2030-01-01T00:00:00.000Z".parse()?);
/// let handler = ExpiryCheck::new(TestReceiver::new(node.clone()), node.clone())
///     .with_clock(clock.clone())
///     .with_min_remaining(Duration::from_secs(2));
///
/// let prepare = PrepareBuilder {
///     amount: 10,
///     expires_at: "2030-01-01T00:00:01.000Z".parse()?, // one second left: too little
///     execution_condition: test_condition(b"hi"),
///     destination: &Address::from_static("example.bob"),
///     data: b"hi",
/// }
/// .build()?;
/// let from = Principal::account("alice".parse()?);
/// let reject = block_on(handler.handle(Request { from, prepare })).unwrap_err();
/// assert_eq!(reject.code(), ErrorCode::R02_INSUFFICIENT_TIMEOUT);
/// assert_eq!(reject.triggered_by(), Some(node));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ExpiryCheck<H, C = SystemClock> {
    inner: H,
    node_address: Address,
    clock: C,
    min_remaining: Duration,
}

/// The default minimum time left: one second, as ilp-connector's `minMessageWindow`.
const DEFAULT_MIN_REMAINING: Duration = Duration::from_secs(1);

impl<H> ExpiryCheck<H> {
    /// Wraps `inner`. Rejects name `node_address` as `triggeredBy`. Uses the system clock and a
    /// minimum of one second left.
    #[must_use]
    pub const fn new(inner: H, node_address: Address) -> Self {
        Self {
            inner,
            node_address,
            clock: SystemClock,
            min_remaining: DEFAULT_MIN_REMAINING,
        }
    }
}

impl<H, C> ExpiryCheck<H, C> {
    /// Reads the time from `clock` (for example a [`ManualClock`](crate::ManualClock) in tests).
    #[must_use]
    pub fn with_clock<C2: Clock>(self, clock: C2) -> ExpiryCheck<H, C2> {
        ExpiryCheck {
            inner: self.inner,
            node_address: self.node_address,
            clock,
            min_remaining: self.min_remaining,
        }
    }

    /// The least time a Prepare must have left to be passed on: the time this node needs to
    /// forward it and relay the answer. Zero only refuses expired Prepares.
    #[must_use]
    pub const fn with_min_remaining(mut self, min_remaining: Duration) -> Self {
        self.min_remaining = min_remaining;
        self
    }

    /// The inner handler.
    #[must_use]
    pub const fn inner(&self) -> &H {
        &self.inner
    }
}

#[async_trait]
impl<H: PacketHandler, C: Clock> PacketHandler for ExpiryCheck<H, C> {
    async fn handle(&self, request: Request) -> IlpResult {
        let now = self.clock.now();
        let expires_at = request.prepare.expires_at();
        if expires_at <= now {
            debug!(account = %request.from.account, %expires_at, %now, "refusing expired prepare (R00)");
            return Err(reject(
                ErrorCode::R00_TRANSFER_TIMED_OUT,
                &self.node_address,
                &format!("packet has already expired. expiresAt={expires_at} currentTime={now}"),
            ));
        }
        let remaining = expires_at.saturating_duration_since(now);
        if remaining < self.min_remaining {
            debug!(
                account = %request.from.account,
                remaining_ms = remaining.as_millis(),
                min_remaining_ms = self.min_remaining.as_millis(),
                "refusing prepare that expires too soon (R02)"
            );
            return Err(reject(
                ErrorCode::R02_INSUFFICIENT_TIMEOUT,
                &self.node_address,
                &format!(
                    "packet expires too soon to forward. expiresAt={expires_at} currentTime={now} \
                     minRemainingMs={}",
                    self.min_remaining.as_millis()
                ),
            ));
        }
        self.inner.handle(request).await
    }
}
