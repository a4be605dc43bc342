//! Interop harness: runs the pinned npm reference packages (see `interop/package.json`) from
//! Rust integration tests.
//!
//! The interop tests in `interop/tests/` drive small node scripts that live beside this crate
//! (`interop/*.js`) through their stdin and stdout. This crate does the plumbing they share:
//!
//! - it finds `node` (and `npm`, when an install is needed) on `PATH`, or at the paths in
//!   `ILP_INTEROP_NODE` / `ILP_INTEROP_NPM`;
//! - it runs `npm ci` in `interop/` once when `node_modules` is missing or stale (the lock file,
//!   `package.json` or the node version changed since the last install), serialized between
//!   concurrent test binaries by a lock directory and within a process by a [`OnceLock`];
//! - it runs a script with the given arguments and stdin, with a timeout, and returns its
//!   stdout ([`Harness::run`], [`Harness::run_json_lines`]), or hands out a ready [`Command`]
//!   for scripts that keep running beside the test, such as servers ([`Harness::command`]);
//! - it applies the skip policy.
//!
//! The transport tests (`tests/btp.rs`, `tests/http.rs`) also share the test convention
//! ([`convention`]: Prepares, answer checks, batches) and the drivers of their scripts' client
//! and server modes ([`js`]).
//!
//! # Skip policy
//!
//! When `node` cannot be found, [`harness`] prints a loud `SKIPPED: ...` line to stderr and
//! returns `None`; the test then returns early. With the environment variable
//! `ILP_INTEROP=required` (CI sets it) a missing `node` panics instead. Once `node` is found,
//! anything that goes wrong (no `npm`, `npm ci` fails, a script fails or times out) fails the
//! test: it is never a skip.
//!
//! ```no_run
//! let Some(node) = ilp_interop::harness() else { return };
//! let lines = node.run_json_lines("codec.js", &["generate", "1", "10"], "");
//! assert_eq!(lines.len(), 10);
//! ```

#![forbid(unsafe_code)]

pub mod convention;
pub mod js;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The environment variable of the skip policy: `ILP_INTEROP=required` turns a missing `node`
/// into a test failure.
pub const REQUIRED_ENV: &str = "ILP_INTEROP";
/// Overrides where `node` is looked for (a path to the executable).
pub const NODE_ENV: &str = "ILP_INTEROP_NODE";
/// Overrides where `npm` is looked for (a path to the executable).
pub const NPM_ENV: &str = "ILP_INTEROP_NPM";
/// How long [`Harness::run`] lets a script run before killing it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Written into `node_modules` after a successful `npm ci`; its content says what was installed.
const STAMP_FILE: &str = ".ilp-interop-installed";
/// Held (as a directory) while `npm ci` runs, so that concurrent test binaries install once.
const LOCK_DIR: &str = ".npm-ci.lock";
/// How long `npm ci` (and `node --version`) may take.
const NPM_TIMEOUT: Duration = Duration::from_secs(300);
/// A lock older than this is left over from a killed process and is removed (the holder gives
/// up on `npm ci` after [`NPM_TIMEOUT`]).
const LOCK_STALE_AFTER: Duration = Duration::from_secs(400);
/// How long to wait for another process's `npm ci`.
const LOCK_WAIT: Duration = Duration::from_secs(600);
/// How much of a failing command's output to show.
const SHOWN_OUTPUT: usize = 8000;

/// A working node installation with the pinned packages installed in [`Harness::dir`].
#[derive(Debug)]
pub struct Harness {
    node: PathBuf,
    node_version: String,
    dir: PathBuf,
}

enum State {
    Ready(Harness),
    /// No node: skip, unless required.
    NoNode(String),
    /// Node is there but something else is broken: always a failure.
    Broken(String),
}

static STATE: OnceLock<State> = OnceLock::new();

