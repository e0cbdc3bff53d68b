//! The batch loop every queue-consuming Lambda function shares: one SQS batch in,
//! each record's body handed to the function's message handler, and the records
//! that failed named in the response's `batchItemFailures`
//! (`FunctionResponseTypes: [ReportBatchItemFailures]` in template.yaml).
//!
//! SQS then redelivers only the failed records (and dead-letters them after the
//! queue's `maxReceiveCount`) while the rest of the batch is deleted. Records are
//! handled one after another: a message delivered twice within one batch then finds
//! the first delivery's writes instead of racing it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use std::future::Future;
use tracing::Instrument;

/// Why one record failed: the `error_type` Lambda diagnostics and metric filters
/// match on, and the error with its causes for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordFailure {
    pub error_type: &'static str,
    pub message: String,
}

impl RecordFailure {
    /// `error` and its causes, under `error_type`.
    pub fn new(error_type: &'static str, error: &dyn std::error::Error) -> Self {
        Self {
            error_type,
            message: error_chain(error),
        }
    }
}

/// The `error_type` of a record without a body.
pub const MALFORMED_MESSAGE: &str = "MalformedMessage";

/// Hands the body of every record of `event` to `handle`, one after another, and
/// returns the message ids of the records that failed (a record without a body
/// fails without reaching `handle`). `handle` runs in a span naming the message
/// id. Each failure is logged with its message id, queue, receive count, error
/// type and error chain; never with the body.
pub async fn handle_batch<F, Fut>(event: SqsEvent, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), RecordFailure>>,
{
    let mut response = SqsBatchResponse::default();
    for mut record in event.records {
        let message_id = record.message_id.take().unwrap_or_default();
        let outcome = match record.body.take() {
            // Everything the handler logs carries the message id.
            Some(body) => {
                handle(body)
                    .instrument(tracing::info_span!("sqs_record", message_id = %message_id))
                    .await
            }
            None => Err(RecordFailure {
                error_type: MALFORMED_MESSAGE,
                message: "the record has no body".into(),
            }),
        };
        if let Err(failure) = outcome {
            tracing::warn!(
                message_id = %message_id,
                queue = record.event_source_arn.as_deref().unwrap_or("?"),
                receive_count = record
                    .attributes
                    .get("ApproximateReceiveCount")
                    .map(String::as_str)
                    .unwrap_or("?"),
                error_type = failure.error_type,
                error = %failure.message,
                "queue message failed; returned to the queue for retry"
            );
            // An empty identifier makes Lambda retry the whole batch, which is the
            // only safe answer for a record it could not name.
            response.add_failure(message_id);
        }
    }
    response
}

/// An error with its causes, `outer: inner: ...`, each cause once (an error that
/// already ends with its source's text does not repeat it).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("storage is unavailable")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection reset")
        }
    }
    impl std::error::Error for Inner {}

    #[test]
    fn error_chain_names_the_causes_once() {
        assert_eq!(
            error_chain(&Outer(Inner)),
            "storage is unavailable: connection reset"
        );
        assert_eq!(error_chain(&Inner), "connection reset");
        let f = RecordFailure::new("StoreUnavailable", &Outer(Inner));
        assert_eq!(f.error_type, "StoreUnavailable");
        assert_eq!(f.message, "storage is unavailable: connection reset");
    }

    fn record(id: &str, body: Option<&str>) -> serde_json::Value {
        json!({
            "messageId": id,
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185"
            },
            "messageAttributes": {},
            "md5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:q",
            "awsRegion": "us-east-2"
        })
    }

    #[tokio::test]
    async fn only_failed_records_are_named_and_all_are_handled_in_order() {
        let event: SqsEvent = serde_json::from_value(json!({"Records": [
            record("a", Some("ok")),
            record("b", Some("bad")),
            record("c", None),
            record("d", Some("ok")),
        ]}))
        .unwrap();
        let mut seen = Vec::new();
        let response = handle_batch(event, |body| {
            seen.push(body.clone());
            async move {
                if body == "ok" {
                    Ok(())
                } else {
                    Err(RecordFailure {
                        error_type: "MalformedMessage",
                        message: "bad".into(),
                    })
                }
            }
        })
        .await;
        assert_eq!(seen, ["ok", "bad", "ok"]);
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["b", "c"]);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]})
        );
        let empty: SqsEvent = serde_json::from_value(json!({"Records": []})).unwrap();
        let none = handle_batch(empty, |_| async { Ok(()) }).await;
        assert!(none.batch_item_failures.is_empty());
    }
}
