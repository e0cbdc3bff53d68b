//! The `maintenance` function's job work: commands that were not collected or not
//! answered in time time out even if their appliance never checks in again, and a
//! job whose commands have all finished is marked finished; once an hour the
//! status history is compacted; once a day, appliances whose license expired
//! long ago are removed (`license_expiry`). Runs on a schedule
//! (EventBridge on AWS, a timer self-hosted).

use rampart_domain::comm_log::{Direction, LogFields, LogStatus};
use rampart_domain::jobs::{CommandEvent, CommandState, due_timeout};
use rampart_ports::{Clock, Condition, Query, Queue, SortKey, Table, TransactOp, Update};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

use super::command_writer::{Written, write_transition};
use crate::all_pages::all_items;
use crate::backups::schedule::{ScheduleReport, ScheduledBackups};
use crate::error::ApiError;
use crate::license_expiry::LicenseExpiry;
use crate::records::command::CommandRecord;
use crate::records::job::JobRecord;
use crate::status_history::{CompactionReport, StatusCompaction};
use crate::store_keys;

/// How often the sweep runs (the schedule in template.yaml says the same).
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub open_jobs: u32,
    pub timed_out: u32,
    pub jobs_finished: u32,
    /// Regular backups whose time had come (see `backups::schedule`).
    pub backups: ScheduleReport,
    /// The hourly status-history compaction (see `status_history`).
    pub status_history: CompactionReport,
    /// The day's license-expiry run, when this sweep made it (see `license_expiry`).
    pub expired_removed: u32,
    pub expired_kept_for_vpn: u32,
}

pub struct Maintenance {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    scheduled_backups: Option<ScheduledBackups>,
    license_expiry: LicenseExpiry,
}

impl Maintenance {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self {
            license_expiry: LicenseExpiry::new(table.clone(), clock.clone()),
            table,
            clock,
            scheduled_backups: None,
        }
    }

    /// Also makes the regular backups that are due, at each sweep.
    pub fn with_scheduled_backups(mut self, jobs_queue: Arc<dyn Queue>) -> Self {
        self.scheduled_backups = Some(ScheduledBackups::new(
            self.table.clone(),
            self.clock.clone(),
            jobs_queue,
        ));
        self
    }

    /// One sweep over every open job.
    pub async fn sweep(&self) -> Result<SweepReport, ApiError> {
        let mut report = SweepReport::default();
        let open = all_items(
            &*self.table,
            Query::partition(store_keys::OPEN_JOBS_PARTITION).sk(SortKey::All),
        )
        .await?;
        for marker in open {
            report.open_jobs += 1;
            let Some((job, tenant)) = marker.key.sk.split_once('#') else {
                continue;
            };
            let (Ok(job), Ok(tenant)) = (
                rampart_domain::ids::JobId::parse(job),
                rampart_domain::ids::TenantId::parse(tenant),
            ) else {
                continue;
            };
            let Some(item) = self.table.get(&store_keys::job(&tenant, &job)).await? else {
                // The job is gone; so is the reason to keep its marker.
                self.table.delete(&marker.key, None).await?;
                continue;
            };
            let job = JobRecord::try_from(&item).map_err(|e| ApiError::Unavailable(e.into()))?;
            let (timed_out, finished) = self.sweep_job(&job).await?;
            report.timed_out += timed_out;
            if finished {
                report.jobs_finished += 1;
            }
        }
        if let Some(scheduled) = &self.scheduled_backups {
            report.backups = scheduled.run_due().await?;
        }
        report.status_history = StatusCompaction::new(self.table.clone(), self.clock.clone())
            .run_if_due()
            .await?;
        if let Some(expiry) = self.license_expiry.run_daily().await? {
            report.expired_removed = expiry.removed.len() as u32;
            report.expired_kept_for_vpn = expiry.kept_for_vpn.len() as u32;
        }
        if report.timed_out > 0
            || report.jobs_finished > 0
            || report.backups.due > 0
            || report.expired_removed > 0
        {
            tracing::info!(?report, "maintenance sweep");
        }
        Ok(report)
    }

    /// Times out what is due in one job; finishes the job when nothing is left open.
    async fn sweep_job(&self, job: &JobRecord) -> Result<(u32, bool), ApiError> {
        let now = self.clock.now();
        let items = all_items(
            &*self.table,
            Query::partition(store_keys::tenant_partition(&job.tenant))
                .sk(SortKey::BeginsWith(store_keys::command_prefix(&job.id))),
        )
        .await?;
        let mut timed_out = 0;
        let mut open = 0;
        for item in &items {
            let cmd = CommandRecord::try_from(item).map_err(|e| ApiError::Unavailable(e.into()))?;
            if !cmd.is_open() {
                continue;
            }
            if !due_timeout(&cmd.status, &cmd.deadlines, now) {
                open += 1;
                continue;
            }
            let Ok(status) = cmd.status.apply(&CommandEvent::TimedOut, now) else {
                open += 1;
                continue;
            };
            let what = if cmd.status.state == CommandState::Queued {
                format!("not collected by {}", cmd.deadlines.collect_by.to_rfc3339())
            } else {
                let sent = cmd.status.sent_at.unwrap_or(cmd.deadlines.collect_by);
                format!(
                    "not answered by {}",
                    cmd.deadlines.answer_by(sent).to_rfc3339()
                )
            };
            let log = LogFields {
                time: now,
                job: Some(job.id.to_string()),
                direction: Direction::ConsoleToAppliance,
                status: LogStatus::TimedOut,
                info: format!("{}: {what}", cmd.operation.name()),
            };
            let mut next = cmd.clone();
            next.status = status;
            match write_transition(&*self.table, &cmd, &next, Some(log), None).await? {
                Written::Done { .. } => timed_out += 1,
                // Moved on meanwhile (answered, collected): look again next sweep.
                Written::Stale => open += 1,
            }
        }
        // Dispatch makes every command right after the job is created. One still
        // missing after a whole collect window never came (its message was
        // dead-lettered): the job finishes without it rather than stay open.
        let all_created = items.len() >= job.appliances.len()
            || now > job.created_at.plus(rampart_domain::jobs::COLLECT_WINDOW);
        let finished = open == 0 && all_created;
        if finished {
            self.table
                .transact(vec![
                    TransactOp::Update(
                        store_keys::job(&job.tenant, &job.id),
                        Update::new().set("finished_at", now.millis()),
                        Some(Condition::Exists),
                    ),
                    TransactOp::Delete(store_keys::open_job(&job.tenant, &job.id), None),
                ])
                .await?;
        }
        Ok((timed_out, finished))
    }
}
