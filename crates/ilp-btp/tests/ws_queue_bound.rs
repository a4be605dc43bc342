//! Issue 16, finding 1: the outgoing queue is bounded. A peer that sends Transfers nonstop
//! (each answered by the session with an empty Response) and never reads must not grow our
//! heap: while the queue is full the loop stops reading, and the write timeout closes the
//! connection. Alone in its test binary, so that the resident set it reads is its own.
#![cfg(feature = "tokio")]

mod ws_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream;
use futures::StreamExt;
use ilp_btp::ws::{drive, DriveConfig};
use ilp_btp::{Body, CloseReason, Frame, ProtocolData, Session, SessionConfig};
use ilp_core::TestReceiver;
use ilp_packet::Address;
use tungstenite::Message;
use ws_common::NeverReads;

const TRANSFERS: u32 = 500_000;

/// The resident set size, from `/proc/self/status`.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

#[tokio::test]
async fn a_peer_flooding_transfers_without_reading_stays_bounded_and_is_closed() {
    let write_timeout = Duration::from_secs(1);
    let bound = DriveConfig::default().max_queued_bytes;
    assert_eq!(bound, 256 * 1024, "the documented default");

    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let auth = Frame::auth(1, "alice", "alice-token").unwrap().to_bytes();
    let frames = stream::once(async move { Ok(Message::Binary(auth)) })
        // Give the authenticator time to answer: frames before that are dropped unread.
        .chain(
            stream::once(tokio::time::sleep(Duration::from_millis(200)))
                .filter_map(|()| async { None }),
        )
        .chain(stream::iter(0..TRANSFERS).map(move |i| {
            counter.fetch_add(1, Ordering::Relaxed);
            let transfer = Body::Transfer {
                amount: 1,
                protocol_data: ProtocolData::default(),
            };
            Ok(Message::Binary(
                Frame::new(i + 2, transfer).unwrap().into_bytes(),
            ))
        }))
        // Then nothing more, and the socket stays open: only this side can end it.
        .chain(stream::pending())
        .boxed();

    let config = DriveConfig::default()
        .with_authenticator(ws_common::authenticator().await)
        .with_path_account("alice")
        .with_write_timeout(write_timeout);
    let session = Session::server(SessionConfig::default(), std::time::Instant::now());
    let (connection, run) = drive(
        NeverReads { frames },
        session,
        TestReceiver::new(Address::from_static("example.server")),
        config,
    );
    let before = rss_bytes();
    let started = Instant::now();
    let run = tokio::spawn(run);

    let (mut max_rss, mut max_queued) = (before, 0);
    while !run.is_finished() && started.elapsed() < Duration::from_secs(20) {
        max_rss = max_rss.max(rss_bytes());
        max_queued = max_queued.max(connection.queued_bytes());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(run.is_finished(), "the connection was not closed in 20 s");
    let reason = run.await.unwrap();
    let took = started.elapsed();
    let pulled = pulled.load(Ordering::Relaxed);
    eprintln!(
        "closed after {took:?} ({reason}); {pulled} transfers read; queued bytes peaked at \
         {max_queued}; resident set grew by {} KiB",
        max_rss.saturating_sub(before) / 1024
    );

    assert_eq!(reason, CloseReason::WriteTimeout);
    assert_eq!(connection.closed().await, CloseReason::WriteTimeout);
    assert!(
        took >= write_timeout && took < write_timeout + Duration::from_secs(3),
        "closed after {took:?}"
    );
    // Every queued frame counts its length plus 64 bytes, so at most bound / 64 Responses
    // fit before reading stops (plus the auth Response and the frame being read).
    assert!(
        pulled <= bound / 64 + 16,
        "{pulled} of {TRANSFERS} transfers were read while nothing could be written"
    );
    assert!(
        max_queued > 0 && max_queued <= 2 * bound,
        "queued bytes peaked at {max_queued}"
    );
    assert_eq!(
        connection.queued_bytes(),
        0,
        "nothing is counted once closed"
    );
    // The issue measured 58 MiB of growth for this; the bound allows a few hundred KiB.
    let grown = max_rss.saturating_sub(before);
    assert!(
        grown < 16 << 20,
        "the resident set grew by {} KiB",
        grown / 1024
    );
}
