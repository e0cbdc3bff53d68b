//! Configuration profiles in the portal (SPEC 8): profiles listed, read (any
//! version), saved as a new version and deleted; assigned to appliances or tags;
//! an appliance's effective configuration with each section's transfer status.
//! Every change recomputes the effective configuration of the appliances it can
//! touch. Every key is in the tenant's partition.

use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::portal_protocol::ListPage;
use rampart_domain::profile::{
    AssignProfile, AssignmentKind, AssignmentView, ConfigurationView, EffectiveSectionView,
    ProfileName, ProfileSummary, ProfileView, RemovedSectionView, SaveProfile,
};
use rampart_domain::validation::{self, Invalid};
use rampart_ports::{Condition, Cursor, Query, SortKey, StoreError, TransactOp};
use std::collections::BTreeSet;

use super::access::Principal;
use super::{PortalService, malformed, page_limit, page_of};
use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::profiles::materialize::TenantProfiles;
use crate::records::appliance::ApplianceRecord;
use crate::records::profile::{
    ASSIGN_PREFIX, PROFILE_PREFIX, assignment_from_item, assignment_item, assignment_key,
    config_from_item, config_key, head_key, profile_from_item, profile_item, tenant_assignments,
    version_key, versions_prefix, withheld_from_item,
};
use crate::records::vpn_reference;
use crate::store_keys;

