//! The largest legal ILP packets of each type (`ilp_packet::MAX_*_LEN`) cross a real
//! `BtpServer` and `BtpClient` on loopback intact, in both directions: no transport limit
//! is below the codec's maxima (robustness finding 6, BTP side).
#![cfg(feature = "tokio")]
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::{BtpClient, BtpServer, ClientConfig, ServerConfig};
use ilp_core::{test_condition, test_fulfillment, IlpResult, PacketHandler, Request};
use ilp_packet::{
    Address, ErrorCode, Fulfill, FulfillBuilder, Prepare, PrepareBuilder, Reject, RejectBuilder,
    Timestamp, MAX_DATA_LEN, MAX_FULFILL_LEN, MAX_MESSAGE_LEN, MAX_PREPARE_LEN, MAX_REJECT_LEN,
};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// A valid address of exactly `Address::MAX_LEN` (1 023) bytes.
fn longest_address(first: &str) -> Address {
    let mut text = format!("example.{first}");
    while text.len() < Address::MAX_LEN {
        let room = Address::MAX_LEN - text.len();
        // Segments of up to 63 characters, each after a dot; never a trailing dot.
        let len = room.saturating_sub(1).min(63);
        if len == 0 {
            text.push('z');
            continue;
        }
        text.push('.');
        text.extend(std::iter::repeat_n('a', len));
    }
    let address: Address = text.parse().unwrap();
    assert_eq!(address.len(), Address::MAX_LEN);
    address
}

/// `MAX_DATA_LEN` bytes; the first says which answer the handler gives (`f`: Fulfill).
fn max_data(kind: u8) -> Vec<u8> {
    let mut data: Vec<u8> = (0..MAX_DATA_LEN).map(|i| (i % 251) as u8).collect();
    data[0] = kind;
    data
}

fn largest_prepare(kind: u8) -> Prepare {
    let data = max_data(kind);
    let prepare = PrepareBuilder {
        amount: u64::MAX,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_secs(30))
            .unwrap(),
        execution_condition: test_condition(&data),
        destination: &longest_address("dest"),
        data: &data,
    }
    .build()
    .unwrap();
    assert_eq!(prepare.as_bytes().len(), MAX_PREPARE_LEN);
    prepare
}

fn largest_fulfill(data: &[u8]) -> Fulfill {
    let fulfill = FulfillBuilder {
        fulfillment: test_fulfillment(data),
        data: &max_data(b'f'),
    }
    .build()
    .unwrap();
    assert_eq!(fulfill.as_bytes().len(), MAX_FULFILL_LEN);
    fulfill
}

fn largest_reject() -> Reject {
    let message = "m".repeat(MAX_MESSAGE_LEN);
    let reject = RejectBuilder {
        code: ErrorCode::F99_APPLICATION_ERROR,
        triggered_by: &longest_address("rejecter"),
        message: &message,
        data: &max_data(b'r'),
    }
    .build()
    .unwrap();
    assert_eq!(reject.as_bytes().len(), MAX_REJECT_LEN);
    reject
}

/// Answers each Prepare with the largest Fulfill (data starting with `f`) or the largest
/// Reject (anything else), after checking the Prepare arrived whole.
struct Largest;

#[async_trait]
impl PacketHandler for Largest {
    async fn handle(&self, request: Request) -> IlpResult {
        let prepare = request.prepare;
        assert_eq!(prepare.as_bytes().len(), MAX_PREPARE_LEN);
        assert_eq!(prepare.destination(), &longest_address("dest"));
        if prepare.data()[0] == b'f' {
            Ok(largest_fulfill(prepare.data()))
        } else {
            Err(largest_reject())
        }
    }
}

async fn server() -> BtpServer {
    let auth = AccountAuthenticator::new(
        NodeKey::from_bytes(&[0x42; 32]).unwrap(),
        Arc::new(MemoryStore::new()),
    );
    let alice = "alice".parse().unwrap();
    auth.add_account("alice".parse().unwrap()).await.unwrap();
    auth.add_token(&alice, "alice-token", None).await.unwrap();
    BtpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(auth),
        Largest,
        ServerConfig::default(),
    )
    .await
    .unwrap()
}

async fn client(server: &BtpServer) -> BtpClient {
    let url = format!(
        "btp+ws://alice:alice-token@{}/accounts/alice/ilp/btp",
        server.local_addr()
    );
    BtpClient::connect(&url, Largest, ClientConfig::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn largest_packets_cross_from_client_to_server() {
    let server = server().await;
    let client = client(&server).await;
    let fulfill = timeout(LIMIT, client.send(largest_prepare(b'f')))
        .await
        .unwrap();
    assert_eq!(fulfill, Ok(largest_fulfill(&max_data(b'f'))));
    let reject = timeout(LIMIT, client.send(largest_prepare(b'r')))
        .await
        .unwrap();
    assert_eq!(reject, Err(largest_reject()));
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn largest_packets_cross_from_server_to_client() {
    let server = server().await;
    let client = client(&server).await;
    let down = timeout(LIMIT, server.wait_for_account(&"alice".parse().unwrap()))
        .await
        .unwrap();
    let fulfill = timeout(LIMIT, down.send(largest_prepare(b'f')))
        .await
        .unwrap();
    assert_eq!(fulfill, Ok(largest_fulfill(&max_data(b'f'))));
    let reject = timeout(LIMIT, down.send(largest_prepare(b'r')))
        .await
        .unwrap();
    assert_eq!(reject, Err(largest_reject()));
    client.close().await;
    server.shutdown().await;
}
