//! The appliance's PIN rules (SPEC §3.4). The appliance has the last word: it holds its
//! PIN and this guard, and decides whether a PIN-protected command (reboot, shut down,
//! factory reset, rollback, restore) runs.
//!
//! - A PIN is exactly 6 ASCII digits. It never appears in `Debug` output, and comparison
//!   is constant-time.
//! - After `max_retries` (`SESSIONAUTH_MAXRETRY`, default 5) consecutive wrong PINs the
//!   guard is blocked, and stays blocked, even for the right PIN, until someone logs in on
//!   the appliance itself ([`PinGuard::unblock_by_local_login`]). A right PIN before that
//!   resets the count. A malformed PIN counts as a wrong one.

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Digits in a PIN.
pub const PIN_LEN: usize = 6;
/// Wrong PINs in a row that block the PIN when `SESSIONAUTH_MAXRETRY` is not set.
pub const DEFAULT_MAX_RETRY: u32 = 5;
/// The range `SESSIONAUTH_MAXRETRY` may take; values outside fall back to the default.
pub const MAX_RETRY_RANGE: std::ops::RangeInclusive<u32> = 1..=20;

/// A 6-digit PIN. `Debug` is redacted, equality is constant-time, and the digits are
/// wiped from memory when it is dropped. Deliberately neither `Display` nor serde.
#[derive(Clone)]
pub struct Pin([u8; PIN_LEN]);

/// Why a PIN was not accepted as a PIN. Says nothing about the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a PIN is exactly 6 digits")]
pub struct PinFormatError;

impl Pin {
    /// Accepts exactly 6 ASCII digits, nothing else (no spaces, signs or other digits).
    pub fn parse(input: impl AsRef<[u8]>) -> Result<Self, PinFormatError> {
        let input = input.as_ref();
        let digits: [u8; PIN_LEN] = input.try_into().map_err(|_| PinFormatError)?;
        if digits.iter().all(u8::is_ascii_digit) {
            Ok(Self(digits))
        } else {
            Err(PinFormatError)
        }
    }

    /// The 6 ASCII digits, for sealing to the appliance. Never log them.
    pub fn as_bytes(&self) -> &[u8; PIN_LEN] {
        &self.0
    }

    /// The digits as text, for the appliance's own PIN store. Never log them.
    pub fn expose(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a PIN is ASCII digits")
    }

    /// Constant-time comparison with raw presented bytes (any length).
    fn matches(&self, presented: &[u8]) -> bool {
        // `ct_eq` on slices of different lengths returns false without comparing; the
        // length of a presented PIN is not a secret.
        bool::from(self.0.as_slice().ct_eq(presented))
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for Pin {}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl std::str::FromStr for Pin {
    type Err = PinFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What the appliance answers to a presented PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PinOutcome {
    /// The right PIN; the wrong-PIN count is reset.
    Accepted,
    /// A wrong (or malformed) PIN; this many more wrong PINs are allowed before the PIN
    /// blocks (always at least 1: the wrong PIN that exhausts the allowance is `Blocked`).
    Wrong { attempts_left: u32 },
    /// The PIN is blocked until a local login on the appliance; the presented PIN was not
    /// even compared.
    Blocked,
}

/// The PIN's retry state, kept by the agent in its state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PinGuard {
    /// Wrong PINs in a row that block the PIN (`SESSIONAUTH_MAXRETRY`); 0 is read as 1.
    pub max_retries: u32,
    /// Consecutive wrong PINs so far.
    pub failed: u32,
    /// Blocked until a local login.
    pub blocked: bool,
}

impl Default for PinGuard {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RETRY)
    }
}

impl PinGuard {
    /// A fresh guard allowing `max_retries` wrong PINs in a row (at least 1).
    pub fn new(max_retries: u32) -> Self {
        Self {
            max_retries: max_retries.max(1),
            failed: 0,
            blocked: false,
        }
    }

    fn limit(&self) -> u32 {
        self.max_retries.max(1)
    }

    /// Checks `presented` against the appliance's `stored` PIN and updates the state.
    /// Never panics, whatever the presented bytes.
    pub fn check(&mut self, stored: &Pin, presented: &[u8]) -> PinOutcome {
        if self.blocked {
            return PinOutcome::Blocked;
        }
        // Malformed input (wrong length, non-digits) cannot match a well-formed PIN, so
        // the constant-time comparison alone makes it count as wrong.
        if stored.matches(presented) {
            self.failed = 0;
            return PinOutcome::Accepted;
        }
        self.failed = self.failed.saturating_add(1);
        if self.failed >= self.limit() {
            self.blocked = true;
            PinOutcome::Blocked
        } else {
            PinOutcome::Wrong {
                attempts_left: self.limit() - self.failed,
            }
        }
    }

    /// Whether the PIN is blocked.
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Wrong PINs still allowed before the PIN blocks (0 when blocked).
    pub fn attempts_left(&self) -> u32 {
        if self.blocked {
            0
        } else {
            self.limit().saturating_sub(self.failed)
        }
    }

    /// Someone logged in on the appliance itself: the PIN works again with a fresh count.
    pub fn unblock_by_local_login(&mut self) {
        self.failed = 0;
        self.blocked = false;
    }
}

/// `SESSIONAUTH_MAXRETRY` from the environment's text: an integer in 1..=20 (surrounding
/// whitespace allowed), otherwise [`DEFAULT_MAX_RETRY`].
pub fn max_retry_from_env(value: Option<&str>) -> u32 {
    value
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| MAX_RETRY_RANGE.contains(n))
        .unwrap_or(DEFAULT_MAX_RETRY)
}
