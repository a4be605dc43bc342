//! Throttling of failed authentication attempts: per source address, which refuses further
//! attempts, and per account name, which only slows further failures down. In bounded memory.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ilp_core::AccountId;
use ilp_packet::Timestamp;

/// How failed attempts are throttled.
///
/// - **Per source.** After [`max_failures`](Self::max_failures) failed attempts from one
///   source address (IPv6: one prefix) within one [`window`](Self::window) (a fixed window
///   that opens at the first failure), further attempts from that source are answered
///   `AuthError::Throttled` without checking the secret, until the window closes. Attempts
///   answered that way do not count, and successes do not reset the count.
/// - **Per account name.** Failures naming one account are counted too, from every source;
///   beyond `max_failures` in a window, each further *failure* for that account is answered
///   after [`account_delay`](Self::account_delay). This never refuses an attempt: a correct
///   secret is accepted at once, however many other sources failed, so that nobody can lock
///   an account out by naming it (the account is in the URL of every ILP-over-HTTP request).
///
/// ```
/// use std::time::Duration;
/// use ilp_auth::ThrottleConfig;
///
/// let config = ThrottleConfig::default().with_max_failures(5).with_window(Duration::from_secs(300));
/// assert_eq!(config.capacity, ThrottleConfig::DEFAULT_CAPACITY);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Failed attempts allowed per window, per source and per account name. Default 10;
    /// 0 turns throttling off.
    pub max_failures: u32,
    /// How long a window lasts from its first failure. Default 60 s.
    pub window: Duration,
    /// Most entries kept, per table (one table of sources, one of account names). When a
    /// table is full, expired entries are dropped first, then the oldest entry that has not
    /// reached the limit. An entry that has reached it is never dropped before its window
    /// closes: while a table holds only such entries, failures of new sources (or account
    /// names) are not counted (and logged at `warn`). Default
    /// [`ThrottleConfig::DEFAULT_CAPACITY`]; 0 keeps nothing (throttling off).
    pub capacity: usize,
    /// IPv6 sources are counted per prefix of this many bits (default 64: one host or
    /// network usually has a whole /64). IPv4 addresses, and IPv4-mapped IPv6 addresses,
    /// are counted one by one.
    pub ipv6_prefix_len: u8,
    /// How long a failure is held back when its account name is beyond `max_failures`
    /// failures in the window (default [`ThrottleConfig::DEFAULT_ACCOUNT_DELAY`], 1 s). The
    /// authenticators wait through the `sleep` function given to their `with_sleep`; without
    /// one they do not wait. `Duration::ZERO`: no delay.
    pub account_delay: Duration,
}

impl ThrottleConfig {
    /// Default capacity of each table: 16 384 entries (a few hundred KiB at most).
    pub const DEFAULT_CAPACITY: usize = 16_384;

    /// Default [`account_delay`](Self::account_delay): 1 s.
    pub const DEFAULT_ACCOUNT_DELAY: Duration = Duration::from_secs(1);

