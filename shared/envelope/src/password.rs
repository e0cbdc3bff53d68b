//! The backup password, held only as long as needed and wiped on drop.

use std::fmt;

use zeroize::Zeroizing;

/// A backup password. Its bytes are the UTF-8 encoding exactly as typed (no Unicode
/// normalisation, no trimming), wiped from memory on drop, and never shown by `Debug`.
///
/// The password policy (length, character classes) is the domain's business; this type
/// accepts any string so that an old backup always stays openable.
pub struct Password(Zeroizing<String>);

impl Password {
    /// Takes ownership of the string, so its buffer is the one wiped on drop.
    pub fn new(password: String) -> Self {
        Self(Zeroizing::new(password))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<String> for Password {
    fn from(password: String) -> Self {
        Self::new(password)
    }
}

impl From<&str> for Password {
    fn from(password: &str) -> Self {
        Self::new(password.to_owned())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let shown = format!("{:?}", Password::from("Hunter2-Secret!"));
        assert_eq!(shown, "Password(<redacted>)");
    }
}
