//! Argon2id (RFC 9106, version 0x13): the memory-hard step from password to key material,
//! and the bounds a header's parameters must respect.

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::error::EnvelopeError;
use crate::password::Password;

/// The header's KDF id for Argon2id.
pub const KDF_ARGON2ID: u8 = 1;
/// The only Argon2 version this format uses (RFC 9106's 1.3).
pub const ARGON2_VERSION: u8 = 0x13;
/// Bytes of Argon2 output (the HKDF input key material).
pub(crate) const OUTPUT_LEN: usize = 32;

/// Argon2id cost parameters, always within bounds.
///
/// The bounds protect both sides: the lower ones keep brute force expensive (8 MiB is
/// the least memory that still defeats cheap GPU cracking in practice, and it lets test
/// vectors stay fast); the upper ones stop a hostile or corrupted header from making a
/// restore allocate or spin without limit (1 GiB, 10 passes, 16 lanes are beyond any
/// appliance's sensible setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl KdfParams {
    /// 8 MiB.
    pub const MIN_MEMORY_KIB: u32 = 8 * 1024;
    /// 1 GiB.
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    pub const MIN_ITERATIONS: u32 = 1;
    pub const MAX_ITERATIONS: u32 = 10;
    pub const MIN_PARALLELISM: u32 = 1;
    pub const MAX_PARALLELISM: u32 = 16;

    /// Checked parameters: memory in KiB, passes, lanes.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, EnvelopeError> {
        check(
            "memory_kib",
            memory_kib,
            Self::MIN_MEMORY_KIB,
            Self::MAX_MEMORY_KIB,
        )?;
        check(
            "iterations",
            iterations,
            Self::MIN_ITERATIONS,
            Self::MAX_ITERATIONS,
        )?;
        check(
            "parallelism",
            parallelism,
            Self::MIN_PARALLELISM,
            Self::MAX_PARALLELISM,
        )?;
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory cost m in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Time cost t (passes over memory).
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Lanes p.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    /// Argon2id of `password` with `salt`: 32 bytes of key material, wiped on drop.
    pub(crate) fn derive(
        &self,
        password: &Password,
        salt: &[u8],
    ) -> Result<Zeroizing<[u8; OUTPUT_LEN]>, EnvelopeError> {
        // Bounds checked at construction also satisfy Argon2's own limits (m >= 8p), so
        // the argon2 crate rejecting them would mean the bounds above are wrong.
        let out_of_bounds = |_| EnvelopeError::KdfOutOfBounds {
            name: "memory_kib",
            value: self.memory_kib,
            min: Self::MIN_MEMORY_KIB,
            max: Self::MAX_MEMORY_KIB,
        };
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(out_of_bounds)?;
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password.as_bytes(), salt, out.as_mut())
            .map_err(out_of_bounds)?;
        Ok(out)
    }
}

/// RFC 9106's second recommended option's memory and passes, with four lanes.
impl Default for KdfParams {
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 4,
        }
    }
}

fn check(name: &'static str, value: u32, min: u32, max: u32) -> Result<(), EnvelopeError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(EnvelopeError::KdfOutOfBounds {
            name,
            value,
            min,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_within_bounds() {
        let d = KdfParams::default();
        assert_eq!(
            KdfParams::new(d.memory_kib(), d.iterations(), d.parallelism()).unwrap(),
            d
        );
        assert_eq!(
            (d.memory_kib(), d.iterations(), d.parallelism()),
            (65536, 3, 4)
        );
    }

    #[test]
    fn bounds_are_inclusive_and_enforced() {
        assert!(KdfParams::new(8192, 1, 1).is_ok());
        assert!(KdfParams::new(1 << 20, 10, 16).is_ok());
        for (m, t, p, name) in [
            (8191, 1, 1, "memory_kib"),
            ((1 << 20) + 1, 1, 1, "memory_kib"),
            (8192, 0, 1, "iterations"),
            (8192, 11, 1, "iterations"),
            (8192, 1, 0, "parallelism"),
            (8192, 1, 17, "parallelism"),
        ] {
            match KdfParams::new(m, t, p) {
                Err(EnvelopeError::KdfOutOfBounds { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{m}/{t}/{p}: {other:?}"),
            }
        }
    }
}
