//! Time, passed in: handlers read the clock through [`Clock`] so that tests can fix it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use ilp_packet::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to, for tests. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use ilp_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new("2030-01-01T00:00:00.000Z".parse().unwrap());
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now().to_string(), "2030-01-01T00:00:01.500Z");
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `now`.
    #[must_use]
    pub fn new(now: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(now.unix_millis())))
    }

    /// Moves the clock forward (saturating at the largest timestamp).
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let max = Timestamp::MAX.unix_millis();
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(ms).min(max))
            });
    }

    /// Sets the clock.
    pub fn set(&self, now: Timestamp) {
        self.0.store(now.unix_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst)).unwrap_or(Timestamp::MAX)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}