impl PortalService {
    pub async fn list_profiles(
        &self,
        who: &Principal,
        tenant: &TenantId,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<ProfileSummary>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let query = Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(PROFILE_PREFIX.into()))
            .limit(page_limit(limit))
            .after(cursor.map(Cursor));
        page_of(&*self.table, query, |item| {
            profile_from_item(item).map(|p| ProfileSummary {
                sections: p.sections.present(),
                name: p.name,
                version: p.version,
                updated_at: p.updated_at,
            })
        })
        .await
    }

    /// The newest version, or `version`.
    pub async fn config_profile(
        &self,
        who: &Principal,
        tenant: &TenantId,
        name: &ProfileName,
        version: Option<u64>,
    ) -> Result<ProfileView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let key = match version {
            Some(v) => version_key(tenant, name, v),
            None => head_key(tenant, name),
        };
        let item = self.table.get(&key).await?.ok_or(ApiError::NotFound)?;
        profile_from_item(&item).map_err(malformed)
    }

    /// Saves `save` as the profile's next version (version 1 when new); true when
    /// the profile is new. The VPN references of SPEC 2 follow in the same
    /// transaction.
    pub async fn save_profile(
        &self,
        who: &Principal,
        tenant: &TenantId,
        name: &ProfileName,
        save: SaveProfile,
    ) -> Result<(bool, ProfileView), ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        save.sections.validate()?;
        if save.sections.is_empty() {
            return Err(Invalid::new("sections", "at least one section").into());
        }
        let head = head_key(tenant, name);
        let current = match self.table.get(&head).await? {
            Some(item) => Some(profile_from_item(&item).map_err(malformed)?),
            None => None,
        };
        let current_version = current.as_ref().map_or(0, |p| p.version);
        if let Some(expected) = save.expected_version
            && expected != current_version
        {
            return Err(ApiError::Conflict(format!(
                "profile {name} is at version {current_version}, not {expected}"
            )));
        }
        let now = self.clock.now();
        let view = ProfileView {
            name: name.clone(),
            version: current_version + 1,
            sections: save.sections,
            updated_at: now.to_rfc3339(),
            updated_by: who.email.to_string(),
        };
        let head_guard = match &current {
            Some(p) => Condition::eq("version", p.version as i64),
            None => Condition::NotExists,
        };
        let mut ops = vec![
            TransactOp::Put(profile_item(head, &view, now), Some(head_guard)),
            // Unconditional: the head's guard already makes the version unique, and
            // a version left behind by an interrupted delete is simply replaced.
            TransactOp::Put(
                profile_item(version_key(tenant, name, view.version), &view, now),
                None,
            ),
        ];
        let old_peers = current
            .as_ref()
            .map(|p| p.sections.vpn_peers())
            .unwrap_or_default();
        ops.extend(vpn_reference_ops(
            tenant,
            name,
            &old_peers,
            &view.sections.vpn_peers(),
        ));
        match self.table.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled | StoreError::ConditionFailed) => {
                return Err(ApiError::Conflict(format!(
                    "profile {name} changed meanwhile: read it again"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(tenant = %tenant, profile = %name, version = view.version, by = %who.email, "profile saved");
        self.recompute_tenant(tenant).await?;
        Ok((current.is_none(), view))
    }

    /// Deletes the profile with all its versions; refused while it is assigned.
    pub async fn delete_profile(
        &self,
        who: &Principal,
        tenant: &TenantId,
        name: &ProfileName,
    ) -> Result<(), ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        let head = head_key(tenant, name);
        let item = self.table.get(&head).await?.ok_or(ApiError::NotFound)?;
        let current = profile_from_item(&item).map_err(malformed)?;
        let assignments = tenant_assignments(&*self.table, tenant).await?;
        if let Some(a) = assignments.iter().find(|a| &a.profile == name) {
            return Err(ApiError::Conflict(format!(
                "profile {name} is assigned ({} {}): unassign it first",
                a.kind.as_str(),
                a.target
            )));
        }
        let mut ops = vec![TransactOp::Delete(
            head,
            Some(Condition::eq("version", current.version as i64)),
        )];
        ops.extend(vpn_reference_ops(
            tenant,
            name,
            &current.sections.vpn_peers(),
            &BTreeSet::new(),
        ));
        match self.table.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled | StoreError::ConditionFailed) => {
                return Err(ApiError::Conflict(format!(
                    "profile {name} changed meanwhile: read it again"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        // The history goes after the profile; a version an interruption leaves
        // behind is invisible (versions are read through their profile's name) and
        // replaced by the save of a new profile of that name.
        let versions = all_items(
            &*self.table,
            Query::partition(store_keys::tenant_partition(tenant))
                .sk(SortKey::BeginsWith(versions_prefix(name))),
        )
        .await?;
        for v in versions {
            self.table.delete(&v.key, None).await?;
        }
        tracing::info!(tenant = %tenant, profile = %name, by = %who.email, "profile deleted");
        Ok(())
    }

    pub async fn list_assignments(
        &self,
        who: &Principal,
        tenant: &TenantId,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<AssignmentView>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let query = Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(ASSIGN_PREFIX.into()))
            .limit(page_limit(limit))
            .after(cursor.map(Cursor));
        page_of(&*self.table, query, assignment_from_item).await
    }

    /// Checks an assignment's target: an appliance of the tenant (its record), or
    /// a valid tag.
    async fn assignment_target(
        &self,
        tenant: &TenantId,
        kind: AssignmentKind,
        target: &str,
    ) -> Result<Option<ApplianceRecord>, ApiError> {
        match kind {
            AssignmentKind::Appliance => {
                let id = ApplianceId::parse(target).map_err(|_| ApiError::NotFound)?;
                Ok(Some(self.appliance_record(tenant, &id).await?))
            }
            AssignmentKind::Tag => {
                validation::text("tag", target, 32)?;
                Ok(None)
            }
        }
    }

    pub async fn assign_profile(
        &self,
        who: &Principal,
        tenant: &TenantId,
        kind: AssignmentKind,
        target: &str,
        assign: AssignProfile,
    ) -> Result<AssignmentView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        let appliance = self.assignment_target(tenant, kind, target).await?;
        if self
            .table
            .get(&head_key(tenant, &assign.profile))
            .await?
            .is_none()
        {
            return Err(Invalid::new("profile", "no profile of that name").into());
        }
        let view = AssignmentView {
            kind,
            target: target.to_owned(),
            profile: assign.profile,
        };
        self.table.put(assignment_item(tenant, &view), None).await?;
        tracing::info!(tenant = %tenant, kind = kind.as_str(), target, profile = %view.profile, by = %who.email, "profile assigned");
        self.recompute_after_assignment(tenant, kind, appliance)
            .await?;
        Ok(view)
    }

    pub async fn unassign_profile(
        &self,
        who: &Principal,
        tenant: &TenantId,
        kind: AssignmentKind,
        target: &str,
    ) -> Result<(), ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        // An appliance that is gone keeps no configuration to recompute, but its
        // assignment can still be removed.
        let appliance = match self.assignment_target(tenant, kind, target).await {
            Err(ApiError::NotFound) if kind == AssignmentKind::Appliance => None,
            other => other?,
        };
        if appliance.is_none() && kind == AssignmentKind::Appliance {
            ApplianceId::parse(target).map_err(|_| ApiError::NotFound)?;
        }
        match self
            .table
            .delete(
                &assignment_key(tenant, kind, target),
                Some(Condition::Exists),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => return Err(ApiError::NotFound),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(tenant = %tenant, kind = kind.as_str(), target, by = %who.email, "profile unassigned");
        self.recompute_after_assignment(tenant, kind, appliance)
            .await
    }

    /// The appliance an assignment named (none left: nothing to do), or every
    /// appliance for a tag's.
    async fn recompute_after_assignment(
        &self,
        tenant: &TenantId,
        kind: AssignmentKind,
        appliance: Option<ApplianceRecord>,
    ) -> Result<(), ApiError> {
        match (kind, appliance) {
            (AssignmentKind::Appliance, Some(a)) => self.recompute_appliance(&a).await,
            (AssignmentKind::Appliance, None) => Ok(()),
            (AssignmentKind::Tag, _) => self.recompute_tenant(tenant).await,
        }
    }

    /// Recomputes every appliance of the tenant (after a profile or a tag's
    /// assignment changed).
    async fn recompute_tenant(&self, tenant: &TenantId) -> Result<(), ApiError> {
        let profiles = TenantProfiles::load(&*self.table, tenant).await?;
        let appliances = self.tenant_appliances(tenant).await?;
        let changed = profiles.recompute_all(&*self.table, &appliances).await?;
        tracing::info!(tenant = %tenant, changed, "effective configurations recomputed");
        Ok(())
    }

    /// Recomputes one appliance after its tags changed.
    pub(super) async fn recompute_appliance(
        &self,
        appliance: &ApplianceRecord,
    ) -> Result<(), ApiError> {
        TenantProfiles::load(&*self.table, &appliance.tenant)
            .await?
            .recompute(&*self.table, appliance)
            .await?;
        Ok(())
    }

    pub async fn appliance_configuration(
        &self,
        who: &Principal,
        tenant: &TenantId,
        id: &ApplianceId,
    ) -> Result<ConfigurationView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let item = self
            .table
            .get(&store_keys::appliance(tenant, id))
            .await?
            .ok_or(ApiError::NotFound)?;
        let record = ApplianceRecord::try_from(&item).map_err(malformed)?;
        let config_item = self.table.get(&config_key(tenant, id)).await?;
        let stored = config_from_item(config_item.as_ref()).map_err(malformed)?;
        // A transfer status about an older version of a section says nothing about
        // the current one (which is then pending).
        let transfer = |s, version| {
            stored
                .transfers
                .get(&s)
                .filter(|t| t.version == version)
                .cloned()
        };
        let sections = stored
            .config
            .origins
            .iter()
            .map(|(s, o)| EffectiveSectionView {
                section: *s,
                version: o.version,
                profile: o.profile.clone(),
                profile_version: o.profile_version,
                via: o.via.clone(),
                content: stored
                    .config
                    .content
                    .section_json(*s)
                    .unwrap_or(serde_json::Value::Null),
                transfer: transfer(*s, o.version),
            })
            .collect();
        let removed = stored
            .config
            .removed
            .iter()
            .map(|(s, v)| RemovedSectionView {
                section: *s,
                version: *v,
                transfer: transfer(*s, *v),
            })
            .collect();
        Ok(ConfigurationView {
            appliance: id.clone(),
            version: stored.config.version,
            held_version: record.report.as_ref().map_or(0, |r| r.config_version),
            sections,
            removed,
            withheld: withheld_from_item(&item).into_iter().collect(),
        })
    }
}

/// The reference items of SPEC 2 that change when a profile's VPN peers go from
/// `old` to `new`: one put per new peer, one delete per peer no longer named.
fn vpn_reference_ops(
    tenant: &TenantId,
    profile: &ProfileName,
    old: &BTreeSet<Serial>,
    new: &BTreeSet<Serial>,
) -> Vec<TransactOp> {
    let mut ops: Vec<TransactOp> = new
        .difference(old)
        .map(|peer| TransactOp::Put(vpn_reference::to_item(tenant, peer, profile.as_str()), None))
        .collect();
    ops.extend(
        old.difference(new).map(|peer| {
            TransactOp::Delete(vpn_reference::key(tenant, peer, profile.as_str()), None)
        }),
    );
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpn_references_follow_the_peers() {
        let t = TenantId::parse("123456.sms").unwrap();
        let p = ProfileName::parse("vpn").unwrap();
        let s = |x: &str| Serial::parse(x).unwrap();
        let old = BTreeSet::from([s("A1B2C3D4"), s("B1B2C3D4")]);
        let new = BTreeSet::from([s("B1B2C3D4"), s("C1B2C3D4")]);
        let ops = vpn_reference_ops(&t, &p, &old, &new);
        assert_eq!(ops.len(), 2);
        assert!(matches!(&ops[0], TransactOp::Put(i, None) if i.key.sk == "VPNREF#C1B2C3D4#vpn"));
        assert!(matches!(&ops[1], TransactOp::Delete(k, None) if k.sk == "VPNREF#A1B2C3D4#vpn"));
        assert!(vpn_reference_ops(&t, &p, &new, &new).is_empty());
    }
}
