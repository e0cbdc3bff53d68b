//! Profile sections on the appliance (SPEC 8): the configuration changes a
//! check-in reply carries are taken section by section as the appliance's
//! authorizations allow (the appliance has the last word, whatever the console
//! knew), the others refused with the reason, and the results reported.

use rampart_domain::profile::{
    ConfigResultRequest, ConfigurationChange, ProfileSections, Section, SectionOutcome,
    SectionResult, section_refusal,
};
use rampart_domain::report::Authorizations;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the appliance holds of its configuration (kept in the state file).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedConfig {
    /// The configuration version it reports at check-in.
    pub version: u64,
    /// The sections in force.
    pub sections: ProfileSections,
    /// The version of each section in force.
    pub section_versions: BTreeMap<Section, u64>,
    /// Results not yet taken by the console.
    #[serde(default)]
    pub unreported: Option<ConfigResultRequest>,
}

impl AppliedConfig {
    /// Takes `change` as `authorizations` allow, and keeps its results to report.
    /// A change that fails its checks is applied nowhere and fails every section.
    pub fn apply(&mut self, change: &ConfigurationChange, authorizations: &Authorizations) {
        let checked = change.validate();
        let mut results = Vec::new();
        for s in change.sections() {
            let version = change.section_versions.get(&s).copied().unwrap_or(0);
            let (result, info) = if let Err(e) = &checked {
                (
                    SectionOutcome::Failed,
                    Some(format!("invalid configuration: {e}")),
                )
            } else if let Some(reason) = section_refusal(authorizations, s) {
                (SectionOutcome::Refused, Some(reason))
            } else {
                if change.set.has(s) {
                    self.sections.copy_section(&change.set, s);
                    self.section_versions.insert(s, version);
                } else {
                    self.sections.remove(s);
                    self.section_versions.remove(&s);
                }
                (SectionOutcome::Applied, None)
            };
            results.push(SectionResult {
                section: s,
                version,
                result,
                info,
            });
        }
        self.version = self.version.max(change.version);
        if !results.is_empty() {
            self.unreported = Some(ConfigResultRequest {
                config_version: self.version,
                results,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::profile::{CloudShield, Fail2ban};

    fn change() -> ConfigurationChange {
        ConfigurationChange {
            version: 4,
            set: ProfileSections {
                fail2ban: Some(Fail2ban {
                    enabled: true,
                    max_retries: 3,
                    ban_time_secs: 600,
                }),
                cloud_shield: Some(CloudShield { enabled: true }),
                ..ProfileSections::default()
            },
            removed: vec![Section::Vpn],
            section_versions: BTreeMap::from([
                (Section::Fail2ban, 4),
                (Section::CloudShield, 3),
                (Section::Vpn, 4),
            ]),
        }
    }

    #[test]
    fn allowed_sections_apply_and_the_others_are_refused_with_the_reason() {
        let auth = Authorizations {
            utm_profiles: true,
            fail2ban: true,
            vpn_configuration: true,
            profile_sections: BTreeMap::from([("cloud_shield".to_owned(), false)]),
            cloud_shield: true,
            ..Authorizations::default()
        };
        let mut held = AppliedConfig::default();
        held.apply(&change(), &auth);
        assert_eq!(held.version, 4);
        assert!(held.sections.fail2ban.is_some());
        assert!(!held.sections.cloud_shield_active());
        let report = held.unreported.clone().unwrap();
        let outcome = |s| report.results.iter().find(|r| r.section == s).unwrap();
        assert_eq!(outcome(Section::Fail2ban).result, SectionOutcome::Applied);
        assert_eq!(outcome(Section::Vpn).result, SectionOutcome::Applied);
        let refused = outcome(Section::CloudShield);
        assert_eq!(refused.result, SectionOutcome::Refused);
        assert!(
            refused
                .info
                .as_deref()
                .unwrap()
                .contains("switch cloud_shield")
        );
        assert_eq!(report.validate(), Ok(()));
    }

    #[test]
    fn an_invalid_change_applies_nothing() {
        let mut bad = change();
        bad.section_versions.clear();
        let mut held = AppliedConfig::default();
        held.apply(&bad, &crate::simulated::all_authorizations());
        assert!(held.sections.is_empty());
        assert!(
            held.unreported
                .unwrap()
                .results
                .iter()
                .all(|r| r.result == SectionOutcome::Failed)
        );
    }
}
