//! Shared test support: a store that counts calls, fixtures for both authenticators, and the
//! behaviour suite both must pass through `&dyn Authenticator` (`behaviour_suite!`).
#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
    let auth = AccountAuthenticator::new(key(), store.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_throttle_config(config);
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
    }
}

/// Peer-based: peer `peer-a` holds account `alice`, peer `peer-b` holds `bob`; send
/// credentials.
pub async fn peer_fixture(config: ThrottleConfig) -> Fixture {
    let clock = ManualClock::new(start());
    let store = Arc::new(CountingStore::default());
    let auth = PeerAuthenticator::new(key(), store.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_throttle_config(config);
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

    pub async fn throttles_by_account_name(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        let max = f.config.max_failures;
        // Each failure from a different source, all naming alice.
        for n in 0..max {
            let wrong = wrong_token();
            assert_rejected(auth.authenticate(btp("alice", &wrong), ip(100 + n)).await);
        }
        let lookups = f.store.calls.snapshot();
        assert_throttled(
            auth.authenticate(btp("alice", &f.token), ip(1)).await,
            f.config.window,
        );
        assert_throttled(
            auth.authenticate(bearer(&f.token, Some("alice")), None)
                .await,
            f.config.window,
        );
        assert_eq!(
            f.store.calls.snapshot(),
            lookups,
            "the secret was not checked"
        );
        // Another account is not affected.
        assert_eq!(
            auth.authenticate(btp("bob", &f.bob_token), ip(1))
                .await
                .unwrap(),
            f.expected_bob
        );
        f.clock.advance(f.config.window);
        assert_eq!(
            auth.authenticate(btp("alice", &f.token), ip(1))
                .await
                .unwrap(),
            f.expected
        );
    }

    /// An unknown account name is throttled like a known one (no way to tell them apart).
    pub async fn unknown_account_names_are_throttled_too(f: &Fixture) {
        let auth: &dyn Authenticator = &*f.auth;
        for n in 0..f.config.max_failures {
            let wrong = wrong_token();
            assert_rejected(auth.authenticate(btp("nobody", &wrong), ip(200 + n)).await);
        }
        let wrong = wrong_token();
        assert_throttled(
            auth.authenticate(btp("nobody", &wrong), ip(1)).await,
            f.config.window,
        );
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
        async fn throttles_by_account_name() {
            suite::throttles_by_account_name(&$make(throttle_config()).await).await;
        }

        #[tokio::test]
        async fn unknown_account_names_are_throttled_too() {
            suite::unknown_account_names_are_throttled_too(&$make(throttle_config()).await).await;
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
