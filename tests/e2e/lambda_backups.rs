//! The backup-ingest and rotation Lambda handlers fed real SQS events, with the
//! table, bucket and queues on the local AWS emulator: S3's own created-object
//! notifications (and its `s3:TestEvent`) as moto put them on the backup-ingest
//! queue, and the rotation sweep's fan-out as the handler itself sent it to the
//! rotation queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bytes::Bytes;
use rampart_app::backups::rotation::RotationMessage;
use rampart_app::records::backup::{self, BackupRecord, MADE_BY_SCHEDULE, UploadGrant};
use rampart_app::records::comm_log;
use rampart_app::store_keys;
use rampart_aws::{Provisioned, ProvisionedQueue};
use rampart_domain::Timestamp;
use rampart_domain::backup::{BackupPoint, RotationPolicy, plan};
use rampart_domain::comm_log::{LogEntry, LogStatus};
use rampart_domain::ids::{ApplianceId, BackupId, Serial};
use rampart_envelope::{ChunkSize, KdfParams, Password, SealOptions};
use rampart_ports::object_events::parse_created_objects;
use rampart_ports::{
    Clock, Item, ManualClock, Objects, Query, Queue, ReceivedMessage, SortKey, Table,
};
use rampart_tests::aws_env;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::lambda_dispatch::{appliance, seed_appliance, tenant};

/// The backup password generation the grants ask for.
const GENERATION: u32 = 3;

/// An SQS event record as Lambda's event source mapping delivers a received message.
fn sqs_record(m: &ReceivedMessage, queue_arn: &str) -> Value {
    json!({
        "messageId": m.id,
        "receiptHandle": m.receipt,
        "body": m.body,
        "attributes": {
            "ApproximateReceiveCount": m.receive_count.to_string(),
            "SentTimestamp": Timestamp::now_system().millis().to_string(),
            "SenderId": "AIDAJHIPRHEMV73VRJEBU",
            "ApproximateFirstReceiveTimestamp": Timestamp::now_system().millis().to_string()
        },
        "messageAttributes": {},
        "md5OfBody": "0123456789abcdef0123456789abcdef",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1"
    })
}

fn sqs_event(messages: &[&ReceivedMessage], queue: &ProvisionedQueue) -> SqsEvent {
    let records: Vec<Value> = messages.iter().map(|m| sqs_record(m, &queue.arn)).collect();
    serde_json::from_value(json!({ "Records": records })).expect("a real SQS event")
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// Receives from `queue` until `count` messages arrived (or 20 s passed), then
/// waits one more second to catch any extra.
async fn receive_all(queue: &dyn Queue, count: usize) -> Vec<ReceivedMessage> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut received = Vec::new();
    while received.len() < count && tokio::time::Instant::now() < deadline {
        received.extend(
            queue
                .receive(10, Duration::from_secs(1), Duration::from_secs(360))
                .await
                .unwrap(),
        );
    }
    received.extend(
        queue
            .receive(10, Duration::from_secs(1), Duration::from_secs(360))
            .await
            .unwrap(),
    );
    received
}

/// A real envelope of `plaintext_len` bytes for the license `serial`, sealed with a
/// cheap KDF.
fn sealed_backup(serial: &Serial, plaintext_len: usize) -> Vec<u8> {
    let plaintext: Vec<u8> = (0..plaintext_len).map(|i| (i % 251) as u8).collect();
    let options = SealOptions {
        kdf: KdfParams::new(8192, 1, 1).unwrap(),
        chunk_size: ChunkSize::DEFAULT,
        password_generation: GENERATION,
    };
    let mut out = Vec::new();
    rampart_envelope::seal(
        &Password::from("Correct-Horse-Battery-9"),
        serial.as_str(),
        options,
        plaintext.len() as u64,
        &plaintext[..],
        &mut out,
    )
    .unwrap();
    out
}

/// The grant the device API writes when it hands out an upload URL.
async fn seed_grant(
    table: &dyn Table,
    now: Timestamp,
    appliance: &ApplianceId,
    serial: &Serial,
    random: [u8; 4],
    size: u64,
) -> UploadGrant {
    let grant = UploadGrant {
        tenant: tenant(),
        serial: serial.clone(),
        id: BackupId::new(now.millis(), random),
        appliance: appliance.clone(),
        size,
        // S3 checks the upload's checksum against it; the ingest does not read it.
        sha256: [0x5a; 32],
        password_generation: GENERATION,
        made_by: MADE_BY_SCHEDULE.into(),
        job: None,
        expires: now.plus(Duration::from_secs(3600)),
    };
    table.put(Item::from(&grant), None).await.unwrap();
    grant
}

