//! `ilp-receiver` and `ilp-send` against each other over BTP and ILP-over-HTTP, as a user runs
//! them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// A running `ilp-receiver`, killed on drop.
struct Receiver {
    child: Child,
    port: u16,
}

impl Receiver {
    fn start(accounts: &[&str]) -> Self {
        Self::start_on("--btp", accounts)
    }

    /// Starts with one listener, `--btp` or `--http`, on a free port.
    fn start_on(listener: &str, accounts: &[&str]) -> Self {
        Self::start_with(&[listener, "127.0.0.1:0"], accounts)
    }

    /// Starts with `args` (one listener) and `accounts`.
    fn start_with(args: &[&str], accounts: &[&str]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ilp-receiver"));
        cmd.args(args);
        for account in accounts {
            cmd.args(["--account", account]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("ilp-receiver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Self { child, port }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ilp-send"))
        .args(args)
        .output()
        .expect("ilp-send runs")
}

/// The one line of an error: `error: ...`, exit code 1, nothing on stdout.
fn error_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(
        !err.contains("Error {") && !err.contains("Err("),
        "no Debug: {err:?}"
    );
    assert!(out.stdout.is_empty(), "nothing sent: {out:?}");
    err.trim_end().to_owned()
}

fn line_before_last(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    lines
        .len()
        .checked_sub(2)
        .map(|i| lines[i].to_owned())
        .unwrap_or_default()
}

fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn every_prepare_is_fulfilled_and_the_summary_says_so() {
    let receiver = Receiver::start(&["alice:s3cret", "bob:other"]);
    let to = format!("btp+ws://alice@127.0.0.1:{}", receiver.port);
    let out = send(&[
        "--to",
        &to,
        "--token",
        "s3cret",
        "--count",
        "500",
        "--concurrency",
        "8",
        "--data-bytes",
        "100",
    ]);
    assert!(out.status.success(), "{out:?}");
    let line = last_line(&out);
    assert!(
        line.starts_with("500 fulfilled, 0 rejected, 0 failed, "),
        "{line}"
    );
    assert!(line.ends_with(" per second"), "{line}");

    // The second account, on the path form of the URL.
    let to = format!(
        "btp+ws://bob@127.0.0.1:{}/accounts/bob/ilp/btp",
        receiver.port
    );
    let out = send(&["--to", &to, "--token", "other", "--count", "10"]);
    assert!(out.status.success(), "{out:?}");
    assert!(last_line(&out).starts_with("10 fulfilled, 0 rejected, 0 failed"));
}

#[test]
fn a_wrong_token_is_refused_and_exits_non_zero() {
    let receiver = Receiver::start(&["alice:s3cret"]);
    let to = format!("btp+ws://alice@127.0.0.1:{}", receiver.port);
    let out = send(&["--to", &to, "--token", "guess", "--count", "3"]);
    let err = error_line(&out);
    assert!(err.contains("invalid auth_token"), "{err}");
    assert!(
        !err.contains("guess"),
        "the token must not be printed: {err}"
    );
}

fn receiver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ilp-receiver"))
        .args(args)
        .output()
        .expect("ilp-receiver runs")
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let err = error_line(&send(&["--to", "btp+ws://alice@127.0.0.1:1", "--nope"]));
    assert!(
        err.contains("unknown argument \"--nope\"; usage: ilp-send"),
        "{err}"
    );
    let err = error_line(&send(&["--count", "x"]));
    assert!(err.contains("--count \"x\": invalid digit"), "{err}");
    let err = error_line(&send(&["--to"]));
    assert!(err.contains("--to needs a value"), "{err}");
    let err = error_line(&send(&["--count", "1"]));
    assert!(err.contains("--to is required"), "{err}");
    let err = error_line(&send(&["--to", "ftp://h", "--token", "t", "--count", "1"]));
    assert!(err.contains("invalid BTP URL"), "{err}");
    let to = "btp+ws://alice@127.0.0.1:1";
    let args = [
        "--to",
        to,
        "--token",
        "t",
        "--count",
        "1",
        "--destination",
        "no address",
    ];
    let err = error_line(&send(&args));
    assert!(
        err.starts_with("error: --destination \"no address\": "),
        "{err}"
    );
    let err = error_line(&send(&["--to", to, "--count", "1"]));
    assert!(err.contains("--token is required"), "{err}");
    let args = [
        "--to",
        to,
        "--token",
        "t",
        "--count",
        "1",
        "--callback",
        "127.0.0.1:0",
    ];
    let err = error_line(&send(&args));
    assert!(
        err.contains("--callback needs an http:// or https:// URL"),
        "{err}"
    );
    // Nothing listens on port 1.
    let err = error_line(&send(&["--to", to, "--token", "t", "--count", "1"]));
    assert!(
        err.contains("refused") || err.contains("I/O error"),
        "{err}"
    );

