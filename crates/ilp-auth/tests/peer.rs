//! The peer-based model: scopes, allowed accounts, rotation, revocation, expiry, management.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{id, key, peer_id, start};
use ilp_auth::{
    AccountAuthenticator, AccountScope, CredentialSpec, Error, Grant, MemoryStore,
    PeerAuthenticator, Store,
};
use ilp_core::{
    AuthError, Authenticator, Clock, Credentials, ManualClock, PeerId, Principal, Scopes,
};

fn bearer<'a>(token: &'a str, account: Option<&'a str>) -> Credentials<'a> {
    Credentials::Bearer { token, account }
}

/// Peer `bob` holds `bob-usd` and `bob-eur`; peer `carol` holds `carol-usd`.
async fn setup() -> (PeerAuthenticator, ManualClock, PeerId) {
    let clock = ManualClock::new(start());
    let auth = PeerAuthenticator::new(key(), Arc::new(MemoryStore::new()))
        .with_clock(Arc::new(clock.clone()));
    let bob = peer_id("bob");
    auth.add_peer(bob.clone(), [id("bob-usd"), id("bob-eur")])
        .await
        .unwrap();
    auth.add_peer(peer_id("carol"), [id("carol-usd")])
        .await
        .unwrap();
    (auth, clock, bob)
}

async fn auth_result(
    auth: &PeerAuthenticator,
    token: &str,
    account: Option<&str>,
) -> Result<Principal, AuthError> {
    auth.authenticate(bearer(token, account), None).await
}

