//! Public-API tests of the small handlers: the exact code, triggeredBy, message and data each
//! answer carries.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::executor::block_on;
use ilp_core::{
    test_condition, test_fulfillment, BackoffConfig, ChildConfig, ExpiryCheck, FulfillmentCheck,
    IldcpError, IldcpRequester, IldcpResponder, IlpResult, ManualClock, MaxPacketAmount,
    PacketHandler, Principal, Request, TestReceiver,
};
use ilp_packet::{
    ildcp, Address, AmountTooLarge, Condition, DecodeError, ErrorCode, Fulfill, FulfillBuilder,
    Fulfillment, Prepare, PrepareBuilder, Reject, RejectBuilder, Timestamp,
};

const NODE: &str = "example.node";
const NOW: &str = "2030-01-01T00:00:00.000Z";

fn node() -> Address {
    Address::from_static(NODE)
}

fn clock() -> ManualClock {
    ManualClock::new(ts(NOW))
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn principal(account: &str) -> Principal {
    Principal::account(account.parse().unwrap())
}

fn prepare(amount: u64, expires_at: &str, condition: Condition, data: &[u8]) -> Prepare {
    PrepareBuilder {
        amount,
        expires_at: ts(expires_at),
        execution_condition: condition,
        destination: &Address::from_static("example.receiver"),
        data,
    }
    .build()
    .unwrap()
}

/// A test Prepare that [`TestReceiver`] fulfills.
fn good_prepare(amount: u64, expires_at: &str) -> Prepare {
    prepare(amount, expires_at, test_condition(b"hello"), b"hello")
}

fn send(handler: &impl PacketHandler, prepare: Prepare) -> IlpResult {
    block_on(handler.handle(Request {
        from: principal("alice"),
        prepare,
    }))
}

fn fulfill(fulfillment: Fulfillment, data: &[u8]) -> Fulfill {
    FulfillBuilder { fulfillment, data }.build().unwrap()
}

fn reject_from(code: ErrorCode, by: &str, message: &str, data: &[u8]) -> Reject {
    RejectBuilder {
        code,
        triggered_by: &Address::try_from(by).unwrap(),
        message,
        data,
    }
    .build()
    .unwrap()
}

/// Asserts a Reject's code and that it was triggered by this node with no data.
fn assert_node_reject(result: IlpResult, code: ErrorCode) -> Reject {
    let reject = result.unwrap_err();
    assert_eq!(reject.code(), code, "{reject:?}");
    assert_eq!(reject.triggered_by(), Some(node()));
    reject
}

/// A handler that answers from a script and records the Prepares it got.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<IlpResult>>,
    seen: Mutex<Vec<Request>>,
}

impl Scripted {
    fn new(answers: impl IntoIterator<Item = IlpResult>) -> Self {
        Self {
            answers: Mutex::new(answers.into_iter().collect()),
            seen: Mutex::default(),
        }
    }

    fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl PacketHandler for Scripted {
    async fn handle(&self, request: Request) -> IlpResult {
        self.seen.lock().unwrap().push(request);
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("no more scripted answers")
    }
}

// ---------------------------------------------------------------------------------------------
// ExpiryCheck

fn expiry_check() -> ExpiryCheck<TestReceiver, ManualClock> {
    ExpiryCheck::new(TestReceiver::new(node()), node()).with_clock(clock())
}

#[test]
fn expired_prepare_is_rejected_r00() {
    let reject = assert_node_reject(
        send(&expiry_check(), good_prepare(1, "2029-12-31T23:59:59.999Z")),
        ErrorCode::R00_TRANSFER_TIMED_OUT,
    );
    assert!(reject.data().is_empty());
    assert!(reject.message().contains("expired"), "{}", reject.message());
}

#[test]
fn prepare_expiring_exactly_now_is_rejected_r00() {
    let reject = assert_node_reject(
        send(&expiry_check(), good_prepare(1, NOW)),
        ErrorCode::R00_TRANSFER_TIMED_OUT,
    );
    assert!(reject.data().is_empty());
}

#[test]
fn prepare_with_too_little_time_is_rejected_r02() {
    let reject = assert_node_reject(
        send(&expiry_check(), good_prepare(1, "2030-01-01T00:00:00.999Z")),
        ErrorCode::R02_INSUFFICIENT_TIMEOUT,
    );
    assert!(reject.data().is_empty());

    let longer = expiry_check().with_min_remaining(Duration::from_secs(5));
    assert_node_reject(
        send(&longer, good_prepare(1, "2030-01-01T00:00:04.999Z")),
        ErrorCode::R02_INSUFFICIENT_TIMEOUT,
    );
}

#[test]
fn prepare_with_enough_time_reaches_the_inner_handler() {
    // Exactly the minimum (1 s by default) is enough.
    let result = send(&expiry_check(), good_prepare(1, "2030-01-01T00:00:01.000Z"));
    assert_eq!(result.unwrap().data(), b"hello");
    let result = send(&expiry_check(), good_prepare(1, "2030-01-01T00:01:00.000Z"));
    assert!(result.is_ok());
}

#[test]
fn expiry_check_follows_the_clock() {
    let clock = clock();
    let check = ExpiryCheck::new(TestReceiver::new(node()), node()).with_clock(clock.clone());
    assert!(send(&check, good_prepare(1, "2030-01-01T00:00:10.000Z")).is_ok());
    clock.advance(Duration::from_millis(9_500));
    assert_node_reject(
        send(&check, good_prepare(1, "2030-01-01T00:00:10.000Z")),
        ErrorCode::R02_INSUFFICIENT_TIMEOUT,
    );
    clock.advance(Duration::from_millis(500));
    assert_node_reject(
        send(&check, good_prepare(1, "2030-01-01T00:00:10.000Z")),
        ErrorCode::R00_TRANSFER_TIMED_OUT,
    );
}

// ---------------------------------------------------------------------------------------------
// MaxPacketAmount

#[test]
fn amount_equal_to_maximum_passes() {
    let handler = MaxPacketAmount::new(TestReceiver::new(node()), node(), 1_000);
    assert_eq!(handler.maximum(), 1_000);
    assert!(send(&handler, good_prepare(1_000, "2030-01-01T00:01:00.000Z")).is_ok());
    assert!(send(&handler, good_prepare(0, "2030-01-01T00:01:00.000Z")).is_ok());
}

#[test]
fn amount_above_maximum_is_rejected_f08_with_amounts() {
    let handler = MaxPacketAmount::new(TestReceiver::new(node()), node(), 1_000);
    let reject = send(&handler, good_prepare(1_001, "2030-01-01T00:01:00.000Z")).unwrap_err();
    assert_eq!(reject.code(), ErrorCode::F08_AMOUNT_TOO_LARGE);
    assert_eq!(reject.triggered_by(), Some(node()));
    let mut expected = [0u8; 16];
    expected[..8].copy_from_slice(&1_001u64.to_be_bytes());
    expected[8..].copy_from_slice(&1_000u64.to_be_bytes());
    assert_eq!(reject.data(), expected);
    assert_eq!(
        AmountTooLarge::decode(reject.data()),
        Ok(AmountTooLarge {
            received: 1_001,
            maximum: 1_000
        })
    );

    let reject = send(&handler, good_prepare(u64::MAX, "2030-01-01T00:01:00.000Z")).unwrap_err();
    assert_eq!(
        AmountTooLarge::decode(reject.data()).unwrap().received,
        u64::MAX
    );
}

// ---------------------------------------------------------------------------------------------
// FulfillmentCheck

#[test]
fn matching_fulfillment_passes() {
    let handler = FulfillmentCheck::new(TestReceiver::new(node()), node());
    let fulfill = send(&handler, good_prepare(1, NOW)).unwrap();
    assert_eq!(fulfill.fulfillment(), test_fulfillment(b"hello"));
    assert_eq!(fulfill.data(), b"hello");
}

#[test]
fn wrong_fulfillment_becomes_f05() {
    let inner = Scripted::new([Ok(fulfill(Fulfillment::from_bytes([9; 32]), b"secret"))]);
    let handler = FulfillmentCheck::new(inner, node());
    let reject = assert_node_reject(
        send(&handler, good_prepare(1, NOW)),
        ErrorCode::F05_WRONG_CONDITION,
    );
    assert_eq!(
        reject.message(),
        "fulfillment did not match expected value."
    );
    assert!(reject.data().is_empty());
}

#[test]
fn reject_from_inner_passes_through_untouched() {
    let original = reject_from(
        ErrorCode::T04_INSUFFICIENT_LIQUIDITY,
        "example.far.away",
        "no money",
        b"\x01\x02",
    );
    let handler = FulfillmentCheck::new(Scripted::new([Err(original.clone())]), node());
    let reject = send(&handler, good_prepare(1, NOW)).unwrap_err();
    assert_eq!(reject, original);
    assert_eq!(reject.as_bytes(), original.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// IldcpResponder

fn responder(inner: Scripted) -> IldcpResponder<Scripted, ManualClock> {
    IldcpResponder::new(inner, node())
        .with_child("alice".parse().unwrap(), ChildConfig::new("XRP", 9))
        .with_child(
            "shop".parse().unwrap(),
            ChildConfig::new("USD", 2).with_address(Address::from_static("example.shop.till")),
        )
        .with_clock(clock())
}

fn ildcp_request(expires_at: &str) -> Prepare {
    ildcp::Request {
        expires_at: ts(expires_at),
    }
    .to_prepare()
}

fn ask(handler: &impl PacketHandler, account: &str, prepare: Prepare) -> IlpResult {
    block_on(handler.handle(Request {
        from: principal(account),
        prepare,
    }))
}

#[test]
fn ildcp_answers_child_with_derived_address() {
    let inner = Scripted::default();
    let handler = responder(inner);
    let fulfill = ask(&handler, "alice", ildcp_request("2030-01-01T00:01:00.000Z")).unwrap();
    assert_eq!(fulfill.fulfillment(), Fulfillment::PEER_PROTOCOL);
    assert_eq!(
        ildcp::Response::from_fulfill(&fulfill).unwrap(),
        ildcp::Response {
            client_address: Address::from_static("example.node.alice"),
            asset_scale: 9,
            asset_code: "XRP".into(),
        }
    );
    // Byte for byte, as RFC 0031's example lays it out.
    assert_eq!(
        fulfill.data(),
        b"\x12example.node.alice\x09\x03XRP".as_slice()
    );
    assert!(handler.inner().seen().is_empty());
}

#[test]
fn ildcp_answers_child_with_configured_address() {
    let handler = responder(Scripted::default());
    let fulfill = ask(&handler, "shop", ildcp_request("2030-01-01T00:01:00.000Z")).unwrap();
    let response = ildcp::Response::from_fulfill(&fulfill).unwrap();
    assert_eq!(response.client_address.as_str(), "example.shop.till");
    assert_eq!(
        (response.asset_code.as_str(), response.asset_scale),
        ("USD", 2)
    );
}

#[test]
fn ildcp_refuses_non_child() {
    let handler = responder(Scripted::default());
    let reject = assert_node_reject(
        ask(
            &handler,
            "mallory",
            ildcp_request("2030-01-01T00:01:00.000Z"),
        ),
        ErrorCode::F00_BAD_REQUEST,
    );
    assert!(
        reject.message().contains("not a child"),
        "{}",
        reject.message()
    );
    assert!(reject.data().is_empty());
    assert!(handler.inner().seen().is_empty());
}

#[test]
fn ildcp_refuses_wrong_condition() {
    let handler = responder(Scripted::default());
    let prepare = PrepareBuilder {
        amount: 0,
        expires_at: ts("2030-01-01T00:01:00.000Z"),
        execution_condition: Condition::from_bytes([1; 32]),
        destination: &Address::from_static(ildcp::DESTINATION),
        data: b"",
    }
    .build()
    .unwrap();
    let reject = assert_node_reject(ask(&handler, "alice", prepare), ErrorCode::F00_BAD_REQUEST);
    assert_eq!(
        reject.message(),
        "packet does not contain correct condition for a peer protocol request."
    );
    assert!(reject.data().is_empty());
}

#[test]
fn ildcp_refuses_expired_request() {
    let handler = responder(Scripted::default());
    for expires_at in [NOW, "2029-12-31T23:59:00.000Z"] {
        let reject = assert_node_reject(
            ask(&handler, "alice", ildcp_request(expires_at)),
            ErrorCode::F00_BAD_REQUEST,
        );
        assert_eq!(reject.message(), "IL-DCP request packet is expired.");
        assert!(reject.data().is_empty());
    }
}

#[test]
fn ildcp_responder_passes_other_packets_on() {
    let answer = fulfill(test_fulfillment(b"hello"), b"from inner");
    let handler = responder(Scripted::new([Ok(answer.clone())]));
    // Even from an account that is not a child.
    let result = ask(&handler, "mallory", good_prepare(7, NOW));
    assert_eq!(result.unwrap(), answer);
    let seen = handler.inner().seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].prepare, good_prepare(7, NOW));
    assert_eq!(seen[0].from, principal("mallory"));
}

#[test]
fn ildcp_refuses_underivable_address() {
    // 1020 bytes: no room for ".alice".
    let long: &'static str = Box::leak(format!("g.{}", "a".repeat(1018)).into_boxed_str());
    let long = Address::from_static(long);
    let handler = IldcpResponder::new(Scripted::default(), long.clone())
        .with_child("alice".parse().unwrap(), ChildConfig::new("XRP", 9))
        .with_clock(clock());
    let reject = ask(&handler, "alice", ildcp_request("2030-01-01T00:01:00.000Z")).unwrap_err();
    assert_eq!(reject.code(), ErrorCode::F00_BAD_REQUEST);
    assert_eq!(reject.triggered_by(), Some(long));
}

// ---------------------------------------------------------------------------------------------
// IldcpRequester

/// A fake sleeper that records the waits and returns at once.
#[derive(Clone, Default)]
struct Sleeps(Arc<Mutex<Vec<Duration>>>);

impl Sleeps {
    fn sleeper(&self) -> impl Fn(Duration) -> std::future::Ready<()> + '_ {
        move |d| {
            self.0.lock().unwrap().push(d);
            std::future::ready(())
        }
    }