    /// The defaults: 10 failures per 60 s window, 16 384 entries per table, IPv6 per /64,
    /// failures beyond the limit for one account held back 1 s.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_failures: 10,
            window: Duration::from_secs(60),
            capacity: Self::DEFAULT_CAPACITY,
            ipv6_prefix_len: 64,
            account_delay: Self::DEFAULT_ACCOUNT_DELAY,
        }
    }

    /// Sets [`Self::max_failures`].
    #[must_use]
    pub const fn with_max_failures(mut self, max_failures: u32) -> Self {
        self.max_failures = max_failures;
        self
    }

    /// Sets [`Self::window`].
    #[must_use]
    pub const fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Sets [`Self::capacity`].
    #[must_use]
    pub const fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets [`Self::ipv6_prefix_len`] (at most 128).
    #[must_use]
    pub const fn with_ipv6_prefix_len(mut self, bits: u8) -> Self {
        self.ipv6_prefix_len = if bits > 128 { 128 } else { bits };
        self
    }

    /// Sets [`Self::account_delay`].
    #[must_use]
    pub const fn with_account_delay(mut self, delay: Duration) -> Self {
        self.account_delay = delay;
        self
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    const fn enabled(&self) -> bool {
        self.max_failures > 0 && self.capacity > 0
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// What recording one failure led to; see [`Throttle::record_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RecordedFailure {
    /// The source reached its limit with this failure: it is throttled from now on, until
    /// its window closes.
    pub source_throttled: bool,
    /// The account name is beyond its limit: answer this failure after this delay
    /// ([`ThrottleConfig::account_delay`]). `None` below the limit, or with no delay set.
    pub delay: Option<Duration>,
}

/// Counts failed attempts per source and per account name; see [`ThrottleConfig`].
///
/// Account names are counted only when they are valid `AccountId`s (no account can have
/// another name); sources are counted whether or not a name was given.
///
/// Sans-IO: every method takes the current time. Memory is bounded by
/// [`ThrottleConfig::capacity`] entries per table, however many sources try; each operation
/// is O(log capacity). Both authenticators own one (`throttle()`), and can share one
/// (`with_throttle`).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use ilp_auth::{Throttle, ThrottleConfig};
/// use ilp_packet::Timestamp;
///
/// let throttle = Throttle::new(ThrottleConfig::default().with_max_failures(2));
/// let now: Timestamp = "2030-01-01T00:00:00.000Z".parse().unwrap();
/// let ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
/// let alice = "alice".parse().unwrap();
/// throttle.record_failure(now, ip, Some(&alice));
/// assert!(throttle.check(now, ip).is_ok());
/// assert!(throttle.record_failure(now, ip, Some(&alice)).source_throttled);
/// assert_eq!(throttle.check(now, ip), Err(Duration::from_secs(60)));
/// // The account is not refused; its next failure, from anywhere, is held back.
/// let other = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
/// assert!(throttle.check(now, other).is_ok());
/// let failure = throttle.record_failure(now, other, Some(&alice));
/// assert_eq!(failure.delay, Some(Duration::from_secs(1)));
/// ```
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    sources: Mutex<Table<IpAddr>>,
    accounts: Mutex<Table<AccountId>>,
    /// Entries in the source table, written under its lock: [`check`](Self::check) skips it
    /// when it has none without locking it (most attempts, on a server with no recent
    /// failures).
    held_sources: AtomicUsize,
}

impl Throttle {
    /// A throttle with no failures recorded.
    #[must_use]
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            sources: Mutex::new(Table::new("sources")),
            accounts: Mutex::new(Table::new("account names")),
            held_sources: AtomicUsize::new(0),
        }
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// `Err(retry_after)` when the source has used up its failures in the current window:
    /// the caller must not check the secret. The account an attempt names plays no part
    /// here: failures for an account never refuse an attempt (see [`ThrottleConfig`]).
    pub fn check(&self, now: Timestamp, source: Option<IpAddr>) -> Result<(), Duration> {
        if !self.config.enabled() {
            return Ok(());
        }
        // A failure being recorded at this very moment may be missed: the attempt then goes
        // on as it would have a moment earlier.
        let Some(ip) = source.filter(|_| self.held_sources.load(Ordering::Acquire) > 0) else {
            return Ok(());
        };
        let key = self.source_key(ip);
        let mut table = lock(&self.sources);
        let wait = table.check(&key, now.unix_millis(), &self.config);
        self.held_sources
            .store(table.entries.len(), Ordering::Release);
        wait.map_or(Ok(()), Err)
    }

    /// Records a failed attempt from `source` naming `account`, and says what follows from
    /// it: whether the source is throttled from now on, and how long to hold this failure's
    /// answer back.
    pub fn record_failure(
        &self,
        now: Timestamp,
        source: Option<IpAddr>,
        account: Option<&AccountId>,
    ) -> RecordedFailure {
        let mut failure = RecordedFailure::default();
        if !self.config.enabled() {
            return failure;
        }
        let now = now.unix_millis();
        if let Some(ip) = source {
            let key = self.source_key(ip);
            let mut table = lock(&self.sources);
            let failures = table.fail(key, now, &self.config);
            self.held_sources
                .store(table.entries.len(), Ordering::Release);
            failure.source_throttled = failures == Some(self.config.max_failures);
        }
        if let Some(account) = account {
            let failures = lock(&self.accounts).fail(account.clone(), now, &self.config);
            if failures.is_some_and(|n| n > self.config.max_failures)
                && !self.config.account_delay.is_zero()
            {
                failure.delay = Some(self.config.account_delay);
            }
        }
        failure
    }

    /// Entries held: sources plus account names. At most twice the capacity.
    #[must_use]
    pub fn len(&self) -> usize {
        self.source_entries() + self.account_entries()
    }

    /// Whether no entry is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Source entries held (at most [`ThrottleConfig::capacity`]).
    #[must_use]
    pub fn source_entries(&self) -> usize {
        lock(&self.sources).entries.len()
    }

    /// Account-name entries held (at most [`ThrottleConfig::capacity`]).
    #[must_use]
    pub fn account_entries(&self) -> usize {
        lock(&self.accounts).entries.len()
    }

    /// Forgets every failure (for example after an operator cleared an incident).
    pub fn clear(&self) {
        let mut sources = lock(&self.sources);
        *sources = Table::new("sources");
        self.held_sources.store(0, Ordering::Release);
        drop(sources);
        *lock(&self.accounts) = Table::new("account names");
    }

    /// The key a source is counted under: IPv4 as is, IPv6 cut to its prefix.
    fn source_key(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let bits = u32::from(self.config.ipv6_prefix_len.min(128));
                    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                    IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
                }
            },
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(ThrottleConfig::default())
    }
}

