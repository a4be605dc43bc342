//! ILP-over-HTTP (synchronous mode) interop of `ilp-http`'s server and client with the
//! JavaScript reference plugin `ilp-plugin-http` 1.6.1, driven through `interop/http.js`, and
//! with the request Rafiki's connector sends.
//!
//! Both sides answer Prepares by the test convention (`ilp_core::TestReceiver`: fulfillment =
//! SHA-256(data), else `F05`) and send Prepares half with a matching condition, half without;
//! every answer is checked (fulfillment, echoed data, reject code, `triggeredBy`, message).
//!
//! - ilp-plugin-http as **client** against our [`HttpServer`]: its four outgoing auth options
//!   (`jwtSecret` → `Bearer <JWT>`, `secret` → bare JWT, `staticToken` → `Bearer <token>`,
//!   `secretToken` → bare token); its JWTs (`iat` + `exp`, no `sub`) verified with the shared
//!   secret as the account's [`JwtKey`] with `require_subject = false`; refused credentials
//!   reach it as HTTP 401.
//! - ilp-plugin-http as **server** against our [`HttpClient`]: JWTs from our [`JwtMinter`]
//!   (no subject) sent with and without `Bearer `, and its static token; a wrong secret comes
//!   back as our `F00` Reject.
//! - Rafiki's request (`POST`, `Content-Type` and `Accept: application/octet-stream`,
//!   `Authorization: Bearer <token>`, the token naming the peer, path without an account)
//!   written by hand on a TCP socket, answered `200` with the Fulfill or the Reject.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ilp_auth::jwt::{JwtKey, JwtMinter};
use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_core::{AccountId, IlpResult, PacketHandler, Principal, Request, TestReceiver};
use ilp_http::{ClientConfig, HttpClient, HttpServer, OutgoingAuth, ServerConfig};
use ilp_interop::convention::{
    check_answer, check_js_result, prepare, send_batch, Tally, CLIENT_ADDRESS, SERVER_ADDRESS,
};
use ilp_interop::js::{spawn_js_client, JsServer, LINE_TIMEOUT};
use ilp_interop::{harness, Harness};
use ilp_packet::{Address, ErrorCode, Packet, Prepare};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

/// The JWT HS256 secret shared with ilp-plugin-http (its utf-8 bytes are the key: 32 bytes,
/// our minimum).
const SECRET: &str = "interop-jwt-secret-0123456789abc";
/// A secret that is not [`SECRET`].
const WRONG_SECRET: &str = "interop-jwt-secret-wrong-0123456";
/// The static token of account `bob` (our server) and of the JS server.
const STATIC_TOKEN: &str = "interop-static-token-0123456789abcdef";
/// How long a `http.js client` run may take.
const JS_CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// Prepares per batch.
const COUNT: usize = 20;

fn account(name: &str) -> AccountId {
    name.parse().expect("account name")
}

fn key(secret: &str) -> JwtKey {
    JwtKey::new(secret.as_bytes()).expect("a 32-byte JWT key")
}

// ---------------------------------------------------------------------------------------------
// ilp-plugin-http as client, against our HttpServer

