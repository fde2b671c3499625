//! Passwords, session tokens and API secrets.
//!
//! Passwords are hashed with Argon2id (slow on purpose). Session tokens and API secrets are 256-bit random
//! values, so a fast digest is enough to keep them useless if the database leaks; SM3 is used for that.

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sm3::{Digest, Sm3};
use subtle::ConstantTimeEq;

use crate::ServiceError;

pub fn hash_password(password: &str) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(e.to_string().into()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A PHC string of a password nobody knows, verified against when the username does not exist so that
/// the response time does not tell whether it does.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).expect("argon2 with default parameters"))
}

/// 256 random bits, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SM3 digest of a token, hex-encoded: what the store keeps instead of the token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sm3::digest(token.as_bytes()))
}

pub fn digests_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

pub const API_KEY_PREFIX: &str = "gsk_";

/// An API key is `gsk_<credential id, 32 hex>_<secret>`: the id finds the credential, the secret proves it.
pub fn format_api_key(id: uuid::Uuid, secret: &str) -> String {
    format!("{API_KEY_PREFIX}{}_{secret}", id.simple())
}

pub fn parse_api_key(key: &str) -> Option<(uuid::Uuid, &str)> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id = uuid::Uuid::try_parse(id).ok()?;
    (!secret.is_empty()).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let phc = hash_password("Correct-Horse-9").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("Correct-Horse-9", &phc));
        assert!(!verify_password("Correct-Horse-8", &phc));
        assert!(!verify_password("Correct-Horse-9", "not a phc string"));
    }

    #[test]
    fn api_keys_round_trip() {
        let id = uuid::Uuid::now_v7();
        let secret = random_token();
        let key = format_api_key(id, &secret);
        assert_eq!(parse_api_key(&key), Some((id, secret.as_str())));
        assert_eq!(parse_api_key("gsk_nothex_abc"), None);
        assert_eq!(parse_api_key(&format!("gsk_{}_", id.simple())), None);
        assert_eq!(parse_api_key("Bearer x"), None);
    }

    #[test]
    fn tokens_are_distinct_and_digests_stable() {
        assert_ne!(random_token(), random_token());
        assert_eq!(token_digest("abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    }
}
