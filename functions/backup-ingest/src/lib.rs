//! The backup-ingest function: one SQS batch of the `backup-ingest` queue at a
//! time, each message an S3 event notification of created objects under
//! `backups/`. The same [`Backups::ingest`] the self-hosted console's queue
//! consumer calls checks each object's envelope header against its upload grant,
//! indexes it and rotates its license; an object that fails the checks is deleted
//! and the refusal logged, which is a handled message, not a failed one. S3's
//! `s3:TestEvent` (sent when the notification is configured) is accepted and
//! dropped.
//!
//! Only messages that could not be handled (malformed, or the store unavailable)
//! are named in `batchItemFailures`, retried alone and dead-lettered after the
//! queue's `maxReceiveCount` (the shared loop of [`rampart_lambda_sqs`]).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use rampart_app::backups::Backups;
use rampart_app::backups::ingest::Ingested;
use rampart_aws::config::MissingEnv;
use rampart_aws::{AwsClients, AwsResources};
use rampart_lambda_sqs::RecordFailure;
use rampart_ports::Clock;
use std::sync::Arc;

/// The queue whose URL the function is given besides the table and the bucket.
/// Ingest itself sends nothing to it (it rotates the license inline), but
/// [`Backups`] serves both backup queues and takes it; the template grants the
/// send, so the function fails at its cold start, not at its first message, when
/// the environment is incomplete.
pub const ROTATION_QUEUE: &str = "rotation";

/// What the function builds once per cold start and shares across invocations.
pub struct IngestState {
    backups: Backups,
}

impl IngestState {
    pub fn new(backups: Backups) -> Self {
        Self { backups }
    }

    /// On the table, bucket and rotation queue named by `RAMPART_TABLE`,
    /// `RAMPART_BUCKET` and `RAMPART_QUEUE_URL_ROTATION`.
    pub fn from_env(clients: &AwsClients, clock: Arc<dyn Clock>) -> Result<Self, MissingEnv> {
        Self::on_resources(&AwsResources::from_env()?, clients, clock)
    }

    /// On the table, bucket and rotation queue of `resources`.
    pub fn on_resources(
        resources: &AwsResources,
        clients: &AwsClients,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, MissingEnv> {
        let rotation = resources.queue(clients, ROTATION_QUEUE)?;
        Ok(Self::new(Backups::new(
            resources.table(clients, clock.clone()),
            resources.objects(clients),
            clock,
            rotation,
        )))
    }
}

/// The Lambda handler: the batch, and which of its records failed.
pub async fn function_handler(
    state: &IngestState,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    Ok(handle_batch(state, event.payload).await)
}

/// Handles every record of a batch; returns the message ids of those that failed.
pub async fn handle_batch(state: &IngestState, event: SqsEvent) -> SqsBatchResponse {
    let backups = &state.backups;
    rampart_lambda_sqs::handle_batch(event, |body| async move {
        let outcomes = backups
            .ingest(&body)
            .await
            .map_err(|e| RecordFailure::new(e.error_type(), &e))?;
        log_outcomes(&outcomes);
        Ok(())
    })
    .await
}

fn log_outcomes(outcomes: &[Ingested]) {
    if outcomes.is_empty() {
        // s3:TestEvent, or a notification of other events only.
        tracing::debug!("notification without created objects dropped");
    }
    for outcome in outcomes {
        match outcome {
            Ingested::Indexed {
                backup,
                rotated_out,
            } => tracing::debug!(%backup, rotated_out, "backup ingested"),
            Ingested::Duplicate { backup } => {
                tracing::debug!(%backup, "backup already indexed (redelivery)")
            }
            // The application has logged the refusal and deleted the object.
            Ingested::Refused { key, code } => tracing::debug!(key, code, "upload refused"),
            Ingested::Missing { key } => {
                tracing::debug!(key, "object gone before it was ingested")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_notification_in_an_sqs_event_deserializes() {
        let notification = rampart_ports::object_events::object_created_event(
            "rampart-backups",
            "backups/100001.sms/A1B2C3D4/bk_176400000000001020304.rbk",
            4096,
            rampart_domain::Timestamp::from_millis(1_764_000_000_000),
        );
        let event: SqsEvent = serde_json::from_value(serde_json::json!({
            "Records": [{
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                "body": notification,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAJHIPRHEMV73VRJEBU",
                    "ApproximateFirstReceiveTimestamp": "1545082649185"
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:backup-ingest",
                "awsRegion": "us-east-2"
            }]
        }))
        .unwrap();
        let body = event.records[0].body.as_deref().unwrap();
        let created = rampart_ports::object_events::parse_created_objects(body).unwrap();
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].size, 4096);
    }
}
