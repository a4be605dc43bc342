//! `ilp-send`: send Prepares by the test convention (fulfillment = SHA-256(data)) over BTP or
//! ILP-over-HTTP, and report how they fared.
//!
//! ```text
//! ilp-send --to btp+ws://alice@127.0.0.1:7768 --token s3cret --count 1000 --concurrency 16
//! ilp-send --to https://node.example/accounts/alice/ilp --token s3cret --count 10 --destination g.bob
//! ilp-send --to http://127.0.0.1:7770/accounts/alice/ilp --token s3cret --count 10 --callback 127.0.0.1:7771
//! ```
//! `--to` takes `btp+ws://`, `btp+wss://`, `http://` or `https://`; the token is `--token` or
//! the password of a BTP URL (not both). `--ca-cert FILE` trusts the PEM certificates in FILE
//! instead of Mozilla's roots. `--callback ADDR` (HTTP) asks for the asynchronous mode: the
//! replies come to `http://ADDR/callbacks`, authenticated with the same token. Before the last
//! line, a line gives the rejects and failures by code with the first message of each; the
//! last reads `N fulfilled, M rejected, K failed, R per second` ("failed": T01, R00). Exit 0
//! only when every Prepare was fulfilled; an error is one line, `error: ...`, exit 1.
use ilp_btp::ws::{BtpClient, BtpUrl, ClientConfig};
use ilp_core::{Principal, SystemClock, TestReceiver, TestSend};
use ilp_examples::{btp_token, callback_endpoint, exit, trusted_roots, Args, Outcome};
use ilp_http::{HttpClient, OutgoingAuth};
use ilp_packet::Address;
use zeroize::Zeroizing;

const USAGE: &str = "usage: ilp-send --to URL --token TOKEN --count N [--concurrency C] \
    [--data-bytes B] [--destination ADDR] [--ca-cert FILE] [--callback ADDR]";

#[tokio::main]
async fn main() {
    exit(run().await);
}

async fn run() -> Outcome {
    let (mut to, mut token, mut roots, mut callback) = (None, None, None, None);
    let mut send = TestSend::new(Address::from_static("private.receiver")).with_count(0);
    let mut args = Args::new(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--to" => to = Some(args.value()?),
            "--token" => token = Some(Zeroizing::new(args.value()?)),
            "--count" => send.count = args.parse()?,
            "--concurrency" => send.concurrency = args.parse()?,
            "--data-bytes" => send.data_bytes = args.parse()?,
            "--destination" => send.destination = args.parse()?,
            "--ca-cert" => roots = Some(trusted_roots(&args.value()?)?),
            "--callback" => callback = Some(args.parse()?),
            "--help" | "-h" => return Ok(args.help()),
            _ => return Err(args.unknown()),
        }
    }
    let to = to.ok_or_else(|| args.usage("--to is required"))?;
    send.check()
        .map_err(|e| format!("{e} (--count, --concurrency, --data-bytes)"))?;
    let (from, me) = (
        Principal::account("sender".parse()?),
        Address::from_static("private.sender"),
    );

    let summary = if to.starts_with("http://") || to.starts_with("https://") {
        let token = token.ok_or_else(|| args.usage("--token is required"))?;
        let mut config = ilp_http::ClientConfig::new(to.as_str(), me.clone())?
            .with_auth(OutgoingAuth::bearer(token.as_str()));
        if let Some(roots) = roots {
            config = config.with_tls(ilp_http::tls_client_config(roots)?);
        }
        let mut server = None;
        if let Some(addr) = callback {
            let (bound, caller) = callback_endpoint(addr, &token, me).await?;
            (config, server) = (config.with_async(caller), Some(bound));
        }
        let summary = send
            .run(&HttpClient::new(config)?, from, &SystemClock)
            .await;
        if let Some(server) = server {
            server.shutdown().await;
        }
        summary
    } else {
        if callback.is_some() {
            return Err("--callback needs an http:// or https:// URL".into());
        }
        let url: BtpUrl = to.parse()?;
        let token = btp_token(&url, token)?;
        let url = url.clone().with_credentials(url.username(), &token);
        let mut config = ClientConfig::default();
        if let Some(roots) = roots {
            config = config.with_tls(ilp_btp::ws::tls_client_config(roots)?);
        }
        // Prepares coming the other way are answered by the same convention.
        let client = BtpClient::connect_url(url, TestReceiver::new(me), config).await?;
        let summary = send.run(&client, from, &SystemClock).await;
        client.close().await;
        summary
    };
    if let Some(breakdown) = summary.breakdown() {
        println!("{breakdown}");
    }
    println!("{summary}");
    Ok(summary.all_fulfilled(&send))
}
