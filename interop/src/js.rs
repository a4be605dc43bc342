//! Driving the transport scripts (`btp.js`, `http.js`) from async tests: a one-shot client run
//! whose one JSON line is the answer ([`spawn_js_client`]), and a server that keeps running
//! beside the test and speaks the JSON line protocol of `convention.js` ([`JsServer`]).

use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

use crate::Harness;

/// How long [`JsServer`] waits for one line, and for the process to exit on stdin EOF.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a [`JsServer`]'s stderr is kept to show when the test fails.
const KEPT_STDERR: usize = 16_000;

/// Runs `node SCRIPT ARGS...` beside the test (on a blocking thread), with `timeout`; the
/// task's output is the one line the script prints, parsed as JSON.
///
/// The task panics when the script fails, runs over `timeout`, or prints anything but one
/// JSON line.
pub fn spawn_js_client(
    node: &'static Harness,
    script: &str,
    args: &[&str],
    timeout: Duration,
) -> JoinHandle<Value> {
    let script = script.to_owned();
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = node
            .try_run(&script, &args, b"", timeout)
            .unwrap_or_else(|e| panic!("{e}"));
        let text =
            String::from_utf8(out).unwrap_or_else(|e| panic!("{script} prints non-UTF-8: {e}"));
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{script} client printed: {text}");
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    })
}

/// A running `node SCRIPT server ...` (`btp.js`, `http.js`), killed when dropped: it prints
/// `{"ready":true,"port":P}` once listening, takes `{"NAME": ...}` commands on stdin, prints
/// `{"error": ...}` lines when something fails, and exits on stdin EOF.
#[derive(Debug)]
pub struct JsServer {
    what: String,
    port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl JsServer {
    /// Starts `node SCRIPT ARGS...` and waits until it listens.
    ///
    /// # Panics
    ///
    /// When it cannot be started or does not print its ready line within [`LINE_TIMEOUT`].
    pub async fn start(node: &Harness, script: &str, args: &[&str]) -> Self {
        let mut cmd = Command::from(node.command(script));
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start node {script}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut err_pipe = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap_or_else(PoisonError::into_inner);
                if s.len() < KEPT_STDERR {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let mut server = Self {
            what: format!("{script} server"),
            port: 0,
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
            stderr,
        };
        let ready = server.wait_for("ready", |v| v["ready"] == true).await;
        server.port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| server.fail(&format!("no port in {ready}")));
        server
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Fails the test, showing what the server printed.
    pub fn fail(&self, problem: &str) -> ! {
        let stderr = self
            .stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        panic!(
            "{problem}\n{} on port {} printed:\n{}\nstderr:\n{stderr}",
            self.what,
            self.port,
            self.seen.join("\n")
        );
    }

    /// Reads lines until one satisfies `wanted`; fails on an error line, EOF or timeout.
    pub async fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = match tokio::time::timeout(LINE_TIMEOUT, self.lines.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => self.fail(&format!("{} exited waiting for {what}", self.what)),
                Ok(Err(e)) => self.fail(&format!("reading {}: {e}", self.what)),
                Err(_) => self.fail(&format!("no {what} from {} in {LINE_TIMEOUT:?}", self.what)),
            };
            self.seen.push(line.clone());
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| self.fail(&format!("not JSON ({e}): {line}")));
            if value.get("error").is_some() {
                self.fail(&format!("{} failed waiting for {what}", self.what));
            }
            if wanted(&value) {
                return value;
            }
        }
    }

    /// Writes `command` as one line to its stdin.
    pub async fn send(&mut self, command: &Value) {
        let line = format!("{command}\n");
        let stdin = self.stdin.as_mut().expect("stdin open");
        if let Err(e) = stdin.write_all(line.as_bytes()).await {
            self.fail(&format!("writing to {}: {e}", self.what));
        }
    }

    /// Sends `{"stats":true}` and returns the `stats` of the answer: what the server's
    /// answerer counted.
    pub async fn stats(&mut self) -> Value {
        self.send(&serde_json::json!({"stats": true})).await;
        self.wait_for("stats", |v| v.get("stats").is_some()).await["stats"].clone()
    }

    /// Kills the process (SIGKILL: as if it crashed).
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Closes its stdin and waits for it to exit by itself.
    pub async fn finish(mut self) {
        drop(self.stdin.take());
        match tokio::time::timeout(LINE_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(status) => self.fail(&format!("{} ended with {status:?}", self.what)),
            Err(_) => self.fail(&format!("{} did not exit on stdin EOF", self.what)),
        }
    }
}
