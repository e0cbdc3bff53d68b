//! How a plaintext of a given length is cut into chunks, and how long the sealed file is.
//! Shared by the sealer, the opener and the console's size check so they cannot disagree.

use crate::error::EnvelopeError;
use crate::header::HEADER_LEN;

/// Bytes of the AES-GCM tag after every chunk.
pub const TAG_LEN: usize = 16;

/// The chunk counter is 32 bits: no more chunks than it can number.
pub const MAX_CHUNKS: u64 = 1 << 32;

/// Plaintext bytes per chunk (every chunk but the last is exactly this long).
///
/// Bounds: 1 KiB keeps the tag overhead under 1.6 %; 16 MiB caps the one chunk buffer
/// that sealing and opening hold in memory, so a hostile header cannot make a restore
/// allocate more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkSize(u32);

impl ChunkSize {
    pub const MIN: u32 = 1024;
    pub const MAX: u32 = 16 * 1024 * 1024;
    /// 64 KiB: tag overhead 0.02 %, and a buffer small enough for any appliance.
    pub const DEFAULT: Self = Self(64 * 1024);

    pub fn new(bytes: u32) -> Result<Self, EnvelopeError> {
        if (Self::MIN..=Self::MAX).contains(&bytes) {
            Ok(Self(bytes))
        } else {
            Err(EnvelopeError::ChunkSizeOutOfBounds {
                value: bytes,
                min: Self::MIN,
                max: Self::MAX,
            })
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub(crate) fn as_usize(self) -> usize {
        // At most 16 MiB, which fits every usize Rust supports here.
        self.0 as usize
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How many chunks a plaintext needs: ceil(len / chunk size), but at least one, since an
/// empty plaintext is sealed as one empty last chunk. `chunk_size` must not be zero.
pub(crate) fn chunk_count(plaintext_len: u64, chunk_size: u32) -> u64 {
    plaintext_len.div_ceil(u64::from(chunk_size)).max(1)
}

/// Plaintext bytes in chunk `index` (0-based) of a plaintext of `plaintext_len`.
pub(crate) fn chunk_plaintext_len(plaintext_len: u64, chunk_size: ChunkSize, index: u64) -> usize {
    let start = index.saturating_mul(u64::from(chunk_size.get()));
    let left = plaintext_len.saturating_sub(start);
    // At most the chunk size, which fits in usize.
    left.min(u64::from(chunk_size.get())) as usize
}

/// The exact size of a sealed backup: header, every chunk's ciphertext (as long as its
/// plaintext) and one tag per chunk.
///
/// Total for any input: an impossible layout (chunk size 0, more than 2^32 chunks, or a
/// size beyond u64) gives `u64::MAX`, which no real object size equals.
pub fn sealed_len(plaintext_len: u64, chunk_size: u32) -> u64 {
    if chunk_size == 0 {
        return u64::MAX;
    }
    let chunks = chunk_count(plaintext_len, chunk_size);
    if chunks > MAX_CHUNKS {
        return u64::MAX;
    }
    (HEADER_LEN as u64)
        .checked_add(plaintext_len)
        .and_then(|n| n.checked_add(chunks * TAG_LEN as u64))
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = HEADER_LEN as u64;

    #[test]
    fn sealed_len_counts_one_tag_per_chunk() {
        assert_eq!(sealed_len(0, 1024), H + 16);
        assert_eq!(sealed_len(1, 1024), H + 1 + 16);
        assert_eq!(sealed_len(1024, 1024), H + 1024 + 16);
        assert_eq!(sealed_len(1025, 1024), H + 1025 + 32);
        assert_eq!(sealed_len(2048, 1024), H + 2048 + 32);
    }

    #[test]
    fn sealed_len_is_total() {
        assert_eq!(sealed_len(10, 0), u64::MAX);
        assert_eq!(sealed_len(u64::MAX, 1024), u64::MAX);
        assert_eq!(sealed_len(u64::MAX - 10, ChunkSize::MAX), u64::MAX);
        // Exactly 2^32 chunks is fine, one byte more is not.
        assert_ne!(sealed_len(MAX_CHUNKS * 1024, 1024), u64::MAX);
        assert_eq!(sealed_len(MAX_CHUNKS * 1024 + 1, 1024), u64::MAX);
    }

    #[test]
    fn last_chunk_is_partial_or_full() {
        let cs = ChunkSize::new(1024).unwrap();
        assert_eq!(chunk_plaintext_len(0, cs, 0), 0);
        assert_eq!(chunk_plaintext_len(2500, cs, 0), 1024);
        assert_eq!(chunk_plaintext_len(2500, cs, 2), 452);
        assert_eq!(chunk_plaintext_len(2048, cs, 1), 1024);
    }

    #[test]
    fn chunk_size_bounds() {
        assert!(ChunkSize::new(1023).is_err());
        assert!(ChunkSize::new(1024).is_ok());
        assert!(ChunkSize::new(16 << 20).is_ok());
        assert_eq!(
            ChunkSize::new((16 << 20) + 1).unwrap_err().code(),
            "chunk_size_out_of_bounds"
        );
    }
}
