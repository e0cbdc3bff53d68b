//! The appliance views (SPEC 4.2, 4.3, 4.5), read from the tenant's partition.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rampart_domain::Timestamp;
use rampart_domain::cluster::{PartnerState, cluster_state};
use rampart_domain::firmware_catalog::FirmwareCatalog;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::portal_protocol::{
    ApplianceDetail, ApplianceFlags, AppliancePatch, ApplianceSummary, ClusterPartner, ClusterView,
    ListPage,
};
use rampart_domain::validation::{self, Invalid};
use rampart_ports::{Condition, Query, ReturnItem, SortKey, StoreError};

use super::access::Principal;
use super::licenses::{license_view, role_name};
use super::{PortalService, malformed, page_limit};
use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::firmware_catalog::read_catalog;
use crate::records::appliance::{ApplianceRecord, FAST_POLL_UNTIL};
use crate::records::license;
use crate::store_keys;

pub const MAX_TAGS: usize = 32;
pub const MAX_INVENTORY_FIELDS: usize = 64;

/// Filters and order of the appliance list.
#[derive(Clone, Debug, Default)]
pub struct ApplianceQuery {
    /// Case-insensitive part of the name or hostname.
    pub name: Option<String>,
    /// Start of the cluster id.
    pub cluster: Option<String>,
    /// An exact tag.
    pub tag: Option<String>,
    /// Name descending when true.
    pub descending: bool,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One row of the list; `catalog` is read once per request, not per appliance.
fn summary(r: &ApplianceRecord, now: Timestamp, catalog: &FirmwareCatalog) -> ApplianceSummary {
    let features = r.report.as_ref().map(|x| x.features).unwrap_or_default();
    ApplianceSummary {
        id: r.id.clone(),
        tenant: r.tenant.clone(),
        name: r.display_name(),
        serial: r.serial.clone(),
        model: r.model.clone(),
        firmware: r.firmware.to_string(),
        status: r.status(now),
        last_checkin: r.last_checkin.map(Timestamp::to_rfc3339),
        cluster: r.cluster.as_ref().map(|c| c.id.short().to_owned()),
        tags: r.edits.tags.clone(),
        flags: ApplianceFlags {
            report_active: features.report,
            vpn: features.vpn,
            cloud_shield: features.cloud_shield,
            update_available: catalog.update_available(r.firmware),
            security_update_recommended: catalog.security_update_recommended(r.firmware),
        },
    }
}

impl ApplianceQuery {
    fn matches(&self, r: &ApplianceRecord) -> bool {
        let name_ok = self.name.as_ref().is_none_or(|n| {
            let n = n.to_lowercase();
            r.display_name().to_lowercase().contains(&n) || r.hostname.to_lowercase().contains(&n)
        });
        let cluster_ok = self.cluster.as_ref().is_none_or(|c| {
            r.cluster
                .as_ref()
                .is_some_and(|m| m.id.as_str().starts_with(&c.to_lowercase()))
        });
        let tag_ok = self.tag.as_ref().is_none_or(|t| r.edits.tags.contains(t));
        name_ok && cluster_ok && tag_ok
    }
}

/// Position after which the next page starts: the last row's (name, id).
fn encode_cursor(name: &str, id: &ApplianceId) -> String {
    B64.encode(serde_json::to_vec(&(name, id.as_str())).unwrap_or_default())
}

fn decode_cursor(c: &str) -> Result<(String, String), ApiError> {
    B64.decode(c)
        .ok()
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .ok_or_else(|| Invalid::new("cursor", "not a cursor this list returned").into())
}

impl PortalService {
    pub(super) async fn tenant_appliances(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<ApplianceRecord>, ApiError> {
        let items = all_items(
            self.table.as_ref(),
            Query::partition(store_keys::tenant_partition(tenant))
                .sk(SortKey::BeginsWith(store_keys::APPLIANCE_PREFIX.into())),
        )
        .await?;
        items
            .iter()
            .map(|item| ApplianceRecord::try_from(item).map_err(malformed))
            .collect()
    }

    pub async fn list_appliances(
        &self,
        who: &Principal,
        tenant: &TenantId,
        q: ApplianceQuery,
    ) -> Result<ListPage<ApplianceSummary>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let now = self.clock.now();
        let catalog = read_catalog(self.table.as_ref()).await?;
        let mut rows: Vec<ApplianceSummary> = self
            .tenant_appliances(tenant)
            .await?
            .iter()
            .filter(|r| q.matches(r))
            .map(|r| summary(r, now, &catalog))
            .collect();
        let key = |s: &ApplianceSummary| (s.name.to_lowercase(), s.id.as_str().to_owned());
        rows.sort_by_key(key);
        if q.descending {
            rows.reverse();
        }
        let start = match &q.cursor {
            None => 0,
            Some(c) => {
                let (name, id) = decode_cursor(c)?;
                let after = (name, id);
                rows.iter()
                    .position(|r| {
                        let k = key(r);
                        if q.descending { k < after } else { k > after }
                    })
                    .unwrap_or(rows.len())
            }
        };
        let limit = page_limit(q.limit) as usize;
        let end = (start + limit).min(rows.len());
        let next_cursor = (end < rows.len()).then(|| {
            let last = &rows[end - 1];
            encode_cursor(&last.name.to_lowercase(), &last.id)
        });
        Ok(ListPage {
            items: rows[start..end].to_vec(),
            next_cursor,
        })
    }

