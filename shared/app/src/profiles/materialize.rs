//! Recomputes appliances' effective configurations from the tenant's profiles and
//! assignments, and writes those that changed together with the version on the
//! appliance item (`config_desired`), so the next check-in sees it is due.

use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::profile::{
    Assigned, AssignmentKind, ProfileName, ProfileView, merge_assignments,
};
use rampart_ports::{Condition, Query, SortKey, StoreError, Table, TransactOp, Update};
use std::collections::BTreeMap;

use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::records::appliance::ApplianceRecord;
use crate::records::profile::{
    CONFIG_DESIRED, PROFILE_PREFIX, config_from_item, config_key, config_update, profile_from_item,
    tenant_assignments,
};
use crate::store_keys;

/// Two writers recomputing one appliance at once: the loser reads again.
const ATTEMPTS: usize = 5;

fn malformed(e: crate::records::MalformedItem) -> ApiError {
    ApiError::Unavailable(e.into())
}

/// The tenant's profiles (newest versions) and assignments, read once per change.
pub struct TenantProfiles {
    pub profiles: BTreeMap<ProfileName, ProfileView>,
    pub by_appliance: BTreeMap<String, ProfileName>,
    pub by_tag: BTreeMap<String, ProfileName>,
}

impl TenantProfiles {
    pub async fn load(table: &dyn Table, tenant: &TenantId) -> Result<Self, ApiError> {
        let profiles = all_items(
            table,
            Query::partition(store_keys::tenant_partition(tenant))
                .sk(SortKey::BeginsWith(PROFILE_PREFIX.into())),
        )
        .await?
        .iter()
        .map(|i| profile_from_item(i).map(|p| (p.name.clone(), p)))
        .collect::<Result<_, _>>()
        .map_err(malformed)?;
        let assignments = tenant_assignments(table, tenant).await?;
        let mut by_appliance = BTreeMap::new();
        let mut by_tag = BTreeMap::new();
        for a in assignments {
            match a.kind {
                AssignmentKind::Appliance => by_appliance.insert(a.target, a.profile),
                AssignmentKind::Tag => by_tag.insert(a.target, a.profile),
            };
        }
        Ok(Self {
            profiles,
            by_appliance,
            by_tag,
        })
    }

    fn assigned<'a>(&'a self, name: &ProfileName, via: String) -> Option<Assigned<'a>> {
        self.profiles.get(name).map(|p| Assigned {
            profile: &p.name,
            version: p.version,
            sections: &p.sections,
            via,
        })
    }

    /// Recomputes one appliance; true when its configuration changed.
    pub async fn recompute(
        &self,
        table: &dyn Table,
        appliance: &ApplianceRecord,
    ) -> Result<bool, ApiError> {
        let direct = self
            .by_appliance
            .get(appliance.id.as_str())
            .and_then(|p| self.assigned(p, "appliance".into()));
        // Tags are stored sorted; sort again so the rule never depends on that.
        let mut tags = appliance.edits.tags.clone();
        tags.sort();
        let by_tag: Vec<Assigned<'_>> = tags
            .iter()
            .filter_map(|t| {
                self.by_tag
                    .get(t)
                    .and_then(|p| self.assigned(p, format!("tag:{t}")))
            })
            .collect();
        let (content, origins) = merge_assignments(direct.as_ref(), &by_tag);
        write_config(table, &appliance.tenant, &appliance.id, |current| {
            current.next(&content, &origins)
        })
        .await
    }

    /// Recomputes every appliance of the tenant; how many changed.
    pub async fn recompute_all(
        &self,
        table: &dyn Table,
        appliances: &[ApplianceRecord],
    ) -> Result<usize, ApiError> {
        let mut changed = 0;
        for a in appliances {
            if self.recompute(table, a).await? {
                changed += 1;
            }
        }
        Ok(changed)
    }
}

/// Reads the appliance's configuration, asks `next` for the new one and writes
/// it with `config_desired` on the appliance item in one transaction, guarded by
/// the configuration's revision.
async fn write_config<F>(
    table: &dyn Table,
    tenant: &TenantId,
    appliance: &ApplianceId,
    next: F,
) -> Result<bool, ApiError>
where
    F: Fn(
        &rampart_domain::profile::EffectiveConfig,
    ) -> Option<rampart_domain::profile::EffectiveConfig>,
{
    let key = config_key(tenant, appliance);
    for _ in 0..ATTEMPTS {
        let item = table.get(&key).await?;
        let stored = config_from_item(item.as_ref()).map_err(malformed)?;
        let Some(config) = next(&stored.config) else {
            return Ok(false);
        };
        let guard = if item.is_some() {
            Condition::eq("rev", stored.rev)
        } else {
            Condition::NotExists
        };
        let ops = vec![
            TransactOp::Update(
                key.clone(),
                config_update(&config, stored.rev + 1),
                Some(guard),
            ),
            TransactOp::Update(
                store_keys::appliance(tenant, appliance),
                Update::new().set(CONFIG_DESIRED, config.version as i64),
                Some(Condition::Exists),
            ),
        ];
        match table.transact(ops).await {
            Ok(()) => return Ok(true),
            Err(StoreError::TransactionCanceled | StoreError::ConditionFailed) => {
                // The appliance may be gone (then nothing is to do) or another
                // writer won: read again.
                if table
                    .get(&store_keys::appliance(tenant, appliance))
                    .await?
                    .is_none()
                {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable(anyhow::anyhow!(
        "the appliance's configuration kept changing while recomputing it"
    )))
}
