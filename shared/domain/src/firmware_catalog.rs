//! The firmware catalog (SPEC 9): the firmware versions the console knows, with
//! release date and security flag, and what they mean for one appliance: whether an
//! update is available, whether a security update is highly recommended, which
//! versions it may be upgraded to, and whether it can roll back (SPEC 4.3).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::firmware::{FirmwareVersion, MIN_ROLLBACK};
use crate::validation::{self, Invalid};

/// Longest release note kept with a catalog entry.
pub const MAX_NOTES_CHARS: usize = 256;
/// Most versions the catalog holds (one administrator command each; a real vendor
/// releases a few dozen a year).
pub const MAX_RELEASES: usize = 1000;

/// One known firmware version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareRelease {
    pub version: FirmwareVersion,
    /// Release day, `YYYY-MM-DD`.
    pub released: NaiveDate,
    /// The release fixes security problems: appliances below it should update.
    pub security: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl FirmwareRelease {
    pub fn validate(&self) -> Result<(), Invalid> {
        if !self.version.is_supported() {
            return Err(Invalid::new(
                "version",
                format!("at least {}", crate::firmware::MIN_SUPPORTED),
            ));
        }
        if let Some(n) = &self.notes {
            validation::text("notes", n, MAX_NOTES_CHARS)?;
        }
        Ok(())
    }
}

/// What the catalog offers one appliance (part of the appliance detail).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareOptions {
    /// Catalog versions newer than the installed one, oldest first.
    pub upgrades: Vec<FirmwareRelease>,
    /// The version a rollback returns to, when the installed firmware supports
    /// rollback (≥ 14.1.0) and the appliance reports a previous version.
    pub rollback_to: Option<FirmwareVersion>,
}

/// The catalog, read once and asked about any number of appliances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirmwareCatalog {
    /// By version, ascending.
    releases: Vec<FirmwareRelease>,
}

impl FirmwareCatalog {
    pub fn new(mut releases: Vec<FirmwareRelease>) -> Self {
        releases.sort_by_key(|r| r.version);
        releases.dedup_by_key(|r| r.version);
        Self { releases }
    }

    pub fn releases(&self) -> &[FirmwareRelease] {
        &self.releases
    }

    fn newer_than(&self, installed: FirmwareVersion) -> &[FirmwareRelease] {
        let first_newer = self.releases.partition_point(|r| r.version <= installed);
        &self.releases[first_newer..]
    }

    /// A catalog version newer than the installed one exists.
    pub fn update_available(&self, installed: FirmwareVersion) -> bool {
        !self.newer_than(installed).is_empty()
    }

    /// A newer catalog version fixes security problems: the installed one has them.
    pub fn security_update_recommended(&self, installed: FirmwareVersion) -> bool {
        self.newer_than(installed).iter().any(|r| r.security)
    }

    pub fn options(
        &self,
        installed: FirmwareVersion,
        previous: Option<FirmwareVersion>,
    ) -> FirmwareOptions {
        FirmwareOptions {
            upgrades: self.newer_than(installed).to_vec(),
            rollback_to: rollback_target(installed, previous),
        }
    }
}

/// Rollback is offered only where the firmware supports it (SPEC 2: ≥ 14.1.0) and
/// there is a previous version to return to.
pub fn rollback_target(
    installed: FirmwareVersion,
    previous: Option<FirmwareVersion>,
) -> Option<FirmwareVersion> {
    if installed >= MIN_ROLLBACK {
        previous
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> FirmwareVersion {
        FirmwareVersion::parse(s).unwrap()
    }

    fn release(version: &str, security: bool) -> FirmwareRelease {
        FirmwareRelease {
            version: v(version),
            released: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            security,
            notes: None,
        }
    }

    fn catalog() -> FirmwareCatalog {
        FirmwareCatalog::new(vec![
            release("14.2.0", false),
            release("14.0.2", false),
            release("14.1.0", true),
        ])
    }

    #[test]
    fn update_available_means_a_newer_catalog_version() {
        let c = catalog();
        assert!(c.update_available(v("14.0.2")));
        assert!(c.update_available(v("14.1.0")));
        assert!(!c.update_available(v("14.2.0")), "the newest is installed");
        assert!(!c.update_available(v("15.0")), "newer than anything known");
        assert!(!FirmwareCatalog::default().update_available(v("12.2")));
    }

    #[test]
    fn security_update_only_when_a_newer_version_has_the_flag() {
        let c = catalog();
        assert!(c.security_update_recommended(v("14.0.2")));
        assert!(c.security_update_recommended(v("12.9")));
        assert!(
            !c.security_update_recommended(v("14.1.0")),
            "the security release itself is installed"
        );
        assert!(!c.security_update_recommended(v("14.1.5")));
    }

    #[test]
    fn upgrades_are_the_newer_versions_oldest_first() {
        let o = catalog().options(v("14.0.2"), None);
        let versions: Vec<String> = o.upgrades.iter().map(|r| r.version.to_string()).collect();
        assert_eq!(versions, ["14.1.0", "14.2.0"]);
        assert!(catalog().options(v("14.2"), None).upgrades.is_empty());
    }

    #[test]
    fn rollback_needs_14_1_and_a_previous_version() {
        assert_eq!(
            rollback_target(v("14.1.0"), Some(v("14.0.2"))),
            Some(v("14.0.2"))
        );
        assert_eq!(rollback_target(v("14.0.9"), Some(v("14.0.2"))), None);
        assert_eq!(rollback_target(v("14.2"), None), None);
        assert_eq!(
            catalog().options(v("14.2"), Some(v("14.1"))).rollback_to,
            Some(v("14.1"))
        );
    }

    #[test]
    fn duplicate_versions_count_once() {
        let c = FirmwareCatalog::new(vec![release("14.1", true), release("14.1.0", false)]);
        assert_eq!(c.releases().len(), 1);
    }

    #[test]
    fn releases_are_validated() {
        let mut r = release("14.1", false);
        assert_eq!(r.validate(), Ok(()));
        r.notes = Some("x".repeat(MAX_NOTES_CHARS + 1));
        assert_eq!(r.validate().unwrap_err().field, "notes");
        r.notes = Some("line\nbreak".into());
        assert_eq!(r.validate().unwrap_err().field, "notes");
        assert_eq!(
            release("12.1", false).validate().unwrap_err().field,
            "version"
        );
    }
}
