//! Throttling of failed authentication attempts, per source address and per account name, in
//! bounded memory.

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
/// After [`max_failures`](Self::max_failures) failed attempts from one source, or naming one
/// account, within one [`window`](Self::window) (a fixed window that opens at the first
/// failure), further attempts from that source or for that account are answered
/// `AuthError::Throttled` without checking the secret, until the window closes. Attempts
/// answered that way do not count, and successes do not reset the count.
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
    /// table is full, expired entries are dropped first, then the oldest. Default
    /// [`ThrottleConfig::DEFAULT_CAPACITY`]; 0 keeps nothing (throttling off).
    pub capacity: usize,
    /// IPv6 sources are counted per prefix of this many bits (default 64: one host or
    /// network usually has a whole /64). IPv4 addresses, and IPv4-mapped IPv6 addresses,
    /// are counted one by one.
    pub ipv6_prefix_len: u8,
}

impl ThrottleConfig {
    /// Default capacity of each table: 16 384 entries (a few hundred KiB at most).
    pub const DEFAULT_CAPACITY: usize = 16_384;

    /// The defaults: 10 failures per 60 s window, 16 384 entries per table, IPv6 per /64.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_failures: 10,
            window: Duration::from_secs(60),
            capacity: Self::DEFAULT_CAPACITY,
            ipv6_prefix_len: 64,
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
/// throttle.record_failure(now, ip, None);
/// assert!(throttle.check(now, ip, None).is_ok());
/// throttle.record_failure(now, ip, None);
/// assert_eq!(throttle.check(now, ip, None), Err(Duration::from_secs(60)));
/// ```
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    sources: Mutex<Table<IpAddr>>,
    accounts: Mutex<Table<AccountId>>,
    /// Entries in each table, written under its lock: [`check`](Self::check) skips a table
    /// with none without locking it (most attempts, on a server with no recent failures).
    held_sources: AtomicUsize,
    held_accounts: AtomicUsize,
}

/// Runs `f` on the table under its lock and records how many entries it holds after.
fn with_table<K, R>(
    table: &Mutex<Table<K>>,
    held: &AtomicUsize,
    f: impl FnOnce(&mut Table<K>) -> R,
) -> R {
    let mut table = lock(table);
    let result = f(&mut table);
    held.store(table.entries.len(), Ordering::Release);
    result
}

