//! The fixed-length, versioned header at the start of every backup: everything needed to
//! derive the key and cut the stream, and nothing secret, so the console can check it
//! without the password. Layout (all integers big-endian) in docs/backup-format.md.

use crate::error::EnvelopeError;
use crate::kdf::{ARGON2_VERSION, KDF_ARGON2ID, KdfParams};
use crate::layout::{ChunkSize, MAX_CHUNKS, chunk_count, sealed_len};
use crate::random;

/// `\x89 R M P \r \n \x1a \n`: the high byte catches 7-bit transfers, CR LF and LF catch
/// line-ending conversion, ^Z stops `type` on DOS (the PNG trick).
pub const MAGIC: [u8; 8] = [0x89, b'R', b'M', b'P', 0x0D, 0x0A, 0x1A, 0x0A];
/// The only format version this build reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of the version-1 header.
pub const HEADER_LEN: usize = 63;
/// Bytes of the Argon2 salt.
pub const SALT_LEN: usize = 16;
/// Bytes of the random part of every chunk nonce.
pub const NONCE_PREFIX_LEN: usize = 7;

// Field offsets of the version-1 header.
const VERSION_AT: usize = 8;
const KDF_ID_AT: usize = 10;
const KDF_VERSION_AT: usize = 11;
const MEMORY_AT: usize = 12;
const ITERATIONS_AT: usize = 16;
const PARALLELISM_AT: usize = 20;
const CHUNK_SIZE_AT: usize = 24;
const GENERATION_AT: usize = 28;
const PLAINTEXT_LEN_AT: usize = 32;
const SALT_AT: usize = 40;
const NONCE_PREFIX_AT: usize = 56;

/// A parsed header. Every value of this type is within the format's bounds: `parse`
/// refuses anything this build would not open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    kdf: KdfParams,
    chunk_size: ChunkSize,
    password_generation: u32,
    plaintext_len: u64,
    salt: [u8; SALT_LEN],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl Header {
    /// A header for sealing `plaintext_len` bytes, with a fresh random salt and nonce
    /// prefix from the OS.
    pub fn new(
        kdf: KdfParams,
        chunk_size: ChunkSize,
        password_generation: u32,
        plaintext_len: u64,
    ) -> Result<Self, EnvelopeError> {
        Self::with_randomness(
            kdf,
            chunk_size,
            password_generation,
            plaintext_len,
            random::bytes()?,
            random::bytes()?,
        )
    }

    /// Only for `new` and the test-vector entry point: a fixed salt and nonce prefix
    /// reused across backups under one password would repeat keys.
    pub(crate) fn with_randomness(
        kdf: KdfParams,
        chunk_size: ChunkSize,
        password_generation: u32,
        plaintext_len: u64,
        salt: [u8; SALT_LEN],
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Result<Self, EnvelopeError> {
        check_chunk_count(plaintext_len, chunk_size)?;
        Ok(Self {
            kdf,
            chunk_size,
            password_generation,
            plaintext_len,
            salt,
            nonce_prefix,
        })
    }

    /// Parses and checks the header at the start of `bytes` (only the first
    /// `HEADER_LEN` bytes are read; more may follow).
    ///
    /// Checks, in this order: magic, format version, length, KDF id and Argon2 version,
    /// KDF parameters, chunk size, and that the chunk counter can number every chunk.
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let magic_seen = bytes.len().min(MAGIC.len());
        if bytes[..magic_seen] != MAGIC[..magic_seen] {
            return Err(EnvelopeError::NotABackup);
        }
        let truncated = EnvelopeError::HeaderTruncated {
            len: bytes.len(),
            needed: HEADER_LEN,
        };
        // The version decides the header's length, so it is read before the length check.
        if bytes.len() < VERSION_AT + 2 {
            return Err(truncated);
        }
        let version = u16::from_be_bytes(array(bytes, VERSION_AT));
        if version != FORMAT_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        if bytes.len() < HEADER_LEN {
            return Err(truncated);
        }
        let (kdf_id, kdf_version) = (bytes[KDF_ID_AT], bytes[KDF_VERSION_AT]);
        if kdf_id != KDF_ARGON2ID || kdf_version != ARGON2_VERSION {
            return Err(EnvelopeError::UnsupportedKdf {
                id: kdf_id,
                version: kdf_version,
            });
        }
        let kdf = KdfParams::new(
            u32::from_be_bytes(array(bytes, MEMORY_AT)),
            u32::from_be_bytes(array(bytes, ITERATIONS_AT)),
            u32::from_be_bytes(array(bytes, PARALLELISM_AT)),
        )?;
        let chunk_size = ChunkSize::new(u32::from_be_bytes(array(bytes, CHUNK_SIZE_AT)))?;
        Self::with_randomness(
            kdf,
            chunk_size,
            u32::from_be_bytes(array(bytes, GENERATION_AT)),
            u64::from_be_bytes(array(bytes, PLAINTEXT_LEN_AT)),
            array(bytes, SALT_AT),
            array(bytes, NONCE_PREFIX_AT),
        )
    }

    /// The header's bytes. Every field is canonical (no reserved bits), so this is
    /// exactly the bytes `parse` read.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..VERSION_AT].copy_from_slice(&MAGIC);
        out[VERSION_AT..KDF_ID_AT].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
        out[KDF_ID_AT] = KDF_ARGON2ID;
        out[KDF_VERSION_AT] = ARGON2_VERSION;
        out[MEMORY_AT..ITERATIONS_AT].copy_from_slice(&self.kdf.memory_kib().to_be_bytes());
        out[ITERATIONS_AT..PARALLELISM_AT].copy_from_slice(&self.kdf.iterations().to_be_bytes());
        out[PARALLELISM_AT..CHUNK_SIZE_AT].copy_from_slice(&self.kdf.parallelism().to_be_bytes());
        out[CHUNK_SIZE_AT..GENERATION_AT].copy_from_slice(&self.chunk_size.get().to_be_bytes());
        out[GENERATION_AT..PLAINTEXT_LEN_AT]
            .copy_from_slice(&self.password_generation.to_be_bytes());
        out[PLAINTEXT_LEN_AT..SALT_AT].copy_from_slice(&self.plaintext_len.to_be_bytes());
        out[SALT_AT..NONCE_PREFIX_AT].copy_from_slice(&self.salt);
        out[NONCE_PREFIX_AT..].copy_from_slice(&self.nonce_prefix);
        out
    }

    /// The console's check of an uploaded object, without the password: the header is
    /// well-formed and within bounds (guaranteed by `parse`), the plaintext is at most
    /// `max_plaintext` bytes, and the object is exactly as long as the header implies.
    /// It cannot tell whether the chunks authenticate; only the password holder can.
    pub fn validate_for_ingest(
        &self,
        total_object_size: u64,
        max_plaintext: u64,
    ) -> Result<(), EnvelopeError> {
        if self.plaintext_len > max_plaintext {
            return Err(EnvelopeError::TooLarge {
                plaintext_len: self.plaintext_len,
                max: max_plaintext,
            });
        }
        let expected = self.sealed_len();
        if total_object_size != expected {
            return Err(EnvelopeError::SizeMismatch {
                expected,
                actual: total_object_size,
            });
        }
        Ok(())
    }

    /// Always `FORMAT_VERSION`: other versions do not parse.
    pub fn format_version(&self) -> u16 {
        FORMAT_VERSION
    }

    pub fn kdf(&self) -> KdfParams {
        self.kdf
    }

    pub fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    /// Which backup-password generation sealed this backup.
    pub fn password_generation(&self) -> u32 {
        self.password_generation
    }

    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    pub fn nonce_prefix(&self) -> &[u8; NONCE_PREFIX_LEN] {
        &self.nonce_prefix
    }

    /// Number of chunks the payload has (at least one).
    pub fn chunk_count(&self) -> u64 {
        chunk_count(self.plaintext_len, self.chunk_size.get())
    }

    /// The exact size of the whole sealed backup.
    pub fn sealed_len(&self) -> u64 {
        sealed_len(self.plaintext_len, self.chunk_size.get())
    }
}

