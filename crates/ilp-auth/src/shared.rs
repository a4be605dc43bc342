//! What both authenticators share: the key, the store, the clock, the throttle; the token
//! lookup, the throttled-and-logged frame around a verification, and credential management.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ilp_core::{AccountId, AuthError, Clock, Credentials, Principal, SystemClock};
use ilp_packet::Timestamp;
use subtle::{Choice, ConstantTimeEq};

use crate::{
    CredentialId, CredentialRecord, Error, Grant, NodeKey, Owner, Store, Throttle, Token, TokenMac,
};

/// A freshly minted credential: its id, and its token, which exists only here. Hand the token
/// to the operator or peer ([`Token::expose`]); the node keeps only its MAC. `Debug` redacts
/// the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Minted {
    /// The credential's id, to list and revoke it by.
    pub id: CredentialId,
    /// The token. Shown once.
    pub token: Token,
}

/// Compared against when no credential was found, so that the same comparisons run.
const NO_MAC: TokenMac = TokenMac::from_bytes([0; 32]);

/// How an authenticator waits: a function from a duration to a future that completes after
/// it (`tokio::time::sleep` in a tokio program).
pub(crate) type SleepFn =
    Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Boxes a `sleep` function given to `with_sleep`.
pub(crate) fn sleep_fn<F, Fut>(sleep: F) -> SleepFn
where
    F: Fn(Duration) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |delay| Box::pin(sleep(delay)))
}

#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) key: NodeKey,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) throttle: Arc<Throttle>,
    /// Holds failures back (`ThrottleConfig::account_delay`); none: answered at once.
    pub(crate) sleep: Option<SleepFn>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("key", &self.key)
            .field("throttle", self.throttle.config())
            .field("sleep", &self.sleep.is_some())
            .finish_non_exhaustive()
    }
}

/// The account the credentials name; an empty name (ilp-plugin-btp's default username) names
/// none.
pub(crate) fn named_account<'a>(credentials: &Credentials<'a>) -> Option<&'a str> {
    credentials.account().filter(|name| !name.is_empty())
}

/// The result of looking a token up: the record found (if any) and whether its MAC matched,
/// compared in constant time.
pub(crate) struct Lookup {
    pub(crate) record: Option<CredentialRecord>,
    pub(crate) mac_ok: Choice,
}

impl Shared {
    pub(crate) fn new(key: NodeKey, store: Arc<dyn Store>) -> Self {
        Self {
            key,
            store,
            clock: Arc::new(SystemClock),
            throttle: Arc::new(Throttle::default()),
            sleep: None,
        }
    }

    /// MAC of the token, lookup by MAC, constant-time comparison with the stored MAC: the same
    /// work whether or not a credential is found.
    pub(crate) async fn lookup(&self, token: &str) -> Result<Lookup, AuthError> {
        let mac = self.key.mac(token);
        let record = self
            .store
            .credential(&mac)
            .await
            .map_err(AuthError::Backend)?;
        let stored = record.as_ref().map_or(NO_MAC, |r| r.mac);
        let mac_ok = stored.ct_eq(&mac) & Choice::from(u8::from(record.is_some()));
        Ok(Lookup { record, mac_ok })
    }

