//! Where accounts, peers and credential MACs are kept: the [`Store`] trait, its records and
//! the in-memory [`MemoryStore`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use ilp_core::{AccountId, PeerId, Scopes};
use ilp_packet::Timestamp;

use crate::jwt::JwtKey;
use crate::{CredentialId, TokenMac};

/// What a [`Store`] fails with. Authenticators answer `AuthError::Backend` with it; management
/// methods `Error::Store`.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// How an account of the account-based model authenticates.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum AccountAuth {
    /// Opaque bearer tokens, stored as [`TokenMac`]s in credential records owned by the account
    /// (several at once during a rotation).
    Token,
    /// JWT HS256 bearer tokens (the `JWT_HS_256` profile) signed with a shared key, whose `sub`
    /// must be the account's name.
    ///
    /// The key is a secret that must be stored as such: unlike a token, HS256 cannot be checked
    /// against a MAC of the key. An embedder persisting this record should encrypt it at rest.
    Jwt {
        /// The shared HS256 key.
        key: JwtKey,
        /// Refuse tokens without `sub`. `false` accepts ilp-plugin-http's tokens, which carry
        /// only `iat` and `exp`. A `sub` that is present must name the account either way.
        require_subject: bool,
    },
}

/// An account of the account-based model ([`AccountAuthenticator`](crate::AccountAuthenticator)).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct AccountRecord {
    /// The account.
    pub id: AccountId,
    /// How it authenticates.
    pub auth: AccountAuth,
}

impl AccountRecord {
    /// A record.
    #[must_use]
    pub const fn new(id: AccountId, auth: AccountAuth) -> Self {
        Self { id, auth }
    }
}

/// A peer of the peer-based model ([`PeerAuthenticator`](crate::PeerAuthenticator)) and the
/// accounts it holds here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct PeerRecord {
    /// The peer.
    pub id: PeerId,
    /// The accounts it holds (for example one per asset).
    pub accounts: BTreeSet<AccountId>,
}

impl PeerRecord {
    /// A record.
    #[must_use]
    pub const fn new(id: PeerId, accounts: BTreeSet<AccountId>) -> Self {
        Self { id, accounts }
    }
}

/// Which of its peer's accounts a credential may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum AccountScope {
    /// Every account the peer holds, now and later.
    All,
    /// These accounts only (those the peer still holds).
    Only(BTreeSet<AccountId>),
}

impl AccountScope {
    /// Whether `account` is in scope (the peer must still hold it as well).
    #[must_use]
    pub fn allows(&self, account: &AccountId) -> bool {
        match self {
            Self::All => true,
            Self::Only(accounts) => accounts.contains(account),
        }
    }
}

/// Who a credential belongs to, and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Grant {
    /// Account-based: authenticates exactly this account, allowed to send.
    Account(AccountId),
    /// Peer-based: authenticates the peer, for the accounts and actions given.
    Peer {
        /// The peer.
        peer: PeerId,
        /// Which of the peer's accounts it may act on.
        accounts: AccountScope,
        /// What it may do.
        scopes: Scopes,
    },
}

/// Whose credentials to list: an account (account-based) or a peer (peer-based).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Owner {
    /// An account of the account-based model.
    Account(AccountId),
    /// A peer.
    Peer(PeerId),
}

impl Grant {
    /// Who the credential belongs to.
    #[must_use]
    pub fn owner(&self) -> Owner {
        match self {
            Self::Account(account) => Owner::Account(account.clone()),
            Self::Peer { peer, .. } => Owner::Peer(peer.clone()),
        }
    }
}

/// A stored credential: the MAC of its token (never the token), what it grants, and when it
/// expires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct CredentialRecord {
    /// Its public name, to list and revoke it by.
    pub id: CredentialId,
    /// HMAC-SHA256 of the token under the node key; the key it is looked up by.
    pub mac: TokenMac,
    /// Who it belongs to and what it allows.
    pub grant: Grant,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops being accepted, if ever.
    pub expires_at: Option<Timestamp>,
}

