//! Stores a new job and puts its fan-out on the `jobs` queue: the one way a job
//! comes into being, whether an administrator asked for it in the portal or the
//! regular-backup schedule did.

use rampart_domain::Timestamp;
use rampart_ports::{Condition, Item, Queue, Table, TransactOp};
use std::time::Duration;

use super::dispatch::{DispatchMessage, DispatchTarget, TARGETS_PER_MESSAGE};
use crate::error::ApiError;
use crate::records::appliance::ApplianceRecord;
use crate::records::job::JobRecord;
use crate::store_keys;

/// Writes `job` with its open-job marker (both only if new), then sends one dispatch
/// message per [`TARGETS_PER_MESSAGE`] targets.
pub async fn submit_job(
    table: &dyn Table,
    jobs_queue: &dyn Queue,
    job: &JobRecord,
    targets: &[DispatchTarget],
) -> Result<(), ApiError> {
    table
        .transact(vec![
            TransactOp::Put(Item::from(job), Some(Condition::NotExists)),
            TransactOp::Put(
                Item::new(store_keys::open_job(&job.tenant, &job.id)),
                Some(Condition::NotExists),
            ),
        ])
        .await?;
    for batch in targets.chunks(TARGETS_PER_MESSAGE) {
        let msg = DispatchMessage {
            tenant: job.tenant.clone(),
            job: job.id.clone(),
            targets: batch.to_vec(),
        };
        jobs_queue.send(&msg.to_body(), Duration::ZERO).await?;
    }
    tracing::info!(job = %job.id, tenant = %job.tenant, operation = job.operation.name(),
        appliances = job.appliances.len(), created_by = %job.created_by, "job created");
    Ok(())
}

/// When the last of `appliances` is expected to collect its command: its last
/// check-in plus its poll interval (never before `now`).
pub fn pickup_expected_by(appliances: &[ApplianceRecord], now: Timestamp) -> Option<Timestamp> {
    appliances
        .iter()
        .filter_map(|a| {
            a.last_checkin
                .map(|t| t.plus(Duration::from_secs(a.poll_interval_secs)).max(now))
        })
        .max()
}