/// The tables' critical sections cannot leave them inconsistent, so a poisoned lock is used
/// as is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct Entry {
    /// When the window opened, ms since the epoch.
    start: i64,
    seq: u64,
    failures: u32,
}

/// One table: entries by key, and the same keys by window start, oldest first, in two
/// queues: entries below the limit (`open`, evicted first when the table is full) and
/// entries that reached it (`closed`, kept until their window closes).
#[derive(Debug)]
struct Table<K> {
    what: &'static str,
    entries: HashMap<K, Entry>,
    open: BTreeMap<(i64, u64), K>,
    closed: BTreeMap<(i64, u64), K>,
    next_seq: u64,
    /// Whether the "full of limited entries" warning was logged since the table last had
    /// room.
    warned_full: bool,
}

impl<K: Clone + Eq + Hash> Table<K> {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            entries: HashMap::new(),
            open: BTreeMap::new(),
            closed: BTreeMap::new(),
            next_seq: 0,
            warned_full: false,
        }
    }

    fn check(&mut self, key: &K, now: i64, config: &ThrottleConfig) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        let end = entry.start.saturating_add(config.window_ms());
        if now >= end {
            self.remove(key);
            return None;
        }
        (entry.failures >= config.max_failures).then(|| {
            let ms = u64::try_from(end - now).unwrap_or(0);
            Duration::from_millis(ms).min(config.window)
        })
    }

    /// Counts a failure for `key`; the failures counted in its window, or `None` when the
    /// table had no room for a new key.
    fn fail(&mut self, key: K, now: i64, config: &ThrottleConfig) -> Option<u32> {
        if let Some(entry) = self.entries.get_mut(&key) {
            if now < entry.start.saturating_add(config.window_ms()) {
                entry.failures = entry.failures.saturating_add(1);
                let failures = entry.failures;
                if failures == config.max_failures {
                    let at = (entry.start, entry.seq);
                    if let Some(key) = self.open.remove(&at) {
                        self.closed.insert(at, key);
                    }
                }
                return Some(failures);
            }
            self.remove(&key);
        }
        if !self.make_room(now, config) {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let queue = if config.max_failures <= 1 {
            &mut self.closed
        } else {
            &mut self.open
        };
        queue.insert((now, seq), key.clone());
        self.entries.insert(
            key,
            Entry {
                start: now,
                seq,
                failures: 1,
            },
        );
        Some(1)
    }

    /// Drops expired entries, then the oldest entries below the limit, until one more fits.
    /// `false` when every entry left has reached the limit: those are kept.
    fn make_room(&mut self, now: i64, config: &ThrottleConfig) -> bool {
        let window = config.window_ms();
        for queue in [&mut self.open, &mut self.closed] {
            while let Some(entry) = queue.first_entry() {
                if now < entry.key().0.saturating_add(window) {
                    break;
                }
                let key = entry.remove();
                self.entries.remove(&key);
            }
        }
        while self.entries.len() >= config.capacity {
            let Some((_, key)) = self.open.pop_first() else {
                if !self.warned_full {
                    self.warned_full = true;
                    tracing::warn!(
                        table = self.what,
                        capacity = config.capacity,
                        "throttle table full of entries at their limit; failures of new ones are not counted until a window closes"
                    );
                }
                return false;
            };
            self.entries.remove(&key);
        }
        self.warned_full = false;
        true
    }

    fn remove(&mut self, key: &K) {
        if let Some(entry) = self.entries.remove(key) {
            let at = (entry.start, entry.seq);
            if self.open.remove(&at).is_none() {
                self.closed.remove(&at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_900_000_000_000 + ms).unwrap()
    }

    fn ip(n: u32) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::from(n)))
    }

    #[test]
    fn throttles_after_max_failures_until_the_window_closes() {
        let th = Throttle::new(ThrottleConfig::default().with_max_failures(3));
        for i in 0..2 {
            assert!(!th.record_failure(t(i), ip(1), None).source_throttled);
        }
        assert!(th.check(t(10), ip(1)).is_ok());
        assert!(th.record_failure(t(10), ip(1), None).source_throttled);
        assert_eq!(th.check(t(1000), ip(1)), Err(Duration::from_millis(59_000)));
        assert!(th.check(t(1000), ip(2)).is_ok());
        assert!(th.check(t(60_000), ip(1)).is_ok());
        assert_eq!(th.source_entries(), 0);
    }

    #[test]
    fn the_lock_free_skip_follows_the_table() {
        let th = Throttle::new(ThrottleConfig::default().with_max_failures(1));
        let alice: AccountId = "alice".parse().unwrap();
        assert!(th.check(t(0), ip(1)).is_ok());
        th.record_failure(t(0), ip(1), Some(&alice));
        assert!(th.check(t(1), ip(1)).is_err());
        assert!(th.check(t(1), ip(2)).is_ok());
        // Expired entries leave when checked; then the table is skipped again.
        assert!(th.check(t(70_000), ip(1)).is_ok());
        assert_eq!(th.held_sources.load(Ordering::Acquire), 0);
        th.record_failure(t(70_000), ip(1), Some(&alice));
        assert_eq!(th.held_sources.load(Ordering::Acquire), 1);
        th.clear();
        assert!(th.is_empty());
        assert_eq!(th.held_sources.load(Ordering::Acquire), 0);
        assert!(th.check(t(70_001), ip(1)).is_ok());
    }

    #[test]
    fn account_failures_are_delayed_never_refused() {
        let th = Throttle::new(ThrottleConfig::default().with_max_failures(2));
        let alice: AccountId = "alice".parse().unwrap();
        let bob: AccountId = "bob".parse().unwrap();
        assert_eq!(th.record_failure(t(0), ip(1), Some(&alice)).delay, None);
        assert_eq!(th.record_failure(t(0), ip(2), Some(&alice)).delay, None);
        assert!(th.check(t(1), ip(3)).is_ok());
        let third = th.record_failure(t(1), ip(3), Some(&alice));
        assert_eq!(third.delay, Some(ThrottleConfig::DEFAULT_ACCOUNT_DELAY));
        assert!(!third.source_throttled);
        // Without a source, the account is still counted.
        assert_eq!(
            th.record_failure(t(2), None, Some(&alice)).delay,
            Some(ThrottleConfig::DEFAULT_ACCOUNT_DELAY)
        );
        assert_eq!(th.record_failure(t(2), ip(4), Some(&bob)).delay, None);
        assert_eq!(th.len(), 4 + 2);
        // The window closes: no delay.
        assert_eq!(
            th.record_failure(t(60_002), ip(5), Some(&alice)).delay,
            None
        );
        let quiet = Throttle::new(
            ThrottleConfig::default()
                .with_max_failures(1)
                .with_account_delay(Duration::ZERO),
        );
        quiet.record_failure(t(0), None, Some(&alice));
        assert_eq!(quiet.record_failure(t(0), None, Some(&alice)).delay, None);
    }

    #[test]
    fn capacity_evicts_expired_then_the_oldest_below_the_limit() {
        let config = ThrottleConfig::default()
            .with_capacity(3)
            .with_max_failures(2);
        let th = Throttle::new(config);
        th.record_failure(t(0), ip(1), None);
        th.record_failure(t(0), ip(1), None);
        th.record_failure(t(1), ip(2), None);
        th.record_failure(t(2), ip(3), None);
        th.record_failure(t(3), ip(4), None);
        assert_eq!(th.source_entries(), 3);
        assert!(th.check(t(4), ip(1)).is_err(), "throttled: kept");
        // ip(2) was the oldest below the limit.
        th.record_failure(t(4), ip(2), None);
        assert!(th.check(t(4), ip(2)).is_ok(), "evicted, counted afresh");
        for n in 0..10_000 {
            th.record_failure(t(5), ip(100 + n), None);
        }
        assert_eq!(th.source_entries(), 3);
        assert!(th.check(t(5), ip(1)).is_err());
        // After the window, a new source evicts every expired entry.
        th.record_failure(t(60_010), ip(5), None);
        assert_eq!(th.source_entries(), 1);
    }

    #[test]
    fn a_table_full_of_limited_entries_keeps_them_and_counts_no_new_one() {
        let config = ThrottleConfig::default()
            .with_capacity(2)
            .with_max_failures(1);
        let th = Throttle::new(config);
        th.record_failure(t(0), ip(1), None);
        th.record_failure(t(1), ip(2), None);
        let alice: AccountId = "alice".parse().unwrap();
        let bob: AccountId = "bob".parse().unwrap();
        let carol: AccountId = "carol".parse().unwrap();
        th.record_failure(t(0), None, Some(&alice));
        th.record_failure(t(0), None, Some(&bob));
        for _ in 0..5 {
            let failure = th.record_failure(t(2), ip(3), Some(&carol));
            assert_eq!(failure, RecordedFailure::default(), "not counted");
        }
        assert!(th.check(t(2), ip(1)).is_err());
        assert!(th.check(t(2), ip(2)).is_err());
        assert!(th.check(t(2), ip(3)).is_ok());
        assert!(th.record_failure(t(3), None, Some(&alice)).delay.is_some());
        assert_eq!(th.len(), 4);
        // Room again once a window closes.
        assert!(th.record_failure(t(60_000), ip(3), None).source_throttled);
        assert_eq!(th.source_entries(), 2);
        assert!(th.check(t(60_000), ip(2)).is_err());
    }

    #[test]
    fn ipv6_is_counted_per_prefix() {
        let th = Throttle::new(ThrottleConfig::default().with_max_failures(1));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        th.record_failure(t(0), Some(a), None);
        assert!(th.check(t(0), Some(b)).is_err());
        assert!(th.check(t(0), Some(c)).is_ok());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        th.record_failure(t(0), Some(mapped), None);
        assert!(th.check(t(0), Some("10.0.0.1".parse().unwrap())).is_err());
    }

    #[test]
    fn zero_disables() {
        let alice: AccountId = "alice".parse().unwrap();
        for config in [
            ThrottleConfig::default().with_max_failures(0),
            ThrottleConfig::default().with_capacity(0),
        ] {
            let th = Throttle::new(config);
            for _ in 0..100 {
                assert_eq!(
                    th.record_failure(t(0), ip(1), Some(&alice)),
                    RecordedFailure::default()
                );
            }
            assert!(th.check(t(0), ip(1)).is_ok());
            assert!(th.is_empty());
        }
    }
}
