//! Connection limits of `HttpServer` over loopback (robustness finding 3): an idle connection,
//! HTTP/2 or HTTP/1.1, is closed after `idle_timeout` and gives its slot back; connections
//! per source are capped.
#![cfg(feature = "tokio")]
#![allow(missing_docs)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use ilp_core::TestReceiver;
use ilp_http::{HttpServer, ServerConfig};
use ilp_packet::Address;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

const PATH: &str = "/accounts/alice/ilp";
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The HTTP/2 connection preface, then an empty SETTINGS frame.
const H2_PREFACE_AND_SETTINGS: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
const GOAWAY: u8 = 0x7;

async fn start(config: ServerConfig) -> (HttpServer, String) {
    let (auth, mut tokens) = common::authenticator(&["alice"]).await;
    let server = HttpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(auth),
        TestReceiver::new(Address::from_static("example.node")),
        config,
    )
    .await
    .unwrap();
    (server, tokens.remove(0))
}

/// Reads until the server closes the connection; gives what came and when it closed.
/// Panics if it is still open after `limit`.
async fn read_until_closed(tcp: &mut TcpStream, limit: Duration) -> (Vec<u8>, Instant) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (seen, Instant::now()),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => panic!("connection still open after {limit:?}"),
        }
    }
}

/// The types of the HTTP/2 frames in `bytes`.
fn frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        types.push(bytes[3]);
        bytes = &bytes[(9 + len).min(bytes.len())..];
    }
    types
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_with_goaway_and_its_slot_given_back() {
    let idle = Duration::from_millis(300);
    let config = ServerConfig::default()
        .with_max_connections(1)
        .with_idle_timeout(idle);
    let (server, token) = start(config).await;
    let addr = server.local_addr();

    // A client that sends the preface and SETTINGS, then nothing, holding the only slot.
    let opened = Instant::now();
    let mut idle_client = TcpStream::connect(addr).await.unwrap();
    idle_client
        .write_all(H2_PREFACE_AND_SETTINGS)
        .await
        .unwrap();
    let (frames, closed) = read_until_closed(&mut idle_client, Duration::from_secs(5)).await;
    assert!(
        closed - opened >= idle,
        "closed after {:?}",
        closed - opened
    );
    assert!(
        frame_types(&frames).contains(&GOAWAY),
        "no GOAWAY in {:?}",
        frame_types(&frames)
    );

    // The slot is free again: a second client is served.
    let body = common::fulfillable_prepare().into_bytes();
    let status = common::post_from(LOCAL, addr, PATH, &token, &body).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed() {
    let idle = Duration::from_millis(300);
    let (server, token) = start(ServerConfig::default().with_idle_timeout(idle)).await;
    let addr = server.local_addr();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let body = common::fulfillable_prepare().into_bytes();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body).await.unwrap();
    let answered = Instant::now();
    let (answer, closed) = read_until_closed(&mut tcp, Duration::from_secs(5)).await;
    assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
    // Kept alive for a next request, then closed once idle for `idle`.
    assert!(closed - answered >= idle - Duration::from_millis(50));
    server.shutdown().await;
}

#[tokio::test]
async fn connections_per_source_are_capped() {
    let config = ServerConfig::default().with_max_connections_per_source(1);
    let (server, token) = start(config).await;
    let addr = server.local_addr();
    // One connection from 127.0.0.1 held open...
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(H2_PREFACE_AND_SETTINGS).await.unwrap();
    let mut settings = [0u8; 9];
    first.read_exact(&mut settings).await.unwrap();
    assert_eq!(settings[3], 0x4, "the server's SETTINGS");
    // ...so a second one from it is closed unanswered...
    let mut second = TcpStream::connect(addr).await.unwrap();
    let _ = second.write_all(H2_PREFACE_AND_SETTINGS).await;
    let (answer, _) = read_until_closed(&mut second, Duration::from_secs(5)).await;
    assert!(answer.is_empty(), "{answer:?}");
    // ...while another source is served.
    let body = common::fulfillable_prepare().into_bytes();
    assert_eq!(
        common::post_from(OTHER, addr, PATH, &token, &body).await,
        200
    );
    // Once the first closes, its source may connect again.
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        common::post_from(LOCAL, addr, PATH, &token, &body).await,
        200
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_http2_peer_that_does_not_answer_pings_is_closed() {
    const PING: u8 = 0x6;
    let config = ServerConfig::default()
        .with_http2_keep_alive(Some(Duration::from_millis(100)), Duration::from_millis(200));
    let (server, _) = start(config).await;
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(H2_PREFACE_AND_SETTINGS).await.unwrap();
    // Well before the idle timeout (120 s by default).
    let (frames, _) = read_until_closed(&mut tcp, Duration::from_secs(5)).await;
    assert!(
        frame_types(&frames).contains(&PING),
        "no PING in {:?}",
        frame_types(&frames)
    );
    server.shutdown().await;
}