    fn recorded(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

fn requester() -> IldcpRequester<ManualClock> {
    IldcpRequester::new(principal("parent"))
        .with_clock(clock())
        .with_backoff(
            BackoffConfig::default()
                .with_initial_delay(Duration::from_millis(100))
                .with_factor(3)
                .with_max_delay(Duration::from_secs(10))
                .with_max_attempts(4),
        )
}

fn good_response() -> Fulfill {
    ildcp::Response {
        client_address: Address::from_static("example.parent.me"),
        asset_scale: 6,
        asset_code: "EUR".into(),
    }
    .to_fulfill()
    .unwrap()
}

fn parent_reject(code: ErrorCode) -> IlpResult {
    Err(reject_from(code, "example.parent", "try later", b""))
}

#[test]
fn requester_succeeds_first_time() {
    let parent = Scripted::new([Ok(good_response())]);
    let sleeps = Sleeps::default();
    let response = block_on(requester().request(&parent, sleeps.sleeper())).unwrap();
    assert_eq!(response.client_address.as_str(), "example.parent.me");
    assert_eq!(
        (response.asset_code.as_str(), response.asset_scale),
        ("EUR", 6)
    );
    assert!(sleeps.recorded().is_empty());

    let seen = parent.seen();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0].prepare;
    assert_eq!(seen[0].from, principal("parent"));
    assert_eq!(sent.destination().as_str(), "peer.config");
    assert_eq!(sent.execution_condition(), Condition::PEER_PROTOCOL);
    assert_eq!(sent.amount(), 0);
    assert!(sent.data().is_empty());
    assert_eq!(sent.expires_at(), ts("2030-01-01T00:01:00.000Z"));
}

#[test]
fn requester_retries_temporary_rejects_with_backoff() {
    let parent = Scripted::new([
        parent_reject(ErrorCode::T01_PEER_UNREACHABLE),
        parent_reject(ErrorCode::T03_CONNECTOR_BUSY),
        Ok(good_response()),
    ]);
    let sleeps = Sleeps::default();
    let response = block_on(requester().request(&parent, sleeps.sleeper())).unwrap();
    assert_eq!(response.client_address.as_str(), "example.parent.me");
    assert_eq!(
        sleeps.recorded(),
        [Duration::from_millis(100), Duration::from_millis(300)]
    );
    assert_eq!(parent.seen().len(), 3);
}

#[test]
fn requester_retries_a_timeout() {
    let parent = Scripted::new([
        parent_reject(ErrorCode::R00_TRANSFER_TIMED_OUT),
        Ok(good_response()),
    ]);
    let sleeps = Sleeps::default();
    assert!(block_on(requester().request(&parent, sleeps.sleeper())).is_ok());
    assert_eq!(sleeps.recorded(), [Duration::from_millis(100)]);
}

#[test]
fn requester_stops_at_once_on_final_reject() {
    let refusal = reject_from(
        ErrorCode::F00_BAD_REQUEST,
        "example.parent",
        "not a child",
        b"",
    );
    let parent = Scripted::new([Err(refusal.clone()), Ok(good_response())]);
    let sleeps = Sleeps::default();
    let error = block_on(requester().request(&parent, sleeps.sleeper())).unwrap_err();
    assert_eq!(error, IldcpError::Rejected(refusal.clone()));
    assert_eq!(error.reject(), Some(&refusal));
    assert_eq!(
        error.to_string(),
        "the parent rejected the IL-DCP request: F00 not a child"
    );
    assert!(sleeps.recorded().is_empty());
    assert_eq!(parent.seen().len(), 1);
}

#[test]
fn requester_gives_up_after_max_attempts() {
    let parent = Scripted::new((0..4).map(|_| parent_reject(ErrorCode::T00_INTERNAL_ERROR)));
    let sleeps = Sleeps::default();
    let error = block_on(requester().request(&parent, sleeps.sleeper())).unwrap_err();
    let IldcpError::GaveUp { attempts, last } = &error else {
        panic!("expected GaveUp, got {error:?}");
    };
    assert_eq!(*attempts, 4);
    assert_eq!(last.code(), ErrorCode::T00_INTERNAL_ERROR);
    assert_eq!(
        last.triggered_by(),
        Some(Address::from_static("example.parent"))
    );
    assert_eq!(
        sleeps.recorded(),
        [100, 300, 900].map(Duration::from_millis)
    );
    assert_eq!(parent.seen().len(), 4);
}

#[test]
fn requester_refuses_invalid_response() {
    // A fulfillment that is not 32 zero bytes, with otherwise valid data.
    let data = good_response().data().to_vec();
    let parent = Scripted::new([Ok(fulfill(Fulfillment::from_bytes([1; 32]), &data))]);
    let sleeps = Sleeps::default();
    let error = block_on(requester().request(&parent, sleeps.sleeper())).unwrap_err();
    assert_eq!(
        error,
        IldcpError::InvalidResponse(DecodeError::UnexpectedValue("fulfillment"))
    );
    assert_eq!(error.reject(), None);
    assert!(sleeps.recorded().is_empty());

    // Data that does not decode.
    let parent = Scripted::new([Ok(fulfill(Fulfillment::PEER_PROTOCOL, b"\x03g.a"))]);
    let error = block_on(requester().request(&parent, sleeps.sleeper())).unwrap_err();
    assert_eq!(
        error,
        IldcpError::InvalidResponse(DecodeError::UnexpectedEnd("assetScale"))
    );
}

#[test]
fn requester_talks_to_responder() {
    let parent = IldcpResponder::new(TestReceiver::new(node()), node())
        .with_child("me".parse().unwrap(), ChildConfig::new("EUR", 2))
        .with_clock(clock());
    let child = IldcpRequester::new(principal("me")).with_clock(clock());
    let sleeps = Sleeps::default();
    let response = block_on(child.request(&parent, sleeps.sleeper())).unwrap();
    assert_eq!(response.client_address.as_str(), "example.node.me");

    let stranger = IldcpRequester::new(principal("stranger")).with_clock(clock());
    let error = block_on(stranger.request(&parent, sleeps.sleeper())).unwrap_err();
    assert_eq!(
        error.reject().map(Reject::code),
        Some(ErrorCode::F00_BAD_REQUEST)
    );
}

// ---------------------------------------------------------------------------------------------
// TestReceiver and a composed chain

#[test]
fn test_receiver_fulfills_matching_condition() {
    let receiver = TestReceiver::new(node());
    let fulfill = send(&receiver, good_prepare(1, NOW)).unwrap();
    assert_eq!(fulfill.fulfillment(), test_fulfillment(b"hello"));
    assert_eq!(test_fulfillment(b"hello").as_bytes(), &sha2_of(b"hello"));
    assert_eq!(fulfill.data(), b"hello");
}

fn sha2_of(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).into()
}

