//! What the example binaries share, so that each stays a thin program over the workspace's
//! public API: argument reading with one-line errors ([`Args`], [`exit`]), trusted roots from
//! a PEM file ([`trusted_roots`]), the token of a BTP URL ([`btp_token`]) and both sides of
//! the asynchronous ILP-over-HTTP mode as the binaries use them ([`callback_endpoint`],
//! [`AnyCallback`]).
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
use ilp_btp::ws::BtpUrl;
use ilp_core::{AccountId, Principal, TestReceiver};
use ilp_http::rustls::pki_types::{pem::PemObject, CertificateDer};
use ilp_http::rustls::RootCertStore;
use ilp_http::{AsyncCaller, CallbackPolicy, CallbackTarget, Callbacks, Endpoint, HttpServer};
use ilp_http::{IlpHttpService, OutgoingAuth, ServerConfig};
use ilp_packet::Address;
use zeroize::Zeroizing;

/// A program's result: `Ok(true)` for success, `Ok(false)` for a run that did not reach its
/// goal (exit 1 without an error line), `Err` for an error.
pub type Outcome = Result<bool, Box<dyn Error>>;

/// Ends the program: exit 0 on `Ok(true)`, 1 on `Ok(false)`, and on an error one line
/// `error: ...` on stderr (its `Display`, never `Debug`) and exit 1.
pub fn exit(outcome: Outcome) -> ! {
    let code = match outcome {
        Ok(success) => i32::from(!success),
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    };
    std::process::exit(code)
}

/// The command line, read flag by flag; each mistake is one line naming the flag (and the
/// usage where it helps).
#[derive(Debug)]
pub struct Args {
    args: std::vec::IntoIter<String>,
    usage: &'static str,
    flag: String,
}

impl Args {
    /// The process's arguments (after the program name).
    #[must_use]
    pub fn new(usage: &'static str) -> Self {
        Self::from_vec(std::env::args().skip(1).collect(), usage)
    }

    /// Given arguments (after the program name).
    #[must_use]
    pub fn from_vec(args: Vec<String>, usage: &'static str) -> Self {
        Self {
            args: args.into_iter(),
            usage,
            flag: String::new(),
        }
    }

    /// The next flag.
    pub fn next_flag(&mut self) -> Option<String> {
        self.flag = self.args.next()?;
        Some(self.flag.clone())
    }

    /// The current flag's value: `--flag needs a value; usage: ...` when there is none.
    pub fn value(&mut self) -> Result<String, String> {
        let usage = self.usage;
        let flag = &self.flag;
        self.args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {usage}"))
    }

    /// The current flag's value, parsed: `--flag "value": reason` when it does not parse.
    pub fn parse<T: FromStr<Err: Display>>(&mut self) -> Result<T, String> {
        let value = self.value()?;
        value
            .parse()
            .map_err(|e| format!("{} {value:?}: {e}", self.flag))
    }

    /// Prints the usage on stdout (for `--help`); `true`.
    #[must_use]
    pub fn help(&self) -> bool {
        println!("{}", self.usage);
        true
    }

    /// The error for an unknown flag: `unknown argument "--flag"; usage: ...`.
    #[must_use]
    pub fn unknown(&self) -> Box<dyn Error> {
        format!("unknown argument {:?}; {}", self.flag, self.usage).into()
    }

    /// The error for a missing or bad combination: `what; usage: ...`.
    #[must_use]
    pub fn usage(&self, what: &str) -> Box<dyn Error> {
        format!("{what}; {}", self.usage).into()
    }
}

/// The certificates of a PEM file, as trust roots (for `--ca-cert FILE`). Errors name the file:
/// unreadable, not PEM, or with no certificate in it.
pub fn trusted_roots(path: &str) -> Result<RootCertStore, String> {
    let error = |e: &dyn Display| format!("--ca-cert {path}: {e}");
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| error(&e))? {
        roots
            .add(cert.map_err(|e| error(&e))?)
            .map_err(|e| error(&e))?;
    }
    if roots.is_empty() {
        return Err(error(&"no certificate in it"));
    }
    Ok(roots)
}

