//! What the envelope's integration tests share: cheap KDF parameters, sample data and
//! in-memory seal/open.
#![allow(dead_code)] // each test binary uses a different part

use rampart_envelope::{
    ChunkSize, DerivedKey, EnvelopeError, Header, KdfParams, Password, SealOptions, open, seal,
};

pub const PASSWORD: &str = "Correct-Horse-7!";
pub const SERIAL: &str = "RMP-2024-000123";
/// Chunk size of most tests: the smallest allowed, so multi-chunk files stay small.
pub const CHUNK: usize = 1024;

/// The cheapest parameters the format accepts; the KDF's strength is not under test here.
pub fn fast_kdf() -> KdfParams {
    KdfParams::new(KdfParams::MIN_MEMORY_KIB, 1, 1).unwrap()
}

pub fn options(chunk_size: usize) -> SealOptions {
    SealOptions {
        kdf: fast_kdf(),
        chunk_size: ChunkSize::new(chunk_size as u32).unwrap(),
        password_generation: 3,
    }
}

pub fn password() -> Password {
    Password::from(PASSWORD)
}

/// Deterministic, non-repeating-looking bytes (a prime period, so chunks differ).
pub fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

pub fn seal_vec(
    password: &Password,
    serial: &str,
    options: SealOptions,
    plaintext: &[u8],
) -> (Header, Vec<u8>) {
    let mut sealed = Vec::new();
    let header = seal(
        password,
        serial,
        options,
        plaintext.len() as u64,
        plaintext,
        &mut sealed,
    )
    .unwrap();
    (header, sealed)
}

pub fn open_vec(
    password: &Password,
    serial: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let mut plaintext = Vec::new();
    open(password, serial, sealed, &mut plaintext)?;
    Ok(plaintext)
}

/// The key `open` would derive for `sealed`'s header.
pub fn key_for(password: &Password, serial: &str, sealed: &[u8]) -> DerivedKey {
    DerivedKey::derive(password, serial, &Header::parse(sealed).unwrap()).unwrap()
}
