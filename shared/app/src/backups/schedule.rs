//! The regular backup (SPEC 6.3): on by default, daily at 07:00 appliance time.
//! Each appliance has one due entry in the `BACKUPDUE` partition, sorted by time;
//! the maintenance sweep takes the entries that are due and makes a backup job for
//! each connected appliance. An appliance that was offline at its time keeps its
//! entry due (checked again every [`OFFLINE_RETRY`]), so when it returns it makes
//! one backup, not one per missed day.

use rampart_domain::Timestamp;
use rampart_domain::backup_schedule::next_run;
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::ids::{ApplianceId, JobId, TenantId};
use rampart_domain::jobs::{JobTarget, Operation};
use rampart_domain::portal_protocol::BackupSchedule;
use rampart_ports::{
    Clock, Condition, Item, Key, Query, Queue, SortKey, Table, TransactOp, Update,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ApiError;
use crate::jobs::dispatch::DispatchTarget;
use crate::jobs::submit::{pickup_expected_by, submit_job};
use crate::records::appliance::ApplianceRecord;
use crate::records::backup::{self, MADE_BY_SCHEDULE};
use crate::records::job::JobRecord;
use crate::store_keys;

/// The appliance item's schedule (JSON) and its current due time (ms).
pub const SCHEDULE_ATTR: &str = "backup_schedule";
pub const DUE_ATTR: &str = "backup_due_at";

/// How soon an appliance that was offline at its time is looked at again.
pub const OFFLINE_RETRY: Duration = Duration::from_secs(15 * 60);
/// Due entries handled per sweep (the rest wait for the next minute).
pub const DUE_PER_SWEEP: u32 = 200;

/// The schedule stored on an appliance item (the default when none was set).
pub fn schedule_of(item: &Item) -> BackupSchedule {
    item.str(SCHEDULE_ATTR)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// The writes that move an appliance's due entry from `old` to `new` (either may be
/// None: no entry) and store `schedule`, on the condition that the entry is still
/// `old` (so two writers cannot both move it).
pub fn move_due(
    tenant: &TenantId,
    appliance: &ApplianceId,
    old: Option<Timestamp>,
    new: Option<Timestamp>,
    schedule: &BackupSchedule,
) -> Vec<TransactOp> {
    let mut update = Update::new().set(
        SCHEDULE_ATTR,
        serde_json::to_string(schedule).unwrap_or_default(),
    );
    update = match new {
        Some(t) => update.set(DUE_ATTR, t.millis()),
        None => update.remove(DUE_ATTR),
    };
    let still = match old {
        Some(t) => Condition::eq(DUE_ATTR, t.millis()),
        None => Condition::Exists.and(Condition::AttrNotExists(DUE_ATTR.to_owned())),
    };
    let mut ops = vec![TransactOp::Update(
        store_keys::appliance(tenant, appliance),
        update,
        Some(still),
    )];
    if let Some(t) = old {
        ops.push(TransactOp::Delete(
            backup::due_key(t, tenant, appliance),
            None,
        ));
    }
    if let Some(t) = new {
        ops.push(TransactOp::Put(
            Item::new(backup::due_key(t, tenant, appliance)),
            None,
        ));
    }
    ops
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScheduleReport {
    pub due: u32,
    pub jobs_created: u32,
    pub offline: u32,
}

pub struct ScheduledBackups {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    jobs_queue: Arc<dyn Queue>,
}

impl ScheduledBackups {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, jobs_queue: Arc<dyn Queue>) -> Self {
        Self {
            table,
            clock,
            jobs_queue,
        }
    }

    /// Makes a backup job for every connected appliance whose time has come.
    pub async fn run_due(&self) -> Result<ScheduleReport, ApiError> {
        let now = self.clock.now();
        let page = self
            .table
            .query(
                Query::partition(backup::DUE_PARTITION)
                    .sk(SortKey::Le(format!("{}#~", backup::due_sort(now))))
                    .limit(DUE_PER_SWEEP),
            )
            .await?;
        let mut report = ScheduleReport::default();
        for entry in page.items {
            report.due += 1;
            let Some((due, tenant, appliance)) = backup::parse_due_sort(&entry.key.sk) else {
                tracing::warn!(sk = %entry.key.sk, "malformed backup due entry dropped");
                self.table.delete(&entry.key, None).await?;
                continue;
            };
            match self.one(&entry.key, due, &tenant, &appliance, now).await? {
                Some(true) => report.jobs_created += 1,
                Some(false) => report.offline += 1,
                None => {}
            }
        }
        Ok(report)
    }

    /// Some(true): a job was made; Some(false): offline, looked at again later.
    async fn one(
        &self,
        entry: &Key,
        due: Timestamp,
        tenant: &TenantId,
        appliance: &ApplianceId,
        now: Timestamp,
    ) -> Result<Option<bool>, ApiError> {
        let Some(item) = self
            .table
            .get(&store_keys::appliance(tenant, appliance))
            .await?
        else {
            self.table.delete(entry, None).await?;
            return Ok(None);
        };
        let record =
            ApplianceRecord::try_from(&item).map_err(|e| ApiError::Unavailable(e.into()))?;
        let schedule = schedule_of(&item);
        let offset = record
            .report
            .as_ref()
            .and_then(|r| r.utc_offset_minutes)
            .unwrap_or(0);
        let connected = record.status(now) == ConnectionStatus::Connected;
        let allowed = record
            .report
            .as_ref()
            .is_none_or(|r| r.authorizations.cloud_backup);
        let next = if connected || !schedule.enabled {
            next_run(&schedule, offset, now)
        } else {
            Some(now.plus(OFFLINE_RETRY))
        };
        // Claim the entry first: of two sweeps at once, one moves it and makes the job.
        let claim = move_due(tenant, appliance, Some(due), next, &schedule);
        match self.table.transact(claim).await {
            Ok(()) => {}
            Err(rampart_ports::StoreError::TransactionCanceled) => {
                // Moved meanwhile (by another sweep or a schedule change): an entry the
                // appliance no longer points at is a leftover.
                let now_points_at = self
                    .table
                    .get(&store_keys::appliance(tenant, appliance))
                    .await?
                    .and_then(|i| i.i64(DUE_ATTR));
                if now_points_at != Some(due.millis()) {
                    self.table.delete(entry, None).await?;
                }
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        if !schedule.enabled || !allowed {
            return Ok(None);
        }
        if !connected {
            return Ok(Some(false));
        }
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).map_err(|e| ApiError::Unavailable(anyhow::anyhow!("{e}")))?;
        let job = JobRecord {
            id: JobId::new(now.millis(), random),
            tenant: tenant.clone(),
            operation: Operation::Backup,
            target: JobTarget::Appliance(appliance.clone()),
            appliances: vec![appliance.clone()],
            created_at: now,
            created_by: MADE_BY_SCHEDULE.to_owned(),
            pickup_expected_by: pickup_expected_by(std::slice::from_ref(&record), now),
            finished_at: None,
        };
        let target = DispatchTarget {
            appliance: appliance.clone(),
            sealed_pin: None,
        };
        submit_job(&*self.table, &*self.jobs_queue, &job, &[target]).await?;
        Ok(Some(true))
    }
}