    pub(super) async fn appliance_record(
        &self,
        tenant: &TenantId,
        id: &ApplianceId,
    ) -> Result<ApplianceRecord, ApiError> {
        let item = self
            .table
            .get(&store_keys::appliance(tenant, id))
            .await?
            .ok_or(ApiError::NotFound)?;
        ApplianceRecord::try_from(&item).map_err(malformed)
    }

    pub async fn appliance_detail(
        &self,
        who: &Principal,
        tenant: &TenantId,
        id: &ApplianceId,
    ) -> Result<ApplianceDetail, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let r = self.appliance_record(tenant, id).await?;
        self.poll_fast(tenant, id).await?;
        self.detail(r).await
    }

    /// Someone is looking at the appliance: have it check in often for a while, so
    /// what they do next is picked up quickly (SPEC 4.4, faster pickup).
    async fn poll_fast(&self, tenant: &TenantId, id: &ApplianceId) -> Result<(), ApiError> {
        let until = self.clock.now().plus(crate::jobs::FAST_POLL_WINDOW);
        match self
            .table
            .update(
                &store_keys::appliance(tenant, id),
                rampart_ports::Update::new().set(FAST_POLL_UNTIL, until.millis()),
                Some(Condition::Exists),
                ReturnItem::None,
            )
            .await
        {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn detail(&self, r: ApplianceRecord) -> Result<ApplianceDetail, ApiError> {
        let lic_item = self
            .table
            .get(&store_keys::license(&r.serial))
            .await?
            .ok_or_else(|| {
                ApiError::Unavailable(anyhow::anyhow!("appliance without its license"))
            })?;
        let lic = license::from_item(&lic_item).map_err(malformed)?;
        let company = self.get_company_name(&r.tenant).await?;
        let catalog = read_catalog(self.table.as_ref()).await?;
        let report = r.report.as_ref();
        Ok(ApplianceDetail {
            summary: summary(&r, self.clock.now(), &catalog),
            firmware_options: catalog.options(r.firmware, report.and_then(|x| x.previous_firmware)),
            hostname: r.hostname.clone(),
            previous_firmware: report
                .and_then(|x| x.previous_firmware)
                .map(|v| v.to_string()),
            cpu_percent: report.map(|x| x.cpu_percent),
            memory_percent: report.map(|x| x.memory_percent),
            disk_percent: report.map(|x| x.disk_percent),
            uptime_secs: report.map(|x| x.uptime_secs),
            interfaces: report.map(|x| x.interfaces.clone()).unwrap_or_default(),
            applications: report.map(|x| x.applications.clone()).unwrap_or_default(),
            license: license_view(&lic),
            company,
            location: r.edits.location.clone(),
            inventory: r.edits.inventory.clone(),
            enrolled_at: r.enrolled_at.to_rfc3339(),
        })
    }

    async fn get_company_name(&self, tenant: &TenantId) -> Result<String, ApiError> {
        Ok(
            match self.table.get(&store_keys::tenant_profile(tenant)).await? {
                Some(item) => {
                    crate::records::tenant::from_item(&item)
                        .map_err(malformed)?
                        .name
                }
                None => tenant.to_string(),
            },
        )
    }

    pub async fn patch_appliance(
        &self,
        who: &Principal,
        tenant: &TenantId,
        id: &ApplianceId,
        patch: AppliancePatch,
    ) -> Result<ApplianceDetail, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        let current = self.appliance_record(tenant, id).await?;
        let mut edits = current.edits.clone();
        if let Some(name) = patch.name {
            validation::text("name", &name, 64)?;
            edits.name = Some(name);
        }
        let tags_changed = patch.tags.is_some();
        if let Some(tags) = patch.tags {
            if tags.len() > MAX_TAGS {
                return Err(Invalid::new("tags", format!("at most {MAX_TAGS}")).into());
            }
            for t in &tags {
                validation::text("tags", t, 32)?;
            }
            let mut tags = tags;
            tags.sort();
            tags.dedup();
            edits.tags = tags;
        }
        if let Some(location) = patch.location {
            if let Some(l) = &location {
                let ok = l.latitude.is_finite()
                    && l.longitude.is_finite()
                    && (-90.0..=90.0).contains(&l.latitude)
                    && (-180.0..=180.0).contains(&l.longitude);
                if !ok {
                    return Err(
                        Invalid::new("location", "latitude -90..90, longitude -180..180").into(),
                    );
                }
                if let Some(label) = &l.label {
                    validation::text("location.label", label, 128)?;
                }
            }
            edits.location = location;
        }
        if let Some(inventory) = patch.inventory {
            if inventory.len() > MAX_INVENTORY_FIELDS {
                return Err(Invalid::new(
                    "inventory",
                    format!("at most {MAX_INVENTORY_FIELDS} fields"),
                )
                .into());
            }
            for (k, v) in &inventory {
                validation::text("inventory", k, 64)?;
                if v.chars().count() > 256 || v.chars().any(char::is_control) {
                    return Err(Invalid::new("inventory", "values up to 256 characters").into());
                }
            }
            edits.inventory = inventory;
        }
        let updated = match self
            .table
            .update(
                &store_keys::appliance(tenant, id),
                edits.update(),
                Some(Condition::Exists),
                ReturnItem::AllNew,
            )
            .await
        {
            Ok(Some(item)) => ApplianceRecord::try_from(&item).map_err(malformed)?,
            Ok(None) => return Err(ApiError::NotFound),
            Err(StoreError::ConditionFailed) => return Err(ApiError::NotFound),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(appliance = %id, tenant = %tenant, by = %who.email, "appliance edited");
        if tags_changed {
            // Tags select profiles (SPEC 8).
            self.recompute_appliance(&updated).await?;
        }
        self.detail(updated).await
    }

    pub async fn cluster_view(
        &self,
        who: &Principal,
        tenant: &TenantId,
        id: &ApplianceId,
    ) -> Result<ClusterView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let r = self.appliance_record(tenant, id).await?;
        let membership = r.cluster.clone().ok_or(ApiError::NotFound)?;
        let partner_license = license::tenant_licenses(self.table.as_ref(), tenant)
            .await?
            .into_iter()
            .find(|l| {
                l.serial != r.serial && l.cluster.as_ref().is_some_and(|c| c.id == membership.id)
            });
        let now = self.clock.now();
        let own_sync = r.report.as_ref().and_then(|x| x.cluster_sync);
        let mut partner_state = None;
        let partner = match partner_license {
            None => None,
            Some(l) => {
                let appliance = match &l.bound_to {
                    Some(pid) => Some(self.appliance_record(tenant, pid).await?),
                    None => None,
                };
                partner_state = appliance.as_ref().map(|a| PartnerState {
                    status: a.status(now),
                    sync: a.report.as_ref().and_then(|x| x.cluster_sync),
                });
                Some(ClusterPartner {
                    serial: l.serial.clone(),
                    role: l
                        .cluster
                        .as_ref()
                        .map(|c| role_name(c.role))
                        .unwrap_or("master")
                        .to_owned(),
                    appliance_id: l.bound_to.clone(),
                    status: partner_state.as_ref().map(|p| p.status),
                    firmware: appliance.as_ref().map(|a| a.firmware.to_string()),
                    sync: partner_state.as_ref().and_then(|p| p.sync),
                    link: l
                        .bound_to
                        .as_ref()
                        .map(|pid| format!("/v1/tenants/{tenant}/appliances/{pid}")),
                })
            }
        };
        Ok(ClusterView {
            cluster_id: membership.id,
            role: role_name(membership.role).to_owned(),
            state: cluster_state(own_sync, partner_state),
            sync: own_sync,
            partner,
        })
    }
}
