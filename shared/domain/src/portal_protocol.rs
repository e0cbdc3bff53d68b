//! The portal API's wire format, shared by the console, the `rampart` CLI and
//! the OpenAPI document. Errors use the same `{"error": {code, message}}` body as
//! the device API (see `device_protocol::ErrorBody`); list endpoints take
//! `?limit=&cursor=` and answer `{items, next_cursor}`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::cluster::ClusterState;
use crate::comm_log::ChainHead;
use crate::connection::ConnectionStatus;
use crate::firmware_catalog::FirmwareOptions;
use crate::ids::{ApplianceId, BackupId, ClusterId, JobId, ScanId, Serial, TenantId};
use crate::jobs::{CommandState, JobCounts, JobTarget, Operation, Refusal};
use crate::report::{AppState, ClusterSync, Interface};
use crate::tenancy::{Email, Role, TenantKind};

// ---- sign-in -------------------------------------------------------------------

/// `POST /v1/auth/login`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: Email,
    pub password: String,
}

/// What the password step leads to: the TOTP step, or TOTP enrollment for a
/// user who has none (two-factor is mandatory).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextStep {
    Totp,
    TotpEnrollment,
}

/// Answer to a correct password: a short-lived challenge for the second step.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginChallenge {
    pub challenge: String,
    pub next: NextStep,
    pub expires_at: String,
}

/// `POST /v1/auth/totp` and `POST /v1/auth/totp/confirm`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpRequest {
    pub challenge: String,
    pub code: String,
}

/// `POST /v1/auth/totp/enroll`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpEnrollRequest {
    pub challenge: String,
}

/// The new TOTP secret, shown only during enrollment (never afterwards).
#[derive(Clone, Serialize, Deserialize)]
pub struct TotpEnrollment {
    pub otpauth_uri: String,
    /// Base32, for manual entry.
    pub secret: String,
    /// The otpauth URI as a QR code.
    pub qr_svg: String,
}

/// A signed-in session: send `Authorization: Bearer <token>`.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionGrant {
    pub token: String,
    /// Absolute expiry; the session also ends after `idle_timeout_secs` unused.
    pub expires_at: String,
    pub idle_timeout_secs: u64,
}

/// `POST /v1/auth/password-reset`: always 202, whether or not the address exists.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: Email,
}

/// `POST /v1/auth/password-reset/confirm`: the token from the mailed link.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    pub token: String,
    pub password: String,
}

/// `GET /v1/me`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Me {
    pub email: Email,
    pub tenant: TenantId,
    pub tenant_kind: TenantKind,
    pub role: Role,
}

// ---- tenants and users ---------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantView {
    pub id: TenantId,
    pub name: String,
    pub kind: TenantKind,
    /// The reseller that owns a customer tenant.
    pub reseller: Option<TenantId>,
}

/// `POST /v1/tenants`: a reseller administrator creates a customer tenant.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub id: TenantId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub email: Email,
    pub tenant: TenantId,
    pub role: Role,
    pub totp_enabled: bool,
}

/// `POST /v1/tenants/{tenant}/users`: the new user gets a mailed link to set a
/// password, then enrolls TOTP at first sign-in.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: Email,
    pub role: Role,
}

// ---- licenses and appliances -----------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LicenseView {
    pub serial: Serial,
    pub tenant: TenantId,
    pub product: String,
    pub expires: String,
    pub cluster_id: Option<ClusterId>,
    pub cluster_role: Option<String>,
    pub appliance_id: Option<ApplianceId>,
}

/// The status icons of an appliance tile (SPEC 4.2); a feature that is off is
/// `false` (shown greyed). Report, VPN and Cloud Shield come from the appliance's
/// last check-in (`ActiveFeatures`); the update flags from the firmware catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplianceFlags {
    pub report_active: bool,
    pub vpn: bool,
    pub cloud_shield: bool,
    pub update_available: bool,
    pub security_update_recommended: bool,
}

/// One row of the appliance list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplianceSummary {
    pub id: ApplianceId,
    pub tenant: TenantId,
    pub name: String,
    pub serial: Serial,
    pub model: String,
    pub firmware: String,
    pub status: ConnectionStatus,
    pub last_checkin: Option<String>,
    /// First 4 hex digits of the cluster id, when the license is in a cluster.
    pub cluster: Option<String>,
    pub tags: Vec<String>,
    pub flags: ApplianceFlags,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub label: Option<String>,
}

