//! The adapter contract suite: the observable behaviour every adapter of a port
//! must have. The same checks run, unchanged, against the embedded adapters and
//! against the AWS adapters pointed at the local AWS emulator; the
//! [`contract_tests!`](crate::contract_tests) macro turns them into tests.

mod objects;
mod queue;
mod table;

pub use objects::*;
pub use queue::*;
pub use table::*;

use std::sync::Arc;

use crate::{ManualClock, Objects, Queue, QueueSpec, Table};

/// A fresh table whose adapter reads "now" from `clock`.
pub struct TableEnv {
    pub table: Arc<dyn Table>,
    pub clock: ManualClock,
    /// Keeps whatever backs the table (a temp dir, ...) alive for the test.
    pub guard: Box<dyn std::any::Any + Send + Sync>,
}

/// A fresh queue and its dead-letter queue.
pub struct QueueEnv {
    pub queue: Arc<dyn Queue>,
    pub dead_letters: Arc<dyn Queue>,
    pub spec: QueueSpec,
    pub guard: Box<dyn std::any::Any + Send + Sync>,
}

/// Where the object stores of the contract envs announce created objects: the
/// prefix of template.yaml's bucket notification (`backups/` → `backup-ingest`).
pub const CREATED_EVENTS_PREFIX: &str = "backups/";

/// A fresh object store whose presigned URLs are reachable over HTTP.
pub struct ObjectsEnv {
    pub objects: Arc<dyn Objects>,
    /// Whether the backend checks presigned signatures and expiry. S3 does; the
    /// local AWS emulator (moto) does not, so the refusal checks are skipped there
    /// and run against the embedded adapter, whose server enforces them.
    pub enforces_presign: bool,
    /// Whether the backend checks an upload's body against the SHA-256 its
    /// presigned URL carries. S3 does; moto does not (it stores the body and the
    /// claimed checksum unchecked), so that refusal runs on the embedded adapter.
    pub verifies_upload_checksum: bool,
    /// The queue the store sends an S3 `ObjectCreated` notification to for every
    /// object written under [`CREATED_EVENTS_PREFIX`] (S3 → SQS on AWS,
    /// `FsObjects::notify_created` embedded). It may also hold S3's `s3:TestEvent`.
    pub created_events: Arc<dyn Queue>,
    pub guard: Box<dyn std::any::Any + Send + Sync>,
}

/// Generates one `#[tokio::test]` per contract check. Each builder is an async
/// function returning a fresh env.
#[macro_export]
macro_rules! contract_tests {
    (table: $table_env:path, queue: $queue_env:path, objects: $objects_env:path $(,)?) => {
        $crate::contract_tests!(@each $table_env;
            table_put_get_preserves_every_value_type,
            table_conditional_put_refuses_existing_item,
            table_conditional_update_that_fails_writes_nothing,
            table_optimistic_versioning_lets_one_writer_win,
            table_racing_transactions_let_one_win,
            table_failed_transactions_keep_concurrent_writes,
            table_update_semantics,
            table_conditional_delete,
            table_query_prefix_and_range_paginates,
            table_query_secondary_index_paginates,
            table_transaction_fails_whole,
            table_ttl_hides_expired_items,
            table_refuses_invalid_requests,
        );
        $crate::contract_tests!(@each $queue_env;
            queue_send_receive_delete,
            queue_redelivers_after_visibility_timeout,
            queue_delays_messages,
            queue_dead_letters_after_max_receives,
            queue_refuses_invalid_messages,
        );
        $crate::contract_tests!(@each $objects_env;
            objects_put_get_head_list_delete,
            objects_presigned_round_trip_over_http,
            objects_refuse_expired_or_tampered_presigned_urls,
            objects_presigned_upload_is_bound_to_its_checksum,
            objects_read_prefix_reads_only_the_first_bytes,
            objects_created_under_backups_are_announced,
        );
    };
    (@each $env:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let env = $env().await;
                $crate::contract::$check(&env).await;
            }
        )*
    };
}

/// A key prefix unique to one check, so checks may share a backing store.
pub(crate) fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{prefix}-{t:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}
