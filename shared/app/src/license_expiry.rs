//! SPEC 2: appliances whose license expired more than 40 days ago are removed,
//! unless a VPN configuration references them. Run by the `maintenance` schedule at
//! most once a day (a marker item claimed with a conditional write), and by an
//! operator (`rampart admin expire [--dry-run]`).
//!
//! A removal takes the appliance and what only it needs, in one transaction: the
//! appliance item, its credential, its materialized configuration and own profile
//! assignment, the license's binding (the license stays, shown as unbound; its
//! backups stay with it), plus a `REMOVED#...` record in the
//! tenant's partition saying what went, when and why.

use chrono::NaiveDate;
use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::license::License;
use rampart_domain::license_expiry::{removal_due, removal_reason};
use rampart_domain::profile::AssignmentKind;
use rampart_ports::{
    Clock, Condition, Item, Key, Query, SortKey, StoreError, Table, TransactOp, Update,
};
use serde::Serialize;
use std::sync::Arc;

use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::period_claim;
use crate::records::appliance::ApplianceRecord;
use crate::records::removed_appliance::{self, RemovedRecord};
use crate::records::{license, profile, vpn_reference};
use crate::store_keys;

/// The marker of the last day the scheduled run claimed (`day`: days since 1970-01-01).
pub fn daily_marker() -> Key {
    Key::new("SYSTEM", "LICENSE_EXPIRY")
}

/// An appliance whose license expired more than 40 days ago.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExpiredAppliance {
    pub tenant: TenantId,
    pub serial: Serial,
    pub appliance: ApplianceId,
    pub license_expired: NaiveDate,
    pub reason: String,
}

/// One kept because VPN configurations reference it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeptForVpn {
    #[serde(flatten)]
    pub appliance: ExpiredAppliance,
    /// The profiles whose VPN configuration names it.
    pub profiles: Vec<String>,
}

/// What a run removed (or, dry, would remove) and what it kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExpiryReport {
    pub dry_run: bool,
    pub removed: Vec<ExpiredAppliance>,
    pub kept_for_vpn: Vec<KeptForVpn>,
}

pub struct LicenseExpiry {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

impl LicenseExpiry {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }

    /// The scheduled run: once a day at most, whoever claims the day's marker first.
    /// `None` when today's run already happened.
    pub async fn run_daily(&self) -> Result<Option<ExpiryReport>, ApiError> {
        // Whole days since the epoch (UTC).
        let today = self.clock.now().millis().div_euclid(86_400_000);
        if period_claim::claim(&*self.table, &daily_marker(), "day", today).await? {
            Ok(Some(self.run(false).await?))
        } else {
            Ok(None)
        }
    }

    /// Removes (or, with `dry_run`, only lists) every appliance due for removal now.
    pub async fn run(&self, dry_run: bool) -> Result<ExpiryReport, ApiError> {
        let now = self.clock.now();
        let today = now.utc_date();
        let mut report = ExpiryReport {
            dry_run,
            ..ExpiryReport::default()
        };
        for tenant in self.tenants().await? {
            let due: Vec<(License, ApplianceId)> = license::tenant_licenses(&*self.table, &tenant)
                .await?
                .into_iter()
                .filter(|l| removal_due(l.expires, today))
                .filter_map(|l| l.bound_to.clone().map(|id| (l, id)))
                .collect();
            if due.is_empty() {
                continue;
            }
            let references = vpn_reference::references_by_peer(&*self.table, &tenant).await?;
            for (lic, appliance) in due {
                let expired = ExpiredAppliance {
                    tenant: tenant.clone(),
                    serial: lic.serial.clone(),
                    appliance,
                    license_expired: lic.expires,
                    reason: removal_reason(lic.expires, today),
                };
                if let Some(profiles) = references.get(&lic.serial) {
                    let profiles = profiles.clone();
                    tracing::info!(serial = %lic.serial, tenant = %tenant, ?profiles,
                        "license expired long ago; appliance kept, a VPN configuration references it");
                    report.kept_for_vpn.push(KeptForVpn {
                        appliance: expired,
                        profiles,
                    });
                    continue;
                }
                if dry_run || self.remove(&expired, now).await? {
                    report.removed.push(expired);
                }
            }
        }
        Ok(report)
    }

    /// Removes one appliance; false when someone else did it first (or the license
    /// was bound anew meanwhile).
    async fn remove(&self, e: &ExpiredAppliance, now: Timestamp) -> Result<bool, ApiError> {
        let appliance_key = store_keys::appliance(&e.tenant, &e.appliance);
        let hostname = match self.table.get(&appliance_key).await? {
            Some(item) => ApplianceRecord::try_from(&item)
                .map(|r| r.display_name())
                .unwrap_or_default(),
            None => String::new(),
        };
        let record = RemovedRecord {
            tenant: e.tenant.clone(),
            serial: e.serial.clone(),
            appliance: e.appliance.clone(),
            hostname,
            license_expired: e.license_expired,
            removed_at: now,
            reason: e.reason.clone(),
        };
        let ops = vec![
            TransactOp::Update(
                store_keys::license(&e.serial),
                Update::new().remove("bound_to"),
                Some(Condition::eq("bound_to", e.appliance.as_str())),
            ),
            TransactOp::Delete(appliance_key, None),
            TransactOp::Delete(store_keys::credential(&e.appliance), None),
            // Its materialized configuration and its own profile assignment serve only it.
            TransactOp::Delete(profile::config_key(&e.tenant, &e.appliance), None),
            TransactOp::Delete(
                profile::assignment_key(&e.tenant, AssignmentKind::Appliance, e.appliance.as_str()),
                None,
            ),
            TransactOp::Put(Item::from(&record), Some(Condition::NotExists)),
        ];
        match self.table.transact(ops).await {
            Ok(()) => {
                tracing::info!(serial = %e.serial, appliance = %e.appliance, tenant = %e.tenant,
                    reason = %e.reason, "appliance removed: license expired");
                Ok(true)
            }
            Err(StoreError::TransactionCanceled | StoreError::ConditionFailed) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, ApiError> {
        let items = all_items(
            &*self.table,
            Query::partition(store_keys::TENANTS_PARTITION),
        )
        .await?;
        Ok(items
            .iter()
            .filter_map(|item| item.key.sk.strip_prefix("TENANT#"))
            .filter_map(|t| TenantId::parse(t).ok())
            .collect())
    }
}

/// A tenant's removal records, oldest first.
pub async fn removed_appliances(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<RemovedRecord>, ApiError> {
    let items = all_items(
        table,
        Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(removed_appliance::PREFIX.into())),
    )
    .await?;
    items
        .iter()
        .map(|i| RemovedRecord::try_from(i).map_err(|e| ApiError::Unavailable(e.into())))
        .collect()
}
