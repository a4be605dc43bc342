//! The asynchronous mode: the callee (202, reply POSTed to the callback, retries, limits), the
//! caller (callback endpoint, matching by Request-Id, R00 at expiry) and both ends together.
#![cfg(feature = "tokio")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
mod common;

use ilp_core::{
    test_condition, IlpResult, PacketHandler, Principal, Request as IlpRequest, TestReceiver,
};
use ilp_http::{
    AsyncCaller, AsyncConfig, CallbackRoutes, Callbacks, ClientConfig, Endpoint, HttpClient,
    HttpServer, IlpHttpService, OutgoingAuth, RequestId, ServerConfig,
};
use ilp_packet::{
    Address, ErrorCode, Fulfill, FulfillBuilder, Packet, Prepare, PrepareBuilder, Reject, Timestamp,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

const CALLBACK_TOKEN: &str = "token-for-callbacks";

fn prepare_expiring_in(ms: u64, data: &[u8]) -> Prepare {
    PrepareBuilder {
        amount: 10,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_millis(ms))
            .unwrap(),
        execution_condition: test_condition(data),
        destination: &Address::from_static("example.callee.bob"),
        data,
    }
    .build()
    .unwrap()
}

fn prepare() -> Prepare {
    prepare_expiring_in(10_000, b"hello")
}

fn fulfill() -> Fulfill {
    FulfillBuilder {
        fulfillment: ilp_core::test_fulfillment(b"hello"),
        data: b"hello",
    }
    .build()
    .unwrap()
}

/// What a test HTTP server saw of one request.
#[derive(Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A hyper server answering each request with the next status of `script` (then `200`), after
/// `delay`, reporting every request on a channel.
struct Sink {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
}

async fn sink(script: Vec<StatusCode>, delay: Duration) -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    let script = Arc::new(Mutex::new(script.into_iter()));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    let status = script.lock().unwrap().next().unwrap_or(StatusCode::OK);
                    async move {
                        let (parts, incoming) = req.into_parts();
                        let body = incoming.collect().await.unwrap().to_bytes();
                        let _ = tx.send(Seen {
                            path: parts.uri.path().to_owned(),
                            headers: parts.headers,
                            body,
                        });
                        tokio::time::sleep(delay).await;
                        let mut response = Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Sink { addr, seen }
}

impl Sink {
    fn callback_url(&self) -> String {
        format!("http://{}/callbacks/alice", self.addr)
    }

    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(10), self.seen.recv())
            .await
            .expect("no request in 10 s")
            .unwrap()
    }

    /// How many requests arrive within `wait`.
    async fn count_within(&mut self, wait: Duration) -> usize {
        let mut count = 0;
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(_)) = tokio::time::timeout_at(deadline, self.seen.recv()).await {
            count += 1;
        }
        count
    }
}

/// A handler that waits for `release` (if set), counts its calls, then asks `TestReceiver`.
#[derive(Clone, Default)]
struct Gate {
    release: Option<Arc<Notify>>,
    calls: Arc<AtomicUsize>,
}

impl Gate {
    /// A gate that holds every request until its `Notify` is notified.
    fn blocked() -> (Self, Arc<Notify>) {
        let release = Arc::new(Notify::new());
        let gate = Self {
            release: Some(release.clone()),
            ..Self::default()
        };
        (gate, release)
    }
}

#[async_trait]
impl PacketHandler for Gate {
    async fn handle(&self, request: IlpRequest) -> IlpResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(release) = &self.release {
            release.notified().await;
        }
        TestReceiver::new(Address::from_static("example.callee"))
            .handle(request)
            .await
    }
}

/// A callee whose account `alice` may have replies sent under `http://{allowed}/callbacks`.
struct Callee {
    server: HttpServer,
    token: String,
}

impl Callee {
    fn url(&self) -> String {
        format!("http://{}/accounts/alice/ilp", self.server.local_addr())
    }
}

async fn callee(handler: Gate, config: Option<AsyncConfig>) -> Callee {
    let (auth, tokens) = common::authenticator(&["alice"]).await;
    let endpoint = Endpoint::new(
        Arc::new(auth),
        handler,
        ServerConfig::default().with_node_address(Address::from_static("example.callee")),
    );
    let mut service = IlpHttpService::new(endpoint);
    if let Some(config) = config {
        service = service.with_async(config);
    }
    let server = HttpServer::bind_service("127.0.0.1:0".parse().unwrap(), service)
        .await
        .unwrap();
    Callee {
        server,
        token: tokens[0].clone(),
    }
}

