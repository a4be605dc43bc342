//! The connection loop's limits: the client's write timeout and reconnection, the outgoing
//! queue's hard bound, the graceful drain under steady traffic, and handlers that complete at
//! once, later, or panic.
#![cfg(feature = "tokio")]

mod ws_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream;
use futures::{SinkExt, StreamExt};
use ilp_btp::ws::{drive, BtpClient, ClientConfig, DriveConfig, ServerConfig};
use ilp_btp::{CloseReason, Frame, Session, SessionConfig};
use ilp_core::{test_condition, IlpResult, PacketHandler, Request, TestReceiver};
use ilp_packet::{Address, ErrorCode, PrepareBuilder, Timestamp};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tungstenite::Message;
use ws_common::{id, prepare, server, url, NeverReads, Recorder};

const LIMIT: Duration = Duration::from_secs(20);

// -------------------------------------------------------------------------------------------
// The client's write timeout

/// A raw BTP server that answers each client's auth Message, then never reads again. Its
/// sockets' receive buffers are fixed at 64 KiB, so that they fill up after a few MiB. Each
/// accepted connection is reported on the returned channel (and kept open).
async fn server_that_stops_reading() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<u32>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let Some(Ok(Message::Binary(bytes))) = ws.next().await else {
                continue;
            };
            let auth = Frame::decode(bytes).unwrap();
            assert_eq!(auth.auth_token(), Some("alice-token"));
            let answer = Frame::empty_response(auth.request_id()).into_bytes();
            ws.send(Message::Binary(answer)).await.unwrap();
            let _ = tx.send(auth.request_id());
            open.push(ws);
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_server_that_stops_reading_is_left_at_the_write_timeout_and_the_client_reconnects() {
    let (addr, mut accepted) = server_that_stops_reading().await;
    let write_timeout = Duration::from_millis(500);
    let client = BtpClient::connect(
        &format!("btp+ws://alice:alice-token@{addr}/"),
        Recorder::new("example.client"),
        ClientConfig::default()
            .with_backoff(vec![Duration::from_millis(20)])
            .with_write_timeout(write_timeout),
    )
    .await
    .unwrap();
    timeout(LIMIT, accepted.recv()).await.unwrap().unwrap();
    let first = client.connection().unwrap();

    // 300 Prepares of 32 KiB (less a byte): about 10 MiB, more than the sockets hold.
    let large = prepare(&[0xa5; 32 * 1024 - 1], true);
    let started = Instant::now();
    let sends: Vec<_> = (0..300)
        .map(|_| {
            let client = client.clone();
            let prepare = large.clone();
            tokio::spawn(async move { client.send(prepare).await })
        })
        .collect();
    let reason = timeout(LIMIT, first.closed()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(reason, CloseReason::WriteTimeout);
    assert!(
        took >= write_timeout && took < write_timeout + Duration::from_secs(2),
        "closed after {took:?}"
    );
    let closed = Instant::now();
    for send in sends {
        let reject = timeout(LIMIT, send).await.unwrap().unwrap().unwrap_err();
        assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
    }
    assert!(
        closed.elapsed() < Duration::from_secs(1),
        "{:?}",
        closed.elapsed()
    );

    // The client reconnects (with its backoff) and authenticates again.
    timeout(LIMIT, accepted.recv()).await.unwrap().unwrap();
    let second = timeout(LIMIT, client.connected()).await.unwrap();
    assert!(!second.is_closed());
    client.close().await;
}

// -------------------------------------------------------------------------------------------
// The outgoing queue's hard bound

/// A handler that never answers.
struct Never;

#[async_trait]
impl PacketHandler for Never {
    async fn handle(&self, _: Request) -> IlpResult {
        std::future::pending().await
    }
}

#[tokio::test]
async fn answers_piling_up_past_twice_the_bound_close_the_connection() {
    // 3 000 Prepares that the handler never answers, all expiring at once: the session answers
    // each `R00` at its expiry while nothing can be written. The queue's bound is the
    // smallest (64 KiB + 64), the write timeout far away.
    const PREPARES: u32 = 3_000;
    let expires_at = Timestamp::now()
        .checked_add(Duration::from_millis(700))
        .unwrap();
    let frames: Vec<_> = (0..PREPARES)
        .map(|i| {
            let data = i.to_be_bytes();
            let prepare = PrepareBuilder {
                amount: 1,
                expires_at,
                execution_condition: test_condition(&data),
                destination: &Address::from_static("example.dest"),
                data: &data,
            }
            .build()
            .unwrap();
            Ok(Message::Binary(
                Frame::ilp_message(i + 2, &prepare).unwrap().into_bytes(),
            ))
        })
        .collect();
    let auth = Frame::auth(1, "alice", "alice-token").unwrap().to_bytes();
    let frames = stream::once(async move { Ok(Message::Binary(auth)) })
        .chain(
            stream::once(tokio::time::sleep(Duration::from_millis(200)))
                .filter_map(|()| async { None }),
        )
        .chain(stream::iter(frames))
        .chain(stream::pending())
        .boxed();
    let config = DriveConfig::default()
        .with_authenticator(ws_common::authenticator().await)
        .with_path_account("alice")
        .with_write_timeout(Duration::from_secs(60))
        .with_max_queued_bytes(0);
    let session = Session::server(
        SessionConfig::default().with_max_in_flight(PREPARES as usize),
        std::time::Instant::now(),
    );
    let (connection, run) = drive(NeverReads { frames }, session, Never, config);
    let run = tokio::spawn(run);
    let reason = timeout(LIMIT, run).await.expect("not closed").unwrap();
    assert_eq!(reason, CloseReason::QueueFull);
    assert_eq!(connection.closed().await, CloseReason::QueueFull);
    assert_eq!(connection.queued_bytes(), 0);
    // Closed at the expiry, not at the write timeout.
    assert!(Timestamp::now() < expires_at.checked_add(Duration::from_secs(5)).unwrap());
}

// -------------------------------------------------------------------------------------------
// Graceful shutdown under steady traffic

/// Counts the Prepares it starts on, and answers each as the test receiver after 50 ms plus
/// 13 ms times its first data byte (so that the answers to different senders do not line up).
#[derive(Clone)]
struct SlowCounting {
    started: Arc<AtomicUsize>,
}

#[async_trait]
impl PacketHandler for SlowCounting {
    async fn handle(&self, request: Request) -> IlpResult {
        self.started.fetch_add(1, Ordering::SeqCst);
        let n = u64::from(request.prepare.data()[0]);
        tokio::time::sleep(Duration::from_millis(50 + 13 * n)).await;
        TestReceiver::new(Address::from_static("example.client"))
            .handle(request)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_refuses_new_outgoing_prepares_and_finishes() {
    let shutdown_timeout = Duration::from_secs(4);
    let server = server(
        Recorder::new("example.server"),
        ServerConfig::default().with_shutdown_timeout(shutdown_timeout),
    )
    .await;
    let started = Arc::new(AtomicUsize::new(0));
    let client = BtpClient::connect(
        &url(&server, "alice", "alice-token"),
        SlowCounting {
            started: Arc::clone(&started),
        },
        ClientConfig::default().with_backoff(vec![Duration::from_secs(60)]),
    )
    .await
    .unwrap();
    let down = timeout(LIMIT, server.wait_for_account(&id("alice")))
        .await
        .unwrap();

    // Eight senders, each sending to the client again as soon as it has its answer, at
    // different paces: there is always a Prepare in flight.
    let fulfilled = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..8u8)
        .map(|n| {
            let down = down.clone();
            let fulfilled = Arc::clone(&fulfilled);
            tokio::spawn(async move {
                loop {
                    match down.send(prepare(&[n], true)).await {
                        Ok(fulfill) => {
                            assert_eq!(fulfill.data(), [n]);
                            fulfilled.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(reject) => return reject,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(350)).await;

    let shutting_down = Instant::now();
    timeout(LIMIT, server.shutdown()).await.unwrap();
    let took = shutting_down.elapsed();
    // The Prepares in flight are answered (one handler delay, 141 ms at most), the new ones
    // refused at once: the drain does not run into its timeout.
    assert!(took < Duration::from_millis(1500), "shutdown took {took:?}");
    for sender in senders {
        let reject = timeout(LIMIT, sender).await.unwrap().unwrap();
        assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
    }
    // Every Prepare that reached the client was answered to its sender: none was dropped.
    let (started, fulfilled) = (
        started.load(Ordering::SeqCst),
        fulfilled.load(Ordering::SeqCst),
    );
    assert!(fulfilled >= 8, "{fulfilled}");
    assert_eq!(started, fulfilled, "answers dropped by the shutdown");
    client.close().await;
}

// -------------------------------------------------------------------------------------------
// Handlers that answer at once, later, or panic

/// Panics on data `panic`, answers after a sleep on data `later`, else at once.
struct Mixed;

#[async_trait]
impl PacketHandler for Mixed {
    async fn handle(&self, request: Request) -> IlpResult {
        match request.prepare.data() {
            b"panic" => panic!("handler bug"),
            b"later" => tokio::time::sleep(Duration::from_millis(20)).await,
            _ => {}
        }
        TestReceiver::new(Address::from_static("example.server"))
            .handle(request)
            .await
    }
}

#[tokio::test]
async fn handlers_answering_at_once_later_or_panicking_are_all_answered() {
    let server = server(Mixed, ServerConfig::default()).await;
    let client = BtpClient::connect(
        &url(&server, "alice", "alice-token"),
        Recorder::new("example.client"),
        ClientConfig::default(),
    )
    .await
    .unwrap();
    for _ in 0..2 {
        let now = client.send(prepare(b"now", true)).await.unwrap();
        assert_eq!(now.data(), b"now");
        let rejected = client.send(prepare(b"now", false)).await.unwrap_err();
        assert_eq!(rejected.code(), ErrorCode::F05_WRONG_CONDITION);
        let later = client.send(prepare(b"later", true)).await.unwrap();
        assert_eq!(later.data(), b"later");
        // A panic in the handler's first poll is a T00 for that Prepare only.
        let panicked = client.send(prepare(b"panic", true)).await.unwrap_err();
        assert_eq!(panicked.code(), ErrorCode::T00_INTERNAL_ERROR);
        assert_eq!(panicked.message(), "internal error");
    }
    assert!(client.is_connected());
    // A handler that answers later does not hold up the ones that answer at once.
    let slow = client.send(prepare(b"later", true));
    let fast = async {
        let fast = client.send(prepare(b"fast", true)).await;
        (fast, Instant::now())
    };
    let ((slow, slow_at), (fast, fast_at)) =
        tokio::join!(async { (slow.await, Instant::now()) }, fast);
    assert!(slow.is_ok() && fast.is_ok());
    assert!(fast_at < slow_at);
    client.close().await;
    server.shutdown().await;
}
