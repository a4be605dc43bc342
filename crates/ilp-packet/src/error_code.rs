//! ILP error codes (RFC 0027) and the F08 error data.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::oer::Reader;
use crate::DecodeError;

/// A three-character ILP error code. Codes this crate does not name stay representable; the
/// only requirement is IA5 (ASCII) bytes.
///
/// ```
/// use ilp_packet::{ErrorClass, ErrorCode};
///
/// assert_eq!(ErrorCode::F02_UNREACHABLE.class(), ErrorClass::Final);
/// assert_eq!(ErrorCode::F02_UNREACHABLE.name(), Some("Unreachable"));
/// let custom = ErrorCode::new(*b"F42").unwrap();
/// assert_eq!(custom.name(), None);
/// assert!(ErrorCode::new([0xff, b'0', b'0']).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode([u8; 3]);

/// How a sender should react to a reject, from the code's first letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// `F`: final; retrying the same packet will not help.
    Final,
    /// `T`: temporary; retrying later may work.
    Temporary,
    /// `R`: relative; retrying with a different amount or expiry may work.
    Relative,
    /// Any other first letter.
    Unknown,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $konst:ident = $code:literal, $name:literal;)*) => {
        impl ErrorCode {
            $( $(#[$doc])* pub const $konst: Self = Self(*$code); )*

            /// Every code RFC 0027 defines.
            pub const ALL: &'static [Self] = &[$(Self::$konst),*];

            /// The RFC 0027 name of this code, when it is one the RFC defines.
            #[must_use]
            pub const fn name(&self) -> Option<&'static str> {
                match &self.0 {
                    $( $code => Some($name), )*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// F00 Bad Request: generic sender error.
    F00_BAD_REQUEST = b"F00", "Bad Request";
    /// F01 Invalid Packet: the packet is syntactically invalid.
    F01_INVALID_PACKET = b"F01", "Invalid Packet";
    /// F02 Unreachable: no route to the destination.
    F02_UNREACHABLE = b"F02", "Unreachable";
    /// F03 Invalid Amount: the amount is invalid for the destination.
    F03_INVALID_AMOUNT = b"F03", "Invalid Amount";
    /// F04 Insufficient Destination Amount: the receiver deems the amount too low.
    F04_INSUFFICIENT_DESTINATION_AMOUNT = b"F04", "Insufficient Destination Amount";
    /// F05 Wrong Condition: the receiver generated a different condition.
    F05_WRONG_CONDITION = b"F05", "Wrong Condition";
    /// F06 Unexpected Payment: the receiver was not expecting this payment.
    F06_UNEXPECTED_PAYMENT = b"F06", "Unexpected Payment";
    /// F07 Cannot Receive: the receiver cannot accept this payment.
    F07_CANNOT_RECEIVE = b"F07", "Cannot Receive";
    /// F08 Amount Too Large: the amount exceeds a connector's maximum; see [`AmountTooLarge`].
    F08_AMOUNT_TOO_LARGE = b"F08", "Amount Too Large";
    /// F99 Application Error (final).
    F99_APPLICATION_ERROR = b"F99", "Application Error";
    /// T00 Internal Error: an unexpected error inside a node.
    T00_INTERNAL_ERROR = b"T00", "Internal Error";
    /// T01 Peer Unreachable: the next hop cannot be reached.
    T01_PEER_UNREACHABLE = b"T01", "Peer Unreachable";
    /// T02 Peer Busy: the next hop is overloaded.
    T02_PEER_BUSY = b"T02", "Peer Busy";
    /// T03 Connector Busy: this node is overloaded.
    T03_CONNECTOR_BUSY = b"T03", "Connector Busy";
    /// T04 Insufficient Liquidity: no balance or bandwidth right now.
    T04_INSUFFICIENT_LIQUIDITY = b"T04", "Insufficient Liquidity";
    /// T05 Rate Limited: the sender is sending too fast.
    T05_RATE_LIMITED = b"T05", "Rate Limited";
    /// T99 Application Error (temporary).
    T99_APPLICATION_ERROR = b"T99", "Application Error";
    /// R00 Transfer Timed Out: the packet expired before a reply came.
    R00_TRANSFER_TIMED_OUT = b"R00", "Transfer Timed Out";
    /// R01 Insufficient Source Amount: the amount is too small to forward.
    R01_INSUFFICIENT_SOURCE_AMOUNT = b"R01", "Insufficient Source Amount";
    /// R02 Insufficient Timeout: too little time left to forward.
    R02_INSUFFICIENT_TIMEOUT = b"R02", "Insufficient Timeout";
    /// R99 Application Error (relative).
    R99_APPLICATION_ERROR = b"R99", "Application Error";
}

impl ErrorCode {
    /// A code from three bytes; an error unless all are IA5 (below 0x80).
    pub const fn new(code: [u8; 3]) -> Result<Self, DecodeError> {
        if code[0] < 0x80 && code[1] < 0x80 && code[2] < 0x80 {
            Ok(Self(code))
        } else {
            Err(DecodeError::InvalidErrorCode)
        }
    }

    /// The three bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 3] {
        &self.0
    }

    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // IA5 was checked on construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The class, from the first letter.
    #[must_use]
    pub const fn class(&self) -> ErrorClass {
        match self.0[0] {
            b'F' => ErrorClass::Final,
            b'T' => ErrorClass::Temporary,
            b'R' => ErrorClass::Relative,
            _ => ErrorClass::Unknown,
        }
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = DecodeError;

    /// Parses a code of exactly three IA5 (ASCII) characters. Codes this crate does not name
    /// are accepted. Text of another length is [`DecodeError::ErrorCodeLength`] (its length in
    /// bytes), non-ASCII is [`DecodeError::InvalidErrorCode`].
    ///
    /// ```
    /// use ilp_packet::{DecodeError, ErrorCode};
    ///
    /// assert_eq!("F02".parse(), Ok(ErrorCode::F02_UNREACHABLE));
    /// assert_eq!("F2".parse::<ErrorCode>(), Err(DecodeError::ErrorCodeLength(2)));
    /// assert_eq!(
    ///     "F2".parse::<ErrorCode>().unwrap_err().to_string(),
    ///     "error code is 2 bytes long; it must be exactly 3 ASCII characters, such as F02"
    /// );
    /// ```
    fn from_str(s: &str) -> Result<Self, DecodeError> {
        let bytes: [u8; 3] = s
            .as_bytes()
            .try_into()
            .map_err(|_| DecodeError::ErrorCodeLength(s.len()))?;
        Self::new(bytes)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorCode({:?})", self.as_str())
    }
}

/// The data of an `F08 Amount Too Large` reject (asn1/InterledgerErrorData.asn): the amount
/// the connector received and the most it accepts, both in its units.
///
/// ```
/// use ilp_packet::AmountTooLarge;
///
/// let data = AmountTooLarge { received: 100, maximum: 50 }.to_bytes();
/// assert_eq!(data.len(), 16);
/// assert_eq!(AmountTooLarge::decode(&data), Ok(AmountTooLarge { received: 100, maximum: 50 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct AmountTooLarge {
    /// The amount of the Prepare as the connector received it.
    pub received: u64,
    /// The largest amount the connector accepts in one packet.
    pub maximum: u64,
}

impl AmountTooLarge {
    /// Encoded size: two UInt64.
    pub const LEN: usize = 16;

    /// Reads the 16-byte form; bytes after it are ignored (RFC 0030).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        Ok(Self {
            received: r.read_u64("receivedAmount")?,
            maximum: r.read_u64("maximumAmount")?,
        })
    }

    /// Writes the 16-byte form.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u64(self.received);
        buf.put_u64(self.maximum);
    }

    /// The 16-byte form as a buffer, ready to be a reject's data.
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(Self::LEN);
        self.encode(&mut buf);
        buf.freeze()
    }
}

