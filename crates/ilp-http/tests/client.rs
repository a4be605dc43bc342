//! `HttpClient` against small hyper (and raw TCP) test servers on loopback.
#![cfg(feature = "tokio")]
#![allow(missing_docs)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ilp_auth::jwt::{self, JwtConfig, JwtKey, JwtMinter};
use ilp_core::{IlpResult, PacketHandler, Principal, Request};
use ilp_http::{ClientConfig, HttpClient, OutgoingAuth};
use ilp_packet::{
    Address, ErrorCode, Fulfill, FulfillBuilder, Fulfillment, Prepare, PrepareBuilder, Reject,
    RejectBuilder, Timestamp,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const NODE: &str = "test.sender";

fn node() -> Address {
    Address::from_static(NODE)
}

fn fulfillment() -> Fulfillment {
    Fulfillment::from_bytes([7; 32])
}

fn prepare_expiring_in(ms: u64) -> Prepare {
    let destination = Address::from_static("test.receiver.bob");
    PrepareBuilder {
        amount: 100,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_millis(ms))
            .unwrap(),
        execution_condition: fulfillment().condition(),
        destination: &destination,
        data: b"hello",
    }
    .build()
    .unwrap()
}

fn prepare() -> Prepare {
    prepare_expiring_in(10_000)
}

fn request(prepare: Prepare) -> Request {
    Request {
        from: Principal::account("alice".parse().unwrap()),
        prepare,
    }
}

fn fulfill_packet() -> Fulfill {
    FulfillBuilder {
        fulfillment: fulfillment(),
        data: b"thanks",
    }
    .build()
    .unwrap()
}

fn peer_reject() -> Reject {
    RejectBuilder {
        code: ErrorCode::F99_APPLICATION_ERROR,
        triggered_by: &Address::from_static("test.receiver"),
        message: "no thanks",
        data: b"some data",
    }
    .build()
    .unwrap()
}

/// What the test server saw of one request.
#[derive(Debug)]
struct Seen {
    headers: HeaderMap,
    body: Bytes,
}

/// A hyper server (HTTP/1.1 and HTTP/2 prior knowledge) answering every request with
/// `respond`, after `delay`. Reports each request on the channel and counts connections.
struct TestServer {
    url: http::Uri,
    connections: Arc<AtomicUsize>,
    seen: mpsc::UnboundedReceiver<Seen>,
}

async fn serve(status: StatusCode, body: Bytes, delay: Duration) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let (tx, seen) = mpsc::unbounded_channel();
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let tx = tx.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    let body = body.clone();
                    async move {
                        let (parts, incoming) = req.into_parts();
                        let bytes = incoming.collect().await.unwrap().to_bytes();
                        let _ = tx.send(Seen {
                            headers: parts.headers,
                            body: bytes,
                        });
                        tokio::time::sleep(delay).await;
                        let response = Response::builder()
                            .status(status)
                            .header("content-type", "application/octet-stream")
                            .body(Full::new(body))
                            .unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer {
        url: url(addr),
        connections,
        seen,
    }
}

fn url(addr: SocketAddr) -> http::Uri {
    format!("http://{addr}/accounts/alice/ilp").parse().unwrap()
}

fn client(url: http::Uri, auth: OutgoingAuth) -> HttpClient {
    HttpClient::new(ClientConfig::new(url, node()).unwrap().with_auth(auth)).unwrap()
}

fn assert_reject(result: &IlpResult, code: ErrorCode) -> Reject {
    let reject = result.clone().expect_err("expected a Reject");
    assert_eq!(reject.code(), code, "message: {}", reject.message());
    reject
}

fn assert_own_reject(result: &IlpResult, code: ErrorCode) -> Reject {
    let reject = assert_reject(result, code);
    assert_eq!(reject.triggered_by(), Some(node()));
    reject
}