/// Writes a line to the process's real stderr. `eprintln!` inside a test is captured by the
/// test harness and shown only when the test fails; a skip must be seen when it passes.
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut stderr = io::stderr().lock();
        let _ = writeln!(stderr, $($arg)*);
        let _ = stderr.flush();
    }};
}

/// The harness, set up on first use (finding node, running `npm ci` if needed).
///
/// Returns `None` after printing `SKIPPED: ...` to stderr when node is missing and
/// `ILP_INTEROP` is not `required`.
///
/// # Panics
///
/// When node is missing and `ILP_INTEROP=required`, and whenever node is present but the
/// setup fails (no npm, `npm ci` fails, `node --version` fails).
pub fn harness() -> Option<&'static Harness> {
    match STATE.get_or_init(setup) {
        State::Ready(harness) => Some(harness),
        State::NoNode(reason) if required() => panic!(
            "{REQUIRED_ENV}=required but the npm interop tests cannot run: {reason}. \
             Install node (20 or later) and npm, or point {NODE_ENV} at node."
        ),
        State::NoNode(reason) => {
            // libtest runs each test on a thread named after it.
            let current = thread::current();
            let test = current
                .name()
                .filter(|n| *n != "main")
                .unwrap_or("npm interop test");
            say!(
                "SKIPPED: {test}: not run, {reason}. Install node 20+ and npm to run it; set \
                 {REQUIRED_ENV}=required to make this a failure."
            );
            None
        }
        State::Broken(reason) => panic!("npm interop setup failed: {reason}"),
    }
}

/// Whether the skip policy is off (`ILP_INTEROP=required`).
#[must_use]
pub fn required() -> bool {
    std::env::var(REQUIRED_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("required"))
}

/// The directory holding `package.json`, the lock file and the node scripts.
#[must_use]
pub fn interop_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn setup() -> State {
    let Some(node) = find_program(NODE_ENV, "node") else {
        return State::NoNode(format!("`node` was not found on PATH (nor in {NODE_ENV})"));
    };
    let dir = interop_dir().to_path_buf();
    let node_version = match run_checked(Command::new(&node).arg("--version"), &dir) {
        Ok(out) => String::from_utf8_lossy(&out).trim().to_owned(),
        Err(e) => return State::Broken(format!("`{} --version` failed: {e}", node.display())),
    };
    match ensure_installed(&dir, &node_version) {
        Ok(()) => State::Ready(Harness {
            node,
            node_version,
            dir,
        }),
        Err(e) => State::Broken(e),
    }
}

impl Harness {
    /// The node executable.
    #[must_use]
    pub fn node(&self) -> &Path {
        &self.node
    }

    /// What `node --version` printed, e.g. `v20.11.0`.
    #[must_use]
    pub fn node_version(&self) -> &str {
        &self.node_version
    }

    /// The `interop/` directory (scripts and `node_modules`).
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `node <interop>/<script>`, run from `interop/`, with nothing else set up: add the
    /// arguments and stdio you need. For scripts that keep running beside the test (servers);
    /// remember to kill the child.
    #[must_use]
    pub fn command(&self, script: &str) -> Command {
        let mut cmd = Command::new(&self.node);
        cmd.arg(self.dir.join(script)).current_dir(&self.dir);
        cmd
    }

