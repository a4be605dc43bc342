//! BTP round-trip benches: `ilp-btp`'s WebSocket client and server over loopback against a bare
//! tokio-tungstenite echo of the same message sizes, in the same criterion group and the same run.
//!
//! - `btp_round_trip/ours/{1,64}`: a [`BtpClient`] sends Prepares to a [`BtpServer`] whose
//!   handler answers like ilp-core's `TestReceiver` (fulfillment = SHA-256(data), checked
//!   against the condition) but with an empty Fulfill; 1 or 64 Prepares in flight on one
//!   connection (`BtpClient::send` futures in a `FuturesUnordered`, refilled as answers come).
//!   The ILP Prepare is 199 bytes (destination `test.bench.receiver`, 118 bytes of data), the
//!   Fulfill 35, so the BTP frames are 215 and 49 bytes.
//! - `btp_round_trip/bare-echo/{1,64}`: a tokio-tungstenite client sends binary messages of the
//!   Prepare frame's bytes; a tokio-tungstenite server answers each binary message of that size
//!   with a binary message of the Fulfill frame's bytes. No BTP, no ILP. Both sides batch their
//!   writes: feed every message that is ready, flush once.
//! - `btp_round_trip/bare-echo-flush-each/64`: the same with a flush after every message on both
//!   sides.
//!
//! One core each side: the servers run on a current-thread tokio runtime on their own thread; the
//! clients on another current-thread runtime, driven by criterion's thread. Each iteration is one
//! round trip (`iter_custom` times N of them; `Throughput::Elements(1)`), so criterion reports
//! round trips per second. After the group, the medians and the ratio ours / bare echo are
//! printed from criterion's `estimates.json` files.
//!
//! `cargo bench -p ilp-benches --bench btp -- memory` measures instead the resident set growth
//! per idle authenticated connection, with 1 000 connections open (see [`memory`]).
//! See `benches/README.md` for the figures.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};
use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_benches::round_trip::{
    self, criterion_dir, current_thread, fulfill, median_ns, Receiver, ACCOUNT, IN_FLIGHT, TOKEN,
};
use ilp_btp::ws::{BtpClient, BtpServer, ClientConfig, ServerConfig};
use ilp_btp::Frame;
use ilp_core::AccountId;
use ilp_packet::Prepare;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const GROUP: &str = "btp_round_trip";
const OURS: &str = "ours";
const BARE: &str = "bare-echo";
const BARE_FLUSH_EACH: &str = "bare-echo-flush-each";

/// Connections opened by the memory measurement, and kept open before its first reading.
const MEMORY_CONNECTIONS: usize = 1_000;
const MEMORY_WARM_UP: usize = 16;

// ---------------------------------------------------------------------------------------------
// Fixture.

/// The Prepare, and the BTP frames (WebSocket message payloads) both sides exchange.
#[derive(Clone)]
struct Packets {
    prepare: Prepare,
    /// A BTP Message carrying the Prepare (what our client writes; request id aside).
    prepare_frame: Bytes,
    /// A BTP Response carrying the Fulfill (what our server writes; request id aside).
    fulfill_frame: Bytes,
}

fn packets() -> Packets {
    let prepare = round_trip::prepare();
    let fulfill = fulfill(&prepare).expect("the condition matches");
    Packets {
        prepare_frame: Frame::ilp_message(1, &prepare)
            .expect("fits in a frame")
            .into_bytes(),
        fulfill_frame: Frame::ilp_response(1, Ok(&fulfill))
            .expect("fits in a frame")
            .into_bytes(),
        prepare,
    }
}

fn account(i: usize) -> (AccountId, String) {
    let name = if i == usize::MAX {
        ACCOUNT.to_owned()
    } else {
        format!("acct{i}")
    };
    let token = if i == usize::MAX {
        TOKEN.to_owned()
    } else {
        format!("bench-token-{i:06}-0123456789abcdef")
    };
    (name.parse().expect("valid account name"), token)
}

fn btp_url(addr: SocketAddr, i: usize) -> String {
    let (name, token) = account(i);
    format!("btp+ws://{name}:{token}@{addr}/accounts/{name}/ilp/btp")
}

// ---------------------------------------------------------------------------------------------
// The servers: one thread, one current-thread runtime.

