//! JWT HS256 (`JWT_HS_256` auth profile): verification, refusals, minting.
//!
//! The vectors are copied from the workspace's shared `ilp_over_http.json` (RFC example token,
//! tokens made by jsonwebtoken@8.5.1); the others are built here with `hmac` directly, so they
//! do not depend on the crate's own minting.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use ilp_auth::jwt::{
    self, Claims, JwtConfig, JwtError, JwtKey, JwtMinter, MAX_TOKEN_LEN, MIN_KEY_LEN,
};
use ilp_packet::Timestamp;
use sha2::Sha256;

/// RFC http-auth-profiles example: `{"typ":"JWT","alg":"HS256"}.{"sub":"alice","exp":1558035868}`.
const RFC_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTU1ODAzNTg2OH0.__9CiSGdn4Grhl48slun7Lp4q4xt0uq398omcipBU8M";
const RFC_EXP: i64 = 1_558_035_868;
/// The key that really signs the RFC token: base64-decode of the SIMPLE example secret.
const RFC_KEY_B64: &str = "HEiMCp0FoAC903QHueY89gAWJHo/izaBnJU8/58rlSI=";
const RFC_KEY_HEX: &str = "1c488c0a9d05a000bdd37407b9e63cf60016247a3f8b36819c953cff9f2b9522";
/// The key the RFC text names (truncated).
const RFC_TRUNCATED_KEY: &str = "HEiMCp0FoAC903QHueY89gAWJHo";

/// jsonwebtoken@8.5.1 (and interledger4j's shape): `{"alg":"HS256","typ":"JWT"}.{"sub":"alice","exp":4102444800}`.
const SUB_EXP_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.gafOQRQrHqbhVT7rvyYdvJExS_3YXhH1B3d3SG4bjgc";
const SUB_EXP_EXP: u64 = 4_102_444_800;
/// jsonwebtoken@8.5.1: `{"sub":"alice"}`, no `exp`.
const NO_EXP_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.wRjET1vZyYoHqf9ItTezwzqp2xqWBFXxZDqX_9F07Iw";

const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn rfc_key() -> JwtKey {
    JwtKey::new(STANDARD.decode(RFC_KEY_B64).unwrap()).unwrap()
}

fn at_ms(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms).unwrap()
}

fn at_secs(secs: i64) -> Timestamp {
    at_ms(secs * 1000)
}

/// 2030-01-01T00:00:00Z.
fn in_2030() -> Timestamp {
    at_secs(1_893_456_000)
}

fn default() -> JwtConfig {
    JwtConfig::default()
}

fn no_leeway() -> JwtConfig {
    JwtConfig::default().with_leeway(Duration::ZERO)
}

/// A token over the given header and payload JSON, signed with `key_bytes` (independently of
/// the crate's `mint`).
fn sign(header: &str, payload: &str, key_bytes: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key_bytes).unwrap();
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

fn rfc_key_bytes() -> Vec<u8> {
    STANDARD.decode(RFC_KEY_B64).unwrap()
}

/// Signs `payload` with the standard header and the RFC key.
fn signed(payload: &str) -> String {
    sign(HS256_HEADER, payload, &rfc_key_bytes())
}

fn verify_at(token: &str, now: Timestamp, config: &JwtConfig) -> Result<Claims, JwtError> {
    jwt::verify(token, &rfc_key(), "alice", now, config)
}

// ---------------------------------------------------------------------------------------------
// The RFC example token

#[test]
fn rfc_key_is_the_vector_key() {
    let bytes = rfc_key_bytes();
    assert_eq!(bytes.len(), 32);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, RFC_KEY_HEX);
}

#[test]
fn rfc_example_verifies_before_exp() {
    let claims = verify_at(RFC_TOKEN, at_secs(RFC_EXP - 60), &default()).unwrap();
    assert_eq!(
        claims,
        Claims {
            sub: Some("alice".into()),
            exp: 1_558_035_868,
            iat: None
        }
    );
    // exp itself, and up to exp + leeway (5 s by default), still pass.
    assert!(verify_at(RFC_TOKEN, at_secs(RFC_EXP), &default()).is_ok());
    assert!(verify_at(RFC_TOKEN, at_ms(RFC_EXP * 1000 + 5_000), &default()).is_ok());
}