#[test]
fn test_receiver_rejects_other_condition() {
    let receiver = TestReceiver::new(node());
    let reject = assert_node_reject(
        send(
            &receiver,
            prepare(1, NOW, test_condition(b"other"), b"hello"),
        ),
        ErrorCode::F05_WRONG_CONDITION,
    );
    assert!(reject.data().is_empty());
}

#[test]
fn composed_chain() {
    let clock = clock();
    let chain = IldcpResponder::new(
        ExpiryCheck::new(
            MaxPacketAmount::new(
                FulfillmentCheck::new(TestReceiver::new(node()), node()),
                node(),
                100,
            ),
            node(),
        )
        .with_clock(clock.clone()),
        node(),
    )
    .with_child("alice".parse().unwrap(), ChildConfig::new("XRP", 9))
    .with_clock(clock.clone());
    let in_a_minute = "2030-01-01T00:01:00.000Z";

    assert_eq!(
        send(&chain, good_prepare(100, in_a_minute)).unwrap().data(),
        b"hello"
    );
    let reject = send(&chain, good_prepare(101, in_a_minute)).unwrap_err();
    assert_eq!(reject.code(), ErrorCode::F08_AMOUNT_TOO_LARGE);
    assert_eq!(reject.triggered_by(), Some(node()));
    assert_node_reject(
        send(
            &chain,
            prepare(5, in_a_minute, test_condition(b"x"), b"hello"),
        ),
        ErrorCode::F05_WRONG_CONDITION,
    );
    let config = ask(&chain, "alice", ildcp_request(in_a_minute)).unwrap();
    assert!(ildcp::Response::from_fulfill(&config).is_ok());

    clock.advance(Duration::from_secs(60));
    assert_node_reject(
        send(&chain, good_prepare(100, in_a_minute)),
        ErrorCode::R00_TRANSFER_TIMED_OUT,
    );
}