struct Servers {
    btp: Arc<BtpServer>,
    bare: SocketAddr,
    bare_flush_each: SocketAddr,
    /// Bare WebSocket connections accepted (handshake done) so far.
    bare_accepted: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Servers {
    /// Starts a BTP server (accounts `bench` and `acct0`..`acct{accounts - 1}`) and the two bare
    /// echo servers on a new thread.
    fn start(packets: &Packets, accounts: usize) -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let prepare_len = packets.prepare_frame.len();
        let reply = packets.fulfill_frame.clone();
        let bare_accepted = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::clone(&bare_accepted);
        let thread = thread::Builder::new()
            .name("servers".into())
            .spawn(move || {
                current_thread().block_on(async move {
                    let auth = AccountAuthenticator::new(
                        NodeKey::from_bytes(&[7; 32]).expect("valid key"),
                        Arc::new(MemoryStore::new()),
                    );
                    for i in (0..accounts).chain([usize::MAX]) {
                        let (name, token) = account(i);
                        auth.add_account(name.clone()).await.expect("new account");
                        auth.add_token(&name, &token, None).await.expect("token");
                    }
                    let config = ServerConfig::default().with_max_connections(accounts + 64);
                    let btp = BtpServer::bind(
                        "127.0.0.1:0".parse().expect("address"),
                        Arc::new(auth),
                        Receiver,
                        config,
                    )
                    .await
                    .expect("bind the BTP server");
                    let btp = Arc::new(btp);
                    let mut bare = Vec::new();
                    for batched in [true, false] {
                        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                        bare.push(listener.local_addr().expect("bound"));
                        tokio::spawn(bare_accept(
                            listener,
                            prepare_len,
                            reply.clone(),
                            batched,
                            Arc::clone(&accepted),
                        ));
                    }
                    ready_tx
                        .send((Arc::clone(&btp), bare[0], bare[1]))
                        .expect("main thread waits");
                    let _ = stop_rx.await;
                    drop(btp);
                });
            })
            .expect("spawn the server thread");
        let (btp, bare, bare_flush_each) = ready_rx.recv().expect("servers started");
        Self {
            btp,
            bare,
            bare_flush_each,
            bare_accepted,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn bare_accept(
    listener: TcpListener,
    prepare_len: usize,
    reply: Bytes,
    batched: bool,
    accepted: Arc<AtomicUsize>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let _ = tcp.set_nodelay(true);
        let reply = reply.clone();
        let accepted = Arc::clone(&accepted);
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            accepted.fetch_add(1, Ordering::Relaxed);
            let _ = bare_echo(ws, prepare_len, reply, batched).await;
        });
    }
}

