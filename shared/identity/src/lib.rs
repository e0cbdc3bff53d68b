//! Rampart's portal sign-in cryptography and rules, with no I/O beyond the OS random
//! source: TOTP (RFC 6238), its QR code, Argon2id passwords, secrets sealed at rest,
//! the per-user throttle and opaque session tokens.

pub mod base32;
pub mod device_seal;
pub mod password;
pub mod pin;
pub mod qr;
mod random;
pub mod secret_box;
pub mod throttle;
pub mod token;
pub mod totp;

pub use password::{
    PasswordError, check_password_policy, dummy_verify, hash_password, verify_password,
};
pub use secret_box::{SecretBoxError, SecretKey, open, seal};
pub use throttle::{FailureState, LOCK_AFTER, locked_until, next_allowed_at, record_failure};
pub use token::{SessionToken, new_token, token_id};
pub use totp::{TotpRejection, TotpSecret, code_at, otpauth_uri, verify};
