//! `ilp-send` over `https://` and `btp+wss://`, trusting a private certificate with
//! `--ca-cert`, and `--destination`: the real binary against servers with self-signed
//! certificates made at run time (rcgen), on loopback.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use ilp_btp::ws::{BtpServer, ServerConfig};
use ilp_core::{IlpResult, PacketHandler, Request, TestReceiver};
use ilp_http::HttpServer;
use ilp_packet::Address;

/// A [`TestReceiver`] that notes each Prepare's destination.
#[derive(Clone)]
struct Noting(TestReceiver, Arc<Mutex<Vec<String>>>);

#[async_trait]
impl PacketHandler for Noting {
    async fn handle(&self, request: Request) -> IlpResult {
        let destination = request.prepare.destination().to_string();
        self.1.lock().unwrap().push(destination);
        self.0.handle(request).await
    }
}

/// A certificate in PEM form.
fn pem(cert: &CertificateDer<'_>) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// Runs `ilp-send` on a blocking thread (the servers run on the test's runtime).
async fn send(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ilp-send"))
            .args(args)
            .output()
            .expect("ilp-send runs")
    })
    .await
    .unwrap()
}

fn last_line(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().last().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_btp_wss_with_a_private_ca_and_a_destination() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let dir = std::env::temp_dir();
    let ca = dir.join(format!("ilp-send-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, pem(&cert)).unwrap();
    let not_pem = dir.join(format!("ilp-send-test-empty-{}.pem", std::process::id()));
    std::fs::write(&not_pem, "no certificate here\n").unwrap();

    let auth =
        AccountAuthenticator::new(NodeKey::generate().unwrap(), Arc::new(MemoryStore::new()));
    auth.add_account("alice".parse().unwrap()).await.unwrap();
    auth.add_token(&"alice".parse().unwrap(), "s3cret", None)
        .await
        .unwrap();
    let auth = Arc::new(auth);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let node = Address::from_static("private.receiver");
    let handler = Noting(TestReceiver::new(node.clone()), seen.clone());
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();

    let tls = ilp_http::tls_server_config(vec![cert.clone()], key.clone_key().into()).unwrap();
    let config = ilp_http::ServerConfig::default()
        .with_node_address(node)
        .with_tls(tls);
    let http = HttpServer::bind(any, auth.clone(), handler.clone(), config)
        .await
        .unwrap();
    let tls = ilp_btp::ws::tls_server_config(vec![cert], key.into()).unwrap();
    let btp = BtpServer::bind(any, auth, handler, ServerConfig::default().with_tls(tls))
        .await
        .unwrap();

    let https = format!(
        "https://localhost:{}/accounts/alice/ilp",
        http.local_addr().port()
    );
    let wss = format!(
        "btp+wss://alice:s3cret@localhost:{}",
        btp.local_addr().port()
    );
    let ca = ca.to_str().unwrap().to_owned();
    let args = |to: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--to", to, "--count", "5"];
        if to.starts_with("https") {
            args.extend(["--token", "s3cret"]);
        }
        args.extend(extra);
        args.into_iter().map(str::to_owned).collect()
    };

    for (to, destination) in [(&https, "g.connector.bob"), (&wss, "test.elsewhere.carol")] {
        let out = send(args(to, &["--ca-cert", &ca, "--destination", destination])).await;
        assert!(out.status.success(), "{to}: {out:?}");
        assert!(
            last_line(&out).starts_with("5 fulfilled, 0 rejected, 0 failed, "),
            "{out:?}"
        );
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(seen, vec![destination; 5]);
    }
    // By default the destination is private.receiver.
    let out = send(args(&https, &["--ca-cert", &ca])).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        seen.lock().unwrap().first().map(String::as_str),
        Some("private.receiver")
    );

    // Without the CA, the certificate is not trusted: no Prepare gets through.
    let out = send(args(&https, &[])).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("failed: T01 x5 (cannot connect to peer)"),
        "{stdout}"
    );
    let out = send(args(&wss, &[])).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: TLS failed: ") && err.lines().count() == 1,
        "{err}"
    );
    // A file without a certificate, or no file, is refused before anything is sent.
    let not_pem = not_pem.to_str().unwrap();
    for (file, expected) in [
        (not_pem, "no certificate in it"),
        ("/nonexistent.pem", "--ca-cert /nonexistent.pem: "),
    ] {
        let out = send(args(&https, &["--ca-cert", file])).await;
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    let _ = std::fs::remove_file(&ca);
    let _ = std::fs::remove_file(not_pem);
    http.shutdown().await;
    btp.shutdown().await;
}