/// Answers each binary message of `prepare_len` bytes with `reply`. Batched: answers every
/// message already readable, then flushes once; otherwise flushes after each answer.
async fn bare_echo(
    mut ws: WebSocketStream<TcpStream>,
    prepare_len: usize,
    reply: Bytes,
    batched: bool,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let is_prepare = |m: &Message| matches!(m, Message::Binary(b) if b.len() == prepare_len);
    while let Some(message) = ws.next().await {
        if is_prepare(&message?) {
            ws.feed(Message::Binary(reply.clone())).await?;
        }
        if batched {
            while let Some(next) = ws.next().now_or_never() {
                let Some(message) = next else {
                    return Ok(());
                };
                if is_prepare(&message?) {
                    ws.feed(Message::Binary(reply.clone())).await?;
                }
            }
        }
        ws.flush().await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The clients' loops: `iters` round trips, at most `in_flight` outstanding.

async fn ours_round_trips(client: &BtpClient, prepare: &Prepare, iters: u64, in_flight: usize) {
    let mut pending = FuturesUnordered::new();
    let mut sent = 0;
    while sent < iters && pending.len() < in_flight {
        pending.push(client.send(prepare.clone()));
        sent += 1;
    }
    while let Some(result) = pending.next().await {
        if let Err(reject) = result {
            panic!("Prepare rejected: {reject:?}");
        }
        if sent < iters {
            pending.push(client.send(prepare.clone()));
            sent += 1;
        }
    }
}

async fn bare_round_trips(
    ws: &mut WebSocketStream<TcpStream>,
    packets: &Packets,
    iters: u64,
    in_flight: usize,
    batched: bool,
) {
    let reply_len = packets.fulfill_frame.len();
    let message = || Message::Binary(packets.prepare_frame.clone());
    let check = |m: Option<Result<Message, _>>| match m {
        Some(Ok(Message::Binary(b))) if b.len() == reply_len => {}
        other => panic!("unexpected answer from the echo server: {other:?}"),
    };
    let (mut sent, mut received) = (0, 0);
    while sent < iters && sent < in_flight as u64 {
        ws.feed(message()).await.expect("write");
        if !batched {
            ws.flush().await.expect("flush");
        }
        sent += 1;
    }
    ws.flush().await.expect("flush");
    while received < iters {
        check(ws.next().await);
        received += 1;
        if sent < iters {
            ws.feed(message()).await.expect("write");
            sent += 1;
            if !batched {
                ws.flush().await.expect("flush");
            }
        }
        if batched {
            while received < iters {
                let Some(next) = ws.next().now_or_never() else {
                    break;
                };
                check(next);
                received += 1;
                if sent < iters {
                    ws.feed(message()).await.expect("write");
                    sent += 1;
                }
            }
            ws.flush().await.expect("flush");
        }
    }
}

async fn bare_connect(addr: SocketAddr) -> WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
        .await
        .expect("WebSocket handshake");
    ws
}

// ---------------------------------------------------------------------------------------------
// The criterion group.

fn round_trips(c: &mut Criterion) {
    let packets = packets();
    let servers = Servers::start(&packets, 0);
    let rt = current_thread();
    let client = rt.block_on(async {
        BtpClient::connect(
            &btp_url(servers.btp.local_addr(), usize::MAX),
            Receiver,
            ClientConfig::default(),
        )
        .await
        .expect("connect and authenticate")
    });
    let mut bare = rt.block_on(bare_connect(servers.bare));
    let mut bare_flush_each = rt.block_on(bare_connect(servers.bare_flush_each));
    // Check every path once before timing.
    rt.block_on(async {
        ours_round_trips(&client, &packets.prepare, 64, 8).await;
        bare_round_trips(&mut bare, &packets, 64, 8, true).await;
        bare_round_trips(&mut bare_flush_each, &packets, 64, 8, false).await;
    });

    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(1));
    for in_flight in IN_FLIGHT {
        group.bench_function(BenchmarkId::new(OURS, in_flight), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    ours_round_trips(&client, &packets.prepare, iters, in_flight).await;
                    start.elapsed()
                })
            });
        });
        group.bench_function(BenchmarkId::new(BARE, in_flight), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    bare_round_trips(&mut bare, &packets, iters, in_flight, true).await;
                    start.elapsed()
                })
            });
        });
    }
    group.bench_function(BenchmarkId::new(BARE_FLUSH_EACH, 64), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                bare_round_trips(&mut bare_flush_each, &packets, iters, 64, false).await;
                start.elapsed()
            })
        });
    });
    group.finish();

    rt.block_on(async {
        client.close().await;
        let _ = bare.close(None).await;
        let _ = bare_flush_each.close(None).await;
    });
    drop(servers);
}

/// Prints the medians (round trips per second) and ours / bare echo.
fn summary() {
    let dir = criterion_dir();
    let rate = |ns: f64| 1e9 / ns;
    let mut lines = Vec::new();
    for in_flight in IN_FLIGHT {
        let (Some(ours), Some(bare)) = (
            median_ns(&dir, GROUP, OURS, in_flight),
            median_ns(&dir, GROUP, BARE, in_flight),
        ) else {
            continue;
        };
        lines.push(format!(
            "| {in_flight} in flight | {:.1}k/s | {:.1}k/s | {:.2}x |",
            rate(ours) / 1e3,
            rate(bare) / 1e3,
            bare / ours,
        ));
    }
    if let Some(ns) = median_ns(&dir, GROUP, BARE_FLUSH_EACH, 64) {
        lines.push(format!(
            "| 64 in flight, bare echo flushing every message | | {:.1}k/s | |",
            rate(ns) / 1e3
        ));
    }
    if lines.is_empty() {
        return;
    }
    println!("\nMedians from {} (round trips per second):", dir.display());
    println!("| case | ours | bare echo | ours / bare echo |");
    println!("|---|---:|---:|---:|");
    for line in lines {
        println!("{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Memory per idle connection.

/// The page size, from the auxiliary vector (`AT_PAGESZ`); 4096 if it cannot be read.
fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    std::fs::read("/proc/self/auxv")
        .ok()
        .and_then(|auxv| {
            auxv.chunks_exact(16).find_map(|pair| {
                let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().expect("8 bytes"));
                (word(&pair[..8]) == AT_PAGESZ).then(|| word(&pair[8..]))
            })
        })
        .unwrap_or(4096)
}

/// The resident set size in bytes (`/proc/self/statm`, second field).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("statm's resident field");
    pages * page_size()
}

