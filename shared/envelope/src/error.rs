//! Why a backup could not be sealed, parsed or opened.
//!
//! Every variant has a stable machine-readable `code()`: the console stores it and the
//! portal and CLI map it to words, so codes never change once released. Messages carry
//! sizes, indexes and parameters, never a password, key or plaintext byte.

use std::io;

/// Why a backup could not be sealed, parsed or opened.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The first bytes are not the format's magic: this is not a Rampart backup.
    #[error("not a Rampart backup (bad magic bytes)")]
    NotABackup,
    /// A format version this build does not know (newer, or garbage).
    #[error("unsupported backup format version {0}")]
    UnsupportedVersion(u16),
    /// A key-derivation function (or Argon2 version) this format does not define.
    #[error("unsupported key derivation: id {id}, version {version:#04x}")]
    UnsupportedKdf { id: u8, version: u8 },
    /// An Argon2 parameter outside the accepted bounds (see `KdfParams`).
    #[error("Argon2 {name} {value} is outside the accepted {min}..={max}")]
    KdfOutOfBounds {
        name: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    /// A chunk size outside the accepted bounds (see `ChunkSize`).
    #[error("chunk size {value} is outside the accepted {min}..={max} bytes")]
    ChunkSizeOutOfBounds { value: u32, min: u32, max: u32 },
    /// Fewer bytes than a whole header.
    #[error("backup header truncated: {len} of {needed} bytes")]
    HeaderTruncated { len: usize, needed: usize },
    /// The object's size is not the one its header implies.
    #[error("backup is {actual} bytes but its header implies {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
    /// The plaintext is larger than the caller accepts, or than the chunk counter can
    /// address (2^32 chunks).
    #[error("plaintext length {plaintext_len} exceeds the limit of {max} bytes")]
    TooLarge { plaintext_len: u64, max: u64 },
    /// While sealing, the input was shorter or longer than the announced length.
    #[error("input is not the announced {expected} bytes long")]
    InputLengthMismatch { expected: u64 },
    /// The first chunk failed authentication. A wrong password, a wrong license serial
    /// and a modified header all look the same to AES-GCM, on purpose.
    #[error("wrong password or license serial (or the header was modified)")]
    WrongPasswordOrSerial,
    /// A later chunk failed authentication: the file was modified, reordered or spliced.
    #[error("backup corrupted: chunk {chunk} failed authentication")]
    Corrupted { chunk: u64 },
    /// The input ended before the last chunk.
    #[error("backup truncated: input ends inside or before chunk {chunk}")]
    Truncated { chunk: u64 },
    /// Bytes follow the last chunk.
    #[error("unexpected data after the last chunk")]
    TrailingData,
    /// Reading the input or writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl EnvelopeError {
    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotABackup => "not_a_backup",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::UnsupportedKdf { .. } => "unsupported_kdf",
            Self::KdfOutOfBounds { .. } => "kdf_out_of_bounds",
            Self::ChunkSizeOutOfBounds { .. } => "chunk_size_out_of_bounds",
            Self::HeaderTruncated { .. } => "header_truncated",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::TooLarge { .. } => "too_large",
            Self::InputLengthMismatch { .. } => "input_length_mismatch",
            Self::WrongPasswordOrSerial => "wrong_password_or_serial",
            Self::Corrupted { .. } => "corrupted",
            Self::Truncated { .. } => "truncated",
            Self::TrailingData => "trailing_data",
            Self::Io(_) => "io",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            EnvelopeError::NotABackup,
            EnvelopeError::UnsupportedVersion(2),
            EnvelopeError::UnsupportedKdf { id: 2, version: 0 },
            EnvelopeError::KdfOutOfBounds {
                name: "memory_kib",
                value: 0,
                min: 1,
                max: 2,
            },
            EnvelopeError::ChunkSizeOutOfBounds {
                value: 0,
                min: 1,
                max: 2,
            },
            EnvelopeError::HeaderTruncated { len: 0, needed: 1 },
            EnvelopeError::SizeMismatch {
                expected: 1,
                actual: 2,
            },
            EnvelopeError::TooLarge {
                plaintext_len: 2,
                max: 1,
            },
            EnvelopeError::InputLengthMismatch { expected: 1 },
            EnvelopeError::WrongPasswordOrSerial,
            EnvelopeError::Corrupted { chunk: 1 },
            EnvelopeError::Truncated { chunk: 1 },
            EnvelopeError::TrailingData,
            EnvelopeError::Io(io::Error::other("x")),
        ];
        let mut codes: Vec<_> = all.iter().map(EnvelopeError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
