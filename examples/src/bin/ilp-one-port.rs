//! `ilp-one-port`: one axum application serving ILP-over-HTTP, BTP and a route of its own on
//! one port. Prepares are answered by the test convention (fulfilled when the condition is
//! SHA-256(SHA-256(data)), else rejected F05), as `ilp-receiver` does.
//!
//! ```text
//! cargo run -p ilp-examples --bin ilp-one-port -- --listen 127.0.0.1:7768 --account alice:s3cret
//! ```
//! On that port: BTP at `ws://HOST:PORT/accounts/NAME/ilp/btp` (or `ws://HOST:PORT/btp`,
//! naming the account by `auth_username`), ILP-over-HTTP at `POST /accounts/NAME/ilp` with
//! `Authorization: Bearer TOKEN`, and the application's own `GET /`. It prints
//! `listening on ADDR` and runs until Ctrl-C.
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::{BtpService, ServerConfig};
use ilp_core::{Authenticator, TestReceiver};
use ilp_http::{Endpoint, IlpHttpService};
use ilp_packet::Address;

const USAGE: &str = "usage: ilp-one-port [--listen ADDR] --account NAME:TOKEN [--account ...]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut listen: SocketAddr = "127.0.0.1:7768".parse()?;
    let mut accounts = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or(USAGE)?.parse()?,
            "--account" => accounts.push(args.next().ok_or(USAGE)?),
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    if accounts.is_empty() {
        return Err(USAGE.into());
    }

    // Tokens are kept only as MACs under a key made for this run.
    let auth = AccountAuthenticator::new(NodeKey::generate()?, Arc::new(MemoryStore::new()));
    for spec in &accounts {
        let (name, token) = spec.split_once(':').ok_or("--account takes NAME:TOKEN")?;
        auth.add_account(name.parse()?).await?;
        auth.add_token(&name.parse()?, token, None).await?;
    }
    let auth: Arc<dyn Authenticator> = Arc::new(auth);
    let node = Address::from_static("private.one-port");

    let http_config = ilp_http::ServerConfig::default().with_node_address(node.clone());
    let http = Endpoint::new(auth.clone(), TestReceiver::new(node.clone()), http_config);
    let btp = BtpService::new(auth, TestReceiver::new(node), ServerConfig::default());
    let app = Router::new()
        .route(
            "/",
            get(|| async { "ilp-one-port: ILP over HTTP and BTP on this port\n" }),
        )
        .route_service("/accounts/{name}/ilp", IlpHttpService::new(http))
        .route_service("/accounts/{name}/ilp/btp", btp.clone())
        .route_service("/btp", btp.clone());

    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // The HTTP server is down; close the BTP connections it had upgraded.
    btp.shutdown().await;
    Ok(())
}
