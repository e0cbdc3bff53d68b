//! The test-vector entry point: sealing with a caller-chosen salt and nonce prefix.
//! Production code never calls this; a fixed salt and prefix reused under one password
//! and serial would repeat the key and nonces, which breaks AES-GCM.

use crate::error::EnvelopeError;
use crate::header::{Header, NONCE_PREFIX_LEN, SALT_LEN};
use crate::kdf::OUTPUT_LEN;
use crate::key::{KEY_LEN, payload_key};
use crate::password::Password;
use crate::seal::SealOptions;
use crate::stream::ChunkCipher;

/// A vector's result with its intermediate values, for documentation and independent
/// implementations. Holds key material: only for published test passwords.
#[doc(hidden)]
pub struct VectorOutput {
    pub header: Header,
    pub argon2_output: [u8; OUTPUT_LEN],
    pub payload_key: [u8; KEY_LEN],
    /// Nonce of every chunk, in order.
    pub nonces: Vec<[u8; 12]>,
    pub sealed: Vec<u8>,
}

/// Seals `plaintext` with a fixed salt and nonce prefix. For test vectors only.
#[doc(hidden)]
pub fn seal_with_fixed_randomness_for_vectors(
    password: &Password,
    serial: &str,
    options: SealOptions,
    salt: [u8; SALT_LEN],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    plaintext: &[u8],
) -> Result<VectorOutput, EnvelopeError> {
    let header = Header::with_randomness(
        options.kdf,
        options.chunk_size,
        options.password_generation,
        plaintext.len() as u64,
        salt,
        nonce_prefix,
    )?;
    let argon2_output = header.kdf().derive(password, header.salt())?;
    let key = payload_key(&argon2_output, serial, &header);
    let mut sealed = Vec::new();
    crate::seal::seal_with_key(
        &crate::key::DerivedKey::from_parts(key.clone(), header.clone()),
        plaintext,
        &mut sealed,
    )?;
    let cipher = ChunkCipher::new(&key, nonce_prefix);
    let chunks = header.chunk_count();
    let nonces = (0..chunks)
        .map(|i| cipher.nonce(i as u32, i + 1 == chunks))
        .collect();
    Ok(VectorOutput {
        header,
        argon2_output: *argon2_output,
        payload_key: *key,
        nonces,
        sealed,
    })
}
