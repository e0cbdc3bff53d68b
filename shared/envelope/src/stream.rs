//! The STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over AES-256-GCM:
//! chunk `i` is sealed under nonce `prefix (7) || i (u32 BE) || last (0x00/0x01)`.
//! The counter makes reordering fail, the flag makes truncation at a chunk boundary and
//! "promote an earlier chunk to last" fail, and the per-backup key makes splicing fail.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

use crate::header::NONCE_PREFIX_LEN;
use crate::key::KEY_LEN;
use crate::layout::TAG_LEN;

/// Chunks carry no associated data: the header and serial are already in the key.
const NO_AAD: &[u8] = b"";

/// Seals and opens the chunks of one backup.
pub(crate) struct ChunkCipher {
    aead: Aes256Gcm,
    prefix: [u8; NONCE_PREFIX_LEN],
}

/// A chunk's tag did not verify.
#[derive(Debug)]
pub(crate) struct Rejected;

impl ChunkCipher {
    pub(crate) fn new(key: &[u8; KEY_LEN], prefix: [u8; NONCE_PREFIX_LEN]) -> Self {
        Self {
            aead: Aes256Gcm::new(key.into()),
            prefix,
        }
    }

    /// The 12-byte nonce of chunk `counter`.
    pub(crate) fn nonce(&self, counter: u32, last: bool) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[..NONCE_PREFIX_LEN].copy_from_slice(&self.prefix);
        nonce[NONCE_PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
        nonce[11] = u8::from(last);
        nonce
    }

    /// Encrypts `chunk` in place and returns its tag.
    pub(crate) fn seal(&self, counter: u32, last: bool, chunk: &mut [u8]) -> [u8; TAG_LEN] {
        self.aead
            .encrypt_in_place_detached(Nonce::from_slice(&self.nonce(counter, last)), NO_AAD, chunk)
            .expect("AES-GCM seals any chunk below 64 GiB; chunks are at most 16 MiB")
            .into()
    }

    /// Decrypts `chunk` in place if `tag` verifies; otherwise leaves no plaintext
    /// usable (the caller must not write the buffer out).
    pub(crate) fn open(
        &self,
        counter: u32,
        last: bool,
        chunk: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Rejected> {
        self.aead
            .decrypt_in_place_detached(
                Nonce::from_slice(&self.nonce(counter, last)),
                NO_AAD,
                chunk,
                Tag::from_slice(tag),
            )
            .map_err(|_| Rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> ChunkCipher {
        ChunkCipher::new(&[7; KEY_LEN], [1, 2, 3, 4, 5, 6, 7])
    }

    #[test]
    fn nonce_layout() {
        assert_eq!(
            cipher().nonce(0x0A0B_0C0D, true),
            [1, 2, 3, 4, 5, 6, 7, 0x0A, 0x0B, 0x0C, 0x0D, 1]
        );
        assert_eq!(cipher().nonce(0, false)[7..], [0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_middle_chunk_cannot_be_opened_as_last_or_elsewhere() {
        let c = cipher();
        let mut chunk = *b"configuration chunk";
        let tag = c.seal(3, false, &mut chunk);
        assert!(c.open(3, true, &mut chunk.clone(), &tag).is_err());
        assert!(c.open(2, false, &mut chunk.clone(), &tag).is_err());
        assert!(c.open(4, false, &mut chunk.clone(), &tag).is_err());
        let other_prefix = ChunkCipher::new(&[7; KEY_LEN], [0; NONCE_PREFIX_LEN]);
        assert!(
            other_prefix
                .open(3, false, &mut chunk.clone(), &tag)
                .is_err()
        );
        c.open(3, false, &mut chunk, &tag).unwrap();
        assert_eq!(&chunk, b"configuration chunk");
    }

    #[test]
    fn a_last_chunk_cannot_be_opened_as_middle() {
        let c = cipher();
        let mut chunk = *b"tail";
        let tag = c.seal(5, true, &mut chunk);
        assert!(c.open(5, false, &mut chunk.clone(), &tag).is_err());
    }
}
