//! Shared fixtures of the WebSocket tests.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{Sink, Stream, StreamExt};
use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::{BtpServer, ServerConfig};
use ilp_core::{
    test_condition, AccountId, Authenticator, IlpResult, PacketHandler, Principal, Request,
    TestReceiver,
};
use ilp_packet::{Address, Condition, Prepare, PrepareBuilder, Timestamp};
use tungstenite::Message;

pub fn id(name: &str) -> AccountId {
    name.parse().unwrap()
}

/// Accounts `alice` (token `alice-token`) and `bob` (token `bob-token`).
pub async fn authenticator() -> Arc<dyn Authenticator> {
    let auth = AccountAuthenticator::new(
        NodeKey::from_bytes(&[0x42; 32]).unwrap(),
        Arc::new(MemoryStore::new()),
    );
    for name in ["alice", "bob"] {
        auth.add_account(id(name)).await.unwrap();
        auth.add_token(&id(name), &format!("{name}-token"), None)
            .await
            .unwrap();
    }
    Arc::new(auth)
}

/// A Prepare the test receiver fulfills (or, with `fulfillable == false`, rejects F05).
pub fn prepare(data: &[u8], fulfillable: bool) -> Prepare {
    let condition = if fulfillable {
        test_condition(data)
    } else {
        Condition::from_bytes([9; 32])
    };
    PrepareBuilder {
        amount: 10,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_secs(30))
            .unwrap(),
        execution_condition: condition,
        destination: &Address::from_static("example.dest"),
        data,
    }
    .build()
    .unwrap()
}

/// The test receiver, recording who sent each Prepare.
#[derive(Clone)]
pub struct Recorder {
    inner: TestReceiver,
    pub seen: Arc<Mutex<Vec<Principal>>>,
}

impl Recorder {
    pub fn new(address: &'static str) -> Self {
        Self {
            inner: TestReceiver::new(Address::from_static(address)),
            seen: Arc::default(),
        }
    }
}

#[async_trait]
impl PacketHandler for Recorder {
    async fn handle(&self, request: Request) -> IlpResult {
        self.seen.lock().unwrap().push(request.from.clone());
        self.inner.handle(request).await
    }
}

/// The test receiver, answering after `delay`.
pub struct Slow(pub Duration);

#[async_trait]
impl PacketHandler for Slow {
    async fn handle(&self, request: Request) -> IlpResult {
        tokio::time::sleep(self.0).await;
        TestReceiver::new(Address::from_static("example.slow"))
            .handle(request)
            .await
    }
}

pub async fn server(handler: impl PacketHandler + 'static, config: ServerConfig) -> BtpServer {
    BtpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        authenticator().await,
        handler,
        config,
    )
    .await
    .unwrap()
}

pub fn url(server: &BtpServer, user: &str, token: &str) -> String {
    format!(
        "btp+ws://{user}:{token}@{}/accounts/{user}/ilp/btp",
        server.local_addr()
    )
}

/// A WebSocket whose reading side is the peer's frames, and whose writing side never becomes
/// ready (a peer that never reads, with every buffer on the way full).
pub struct NeverReads {
    pub frames: BoxStream<'static, Result<Message, io::Error>>,
}

impl Stream for NeverReads {
    type Item = Result<Message, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.frames.poll_next_unpin(cx)
    }
}

impl Sink<Message> for NeverReads {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
    fn start_send(self: Pin<&mut Self>, _: Message) -> io::Result<()> {
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}