/// The token for a BTP URL: the URL's password or `--token`, refusing both at once (rather
/// than silently preferring one) and neither. Messages never contain a token.
pub fn btp_token(
    url: &BtpUrl,
    token: Option<Zeroizing<String>>,
) -> Result<Zeroizing<String>, String> {
    match (token, url.token().is_empty()) {
        (Some(_), false) => Err("the token is given twice, in the URL and with --token".into()),
        (None, true) => Err("--token is required (or a password in the BTP URL)".into()),
        (Some(token), true) => Ok(token),
        (None, false) => Ok(Zeroizing::new(url.token().to_owned())),
    }
}

/// The caller's side of the asynchronous mode: an HTTP server on `addr` whose
/// `POST /callbacks` takes the replies, authenticated with `token` (as the account
/// `receiver`), and the [`AsyncCaller`] for a client sending to that peer. The callback URL
/// is `http://<bound address>/callbacks`, so `addr` must be reachable by the peer.
pub async fn callback_endpoint(
    addr: SocketAddr,
    token: &str,
    node: Address,
) -> Result<(HttpServer, AsyncCaller), Box<dyn Error>> {
    let (peer, callbacks) = ("receiver".parse::<AccountId>()?, Callbacks::default());
    let auth = AccountAuthenticator::new(NodeKey::generate()?, Arc::new(MemoryStore::new()));
    auth.add_account(peer.clone()).await?;
    auth.add_token(&peer, token, None).await?;
    let endpoint = Endpoint::new(
        Arc::new(auth),
        TestReceiver::new(node),
        ServerConfig::default(),
    );
    let service = IlpHttpService::new(endpoint).with_callbacks("/callbacks", callbacks.clone());
    let server = HttpServer::bind_service(addr, service).await?;
    let url = format!("http://{}/callbacks", server.local_addr()).parse()?;
    Ok((server, AsyncCaller::new(url, callbacks, peer)))
}

/// The callee's policy of `ilp-receiver --http-async`: the reply goes to the `Callback-Url`
/// the request names, whatever it is, with the requesting account's own token. Only for a
/// test tool: a node should allow fixed URLs per account (`ilp_http::CallbackRoutes`), as a
/// server that POSTs wherever its callers say can be made to call anywhere.
#[derive(Default)]
pub struct AnyCallback(pub HashMap<AccountId, Zeroizing<String>>);

impl std::fmt::Debug for AnyCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyCallback")
            .field("accounts", &self.0.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl CallbackPolicy for AnyCallback {
    fn target(&self, from: &Principal, url: Option<&http::Uri>) -> Option<CallbackTarget> {
        let token = self.0.get(&from.account)?;
        let auth = OutgoingAuth::bearer(token.as_str());
        Some(CallbackTarget::new(url?.clone(), auth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::from_vec(list.iter().map(|&s| s.to_owned()).collect(), "usage: x")
    }

    #[test]
    fn args_name_the_flag_in_each_error() {
        let mut a = args(&["--count", "x", "--to"]);
        assert_eq!(a.next_flag().as_deref(), Some("--count"));
        assert_eq!(
            a.parse::<usize>().unwrap_err(),
            "--count \"x\": invalid digit found in string"
        );
        assert_eq!(a.next_flag().as_deref(), Some("--to"));
        assert_eq!(a.value().unwrap_err(), "--to needs a value; usage: x");
        assert_eq!(
            a.unknown().to_string(),
            "unknown argument \"--to\"; usage: x"
        );
        assert_eq!(a.next_flag(), None);
    }

    #[test]
    fn the_btp_token_comes_from_one_place() {
        let with: BtpUrl = "btp+ws://alice:pw@h:1".parse().unwrap();
        let without: BtpUrl = "btp+ws://alice@h:1".parse().unwrap();
        let given = || Some(Zeroizing::new("tok".to_owned()));
        assert_eq!(btp_token(&with, None).unwrap().as_str(), "pw");
        assert_eq!(btp_token(&without, given()).unwrap().as_str(), "tok");
        assert!(btp_token(&with, given())
            .unwrap_err()
            .contains("given twice"));
        assert!(btp_token(&without, None)
            .unwrap_err()
            .contains("--token is required"));
    }
}
