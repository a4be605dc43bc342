//! [`IldcpRequester`]: asks a parent for this node's address and asset by IL-DCP (RFC 0031),
//! retrying with exponential backoff.

use std::future::Future;
use std::time::Duration;

use ilp_packet::{ildcp, DecodeError, ErrorClass, ErrorCode, Reject, Timestamp};
use tracing::debug;

use crate::{Clock, PacketHandler, Principal, Request, SystemClock};

/// Why [`IldcpRequester::request`] did not get a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IldcpError {
    /// The parent refused with a code that retrying will not change: a final (`F`) code, a
    /// relative (`R`) code other than `R00`, or a code of no known class. Typically `F00`
    /// because this account is not the parent's child. Remedy: read the Reject's message, and
    /// have the parent's operator configure this account as a child.
    #[error("the parent rejected the IL-DCP request: {} {}", .0.code(), .0.message())]
    Rejected(Reject),
    /// Every attempt got a temporary Reject (a `T` code, or `R00` when the parent did not
    /// answer in time); the last one is kept. The parent is down, unreachable or busy.
    /// Remedy: try again later (a node keeps running without its configuration meanwhile).
    #[error(
        "gave up on IL-DCP after {attempts} attempts; last reject: {} {}",
        .last.code(),
        .last.message()
    )]
    GaveUp {
        /// How many requests were sent.
        attempts: u32,
        /// The Reject of the last one.
        last: Reject,
    },
    /// The parent fulfilled with something that is not an IL-DCP response: a fulfillment that
    /// is not 32 zero bytes, or data that does not decode. The parent does not speak IL-DCP
    /// (or not this version). Remedy: configure this node's address and asset by hand.
    #[error("invalid IL-DCP response: {0}")]
    InvalidResponse(#[source] DecodeError),
}

impl IldcpError {
    /// The parent's Reject, for [`Rejected`](Self::Rejected) and [`GaveUp`](Self::GaveUp).
    #[must_use]
    pub const fn reject(&self) -> Option<&Reject> {
        match self {
            Self::Rejected(reject) | Self::GaveUp { last: reject, .. } => Some(reject),
            Self::InvalidResponse(_) => None,
        }
    }
}

/// How often and how patiently to retry: wait `initial_delay` after the first failed attempt,
/// multiply the wait by `factor` after each further one, never wait more than `max_delay`, and
/// stop after `max_attempts` attempts in all.
///
/// The defaults (1 s, ×2, at most 60 s, 10 attempts) wait 1, 2, 4, 8, 16, 32, 60, 60 and 60 s:
/// about four minutes before giving up.
///
/// ```
/// use std::time::Duration;
/// use ilp_core::BackoffConfig;
///
/// let backoff = BackoffConfig::default()
///     .with_initial_delay(Duration::from_millis(100))
///     .with_factor(3)
///     .with_max_delay(Duration::from_secs(1));
/// let waits: Vec<_> = (1..=4).map(|failures| backoff.delay_after(failures)).collect();
/// assert_eq!(waits, [100, 300, 900, 1000].map(Duration::from_millis));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// The wait after the first failed attempt.
    pub initial_delay: Duration,
    /// What each further wait is multiplied by (1 waits the same each time; 0 counts as 1).
    pub factor: u32,
    /// The longest wait.
    pub max_delay: Duration,
    /// How many attempts in all, the first one included (0 counts as 1).
    pub max_attempts: u32,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            factor: 2,
            max_delay: Duration::from_secs(60),
            max_attempts: 10,
        }
    }
}

impl BackoffConfig {
    /// Sets [`initial_delay`](Self::initial_delay).
    #[must_use]
    pub const fn with_initial_delay(mut self, initial_delay: Duration) -> Self {
        self.initial_delay = initial_delay;
        self
    }

    /// Sets [`factor`](Self::factor).
    #[must_use]
    pub const fn with_factor(mut self, factor: u32) -> Self {
        self.factor = factor;
        self
    }