#[tokio::test]
async fn send_and_manage_scopes() {
    let (auth, _, bob) = setup().await;
    let manage_auth = auth.requiring(Scopes::MANAGE);
    assert_eq!(auth.required_scopes(), Scopes::SEND);
    let send = auth
        .mint(&bob, CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    let manage = auth
        .mint(&bob, CredentialSpec::new(Scopes::MANAGE))
        .await
        .unwrap();
    let all = auth
        .mint(&bob, CredentialSpec::new(Scopes::ALL))
        .await
        .unwrap();
    let none = auth
        .mint(&bob, CredentialSpec::new(Scopes::NONE))
        .await
        .unwrap();
    let a = Some("bob-usd");

    // Transports (send required).
    let p = auth_result(&auth, send.token.expose(), a).await.unwrap();
    assert_eq!(p, Principal::peer(bob.clone(), id("bob-usd"), Scopes::SEND));
    let r = auth_result(&auth, manage.token.expose(), a).await;
    assert!(matches!(r, Err(AuthError::Forbidden)), "{r:?}");
    assert_eq!(r.unwrap_err().http_status(), 403);
    let p = auth_result(&auth, all.token.expose(), a).await.unwrap();
    assert_eq!(p.scopes, Scopes::ALL);
    let r = auth_result(&auth, none.token.expose(), a).await;
    assert!(matches!(r, Err(AuthError::Forbidden)));

    // Peering management (manage required).
    let r = auth_result(&manage_auth, send.token.expose(), a).await;
    assert!(matches!(r, Err(AuthError::Forbidden)));
    let p = auth_result(&manage_auth, manage.token.expose(), a)
        .await
        .unwrap();
    assert_eq!(
        p,
        Principal::peer(bob.clone(), id("bob-usd"), Scopes::MANAGE)
    );
    assert!(auth_result(&manage_auth, all.token.expose(), a)
        .await
        .is_ok());

    // Any credential.
    let any = auth.requiring(Scopes::NONE);
    let p = auth_result(&any, none.token.expose(), a).await.unwrap();
    assert_eq!(p.scopes, Scopes::NONE);
}

#[tokio::test]
async fn allowed_accounts() {
    let (auth, _, bob) = setup().await;
    let usd_only = auth
        .mint(
            &bob,
            CredentialSpec::new(Scopes::SEND).with_accounts([id("bob-usd")]),
        )
        .await
        .unwrap();
    let both = auth
        .mint(&bob, CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    let (u, b) = (usd_only.token.expose(), both.token.expose());

    assert_eq!(
        auth_result(&auth, u, Some("bob-usd"))
            .await
            .unwrap()
            .account,
        id("bob-usd")
    );
    // Exactly one allowed account and none named: that one.
    assert_eq!(
        auth_result(&auth, u, None).await.unwrap().account,
        id("bob-usd")
    );
    let btp = Credentials::UsernameToken {
        username: "",
        token: u,
    };
    assert_eq!(
        auth.authenticate(btp, None).await.unwrap().account,
        id("bob-usd")
    );
    // Not allowed: Forbidden.
    for named in ["bob-eur", "carol-usd", "nobody", "in valid"] {
        let r = auth_result(&auth, u, Some(named)).await;
        assert!(matches!(r, Err(AuthError::Forbidden)), "{named}: {r:?}");
    }
    // Several allowed and none named: AccountRequired.
    let r = auth_result(&auth, b, None).await;
    assert!(matches!(r, Err(AuthError::AccountRequired)), "{r:?}");
    assert_eq!(r.unwrap_err().http_status(), 401);
    for named in ["bob-usd", "bob-eur"] {
        let p = auth_result(&auth, b, Some(named)).await.unwrap();
        assert_eq!(p.account, id(named));
        assert_eq!(p.peer, Some(bob.clone()));
    }
    let r = auth_result(&auth, b, Some("carol-usd")).await;
    assert!(matches!(r, Err(AuthError::Forbidden)));
}

#[tokio::test]
async fn accounts_follow_the_peer() {
    let (auth, _, bob) = setup().await;
    let both = auth
        .mint(&bob, CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    let b = both.token.expose();
    assert!(auth
        .remove_peer_account(&bob, &id("bob-eur"))
        .await
        .unwrap());
    assert!(matches!(
        auth_result(&auth, b, Some("bob-eur")).await,
        Err(AuthError::Forbidden)
    ));
    // One account left: no need to name it.
    assert_eq!(
        auth_result(&auth, b, None).await.unwrap().account,
        id("bob-usd")
    );
    auth.add_peer_account(&bob, id("bob-gbp")).await.unwrap();
    assert!(auth_result(&auth, b, Some("bob-gbp")).await.is_ok());
    // A credential limited to an account the peer lost allows nothing.
    let usd = auth
        .mint(
            &bob,
            CredentialSpec::new(Scopes::SEND).with_accounts([id("bob-usd")]),
        )
        .await
        .unwrap();
    auth.remove_peer_account(&bob, &id("bob-usd"))
        .await
        .unwrap();
    assert!(matches!(
        auth_result(&auth, usd.token.expose(), None).await,
        Err(AuthError::Forbidden)
    ));
}

#[tokio::test]
async fn rotation_overlaps_then_the_old_credential_is_revoked() {
    let (auth, _, bob) = setup().await;
    let spec = CredentialSpec::new(Scopes::SEND).with_accounts([id("bob-usd")]);
    let old = auth.mint(&bob, spec.clone()).await.unwrap();
    // Mint the new one: both valid.
    let new = auth.mint(&bob, spec).await.unwrap();
    for t in [old.token.expose(), new.token.expose()] {
        assert!(auth_result(&auth, t, Some("bob-usd")).await.is_ok());
    }
    let ids: Vec<_> = auth
        .credentials(&bob)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&old.id) && ids.contains(&new.id));
    // Switch, then revoke the old one.
    assert!(auth.revoke(&bob, &old.id).await.unwrap());
    assert!(matches!(
        auth_result(&auth, old.token.expose(), Some("bob-usd")).await,
        Err(AuthError::Rejected)
    ));
    assert!(auth_result(&auth, new.token.expose(), Some("bob-usd"))
        .await
        .is_ok());
}

#[tokio::test]
async fn revocation_is_per_credential_and_per_owner() {
    let (auth, _, bob) = setup().await;
    let one = auth
        .mint(&bob, CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    let two = auth
        .mint(&bob, CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    // Carol cannot revoke Bob's credential.
    assert!(!auth.revoke(&peer_id("carol"), &one.id).await.unwrap());
    assert!(auth_result(&auth, one.token.expose(), Some("bob-usd"))
        .await
        .is_ok());
    assert!(auth.revoke(&bob, &one.id).await.unwrap());
    assert!(matches!(
        auth_result(&auth, one.token.expose(), Some("bob-usd")).await,
        Err(AuthError::Rejected)
    ));
    assert!(auth_result(&auth, two.token.expose(), Some("bob-usd"))
        .await
        .is_ok());
}

#[tokio::test]
async fn credentials_expire() {
    let (auth, clock, bob) = setup().await;
    let at = clock.now().checked_add(Duration::from_secs(600)).unwrap();
    let short = auth
        .mint(&bob, CredentialSpec::new(Scopes::SEND).with_expiry(at))
        .await
        .unwrap();
    let forever = auth
        .mint(&bob, CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    clock.advance(Duration::from_millis(599_999));
    assert!(auth_result(&auth, short.token.expose(), Some("bob-usd"))
        .await
        .is_ok());
    clock.advance(Duration::from_millis(1));
    assert!(matches!(
        auth_result(&auth, short.token.expose(), Some("bob-usd")).await,
        Err(AuthError::Rejected)
    ));
    assert!(auth_result(&auth, forever.token.expose(), Some("bob-usd"))
        .await
        .is_ok());
    let listed = auth.credentials(&bob).await.unwrap();
    let record = listed.iter().find(|c| c.id == short.id).unwrap();
    assert_eq!(record.expires_at, Some(at));
    assert!(!record.is_valid_at(clock.now()));
}

#[tokio::test]
async fn removing_a_peer_revokes_its_credentials() {
    let (auth, _, bob) = setup().await;
    let minted = auth
        .mint(&bob, CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    assert!(auth.remove_peer(&bob).await.unwrap());
    assert!(auth.peer(&bob).await.unwrap().is_none());
    assert!(auth.credentials(&bob).await.unwrap().is_empty());
    assert!(matches!(
        auth_result(&auth, minted.token.expose(), Some("bob-usd")).await,
        Err(AuthError::Rejected)
    ));
}

#[tokio::test]
async fn management_errors() {
    let (auth, _, bob) = setup().await;
    assert!(matches!(
        auth.add_peer(bob.clone(), []).await,
        Err(Error::PeerExists(_))
    ));
    let nobody = peer_id("nobody");
    assert!(matches!(
        auth.mint(&nobody, CredentialSpec::new(Scopes::SEND)).await,
        Err(Error::UnknownPeer(_))
    ));
    assert!(matches!(
        auth.add_peer_account(&nobody, id("x")).await,
        Err(Error::UnknownPeer(_))
    ));
    let r = auth
        .mint(
            &bob,
            CredentialSpec::new(Scopes::SEND).with_accounts([id("carol-usd")]),
        )
        .await;
    assert!(
        matches!(&r, Err(Error::NotPeerAccount { peer, account }) if *peer == bob && *account == id("carol-usd")),
        "{r:?}"
    );
    let configured = auth
        .add_credential(
            &bob,
            "agreed-at-handshake",
            CredentialSpec::new(Scopes::ALL),
        )
        .await
        .unwrap();
    assert!(auth_result(&auth, "agreed-at-handshake", Some("bob-eur"))
        .await
        .is_ok());
    assert!(matches!(
        auth.add_credential(
            &bob,
            "agreed-at-handshake",
            CredentialSpec::new(Scopes::ALL)
        )
        .await,
        Err(Error::DuplicateToken)
    ));
    let record = auth
        .credentials(&bob)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == configured)
        .unwrap();
    assert_eq!(
        record.grant,
        Grant::Peer {
            peer: bob,
            accounts: AccountScope::All,
            scopes: Scopes::ALL
        }
    );
}

#[tokio::test]
async fn the_two_models_do_not_accept_each_others_credentials() {
    let clock = ManualClock::new(start());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let peers = PeerAuthenticator::new(key(), store.clone()).with_clock(Arc::new(clock.clone()));
    let accounts = AccountAuthenticator::new(key(), store).with_clock(Arc::new(clock));
    peers
        .add_peer(peer_id("bob"), [id("bob-usd")])
        .await
        .unwrap();
    accounts.add_account(id("alice")).await.unwrap();
    let peer_token = peers
        .mint(&peer_id("bob"), CredentialSpec::new(Scopes::ALL))
        .await
        .unwrap();
    let account_token = accounts.mint_token(&id("alice"), None).await.unwrap();
    let r = accounts
        .authenticate(bearer(peer_token.token.expose(), None), None)
        .await;
    assert!(matches!(r, Err(AuthError::Rejected)));
    let r = peers
        .authenticate(bearer(account_token.token.expose(), None), None)
        .await;
    assert!(matches!(r, Err(AuthError::Rejected)));
}