#[tokio::test]
async fn fulfill_comes_back_and_the_prepare_bytes_go_out_unchanged() {
    let mut server = serve(StatusCode::OK, fulfill_packet().to_bytes(), Duration::ZERO).await;
    let client = client(server.url.clone(), OutgoingAuth::None);
    let prepare = prepare();
    let result = client.handle(request(prepare.clone())).await;
    assert_eq!(result, Ok(fulfill_packet()));
    let seen = server.seen.recv().await.unwrap();
    assert_eq!(&seen.body[..], prepare.as_bytes());
    assert_eq!(seen.headers["content-type"], "application/octet-stream");
    assert_eq!(seen.headers["accept"], "application/octet-stream");
    assert!(seen.headers.get("authorization").is_none());
}

#[tokio::test]
async fn peer_reject_is_passed_through_unchanged() {
    let server = serve(StatusCode::OK, peer_reject().to_bytes(), Duration::ZERO).await;
    let client = client(server.url.clone(), OutgoingAuth::None);
    let result = client.handle(request(prepare())).await;
    let reject = result.expect_err("a Reject");
    assert_eq!(reject, peer_reject());
    assert_eq!(reject.as_bytes(), peer_reject().as_bytes());
}

#[tokio::test]
async fn connection_refused_is_t01() {
    // Bind then drop to get a port nobody listens on.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = client(url(addr), OutgoingAuth::None);
    let result = client.handle(request(prepare())).await;
    assert_own_reject(&result, ErrorCode::T01_PEER_UNREACHABLE);
}

#[tokio::test]
async fn slow_peer_is_r00_at_the_expiry() {
    let server = serve(
        StatusCode::OK,
        fulfill_packet().to_bytes(),
        Duration::from_secs(5),
    )
    .await;
    let client = client(server.url.clone(), OutgoingAuth::None);
    let started = Instant::now();
    let result = client.handle(request(prepare_expiring_in(300))).await;
    let took = started.elapsed();
    assert_own_reject(&result, ErrorCode::R00_TRANSFER_TIMED_OUT);
    assert!(took >= Duration::from_millis(250), "too early: {took:?}");
    assert!(took < Duration::from_millis(800), "too late: {took:?}");
}

#[tokio::test]
async fn client_still_works_after_a_timeout() {
    let server = serve(
        StatusCode::OK,
        fulfill_packet().to_bytes(),
        Duration::from_millis(300),
    )
    .await;
    let client = client(server.url.clone(), OutgoingAuth::None);
    let result = client.handle(request(prepare_expiring_in(100))).await;
    assert_own_reject(&result, ErrorCode::R00_TRANSFER_TIMED_OUT);
    for _ in 0..2 {
        let result = client.handle(request(prepare_expiring_in(3_000))).await;
        assert_eq!(result, Ok(fulfill_packet()));
    }
}