    /// Sets [`max_delay`](Self::max_delay).
    #[must_use]
    pub const fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    #[must_use]
    pub const fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The wait after `failures` failed attempts (1 for the first wait): `initial_delay ×
    /// factor^(failures - 1)`, at most `max_delay`. Never overflows.
    #[must_use]
    pub fn delay_after(&self, failures: u32) -> Duration {
        let factor = self.factor.max(1);
        let mut delay = self.initial_delay.min(self.max_delay);
        for _ in 1..failures {
            if delay >= self.max_delay || delay.is_zero() || factor == 1 {
                break;
            }
            delay = delay
                .checked_mul(factor)
                .map_or(self.max_delay, |d| d.min(self.max_delay));
        }
        delay
    }
}

/// Asks a parent for this node's configuration by IL-DCP: its ILP address, asset code and
/// asset scale.
///
/// [`request`](Self::request) sends an [`ildcp::Request`] expiring in 60 s (settable) through
/// any [`PacketHandler`] that reaches the parent (typically a BTP or HTTP client), and reads
/// the Fulfill with [`ildcp::Response::from_fulfill`]. It retries with exponential backoff
/// ([`BackoffConfig`]) while the parent answers with a temporary Reject (`T` codes, and `R00`
/// when the request timed out), and stops at once on any other Reject or an invalid response.
/// It never panics: every failure is an [`IldcpError`].
///
/// It waits through the `sleep` function it is given, so it needs no particular runtime: pass
/// `tokio::time::sleep` in a tokio program, or a fake that records the waits in tests.
///
/// ```
/// use futures::executor::block_on;
/// use ilp_core::{ChildConfig, IldcpRequester, IldcpResponder, Principal, TestReceiver};
/// use ilp_packet::Address;
///
/// // A parent that knows us as its child "bob".
/// let node = Address::from_static("example.parent");
/// let parent = IldcpResponder::new(TestReceiver::new(node.clone()), node)
///     .with_child("bob".parse()?, ChildConfig::new("EUR", 2));
///
/// let requester = IldcpRequester::new(Principal::account("bob".parse()?));
/// let no_sleep = |_| std::future::ready(()); // real code: tokio::time::sleep
/// let config = block_on(requester.request(&parent, no_sleep))?;
/// assert_eq!(config.client_address.as_str(), "example.parent.bob");
/// assert_eq!(config.asset_code, "EUR");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct IldcpRequester<C = SystemClock> {
    from: Principal,
    clock: C,
    backoff: BackoffConfig,
    expiry: Duration,
}

/// How long an IL-DCP request lives, as in both references.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(60);

impl IldcpRequester {
    /// A requester whose requests are handed to the parent link as coming from `from` (the
    /// principal of this node's own side of the link; transport clients generally ignore it).
    /// Uses the system clock, a 60 s expiry and the default [`BackoffConfig`].
    #[must_use]
    pub fn new(from: Principal) -> Self {
        Self {
            from,
            clock: SystemClock,
            backoff: BackoffConfig::default(),
            expiry: DEFAULT_EXPIRY,
        }
    }
}

impl<C> IldcpRequester<C> {
    /// Reads the time from `clock`, to set each request's expiry.
    #[must_use]
    pub fn with_clock<C2: Clock>(self, clock: C2) -> IldcpRequester<C2> {
        IldcpRequester {
            from: self.from,
            clock,
            backoff: self.backoff,
            expiry: self.expiry,
        }
    }

    /// Sets how to retry.
    #[must_use]
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets how long each request lives (default 60 s).
    #[must_use]
    pub fn with_expiry(mut self, expiry: Duration) -> Self {
        self.expiry = expiry;
        self
    }

    /// The retry settings.
    #[must_use]
    pub const fn backoff(&self) -> &BackoffConfig {
        &self.backoff
    }
}

