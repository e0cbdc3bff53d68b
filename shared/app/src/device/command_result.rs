//! `POST /v1/device/commands/{id}/result`: an appliance reports what became of a
//! command. Idempotent: the same result twice changes nothing; a different result
//! on a finished command is 410; a result the state machine refuses is 409.

use rampart_domain::comm_log::{Direction, LogFields, LogStatus, sanitize_info};
use rampart_domain::device_protocol::{CommandResultRequest, CommandResultResponse};
use rampart_domain::ids::JobId;
use rampart_domain::jobs::{ApplianceResult, CommandState, ReportOutcome};

use super::{DeviceAuth, DeviceService};
use crate::error::ApiError;
use crate::jobs::command_writer::{Written, write_transition};
use crate::json_body;
use crate::records::command::CommandRecord;
use crate::store_keys;

/// Concurrent reports of one command: each loser re-reads and decides again.
const ATTEMPTS: usize = 5;

impl DeviceService {
    pub async fn command_result(
        &self,
        auth: &DeviceAuth,
        method: &str,
        path: &str,
        body: &[u8],
        command: &str,
    ) -> Result<CommandResultResponse, ApiError> {
        let now = self.clock.now();
        let (appliance, credential) = self.authenticate(auth, method, path, body, now).await?;
        let job = JobId::parse(command).map_err(|_| ApiError::UnknownCommand)?;
        let req: CommandResultRequest = json_body::parse(body)?;
        let result = req.to_result()?;
        let info = req
            .info
            .as_deref()
            .map(sanitize_info)
            .filter(|i| !i.is_empty());
        let key = store_keys::command(&credential.tenant, &job, &appliance);
        for _ in 0..ATTEMPTS {
            let item = self
                .table
                .get(&key)
                .await?
                .ok_or(ApiError::UnknownCommand)?;
            let cmd =
                CommandRecord::try_from(&item).map_err(|e| ApiError::Unavailable(e.into()))?;
            let answer = |state, awaiting_checkin| CommandResultResponse {
                command_id: job.clone(),
                state,
                awaiting_checkin,
            };
            match cmd.status.report(&cmd.operation, &result, now) {
                ReportOutcome::Duplicate => return Ok(answer(cmd.status.state, false)),
                ReportOutcome::AwaitCheckin => return Ok(answer(cmd.status.state, true)),
                ReportOutcome::Gone => return Err(ApiError::CommandFinished(cmd.status.state)),
                ReportOutcome::Conflict(e) => return Err(e.into()),
                ReportOutcome::Apply(status) => {
                    let mut next = cmd.clone();
                    next.status = status;
                    if info.is_some() {
                        next.info = info.clone();
                    }
                    let log = log_fields(&cmd, &result, info.as_deref(), now);
                    match write_transition(&*self.table, &cmd, &next, Some(log), None).await? {
                        Written::Done { .. } => {
                            tracing::info!(appliance = %appliance, job = %job,
                                state = %next.status.state, "command result");
                            return Ok(answer(next.status.state, false));
                        }
                        Written::Stale => continue,
                    }
                }
            }
        }
        Err(ApiError::Unavailable(anyhow::anyhow!(
            "command {job} kept changing while its result was written"
        )))
    }
}

/// The log entry of a result: what the appliance said, with its reason or error.
fn log_fields(
    cmd: &CommandRecord,
    result: &ApplianceResult,
    info: Option<&str>,
    now: rampart_domain::Timestamp,
) -> LogFields {
    let op = cmd.operation.name();
    let (status, mut text) = match result {
        ApplianceResult::Succeeded => (LogStatus::Ok, format!("{op} {}", CommandState::Succeeded)),
        ApplianceResult::Failed => (LogStatus::Error, format!("{op} {}", CommandState::Failed)),
        ApplianceResult::Canceled => (LogStatus::Info, format!("{op} {}", CommandState::Canceled)),
        ApplianceResult::Rejected(reason) => (
            LogStatus::Refused,
            format!("{op} rejected ({}): {reason}", reason.code()),
        ),
    };
    if let Some(info) = info {
        text.push_str(": ");
        text.push_str(info);
    }
    LogFields {
        time: now,
        job: Some(cmd.job.to_string()),
        direction: Direction::ApplianceToConsole,
        status,
        info: sanitize_info(&text),
    }
}
