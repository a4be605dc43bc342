//! The peer-based model: a peer holds several accounts and several credentials, each with its
//! own scopes and expiry.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ilp_core::{
    AccountId, AuthError, Authenticator, Clock, Credentials, PeerId, Principal, Scopes,
};
use ilp_packet::Timestamp;
use subtle::Choice;

use crate::shared::{Attempt, Shared};
use crate::{
    AccountScope, CredentialId, CredentialRecord, Error, Grant, Minted, NodeKey, Owner, PeerRecord,
    Store, Throttle, ThrottleConfig,
};

/// What a new peer credential allows: which of the peer's accounts, which actions, until
/// when.
///
/// ```
/// use ilp_auth::{AccountScope, CredentialSpec};
/// use ilp_core::Scopes;
///
/// let spec = CredentialSpec::new(Scopes::SEND).with_accounts(["usd".parse()?]);
/// assert!(matches!(spec.accounts, AccountScope::Only(_)));
/// # Ok::<(), ilp_core::NameError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialSpec {
    /// The accounts it may act on. Default: all the peer's.
    pub accounts: AccountScope,
    /// What it may do.
    pub scopes: Scopes,
    /// When it stops being accepted. Default: never (until revoked).
    pub expires_at: Option<Timestamp>,
}

impl CredentialSpec {
    /// A credential with `scopes` for every account of the peer, with no expiry.
    #[must_use]
    pub const fn new(scopes: Scopes) -> Self {
        Self {
            accounts: AccountScope::All,
            scopes,
            expires_at: None,
        }
    }

    /// Limits it to `accounts`.
    #[must_use]
    pub fn with_accounts(mut self, accounts: impl IntoIterator<Item = AccountId>) -> Self {
        self.accounts = AccountScope::Only(accounts.into_iter().collect());
        self
    }

    /// Makes it expire at `at`.
    #[must_use]
    pub const fn with_expiry(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }
}

/// Authenticates peers: another node (operator) holding several accounts here (for example
/// one per asset) and several credentials, each with [`Scopes`] (send packets, manage the
/// peering), an [`AccountScope`] and an optional expiry. Several credentials may be valid at
/// once, so a rotation overlaps: mint the new one, switch, revoke the old.
///
/// The account a request acts on is the one it names (URL path, `ilp-peer-id` header, BTP
/// username), and must be in the credential's scope and held by the peer, else
/// [`AuthError::Forbidden`]. A request naming none acts on the credential's only account, or
/// gets [`AuthError::AccountRequired`] when it allows several.
///
/// Each authenticator requires scopes of the credentials it accepts (default
/// [`Scopes::SEND`], for transports); a credential without them gets
/// [`AuthError::Forbidden`]. An endpoint that manages the peering uses
/// [`PeerAuthenticator::requiring`]`(Scopes::MANAGE)`, a clone that shares store and
/// throttle.
///
/// Tokens are stored as their HMAC-SHA256 under the [`NodeKey`]; an unknown or wrong token
/// gets [`AuthError::Rejected`] after the same work, whatever account the request names.
/// Failed attempts are throttled per source address; failures naming one account only slow
/// that account's further failures down, and never refuse its correct secret ([`Throttle`],
/// [`with_sleep`](Self::with_sleep)).
#[derive(Clone)]
pub struct PeerAuthenticator {
    shared: Shared,
    required: Scopes,
}

impl PeerAuthenticator {
    /// An authenticator over `store`, with MAC key `key`, the system clock, the default
    /// [`ThrottleConfig`], requiring [`Scopes::SEND`].
    #[must_use]
    pub fn new(key: NodeKey, store: Arc<dyn Store>) -> Self {
        Self {
            shared: Shared::new(key, store),
            required: Scopes::SEND,
        }
    }

    /// Uses `clock` for throttling windows and credential expiry.
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

    /// A clone (same store, key, clock and throttle) that accepts only credentials with
    /// `scopes` ([`Scopes::NONE`]: any credential).
    #[must_use]
    pub fn requiring(&self, scopes: Scopes) -> Self {
        Self {
            shared: self.shared.clone(),
            required: scopes,
        }
    }

