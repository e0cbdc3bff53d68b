//! The sections a profile may hold, their validated content, and which
//! authorizations an appliance needs to accept each (SPEC 3.3).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use crate::ids::Serial;
use crate::jobs::Authorization;
use crate::portal_protocol::BackupSchedule;
use crate::report::Authorizations;
use crate::validation::{self, Invalid};

/// Most hosts and networks an administration-access section lists.
pub const MAX_ADMIN_NETWORKS: usize = 64;
/// Most VPN connections a section lists. With one reference item per peer, a
/// profile save (head, version, old and new references) stays within one
/// 25-operation transaction.
pub const MAX_VPN_CONNECTIONS: usize = 10;

/// One section of a configuration profile (snake_case on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    UpdateSchedule,
    CloudBackupSchedule,
    AdministrationAccess,
    DataProtection,
    Fail2ban,
    CloudShield,
    Vpn,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::UpdateSchedule,
        Section::CloudBackupSchedule,
        Section::AdministrationAccess,
        Section::DataProtection,
        Section::Fail2ban,
        Section::CloudShield,
        Section::Vpn,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Section::UpdateSchedule => "update_schedule",
            Section::CloudBackupSchedule => "cloud_backup_schedule",
            Section::AdministrationAccess => "administration_access",
            Section::DataProtection => "data_protection",
            Section::Fail2ban => "fail2ban",
            Section::CloudShield => "cloud_shield",
            Section::Vpn => "vpn",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "section",
                    "one of update_schedule, cloud_backup_schedule, administration_access, \
                     data_protection, fail2ban, cloud_shield, vpn",
                )
            })
    }

    /// The feature authorization the section needs besides `utm_profiles` (the
    /// update schedule needs none: it only plans updates the appliance runs itself).
    pub const fn authorization(self) -> Option<Authorization> {
        match self {
            Section::UpdateSchedule => None,
            Section::CloudBackupSchedule => Some(Authorization::CloudBackup),
            Section::AdministrationAccess => Some(Authorization::Administration),
            Section::DataProtection => Some(Authorization::DataProtection),
            Section::Fail2ban => Some(Authorization::Fail2ban),
            Section::CloudShield => Some(Authorization::CloudShield),
            Section::Vpn => Some(Authorization::VpnConfiguration),
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why `a` does not let the appliance take `section`, or `None` when it does. A
/// section needs `utm_profiles`, its per-section switch not turned off
/// (`profile_sections[<section>]`; a switch not listed counts as on), and its
/// feature authorization. The console and the agent both decide with this.
pub fn section_refusal(a: &Authorizations, section: Section) -> Option<String> {
    if !a.utm_profiles {
        return Some("not authorized: utm_profiles is off".into());
    }
    if a.profile_sections.get(section.as_str()) == Some(&false) {
        return Some(format!(
            "not authorized: profile section switch {section} is off"
        ));
    }
    match section.authorization() {
        Some(needed) if !needed.granted(a) => {
            Some(format!("not authorized: {} is off", needed.as_str()))
        }
        _ => None,
    }
}

/// A profile's name: 1 to 64 letters, digits, spaces, `-`, `_` or `.` (never
/// `#`, which separates the parts of store keys).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProfileName(String);

impl ProfileName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let ok_char = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.');
        let n = s.chars().count();
        if n == 0 || n > 64 || !s.chars().all(ok_char) || s.trim() != s {
            return Err(Invalid::new(
                "profile",
                "1 to 64 letters, digits, spaces, '-', '_' or '.', no leading or trailing space",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProfileName {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        Self::parse(&s)
    }
}

impl From<ProfileName> for String {
    fn from(n: ProfileName) -> String {
        n.0
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// When the appliance installs available firmware updates (appliance time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSchedule {
    pub weekday: Weekday,
    pub hour: u8,
    pub minute: u8,
}

/// Hosts and networks administration is allowed from: addresses (`192.0.2.7`) or
/// CIDR networks (`198.51.100.0/24`, `2001:db8::/32`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdministrationAccess {
    pub networks: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataProtection {
    /// Personal data (user names, addresses) is pseudonymized in reports.
    pub anonymize_reports: bool,
    /// Days logs are kept on the appliance, 1 to 365.
    pub log_retention_days: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fail2ban {
    pub enabled: bool,
    /// Failed logins before a ban, 1 to 100.
    pub max_retries: u32,
    /// How long a ban lasts, 60 s to 30 days.
    pub ban_time_secs: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudShield {
    pub enabled: bool,
}

/// Site-to-site VPN connections, each to a peer appliance named by its license
/// serial (SPEC 2 keeps a referenced appliance past its license's expiry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpnConfig {
    pub connections: Vec<VpnConnection>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpnConnection {
    pub name: String,
    pub peer: Serial,
    pub enabled: bool,
}

/// Any subset of the sections, each with its content. The same shape is a
/// profile's content, an appliance's effective configuration, and the sections a
/// check-in reply sets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileSections {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_schedule: Option<UpdateSchedule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_backup_schedule: Option<BackupSchedule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administration_access: Option<AdministrationAccess>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_protection: Option<DataProtection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail2ban: Option<Fail2ban>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_shield: Option<CloudShield>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpn: Option<VpnConfig>,
}

fn check_network(n: &str) -> Result<(), Invalid> {
    let bad = || {
        Invalid::new(
            "administration_access.networks",
            "an IP address or a CIDR network (e.g. 198.51.100.0/24)",
        )
    };
    if n.len() > 49 {
        return Err(bad());
    }
    let (addr, prefix) = match n.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (n, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    if let Some(p) = prefix {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let p: u8 = p.parse().map_err(|_| bad())?;
        if p > max {
            return Err(bad());
        }
    }
    Ok(())
}

impl ProfileSections {
    /// Checks every present section against its limits.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(u) = &self.update_schedule
            && (u.hour > 23 || u.minute > 59)
        {
            return Err(Invalid::new(
                "update_schedule",
                "a time of day: hour 0 to 23, minute 0 to 59",
            ));
        }
        if let Some(b) = &self.cloud_backup_schedule {
            b.validate().map_err(|_| {
                Invalid::new("cloud_backup_schedule", "hour 0 to 23, minute 0 to 59")
            })?;
        }
        if let Some(a) = &self.administration_access {
            if a.networks.is_empty() || a.networks.len() > MAX_ADMIN_NETWORKS {
                return Err(Invalid::new(
                    "administration_access.networks",
                    format!("1 to {MAX_ADMIN_NETWORKS} hosts or networks"),
                ));
            }
            a.networks.iter().try_for_each(|n| check_network(n))?;
        }
        if let Some(d) = &self.data_protection
            && !(1..=365).contains(&d.log_retention_days)
        {
            return Err(Invalid::new(
                "data_protection.log_retention_days",
                "1 to 365",
            ));
        }
        if let Some(f) = &self.fail2ban {
            if !(1..=100).contains(&f.max_retries) {
                return Err(Invalid::new("fail2ban.max_retries", "1 to 100"));
            }
            if !(60..=30 * 24 * 3600).contains(&f.ban_time_secs) {
                return Err(Invalid::new(
                    "fail2ban.ban_time_secs",
                    "60 to 2592000 (30 days)",
                ));
            }
        }
        if let Some(v) = &self.vpn {
            if v.connections.len() > MAX_VPN_CONNECTIONS {
                return Err(Invalid::new(
                    "vpn.connections",
                    format!("at most {MAX_VPN_CONNECTIONS}"),
                ));
            }
            let mut names = BTreeSet::new();
            for c in &v.connections {
                validation::text("vpn.connections.name", &c.name, 64)?;
                if !names.insert(c.name.as_str()) {
                    return Err(Invalid::new(
                        "vpn.connections.name",
                        "each connection needs its own name",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The sections present, in [`Section::ALL`] order.
    pub fn present(&self) -> Vec<Section> {
        Section::ALL.into_iter().filter(|s| self.has(*s)).collect()
    }

    pub fn has(&self, s: Section) -> bool {
        match s {
            Section::UpdateSchedule => self.update_schedule.is_some(),
            Section::CloudBackupSchedule => self.cloud_backup_schedule.is_some(),
            Section::AdministrationAccess => self.administration_access.is_some(),
            Section::DataProtection => self.data_protection.is_some(),
            Section::Fail2ban => self.fail2ban.is_some(),
            Section::CloudShield => self.cloud_shield.is_some(),
            Section::Vpn => self.vpn.is_some(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.present().is_empty()
    }

    /// Takes section `s` from `from` (removing it here when `from` has none).
    pub fn copy_section(&mut self, from: &ProfileSections, s: Section) {
        match s {
            Section::UpdateSchedule => self.update_schedule = from.update_schedule,
            Section::CloudBackupSchedule => self.cloud_backup_schedule = from.cloud_backup_schedule,
            Section::AdministrationAccess => {
                self.administration_access = from.administration_access.clone();
            }
            Section::DataProtection => self.data_protection = from.data_protection,
            Section::Fail2ban => self.fail2ban = from.fail2ban,
            Section::CloudShield => self.cloud_shield = from.cloud_shield,
            Section::Vpn => self.vpn = from.vpn.clone(),
        }
    }

    /// Removes section `s`.
    pub fn remove(&mut self, s: Section) {
        self.copy_section(&ProfileSections::default(), s);
    }

    /// Whether section `s` has the same content (or absence) in both.
    pub fn same_section(&self, other: &ProfileSections, s: Section) -> bool {
        let mut a = ProfileSections::default();
        a.copy_section(self, s);
        let mut b = ProfileSections::default();
        b.copy_section(other, s);
        a == b
    }

    /// The content of section `s` as JSON (`None` when absent).
    pub fn section_json(&self, s: Section) -> Option<serde_json::Value> {
        let mut only = ProfileSections::default();
        only.copy_section(self, s);
        match serde_json::to_value(only) {
            Ok(serde_json::Value::Object(mut m)) => m.remove(s.as_str()),
            _ => None,
        }
    }

    /// The peers the VPN section names (each once).
    pub fn vpn_peers(&self) -> BTreeSet<Serial> {
        self.vpn
            .iter()
            .flat_map(|v| v.connections.iter().map(|c| c.peer.clone()))
            .collect()
    }

    /// Whether at least one VPN connection is configured and enabled.
    pub fn vpn_active(&self) -> bool {
        self.vpn
            .as_ref()
            .is_some_and(|v| v.connections.iter().any(|c| c.enabled))
    }

    pub fn cloud_shield_active(&self) -> bool {
        self.cloud_shield.is_some_and(|c| c.enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Authorization;

    pub(crate) fn sample() -> ProfileSections {
        serde_json::from_value(serde_json::json!({
            "fail2ban": {"enabled": true, "max_retries": 5, "ban_time_secs": 600},
            "cloud_shield": {"enabled": true},
            "administration_access": {"networks": ["198.51.100.0/24", "2001:db8::1"]},
            "vpn": {"connections": [{"name": "hq", "peer": "A1B2C3D4", "enabled": true}]}
        }))
        .unwrap()
    }

    #[test]
    fn sections_round_trip_and_validate() {
        let s = sample();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(
            s.present(),
            vec![
                Section::AdministrationAccess,
                Section::Fail2ban,
                Section::CloudShield,
                Section::Vpn
            ]
        );
        let back: ProfileSections =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(s.vpn_active() && s.cloud_shield_active());
        assert_eq!(s.vpn_peers().len(), 1);
        for name in Section::ALL.map(Section::as_str) {
            assert_eq!(Section::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn limits_are_enforced() {
        let mut s = sample();
        s.administration_access = Some(AdministrationAccess {
            networks: vec!["198.51.100.0/33".into()],
        });
        assert_eq!(
            s.validate().unwrap_err().field,
            "administration_access.networks"
        );
        let mut s = sample();
        s.administration_access = Some(AdministrationAccess {
            networks: vec!["10.0.0.1".into(); MAX_ADMIN_NETWORKS + 1],
        });
        assert!(s.validate().is_err());
        let mut s = sample();
        s.fail2ban = Some(Fail2ban {
            enabled: true,
            max_retries: 0,
            ban_time_secs: 600,
        });
        assert_eq!(s.validate().unwrap_err().field, "fail2ban.max_retries");
        let mut s = sample();
        let c = s.vpn.as_ref().unwrap().connections[0].clone();
        s.vpn = Some(VpnConfig {
            connections: vec![c; 2],
        });
        assert_eq!(s.validate().unwrap_err().field, "vpn.connections.name");
        let bad = serde_json::json!({"firewall": {}});
        assert!(serde_json::from_value::<ProfileSections>(bad).is_err());
    }

    #[test]
    fn names_never_hold_a_key_separator() {
        assert!(ProfileName::parse("Branch offices v2").is_ok());
        for bad in ["", "a#b", " lead", "x".repeat(65).as_str(), "tab\there"] {
            assert!(ProfileName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_section_needs_profiles_its_switch_and_its_feature() {
        let mut a = Authorizations {
            utm_profiles: true,
            fail2ban: true,
            ..Authorizations::default()
        };
        assert_eq!(section_refusal(&a, Section::Fail2ban), None);
        assert_eq!(section_refusal(&a, Section::UpdateSchedule), None);
        assert!(
            section_refusal(&a, Section::Vpn)
                .unwrap()
                .contains(Authorization::VpnConfiguration.as_str())
        );
        a.profile_sections.insert("fail2ban".into(), false);
        assert!(
            section_refusal(&a, Section::Fail2ban)
                .unwrap()
                .contains("switch")
        );
        a.utm_profiles = false;
        assert!(section_refusal(&a, Section::UpdateSchedule).is_some());
    }
}
