//! JWT HS256: the `JWT_HS_256` HTTP auth profile (interledger/rfcs
//! `proposals/0000-http-auth-profiles`, as interledger4j implements it).
//!
//! A bearer token is a JWT signed with HMAC-SHA256 under a secret both sides share
//! ([`JwtKey`]). [`verify`] checks an incoming token; [`JwtMinter`] mints (and caches) the
//! outgoing one.
//!
//! What [`verify`] accepts, strictly:
//!
//! - at most [`MAX_TOKEN_LEN`] bytes, three segments `header.payload.signature`, each base64url
//!   without padding (no `=`, no `+` or `/`, no whitespace, canonical trailing bits);
//! - a header that is a JSON object with `alg` exactly `"HS256"` (so never `"none"`, nor
//!   another algorithm, nor a missing `alg`), `typ`, if present, `"JWT"` (ASCII case
//!   insensitive, as RFC 7519 §5.1 allows), and no `crit`;
//! - an HMAC-SHA256 signature, checked in constant time before anything in the payload is read;
//! - a payload that is a JSON object with a numeric `exp` (the profile makes it mandatory),
//!   not past (`now > exp + leeway` is expired), `nbf` and `iat`, when present, numeric and not
//!   later than `now + leeway`, and `sub`, when present, a string equal to the expected
//!   subject; without `sub` the token is refused unless [`JwtConfig::require_subject`] is
//!   off (ilp-plugin-http sends `iat` and `exp` only). `iss` and `aud` are not checked, as
//!   interledger4j does not check them.
//!
//! Time claims are NumericDate (RFC 7519 §2): seconds since the Unix epoch, integer or not;
//! comparisons against `now` are exact to the millisecond.
//!
//! ```
//! use ilp_auth::jwt::{self, Claims, JwtConfig, JwtError, JwtKey};
//! use ilp_packet::Timestamp;
//!
//! let key = JwtKey::new([7u8; 32])?;
//! let token = jwt::mint(&key, &Claims { sub: Some("alice".into()), exp: 2_000_000_000, iat: None });
//! let now = Timestamp::from_unix_millis(1_999_999_000_000).unwrap();
//! let claims = jwt::verify(&token, &key, "alice", now, &JwtConfig::default())?;
//! assert_eq!(claims.exp, 2_000_000_000);
//! assert_eq!(
//!     jwt::verify(&token, &key, "bob", now, &JwtConfig::default()),
//!     Err(JwtError::WrongSubject)
//! );
//! # Ok::<(), JwtError>(())
//! ```

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ilp_packet::Timestamp;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::hmac_key::HmacKey;

/// The shortest accepted key, in bytes: the output size of SHA-256 (RFC 7518 §3.2).
pub const MIN_KEY_LEN: usize = 32;

/// The longest accepted token, in bytes; longer ones are refused before decoding
/// ([`JwtError::TooLarge`]).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The header every minted token carries.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Why a token (or a key) was refused. Messages never contain a token or a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a well-formed JWT: not three segments, bad base64url, a header or payload that is
    /// not a JSON object, a wrong `typ`, a `crit` header, or a claim of the wrong type.
    #[error("malformed JWT")]
    Malformed,
    /// The header's `alg` is missing or not `HS256`.
    #[error("unsupported JWT algorithm (only HS256 is accepted)")]
    UnsupportedAlgorithm,
    /// The signature does not match the key.
    #[error("invalid JWT signature")]
    BadSignature,
    /// No numeric, non-negative `exp` claim (the profile requires one).
    #[error("JWT has no valid exp claim")]
    MissingExpiry,
    /// `exp` (plus leeway) has passed.
    #[error("JWT expired")]
    Expired,
    /// `nbf` or `iat` is later than now (plus leeway).
    #[error("JWT not yet valid")]
    NotYetValid,
    /// `sub` is not the expected subject.
    #[error("JWT subject does not match")]
    WrongSubject,
    /// No `sub`, and the configuration requires one.
    #[error("JWT has no sub claim")]
    MissingSubject,
    /// A key shorter than [`MIN_KEY_LEN`] bytes.
    #[error("JWT HS256 key shorter than 32 bytes")]
    KeyTooShort,
    /// A token longer than [`MAX_TOKEN_LEN`] bytes.
    #[error("JWT too large")]
    TooLarge,
    /// The operating system's random number generator failed ([`JwtKey::try_generate`]).
    #[error("OS random number generator failed")]
    Rng,
}

