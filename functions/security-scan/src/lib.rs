//! The security-scan function: one SQS batch of the `scan` queue at a time (batch
//! size 1: a scan takes seconds, and one message per invocation keeps each within
//! the function's time-out). Each message names a scan the portal queued; the
//! same [`Scans::run`] the self-hosted console's consumer calls scans the
//! appliance's observed public addresses that pass the target policy, stores one
//! result per public interface and releases the appliance's scan lock.
//!
//! A message that fails is named in `batchItemFailures`, retried and dead-lettered
//! after the queue's `maxReceiveCount` (the shared loop of [`rampart_lambda_sqs`]);
//! a finished scan is not run again on redelivery.

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use rampart_app::scans::Scans;
use rampart_aws::{AwsClients, AwsResources};
use rampart_lambda_sqs::RecordFailure;
use rampart_ports::Clock;
use rampart_scanner::AllowList;
use std::sync::Arc;

/// What the function builds once per cold start and shares across invocations.
pub struct ScanState {
    scans: Scans,
}

impl ScanState {
    pub fn new(scans: Scans) -> Self {
        Self { scans }
    }

    /// On the table named by `RAMPART_TABLE`, with the operator's allow-list from
    /// `RAMPART_SCAN_ALLOW` (none when unset; a malformed list stops the cold start
    /// rather than scanning with a policy nobody meant).
    pub fn from_env(clients: &AwsClients, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let allow = rampart_app::scans::allow_list_from_env()
            .with_context(|| rampart_app::scans::ALLOW_ENV.to_owned())?;
        Ok(Self::on_resources(
            &AwsResources::from_env()?,
            clients,
            clock,
            allow,
        ))
    }

    pub fn on_resources(
        resources: &AwsResources,
        clients: &AwsClients,
        clock: Arc<dyn Clock>,
        allow: AllowList,
    ) -> Self {
        Self::new(Scans::new(
            resources.table(clients, clock.clone()),
            clock,
            allow,
        ))
    }
}

/// The Lambda handler: the batch, and which of its records failed.
pub async fn function_handler(
    state: &ScanState,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    Ok(handle_batch(state, event.payload).await)
}

/// Handles every record of a batch; returns the message ids of those that failed.
pub async fn handle_batch(state: &ScanState, event: SqsEvent) -> SqsBatchResponse {
    let scans = &state.scans;
    rampart_lambda_sqs::handle_batch(event, |body| async move {
        let run = scans
            .run(&body)
            .await
            .map_err(|e| RecordFailure::new(e.error_type(), &e))?;
        tracing::debug!(?run, "scan message handled");
        Ok(())
    })
    .await
}
