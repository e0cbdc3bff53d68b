//! Configuration profiles (SPEC 8): named, versioned sets of configuration
//! sections, assigned to appliances or tags, merged into one effective
//! configuration per appliance and delivered as changes at check-in.

mod effective;
mod sections;
mod wire;

pub use effective::{
    Assigned, ConfigurationChange, EffectiveConfig, SectionOrigin, merge_assignments,
};
pub use sections::{
    AdministrationAccess, CloudShield, DataProtection, Fail2ban, MAX_ADMIN_NETWORKS,
    MAX_VPN_CONNECTIONS, ProfileName, ProfileSections, Section, UpdateSchedule, VpnConfig,
    VpnConnection, Weekday, section_refusal,
};
pub use wire::{
    AssignProfile, AssignmentKind, AssignmentView, ConfigResultRequest, ConfigResultResponse,
    ConfigurationView, EffectiveSectionView, MAX_SECTION_RESULTS, ProfileSummary, ProfileView,
    RemovedSectionView, SaveProfile, SectionOutcome, SectionResult, SectionTransfer, TransferState,
};
