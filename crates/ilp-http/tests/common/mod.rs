//! Fixtures shared by the integration tests.

use std::sync::Arc;

use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};

/// An account-based authenticator holding `accounts`, and a minted token for each, in order.
#[allow(dead_code)]
pub(crate) async fn authenticator(accounts: &[&str]) -> (AccountAuthenticator, Vec<String>) {
    let auth =
        AccountAuthenticator::new(NodeKey::generate().unwrap(), Arc::new(MemoryStore::new()));
    let mut tokens = Vec::new();
    for account in accounts {
        auth.add_account(account.parse().unwrap()).await.unwrap();
        let minted = auth
            .mint_token(&account.parse().unwrap(), None)
            .await
            .unwrap();
        tokens.push(minted.token.expose().to_owned());
    }
    (auth, tokens)
}

/// POSTs `body` to `addr` `path` over HTTP/1.1 from a socket bound to `source` (any
/// `127.x.y.z` on loopback), with `Authorization: Bearer <token>`; gives the status code.
#[allow(dead_code)]
pub(crate) async fn post_from(
    source: std::net::IpAddr,
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
    body: &[u8],
) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/octet-stream\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    let read = tcp.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("no answer in 10 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {answer:?}"));
    status.parse().unwrap()
}

/// A Prepare that `TestReceiver` fulfills, expiring in 30 s.
#[allow(dead_code)]
pub(crate) fn fulfillable_prepare() -> ilp_packet::Prepare {
    ilp_packet::PrepareBuilder {
        amount: 1,
        expires_at: ilp_packet::Timestamp::now()
            .checked_add(std::time::Duration::from_secs(30))
            .unwrap(),
        execution_condition: ilp_core::test_condition(b"x"),
        destination: &ilp_packet::Address::from_static("example.receiver"),
        data: b"x",
    }
    .build()
    .unwrap()
}