/// An HS256 shared secret of at least [`MIN_KEY_LEN`] bytes.
///
/// `Debug` prints `JwtKey(<redacted>)`. The key, and the HMAC state derived from it, are
/// zeroed when dropped (each clone's own copy). With the `serde` feature the key serializes
/// as its base64url text (no padding): the serialized form **is the secret**, so whoever
/// persists it must protect it as such.
#[derive(Clone)]
pub struct JwtKey {
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    bytes: Zeroizing<Box<[u8]>>,
    /// The MAC keyed once.
    mac: HmacKey,
}

// Both fields zero themselves on drop.
impl ZeroizeOnDrop for JwtKey {}

impl JwtKey {
    /// A key from its bytes; [`JwtError::KeyTooShort`] under [`MIN_KEY_LEN`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, JwtError> {
        let bytes = Zeroizing::new(bytes.into().into_boxed_slice());
        if bytes.len() < MIN_KEY_LEN {
            return Err(JwtError::KeyTooShort);
        }
        let mac = HmacKey::new(&bytes);
        Ok(Self { bytes, mac })
    }

    /// A new random 32-byte key from the operating system's generator.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails; see [`Self::try_generate`].
    #[must_use]
    pub fn generate() -> Self {
        Self::try_generate().expect("the OS random number generator failed")
    }

    /// A new random 32-byte key; [`JwtError::Rng`] if the OS generator fails.
    pub fn try_generate() -> Result<Self, JwtError> {
        let mut bytes = Zeroizing::new(vec![0u8; MIN_KEY_LEN]);
        getrandom::fill(&mut bytes).map_err(|_| JwtError::Rng)?;
        Self::new(std::mem::take(&mut *bytes))
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKey(<redacted>)")
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for JwtKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Zeroizing::new(URL_SAFE_NO_PAD.encode(&self.bytes[..])))
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for JwtKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let text = Zeroizing::new(String::deserialize(deserializer)?);
        let mut bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| D::Error::custom("JWT key: not base64url without padding"))?;
        Self::new(std::mem::take(&mut *bytes)).map_err(D::Error::custom)
    }
}

/// How [`verify`] judges time and subject.
///
/// ```
/// use std::time::Duration;
/// use ilp_auth::jwt::JwtConfig;
///
/// let config = JwtConfig::default().with_leeway(Duration::ZERO).with_require_subject(false);
/// assert_eq!(config.leeway, Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwtConfig {
    /// Allowed clock skew: a token is expired when `now > exp + leeway`, and not yet valid
    /// when `nbf` or `iat` is after `now + leeway`. Default [`JwtConfig::DEFAULT_LEEWAY`]
    /// (5 s). Counted in whole milliseconds.
    pub leeway: Duration,
    /// Refuse tokens without `sub` ([`JwtError::MissingSubject`]). Default `true`, as the
    /// profile asks; `false` accepts ilp-plugin-http's tokens (`iat` and `exp` only). A `sub`
    /// that is present must match either way.
    pub require_subject: bool,
}

impl JwtConfig {
    /// The default leeway: 5 seconds.
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

    /// The defaults: 5 s leeway, subject required.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            leeway: Self::DEFAULT_LEEWAY,
            require_subject: true,
        }
    }

    /// Sets [`Self::leeway`].
    #[must_use]
    pub const fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Sets [`Self::require_subject`].
    #[must_use]
    pub const fn with_require_subject(mut self, require_subject: bool) -> Self {
        self.require_subject = require_subject;
        self
    }
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The claims this profile uses. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The subject: the account the token is for at the receiver.
    pub sub: Option<String>,
    /// Expiry. From [`verify`], a fractional `exp` is rounded down.
    pub exp: u64,
    /// Issued at. From [`verify`], a fractional `iat` is rounded down.
    pub iat: Option<u64>,
}

