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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ilp-receiver"));
        cmd.args([listener, "127.0.0.1:0"]);
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
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid auth_token"), "{err}");
    assert!(
        !err.contains("guess"),
        "the token must not be printed: {err}"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = send(&["--to", "btp+ws://alice@127.0.0.1:1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: ilp-send"));
    let out = Command::new(env!("CARGO_BIN_EXE_ilp-receiver"))
        .arg("--nope")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: ilp-receiver"));
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