    let err = error_line(&receiver(&["--nope"]));
    assert!(err.contains("usage: ilp-receiver"), "{err}");
    let err = error_line(&receiver(&["--account", "alice:t"]));
    assert!(err.contains("usage: ilp-receiver"), "{err}");
    let err = error_line(&receiver(&["--btp", "127.0.0.1:0", "--account", "alice"]));
    assert!(err.contains("--account takes NAME:TOKEN"), "{err}");
    let args = [
        "--btp",
        "127.0.0.1:0",
        "--account",
        "a:x",
        "--account",
        "a:y",
    ];
    let err = error_line(&receiver(&args));
    assert!(err.contains("--account a is given twice"), "{err}");
    let err = error_line(&receiver(&["--http", "nowhere", "--account", "a:x"]));
    assert!(
        err.contains("--http \"nowhere\": invalid socket address"),
        "{err}"
    );
    let args = ["--btp", "127.0.0.1:0", "--http-async", "--account", "a:b"];
    let err = error_line(&receiver(&args));
    assert!(err.contains("usage: ilp-receiver"), "{err}");
}

#[test]
fn help_names_every_flag() {
    let out = receiver(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "[--btp ADDR]",
        "[--http ADDR [--http-async]]",
        "--account NAME:TOKEN",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    assert!(help.contains("at least one of --btp and --http"), "{help}");
    let out = send(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--to URL",
        "--count N",
        "[--destination ADDR]",
        "[--ca-cert FILE]",
        "[--callback ADDR]",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[test]
fn bad_settings_are_refused_before_anything_is_sent() {
    let receiver = Receiver::start(&["alice:s3cret"]);
    let to = format!("btp+ws://alice@127.0.0.1:{}", receiver.port);
    let base = ["--to", &to, "--token", "s3cret"];
    let run = |extra: &[&str]| send(&[&base[..], extra].concat());
    let err = error_line(&run(&["--count", "0"]));
    assert!(err.contains("the count must be at least 1"), "{err}");
    let err = error_line(&run(&["--count", "3", "--concurrency", "0"]));
    assert!(err.contains("the concurrency must be at least 1"), "{err}");
    let err = error_line(&run(&["--count", "3", "--data-bytes", "32768"]));
    assert!(err.contains("at most 32767"), "{err}");
    // The largest data there is works.
    let out = run(&["--count", "2", "--data-bytes", "32767"]);
    assert!(out.status.success(), "{out:?}");
    assert!(last_line(&out).starts_with("2 fulfilled, 0 rejected, 0 failed, "));
}

#[test]
fn the_token_may_be_in_the_url_but_not_twice() {
    let receiver = Receiver::start(&["alice:s3cret"]);
    let to = format!("btp+ws://alice:s3cret@127.0.0.1:{}", receiver.port);
    let out = send(&["--to", &to, "--count", "3"]);
    assert!(out.status.success(), "{out:?}");
    assert!(last_line(&out).starts_with("3 fulfilled, 0 rejected, 0 failed, "));
    // Both: refused, whichever is right.
    for token in ["s3cret", "other"] {
        let err = error_line(&send(&["--to", &to, "--token", token, "--count", "3"]));
        assert!(err.contains("the token is given twice"), "{err}");
        assert!(!err.contains("s3cret") && !err.contains("other"), "{err}");
    }
}

#[test]
fn rejects_and_failures_are_broken_down_by_code() {
    let receiver = Receiver::start_on("--http", &["alice:s3cret"]);
    let to = format!("http://127.0.0.1:{}/accounts/alice/ilp", receiver.port);
    let out = send(&["--to", &to, "--token", "guess", "--count", "4"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        line_before_last(&out),
        "rejected: F00 x4 (peer answered HTTP 401 Unauthorized)"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("guess"));
    // Nobody listens there any more.
    let port = receiver.port;
    drop(receiver);
    let to = format!("http://127.0.0.1:{port}/accounts/alice/ilp");
    let out = send(&["--to", &to, "--token", "s3cret", "--count", "3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        line_before_last(&out),
        "failed: T01 x3 (cannot connect to peer)"
    );
    assert!(last_line(&out).starts_with("0 fulfilled, 0 rejected, 3 failed, "));
    // All fulfilled: the summary alone.
    let receiver = Receiver::start_on("--http", &["alice:s3cret"]);
    let to = format!("http://127.0.0.1:{}/accounts/alice/ilp", receiver.port);
    let out = send(&["--to", &to, "--token", "s3cret", "--count", "2"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn the_asynchronous_mode_from_the_command_line() {
    let args = ["--http", "127.0.0.1:0", "--http-async"];
    let receiver = Receiver::start_with(&args, &["alice:s3cret"]);
    let to = format!("http://127.0.0.1:{}/accounts/alice/ilp", receiver.port);
    let args = [
        "--to",
        &to,
        "--token",
        "s3cret",
        "--count",
        "20",
        "--concurrency",
        "4",
    ];
    let out = send(&[&args[..], &["--callback", "127.0.0.1:0"]].concat());
    assert!(out.status.success(), "{out:?}");
    assert!(last_line(&out).starts_with("20 fulfilled, 0 rejected, 0 failed, "));
}

#[test]
fn over_http_every_prepare_is_fulfilled_and_a_wrong_token_fails() {
    let receiver = Receiver::start_on("--http", &["alice:s3cret"]);
    let to = format!("http://127.0.0.1:{}/accounts/alice/ilp", receiver.port);
    let out = send(&[
        "--to",
        &to,
        "--token",
        "s3cret",
        "--count",
        "300",
        "--concurrency",
        "8",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(last_line(&out).starts_with("300 fulfilled, 0 rejected, 0 failed, "));

    // A 401 is an F00 Reject for each Prepare: rejected, not failed; the exit code says so.
    let out = send(&["--to", &to, "--token", "guess", "--count", "4"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        last_line(&out).starts_with("0 fulfilled, 4 rejected, 0 failed, "),
        "{out:?}"
    );
}

// ---- The asynchronous mode, each side against a hand-written peer ----

/// The next connection to `listener`, within 30 s (a test must not hang), with 30 s read
/// timeouts.
fn accept(listener: &std::net::TcpListener) -> std::net::TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                let timeout = Some(std::time::Duration::from_secs(30));
                stream.set_read_timeout(timeout).unwrap();
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no connection in 30 s"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Reads one HTTP/1.1 request or response: the head (lower-cased) and the body.
fn read_http(stream: &mut std::net::TcpStream) -> (String, Vec<u8>) {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "head ends early");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap().to_ascii_lowercase();
    let len = header(&head, "content-length").map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    (head, body)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

fn write_http(stream: &mut std::net::TcpStream, head: &str, body: &[u8]) {
    use std::io::Write;
    let head = format!(
        "{head}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

#[test]
fn ilp_send_with_callback_takes_its_reply_at_the_callback() {
    use ilp_packet::{FulfillBuilder, Packet};
    let callee = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let to = format!(
        "http://127.0.0.1:{}/accounts/alice/ilp",
        callee.local_addr().unwrap().port()
    );
    let args = [
        "--to",
        &to,
        "--token",
        "s3cret",
        "--count",
        "1",
        "--callback",
        "127.0.0.1:0",
    ];
    let child = Command::new(env!("CARGO_BIN_EXE_ilp-send"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stream = accept(&callee);
    let (head, body) = read_http(&mut stream);
    assert!(head.starts_with("post /accounts/alice/ilp "), "{head}");
    assert_eq!(header(&head, "prefer"), Some("respond-async"), "{head}");
    assert_eq!(header(&head, "authorization"), Some("bearer s3cret"));
    let callback = header(&head, "callback-url").unwrap().to_owned();
    let id = header(&head, "request-id").unwrap().to_owned();
    write_http(&mut stream, "HTTP/1.1 202 Accepted\r\n", b"");
    let Packet::Prepare(prepare) = Packet::decode(body.into()).unwrap() else {
        panic!("a Prepare")
    };
    let fulfill = FulfillBuilder {
        fulfillment: ilp_core::test_fulfillment(prepare.data()),
        data: b"",
    }
    .build()
    .unwrap();
    // The reply, as the callee POSTs it, with the token ilp-send was given.
    let rest = callback.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer s3cret\r\n\
         request-id: {id}\r\ncontent-type: application/octet-stream\r\n"
    );
    write_http(&mut stream, &head, fulfill.as_bytes());
    let (answer, _) = read_http(&mut stream);
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(last_line(&out).starts_with("1 fulfilled, 0 rejected, 0 failed, "));
}

#[test]
fn ilp_receiver_with_http_async_answers_202_and_posts_the_reply() {
    use ilp_packet::{Address, Packet, PrepareBuilder, Timestamp};
    let receiver = Receiver::start_with(
        &["--http", "127.0.0.1:0", "--http-async"],
        &["alice:s3cret"],
    );
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let callback = format!("http://{}/replies/alice", sink.local_addr().unwrap());
    let data = b"pay me";
    let prepare = PrepareBuilder {
        amount: 5,
        expires_at: Timestamp::now()
            .checked_add(std::time::Duration::from_secs(30))
            .unwrap(),
        execution_condition: ilp_core::test_condition(data),
        destination: &Address::from_static("private.receiver"),
        data,
    }
    .build()
    .unwrap();
    let id = "0c3d1a52-54ad-4c0e-8b77-4a3f3c1f2e10";
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", receiver.port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /accounts/alice/ilp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer s3cret\r\n\
         prefer: respond-async\r\ncallback-url: {callback}\r\nrequest-id: {id}\r\n\
         content-type: application/octet-stream\r\n"
    );
    write_http(&mut stream, &head, prepare.as_bytes());
    let (answer, _) = read_http(&mut stream);
    assert!(answer.starts_with("http/1.1 202"), "{answer}");
    let mut reply = accept(&sink);
    let (head, body) = read_http(&mut reply);
    assert!(head.starts_with("post /replies/alice "), "{head}");
    assert_eq!(header(&head, "request-id"), Some(id));
    assert_eq!(header(&head, "authorization"), Some("bearer s3cret"));
    write_http(&mut reply, "HTTP/1.1 200 OK\r\n", b"");
    let Packet::Fulfill(fulfill) = Packet::decode(body.into()).unwrap() else {
        panic!("a Fulfill")
    };
    assert_eq!(fulfill.data(), data);
}
