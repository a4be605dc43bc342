//! ILP-over-HTTP server over loopback: every status code, both bearer forms, HTTP/2 prior
//! knowledge, a body too large to read, and many concurrent senders.
#![cfg(feature = "tokio")]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
mod common;

use ilp_core::{test_condition, AuthError, Authenticator, Credentials, Principal, TestReceiver};
use ilp_http::{HttpServer, ServerConfig};
use ilp_packet::{Address, ErrorCode, Fulfill, Prepare, PrepareBuilder, Reject, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NODE: &str = "example.node";

struct Fixture {
    server: HttpServer,
    token: String,
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.local_addr())
    }
}

async fn start_with(config: ServerConfig) -> Fixture {
    let (auth, mut tokens) = common::authenticator(&["alice"]).await;
    let token = tokens.remove(0);
    let node = Address::from_static(NODE);
    let server = HttpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(auth),
        TestReceiver::new(node.clone()),
        config.with_node_address(node),
    )
    .await
    .unwrap();
    Fixture { server, token }
}

async fn start() -> Fixture {
    start_with(ServerConfig::default()).await
}

/// An authenticator that always fails with the error `make` gives.
struct Failing(fn() -> AuthError);

#[async_trait]
impl Authenticator for Failing {
    async fn authenticate(
        &self,
        _credentials: Credentials<'_>,
        _source: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        Err((self.0)())
    }
}

async fn start_failing(make: fn() -> AuthError) -> HttpServer {
    HttpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(Failing(make)),
        TestReceiver::new(Address::from_static(NODE)),
        ServerConfig::default(),
    )
    .await
    .unwrap()
}

fn prepare(data: &[u8], condition_of: &[u8]) -> Prepare {
    PrepareBuilder {
        amount: 10,
        expires_at: Timestamp::MAX,
        execution_condition: test_condition(condition_of),
        destination: &Address::from_static("example.node.bob"),
        data,
    }
    .build()
    .unwrap()
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn post(url: &str, auth: Option<&str>, body: Bytes) -> Request<Full<Bytes>> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    request.body(Full::new(body)).unwrap()
}

async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Response<Bytes> {
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

fn assert_octet_stream(response: &Response<Bytes>) {
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/octet-stream"
    );
}

