//! ILP-over-HTTP round-trip benches: `ilp-http`'s client and server over loopback against a bare
//! hyper 1 echo server and a bare hyper-util pooled client exchanging bodies of the same sizes,
//! in the same criterion group and the same run.
//!
//! - `http_round_trip/ours-{h1,h2}/{1,64}`: an [`HttpClient`] POSTs Prepares to an
//!   [`HttpServer`] whose handler answers like ilp-core's `TestReceiver` (fulfillment =
//!   SHA-256(data), checked against the condition) but with an empty Fulfill; 1 or 64 requests
//!   in flight (`HttpClient::handle` futures in a `FuturesUnordered`, refilled as answers come).
//!   The Prepare is 199 bytes (destination `test.bench.receiver`, 118 bytes of data), the
//!   Fulfill 35, as in the BTP bench. The client authenticates with a static bearer token
//!   checked by an [`AccountAuthenticator`] on a [`MemoryStore`]. Client defaults otherwise
//!   (at most 32 idle pooled connections per host).
//! - `http_round_trip/bare-echo-{h1,h2}/{1,64}`: a hyper-util legacy pooled client (defaults,
//!   `TCP_NODELAY`) POSTs the Prepare's 199 bytes; a hyper-util auto server (HTTP/1.1 and
//!   HTTP/2) reads each body and answers `200` with 35 bytes of `application/octet-stream`. No
//!   ILP, no authentication.
//!
//! `h1` is HTTP/1.1 (one request per connection at a time, so up to 64 pooled connections at 64
//! in flight); `h2` is HTTP/2 with prior knowledge (one connection, multiplexed).
//!
//! One core each side: the servers run on a current-thread tokio runtime on their own thread; the
//! clients on another current-thread runtime, driven by criterion's thread. Each iteration is one
//! round trip (`iter_custom` times N of them; `Throughput::Elements(1)`), so criterion reports
//! round trips per second. After the group, the medians and the ratio ours / bare echo are
//! printed from criterion's `estimates.json` files. See `benches/README.md` for the figures.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_benches::round_trip::{
    self, criterion_dir, current_thread, fulfill, median_ns, Receiver, ACCOUNT, FULFILL_LEN,
    IN_FLIGHT, RECEIVER, TOKEN,
};
use ilp_core::{PacketHandler, Principal, Request};
use ilp_http::{ClientConfig, HttpClient, HttpServer, OutgoingAuth, ServerConfig};
use ilp_packet::{Address, Prepare};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const GROUP: &str = "http_round_trip";
/// (name suffix, HTTP/2 with prior knowledge).
const PROTOCOLS: [(&str, bool); 2] = [("h1", false), ("h2", true)];

const CLIENT_NODE: &str = "test.bench.sender";

// ---------------------------------------------------------------------------------------------
// Fixture.

/// The Prepare and the bodies the bare pair exchanges.
#[derive(Clone)]
struct Packets {
    prepare: Prepare,
    /// The Prepare's bytes (what both clients POST).
    prepare_body: Bytes,
    /// The Fulfill's bytes (what both servers answer).
    fulfill_body: Bytes,
}

fn packets() -> Packets {
    let prepare = round_trip::prepare();
    let fulfill = fulfill(&prepare).expect("the condition matches");
    Packets {
        prepare_body: Bytes::copy_from_slice(prepare.as_bytes()),
        fulfill_body: Bytes::copy_from_slice(fulfill.as_bytes()),
        prepare,
    }
}

// ---------------------------------------------------------------------------------------------
// The servers: one thread, one current-thread runtime.

