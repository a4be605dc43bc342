//! `ilp-receiver`: accept ILP over BTP and ILP-over-HTTP from the given accounts and answer
//! every Prepare by the test convention: the fulfillment is SHA-256(data), so a Prepare is fulfilled (its data
//! echoed) when SHA-256(SHA-256(data)) is its condition, and rejected F05 otherwise.
//!
//! ```text
//! cargo run -p ilp-examples --bin ilp-receiver -- --btp 127.0.0.1:7768 --http 127.0.0.1:7770 --account alice:s3cret
//! ```
//! BTP clients connect to `ws://HOST:PORT/accounts/NAME/ilp/btp` (or any path, naming the
//! account by `auth_username`); HTTP clients `POST /accounts/NAME/ilp` with
//! `Authorization: Bearer TOKEN`. It prints `listening for BTP on ADDR` and `listening for
//! HTTP on ADDR` and runs until Ctrl-C.
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::{BtpServer, ServerConfig};
use ilp_core::TestReceiver;
use ilp_http::HttpServer;
use ilp_packet::Address;

const USAGE: &str =
    "usage: ilp-receiver --btp ADDR --account NAME:TOKEN [--account NAME:TOKEN ...]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (mut btp, mut http): (Option<SocketAddr>, Option<SocketAddr>) = (None, None);
    let mut accounts = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--btp" => btp = Some(args.next().ok_or(USAGE)?.parse()?),
            "--http" => http = Some(args.next().ok_or(USAGE)?.parse()?),
            "--account" => accounts.push(args.next().ok_or(USAGE)?),
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    if (btp.is_none() && http.is_none()) || accounts.is_empty() {
        return Err(USAGE.into());
    }

    // Tokens are kept only as MACs under a key made for this run.
    let auth = AccountAuthenticator::new(NodeKey::generate()?, Arc::new(MemoryStore::new()));
    for spec in &accounts {
        let (name, token) = spec.split_once(':').ok_or("--account takes NAME:TOKEN")?;
        let account = name.parse()?;
        auth.add_account(account).await?;
        auth.add_token(&name.parse()?, token, None).await?;
    }

    let auth: Arc<AccountAuthenticator> = Arc::new(auth);
    let node = Address::from_static("private.receiver");
    let mut btp_server = None;
    if let Some(addr) = btp {
        let server = BtpServer::bind(
            addr,
            auth.clone(),
            TestReceiver::new(node.clone()),
            ServerConfig::default(),
        )
        .await?;
        println!("listening for BTP on {}", server.local_addr());
        btp_server = Some(server);
    }
    let mut http_server = None;
    if let Some(addr) = http {
        let config = ilp_http::ServerConfig::default().with_node_address(node.clone());
        let server = HttpServer::bind(addr, auth, TestReceiver::new(node), config).await?;
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
    Ok(())
}
