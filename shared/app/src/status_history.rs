//! Status history over the table: compaction (run by the `maintenance` sweep,
//! at most once per clock hour) moves the samples of closed hours from each
//! appliance item into its hour items; reading merges the hour items of a range
//! with the samples still on the appliance item. Item layout in
//! `records::status_history`.

use futures::StreamExt;
use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::status_history::{HistoryRange, StatusSample, minute_of};
use rampart_ports::{Clock, Item, Key, Query, ReturnItem, SortKey, StoreError, Table};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::admin::AdminService;
use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::period_claim;
use crate::records::status_history::{
    PendingSample, by_hour, hour_key, hour_merge, hour_of_minute, hour_prefix, hour_samples,
    hour_sort, pending_removals, pending_samples,
};
use crate::store_keys;

/// Appliances compacted at the same time.
const COMPACTION_CONCURRENCY: usize = 16;

/// Remembers the last clock hour compaction ran for (`hour` N, epoch hours).
fn marker() -> Key {
    Key::new("SYSTEM", "STATUS_COMPACTION")
}

/// What one compaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompactionReport {
    /// False when this clock hour's run had already happened.
    pub ran: bool,
    /// Appliances that had samples of closed hours.
    pub appliances: u32,
    pub samples_moved: u32,
}

pub struct StatusCompaction {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

impl StatusCompaction {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }

    /// Compacts once per clock hour: the first sweep of an hour claims it with a
    /// conditional write (concurrent sweeps: one wins), later ones cost one read.
    /// A run that fails half-way leaves the rest for the next hour; samples wait
    /// on the appliance item meanwhile (see `PENDING_SLOTS`).
    pub async fn run_if_due(&self) -> Result<CompactionReport, ApiError> {
        let now = self.clock.now();
        let hour = hour_of_minute(minute_of(now));
        if !period_claim::claim(&*self.table, &marker(), "hour", hour).await? {
            return Ok(CompactionReport::default());
        }
        self.compact_closed_hours().await
    }

    /// Moves every sample of an hour that has ended, of every appliance of every
    /// tenant. Safe to repeat or to resume after an interruption: merging a
    /// sample twice changes nothing, and a sample leaves the appliance item only
    /// after its hour item holds it.
    pub async fn compact_closed_hours(&self) -> Result<CompactionReport, ApiError> {
        let open_hour_starts = hour_of_minute(minute_of(self.clock.now())) * 60;
        let mut report = CompactionReport {
            ran: true,
            ..CompactionReport::default()
        };
        let tenants = AdminService::new(self.table.clone(), self.clock.clone())
            .tenants()
            .await?;
        for tenant in tenants {
            let appliances = all_items(
                &*self.table,
                Query::partition(store_keys::tenant_partition(&tenant))
                    .sk(SortKey::BeginsWith(store_keys::APPLIANCE_PREFIX.into())),
            )
            .await?;
            // A few appliances at a time, so a large tenant fits in the function's
            // time limit (each appliance costs two small writes).
            // Owned items: a stream of borrowed ones would not be `Send` for every
            // lifetime, which the spawned sweep needs.
            let mut moves = futures::stream::iter(appliances)
                .map(|item| async move { self.compact_appliance(&item, open_hour_starts).await })
                .buffer_unordered(COMPACTION_CONCURRENCY);
            while let Some(moved) = moves.next().await {
                let moved = moved?;
                if moved > 0 {
                    report.appliances += 1;
                    report.samples_moved += moved;
                }
            }
        }
        if report.samples_moved > 0 {
            tracing::info!(?report, "status history compacted");
        }
        Ok(report)
    }

    async fn compact_appliance(&self, item: &Item, before_minute: i64) -> Result<u32, ApiError> {
        let closed: Vec<PendingSample> = pending_samples(item)
            .into_iter()
            .filter(|p| p.sample.minute < before_minute)
            .collect();
        if closed.is_empty() {
            return Ok(0);
        }
        let Some((tenant, appliance)) = owner(&item.key) else {
            return Ok(0);
        };
        for (hour, samples) in by_hour(&closed) {
            self.table
                .update(
                    &hour_key(&tenant, &appliance, hour),
                    hour_merge(hour, &samples),
                    None,
                    ReturnItem::None,
                )
                .await?;
        }
        for (update, condition) in pending_removals(&closed) {
            match self
                .table
                .update(&item.key, update, Some(condition), ReturnItem::None)
                .await
            {
                // A slot was reused meanwhile, or the appliance is gone: the
                // samples are safe in the hour items; the next run tidies up.
                Ok(_) | Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(closed.len() as u32)
    }
}

fn owner(key: &Key) -> Option<(TenantId, ApplianceId)> {
    let tenant = TenantId::parse(key.pk.strip_prefix("TENANT#")?).ok()?;
    let id = ApplianceId::parse(key.sk.strip_prefix(store_keys::APPLIANCE_PREFIX)?).ok()?;
    Some((tenant, id))
}

/// Every sample of `range`, oldest first, one per minute: the hour items that
/// overlap it and the samples still on the appliance item (both may hold a
/// minute while compaction is under way; they agree).
pub async fn samples_in(
    table: &dyn Table,
    tenant: &TenantId,
    appliance: &Item,
    id: &ApplianceId,
    range: &HistoryRange,
) -> Result<Vec<StatusSample>, ApiError> {
    let first = hour_of_minute(minute_of(range.since()));
    let last = hour_of_minute(minute_of(Timestamp::from_millis(
        range.until().millis().saturating_sub(1),
    )));
    let hours = all_items(
        table,
        Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::Between(hour_sort(id, first), hour_sort(id, last))),
    )
    .await?;
    let mut by_minute: BTreeMap<i64, StatusSample> = BTreeMap::new();
    for item in &hours {
        debug_assert!(item.key.sk.starts_with(&hour_prefix(id)));
        for s in hour_samples(item) {
            by_minute.insert(s.minute, s);
        }
    }
    for p in pending_samples(appliance) {
        by_minute.insert(p.sample.minute, p.sample);
    }
    Ok(by_minute
        .into_values()
        .filter(|s| range.contains(s.time()))
        .collect())
}
