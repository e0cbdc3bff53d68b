//! The durable embedded queue, in the store's SQLite file: every send, receive and
//! delete is a committed write, so messages survive a crash or restart.
//!
//! Queue time is the real system clock, not the table's injected clock: delays and
//! visibility timeouts are real waits (long polls sleep on them), and the queue
//! contract suite runs unchanged against SQS, which only knows real time. The
//! table's clock exists to move TTL expiry in tests; nothing in a queue expires.

use async_trait::async_trait;
use rampart_domain::Timestamp;
use rampart_ports::queue::{MAX_RECEIVE_BATCH, validate_send};
use rampart_ports::{Queue, QueueSpec, ReceivedMessage, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use crate::queue_rows::{
    ReceiveParams, count_messages, delete_by_receipt, insert_message, receive_messages,
};
use crate::sqlite_store::SqliteStore;

/// SQS's longest long poll.
const MAX_WAIT: Duration = Duration::from_secs(20);
/// SQS's longest visibility timeout.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
/// A long poll re-checks at least this often, for sends from another process on
/// the same file (in-process sends wake it at once).
const POLL_INTERVAL: Duration = Duration::from_millis(500);

pub struct SqliteQueue {
    store: SqliteStore,
    spec: QueueSpec,
    dead_letter_name: String,
    signal: Arc<Notify>,
    dead_letter_signal: Arc<Notify>,
}

impl SqliteStore {
    /// The durable queue `spec.name`; its dead letters go to `<name>-dlq`, which
    /// is itself opened with `queue(QueueSpec { name: "<name>-dlq", .. })`.
    pub fn queue(&self, spec: QueueSpec) -> Arc<dyn Queue> {
        Arc::new(self.sqlite_queue(spec))
    }

    pub fn sqlite_queue(&self, spec: QueueSpec) -> SqliteQueue {
        let dead_letter_name = format!("{}-dlq", spec.name);
        SqliteQueue {
            store: self.clone(),
            signal: self.queue_signal(&spec.name),
            dead_letter_signal: self.queue_signal(&dead_letter_name),
            dead_letter_name,
            spec,
        }
    }
}

fn now_ms() -> i64 {
    Timestamp::now_system().millis()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SqliteQueue {
    pub fn spec(&self) -> &QueueSpec {
        &self.spec
    }

    /// Messages in the queue, visible or in flight.
    pub async fn len(&self) -> Result<u64, StoreError> {
        let name = self.spec.name.clone();
        self.store
            .inner
            .readers
            .read(move |conn| count_messages(conn, &name))
            .await
    }

    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<(), StoreError> {
        validate_send(body, delay)?;
        let queue = self.spec.name.clone();
        let body = body.to_owned();
        self.store
            .inner
            .writer
            .write(move |conn| {
                insert_message(conn, &queue, &body, now_ms().saturating_add(millis(delay)))
            })
            .await?;
        // Delayed or not, waiting receivers recompute when to look next.
        self.signal.notify_waiters();
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
        if wait > MAX_WAIT || visibility > MAX_VISIBILITY {
            return Err(StoreError::Invalid(
                "wait or visibility longer than SQS allows".into(),
            ));
        }
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a send between the look and the wait
            // still wakes this receiver.
            let notified = self.signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let queue = self.spec.name.clone();
            let dead_letters = self.dead_letter_name.clone();
            let max_receives = self.spec.max_receives;
            let outcome = self
                .store
                .inner
                .writer
                .write(move |conn| {
                    let params = ReceiveParams {
                        queue: &queue,
                        dead_letter_queue: &dead_letters,
                        max: max as usize,
                        max_receives,
                        visibility_ms: millis(visibility),
                        now_ms: now_ms(),
                    };
                    receive_messages(conn, &params)
                })
                .await?;
            if outcome.dead_lettered > 0 {
                self.dead_letter_signal.notify_waiters();
            }
            if !outcome.messages.is_empty() {
                return Ok(outcome.messages);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let mut nap = (deadline - now).min(POLL_INTERVAL);
            if let Some(at) = outcome.next_visible_at {
                let until = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                nap = nap.min(Duration::from_millis(until));
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), StoreError> {
        let queue = self.spec.name.clone();
        let receipt = receipt.to_owned();
        self.store
            .inner
            .writer
            .write(move |conn| delete_by_receipt(conn, &queue, &receipt))
            .await?;
        Ok(())
    }
}
