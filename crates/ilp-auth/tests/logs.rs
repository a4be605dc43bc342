//! No token in the logs: `tracing` output captured at TRACE level while authenticating
//! successfully and not. Alone in its test binary: `tracing` caches per call site whether
//! anyone listens, and a test running in parallel without a subscriber would turn them off.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{id, ip, key, peer_id, start};
use ilp_auth::jwt::{self, Claims, JwtKey};
use ilp_auth::{
    AccountAuthenticator, CredentialSpec, MemoryStore, PeerAuthenticator, Throttle, ThrottleConfig,
    Token,
};
use ilp_core::{AuthError, Authenticator, Clock, Credentials, ManualClock, Scopes};

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn assert_free_of(text: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a secret appears in {what}:\n{text}"
        );
    }
}

#[tokio::test]
async fn tokens_never_reach_the_logs() {
    let logs = Buffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new());
    // One throttle for both: failures against either count for the source.
    let throttle = Arc::new(Throttle::new(
        ThrottleConfig::default().with_max_failures(3),
    ));
    let accounts = AccountAuthenticator::new(key(), store.clone())
        .with_clock(Arc::new(clock.clone()))
        .with_throttle(throttle.clone());
    let peers = PeerAuthenticator::new(key(), store)
        .with_clock(Arc::new(clock.clone()))
        .with_throttle(throttle);

    accounts.add_account(id("alice")).await.unwrap();
    let alice = accounts.mint_token(&id("alice"), None).await.unwrap();
    accounts
        .add_token(&id("alice"), "configured-secret-token", None)
        .await
        .unwrap();
    let jwt_key = JwtKey::new([3u8; 32]).unwrap();
    accounts
        .add_jwt_account(id("jay"), jwt_key.clone(), true)
        .await
        .unwrap();
    let exp = u64::try_from(clock.now().unix_millis() / 1000).unwrap() + 60;
    let good_jwt = jwt::mint(
        &jwt_key,
        &Claims {
            sub: Some("jay".into()),
            exp,
            iat: None,
        },
    );
    let bad_jwt = jwt::mint(
        &jwt_key,
        &Claims {
            sub: Some("eve".into()),
            exp,
            iat: None,
        },
    );

    peers
        .add_peer(peer_id("bob"), [id("bob-usd"), id("bob-eur")])
        .await
        .unwrap();
    let bob = peers
        .mint(&peer_id("bob"), CredentialSpec::new(Scopes::SEND))
        .await
        .unwrap();
    let manage = peers
        .mint(&peer_id("bob"), CredentialSpec::new(Scopes::MANAGE))
        .await
        .unwrap();
    let wrong = Token::generate().unwrap();

    let a = alice.token.expose();
    let b = bob.token.expose();
    let m = manage.token.expose();
    let w = wrong.expose();
    let attempts: Vec<(&dyn Authenticator, Credentials<'_>)> = vec![
        (
            &accounts,
            Credentials::Bearer {
                token: a,
                account: Some("alice"),
            },
        ),
        (
            &accounts,
            Credentials::UsernameToken {
                username: "alice",
                token: "configured-secret-token",
            },
        ),
        (
            &accounts,
            Credentials::Bearer {
                token: &good_jwt,
                account: Some("jay"),
            },
        ),
        (
            &accounts,
            Credentials::Bearer {
                token: &bad_jwt,
                account: Some("jay"),
            },
        ),
        (
            &accounts,
            Credentials::Bearer {
                token: w,
                account: Some("alice"),
            },
        ),
        (
            &accounts,
            Credentials::Bearer {
                token: w,
                account: None,
            },
        ),
        (
            &accounts,
            Credentials::UsernameToken {
                username: "nobody",
                token: w,
            },
        ),
        (
            &peers,
            Credentials::Bearer {
                token: b,
                account: Some("bob-usd"),
            },
        ),
        (
            &peers,
            Credentials::Bearer {
                token: b,
                account: None,
            },
        ),
        (
            &peers,
            Credentials::Bearer {
                token: b,
                account: Some("carol"),
            },
        ),
        (
            &peers,
            Credentials::Bearer {
                token: m,
                account: Some("bob-usd"),
            },
        ),
        (
            &peers,
            Credentials::Bearer {
                token: w,
                account: Some("bob-usd"),
            },
        ),
    ];
    for ((auth, credentials), n) in attempts.iter().zip(100..) {
        let _ = auth.authenticate(*credentials, ip(n)).await;
    }
    // Three failures from one source, then every attempt from it is throttled.
    for _ in 0..3 {
        let r = peers
            .authenticate(
                Credentials::Bearer {
                    token: w,
                    account: None,
                },
                ip(1),
            )
            .await;
        assert!(matches!(r, Err(AuthError::Rejected)));
    }
    for (auth, credentials) in &attempts {
        let result = auth.authenticate(*credentials, ip(1)).await;
        assert!(
            matches!(result, Err(AuthError::Throttled { .. })),
            "{result:?}"
        );
    }
    accounts.revoke(&id("alice"), &alice.id).await.unwrap();
    peers.revoke(&peer_id("bob"), &bob.id).await.unwrap();
    peers.remove_peer(&peer_id("bob")).await.unwrap();
    accounts.remove_account(&id("alice")).await.unwrap();
    clock.advance(Duration::from_secs(120));
    let _ = accounts
        .authenticate(
            Credentials::Bearer {
                token: a,
                account: Some("alice"),
            },
            ip(1),
        )
        .await;

    let text = logs.text();
    for expected in [
        "authentication accepted",
        "authentication rejected",
        "authentication throttled",
        "too many failed authentications",
        "authentication refused",
        "JWT refused",
        "credential added",
        "credential revoked",
    ] {
        assert!(
            text.contains(expected),
            "no {expected:?} in the logs:\n{text}"
        );
    }
    let key_text = key().expose_base64();
    assert_free_of(
        &text,
        &[
            a,
            b,
            m,
            w,
            "configured-secret-token",
            &good_jwt,
            &bad_jwt,
            &key_text,
        ],
        "the logs",
    );
    // Nor any long piece of them (a prefix, or the JWT's signature).
    for secret in [a, b, m, w, good_jwt.rsplit('.').next().unwrap()] {
        assert!(
            !text.contains(&secret[..16]),
            "part of a secret appears in the logs"
        );
    }
}
