//! The crate's error types.

use crate::ErrorCode;

/// Why an ILP address was refused (RFC 0015).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The address is empty. An address needs a scheme and at least one segment.
    #[error("address is empty")]
    Empty,
    /// The address is longer than 1023 bytes (the RFC 0015 maximum).
    #[error("address is {0} bytes long; the maximum is 1023")]
    TooLong(usize),
    /// The first segment is not one of the RFC 0015 schemes (`g`, `private`, `example`, `peer`,
    /// `self`, `test`, `test1`, `test2`, `test3`, `local`). Schemes are case-sensitive.
    #[error("address does not start with a known scheme")]
    InvalidScheme,
    /// The address is a bare scheme: it needs at least one `.segment` after it.
    #[error("address has no segment after its scheme")]
    MissingSegment,
    /// Two dots in a row, or a trailing dot: segments are at least one character long.
    #[error("address has an empty segment at byte {0}")]
    EmptySegment(usize),
    /// A byte other than `A-Z a-z 0-9 _ ~ -` (or the `.` separator) was found at this index.
    #[error("address has an invalid character at byte {0}")]
    InvalidCharacter(usize),
}

/// Why an ILP timestamp was refused (RFC 0027 / RFC 0030 fixed-length `YYYYMMDDHHmmssfff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The text has the wrong length or layout (the wire form is exactly 17 ASCII digits; the
    /// text form is `YYYY-MM-DDTHH:MM:SS.mmmZ`).
    #[error("timestamp has the wrong length or layout")]
    InvalidFormat,
    /// A byte that should be an ASCII digit is not one (spaces and signs are refused).
    #[error("timestamp has a non-digit at byte {0}")]
    NotDigit(usize),
    /// The named field is out of range: month 1-12, day within the month, hour 0-23,
    /// minute 0-59, second 0-59 (leap seconds must be smeared), millisecond 0-999.
    #[error("timestamp {0} is out of range")]
    OutOfRange(&'static str),
    /// The instant lies outside the years 0000-9999 that the wire form can carry.
    #[error("timestamp is outside the years 0000-9999")]
    YearOutOfRange,
}

