//! Authentication: one trait for every transport and for peering.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::Principal;

/// What a caller presented. Borrowed, and never printed: `Debug` shows the shape and the names,
/// never a token.
///
/// ```
/// use ilp_core::Credentials;
///
/// let c = Credentials::Bearer { token: "s3cret-token", account: Some("alice") };
/// assert!(!format!("{c:?}").contains("s3cret"));
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Credentials<'a> {
    /// An HTTP bearer token (an opaque token, or a JWT where the account is configured for
    /// one). `account` is the account the request names, by URL path (`/accounts/{account}/ilp`)
    /// or header (`ilp-peer-id`), when it names one.
    Bearer {
        /// The token, without the `Bearer ` prefix.
        token: &'a str,
        /// The account named by the request, if any.
        account: Option<&'a str>,
    },
    /// A username and token, as BTP's auth message carries them (`auth_username`,
    /// `auth_token`). The username names the account.
    UsernameToken {
        /// The account name.
        username: &'a str,
        /// The token.
        token: &'a str,
    },
}

impl<'a> Credentials<'a> {
    /// The account the credentials name, if any.
    #[must_use]
    pub const fn account(&self) -> Option<&'a str> {
        match self {
            Self::Bearer { account, .. } => *account,
            Self::UsernameToken { username, .. } => Some(username),
        }
    }

    /// The secret. Handle with care: compare in constant time, never log.
    #[must_use]
    pub const fn secret(&self) -> &'a str {
        match self {
            Self::Bearer { token, .. } | Self::UsernameToken { token, .. } => token,
        }
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer { account, .. } => f
                .debug_struct("Bearer")
                .field("token", &"<redacted>")
                .field("account", account)
                .finish(),
            Self::UsernameToken { username, .. } => f
                .debug_struct("UsernameToken")
                .field("username", username)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// Why authentication failed. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The credentials are not valid: unknown account, wrong or revoked token, expired
    /// credential or JWT. One variant for all of these, so that a caller cannot tell an unknown
    /// account from a wrong token. HTTP 401; BTP error `F00 NotAcceptedError`.
    #[error("authentication failed")]
    Rejected,
    /// Too many failed attempts from this source (its address, or its network); try again
    /// after the given time, from there. The secret was not checked. (Failures naming an
    /// account never refuse other sources' attempts: `ilp-auth` only slows them down.) HTTP
    /// 429.
    #[error("too many failed attempts; retry after {retry_after:?}")]
    Throttled {
        /// When the caller may try again.
        retry_after: Duration,
    },
    /// The credential is valid but does not allow this account or action (for example a
    /// peer's "manage" credential used to send packets). HTTP 403.
    #[error("the credential does not allow this")]
    Forbidden,
    /// The credential covers several accounts and the request named none: name the account in
    /// the URL path or the `ilp-peer-id` header. HTTP 401.
    #[error("the request must name an account")]
    AccountRequired,
    /// The credential store failed. HTTP 503.
    #[error("credential store failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AuthError {
    /// Wraps a store error.
    pub fn backend(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend(error.into())
    }

    /// The HTTP status a server answers with: 401, 403, 429 or 503. The one place this
    /// mapping is made.
    #[must_use]
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::Rejected | Self::AccountRequired => 401,
            Self::Forbidden => 403,
            Self::Throttled { .. } => 429,
            Self::Backend(_) => 503,
        }
    }
}

/// Checks credentials and says who is calling. BTP, ILP-over-HTTP and the peering handshake
/// all authenticate through it; `ilp-auth` has the implementations.
///
/// `source` is the caller's network address when the transport knows it; implementations use
/// it to throttle failed attempts.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Authenticates `credentials`, and resolves which account the request acts on.
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        source: Option<IpAddr>,
    ) -> Result<Principal, AuthError>;
}

#[async_trait]
impl<T: Authenticator + ?Sized> Authenticator for std::sync::Arc<T> {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        source: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        (**self).authenticate(credentials, source).await
    }
}

#[async_trait]
impl<T: Authenticator + ?Sized> Authenticator for Box<T> {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
        source: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        (**self).authenticate(credentials, source).await
    }
}
