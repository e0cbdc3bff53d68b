//! VPN references: which appliances (by license serial) a tenant's VPN
//! configurations name as peers. SPEC 2 keeps an appliance whose license expired
//! long ago while a VPN configuration references it, so the expiry sweep asks here.
//!
//! One item per (peer serial, profile): `VPNREF#<serial>#<profile>` in the tenant's
//! partition. Whoever saves or deletes a profile's VPN section writes or deletes
//! its items in the same transaction, so a reference exists exactly while the
//! configuration holding it does; no read-modify-write of a shared list.

use rampart_domain::ids::{Serial, TenantId};
use rampart_ports::{Item, Key, Query, SortKey, Table};
use std::collections::BTreeMap;

use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::store_keys;

pub const PREFIX: &str = "VPNREF#";

/// The key of the reference from `profile`'s VPN configuration to `peer`.
pub fn key(tenant: &TenantId, peer: &Serial, profile: &str) -> Key {
    Key::new(
        store_keys::tenant_partition(tenant),
        format!("{PREFIX}{peer}#{profile}"),
    )
}

pub fn to_item(tenant: &TenantId, peer: &Serial, profile: &str) -> Item {
    Item::new(key(tenant, peer, profile))
        .with("peer", peer.as_str())
        .with("profile", profile)
}

/// Every serial some VPN configuration of `tenant` references, with the names of
/// the profiles that reference it (in name order).
pub async fn references_by_peer(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<BTreeMap<Serial, Vec<String>>, ApiError> {
    let items = all_items(
        table,
        Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(PREFIX.into())),
    )
    .await?;
    let mut by_peer: BTreeMap<Serial, Vec<String>> = BTreeMap::new();
    for item in &items {
        let Some(peer) = item.str("peer").and_then(|s| Serial::parse(s).ok()) else {
            continue;
        };
        let profiles = by_peer.entry(peer).or_default();
        if let Some(profile) = item.str("profile") {
            profiles.push(profile.to_owned());
        }
    }
    Ok(by_peer)
}
