//! The queue port on SQS. Dead-lettering is the queue's own RedrivePolicy
//! (template.yaml), so this adapter never moves messages itself.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use rampart_ports::queue::{MAX_RECEIVE_BATCH, validate_send};
use rampart_ports::{Queue, ReceivedMessage, StoreError};
use std::time::Duration;

use crate::aws_error::{code_of, unavailable};

/// SQS waits at most 20 s in one receive (long polling).
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// SQS's longest visibility timeout.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: String) -> Self {
        Self {
            client,
            url: queue_url,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Whole seconds, rounding a fraction up (SQS counts in seconds; a shorter
/// timeout than asked would deliver a message twice early).
fn secs_ceil(d: Duration) -> i32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(s).unwrap_or(i32::MAX)
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<(), StoreError> {
        validate_send(body, delay)?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(secs_ceil(delay).min(900))
            .send()
            .await
            .map_err(|e| unavailable("SQS", "SendMessage", e))?;
        Ok(())
    }

    async fn receive(
        &self,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, StoreError> {
        if max == 0 || max > MAX_RECEIVE_BATCH {
            return Err(StoreError::Invalid(format!(
                "receive takes 1..={MAX_RECEIVE_BATCH} messages"
            )));
        }
        if visibility > MAX_VISIBILITY {
            return Err(StoreError::Invalid(
                "visibility timeout over 12 hours".into(),
            ));
        }
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max as i32)
            .wait_time_seconds(secs_ceil(wait.min(MAX_WAIT)))
            .visibility_timeout(secs_ceil(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| unavailable("SQS", "ReceiveMessage", e))?;
        let mut messages = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let (Some(id), Some(receipt)) = (m.message_id, m.receipt_handle) else {
                return Err(StoreError::Corrupt(
                    "SQS message without id or receipt".into(),
                ));
            };
            messages.push(ReceivedMessage {
                id,
                body: m.body.unwrap_or_default(),
                receipt,
                receive_count: count,
            });
        }
        Ok(messages)
    }

    async fn delete(&self, receipt: &str) -> Result<(), StoreError> {
        match self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("ReceiptHandleIsInvalid") => {
                Err(StoreError::Invalid("not a receipt of this queue".into()))
            }
            Err(e) => Err(unavailable("SQS", "DeleteMessage", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_of_seconds_round_up() {
        assert_eq!(secs_ceil(Duration::ZERO), 0);
        assert_eq!(secs_ceil(Duration::from_millis(1)), 1);
        assert_eq!(secs_ceil(Duration::from_secs(2)), 2);
        assert_eq!(secs_ceil(Duration::from_millis(2500)), 3);
    }
}
