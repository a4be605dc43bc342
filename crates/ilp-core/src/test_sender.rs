//! Sending Prepares by the test convention and counting what comes back: the sending half of
//! [`TestReceiver`](crate::TestReceiver), for examples (`ilp-send`), benches and tests.

use std::fmt;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use ilp_packet::{Address, ErrorCode, PrepareBuilder, Timestamp};

use crate::{test_condition, Clock, PacketHandler, Principal, Request};

/// Rejects that mean the link could not deliver a Prepare, rather than the receiver refusing
/// it: T01 (peer unreachable) and R00 (timed out).
pub const LINK_FAILURES: [ErrorCode; 2] = [
    ErrorCode::T01_PEER_UNREACHABLE,
    ErrorCode::R00_TRANSFER_TIMED_OUT,
];

/// A batch of test Prepares: each carries `data_bytes` bytes derived from its index and the
/// condition SHA-256(SHA-256(data)), so that a [`TestReceiver`](crate::TestReceiver) fulfills
/// it. Pub fields, by-value `with_*` setters.
///
/// ```
/// use futures::executor::block_on;
/// use ilp_core::{Principal, SystemClock, TestReceiver, TestSend};
/// use ilp_packet::Address;
///
/// let receiver = TestReceiver::new(Address::from_static("example.receiver"));
/// let send = TestSend::new(Address::from_static("example.receiver"))
///     .with_count(20)
///     .with_concurrency(4);
/// let summary = block_on(send.run(&receiver, Principal::account("me".parse()?), &SystemClock));
/// assert!(summary.all_fulfilled(&send));
/// assert!(summary.to_string().starts_with("20 fulfilled, 0 rejected, 0 failed, "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestSend {
    /// Where the Prepares go.
    pub destination: Address,
    /// How many Prepares (default 1).
    pub count: usize,
    /// How many in flight at once (default 1; 0 counts as 1).
    pub concurrency: usize,
    /// Bytes of data in each (default 32; at most 32767).
    pub data_bytes: usize,
    /// The amount of each (default 1).
    pub amount: u64,
    /// How long each lives (default 30 s).
    pub expiry: Duration,
}

impl TestSend {
    /// One Prepare of 32 bytes to `destination`, amount 1, living 30 s.
    #[must_use]
    pub fn new(destination: Address) -> Self {
        Self {
            destination,
            count: 1,
            concurrency: 1,
            data_bytes: 32,
            amount: 1,
            expiry: Duration::from_secs(30),
        }
    }

    /// Sets [`count`](Self::count).
    #[must_use]
    pub const fn with_count(mut self, count: usize) -> Self {
        self.count = count;
        self
    }

    /// Sets [`concurrency`](Self::concurrency).
    #[must_use]
    pub const fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Sets [`data_bytes`](Self::data_bytes).
    #[must_use]
    pub const fn with_data_bytes(mut self, data_bytes: usize) -> Self {
        self.data_bytes = data_bytes;
        self
    }

    /// Sets [`amount`](Self::amount).
    #[must_use]
    pub const fn with_amount(mut self, amount: u64) -> Self {
        self.amount = amount;
        self
    }

    /// Sets [`expiry`](Self::expiry).
    #[must_use]
    pub const fn with_expiry(mut self, expiry: Duration) -> Self {
        self.expiry = expiry;
        self
    }

    /// Sends the Prepares through `handler` as `from`, `concurrency` at a time, and counts the
    /// outcomes. A Prepare that cannot be built (data over 32767 bytes) counts as rejected.
    pub async fn run<H, C>(&self, handler: &H, from: Principal, clock: &C) -> TestSummary
    where
        H: PacketHandler + ?Sized,
        C: Clock + ?Sized,
    {
        let started = Instant::now();
        let mut summary = TestSummary::default();
        let outcomes = stream::iter(0..self.count)
            .map(|i| {
                let data: Vec<u8> = (i as u64)
                    .to_be_bytes()
                    .into_iter()
                    .cycle()
                    .take(self.data_bytes)
                    .collect();
                let prepare = PrepareBuilder {
                    amount: self.amount,
                    expires_at: clock
                        .now()
                        .checked_add(self.expiry)
                        .unwrap_or(Timestamp::MAX),
                    execution_condition: test_condition(&data),
                    destination: &self.destination,
                    data: &data,
                }
                .build();
                let from = from.clone();
                async move {
                    let Ok(prepare) = prepare else {
                        return Err(None);
                    };
                    let result = handler.handle(Request { from, prepare }).await;
                    result.map(drop).map_err(|reject| Some(reject.code()))
                }
            })
            .buffer_unordered(self.concurrency.max(1));
        futures::pin_mut!(outcomes);
        while let Some(outcome) = outcomes.next().await {
            match outcome {
                Ok(()) => summary.fulfilled += 1,
                Err(Some(code)) if LINK_FAILURES.contains(&code) => summary.failed += 1,
                Err(_) => summary.rejected += 1,
            }
        }
        summary.elapsed = started.elapsed();
        summary
    }
}

/// What came back from a [`TestSend`]. `Display` is the line `ilp-send` ends with:
/// `N fulfilled, M rejected, K failed, R per second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TestSummary {
    /// Prepares fulfilled.
    pub fulfilled: usize,
    /// Prepares rejected by the receiver (or a node on the way).
    pub rejected: usize,
    /// Prepares the link could not deliver ([`LINK_FAILURES`]).
    pub failed: usize,
    /// How long the whole batch took.
    pub elapsed: Duration,
}

impl TestSummary {
    /// Prepares per second over the whole batch.
    #[must_use]
    pub fn per_second(&self) -> f64 {
        let total = self.fulfilled + self.rejected + self.failed;
        total as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Whether every Prepare of `send` was fulfilled.
    #[must_use]
    pub const fn all_fulfilled(&self, send: &TestSend) -> bool {
        self.fulfilled == send.count
    }
}

impl fmt::Display for TestSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} fulfilled, {} rejected, {} failed, {:.0} per second",
            self.fulfilled,
            self.rejected,
            self.failed,
            self.per_second()
        )
    }
}