fn routes(allowed: SocketAddr) -> CallbackRoutes {
    CallbackRoutes::new().allow(
        "alice".parse().unwrap(),
        format!("http://{allowed}/callbacks").parse().unwrap(),
        OutgoingAuth::bearer(CALLBACK_TOKEN),
    )
}

fn fast_retries(allowed: SocketAddr) -> AsyncConfig {
    AsyncConfig::new(routes(allowed))
        .with_retry(Duration::from_millis(10), Duration::from_millis(40))
}

fn http() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// POSTs `body` to `url` with `headers`; gives the status and the body.
async fn post(url: &str, headers: &[(&str, &str)], body: Bytes) -> (StatusCode, Bytes) {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/octet-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = http()
        .request(request.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// POSTs an asynchronous Prepare to the callee, with `callback` and `id` as the headers.
async fn post_async(
    callee: &Callee,
    callback: Option<&str>,
    id: Option<&str>,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let auth = format!("Bearer {}", callee.token);
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("prefer", "respond-async"),
    ];
    if let Some(callback) = callback {
        headers.push(("callback-url", callback));
    }
    if let Some(id) = id {
        headers.push(("request-id", id));
    }
    post(&callee.url(), &headers, body).await
}

/// POSTs `body` asynchronously with the sink's callback URL and `id`; asserts `202`.
async fn expect_202(callee: &Callee, sink: &Sink, id: &str, body: Bytes) {
    let (status, body) = post_async(callee, Some(&sink.callback_url()), Some(id), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(body.is_empty());
}

fn new_id() -> String {
    RequestId::random().unwrap().to_string()
}

fn reject_of(body: Bytes) -> Reject {
    match Packet::decode(body).unwrap() {
        Packet::Reject(reject) => reject,
        other => panic!("expected a Reject, got {other:?}"),
    }
}

#[tokio::test]
async fn callee_answers_202_at_once_and_posts_the_reply_to_the_callback() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let (gate, release) = Gate::blocked();
    let callee = callee(gate.clone(), Some(fast_retries(sink.addr))).await;
    let id = new_id();
    // The handler is blocked until released: the 202 cannot wait for it.
    expect_202(&callee, &sink, &id, prepare().into_bytes()).await;
    assert_eq!(sink.count_within(Duration::from_millis(100)).await, 0);
    release.notify_one();

    let seen = sink.next().await;
    assert_eq!(seen.path, "/callbacks/alice");
    assert_eq!(seen.headers["request-id"], id.as_str());
    assert_eq!(seen.headers["content-type"], "application/octet-stream");
    assert_eq!(
        seen.headers["authorization"],
        format!("Bearer {CALLBACK_TOKEN}").as_str()
    );
    assert_eq!(seen.body, fulfill().into_bytes());
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_reject_is_a_reply_too() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let callee = callee(Gate::default(), Some(fast_retries(sink.addr))).await;
    let wrong = PrepareBuilder {
        amount: 1,
        expires_at: Timestamp::MAX,
        execution_condition: test_condition(b"other"),
        destination: &Address::from_static("example.callee.bob"),
        data: b"hello",
    }
    .build()
    .unwrap();
    expect_202(&callee, &sink, &new_id(), wrong.into_bytes()).await;
    let reject = reject_of(sink.next().await.body);
    assert_eq!(reject.code(), ErrorCode::F05_WRONG_CONDITION);
}

#[tokio::test]
async fn reply_is_retried_on_5xx_until_taken() {
    let script = vec![
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::OK,
    ];
    let mut sink = sink(script, Duration::ZERO).await;
    let callee = callee(Gate::default(), Some(fast_retries(sink.addr))).await;
    let id = new_id();
    expect_202(&callee, &sink, &id, prepare().into_bytes()).await;
    for _ in 0..3 {
        let seen = sink.next().await;
        assert_eq!(seen.headers["request-id"], id.as_str());
        assert_eq!(seen.body, fulfill().into_bytes());
    }
    // Taken at the third attempt: no fourth.
    assert_eq!(sink.count_within(Duration::from_millis(300)).await, 0);
}

#[tokio::test]
async fn reply_is_not_retried_after_a_4xx() {
    let mut sink = sink(vec![StatusCode::BAD_REQUEST], Duration::ZERO).await;
    let callee = callee(Gate::default(), Some(fast_retries(sink.addr))).await;
    expect_202(&callee, &sink, &new_id(), prepare().into_bytes()).await;
    sink.next().await;
    assert_eq!(sink.count_within(Duration::from_millis(300)).await, 0);
}

#[tokio::test]
async fn reply_is_retried_on_timeouts_until_the_prepare_expires() {
    // The callback never answers in time: each attempt times out after 100 ms.
    let mut sink = sink(vec![], Duration::from_secs(30)).await;
    let config = fast_retries(sink.addr).with_attempt_timeout(Duration::from_millis(100));
    let callee = callee(Gate::default(), Some(config)).await;
    expect_202(
        &callee,
        &sink,
        &new_id(),
        prepare_expiring_in(800, b"hello").into_bytes(),
    )
    .await;
    let attempts = sink.count_within(Duration::from_millis(1500)).await;
    assert!(attempts >= 3, "only {attempts} attempts");
    // Expired: no more attempts.
    assert_eq!(sink.count_within(Duration::from_millis(500)).await, 0);
}

#[tokio::test]
async fn no_reply_when_the_handler_is_not_done_by_the_expiry() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let (gate, release) = Gate::blocked();
    let config = fast_retries(sink.addr).with_max_pending(1);
    let callee = callee(gate, Some(config)).await;
    let late = prepare_expiring_in(300, b"hello").into_bytes();
    expect_202(&callee, &sink, &new_id(), late).await;
    // Its one slot is taken while the handler runs...
    let url = sink.callback_url();
    let busy = post_async(&callee, Some(&url), Some(&new_id()), prepare().into_bytes()).await;
    assert_eq!(busy.0, StatusCode::SERVICE_UNAVAILABLE);
    // ...and given back at the expiry, the handler dropped, with no reply sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = new_id();
    expect_202(&callee, &sink, &id, prepare().into_bytes()).await;
    release.notify_one();
    assert_eq!(sink.next().await.headers["request-id"], id.as_str());
    assert_eq!(sink.count_within(Duration::from_millis(300)).await, 0);
}

