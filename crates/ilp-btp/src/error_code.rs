//! BTP error codes (RFC 0023).

use std::fmt;
use std::str::FromStr;

use crate::DecodeError;

/// A three-character BTP error code, such as `F00`. Codes RFC 0023 does not list stay
/// representable; every code is IA5 (ASCII), checked on construction.
///
/// ```
/// use ilp_btp::ErrorCode;
///
/// let code: ErrorCode = "F00".parse()?;
/// assert_eq!(code, ErrorCode::F00_NOT_ACCEPTED);
/// assert_eq!(code.name(), Some("NotAcceptedError"));
/// assert_eq!(ErrorCode::new(*b"L13")?.name(), None);
/// # Ok::<(), ilp_btp::DecodeError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode([u8; 3]);

impl ErrorCode {
    /// T00: a temporary error; retry later (1 to 60 seconds, backing off).
    pub const T00_UNREACHABLE: Self = Self(*b"T00");
    /// F00: the request was understood but not accepted (also used for failed authentication).
    pub const F00_NOT_ACCEPTED: Self = Self(*b"F00");
    /// F01: a field is structurally invalid.
    pub const F01_INVALID_FIELDS: Self = Self(*b"F01");
    /// F03: the transfer it refers to does not exist.
    pub const F03_TRANSFER_NOT_FOUND: Self = Self(*b"F03");
    /// F04: the fulfillment does not match the condition.
    pub const F04_INVALID_FULFILLMENT: Self = Self(*b"F04");
    /// F05: the id was already used.
    pub const F05_DUPLICATE_ID: Self = Self(*b"F05");
    /// F06: the transfer was already rolled back.
    pub const F06_ALREADY_ROLLED_BACK: Self = Self(*b"F06");
    /// F07: the transfer was already fulfilled.
    pub const F07_ALREADY_FULFILLED: Self = Self(*b"F07");
    /// F08: the balance is too low.
    pub const F08_INSUFFICIENT_BALANCE: Self = Self(*b"F08");

    const NAMED: [(Self, &'static str); 9] = [
        (Self::T00_UNREACHABLE, "UnreachableError"),
        (Self::F00_NOT_ACCEPTED, "NotAcceptedError"),
        (Self::F01_INVALID_FIELDS, "InvalidFieldsError"),
        (Self::F03_TRANSFER_NOT_FOUND, "TransferNotFoundError"),
        (Self::F04_INVALID_FULFILLMENT, "InvalidFulfillmentError"),
        (Self::F05_DUPLICATE_ID, "DuplicateIdError"),
        (Self::F06_ALREADY_ROLLED_BACK, "AlreadyRolledBackError"),
        (Self::F07_ALREADY_FULFILLED, "AlreadyFulfilledError"),
        (Self::F08_INSUFFICIENT_BALANCE, "InsufficientBalanceError"),
    ];

    /// A code from its three bytes; [`DecodeError::NotAscii`] unless they are IA5 (ASCII).
    pub fn new(bytes: [u8; 3]) -> Result<Self, DecodeError> {
        DecodeError::check_ascii("code", &bytes)?;
        Ok(Self(bytes))
    }

    /// The three bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 3] {
        &self.0
    }

    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII is checked on construction")
    }

    /// The RFC 0023 name that goes with the code (the Error's `name` field), such as
    /// `NotAcceptedError` for F00; `None` for a code RFC 0023 does not list.
    #[must_use]
    pub fn name(&self) -> Option<&'static str> {
        Self::NAMED
            .iter()
            .find(|(code, _)| code == self)
            .map(|&(_, name)| name)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorCode({})", self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = DecodeError;

    /// Parses three ASCII characters (fewer is `UnexpectedEnd`, more is `TooLong`, as when
    /// decoding).
    fn from_str(s: &str) -> Result<Self, DecodeError> {
        DecodeError::check_len("code", s.len(), 3)?;
        let bytes = <[u8; 3]>::try_from(s.as_bytes())
            .map_err(|_| ilp_packet::DecodeError::UnexpectedEnd("code"))?;
        Self::new(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rfc_code_has_its_name() {
        let names: Vec<_> = ErrorCode::NAMED
            .iter()
            .map(|(c, _)| format!("{c}={}", c.name().unwrap()))
            .collect();
        assert_eq!(names[0], "T00=UnreachableError");
        assert_eq!(names[8], "F08=InsufficientBalanceError");
        assert_eq!(ErrorCode::new(*b"F02").unwrap().name(), None);
    }

    #[test]
    fn decode_non_ascii_code_is_rejected() {
        assert_eq!(
            ErrorCode::new([b'F', 0x80, b'0']),
            Err(DecodeError::NotAscii("code"))
        );
        assert_eq!(
            "F000".parse::<ErrorCode>(),
            Err(DecodeError::TooLong {
                field: "code",
                len: 4,
                max: 3
            })
        );
        assert_eq!(
            "F0".parse::<ErrorCode>(),
            Err(ilp_packet::DecodeError::UnexpectedEnd("code").into())
        );
    }
}
