//! Profile items, all in the tenant's partition:
//!
//! - `CFGPROFILE#<name>`: the newest version of a profile (the list reads these);
//! - `CFGPROFILEV#<name>#<version, 20 digits>`: every version, kept;
//! - `CFGASSIGN#appliance#<id>` / `CFGASSIGN#tag#<tag>`: which profile an
//!   appliance, or every appliance with a tag, has;
//! - `CONFIG#<appliance>`: the appliance's materialized effective configuration
//!   (`config`, with a `rev` that guards recomputation) and one `status#<section>`
//!   attribute per section with its transfer status.
//!
//! The appliance item carries `config_desired` (the effective configuration's
//! version) and `config_withheld` (sections the console did not send for lack of
//! authorization), so the check-in learns from its own write whether anything is
//! due. (`PROFILE` is the tenant's own profile item, hence `CFGPROFILE`.)

use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::profile::{
    AssignmentKind, AssignmentView, EffectiveConfig, ProfileName, ProfileSections, ProfileView,
    Section, SectionTransfer,
};
use rampart_ports::{Item, Key, Query, SortKey, Table, Update, Value};
use std::collections::{BTreeMap, BTreeSet};

use super::{MalformedItem, malformed, required};
use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::store_keys::tenant_partition;

const R: &str = "profile";

pub const PROFILE_PREFIX: &str = "CFGPROFILE#";
pub const VERSION_PREFIX: &str = "CFGPROFILEV#";
pub const ASSIGN_PREFIX: &str = "CFGASSIGN#";
pub const CONFIG_PREFIX: &str = "CONFIG#";

/// Attributes on the appliance item.
pub const CONFIG_DESIRED: &str = "config_desired";
pub const CONFIG_WITHHELD: &str = "config_withheld";

const STATUS_PREFIX: &str = "status#";

pub fn head_key(tenant: &TenantId, name: &ProfileName) -> Key {
    Key::new(tenant_partition(tenant), format!("{PROFILE_PREFIX}{name}"))
}

/// The sort-key prefix of a profile's versions (ends in `#`: no name is a
/// prefix of another's).
pub fn versions_prefix(name: &ProfileName) -> String {
    format!("{VERSION_PREFIX}{name}#")
}

pub fn version_key(tenant: &TenantId, name: &ProfileName, version: u64) -> Key {
    Key::new(
        tenant_partition(tenant),
        format!("{}{version:020}", versions_prefix(name)),
    )
}

pub fn assignment_key(tenant: &TenantId, kind: AssignmentKind, target: &str) -> Key {
    Key::new(
        tenant_partition(tenant),
        format!("{ASSIGN_PREFIX}{}#{target}", kind.as_str()),
    )
}

pub fn config_key(tenant: &TenantId, appliance: &ApplianceId) -> Key {
    Key::new(
        tenant_partition(tenant),
        format!("{CONFIG_PREFIX}{appliance}"),
    )
}

/// A profile version as stored (the same shape under both keys).
pub fn profile_item(key: Key, p: &ProfileView, updated_at: Timestamp) -> Item {
    Item::new(key)
        .with("name", p.name.as_str())
        .with("version", p.version as i64)
        .with(
            "sections",
            serde_json::to_string(&p.sections).unwrap_or_default(),
        )
        .with("updated_at", updated_at.millis())
        .with("updated_by", p.updated_by.as_str())
}

pub fn profile_from_item(item: &Item) -> Result<ProfileView, MalformedItem> {
    let sections: ProfileSections =
        serde_json::from_str(required(item, R, "sections")?).map_err(|e| malformed(R, e))?;
    Ok(ProfileView {
        name: ProfileName::parse(required(item, R, "name")?).map_err(|e| malformed(R, e))?,
        version: item
            .i64("version")
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| malformed(R, "version"))?,
        sections,
        updated_at: Timestamp::from_millis(item.i64("updated_at").unwrap_or(0)).to_rfc3339(),
        updated_by: required(item, R, "updated_by")?.to_owned(),
    })
}

pub fn assignment_item(tenant: &TenantId, a: &AssignmentView) -> Item {
    Item::new(assignment_key(tenant, a.kind, &a.target))
        .with("kind", a.kind.as_str())
        .with("target", a.target.as_str())
        .with("profile", a.profile.as_str())
}

pub fn assignment_from_item(item: &Item) -> Result<AssignmentView, MalformedItem> {
    Ok(AssignmentView {
        kind: AssignmentKind::parse(required(item, R, "kind")?)
            .ok_or_else(|| malformed(R, "kind"))?,
        target: required(item, R, "target")?.to_owned(),
        profile: ProfileName::parse(required(item, R, "profile")?).map_err(|e| malformed(R, e))?,
    })
}

/// Every profile assignment of a tenant.
pub async fn tenant_assignments(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<AssignmentView>, ApiError> {
    all_items(
        table,
        Query::partition(tenant_partition(tenant)).sk(SortKey::BeginsWith(ASSIGN_PREFIX.into())),
    )
    .await?
    .iter()
    .map(|i| assignment_from_item(i).map_err(|e| ApiError::Unavailable(e.into())))
    .collect()
}

/// The materialized configuration, its guard revision and the transfer status of
/// each section. A missing item is the empty configuration at revision 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredConfig {
    pub config: EffectiveConfig,
    pub rev: i64,
    pub transfers: BTreeMap<Section, SectionTransfer>,
}