/// Our server (TestReceiver behind an AccountAuthenticator) on an ephemeral port, at `path`:
/// `alice` authenticates with JWTs signed with [`SECRET`] (no `sub` needed), `bob` and
/// `rafiki` with the static token [`STATIC_TOKEN`] (`rafiki` only when `rafiki` is set: the
/// token then names one account).
async fn our_server(path: &str, rafiki: bool) -> HttpServer {
    let auth = AccountAuthenticator::new(
        NodeKey::generate().expect("node key"),
        Arc::new(MemoryStore::new()),
    );
    if rafiki {
        auth.add_account(account("rafiki"))
            .await
            .expect("add rafiki");
        auth.add_token(&account("rafiki"), STATIC_TOKEN, None)
            .await
            .expect("token");
    } else {
        auth.add_jwt_account(account("alice"), key(SECRET), false)
            .await
            .expect("add alice");
        auth.add_account(account("bob")).await.expect("add bob");
        auth.add_token(&account("bob"), STATIC_TOKEN, None)
            .await
            .expect("token");
    }
    let server_address = Address::from_static(SERVER_ADDRESS);
    HttpServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        Arc::new(auth),
        TestReceiver::new(server_address.clone()),
        ServerConfig::default()
            .with_node_address(server_address)
            .with_path(path),
    )
    .await
    .expect("bind our HttpServer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_sends_to_our_server() {
    let Some(node) = harness() else { return };
    let started = Instant::now();
    let url = |port: u16, name: &str| format!("http://127.0.0.1:{port}/accounts/{name}/ilp");

    // Accepted: (case, account, http.js MODE, secret), all at once against one server.
    let server = our_server("/accounts/{account}/ilp", false).await;
    let port = server.local_addr().port();
    let accepted = [
        ("JWT, Bearer (jwtSecret)", "alice", "jwt", SECRET),
        ("JWT, bare (secret)", "alice", "legacy-jwt", SECRET),
        (
            "static, Bearer (staticToken)",
            "bob",
            "static",
            STATIC_TOKEN,
        ),
        (
            "static, bare (secretToken)",
            "bob",
            "legacy-static",
            STATIC_TOKEN,
        ),
    ];
    let mut runs = JoinSet::new();
    for (name, account, mode, secret) in accepted {
        let js = js_client(node, &url(port, account), mode, secret, COUNT);
        runs.spawn(async move { (name, js.await.expect("http.js client task")) });
    }
    while let Some(joined) = runs.join_next().await {
        let (name, out) = joined.expect("case");
        eprintln!("{name}: {out}");
        assert!(out.get("error").is_none(), "{name}: http.js failed: {out}");
        check_js_result(&out["result"], COUNT, SERVER_ADDRESS, name);
    }
    server.shutdown().await;

    // Refused: each against a server of its own, since failed attempts from one address are
    // throttled (10 a minute; the 11th gets 429, good credentials included).
    let refused = [
        ("JWT, wrong secret", "alice", "jwt", WRONG_SECRET),
        (
            "JWT, bare, wrong secret",
            "alice",
            "legacy-jwt",
            WRONG_SECRET,
        ),
        ("JWT for a token account", "bob", "jwt", SECRET),
        (
            "static token for a JWT account",
            "alice",
            "static",
            STATIC_TOKEN,
        ),
        ("wrong static token", "bob", "static", WRONG_SECRET),
    ];
    let refused_count = 3;
    for (name, account, mode, secret) in refused {
        let server = our_server("/accounts/{account}/ilp", false).await;
        let port = server.local_addr().port();
        let out = js_client(node, &url(port, account), mode, secret, refused_count)
            .await
            .expect("http.js client task");
        eprintln!("{name}: {out}");
        assert!(out.get("error").is_none(), "{name}: http.js failed: {out}");
        let result = &out["result"];
        // ilp-plugin-http throws on any non-2xx; our server answers 401.
        let errors: Vec<&str> = result["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            errors.len(),
            refused_count,
            "{name}: every request refused: {out}"
        );
        assert!(
            errors
                .iter()
                .all(|e| e.ends_with(": failed to fetch. code=401")),
            "{name}: {out}"
        );
        server.shutdown().await;
    }
    eprintln!("took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// ilp-plugin-http as server, against our HttpClient

fn our_client(port: u16, auth: OutgoingAuth) -> HttpClient {
    let url = format!("http://127.0.0.1:{port}/ilp");
    let config = ClientConfig::new(url, Address::from_static(CLIENT_ADDRESS)).expect("URL");
    HttpClient::new(config.with_auth(auth)).expect("our HttpClient")
}

fn minter(secret: &str) -> JwtMinter {
    // No subject: ilp-plugin-http checks only the signature and exp.
    JwtMinter::new(key(secret), None, JwtMinter::DEFAULT_LIFETIME)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_sends_to_js_server() {
    let Some(node) = harness() else { return };
    let started = Instant::now();
    let mut js = JsServer::start(node, "http.js", &["server", "0", SECRET, STATIC_TOKEN]).await;
    let port = js.port();

    let jwt = minter(SECRET);
    let bare = our_client(
        port,
        OutgoingAuth::jwt_without_bearer(move |now| jwt.token(now)),
    );
    batch(bare).await.check(COUNT, "JWT without Bearer");

    let jwt = minter(SECRET);
    let bearer = our_client(port, OutgoingAuth::jwt(move |now| jwt.token(now)));
    batch(bearer).await.check(COUNT, "Bearer JWT");

    let token = our_client(port, OutgoingAuth::bearer(STATIC_TOKEN));
    batch(token).await.check(COUNT, "Bearer static token");

    // A wrong secret: the plugin answers 401, which our client turns into F00.
    let jwt = minter(WRONG_SECRET);
    let wrong = our_client(
        port,
        OutgoingAuth::jwt_without_bearer(move |now| jwt.token(now)),
    );
    let result = tokio::time::timeout(
        LINE_TIMEOUT,
        wrong.handle(Request {
            from: Principal::account(account("alice")),
            prepare: prepare(b"refused", true),
        }),
    )
    .await
    .expect("an answer in time");
    let reject = result.expect_err("a wrong secret must be refused");
    assert_eq!(reject.code(), ErrorCode::F00_BAD_REQUEST, "{reject:?}");
    assert_eq!(reject.message(), "peer answered HTTP 401 Unauthorized");
    assert_eq!(
        reject.triggered_by().map(|a| a.to_string()).as_deref(),
        Some(CLIENT_ADDRESS)
    );

    // The plugin saw every accepted Prepare, and none of the refused one.
    let stats = js.stats().await;
    assert_eq!(
        stats,
        json!({"received": 3 * COUNT, "fulfilled": 3 * COUNT / 2, "rejected": 3 * COUNT / 2}),
        "what the JS server answered"
    );
    js.finish().await;
    eprintln!("took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Rafiki's request, by hand

/// Sends Rafiki's request on a fresh connection: returns the status, the headers (names in
/// lowercase) and the body.
async fn rafiki_post(
    port: u16,
    path: &str,
    token: &str,
    prepare: &Prepare,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let body = prepare.as_bytes();
    // Rafiki's connector (interledger/rafiki@884c4bc, WIRE.md §5): `POST <configured URL>`,
    // the OER Prepare as body, `Content-Type: application/octet-stream`,
    // `Accept: application/octet-stream`, `Authorization: Bearer <outgoing token>`.
    let head = format!(
        "POST {path} HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         Accept: application/octet-stream\r\n\
         Content-Type: application/octet-stream\r\n\
         Authorization: Bearer {token}\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\
         \r\n",
        body.len()
    );
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream.write_all(head.as_bytes()).await.expect("write head");
        stream.write_all(body).await.expect("write body");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .expect("read the response");
        response
    };
    let response = tokio::time::timeout(LINE_TIMEOUT, exchange)
        .await
        .expect("a response in time");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head: {:?}", String::from_utf8_lossy(&response)));
    let head = std::str::from_utf8(&response[..split]).expect("an ASCII head");
    let body = response[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rafiki_request_gets_fulfill() {
    let started = Instant::now();
    // Rafiki's layout: one path for every peer, the token names the account.
    let server = our_server("/ilp", true).await;
    let port = server.local_addr().port();

    for (data, matching) in [(&b"rafiki fulfill"[..], true), (b"rafiki reject", false)] {
        let (status, headers, body) =
            rafiki_post(port, "/ilp", STATIC_TOKEN, &prepare(data, matching)).await;
        eprintln!(
            "matching {matching}: {status} {headers:?} {} bytes",
            body.len()
        );
        assert_eq!(status, 200, "{headers:?} {body:?}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(
            header(&headers, "content-length"),
            Some(body.len().to_string().as_str()),
            "a body of known length"
        );
        let result: IlpResult = match Packet::decode(Bytes::from(body)).expect("an ILP packet") {
            Packet::Fulfill(fulfill) => Ok(fulfill),
            Packet::Reject(reject) => Err(reject),
            Packet::Prepare(p) => panic!("a Prepare came back: {p:?}"),
        };
        check_answer(data, matching, &result, SERVER_ADDRESS)
            .unwrap_or_else(|e| panic!("matching {matching}: {e}"));
    }

    // The same request with another token is refused, as Rafiki refuses an unknown one.
    let (status, headers, _) =
        rafiki_post(port, "/ilp", "unknown-token", &prepare(b"x", true)).await;
    assert_eq!(status, 401, "{headers:?}");
    server.shutdown().await;
    eprintln!("took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Prepares and answers

/// Sends [`COUNT`] Prepares (`"{i}:http interop"`) through `sender`, all at once, and checks
/// every answer against http.js's convention.
async fn batch(sender: impl PacketHandler + Clone + 'static) -> Tally {
    let data = |i: usize| format!("{i}:http interop").into_bytes();
    send_batch(sender, COUNT, data, LINE_TIMEOUT).await
}

// ---------------------------------------------------------------------------------------------
// Driving http.js

/// Runs `node http.js client URL MODE SECRET COUNT` beside the test; its one line.
fn js_client(
    node: &'static Harness,
    url: &str,
    mode: &str,
    secret: &str,
    count: usize,
) -> JoinHandle<Value> {
    let count = count.to_string();
    spawn_js_client(
        node,
        "http.js",
        &["client", url, mode, secret, &count],
        JS_CLIENT_TIMEOUT,
    )
}
