//! The node's keys (R-SEC-2, national cryptography): SM4-GCM for hosted records at rest, HMAC-SM3 for record
//! keys (lookups without storing the key in clear), SM2 for signing download manifests.
//!
//! All three are derived from one 32-byte node secret (`security.node_key_file`), so a node's data stays
//! readable across restarts and every instance of a node signs with the same key.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{AesGcm, Nonce};
use hmac::Hmac;
use rand::RngCore;
use sm2::dsa::signature::Signer;
use sm2::dsa::{Signature, SigningKey};
use sm3::{Digest, Sm3};
use sm4::Sm4;

/// SM4 in Galois/Counter mode with 96-bit nonces: confidentiality and integrity.
type Sm4Gcm = AesGcm<Sm4, aes_gcm::aead::consts::U12>;

/// The SM2 distinguishing identifier used for manifests and checkpoints (GB/T 35276's default).
pub use govshare_domain::evidence::SM2_DISTID;

pub struct NodeKeys {
    /// HMAC-SM3 keyed with the record-key secret: its key blocks are hashed once here, not for every record.
    record_key: Hmac<Sm3>,
    cipher: Sm4Gcm,
    signing: SigningKey,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys").field("public_key", &self.public_key_hex()).finish_non_exhaustive()
    }
}

fn derive(secret: &[u8], label: &str, counter: u8) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(b"govshare-node-key\0");
    h.update(label.as_bytes());
    h.update([0, counter]);
    h.update(secret);
    h.finalize().into()
}

impl NodeKeys {
    pub fn from_secret(secret: &[u8]) -> NodeKeys {
        let record_key = govshare_domain::grant::mac_state(&derive(secret, "record-key", 0));
        let sm4_key = derive(secret, "sm4", 0);
        let cipher = Sm4Gcm::new_from_slice(&sm4_key[..16]).expect("SM4 keys are 16 bytes");
        // A derived scalar is out of range with probability ~2^-32; the counter moves past it.
        let signing = (0..=u8::MAX)
            .find_map(|c| SigningKey::from_slice(SM2_DISTID, &derive(secret, "sm2", c)).ok())
            .expect("a valid SM2 scalar within 256 tries");
        NodeKeys { record_key, cipher, signing }
    }

    /// A node key pair for this process only (tests, benches).
    pub fn generate() -> NodeKeys {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        NodeKeys::from_secret(&secret)
    }

    /// The lookup key of a record: HMAC-SM3 of the entry and the key item's value, hex.
    pub fn record_key(&self, entry: &str, key: &str) -> String {
        govshare_domain::grant::hex_mac(&self.record_key, &[entry.as_bytes(), b"\x1f", key.as_bytes()])
    }

    /// SM4-GCM with a fresh random nonce: nonce ‖ ciphertext ‖ tag.
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        out.extend(self.cipher.encrypt(Nonce::from_slice(&nonce), plain).expect("SM4-GCM encryption does not fail"));
        out
    }

    pub fn decrypt(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            return None;
        }
        let (nonce, body) = sealed.split_at(12);
        self.cipher.decrypt(Nonce::from_slice(nonce), body).ok()
    }

    /// SM2 signature (r ‖ s, hex) of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        let signature: Signature = self.signing.sign(message);
        hex::encode(signature.to_bytes())
    }

    /// The uncompressed SEC1 public key, hex: what a recipient verifies manifests with.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().to_sec1_bytes())
    }
}

/// Verifies an SM2 manifest signature against a public key (both hex), as a recipient would.
pub fn verify_signature(public_key_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    govshare_domain::evidence::verify_sm2(public_key_hex, message, signature_hex)
}

/// SM3 of bytes, hex.
pub fn sm3_hex(bytes: &[u8]) -> String {
    hex::encode(Sm3::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_for_a_secret_and_differ_between_secrets() {
        let a = NodeKeys::from_secret(b"secret-a");
        let again = NodeKeys::from_secret(b"secret-a");
        let b = NodeKeys::from_secret(b"secret-b");
        assert_eq!(a.public_key_hex(), again.public_key_hex());
        assert_ne!(a.public_key_hex(), b.public_key_hex());
        assert_eq!(a.record_key("e", "k"), again.record_key("e", "k"));
        assert_ne!(a.record_key("e", "k"), b.record_key("e", "k"));
        // The prepared key state gives the same digests as HMAC keyed afresh (stored keys stay valid).
        let keyed = govshare_domain::grant::keyed_hash(&derive(b"secret-a", "record-key", 0), "e\u{1f}k");
        assert_eq!(a.record_key("e", "k"), keyed);
    }

    #[test]
    fn sm4_gcm_round_trips_and_detects_tampering() {
        let keys = NodeKeys::from_secret(b"secret");
        let sealed = keys.encrypt("{\"xm\":\"张三\"}".as_bytes());
        assert!(!sealed.windows(6).any(|w| w == "张三".as_bytes()), "ciphertext hides the value");
        assert_eq!(keys.decrypt(&sealed).unwrap(), "{\"xm\":\"张三\"}".as_bytes());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(keys.decrypt(&tampered), None);
        assert_eq!(NodeKeys::from_secret(b"other").decrypt(&sealed), None);
    }

    #[test]
    fn sm2_signatures_verify_with_the_public_key_only() {
        let keys = NodeKeys::from_secret(b"secret");
        let signature = keys.sign(b"manifest");
        assert!(verify_signature(&keys.public_key_hex(), b"manifest", &signature));
        assert!(!verify_signature(&keys.public_key_hex(), b"manifest!", &signature));
        assert!(!verify_signature(&NodeKeys::from_secret(b"x").public_key_hex(), b"manifest", &signature));
    }
}
