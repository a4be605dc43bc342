//! The account-based model: token accounts, JWT HS256 accounts, rotation, expiry, management.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{id, ip, key, start, wrong_token};
use ilp_auth::jwt::{self, Claims, JwtConfig, JwtKey};
use ilp_auth::{AccountAuthenticator, Error, MemoryStore};
use ilp_core::{AuthError, Authenticator, Clock, Credentials, ManualClock, Principal};

fn setup() -> (AccountAuthenticator, ManualClock) {
    let clock = ManualClock::new(start());
    let auth = AccountAuthenticator::new(key(), Arc::new(MemoryStore::new()))
        .with_clock(Arc::new(clock.clone()))
        .with_jwt_config(JwtConfig::default().with_leeway(Duration::ZERO));
    (auth, clock)
}

fn bearer<'a>(token: &'a str, account: Option<&'a str>) -> Credentials<'a> {
    Credentials::Bearer { token, account }
}

fn unix_secs(clock: &ManualClock) -> u64 {
    u64::try_from(clock.now().unix_millis() / 1000).unwrap()
}

#[tokio::test]
async fn a_token_authenticates_only_its_own_account() {
    let (auth, _) = setup();
    auth.add_account(id("alice")).await.unwrap();
    auth.add_account(id("bob")).await.unwrap();
    let alice = auth.mint_token(&id("alice"), None).await.unwrap();
    let t = alice.token.expose();
    let as_bob = auth.authenticate(bearer(t, Some("bob")), None).await;
    assert!(matches!(as_bob, Err(AuthError::Rejected)));
    let as_nobody = auth.authenticate(bearer(t, Some("nobody")), None).await;
    assert!(matches!(as_nobody, Err(AuthError::Rejected)));
    let invalid_name = auth.authenticate(bearer(t, Some("al/ice")), None).await;
    assert!(matches!(invalid_name, Err(AuthError::Rejected)));
    assert_eq!(
        auth.authenticate(bearer(t, None), None).await.unwrap(),
        Principal::account(id("alice"))
    );
}

#[tokio::test]
async fn configured_tokens_are_stored_hashed_and_accepted() {
    let (auth, _) = setup();
    auth.add_account(id("alice")).await.unwrap();
    auth.add_token(&id("alice"), "configured-secret", None)
        .await
        .unwrap();
    let ok = auth
        .authenticate(
            Credentials::UsernameToken {
                username: "alice",
                token: "configured-secret",
            },
            None,
        )
        .await;
    assert_eq!(ok.unwrap(), Principal::account(id("alice")));
    let dup = auth
        .add_token(&id("alice"), "configured-secret", None)
        .await;
    assert!(matches!(dup, Err(Error::DuplicateToken)));
    assert!(matches!(
        auth.add_token(&id("alice"), "", None).await,
        Err(Error::EmptyToken)
    ));
}

