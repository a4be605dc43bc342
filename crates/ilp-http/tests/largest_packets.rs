//! The largest legal ILP packets of each type (`ilp_packet::MAX_*_LEN`) cross our
//! `HttpClient` and `HttpServer` intact, over HTTP/1.1 and HTTP/2, synchronously and through
//! the asynchronous mode's callback endpoint (robustness finding 6).
#![cfg(feature = "tokio")]
#![allow(missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ilp_core::{test_condition, test_fulfillment, IlpResult, PacketHandler, Request};
use ilp_http::{
    AsyncCaller, AsyncConfig, CallbackRoutes, Callbacks, ClientConfig, Endpoint, HttpClient,
    HttpServer, IlpHttpService, OutgoingAuth, ServerConfig,
};
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

fn largest_fulfill() -> Fulfill {
    let data = max_data(b'f');
    let fulfill = FulfillBuilder {
        fulfillment: test_fulfillment(&data),
        data: &data,
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
            Ok(largest_fulfill())
        } else {
            Err(largest_reject())
        }
    }
}

async fn server(accounts: &[&str]) -> (Endpoint, Vec<String>) {
    let (auth, tokens) = common::authenticator(accounts).await;
    let endpoint = Endpoint::new(Arc::new(auth), Largest, ServerConfig::default());
    (endpoint, tokens)
}

#[tokio::test]
async fn largest_packets_cross_synchronously_over_http1_and_http2() {
    let (endpoint, tokens) = server(&["alice"]).await;
    let server = HttpServer::bind_service(
        "127.0.0.1:0".parse().unwrap(),
        IlpHttpService::new(endpoint),
    )
    .await
    .unwrap();
    for http2 in [false, true] {
        let url = format!("http://{}/accounts/alice/ilp", server.local_addr());
        let config = ClientConfig::new(url, Address::from_static("example.me"))
            .unwrap()
            .with_auth(OutgoingAuth::bearer(tokens[0].clone()))
            .with_http2_only(http2);
        let client = HttpClient::new(config).unwrap();
        let fulfill = timeout(LIMIT, client.send(largest_prepare(b'f')))
            .await
            .unwrap();
        assert_eq!(fulfill, Ok(largest_fulfill()), "http2: {http2}");
        let reject = timeout(LIMIT, client.send(largest_prepare(b'r')))
            .await
            .unwrap();
        assert_eq!(reject, Err(largest_reject()), "http2: {http2}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_largest_reject_reaches_an_asynchronous_caller_through_its_callback_endpoint() {
    // The caller: its callback endpoint takes replies from account `callee`.
    let callbacks = Callbacks::default();
    let (caller_endpoint, caller_tokens) = server(&["callee"]).await;
    let caller = HttpServer::bind_service(
        "127.0.0.1:0".parse().unwrap(),
        IlpHttpService::new(caller_endpoint).with_callbacks("/callbacks", callbacks.clone()),
    )
    .await
    .unwrap();
    let callback_url = format!("http://{}/callbacks", caller.local_addr());
    // The callee: account `caller` has its replies POSTed there.
    let (callee_endpoint, callee_tokens) = server(&["caller"]).await;
    let policy = CallbackRoutes::new().allow(
        "caller".parse().unwrap(),
        callback_url.parse().unwrap(),
        OutgoingAuth::bearer(caller_tokens[0].clone()),
    );
    let callee = HttpServer::bind_service(
        "127.0.0.1:0".parse().unwrap(),
        IlpHttpService::new(callee_endpoint).with_async(AsyncConfig::new(policy)),
    )
    .await
    .unwrap();
    let url = format!("http://{}/accounts/caller/ilp", callee.local_addr());
    let config = ClientConfig::new(url, Address::from_static("example.me"))
        .unwrap()
        .with_auth(OutgoingAuth::bearer(callee_tokens[0].clone()))
        .with_async(AsyncCaller::new(
            callback_url.parse().unwrap(),
            callbacks.clone(),
            "callee".parse().unwrap(),
        ));
    let client = HttpClient::new(config).unwrap();
    let reject = timeout(LIMIT, client.send(largest_prepare(b'r')))
        .await
        .unwrap();
    assert_eq!(reject, Err(largest_reject()));
    let fulfill = timeout(LIMIT, client.send(largest_prepare(b'f')))
        .await
        .unwrap();
    assert_eq!(fulfill, Ok(largest_fulfill()));
    assert_eq!(callbacks.pending(), 0);
    callee.shutdown().await;
    caller.shutdown().await;
}
