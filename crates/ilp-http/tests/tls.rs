//! `https://` over loopback (feature `rustls`), with self-signed certificates made at run time
//! (rcgen): the client and the server, HTTP/2 and HTTP/1.1 as ALPN settles.
#![cfg(feature = "rustls")]

use std::sync::Arc;
use std::time::Duration;

mod common;

use ilp_core::{test_condition, test_fulfillment, PacketHandler, Principal, Request, TestReceiver};
use ilp_http::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use ilp_http::rustls::RootCertStore;
use ilp_http::{
    tls_client_config, tls_server_config, ClientConfig, HttpClient, HttpServer, OutgoingAuth,
    ServerConfig,
};
use ilp_packet::{Address, ErrorCode, Prepare, PrepareBuilder, Timestamp};
use tokio::net::TcpStream;

struct Identity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn identity() -> Identity {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    Identity {
        cert: certified.cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()).into(),
    }
}

fn roots(cert: &CertificateDer<'static>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    roots
}

/// A TLS server for account `alice`, with `tls` as is (ALPN as given).
async fn server(tls: Arc<ilp_http::rustls::ServerConfig>) -> (HttpServer, String) {
    let (auth, mut tokens) = common::authenticator(&["alice"]).await;
    let node = Address::from_static("example.tls");
    let server = HttpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(auth),
        TestReceiver::new(node.clone()),
        ServerConfig::default()
            .with_node_address(node)
            .with_tls(tls),
    )
    .await
    .unwrap();
    (server, tokens.remove(0))
}

fn prepare(data: &[u8]) -> Prepare {
    PrepareBuilder {
        amount: 5,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_secs(10))
            .unwrap(),
        execution_condition: test_condition(data),
        destination: &Address::from_static("example.tls.alice"),
        data,
    }
    .build()
    .unwrap()
}

fn request(prepare: Prepare) -> Request {
    Request {
        from: Principal::account("me".parse().unwrap()),
        prepare,
    }
}

fn client(server: &HttpServer, token: &str, tls: Option<RootCertStore>, h2: bool) -> HttpClient {
    let url = format!(
        "https://localhost:{}/accounts/alice/ilp",
        server.local_addr().port()
    );
    let mut config = ClientConfig::new(url, Address::from_static("example.me"))
        .unwrap()
        .with_auth(OutgoingAuth::bearer(token))
        .with_http2_only(h2);
    if let Some(roots) = tls {
        config = config.with_tls(tls_client_config(roots).unwrap());
    }
    HttpClient::new(config).unwrap()
}

/// The ALPN protocol a TLS client offering `offered` ends up with against `server`.
async fn negotiated(
    server: &HttpServer,
    cert: &CertificateDer<'static>,
    offered: &[&[u8]],
) -> Option<Vec<u8>> {
    let mut config = (*tls_client_config(roots(cert)).unwrap()).clone();
    config.alpn_protocols = offered.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

#[tokio::test]
async fn server_offers_h2_and_http11_by_alpn() {
    let id = identity();
    let (server, _) = server(tls_server_config(vec![id.cert.clone()], id.key).unwrap()).await;
    let both: [&[u8]; 2] = [b"h2", b"http/1.1"];
    assert_eq!(
        negotiated(&server, &id.cert, &both).await.as_deref(),
        Some(&b"h2"[..])
    );
    assert_eq!(
        negotiated(&server, &id.cert, &[b"http/1.1"])
            .await
            .as_deref(),
        Some(&b"http/1.1"[..])
    );
    assert_eq!(negotiated(&server, &id.cert, &[]).await, None);
}

#[tokio::test]
async fn client_and_server_over_https_in_both_versions() {
    let id = identity();
    let (server, token) = server(tls_server_config(vec![id.cert.clone()], id.key).unwrap()).await;
    for h2 in [false, true] {
        let client = client(&server, &token, Some(roots(&id.cert)), h2);
        for i in 0..3u8 {
            let data = [i; 8];
            let fulfill = client.handle(request(prepare(&data))).await.unwrap();
            assert_eq!(fulfill.fulfillment(), test_fulfillment(&data));
        }
    }
}

/// A server configuration accepting only `protocol` by ALPN.
fn only(id: &Identity, protocol: &[u8]) -> Arc<ilp_http::rustls::ServerConfig> {
    let mut config =
        (*tls_server_config(vec![id.cert.clone()], id.key.clone_key()).unwrap()).clone();
    config.alpn_protocols = vec![protocol.to_vec()];
    Arc::new(config)
}

#[tokio::test]
async fn client_offers_h2_and_http11_by_alpn() {
    let id = identity();
    // A server that accepts only h2 by ALPN: a client that did not offer it would fail the
    // handshake; a client that offered it and then spoke HTTP/1.1 would be refused by hyper.
    let (h2_server, token) = server(only(&id, b"h2")).await;
    let default_client = client(&h2_server, &token, Some(roots(&id.cert)), false);
    assert!(default_client.handle(request(prepare(b"x"))).await.is_ok());
    // One that accepts only HTTP/1.1: the default client falls back to it.
    let (h1_server, token) = server(only(&id, b"http/1.1")).await;
    let default_client = client(&h1_server, &token, Some(roots(&id.cert)), false);
    assert!(default_client.handle(request(prepare(b"x"))).await.is_ok());
    // An `http2_only` client offers h2 alone: no protocol in common, no connection.
    let h2_client = client(&h1_server, &token, Some(roots(&id.cert)), true);
    let reject = h2_client.handle(request(prepare(b"x"))).await.unwrap_err();
    assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
}

#[tokio::test]
async fn untrusted_certificate_is_t01() {
    let id = identity();
    let (server, token) = server(tls_server_config(vec![id.cert.clone()], id.key).unwrap()).await;
    // Default roots (webpki-roots) do not trust a self-signed certificate.
    let reject = client(&server, &token, None, false)
        .handle(request(prepare(b"x")))
        .await
        .unwrap_err();
    assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
    assert_eq!(reject.message(), "cannot connect to peer");
    // Nor does trusting another certificate.
    let other = identity();
    let reject = client(&server, &token, Some(roots(&other.cert)), false)
        .handle(request(prepare(b"x")))
        .await
        .unwrap_err();
    assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
}

#[tokio::test]
async fn a_plain_connection_to_a_tls_server_is_closed() {
    let id = identity();
    let (server, token) = server(tls_server_config(vec![id.cert.clone()], id.key).unwrap()).await;
    let url = format!(
        "http://127.0.0.1:{}/accounts/alice/ilp",
        server.local_addr().port()
    );
    let client = HttpClient::new(
        ClientConfig::new(url, Address::from_static("example.me"))
            .unwrap()
            .with_auth(OutgoingAuth::bearer(token)),
    )
    .unwrap();
    let reject = client.handle(request(prepare(b"x"))).await.unwrap_err();
    assert_eq!(reject.code(), ErrorCode::T01_PEER_UNREACHABLE);
}
