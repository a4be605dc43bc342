//! The account-based model: one credential authenticates exactly one account.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ilp_core::{AccountId, AuthError, Authenticator, Clock, Credentials, Principal};
use ilp_packet::Timestamp;
use subtle::Choice;

use crate::jwt::{self, JwtConfig, JwtKey};
use crate::secret::names_eq;
use crate::shared::{Attempt, Shared};
use crate::{
    AccountAuth, AccountRecord, CredentialId, CredentialRecord, Error, Grant, Minted, NodeKey,
    Owner, Store, Throttle, ThrottleConfig,
};

/// Authenticates accounts, each with its own credentials (the model of interledger-rs,
/// Rafiki and interledger4j): a bearer token with the account named by the URL path
/// (`Credentials::Bearer { account: Some(..) }`), or BTP's username and token.
///
/// - **Tokens** ([`AccountAuth::Token`]) are stored only as their HMAC-SHA256 under the
///   [`NodeKey`], indexed by it: the lookup is O(1) and the plain token is kept nowhere. An
///   account may hold several tokens at once (mint the new one, switch, revoke the old).
///   A bearer token with no account named (or an empty BTP username) authenticates the
///   token's own account, Rafiki style.
/// - **JWT HS256** ([`AccountAuth::Jwt`]): the bearer token is a JWT verified with the
///   account's key by [`jwt::verify`], subject = the account name. Such an account must be
///   named by the request (path or username).
///
/// An unknown account and a wrong token fail the same way ([`AuthError::Rejected`]) after the
/// same work: the MAC, the lookup by MAC and the constant-time comparisons (of the MAC and of
/// the account name) all run either way. The account record is read only for a token shaped
/// like a JWT (`a.b.c`), to find the account's JWT key. Failed attempts are throttled per
/// source address; failures naming one account only slow that account's further failures
/// down, and never refuse its correct secret ([`Throttle`], [`with_sleep`](Self::with_sleep)). The principal's scopes are [`Scopes::SEND`](ilp_core::Scopes).
///
/// Cheap to clone; clones share the store and the throttle.
#[derive(Clone)]
pub struct AccountAuthenticator {
    shared: Shared,
    jwt: JwtConfig,
}

impl AccountAuthenticator {
    /// An authenticator over `store`, with MAC key `key`, the system clock, the default
    /// [`ThrottleConfig`] and the default [`JwtConfig`].
    #[must_use]
    pub fn new(key: NodeKey, store: Arc<dyn Store>) -> Self {
        Self {
            shared: Shared::new(key, store),
            jwt: JwtConfig::default(),
        }
    }

