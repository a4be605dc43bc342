//! Secrets and what is kept of them: the node's MAC key, minted tokens, token MACs and
//! credential ids.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::hmac_key::HmacKey;
use crate::{Error, RngError};

/// Random bytes in a minted [`Token`]: 32 (256 bits), 43 characters of base64url.
pub const TOKEN_BYTES: usize = 32;

/// The shortest accepted [`NodeKey`], in bytes.
pub const NODE_KEY_MIN_LEN: usize = 32;

/// Longest account or peer name (`AccountId`, `PeerId`), in bytes.
const MAX_NAME_LEN: usize = 128;

/// `N` random bytes, zeroed when dropped.
fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, Error> {
    let mut bytes = Zeroizing::new([0u8; N]);
    getrandom::fill(&mut bytes[..]).map_err(|e| Error::Rng(RngError(e)))?;
    Ok(bytes)
}

/// The node's secret MAC key: tokens are stored as HMAC-SHA256 under it ([`TokenMac`]), never
/// in plain text.
///
/// The embedder configures it and keeps it apart from the credential store: with the store
/// alone, the MACs are useless to an attacker (they can neither be reversed nor checked
/// against guesses without this key). Generate it once with [`NodeKey::generate`], save
/// [`NodeKey::expose_base64`] where the node keeps its other secrets (a file readable by the
/// node only, an environment variable, a secrets manager) and load it at start with
/// [`NodeKey::from_base64`]. Losing it invalidates every stored token (credentials must be
/// minted again); changing it does too.
///
/// `Debug` prints `NodeKey(<redacted>)`. The key, and the HMAC state derived from it, are
/// zeroed when dropped (each clone's own copy).
///
/// ```
/// use ilp_auth::NodeKey;
///
/// let key = NodeKey::generate()?;
/// let saved = key.expose_base64();          // keep this secret
/// let loaded = NodeKey::from_base64(&saved)?;
/// assert_eq!(key.mac("some token"), loaded.mac("some token"));
/// assert_eq!(format!("{key:?}"), "NodeKey(<redacted>)");
/// # Ok::<(), ilp_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct NodeKey {
    bytes: Zeroizing<Box<[u8]>>,
    /// Keyed once.
    mac: HmacKey,
}

// Both fields zero themselves on drop.
impl ZeroizeOnDrop for NodeKey {}

impl NodeKey {
    /// A new random 32-byte key from the operating system's generator.
    pub fn generate() -> Result<Self, Error> {
        Self::from_bytes(&random::<NODE_KEY_MIN_LEN>()?[..])
    }

    /// A key from its bytes: at least [`NODE_KEY_MIN_LEN`] bytes ([`Error::NodeKey`]
    /// otherwise).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < NODE_KEY_MIN_LEN {
            return Err(Error::NodeKey);
        }
        Ok(Self {
            bytes: Zeroizing::new(bytes.into()),
            mac: HmacKey::new(bytes),
        })
    }

    /// A key from base64 text (URL-safe or standard alphabet, padded or not), as
    /// [`NodeKey::expose_base64`] writes it.
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let text = text.trim().trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map(Zeroizing::new)
            .map_err(|_| Error::NodeKey)?;
        Self::from_bytes(&bytes)
    }

    /// The key as base64url text without padding, to be saved by the embedder. This is the
    /// secret: never log it. The text is zeroed when dropped.
    #[must_use]
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(&self.bytes[..]))
    }

    /// HMAC-SHA256 of `token` under this key: the form in which tokens are stored and looked
    /// up.
    #[must_use]
    pub fn mac(&self, token: &str) -> TokenMac {
        TokenMac(self.mac.mac(&[token.as_bytes()]))
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeKey(<redacted>)")
    }
}

