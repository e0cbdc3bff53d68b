//! Opaque bearer tokens (portal sessions, password-reset links): random strings whose
//! SHA-256 is what the store keeps, so a leaked table yields no usable token.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Random bytes per token: 256 bits, beyond guessing even at any request rate.
pub const TOKEN_BYTES: usize = 32;

/// A new token: 32 random bytes, base64url without padding (43 characters, safe in a
/// URL, a cookie or a header).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(crate::random::bytes::<TOKEN_BYTES>())
}

/// The key the store files a token under: lower-case hex SHA-256 of its text. A plain
/// hash suffices (no salt, no slow KDF) because the token is 256 random bits, not a
/// human choice.
pub fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A bearer token held in memory. `Debug` never shows it, so it cannot slip into a log
/// through a derived `Debug` of a request or a session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh token (`new_token`).
    pub fn generate() -> Self {
        Self(new_token())
    }

    /// Wraps a token received from a client.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token text, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The store key for this token (`token_id`).
    pub fn id(&self) -> String {
        token_id(&self.0)
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}
