//! The queue port: at-least-once delivery with a visibility timeout, delays, and
//! dead-lettering after a number of receives (SQS on AWS; a durable SQLite queue
//! when embedded). Consumers must be idempotent.

use async_trait::async_trait;
use std::time::Duration;

use crate::StoreError;

/// Largest message body (SQS's limit is 256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Longest delay a message may be sent with (SQS's limit).
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// Most messages one receive returns (SQS's limit).
pub const MAX_RECEIVE_BATCH: u32 = 10;

/// How a queue behaves. On AWS these values live in template.yaml; the embedded
/// runtime uses the same constants, and a test checks the two agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    /// Logical name; the dead-letter queue is `<name>-dlq`.
    pub name: String,
    pub visibility_timeout: Duration,
    /// After this many receives without a delete, the next receive moves the
    /// message to the dead-letter queue instead of delivering it.
    pub max_receives: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub id: String,
    pub body: String,
    /// Handle for delete; valid until the visibility timeout ends.
    pub receipt: String,
    /// 1 on first delivery.
    pub receive_count: u32,
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    async fn send(&self, body: &str, delay: Duration) -> Result<(), StoreError>;
    /// Up to `max` messages (1..=10); waits up to `wait` for the first one. Each
    /// received message is invisible to other receivers for `visibility`.
    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, StoreError>;
    /// Acknowledges a message; deleting one already deleted is not an error.
    async fn delete(&self, receipt: &str) -> Result<(), StoreError>;
}

pub fn validate_send(body: &str, delay: Duration) -> Result<(), StoreError> {
    if body.is_empty() || body.len() > MAX_MESSAGE_BYTES {
        return Err(StoreError::Invalid(format!(
            "message body must be 1..={MAX_MESSAGE_BYTES} bytes"
        )));
    }
    if delay > MAX_DELAY {
        return Err(StoreError::Invalid("delay longer than 15 minutes".into()));
    }
    Ok(())
}
