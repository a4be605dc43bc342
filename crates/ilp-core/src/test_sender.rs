//! Sending Prepares by the test convention and counting what comes back: the sending half of
//! [`TestReceiver`](crate::TestReceiver), for examples (`ilp-send`), benches and tests.

use std::collections::BTreeMap;
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
    /// Bytes of data in each (default 32; at most [`TestSend::MAX_DATA_BYTES`]).
    pub data_bytes: usize,
    /// The amount of each (default 1).
    pub amount: u64,
    /// How long each lives (default 30 s).
    pub expiry: Duration,
}

/// Why a [`TestSend`] cannot run as configured ([`TestSend::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestSendError {
    /// [`TestSend::count`] is 0: nothing would be sent. Remedy: send at least one Prepare.
    #[error("the count must be at least 1")]
    ZeroCount,
    /// [`TestSend::concurrency`] is 0: nothing could be in flight. Remedy: at least 1.
    #[error("the concurrency must be at least 1")]
    ZeroConcurrency,
    /// [`TestSend::data_bytes`] is more than a Prepare carries: every Prepare would fail to
    /// be built. Remedy: at most [`TestSend::MAX_DATA_BYTES`].
    #[error(
        "the data bytes must be at most {max} (a Prepare's data is at most that long), not {given}"
    )]
    DataTooLong {
        /// The length asked for.
        given: usize,
        /// The most a Prepare carries.
        max: usize,
    },
}

impl TestSend {
    /// The most data a Prepare carries (RFC 0027): 32 767 bytes.
    pub const MAX_DATA_BYTES: usize = 32_767;

    /// Whether the batch can run as configured: at least one Prepare, at least one in
    /// flight, data that fits in a Prepare. [`run`](Self::run) runs anyway (0 in flight
    /// counts as 1, a Prepare that cannot be built counts as rejected); a program checks first
    /// to refuse bad settings before sending anything.
    ///
    /// ```
    /// use ilp_core::{TestSend, TestSendError};
    /// use ilp_packet::Address;
    ///
    /// let send = TestSend::new(Address::from_static("example.receiver"));
    /// assert_eq!(send.check(), Ok(()));
    /// assert_eq!(send.clone().with_count(0).check(), Err(TestSendError::ZeroCount));
    /// assert!(send.with_data_bytes(32_768).check().is_err());
    /// ```
    pub const fn check(&self) -> Result<(), TestSendError> {
        if self.count == 0 {
            Err(TestSendError::ZeroCount)
        } else if self.concurrency == 0 {
            Err(TestSendError::ZeroConcurrency)
        } else if self.data_bytes > Self::MAX_DATA_BYTES {
            Err(TestSendError::DataTooLong {
                given: self.data_bytes,
                max: Self::MAX_DATA_BYTES,
            })
        } else {
            Ok(())
        }
    }

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
    /// outcomes, by code with the first message of each ([`TestSummary::breakdown`]). A
    /// Prepare that cannot be built (data over 32767 bytes; see [`check`](Self::check))
    /// counts as rejected, `F00`.
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
                        return Err(crate::reject(
                            ErrorCode::F00_BAD_REQUEST,
                            &Address::from_static("local.test-sender"),
                            "the Prepare could not be built (data over 32767 bytes)",
                        ));
                    };
                    handler.handle(Request { from, prepare }).await.map(drop)
                }
            })
            .buffer_unordered(self.concurrency.max(1));
        futures::pin_mut!(outcomes);
        while let Some(outcome) = outcomes.next().await {
            match outcome {
                Ok(()) => summary.fulfilled += 1,
                Err(reject) => summary.count_reject(reject.code(), reject.message()),
            }
        }
        summary.elapsed = started.elapsed();
        summary
    }
}

/// How many Prepares got one code, and the first message seen with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeCount {
    /// How many.
    pub count: usize,
    /// The first Reject's message (control characters as spaces, at most
    /// [`CodeCount::MAX_MESSAGE_CHARS`] characters).
    pub first_message: String,
}

impl CodeCount {
    /// The most characters of a message kept.
    pub const MAX_MESSAGE_CHARS: usize = 200;
}

/// The most distinct codes a [`TestSummary`] breaks down, per kind; Prepares with further
/// codes are still counted in the totals.
const MAX_CODES: usize = 32;

/// What came back from a [`TestSend`]. `Display` is the line `ilp-send` ends with:
/// `N fulfilled, M rejected, K failed, R per second`; [`breakdown`](Self::breakdown) is the
/// line before it, saying why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    /// The rejected Prepares by code (at most 32 codes).
    pub rejects: BTreeMap<ErrorCode, CodeCount>,
    /// The failed Prepares by code ([`LINK_FAILURES`]).
    pub failures: BTreeMap<ErrorCode, CodeCount>,
}

impl TestSummary {
    /// Counts a Reject with `code` and `message`: a failure for [`LINK_FAILURES`], else a
    /// rejection.
    pub fn count_reject(&mut self, code: ErrorCode, message: &str) {
        let (total, by_code) = if LINK_FAILURES.contains(&code) {
            (&mut self.failed, &mut self.failures)
        } else {
            (&mut self.rejected, &mut self.rejects)
        };
        *total += 1;
        if let Some(entry) = by_code.get_mut(&code) {
            entry.count += 1;
        } else if by_code.len() < MAX_CODES {
            let first_message = message
                .chars()
                .take(CodeCount::MAX_MESSAGE_CHARS)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            by_code.insert(
                code,
                CodeCount {
                    count: 1,
                    first_message,
                },
            );
        }
    }

    /// Why Prepares were rejected or failed, as one line, or `None` when every one was
    /// fulfilled: `rejected: F00 x10 (invalid auth_token); failed: T01 x2 (cannot connect to
    /// peer)`, codes in order, each with the first message seen.
    ///
    /// ```
    /// use ilp_core::TestSummary;
    /// use ilp_packet::ErrorCode;
    ///
    /// let mut summary = TestSummary::default();
    /// assert!(summary.breakdown().is_none());
    /// summary.count_reject(ErrorCode::F05_WRONG_CONDITION, "wrong condition");
    /// summary.count_reject(ErrorCode::F05_WRONG_CONDITION, "another");
    /// summary.count_reject(ErrorCode::T01_PEER_UNREACHABLE, "down");
    /// let line = summary.breakdown().unwrap().to_string();
    /// assert_eq!(line, "rejected: F05 x2 (wrong condition); failed: T01 x1 (down)");
    /// ```
    #[must_use]
    pub fn breakdown(&self) -> Option<Breakdown<'_>> {
        (self.rejected + self.failed > 0).then_some(Breakdown(self))
    }

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

/// The line [`TestSummary::breakdown`] prints.
#[derive(Debug, Clone, Copy)]
pub struct Breakdown<'a>(&'a TestSummary);

impl fmt::Display for Breakdown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = self.0;
        let kinds = [
            ("rejected", summary.rejected, &summary.rejects),
            ("failed", summary.failed, &summary.failures),
        ];
        let mut first = true;
        for (kind, total, by_code) in kinds.into_iter().filter(|k| k.1 > 0) {
            f.write_str(if first { "" } else { "; " })?;
            first = false;
            write!(f, "{kind}: ")?;
            let mut shown = 0;
            for (i, (code, entry)) in by_code.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{code} x{} ({})", entry.count, entry.first_message)?;
                shown += entry.count;
            }
            if shown < total {
                let sep = if shown == 0 { "" } else { ", " };
                write!(f, "{sep}other codes x{}", total - shown)?;
            }
        }
        Ok(())
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