/// Verifies `token` with `key` at time `now` and returns its claims.
///
/// `now` is the current time (from an [`ilp_core::Clock`]). `expected_subject` is the subject the token must carry
/// (`sub`); see the [module documentation](self) for every rule.
///
/// Checks run in this order, and the first failure is returned: size, structure and base64url
/// ([`JwtError::TooLarge`], [`JwtError::Malformed`]), header, signature, payload structure,
/// `exp` presence, expiry, `nbf`, `iat`, `sub`.
pub fn verify(
    token: &str,
    key: &JwtKey,
    expected_subject: &str,
    now: Timestamp,
    config: &JwtConfig,
) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = decode_segment(header_b64)?;
    let payload = decode_segment(payload_b64)?;
    let signature = decode_segment(signature_b64)?;

    check_header(&parse_object(&header)?)?;

    let expected = key
        .mac
        .mac(&[header_b64.as_bytes(), b".", payload_b64.as_bytes()]);
    // Constant time; a signature of another length is unequal.
    if !bool::from(expected[..].ct_eq(&signature[..])) {
        return Err(JwtError::BadSignature);
    }

    let claims = parse_object(&payload)?;
    let now_ms = i128::from(now.unix_millis());
    let leeway_ms = i128::try_from(config.leeway.as_millis()).unwrap_or(i128::MAX);

    let exp_ms = claims
        .get("exp")
        .and_then(|v| numeric_date_ms(v, Round::Down))
        .ok_or(JwtError::MissingExpiry)?;
    if now_ms > exp_ms.saturating_add(leeway_ms) {
        return Err(JwtError::Expired);
    }
    let not_later_than_now = |name: &str| -> Result<Option<i128>, JwtError> {
        let Some(value) = claims.get(name) else {
            return Ok(None);
        };
        let ms = numeric_date_ms(value, Round::Up).ok_or(JwtError::Malformed)?;
        if ms > now_ms.saturating_add(leeway_ms) {
            return Err(JwtError::NotYetValid);
        }
        Ok(Some(ms))
    };
    not_later_than_now("nbf")?;
    let iat_ms = not_later_than_now("iat")?;

    let sub = match claims.get("sub") {
        Some(Value::String(sub)) if sub == expected_subject => Some(sub.clone()),
        Some(Value::String(_)) => return Err(JwtError::WrongSubject),
        Some(_) => return Err(JwtError::Malformed),
        None if config.require_subject => return Err(JwtError::MissingSubject),
        None => None,
    };

    Ok(Claims {
        sub,
        exp: ms_to_secs(exp_ms),
        iat: iat_ms.map(ms_to_secs),
    })
}

