//! `BtpService`: BTP served by an axum application, over loopback, and on any upgraded stream.
#![cfg(feature = "axum")]

mod ws_common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use ilp_btp::ws::{drive, BtpClient, BtpService, ClientConfig, DriveConfig, Error, ServerConfig};
use ilp_btp::{CloseReason, Session, SessionConfig};
use ilp_core::test_fulfillment;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::Role;
use ws_common::{authenticator, id, prepare, Recorder};

const LIMIT: Duration = Duration::from_secs(10);

/// An axum app with a page of its own and the service on two routes; its address.
async fn app(service: &BtpService) -> SocketAddr {
    let app = Router::new()
        .route("/", get(|| async { "own page" }))
        .route_service("/accounts/{name}/ilp/btp", service.clone())
        .route_service("/btp", service.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn service(config: ServerConfig) -> BtpService {
    BtpService::new(
        authenticator().await,
        Recorder::new("example.server"),
        config,
    )
}

fn client_config() -> ClientConfig {
    ClientConfig::default().with_backoff(vec![Duration::from_secs(3600)])
}

/// One raw HTTP/1.1 request; the response (head and `Content-Length` body) as text.
async fn raw_http(addr: SocketAddr, head: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(LIMIT, async {
        loop {
            let text = String::from_utf8_lossy(&response).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                if response.len() >= end + 4 + length {
                    return;
                }
            }
            let mut chunk = [0; 4096];
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed early: {text}");
            response.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .unwrap();
    String::from_utf8(response).unwrap()
}

#[tokio::test]
async fn btp_and_the_app_share_a_port_both_ways() {
    let service = service(ServerConfig::default()).await;
    let addr = app(&service).await;
    let client_side = Recorder::new("example.client");
    let url = format!("btp+ws://alice:alice-token@{addr}/accounts/alice/ilp/btp");
    let client = BtpClient::connect(&url, client_side.clone(), client_config())
        .await
        .unwrap();
    let fulfill = client.send(prepare(b"up", true)).await.unwrap();
    assert_eq!(fulfill.fulfillment(), test_fulfillment(b"up"));

    let down = timeout(LIMIT, service.wait_for_account(&id("alice")))
        .await
        .unwrap();
    // The client's address came from axum's ConnectInfo.
    assert_eq!(down.peer_addr().map(|a| a.ip()), Some(addr.ip()));
    assert_ne!(down.peer_addr().map(|a| a.port()), Some(addr.port()));
    assert_eq!(
        down.send(prepare(b"down", true)).await.unwrap().data(),
        b"down"
    );
    assert_eq!(client_side.seen.lock().unwrap().len(), 1);

    // `auth_username` names the account on the other route.
    let bob = BtpClient::connect(
        &format!("btp+ws://bob:bob-token@{addr}/btp"),
        Recorder::new("example.bob"),
        client_config(),
    )
    .await
    .unwrap();
    let mut accounts = service.accounts();
    accounts.sort();
    assert_eq!(accounts, [id("alice"), id("bob")]);

    let page = raw_http(
        addr,
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        page.starts_with("HTTP/1.1 200 OK\r\n") && page.ends_with("own page"),
        "{page}"
    );

    bob.close().await;
    client.close().await;
}

#[tokio::test]
async fn refusals_are_http_errors_and_credentials_btp_errors() {
    let service = service(ServerConfig::default()).await;
    let addr = app(&service).await;
    let plain = raw_http(
        addr,
        "GET /btp HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        plain.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{plain}"
    );
    assert!(
        plain
            .to_ascii_lowercase()
            .contains("\r\nupgrade: websocket\r\n"),
        "{plain}"
    );
    let post = raw_http(
        addr,
        "POST /btp HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    let old = raw_http(
        addr,
        "GET /btp HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await;
    assert!(
        old.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{old}"
    );
    assert!(
        old.to_ascii_lowercase()
            .contains("\r\nsec-websocket-version: 13\r\n"),
        "{old}"
    );

    let url = format!("btp+ws://alice:wrong@{addr}/accounts/alice/ilp/btp");
    let error = BtpClient::connect(&url, Recorder::new("example.c"), client_config())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::AuthRejected { reason } if reason == "invalid auth_token"),
        "{error:?}"
    );
    assert!(service.accounts().is_empty());
}

#[tokio::test]
async fn over_max_connections_and_after_shutdown_upgrades_get_503() {
    let service = service(ServerConfig::default().with_max_connections(1)).await;
    let addr = app(&service).await;
    let url = format!("btp+ws://alice:alice-token@{addr}/accounts/alice/ilp/btp");
    let client = BtpClient::connect(&url, Recorder::new("example.c"), client_config())
        .await
        .unwrap();
    let connection = client.connection().unwrap();
    let upgrade = "GET /btp HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let full = raw_http(addr, upgrade).await;
    assert!(
        full.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{full}"
    );
    assert!(full.ends_with("too many BTP connections"), "{full}");

    // Shutdown closes the connection it upgraded, and refuses new ones.
    timeout(LIMIT, service.shutdown()).await.unwrap();
    assert_eq!(
        timeout(LIMIT, connection.closed()).await.unwrap(),
        CloseReason::ConnectionLost
    );
    let late = raw_http(addr, upgrade).await;
    assert!(
        late.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{late}"
    );
    assert!(late.ends_with("BTP server shutting down"), "{late}");
    client.close().await;
}

#[tokio::test]
async fn serve_upgraded_runs_btp_on_any_stream() {
    let service = service(ServerConfig::default()).await;
    let (near, far) = tokio::io::duplex(64 * 1024);
    let server = service.clone();
    let served = tokio::spawn(async move {
        server
            .serve_upgraded(far, "/accounts/alice/ilp/btp", None)
            .await;
    });
    let ws = WebSocketStream::from_raw_socket(near, Role::Client, None).await;
    let session = Session::client(
        SessionConfig::default(),
        "alice",
        "alice-token",
        Instant::now(),
    )
    .unwrap();
    let (connection, run) = drive(
        ws,
        session,
        Recorder::new("example.c"),
        DriveConfig::default(),
    );
    let run = tokio::spawn(run);
    timeout(LIMIT, connection.ready()).await.unwrap().unwrap();
    assert!(connection.send(prepare(b"duplex", true)).await.is_ok());
    assert_eq!(service.accounts(), [id("alice")]);
    connection.close();
    assert_eq!(
        timeout(LIMIT, run).await.unwrap().unwrap(),
        CloseReason::Local
    );
    timeout(LIMIT, served).await.unwrap().unwrap();
    assert!(service.accounts().is_empty());
}