/// Why a packet or message could not be decoded (or, for the length bounds, built).
///
/// Every variant names the field where decoding stopped. A connector answers any of these with
/// an `F01 Invalid Packet` reject: see [`DecodeError::reject_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside the named field: the packet is truncated, or a length prefix
    /// promises more bytes than there are.
    #[error("input ended inside {0}")]
    UnexpectedEnd(&'static str),
    /// A length determinant used the indefinite form `0x80`, which OER does not allow.
    #[error("{0} has an indefinite length (0x80)")]
    IndefiniteLength(&'static str),
    /// A length determinant says its length takes more than 8 bytes.
    #[error("{0} has a length-of-length over 8")]
    LengthTooLarge(&'static str),
    /// A length determinant was not minimal: the long form for a length under 128, or a long
    /// form with a leading zero byte. Canonical OER (RFC 0030) forbids both.
    #[error("{0} has a non-canonical length")]
    NonCanonicalLength(&'static str),
    /// A variable-length unsigned integer has zero content bytes.
    #[error("{0} is a VarUInt of length 0")]
    VarUIntEmpty(&'static str),
    /// A variable-length unsigned integer has more than 8 content bytes (does not fit a u64).
    #[error("{0} is a VarUInt longer than 8 bytes")]
    VarUIntTooLarge(&'static str),
    /// A variable-length unsigned integer starts with a zero byte (non-canonical).
    #[error("{0} is a VarUInt with a leading zero byte")]
    VarUIntLeadingZero(&'static str),
    /// The first byte is not an ILP packet type (12 Prepare, 13 Fulfill, 14 Reject). The input
    /// is not an ILPv4 packet: check that it is not a BTP frame or an older ILP version.
    #[error("unknown packet type {0} (expected 12 Prepare, 13 Fulfill or 14 Reject)")]
    UnknownPacketType(u8),
    /// The packet is a valid ILP packet type, but not the one the caller asked for (for example
    /// a Fulfill given to `Prepare::decode`). Decode it with `Packet::decode`, or as the kind
    /// the input really is.
    #[error(
        "expected packet type {expected} ({}), found {found} ({})",
        type_name(*expected),
        type_name(*found)
    )]
    UnexpectedPacketType {
        /// The type byte the caller asked for.
        expected: u8,
        /// The type byte in the input.
        found: u8,
    },
    /// The named field is not a valid ILP address.
    #[error("{field} is not a valid ILP address: {source}")]
    InvalidAddress {
        /// Which field held the address.
        field: &'static str,
        /// What is wrong with it.
        source: AddressError,
    },
    /// The Prepare's `expiresAt` is not a valid timestamp.
    #[error("expiresAt is not a valid timestamp: {0}")]
    InvalidTimestamp(#[from] TimestampError),
    /// A Reject's code contains a byte outside IA5 (ASCII). Use a code of three ASCII
    /// characters, such as `F02`.
    #[error("error code is not IA5 (ASCII)")]
    InvalidErrorCode,
    /// An error code parsed from text is not 3 bytes long (the length found is given). ILP codes
    /// are exactly three ASCII characters, such as `F02` or `T04`.
    #[error("error code is {0} bytes long; it must be exactly 3 ASCII characters, such as F02")]
    ErrorCodeLength(usize),
    /// The named hex text has a character that is not a hex digit (`0-9`, `a-f`, `A-F`) at
    /// this character index; spaces and `0x` prefixes are not allowed. Remove it.
    #[error("{field} has {found:?} at character {at}, which is not a hex digit")]
    InvalidHexDigit {
        /// Which field or input held the text.
        field: &'static str,
        /// The character found.
        found: char,
        /// Its index, counted in characters from 0.
        at: usize,
    },
    /// The named hex text has an odd number of digits (given): every byte takes two. Add the
    /// missing digit (for example a leading `0`).
    #[error("{field} has an odd number of hex digits ({len})")]
    OddHexLength {
        /// Which field or input held the text.
        field: &'static str,
        /// The number of digits.
        len: usize,
    },
    /// The named field has a fixed length and the input has another: a condition or a
    /// fulfillment is exactly 32 bytes (64 hex digits).
    #[error("{field} is {len} bytes long; it must be exactly {expected} bytes")]
    WrongLength {
        /// Which field.
        field: &'static str,
        /// The length found, in bytes.
        len: usize,
        /// The length the field must have.
        expected: usize,
    },
    /// The named text field is not valid UTF-8.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// The named field must be ASCII (route prefixes and paths are ILP addresses or prefixes of
    /// them) and is not.
    #[error("{0} is not ASCII")]
    NotAscii(&'static str),
    /// The named field is longer than its ASN.1 bound (data 32767, message 8191 bytes).
    #[error("{field} is {len} bytes long; the maximum is {max}")]
    TooLong {
        /// Which field is too long.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The named field does not hold the value the protocol fixes (for example an IL-DCP request
    /// whose destination is not `peer.config`, or a CCP message with the wrong condition).
    #[error("{0} does not hold the value the protocol requires")]
    UnexpectedValue(&'static str),
    /// A CCP route control request has a mode other than 0 (idle) or 1 (sync).
    #[error("unknown CCP mode {0}")]
    UnknownMode(u8),
}

impl DecodeError {
    /// The ILP error code a node answers a packet with when it fails to decode: always
    /// [`ErrorCode::F01_INVALID_PACKET`]. This is the one place that mapping is made.
    #[must_use]
    pub const fn reject_code(&self) -> ErrorCode {
        ErrorCode::F01_INVALID_PACKET
    }
}

/// The name of an ILP packet type byte, for error messages.
fn type_name(byte: u8) -> &'static str {
    crate::PacketType::try_from(byte).map_or("unknown", crate::PacketType::name)
}

impl From<(&'static str, AddressError)> for DecodeError {
    fn from((field, source): (&'static str, AddressError)) -> Self {
        Self::InvalidAddress { field, source }
    }
}
