//! Security scans in the portal (SPEC 7): an administrator starts a scan of an
//! appliance (allowed by its Security Scan authorization); the request is stored
//! and put on the `scan` queue, where the `security-scan` consumer runs it outside
//! the request path. A second scan while one is queued or running is refused by a
//! conditional write of the appliance's scan lock; scans per tenant are limited by
//! an hourly counter, in the same transaction.

use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, ScanId, TenantId};
use rampart_domain::jobs::{Authorization, Refusal};
use rampart_domain::portal_protocol::{
    ListPage, ScanOpenPort, ScanProfileView, ScanState, ScanView,
};
use rampart_ports::{Condition, Cursor, Item, Query, SortKey, StoreError, TransactOp, Update};
use rampart_scanner::Profile;
use std::time::Duration;

use super::access::Principal;
use super::{PortalService, malformed, page_limit, page_of};
use crate::error::ApiError;
use crate::records::scan::{self, ScanRecord};
use crate::scans::{LOCK_LIFETIME, SCANS_PER_HOUR, ScanMessage};

/// The attribute counting a tenant's scans in one hour.
const COUNT: &str = "count";

impl PortalService {
    pub async fn start_scan(
        &self,
        who: &Principal,
        tenant: &TenantId,
        appliance: &ApplianceId,
    ) -> Result<ScanView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        let queue = self
            .scan_queue
            .clone()
            .ok_or_else(|| ApiError::Unavailable(anyhow::anyhow!("no scan queue configured")))?;
        let record = self.appliance_record(tenant, appliance).await?;
        if let Some(report) = &record.report
            && !report.authorizations.security_scan
        {
            return Err(ApiError::CommandRefused(Refusal::NotAuthorized {
                authorization: Authorization::SecurityScan,
            }));
        }
        let now = self.clock.now();
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).map_err(|e| ApiError::Unavailable(anyhow::anyhow!("{e}")))?;
        let scan = ScanRecord {
            tenant: tenant.clone(),
            appliance: appliance.clone(),
            id: ScanId::new(now.millis(), random),
            profile: Profile::top100_tcp().name.to_owned(),
            state: ScanState::Queued,
            requested_by: who.email.to_string(),
            requested_at: now,
            started_at: None,
            finished_at: None,
            results: Vec::new(),
            error: None,
        };
        let lock_until = now.plus(LOCK_LIFETIME);
        let lock = Item::new(scan::lock_key(tenant, appliance))
            .with("scan", scan.id.as_str())
            .with("ttl", lock_until.millis() / 1000);
        let hour_end = (now.millis().div_euclid(3_600_000) + 1) * 3_600;
        let rate = Update::new()
            .add(COUNT, 1)
            // Kept a day past its hour (TTL deletes it eventually; reads filter).
            .set("ttl", hour_end + 86_400);
        let ops = vec![
            TransactOp::Put(lock, Some(Condition::NotExists)),
            TransactOp::Update(
                scan::rate_key(tenant, now),
                rate,
                Some(Condition::Or(vec![
                    Condition::NotExists,
                    Condition::lt(COUNT, SCANS_PER_HOUR),
                ])),
            ),
            TransactOp::Put(Item::from(&scan), Some(Condition::NotExists)),
        ];
        match self.table.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled) => {
                return Err(self.explain_refused_scan(tenant, appliance, now).await);
            }
            Err(e) => return Err(e.into()),
        }
        let message = serde_json::to_string(&ScanMessage {
            tenant: tenant.clone(),
            appliance: appliance.clone(),
            scan: scan.id.clone(),
        })
        .map_err(|e| ApiError::Unavailable(e.into()))?;
        if let Err(e) = queue.send(&message, Duration::ZERO).await {
            // Nothing will run it: fail the scan and free the appliance again.
            let _ = self
                .table
                .transact(vec![
                    TransactOp::Update(
                        scan.key(),
                        Update::new()
                            .set("state", ScanState::Failed.as_str())
                            .set("error", "queue_unavailable: the scan could not be queued")
                            .set("finished_at", now.millis()),
                        Some(Condition::Exists),
                    ),
                    TransactOp::Delete(
                        scan::lock_key(tenant, appliance),
                        Some(Condition::eq("scan", scan.id.as_str())),
                    ),
                ])
                .await;
            return Err(e.into());
        }
        tracing::info!(scan = %scan.id, appliance = %appliance, user = %who.email, "security scan queued");
        Ok(scan.view())
    }

    /// Which condition of the start transaction failed: the lock, or the rate.
    async fn explain_refused_scan(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
        now: Timestamp,
    ) -> ApiError {
        match self.table.get(&scan::lock_key(tenant, appliance)).await {
            Ok(Some(lock)) if lock.i64("ttl").is_none_or(|t| t > now.millis() / 1000) => {
                ApiError::ScanRunning
            }
            Ok(_) => {
                let next_hour = (now.millis().div_euclid(3_600_000) + 1) * 3_600_000;
                ApiError::TooManyScans {
                    retry_after_secs: ((next_hour - now.millis()) / 1000).max(1),
                }
            }
            Err(e) => e.into(),
        }
    }

    pub async fn list_scans(
        &self,
        who: &Principal,
        tenant: &TenantId,
        appliance: &ApplianceId,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<ScanView>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        // Scan ids start with their request time: backward is newest first.
        let query = Query::partition(crate::store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(scan::appliance_prefix(appliance)))
            .limit(page_limit(limit))
            .backward()
            .after(cursor.map(Cursor));
        page_of(&*self.table, query, |item| {
            ScanRecord::try_from(item).map(|s| s.view())
        })
        .await
    }

    pub async fn scan(
        &self,
        who: &Principal,
        tenant: &TenantId,
        appliance: &ApplianceId,
        id: &ScanId,
    ) -> Result<ScanView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let item = self
            .table
            .get(&scan::scan_key(tenant, appliance, id))
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(ScanRecord::try_from(&item).map_err(malformed)?.view())
    }
}

/// The profile every scan uses: its name and the 100 ports with their services.
pub fn scan_profile() -> ScanProfileView {
    let p = Profile::top100_tcp();
    ScanProfileView {
        name: p.name.to_owned(),
        ports: p
            .ports
            .iter()
            .map(|(port, service)| ScanOpenPort {
                port: *port,
                service: (*service).to_owned(),
            })
            .collect(),
    }
}