/// The appliance detail view (SPEC 4.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplianceDetail {
    #[serde(flatten)]
    pub summary: ApplianceSummary,
    pub hostname: String,
    pub previous_firmware: Option<String>,
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub disk_percent: Option<f64>,
    pub uptime_secs: Option<u64>,
    pub interfaces: Vec<Interface>,
    pub applications: BTreeMap<String, AppState>,
    pub license: LicenseView,
    /// The company (tenant) the license is assigned to.
    pub company: String,
    pub location: Option<Location>,
    pub inventory: BTreeMap<String, String>,
    pub enrolled_at: String,
    /// Upgrade and rollback options from the firmware catalog (SPEC 4.3, 9).
    pub firmware_options: FirmwareOptions,
}

/// `PATCH /v1/tenants/{tenant}/appliances/{id}`: only the fields given change.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliancePatch {
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    /// `null` clears the location.
    #[serde(default, with = "double_option")]
    pub location: Option<Option<Location>>,
    pub inventory: Option<BTreeMap<String, String>>,
}

/// The cluster view (SPEC 4.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    pub cluster_id: ClusterId,
    pub role: String,
    /// Derived from both partners' connection and sync (see `cluster::cluster_state`).
    pub state: ClusterState,
    pub sync: Option<ClusterSync>,
    pub partner: Option<ClusterPartner>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterPartner {
    pub serial: Serial,
    pub role: String,
    pub appliance_id: Option<ApplianceId>,
    /// Connected/Disconnected, once the partner appliance has enrolled.
    pub status: Option<ConnectionStatus>,
    pub firmware: Option<String>,
    pub sync: Option<ClusterSync>,
    /// Portal path of the partner appliance.
    pub link: Option<String>,
}

/// An appliance the console removed because its license expired more than 40
/// days ago (SPEC 2); kept in the tenant's partition as the durable record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedAppliance {
    pub tenant: TenantId,
    pub serial: Serial,
    pub appliance: ApplianceId,
    pub hostname: String,
    pub license_expired: String,
    /// When it was removed (RFC 3339).
    pub removed_at: String,
    pub reason: String,
}

// ---- jobs ------------------------------------------------------------------------

/// A PIN as an administrator types it. Its `Debug` never shows it, so it cannot slip
/// into a log line; the console checks its form, seals it to each appliance and
/// forgets it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PinText(String);

impl PinText {
    pub fn new(pin: impl Into<String>) -> Self {
        Self(pin.into())
    }
    /// The PIN itself, for sealing (and only for that).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PinText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinText(<redacted>)")
    }
}

/// A new backup password as an administrator types it: like [`PinText`], never in
/// `Debug`; the console checks the policy, seals it to each appliance and forgets it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordText(String);

impl PasswordText {
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }
    /// The password itself, for the policy check and sealing (and only for those).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordText(<redacted>)")
    }
}

/// `POST /v1/tenants/{tenant}/jobs`. `pin` is required for PIN-protected operations
/// (reboot, shut down, factory reset, rollback, restore) and refused for the others;
/// `backup_password` is required for `set_backup_password` and refused otherwise.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    pub target: JobTarget,
    pub operation: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<PinText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_password: Option<PasswordText>,
}

// ---- cloud backup ----------------------------------------------------------------

/// One backup of a license, as the portal lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupView {
    pub id: BackupId,
    pub serial: Serial,
    pub appliance: ApplianceId,
    /// When the console accepted the upload (RFC 3339): the time rotation orders by.
    pub accepted_at: String,
    /// Bytes of the encrypted file.
    pub size: u64,
    /// Which backup password (1 = the first) encrypted it.
    pub password_generation: u32,
    /// Who or what made it: a user's address, `schedule`, or `appliance`.
    pub made_by: String,
    /// The job that asked for it, if any.
    pub job: Option<JobId>,
}

/// A presigned download of a backup (still encrypted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupDownload {
    pub backup_id: BackupId,
    pub size: u64,
    pub url: String,
    pub expires_at: String,
}

/// The regular backup of an appliance (SPEC 6.3): on by default, daily at 07:00
/// appliance time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSchedule {
    pub enabled: bool,
    pub hour: u8,
    pub minute: u8,
}

