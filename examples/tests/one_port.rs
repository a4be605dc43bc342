//! `ilp-one-port` as a user runs it: ILP-over-HTTP (an ilp-http `HttpClient`), BTP (a
//! `BtpClient`) and a plain GET of the application's own route, all on the one port it prints.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ilp_btp::ws::{BtpClient, ClientConfig as BtpConfig, Error as BtpError};
use ilp_core::{test_condition, test_fulfillment, TestReceiver};
use ilp_http::{BearerToken, ClientConfig as HttpConfig, HttpClient, OutgoingAuth};
use ilp_packet::{Address, ErrorCode, Prepare, PrepareBuilder, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

/// A running `ilp-one-port`, killed on drop.
struct App {
    child: Child,
    port: u16,
}

impl App {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ilp-one-port"))
            .args(["--listen", "127.0.0.1:0", "--account", "alice:s3cret"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("ilp-one-port starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Self { child, port }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prepare(data: &[u8]) -> Prepare {
    PrepareBuilder {
        amount: 10,
        expires_at: Timestamp::now()
            .checked_add(Duration::from_secs(30))
            .unwrap(),
        execution_condition: test_condition(data),
        destination: &Address::from_static("private.one-port"),
        data,
    }
    .build()
    .unwrap()
}

/// One raw HTTP/1.1 request; the whole response as text.
async fn raw_http(port: u16, head: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    timeout(LIMIT, tcp.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
}

#[tokio::test]
async fn http_btp_and_the_app_s_own_route_share_one_port() {
    let app = App::start();
    let port = app.port;

    // The application's own route.
    let page = raw_http(
        port,
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(
        page.ends_with("ilp-one-port: ILP over HTTP and BTP on this port\n"),
        "{page}"
    );

    // ILP over HTTP.
    let url = format!("http://127.0.0.1:{port}/accounts/alice/ilp");
    let config = HttpConfig::new(url, Address::from_static("private.me"))
        .unwrap()
        .with_auth(OutgoingAuth::Bearer(BearerToken::new("s3cret")));
    let http = HttpClient::new(config).unwrap();
    let fulfill = timeout(LIMIT, http.send(prepare(b"over http")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fulfill.fulfillment(), test_fulfillment(b"over http"));

    // BTP, on both BTP routes (the account in the path, or from `auth_username`).
    let receiver = TestReceiver::new(Address::from_static("private.me"));
    let btp_url = format!("btp+ws://alice:s3cret@127.0.0.1:{port}/accounts/alice/ilp/btp");
    let btp = timeout(
        LIMIT,
        BtpClient::connect(&btp_url, receiver.clone(), BtpConfig::default()),
    )
    .await
    .unwrap()
    .unwrap();
    let fulfill = timeout(LIMIT, btp.send(prepare(b"over btp")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fulfill.fulfillment(), test_fulfillment(b"over btp"));
    let named = format!("btp+ws://alice:s3cret@127.0.0.1:{port}/btp");
    let second = BtpClient::connect(&named, receiver.clone(), BtpConfig::default())
        .await
        .unwrap();
    let fulfill = timeout(LIMIT, second.send(prepare(b"named")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fulfill.fulfillment(), test_fulfillment(b"named"));
    second.close().await;
    btp.close().await;

    // A wrong token is refused by BTP's authentication, as on a BtpServer.
    let bad = format!("btp+ws://alice:wrong@127.0.0.1:{port}/accounts/alice/ilp/btp");
    let refused = BtpClient::connect(&bad, receiver, BtpConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, BtpError::AuthRejected { .. }),
        "{refused:?}"
    );

    // The BTP route answers a plain GET with 426, not a page or a hang.
    let plain = raw_http(
        port,
        "GET /accounts/alice/ilp/btp HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        plain.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{plain}"
    );
    let reject = http.send(
        PrepareBuilder {
            amount: 1,
            expires_at: Timestamp::now()
                .checked_add(Duration::from_secs(30))
                .unwrap(),
            execution_condition: ilp_packet::Condition::from_bytes([9; 32]),
            destination: &Address::from_static("private.one-port"),
            data: b"",
        }
        .build()
        .unwrap(),
    );
    let reject = timeout(LIMIT, reject).await.unwrap().unwrap_err();
    assert_eq!(reject.code(), ErrorCode::F05_WRONG_CONDITION);
}