#[tokio::test]
async fn rotation_overlaps_then_the_old_token_is_revoked() {
    let (auth, _) = setup();
    let alice = id("alice");
    auth.add_account(alice.clone()).await.unwrap();
    let old = auth.mint_token(&alice, None).await.unwrap();
    let new = auth.mint_token(&alice, None).await.unwrap();
    for t in [old.token.expose(), new.token.expose()] {
        assert!(auth
            .authenticate(bearer(t, Some("alice")), None)
            .await
            .is_ok());
    }
    assert_eq!(auth.credentials(&alice).await.unwrap().len(), 2);
    assert!(auth.revoke(&alice, &old.id).await.unwrap());
    assert!(!auth.revoke(&alice, &old.id).await.unwrap());
    let gone = auth
        .authenticate(bearer(old.token.expose(), Some("alice")), None)
        .await;
    assert!(matches!(gone, Err(AuthError::Rejected)));
    assert!(auth
        .authenticate(bearer(new.token.expose(), Some("alice")), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn revoking_needs_the_owner() {
    let (auth, _) = setup();
    auth.add_account(id("alice")).await.unwrap();
    auth.add_account(id("bob")).await.unwrap();
    let alice = auth.mint_token(&id("alice"), None).await.unwrap();
    assert!(!auth.revoke(&id("bob"), &alice.id).await.unwrap());
    assert!(auth
        .authenticate(bearer(alice.token.expose(), None), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn tokens_expire() {
    let (auth, clock) = setup();
    auth.add_account(id("alice")).await.unwrap();
    let at = clock.now().checked_add(Duration::from_secs(3600)).unwrap();
    let minted = auth.mint_token(&id("alice"), Some(at)).await.unwrap();
    let t = minted.token.expose();
    clock.advance(Duration::from_secs(3599));
    assert!(auth
        .authenticate(bearer(t, Some("alice")), None)
        .await
        .is_ok());
    clock.advance(Duration::from_secs(1));
    let expired = auth.authenticate(bearer(t, Some("alice")), None).await;
    assert!(matches!(expired, Err(AuthError::Rejected)));
}

#[tokio::test]
async fn removing_an_account_revokes_its_tokens() {
    let (auth, _) = setup();
    auth.add_account(id("alice")).await.unwrap();
    let minted = auth.mint_token(&id("alice"), None).await.unwrap();
    assert!(auth.remove_account(&id("alice")).await.unwrap());
    assert!(auth.credentials(&id("alice")).await.unwrap().is_empty());
    let gone = auth
        .authenticate(bearer(minted.token.expose(), None), None)
        .await;
    assert!(matches!(gone, Err(AuthError::Rejected)));
    assert!(!auth.remove_account(&id("alice")).await.unwrap());
}

#[tokio::test]
async fn management_errors() {
    let (auth, _) = setup();
    let alice = id("alice");
    assert!(matches!(
        auth.mint_token(&alice, None).await,
        Err(Error::UnknownAccount(a)) if a == alice
    ));
    auth.add_account(alice.clone()).await.unwrap();
    assert!(matches!(
        auth.add_account(alice.clone()).await,
        Err(Error::AccountExists(_))
    ));
    auth.add_jwt_account(id("jay"), JwtKey::new([9u8; 32]).unwrap(), true)
        .await
        .unwrap();
    assert!(matches!(
        auth.mint_token(&id("jay"), None).await,
        Err(Error::JwtAccount(_))
    ));
    assert!(matches!(
        auth.add_token(&id("jay"), "x", None).await,
        Err(Error::JwtAccount(_))
    ));
}

// ---- JWT HS256 accounts ----

async fn jwt_setup(require_subject: bool) -> (AccountAuthenticator, ManualClock, JwtKey) {
    let (auth, clock) = setup();
    let key = JwtKey::new([7u8; 32]).unwrap();
    auth.add_jwt_account(id("alice"), key.clone(), require_subject)
        .await
        .unwrap();
    (auth, clock, key)
}

fn claims(sub: Option<&str>, exp: u64) -> Claims {
    Claims {
        sub: sub.map(str::to_owned),
        exp,
        iat: None,
    }
}

#[tokio::test]
async fn jwt_valid_token_is_accepted() {
    let (auth, clock, key) = jwt_setup(true).await;
    let token = jwt::mint(&key, &claims(Some("alice"), unix_secs(&clock) + 60));
    let principal = auth
        .authenticate(bearer(&token, Some("alice")), ip(1))
        .await;
    assert_eq!(principal.unwrap(), Principal::account(id("alice")));
    let btp = Credentials::UsernameToken {
        username: "alice",
        token: &token,
    };
    assert!(auth.authenticate(btp, None).await.is_ok());
}

#[tokio::test]
async fn jwt_expired_token_is_rejected() {
    let (auth, clock, key) = jwt_setup(true).await;
    let token = jwt::mint(&key, &claims(Some("alice"), unix_secs(&clock) + 60));
    clock.advance(Duration::from_secs(60));
    assert!(auth
        .authenticate(bearer(&token, Some("alice")), None)
        .await
        .is_ok());
    clock.advance(Duration::from_millis(1));
    let expired = auth.authenticate(bearer(&token, Some("alice")), None).await;
    assert!(matches!(expired, Err(AuthError::Rejected)));
}

#[tokio::test]
async fn jwt_wrong_subject_key_or_shape_is_rejected() {
    let (auth, clock, key) = jwt_setup(true).await;
    let exp = unix_secs(&clock) + 60;
    let wrong_sub = jwt::mint(&key, &claims(Some("bob"), exp));
    let other_key = jwt::mint(
        &JwtKey::new([8u8; 32]).unwrap(),
        &claims(Some("alice"), exp),
    );
    let no_sub = jwt::mint(&key, &claims(None, exp));
    let opaque = wrong_token();
    for token in [&wrong_sub, &other_key, &no_sub, &opaque] {
        let result = auth.authenticate(bearer(token, Some("alice")), None).await;
        assert!(matches!(result, Err(AuthError::Rejected)), "{result:?}");
    }
    // A JWT account must be named: a JWT alone is not looked up by MAC.
    let good = jwt::mint(&key, &claims(Some("alice"), exp));
    let unnamed = auth.authenticate(bearer(&good, None), None).await;
    assert!(matches!(unnamed, Err(AuthError::Rejected)));
}

#[tokio::test]
async fn jwt_without_subject_is_accepted_when_configured() {
    // ilp-plugin-http sends `iat` and `exp` only.
    let (auth, clock, key) = jwt_setup(false).await;
    let now = unix_secs(&clock);
    let token = jwt::mint(
        &key,
        &Claims {
            sub: None,
            exp: now + 30,
            iat: Some(now),
        },
    );
    let principal = auth.authenticate(bearer(&token, Some("alice")), None).await;
    assert_eq!(principal.unwrap(), Principal::account(id("alice")));
    // A subject that is present must still match.
    let wrong_sub = jwt::mint(&key, &claims(Some("bob"), now + 30));
    let result = auth
        .authenticate(bearer(&wrong_sub, Some("alice")), None)
        .await;
    assert!(matches!(result, Err(AuthError::Rejected)));
}

/// Failures naming a JWT account never lock it out: the correct token from another source
/// is accepted at once; only the failing source is throttled.
#[tokio::test]
async fn jwt_failures_never_lock_the_account_out() {
    let (auth, clock, key) = jwt_setup(true).await;
    let auth = auth.with_throttle_config(
        ilp_auth::ThrottleConfig::default()
            .with_max_failures(2)
            .with_window(Duration::from_secs(10)),
    );
    let exp = unix_secs(&clock) + 60;
    let bad = jwt::mint(&key, &claims(Some("bob"), exp));
    for _ in 0..2 {
        let r = auth.authenticate(bearer(&bad, Some("alice")), ip(1)).await;
        assert!(matches!(r, Err(AuthError::Rejected)), "{r:?}");
    }
    for n in 10..20 {
        let r = auth.authenticate(bearer(&bad, Some("alice")), ip(n)).await;
        assert!(matches!(r, Err(AuthError::Rejected)), "{r:?}");
    }
    let good = jwt::mint(&key, &claims(Some("alice"), exp));
    let r = auth.authenticate(bearer(&good, Some("alice")), ip(2)).await;
    assert_eq!(r.unwrap(), Principal::account(id("alice")));
    // The failing source itself is throttled, even with the good token, until the window
    // closes.
    let r = auth.authenticate(bearer(&good, Some("alice")), ip(1)).await;
    assert!(matches!(r, Err(AuthError::Throttled { .. })), "{r:?}");
    clock.advance(Duration::from_secs(10));
    assert!(auth
        .authenticate(bearer(&good, Some("alice")), ip(1))
        .await
        .is_ok());
}
