//! The rotation function: one SQS batch of the `rotation` queue at a time. The
//! daily EventBridge rule puts `{"kind":"rotation-sweep"}` on the queue; a sweep
//! message walks one page of the licenses that have backups and sends one
//! `{"kind":"rotate-license",...}` message per license back to the same queue (and
//! a sweep message for the next page), and each of those rotates one license by
//! SPEC 6.4: the same [`Backups::rotation_message`] the self-hosted console's
//! queue consumer calls.
//!
//! A message that fails is named in `batchItemFailures`, retried alone and
//! dead-lettered after the queue's `maxReceiveCount` (the shared loop of
//! [`rampart_lambda_sqs`]); rotation and the sweep are idempotent, so a retry
//! converges.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use rampart_app::backups::Backups;
use rampart_app::backups::rotation::RotationReport;
use rampart_aws::config::MissingEnv;
use rampart_aws::{AwsClients, AwsResources};
use rampart_lambda_sqs::RecordFailure;
use rampart_ports::Clock;
use std::sync::Arc;

/// The queue the function consumes and fans the sweep out into.
pub const ROTATION_QUEUE: &str = "rotation";

/// What the function builds once per cold start and shares across invocations.
pub struct RotationState {
    backups: Backups,
}

impl RotationState {
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
    state: &RotationState,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    Ok(handle_batch(state, event.payload).await)
}

/// Handles every record of a batch; returns the message ids of those that failed.
pub async fn handle_batch(state: &RotationState, event: SqsEvent) -> SqsBatchResponse {
    let backups = &state.backups;
    rampart_lambda_sqs::handle_batch(event, |body| async move {
        let report = backups
            .rotation_message(&body)
            .await
            .map_err(|e| RecordFailure::new(e.error_type(), &e))?;
        match report {
            RotationReport::Swept {
                licenses,
                continued,
            } => tracing::debug!(licenses, continued, "rotation sweep page handled"),
            RotationReport::Rotated(r) => {
                tracing::debug!(kept = r.kept, deleted = r.deleted, "license rotated")
            }
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedules_message_arrives_as_a_real_sqs_event() {
        // What EventBridge's target delivers: the rule's Input as the body.
        let event: SqsEvent = serde_json::from_value(serde_json::json!({
            "Records": [{
                "messageId": "2e1424d4-f796-459a-8184-9c92662be6da",
                "receiptHandle": "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq...",
                "body": rampart_app::schedules::ROTATION_SWEEP.message,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082650636",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082650649"
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:rotation",
                "awsRegion": "us-east-2"
            }]
        }))
        .unwrap();
        let body: serde_json::Value =
            serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"kind": "rotation-sweep"}));
    }
}
