//! Secrets sealed to an appliance's own Ed25519 identity (SPEC §1, "Secrets only pass
//! through, sealed"): the portal request path seals a PIN (later a new backup password) to
//! the public key the appliance registered at enrollment; the console stores only the
//! sealed form; only the appliance, holding the Ed25519 seed, can open it.
//!
//! The construction is an ECIES / sealed box in the style of age's `ssh-ed25519`
//! recipients and libsodium's `crypto_box_seal`, reusing the signing key through the
//! standard Ed25519 → X25519 conversion (RFC 7748 / RFC 8032 birational map):
//!
//! ```text
//! recipient  R  = X25519 form (Montgomery u, 32 bytes LE) of the Ed25519 public key
//!                 = u = (1 + y) / (1 - y) mod 2^255 - 19
//! device key r  = SHA-512(ed25519_seed)[0..32], clamped as X25519 does (RFC 7748 §5)
//! ephemeral  e  = 32 fresh random bytes (clamped by X25519), E = X25519(e, 9)
//! shared     Z  = X25519(e, R)  (sealer)  =  X25519(r, E)  (opener); all-zero Z refused
//! key        K  = HKDF-SHA256(IKM = Z, salt = E || R,
//!                             info = "rampart-device-seal-v1" || context, L = 32)
//! box           = AES-256-GCM(K, nonce = 12 zero bytes, aad = 0x01 || context, plaintext)
//! sealed        = 0x01 || E (32 bytes) || ciphertext || tag (16 bytes)
//! ```
//!
//! **Nonce.** K is derived from a fresh ephemeral key on every seal, so each key
//! encrypts exactly one message; a fixed all-zero nonce is then safe (as in age and HPKE's
//! single-shot mode) and saves 12 bytes and one dependency on the random source.
//!
//! **Context.** `context` (e.g. `"pin:" + command id`) goes into both the HKDF info and
//! the AEAD associated data, so a sealed PIN copied into another command does not open.
//! Binding E and R into the salt makes the box non-malleable in its ephemeral key (a
//! different encoding of an equivalent point derives a different K) and ties it to one
//! recipient.
//!
//! **Refused keys.** The Ed25519 public key must be a canonical encoding of a point on
//! the curve, not of small order, and in the prime-order subgroup (every honestly
//! generated key is); otherwise sealing fails before any randomness is used.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use ed25519_dalek::{SigningKey, VerifyingKey};
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// The current layout's version byte.
pub const VERSION: u8 = 1;
/// The fixed prefix of the HKDF info; the caller's context follows it.
pub const DOMAIN_TAG: &[u8] = b"rampart-device-seal-v1";
/// Length of the ephemeral X25519 public key in the sealed form.
pub const EPHEMERAL_LEN: usize = 32;
/// Length of the AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed box adds to its plaintext.
pub const OVERHEAD: usize = 1 + EPHEMERAL_LEN + TAG_LEN;

const NONCE: [u8; 12] = [0u8; 12];

/// Why sealing or opening failed. Never carries key material, plaintext or context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The recipient's Ed25519 public key is not a usable point (not on the curve,
    /// non-canonical, of small order or with a torsion component).
    #[error("the appliance public key is not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// Shorter than the fixed overhead.
    #[error("sealed secret is too short")]
    Truncated,
    /// A version byte this code does not know.
    #[error("sealed secret has unknown format version {0}")]
    UnknownVersion(u8),
    /// Wrong device key, wrong context or tampering; indistinguishable by design.
    #[error("sealed secret does not open with this device key and context")]
    Rejected,
}

/// A validated recipient: the X25519 (Montgomery) form of an Ed25519 public key.
#[derive(Clone, Copy)]
struct Recipient(MontgomeryPoint);

/// Converts an Ed25519 public key to its X25519 form, refusing keys no honest device has.
fn recipient_from_ed25519(public: &[u8; 32]) -> Result<Recipient, SealError> {
    let key = VerifyingKey::from_bytes(public).map_err(|_| SealError::InvalidPublicKey)?;
    let point = key.to_edwards();
    // Non-canonical encodings (y >= p, or a sign bit on x = 0) decompress to a point
    // whose re-encoding differs: refuse them so one key has exactly one byte form.
    if point.compress().as_bytes() != public {
        return Err(SealError::InvalidPublicKey);
    }
    if key.is_weak() || !point.is_torsion_free() {
        return Err(SealError::InvalidPublicKey);
    }
    Ok(Recipient(key.to_montgomery()))
}

/// The X25519 public key of an Ed25519 public key, as used in the sealed box (for
/// documentation, interop tests and diagnostics; the sealer does this itself).
pub fn x25519_public_from_ed25519(device_ed25519_public: &[u8; 32]) -> Result<[u8; 32], SealError> {
    recipient_from_ed25519(device_ed25519_public).map(|r| r.0.to_bytes())
}