    /// Runs `script` with `args`, writes `stdin` to it, and returns its stdout.
    ///
    /// # Panics
    ///
    /// When the script cannot be started, exits unsuccessfully or runs longer than
    /// [`DEFAULT_TIMEOUT`]; the message shows its stderr.
    #[must_use]
    pub fn run(&self, script: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        self.try_run(script, args, stdin, DEFAULT_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Harness::run`], with a timeout, returning failures instead of panicking.
    pub fn try_run(
        &self,
        script: &str,
        args: &[&str],
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        let mut cmd = self.command(script);
        cmd.args(args);
        let what = format!("node {script} {}", args.join(" "));
        let out = run_with_timeout(&mut cmd, stdin, timeout).map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(format!(
                "{what} failed ({}):\n{}",
                out.status,
                shown(&out.stderr)
            ))
        }
    }

    /// Runs `script`, feeding it `stdin`, and parses each non-empty line of its stdout as
    /// JSON.
    ///
    /// # Panics
    ///
    /// As [`Harness::run`], and when a line is not JSON.
    #[must_use]
    pub fn run_json_lines(
        &self,
        script: &str,
        args: &[&str],
        stdin: &str,
    ) -> Vec<serde_json::Value> {
        let out = self.run(script, args, stdin.as_bytes());
        let text = String::from_utf8(out)
            .unwrap_or_else(|e| panic!("node {script}: stdout is not UTF-8: {e}"));
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "node {script}: stdout line is not JSON ({e}): {}",
                        shown(line.as_bytes())
                    )
                })
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Finding programs

/// The program named by `env_var`, or the first `name` on `PATH`.
fn find_program(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    let exts: Vec<OsString> = if cfg!(windows) {
        vec![".exe".into(), ".cmd".into(), ".bat".into(), "".into()]
    } else {
        vec!["".into()]
    };
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| {
            exts.iter().map(move |ext| {
                let mut file = OsString::from(name);
                file.push(ext);
                dir.join(file)
            })
        })
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

// ---------------------------------------------------------------------------------------------
// npm ci

/// What the stamp file holds when `node_modules` matches the lock file.
fn expected_stamp(dir: &Path, node_version: &str) -> Result<String, String> {
    let read = |name: &str| {
        fs::read_to_string(dir.join(name))
            .map_err(|e| format!("cannot read {}: {e}", dir.join(name).display()))
    };
    Ok(format!(
        "node {node_version}\n--- package.json\n{}\n--- package-lock.json\n{}",
        read("package.json")?,
        read("package-lock.json")?
    ))
}

/// Whether `node_modules` holds what the lock file pins: our stamp matches and every direct
/// dependency is present.
fn is_fresh(dir: &Path, stamp: &str) -> Result<bool, String> {
    let modules = dir.join("node_modules");
    if fs::read_to_string(modules.join(STAMP_FILE)).ok().as_deref() != Some(stamp) {
        return Ok(false);
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.join("package.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("package.json: {e}"))?;
    let deps = manifest
        .get("dependencies")
        .and_then(serde_json::Value::as_object)
        .ok_or("package.json has no dependencies")?;
    Ok(deps
        .keys()
        .all(|name| modules.join(name).join("package.json").is_file()))
}

fn ensure_installed(dir: &Path, node_version: &str) -> Result<(), String> {
    let stamp = expected_stamp(dir, node_version)?;
    if is_fresh(dir, &stamp)? {
        return Ok(());
    }
    let _lock = DirLock::acquire(&dir.join(LOCK_DIR))?;
    // Another process may have installed while we waited.
    if is_fresh(dir, &stamp)? {
        return Ok(());
    }
    let npm = find_program(NPM_ENV, "npm").ok_or_else(|| {
        format!("node is installed but `npm` was not found on PATH (nor in {NPM_ENV})")
    })?;
    let modules = dir.join("node_modules");
    let _ = fs::remove_file(modules.join(STAMP_FILE));
    say!("ilp-interop: running `npm ci` in {}", dir.display());
    let started = Instant::now();
    run_checked(
        Command::new(&npm).args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"]),
        dir,
    )
    .map_err(|e| format!("`npm ci` in {} failed: {e}", dir.display()))?;
    fs::write(modules.join(STAMP_FILE), &stamp)
        .map_err(|e| format!("cannot write {}: {e}", modules.join(STAMP_FILE).display()))?;
    say!(
        "ilp-interop: npm ci done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A lock held by creating a directory (atomic on every platform); removed on drop.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> Result<Self, String> {
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match fs::create_dir(path) {
                Ok(()) => {
                    let _ = fs::write(path.join("pid"), std::process::id().to_string());
                    return Ok(Self(path.to_path_buf()));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let age = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|age| age > LOCK_STALE_AFTER) {
                        say!("ilp-interop: removing stale lock {}", path.display());
                        let _ = fs::remove_dir_all(path);
                        continue;
                    }
                    if Instant::now() > deadline {
                        return Err(format!(
                            "timed out waiting for {} (another `npm ci`?); remove it if no \
                             test is running",
                            path.display()
                        ));
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Running processes

struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `cmd` in `dir` with no stdin; its stdout on success, a description otherwise.
fn run_checked(cmd: &mut Command, dir: &Path) -> Result<Vec<u8>, String> {
    cmd.current_dir(dir);
    let out = run_with_timeout(cmd, &[], NPM_TIMEOUT)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "{}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            shown(&out.stdout),
            shown(&out.stderr)
        ))
    }
}

/// Runs `cmd` with `stdin` written to it, collecting stdout and stderr; kills it after
/// `timeout`. Stdin is written and the outputs read on their own threads, so no pipe can fill
/// up and stall the child.
fn run_with_timeout(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> Result<Output, String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let deadline = Instant::now() + timeout;
    let input = stdin.to_vec();
    let mut child_stdin = child.stdin.take();
    // A child that exits without reading all its input closes the pipe: not our error, its
    // exit status tells.
    let writer = thread::spawn(move || {
        if let Some(pipe) = child_stdin.as_mut() {
            let _ = pipe.write_all(&input);
        }
    });
    let stdout = child.stdout.take().map(reader);
    let stderr = child.stderr.take().map(reader);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = stderr.map(join).unwrap_or_default();
                return Err(format!(
                    "killed after {timeout:?} without exiting; stderr:\n{}",
                    shown(&stderr)
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("cannot wait for the child: {e}")),
        }
    };
    let _ = writer.join();
    Ok(Output {
        status,
        stdout: stdout.map(join).unwrap_or_default(),
        stderr: stderr.map(join).unwrap_or_default(),
    })
}

fn reader(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn join(handle: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    handle.join().unwrap_or_default()
}

/// Output for an error message: lossy UTF-8, cut past [`SHOWN_OUTPUT`] bytes.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= SHOWN_OUTPUT {
        return text.into_owned();
    }
    let mut cut = SHOWN_OUTPUT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = text[..cut].to_owned();
    let _ = write!(out, "…({} bytes in all)", bytes.len());
    out
}

// ---------------------------------------------------------------------------------------------
// Hex, for the line protocols of the scripts

/// Lower-case hex of `bytes`.
#[must_use]
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The bytes of a hex string (either case).
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    fn nibble(c: u8) -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!("invalid hex digit {:?}", char::from(c))),
        }
    }
    let text = text.as_bytes();
    if text.len() % 2 != 0 {
        return Err("odd number of hex digits".to_owned());
    }
    text.chunks_exact(2)
        .map(|pair| Ok(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrips() {
        assert_eq!(to_hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00aBff"), Ok(vec![0x00, 0xab, 0xff]));
        assert!(from_hex("0").is_err());
        assert!(from_hex("zz").is_err());
    }

    #[test]
    fn shown_cuts_long_output_on_a_char_boundary() {
        let long = "é".repeat(SHOWN_OUTPUT);
        let out = shown(long.as_bytes());
        assert!(out.ends_with(&format!("…({} bytes in all)", long.len())));
        assert!(out.len() < long.len());
    }

    #[test]
    fn dir_lock_is_exclusive_and_released() {
        let path = std::env::temp_dir().join(format!("ilp-interop-lock-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        let lock = DirLock::acquire(&path).unwrap();
        assert!(fs::create_dir(&path).is_err(), "lock must be held");
        drop(lock);
        assert!(!path.exists(), "lock must be released");
    }
}
