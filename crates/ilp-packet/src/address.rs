//! ILP addresses (RFC 0015).

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::AddressError;

/// The RFC 0015 allocation schemes, in the order the RFC lists them.
pub const SCHEMES: [&str; 10] = [
    "g", "private", "example", "peer", "self", "test", "test1", "test2", "test3", "local",
];

/// A valid ILP address (RFC 0015): a scheme, then one or more `.`-separated segments of
/// `A-Z a-z 0-9 _ ~ -`, 1 to 1023 bytes in all. Case-sensitive.
///
/// An `Address` is a view into shared bytes: cloning it, or decoding one out of a packet, copies
/// nothing. It is valid by construction.
///
/// ```
/// use ilp_packet::Address;
///
/// let parent: Address = "g.parent".parse()?;
/// let child = parent.with_suffix("child")?;
/// assert_eq!(child.as_str(), "g.parent.child");
/// assert_eq!(child.scheme(), "g");
/// assert!("g..a".parse::<Address>().is_err());
/// # Ok::<(), ilp_packet::AddressError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(Bytes);

impl Address {
    /// The longest address RFC 0015 allows, in bytes.
    pub const MAX_LEN: usize = 1023;

    /// An address from a string literal.
    ///
    /// # Panics
    /// When `s` is not a valid address; meant for constants written in source code.
    #[must_use]
    pub fn from_static(s: &'static str) -> Self {
        match validate(s.as_bytes()) {
            Ok(()) => Self(Bytes::from_static(s.as_bytes())),
            Err(e) => panic!("invalid ILP address literal {s:?}: {e}"),
        }
    }

    /// The address as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Validation admitted ASCII only, so this cannot fail; the check keeps the crate
        // free of `unsafe` and costs one pass over at most 1023 bytes.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The address as bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying bytes (shares the buffer; copies nothing).
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        self.0.clone()
    }

    /// The underlying bytes.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes (1 to 1023).
    #[must_use]
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The allocation scheme: the first segment (`g`, `test`, `peer`, ...).
    #[must_use]
    pub fn scheme(&self) -> &str {
        self.segments().next().unwrap_or_default()
    }

    /// The segments, scheme first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.as_str().split('.')
    }

    /// This address with `.segment` appended, as IL-DCP gives a child its address. Errors when
    /// `segment` is not a valid segment or the result would be too long.
    pub fn with_suffix(&self, segment: &str) -> Result<Self, AddressError> {
        let mut joined = Vec::with_capacity(self.len() + 1 + segment.len());
        joined.extend_from_slice(&self.0);
        joined.push(b'.');
        joined.extend_from_slice(segment.as_bytes());
        Self::try_from(Bytes::from(joined))
    }

    /// Whether this address lies under `prefix` segment by segment: `g.alice` is under `g` and
    /// under `g.alice`, but not under `g.ali`.
    #[must_use]
    pub fn is_under(&self, prefix: &str) -> bool {
        let bytes = self.as_bytes();
        bytes.starts_with(prefix.as_bytes())
            && (bytes.len() == prefix.len() || bytes[prefix.len()] == b'.')
    }

    /// Wraps bytes that were already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(validate(&bytes).is_ok());
        Self(bytes)
    }
}

/// The bytes allowed inside a segment: `A-Z a-z 0-9 _ ~ -`.
const SEGMENT_CHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'~' | b'-');
        b += 1;
    }
    table
};

