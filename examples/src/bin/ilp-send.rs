//! `ilp-send`: send Prepares by the test convention (fulfillment = SHA-256(data)) over BTP or
//! ILP-over-HTTP, and report how they fared.
//!
//! ```text
//! cargo run -p ilp-examples --bin ilp-send -- --to btp+ws://alice@127.0.0.1:7768 --token s3cret --count 1000 --concurrency 16
//! cargo run -p ilp-examples --bin ilp-send -- --to http://127.0.0.1:7770/accounts/alice/ilp --token s3cret --count 1000
//! ```
//! The last line reads `N fulfilled, M rejected, K failed, R per second`: "failed" counts the
//! Prepares the link itself could not deliver (T01 peer unreachable, R00 timed out). The exit
//! code is 0 only when every Prepare was fulfilled.
use std::error::Error;

use ilp_btp::ws::{BtpClient, BtpUrl, ClientConfig};
use ilp_core::{Principal, SystemClock, TestReceiver, TestSend};
use ilp_http::{HttpClient, OutgoingAuth};
use ilp_packet::Address;

const USAGE: &str =
    "usage: ilp-send --to URL --token TOKEN --count N [--concurrency C] [--data-bytes B]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (mut to, mut token, mut count) = (None, None, None);
    let mut send = TestSend::new(Address::from_static("private.receiver"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(USAGE);
        match arg.as_str() {
            "--to" => to = Some(value()?),
            "--token" => token = Some(value()?),
            "--count" => count = Some(value()?.parse()?),
            "--concurrency" => send.concurrency = value()?.parse()?,
            "--data-bytes" => send.data_bytes = value()?.parse()?,
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
    let send = send.with_count(count);
    let from = Principal::account("sender".parse()?);
    let me = Address::from_static("private.sender");

    let summary = if to.starts_with("http://") {
        let config = ilp_http::ClientConfig::new(to.as_str(), me)?;
        let client = HttpClient::new(config.with_auth(OutgoingAuth::bearer(token)))?;
        send.run(&client, from, &SystemClock).await
    } else {
        let url: BtpUrl = to.parse()?;
        let url = url.clone().with_credentials(url.username(), &token);
        // Prepares coming the other way are answered by the same convention.
        let incoming = TestReceiver::new(me);
        let client = BtpClient::connect_url(url, incoming, ClientConfig::default()).await?;
        let summary = send.run(&client, from, &SystemClock).await;
        client.close().await;
        summary
    };
    println!("{summary}");
    std::process::exit(i32::from(!summary.all_fulfilled(&send)));
}
