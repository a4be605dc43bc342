//! Who is calling: accounts, peers, scopes and the authenticated [`Principal`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Why a name was refused as an [`AccountId`] or [`PeerId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Names are 1 to 128 bytes.
    #[error("name must be 1 to 128 bytes long")]
    Length,
    /// Names use only `A-Z a-z 0-9 _ ~ - .` (safe in a URL path and an ILP address segment,
    /// apart from the dot).
    #[error("name has a character outside A-Z a-z 0-9 _ ~ - . at byte {0}")]
    Character(usize),
}

fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > 128 {
        return Err(NameError::Length);
    }
    match name
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'-' | b'.')))
    {
        Some(i) => Err(NameError::Character(i)),
        None => Ok(()),
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(Arc<str>);

        impl $ty {
            /// The name as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = NameError;

            fn from_str(s: &str) -> Result<Self, NameError> {
                check_name(s)?;
                Ok(Self(Arc::from(s)))
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = NameError;

            fn try_from(s: &str) -> Result<Self, NameError> {
                s.parse()
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;

            fn try_from(s: String) -> Result<Self, NameError> {
                s.parse()
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({:?})"), &*self.0)
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type! {
    /// The name of an account: one financial relationship (one asset, one balance) with a peer.
    /// 1 to 128 bytes of `A-Z a-z 0-9 _ ~ - .`; it appears in URL paths
    /// (`/accounts/{account}/ilp`) and as the BTP username. Cheap to clone.
    ///
    /// ```
    /// use ilp_core::AccountId;
    /// let alice: AccountId = "alice".parse()?;
    /// assert_eq!(alice.as_str(), "alice");
    /// assert!("al ice".parse::<AccountId>().is_err());
    /// # Ok::<(), ilp_core::NameError>(())
    /// ```
    AccountId
}

name_type! {
    /// The name of a peer: another node (an operator) that may hold several accounts here, for
    /// example one per asset. Same rules as [`AccountId`].
    PeerId
}

/// What a credential allows. A credential with no scope authenticates but may do nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Scopes {
    /// May send ILP packets on the account.
    pub send: bool,
    /// May manage the peering (rotate credentials, change settings).
    pub manage: bool,
}

impl Scopes {
    /// No power at all.
    pub const NONE: Self = Self {
        send: false,
        manage: false,
    };
    /// Send packets only: what a payment service gets.
    pub const SEND: Self = Self {
        send: true,
        manage: false,
    };
    /// Manage the peering only: what an operator's tooling gets.
    pub const MANAGE: Self = Self {
        send: false,
        manage: true,
    };
    /// Everything.
    pub const ALL: Self = Self {
        send: true,
        manage: true,
    };

    /// Whether every power in `other` is also in `self`.
    #[must_use]
    pub const fn contains(&self, other: Self) -> bool {
        (self.send || !other.send) && (self.manage || !other.manage)
    }
}

/// An authenticated caller: the account a request acts on, the peer that holds it (for
/// peer-based credentials) and what the credential used allows.
///
/// ```
/// use ilp_core::{Principal, Scopes};
///
/// let p = Principal::account("alice".parse()?);
/// assert!(p.scopes.send && p.peer.is_none());
/// # Ok::<(), ilp_core::NameError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Principal {
    /// The account the request acts on.
    pub account: AccountId,
    /// The peer holding the account, when the credential is a peer's.
    pub peer: Option<PeerId>,
    /// What the credential allows.
    pub scopes: Scopes,
}

impl Principal {
    /// An account-based principal: the account alone, allowed to send.
    #[must_use]
    pub fn account(account: AccountId) -> Self {
        Self {
            account,
            peer: None,
            scopes: Scopes::SEND,
        }
    }

    /// A peer-based principal.
    #[must_use]
    pub fn peer(peer: PeerId, account: AccountId, scopes: Scopes) -> Self {
        Self {
            account,
            peer: Some(peer),
            scopes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!("a.b-c_d~9".parse::<AccountId>().is_ok());
        assert_eq!("".parse::<PeerId>(), Err(NameError::Length));
        assert_eq!("x".repeat(129).parse::<PeerId>(), Err(NameError::Length));
        assert_eq!("ab/c".parse::<AccountId>(), Err(NameError::Character(2)));
        assert_eq!("ä".parse::<AccountId>(), Err(NameError::Character(0)));
    }

    #[test]
    fn scopes_contain() {
        assert!(Scopes::ALL.contains(Scopes::SEND));
        assert!(Scopes::SEND.contains(Scopes::NONE));
        assert!(!Scopes::SEND.contains(Scopes::MANAGE));
        assert!(!Scopes::NONE.contains(Scopes::SEND));
    }
}
