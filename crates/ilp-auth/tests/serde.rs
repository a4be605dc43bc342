//! The in-memory store's state serializes (MACs, never tokens) and restores into a store the
//! authenticators accept the same tokens from.
#![cfg(feature = "serde")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{id, key, peer_id, start};
use ilp_auth::jwt::JwtKey;
use ilp_auth::{AccountAuthenticator, CredentialSpec, MemoryStore, PeerAuthenticator, StoreState};
use ilp_core::{Authenticator, Clock, Credentials, ManualClock, Principal, Scopes};

#[tokio::test]
async fn store_state_roundtrips_without_tokens() {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new());
    let accounts =
        AccountAuthenticator::new(key(), store.clone()).with_clock(Arc::new(clock.clone()));
    let peers = PeerAuthenticator::new(key(), store.clone()).with_clock(Arc::new(clock.clone()));

    accounts.add_account(id("alice")).await.unwrap();
    let alice = accounts.mint_token(&id("alice"), None).await.unwrap();
    accounts
        .add_token(&id("alice"), "configured-token-value", None)
        .await
        .unwrap();
    accounts
        .add_jwt_account(id("jay"), JwtKey::new([5u8; 32]).unwrap(), false)
        .await
        .unwrap();
    peers
        .add_peer(peer_id("bob"), [id("bob-usd"), id("bob-eur")])
        .await
        .unwrap();
    let expiry = clock.now().checked_add(Duration::from_secs(3600)).unwrap();
    let bob = peers
        .mint(
            &peer_id("bob"),
            CredentialSpec::new(Scopes::ALL)
                .with_accounts([id("bob-eur")])
                .with_expiry(expiry),
        )
        .await
        .unwrap();

    let state = store.state();
    assert_eq!(state.accounts.len(), 2);
    assert_eq!(state.peers.len(), 1);
    assert_eq!(state.credentials.len(), 3);
    let json = serde_json::to_string_pretty(&state).unwrap();
    for secret in [
        alice.token.expose(),
        bob.token.expose(),
        "configured-token-value",
    ] {
        assert!(!json.contains(secret), "a token is in the serialized state");
    }
    assert!(
        !json.contains(key().expose_base64().as_str()),
        "the node key is not part of the state"
    );
    let mac = key().mac(alice.token.expose()).to_string();
    assert!(json.contains(&mac), "credentials are kept by MAC");

    // Restore into a fresh store and authenticate against it.
    let restored: StoreState = serde_json::from_str(&json).unwrap();
    let store = Arc::new(MemoryStore::from_state(restored));
    assert_eq!(
        serde_json::to_string_pretty(&store.state()).unwrap(),
        json,
        "serializing again gives the same text"
    );
    let accounts =
        AccountAuthenticator::new(key(), store.clone()).with_clock(Arc::new(clock.clone()));
    let peers = PeerAuthenticator::new(key(), store).with_clock(Arc::new(clock.clone()));
    let ok = accounts
        .authenticate(
            Credentials::Bearer {
                token: alice.token.expose(),
                account: Some("alice"),
            },
            None,
        )
        .await;
    assert_eq!(ok.unwrap(), Principal::account(id("alice")));
    let ok = accounts
        .authenticate(
            Credentials::UsernameToken {
                username: "alice",
                token: "configured-token-value",
            },
            None,
        )
        .await;
    assert!(ok.is_ok());
    let p = peers
        .authenticate(
            Credentials::Bearer {
                token: bob.token.expose(),
                account: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        p,
        Principal::peer(peer_id("bob"), id("bob-eur"), Scopes::ALL)
    );
    // Expiry survived the round trip.
    clock.advance(Duration::from_secs(3600));
    let expired = peers
        .authenticate(
            Credentials::Bearer {
                token: bob.token.expose(),
                account: None,
            },
            None,
        )
        .await;
    assert!(expired.is_err());
    // The JWT account is back with its key.
    let jay = store_has_jwt(&accounts).await;
    assert!(jay);

    // A state restored under another node key accepts nothing.
    let other = AccountAuthenticator::new(
        ilp_auth::NodeKey::generate().unwrap(),
        Arc::new(MemoryStore::from_state(
            serde_json::from_str(&json).unwrap(),
        )),
    );
    let r = other
        .authenticate(
            Credentials::Bearer {
                token: alice.token.expose(),
                account: Some("alice"),
            },
            None,
        )
        .await;
    assert!(r.is_err());
}

async fn store_has_jwt(auth: &AccountAuthenticator) -> bool {
    matches!(
        auth.store().account(&id("jay")).await.unwrap(),
        Some(record) if matches!(record.auth, ilp_auth::AccountAuth::Jwt { require_subject: false, .. })
    )
}
