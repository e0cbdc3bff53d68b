//! What an appliance reports at check-in (SPEC 3.1), with the limits every field
//! is held to.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::firmware::FirmwareVersion;
use crate::validation::{self, Invalid};

pub const MAX_INTERFACES: usize = 64;
pub const MAX_ADDRESSES_PER_INTERFACE: usize = 16;
pub const MAX_APPLICATIONS: usize = 128;
pub const MAX_PROFILE_SECTIONS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppState {
    #[serde(rename = "UP")]
    Up,
    #[serde(rename = "DOWN")]
    Down,
    #[serde(rename = "N/A")]
    NotApplicable,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    pub name: String,
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
    /// Whether the appliance considers this interface public (internet-facing).
    #[serde(default)]
    pub public: bool,
}

/// The authorizations the appliance holds (SPEC 3.3); the appliance has the last word.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Authorizations {
    pub status: bool,
    pub pin_protected_actions: bool,
    pub one_time_update: bool,
    pub web_session: bool,
    pub security_scan: bool,
    pub utm_profiles: bool,
    /// Per-section switches of UTM profiles.
    pub profile_sections: BTreeMap<String, bool>,
    pub cloud_backup: bool,
    pub administration: bool,
    pub tif: bool,
    pub data_protection: bool,
    pub fail2ban: bool,
    pub cloud_shield: bool,
    pub vpn_configuration: bool,
}

/// Features the appliance reports as active right now (the status icons of SPEC
/// 4.2 show them, greyed when off). The appliance turns VPN and Cloud Shield on or
/// off as it applies profile sections (SPEC 8); reporting is its own setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActiveFeatures {
    /// The appliance sends its regular reports.
    pub report: bool,
    /// At least one VPN connection is configured and enabled.
    pub vpn: bool,
    pub cloud_shield: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterSync {
    Synced,
    Syncing,
    Failed,
}

/// One check-in's report. Parse with [`CheckinReport::validate`] after deserializing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinReport {
    pub firmware: FirmwareVersion,
    #[serde(default)]
    pub previous_firmware: Option<FirmwareVersion>,
    pub hostname: String,
    pub model: String,
    pub cpu_percent: f64,
    pub memory_percent: f64,
    pub disk_percent: f64,
    pub uptime_secs: u64,
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    #[serde(default)]
    pub applications: BTreeMap<String, AppState>,
    #[serde(default)]
    pub authorizations: Authorizations,
    #[serde(default)]
    pub privacy_accepted: bool,
    #[serde(default)]
    pub console_activated: bool,
    #[serde(default)]
    pub cluster_sync: Option<ClusterSync>,
    /// The configuration version the appliance holds (changes after it are sent).
    #[serde(default)]
    pub config_version: u64,
    /// The appliance's time zone as its current offset from UTC in minutes (e.g. 60
    /// for CET): its regular backup runs at 07:00 appliance time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_minutes: Option<i16>,
    /// The generation of the backup password the appliance holds (0: none set yet).
    #[serde(default)]
    pub backup_password_generation: u32,
    #[serde(default)]
    pub features: ActiveFeatures,
}

/// The widest UTC offsets in use (UTC-12:00 to UTC+14:00).
pub const UTC_OFFSET_RANGE_MINUTES: std::ops::RangeInclusive<i16> = -720..=840;

fn percent(field: &'static str, v: f64) -> Result<(), Invalid> {
    if v.is_finite() && (0.0..=100.0).contains(&v) {
        Ok(())
    } else {
        Err(Invalid::new(field, "a number from 0 to 100"))
    }
}

fn name(field: &'static str, v: &str) -> Result<(), Invalid> {
    validation::text(field, v, 64)
}

impl CheckinReport {
    pub fn validate(&self) -> Result<(), Invalid> {
        validation::text("hostname", &self.hostname, 253)?;
        validation::text("model", &self.model, 64)?;
        percent("cpu_percent", self.cpu_percent)?;
        percent("memory_percent", self.memory_percent)?;
        percent("disk_percent", self.disk_percent)?;
        if let Some(offset) = self.utc_offset_minutes
            && !UTC_OFFSET_RANGE_MINUTES.contains(&offset)
        {
            return Err(Invalid::new(
                "utc_offset_minutes",
                "from -720 (UTC-12:00) to 840 (UTC+14:00)",
            ));
        }
        if self.uptime_secs > 100 * 365 * 24 * 3600 {
            return Err(Invalid::new("uptime_secs", "implausibly large"));
        }
        if self.interfaces.len() > MAX_INTERFACES {
            return Err(Invalid::new(
                "interfaces",
                format!("at most {MAX_INTERFACES}"),
            ));
        }
        for i in &self.interfaces {
            name("interfaces.name", &i.name)?;
            if i.addresses.len() > MAX_ADDRESSES_PER_INTERFACE {
                return Err(Invalid::new(
                    "interfaces.addresses",
                    format!("at most {MAX_ADDRESSES_PER_INTERFACE} per interface"),
                ));
            }
        }
        if self.applications.len() > MAX_APPLICATIONS {
            return Err(Invalid::new(
                "applications",
                format!("at most {MAX_APPLICATIONS}"),
            ));
        }
        for app in self.applications.keys() {
            name("applications", app)?;
        }
        if self.authorizations.profile_sections.len() > MAX_PROFILE_SECTIONS {
            return Err(Invalid::new(
                "authorizations.profile_sections",
                format!("at most {MAX_PROFILE_SECTIONS}"),
            ));
        }
        for s in self.authorizations.profile_sections.keys() {
            name("authorizations.profile_sections", s)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> CheckinReport {
        serde_json::from_value(serde_json::json!({
            "firmware": "14.0.2", "hostname": "fw1", "model": "UTM 160",
            "cpu_percent": 12.5, "memory_percent": 40, "disk_percent": 3, "uptime_secs": 100,
            "interfaces": [{"name": "eth0", "addresses": ["203.0.113.7"], "public": true}],
            "applications": {"http_proxy": "UP", "ips": "N/A"},
            "authorizations": {"status": true, "profile_sections": {"fail2ban": true}}
        }))
        .unwrap()
    }

    #[test]
    fn a_plausible_report_validates() {
        assert_eq!(sample().validate(), Ok(()));
    }

    #[test]
    fn limits_are_enforced() {
        let mut r = sample();
        r.cpu_percent = f64::NAN;
        assert_eq!(r.validate().unwrap_err().field, "cpu_percent");
        let mut r = sample();
        r.hostname = "x".repeat(254);
        assert_eq!(r.validate().unwrap_err().field, "hostname");
        let mut r = sample();
        r.interfaces = vec![r.interfaces[0].clone(); MAX_INTERFACES + 1];
        assert_eq!(r.validate().unwrap_err().field, "interfaces");
        let mut r = sample();
        r.applications.insert("bad\nname".into(), AppState::Up);
        assert_eq!(r.validate().unwrap_err().field, "applications");
    }

    #[test]
    fn unknown_fields_and_states_are_refused() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<CheckinReport>(v).is_err());
        let mut v = serde_json::to_value(sample()).unwrap();
        v["applications"]["x"] = serde_json::json!("SIDEWAYS");
        assert!(serde_json::from_value::<CheckinReport>(v).is_err());
    }
}
