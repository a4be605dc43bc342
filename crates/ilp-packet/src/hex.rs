//! Lower-case hex, for `Debug`, `Display` and the JSON form. Private: the crate exports no hex API.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(feature = "serde")]
pub(crate) fn decode(s: &str) -> Result<Vec<u8>, &'static str> {
    fn nibble(c: u8) -> Result<u8, &'static str> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err("invalid hex digit"),
        }
    }
    let s = s.as_bytes();
    if s.len() % 2 != 0 {
        return Err("odd number of hex digits");
    }
    s.chunks_exact(2)
        .map(|p| Ok(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_lower_case() {
        assert_eq!(super::encode(&[0x00, 0xab, 0xff]), "00abff");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn decodes_and_refuses_bad_digits() {
        assert_eq!(super::decode("00aBff"), Ok(vec![0x00, 0xab, 0xff]));
        assert_eq!(super::decode("0"), Err("odd number of hex digits"));
        assert_eq!(super::decode("zz"), Err("invalid hex digit"));
    }
}