    /// Uses `clock` for throttling windows, credential expiry and JWT times.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.shared.clock = clock;
        self
    }

    /// Uses a throttle of its own with `config`.
    #[must_use]
    pub fn with_throttle_config(self, config: ThrottleConfig) -> Self {
        self.with_throttle(Arc::new(Throttle::new(config)))
    }

    /// Uses `throttle`, which may be shared with other authenticators.
    #[must_use]
    pub fn with_throttle(mut self, throttle: Arc<Throttle>) -> Self {
        self.shared.throttle = throttle;
        self
    }

    /// Waits through `sleep` to hold back the answer to a failure for an account beyond its
    /// limit ([`ThrottleConfig::account_delay`]): pass `tokio::time::sleep` in a tokio
    /// program. Without it (the default, as this crate depends on no runtime) such failures
    /// are answered at once. Successes are never held back.
    #[must_use]
    pub fn with_sleep<F, Fut>(mut self, sleep: F) -> Self
    where
        F: Fn(Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shared.sleep = Some(crate::shared::sleep_fn(sleep));
        self
    }

    /// How JWTs are verified (leeway). Each JWT account sets `require_subject` itself.
    #[must_use]
    pub const fn with_jwt_config(mut self, config: JwtConfig) -> Self {
        self.jwt = config;
        self
    }

    /// The throttle.
    #[must_use]
    pub fn throttle(&self) -> &Arc<Throttle> {
        &self.shared.throttle
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Adds an account that authenticates with tokens ([`AccountAuthenticator::mint_token`]).
    pub async fn add_account(&self, account: AccountId) -> Result<(), Error> {
        self.put_new(AccountRecord::new(account, AccountAuth::Token))
            .await
    }

    /// Adds an account that authenticates with JWT HS256 bearer tokens signed with `key`.
    /// `require_subject = false` also accepts tokens without `sub` (ilp-plugin-http's).
    pub async fn add_jwt_account(
        &self,
        account: AccountId,
        key: JwtKey,
        require_subject: bool,
    ) -> Result<(), Error> {
        let auth = AccountAuth::Jwt {
            key,
            require_subject,
        };
        self.put_new(AccountRecord::new(account, auth)).await
    }

    async fn put_new(&self, record: AccountRecord) -> Result<(), Error> {
        let store = &self.shared.store;
        if store
            .account(&record.id)
            .await
            .map_err(Error::Store)?
            .is_some()
        {
            return Err(Error::AccountExists(record.id));
        }
        let (id, jwt) = (
            record.id.clone(),
            matches!(record.auth, AccountAuth::Jwt { .. }),
        );
        store.put_account(record).await.map_err(Error::Store)?;
        tracing::info!(account = %id, jwt, "account added");
        Ok(())
    }

    /// Removes an account and revokes its tokens; whether it existed.
    pub async fn remove_account(&self, account: &AccountId) -> Result<bool, Error> {
        self.shared
            .revoke_all(&Owner::Account(account.clone()))
            .await?;
        let removed = self
            .shared
            .store
            .remove_account(account)
            .await
            .map_err(Error::Store)?;
        if removed {
            tracing::info!(account = %account, "account removed");
        }
        Ok(removed)
    }

    /// Mints a new token for a token account, valid until `expires_at` (or until revoked).
    /// The account's other tokens stay valid, so a rotation overlaps: mint, switch the
    /// client, then [`revoke`](Self::revoke) the old one.
    pub async fn mint_token(
        &self,
        account: &AccountId,
        expires_at: Option<Timestamp>,
    ) -> Result<Minted, Error> {
        self.token_account(account).await?;
        self.shared
            .mint(Grant::Account(account.clone()), expires_at)
            .await
    }

    /// Stores a token chosen elsewhere (configuration files, interop with a peer that set
    /// it) for a token account. Prefer [`mint_token`](Self::mint_token): a chosen token may
    /// be weak.
    pub async fn add_token(
        &self,
        account: &AccountId,
        token: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<CredentialId, Error> {
        self.token_account(account).await?;
        self.shared
            .insert_credential(token, Grant::Account(account.clone()), expires_at)
            .await
    }

    async fn token_account(&self, account: &AccountId) -> Result<(), Error> {
        match self
            .shared
            .store
            .account(account)
            .await
            .map_err(Error::Store)?
        {
            None => Err(Error::UnknownAccount(account.clone())),
            Some(AccountRecord {
                auth: AccountAuth::Jwt { .. },
                ..
            }) => Err(Error::JwtAccount(account.clone())),
            Some(_) => Ok(()),
        }
    }

    /// Revokes the account's credential `id`; whether it held it.
    pub async fn revoke(&self, account: &AccountId, id: &CredentialId) -> Result<bool, Error> {
        self.shared
            .revoke(&Owner::Account(account.clone()), id)
            .await
    }

    /// The account's credentials (MACs, ids, expiry; never tokens), oldest first.
    pub async fn credentials(&self, account: &AccountId) -> Result<Vec<CredentialRecord>, Error> {
        self.shared
            .credentials(&Owner::Account(account.clone()))
            .await
    }

    async fn verify(&self, attempt: &Attempt<'_>, token: &str) -> Result<Principal, AuthError> {
        // Only a token shaped like a JWT can be one; minted tokens never contain a dot. So
        // the account record (a store hit or a miss, which a store may answer in different
        // times) is read only for such tokens, and an opaque wrong token takes exactly the same
        // steps whether or not the named account exists.
        let account = match &attempt.named_id {
            Some(id) if looks_like_jwt(token) => self
                .shared
                .store
                .account(id)
                .await
                .map_err(AuthError::Backend)?,
            _ => None,
        };
        if let Some(AccountRecord {
            id,
            auth:
                AccountAuth::Jwt {
                    key,
                    require_subject,
                },
        }) = &account
        {
            let config = self.jwt.with_require_subject(*require_subject);
            return match jwt::verify(token, key, id.as_str(), attempt.now, &config) {
                Ok(_) => Ok(Principal::account(id.clone())),
                Err(reason) => {
                    tracing::debug!(account = %id, %reason, "JWT refused");
                    Err(AuthError::Rejected)
                }
            };
        }

        // A token account, or no such account: the same steps either way.
        let lookup = self.shared.lookup(token).await?;
        let (owner, valid) = match &lookup.record {
            Some(record) => match &record.grant {
                Grant::Account(owner) => (Some(owner), record.is_valid_at(attempt.now)),
                _ => (None, false),
            },
            None => (None, false),
        };
        let owner_name = owner.map_or("", AccountId::as_str);
        let name_ok = attempt
            .named
            .map_or(Choice::from(1), |named| names_eq(named, owner_name));
        let ok = lookup.mac_ok & name_ok & Choice::from(u8::from(valid));
        match (owner, &lookup.record) {
            (Some(owner), Some(record)) if bool::from(ok) => {
                tracing::trace!(credential = %record.id, "token accepted");
                Ok(Principal::account(owner.clone()))
            }
            _ => Err(AuthError::Rejected),
        }
    }
}

/// Three segments separated by dots, as every JWS in compact form has.
fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

#[async_trait]
impl Authenticator for AccountAuthenticator {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        source: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        let attempt = self.shared.begin("account", &credentials, source)?;
        let result = self.verify(&attempt, credentials.secret()).await;
        self.shared.finish(&attempt, result).await
    }
}

impl fmt::Debug for AccountAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountAuthenticator")
            .field("key", &self.shared.key)
            .field("throttle", self.shared.throttle.config())
            .field("jwt", &self.jwt)
            .finish_non_exhaustive()
    }
}