/// A token minted by this crate: [`TOKEN_BYTES`] random bytes from the operating system's
/// generator, as base64url text without padding (43 characters, safe in URLs, headers and
/// BTP auth fields).
///
/// It is handed out once, when minted: the node keeps only its [`TokenMac`]. Give it to the
/// operator or peer with [`Token::expose`]. `Debug` prints `Token(<redacted>)`; there is no
/// `Display`, and no `==` (compare secrets in constant time, or better, through
/// [`NodeKey::mac`]). Its text is zeroed when dropped.
///
/// ```
/// use ilp_auth::Token;
///
/// let token = Token::generate()?;
/// assert_eq!(token.expose().len(), 43);
/// assert_eq!(format!("{token:?}"), "Token(<redacted>)");
/// # Ok::<(), ilp_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct Token(Zeroizing<String>);

impl ZeroizeOnDrop for Token {}

impl Token {
    /// A new random token.
    pub fn generate() -> Result<Self, Error> {
        let bytes = random::<TOKEN_BYTES>()?;
        Ok(Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..]))))
    }

    /// The token's text. This is the secret: hand it over, never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The token's text, consuming the token. The `String` is the caller's: it is not
    /// zeroed when dropped (keep the `Token`, or wrap it in `zeroize::Zeroizing`, if that
    /// matters).
    #[must_use]
    pub fn into_exposed(self) -> String {
        let mut text = self.0;
        std::mem::take(&mut *text)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// HMAC-SHA256 of a token under the [`NodeKey`]: what the store keeps instead of the token,
/// and the key it is looked up by. Equality is constant-time.
///
/// Not a secret on its own (without the node key it can be neither reversed nor checked), so
/// it may be persisted; `Debug` shows its first four bytes in hex. With the `serde` feature it
/// serializes as base64url text without padding.
#[derive(Clone, Copy, Eq)]
pub struct TokenMac([u8; 32]);

impl TokenMac {
    /// A MAC from its bytes (for example as read back from a database).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The MAC's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl ConstantTimeEq for TokenMac {
    fn ct_eq(&self, other: &Self) -> Choice {
        // As `names_eq`: OR of the XORs, word by word, with no branch on the data; then one
        // constant-time test. (subtle's byte-slice comparison puts each of the 32 bytes
        // through its optimization barrier, and the lookup by MAC compares at least once.)
        let mut diff = 0u64;
        for (x, y) in self.0.chunks_exact(8).zip(other.0.chunks_exact(8)) {
            let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
            diff |= word(x) ^ word(y);
        }
        diff.ct_eq(&0)
    }
}

impl PartialEq for TokenMac {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

// Consistent with the constant-time `PartialEq`: equal MACs have equal bytes.
impl std::hash::Hash for TokenMac {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, ..] = self.0;
        write!(f, "TokenMac({a:02x}{b:02x}{c:02x}{d:02x}..)")
    }
}

impl fmt::Display for TokenMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl FromStr for TokenMac {
    type Err = Error;

    /// Parses the base64url text (no padding) that `Display` writes.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| Error::Parse("TokenMac"))?;
        let bytes = <[u8; 32]>::try_from(bytes).map_err(|_| Error::Parse("TokenMac"))?;
        Ok(Self(bytes))
    }
}

/// The public name of a credential, to list and revoke it by: 16 characters of base64url
/// text, random, unrelated to the token. Not a secret.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(Box<str>);

impl CredentialId {
    /// A new random id (96 bits).
    pub fn generate() -> Result<Self, Error> {
        Ok(Self(URL_SAFE_NO_PAD.encode(random::<12>()?).into()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CredentialId {
    type Err = Error;

    /// Any 1 to 64 characters of `A-Z a-z 0-9 - _` (ids this crate makes, or an embedder's
    /// own).
    fn from_str(s: &str) -> Result<Self, Error> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.into()))
        } else {
            Err(Error::Parse("CredentialId"))
        }
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({:?})", &*self.0)
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    use super::{CredentialId, TokenMac};

    macro_rules! via_str {
        ($ty:ty) => {
            impl serde::Serialize for $ty {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_str(self)
                }
            }

            impl<'de> serde::Deserialize<'de> for $ty {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    let s = <String as serde::Deserialize>::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                }
            }
        };
    }

    via_str!(TokenMac);
    via_str!(CredentialId);
}

