//! The AWS adapters on the local AWS emulator (moto server), on resources created
//! fresh for each env from template.yaml (`rampart_aws::provision`), for the
//! contract suite and for handler tests against the emulator.
//!
//! Needs `AWS_ENDPOINT_URL` (and test credentials) pointing at a running emulator:
//! `source <(infra/emulator/start)`, which the project's test script does. Without
//! it every test here fails loudly rather than passing without having run.

use rampart_aws::{AwsClients, DynamoTable, Provisioned, S3Objects, SqsQueue, Template};
use rampart_domain::Timestamp;
use rampart_ports::ManualClock;
use rampart_ports::contract::{ObjectsEnv, QueueEnv, TableEnv};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// A fixed, realistic start time, so TTL checks do not depend on the host clock.
const START: Timestamp = Timestamp::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z

/// The queue the queue contract runs on (its spec comes from the template).
const CONTRACT_QUEUE: &str = "jobs";

/// The emulator's URL; panics with what to do when it is not set.
pub fn endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests need the local AWS emulator. \
             Run them through the project's test script, or start it by hand with \
             `source <(infra/emulator/start)` and run the tests in that shell."
        ),
    }
}

/// Clients on the emulator: the SDK's standard chain with `AWS_ENDPOINT_URL`,
/// falling back to test credentials and us-east-1 when those are not set.
pub async fn clients() -> AwsClients {
    let endpoint = endpoint();
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(endpoint);
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "rampart-tests",
        ));
    }
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    AwsClients::new(&loader.load().await)
}

/// The repository's template, parsed once.
pub fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| Template::load_repo().expect("template.yaml parses"))
}

/// A prefix no other env of any test process uses: `rt-<pid>-<time>-<n>`.
pub fn unique_prefix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        % 1_000_000_000;
    format!(
        "rt-{}-{t}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Fresh table, bucket and queues from the template on the emulator.
pub async fn provision(clients: &AwsClients) -> Provisioned {
    rampart_aws::provision(clients, template(), &unique_prefix())
        .await
        .unwrap_or_else(|e| panic!("provisioning on the emulator at {}: {e:#}", endpoint()))
}

pub async fn table_env() -> TableEnv {
    let clients = clients().await;
    let p = provision(&clients).await;
    let clock = ManualClock::at(START);
    TableEnv {
        table: Arc::new(DynamoTable::new(
            clients.dynamodb.clone(),
            p.table.clone(),
            Arc::new(clock.clone()),
        )),
        clock,
        guard: Box::new(p),
    }
}

pub async fn queue_env() -> QueueEnv {
    let clients = clients().await;
    let p = provision(&clients).await;
    let q = p
        .queue(CONTRACT_QUEUE)
        .expect("template declares the jobs queue")
        .clone();
    QueueEnv {
        queue: Arc::new(SqsQueue::new(clients.sqs.clone(), q.url.clone())),
        dead_letters: Arc::new(SqsQueue::new(
            clients.sqs.clone(),
            q.dead_letter_url.clone(),
        )),
        spec: q.spec.clone(),
        guard: Box::new(p),
    }
}

pub async fn objects_env() -> ObjectsEnv {
    let clients = clients().await;
    let p = provision(&clients).await;
    // The bucket notification of the template: created backups go to backup-ingest
    // (which first receives S3's s3:TestEvent).
    rampart_aws::enable_bucket_notifications(&clients, template(), &p)
        .await
        .unwrap_or_else(|e| panic!("bucket notifications on the emulator: {e:#}"));
    let ingest = p
        .queue("backup-ingest")
        .expect("template declares the backup-ingest queue");
    ObjectsEnv {
        objects: Arc::new(S3Objects::new(clients.s3.clone(), p.bucket.clone())),
        // moto does not verify presigned signatures or expiry (a tampered or
        // expired URL still gets 200); S3 does. The embedded run covers refusal.
        enforces_presign: false,
        // moto does not verify x-amz-checksum-sha256 on a presigned PUT (a body
        // with another SHA-256 is stored); S3 does (400 BadDigest). The embedded
        // run covers that refusal.
        verifies_upload_checksum: false,
        created_events: Arc::new(SqsQueue::new(clients.sqs.clone(), ingest.url.clone())),
        guard: Box::new(p),
    }
}
