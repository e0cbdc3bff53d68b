//! From password, license serial and header to the payload key.
//!
//! `payload_key = HKDF-SHA256(salt = none, ikm = Argon2id(password, header salt),
//! info = CONTEXT || header bytes || serial)`. Putting the exact header bytes and the
//! serial in the key (rather than in each chunk's associated data) authenticates both
//! through every chunk's tag with a single mechanism: change a header bit or open with
//! another serial and the first chunk fails.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::EnvelopeError;
use crate::header::Header;
use crate::kdf::OUTPUT_LEN;
use crate::password::Password;
use crate::stream::ChunkCipher;

/// The HKDF info's leading label: separates this key from any other use of the same
/// Argon2 output, and names the format version.
pub const CONTEXT: &[u8] = b"Rampart backup v1 payload key";
/// Bytes of the AES-256 payload key.
pub(crate) const KEY_LEN: usize = 32;

/// The payload key of one backup (one header, one serial, one password). Wiped on drop,
/// never shown by `Debug`.
///
/// Deriving it is the expensive, memory-hard step; holding it lets a caller seal or open
/// the same backup without paying the KDF again (benchmarks, retries).
pub struct DerivedKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    header: Header,
}

impl DerivedKey {
    /// Runs Argon2id at the header's parameters, then HKDF over the header and serial.
    pub fn derive(
        password: &Password,
        serial: &str,
        header: &Header,
    ) -> Result<Self, EnvelopeError> {
        let ikm = header.kdf().derive(password, header.salt())?;
        Ok(Self {
            key: payload_key(&ikm, serial, header),
            header: header.clone(),
        })
    }

    /// For the test-vector entry point, which needs the intermediate values too.
    pub(crate) fn from_parts(key: Zeroizing<[u8; KEY_LEN]>, header: Header) -> Self {
        Self { key, header }
    }

    /// The header this key was derived for; `seal_with_key` writes exactly this header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn chunk_cipher(&self) -> ChunkCipher {
        ChunkCipher::new(&self.key, *self.header.nonce_prefix())
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedKey")
            .field("key", &"<redacted>")
            .field("header", &self.header)
            .finish()
    }
}

/// HKDF-SHA256 expand of the Argon2 output, bound to the header bytes and serial.
pub(crate) fn payload_key(
    argon2_output: &[u8; OUTPUT_LEN],
    serial: &str,
    header: &Header,
) -> Zeroizing<[u8; KEY_LEN]> {
    let mut info = Vec::with_capacity(CONTEXT.len() + crate::header::HEADER_LEN + serial.len());
    info.extend_from_slice(CONTEXT);
    info.extend_from_slice(&header.to_bytes());
    info.extend_from_slice(serial.as_bytes());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(None, argon2_output)
        .expand(&info, key.as_mut())
        .expect("32 bytes is far below HKDF-SHA256's 8160-byte limit");
    key
}