/// The 32-bit chunk counter must not wrap, or two chunks would share a nonce.
fn check_chunk_count(plaintext_len: u64, chunk_size: ChunkSize) -> Result<(), EnvelopeError> {
    if chunk_count(plaintext_len, chunk_size.get()) > MAX_CHUNKS {
        return Err(EnvelopeError::TooLarge {
            plaintext_len,
            max: MAX_CHUNKS * u64::from(chunk_size.get()),
        });
    }
    Ok(())
}

/// `N` bytes at `at`; callers have checked the length.
fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header::with_randomness(
            KdfParams::default(),
            ChunkSize::DEFAULT,
            7,
            123_456,
            [0x11; SALT_LEN],
            [0x22; NONCE_PREFIX_LEN],
        )
        .unwrap()
    }

    #[test]
    fn bytes_round_trip() {
        let header = sample();
        let bytes = header.to_bytes();
        assert_eq!(Header::parse(&bytes).unwrap(), header);
        assert_eq!(&bytes[..8], &MAGIC);
        assert_eq!(&bytes[8..12], &[0, 1, 1, 0x13]);
        assert_eq!(&bytes[12..16], &65536u32.to_be_bytes());
        assert_eq!(&bytes[28..32], &7u32.to_be_bytes());
        assert_eq!(&bytes[32..40], &123_456u64.to_be_bytes());
    }

    #[test]
    fn reads_only_the_header() {
        let mut bytes = sample().to_bytes().to_vec();
        bytes.extend_from_slice(b"payload follows");
        assert_eq!(Header::parse(&bytes).unwrap(), sample());
    }

    #[test]
    fn short_input_is_truncated_or_not_a_backup() {
        let bytes = sample().to_bytes();
        for len in 0..HEADER_LEN {
            assert_eq!(
                Header::parse(&bytes[..len]).unwrap_err().code(),
                "header_truncated",
                "{len}"
            );
        }
        assert_eq!(Header::parse(b"PK\x03").unwrap_err().code(), "not_a_backup");
    }

    #[test]
    fn too_many_chunks_is_refused() {
        let err = Header::with_randomness(
            KdfParams::default(),
            ChunkSize::new(1024).unwrap(),
            0,
            MAX_CHUNKS * 1024 + 1,
            [0; SALT_LEN],
            [0; NONCE_PREFIX_LEN],
        )
        .unwrap_err();
        assert_eq!(err.code(), "too_large");
    }
}
