//! The test convention both sides of the transport interop tests answer by (`convention.js`,
//! used by `btp.js` and `http.js`; `ilp_core::TestReceiver`): the fulfillment is
//! SHA-256(data), data is echoed, a wrong condition gets `F05` with [`REJECT_MESSAGE`]. A batch
//! is sent half matching (the even-numbered Prepares), half not, and every answer is checked on
//! the side that sent the Prepare.

use std::time::Duration;

use ilp_core::{test_condition, test_fulfillment, IlpResult, PacketHandler, Principal, Request};
use ilp_packet::{Address, ErrorCode, Prepare, PrepareBuilder, Timestamp};
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// The message of the `F05` Reject for a wrong condition, on both sides.
pub const REJECT_MESSAGE: &str = "condition is not SHA-256(SHA-256(data))";
/// `triggeredBy` of the node scripts' Rejects.
pub const JS_ADDRESS: &str = "test.js.receiver";
/// `triggeredBy` of our servers' Rejects.
pub const SERVER_ADDRESS: &str = "test.rust.server";
/// `triggeredBy` of our clients' Rejects.
pub const CLIENT_ADDRESS: &str = "test.rust.client";

/// A test Prepare carrying `data`, expiring in `seconds`, whose condition matches the
/// convention or not.
#[must_use]
pub fn prepare_expiring(data: &[u8], matching: bool, seconds: u64) -> Prepare {
    let condition = if matching {
        test_condition(data)
    } else {
        test_condition(&[b"wrong:", data].concat())
    };
    PrepareBuilder {
        amount: 7,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_secs(seconds))
            .expect("timestamp"),
        execution_condition: condition,
        destination: &Address::from_static("test.interop.receiver"),
        data,
    }
    .build()
    .expect("valid prepare")
}

/// [`prepare_expiring`] in 20 s.
#[must_use]
pub fn prepare(data: &[u8], matching: bool) -> Prepare {
    prepare_expiring(data, matching, 20)
}

/// Whether `result` is the convention's answer to a Prepare of `data`, rejected (when not
/// `matching`) by `triggered_by`.
pub fn check_answer(
    data: &[u8],
    matching: bool,
    result: &IlpResult,
    triggered_by: &str,
) -> Result<(), String> {
    match (matching, result) {
        (true, Ok(fulfill)) => {
            if fulfill.fulfillment() != test_fulfillment(data) {
                Err(format!("wrong fulfillment {:?}", fulfill.fulfillment()))
            } else if fulfill.data() != data {
                Err(format!("data not echoed: {:?}", fulfill.data()))
            } else {
                Ok(())
            }
        }
        (false, Err(reject)) => {
            let by = reject.triggered_by().map(|a| a.to_string());
            if reject.code() == ErrorCode::F05_WRONG_CONDITION
                && by.as_deref() == Some(triggered_by)
                && reject.message() == REJECT_MESSAGE
                && reject.data().is_empty()
            {
                Ok(())
            } else {
                Err(format!("unexpected reject {reject:?}"))
            }
        }
        (true, Err(reject)) => Err(format!("matching Prepare rejected: {reject:?}")),
        (false, Ok(fulfill)) => Err(format!("wrong-condition Prepare fulfilled: {fulfill:?}")),
    }
}

/// The answers to a batch of Prepares, half of them matching.
#[derive(Debug, Default)]
pub struct Tally {
    /// Fulfilled as expected.
    pub fulfilled: usize,
    /// Rejected as expected.
    pub rejected: usize,
    /// Every answer that broke the convention.
    pub wrong: Vec<String>,
}

impl Tally {
    /// Counts one answer checked by [`check_answer`].
    pub fn record(&mut self, matching: bool, checked: Result<(), String>) {
        match checked {
            Ok(()) if matching => self.fulfilled += 1,
            Ok(()) => self.rejected += 1,
            Err(wrong) => self.wrong.push(wrong),
        }
    }

    /// Asserts `count` answers, the even-numbered ones fulfilled, none wrong.
    pub fn check(&self, count: usize, what: &str) {
        eprintln!("{what}: {self:?}");
        assert!(self.wrong.is_empty(), "{what}: {:?}", self.wrong);
        assert_eq!(
            (self.fulfilled, self.rejected),
            (count.div_ceil(2), count / 2),
            "{what}: fulfilled and rejected"
        );
    }
}

/// Sends `count` Prepares (Prepare `i` carrying `data(i)`, the even ones matching) from
/// account `alice` through `sender`, all at once, and checks every answer against the node
/// scripts' convention ([`JS_ADDRESS`] rejects).
///
/// # Panics
///
/// When not every Prepare is answered `within`.
pub async fn send_batch(
    sender: impl PacketHandler + Clone + 'static,
    count: usize,
    data: impl Fn(usize) -> Vec<u8>,
    within: Duration,
) -> Tally {
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let sender = sender.clone();
        let data = data(i);
        tasks.spawn(async move {
            let matching = i % 2 == 0;
            let from = Principal::account("alice".parse().expect("account name"));
            let result = sender
                .handle(Request {
                    from,
                    prepare: prepare(&data, matching),
                })
                .await;
            (
                i,
                matching,
                check_answer(&data, matching, &result, JS_ADDRESS),
            )
        });
    }
    let mut tally = Tally::default();
    let all = tokio::time::timeout(within, async {
        while let Some(joined) = tasks.join_next().await {
            let (i, matching, checked) = joined.expect("send task");
            tally.record(matching, checked.map_err(|e| format!("prepare {i}: {e}")));
        }
    })
    .await;
    assert!(
        all.is_ok(),
        "Prepares unanswered after {within:?}: {tally:?}"
    );
    tally
}

/// Checks a result of `convention.js`'s `sendPrepares` (what `btp.js` and `http.js` print):
/// `count` Prepares sent, every one answered by the convention, the Rejects triggered by
/// `triggered_by`, and no plugin error logged (when the result carries `logged`).
///
/// # Panics
///
/// When any of it does not hold; the message starts with `what`.
pub fn check_js_result(result: &Value, count: usize, triggered_by: &str, what: &str) {
    let matching = count.div_ceil(2);
    let rejected = count - matching;
    assert_eq!(
        result["errors"],
        json!([]),
        "{what}: JS send errors: {result}"
    );
    assert_eq!(
        result["unexpected"],
        json!([]),
        "{what}: JS saw wrong answers: {result}"
    );
    assert_eq!(result["sent"], count, "{what}: {result}");
    assert_eq!(result["matching"], matching, "{what}: {result}");
    assert_eq!(result["fulfilled"], matching, "{what}: {result}");
    assert_eq!(result["rejected"], rejected, "{what}: {result}");
    let codes = if rejected == 0 {
        json!({})
    } else {
        json!({ "F05": rejected })
    };
    assert_eq!(result["codes"], codes, "{what}: {result}");
    if let Some(logged) = result.get("logged") {
        assert_eq!(
            logged,
            &json!([]),
            "{what}: the JS plugin logged errors: {result}"
        );
    }
    for reject in result["rejects"].as_array().expect("rejects") {
        assert_eq!(
            reject,
            &json!({"code": "F05", "triggeredBy": triggered_by, "message": REJECT_MESSAGE, "data": ""}),
            "{what}: a Reject as JS decoded it"
        );
    }
}
