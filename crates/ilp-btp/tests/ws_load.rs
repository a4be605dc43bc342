//! The integration test: 1 000 concurrent client connections each sending 100 Prepares
//! through one server; every Prepare gets its Fulfill. A correctness test, not a timing one.
#![cfg(feature = "tokio")]

mod ws_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::{BtpClient, BtpServer, ClientConfig, ServerConfig};
use ilp_core::TestReceiver;
use ilp_packet::Address;
use tokio::sync::Semaphore;
use ws_common::{id, prepare, url};

const CLIENTS: usize = 1_000;
const PREPARES: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_each_send_a_hundred_prepares() {
    let start = Instant::now();
    // One account per client (a second connection for an account would replace the first).
    let auth = AccountAuthenticator::new(
        NodeKey::from_bytes(&[0x42; 32]).unwrap(),
        Arc::new(MemoryStore::new()),
    );
    for n in 0..CLIENTS {
        let account = id(&format!("user{n}"));
        auth.add_account(account.clone()).await.unwrap();
        auth.add_token(&account, &format!("token{n}"), None)
            .await
            .unwrap();
    }
    let server = BtpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(auth),
        TestReceiver::new(Address::from_static("example.server")),
        ServerConfig::default(),
    )
    .await
    .unwrap();
    // Connect at most 100 at a time (the listen backlog is finite).
    let gate = Arc::new(Semaphore::new(100));
    let tasks = (0..CLIENTS).map(|n| {
        let gate = Arc::clone(&gate);
        let url = url(&server, &format!("user{n}"), &format!("token{n}"));
        tokio::spawn(async move {
            let client = {
                let _permit = gate.acquire().await.unwrap();
                BtpClient::connect(
                    &url,
                    TestReceiver::new(Address::from_static("example.client")),
                    ClientConfig::default().with_keepalive(None),
                )
                .await
                .unwrap()
            };
            let data: Vec<Vec<u8>> = (0..PREPARES)
                .map(|i| format!("{n}/{i}").into_bytes())
                .collect();
            let results = join_all(data.iter().map(|d| client.send(prepare(d, true)))).await;
            client.close().await;
            results
                .into_iter()
                .zip(&data)
                .filter(|(r, d)| r.as_ref().map(|f| f.data() != d.as_slice()).unwrap_or(true))
                .count()
        })
    });
    let failed: usize = join_all(tasks).await.into_iter().map(Result::unwrap).sum();
    assert_eq!(failed, 0, "prepares not fulfilled");
    server.shutdown().await;
    eprintln!("{} prepares in {:?}", CLIENTS * PREPARES, start.elapsed());
    assert!(start.elapsed() < Duration::from_secs(120));
}
