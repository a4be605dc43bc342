//! Execution conditions and fulfillments: 32-byte values where `condition = SHA-256(fulfillment)`.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::{hex, DecodeError};

/// A Prepare's execution condition: the SHA-256 hash of the fulfillment that unlocks it.
///
/// `Display` prints it as 64 lower-case hex digits and `FromStr` parses them back:
///
/// ```
/// use ilp_packet::{Condition, DecodeError};
///
/// let text = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925";
/// let condition: Condition = text.parse()?;
/// assert_eq!(condition, Condition::PEER_PROTOCOL);
/// assert_eq!(condition.to_string(), text);
/// assert_eq!(
///     "abcd".parse::<Condition>().unwrap_err().to_string(),
///     "condition is 2 bytes long; it must be exactly 32 bytes"
/// );
/// # Ok::<(), DecodeError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Condition([u8; 32]);

/// The 32-byte preimage that fulfills a [`Condition`].
///
/// ```
/// use ilp_packet::{Condition, Fulfillment};
///
/// let fulfillment = Fulfillment::from_bytes([0; 32]);
/// assert_eq!(fulfillment.condition(), Condition::PEER_PROTOCOL);
/// assert!(fulfillment.fulfills(&Condition::PEER_PROTOCOL));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fulfillment([u8; 32]);

impl Condition {
    /// The condition of peer protocols (IL-DCP, CCP): SHA-256 of 32 zero bytes,
    /// `66687aad…5d0d5f2925`.
    pub const PEER_PROTOCOL: Self = Self([
        0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77, 0x6c, 0x8f, 0xc1, 0x8b, 0x8e, 0x9f, 0x8e,
        0x20, 0x08, 0x97, 0x14, 0x85, 0x6e, 0xe2, 0x33, 0xb3, 0x90, 0x2a, 0x59, 0x1d, 0x0d, 0x5f,
        0x29, 0x25,
    ]);

    /// A condition from its 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Fulfillment {
    /// The fulfillment of peer protocols (IL-DCP, CCP): 32 zero bytes.
    pub const PEER_PROTOCOL: Self = Self([0; 32]);

    /// A fulfillment from its 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The condition this fulfillment unlocks: its SHA-256 hash.
    #[must_use]
    pub fn condition(&self) -> Condition {
        Condition(Sha256::digest(self.0).into())
    }

    /// Whether this fulfillment unlocks `condition`.
    #[must_use]
    pub fn fulfills(&self, condition: &Condition) -> bool {
        self.condition() == *condition
    }
}

macro_rules! bytes32_impls {
    ($ty:ident, $what:literal) => {
        impl From<[u8; 32]> for $ty {
            fn from(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }

        impl TryFrom<&[u8]> for $ty {
            type Error = std::array::TryFromSliceError;

            fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
                bytes.try_into().map(Self)
            }
        }

        impl AsRef<[u8]> for $ty {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), hex::encode(&self.0))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(&self.0))
            }
        }

        impl std::str::FromStr for $ty {
            type Err = DecodeError;

            #[doc = concat!("Parses a ", $what, " from 64 hex digits (either case), as `Display` ")]
            /// prints it. Errors: [`DecodeError::InvalidHexDigit`],
            /// [`DecodeError::OddHexLength`], or [`DecodeError::WrongLength`] when the hex is
            /// not 32 bytes.
            fn from_str(s: &str) -> Result<Self, DecodeError> {
                hex::decode_array($what, s).map(Self)
            }
        }

        serde_via_str!($ty);
    };
}

bytes32_impls!(Condition, "condition");
bytes32_impls!(Fulfillment, "fulfillment");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_protocol_condition_is_hash_of_zero_fulfillment() {
        assert_eq!(
            Fulfillment::PEER_PROTOCOL.condition(),
            Condition::PEER_PROTOCOL
        );
        assert_eq!(
            Condition::PEER_PROTOCOL.to_string(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert!(!Fulfillment::from_bytes([1; 32]).fulfills(&Condition::PEER_PROTOCOL));
        assert!(Condition::try_from(&[0u8; 31][..]).is_err());
    }

    #[test]
    fn parse_from_hex_says_what_is_wrong() {
        let zero = "0".repeat(64);
        assert_eq!(zero.parse(), Ok(Fulfillment::PEER_PROTOCOL));
        assert_eq!(
            zero.to_uppercase().replace('0', "A").parse(),
            Ok(Fulfillment::from_bytes([0xaa; 32]))
        );
        assert_eq!(
            "00".repeat(31).parse::<Fulfillment>(),
            Err(DecodeError::WrongLength {
                field: "fulfillment",
                len: 31,
                expected: 32
            })
        );
        assert_eq!(
            "00".repeat(33).parse::<Condition>(),
            Err(DecodeError::WrongLength {
                field: "condition",
                len: 33,
                expected: 32
            })
        );
        assert_eq!(
            format!("{}0", zero).parse::<Condition>(),
            Err(DecodeError::OddHexLength {
                field: "condition",
                len: 65
            })
        );
        assert_eq!(
            format!("{}g", &zero[1..]).parse::<Condition>(),
            Err(DecodeError::InvalidHexDigit {
                field: "condition",
                found: 'g',
                at: 63
            })
        );
    }
}
