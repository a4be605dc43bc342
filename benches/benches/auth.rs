//! Authentication benches: `ilp-auth`'s two authenticators over a `MemoryStore`.
//!
//! - `account/{ok,fail}/{10,100000}` and `peer/{ok,fail}/{10,100000}`: one successful and one
//!   failed authentication with 10 and with 100 000 stored credentials. The lookup is by token
//!   MAC in a hash map, so the time should not grow with the number of credentials.
//! - `wrong_vs_unknown/{account,peer}/{wrong-token,unknown-account}`: a wrong token of the
//!   minted length naming an existing account (`acct50000`), against the same naming an
//!   account that does not exist, of the same length (`xcct50000`); 100 000 credentials
//!   stored. Both do the same work; the medians should match.
//! - `reference/node_key_mac`: the HMAC-SHA256 of one token, which every attempt computes.
//!
//! Every attempt names its account (`Credentials::Bearer { account: Some(..) }`, as from a URL
//! path) and comes from a known source address, on the system clock, so the throttle's check
//! and, for failures, its bookkeeping are included. Its limit is set out of reach so failures
//! never turn into throttled answers (which skip the secret check and would be cheaper).
//!
//! The store's futures complete at once, so each is polled once with a no-op waker: no
//! executor in the timing. See `benches/README.md` for the figures.

use std::future::Future;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use ilp_auth::{
    AccountAuthenticator, CredentialSpec, MemoryStore, NodeKey, PeerAuthenticator, ThrottleConfig,
    Token,
};
use ilp_core::{AccountId, AuthError, Authenticator, Credentials, PeerId, Principal, Scopes};

const SIZES: [usize; 2] = [10, 100_000];
const SOURCE: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));

/// Runs a future that completes without waiting (the in-memory store never waits).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory store never waits"),
    }
}

fn name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i}")
}

fn throttle() -> ThrottleConfig {
    ThrottleConfig::default().with_max_failures(u32::MAX)
}

/// An authenticator with `n` stored credentials, one of which is `token` for account `account`.
struct Fixture {
    auth: Box<dyn Authenticator>,
    account: String,
    token: String,
}

fn account_fixture(n: usize) -> Fixture {
    let auth = AccountAuthenticator::new(
        NodeKey::generate().expect("OS RNG"),
        Arc::new(MemoryStore::new()),
    )
    .with_throttle_config(throttle());
    let mut token = None;
    for i in 0..n {
        let account: AccountId = name("acct", i).parse().expect("valid name");
        now(auth.add_account(account.clone())).expect("new account");
        let minted = now(auth.mint_token(&account, None)).expect("minted");
        if i == n / 2 {
            token = Some(minted.token.into_exposed());
        }
    }
    Fixture {
        auth: Box::new(auth),
        account: name("acct", n / 2),
        token: token.expect("n > 0"),
    }
}

/// One peer per credential, each holding one account.
fn peer_fixture(n: usize) -> Fixture {
    let auth = PeerAuthenticator::new(
        NodeKey::generate().expect("OS RNG"),
        Arc::new(MemoryStore::new()),
    )
    .with_throttle_config(throttle());
    let mut token = None;
    for i in 0..n {
        let peer: PeerId = name("peer", i).parse().expect("valid name");
        let account: AccountId = name("acct", i).parse().expect("valid name");
        now(auth.add_peer(peer.clone(), [account])).expect("new peer");
        let minted = now(auth.mint(&peer, CredentialSpec::new(Scopes::SEND))).expect("minted");
        if i == n / 2 {
            token = Some(minted.token.into_exposed());
        }
    }
    Fixture {
        auth: Box::new(auth),
        account: name("acct", n / 2),
        token: token.expect("n > 0"),
    }
}

fn authenticate(
    auth: &dyn Authenticator,
    token: &str,
    account: &str,
) -> Result<Principal, AuthError> {
    now(auth.authenticate(
        Credentials::Bearer {
            token,
            account: Some(account),
        },
        SOURCE,
    ))
}

fn bench_model(c: &mut Criterion, model: &str, fixtures: &[(usize, Fixture)]) {
    let mut group = c.benchmark_group(model);
    let wrong = Token::generate().expect("OS RNG").into_exposed();
    for (n, f) in fixtures {
        assert!(authenticate(&*f.auth, &f.token, &f.account).is_ok());
        assert!(matches!(
            authenticate(&*f.auth, &wrong, &f.account),
            Err(AuthError::Rejected)
        ));
        group.bench_with_input(BenchmarkId::new("ok", n), f, |b, f| {
            b.iter(|| authenticate(&*f.auth, black_box(&f.token), black_box(&f.account)));
        });
        group.bench_with_input(BenchmarkId::new("fail", n), f, |b, f| {
            b.iter(|| authenticate(&*f.auth, black_box(&wrong), black_box(&f.account)));
        });
    }
    group.finish();
}

fn wrong_vs_unknown(c: &mut Criterion, model: &str, f: &Fixture) {
    let mut group = c.benchmark_group(format!("wrong_vs_unknown/{model}"));
    let wrong = Token::generate().expect("OS RNG").into_exposed();
    assert_eq!(wrong.len(), f.token.len(), "valid length");
    // As long as the real name (names are hashed and checked byte by byte; the length is
    // public anyway), so that only existence differs.
    let unknown = format!("x{}", &f.account[1..]);
    let unknown = unknown.as_str();
    for account in [f.account.as_str(), unknown] {
        assert!(matches!(
            authenticate(&*f.auth, &wrong, account),
            Err(AuthError::Rejected)
        ));
    }
    group.bench_function("wrong-token", |b| {
        b.iter(|| authenticate(&*f.auth, black_box(&wrong), black_box(&f.account)));
    });
    group.bench_function("unknown-account", |b| {
        b.iter(|| authenticate(&*f.auth, black_box(&wrong), black_box(unknown)));
    });
    group.finish();
}

/// The floor: the HMAC-SHA256 of one minted-length token under the node key, which every
/// attempt computes.
fn reference(c: &mut Criterion) {
    let key = NodeKey::generate().expect("OS RNG");
    let token = Token::generate().expect("OS RNG").into_exposed();
    c.bench_function("reference/node_key_mac", |b| {
        b.iter(|| key.mac(black_box(&token)));
    });
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let accounts: Vec<_> = SIZES.iter().map(|&n| (n, account_fixture(n))).collect();
    bench_model(&mut c, "account", &accounts);
    wrong_vs_unknown(&mut c, "account", &accounts[1].1);
    drop(accounts);
    let peers: Vec<_> = SIZES.iter().map(|&n| (n, peer_fixture(n))).collect();
    bench_model(&mut c, "peer", &peers);
    wrong_vs_unknown(&mut c, "peer", &peers[1].1);
    drop(peers);
    reference(&mut c);
    c.final_summary();
}
