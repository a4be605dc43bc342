//! `btp+wss://` over loopback, with self-signed certificates made at run time (rcgen).
#![cfg(feature = "rustls")]

mod ws_common;

use std::sync::Arc;
use std::time::Duration;

use ilp_btp::ws::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ilp_btp::ws::rustls::{self, CertificateError, RootCertStore};
use ilp_btp::ws::{
    tls_client_config, tls_server_config, BtpClient, BtpServer, ClientConfig, Error, ServerConfig,
};
use ilp_core::test_fulfillment;
use ilp_packet::ErrorCode;
use tokio::time::timeout;
use ws_common::{authenticator, id, prepare, server, Recorder};

const LIMIT: Duration = Duration::from_secs(10);

/// A self-signed certificate for `localhost`, and its key.
struct SelfSigned {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl SelfSigned {
    fn new() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        Self {
            cert: certified.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()).into(),
        }
    }

    fn server_config(&self) -> ServerConfig {
        let tls = tls_server_config(vec![self.cert.clone()], self.key.clone_key()).unwrap();
        ServerConfig::default().with_tls(tls)
    }

    /// A client that trusts exactly this certificate.
    fn client_config(&self) -> ClientConfig {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        quick(ClientConfig::default().with_tls(tls_client_config(roots).unwrap()))
    }
}

fn quick(config: ClientConfig) -> ClientConfig {
    config
        .with_backoff(vec![Duration::from_millis(20)])
        .with_connect_timeout(LIMIT)
}

fn wss_url(server: &BtpServer, host: &str) -> String {
    format!(
        "btp+wss://alice:alice-token@{host}:{}/accounts/alice/ilp/btp",
        server.local_addr().port()
    )
}

/// The `rustls::Error` inside an [`Error::Tls`].
fn rustls_error(error: &Error) -> &rustls::Error {
    let Error::Tls(source) = error else {
        panic!("expected Error::Tls, got {error:?}");
    };
    source
        .downcast_ref::<rustls::Error>()
        .unwrap_or_else(|| panic!("expected a rustls::Error, got {source:?}"))
}

#[tokio::test]
async fn prepares_flow_both_ways_over_wss_with_a_self_signed_certificate() {
    let cert = SelfSigned::new();
    let recorder = Recorder::new("example.server");
    let server = server(recorder.clone(), cert.server_config()).await;
    let client_side = Recorder::new("example.client");
    let client = timeout(
        LIMIT,
        BtpClient::connect(
            &wss_url(&server, "localhost"),
            client_side.clone(),
            cert.client_config(),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(client.is_connected());

    let fulfill = client.send(prepare(b"up", true)).await.unwrap();
    assert_eq!(fulfill.fulfillment(), test_fulfillment(b"up"));
    let reject = client.send(prepare(b"up", false)).await.unwrap_err();
    assert_eq!(reject.code(), ErrorCode::F05_WRONG_CONDITION);
    assert_eq!(recorder.seen.lock().unwrap()[0].account, id("alice"));

    let down = timeout(LIMIT, server.wait_for_account(&id("alice")))
        .await
        .unwrap();
    let fulfill = down.send(prepare(b"down", true)).await.unwrap();
    assert_eq!(fulfill.data(), b"down");
    assert_eq!(client_side.seen.lock().unwrap().len(), 1);

    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_gets_a_tls_error() {
    let cert = SelfSigned::new();
    let server = server(Recorder::new("example.s"), cert.server_config()).await;
    let url = wss_url(&server, "localhost");

    // Mozilla's roots (the default) do not include a self-signed certificate.
    let default_roots = BtpClient::connect(
        &url,
        Recorder::new("example.c"),
        quick(ClientConfig::default()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            rustls_error(&default_roots),
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        ),
        "{default_roots:?}"
    );

    // Trusting another self-signed certificate does not help (rcgen gives both the same
    // subject, so the check fails on the signature).
    let other = SelfSigned::new().client_config();
    let error = BtpClient::connect(&url, Recorder::new("example.c"), other)
        .await
        .unwrap_err();
    assert!(
        matches!(
            rustls_error(&error),
            rustls::Error::InvalidCertificate(
                CertificateError::BadSignature | CertificateError::UnknownIssuer
            )
        ),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("TLS failed"), "{error}");
    assert!(server.accounts().is_empty());

    // The server goes on serving clients that do trust it.
    let client = BtpClient::connect(&url, Recorder::new("example.c"), cert.client_config())
        .await
        .unwrap();
    assert!(client.send(prepare(b"ok", true)).await.is_ok());
    client.close().await;
}

#[tokio::test]
async fn a_certificate_for_another_host_name_is_refused() {
    let cert = SelfSigned::new();
    let server = server(Recorder::new("example.s"), cert.server_config()).await;
    // The certificate names `localhost`, not `127.0.0.1`.
    let error = BtpClient::connect(
        &wss_url(&server, "127.0.0.1"),
        Recorder::new("example.c"),
        cert.client_config(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(rustls_error(&error), rustls::Error::InvalidCertificate(_)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_plain_client_is_refused_by_a_tls_server_without_hanging() {
    let cert = SelfSigned::new();
    let server = server(Recorder::new("example.s"), cert.server_config()).await;
    let url = format!(
        "btp+ws://alice:alice-token@localhost:{}/",
        server.local_addr().port()
    );
    let error = timeout(
        LIMIT,
        BtpClient::connect(
            &url,
            Recorder::new("example.c"),
            quick(ClientConfig::default()),
        ),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(
        matches!(error, Error::Io(_) | Error::Handshake(_)),
        "{error:?}"
    );
    assert!(server.accounts().is_empty());
}

#[tokio::test]
async fn the_client_reconnects_over_tls() {
    let cert = SelfSigned::new();
    let first = server(Recorder::new("example.s1"), cert.server_config()).await;
    let addr = first.local_addr();
    let client = BtpClient::connect(
        &wss_url(&first, "localhost"),
        Recorder::new("example.c"),
        cert.client_config(),
    )
    .await
    .unwrap();
    drop(first);
    timeout(LIMIT, async {
        while client.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();

    let second = BtpServer::bind(
        addr,
        authenticator().await,
        Recorder::new("example.s2"),
        cert.server_config(),
    )
    .await
    .unwrap();
    timeout(LIMIT, client.connected()).await.unwrap();
    assert!(client.send(prepare(b"back", true)).await.is_ok());
    assert!(second.account(&id("alice")).is_some());
    client.close().await;
    second.shutdown().await;
}

#[test]
fn tls_settings_show_up_in_debug_and_clone() {
    let cert = SelfSigned::new();
    let server = cert.server_config();
    assert!(server.clone().tls.is_some());
    let client = cert.client_config();
    assert!(Arc::ptr_eq(
        client.tls.as_ref().unwrap(),
        client.clone().tls.as_ref().unwrap()
    ));
    assert!(format!("{client:?}").contains("tls"));
}