pub fn config_from_item(item: Option<&Item>) -> Result<StoredConfig, MalformedItem> {
    let Some(item) = item else {
        return Ok(StoredConfig::default());
    };
    let config = match item.str("config") {
        Some(json) => serde_json::from_str(json).map_err(|e| malformed(R, e))?,
        None => EffectiveConfig::default(),
    };
    let mut transfers = BTreeMap::new();
    for (name, value) in &item.attrs {
        if let Some(section) = name.strip_prefix(STATUS_PREFIX) {
            let section = Section::parse(section).map_err(|e| malformed(R, e))?;
            let json = value.as_str().ok_or_else(|| malformed(R, name))?;
            transfers.insert(
                section,
                serde_json::from_str(json).map_err(|e| malformed(R, e))?,
            );
        }
    }
    Ok(StoredConfig {
        config,
        rev: item.i64("rev").unwrap_or(0),
        transfers,
    })
}

/// Stores a recomputed configuration (the caller guards it by `rev`).
pub fn config_update(config: &EffectiveConfig, rev: i64) -> Update {
    Update::new()
        .set("config", serde_json::to_string(config).unwrap_or_default())
        .set("rev", rev)
}

/// Records the transfer status of some sections; other sections keep theirs.
pub fn transfers_update(transfers: &BTreeMap<Section, SectionTransfer>) -> Update {
    transfers.iter().fold(Update::new(), |u, (s, t)| {
        u.set(
            &format!("{STATUS_PREFIX}{s}"),
            serde_json::to_string(t).unwrap_or_default(),
        )
    })
}

/// The sections withheld from the appliance, as its item holds them.
pub fn withheld_from_item(item: &Item) -> BTreeSet<Section> {
    match item.get(CONFIG_WITHHELD) {
        Some(Value::L(list)) => list
            .iter()
            .filter_map(|v| v.as_str().and_then(|s| Section::parse(s).ok()))
            .collect(),
        _ => BTreeSet::new(),
    }
}

pub fn withheld_update(withheld: &BTreeSet<Section>) -> Update {
    if withheld.is_empty() {
        return Update::new().remove(CONFIG_WITHHELD);
    }
    Update::new().set(
        CONFIG_WITHHELD,
        Value::L(withheld.iter().map(|s| Value::S(s.to_string())).collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::profile::TransferState;

    fn tenant() -> TenantId {
        TenantId::parse("123456.sms").unwrap()
    }

    #[test]
    fn profiles_and_assignments_round_trip() {
        let p = ProfileView {
            name: ProfileName::parse("Branch").unwrap(),
            version: 3,
            sections: serde_json::from_value(
                serde_json::json!({"cloud_shield": {"enabled": true}}),
            )
            .unwrap(),
            updated_at: Timestamp::from_secs(5).to_rfc3339(),
            updated_by: "admin@example.com".into(),
        };
        let item = profile_item(
            version_key(&tenant(), &p.name, 3),
            &p,
            Timestamp::from_secs(5),
        );
        assert_eq!(profile_from_item(&item).unwrap(), p);
        assert!(item.key.sk.starts_with("CFGPROFILEV#Branch#000"));
        assert!(!head_key(&tenant(), &p.name).sk.starts_with(VERSION_PREFIX));
        let a = AssignmentView {
            kind: AssignmentKind::Tag,
            target: "berlin".into(),
            profile: p.name.clone(),
        };
        assert_eq!(
            assignment_from_item(&assignment_item(&tenant(), &a)).unwrap(),
            a
        );
    }

    #[test]
    fn config_and_transfers_round_trip() {
        let config = EffectiveConfig {
            version: 2,
            ..EffectiveConfig::default()
        };
        let t = SectionTransfer {
            version: 2,
            state: TransferState::Refused,
            info: Some("not authorized".into()),
            at: Timestamp::from_secs(9).to_rfc3339(),
        };
        let mut item = Item::new(config_key(&tenant(), &ApplianceId::from_random([1; 16])));
        let transfers = BTreeMap::from([(Section::Vpn, t)]);
        for (k, v) in config_update(&config, 4)
            .set
            .into_iter()
            .chain(transfers_update(&transfers).set)
        {
            item.attrs.insert(k, v);
        }
        let back = config_from_item(Some(&item)).unwrap();
        assert_eq!(back.config, config);
        assert_eq!(back.rev, 4);
        assert_eq!(back.transfers, transfers);
        assert_eq!(config_from_item(None).unwrap(), StoredConfig::default());

        let withheld = BTreeSet::from([Section::Vpn, Section::Fail2ban]);
        let mut ap = Item::new(Key::new("p", "s"));
        for (k, v) in withheld_update(&withheld).set {
            ap.attrs.insert(k, v);
        }
        assert_eq!(withheld_from_item(&ap), withheld);
        assert_eq!(
            withheld_update(&BTreeSet::new()).remove,
            vec![CONFIG_WITHHELD]
        );
    }
}
