//! Mapping between domain values and table items, as pure `TryFrom`/`From` impls.

pub mod appliance;
pub mod backup;
pub mod comm_log;
pub mod command;
pub mod credential;
pub mod firmware_release;
pub mod job;
pub mod license;
pub mod profile;
pub mod removed_appliance;
pub mod scan;
pub mod session;
pub mod status_history;
pub mod tenant;
pub mod user;
pub mod vpn_reference;

use rampart_ports::Item;

/// An item did not have the shape its record needs.
#[derive(Debug, thiserror::Error)]
#[error("stored {record} item is malformed: {what}")]
pub struct MalformedItem {
    pub record: &'static str,
    pub what: String,
}

pub(crate) fn required<'a>(
    item: &'a Item,
    record: &'static str,
    name: &str,
) -> Result<&'a str, MalformedItem> {
    item.str(name).ok_or_else(|| MalformedItem {
        record,
        what: format!("missing {name}"),
    })
}

/// The tenant of an item under a tenant's partition (`TENANT#<tenant>`).
pub(crate) fn tenant_of(
    item: &Item,
    record: &'static str,
) -> Result<rampart_domain::ids::TenantId, MalformedItem> {
    item.key
        .pk
        .strip_prefix("TENANT#")
        .and_then(|t| rampart_domain::ids::TenantId::parse(t).ok())
        .ok_or_else(|| malformed(record, "key"))
}

pub(crate) fn malformed(record: &'static str, what: impl std::fmt::Display) -> MalformedItem {
    MalformedItem {
        record,
        what: what.to_string(),
    }
}