impl Throttle {
    /// A throttle with no failures recorded.
    #[must_use]
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            sources: Mutex::new(Table::default()),
            accounts: Mutex::new(Table::default()),
            held_sources: AtomicUsize::new(0),
            held_accounts: AtomicUsize::new(0),
        }
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// `Err(retry_after)` when the source or the account has used up its failures in the
    /// current window: the caller must not check the secret. `retry_after` is the longer of
    /// the two waits.
    pub fn check(
        &self,
        now: Timestamp,
        source: Option<IpAddr>,
        account: Option<&AccountId>,
    ) -> Result<(), Duration> {
        if !self.config.enabled() {
            return Ok(());
        }
        let now = now.unix_millis();
        let mut wait = None;
        // A failure being recorded at this very moment may be missed: the attempt then goes
        // on as it would have a moment earlier.
        if let Some(ip) = source.filter(|_| self.held_sources.load(Ordering::Acquire) > 0) {
            let key = self.source_key(ip);
            wait = with_table(&self.sources, &self.held_sources, |t| {
                t.check(&key, now, &self.config)
            });
        }
        if let Some(account) = account.filter(|_| self.held_accounts.load(Ordering::Acquire) > 0) {
            let by_account = with_table(&self.accounts, &self.held_accounts, |t| {
                t.check(account, now, &self.config)
            });
            wait = wait.max(by_account);
        }
        wait.map_or(Ok(()), Err)
    }

    /// Records a failed attempt. Returns whether the source or the account is throttled from
    /// now on because of it (it reached the limit with this failure).
    pub fn record_failure(
        &self,
        now: Timestamp,
        source: Option<IpAddr>,
        account: Option<&AccountId>,
    ) -> bool {
        if !self.config.enabled() {
            return false;
        }
        let now = now.unix_millis();
        let mut reached = false;
        if let Some(ip) = source {
            let key = self.source_key(ip);
            reached |= with_table(&self.sources, &self.held_sources, |t| {
                t.fail(key, now, &self.config)
            });
        }
        if let Some(account) = account {
            reached |= with_table(&self.accounts, &self.held_accounts, |t| {
                t.fail(account.clone(), now, &self.config)
            });
        }
        reached
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
        with_table(&self.sources, &self.held_sources, |t| *t = Table::default());
        with_table(&self.accounts, &self.held_accounts, |t| {
            *t = Table::default()
        });
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

/// One table: entries by key, and the same keys by window start, oldest first.
#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
    order: BTreeMap<(i64, u64), K>,
    next_seq: u64,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> Table<K> {
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

    fn fail(&mut self, key: K, now: i64, config: &ThrottleConfig) -> bool {
        if let Some(entry) = self.entries.get_mut(&key) {
            if now < entry.start.saturating_add(config.window_ms()) {
                entry.failures = entry.failures.saturating_add(1);
                return entry.failures == config.max_failures;
            }
            self.remove(&key);
        }
        self.make_room(now, config);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert((now, seq), key.clone());
        self.entries.insert(
            key,
            Entry {
                start: now,
                seq,
                failures: 1,
            },
        );
        config.max_failures == 1
    }

    /// Drops expired entries (oldest first), then the oldest live ones, until one more fits.
    fn make_room(&mut self, now: i64, config: &ThrottleConfig) {
        let window = config.window_ms();
        while let Some(entry) = self.order.first_entry() {
            if now < entry.key().0.saturating_add(window) {
                break;
            }
            let key = entry.remove();
            self.entries.remove(&key);
        }
        while self.entries.len() >= config.capacity {
            let Some((_, key)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&key);
        }
    }

    fn remove(&mut self, key: &K) {
        if let Some(entry) = self.entries.remove(key) {
            self.order.remove(&(entry.start, entry.seq));
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
            assert!(!th.record_failure(t(i), ip(1), None));
        }
        assert!(th.check(t(10), ip(1), None).is_ok());
        assert!(th.record_failure(t(10), ip(1), None));
        assert_eq!(
            th.check(t(1000), ip(1), None),
            Err(Duration::from_millis(59_000))
        );
        assert!(th.check(t(1000), ip(2), None).is_ok());
        assert!(th.check(t(60_000), ip(1), None).is_ok());
        assert_eq!(th.source_entries(), 0);
    }

    #[test]
    fn the_lock_free_skip_follows_the_tables() {
        let th = Throttle::new(ThrottleConfig::default().with_max_failures(1));
        let alice: AccountId = "alice".parse().unwrap();
        assert!(th.check(t(0), ip(1), Some(&alice)).is_ok());
        th.record_failure(t(0), ip(1), None);
        assert!(th.check(t(1), ip(1), Some(&alice)).is_err());
        assert!(th.check(t(1), ip(2), Some(&alice)).is_ok());
        th.record_failure(t(1), None, Some(&alice));
        assert!(th.check(t(2), ip(2), Some(&alice)).is_err());
        // Expired entries leave when checked; then both tables are skipped again.
        assert!(th.check(t(70_000), ip(1), Some(&alice)).is_ok());
        assert!(th.is_empty());
        assert_eq!(th.held_sources.load(Ordering::Acquire), 0);
        assert_eq!(th.held_accounts.load(Ordering::Acquire), 0);
        th.record_failure(t(70_000), ip(1), Some(&alice));
        th.clear();
        assert_eq!(th.held_sources.load(Ordering::Acquire), 0);
        assert!(th.check(t(70_001), ip(1), Some(&alice)).is_ok());
    }

    #[test]
    fn accounts_are_counted_apart_from_sources() {
        let th = Throttle::new(ThrottleConfig::default().with_max_failures(2));
        let alice: AccountId = "alice".parse().unwrap();
        th.record_failure(t(0), ip(1), Some(&alice));
        th.record_failure(t(0), ip(2), Some(&alice));
        assert!(th.check(t(1), ip(3), Some(&alice)).is_err());
        assert!(th.check(t(1), ip(3), None).is_ok());
        assert_eq!(th.len(), 3);
    }

    #[test]
    fn capacity_evicts_expired_then_oldest() {
        let config = ThrottleConfig::default()
            .with_capacity(3)
            .with_max_failures(1);
        let th = Throttle::new(config);
        th.record_failure(t(0), ip(1), None);
        th.record_failure(t(1), ip(2), None);
        th.record_failure(t(2), ip(3), None);
        th.record_failure(t(3), ip(4), None);
        assert_eq!(th.source_entries(), 3);
        assert!(th.check(t(4), ip(1), None).is_ok(), "oldest evicted");
        assert!(th.check(t(4), ip(2), None).is_err());
        // After the window, a new source evicts every expired entry.
        th.record_failure(t(60_002), ip(5), None);
        assert_eq!(th.source_entries(), 2);
        for n in 0..10_000 {
            th.record_failure(t(70_000), ip(100 + n), None);
        }
        assert_eq!(th.source_entries(), 3);
    }

    #[test]
    fn ipv6_is_counted_per_prefix() {
        let th = Throttle::new(ThrottleConfig::default().with_max_failures(1));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        th.record_failure(t(0), Some(a), None);
        assert!(th.check(t(0), Some(b), None).is_err());
        assert!(th.check(t(0), Some(c), None).is_ok());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        th.record_failure(t(0), Some(mapped), None);
        assert!(th
            .check(t(0), Some("10.0.0.1".parse().unwrap()), None)
            .is_err());
    }

    #[test]
    fn zero_disables() {
        let th = Throttle::new(ThrottleConfig::default().with_max_failures(0));
        for _ in 0..100 {
            th.record_failure(t(0), ip(1), None);
        }
        assert!(th.check(t(0), ip(1), None).is_ok());
        assert!(th.is_empty());
    }
}