#[tokio::test]
async fn bad_asynchronous_requests_get_400_with_a_reject() {
    let sink = sink(vec![], Duration::ZERO).await;
    let callee = callee(Gate::default(), Some(fast_retries(sink.addr))).await;
    let good = sink.callback_url();
    let elsewhere = format!("http://{}/other", sink.addr);
    let other_port = format!("http://127.0.0.1:{}/callbacks", sink.addr.port() ^ 1);
    let id = new_id();
    let cases: [(Option<&str>, Option<&str>, &str); 6] = [
        (Some(&good), None, "Request-Id"),
        (Some(&good), Some("not-a-uuid"), "Request-Id"),
        (Some("/relative/url"), Some(&id), "Callback-Url"),
        (Some("ftp://host/x"), Some(&id), "Callback-Url"),
        (Some(&elsewhere), Some(&id), "not allowed"),
        (Some(&other_port), Some(&id), "not allowed"),
    ];
    for (callback, request_id, says) in cases {
        let (status, body) =
            post_async(&callee, callback, request_id, prepare().into_bytes()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{callback:?} {request_id:?}"
        );
        let reject = reject_of(body);
        assert_eq!(reject.code(), ErrorCode::F00_BAD_REQUEST);
        assert!(
            reject.message().contains(says),
            "{callback:?} {request_id:?}: {:?}",
            reject.message()
        );
    }
    // Not a Prepare: F01, as in the synchronous mode.
    let (status, body) =
        post_async(&callee, Some(&good), Some(&id), Bytes::from_static(b"junk")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reject_of(body).code(), ErrorCode::F01_INVALID_PACKET);
}

#[tokio::test]
async fn a_callback_url_agreed_out_of_band_is_used_when_none_is_named() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let callee = callee(Gate::default(), Some(fast_retries(sink.addr))).await;
    let (status, _) = post_async(&callee, None, Some(&new_id()), prepare().into_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(sink.next().await.path, "/callbacks");
}

#[tokio::test]
async fn without_async_config_the_preference_is_ignored() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let callee = callee(Gate::default(), None).await;
    let (status, body) = post_async(
        &callee,
        Some(&sink.callback_url()),
        Some(&new_id()),
        prepare().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, fulfill().into_bytes());
    assert_eq!(sink.count_within(Duration::from_millis(200)).await, 0);
}