/// Resident set growth per idle authenticated connection, with [`MEMORY_CONNECTIONS`] open, in
/// this process: both ends of each connection (a [`BtpClient`] and the [`BtpServer`]'s side).
///
/// [`MEMORY_WARM_UP`] connections are opened first and kept open (so one-time allocations, such
/// as the runtimes' first I/O registrations, are not counted), then RSS is read, then
/// [`MEMORY_CONNECTIONS`] more are opened, one after the other, and once the server has
/// registered all of them and 200 ms have passed, RSS is read again. Then, with those still
/// open, the same for bare tokio-tungstenite connections to the echo server (no BTP, no
/// authentication) as a reference.
fn memory() {
    let packets = packets();
    let total = MEMORY_WARM_UP + MEMORY_CONNECTIONS;
    let servers = Servers::start(&packets, total);
    let rt = current_thread();
    let btp_addr = servers.btp.local_addr();
    let settle = || rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });

    let open_btp = |range: std::ops::Range<usize>| {
        rt.block_on(async {
            let mut clients = Vec::with_capacity(range.len());
            for i in range {
                let client =
                    BtpClient::connect(&btp_url(btp_addr, i), Receiver, ClientConfig::default())
                        .await
                        .expect("connect and authenticate");
                clients.push(client);
            }
            while servers.btp.accounts().len() < clients.len() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            clients
        })
    };
    let warm_up = open_btp(0..MEMORY_WARM_UP);
    settle();
    let before = rss();
    let start = Instant::now();
    let clients = open_btp(MEMORY_WARM_UP..total);
    let opened_in = start.elapsed();
    // Wait until the server has registered all of them.
    rt.block_on(async {
        while servers.btp.accounts().len() < total {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(clients.iter().all(BtpClient::is_connected));
    settle();
    let after = rss();
    let ours = after.saturating_sub(before) as f64 / MEMORY_CONNECTIONS as f64;

    let open_bare = |n: usize| {
        rt.block_on(async {
            let mut sockets = Vec::with_capacity(n);
            for _ in 0..n {
                sockets.push(bare_connect(servers.bare).await);
            }
            sockets
        })
    };
    let wait_bare = |n: usize| {
        rt.block_on(async {
            while servers.bare_accepted.load(Ordering::Relaxed) < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
    };
    let bare_warm_up = open_bare(MEMORY_WARM_UP);
    wait_bare(MEMORY_WARM_UP);
    settle();
    let bare_before = rss();
    let bare = open_bare(MEMORY_CONNECTIONS);
    wait_bare(MEMORY_WARM_UP + MEMORY_CONNECTIONS);
    settle();
    let bare_after = rss();
    let bare_per = bare_after.saturating_sub(bare_before) as f64 / MEMORY_CONNECTIONS as f64;

    println!(
        "memory: {MEMORY_CONNECTIONS} idle authenticated BTP connections (BtpClient -> BtpServer, \
         both ends in this process; opened in {opened_in:.2?}): RSS {:.1} MiB -> {:.1} MiB, \
         {:.1} KiB per connection",
        before as f64 / 1_048_576.0,
        after as f64 / 1_048_576.0,
        ours / 1024.0,
    );
    println!(
        "memory: {MEMORY_CONNECTIONS} idle bare tokio-tungstenite connections (both ends): RSS \
         {:.1} MiB -> {:.1} MiB, {:.1} KiB per connection",
        bare_before as f64 / 1_048_576.0,
        bare_after as f64 / 1_048_576.0,
        bare_per / 1024.0,
    );

    rt.block_on(async {
        for client in warm_up.iter().chain(&clients) {
            client.close().await;
        }
    });
    drop((bare_warm_up, bare, clients, warm_up));
    drop(servers);
}

fn main() {
    if std::env::args().skip(1).any(|a| a == "memory") {
        memory();
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    round_trips(&mut c);
    c.final_summary();
    summary();
}