#[test]
fn rfc_example_is_expired_after_exp_plus_leeway() {
    assert_eq!(
        verify_at(RFC_TOKEN, at_ms(RFC_EXP * 1000 + 5_001), &default()),
        Err(JwtError::Expired)
    );
    assert_eq!(
        verify_at(RFC_TOKEN, in_2030(), &default()),
        Err(JwtError::Expired)
    );
}

#[test]
fn rfc_example_with_the_truncated_key_of_the_rfc_text_fails() {
    // The truncated string is 27 bytes: not even accepted as an HS256 key.
    assert_eq!(RFC_TRUNCATED_KEY.len(), 27);
    assert_eq!(
        JwtKey::new(RFC_TRUNCATED_KEY.as_bytes()).map(|_| ()),
        Err(JwtError::KeyTooShort)
    );
    // Nor does the base64 text itself, used as the key without decoding it, verify.
    let text_key = JwtKey::new(RFC_KEY_B64.as_bytes()).unwrap();
    assert_eq!(
        jwt::verify(
            RFC_TOKEN,
            &text_key,
            "alice",
            at_secs(RFC_EXP - 60),
            &default()
        ),
        Err(JwtError::BadSignature)
    );
    // A 32-byte key that merely starts with the truncated string does not either.
    let mut padded = RFC_TRUNCATED_KEY.as_bytes().to_vec();
    padded.resize(32, 0);
    assert_eq!(
        jwt::verify(
            RFC_TOKEN,
            &JwtKey::new(padded).unwrap(),
            "alice",
            at_secs(RFC_EXP - 60),
            &default()
        ),
        Err(JwtError::BadSignature)
    );
}

// ---------------------------------------------------------------------------------------------
// The other vectors

#[test]
fn jsonwebtoken_sub_exp_token_verifies() {
    let claims = verify_at(SUB_EXP_TOKEN, in_2030(), &default()).unwrap();
    assert_eq!(
        claims,
        Claims {
            sub: Some("alice".into()),
            exp: SUB_EXP_EXP,
            iat: None
        }
    );
}

#[test]
fn interledger4j_shaped_token_is_what_mint_builds() {
    // The vector "as interledger4j JwtHs256BearerTokenSupplier would build it" is byte-identical
    // to jsonwebtoken's; `mint` builds the same bytes (header alg, typ; claims sub, exp).
    let minted = jwt::mint(
        &rfc_key(),
        &Claims {
            sub: Some("alice".into()),
            exp: SUB_EXP_EXP,
            iat: None,
        },
    );
    assert_eq!(minted, SUB_EXP_TOKEN);
}

#[test]
fn vector_without_exp_is_refused() {
    // Accepted by jsonwebtoken and java-jwt by default; the profile says MUST reject.
    assert_eq!(
        verify_at(NO_EXP_TOKEN, in_2030(), &default()),
        Err(JwtError::MissingExpiry)
    );
}

// ---------------------------------------------------------------------------------------------
// Algorithms

