//! `ilp-send`: send Prepares by the test convention (fulfillment = SHA-256(data)) over BTP and
//! report how they fared.
//!
//! ```text
//! cargo run -p ilp-examples --bin ilp-send -- --to btp+ws://alice@127.0.0.1:7768 --token s3cret --count 1000 --concurrency 16
//! ```
//! The last line reads `N fulfilled, M rejected, K failed, R per second`: "failed" counts the
//! Prepares the link itself could not deliver (T01 peer unreachable, R00 timed out). The exit
//! code is 0 only when every Prepare was fulfilled. (`--to http://…` arrives with the
//! ILP-over-HTTP crate.)
use std::error::Error;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use ilp_btp::ws::{BtpClient, BtpUrl, ClientConfig};
use ilp_core::{test_condition, TestReceiver};
use ilp_packet::{Address, ErrorCode, PrepareBuilder, Timestamp};

/// Rejects that mean the link could not deliver the Prepare, rather than the receiver refusing it.
const LINK_FAILURES: [ErrorCode; 2] = [
    ErrorCode::T01_PEER_UNREACHABLE,
    ErrorCode::R00_TRANSFER_TIMED_OUT,
];

const USAGE: &str =
    "usage: ilp-send --to URL --token TOKEN --count N [--concurrency C] [--data-bytes B]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (mut to, mut token, mut count, mut concurrency, mut data_bytes) = (None, None, None, 1, 32);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(USAGE);
        match arg.as_str() {
            "--to" => to = Some(value()?),
            "--token" => token = Some(value()?),
            "--count" => count = Some(value()?.parse::<usize>()?),
            "--concurrency" => concurrency = value()?.parse::<usize>()?.max(1),
            "--data-bytes" => data_bytes = value()?.parse()?,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let (Some(to), Some(token), Some(count)) = (to, token, count) else {
        return Err(USAGE.into());
    };
    let url: BtpUrl = to.parse()?;
    let url = url.clone().with_credentials(url.username(), &token);
    // Prepares coming the other way are answered by the same convention.
    let incoming = TestReceiver::new(Address::from_static("private.sender"));
    let client = BtpClient::connect_url(url, incoming, ClientConfig::default()).await?;

    let destination = Address::from_static("private.receiver");
    let started = Instant::now();
    let results: Vec<_> = stream::iter(0..count)
        .map(|i| {
            let data: Vec<u8> = (i as u64)
                .to_be_bytes()
                .into_iter()
                .cycle()
                .take(data_bytes)
                .collect();
            let prepare = PrepareBuilder {
                amount: 1,
                expires_at: Timestamp::now()
                    .checked_add(Duration::from_secs(30))
                    .unwrap_or(Timestamp::MAX),
                execution_condition: test_condition(&data),
                destination: &destination,
                data: &data,
            }
            .build();
            let client = client.clone();
            async move { Ok::<_, ilp_packet::DecodeError>(client.send(prepare?).await) }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    client.close().await;

    let (mut fulfilled, mut rejected, mut failed) = (0, 0, 0);
    for result in results {
        match result? {
            Ok(_) => fulfilled += 1,
            Err(reject) if LINK_FAILURES.contains(&reject.code()) => failed += 1,
            Err(_) => rejected += 1,
        }
    }
    println!(
        "{fulfilled} fulfilled, {rejected} rejected, {failed} failed, {:.0} per second",
        count as f64 / elapsed.max(1e-9)
    );
    std::process::exit(i32::from(fulfilled != count));
}
