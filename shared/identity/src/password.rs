//! Portal user passwords: Argon2id hashes in PHC string format, and the policy a new
//! password must meet.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rampart_domain::validation::Invalid;

/// Memory cost in KiB (19 MiB), passes and lanes: the OWASP minimum for Argon2id. More
/// would be stronger, but every sign-in pays it on a Lambda: about 25 ms on a full core,
/// about 360 ms at 128 MB (DESIGN.md), and the portal function is sized for this cost.
/// Hashes record their own parameters, so raising them later only affects new hashes.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
/// Salt length in bytes (RFC 9106 recommends 16).
pub const SALT_LEN: usize = 16;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 256;
/// Character classes (upper, lower, digit, other) a password must mix.
pub const MIN_CLASSES: usize = 3;

/// Refuses stored hashes asking for more than this (KiB), so a corrupted or planted
/// record cannot make a sign-in allocate without bound.
const MAX_VERIFY_M_COST_KIB: u32 = 256 * 1024;
const MAX_VERIFY_T_COST: u32 = 16;

/// A hash of an unguessable password with the current parameters, checked against by
/// `dummy_verify`; a test keeps its parameters equal to the constants above.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$kpzGKWVzH85WUNWpg3rOxQ$HADZhbkCfFir2g++bTlYsr/kiW+W9Ba/kV9i23pPPr8";

/// Hashing failed; never carries the password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .expect("the password hashing parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with Argon2id and a fresh random salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&crate::random::bytes::<SALT_LEN>())
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`. False, never a panic, for a
/// malformed hash, another algorithm, or parameters beyond sane bounds. The hash's own
/// parameters are used, so hashes made with older parameters still verify.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_VERIFY_M_COST_KIB || params.t_cost() > MAX_VERIFY_T_COST {
        return false;
    }
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// Spends the time of one `verify_password`, for sign-ins naming an unknown user: the
/// response time must not tell which user names exist.
pub fn dummy_verify() {
    std::hint::black_box(verify_password(DUMMY_PHC, "not the dummy password"));
}

/// The rules a new password must meet: 12 to 256 characters, mixing at least 3 of
/// upper case, lower case, digits and other characters. The error names the rule that
/// failed, never the password.
pub fn check_password_policy(password: &str) -> Result<(), Invalid> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(Invalid::new(
            "password",
            format!("at least {MIN_CHARS} characters"),
        ));
    }
    if chars > MAX_CHARS {
        return Err(Invalid::new(
            "password",
            format!("at most {MAX_CHARS} characters"),
        ));
    }
    let has = |test: fn(&char) -> bool| usize::from(password.chars().any(|c| test(&c)));
    let classes = has(|c| c.is_uppercase())
        + has(|c| c.is_lowercase())
        + has(|c| c.is_numeric())
        + has(|c| !c.is_uppercase() && !c.is_lowercase() && !c.is_numeric());
    if classes < MIN_CLASSES {
        return Err(Invalid::new(
            "password",
            format!(
                "at least {MIN_CLASSES} of: upper case letters, lower case letters, digits, other characters"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_uses_current_parameters() {
        let hash = PasswordHash::new(DUMMY_PHC).unwrap();
        assert_eq!(hash.algorithm, Algorithm::Argon2id.ident());
        let params = Params::try_from(&hash).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (M_COST_KIB, T_COST, P_COST)
        );
    }
}