impl<C: Clock> IldcpRequester<C> {
    /// Asks `parent` for this node's configuration, retrying as [`BackoffConfig`] says and
    /// waiting with `sleep` between attempts.
    ///
    /// # Errors
    /// [`IldcpError::Rejected`] when the parent refuses for good, [`IldcpError::GaveUp`] after
    /// `max_attempts` temporary Rejects, [`IldcpError::InvalidResponse`] when the Fulfill is
    /// not an IL-DCP response.
    pub async fn request<H, S, F>(
        &self,
        parent: &H,
        sleep: S,
    ) -> Result<ildcp::Response, IldcpError>
    where
        H: PacketHandler + ?Sized,
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        let max_attempts = self.backoff.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let expires_at = self
                .clock
                .now()
                .checked_add(self.expiry)
                .unwrap_or(Timestamp::MAX);
            debug!(attempt, %expires_at, "sending IL-DCP request");
            let request = Request {
                from: self.from.clone(),
                prepare: ildcp::Request { expires_at }.to_prepare(),
            };
            let reject = match parent.handle(request).await {
                Ok(fulfill) => {
                    let response = ildcp::Response::from_fulfill(&fulfill).map_err(|e| {
                        debug!(error = %e, "invalid IL-DCP response");
                        IldcpError::InvalidResponse(e)
                    })?;
                    debug!(
                        client_address = %response.client_address,
                        asset_code = %response.asset_code,
                        asset_scale = response.asset_scale,
                        "got IL-DCP response"
                    );
                    return Ok(response);
                }
                Err(reject) => reject,
            };
            if !is_retryable(reject.code()) {
                debug!(code = %reject.code(), message = reject.message(), "IL-DCP request refused");
                return Err(IldcpError::Rejected(reject));
            }
            if attempt >= max_attempts {
                debug!(attempt, code = %reject.code(), "giving up on IL-DCP");
                return Err(IldcpError::GaveUp {
                    attempts: attempt,
                    last: reject,
                });
            }
            let delay = self.backoff.delay_after(attempt);
            debug!(
                attempt,
                code = %reject.code(),
                message = reject.message(),
                delay_ms = delay.as_millis(),
                "IL-DCP request failed for now; retrying"
            );
            sleep(delay).await;
            attempt += 1;
        }
    }
}

/// Whether a Reject may go away by itself: temporary codes, and a timeout.
fn is_retryable(code: ErrorCode) -> bool {
    code.class() == ErrorClass::Temporary || code == ErrorCode::R00_TRANSFER_TIMED_OUT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_saturate() {
        let b = BackoffConfig::default();
        let secs: Vec<u64> = (1..=10).map(|n| b.delay_after(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        let huge = BackoffConfig::default()
            .with_initial_delay(Duration::MAX)
            .with_max_delay(Duration::MAX)
            .with_factor(u32::MAX);
        assert_eq!(huge.delay_after(u32::MAX), Duration::MAX);
        let zero = BackoffConfig::default().with_initial_delay(Duration::ZERO);
        assert_eq!(zero.delay_after(u32::MAX), Duration::ZERO);
        let flat = BackoffConfig::default().with_factor(0);
        assert_eq!(flat.delay_after(5), Duration::from_secs(1));
        let capped = BackoffConfig::default().with_max_delay(Duration::from_millis(10));
        assert_eq!(capped.delay_after(1), Duration::from_millis(10));
    }

    #[test]
    fn retryable_codes() {
        assert!(is_retryable(ErrorCode::T01_PEER_UNREACHABLE));
        assert!(is_retryable(ErrorCode::T00_INTERNAL_ERROR));
        assert!(is_retryable(ErrorCode::R00_TRANSFER_TIMED_OUT));
        assert!(!is_retryable(ErrorCode::R02_INSUFFICIENT_TIMEOUT));
        assert!(!is_retryable(ErrorCode::F00_BAD_REQUEST));
        assert!(!is_retryable("ZZZ".parse().unwrap()));
    }
}