/// The X25519 secret scalar of an Ed25519 seed, before clamping: `SHA-512(seed)[0..32]`.
/// X25519 clamps it when it is used. Zeroized when dropped.
pub fn x25519_secret_from_ed25519_seed(device_ed25519_secret: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let signing = SigningKey::from_bytes(device_ed25519_secret);
    Zeroizing::new(signing.to_scalar_bytes())
}

/// HKDF-SHA256 from the shared secret to the single-use AES-256 key.
fn derive_key(
    shared: &[u8; 32],
    ephemeral: &[u8; 32],
    recipient: &[u8; 32],
    context: &[u8],
) -> Zeroizing<[u8; 32]> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    let mut info = Vec::with_capacity(DOMAIN_TAG.len() + context.len());
    info.extend_from_slice(DOMAIN_TAG);
    info.extend_from_slice(context);
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&salt), shared)
        .expand(&info, key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

/// The AEAD associated data: the version byte, then the context.
fn associated_data(context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + context.len());
    aad.push(VERSION);
    aad.extend_from_slice(context);
    aad
}

/// X25519 with the contributory check: a low-order peer point gives an all-zero secret.
fn diffie_hellman(secret: &[u8; 32], peer: MontgomeryPoint) -> Option<Zeroizing<[u8; 32]>> {
    let mut shared = peer.mul_clamped(*secret);
    let out = Zeroizing::new(shared.to_bytes());
    shared.zeroize();
    if bool::from(out.ct_eq(&[0u8; 32])) {
        None
    } else {
        Some(out)
    }
}

/// Seals `plaintext` to the appliance whose Ed25519 public key (32 bytes, as registered
/// at enrollment) is `device_ed25519_public`. It opens only with that appliance's seed
/// and exactly the same `context`. Every call uses a fresh ephemeral key, so two seals of
/// the same plaintext differ.
pub fn seal_to_device(
    device_ed25519_public: &[u8; 32],
    plaintext: &[u8],
    context: &[u8],
) -> Result<Vec<u8>, SealError> {
    let recipient = recipient_from_ed25519(device_ed25519_public)?;
    let ephemeral_secret = Zeroizing::new(crate::random::bytes::<32>());
    let ephemeral_public = MontgomeryPoint::mul_base_clamped(*ephemeral_secret).to_bytes();
    // A validated recipient is in the prime-order subgroup, so the secret cannot be zero;
    // the check stays as defence in depth.
    let shared =
        diffie_hellman(&ephemeral_secret, recipient.0).ok_or(SealError::InvalidPublicKey)?;
    let key = derive_key(&shared, &ephemeral_public, recipient.0.as_bytes(), context);
    let ciphertext = Aes256Gcm::new(&(*key).into())
        .encrypt(
            Nonce::from_slice(&NONCE),
            Payload {
                msg: plaintext,
                aad: &associated_data(context),
            },
        )
        .expect("AES-GCM encrypts any message below 64 GiB");
    let mut sealed = Vec::with_capacity(OVERHEAD + plaintext.len());
    sealed.push(VERSION);
    sealed.extend_from_slice(&ephemeral_public);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// Opens a box made by [`seal_to_device`] on the appliance. `device_ed25519_secret` is
/// the 32-byte Ed25519 seed as the agent stores it; `context` must equal the sealer's.
pub fn open_on_device(
    device_ed25519_secret: &[u8; 32],
    sealed: &[u8],
    context: &[u8],
) -> Result<Vec<u8>, SealError> {
    let (&version, rest) = sealed.split_first().ok_or(SealError::Truncated)?;
    if version != VERSION {
        return Err(SealError::UnknownVersion(version));
    }
    if rest.len() < EPHEMERAL_LEN + TAG_LEN {
        return Err(SealError::Truncated);
    }
    let (ephemeral, ciphertext) = rest.split_at(EPHEMERAL_LEN);
    let ephemeral: [u8; 32] = ephemeral.try_into().expect("split at 32 bytes");

    let signing = SigningKey::from_bytes(device_ed25519_secret);
    let recipient = signing.verifying_key().to_montgomery();
    let scalar = Zeroizing::new(signing.to_scalar_bytes());
    drop(signing);
    let shared = diffie_hellman(&scalar, MontgomeryPoint(ephemeral)).ok_or(SealError::Rejected)?;
    let key = derive_key(&shared, &ephemeral, recipient.as_bytes(), context);
    Aes256Gcm::new(&(*key).into())
        .decrypt(
            Nonce::from_slice(&NONCE),
            Payload {
                msg: ciphertext,
                aad: &associated_data(context),
            },
        )
        .map_err(|_| SealError::Rejected)
}