#[test]
fn handlers_compose_behind_dyn() {
    let boxed: Box<dyn PacketHandler> = Box::new(FulfillmentCheck::new(
        Arc::new(TestReceiver::new(node())),
        node(),
    ));
    assert!(send(&boxed, good_prepare(1, NOW)).is_ok());
}

/// The requester's future is `Send`, so it can be spawned, with `tokio::time::sleep` as the
/// sleeper.
#[tokio::test]
async fn requester_runs_on_tokio() {
    let parent = Arc::new(Scripted::new([
        parent_reject(ErrorCode::T02_PEER_BUSY),
        Ok(good_response()),
    ]));
    let requester = IldcpRequester::new(principal("parent")).with_backoff(
        BackoffConfig::default()
            .with_initial_delay(Duration::from_millis(1))
            .with_max_attempts(2),
    );
    let task = tokio::spawn(async move { requester.request(&*parent, tokio::time::sleep).await });
    let response = task.await.unwrap().unwrap();
    assert_eq!(response.asset_code, "EUR");
}

#[test]
fn test_send_counts_fulfilled_rejected_and_failed() {
    use ilp_core::{TestSend, TestSummary};

    /// Fulfills even-numbered data, rejects F05 when the first data byte is 1, and answers
    /// T01 (a link failure) otherwise.
    struct Mixed(TestReceiver);
    #[async_trait::async_trait]
    impl PacketHandler for Mixed {
        async fn handle(&self, request: Request) -> IlpResult {
            let last = request.prepare.data().get(7).copied().unwrap_or(0);
            match last % 3 {
                0 => self.0.handle(request).await,
                1 => Err(ilp_core::reject(
                    ErrorCode::F05_WRONG_CONDITION,
                    &node(),
                    "no",
                )),
                _ => Err(ilp_core::reject(
                    ErrorCode::T01_PEER_UNREACHABLE,
                    &node(),
                    "down",
                )),
            }
        }
    }
    let send = TestSend::new(node())
        .with_count(30)
        .with_concurrency(4)
        .with_data_bytes(8);
    let summary: TestSummary = futures::executor::block_on(send.run(
        &Mixed(TestReceiver::new(node())),
        Principal::account("me".parse().unwrap()),
        &ManualClock::new("2030-01-01T00:00:00.000Z".parse().unwrap()),
    ));
    assert_eq!(
        (summary.fulfilled, summary.rejected, summary.failed),
        (10, 10, 10)
    );
    assert!(!summary.all_fulfilled(&send));
    let line = summary.to_string();
    assert!(
        line.starts_with("10 fulfilled, 10 rejected, 10 failed, "),
        "{line}"
    );
    assert!(line.ends_with(" per second"), "{line}");
    // The line before it says why, by code with the first message.
    assert_eq!(
        summary.breakdown().unwrap().to_string(),
        "rejected: F05 x10 (no); failed: T01 x10 (down)"
    );

    // Data too long to build a Prepare counts as rejected, never a panic; `check` refuses it
    // before anything is sent.
    let send = TestSend::new(node()).with_data_bytes(40_000).with_count(2);
    assert_eq!(
        send.check(),
        Err(ilp_core::TestSendError::DataTooLong {
            given: 40_000,
            max: 32_767
        })
    );
    let summary = futures::executor::block_on(send.run(
        &TestReceiver::new(node()),
        Principal::account("me".parse().unwrap()),
        &ManualClock::new("2030-01-01T00:00:00.000Z".parse().unwrap()),
    ));
    assert_eq!((summary.fulfilled, summary.rejected), (0, 2));
    assert_eq!(
        summary.breakdown().unwrap().to_string(),
        "rejected: F00 x2 (the Prepare could not be built (data over 32767 bytes))"
    );
    assert!(TestSend::new(node())
        .with_data_bytes(32_767)
        .check()
        .is_ok());
    assert_eq!(
        TestSend::new(node()).with_concurrency(0).check(),
        Err(ilp_core::TestSendError::ZeroConcurrency)
    );
}