/// Checks `bytes` against RFC 0015 without a regex: length, scheme allow-list, segment charset.
pub(crate) fn validate(bytes: &[u8]) -> Result<(), AddressError> {
    if bytes.is_empty() {
        return Err(AddressError::Empty);
    }
    if bytes.len() > Address::MAX_LEN {
        return Err(AddressError::TooLong(bytes.len()));
    }
    let scheme_end = bytes.iter().position(|&b| b == b'.');
    let scheme = &bytes[..scheme_end.unwrap_or(bytes.len())];
    if !SCHEMES.iter().any(|s| s.as_bytes() == scheme) {
        return Err(AddressError::InvalidScheme);
    }
    let Some(scheme_end) = scheme_end else {
        return Err(AddressError::MissingSegment);
    };
    // `prev_dot` is true right after a separator: a segment must start there.
    let mut prev_dot = true;
    for (i, &b) in bytes.iter().enumerate().skip(scheme_end + 1) {
        if SEGMENT_CHAR[usize::from(b)] {
            prev_dot = false;
        } else if b != b'.' {
            return Err(AddressError::InvalidCharacter(i));
        } else if prev_dot {
            return Err(AddressError::EmptySegment(i));
        } else {
            prev_dot = true;
        }
    }
    if prev_dot {
        return Err(AddressError::EmptySegment(bytes.len()));
    }
    Ok(())
}

impl TryFrom<Bytes> for Address {
    type Error = AddressError;

    fn try_from(bytes: Bytes) -> Result<Self, AddressError> {
        validate(&bytes)?;
        Ok(Self(bytes))
    }
}

impl TryFrom<&[u8]> for Address {
    type Error = AddressError;

    fn try_from(bytes: &[u8]) -> Result<Self, AddressError> {
        validate(bytes)?;
        Ok(Self(Bytes::copy_from_slice(bytes)))
    }
}

impl TryFrom<&str> for Address {
    type Error = AddressError;

    fn try_from(s: &str) -> Result<Self, AddressError> {
        Self::try_from(s.as_bytes())
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;

    fn try_from(s: String) -> Result<Self, AddressError> {
        Self::try_from(Bytes::from(s))
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        Self::try_from(s)
    }
}

impl AsRef<str> for Address {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Address {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Address {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({:?})", self.as_str())
    }
}

serde_via_str!(Address);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_parse() {
        for s in [
            "g.a",
            "test3.x",
            "peer.route.control",
            "example.x~y_z-1",
            "g.A_b~C-9",
        ] {
            assert_eq!(
                s.parse::<Address>().map(|a| a.to_string()),
                Ok(s.to_string())
            );
        }
        let longest = format!("g.{}", "a".repeat(1021));
        assert_eq!(longest.parse::<Address>().map(|a| a.len()), Ok(1023));
    }

    #[test]
    fn decode_invalid_addresses_is_rejected() {
        let cases: &[(&str, AddressError)] = &[
            ("", AddressError::Empty),
            ("g", AddressError::MissingSegment),
            ("peer", AddressError::MissingSegment),
            ("g.", AddressError::EmptySegment(2)),
            ("g..a", AddressError::EmptySegment(2)),
            ("g.a.", AddressError::EmptySegment(4)),
            (".g.a", AddressError::InvalidScheme),
            ("G.a", AddressError::InvalidScheme),
            ("test4.a", AddressError::InvalidScheme),
            ("g.a b", AddressError::InvalidCharacter(3)),
            ("g.a\n", AddressError::InvalidCharacter(3)),
            ("g.ä", AddressError::InvalidCharacter(2)),
            ("g.a/b", AddressError::InvalidCharacter(3)),
        ];
        for (s, err) in cases {
            assert_eq!(s.parse::<Address>(), Err(*err), "{s:?}");
        }
        let too_long = format!("g.{}", "a".repeat(1022));
        assert_eq!(
            too_long.parse::<Address>(),
            Err(AddressError::TooLong(1024))
        );
    }

    #[test]
    fn suffix_and_prefix_helpers() {
        let a = Address::from_static("g.alice");
        assert_eq!(
            a.with_suffix("x").map(|a| a.to_string()),
            Ok("g.alice.x".into())
        );
        assert_eq!(
            a.with_suffix("x.y").map(|a| a.to_string()),
            Ok("g.alice.x.y".into())
        );
        assert_eq!(a.with_suffix(""), Err(AddressError::EmptySegment(8)));
        assert!(a.is_under("g") && a.is_under("g.alice") && !a.is_under("g.ali"));
        assert_eq!(a.segments().collect::<Vec<_>>(), ["g", "alice"]);
    }
}