serde_via_str!(ErrorCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_names() {
        assert_eq!(ErrorCode::ALL.len(), 21);
        for code in ErrorCode::ALL {
            assert!(code.name().is_some());
            let expected = match code.as_str().as_bytes()[0] {
                b'F' => ErrorClass::Final,
                b'T' => ErrorClass::Temporary,
                _ => ErrorClass::Relative,
            };
            assert_eq!(code.class(), expected);
        }
        assert_eq!(
            "ZZZ".parse::<ErrorCode>().map(|c| c.class()),
            Ok(ErrorClass::Unknown)
        );
        assert_eq!(
            "F0".parse::<ErrorCode>(),
            Err(DecodeError::ErrorCodeLength(2))
        );
        assert_eq!(
            "F0é".parse::<ErrorCode>(),
            Err(DecodeError::ErrorCodeLength(4))
        );
        assert_eq!(
            "".parse::<ErrorCode>(),
            Err(DecodeError::ErrorCodeLength(0))
        );
        assert_eq!(
            "F\u{7f}0".parse::<ErrorCode>().map(|c| c.to_string()),
            Ok("F\u{7f}0".to_owned())
        );
        assert_eq!(
            ErrorCode::new([b'T', b'0', 0x80]),
            Err(DecodeError::InvalidErrorCode)
        );
    }

    #[test]
    fn amount_too_large_needs_sixteen_bytes() {
        assert_eq!(
            AmountTooLarge::decode(&[0; 15]),
            Err(DecodeError::UnexpectedEnd("maximumAmount"))
        );
        let mut long = AmountTooLarge {
            received: 7,
            maximum: 3,
        }
        .to_bytes()
        .to_vec();
        long.push(9);
        assert_eq!(
            AmountTooLarge::decode(&long),
            Ok(AmountTooLarge {
                received: 7,
                maximum: 3
            })
        );
    }
}
