//! The crate's error, for everything but authentication itself (which answers with
//! [`ilp_core::AuthError`]).

use std::fmt;

use ilp_core::{AccountId, PeerId};

use crate::StoreError;

/// What went wrong while managing keys, accounts, peers or credentials. Messages name
/// accounts, peers and credential ids, never a token or key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system's random number generator failed; nothing was minted. Retry; if
    /// it persists, the host's entropy source is broken.
    #[error("the operating system's random number generator failed")]
    Rng(#[source] RngError),
    /// A node key shorter than 32 bytes, or text that is not base64. Generate one with
    /// `NodeKey::generate`.
    #[error("a node key must be at least 32 bytes (base64 text when loaded from text)")]
    NodeKey,
    /// Text that does not parse as the named type.
    #[error("not a valid {0}")]
    Parse(&'static str),
    /// An empty token was given to store. Mint tokens instead of choosing them.
    #[error("a token must not be empty")]
    EmptyToken,
    /// Another credential already has this token (it would be ambiguous). Mint a new token.
    #[error("a credential with the same token already exists")]
    DuplicateToken,
    /// No such account. Add it first.
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
    /// The account already exists. Remove it first to change how it authenticates.
    #[error("account {0} already exists")]
    AccountExists(AccountId),
    /// The account authenticates with JWTs, so it has no tokens to mint or store.
    #[error("account {0} authenticates with JWT HS256 and holds no tokens")]
    JwtAccount(AccountId),
    /// No such peer. Add it first.
    #[error("unknown peer {0}")]
    UnknownPeer(PeerId),
    /// The peer already exists.
    #[error("peer {0} already exists")]
    PeerExists(PeerId),
    /// A credential was to allow an account the peer does not hold. Add the account to the
    /// peer first.
    #[error("peer {peer} does not hold account {account}")]
    NotPeerAccount {
        /// The peer.
        peer: PeerId,
        /// The account it does not hold.
        account: AccountId,
    },
    /// The credential store failed.
    #[error("credential store failed")]
    Store(#[source] StoreError),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the operating system's random number generator failed.
pub struct RngError(pub(crate) getrandom::Error);

impl fmt::Debug for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RngError({})", self.0)
    }
}

impl fmt::Display for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for RngError {}
