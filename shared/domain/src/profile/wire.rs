//! The profile messages of the portal API and the device API.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::sections::{ProfileName, ProfileSections, Section};
use crate::ids::ApplianceId;
use crate::validation::Invalid;

/// `PUT /v1/tenants/{tenant}/profiles/{profile}`: the profile's sections (a new
/// version of it when it exists). `expected_version`, when given, must be the
/// current version (0: the profile must not exist yet), so two administrators
/// editing at once do not overwrite each other unseen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveProfile {
    pub sections: ProfileSections,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
}

/// One version of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub name: ProfileName,
    pub version: u64,
    pub sections: ProfileSections,
    /// RFC 3339.
    pub updated_at: String,
    pub updated_by: String,
}

/// A profile in the list: its newest version and the sections it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub name: ProfileName,
    pub version: u64,
    pub sections: Vec<Section>,
    pub updated_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentKind {
    Appliance,
    Tag,
}

impl AssignmentKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "appliance" => Some(Self::Appliance),
            "tag" => Some(Self::Tag),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Appliance => "appliance",
            Self::Tag => "tag",
        }
    }
}

/// `PUT /v1/tenants/{tenant}/profile-assignments/{kind}/{target}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignProfile {
    pub profile: ProfileName,
}

/// A profile assigned to one appliance or to every appliance with a tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentView {
    pub kind: AssignmentKind,
    /// The appliance id or the tag.
    pub target: String,
    pub profile: ProfileName,
}

/// Where the transfer of one section to one appliance stands (SPEC 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// Handed to the appliance at a check-in; no result yet.
    Sent,
    /// Not sent: the appliance's reported authorizations do not allow it. Sent as
    /// soon as a check-in reports that they do.
    Withheld,
    Applied,
    /// The appliance refused it (its reason in `info`).
    Refused,
    Failed,
}

impl TransferState {
    /// The wire name, as serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransferState::Sent => "sent",
            TransferState::Withheld => "withheld",
            TransferState::Applied => "applied",
            TransferState::Refused => "refused",
            TransferState::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionTransfer {
    /// The section version this is about.
    pub version: u64,
    pub state: TransferState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// A section of an appliance's effective configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveSectionView {
    pub section: Section,
    pub version: u64,
    pub profile: ProfileName,
    pub profile_version: u64,
    /// `appliance` or `tag:<tag>`.
    pub via: String,
    pub content: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<SectionTransfer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedSectionView {
    pub section: Section,
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<SectionTransfer>,
}

/// `GET /v1/tenants/{tenant}/appliances/{appliance}/configuration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationView {
    pub appliance: ApplianceId,
    /// The version the console wants the appliance to hold.
    pub version: u64,
    /// The version the appliance reported at its last check-in.
    pub held_version: u64,
    pub sections: Vec<EffectiveSectionView>,
    pub removed: Vec<RemovedSectionView>,
    /// Sections waiting for the appliance to allow them.
    pub withheld: Vec<Section>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionOutcome {
    Applied,
    /// Not allowed by the appliance's authorizations.
    Refused,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionResult {
    pub section: Section,
    pub version: u64,
    pub result: SectionOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

/// At most one result per section.
pub const MAX_SECTION_RESULTS: usize = Section::ALL.len();

/// `POST /v1/device/configuration/result`: what became of the sections of a
/// configuration change. Idempotent: a result already recorded changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigResultRequest {
    /// The configuration version the appliance holds now.
    pub config_version: u64,
    pub results: Vec<SectionResult>,
}

impl ConfigResultRequest {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.results.is_empty() || self.results.len() > MAX_SECTION_RESULTS {
            return Err(Invalid::new(
                "results",
                format!("1 to {MAX_SECTION_RESULTS}, one per section"),
            ));
        }
        let distinct: BTreeSet<Section> = self.results.iter().map(|r| r.section).collect();
        if distinct.len() != self.results.len() {
            return Err(Invalid::new("results", "one result per section"));
        }
        for r in &self.results {
            if let Some(info) = &r.info {
                crate::comm_log::check_info(info)?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigResultResponse {
    /// Results that changed the transfer status.
    pub recorded: u32,
    /// Results already recorded, or about a version no longer current.
    pub ignored: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_state_names_are_the_serialized_ones() {
        use TransferState::*;
        for state in [Sent, Withheld, Applied, Refused, Failed] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
    }

    #[test]
    fn results_are_bounded_and_one_per_section() {
        let r = |s| SectionResult {
            section: s,
            version: 1,
            result: SectionOutcome::Applied,
            info: None,
        };
        let ok = ConfigResultRequest {
            config_version: 1,
            results: vec![r(Section::Fail2ban), r(Section::Vpn)],
        };
        assert_eq!(ok.validate(), Ok(()));
        let twice = ConfigResultRequest {
            config_version: 1,
            results: vec![r(Section::Vpn), r(Section::Vpn)],
        };
        assert!(twice.validate().is_err());
        let none = ConfigResultRequest {
            config_version: 1,
            results: vec![],
        };
        assert!(none.validate().is_err());
        let mut long = ok.clone();
        long.results[0].info = Some("x".repeat(2000));
        assert!(long.validate().is_err());
    }
}