struct Servers {
    ours: SocketAddr,
    bare: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Servers {
    /// Starts an [`HttpServer`] (account `bench`) and the bare echo server on a new thread.
    fn start(packets: &Packets) -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let prepare_len = packets.prepare_body.len();
        let reply = packets.fulfill_body.clone();
        let thread = thread::Builder::new()
            .name("servers".into())
            .spawn(move || {
                current_thread().block_on(async move {
                    let auth = AccountAuthenticator::new(
                        NodeKey::from_bytes(&[7; 32]).expect("valid key"),
                        Arc::new(MemoryStore::new()),
                    );
                    let name = ACCOUNT.parse().expect("valid account name");
                    auth.add_account(ilp_core::AccountId::clone(&name))
                        .await
                        .expect("new account");
                    auth.add_token(&name, TOKEN, None).await.expect("token");
                    let ours = HttpServer::bind(
                        "127.0.0.1:0".parse().expect("address"),
                        Arc::new(auth),
                        Receiver,
                        ServerConfig::default().with_node_address(Address::from_static(RECEIVER)),
                    )
                    .await
                    .expect("bind the HTTP server");
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                    let bare = listener.local_addr().expect("bound");
                    tokio::spawn(bare_accept(listener, prepare_len, reply));
                    ready_tx
                        .send((ours.local_addr(), bare))
                        .expect("main thread waits");
                    let _ = stop_rx.await;
                    drop(ours);
                });
            })
            .expect("spawn the server thread");
        let (ours, bare) = ready_rx.recv().expect("servers started");
        Self {
            ours,
            bare,
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

/// Serves each connection with the hyper-util auto builder (HTTP/1.1 or HTTP/2 prior
/// knowledge): every POST whose body has `prepare_len` bytes gets `200` and `reply`.
async fn bare_accept(listener: TcpListener, prepare_len: usize, reply: Bytes) {
    let builder = Arc::new(hyper_util::server::conn::auto::Builder::new(
        TokioExecutor::new(),
    ));
    while let Ok((tcp, _)) = listener.accept().await {
        let _ = tcp.set_nodelay(true);
        let reply = reply.clone();
        let builder = Arc::clone(&builder);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let reply = reply.clone();
                async move {
                    let is_post = request.method() == http::Method::POST;
                    let body = request.into_body().collect().await.map(|b| b.to_bytes());
                    let status = match body {
                        Ok(body) if is_post && body.len() == prepare_len => http::StatusCode::OK,
                        _ => http::StatusCode::BAD_REQUEST,
                    };
                    let response = http::Response::builder()
                        .status(status)
                        .header(http::header::CONTENT_TYPE, "application/octet-stream")
                        .body(Full::new(reply))
                        .expect("valid response");
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}

// ---------------------------------------------------------------------------------------------
// The clients.

fn ours_client(addr: SocketAddr, http2: bool) -> HttpClient {
    let url = format!("http://{addr}/accounts/{ACCOUNT}/ilp");
    let config = ClientConfig::new(url, Address::from_static(CLIENT_NODE))
        .expect("valid URL")
        .with_auth(OutgoingAuth::bearer(TOKEN))
        .with_http2_only(http2);
    HttpClient::new(config).expect("valid client config")
}

type BareClient = Client<HttpConnector, Full<Bytes>>;

fn bare_client(http2: bool) -> BareClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .http2_only(http2)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector)
}

async fn ours_round_trip(client: &HttpClient, request: Request) {
    if let Err(reject) = client.handle(request).await {
        panic!("Prepare rejected: {reject:?}");
    }
}

async fn bare_round_trip(client: &BareClient, uri: &http::Uri, body: Bytes) {
    let request = http::Request::post(uri.clone())
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .body(Full::new(body))
        .expect("valid request");
    let response = client.request(request).await.expect("bare round trip");
    assert_eq!(response.status(), http::StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    assert_eq!(body.len(), FULFILL_LEN);
}

/// `iters` round trips made by `one`, at most `in_flight` outstanding.
async fn round_trips<F, Fut>(one: F, iters: u64, in_flight: usize)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut pending = FuturesUnordered::new();
    let mut sent = 0;
    while sent < iters && pending.len() < in_flight {
        pending.push(one());
        sent += 1;
    }
    while pending.next().await.is_some() {
        if sent < iters {
            pending.push(one());
            sent += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The criterion group.

fn bench_round_trips(c: &mut Criterion) {
    let packets = packets();
    let servers = Servers::start(&packets);
    let rt = current_thread();
    let from = Principal::account(ACCOUNT.parse().expect("valid account name"));
    let request = || Request {
        from: from.clone(),
        prepare: packets.prepare.clone(),
    };
    let bare_uri: http::Uri = format!("http://{}/", servers.bare)
        .parse()
        .expect("valid URL");

    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(1));
    for (protocol, http2) in PROTOCOLS {
        let ours = ours_client(servers.ours, http2);
        let bare = bare_client(http2);
        let ours_one = || ours_round_trip(&ours, request());
        let bare_one = || bare_round_trip(&bare, &bare_uri, packets.prepare_body.clone());
        // Check both paths once (and open the connections) before timing.
        rt.block_on(async {
            round_trips(ours_one, 64, 8).await;
            round_trips(bare_one, 64, 8).await;
        });
        for in_flight in IN_FLIGHT {
            group.bench_function(
                BenchmarkId::new(format!("ours-{protocol}"), in_flight),
                |b| {
                    b.iter_custom(|iters| {
                        rt.block_on(async {
                            let start = Instant::now();
                            round_trips(ours_one, iters, in_flight).await;
                            start.elapsed()
                        })
                    });
                },
            );
            group.bench_function(
                BenchmarkId::new(format!("bare-echo-{protocol}"), in_flight),
                |b| {
                    b.iter_custom(|iters| {
                        rt.block_on(async {
                            let start = Instant::now();
                            round_trips(bare_one, iters, in_flight).await;
                            start.elapsed()
                        })
                    });
                },
            );
        }
        drop((ours, bare));
    }
    group.finish();
    drop(rt);
    drop(servers);
}

/// Prints the medians (round trips per second) and ours / bare echo against the 0.85x target.
fn summary() {
    let dir = criterion_dir();
    let rate = |ns: f64| 1e9 / ns;
    let mut lines = Vec::new();
    for (protocol, _) in PROTOCOLS {
        for in_flight in IN_FLIGHT {
            let (Some(ours), Some(bare)) = (
                median_ns(&dir, GROUP, &format!("ours-{protocol}"), in_flight),
                median_ns(&dir, GROUP, &format!("bare-echo-{protocol}"), in_flight),
            ) else {
                continue;
            };
            let ratio = bare / ours;
            lines.push(format!(
                "| {protocol}, {in_flight} in flight | {:.1}k/s | {:.1}k/s | {ratio:.2}x | 0.85x | {} |",
                rate(ours) / 1e3,
                rate(bare) / 1e3,
                if ratio >= 0.85 { "yes" } else { "no" },
            ));
        }
    }
    if lines.is_empty() {
        return;
    }
    println!("\nMedians from {} (round trips per second):", dir.display());
    println!("| case | ours | bare echo | ours / bare echo | target | met? |");
    println!("|---|---:|---:|---:|---:|---|");
    for line in lines {
        println!("{line}");
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    bench_round_trips(&mut c);
    c.final_summary();
    summary();
}
