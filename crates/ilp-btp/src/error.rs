//! The crate's decode error.

use ilp_packet::TimestampError;

/// Why a BTP frame could not be decoded (or, for the bounds and character checks, built).
///
/// Every variant names the field where decoding stopped. RFC 0023 says an unreadable frame gets
/// no BTP response (to avoid loops); a session drops it or closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// An OER error from [`ilp_packet::oer::Reader`]: the input ended inside the named field
    /// (`UnexpectedEnd`), or a length or VarUInt is not canonical. The peer sent a truncated or
    /// non-canonical frame; there is nothing to do but drop it.
    #[error(transparent)]
    Oer(#[from] ilp_packet::DecodeError),
    /// The type byte is not a BTP 2.0 type (1 Response, 2 Error, 6 Message, 7 Transfer), nor a
    /// BTP 1.0 one. The peer speaks another protocol.
    #[error("unknown BTP frame type {0}")]
    UnknownFrameType(u8),
    /// The type byte is a BTP 1.0 type (3 Prepare, 4 Fulfill, 5 Reject), which BTP 2.0 no longer
    /// uses. The peer speaks BTP 1.0; upgrade it (ILP packets now travel in Message frames).
    #[error("BTP 1.0 frame type {0} is not used in BTP 2.0")]
    LegacyFrameType(u8),
    /// The named IA5 field (`protocolName`, the Error's `code` or `name`) holds a byte
    /// of 0x80 or more. IA5 is 7-bit ASCII; send ASCII only.
    #[error("{0} is not IA5 (ASCII)")]
    NotAscii(&'static str),
    /// The Error's `triggeredAt` is not a valid GeneralizedTime `YYYYMMDDHHmmss[.f{1,3}]Z`
    /// (the wrapped error says which part is wrong).
    #[error("triggeredAt is not a valid GeneralizedTime: {0}")]
    InvalidTriggeredAt(TimestampError),
    /// The named field is longer than its bound: the whole `frame` is over
    /// [`MAX_FRAME_LEN`](crate::MAX_FRAME_LEN), or an Error's `data` is over
    /// [`MAX_ERROR_DATA_LEN`](crate::MAX_ERROR_DATA_LEN) (the ASN.1 bound). Send less.
    #[error("{field} is {len} bytes long; the maximum is {max}")]
    TooLong {
        /// Which field is too long.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
}

impl DecodeError {
    pub(crate) fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), Self> {
        if len > max {
            Err(Self::TooLong { field, len, max })
        } else {
            Ok(())
        }
    }

    pub(crate) fn check_ascii(field: &'static str, bytes: &[u8]) -> Result<(), Self> {
        if bytes.is_ascii() {
            Ok(())
        } else {
            Err(Self::NotAscii(field))
        }
    }
}
