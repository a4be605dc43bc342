//! Shared test support: a store that counts calls, fixtures for both authenticators, and the
//! behaviour suite both must pass through `&dyn Authenticator` (`behaviour_suite!`).
#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ilp_auth::{
    AccountAuthenticator, AccountRecord, CredentialId, CredentialRecord, CredentialSpec,
    MemoryStore, NodeKey, Owner, PeerAuthenticator, PeerRecord, Store, StoreError, Throttle,
    ThrottleConfig, Token, TokenMac,
};
use ilp_core::{AccountId, AuthError, Authenticator, ManualClock, PeerId, Principal, Scopes};
use ilp_packet::Timestamp;

/// 2030-01-01T00:00:00Z.
pub fn start() -> Timestamp {
    "2030-01-01T00:00:00.000Z".parse().unwrap()
}

pub fn id(name: &str) -> AccountId {
    name.parse().unwrap()
}

pub fn peer_id(name: &str) -> PeerId {
    name.parse().unwrap()
}

pub fn ip(n: u32) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
}

pub fn key() -> NodeKey {
    NodeKey::from_bytes(&[0x42; 32]).unwrap()
}

/// A fresh random token of the minted length that no credential has.
pub fn wrong_token() -> String {
    Token::generate().unwrap().into_exposed()
}

/// Store calls, by method.
#[derive(Debug, Default)]
pub struct Calls {
    pub account: AtomicUsize,
    pub peer: AtomicUsize,
    pub credential: AtomicUsize,
}

impl Calls {
    pub fn snapshot(&self) -> [usize; 3] {
        [
            self.account.load(Ordering::SeqCst),
            self.peer.load(Ordering::SeqCst),
            self.credential.load(Ordering::SeqCst),
        ]
    }
}

/// A [`MemoryStore`] that counts the lookups authentication makes, and can be told to fail.
#[derive(Debug, Default)]
pub struct CountingStore {
    pub inner: MemoryStore,
    pub calls: Calls,
    pub failing: std::sync::atomic::AtomicBool,
}

impl CountingStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err("database unreachable".into())
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError> {
        self.calls.account.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.account(id).await
    }
    async fn peer(&self, id: &PeerId) -> Result<Option<PeerRecord>, StoreError> {
        self.calls.peer.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.peer(id).await
    }
    async fn credential(&self, mac: &TokenMac) -> Result<Option<CredentialRecord>, StoreError> {
        self.calls.credential.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.credential(mac).await
    }
    async fn credentials_of(&self, owner: &Owner) -> Result<Vec<CredentialRecord>, StoreError> {
        self.inner.credentials_of(owner).await
    }
    async fn put_account(&self, record: AccountRecord) -> Result<(), StoreError> {
        self.inner.put_account(record).await
    }
    async fn remove_account(&self, id: &AccountId) -> Result<bool, StoreError> {
        self.inner.remove_account(id).await
    }
    async fn put_peer(&self, record: PeerRecord) -> Result<(), StoreError> {
        self.inner.put_peer(record).await
    }
    async fn remove_peer(&self, id: &PeerId) -> Result<bool, StoreError> {
        self.inner.remove_peer(id).await
    }
    async fn put_credential(&self, record: CredentialRecord) -> Result<(), StoreError> {
        self.inner.put_credential(record).await
    }
    async fn remove_credential(&self, id: &CredentialId) -> Result<bool, StoreError> {
        self.inner.remove_credential(id).await
    }
}

/// One authenticator, set up with account `alice` (valid token `token`, revoked token
/// `revoked`) and another account `bob`, on a manual clock.
pub struct Fixture {
    pub auth: Arc<dyn Authenticator>,
    pub throttle: Arc<Throttle>,
    pub clock: ManualClock,
    pub store: Arc<CountingStore>,
    pub config: ThrottleConfig,
    pub token: String,
    pub revoked: String,
    pub bob_token: String,
    pub expected: Principal,
    pub expected_bob: Principal,
    /// The delays the authenticator asked its `sleep` function for (it does not wait).
    pub sleeps: Arc<Mutex<Vec<Duration>>>,
}