#[test]
fn alg_none_is_refused() {
    let payload = r#"{"sub":"alice","exp":4102444800}"#;
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(payload)
    );
    assert_eq!(
        verify_at(&unsigned, in_2030(), &default()),
        Err(JwtError::UnsupportedAlgorithm)
    );
    // Even with a valid HS256 signature over it.
    let signed_none = sign(r#"{"alg":"none","typ":"JWT"}"#, payload, &rfc_key_bytes());
    assert_eq!(
        verify_at(&signed_none, in_2030(), &default()),
        Err(JwtError::UnsupportedAlgorithm)
    );
    let none_caps = sign(r#"{"alg":"None"}"#, payload, &rfc_key_bytes());
    assert_eq!(
        verify_at(&none_caps, in_2030(), &default()),
        Err(JwtError::UnsupportedAlgorithm)
    );
}

#[test]
fn other_algorithms_and_missing_alg_are_refused() {
    let payload = r#"{"sub":"alice","exp":4102444800}"#;
    for header in [
        r#"{"alg":"HS384","typ":"JWT"}"#,
        r#"{"alg":"HS512","typ":"JWT"}"#,
        r#"{"alg":"RS256","typ":"JWT"}"#,
        r#"{"alg":"ES256"}"#,
        r#"{"alg":"hs256"}"#,
        r#"{"alg":"HS256 "}"#,
        r#"{"alg":["HS256"]}"#,
        r#"{"alg":null}"#,
        r#"{"typ":"JWT"}"#,
        r#"{}"#,
    ] {
        let token = sign(header, payload, &rfc_key_bytes());
        assert_eq!(
            verify_at(&token, in_2030(), &default()),
            Err(JwtError::UnsupportedAlgorithm),
            "{header}"
        );
    }
}

#[test]
fn header_without_typ_or_lowercase_typ_is_accepted() {
    let payload = r#"{"sub":"alice","exp":4102444800}"#;
    for header in [r#"{"alg":"HS256"}"#, r#"{"typ":"jwt","alg":"HS256"}"#] {
        let token = sign(header, payload, &rfc_key_bytes());
        assert!(verify_at(&token, in_2030(), &default()).is_ok(), "{header}");
    }
}

#[test]
fn wrong_typ_or_crit_is_malformed() {
    let payload = r#"{"sub":"alice","exp":4102444800}"#;
    for header in [
        r#"{"alg":"HS256","typ":"JWS"}"#,
        r#"{"alg":"HS256","typ":1}"#,
        r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
    ] {
        let token = sign(header, payload, &rfc_key_bytes());
        assert_eq!(
            verify_at(&token, in_2030(), &default()),
            Err(JwtError::Malformed),
            "{header}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Signature

#[test]
fn tampered_payload_fails_the_signature() {
    let (head, rest) = SUB_EXP_TOKEN.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let bob = URL_SAFE_NO_PAD.encode(r#"{"sub":"bob","exp":4102444800}"#);
    let tampered = format!("{head}.{bob}.{sig}");
    assert_eq!(
        jwt::verify(&tampered, &rfc_key(), "bob", in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
    // Same for a longer exp.
    let later = URL_SAFE_NO_PAD.encode(r#"{"sub":"alice","exp":4102444801}"#);
    assert_eq!(
        verify_at(&format!("{head}.{later}.{sig}"), in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn tampered_header_or_signature_fails_the_signature() {
    let (_, rest) = SUB_EXP_TOKEN.split_once('.').unwrap();
    // Same header JSON as the RFC token, other bytes: the signature covers the encoded text.
    let other_header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"HS256"}"#);
    assert_eq!(
        verify_at(&format!("{other_header}.{rest}"), in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
    // One signature byte flipped.
    let (signing_input, sig) = SUB_EXP_TOKEN.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig[0] ^= 1;
    let flipped = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&sig));
    assert_eq!(
        verify_at(&flipped, in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
    // A truncated (16-byte) or empty signature.
    let short = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&sig[..16]));
    assert_eq!(
        verify_at(&short, in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
    assert_eq!(
        verify_at(&format!("{signing_input}."), in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn another_key_fails_the_signature() {
    let other = JwtKey::new([0x42u8; 32]).unwrap();
    assert_eq!(
        jwt::verify(SUB_EXP_TOKEN, &other, "alice", in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
}

// ---------------------------------------------------------------------------------------------
// Claims

#[test]
fn missing_or_invalid_exp_is_refused() {
    for payload in [
        r#"{"sub":"alice"}"#,
        r#"{"sub":"alice","exp":"4102444800"}"#,
        r#"{"sub":"alice","exp":null}"#,
        r#"{"sub":"alice","exp":true}"#,
        r#"{"sub":"alice","exp":[4102444800]}"#,
        r#"{"sub":"alice","exp":-1}"#,
        r#"{"sub":"alice","exp":-0.5}"#,
        r#"{"sub":"alice","Exp":4102444800}"#,
    ] {
        assert_eq!(
            verify_at(&signed(payload), in_2030(), &default()),
            Err(JwtError::MissingExpiry),
            "{payload}"
        );
    }
}

#[test]
fn wrong_subject_is_refused() {
    assert_eq!(
        jwt::verify(SUB_EXP_TOKEN, &rfc_key(), "bob", in_2030(), &default()),
        Err(JwtError::WrongSubject)
    );
    assert_eq!(
        jwt::verify(SUB_EXP_TOKEN, &rfc_key(), "Alice", in_2030(), &default()),
        Err(JwtError::WrongSubject)
    );
    assert_eq!(
        jwt::verify(SUB_EXP_TOKEN, &rfc_key(), "", in_2030(), &default()),
        Err(JwtError::WrongSubject)
    );
    // Also when the subject is optional: a present `sub` must match.
    let optional = default().with_require_subject(false);
    assert_eq!(
        jwt::verify(SUB_EXP_TOKEN, &rfc_key(), "bob", in_2030(), &optional),
        Err(JwtError::WrongSubject)
    );
    // An empty `sub` is not the expected one either.
    assert_eq!(
        verify_at(
            &signed(r#"{"sub":"","exp":4102444800}"#),
            in_2030(),
            &default()
        ),
        Err(JwtError::WrongSubject)
    );
}

#[test]
fn non_string_subject_is_malformed() {
    for payload in [
        r#"{"sub":null,"exp":4102444800}"#,
        r#"{"sub":7,"exp":4102444800}"#,
        r#"{"sub":["alice"],"exp":4102444800}"#,
    ] {
        assert_eq!(
            verify_at(&signed(payload), in_2030(), &default()),
            Err(JwtError::Malformed),
            "{payload}"
        );
    }
}

#[test]
fn missing_subject_is_refused_when_required_and_accepted_otherwise() {
    // ilp-plugin-http's token: claims {} + iat + exp (30 s).
    let iat: u64 = 1_893_456_000;
    let plugin_http = signed(&format!(r#"{{"iat":{iat},"exp":{}}}"#, iat + 30));
    let now = at_ms(1_893_456_000_500);
    assert_eq!(
        verify_at(&plugin_http, now, &default()),
        Err(JwtError::MissingSubject)
    );
    let claims = verify_at(&plugin_http, now, &default().with_require_subject(false)).unwrap();
    assert_eq!(
        claims,
        Claims {
            sub: None,
            exp: iat + 30,
            iat: Some(iat)
        }
    );
    // Still expires.
    assert_eq!(
        verify_at(
            &plugin_http,
            at_ms(1_893_456_000_000 + 35_001),
            &default().with_require_subject(false)
        ),
        Err(JwtError::Expired)
    );
}

#[test]
fn leeway_boundary_is_exact_to_the_millisecond() {
    let exp: i64 = 1_893_456_000;
    let token = signed(&format!(r#"{{"sub":"alice","exp":{exp}}}"#));
    // Default leeway, 5 s.
    assert_eq!(JwtConfig::default().leeway, Duration::from_secs(5));
    assert!(verify_at(&token, at_ms(exp * 1000 + 5_000), &default()).is_ok());
    assert_eq!(
        verify_at(&token, at_ms(exp * 1000 + 5_001), &default()),
        Err(JwtError::Expired)
    );
    // No leeway: valid at exp, expired one millisecond later.
    assert!(verify_at(&token, at_ms(exp * 1000), &no_leeway()).is_ok());
    assert_eq!(
        verify_at(&token, at_ms(exp * 1000 + 1), &no_leeway()),
        Err(JwtError::Expired)
    );
    // A custom leeway, sub-second.
    let config = default().with_leeway(Duration::from_millis(250));
    assert!(verify_at(&token, at_ms(exp * 1000 + 250), &config).is_ok());
    assert_eq!(
        verify_at(&token, at_ms(exp * 1000 + 251), &config),
        Err(JwtError::Expired)
    );
}

#[test]
fn fractional_exp_is_compared_exactly() {
    let token = signed(r#"{"sub":"alice","exp":1893456000.25}"#);
    let claims = verify_at(&token, at_ms(1_893_456_000_250), &no_leeway()).unwrap();
    assert_eq!(claims.exp, 1_893_456_000);
    assert_eq!(
        verify_at(&token, at_ms(1_893_456_000_251), &no_leeway()),
        Err(JwtError::Expired)
    );
}

#[test]
fn nbf_and_iat_in_the_future_are_refused_beyond_leeway() {
    let t: i64 = 1_893_456_000;
    for claim in ["nbf", "iat"] {
        let token = signed(&format!(
            r#"{{"sub":"alice","exp":{},"{claim}":{t}}}"#,
            t + 600
        ));
        // At t - leeway exactly: accepted; one millisecond earlier: not yet valid.
        assert!(
            verify_at(&token, at_ms(t * 1000 - 5_000), &default()).is_ok(),
            "{claim}"
        );
        assert_eq!(
            verify_at(&token, at_ms(t * 1000 - 5_001), &default()),
            Err(JwtError::NotYetValid),
            "{claim}"
        );
        assert!(
            verify_at(&token, at_secs(t), &no_leeway()).is_ok(),
            "{claim}"
        );
        assert_eq!(
            verify_at(&token, at_ms(t * 1000 - 1), &no_leeway()),
            Err(JwtError::NotYetValid),
            "{claim}"
        );
        // Must be a number when present.
        let bad = signed(&format!(
            r#"{{"sub":"alice","exp":{},"{claim}":"{t}"}}"#,
            t + 600
        ));
        assert_eq!(
            verify_at(&bad, at_secs(t), &default()),
            Err(JwtError::Malformed),
            "{claim}"
        );
    }
}

#[test]
fn iss_aud_and_other_claims_are_ignored() {
    let token = signed(
        r#"{"iss":"https://bob.example","aud":"someone-else","jti":"x","sub":"alice","exp":4102444800}"#,
    );
    assert!(verify_at(&token, in_2030(), &default()).is_ok());
}

#[test]
fn unicode_and_escaped_subjects_round_trip() {
    let key = rfc_key();
    for sub in ["al\"ice", "ali\\ce", "名前", "a\u{0}b", "alice\n"] {
        let token = jwt::mint(
            &key,
            &Claims {
                sub: Some(sub.into()),
                exp: SUB_EXP_EXP,
                iat: None,
            },
        );
        let claims = jwt::verify(&token, &key, sub, in_2030(), &default()).unwrap();
        assert_eq!(claims.sub.as_deref(), Some(sub));
    }
}

// ---------------------------------------------------------------------------------------------
// Structure

#[test]
fn padding_is_malformed() {
    // `{"sub":"alice","exp":4102444800}` is 32 bytes: its base64url has one `=` of padding.
    let payload = r#"{"sub":"alice","exp":4102444800}"#;
    let header = URL_SAFE_NO_PAD.encode(HS256_HEADER);
    let padded_payload = URL_SAFE.encode(payload);
    assert!(padded_payload.ends_with('='));
    // Signed over the padded text, so only the padding is wrong.
    let signing_input = format!("{header}.{padded_payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(&rfc_key_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(
        verify_at(&format!("{signing_input}.{sig}"), in_2030(), &default()),
        Err(JwtError::Malformed)
    );
    // A padded signature (32 bytes: one `=`).
    let padded_sig = format!("{SUB_EXP_TOKEN}=");
    assert_eq!(
        verify_at(&padded_sig, in_2030(), &default()),
        Err(JwtError::Malformed)
    );
}

#[test]
fn other_base64_alphabets_and_bad_characters_are_malformed() {
    // The RFC token's signature starts with `__9C`; in the standard alphabet that is `//9C`.
    let (signing_input, sig) = RFC_TOKEN.rsplit_once('.').unwrap();
    let standard_sig = sig.replace('_', "/").replace('-', "+");
    assert_ne!(standard_sig, sig);
    assert_eq!(
        verify_at(
            &format!("{signing_input}.{standard_sig}"),
            at_secs(RFC_EXP - 60),
            &default()
        ),
        Err(JwtError::Malformed)
    );
    for bad in [
        format!(" {SUB_EXP_TOKEN}"),
        format!("{SUB_EXP_TOKEN}\n"),
        SUB_EXP_TOKEN.replacen('.', ".!", 1),
        SUB_EXP_TOKEN.replacen("eyJz", "ey Jz", 1),
        // A segment of 4n+1 characters cannot be base64.
        SUB_EXP_TOKEN.replacen('.', "A.", 1),
    ] {
        assert_eq!(
            verify_at(&bad, in_2030(), &default()),
            Err(JwtError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn non_canonical_trailing_bits_are_malformed() {
    // 32 bytes are 43 characters; the last one carries 4 bits and 2 zero bits. `c` is
    // 0b011100; `d` (0b011101) sets a trailing bit and decodes to the same bytes elsewhere.
    let (signing_input, sig) = SUB_EXP_TOKEN.rsplit_once('.').unwrap();
    assert!(sig.ends_with('c'));
    let bad = format!("{signing_input}.{}d", &sig[..sig.len() - 1]);
    assert_eq!(
        verify_at(&bad, in_2030(), &default()),
        Err(JwtError::Malformed)
    );
}

#[test]
fn wrong_number_of_segments_is_malformed() {
    let (head, rest) = SUB_EXP_TOKEN.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        head.into(),
        format!("{head}.{payload}"),
        format!("{head}.{payload}.{sig}.{sig}"),
        format!("{head}.{payload}.{sig}."),
        format!(".{head}.{payload}.{sig}"),
        format!("{head}..{payload}.{sig}"),
    ] {
        assert_eq!(
            verify_at(&bad, in_2030(), &default()),
            Err(JwtError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn non_json_or_non_object_header_is_malformed() {
    let payload = r#"{"sub":"alice","exp":4102444800}"#;
    for header in [
        "HS256",
        r#"{"alg":"HS256""#,
        r#"["alg","HS256"]"#,
        r#""HS256""#,
        "null",
        "",
        r#"{"alg":"HS256"} x"#,
    ] {
        let token = sign(header, payload, &rfc_key_bytes());
        assert_eq!(
            verify_at(&token, in_2030(), &default()),
            Err(JwtError::Malformed),
            "{header:?}"
        );
    }
    // Not UTF-8.
    let token = format!(
        "{}.{}.AAAA",
        URL_SAFE_NO_PAD.encode([0xff, 0xfe, b'{']),
        URL_SAFE_NO_PAD.encode(payload)
    );
    assert_eq!(
        verify_at(&token, in_2030(), &default()),
        Err(JwtError::Malformed)
    );
}

#[test]
fn non_object_payload_is_malformed_after_the_signature() {
    for payload in ["[]", "4102444800", r#""alice""#, "null", "", "{", "{}}"] {
        let token = signed(payload);
        assert_eq!(
            verify_at(&token, in_2030(), &default()),
            Err(JwtError::Malformed),
            "{payload:?}"
        );
    }
    // Unsigned garbage is a bad signature: the payload is not read before the signature.
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(HS256_HEADER),
        URL_SAFE_NO_PAD.encode("[]"),
        URL_SAFE_NO_PAD.encode([0u8; 32])
    );
    assert_eq!(
        verify_at(&token, in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    assert_eq!(MAX_TOKEN_LEN, 8192);
    // A valid token of exactly the maximum size passes.
    let fixed = signed(r#"{"sub":"alice","exp":4102444800,"pad":""}"#).len();
    // Each payload byte adds 4/3 characters; find the padding that lands exactly on the limit.
    let start = ((MAX_TOKEN_LEN - fixed) * 3 / 4).saturating_sub(4);
    let token = (start..start + 16)
        .map(|n| {
            signed(&format!(
                r#"{{"sub":"alice","exp":4102444800,"pad":"{}"}}"#,
                "x".repeat(n)
            ))
        })
        .find(|t| t.len() == MAX_TOKEN_LEN)
        .expect("some padding gives exactly the maximum");
    assert!(verify_at(&token, in_2030(), &default()).is_ok());
    // One more byte: refused before anything else.
    let longer = format!("{token}A");
    assert_eq!(
        verify_at(&longer, in_2030(), &default()),
        Err(JwtError::TooLarge)
    );
    // Garbage of any shape beyond the limit.
    assert_eq!(
        verify_at(&"a".repeat(MAX_TOKEN_LEN + 1), in_2030(), &default()),
        Err(JwtError::TooLarge)
    );
    assert_eq!(
        verify_at(&".".repeat(1 << 20), in_2030(), &default()),
        Err(JwtError::TooLarge)
    );
}

// ---------------------------------------------------------------------------------------------
// Keys

#[test]
fn keys_under_32_bytes_are_refused() {
    assert_eq!(MIN_KEY_LEN, 32);
    for len in [0, 1, 16, 31] {
        assert_eq!(
            JwtKey::new(vec![7u8; len]).map(|_| ()),
            Err(JwtError::KeyTooShort),
            "{len}"
        );
    }
    assert!(JwtKey::new([7u8; 32]).is_ok());
    assert!(JwtKey::new(&[7u8; 33][..]).is_ok());
    // Longer than a SHA-256 block (hashed by HMAC) works too.
    let long = vec![9u8; 100];
    let key = JwtKey::new(long.clone()).unwrap();
    let token = sign(HS256_HEADER, r#"{"sub":"alice","exp":4102444800}"#, &long);
    assert!(jwt::verify(&token, &key, "alice", in_2030(), &default()).is_ok());
}

#[test]
fn generated_keys_are_random_and_usable() {
    let a = JwtKey::generate();
    let b = JwtKey::try_generate().unwrap();
    let claims = Claims {
        sub: Some("alice".into()),
        exp: SUB_EXP_EXP,
        iat: None,
    };
    let token = jwt::mint(&a, &claims);
    assert_ne!(token, jwt::mint(&b, &claims));
    assert!(jwt::verify(&token, &a, "alice", in_2030(), &default()).is_ok());
    assert_eq!(
        jwt::verify(&token, &b, "alice", in_2030(), &default()),
        Err(JwtError::BadSignature)
    );
    // Clones verify alike.
    assert!(jwt::verify(&token, &a.clone(), "alice", in_2030(), &default()).is_ok());
}

#[test]
fn key_debug_is_redacted() {
    let key = rfc_key();
    assert_eq!(format!("{key:?}"), "JwtKey(<redacted>)");
    assert_eq!(format!("{key:#?}"), "JwtKey(<redacted>)");
}

#[cfg(feature = "serde")]
#[test]
fn key_serializes_as_base64url() {
    let key = rfc_key();
    let json = serde_json::to_string(&key).unwrap();
    assert_eq!(
        json,
        format!("\"{}\"", URL_SAFE_NO_PAD.encode(rfc_key_bytes()))
    );
    let back: JwtKey = serde_json::from_str(&json).unwrap();
    assert!(jwt::verify(RFC_TOKEN, &back, "alice", at_secs(RFC_EXP), &default()).is_ok());
    // Short, padded, standard-alphabet and non-string forms are refused.
    let short = format!("\"{}\"", URL_SAFE_NO_PAD.encode([1u8; 31]));
    assert!(serde_json::from_str::<JwtKey>(&short).is_err());
    assert!(serde_json::from_str::<JwtKey>(&format!("\"{RFC_KEY_B64}\"")).is_err());
    assert!(serde_json::from_str::<JwtKey>("[1,2,3]").is_err());
    // The error does not echo the secret.
    let err = serde_json::from_str::<JwtKey>(&format!("\"{RFC_KEY_B64}\""))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("HEiMCp0"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Minting

fn decode_json(segment: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

#[test]
fn minter_reuses_its_token_until_half_life() {
    let minter = JwtMinter::new(rfc_key(), Some("alice".into()), Duration::from_secs(60));
    let t0 = 1_893_456_000_000;
    let first = minter.token(at_ms(t0));
    assert_eq!(minter.token(at_ms(t0)), first);
    assert_eq!(minter.token(at_ms(t0 + 29_999)), first);
    let second = minter.token(at_ms(t0 + 30_000));
    assert_ne!(second, first);
    assert_eq!(minter.token(at_ms(t0 + 59_999)), second);
    let third = minter.token(at_ms(t0 + 60_000));
    assert_ne!(third, second);

    // The second token was minted at t0 + 30 s.
    let (_, rest) = second.split_once('.').unwrap();
    let payload = decode_json(rest.split_once('.').unwrap().0);
    assert_eq!(
        payload,
        serde_json::json!({"sub": "alice", "exp": 1_893_456_090u64, "iat": 1_893_456_030u64})
    );
}

#[test]
fn minter_mints_afresh_when_the_clock_goes_back() {
    let minter = JwtMinter::new(rfc_key(), Some("alice".into()), Duration::from_secs(60));
    let t0 = 1_893_456_000_000;
    let first = minter.token(at_ms(t0));
    let earlier = minter.token(at_ms(t0 - 10_000));
    assert_ne!(earlier, first);
    assert!(jwt::verify(
        &earlier,
        &rfc_key(),
        "alice",
        at_ms(t0 - 10_000),
        &no_leeway()
    )
    .is_ok());
}

#[test]
fn minted_tokens_verify_and_have_the_interledger4j_shape() {
    let minter = JwtMinter::new(rfc_key(), Some("alice".into()), Duration::from_secs(60));
    let t0 = 1_893_456_000_400;
    let token = minter.token(at_ms(t0));
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
        br#"{"alg":"HS256","typ":"JWT"}"#
    );
    // exp = now + lifetime rounded up to the second; iat = now rounded down.
    let payload = decode_json(parts[1]);
    assert_eq!(payload["sub"], "alice");
    assert_eq!(payload["exp"], 1_893_456_061u64);
    assert_eq!(payload["iat"], 1_893_456_000u64);

    let claims = jwt::verify(&token, &rfc_key(), "alice", at_ms(t0), &no_leeway()).unwrap();
    assert_eq!(
        claims,
        Claims {
            sub: Some("alice".into()),
            exp: 1_893_456_061,
            iat: Some(1_893_456_000)
        }
    );
    // Valid for at least its lifetime, then expired.
    assert!(jwt::verify(
        &token,
        &rfc_key(),
        "alice",
        at_ms(t0 + 60_000),
        &no_leeway()
    )
    .is_ok());
    assert_eq!(
        jwt::verify(
            &token,
            &rfc_key(),
            "alice",
            at_ms(t0 + 61_000),
            &no_leeway()
        ),
        Err(JwtError::Expired)
    );
    // The header's signature is HMAC-SHA256 over the first two segments with the key.
    let mut mac = Hmac::<Sha256>::new_from_slice(&rfc_key_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .unwrap();
}

#[test]
fn minter_without_subject_mints_plugin_http_style_tokens() {
    let minter = JwtMinter::new(rfc_key(), None, JwtMinter::DEFAULT_LIFETIME);
    assert_eq!(JwtMinter::DEFAULT_LIFETIME, Duration::from_secs(60));
    assert_eq!(minter.subject(), None);
    let now = at_ms(1_893_456_000_000);
    let token = minter.token(now);
    let payload = decode_json(token.split('.').nth(1).unwrap());
    assert!(payload.get("sub").is_none());
    assert_eq!(
        jwt::verify(&token, &rfc_key(), "alice", now, &default()),
        Err(JwtError::MissingSubject)
    );
    let claims = jwt::verify(
        &token,
        &rfc_key(),
        "alice",
        now,
        &default().with_require_subject(false),
    )
    .unwrap();
    assert_eq!(claims.sub, None);
}

#[test]
fn minter_lifetime_is_at_least_a_second() {
    let minter = JwtMinter::new(rfc_key(), Some("alice".into()), Duration::ZERO);
    assert_eq!(minter.lifetime(), Duration::from_secs(1));
    let now = at_ms(1_893_456_000_000);
    let token = minter.token(now);
    assert!(jwt::verify(&token, &rfc_key(), "alice", now, &no_leeway()).is_ok());
    // Refreshed after half a second.
    assert_eq!(minter.token(at_ms(1_893_456_000_499)), token);
    assert_ne!(minter.token(at_ms(1_893_456_000_500)), token);
}

#[test]
fn minter_is_shareable_across_threads() {
    let minter = std::sync::Arc::new(JwtMinter::new(
        rfc_key(),
        Some("alice".into()),
        Duration::from_secs(60),
    ));
    let now = 1_893_456_000_000;
    let first = minter.token(at_ms(now));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let minter = minter.clone();
            std::thread::spawn(move || minter.token(at_ms(now + i * 1000)))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), first);
    }
}

#[test]
fn minter_debug_shows_no_secret() {
    let minter = JwtMinter::new(rfc_key(), Some("alice".into()), Duration::from_secs(60));
    let token = minter.token(at_ms(1_893_456_000_000));
    let sig = token.rsplit('.').next().unwrap();
    let key_hex = RFC_KEY_HEX;
    let key_dec = format!("{:?}", rfc_key_bytes());
    for debug in [format!("{minter:?}"), format!("{minter:#?}")] {
        assert!(debug.contains("JwtKey(<redacted>)"), "{debug}");
        assert!(debug.contains("alice"), "{debug}");
        for secret in [
            token.as_str(),
            sig,
            RFC_KEY_B64,
            &RFC_KEY_B64[..20],
            &URL_SAFE_NO_PAD.encode(rfc_key_bytes())[..20],
            key_hex,
            &key_dec[1..20],
        ] {
            assert!(!debug.contains(secret), "{debug} contains {secret}");
        }
    }
}

#[test]
fn error_messages_name_no_secret() {
    let errors = [
        JwtError::Malformed,
        JwtError::UnsupportedAlgorithm,
        JwtError::BadSignature,
        JwtError::MissingExpiry,
        JwtError::Expired,
        JwtError::NotYetValid,
        JwtError::WrongSubject,
        JwtError::MissingSubject,
        JwtError::KeyTooShort,
        JwtError::TooLarge,
        JwtError::Rng,
    ];
    for e in errors {
        let message = e.to_string();
        assert!(!message.is_empty());
        assert!(!message.contains("eyJ"), "{message}");
    }
}