    /// The scopes a credential needs here.
    #[must_use]
    pub const fn required_scopes(&self) -> Scopes {
        self.required
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

    /// Adds a peer holding `accounts`.
    pub async fn add_peer(
        &self,
        peer: PeerId,
        accounts: impl IntoIterator<Item = AccountId> + Send,
    ) -> Result<(), Error> {
        let accounts: BTreeSet<AccountId> = accounts.into_iter().collect();
        if self.peer(&peer).await?.is_some() {
            return Err(Error::PeerExists(peer));
        }
        tracing::info!(peer = %peer, accounts = accounts.len(), "peer added");
        self.put_peer(PeerRecord::new(peer, accounts)).await
    }

    /// Gives the peer one more account.
    pub async fn add_peer_account(&self, peer: &PeerId, account: AccountId) -> Result<(), Error> {
        let mut record = self.known_peer(peer).await?;
        tracing::info!(peer = %peer, account = %account, "account added to peer");
        record.accounts.insert(account);
        self.put_peer(record).await
    }

    /// Takes an account from the peer (its credentials no longer act on it); whether it held
    /// it.
    pub async fn remove_peer_account(
        &self,
        peer: &PeerId,
        account: &AccountId,
    ) -> Result<bool, Error> {
        let mut record = self.known_peer(peer).await?;
        if !record.accounts.remove(account) {
            return Ok(false);
        }
        tracing::info!(peer = %peer, account = %account, "account removed from peer");
        self.put_peer(record).await?;
        Ok(true)
    }

    /// Removes a peer and revokes all its credentials; whether it existed.
    pub async fn remove_peer(&self, peer: &PeerId) -> Result<bool, Error> {
        self.shared.revoke_all(&Owner::Peer(peer.clone())).await?;
        let removed = self
            .shared
            .store
            .remove_peer(peer)
            .await
            .map_err(Error::Store)?;
        if removed {
            tracing::info!(peer = %peer, "peer removed");
        }
        Ok(removed)
    }

    /// Mints a credential for the peer as `spec` says. The peer's other credentials stay
    /// valid.
    pub async fn mint(&self, peer: &PeerId, spec: CredentialSpec) -> Result<Minted, Error> {
        let (grant, expires_at) = self.grant(peer, spec).await?;
        self.shared.mint(grant, expires_at).await
    }

    /// Stores a token chosen elsewhere (for example agreed during a peering handshake in
    /// which the peer minted it) as a credential of the peer. Prefer [`mint`](Self::mint).
    pub async fn add_credential(
        &self,
        peer: &PeerId,
        token: &str,
        spec: CredentialSpec,
    ) -> Result<CredentialId, Error> {
        let (grant, expires_at) = self.grant(peer, spec).await?;
        self.shared
            .insert_credential(token, grant, expires_at)
            .await
    }

    /// Revokes the peer's credential `id`; whether the peer held it.
    pub async fn revoke(&self, peer: &PeerId, id: &CredentialId) -> Result<bool, Error> {
        self.shared.revoke(&Owner::Peer(peer.clone()), id).await
    }

    /// The peer's credentials (MACs, ids, scopes, expiry; never tokens), oldest first.
    pub async fn credentials(&self, peer: &PeerId) -> Result<Vec<CredentialRecord>, Error> {
        self.shared.credentials(&Owner::Peer(peer.clone())).await
    }

    /// The peer's record.
    pub async fn peer(&self, peer: &PeerId) -> Result<Option<PeerRecord>, Error> {
        self.shared.store.peer(peer).await.map_err(Error::Store)
    }

    async fn known_peer(&self, peer: &PeerId) -> Result<PeerRecord, Error> {
        self.peer(peer)
            .await?
            .ok_or_else(|| Error::UnknownPeer(peer.clone()))
    }

    async fn put_peer(&self, record: PeerRecord) -> Result<(), Error> {
        self.shared
            .store
            .put_peer(record)
            .await
            .map_err(Error::Store)
    }

    async fn grant(
        &self,
        peer: &PeerId,
        spec: CredentialSpec,
    ) -> Result<(Grant, Option<Timestamp>), Error> {
        let record = self.known_peer(peer).await?;
        if let AccountScope::Only(accounts) = &spec.accounts {
            if let Some(account) = accounts.iter().find(|a| !record.accounts.contains(*a)) {
                return Err(Error::NotPeerAccount {
                    peer: peer.clone(),
                    account: account.clone(),
                });
            }
        }
        let grant = Grant::Peer {
            peer: peer.clone(),
            accounts: spec.accounts,
            scopes: spec.scopes,
        };
        Ok((grant, spec.expires_at))
    }

    async fn verify(&self, attempt: &Attempt<'_>, token: &str) -> Result<Principal, AuthError> {
        let lookup = self.shared.lookup(token).await?;
        let valid = match &lookup.record {
            Some(record) => {
                matches!(record.grant, Grant::Peer { .. }) && record.is_valid_at(attempt.now)
            }
            None => false,
        };
        let ok = lookup.mac_ok & Choice::from(u8::from(valid));
        let Some(CredentialRecord {
            id,
            grant:
                Grant::Peer {
                    peer,
                    accounts,
                    scopes,
                },
            ..
        }) = lookup.record.filter(|_| bool::from(ok))
        else {
            return Err(AuthError::Rejected);
        };

        // The secret is good; from here on nothing is secret.
        if !scopes.contains(self.required) {
            tracing::debug!(credential = %id, ?scopes, required = ?self.required, "credential lacks scopes");
            return Err(AuthError::Forbidden);
        }
        let Some(record) = self
            .shared
            .store
            .peer(&peer)
            .await
            .map_err(AuthError::Backend)?
        else {
            // A credential left behind by a removed peer.
            return Err(AuthError::Rejected);
        };
        let mut allowed = record.accounts.iter().filter(|a| accounts.allows(a));
        let account = match (attempt.named, &attempt.named_id) {
            (Some(_), Some(named)) if allowed.any(|a| a == named) => named.clone(),
            (Some(_), _) => return Err(AuthError::Forbidden),
            (None, _) => match (allowed.next(), allowed.next()) {
                (Some(only), None) => only.clone(),
                (None, _) => return Err(AuthError::Forbidden),
                (Some(_), Some(_)) => return Err(AuthError::AccountRequired),
            },
        };
        tracing::trace!(credential = %id, "peer credential accepted");
        Ok(Principal::peer(peer, account, scopes))
    }
}

#[async_trait]
impl Authenticator for PeerAuthenticator {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        source: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        let attempt = self.shared.begin("peer", &credentials, source)?;
        let result = self.verify(&attempt, credentials.secret()).await;
        self.shared.finish(&attempt, result).await
    }
}

impl fmt::Debug for PeerAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerAuthenticator")
            .field("key", &self.shared.key)
            .field("throttle", self.shared.throttle.config())
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}
