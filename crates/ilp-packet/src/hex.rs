//! Lower-case hex, as `ilp-inspect`, the JSON form, `Display` and `FromStr` of [`Condition`]
//! and [`Fulfillment`] use it.
//!
//! ```
//! use ilp_packet::{hex, DecodeError};
//!
//! assert_eq!(hex::decode("0d21")?, [0x0d, 0x21]);
//! assert_eq!(hex::encode(&[0x0d, 0x21]), "0d21");
//! assert_eq!(
//!     hex::decode("0d 21"),
//!     Err(DecodeError::InvalidHexDigit { field: "hex", found: ' ', at: 2 })
//! );
//! assert_eq!(hex::decode("0d2"), Err(DecodeError::OddHexLength { field: "hex", len: 3 }));
//! # Ok::<(), DecodeError>(())
//! ```
//!
//! [`Condition`]: crate::Condition
//! [`Fulfillment`]: crate::Fulfillment

use crate::DecodeError;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lower-case hex, two digits a byte.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses hex (either case, two digits a byte, nothing else: no spaces, no `0x`). Errors
/// name the input `hex`: [`DecodeError::InvalidHexDigit`] for the first character that is
/// not a hex digit (checked first, so `"0d 21"` is reported as a space, not as an odd
/// length), then [`DecodeError::OddHexLength`].
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    decode_field("hex", text)
}

/// [`decode`], naming `field` in the error.
pub(crate) fn decode_field(field: &'static str, text: &str) -> Result<Vec<u8>, DecodeError> {
    if let Some((at, found)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(DecodeError::InvalidHexDigit { field, found, at });
    }
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(DecodeError::OddHexLength {
            field,
            len: digits.len(),
        });
    }
    Ok(digits
        .chunks_exact(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect())
}

/// Parses exactly `N` bytes of hex, naming `field` in the error.
pub(crate) fn decode_array<const N: usize>(
    field: &'static str,
    text: &str,
) -> Result<[u8; N], DecodeError> {
    let bytes = decode_field(field, text)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| DecodeError::WrongLength {
        field,
        len: bytes.len(),
        expected: N,
    })
}

/// The value of an ASCII hex digit (checked by the caller).
const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lower_case() {
        assert_eq!(encode(&[0x00, 0xab, 0xff]), "00abff");
    }

    #[test]
    fn decodes_either_case_and_names_what_is_wrong() {
        assert_eq!(decode("00aBfF"), Ok(vec![0x00, 0xab, 0xff]));
        assert_eq!(decode(""), Ok(vec![]));
        assert_eq!(
            decode_field("data", "0"),
            Err(DecodeError::OddHexLength {
                field: "data",
                len: 1
            })
        );
        assert_eq!(
            decode("zz"),
            Err(DecodeError::InvalidHexDigit {
                field: "hex",
                found: 'z',
                at: 0
            })
        );
        // The index counts characters, not bytes.
        assert_eq!(
            decode("éa"),
            Err(DecodeError::InvalidHexDigit {
                field: "hex",
                found: 'é',
                at: 0
            })
        );
        assert_eq!(
            decode("0x12"),
            Err(DecodeError::InvalidHexDigit {
                field: "hex",
                found: 'x',
                at: 1
            })
        );
        assert_eq!(
            decode_array::<2>("fulfillment", "aabbcc"),
            Err(DecodeError::WrongLength {
                field: "fulfillment",
                len: 3,
                expected: 2
            })
        );
        assert_eq!(decode_array::<2>("f", "aabb"), Ok([0xaa, 0xbb]));
    }
}