#[tokio::test]
async fn a_request_id_in_progress_is_handled_once() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let (gate, release) = Gate::blocked();
    let callee = callee(gate.clone(), Some(fast_retries(sink.addr))).await;
    let id = new_id();
    for _ in 0..2 {
        expect_202(&callee, &sink, &id, prepare().into_bytes()).await;
    }
    release.notify_one();
    sink.next().await;
    assert_eq!(sink.count_within(Duration::from_millis(300)).await, 0);
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_answered_request_id_gets_the_same_outcome_and_is_not_handled_again() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let gate = Gate::default();
    let callee = callee(gate.clone(), Some(fast_retries(sink.addr))).await;
    let url = sink.callback_url();
    // A Fulfill and a Reject (wrong condition), each POSTed to the callback once.
    let fulfilled = (new_id(), prepare());
    let wrong = PrepareBuilder {
        amount: 10,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_secs(10))
            .unwrap(),
        execution_condition: test_condition(b"not the data"),
        destination: &Address::from_static("example.callee.bob"),
        data: b"hello",
    }
    .build()
    .unwrap();
    let rejected = (new_id(), wrong);
    let mut replies = Vec::new();
    for (id, prepare) in [&fulfilled, &rejected] {
        expect_202(&callee, &sink, id, prepare.clone().into_bytes()).await;
        let seen = sink.next().await;
        assert_eq!(seen.headers["request-id"], id.as_str());
        replies.push(seen.body);
    }
    assert_eq!(replies[0], fulfill().into_bytes());
    assert_eq!(
        reject_of(replies[1].clone()).code(),
        ErrorCode::F05_WRONG_CONDITION
    );
    // Retried once the replies are out: answered at once with the same outcome (a
    // synchronous 200, which RFC 7240 allows), neither handled nor POSTed again.
    for ((id, prepare), reply) in [&fulfilled, &rejected].into_iter().zip(&replies) {
        let (status, body) =
            post_async(&callee, Some(&url), Some(id), prepare.clone().into_bytes()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body, reply);
    }
    assert_eq!(sink.count_within(Duration::from_millis(300)).await, 0);
    assert_eq!(gate.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_answered_request_id_is_forgotten_at_the_prepare_expiry() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let gate = Gate::default();
    let callee = callee(gate.clone(), Some(fast_retries(sink.addr))).await;
    let id = new_id();
    expect_202(
        &callee,
        &sink,
        &id,
        prepare_expiring_in(400, b"hello").into_bytes(),
    )
    .await;
    sink.next().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    // A new Prepare under the old id, after the first one expired: a new request.
    expect_202(&callee, &sink, &id, prepare().into_bytes()).await;
    assert_eq!(sink.next().await.body, fulfill().into_bytes());
    assert_eq!(gate.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn answered_request_ids_are_bounded_forgetting_the_soonest_to_expire() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let gate = Gate::default();
    let config = fast_retries(sink.addr).with_max_answered(1);
    let callee = callee(gate.clone(), Some(config)).await;
    let (soon, late) = (new_id(), new_id());
    expect_202(
        &callee,
        &sink,
        &soon,
        prepare_expiring_in(5_000, b"hello").into_bytes(),
    )
    .await;
    sink.next().await;
    expect_202(&callee, &sink, &late, prepare().into_bytes()).await;
    sink.next().await;
    // `late` is remembered; `soon` was forgotten to make room, and is handled again.
    let (status, _) = post_async(
        &callee,
        Some(&sink.callback_url()),
        Some(&late),
        prepare().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    expect_202(&callee, &sink, &soon, prepare().into_bytes()).await;
    sink.next().await;
    assert_eq!(gate.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn callback_urls_with_dot_segments_are_refused() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let gate = Gate::default();
    let callee = callee(gate.clone(), Some(fast_retries(sink.addr))).await;
    for path in [
        "/callbacks/../admin",
        "/callbacks/./alice",
        "/callbacks/alice/..",
        "/callbacks/%2e%2e/admin",
        "/callbacks/%2E%2E/admin",
        "/callbacks/.%2e/admin",
        "/callbacks/%2e./admin",
        "/callbacks/%2e/alice",
        "/callbacks/x/%2e%2E",
    ] {
        let url = format!("http://{}{path}", sink.addr);
        let (status, body) =
            post_async(&callee, Some(&url), Some(&new_id()), prepare().into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let reject = reject_of(body);
        assert_eq!(reject.code(), ErrorCode::F00_BAD_REQUEST, "{path}");
        assert!(
            reject.message().contains("Callback-Url"),
            "{path}: {}",
            reject.message()
        );
    }
    assert_eq!(sink.count_within(Duration::from_millis(200)).await, 0);
    assert_eq!(gate.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn too_many_requests_in_progress_is_503() {
    let sink = sink(vec![], Duration::ZERO).await;
    let (gate, _release) = Gate::blocked();
    let config = fast_retries(sink.addr).with_max_pending(1);
    let callee = callee(gate, Some(config)).await;
    let url = sink.callback_url();
    let first = post_async(&callee, Some(&url), Some(&new_id()), prepare().into_bytes()).await;
    assert_eq!(first.0, StatusCode::ACCEPTED);
    let second = post_async(&callee, Some(&url), Some(&new_id()), prepare().into_bytes()).await;
    assert_eq!(second.0, StatusCode::SERVICE_UNAVAILABLE);
}

/// The caller's side: an asynchronous `HttpClient` and its callback endpoint, talking to a
/// fake callee that answers 202 and reports what it got.
struct Caller {
    server: HttpServer,
    client: HttpClient,
    callbacks: Callbacks,
    /// The token the callee uses to POST replies (account `bob`), and one of another
    /// account (`carol`).
    bob: String,
    carol: String,
}

impl Caller {
    fn callback_url(&self) -> String {
        format!("http://{}/callbacks/bob", self.server.local_addr())
    }

    async fn reply(&self, token: &str, id: Option<&str>, body: Bytes) -> StatusCode {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(id) = id {
            headers.push(("request-id", id));
        }
        post(&self.callback_url(), &headers, body).await.0
    }
}

async fn caller(callee_url: String, callbacks: Callbacks) -> Caller {
    let (auth, tokens) = common::authenticator(&["bob", "carol"]).await;
    let endpoint = Endpoint::new(
        Arc::new(auth),
        TestReceiver::new(Address::from_static("example.caller")),
        ServerConfig::default(),
    );
    let service =
        IlpHttpService::new(endpoint).with_callbacks("/callbacks/{account}", callbacks.clone());
    let server = HttpServer::bind_service("127.0.0.1:0".parse().unwrap(), service)
        .await
        .unwrap();
    let callback_url = format!("http://{}/callbacks/bob", server.local_addr());
    let config = ClientConfig::new(callee_url, Address::from_static("example.caller"))
        .unwrap()
        .with_auth(OutgoingAuth::bearer("token-for-the-callee"))
        .with_async(AsyncCaller::new(
            callback_url.parse().unwrap(),
            callbacks.clone(),
            "bob".parse().unwrap(),
        ));
    Caller {
        server,
        client: HttpClient::new(config).unwrap(),
        callbacks,
        bob: tokens[0].clone(),
        carol: tokens[1].clone(),
    }
}

fn ilp_request(prepare: Prepare) -> IlpRequest {
    IlpRequest {
        from: Principal::account("someone".parse().unwrap()),
        prepare,
    }
}

#[tokio::test]
async fn caller_matches_the_reply_by_request_id_and_the_callback_endpoint_answers() {
    let mut callee = sink(vec![StatusCode::ACCEPTED], Duration::ZERO).await;
    let caller =
        Arc::new(caller(format!("http://{}/ilp", callee.addr), Callbacks::default()).await);
    let sent = prepare();
    let sending = tokio::spawn({
        let caller = caller.clone();
        let sent = sent.clone();
        async move { caller.client.handle(ilp_request(sent)).await }
    });
    let seen = callee.next().await;
    assert_eq!(seen.headers["prefer"], "respond-async");
    assert_eq!(seen.headers["callback-url"], caller.callback_url().as_str());
    assert_eq!(seen.headers["authorization"], "Bearer token-for-the-callee");
    assert_eq!(seen.body, sent.into_bytes());
    let id = seen.headers["request-id"].to_str().unwrap().to_owned();
    assert!(id.parse::<RequestId>().is_ok());
    assert_eq!(caller.callbacks.pending(), 1);

    let reply = fulfill().into_bytes();
    // Refused without touching the waiting request.
    assert_eq!(
        caller.reply("wrong-token", Some(&id), reply.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        caller.reply(&caller.bob, None, reply.clone()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        caller.reply(&caller.bob, Some("junk"), reply.clone()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        caller
            .reply(&caller.bob, Some(&new_id()), reply.clone())
            .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        caller
            .reply(&caller.bob, Some(&id), Bytes::from_static(b"junk"))
            .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        caller
            .reply(&caller.bob, Some(&id), prepare().into_bytes())
            .await,
        StatusCode::BAD_REQUEST
    );
    // Another account, on its own path or on bob's: not its request.
    let carol_url = format!("http://{}/callbacks/carol", caller.server.local_addr());
    let carol_auth = format!("Bearer {}", caller.carol);
    let headers = [("authorization", carol_auth.as_str()), ("request-id", &id)];
    assert_eq!(
        post(&carol_url, &headers, reply.clone()).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        caller.reply(&caller.carol, Some(&id), reply.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(!sending.is_finished());

    // The first good reply wins; a second one is refused.
    assert_eq!(
        caller.reply(&caller.bob, Some(&id), reply.clone()).await,
        StatusCode::OK
    );
    assert_eq!(
        caller.reply(&caller.bob, Some(&id), reply.clone()).await,
        StatusCode::BAD_REQUEST
    );
    let result = sending.await.unwrap();
    assert_eq!(result.unwrap().into_bytes(), reply);
    assert_eq!(caller.callbacks.pending(), 0);
}

#[tokio::test]
async fn caller_rejects_r00_at_the_expiry_and_forgets_the_request() {
    let mut callee = sink(vec![StatusCode::ACCEPTED], Duration::ZERO).await;
    let caller = caller(format!("http://{}/ilp", callee.addr), Callbacks::default()).await;
    let result = caller
        .client
        .handle(ilp_request(prepare_expiring_in(300, b"hello")))
        .await;
    let reject = result.unwrap_err();
    assert_eq!(reject.code(), ErrorCode::R00_TRANSFER_TIMED_OUT);
    assert_eq!(reject.triggered_by().unwrap().as_str(), "example.caller");
    assert_eq!(caller.callbacks.pending(), 0);
    let id = callee.next().await.headers["request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        caller
            .reply(&caller.bob, Some(&id), fulfill().into_bytes())
            .await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn caller_takes_a_synchronous_answer_from_a_peer_without_the_async_mode() {
    // Answers 200 whatever the request prefers.
    let callee = callee(Gate::default(), None).await;
    let callbacks = Callbacks::default();
    let mut caller = caller(callee.url(), callbacks).await;
    // The caller needs the callee's token: rebuild its client with it.
    let config = ClientConfig::new(callee.url(), Address::from_static("example.caller"))
        .unwrap()
        .with_auth(OutgoingAuth::bearer(callee.token.clone()))
        .with_async(AsyncCaller::new(
            caller.callback_url().parse().unwrap(),
            caller.callbacks.clone(),
            "bob".parse().unwrap(),
        ));
    caller.client = HttpClient::new(config).unwrap();
    let result = caller.client.handle(ilp_request(prepare())).await;
    assert_eq!(result.unwrap().into_bytes(), fulfill().into_bytes());
    assert_eq!(caller.callbacks.pending(), 0);
}

#[tokio::test]
async fn caller_with_a_full_table_rejects_t03_without_sending() {
    let mut callee = sink(vec![StatusCode::ACCEPTED], Duration::ZERO).await;
    let caller = Arc::new(caller(format!("http://{}/ilp", callee.addr), Callbacks::new(1)).await);
    let first = tokio::spawn({
        let caller = caller.clone();
        async move {
            caller
                .client
                .handle(ilp_request(prepare_expiring_in(1000, b"hello")))
                .await
        }
    });
    callee.next().await;
    let second = caller.client.handle(ilp_request(prepare())).await;
    assert_eq!(second.unwrap_err().code(), ErrorCode::T03_CONNECTOR_BUSY);
    assert_eq!(callee.count_within(Duration::from_millis(100)).await, 0);
    assert_eq!(
        first.await.unwrap().unwrap_err().code(),
        ErrorCode::R00_TRANSFER_TIMED_OUT
    );
}

/// Two nodes, both ours: A sends to B asynchronously, B replies to A's callback endpoint.
#[tokio::test]
async fn end_to_end_both_ours_under_load() {
    // A's server first: B's policy needs its address.
    let (a_auth, a_tokens) = common::authenticator(&["b"]).await;
    let callbacks = Callbacks::default();
    let a_service = IlpHttpService::new(Endpoint::new(
        Arc::new(a_auth),
        TestReceiver::new(Address::from_static("example.a")),
        ServerConfig::default(),
    ))
    .with_callbacks("/ilp/callbacks", callbacks.clone());
    let a_server = HttpServer::bind_service("127.0.0.1:0".parse().unwrap(), a_service)
        .await
        .unwrap();
    let callback_url = format!("http://{}/ilp/callbacks", a_server.local_addr());

    let (b_auth, b_tokens) = common::authenticator(&["a"]).await;
    let policy = CallbackRoutes::new().allow(
        "a".parse().unwrap(),
        callback_url.parse().unwrap(),
        OutgoingAuth::bearer(a_tokens[0].clone()),
    );
    let b_service = IlpHttpService::new(Endpoint::new(
        Arc::new(b_auth),
        TestReceiver::new(Address::from_static("example.b")),
        ServerConfig::default(),
    ))
    .with_async(AsyncConfig::new(policy));
    let b_server = HttpServer::bind_service("127.0.0.1:0".parse().unwrap(), b_service)
        .await
        .unwrap();

    let config = ClientConfig::new(
        format!("http://{}/accounts/a/ilp", b_server.local_addr()),
        Address::from_static("example.a"),
    )
    .unwrap()
    .with_auth(OutgoingAuth::bearer(b_tokens[0].clone()))
    .with_async(AsyncCaller::new(
        callback_url.parse().unwrap(),
        callbacks.clone(),
        "b".parse().unwrap(),
    ));
    let client = HttpClient::new(config).unwrap();

    let mut senders = Vec::new();
    for sender in 0..16u32 {
        let client = client.clone();
        senders.push(tokio::spawn(async move {
            let mut fulfilled = 0;
            for i in 0..50u32 {
                let data = format!("{sender}-{i}");
                let prepare = prepare_expiring_in(20_000, data.as_bytes());
                let fulfill = client.handle(ilp_request(prepare)).await.unwrap();
                assert_eq!(fulfill.data(), data.as_bytes());
                fulfilled += 1;
            }
            fulfilled
        }));
    }
    let mut total = 0;
    for sender in senders {
        total += sender.await.unwrap();
    }
    assert_eq!(total, 16 * 50);
    assert_eq!(callbacks.pending(), 0);

    // A Reject comes back the same way.
    let wrong = PrepareBuilder {
        amount: 1,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_secs(10))
            .unwrap(),
        execution_condition: test_condition(b"other"),
        destination: &Address::from_static("example.b.x"),
        data: b"hello",
    }
    .build()
    .unwrap();
    let reject = client.handle(ilp_request(wrong)).await.unwrap_err();
    assert_eq!(reject.code(), ErrorCode::F05_WRONG_CONDITION);
    assert_eq!(reject.triggered_by().unwrap().as_str(), "example.b");
}

/// The current draft (RFC 0035 draft 3) drops `Prefer`: a `Callback-Url` alone asks for the
/// asynchronous mode.
#[tokio::test]
async fn a_draft_3_request_without_prefer_is_asynchronous() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let callee = callee(Gate::default(), Some(fast_retries(sink.addr))).await;
    let auth = format!("Bearer {}", callee.token);
    let url = sink.callback_url();
    let id = "42EE09C8-A6DE-4AE3-8A47-4732B0CBB07B";
    let headers = [
        ("authorization", auth.as_str()),
        ("accept", "application/octet-stream"),
        ("callback-url", url.as_str()),
        ("request-id", id),
    ];
    let (status, _) = post(&callee.url(), &headers, prepare().into_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let seen = sink.next().await;
    // Sent back exactly as received.
    assert_eq!(seen.headers["request-id"], id);
    assert_eq!(seen.body, fulfill().into_bytes());
}

#[tokio::test]
async fn graceful_shutdown_waits_for_the_replies_in_progress() {
    let mut sink = sink(vec![], Duration::ZERO).await;
    let (gate, release) = Gate::blocked();
    let callee = callee(gate, Some(fast_retries(sink.addr))).await;
    expect_202(&callee, &sink, &new_id(), prepare().into_bytes()).await;
    let shutdown = tokio::spawn(callee.server.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!shutdown.is_finished(), "did not wait for the reply");
    release.notify_one();
    assert_eq!(sink.next().await.body, fulfill().into_bytes());
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .expect("shutdown did not end after the reply")
        .unwrap();
}
