//! `ilp-receiver`: accept ILP over BTP from the given accounts and answer every Prepare by the
//! test convention: the fulfillment is SHA-256(data), so a Prepare is fulfilled (its data
//! echoed) when SHA-256(SHA-256(data)) is its condition, and rejected F05 otherwise.
//!
//! ```text
//! cargo run -p ilp-examples --bin ilp-receiver -- --btp 127.0.0.1:7768 --account alice:s3cret
//! ```
//! Clients connect to `ws://HOST:PORT/accounts/NAME/ilp/btp` (or any path, naming the account
//! by `auth_username`). It prints `listening for BTP on ADDR` and runs until Ctrl-C. The HTTP
//! listener (`--http`) arrives with the ILP-over-HTTP crate.
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::{BtpServer, ServerConfig};
use ilp_core::TestReceiver;
use ilp_packet::Address;

const USAGE: &str =
    "usage: ilp-receiver --btp ADDR --account NAME:TOKEN [--account NAME:TOKEN ...]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut btp: Option<SocketAddr> = None;
    let mut accounts = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--btp" => btp = Some(args.next().ok_or(USAGE)?.parse()?),
            "--account" => accounts.push(args.next().ok_or(USAGE)?),
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let (Some(btp), false) = (btp, accounts.is_empty()) else {
        return Err(USAGE.into());
    };

    // Tokens are kept only as MACs under a key made for this run.
    let auth = AccountAuthenticator::new(NodeKey::generate()?, Arc::new(MemoryStore::new()));
    for spec in &accounts {
        let (name, token) = spec.split_once(':').ok_or("--account takes NAME:TOKEN")?;
        let account = name.parse()?;
        auth.add_account(account).await?;
        auth.add_token(&name.parse()?, token, None).await?;
    }

    let receiver = TestReceiver::new(Address::from_static("private.receiver"));
    let server = BtpServer::bind(btp, Arc::new(auth), receiver, ServerConfig::default()).await?;
    println!("listening for BTP on {}", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