#[tokio::test]
async fn valid_prepare_is_fulfilled() {
    let f = start().await;
    let request = post(
        &f.url("/accounts/alice/ilp"),
        Some(&format!("Bearer {}", f.token)),
        prepare(b"hello", b"hello").into_bytes(),
    );
    let response = send(&client(), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_octet_stream(&response);
    let fulfill = Fulfill::decode(response.into_body()).unwrap();
    assert_eq!(fulfill.data(), b"hello");
    f.server.shutdown().await;
}

#[tokio::test]
async fn wrong_condition_is_a_200_reject() {
    let f = start().await;
    let request = post(
        &f.url("/accounts/alice/ilp"),
        Some(&format!("Bearer {}", f.token)),
        prepare(b"hello", b"other").into_bytes(),
    );
    let response = send(&client(), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_octet_stream(&response);
    let reject = Reject::decode(response.into_body()).unwrap();
    assert_eq!(reject.code(), ErrorCode::F05_WRONG_CONDITION);
}

#[tokio::test]
async fn bare_token_and_lower_case_scheme_are_accepted() {
    let f = start().await;
    for auth in [f.token.clone(), format!("bearer {}", f.token)] {
        let mut request = post(
            &f.url("/accounts/alice/ilp"),
            Some(&auth),
            prepare(b"x", b"x").into_bytes(),
        );
        // ilp-plugin-http's content type.
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/ilp+octet-stream".parse().unwrap(),
        );
        let response = send(&client(), request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(Fulfill::decode(response.into_body()).is_ok());
    }
}

#[tokio::test]
async fn missing_content_type_is_accepted() {
    let f = start().await;
    let mut request = post(
        &f.url("/accounts/alice/ilp"),
        Some(&format!("Bearer {}", f.token)),
        prepare(b"x", b"x").into_bytes(),
    );
    request.headers_mut().remove(header::CONTENT_TYPE);
    assert_eq!(send(&client(), request).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn undecodable_prepare_is_400_with_f01_reject() {
    let f = start().await;
    let request = post(
        &f.url("/accounts/alice/ilp"),
        Some(&format!("Bearer {}", f.token)),
        Bytes::from_static(b"\x0c\x05hello"),
    );
    let response = send(&client(), request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_octet_stream(&response);
    let reject = Reject::decode(response.into_body()).unwrap();
    assert_eq!(reject.code(), ErrorCode::F01_INVALID_PACKET);
    assert_eq!(reject.triggered_by(), Some(Address::from_static(NODE)));
}

async fn assert_401(response: Response<Bytes>) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(response.body().is_empty());
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401() {
    let f = start().await;
    let c = client();
    let body = || prepare(b"x", b"x").into_bytes();
    let url = f.url("/accounts/alice/ilp");
    assert_401(send(&c, post(&url, None, body())).await).await;
    assert_401(send(&c, post(&url, Some("Bearer wrong-token"), body())).await).await;
    assert_401(send(&c, post(&url, Some(&format!("Basic {}", f.token)), body())).await).await;
    // The right token for another account.
    let other = f.url("/accounts/bob/ilp");
    assert_401(
        send(
            &c,
            post(&other, Some(&format!("Bearer {}", f.token)), body()),
        )
        .await,
    )
    .await;
    // The path and the ilp-peer-id header disagree.
    let mut request = post(&url, Some(&format!("Bearer {}", f.token)), body());
    request
        .headers_mut()
        .insert("ilp-peer-id", "bob".parse().unwrap());
    assert_401(send(&c, request).await).await;
}

#[tokio::test]
async fn auth_errors_map_to_403_429_503() {
    let cases: [(fn() -> AuthError, StatusCode); 3] = [
        (|| AuthError::Forbidden, StatusCode::FORBIDDEN),
        (
            || AuthError::Throttled {
                retry_after: Duration::from_millis(2500),
            },
            StatusCode::TOO_MANY_REQUESTS,
        ),
        (
            || AuthError::backend("store down"),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (make, status) in cases {
        let server = start_failing(make).await;
        let url = format!("http://{}/accounts/alice/ilp", server.local_addr());
        let response = send(
            &client(),
            post(&url, Some("Bearer t"), prepare(b"x", b"x").into_bytes()),
        )
        .await;
        assert_eq!(response.status(), status);
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        }
        assert!(response.body().is_empty());
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let f = start().await;
    let request = Request::get(f.url("/accounts/alice/ilp"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = send(&client(), request).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let f = start().await;
    let mut request = post(
        &f.url("/accounts/alice/ilp"),
        Some(&format!("Bearer {}", f.token)),
        prepare(b"x", b"x").into_bytes(),
    );
    request
        .headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    let response = send(&client(), request).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn unknown_path_is_404() {
    let f = start().await;
    for path in [
        "/",
        "/accounts/alice",
        "/accounts/alice/ilp/btp",
        "/accounts//ilp",
    ] {
        let request = post(
            &f.url(path),
            Some(&format!("Bearer {}", f.token)),
            prepare(b"x", b"x").into_bytes(),
        );
        assert_eq!(
            send(&client(), request).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// Writes `head` and `body` on a fresh connection and reads the answer until the server
/// closes or `limit` passes.
async fn raw(addr: SocketAddr, head: &str, body: &[u8], limit: Duration) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
                    break;
                }
            }
            Err(_) => panic!("no answer within {limit:?}"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn huge_content_length_is_413_without_reading_the_body() {
    let f = start().await;
    let head = format!(
        "POST /accounts/alice/ilp HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\
         Authorization: Bearer {}\r\nContent-Length: 10000000\r\n\r\n",
        f.token
    );
    let started = Instant::now();
    let answer = raw(
        f.server.local_addr(),
        &head,
        b"small",
        Duration::from_secs(2),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413() {
    let f = start_with(ServerConfig::default().with_max_body_len(1000)).await;
    let head = format!(
        "POST /accounts/alice/ilp HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\
         Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        f.token
    );
    // 2 000 bytes in one chunk, and the stream left open.
    let mut body = b"7d0\r\n".to_vec();
    body.extend_from_slice(&[0u8; 2000]);
    body.extend_from_slice(b"\r\n");
    let answer = raw(f.server.local_addr(), &head, &body, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn slow_body_is_408() {
    let f = start_with(ServerConfig::default().with_body_read_timeout(Duration::from_millis(200)))
        .await;
    let head = format!(
        "POST /accounts/alice/ilp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 100\r\n\r\n",
        f.token
    );
    let answer = raw(
        f.server.local_addr(),
        &head,
        b"short",
        Duration::from_secs(2),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn http2_prior_knowledge_works() {
    let f = start().await;
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = post(
        &f.url("/accounts/alice/ilp"),
        Some(&format!("Bearer {}", f.token)),
        prepare(b"h2", b"h2").into_bytes(),
    );
    let response = client.request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(Fulfill::decode(body).unwrap().data(), b"h2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_senders_are_all_answered() {
    const SENDERS: usize = 64;
    const EACH: usize = 1_000;
    let f = start().await;
    let url = f.url("/accounts/alice/ilp");
    let auth = format!("Bearer {}", f.token);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let (url, auth) = (url.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut fulfilled = 0;
            for i in 0..EACH {
                let data = format!("{s}-{i}");
                let request = post(
                    &url,
                    Some(&auth),
                    prepare(data.as_bytes(), data.as_bytes()).into_bytes(),
                );
                let response = send(&client, request).await;
                assert_eq!(response.status(), StatusCode::OK);
                let fulfill = Fulfill::decode(response.into_body()).unwrap();
                assert_eq!(fulfill.data(), data.as_bytes());
                fulfilled += 1;
            }
            fulfilled
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, SENDERS * EACH);
    eprintln!("{total} prepares in {:?}", started.elapsed());
    f.server.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_the_server_stop() {
    let f = start().await;
    let addr = f.server.local_addr();
    tokio::time::timeout(Duration::from_secs(5), f.server.shutdown())
        .await
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}
