//! No secret in `Debug`, `Display` or error text. (Logs: `tests/logs.rs`.)

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{id, key, peer_id};
use ilp_auth::jwt::JwtKey;
use ilp_auth::{
    AccountAuth, AccountAuthenticator, AccountRecord, CredentialSpec, Error, MemoryStore, NodeKey,
    PeerAuthenticator,
};
use ilp_core::{AuthError, Authenticator, Credentials, Scopes};

fn assert_free_of(text: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a secret appears in {what}:\n{text}"
        );
    }
}

#[tokio::test]
async fn debug_display_and_errors_hold_no_secret() {
    let store = Arc::new(MemoryStore::new());
    let node_key = NodeKey::generate().unwrap();
    let node_key_text = node_key.expose_base64();
    let accounts = AccountAuthenticator::new(node_key.clone(), store.clone());
    let peers = PeerAuthenticator::new(node_key.clone(), store.clone());
    accounts.add_account(id("alice")).await.unwrap();
    let minted = accounts.mint_token(&id("alice"), None).await.unwrap();
    let token = minted.token.expose().to_owned();
    peers
        .add_peer(peer_id("bob"), [id("bob-usd")])
        .await
        .unwrap();
    let peer_minted = peers
        .mint(&peer_id("bob"), CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    let jwt_key = JwtKey::new([0x5a; 32]).unwrap();
    let jwt_key_b64 = "WlpaWlpaWlpa";
    accounts
        .add_jwt_account(id("jay"), jwt_key.clone(), true)
        .await
        .unwrap();
    let jay = accounts.store().account(&id("jay")).await.unwrap().unwrap();

    let credentials = Credentials::Bearer {
        token: &token,
        account: Some("alice"),
    };
    let btp = Credentials::UsernameToken {
        username: "alice",
        token: &token,
    };
    let texts = [
        format!("{:?}", minted.token),
        format!("{minted:?}"),
        format!("{:#?}", peer_minted),
        format!("{node_key:?}"),
        format!("{accounts:?}"),
        format!("{peers:?}"),
        format!("{credentials:?}"),
        format!("{btp:?}"),
        format!("{store:?}"),
        format!("{:?}", store.state()),
        format!("{:?}", accounts.credentials(&id("alice")).await.unwrap()),
        format!("{jay:?}"),
        format!(
            "{:?}",
            AccountRecord::new(
                id("k"),
                AccountAuth::Jwt {
                    key: jwt_key,
                    require_subject: true
                }
            )
        ),
        format!("{:?}", key().mac(&token)),
        format!("{}", key().mac(&token)),
        format!("{}", minted.id),
    ];
    for text in &texts {
        assert_free_of(
            text,
            &[
                &token,
                peer_minted.token.expose(),
                &node_key_text,
                jwt_key_b64,
            ],
            "Debug or Display",
        );
    }
    assert_eq!(texts[0], "Token(<redacted>)");
    assert_eq!(texts[3], "NodeKey(<redacted>)");

    // Errors, whatever the input.
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(
            accounts
                .add_token(&id("alice"), &token, None)
                .await
                .unwrap_err(),
        ),
        Box::new(
            accounts
                .add_token(&id("nobody"), &token, None)
                .await
                .unwrap_err(),
        ),
        Box::new(
            accounts
                .add_token(&id("jay"), &token, None)
                .await
                .unwrap_err(),
        ),
        Box::new(NodeKey::from_base64(&token[..20]).unwrap_err()),
        Box::new(
            format!("{token}!")
                .parse::<ilp_auth::TokenMac>()
                .unwrap_err(),
        ),
        Box::new(Error::EmptyToken),
        Box::new(AuthError::Rejected),
        Box::new(AuthError::Forbidden),
        Box::new(AuthError::AccountRequired),
        Box::new(AuthError::Throttled {
            retry_after: Duration::from_secs(3),
        }),
    ];
    for error in &errors {
        for text in [error.to_string(), format!("{error:?}")] {
            assert_free_of(&text, &[&token, &node_key_text], "an error");
        }
    }
    for result in [
        accounts.authenticate(credentials, None).await,
        accounts
            .authenticate(
                Credentials::Bearer {
                    token: &token,
                    account: Some("bob"),
                },
                None,
            )
            .await,
        peers.authenticate(credentials, None).await,
    ] {
        let text = format!("{result:?}");
        assert_free_of(&text, &[&token], "an authentication result");
    }
}

/// Every type holding a secret zeroes it when dropped (`zeroize::ZeroizeOnDrop`); the HMAC
/// state is the crate's own, tested against the `hmac` crate in its unit tests.
#[test]
fn secret_holders_zero_themselves_on_drop() {
    fn zeroed_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroed_on_drop::<NodeKey>();
    zeroed_on_drop::<ilp_auth::Token>();
    zeroed_on_drop::<JwtKey>();
    zeroed_on_drop::<ilp_auth::jwt::JwtMinter>();
    zeroed_on_drop::<zeroize::Zeroizing<String>>();
    let saved: zeroize::Zeroizing<String> = NodeKey::generate().unwrap().expose_base64();
    assert!(NodeKey::from_base64(&saved).is_ok());
}
