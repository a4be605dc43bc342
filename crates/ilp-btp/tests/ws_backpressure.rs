//! Issue 9: a peer that stops reading must not stall us. A raw WebSocket peer authenticates
//! to a `BtpServer`, then never reads again while the server sends it Prepares with large
//! data: the connection is closed at the write timeout, every Prepare is answered `T01`, the
//! queue stays within its bound, the event is logged once at `warn` with the account, and
//! another client's traffic flows meanwhile. Alone in its test binary, so that the log capture
//! (a thread-local subscriber on the current-thread runtime) sees every call site.
#![cfg(feature = "tokio")]

mod ws_common;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use ilp_btp::ws::{BtpClient, ClientConfig, DriveConfig, ServerConfig};
use ilp_btp::{CloseReason, Frame, FrameType};
use ilp_core::TestReceiver;
use ilp_packet::{Address, ErrorCode};
use tokio::time::timeout;
use tungstenite::Message;
use ws_common::{id, prepare, server, url, Recorder};

const LIMIT: Duration = Duration::from_secs(20);

mod capture {
    use std::fmt::Write as _;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// Writes each event as `LEVEL field=value ...` on a line of a shared string.
    #[derive(Clone, Default)]
    pub(crate) struct Capture(pub(crate) Arc<Mutex<String>>);

    struct Fields<'a>(&'a mut String);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, "{}={:?} ", field.name(), value);
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut out = self.0.lock().unwrap();
            let _ = write!(out, "{} ", event.metadata().level());
            event.record(&mut Fields(&mut out));
            out.push('\n');
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_closed_at_the_write_timeout() {
    let logs = capture::Capture::default();
    let _subscriber = tracing::subscriber::set_default(logs.clone());
    let write_timeout = Duration::from_millis(500);
    let server = server(
        TestReceiver::new(Address::from_static("example.server")),
        ServerConfig::default().with_write_timeout(write_timeout),
    )
    .await;

    // alice: a raw WebSocket peer that authenticates, then stops reading. Its receive buffer
    // is fixed at 64 KiB (no autotuning, which on loopback grows to tens of MiB), so that the
    // socket fills up after a few MiB.
    let ws_url = format!("ws://{}/accounts/alice/ilp/btp", server.local_addr());
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let tcp = socket.connect(server.local_addr()).await.unwrap();
    let (mut alice, _) = tokio_tungstenite::client_async(ws_url.as_str(), tcp)
        .await
        .unwrap();
    let auth = Frame::auth(1, "alice", "alice-token").unwrap();
    alice.send(Message::Binary(auth.to_bytes())).await.unwrap();
    match timeout(LIMIT, alice.next()).await.unwrap() {
        Some(Ok(Message::Binary(bytes))) => {
            let frame = Frame::decode(bytes).unwrap();
            assert_eq!(
                (frame.frame_type(), frame.request_id()),
                (FrameType::Response, 1)
            );
        }
        other => panic!("no auth response: {other:?}"),
    }
    let stalled = timeout(LIMIT, server.wait_for_account(&id("alice")))
        .await
        .unwrap();

    // bob: an ordinary client of the same server.
    let bob = BtpClient::connect(
        &url(&server, "bob", "bob-token"),
        Recorder::new("example.bob"),
        ClientConfig::default(),
    )
    .await
    .unwrap();

    // 1 000 Prepares of 32 KiB (less a byte) of data each for alice: 32 MiB, more than the
    // socket buffers on the way hold (4 MiB at most for the server's send buffer).
    let large = prepare(&[0x5a; 32 * 1024 - 1], true);
    let started = Instant::now();
    let sends: Vec<_> = (0..1_000)
        .map(|_| {
            let stalled = stalled.clone();
            let prepare = large.clone();
            tokio::spawn(async move { stalled.send(prepare).await })
        })
        .collect();

    // Meanwhile bob's round trips go on, and alice's queue is watched.
    let mut bob_round_trips = 0;
    let mut bob_slowest = Duration::ZERO;
    let mut max_queued = 0;
    while !stalled.is_closed() && started.elapsed() < LIMIT {
        max_queued = max_queued.max(stalled.queued_bytes());
        let sent = Instant::now();
        let fulfill = bob.send(prepare(b"bob", true)).await.unwrap();
        assert_eq!(fulfill.data(), b"bob");
        bob_slowest = bob_slowest.max(sent.elapsed());
        bob_round_trips += 1;
    }
    let reason = timeout(LIMIT, stalled.closed()).await.unwrap();
    let took = started.elapsed();
    eprintln!(
        "closed after {took:?}; bob: {bob_round_trips} round trips, slowest {bob_slowest:?}; \
         alice's queue peaked at {max_queued} bytes"
    );
    assert_eq!(reason, CloseReason::WriteTimeout);
    assert!(
        took >= write_timeout && took < write_timeout + Duration::from_secs(3),
        "closed after {took:?}"
    );

    // Every Prepare is answered T01, at once.
    let answered = Instant::now();
    for send in sends {
        let reject = timeout(LIMIT, send).await.unwrap().unwrap().unwrap_err();
        assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
    }
    assert!(answered.elapsed() < Duration::from_secs(1));
    assert!(server.account(&id("alice")).is_none());

    // The queue stayed within twice its bound.
    let bound = DriveConfig::default().max_queued_bytes;
    assert!(
        max_queued > 0 && max_queued <= 2 * bound,
        "alice's queue peaked at {max_queued} bytes"
    );

    // Bob's connection kept going, and still does.
    assert!(bob_round_trips >= 10, "bob: {bob_round_trips} round trips");
    assert!(bob_slowest < Duration::from_secs(1), "bob: {bob_slowest:?}");
    assert!(bob.send(prepare(b"after", true)).await.is_ok());

    // Logged once, at warn, with the account.
    let logs = logs.0.lock().unwrap().clone();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.starts_with("WARN") && l.contains("write timed out"))
        .collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(warnings[0].contains("account=alice"), "{}", warnings[0]);

    bob.close().await;
    drop(alice);
}
