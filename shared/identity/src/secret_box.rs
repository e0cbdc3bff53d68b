//! Secrets at rest (TOTP secrets): AES-256-GCM under a key the store never holds, bound
//! by associated data to their owner.
//!
//! Layout: `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`. The
//! version byte is authenticated too, so a future format cannot be downgraded into this one.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

/// The current layout's version byte.
pub const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes a sealed box adds to its plaintext.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// A 256-bit key for sealing secrets. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh key from the OS random source.
    pub fn generate() -> Self {
        Self(crate::random::bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Why a sealed box did not open. Deliberately vague: wrong key, wrong owner and
/// tampering are indistinguishable to AES-GCM, and saying more would not help anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretBoxError {
    #[error("sealed secret is too short")]
    Truncated,
    #[error("sealed secret has unknown format version {0}")]
    UnknownVersion(u8),
    #[error("sealed secret does not open with this key and owner")]
    Rejected,
}

/// The associated data: the version byte, then the caller's, so both are authenticated.
fn associated_data(aad: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(1 + aad.len());
    data.push(VERSION);
    data.extend_from_slice(aad);
    data
}

/// Encrypts `plaintext` under `key` with a fresh random nonce. `aad` names the owner
/// (e.g. the user id): the box opens only with the same `aad`, so a sealed secret
/// copied onto another user's record is refused.
pub fn seal(key: &SecretKey, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    // Random 96-bit nonces are safe for far more than the 2^32 seals per key that
    // NIST SP 800-38D allows; the portal seals one secret per enrollment.
    let nonce: [u8; NONCE_LEN] = crate::random::bytes();
    let ciphertext = Aes256Gcm::new(&key.0.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &associated_data(aad),
            },
        )
        .expect("AES-GCM encrypts any message below 64 GiB");
    let mut sealed = Vec::with_capacity(OVERHEAD + plaintext.len());
    sealed.push(VERSION);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// Decrypts a box made by `seal` with the same key and `aad`.
pub fn open(key: &SecretKey, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretBoxError> {
    if sealed.len() < OVERHEAD {
        return Err(SecretBoxError::Truncated);
    }
    let (version, rest) = sealed.split_at(1);
    if version[0] != VERSION {
        return Err(SecretBoxError::UnknownVersion(version[0]));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Aes256Gcm::new(&key.0.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &associated_data(aad),
            },
        )
        .map_err(|_| SecretBoxError::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = SecretKey::from_bytes([0xAB; 32]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "SecretKey(<redacted>)");
        assert!(!shown.to_lowercase().contains("ab"));
    }
}
