//! The WebSocket server and client end to end, over loopback.
#![cfg(feature = "tokio")]

mod ws_common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use ilp_btp::ws::{drive, BtpClient, ClientConfig, DriveConfig, Error, ServerConfig};
use ilp_btp::{CloseReason, Session, SessionConfig};
use ilp_core::{test_fulfillment, TestReceiver};
use ilp_packet::{Address, ErrorCode};
use tokio::time::timeout;
use ws_common::{id, prepare, server, url, Recorder, Slow};

const LIMIT: Duration = Duration::from_secs(10);

fn client_config() -> ClientConfig {
    ClientConfig::default().with_backoff(vec![Duration::from_millis(20)])
}

#[tokio::test]
async fn prepares_flow_both_ways_fulfilled_and_rejected() {
    let recorder = Recorder::new("example.server");
    let server = server(recorder.clone(), ServerConfig::default()).await;
    let client_side = Recorder::new("example.client");
    let client = BtpClient::connect(
        &url(&server, "alice", "alice-token"),
        client_side.clone(),
        client_config(),
    )
    .await
    .unwrap();

    let fulfill = client.send(prepare(b"up", true)).await.unwrap();
    assert_eq!(fulfill.fulfillment(), test_fulfillment(b"up"));
    let reject = client.send(prepare(b"up", false)).await.unwrap_err();
    assert_eq!(reject.code(), ErrorCode::F05_WRONG_CONDITION);
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|p| p.account == id("alice")));

    let down = timeout(LIMIT, server.wait_for_account(&id("alice")))
        .await
        .unwrap();
    assert_eq!(down.principal().unwrap().account, id("alice"));
    let fulfill = down.send(prepare(b"down", true)).await.unwrap();
    assert_eq!(fulfill.data(), b"down");
    let reject = down.send(prepare(b"down", false)).await.unwrap_err();
    assert_eq!(reject.code(), ErrorCode::F05_WRONG_CONDITION);
    // The client names the server by its own username unless told otherwise.
    assert_eq!(client_side.seen.lock().unwrap()[0].account, id("alice"));
    assert_eq!(server.accounts(), vec![id("alice")]);

    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn any_path_uses_auth_username() {
    let server = server(
        TestReceiver::new(Address::from_static("example.s")),
        ServerConfig::default(),
    )
    .await;
    let url = format!("btp+ws://bob:bob-token@{}/", server.local_addr());
    let client = BtpClient::connect(&url, Recorder::new("example.c"), client_config())
        .await
        .unwrap();
    assert!(client.send(prepare(b"x", true)).await.is_ok());
    assert!(server.account(&id("bob")).is_some());
    client.close().await;
}

#[tokio::test]
async fn bad_credentials_are_refused_with_f00() {
    let server = server(Recorder::new("example.s"), ServerConfig::default()).await;
    let wrong = BtpClient::connect(
        &url(&server, "alice", "wrong-token"),
        Recorder::new("example.c"),
        client_config(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&wrong, Error::AuthRejected { reason } if reason == "invalid auth_token"),
        "{wrong:?}"
    );
    // Path names alice, auth_username names bob.
    let url = format!(
        "btp+ws://bob:bob-token@{}/accounts/alice/ilp/btp",
        server.local_addr()
    );
    let mismatch = BtpClient::connect(&url, Recorder::new("example.c"), client_config())
        .await
        .unwrap_err();
    assert!(
        matches!(mismatch, Error::AuthRejected { .. }),
        "{mismatch:?}"
    );
    assert!(server.accounts().is_empty());
}