#[test]
fn test_summary_bounds_its_breakdown() {
    use ilp_core::{CodeCount, TestSummary};

    let mut summary = TestSummary::default();
    assert!(summary.breakdown().is_none());
    // Messages are one line of at most 200 characters, whatever the peer sent.
    let long = "x\ny".repeat(100);
    summary.count_reject(ErrorCode::F99_APPLICATION_ERROR, &long);
    summary.count_reject(ErrorCode::R00_TRANSFER_TIMED_OUT, "late\r");
    let entry = &summary.rejects[&ErrorCode::F99_APPLICATION_ERROR];
    assert_eq!(
        entry.first_message.chars().count(),
        CodeCount::MAX_MESSAGE_CHARS
    );
    assert!(entry.first_message.starts_with("x y"));
    assert_eq!(
        summary.failures[&ErrorCode::R00_TRANSFER_TIMED_OUT].first_message,
        "late "
    );
    // At most 32 codes are broken down; the others are still counted.
    for n in 0..100u8 {
        let code: ErrorCode = format!("F{n:02}").parse().unwrap();
        summary.count_reject(code, "m");
    }
    assert_eq!(summary.rejected, 101);
    assert_eq!(summary.rejects.len(), 32);
    let line = summary.breakdown().unwrap().to_string();
    assert!(line.contains(", other codes x"), "{line}");
    assert!(line.ends_with("; failed: R00 x1 (late )"), "{line}");
}
