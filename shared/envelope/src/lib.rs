//! Rampart's password-encrypted backup format (SPEC §6.2), byte by byte in
//! `docs/backup-format.md`.
//!
//! Argon2id turns the backup password into key material; HKDF-SHA256 binds it to the
//! exact header bytes and the license serial; AES-256-GCM in the STREAM construction
//! seals fixed-size chunks, so truncation, reordering and splicing are all detected.
//! Sealing and opening stream, holding one chunk in memory.
//!
//! The appliance seals (`seal`, `seal_file`); the offline CLI and the agent open
//! (`open_file`, all-or-nothing); the console only parses and checks the header
//! (`Header::parse`, `Header::validate_for_ingest`) and never sees the password.

mod error;
mod file;
mod header;
mod kdf;
mod key;
mod layout;
mod open;
mod password;
mod random;
mod reader;
mod seal;
mod stream;
mod vectors;

pub use error::EnvelopeError;
pub use file::{open_file, seal_file};
pub use header::{FORMAT_VERSION, HEADER_LEN, Header, MAGIC, NONCE_PREFIX_LEN, SALT_LEN};
pub use kdf::{ARGON2_VERSION, KDF_ARGON2ID, KdfParams};
pub use key::{CONTEXT, DerivedKey};
pub use layout::{ChunkSize, MAX_CHUNKS, TAG_LEN, sealed_len};
pub use open::{open, open_with_key};
pub use password::Password;
pub use seal::{SealOptions, seal, seal_with_key};
#[doc(hidden)]
pub use vectors::{VectorOutput, seal_with_fixed_randomness_for_vectors};