/// A `sleep` function for `with_sleep` that records the delays asked for and does not wait.
pub fn recording_sleep() -> (
    Arc<Mutex<Vec<Duration>>>,
    impl Fn(Duration) -> std::future::Ready<()> + Send + Sync + 'static,
) {
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let recorded = sleeps.clone();
    let sleep = move |delay| {
        recorded.lock().unwrap().push(delay);
        std::future::ready(())
    };
    (sleeps, sleep)
}

pub fn throttle_config() -> ThrottleConfig {
    ThrottleConfig::default()
        .with_max_failures(5)
        .with_window(Duration::from_secs(60))
}

/// Account-based: tokens for accounts `alice` and `bob`.
pub async fn account_fixture(config: ThrottleConfig) -> Fixture {
    let clock = ManualClock::new(start());
    let store = Arc::new(CountingStore::default());
    let (sleeps, sleep) = recording_sleep();
    let auth = AccountAuthenticator::new(key(), store.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_throttle_config(config)
        .with_sleep(sleep);
    auth.add_account(id("alice")).await.unwrap();
    auth.add_account(id("bob")).await.unwrap();
    let revoked = auth.mint_token(&id("alice"), None).await.unwrap();
    let token = auth.mint_token(&id("alice"), None).await.unwrap();
    let bob = auth.mint_token(&id("bob"), None).await.unwrap();
    assert!(auth.revoke(&id("alice"), &revoked.id).await.unwrap());
    Fixture {
        throttle: auth.throttle().clone(),
        auth: Arc::new(auth),
        clock,
        store,
        config,
        token: token.token.into_exposed(),
        revoked: revoked.token.into_exposed(),
        bob_token: bob.token.into_exposed(),
        expected: Principal::account(id("alice")),
        expected_bob: Principal::account(id("bob")),
        sleeps,
    }
}

/// Peer-based: peer `peer-a` holds account `alice`, peer `peer-b` holds `bob`; send
/// credentials.
pub async fn peer_fixture(config: ThrottleConfig) -> Fixture {
    let clock = ManualClock::new(start());
    let store = Arc::new(CountingStore::default());
    let (sleeps, sleep) = recording_sleep();
    let auth = PeerAuthenticator::new(key(), store.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_throttle_config(config)
        .with_sleep(sleep);
    let (a, b) = (peer_id("peer-a"), peer_id("peer-b"));
    auth.add_peer(a.clone(), [id("alice")]).await.unwrap();
    auth.add_peer(b.clone(), [id("bob")]).await.unwrap();
    let spec = CredentialSpec::new(Scopes::SEND);
    let revoked = auth.mint(&a, spec.clone()).await.unwrap();
    let token = auth.mint(&a, spec.clone()).await.unwrap();
    let bob = auth.mint(&b, spec).await.unwrap();
    assert!(auth.revoke(&a, &revoked.id).await.unwrap());
    Fixture {
        throttle: auth.throttle().clone(),
        auth: Arc::new(auth),
        clock,
        store,
        config,
        token: token.token.into_exposed(),
        revoked: revoked.token.into_exposed(),
        bob_token: bob.token.into_exposed(),
        expected: Principal::peer(a, id("alice"), Scopes::SEND),
        expected_bob: Principal::peer(b, id("bob"), Scopes::SEND),
        sleeps,
    }
}

/// The behaviour both authenticators share, through `&dyn Authenticator`.
pub mod suite {
    use super::*;
    use ilp_core::Credentials;

    fn bearer<'a>(token: &'a str, account: Option<&'a str>) -> Credentials<'a> {
        Credentials::Bearer { token, account }
    }

    fn btp<'a>(username: &'a str, token: &'a str) -> Credentials<'a> {
        Credentials::UsernameToken { username, token }
    }

    fn assert_throttled(result: Result<Principal, AuthError>, window: Duration) {
        match result {
            Err(AuthError::Throttled { retry_after }) => {
                assert!(retry_after > Duration::ZERO && retry_after <= window);
            }
            other => panic!("expected Throttled, got {other:?}"),
        }
    }

    fn assert_rejected(result: Result<Principal, AuthError>) -> String {
        match result {
            Err(e @ AuthError::Rejected) => e.to_string(),
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    pub async fn valid_credential_is_accepted(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let t = f.token.as_str();
        for credentials in [
            bearer(t, Some("alice")),
            btp("alice", t),
            // Rafiki style: the token's own account.
            bearer(t, None),
            // ilp-plugin-btp's default empty username.
            btp("", t),
        ] {
            let principal = auth.authenticate(credentials, ip(1)).await;
            assert_eq!(principal.unwrap(), f.expected, "{credentials:?}");
        }
        let bob = auth.authenticate(btp("bob", &f.bob_token), None).await;
        assert_eq!(bob.unwrap(), f.expected_bob);
    }

    pub async fn wrong_unknown_and_revoked_are_rejected_alike(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let wrong = wrong_token();
        let wrong_token_msg = assert_rejected(
            auth.authenticate(bearer(&wrong, Some("alice")), ip(1))
                .await,
        );
        let unknown_msg = assert_rejected(
            auth.authenticate(bearer(&wrong, Some("nobody")), ip(1))
                .await,
        );
        assert_eq!(wrong_token_msg, unknown_msg);
        assert_rejected(auth.authenticate(btp("nobody", &wrong), ip(1)).await);
        assert_rejected(auth.authenticate(btp("alice", &wrong), ip(1)).await);
        assert_rejected(auth.authenticate(bearer(&wrong, None), ip(1)).await);
        assert_rejected(auth.authenticate(bearer("", Some("alice")), ip(1)).await);
        assert_rejected(
            auth.authenticate(bearer(&f.revoked, Some("alice")), ip(1))
                .await,
        );
        assert_rejected(auth.authenticate(bearer(&f.revoked, None), ip(1)).await);
        assert_rejected(auth.authenticate(btp("alice", &f.revoked), ip(1)).await);
    }

    /// An unknown account and a wrong token make the same store calls (the same work).
    pub async fn unknown_account_and_wrong_token_take_the_same_path(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let wrong = wrong_token();
        let before = f.store.calls.snapshot();
        let _ = auth.authenticate(bearer(&wrong, Some("alice")), None).await;
        let mid = f.store.calls.snapshot();
        let _ = auth
            .authenticate(bearer(&wrong, Some("nobody")), None)
            .await;
        let after = f.store.calls.snapshot();
        let diff = |a: [usize; 3], b: [usize; 3]| [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        assert_eq!(diff(before, mid), diff(mid, after));
        assert_eq!(diff(before, mid)[2], 1, "one lookup by MAC each");
    }

    pub async fn throttles_by_source(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let max = f.config.max_failures;
        for _ in 0..max {
            let wrong = wrong_token();
            assert_rejected(auth.authenticate(bearer(&wrong, None), ip(1)).await);
        }
        // Correct credentials from that source are refused without looking at the secret.
        let lookups = f.store.calls.snapshot();
        assert_throttled(
            auth.authenticate(bearer(&f.token, Some("alice")), ip(1))
                .await,
            f.config.window,
        );
        assert_throttled(
            auth.authenticate(btp("alice", &f.token), ip(1)).await,
            f.config.window,
        );
        assert_eq!(
            f.store.calls.snapshot(),
            lookups,
            "the secret was not checked"
        );
        // Other sources, and callers without a known address, are not affected.
        assert_eq!(
            auth.authenticate(bearer(&f.token, Some("alice")), ip(2))
                .await
                .unwrap(),
            f.expected
        );
        assert!(auth
            .authenticate(bearer(&f.token, None), None)
            .await
            .is_ok());
        // Throttled attempts do not extend the window; after it, the source recovers.
        f.clock.advance(f.config.window / 2);
        assert_throttled(
            auth.authenticate(bearer(&f.token, None), ip(1)).await,
            f.config.window / 2,
        );
        f.clock.advance(f.config.window / 2);
        assert_eq!(
            auth.authenticate(bearer(&f.token, None), ip(1))
                .await
                .unwrap(),
            f.expected
        );
    }

    /// Failures naming an account, from many sources, never refuse its correct secret
    /// (issue 16, finding 2: anyone could lock a known account out).
    pub async fn account_failures_never_refuse_a_correct_secret(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let max = f.config.max_failures;
        // Three times the limit, each failure from a different source, all naming alice.
        for n in 0..3 * max {
            let wrong = wrong_token();
            assert_rejected(auth.authenticate(btp("alice", &wrong), ip(100 + n)).await);
            let wrong = wrong_token();
            assert_rejected(
                auth.authenticate(bearer(&wrong, Some("alice")), ip(1000 + n))
                    .await,
            );
        }
        // The correct secret still gets in, from a source that never failed, and from an
        // unknown source.
        assert_eq!(
            auth.authenticate(btp("alice", &f.token), ip(1))
                .await
                .unwrap(),
            f.expected
        );
        assert_eq!(
            auth.authenticate(bearer(&f.token, Some("alice")), None)
                .await
                .unwrap(),
            f.expected
        );
        // A wrong secret is still only rejected, never answered as throttled (the source
        // never reached its limit).
        assert_rejected(auth.authenticate(btp("alice", &wrong_token()), ip(2)).await);
        assert_eq!(
            auth.authenticate(btp("bob", &f.bob_token), ip(1))
                .await
                .unwrap(),
            f.expected_bob
        );
    }

    /// A full throttle table keeps its throttled sources: new sources' failures evict the
    /// entries that are not throttled, and never a throttled one (issue 16, finding 9).
    pub async fn a_full_table_keeps_throttled_sources(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let max = f.config.max_failures;
        assert_eq!(f.config.capacity, 3, "the fixture's table holds 3 sources");
        for _ in 0..max {
            assert_rejected(auth.authenticate(bearer(&wrong_token(), None), ip(1)).await);
        }
        // Many sources with one failure each: more than the table holds.
        for n in 0..20 {
            assert_rejected(
                auth.authenticate(bearer(&wrong_token(), None), ip(10 + n))
                    .await,
            );
        }
        assert_throttled(
            auth.authenticate(bearer(&f.token, Some("alice")), ip(1))
                .await,
            f.config.window,
        );
        // Now fill the table with throttled sources only.
        for source in [2, 3] {
            for _ in 0..max {
                assert_rejected(
                    auth.authenticate(bearer(&wrong_token(), None), ip(source))
                        .await,
                );
            }
        }
        assert_eq!(f.throttle.source_entries(), 3);
        // A new source's failures find no room: they are not counted, and evict nothing.
        for _ in 0..2 * max {
            assert_rejected(auth.authenticate(bearer(&wrong_token(), None), ip(4)).await);
        }
        for source in [1, 2, 3] {
            assert_throttled(
                auth.authenticate(bearer(&f.token, None), ip(source)).await,
                f.config.window,
            );
        }
        // Sources that never failed are not refused.
        assert_eq!(
            auth.authenticate(bearer(&f.token, None), ip(5))
                .await
                .unwrap(),
            f.expected
        );
        // When the windows close, there is room again.
        f.clock.advance(f.config.window);
        assert_eq!(
            auth.authenticate(bearer(&f.token, None), ip(1))
                .await
                .unwrap(),
            f.expected
        );
    }

    /// Beyond the limit, each failure naming the account is held back
    /// (`ThrottleConfig::account_delay`, through the `sleep` function); successes never are.
    pub async fn failures_beyond_an_accounts_limit_are_held_back(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let sleeps = || f.sleeps.lock().unwrap().clone();
        for n in 0..f.config.max_failures {
            assert_rejected(
                auth.authenticate(btp("alice", &wrong_token()), ip(100 + n))
                    .await,
            );
        }
        assert_eq!(sleeps(), []);
        assert_rejected(auth.authenticate(btp("alice", &wrong_token()), ip(1)).await);
        assert_rejected(
            auth.authenticate(bearer(&wrong_token(), Some("alice")), None)
                .await,
        );
        let delay = f.config.account_delay;
        assert_eq!(sleeps(), [delay, delay]);
        assert_eq!(
            auth.authenticate(btp("alice", &f.token), ip(1))
                .await
                .unwrap(),
            f.expected
        );
        // Another account is not affected.
        assert_rejected(auth.authenticate(btp("bob", &wrong_token()), ip(2)).await);
        assert_eq!(sleeps().len(), 2, "no delay for a success or for bob");
        // After the window, alice's failures are answered at once again.
        f.clock.advance(f.config.window);
        assert_rejected(auth.authenticate(btp("alice", &wrong_token()), ip(3)).await);
        assert_eq!(sleeps().len(), 2);
    }

    /// An unknown account name is counted like a known one (no way to tell them apart).
    pub async fn unknown_account_names_are_counted_too(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        for n in 0..f.config.max_failures {
            assert_rejected(
                auth.authenticate(btp("nobody", &wrong_token()), ip(200 + n))
                    .await,
            );
        }
        assert_rejected(
            auth.authenticate(btp("nobody", &wrong_token()), ip(1))
                .await,
        );
        assert_eq!(*f.sleeps.lock().unwrap(), [f.config.account_delay]);
    }

    /// However many sources fail, the throttle holds at most its capacity per table.
    pub async fn memory_stays_bounded(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let capacity = f.config.capacity;
        let wrong = wrong_token();
        for n in 0..100_000u32 {
            let name = format!("n{n}");
            let result = auth.authenticate(btp(&name, &wrong), ip(n)).await;
            assert!(matches!(result, Err(AuthError::Rejected)));
            assert!(f.throttle.source_entries() <= capacity);
            assert!(f.throttle.account_entries() <= capacity);
        }
        assert_eq!(f.throttle.source_entries(), capacity);
        assert_eq!(f.throttle.account_entries(), capacity);
        // Still working.
        assert_eq!(
            auth.authenticate(btp("alice", &f.token), ip(0x00ff_ffff))
                .await
                .unwrap(),
            f.expected
        );
    }

    pub async fn store_failure_is_a_backend_error_not_a_failed_attempt(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        f.store.failing.store(true, Ordering::SeqCst);
        for _ in 0..=f.config.max_failures {
            let result = auth.authenticate(btp("alice", &f.token), ip(1)).await;
            let error = result.unwrap_err();
            assert!(matches!(error, AuthError::Backend(_)), "{error:?}");
            assert_eq!(error.http_status(), 503);
        }
        f.store.failing.store(false, Ordering::SeqCst);
        assert!(auth
            .authenticate(btp("alice", &f.token), ip(1))
            .await
            .is_ok());
    }
}

/// Generates one `#[tokio::test]` per behaviour of [`suite`], for the fixture built by
/// `$make(ThrottleConfig)`.
#[macro_export]
macro_rules! behaviour_suite {
    ($make:path) => {
        use $crate::common::{suite, throttle_config};

        #[tokio::test]
        async fn valid_credential_is_accepted() {
            suite::valid_credential_is_accepted(&$make(throttle_config()).await).await;
        }

        #[tokio::test]
        async fn wrong_unknown_and_revoked_are_rejected_alike() {
            let config = throttle_config().with_max_failures(100);
            suite::wrong_unknown_and_revoked_are_rejected_alike(&$make(config).await).await;
        }

        #[tokio::test]
        async fn unknown_account_and_wrong_token_take_the_same_path() {
            suite::unknown_account_and_wrong_token_take_the_same_path(
                &$make(throttle_config()).await,
            )
            .await;
        }

        #[tokio::test]
        async fn throttles_by_source() {
            suite::throttles_by_source(&$make(throttle_config()).await).await;
        }

        #[tokio::test]
        async fn account_failures_never_refuse_a_correct_secret() {
            suite::account_failures_never_refuse_a_correct_secret(&$make(throttle_config()).await)
                .await;
        }

        #[tokio::test]
        async fn a_full_table_keeps_throttled_sources() {
            let config = throttle_config().with_capacity(3);
            suite::a_full_table_keeps_throttled_sources(&$make(config).await).await;
        }

        #[tokio::test]
        async fn failures_beyond_an_accounts_limit_are_held_back() {
            suite::failures_beyond_an_accounts_limit_are_held_back(&$make(throttle_config()).await)
                .await;
        }

        #[tokio::test]
        async fn unknown_account_names_are_counted_too() {
            suite::unknown_account_names_are_counted_too(&$make(throttle_config()).await).await;
        }

        #[tokio::test]
        async fn memory_stays_bounded() {
            let config = throttle_config().with_capacity(1000);
            suite::memory_stays_bounded(&$make(config).await).await;
        }

        #[tokio::test]
        async fn store_failure_is_a_backend_error_not_a_failed_attempt() {
            suite::store_failure_is_a_backend_error_not_a_failed_attempt(
                &$make(throttle_config()).await,
            )
            .await;
        }
    };
}
