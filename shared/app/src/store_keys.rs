//! Where each kind of item lives in the single table. Everything a portal user
//! can reach is under its tenant's partition (`TENANT#...`), so a query can only
//! ever see one tenant.

use rampart_domain::ids::{ApplianceId, Serial, TenantId};
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
