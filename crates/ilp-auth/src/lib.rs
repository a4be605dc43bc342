//! Authenticators for Interledger transports (BTP, ILP-over-HTTP) and peering: they implement
//! [`ilp_core::Authenticator`], turning [`Credentials`](ilp_core::Credentials) into a
//! [`Principal`](ilp_core::Principal).
//!
//! Two models, one trait:
//!
//! - [`AccountAuthenticator`]: **account-based**. Each credential authenticates exactly one
//!   account: a bearer token with the account named by the URL path, or BTP's username and
//!   token; a bearer token with no account named authenticates its own account (Rafiki
//!   style). An account uses opaque tokens, or JWT HS256 ([`jwt`], the `JWT_HS_256` HTTP auth
//!   profile) with a shared key.
//! - [`PeerAuthenticator`]: **peer-based**. A peer holds several accounts and several
//!   credentials, each with scopes (which accounts, send packets, manage the peering) and an
//!   optional expiry, so credentials rotate with an overlap and are revoked one by one.
//!
//! What both do:
//!
//! - **Tokens** are minted from 256 bits of the operating system's generator, as base64url
//!   text ([`Token`]), and handed out once. The node keeps only `HMAC-SHA256(node key,
//!   token)` ([`TokenMac`]), indexed by that MAC, so a lookup is O(1) and the plain token
//!   exists nowhere at rest. The node key ([`NodeKey`]) is the embedder's to generate, keep
//!   and load; see its documentation.
//! - **The same answer for an unknown account and a wrong token** (`AuthError::Rejected`),
//!   after the same work: the MAC, the lookup and the constant-time comparisons always run.
//! - **Throttling** of failed attempts, in bounded memory ([`Throttle`], [`ThrottleConfig`]):
//!   a source address with too many failures is answered `AuthError::Throttled` without its
//!   secret being checked; an account name with too many failures (from anywhere) only has
//!   its further *failures* held back, so that nobody can lock an account out by naming it.
//! - **Storage** behind the [`Store`] trait; [`MemoryStore`] keeps everything in memory and,
//!   with the `serde` feature, its [`StoreState`] serializes for the embedder's own database
//!   (MACs, never tokens).
//! - **No secret in logs** (`tracing`, debug and info) **nor in `Debug`, `Display` or error
//!   text.**
//!
//! # Account-based
//!
//! ```
//! use std::sync::Arc;
//! use ilp_auth::{AccountAuthenticator, MemoryStore, NodeKey};
//! use ilp_core::{AuthError, Authenticator, Credentials, Principal};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! # runtime.block_on(async {
//! let auth = AccountAuthenticator::new(NodeKey::generate()?, Arc::new(MemoryStore::new()));
//! let alice = "alice".parse()?;
//! auth.add_account(alice).await?;
//! let minted = auth.mint_token(&"alice".parse()?, None).await?;
//! let token = minted.token.expose(); // give this to alice, once
//!
//! // HTTP: `POST /accounts/alice/ilp` with `Authorization: Bearer <token>`
//! let principal = auth
//!     .authenticate(Credentials::Bearer { token, account: Some("alice") }, None)
//!     .await?;
//! assert_eq!(principal, Principal::account("alice".parse()?));
//!
//! // BTP: username and token; and a wrong token
//! let wrong = Credentials::UsernameToken { username: "alice", token: "guess" };
//! assert!(matches!(auth.authenticate(wrong, None).await, Err(AuthError::Rejected)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! # Peer-based
//!
//! ```
//! use std::sync::Arc;
//! use ilp_auth::{CredentialSpec, MemoryStore, NodeKey, PeerAuthenticator};
//! use ilp_core::{AuthError, Authenticator, Credentials, Scopes};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! # runtime.block_on(async {
//! let auth = PeerAuthenticator::new(NodeKey::generate()?, Arc::new(MemoryStore::new()));
//! let bob = "bob".parse()?;
//! auth.add_peer("bob".parse()?, ["bob-usd".parse()?, "bob-eur".parse()?]).await?;
//! let send = auth.mint(&bob, CredentialSpec::new(Scopes::SEND)).await?;
//!
//! // The request names the account it acts on (URL path, `ilp-peer-id`, BTP username).
//! let token = send.token.expose();
//! let principal = auth
//!     .authenticate(Credentials::Bearer { token, account: Some("bob-eur") }, None)
//!     .await?;
//! assert_eq!(principal.account.as_str(), "bob-eur");
//! assert_eq!(principal.peer.as_ref().map(|p| p.as_str()), Some("bob"));
//! // With two accounts allowed, a request must name one.
//! let unnamed = Credentials::Bearer { token, account: None };
//! assert!(matches!(auth.authenticate(unnamed, None).await, Err(AuthError::AccountRequired)));
//!
//! // Rotation: mint the new credential, switch, then revoke the old one.
//! let next = auth.mint(&bob, CredentialSpec::new(Scopes::SEND)).await?;
//! auth.revoke(&bob, &send.id).await?;
//! let old = Credentials::Bearer { token, account: Some("bob-usd") };
//! assert!(matches!(auth.authenticate(old, None).await, Err(AuthError::Rejected)));
//! let new = Credentials::Bearer { token: next.token.expose(), account: Some("bob-usd") };
//! assert!(auth.authenticate(new, None).await.is_ok());
//!
//! // Managing the peering needs a credential with the `manage` scope.
//! let manage = auth.requiring(Scopes::MANAGE);
//! let send_only = Credentials::Bearer { token: next.token.expose(), account: Some("bob-usd") };
//! assert!(matches!(manage.authenticate(send_only, None).await, Err(AuthError::Forbidden)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! # Features
//!
//! - `serde`: serialize and deserialize [`StoreState`] and the records in it (and
//!   [`jwt::JwtKey`]).
#![forbid(unsafe_code)]

mod account;
mod error;
mod hmac_key;
pub mod jwt;
mod peer;
mod secret;
mod shared;
mod store;
mod throttle;

pub use account::AccountAuthenticator;
pub use error::{Error, Result, RngError};
pub use peer::{CredentialSpec, PeerAuthenticator};
pub use secret::{CredentialId, NodeKey, Token, TokenMac, NODE_KEY_MIN_LEN, TOKEN_BYTES};
pub use shared::Minted;
pub use store::{
    AccountAuth, AccountRecord, AccountScope, CredentialRecord, Grant, MemoryStore, Owner,
    PeerRecord, Store, StoreError, StoreState,
};
pub use throttle::{RecordedFailure, Throttle, ThrottleConfig};