    /// Starts an attempt: `Err(Throttled)` when the source is throttled (the secret must then
    /// not be checked). The named account plays no part: its failures never refuse anyone.
    pub(crate) fn begin<'a>(
        &self,
        model: &'static str,
        credentials: &Credentials<'a>,
        source: Option<IpAddr>,
    ) -> Result<Attempt<'a>, AuthError> {
        let named = named_account(credentials);
        let attempt = Attempt {
            model,
            named,
            named_id: named.and_then(|n| n.parse::<AccountId>().ok()),
            source,
            now: self.clock.now(),
        };
        if let Err(retry_after) = self.throttle.check(attempt.now, source) {
            tracing::debug!(
                model,
                account = ?attempt.shown(),
                source = ?source,
                ?retry_after,
                "authentication throttled; secret not checked"
            );
            return Err(AuthError::Throttled { retry_after });
        }
        Ok(attempt)
    }

    /// Ends an attempt: logs the outcome (without secrets) and, on rejection, counts it
    /// against the source and the named account, and holds the answer back when the account
    /// is beyond its limit.
    pub(crate) async fn finish(
        &self,
        attempt: &Attempt<'_>,
        result: Result<Principal, AuthError>,
    ) -> Result<Principal, AuthError> {
        let Attempt { model, source, .. } = *attempt;
        let shown = attempt.shown();
        match &result {
            Ok(principal) => tracing::debug!(
                model,
                account = %principal.account,
                peer = ?principal.peer.as_ref().map(ilp_core::PeerId::as_str),
                scopes = ?principal.scopes,
                source = ?source,
                "authentication accepted"
            ),
            Err(AuthError::Rejected) => {
                let failure =
                    self.throttle
                        .record_failure(attempt.now, source, attempt.named_id.as_ref());
                tracing::info!(model, account = ?shown, source = ?source, "authentication rejected");
                if failure.source_throttled {
                    tracing::info!(
                        model,
                        account = ?shown,
                        source = ?source,
                        window = ?self.throttle.config().window,
                        "too many failed authentications; throttling"
                    );
                }
                if let (Some(delay), Some(sleep)) = (failure.delay, &self.sleep) {
                    tracing::debug!(
                        model,
                        account = ?shown,
                        ?delay,
                        "too many failed authentications for the account; answer held back"
                    );
                    sleep(delay).await;
                }
            }
            Err(AuthError::Backend(error)) => tracing::warn!(
                model,
                account = ?shown,
                source = ?source,
                %error,
                "authentication failed: credential store error"
            ),
            Err(error) => tracing::info!(
                model,
                account = ?shown,
                source = ?source,
                %error,
                "authentication refused"
            ),
        }
        result
    }

    /// Stores a credential for `token` (which must be new and not empty).
    pub(crate) async fn insert_credential(
        &self,
        token: &str,
        grant: Grant,
        expires_at: Option<Timestamp>,
    ) -> Result<CredentialId, Error> {
        if token.is_empty() {
            return Err(Error::EmptyToken);
        }
        let mac = self.key.mac(token);
        if self
            .store
            .credential(&mac)
            .await
            .map_err(Error::Store)?
            .is_some()
        {
            return Err(Error::DuplicateToken);
        }
        let id = CredentialId::generate()?;
        let owner = grant.owner();
        let record = CredentialRecord::new(id.clone(), mac, grant, self.clock.now(), expires_at);
        self.store
            .put_credential(record)
            .await
            .map_err(Error::Store)?;
        tracing::info!(credential = %id, ?owner, ?expires_at, "credential added");
        Ok(id)
    }

    /// Mints a token and stores its credential.
    pub(crate) async fn mint(
        &self,
        grant: Grant,
        expires_at: Option<Timestamp>,
    ) -> Result<Minted, Error> {
        let token = Token::generate()?;
        let id = self
            .insert_credential(token.expose(), grant, expires_at)
            .await?;
        Ok(Minted { id, token })
    }

    /// Revokes credential `id` if `owner` owns it.
    pub(crate) async fn revoke(&self, owner: &Owner, id: &CredentialId) -> Result<bool, Error> {
        let owned = self
            .store
            .credentials_of(owner)
            .await
            .map_err(Error::Store)?
            .iter()
            .any(|c| c.id == *id);
        if !owned {
            return Ok(false);
        }
        let removed = self
            .store
            .remove_credential(id)
            .await
            .map_err(Error::Store)?;
        if removed {
            tracing::info!(credential = %id, ?owner, "credential revoked");
        }
        Ok(removed)
    }

    /// Revokes every credential of `owner`; how many.
    pub(crate) async fn revoke_all(&self, owner: &Owner) -> Result<usize, Error> {
        let credentials = self
            .store
            .credentials_of(owner)
            .await
            .map_err(Error::Store)?;
        let mut removed = 0;
        for credential in credentials {
            if self
                .store
                .remove_credential(&credential.id)
                .await
                .map_err(Error::Store)?
            {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(?owner, count = removed, "credentials revoked");
        }
        Ok(removed)
    }

    pub(crate) async fn credentials(&self, owner: &Owner) -> Result<Vec<CredentialRecord>, Error> {
        self.store.credentials_of(owner).await.map_err(Error::Store)
    }
}

/// One authentication attempt in progress.
#[derive(Debug)]
pub(crate) struct Attempt<'a> {
    pub(crate) model: &'static str,
    /// The account named by the request, as given (empty names none).
    pub(crate) named: Option<&'a str>,
    /// The same, if it is a valid account name.
    pub(crate) named_id: Option<AccountId>,
    pub(crate) source: Option<IpAddr>,
    pub(crate) now: Timestamp,
}

impl Attempt<'_> {
    /// The named account as logged: only a valid account name, never arbitrary input.
    fn shown(&self) -> Option<&str> {
        self.named_id.as_ref().map(AccountId::as_str)
    }
}
