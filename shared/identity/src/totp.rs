//! RFC 6238 time-based one-time passwords as the portal uses them: HMAC-SHA1, 6 digits,
//! 30-second steps from the Unix epoch, the defaults every authenticator app supports.

use std::fmt;

use hmac::digest::core_api::BlockSizeUser;
use hmac::digest::{Digest, FixedOutputReset};
use hmac::{Mac, SimpleHmac};
use subtle::ConstantTimeEq;

use crate::base32;

/// Digits in a portal code.
pub const DIGITS: u32 = 6;
/// Seconds per time step (RFC 6238 `X`).
pub const STEP_SECS: i64 = 30;
/// Secret length: 160 bits, the HMAC-SHA1 output size recommended by RFC 4226 §4.
pub const SECRET_LEN: usize = 20;
/// Steps of clock skew tolerated either way: phones drift and users type slowly, but a
/// wider window gives a guesser more codes per attempt.
pub const SKEW_STEPS: i64 = 1;

/// The HMAC hash of a TOTP. The portal only uses SHA-1; the others exist so the RFC 6238
/// test vectors can all be checked against the same code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// A user's shared TOTP key. `Debug` never shows it; store it only sealed
/// (`secret_box`).
#[derive(Clone)]
pub struct TotpSecret([u8; SECRET_LEN]);

/// A secret of the wrong length or encoding; the input is not echoed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a TOTP secret is {SECRET_LEN} bytes (32 base32 characters)")]
pub struct InvalidTotpSecret;

impl TotpSecret {
    /// A fresh secret from the OS random source.
    pub fn generate() -> Self {
        Self(crate::random::bytes())
    }

    /// Restores a secret, e.g. after opening its sealed copy.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InvalidTotpSecret> {
        bytes.try_into().map(Self).map_err(|_| InvalidTotpSecret)
    }

    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The form shown to users for manual entry and put in the otpauth URI.
    pub fn to_base32(&self) -> String {
        base32::encode(&self.0)
    }

    pub fn from_base32(text: &str) -> Result<Self, InvalidTotpSecret> {
        let bytes = base32::decode(text).ok_or(InvalidTotpSecret)?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl PartialEq for TotpSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TotpSecret {}

/// Why a code was refused. Show users one message for all of them: telling "replayed"
/// apart from "wrong" would confirm to an onlooker that a seen code was valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TotpRejection {
    #[error("a code is exactly {DIGITS} digits")]
    Malformed,
    #[error("the code is not valid now")]
    Wrong,
    #[error("the code has already been used")]
    Replayed,
}

/// The time step containing `unix_secs` (times before the epoch count as step 0).
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.max(0).div_euclid(STEP_SECS)
}

/// The portal's 6-digit code at `unix_secs`, zero-padded.
pub fn code_at(secret: &TotpSecret, unix_secs: i64) -> String {
    code_at_digits(&secret.0, unix_secs, DIGITS, Algorithm::Sha1)
}

/// A TOTP of any length and hash, for the RFC 6238 test vectors.
///
/// # Panics
/// If `digits` is not in `1..=10` (a 31-bit truncated value has at most 10 digits).
pub fn code_at_digits(key: &[u8], unix_secs: i64, digits: u32, algorithm: Algorithm) -> String {
    assert!((1..=10).contains(&digits), "TOTP digits must be 1..=10");
    let counter = step_at(unix_secs).unsigned_abs();
    let value = match algorithm {
        Algorithm::Sha1 => hotp::<sha1::Sha1>(key, counter),
        Algorithm::Sha256 => hotp::<sha2::Sha256>(key, counter),
        Algorithm::Sha512 => hotp::<sha2::Sha512>(key, counter),
    };
    let code = u64::from(value) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// RFC 4226 HOTP before the decimal reduction: HMAC of the big-endian counter, then
/// dynamic truncation to 31 bits.
fn hotp<D>(key: &[u8], counter: u64) -> u32
where
    D: Digest + BlockSizeUser + FixedOutputReset + Clone,
{
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <SimpleHmac<D> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let bytes = [
        hash[offset],
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ];
    u32::from_be_bytes(bytes) & 0x7fff_ffff
}

/// Checks a 6-digit code typed at `now_secs`, allowing one step of skew either way.
///
/// Returns the step it matched; the caller must store it and pass it back as
/// `last_accepted_step`, so each code (and any older one) is accepted once only.
/// Every step in the window is computed and compared in constant time, so timing does
/// not reveal which step, if any, matched.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now_secs: i64,
    last_accepted_step: Option<i64>,
) -> Result<i64, TotpRejection> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpRejection::Malformed);
    }
    let now_step = now_secs.div_euclid(STEP_SECS);
    let mut accepted = None;
    let mut replayed = false;
    for step in now_step.saturating_sub(SKEW_STEPS)..=now_step.saturating_add(SKEW_STEPS) {
        if step < 0 {
            continue;
        }
        let expected = code_at(secret, step.saturating_mul(STEP_SECS));
        if !bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            continue;
        }
        if last_accepted_step.is_some_and(|last| step <= last) {
            replayed = true;
        } else if accepted.is_none() {
            // The earliest fresh match: accepting a later step would needlessly burn
            // the code the user's next step will show.
            accepted = Some(step);
        }
    }
    match (accepted, replayed) {
        (Some(step), _) => Ok(step),
        (None, true) => Err(TotpRejection::Replayed),
        (None, false) => Err(TotpRejection::Wrong),
    }
}

/// The Key URI that enrollment shows as a QR code, in the form authenticator apps read:
/// `otpauth://totp/Issuer:account?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        account = percent_encode(account),
        secret = secret.to_base32(),
    )
}

/// RFC 3986 percent-encoding of everything but unreserved characters, so `:`, `&`,
/// `?`, `#` and spaces in a tenant or user name cannot change the URI's structure.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = TotpSecret::generate();
        let shown = format!("{secret:?}");
        assert!(!shown.contains(&secret.to_base32()));
        assert_eq!(shown, "TotpSecret(<redacted>)");
    }

    #[test]
    fn base32_round_trip_and_length() {
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(TotpSecret::from_base32(&text).unwrap(), secret);
        assert_eq!(
            TotpSecret::from_base32("MZXW6YTBOI"),
            Err(InvalidTotpSecret)
        );
        assert_eq!(TotpSecret::from_bytes(&[0; 19]), Err(InvalidTotpSecret));
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("Rampart Cloud"), "Rampart%20Cloud");
        assert_eq!(percent_encode("a:b&c?d#é"), "a%3Ab%26c%3Fd%23%C3%A9");
        assert_eq!(percent_encode("alice@123456.sms"), "alice%40123456.sms");
    }

    #[test]
    fn generated_secrets_differ() {
        assert_ne!(TotpSecret::generate(), TotpSecret::generate());
    }
}
