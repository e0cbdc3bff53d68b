//! Firmware versions and the minimums the product rules depend on.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::validation::Invalid;

/// A firmware version like `12.2`, `12.5.1` or `14.1.0`; compared numerically,
/// a missing patch counting as 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirmwareVersion {
    major: u16,
    minor: u16,
    patch: u16,
}

/// Below this an appliance may neither enroll nor check in.
pub const MIN_SUPPORTED: FirmwareVersion = FirmwareVersion::new(12, 2, 0);
/// A web session with PIN needs at least this.
pub const MIN_WEB_SESSION_PIN: FirmwareVersion = FirmwareVersion::new(12, 5, 1);
/// Rollback to the previous version needs at least this.
pub const MIN_ROLLBACK: FirmwareVersion = FirmwareVersion::new(14, 1, 0);

impl FirmwareVersion {
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("firmware", "a version like 12.5.1");
        let parts: Vec<&str> = s.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let mut nums = [0u16; 3];
        for (slot, p) in nums.iter_mut().zip(&parts) {
            if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            *slot = p.parse().map_err(|_| bad())?;
        }
        Ok(Self::new(nums[0], nums[1], nums[2]))
    }

    /// Major, minor and patch numbers.
    pub const fn parts(self) -> (u16, u16, u16) {
        (self.major, self.minor, self.patch)
    }

    pub fn is_supported(self) -> bool {
        self >= MIN_SUPPORTED
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for FirmwareVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FirmwareVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_numerically() {
        let v = |s| FirmwareVersion::parse(s).unwrap();
        assert!(v("12.10") > v("12.9.9"));
        assert_eq!(v("12.2"), v("12.2.0"));
        assert!(v("12.1.9") < MIN_SUPPORTED);
        assert!(v("12.2").is_supported());
        assert!(v("12.5.0") < MIN_WEB_SESSION_PIN);
        assert!(v("14.1.0") >= MIN_ROLLBACK);
        assert_eq!(v("14.1").to_string(), "14.1.0");
    }

    #[test]
    fn refuses_malformed_versions() {
        for bad in [
            "", "12", "12.", "1.2.3.4", "a.b", "12.-1", "12.99999", " 12.2",
        ] {
            assert!(FirmwareVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