impl Default for BackupSchedule {
    fn default() -> Self {
        Self {
            enabled: true,
            hour: 7,
            minute: 0,
        }
    }
}

impl BackupSchedule {
    pub fn validate(&self) -> Result<(), crate::validation::Invalid> {
        if self.hour > 23 || self.minute > 59 {
            return Err(crate::validation::Invalid::new(
                "hour",
                "a time of day: hour 0 to 23, minute 0 to 59",
            ));
        }
        Ok(())
    }
}

/// `GET`/`PUT /v1/tenants/{tenant}/appliances/{id}/backup-schedule`: the schedule and,
/// when on, the next time it runs (RFC 3339, UTC).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupScheduleView {
    pub schedule: BackupSchedule,
    pub utc_offset_minutes: i16,
    pub next_run: Option<String>,
}

/// A job and its progress (SPEC 5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: JobId,
    pub tenant: TenantId,
    pub operation: Operation,
    pub target: JobTarget,
    pub created_at: String,
    pub created_by: String,
    /// How many appliances the target resolved to.
    pub appliances: u64,
    /// Per-state counts of the commands created so far.
    pub counts: JobCounts,
    /// When the last of its appliances is expected to collect its command, from
    /// their last check-in and poll interval (none when nothing is left to collect).
    pub pickup_expected_by: Option<String>,
    /// Every appliance has its command and every command has finished.
    pub finished: bool,
}

/// One appliance's command of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandView {
    pub job: JobId,
    pub appliance: ApplianceId,
    pub state: CommandState,
    /// Why it was rejected (by the appliance, or by the console before queueing).
    pub reason: Option<Refusal>,
    /// Rejected by the console from what it knew of the appliance, never sent.
    pub refused_by_console: bool,
    pub cancel_requested: bool,
    pub created_at: String,
    pub not_before: Option<String>,
    pub collect_by: String,
    pub sent_at: Option<String>,
    pub finished_at: Option<String>,
    /// The appliance's last words on it (the error of a failure).
    pub info: Option<String>,
}

/// `POST /v1/tenants/{tenant}/jobs/{job}/cancel`: the whole job, or only the
/// commands of the appliances named. Queued commands are canceled; sent ones get a
/// cancel request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobCancel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appliances: Option<Vec<ApplianceId>>,
}

/// `GET .../appliances/{appliance}/log/head`: where the appliance's log chain ends,
/// so that a verifier can tell a cut-off tail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogHeadView {
    pub appliance: ApplianceId,
    pub head: ChainHead,
}

// ---- security scan ----------------------------------------------------------------

/// Where a scan is (SPEC 7): queued, running in the `security-scan` consumer, then
/// finished (with one result per public interface) or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    Queued,
    Running,
    Finished,
    Failed,
}

impl ScanState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "finished" => Some(Self::Finished),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Self::Finished | Self::Failed)
    }
}

/// What became of one public interface in a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanOutcome {
    /// The address was scanned.
    Scanned,
    /// The address is in a special-purpose range the operator has not allowed.
    Refused,
    /// The appliance reported the address, but the console never saw it come from it.
    NotObserved,
    /// The scan of the address could not be completed.
    Failed,
}

/// An open port and the service usually behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOpenPort {
    pub port: u16,
    pub service: String,
}

/// The result for one public interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanResultView {
    pub interface: String,
    /// The address scanned (or refused); absent when none of the interface's
    /// addresses was seen by the console.
    pub address: Option<String>,
    pub outcome: ScanOutcome,
    /// Why the address was not scanned, with a stable code first (`code: text`).
    pub reason: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// By port number.
    pub open: Vec<ScanOpenPort>,
    pub closed: u32,
    pub filtered: u32,
}

/// One security scan of an appliance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanView {
    pub id: ScanId,
    pub appliance: ApplianceId,
    pub profile: String,
    pub state: ScanState,
    pub requested_by: String,
    pub requested_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// One per public interface, once the scan finished.
    pub results: Vec<ScanResultView>,
    /// Why the scan failed, when it did.
    pub error: Option<String>,
}

/// A scan profile: its name and ports with the service usually behind each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanProfileView {
    pub name: String,
    pub ports: Vec<ScanOpenPort>,
}

/// A page of a list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Distinguishes an absent field (no change) from `null` (clear).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None | Some(None) => s.serialize_none(),
            Some(Some(x)) => x.serialize(s),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