#[tokio::test]
async fn a_second_connection_replaces_the_first() {
    let server = server(Recorder::new("example.s"), ServerConfig::default()).await;
    // The first connection, driven by hand.
    let ws_url = format!("ws://{}/accounts/alice/ilp/btp", server.local_addr());
    let (ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap();
    let session = Session::client(
        SessionConfig::default(),
        "alice",
        "alice-token",
        std::time::Instant::now(),
    )
    .unwrap();
    let (first, run) = drive(
        ws,
        session,
        Recorder::new("example.first"),
        DriveConfig::default(),
    );
    let run = tokio::spawn(run);
    timeout(LIMIT, first.ready()).await.unwrap().unwrap();
    assert!(first.send(prepare(b"1", true)).await.is_ok());

    let second_side = Recorder::new("example.second");
    let second = BtpClient::connect(
        &url(&server, "alice", "alice-token"),
        second_side.clone(),
        client_config(),
    )
    .await
    .unwrap();
    let reason = timeout(LIMIT, first.closed()).await.unwrap();
    assert_eq!(reason, CloseReason::ConnectionLost);
    assert_eq!(
        timeout(LIMIT, run).await.unwrap().unwrap(),
        CloseReason::ConnectionLost
    );
    assert_eq!(
        first.send(prepare(b"2", true)).await.unwrap_err().code(),
        ErrorCode::T01_PEER_UNREACHABLE
    );
    let down = server.account(&id("alice")).unwrap();
    assert!(down.send(prepare(b"3", true)).await.is_ok());
    assert_eq!(second_side.seen.lock().unwrap().len(), 1);
    second.close().await;
}

#[tokio::test]
async fn killing_the_server_fails_in_flight_with_t01_and_the_client_reconnects() {
    let slow = server(Slow(Duration::from_secs(3600)), ServerConfig::default()).await;
    let addr = slow.local_addr();
    let client = BtpClient::connect(
        &url(&slow, "alice", "alice-token"),
        Recorder::new("example.c"),
        client_config(),
    )
    .await
    .unwrap();
    let in_flight: Vec<_> = (0..5u8)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.send(prepare(&[i], true)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed = Instant::now();
    drop(slow);
    for task in in_flight {
        let reject = timeout(LIMIT, task).await.unwrap().unwrap().unwrap_err();
        assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
    }
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "{:?}",
        killed.elapsed()
    );
    // Disconnected: T01 at once.
    if !client.is_connected() {
        let reject = client.send(prepare(b"gap", true)).await.unwrap_err();
        assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
    }

    let again = ws_common::authenticator().await;
    let server = ilp_btp::ws::BtpServer::bind(
        addr,
        again,
        TestReceiver::new(Address::from_static("example.s2")),
        ServerConfig::default(),
    )
    .await
    .unwrap();
    timeout(LIMIT, client.connected()).await.unwrap();
    assert!(client.send(prepare(b"back", true)).await.is_ok());
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_auth_timeout() {
    let config = ServerConfig::default()
        .with_session(SessionConfig::default().with_auth_timeout(Duration::from_millis(300)));
    let server = server(Recorder::new("example.s"), config).await;
    let ws_url = format!("ws://{}/", server.local_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        match timeout(LIMIT, ws.next()).await.unwrap() {
            Some(Ok(tungstenite::Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn graceful_shutdown_answers_what_is_in_flight() {
    let server = server(Slow(Duration::from_millis(300)), ServerConfig::default()).await;
    let client = BtpClient::connect(
        &url(&server, "alice", "alice-token"),
        Recorder::new("example.c"),
        client_config().with_backoff(vec![Duration::from_secs(60)]),
    )
    .await
    .unwrap();
    let pending = {
        let client = client.clone();
        tokio::spawn(async move { client.send(prepare(b"late", true)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    timeout(LIMIT, server.shutdown()).await.unwrap();
    let fulfill = pending.await.unwrap().unwrap();
    assert_eq!(fulfill.data(), b"late");
    // The server is gone: the client is disconnected and refuses at once.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!client.is_connected());
    let reject = client.send(prepare(b"after", true)).await.unwrap_err();
    assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
    client.close().await;
}

#[tokio::test]
async fn connecting_to_nothing_is_an_io_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("btp+ws://alice:t@{addr}/");
    let error = BtpClient::connect(&url, Recorder::new("example.c"), client_config())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
    assert!(matches!(
        BtpClient::connect("http://x", Recorder::new("example.c"), client_config()).await,
        Err(Error::InvalidScheme)
    ));
}

#[cfg(not(feature = "rustls"))]
#[tokio::test]
async fn wss_without_the_rustls_feature_is_a_typed_error() {
    for url in ["btp+wss://alice:t@localhost:1/", "wss://localhost:1/"] {
        let error = BtpClient::connect(url, Recorder::new("example.c"), client_config())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::TlsUnavailable), "{error:?}");
        assert!(error.to_string().contains("rustls"), "{error}");
    }
}

#[tokio::test]
async fn messages_without_ilp_and_transfers_reach_the_embedder() {
    use futures::SinkExt;
    use ilp_btp::{Body, ContentType, Frame, FrameType, ProtocolData, ProtocolEntry};

    let (tx, mut side) = tokio::sync::mpsc::channel(8);
    let server = server(
        Recorder::new("example.s"),
        ServerConfig::default().with_side_messages(tx),
    )
    .await;
    let ws_url = format!("ws://{}/accounts/alice/ilp/btp", server.local_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap();
    let claim = ProtocolData::from(vec![ProtocolEntry::new(
        "paychan",
        ContentType::APPLICATION_JSON,
        &b"{\"claim\":1}"[..],
    )
    .unwrap()]);
    let transfer = Body::Transfer {
        amount: 42,
        protocol_data: ProtocolData::default(),
    };
    // Frames sent before the authentication is answered are not processed: wait for it.
    let mut answered = Vec::new();
    let batches = [
        vec![Frame::auth(7, "alice", "alice-token").unwrap()],
        vec![
            Frame::new(8, Body::Message(claim.clone())).unwrap(),
            Frame::new(9, transfer).unwrap(),
        ],
    ];
    for batch in batches {
        let expected = answered.len() + batch.len();
        for frame in batch {
            ws.send(tungstenite::Message::Binary(frame.to_bytes()))
                .await
                .unwrap();
        }
        // Each request gets an empty Response with its id.
        while answered.len() < expected {
            match timeout(LIMIT, ws.next()).await.unwrap() {
                Some(Ok(tungstenite::Message::Binary(bytes))) => {
                    let frame = Frame::decode(bytes).unwrap();
                    assert_eq!(frame.frame_type(), FrameType::Response);
                    assert!(frame.protocol_data().is_empty());
                    answered.push(frame.request_id());
                }
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        }
    }
    assert_eq!(answered, [7, 8, 9]);

    let message = timeout(LIMIT, side.recv()).await.unwrap().unwrap();
    assert_eq!(message.from.map(|p| p.account), Some(id("alice")));
    assert_eq!(
        (message.transfer_amount, message.protocol_data),
        (None, claim)
    );
    let transfer = timeout(LIMIT, side.recv()).await.unwrap().unwrap();
    assert_eq!(transfer.transfer_amount, Some(42));
    server.shutdown().await;
}