/// Mints a token for `claims` with `key`: header `{"alg":"HS256","typ":"JWT"}`, payload
/// `sub` (when set), `exp`, and `iat` (when set), in that order.
#[must_use]
pub fn mint(key: &JwtKey, claims: &Claims) -> String {
    let mut payload = String::with_capacity(64);
    payload.push('{');
    if let Some(sub) = &claims.sub {
        payload.push_str("\"sub\":");
        // A string always serializes.
        payload.push_str(&serde_json::to_string(sub).unwrap_or_default());
        payload.push(',');
    }
    payload.push_str(&format!("\"exp\":{}", claims.exp));
    if let Some(iat) = claims.iat {
        payload.push_str(&format!(",\"iat\":{iat}"));
    }
    payload.push('}');

    let mut token = URL_SAFE_NO_PAD.encode(HEADER_JSON);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.mac.mac(&[token.as_bytes()]);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// Mints outgoing tokens and caches them.
///
/// A token carries `sub` (when a subject is configured), `exp` = now + lifetime (rounded up
/// to the second) and `iat` = now (rounded down), which is what interledger4j's verifier
/// expects (`sub` and `exp`). [`JwtMinter::token`] returns the cached token while less than
/// half its lifetime has passed, and mints a fresh one after. `Debug` shows neither the key
/// nor the token; both are zeroed when dropped (the key, and the cached token when it is
/// replaced or the minter dropped; the copies [`token`](Self::token) returns are the
/// caller's).
pub struct JwtMinter {
    key: JwtKey,
    subject: Option<String>,
    lifetime: Duration,
    cached: Mutex<Option<Cached>>,
}

impl ZeroizeOnDrop for JwtMinter {}

struct Cached {
    token: Zeroizing<String>,
    minted_at_ms: i128,
    refresh_at_ms: i128,
}

impl JwtMinter {
    /// A suggested lifetime: 60 seconds (short, as the profile recommends ≤ 5 min).
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

    /// A minter signing with `key`, naming `subject` (the account at the receiver) if set,
    /// for tokens valid `lifetime` (at least one second: shorter values count as one second).
    #[must_use]
    pub fn new(key: JwtKey, subject: Option<String>, lifetime: Duration) -> Self {
        Self {
            key,
            subject,
            lifetime: lifetime.max(Duration::from_secs(1)),
            cached: Mutex::new(None),
        }
    }

    /// The subject tokens carry.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// How long each token is valid.
    #[must_use]
    pub const fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A token valid at `now` (from an [`ilp_core::Clock`]): the cached one while less than half its lifetime has
    /// passed, else a fresh one. A clock that moved backwards also gets a fresh one.
    pub fn token(&self, now: Timestamp) -> String {
        let now_ms = i128::from(now.unix_millis());
        {
            let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = cached.as_ref() {
                if c.minted_at_ms <= now_ms && now_ms < c.refresh_at_ms {
                    return String::clone(&c.token);
                }
            }
        }
        // Minted outside the lock; two racing callers may both mint, which is harmless.
        let lifetime_ms = i128::try_from(self.lifetime.as_millis()).unwrap_or(i128::MAX / 4);
        let claims = Claims {
            sub: self.subject.clone(),
            exp: ms_to_secs_ceil(now_ms.saturating_add(lifetime_ms)),
            iat: Some(ms_to_secs(now_ms)),
        };
        let token = mint(&self.key, &claims);
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        *cached = Some(Cached {
            token: Zeroizing::new(token.clone()),
            minted_at_ms: now_ms,
            refresh_at_ms: now_ms.saturating_add(lifetime_ms / 2),
        });
        token
    }
}

impl fmt::Debug for JwtMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtMinter")
            .field("key", &self.key)
            .field("subject", &self.subject)
            .field("lifetime", &self.lifetime)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Decodes one segment: base64url, no padding, canonical.
fn decode_segment(segment: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(segment.as_bytes())
        .map_err(|_| JwtError::Malformed)
}

fn parse_object(json: &[u8]) -> Result<Map<String, Value>, JwtError> {
    match serde_json::from_slice(json) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed),
    }
}

fn check_header(header: &Map<String, Value>) -> Result<(), JwtError> {
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "HS256" => {}
        _ => return Err(JwtError::UnsupportedAlgorithm),
    }
    match header.get("typ") {
        None => {}
        Some(Value::String(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
        Some(_) => return Err(JwtError::Malformed),
    }
    // RFC 7515 §4.1.11: extensions we do not understand must be refused; we understand none.
    if header.contains_key("crit") {
        return Err(JwtError::Malformed);
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Round {
    Down,
    Up,
}

/// A NumericDate in milliseconds since the epoch; `None` unless a finite, non-negative number.
fn numeric_date_ms(value: &Value, round: Round) -> Option<i128> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(secs) = n.as_u64() {
        return Some(i128::from(secs) * 1000);
    }
    let secs = n.as_f64().filter(|s| s.is_finite() && *s >= 0.0)?;
    let ms = secs * 1000.0;
    // Float to int casts saturate.
    Some(match round {
        Round::Down => ms.floor() as i128,
        Round::Up => ms.ceil() as i128,
    })
}

/// Whole seconds, rounded down, clamped to `u64`.
fn ms_to_secs(ms: i128) -> u64 {
    u64::try_from(ms.div_euclid(1000).max(0)).unwrap_or(u64::MAX)
}

/// Whole seconds, rounded up, clamped to `u64`.
fn ms_to_secs_ceil(ms: i128) -> u64 {
    u64::try_from((ms.saturating_add(999)).div_euclid(1000).max(0)).unwrap_or(u64::MAX)
}
