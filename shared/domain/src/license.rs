//! Licenses and the rules of enrolling an appliance with one.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::firmware::FirmwareVersion;
use crate::ids::{ApplianceId, ClusterId, Serial, TenantId};
use crate::validation::{self, Invalid};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterRole {
    Master,
    Spare,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMembership {
    pub id: ClusterId,
    pub role: ClusterRole,
}

/// A license as the console keeps it. The license secret is kept only as a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct License {
    pub serial: Serial,
    pub tenant: TenantId,
    pub product: String,
    /// Last day (UTC) on which the license is valid.
    pub expires: NaiveDate,
    pub cluster: Option<ClusterMembership>,
    pub secret_hash: SecretHash,
    /// The appliance this license is bound to, once enrolled.
    pub bound_to: Option<ApplianceId>,
}

/// SHA-256 of a license secret, salted with its serial. Secrets are random
/// 128-bit tokens, so a fast hash is enough to make the stored form unusable.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl SecretHash {
    pub fn of(serial: &Serial, secret: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"rampart-license-secret-v1\0");
        h.update(serial.as_str().as_bytes());
        h.update([0]);
        h.update(secret.as_bytes());
        Self(h.finalize().into())
    }

    /// Constant-time comparison with a presented secret.
    pub fn matches(&self, serial: &Serial, secret: &str) -> bool {
        let other = Self::of(serial, secret);
        // Fold the XOR of every byte so the time taken does not depend on where they differ.
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Why an enrollment is refused; each has its own error code at the API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnrollRefusal {
    #[error("unknown license")]
    UnknownLicense,
    #[error("wrong license secret")]
    WrongSecret,
    #[error("license is bound to another appliance")]
    BoundElsewhere,
    #[error("license expired on {0}")]
    Expired(NaiveDate),
    #[error("firmware {0} is below the minimum {min}", min = crate::firmware::MIN_SUPPORTED)]
    FirmwareTooOld(FirmwareVersion),
}

/// Longest license secret accepted (generated ones are 32 hex digits).
pub const MAX_SECRET_LEN: usize = 128;

impl License {
    /// Checks everything an enrollment needs except the binding itself, which the
    /// store decides atomically. `today` is the UTC date.
    pub fn check_enrollment(
        &self,
        presented_secret: &str,
        firmware: FirmwareVersion,
        today: NaiveDate,
    ) -> Result<(), EnrollRefusal> {
        if presented_secret.len() > MAX_SECRET_LEN
            || !self.secret_hash.matches(&self.serial, presented_secret)
        {
            return Err(EnrollRefusal::WrongSecret);
        }
        if today > self.expires {
            return Err(EnrollRefusal::Expired(self.expires));
        }
        if !firmware.is_supported() {
            return Err(EnrollRefusal::FirmwareTooOld(firmware));
        }
        Ok(())
    }
}

/// What an administrator supplies to register a license.
#[derive(Clone, Debug)]
pub struct NewLicense {
    pub serial: Serial,
    pub tenant: TenantId,
    pub product: String,
    pub expires: NaiveDate,
    pub cluster: Option<ClusterMembership>,
}

impl NewLicense {
    pub fn validate(&self) -> Result<(), Invalid> {
        validation::text("product", &self.product, 64)?;
        if let Some(c) = &self.cluster {
            let spare_serial = self.serial.is_spare();
            match (c.role, spare_serial) {
                (ClusterRole::Spare, false) => {
                    return Err(Invalid::new(
                        "serial",
                        "a spare license's serial ends in -SPARE",
                    ));
                }
                (ClusterRole::Master, true) => {
                    return Err(Invalid::new(
                        "role",
                        "a -SPARE serial is a spare, not a master",
                    ));
                }
                _ => {}
            }
        } else if self.serial.is_spare() {
            return Err(Invalid::new(
                "cluster_id",
                "a -SPARE serial needs a cluster id",
            ));
        }
        Ok(())
    }

    pub fn into_license(self, secret: &str) -> License {
        License {
            secret_hash: SecretHash::of(&self.serial, secret),
            serial: self.serial,
            tenant: self.tenant,
            product: self.product,
            expires: self.expires,
            cluster: self.cluster,
            bound_to: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn license() -> License {
        NewLicense {
            serial: Serial::parse("A1B2C3D4").unwrap(),
            tenant: TenantId::parse("123456.sms").unwrap(),
            product: "UTM".into(),
            expires: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
            cluster: None,
        }
        .into_license("s3cret-token")
    }

    fn fw(s: &str) -> FirmwareVersion {
        FirmwareVersion::parse(s).unwrap()
    }

    #[test]
    fn enrollment_rules_each_refuse_with_their_own_reason() {
        let l = license();
        let day = |m, d| NaiveDate::from_ymd_opt(2027, m, d).unwrap();
        assert_eq!(
            l.check_enrollment("s3cret-token", fw("14.0"), day(1, 31)),
            Ok(())
        );
        assert_eq!(
            l.check_enrollment("wrong", fw("14.0"), day(1, 1)),
            Err(EnrollRefusal::WrongSecret)
        );
        assert_eq!(
            l.check_enrollment("s3cret-token", fw("14.0"), day(2, 1)),
            Err(EnrollRefusal::Expired(day(1, 31)))
        );
        assert_eq!(
            l.check_enrollment("s3cret-token", fw("12.1.9"), day(1, 1)),
            Err(EnrollRefusal::FirmwareTooOld(fw("12.1.9")))
        );
    }

    #[test]
    fn secret_hash_is_salted_by_serial_and_hides_itself() {
        let a = SecretHash::of(&Serial::parse("AAAA1111").unwrap(), "x");
        let b = SecretHash::of(&Serial::parse("BBBB2222").unwrap(), "x");
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "SecretHash(..)");
    }

    #[test]
    fn cluster_roles_must_match_serials() {
        let mut n = NewLicense {
            serial: Serial::parse("A1B2C3D4-SPARE").unwrap(),
            tenant: TenantId::parse("1.sms").unwrap(),
            product: "UTM".into(),
            expires: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
            cluster: None,
        };
        assert!(n.validate().is_err());
        n.cluster = Some(ClusterMembership {
            id: ClusterId::parse("abcd1234").unwrap(),
            role: ClusterRole::Master,
        });
        assert!(n.validate().is_err());
        n.cluster.as_mut().unwrap().role = ClusterRole::Spare;
        assert!(n.validate().is_ok());
    }
}
