//! Operator actions that exist before the portal: registering licenses (the
//! stand-in for the reseller portal import) and the fleet status view.

use std::sync::Arc;

use rampart_domain::Timestamp;
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::firmware_catalog::FirmwareRelease;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::license::{License, NewLicense};
use rampart_ports::{Clock, Condition, Item, Query, SortKey, StoreError, Table};
use serde::Serialize;

use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::license_expiry::{ExpiryReport, LicenseExpiry};
use crate::records::appliance::ApplianceRecord;
use crate::store_keys;

pub struct AdminService {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

/// One row of the fleet status view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApplianceStatus {
    pub appliance_id: ApplianceId,
    pub tenant: TenantId,
    pub serial: Serial,
    pub hostname: String,
    pub model: String,
    pub firmware: String,
    pub status: ConnectionStatus,
    pub last_checkin: Option<String>,
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub disk_percent: Option<f64>,
}

impl AdminService {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }

    /// Registers a license and returns the license secret, which is shown once
    /// and stored only as a hash.
    pub async fn add_license(&self, new: NewLicense) -> Result<(License, String), ApiError> {
        new.validate()?;
        let secret = fresh_secret();
        let license = new.into_license(&secret);
        match self
            .table
            .transact(vec![
                rampart_ports::TransactOp::Put(
                    crate::records::license::to_item(&license),
                    Some(Condition::NotExists),
                ),
                rampart_ports::TransactOp::Put(
                    Item::new(store_keys::tenant_registry(&license.tenant)),
                    None,
                ),
            ])
            .await
        {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled) => {
                return Err(ApiError::LicenseExists(license.serial.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(serial = %license.serial, tenant = %license.tenant, "license registered");
        Ok((license, secret))
    }

    pub async fn tenants(&self) -> Result<Vec<TenantId>, ApiError> {
        let items = all_items(
            self.table.as_ref(),
            Query::partition(store_keys::TENANTS_PARTITION),
        )
        .await?;
        items
            .iter()
            .filter_map(|item| item.key.sk.strip_prefix("TENANT#"))
            .map(|t| TenantId::parse(t).map_err(|e| ApiError::Unavailable(e.into())))
            .collect()
    }

    /// Every appliance of one tenant, read from that tenant's partition only.
    pub async fn tenant_appliances(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<ApplianceStatus>, ApiError> {
        let now = self.clock.now();
        let items = all_items(
            self.table.as_ref(),
            Query::partition(store_keys::tenant_partition(tenant))
                .sk(SortKey::BeginsWith(store_keys::APPLIANCE_PREFIX.into())),
        )
        .await?;
        items
            .iter()
            .map(|item| {
                ApplianceRecord::try_from(item)
                    .map(|r| status_row(r, now))
                    .map_err(|e| ApiError::Unavailable(e.into()))
            })
            .collect()
    }

    /// Adds a version to the firmware catalog (SPEC 9).
    pub async fn add_firmware(&self, release: FirmwareRelease) -> Result<(), ApiError> {
        crate::firmware_catalog::add_release(&*self.table, release).await
    }

    pub async fn remove_firmware(&self, version: FirmwareVersion) -> Result<(), ApiError> {
        crate::firmware_catalog::remove_release(&*self.table, version).await
    }

    pub async fn firmware_catalog(&self) -> Result<Vec<FirmwareRelease>, ApiError> {
        Ok(crate::firmware_catalog::read_catalog(&*self.table)
            .await?
            .releases()
            .to_vec())
    }

    /// Removes, or with `dry_run` only lists, the appliances whose license expired
    /// more than 40 days ago and that no VPN configuration references (SPEC 2).
    pub async fn expire_licenses(&self, dry_run: bool) -> Result<ExpiryReport, ApiError> {
        LicenseExpiry::new(self.table.clone(), self.clock.clone())
            .run(dry_run)
            .await
    }

    /// Every appliance removed for an expired license, tenant by tenant.
    pub async fn removed_appliances(
        &self,
    ) -> Result<Vec<crate::records::removed_appliance::RemovedRecord>, ApiError> {
        let mut all = Vec::new();
        for t in self.tenants().await? {
            all.extend(crate::license_expiry::removed_appliances(&*self.table, &t).await?);
        }
        Ok(all)
    }

    /// The whole fleet, tenant by tenant (operator view of the self-hosted console).
    pub async fn fleet(&self) -> Result<Vec<ApplianceStatus>, ApiError> {
        let mut all = Vec::new();
        for t in self.tenants().await? {
            all.extend(self.tenant_appliances(&t).await?);
        }
        Ok(all)
    }
}

fn status_row(r: ApplianceRecord, now: Timestamp) -> ApplianceStatus {
    let status = r.status(now);
    ApplianceStatus {
        appliance_id: r.id,
        tenant: r.tenant,
        serial: r.serial,
        hostname: r.hostname,
        model: r.model,
        firmware: r.firmware.to_string(),
        status,
        last_checkin: r.last_checkin.map(Timestamp::to_rfc3339),
        cpu_percent: r.report.as_ref().map(|x| x.cpu_percent),
        memory_percent: r.report.as_ref().map(|x| x.memory_percent),
        disk_percent: r.report.as_ref().map(|x| x.disk_percent),
    }
}

fn fresh_secret() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    hex::encode(b)
}
