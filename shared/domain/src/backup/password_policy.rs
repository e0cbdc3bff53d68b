//! The backup password (SPEC 6.1): mandatory, at least 8 characters and at least 3 of
//! 4 character classes. The console checks the rule and hands the password to the
//! appliance, which derives the key from it; the password itself must never reach a
//! log, an error message or a debug print.

use std::fmt;

use zeroize::Zeroize;

use crate::validation::Invalid;

/// Fewest characters (Unicode scalar values, not bytes).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters; bounds the KDF input and anything that stores or forwards it.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Fewest of the four [`CharClass`]es a password must draw from.
pub const MIN_PASSWORD_CLASSES: usize = 3;

/// The four character classes of SPEC 6.1.
///
/// Letters outside ASCII count by their Unicode case: `Ä` is upper case, `ß` lower
/// case, so a German or Greek password is judged like an English one. Digits are
/// Unicode numerals (`char::is_numeric`). Special is everything else that is neither
/// white space nor a control character, letters without case (CJK, Arabic, ...)
/// included: they widen the alphabet as much as punctuation does. White space is
/// allowed in a password (passphrases) but counts toward no class; control characters
/// are refused outright, since they do not survive being typed or pasted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CharClass {
    Upper,
    Lower,
    Digit,
    Special,
}

impl CharClass {
    pub const ALL: [CharClass; 4] = [Self::Upper, Self::Lower, Self::Digit, Self::Special];

    /// The class of `c`; `None` for white space and control characters.
    pub fn of(c: char) -> Option<CharClass> {
        if c.is_control() || c.is_whitespace() {
            None
        } else if c.is_uppercase() {
            Some(Self::Upper)
        } else if c.is_lowercase() {
            Some(Self::Lower)
        } else if c.is_numeric() {
            Some(Self::Digit)
        } else {
            Some(Self::Special)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upper => "upper case",
            Self::Lower => "lower case",
            Self::Digit => "digits",
            Self::Special => "special characters",
        }
    }
}

impl fmt::Display for CharClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a password was refused. The message names the rule and what was counted, never
/// the password or any of its characters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRefusal {
    #[error("at least {MIN_PASSWORD_CHARS} characters (got {got})")]
    TooShort { got: usize },
    #[error("at most {MAX_PASSWORD_CHARS} characters (got {got})")]
    TooLong { got: usize },
    #[error("no control characters (tabs, line breaks and the like)")]
    ControlCharacters,
    /// `has` and `missing` together are all four classes, each in [`CharClass::ALL`]
    /// order.
    #[error(
        "at least {MIN_PASSWORD_CLASSES} of 4 character classes: has {}; missing {}",
        list(.has),
        list(.missing)
    )]
    TooFewClasses {
        has: Vec<CharClass>,
        missing: Vec<CharClass>,
    },
}

impl PasswordRefusal {
    /// A stable code for APIs and the portal to key on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "password_too_short",
            Self::TooLong { .. } => "password_too_long",
            Self::ControlCharacters => "password_control_characters",
            Self::TooFewClasses { .. } => "password_too_few_classes",
        }
    }
}

impl From<PasswordRefusal> for Invalid {
    fn from(r: PasswordRefusal) -> Self {
        Invalid::new("backup_password", r.to_string())
    }
}

/// "none", "a", "a and b", "a, b and c".
fn list(classes: &[CharClass]) -> String {
    match classes {
        [] => "none".to_owned(),
        [one] => one.to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(|c| c.as_str()).collect();
            format!("{} and {last}", init.join(", "))
        }
    }
}

/// A password that satisfies SPEC 6.1. It does not print itself (`Debug` is
/// redacted, there is no `Display` or `Serialize`) and wipes its memory when dropped.
#[derive(Clone)]
pub struct BackupPassword(String);

impl BackupPassword {
    /// Checks, in this order, length (in characters), control characters and character
    /// classes, and reports the first rule that fails. The input is wiped on refusal
    /// as well.
    pub fn parse(s: String) -> Result<BackupPassword, PasswordRefusal> {
        // Owned from here on, so that every way out wipes it.
        let candidate = BackupPassword(s);
        candidate.check()?;
        Ok(candidate)
    }

    fn check(&self) -> Result<(), PasswordRefusal> {
        let got = self.0.chars().count();
        if got < MIN_PASSWORD_CHARS {
            return Err(PasswordRefusal::TooShort { got });
        }
        if got > MAX_PASSWORD_CHARS {
            return Err(PasswordRefusal::TooLong { got });
        }
        if self.0.chars().any(char::is_control) {
            return Err(PasswordRefusal::ControlCharacters);
        }
        let present: Vec<CharClass> = self.0.chars().filter_map(CharClass::of).collect();
        let (has, missing): (Vec<CharClass>, Vec<CharClass>) = CharClass::ALL
            .iter()
            .copied()
            .partition(|c| present.contains(c));
        if has.len() < MIN_PASSWORD_CLASSES {
            return Err(PasswordRefusal::TooFewClasses { has, missing });
        }
        Ok(())
    }

    /// The password itself, for the one place that needs it: handing it to the
    /// appliance's key derivation.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BackupPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupPassword(<redacted>)")
    }
}

impl Drop for BackupPassword {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}
