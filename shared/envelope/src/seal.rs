//! Sealing: plaintext stream in, backup stream out, one chunk in memory at a time.

use std::io::{Read, Write};

use zeroize::Zeroizing;

use crate::error::EnvelopeError;
use crate::header::Header;
use crate::kdf::KdfParams;
use crate::key::DerivedKey;
use crate::layout::{ChunkSize, TAG_LEN, chunk_plaintext_len};
use crate::password::Password;
use crate::reader::{has_more, read_full};

/// What a sealer chooses; everything else in the header is random or measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealOptions {
    pub kdf: KdfParams,
    pub chunk_size: ChunkSize,
    /// Which backup-password generation this backup is sealed with (the console shows it).
    pub password_generation: u32,
}

impl SealOptions {
    /// Default KDF parameters and chunk size.
    pub fn new(password_generation: u32) -> Self {
        Self {
            kdf: KdfParams::default(),
            chunk_size: ChunkSize::DEFAULT,
            password_generation,
        }
    }
}

/// Seals exactly `plaintext_len` bytes of `input` for the license `serial` into `output`:
/// a fresh random salt and nonce prefix, Argon2id, then the chunk stream.
///
/// Errors with `input_length_mismatch` if `input` is shorter or longer; by then part of
/// the output may be written, so write to a file you can discard (or use `seal_file`).
pub fn seal<R: Read, W: Write>(
    password: &Password,
    serial: &str,
    options: SealOptions,
    plaintext_len: u64,
    input: R,
    output: W,
) -> Result<Header, EnvelopeError> {
    let header = Header::new(
        options.kdf,
        options.chunk_size,
        options.password_generation,
        plaintext_len,
    )?;
    let key = DerivedKey::derive(password, serial, &header)?;
    seal_with_key(&key, input, output)?;
    Ok(header)
}

/// Seals under an already derived key, writing `key.header()` and then exactly
/// `key.header().plaintext_len()` bytes of `input` as chunks.
///
/// Each key must seal one plaintext only: sealing two different inputs with the same key
/// reuses nonces. `seal` guarantees that by deriving a key per call.
pub fn seal_with_key<R: Read, W: Write>(
    key: &DerivedKey,
    mut input: R,
    mut output: W,
) -> Result<(), EnvelopeError> {
    let header = key.header();
    let cipher = key.chunk_cipher();
    let (plaintext_len, chunk_size) = (header.plaintext_len(), header.chunk_size());
    let chunks = header.chunk_count();
    let length_mismatch = EnvelopeError::InputLengthMismatch {
        expected: plaintext_len,
    };
    output.write_all(&header.to_bytes())?;
    // Plaintext passes through this buffer, so it is wiped too.
    let mut buf = Zeroizing::new(vec![0u8; chunk_size.as_usize() + TAG_LEN]);
    for index in 0..chunks {
        let len = chunk_plaintext_len(plaintext_len, chunk_size, index);
        if read_full(&mut input, &mut buf[..len])? < len {
            return Err(length_mismatch);
        }
        let last = index + 1 == chunks;
        // Checked before the last chunk goes out, so a longer input never yields a
        // complete, valid-looking backup of a prefix.
        if last && has_more(&mut input)? {
            return Err(length_mismatch);
        }
        let counter = u32::try_from(index).expect("Header bounds chunks to 2^32");
        let tag = cipher.seal(counter, last, &mut buf[..len]);
        buf[len..len + TAG_LEN].copy_from_slice(&tag);
        output.write_all(&buf[..len + TAG_LEN])?;
    }
    output.flush()?;
    Ok(())
}