impl CredentialRecord {
    /// A record.
    #[must_use]
    pub const fn new(
        id: CredentialId,
        mac: TokenMac,
        grant: Grant,
        created_at: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Self {
        Self {
            id,
            mac,
            grant,
            created_at,
            expires_at,
        }
    }

    /// Whether it is still valid at `now` (not expired).
    #[must_use]
    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// Keeps accounts, peers and credential records. Implement it over the embedder's database,
/// or use [`MemoryStore`] (which can be saved and restored through [`StoreState`]).
///
/// Authentication calls only [`account`](Self::account), [`peer`](Self::peer) and
/// [`credential`](Self::credential); the lookup of a credential by MAC should be O(1) (an
/// index on the MAC), as it runs on every request. Records are plain values: the store does
/// no checks and no cascades (the authenticators' management methods do). Errors become
/// `AuthError::Backend` during authentication.
#[async_trait]
pub trait Store: Send + Sync {
    /// An account of the account-based model.
    async fn account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError>;
    /// A peer.
    async fn peer(&self, id: &PeerId) -> Result<Option<PeerRecord>, StoreError>;
    /// The credential whose token has this MAC.
    async fn credential(&self, mac: &TokenMac) -> Result<Option<CredentialRecord>, StoreError>;
    /// Every credential of an account or peer.
    async fn credentials_of(&self, owner: &Owner) -> Result<Vec<CredentialRecord>, StoreError>;
    /// Inserts or replaces an account.
    async fn put_account(&self, record: AccountRecord) -> Result<(), StoreError>;
    /// Removes an account; whether it was there.
    async fn remove_account(&self, id: &AccountId) -> Result<bool, StoreError>;
    /// Inserts or replaces a peer.
    async fn put_peer(&self, record: PeerRecord) -> Result<(), StoreError>;
    /// Removes a peer; whether it was there.
    async fn remove_peer(&self, id: &PeerId) -> Result<bool, StoreError>;
    /// Inserts or replaces a credential (by id).
    async fn put_credential(&self, record: CredentialRecord) -> Result<(), StoreError>;
    /// Removes a credential; whether it was there.
    async fn remove_credential(&self, id: &CredentialId) -> Result<bool, StoreError>;
}

/// Everything a [`MemoryStore`] holds, as plain lists (sorted, so the same state always
/// serializes the same way). With the `serde` feature it serializes; it holds token MACs and
/// JWT keys, never a token.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct StoreState {
    /// Accounts of the account-based model.
    pub accounts: Vec<AccountRecord>,
    /// Peers.
    pub peers: Vec<PeerRecord>,
    /// Credentials.
    pub credentials: Vec<CredentialRecord>,
}

/// An in-memory [`Store`]: hash maps behind a `std` `RwLock` (never held across an
/// `.await`). Save it with [`MemoryStore::state`] and restore it with
/// [`MemoryStore::from_state`].
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use ilp_auth::{MemoryStore, StoreState};
///
/// let store = MemoryStore::new();
/// let json = serde_json::to_string(&store.state()).unwrap();
/// let restored = MemoryStore::from_state(serde_json::from_str::<StoreState>(&json).unwrap());
/// # let _ = restored;
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    accounts: HashMap<AccountId, AccountRecord>,
    peers: HashMap<PeerId, PeerRecord>,
    credentials: HashMap<TokenMac, CredentialRecord>,
    by_id: HashMap<CredentialId, TokenMac>,
}

impl Maps {
    fn put_credential(&mut self, record: CredentialRecord) {
        if let Some(old) = self.by_id.insert(record.id.clone(), record.mac) {
            self.credentials.remove(&old);
        }
        if let Some(other) = self.credentials.insert(record.mac, record) {
            self.by_id.remove(&other.id);
        }
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `state`. Later duplicates (same account, peer, credential id or MAC)
    /// replace earlier ones.
    #[must_use]
    pub fn from_state(state: StoreState) -> Self {
        let mut maps = Maps::default();
        for record in state.accounts {
            maps.accounts.insert(record.id.clone(), record);
        }
        for record in state.peers {
            maps.peers.insert(record.id.clone(), record);
        }
        for record in state.credentials {
            maps.put_credential(record);
        }
        Self {
            inner: RwLock::new(maps),
        }
    }

    /// A copy of everything held, sorted by account, peer and credential id.
    #[must_use]
    pub fn state(&self) -> StoreState {
        let maps = self.read();
        let mut state = StoreState {
            accounts: maps.accounts.values().cloned().collect(),
            peers: maps.peers.values().cloned().collect(),
            credentials: maps.credentials.values().cloned().collect(),
        };
        state.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        state.peers.sort_by(|a, b| a.id.cmp(&b.id));
        state.credentials.sort_by(|a, b| a.id.cmp(&b.id));
        state
    }

    /// How many credentials are stored.
    #[must_use]
    pub fn credential_count(&self) -> usize {
        self.read().credentials.len()
    }

    // Every critical section is a single map operation, so a poisoned lock is used as is.
    fn read(&self) -> RwLockReadGuard<'_, Maps> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Maps> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError> {
        Ok(self.read().accounts.get(id).cloned())
    }

    async fn peer(&self, id: &PeerId) -> Result<Option<PeerRecord>, StoreError> {
        Ok(self.read().peers.get(id).cloned())
    }

    async fn credential(&self, mac: &TokenMac) -> Result<Option<CredentialRecord>, StoreError> {
        Ok(self.read().credentials.get(mac).cloned())
    }

    async fn credentials_of(&self, owner: &Owner) -> Result<Vec<CredentialRecord>, StoreError> {
        let mut found: Vec<_> = self
            .read()
            .credentials
            .values()
            .filter(|c| c.grant.owner() == *owner)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(found)
    }

    async fn put_account(&self, record: AccountRecord) -> Result<(), StoreError> {
        self.write().accounts.insert(record.id.clone(), record);
        Ok(())
    }

    async fn remove_account(&self, id: &AccountId) -> Result<bool, StoreError> {
        Ok(self.write().accounts.remove(id).is_some())
    }

    async fn put_peer(&self, record: PeerRecord) -> Result<(), StoreError> {
        self.write().peers.insert(record.id.clone(), record);
        Ok(())
    }

    async fn remove_peer(&self, id: &PeerId) -> Result<bool, StoreError> {
        Ok(self.write().peers.remove(id).is_some())
    }

    async fn put_credential(&self, record: CredentialRecord) -> Result<(), StoreError> {
        self.write().put_credential(record);
        Ok(())
    }

    async fn remove_credential(&self, id: &CredentialId) -> Result<bool, StoreError> {
        let mut maps = self.write();
        let Some(mac) = maps.by_id.remove(id) else {
            return Ok(false);
        };
        maps.credentials.remove(&mac);
        Ok(true)
    }
}
