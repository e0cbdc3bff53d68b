//! The dispatch function: one SQS batch of the `jobs` queue at a time, each message
//! a batch of one job's appliances, fanned out into commands by the same
//! [`Dispatcher`] the self-hosted console's queue consumer calls.
//!
//! Every record is handled on its own (the shared loop of [`rampart_lambda_sqs`]):
//! one that fails is named in the response's `batchItemFailures`, so SQS
//! redelivers only it (and dead-letters it after the queue's `maxReceiveCount`)
//! while the rest of the batch is deleted. Records are handled one after another:
//! a message delivered twice within one batch then finds its commands already
//! written instead of racing itself.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use rampart_app::jobs::dispatch::Dispatcher;
use rampart_aws::config::{MissingEnv, TABLE_ENV};
use rampart_aws::{AwsClients, AwsResources};
use rampart_lambda_sqs::RecordFailure;
use rampart_ports::Clock;
use std::sync::Arc;

/// What the function builds once per cold start and shares across invocations.
pub struct DispatchState {
    dispatcher: Dispatcher,
}

impl DispatchState {
    pub fn new(dispatcher: Dispatcher) -> Self {
        Self { dispatcher }
    }

    /// The dispatcher on the DynamoDB table named by `RAMPART_TABLE`.
    pub fn from_env(clients: &AwsClients, clock: Arc<dyn Clock>) -> Result<Self, MissingEnv> {
        let table = std::env::var(TABLE_ENV)
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| MissingEnv(TABLE_ENV.to_owned()))?;
        Ok(Self::on_table(
            &AwsResources {
                table,
                ..AwsResources::default()
            },
            clients,
            clock,
        ))
    }

    /// The dispatcher on the table of `resources` (the bucket and queues are not used).
    pub fn on_table(resources: &AwsResources, clients: &AwsClients, clock: Arc<dyn Clock>) -> Self {
        let table = resources.table(clients, clock.clone());
        Self::new(Dispatcher::new(table, clock))
    }
}

/// The Lambda handler: the batch, and which of its records failed.
pub async fn function_handler(
    state: &DispatchState,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    Ok(handle_batch(state, event.payload).await)
}

/// Handles every record of a batch; returns the message ids of those that failed.
pub async fn handle_batch(state: &DispatchState, event: SqsEvent) -> SqsBatchResponse {
    let dispatcher = &state.dispatcher;
    // No error quotes a message body, and the messages hold only sealed PINs.
    rampart_lambda_sqs::handle_batch(event, |body| async move {
        let report = dispatcher
            .handle(&body)
            .await
            .map_err(|e| RecordFailure::new(e.error_type(), &e))?;
        tracing::debug!(
            queued = report.queued,
            refused = report.refused,
            repeated = report.already_there,
            "jobs message handled"
        );
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_app::jobs::dispatch::DispatchError;
    use rampart_lambda_sqs::error_chain;

    #[test]
    fn error_chain_names_the_causes_once() {
        let e = DispatchError::Store(rampart_app::error::ApiError::Unavailable(anyhow::anyhow!(
            "connection reset"
        )));
        assert_eq!(
            error_chain(&e),
            "storage is unavailable, retry later: connection reset"
        );
        assert_eq!(e.error_type(), "StoreUnavailable");
    }

    #[test]
    fn a_real_sqs_event_deserializes() {
        let event: SqsEvent = serde_json::from_value(serde_json::json!({
            "Records": [{
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                "body": "{}",
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185"
                },
                "messageAttributes": {},
                "md5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:jobs",
                "awsRegion": "us-east-2"
            }]
        }))
        .unwrap();
        assert_eq!(event.records.len(), 1);
        assert_eq!(event.records[0].body.as_deref(), Some("{}"));
    }
}