/// Whether two names are equal, in time that depends on neither name's content (only on the
/// fixed [`MAX_NAME_LEN`]). Names longer than that compare unequal to every valid name.
pub(crate) fn names_eq(a: &str, b: &str) -> Choice {
    let mut x = [0u8; MAX_NAME_LEN];
    let mut y = [0u8; MAX_NAME_LEN];
    let (a, b) = (a.as_bytes(), b.as_bytes());
    x[..a.len().min(MAX_NAME_LEN)].copy_from_slice(&a[..a.len().min(MAX_NAME_LEN)]);
    y[..b.len().min(MAX_NAME_LEN)].copy_from_slice(&b[..b.len().min(MAX_NAME_LEN)]);
    // OR of the XORs, word by word, with no branch on the data; then one constant-time test.
    let mut diff = 0u64;
    for (x, y) in x.chunks_exact(8).zip(y.chunks_exact(8)) {
        let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
        diff |= word(x) ^ word(y);
    }
    diff.ct_eq(&0) & (a.len() as u64).ct_eq(&(b.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_base64url() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(),
            TOKEN_BYTES
        );
    }

    #[test]
    fn node_key_is_checked_and_roundtrips() {
        assert!(matches!(NodeKey::from_bytes(&[1; 31]), Err(Error::NodeKey)));
        assert!(matches!(NodeKey::from_base64("!!"), Err(Error::NodeKey)));
        let key = NodeKey::from_bytes(&[1; 32]).unwrap();
        let again = NodeKey::from_base64(&key.expose_base64()).unwrap();
        assert_eq!(key.mac("t"), TokenMac(HmacKey::new(&[1; 32]).mac(&[b"t"])));
        assert_eq!(key.mac("t"), again.mac("t"));
        assert_ne!(key.mac("t"), key.mac("u"));
        let std_text = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert_eq!(
            NodeKey::from_base64(&std_text).unwrap().mac("t"),
            key.mac("t")
        );
    }

    #[test]
    fn mac_and_id_text_roundtrip() {
        let mac = NodeKey::from_bytes(&[2; 32]).unwrap().mac("x");
        assert_eq!(mac.to_string().parse::<TokenMac>().unwrap(), mac);
        assert!("abc".parse::<TokenMac>().is_err());
        let id = CredentialId::generate().unwrap();
        assert_eq!(id.as_str().len(), 16);
        assert_eq!(id.to_string().parse::<CredentialId>().unwrap(), id);
        assert!("a b".parse::<CredentialId>().is_err());
        assert!("".parse::<CredentialId>().is_err());
    }

    #[test]
    fn names_compare() {
        assert!(bool::from(names_eq("alice", "alice")));
        assert!(!bool::from(names_eq("alice", "alicf")));
        assert!(!bool::from(names_eq("alice", "alice\0")));
        assert!(!bool::from(names_eq("", "a")));
        assert!(bool::from(names_eq("", "")));
        let long = "a".repeat(200);
        assert!(!bool::from(names_eq(&long, &"a".repeat(128))));
    }

    #[test]
    fn macs_compare_every_byte() {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        let mac = TokenMac::from_bytes(bytes);
        assert!(bool::from(mac.ct_eq(&TokenMac::from_bytes(bytes))));
        assert_eq!(mac, TokenMac::from_bytes(bytes));
        for i in 0..32 {
            for bit in [0x01, 0x80] {
                let mut other = bytes;
                other[i] ^= bit;
                assert!(
                    !bool::from(mac.ct_eq(&TokenMac::from_bytes(other))),
                    "{i} {bit}"
                );
                assert_ne!(mac, TokenMac::from_bytes(other));
            }
        }
    }
}
