//! `ilp-receiver`: accept ILP over BTP and ILP-over-HTTP from the given accounts and answer
//! every Prepare by the test convention: the fulfillment is SHA-256(data), so a Prepare is
//! fulfilled (its data echoed) when SHA-256(SHA-256(data)) is its condition, and rejected F05
//! otherwise.
//!
//! ```text
//! ilp-receiver --btp 127.0.0.1:7768 --http 127.0.0.1:7770 --http-async --account alice:s3cret
//! ```
//! At least one of `--btp` and `--http`. BTP clients connect to
//! `ws://HOST:PORT/accounts/NAME/ilp/btp` (or any path, naming the account by
//! `auth_username`); HTTP clients `POST /accounts/NAME/ilp` with `Authorization: Bearer
//! TOKEN`. With `--http-async`, a request asking for the asynchronous mode is answered `202`
//! and its reply POSTed to the `Callback-Url` it names (any URL: this is a test tool, for
//! authenticated accounts only), with the account's own token. It prints `listening for BTP
//! on ADDR` and `listening for HTTP on ADDR` and runs until Ctrl-C. An error is one line,
//! `error: ...`, exit 1.
use std::sync::Arc;

use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::{BtpServer, ServerConfig};
use ilp_core::{AccountId, TestReceiver};
use ilp_examples::{exit, AnyCallback, Args, Outcome};
use ilp_http::{AsyncConfig, Endpoint, HttpServer, IlpHttpService};
use ilp_packet::Address;
use zeroize::Zeroizing;

const USAGE: &str = "usage: ilp-receiver [--btp ADDR] [--http ADDR [--http-async]] \
    --account NAME:TOKEN [--account NAME:TOKEN ...] (at least one of --btp and --http)";

#[tokio::main]
async fn main() {
    exit(run().await);
}

async fn run() -> Outcome {
    let (mut btp, mut http, mut http_async) = (None, None, false);
    let mut tokens = AnyCallback::default();
    let mut args = Args::new(USAGE);
    while let Some(flag) = args.next_flag() {
        match flag.as_str() {
            "--btp" => btp = Some(args.parse()?),
            "--http" => http = Some(args.parse()?),
            "--http-async" => http_async = true,
            "--account" => {
                let spec = Zeroizing::new(args.value()?);
                let (name, token) = spec.split_once(':').ok_or("--account takes NAME:TOKEN")?;
                let name: AccountId = name.parse().map_err(|e| format!("--account: {e}"))?;
                let token = Zeroizing::new(token.to_owned());
                if tokens.0.insert(name.clone(), token).is_some() {
                    return Err(format!("--account {name} is given twice").into());
                }
            }
            "--help" | "-h" => return Ok(args.help()),
            _ => return Err(args.unknown()),
        }
    }
    if (btp.is_none() && http.is_none()) || tokens.0.is_empty() || (http_async && http.is_none()) {
        return Err(args.usage("missing or contradicting arguments"));
    }
    // Tokens are kept only as MACs under a key made for this run; failures beyond an
    // account's limit are held back.
    let auth = AccountAuthenticator::new(NodeKey::generate()?, Arc::new(MemoryStore::new()))
        .with_sleep(tokio::time::sleep);
    for (account, token) in &tokens.0 {
        auth.add_account(account.clone()).await?;
        auth.add_token(account, token, None).await?;
    }
    let (auth, node) = (Arc::new(auth), Address::from_static("private.receiver"));
    let mut btp_server = None;
    if let Some(addr) = btp {
        let (handler, config) = (TestReceiver::new(node.clone()), ServerConfig::default());
        let server = BtpServer::bind(addr, auth.clone(), handler, config).await?;
        println!("listening for BTP on {}", server.local_addr());
        btp_server = Some(server);
    }
    let mut http_server = None;
    if let Some(addr) = http {
        let config = ilp_http::ServerConfig::default().with_node_address(node.clone());
        let mut service = IlpHttpService::new(Endpoint::new(auth, TestReceiver::new(node), config));
        if http_async {
            service = service.with_async(AsyncConfig::new(tokens));
        }
        let server = HttpServer::bind_service(addr, service).await?;
        println!("listening for HTTP on {}", server.local_addr());
        http_server = Some(server);
    }
    tokio::signal::ctrl_c().await?;
    if let Some(server) = btp_server {
        server.shutdown().await;
    }
    if let Some(server) = http_server {
        server.shutdown().await;
    }
    Ok(true)
}