#[tokio::test]
async fn already_expired_prepare_is_r00_without_a_request() {
    let mut server = serve(StatusCode::OK, fulfill_packet().to_bytes(), Duration::ZERO).await;
    let clock = ilp_core::ManualClock::new(Timestamp::now());
    let prepare = prepare_expiring_in(1_000);
    clock.advance(Duration::from_secs(2));
    let client = HttpClient::with_clock(
        ClientConfig::new(server.url.clone(), node()).unwrap(),
        clock,
    )
    .unwrap();
    let result = client.handle(request(prepare)).await;
    assert_own_reject(&result, ErrorCode::R00_TRANSFER_TIMED_OUT);
    assert!(server.seen.try_recv().is_err());
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn server_error_is_t00() {
    let server = serve(
        StatusCode::INTERNAL_SERVER_ERROR,
        Bytes::from_static(b"oops"),
        Duration::ZERO,
    )
    .await;
    let client = client(server.url.clone(), OutgoingAuth::None);
    let result = client.handle(request(prepare())).await;
    let reject = assert_own_reject(&result, ErrorCode::T00_INTERNAL_ERROR);
    assert!(reject.message().contains("500"), "{}", reject.message());
}

#[tokio::test]
async fn client_errors_are_f00_with_the_status() {
    for status in [StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND] {
        // A 4xx body that even decodes as a Reject is not passed through.
        let server = serve(status, peer_reject().to_bytes(), Duration::ZERO).await;
        let client = client(server.url.clone(), OutgoingAuth::None);
        let result = client.handle(request(prepare())).await;
        let reject = assert_own_reject(&result, ErrorCode::F00_BAD_REQUEST);
        assert!(
            reject.message().contains(status.as_str()),
            "{}",
            reject.message()
        );
    }
}

#[tokio::test]
async fn garbage_or_prepare_body_is_t00() {
    for body in [
        Bytes::from_static(b"not an ILP packet"),
        Bytes::new(),
        prepare().to_bytes(),
    ] {
        let server = serve(StatusCode::OK, body, Duration::ZERO).await;
        let client = client(server.url.clone(), OutgoingAuth::None);
        let result = client.handle(request(prepare())).await;
        assert_own_reject(&result, ErrorCode::T00_INTERNAL_ERROR);
    }
}

#[tokio::test]
async fn oversized_body_with_content_length_is_t00() {
    let server = serve(
        StatusCode::OK,
        Bytes::from(vec![0u8; 40_001]),
        Duration::ZERO,
    )
    .await;
    let client = client(server.url.clone(), OutgoingAuth::None);
    let result = client.handle(request(prepare())).await;
    assert_own_reject(&result, ErrorCode::T00_INTERNAL_ERROR);
}

/// A raw TCP server: reads one request head, writes `head`, then `chunk` forever (it never
/// finishes the body), so a client that read it all would hang until the expiry.
async fn endless_server(head: &'static str, chunk: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let chunk = chunk.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = stream.read(&mut buf).await;
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                while stream.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn oversized_chunked_body_is_t00_without_reading_it_all() {
    let mut chunk = format!("{:x}\r\n", 10_000).into_bytes();
    chunk.extend_from_slice(&[0u8; 10_000]);
    chunk.extend_from_slice(b"\r\n");
    let addr = endless_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n",
        chunk,
    )
    .await;
    let client = client(url(addr), OutgoingAuth::None);
    let started = Instant::now();
    let result = client.handle(request(prepare_expiring_in(5_000))).await;
    assert_own_reject(&result, ErrorCode::T00_INTERNAL_ERROR);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn oversized_declared_length_is_t00_before_the_body() {
    let addr = endless_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 1000000\r\n\r\n",
        vec![0u8; 1000],
    )
    .await;
    let client = client(url(addr), OutgoingAuth::None);
    let started = Instant::now();
    let result = client.handle(request(prepare_expiring_in(5_000))).await;
    assert_own_reject(&result, ErrorCode::T00_INTERNAL_ERROR);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn static_bearer_token_is_sent() {
    let mut server = serve(StatusCode::OK, fulfill_packet().to_bytes(), Duration::ZERO).await;
    let client = client(server.url.clone(), OutgoingAuth::bearer("s3cret-token"));
    client.handle(request(prepare())).await.unwrap();
    let seen = server.seen.recv().await.unwrap();
    assert_eq!(seen.headers["authorization"], "Bearer s3cret-token");
    // Neither the auth nor the client shows the token.
    let auth = OutgoingAuth::bearer("s3cret-token");
    assert!(!format!("{auth:?}").contains("s3cret"));
    assert!(!format!("{client:?}").contains("s3cret"));
}

#[tokio::test]
async fn jwt_is_sent_with_bearer_and_verifies() {
    let key = JwtKey::new([9u8; 32]).unwrap();
    let minter = JwtMinter::new(
        key.clone(),
        Some("alice".into()),
        JwtMinter::DEFAULT_LIFETIME,
    );
    let mut server = serve(StatusCode::OK, fulfill_packet().to_bytes(), Duration::ZERO).await;
    let client = client(
        server.url.clone(),
        OutgoingAuth::jwt(move |now| minter.token(now)),
    );
    client.handle(request(prepare())).await.unwrap();
    let seen = server.seen.recv().await.unwrap();
    let header = seen.headers["authorization"].to_str().unwrap();
    let token = header.strip_prefix("Bearer ").expect("Bearer prefix");
    let claims = jwt::verify(
        token,
        &key,
        "alice",
        Timestamp::now(),
        &JwtConfig::default(),
    )
    .expect("token verifies");
    assert_eq!(claims.sub.as_deref(), Some("alice"));
    assert_eq!(
        jwt::verify(token, &key, "bob", Timestamp::now(), &JwtConfig::default()),
        Err(jwt::JwtError::WrongSubject)
    );
}

#[tokio::test]
async fn jwt_without_bearer_for_ilp_plugin_http() {
    let key = JwtKey::new([9u8; 32]).unwrap();
    let minter = JwtMinter::new(key.clone(), Some("alice".into()), Duration::from_secs(30));
    let mut server = serve(StatusCode::OK, fulfill_packet().to_bytes(), Duration::ZERO).await;
    let client = client(
        server.url.clone(),
        OutgoingAuth::jwt_without_bearer(move |now| minter.token(now)),
    );
    client.handle(request(prepare())).await.unwrap();
    let seen = server.seen.recv().await.unwrap();
    let token = seen.headers["authorization"].to_str().unwrap();
    assert!(!token.starts_with("Bearer"));
    jwt::verify(
        token,
        &key,
        "alice",
        Timestamp::now(),
        &JwtConfig::default(),
    )
    .expect("token verifies");
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection() {
    let mut server = serve(StatusCode::OK, fulfill_packet().to_bytes(), Duration::ZERO).await;
    let client = client(server.url.clone(), OutgoingAuth::None);
    for _ in 0..5 {
        assert_eq!(
            client.handle(request(prepare())).await,
            Ok(fulfill_packet())
        );
        server.seen.recv().await.unwrap();
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http2_prior_knowledge_multiplexes_on_one_connection() {
    let server = serve(
        StatusCode::OK,
        fulfill_packet().to_bytes(),
        Duration::from_millis(50),
    )
    .await;
    let client = HttpClient::new(
        ClientConfig::new(server.url.clone(), node())
            .unwrap()
            .with_http2_only(true),
    )
    .unwrap();
    // The first request opens the connection; the next ones share it, concurrently.
    assert_eq!(
        client.handle(request(prepare())).await,
        Ok(fulfill_packet())
    );
    let results =
        futures::future::join_all((0..8).map(|_| client.handle(request(prepare())))).await;
    assert!(results.iter().all(|r| r == &Ok(fulfill_packet())));
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn unsupported_urls_and_bad_tokens_are_refused() {
    use ilp_http::ClientConfigError as E;
    // https:// needs the `rustls` feature (tests/tls.rs).
    let https = ClientConfig::new("https://peer.example/ilp", node());
    if cfg!(feature = "rustls") {
        assert!(HttpClient::new(https.unwrap()).is_ok());
    } else {
        assert_eq!(
            https.unwrap_err(),
            E::UnsupportedScheme {
                url: "peer URL",
                scheme: "https".into()
            }
        );
    }
    let new = |url: &str| ClientConfig::new(url, node()).map(|_| ());
    let peer = "peer URL";
    assert_eq!(
        new("ftp://peer.example/ilp"),
        Err(E::UnsupportedScheme {
            url: peer,
            scheme: "ftp".into()
        })
    );
    assert_eq!(new("/relative/ilp"), Err(E::RelativeUrl { url: peer }));
    assert_eq!(
        new("http://user:pw@peer.example/ilp"),
        Err(E::CredentialsInUrl { url: peer })
    );
    assert!(matches!(
        new("http://peer example/ilp"),
        Err(E::InvalidUrl {
            url: "peer URL",
            ..
        })
    ));
    let bad = ClientConfig::new("http://peer.example/ilp", node())
        .unwrap()
        .with_auth(OutgoingAuth::bearer("line\nbreak"));
    let error = HttpClient::new(bad).unwrap_err();
    assert_eq!(error, E::InvalidToken);
    assert!(!error.to_string().contains("line"));
}

/// Issue 17: `http://127.0.0.1:99999/x` was accepted, and hyper-util's connector, finding no
/// 16-bit port in it, sent the POST and its bearer token to port 80.
#[test]
fn invalid_ports_are_refused_at_construction_and_named() {
    use ilp_http::ClientConfigError as E;
    for (url, port) in [
        ("http://127.0.0.1:99999/x", "99999"),
        ("http://127.0.0.1:65536/x", "65536"),
        ("http://127.0.0.1:0/x", "0"),
        ("http://127.0.0.1:/x", ""),
        ("http://[::1]:123456/x", "123456"),
    ] {
        let error = ClientConfig::new(url, node()).unwrap_err();
        assert_eq!(
            error,
            E::InvalidPort {
                url: "peer URL",
                port: port.into()
            },
            "{url}"
        );
        assert!(error.to_string().contains(&format!("`{port}`")), "{error}");
    }
    // The pub field changed after construction is checked again by the client.
    let mut config = ClientConfig::new("http://127.0.0.1:7770/x", node()).unwrap();
    config.url = "http://127.0.0.1:99999/x".parse().unwrap();
    assert_eq!(
        HttpClient::new(config.with_auth(OutgoingAuth::bearer("secret"))).unwrap_err(),
        E::InvalidPort {
            url: "peer URL",
            port: "99999".into()
        }
    );
}

#[test]
fn invalid_hosts_are_refused_at_construction_and_named() {
    use ilp_http::ClientConfigError as E;
    for (url, host) in [
        ("http://999.0.0.1:7770/x", "999.0.0.1"),
        ("http://10.1.2/x", "10.1.2"),
        ("http://peer..example/x", "peer..example"),
    ] {
        assert_eq!(
            ClientConfig::new(url, node()).map(|_| ()),
            Err(E::InvalidHost {
                url: "peer URL",
                host: host.into()
            }),
            "{url}"
        );
    }
    // Percent-encoded hosts do not even parse.
    assert!(matches!(
        ClientConfig::new("http://peer%2eexample/x", node()),
        Err(E::InvalidUrl {
            url: "peer URL",
            ..
        })
    ));
}

#[test]
fn invalid_callback_urls_are_refused_and_named() {
    use ilp_http::{AsyncCaller, Callbacks, ClientConfigError as E};
    let with_callback = |callback: &str| {
        let caller = AsyncCaller::new(
            callback.parse().unwrap(),
            Callbacks::default(),
            "peer".parse().unwrap(),
        );
        let config = ClientConfig::new("http://127.0.0.1:7770/x", node()).unwrap();
        HttpClient::new(config.with_async(caller)).map(|_| ())
    };
    let callback = "callback URL";
    assert_eq!(
        with_callback("http://me.example:99999/cb"),
        Err(E::InvalidPort {
            url: callback,
            port: "99999".into()
        })
    );
    assert_eq!(
        with_callback("ftp://me.example/cb"),
        Err(E::UnsupportedScheme {
            url: callback,
            scheme: "ftp".into()
        })
    );
    assert_eq!(
        with_callback("http://me.example/cb/%2e%2e/admin"),
        Err(E::DotSegment { url: callback })
    );
    assert_eq!(with_callback("http://me.example/cb"), Ok(()));
}

#[test]
fn failure_table() {
    use ilp_http::{failure_reject, SendFailure};
    let cases = [
        (SendFailure::Connect, "T01"),
        (SendFailure::Transport, "T01"),
        (SendFailure::Expired, "R00"),
        (SendFailure::Status(StatusCode::BAD_GATEWAY), "T00"),
        (SendFailure::Status(StatusCode::FORBIDDEN), "F00"),
        (SendFailure::Status(StatusCode::ACCEPTED), "T00"),
        (SendFailure::InvalidBody, "T00"),
        (SendFailure::BodyTooLarge, "T00"),
    ];
    for (failure, code) in cases {
        let reject = failure_reject(failure, &node());
        assert_eq!(reject.code().as_str(), code, "{failure:?}");
        assert_eq!(reject.triggered_by(), Some(node()));
    }
}
