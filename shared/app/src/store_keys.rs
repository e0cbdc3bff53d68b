//! Where each kind of item lives in the single table. Everything a portal user
//! can reach is under its tenant's partition (`TENANT#...`), so a query can only
//! ever see one tenant.

use rampart_domain::ids::{ApplianceId, JobId, Serial, TenantId};
use rampart_domain::tenancy::Email;
use rampart_ports::Key;

pub fn license(serial: &Serial) -> Key {
    Key::new(format!("LICENSE#{serial}"), "LICENSE")
}

/// Secondary-index partition of a tenant's licenses.
pub fn tenant_licenses_index(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

pub fn license_index_sort(serial: &Serial) -> String {
    format!("LICENSE#{serial}")
}

/// The credential an appliance signs with, found by appliance id alone (the
/// device API knows nothing else before it has verified the request).
pub fn credential(id: &ApplianceId) -> Key {
    Key::new(format!("DEVICE#{id}"), "CREDENTIAL")
}

pub fn tenant_partition(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

pub const APPLIANCE_PREFIX: &str = "APPLIANCE#";

pub fn appliance(tenant: &TenantId, id: &ApplianceId) -> Key {
    Key::new(tenant_partition(tenant), format!("{APPLIANCE_PREFIX}{id}"))
}

/// The registry of tenants, for operator views that walk every tenant.
pub const TENANTS_PARTITION: &str = "TENANTS";

pub fn tenant_registry(tenant: &TenantId) -> Key {
    Key::new(TENANTS_PARTITION, format!("TENANT#{tenant}"))
}

// ---- portal identity ---------------------------------------------------------------

pub fn tenant_profile(tenant: &TenantId) -> Key {
    Key::new(tenant_partition(tenant), "PROFILE")
}

pub const CUSTOMER_PREFIX: &str = "CUSTOMER#";

/// A reseller's link to one of its customers, under the reseller's partition.
pub fn customer_link(reseller: &TenantId, customer: &TenantId) -> Key {
    Key::new(
        tenant_partition(reseller),
        format!("{CUSTOMER_PREFIX}{customer}"),
    )
}

pub const USER_PREFIX: &str = "USER#";

/// A user lives under its tenant's partition.
pub fn user(tenant: &TenantId, email: &Email) -> Key {
    Key::new(tenant_partition(tenant), format!("{USER_PREFIX}{email}"))
}

/// Sign-in names are unique across tenants: this item maps one to its tenant.
pub fn login(email: &Email) -> Key {
    Key::new(format!("LOGIN#{email}"), "LOGIN")
}

/// Sessions and sign-in challenges, keyed by the SHA-256 of their bearer token.
pub fn session(token_id: &str) -> Key {
    Key::new(format!("SESSION#{token_id}"), "SESSION")
}

/// Secondary-index partition listing a user's sessions (to revoke them all).
pub fn user_sessions_index(email: &Email) -> String {
    format!("USERSESSIONS#{email}")
}

/// One-time password-reset links, keyed by the SHA-256 of their token.
pub fn password_reset(token_id: &str) -> Key {
    Key::new(format!("RESET#{token_id}"), "RESET")
}

/// Present once `rampart admin bootstrap` has run.
pub fn bootstrap_marker() -> Key {
    Key::new("SYSTEM", "BOOTSTRAP")
}

// ---- communication log -------------------------------------------------------------

/// The sort-key prefix of every log entry in a tenant's partition.
pub const LOG_PREFIX: &str = "LOG#";

/// Digits of the zero-padded seq in the sort key (u64::MAX has 20).
pub const SEQ_DIGITS: usize = 20;

/// The sort-key prefix of one appliance's entries (ends in `#`, so one id is never
/// a prefix of another's).
pub fn log_prefix(appliance: &ApplianceId) -> String {
    format!("{LOG_PREFIX}{appliance}#")
}

/// The sort key of entry `seq` of an appliance.
pub fn log_sort(appliance: &ApplianceId, seq: u64) -> String {
    format!("{LOG_PREFIX}{appliance}#{seq:0width$}", width = SEQ_DIGITS)
}

/// The key of entry `seq` of an appliance of `tenant`.
pub fn log_entry(tenant: &TenantId, appliance: &ApplianceId, seq: u64) -> Key {
    Key::new(tenant_partition(tenant), log_sort(appliance, seq))
}

// ---- jobs --------------------------------------------------------------------------

/// The sort-key prefix of a tenant's jobs (job ids start with their creation time,
/// so a backward query lists them newest first).
pub const JOB_PREFIX: &str = "JOB#";

pub fn job(tenant: &TenantId, job: &JobId) -> Key {
    Key::new(tenant_partition(tenant), format!("{JOB_PREFIX}{job}"))
}

/// The sort-key prefix of one job's commands, one per appliance.
pub fn command_prefix(job: &JobId) -> String {
    format!("CMD#{job}#")
}

pub fn command(tenant: &TenantId, job: &JobId, appliance: &ApplianceId) -> Key {
    Key::new(
        tenant_partition(tenant),
        format!("{}{appliance}", command_prefix(job)),
    )
}

/// The index partition of an appliance's open (queued or sent) commands. A command
/// carries it only while open, so the index holds nothing else and the check-in
/// reads just what may need action.
pub fn open_commands_index(appliance: &ApplianceId) -> String {
    format!("OPENCMD#{appliance}")
}

/// Jobs not yet finished, across tenants: what the maintenance sweep walks to time
/// commands out. A job leaves it once all its commands have finished.
pub const OPEN_JOBS_PARTITION: &str = "OPENJOBS";

pub fn open_job(tenant: &TenantId, job: &JobId) -> Key {
    Key::new(OPEN_JOBS_PARTITION, format!("{job}#{tenant}"))
}