/// The index entries of one license.
async fn backups_of(table: &dyn Table, serial: &Serial) -> Vec<BackupRecord> {
    table
        .query(
            Query::partition(store_keys::tenant_partition(&tenant()))
                .sk(SortKey::BeginsWith(backup::license_prefix(serial))),
        )
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| BackupRecord::try_from(i).unwrap())
        .collect()
}

async fn log_of(table: &dyn Table, a: &ApplianceId) -> Vec<LogEntry> {
    table
        .query(
            Query::partition(store_keys::tenant_partition(&tenant()))
                .sk(SortKey::BeginsWith(store_keys::log_prefix(a))),
        )
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| comm_log::from_item(i).unwrap())
        .collect()
}

struct Env {
    clients: rampart_aws::AwsClients,
    provisioned: Provisioned,
    clock: ManualClock,
    table: Arc<dyn Table>,
    objects: Arc<dyn Objects>,
}

async fn env() -> Env {
    rampart_tests::logs::init();
    let clients = aws_env::clients().await;
    let provisioned = aws_env::provision(&clients).await;
    let resources = provisioned.resources();
    let clock = ManualClock::at(Timestamp::now_system());
    let table = resources.table(&clients, Arc::new(clock.clone()));
    let objects = resources.objects(&clients);
    Env {
        clients,
        provisioned,
        clock,
        table,
        objects,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_handler_indexes_s3_notifications_once_and_fails_only_bad_messages() {
    let env = env().await;
    let (table, objects) = (&*env.table, &*env.objects);
    // The template's bucket notification: moto first sends s3:TestEvent.
    rampart_aws::enable_bucket_notifications(&env.clients, aws_env::template(), &env.provisioned)
        .await
        .unwrap();
    let now = env.clock.now();
    let a = seed_appliance(table, now, 21, None).await;
    let serial = appliance(table, &a).await.serial;

    // A good upload and one whose header is not an envelope, both of the granted size.
    let good_body = sealed_backup(&serial, 5000);
    let good = seed_grant(
        table,
        now,
        &a,
        &serial,
        [1, 1, 1, 1],
        good_body.len() as u64,
    )
    .await;
    let bad_body = vec![0x42; 600];
    let bad = seed_grant(table, now, &a, &serial, [2, 2, 2, 2], bad_body.len() as u64).await;
    let good_key = backup::object_key(&tenant(), &serial, &good.id);
    let bad_key = backup::object_key(&tenant(), &serial, &bad.id);
    objects
        .put(&good_key, Bytes::from(good_body.clone()))
        .await
        .unwrap();
    objects.put(&bad_key, Bytes::from(bad_body)).await.unwrap();

    // What moto put on the queue: the test event and one notification per object.
    let ingest_queue = env.provisioned.queue("backup-ingest").unwrap();
    let resources = env.provisioned.resources();
    let queue = resources.queue(&env.clients, "backup-ingest").unwrap();
    let mut received = receive_all(&*queue, 3).await;
    assert_eq!(
        received.len(),
        3,
        "test event + 2 notifications: {received:#?}"
    );
    let keys_of = |m: &ReceivedMessage| -> Vec<String> {
        parse_created_objects(&m.body)
            .unwrap_or_else(|e| panic!("{e}: {}", m.body))
            .into_iter()
            .map(|o| o.key)
            .collect()
    };
    let test_event = received
        .iter()
        .position(|m| keys_of(m).is_empty())
        .expect("moto's s3:TestEvent");
    assert!(received[test_event].body.contains("s3:TestEvent"));
    // A malformed message on the same queue, in the same batch.
    let truncated = "{\"Records\": [{\"eventSource\": \"aws:s3\", ";
    queue.send(truncated, Duration::ZERO).await.unwrap();
    received.extend(receive_all(&*queue, 1).await);
    assert_eq!(received.len(), 4);
    let find = |key: &str| {
        received
            .iter()
            .find(|m| keys_of(m) == [key.to_owned()])
            .unwrap_or_else(|| panic!("a notification of {key}"))
    };
    let (good_msg, bad_msg) = (find(&good_key), find(&bad_key));
    let malformed = received.iter().find(|m| m.body == truncated).unwrap();
    let batch = [&received[test_event], malformed, good_msg, bad_msg];
    let event = sqs_event(&batch, ingest_queue);

    let state = backup_ingest::IngestState::on_resources(
        &resources,
        &env.clients,
        Arc::new(env.clock.clone()),
    )
    .unwrap();
    let response = backup_ingest::handle_batch(&state, event.clone()).await;
    assert_eq!(
        failed_ids(&response),
        [malformed.id.as_str()],
        "only the malformed message fails; a refused upload is handled"
    );
    // What Lambda reads back.
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": malformed.id}]})
    );

    // The good backup is indexed, its license registered for the sweep.
    let indexed = backups_of(table, &serial).await;
    assert_eq!(indexed.len(), 1);
    let record = &indexed[0];
    assert_eq!(record.id, good.id);
    assert_eq!(record.appliance, a);
    assert_eq!(record.size, good_body.len() as u64);
    assert_eq!(record.password_generation, GENERATION);
    assert_eq!(record.made_by, MADE_BY_SCHEDULE);
    assert_eq!(record.accepted_at, now);
    assert!(
        table
            .get(&backup::registry_key(&tenant(), &serial))
            .await
            .unwrap()
            .is_some()
    );
    assert!(objects.head(&good_key).await.unwrap().is_some());
    // The refused one is deleted, its grant dropped and the refusal logged.
    assert!(objects.head(&bad_key).await.unwrap().is_none());
    assert!(
        table
            .get(&backup::grant_key(&tenant(), &bad.id))
            .await
            .unwrap()
            .is_none()
    );
    let log = log_of(table, &a).await;
    let accepted: Vec<_> = log
        .iter()
        .filter(|e| e.info.contains(good.id.as_str()))
        .collect();
    assert_eq!(accepted.len(), 1, "{log:#?}");
    assert_eq!(accepted[0].status, LogStatus::Ok);
    assert!(
        accepted[0].info.contains("accepted"),
        "{}",
        accepted[0].info
    );
    let refused: Vec<_> = log
        .iter()
        .filter(|e| e.info.contains(bad.id.as_str()))
        .collect();
    assert_eq!(refused.len(), 1, "{log:#?}");
    assert_eq!(refused[0].status, LogStatus::Error);
    assert!(
        refused[0].info.contains("refused (not_a_backup)"),
        "{}",
        refused[0].info
    );

    // The whole batch delivered again: nothing new indexed, deleted or logged.
    env.clock.advance(Duration::from_secs(60));
    let again = backup_ingest::handle_batch(&state, event).await;
    assert_eq!(failed_ids(&again), [malformed.id.as_str()]);
    assert_eq!(backups_of(table, &serial).await, indexed);
    assert!(objects.head(&good_key).await.unwrap().is_some());
    assert_eq!(log_of(table, &a).await.len(), log.len());

    // Nothing else arrived: the handler sends nothing to the queue it consumes.
    assert!(
        queue
            .receive(10, Duration::from_secs(1), Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A backup of `serial` accepted at `accepted`, indexed with its object in the
/// bucket, as the ingest leaves it.
async fn seed_backup(
    env: &Env,
    a: &ApplianceId,
    serial: &Serial,
    accepted: Timestamp,
    random: [u8; 4],
) -> BackupRecord {
    let record = BackupRecord {
        tenant: tenant(),
        serial: serial.clone(),
        id: BackupId::new(accepted.millis(), random),
        appliance: a.clone(),
        accepted_at: accepted,
        size: 64,
        password_generation: GENERATION,
        made_by: MADE_BY_SCHEDULE.into(),
        job: None,
    };
    env.table.put(Item::from(&record), None).await.unwrap();
    env.table
        .put(Item::new(backup::registry_key(&tenant(), serial)), None)
        .await
        .unwrap();
    env.objects
        .put(&record.object_key(), Bytes::from_static(&[0x5b; 64]))
        .await
        .unwrap();
    record
}

fn ids(records: &[BackupRecord]) -> BTreeSet<BackupId> {
    records.iter().map(|r| r.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_handler_fans_the_sweep_out_and_rotates_each_license() {
    let env = env().await;
    let table = &*env.table;
    let now = env.clock.now();
    let a = seed_appliance(table, now, 31, None).await;
    let b = seed_appliance(table, now, 32, None).await;
    let serial_a = appliance(table, &a).await.serial;
    let serial_b = appliance(table, &b).await.serial;

    // Ten backups of one license an hour apart on one day (one ISO week, one
    // month), two of another.
    let day = Timestamp::from_secs(1_768_392_000); // 2026-01-14T12:00:00Z, a Wednesday
    let mut of_a = Vec::new();
    for i in 0..10u8 {
        let at = day.minus(Duration::from_secs(3600 * u64::from(i)));
        of_a.push(seed_backup(&env, &a, &serial_a, at, [i, 0xa, 0xa, 0xa]).await);
    }
    let mut of_b = Vec::new();
    for i in 0..2u8 {
        let at = day.minus(Duration::from_secs(86_400 * u64::from(i)));
        of_b.push(seed_backup(&env, &b, &serial_b, at, [i, 0xb, 0xb, 0xb]).await);
    }
    // SPEC 6.4, as the domain plans it.
    let expect = |records: &[BackupRecord]| -> BTreeSet<BackupId> {
        let points: Vec<_> = records
            .iter()
            .map(|r| BackupPoint {
                id: r.id.clone(),
                accepted: r.accepted_at,
            })
            .collect();
        plan(&RotationPolicy::SPEC, &points)
            .into_iter()
            .filter(|d| d.is_kept())
            .map(|d| d.id)
            .collect()
    };
    let kept_a = expect(&of_a);
    let kept_b = expect(&of_b);
    assert!(
        kept_a.len() < of_a.len(),
        "the plan deletes some of the ten: {kept_a:?}"
    );
    assert_eq!(kept_b, ids(&of_b));

    let resources = env.provisioned.resources();
    let rotation_queue = env.provisioned.queue("rotation").unwrap();
    let queue = resources.queue(&env.clients, "rotation").unwrap();
    let state = rotation::RotationState::on_resources(
        &resources,
        &env.clients,
        Arc::new(env.clock.clone()),
    )
    .unwrap();

    // EventBridge's daily message (the rule's Input) and a message of no known kind.
    queue
        .send(
            rampart_app::schedules::ROTATION_SWEEP.message,
            Duration::ZERO,
        )
        .await
        .unwrap();
    queue
        .send(r#"{"kind":"explode"}"#, Duration::ZERO)
        .await
        .unwrap();
    let sweep = receive_all(&*queue, 2).await;
    assert_eq!(sweep.len(), 2);
    let unknown = sweep.iter().find(|m| m.body.contains("explode")).unwrap();
    let response = rotation::handle_batch(
        &state,
        sqs_event(&sweep.iter().collect::<Vec<_>>(), rotation_queue),
    )
    .await;
    assert_eq!(failed_ids(&response), [unknown.id.as_str()]);
    // The sweep deletes nothing itself.
    assert_eq!(ids(&backups_of(table, &serial_a).await), ids(&of_a));

    // It sent one rotate-license message per license, and no continuation.
    let fanned = receive_all(&*queue, 2).await;
    let mut licenses: Vec<RotationMessage> = fanned
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect();
    licenses.sort_by_key(|m| serde_json::to_string(m).unwrap());
    let mut want = vec![
        RotationMessage::RotateLicense {
            tenant: tenant(),
            serial: serial_a.clone(),
        },
        RotationMessage::RotateLicense {
            tenant: tenant(),
            serial: serial_b.clone(),
        },
    ];
    want.sort_by_key(|m| serde_json::to_string(m).unwrap());
    assert_eq!(licenses, want);

    let event = sqs_event(&fanned.iter().collect::<Vec<_>>(), rotation_queue);
    let response = rotation::handle_batch(&state, event.clone()).await;
    assert!(failed_ids(&response).is_empty(), "{response:?}");
    let left_a = backups_of(table, &serial_a).await;
    assert_eq!(ids(&left_a), kept_a, "license A rotated by SPEC 6.4");
    assert_eq!(ids(&backups_of(table, &serial_b).await), kept_b);
    for r in of_a.iter().chain(&of_b) {
        let present = env.objects.head(&r.object_key()).await.unwrap().is_some();
        let kept = kept_a.contains(&r.id) || kept_b.contains(&r.id);
        assert_eq!(present, kept, "object of {} (kept: {kept})", r.id);
    }

    // Delivered again: rotation converges, nothing more goes.
    let again = rotation::handle_batch(&state, event).await;
    assert!(failed_ids(&again).is_empty());
    assert_eq!(ids(&backups_of(table, &serial_a).await), kept_a);
    assert!(
        queue
            .receive(10, Duration::from_secs(1), Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "rotating a license sends nothing"
    );
}
