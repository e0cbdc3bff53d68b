//! The `dispatch` function: fans a job out into one command per appliance. The
//! portal puts the job in the store and one message per batch of appliances in the
//! `jobs` queue; each message is handled here, on AWS by the `dispatch` Lambda and
//! self-hosted by a queue consumer of the same code.
//!
//! Handling a message twice creates nothing the second time: each command is
//! created on the condition that it does not exist yet.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_domain::ids::{ApplianceId, JobId, TenantId};
use rampart_ports::{Clock, Table};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::FAST_POLL_WINDOW;
use super::command_writer::create_command;
use crate::error::ApiError;
use crate::records::appliance::ApplianceRecord;
use crate::records::command::CommandRecord;
use crate::records::job::JobRecord;
use crate::store_keys;

/// Appliances per queue message: a message stays far below SQS's 256 KiB, and a
/// batch is quick enough to handle within the consumer's timeout.
pub const TARGETS_PER_MESSAGE: usize = 50;
/// A sealed PIN is 55 bytes; its base64 is shorter than this.
/// Base64 of the largest sealed secret: a backup password of 128 characters of up to
/// 4 bytes each, plus the box's 49 bytes.
const MAX_SEALED_SECRET_CHARS: usize = 1024;

/// One message of the `jobs` queue. It carries no PIN, only its sealed form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchMessage {
    pub tenant: TenantId,
    pub job: JobId,
    pub targets: Vec<DispatchTarget>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchTarget {
    pub appliance: ApplianceId,
    /// Base64 of the command's secret sealed to this appliance's key: the PIN of a
    /// PIN-protected operation, or the new password of `set_backup_password` (an
    /// operation never carries both; the wire name is historical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_pin: Option<String>,
}

/// Why a message could not be handled. Lambda reports it as the message's batch
/// item failure; it is retried and, failing again, dead-lettered.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("malformed dispatch message: {0}")]
    Malformed(String),
    #[error("the message names a job that does not exist")]
    UnknownJob,
    #[error(transparent)]
    Store(#[from] ApiError),
}

impl DispatchError {
    /// The `error_type` for Lambda's diagnostics.
    pub fn error_type(&self) -> &'static str {
        match self {
            DispatchError::Malformed(_) => "MalformedMessage",
            DispatchError::UnknownJob => "UnknownJob",
            DispatchError::Store(_) => "StoreUnavailable",
        }
    }
}

/// What one message did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    pub queued: u32,
    pub refused: u32,
    /// Commands that already existed (a repeated delivery).
    pub already_there: u32,
}

impl DispatchMessage {
    /// Parses and checks a message body.
    pub fn parse(body: &str) -> Result<Self, DispatchError> {
        if body.len() > rampart_ports::queue::MAX_MESSAGE_BYTES {
            return Err(DispatchError::Malformed("too large".into()));
        }
        let m: Self =
            serde_json::from_str(body).map_err(|e| DispatchError::Malformed(e.to_string()))?;
        if m.targets.is_empty() || m.targets.len() > TARGETS_PER_MESSAGE {
            return Err(DispatchError::Malformed(format!(
                "1 to {TARGETS_PER_MESSAGE} targets"
            )));
        }
        if m.targets
            .iter()
            .filter_map(|t| t.sealed_pin.as_ref())
            .any(|p| p.len() > MAX_SEALED_SECRET_CHARS)
        {
            return Err(DispatchError::Malformed("sealed secret too long".into()));
        }
        Ok(m)
    }

    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Built once per process and shared by every message.
pub struct Dispatcher {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

impl Dispatcher {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }

    /// Handles one message of the `jobs` queue.
    pub async fn handle(&self, body: &str) -> Result<DispatchReport, DispatchError> {
        let msg = DispatchMessage::parse(body)?;
        let job_item = self
            .table
            .get(&store_keys::job(&msg.tenant, &msg.job))
            .await
            .map_err(ApiError::from)?
            .ok_or(DispatchError::UnknownJob)?;
        let job = JobRecord::try_from(&job_item)
            .map_err(|e| DispatchError::Store(ApiError::Unavailable(e.into())))?;
        let mut report = DispatchReport::default();
        for target in &msg.targets {
            if !job.appliances.contains(&target.appliance) {
                return Err(DispatchError::Malformed(
                    "a target is not one of the job's appliances".into(),
                ));
            }
            let now = self.clock.now();
            let cmd = self.command_for(&job, target, now).await?;
            let refused = !cmd.is_open();
            if create_command(&*self.table, &cmd, now.plus(FAST_POLL_WINDOW)).await? {
                if refused {
                    report.refused += 1;
                } else {
                    report.queued += 1;
                }
            } else {
                report.already_there += 1;
            }
        }
        tracing::info!(job = %msg.job, queued = report.queued, refused = report.refused,
            repeated = report.already_there, "job dispatched");
        Ok(report)
    }

    /// The command for one appliance: queued, or refused from what the console knows
    /// of the appliance (SPEC 3.3: refused before it is queued).
    async fn command_for(
        &self,
        job: &JobRecord,
        target: &DispatchTarget,
        now: rampart_domain::Timestamp,
    ) -> Result<CommandRecord, DispatchError> {
        let refuse = |reason| {
            CommandRecord::refused(
                job.tenant.clone(),
                job.id.clone(),
                target.appliance.clone(),
                job.operation.clone(),
                reason,
                now,
            )
        };
        let item = self
            .table
            .get(&store_keys::appliance(&job.tenant, &target.appliance))
            .await
            .map_err(ApiError::from)?;
        let Some(item) = item else {
            return Ok(refuse(rampart_domain::jobs::Refusal::ApplianceGone));
        };
        let appliance = ApplianceRecord::try_from(&item)
            .map_err(|e| DispatchError::Store(ApiError::Unavailable(e.into())))?;
        if let Some(report) = &appliance.report
            && let Err(reason) = job
                .operation
                .check_allowed(
                    &report.authorizations,
                    report.firmware,
                    report.previous_firmware,
                )
                .and_then(|()| job.operation.check_application(&report.applications))
        {
            return Ok(refuse(reason));
        }
        let sealed_pin = target
            .sealed_pin
            .as_ref()
            .map(|p| B64.decode(p))
            .transpose()
            .map_err(|_| DispatchError::Malformed("sealed PIN is not base64".into()))?;
        Ok(CommandRecord::queued(
            job.tenant.clone(),
            job.id.clone(),
            target.appliance.clone(),
            job.operation.clone(),
            sealed_pin,
            now,
        ))
    }
}
