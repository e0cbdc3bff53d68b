//! The dispatch Lambda handler fed real SQS events (records built from messages
//! really sent to and received from the jobs queue) with the DynamoDB table on
//! the local AWS emulator; and the same dispatcher as `rampart serve` runs it, as
//! the jobs queue's in-process consumer.

use aws_lambda_events::event::sqs::SqsEvent;
use base64::Engine;
use rampart::backend::StoreKind;
use rampart::serve::{self, ServeConfig};
use rampart_app::jobs::dispatch::{DispatchMessage, DispatchTarget};
use rampart_app::records::appliance::ApplianceRecord;
use rampart_app::records::command::CommandRecord;
use rampart_app::records::job::JobRecord;
use rampart_app::store_keys;
use rampart_domain::Timestamp;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, JobId, Serial, TenantId};
use rampart_domain::jobs::{Authorization, CommandState, JobTarget, Operation, Refusal};
use rampart_domain::report::CheckinReport;
use rampart_ports::{Clock, Item, ManualClock, Query, ReceivedMessage, SortKey, Table};
use rampart_tests::aws_env;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const TENANT: &str = "424242.sms";

pub(crate) fn tenant() -> TenantId {
    TenantId::parse(TENANT).unwrap()
}

/// A last check-in report with these authorizations.
pub(crate) fn report(authorizations: Value) -> CheckinReport {
    serde_json::from_value(json!({
        "firmware": "14.1.2", "previous_firmware": "14.0.9", "hostname": "fw", "model": "UTM",
        "cpu_percent": 1.0, "memory_percent": 2.0, "disk_percent": 3.0, "uptime_secs": 600,
        "applications": {"ips": "UP"}, "authorizations": authorizations
    }))
    .unwrap()
}

/// Writes an enrolled appliance of [`TENANT`], with its last report if given.
pub(crate) async fn seed_appliance(
    table: &dyn Table,
    now: Timestamp,
    seed: u8,
    report: Option<CheckinReport>,
) -> ApplianceId {
    let id = ApplianceId::from_random([seed; 16]);
    let record = ApplianceRecord {
        id: id.clone(),
        tenant: tenant(),
        serial: Serial::parse(&format!("D15PA{seed:03}")).unwrap(),
        hostname: format!("fw-{seed}"),
        model: "UTM 320".into(),
        firmware: FirmwareVersion::parse("14.1.2").unwrap(),
        enrolled_at: now,
        last_checkin: None,
        poll_interval_secs: 60,
        pending_commands: 0,
        report: None,
        cluster: None,
        edits: Default::default(),
    };
    let mut item = record.enrollment_item(now);
    if let Some(r) = report {
        item = item.with("report", serde_json::to_string(&r).unwrap());
    }
    table.put(item, None).await.unwrap();
    id
}

/// Writes a job of [`TENANT`] over these appliances and its open-job marker, as
/// the portal does when it creates one.
pub(crate) async fn seed_job(
    table: &dyn Table,
    now: Timestamp,
    operation: Operation,
    appliances: &[ApplianceId],
) -> JobRecord {
    let job = JobRecord {
        id: JobId::new(now.millis(), [1, 2, 3, 4]),
        tenant: tenant(),
        operation,
        target: JobTarget::List(appliances.to_vec()),
        appliances: appliances.to_vec(),
        created_at: now,
        created_by: "admin@example.test".into(),
        pickup_expected_by: None,
        finished_at: None,
    };
    table.put(Item::from(&job), None).await.unwrap();
    table
        .put(Item::new(store_keys::open_job(&job.tenant, &job.id)), None)
        .await
        .unwrap();
    job
}

pub(crate) async fn appliance(table: &dyn Table, id: &ApplianceId) -> ApplianceRecord {
    let item = table
        .get(&store_keys::appliance(&tenant(), id))
        .await
        .unwrap()
        .expect("the appliance item");
    ApplianceRecord::try_from(&item).unwrap()
}

pub(crate) async fn command(table: &dyn Table, job: &JobId, a: &ApplianceId) -> CommandRecord {
    let item = table
        .get(&store_keys::command(&tenant(), job, a))
        .await
        .unwrap()
        .expect("the command item");
    CommandRecord::try_from(&item).unwrap()
}

async fn command_count(table: &dyn Table, job: &JobId) -> usize {
    table
        .query(
            Query::partition(store_keys::tenant_partition(&tenant()))
                .sk(SortKey::BeginsWith(store_keys::command_prefix(job))),
        )
        .await
        .unwrap()
        .items
        .len()
}

/// An SQS event record as Lambda's event source mapping delivers a received message.
fn sqs_record(m: &ReceivedMessage, queue_arn: &str) -> Value {
    json!({
        "messageId": m.id,
        "receiptHandle": m.receipt,
        "body": m.body,
        "attributes": {
            "ApproximateReceiveCount": m.receive_count.to_string(),
            "SentTimestamp": Timestamp::now_system().millis().to_string(),
            "SenderId": "AROAEXAMPLE:portal-api",
            "ApproximateFirstReceiveTimestamp": Timestamp::now_system().millis().to_string()
        },
        "messageAttributes": {},
        "md5OfBody": "0123456789abcdef0123456789abcdef",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1"
    })
}

fn fake_sealed_pin() -> String {
    // The shape of a sealed PIN (55 bytes), not a real one: dispatch only stores it.
    base64::engine::general_purpose::STANDARD.encode([0x5e; 55])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_handler_fans_out_once_and_reports_only_bad_records() {
    rampart_tests::logs::init();
    let clients = aws_env::clients().await;
    let provisioned = aws_env::provision(&clients).await;
    let resources = provisioned.resources();
    let clock = ManualClock::at(Timestamp::now_system());
    let table = resources.table(&clients, Arc::new(clock.clone()));
    let now = clock.now();

    let allowed = seed_appliance(
        &*table,
        now,
        1,
        Some(report(
            json!({"status": true, "pin_protected_actions": true}),
        )),
    )
    .await;
    let forbidden = seed_appliance(
        &*table,
        now,
        2,
        Some(report(
            json!({"status": true, "pin_protected_actions": false}),
        )),
    )
    .await;
    let job = seed_job(
        &*table,
        now,
        Operation::Reboot,
        &[allowed.clone(), forbidden.clone()],
    )
    .await;

    // The portal's message, sent twice (a redelivery), a malformed one and one for a
    // job that does not exist, all through the real queue.
    let message = DispatchMessage {
        tenant: tenant(),
        job: job.id.clone(),
        targets: [&allowed, &forbidden]
            .into_iter()
            .map(|a| DispatchTarget {
                appliance: a.clone(),
                sealed_pin: Some(fake_sealed_pin()),
            })
            .collect(),
    };
    let unknown_job = DispatchMessage {
        job: JobId::new(now.millis(), [9, 9, 9, 9]),
        ..message.clone()
    };
    let queue = resources.queue(&clients, "jobs").unwrap();
    let bodies = [
        message.to_body(),
        message.to_body(),
        "{\"tenant\": \"424242.sms\", \"job\": ".to_owned(),
        unknown_job.to_body(),
    ];
    for body in &bodies {
        queue.send(body, Duration::ZERO).await.unwrap();
    }
    let mut received = Vec::new();
    while received.len() < bodies.len() {
        let batch = queue
            .receive(10, Duration::from_secs(1), Duration::from_secs(180))
            .await
            .unwrap();
        assert!(!batch.is_empty(), "all sent messages come back");
        received.extend(batch);
    }
    // In the order sent, so that the duplicate follows the original.
    received.sort_by_key(|m| bodies.iter().position(|b| *b == m.body));
    let arn = &provisioned.queue("jobs").unwrap().arn;
    let event = json!({"Records": received.iter().map(|m| sqs_record(m, arn)).collect::<Vec<_>>()});
    let event: SqsEvent = serde_json::from_value(event).expect("a real SQS event");

    let state = dispatch::DispatchState::on_table(&resources, &clients, Arc::new(clock.clone()));
    let response = dispatch::handle_batch(&state, event.clone()).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let expected: Vec<&str> = received
        .iter()
        .filter(|m| m.body == bodies[2] || m.body == bodies[3])
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(
        failed, expected,
        "only the malformed and the unknown job's records"
    );
    // The response is what Lambda reads: {"batchItemFailures":[{"itemIdentifier":..}]}.
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["batchItemFailures"][0]["itemIdentifier"], expected[0]);

    // One command per appliance, whatever the number of deliveries.
    assert_eq!(command_count(&*table, &job.id).await, 2);
    let queued = command(&*table, &job.id, &allowed).await;
    assert_eq!(queued.status.state, CommandState::Queued);
    assert!(!queued.refused_by_console);
    assert_eq!(queued.sealed_pin.as_deref(), Some(&[0x5e; 55][..]));
    assert_eq!(appliance(&*table, &allowed).await.pending_commands, 1);

    // Refused from the last report: finished at once, nothing pending, no PIN kept.
    let refused = command(&*table, &job.id, &forbidden).await;
    assert_eq!(refused.status.state, CommandState::Rejected);
    assert!(refused.refused_by_console);
    assert_eq!(
        refused.status.reason,
        Some(Refusal::NotAuthorized {
            authorization: Authorization::PinProtectedActions
        })
    );
    assert_eq!(refused.sealed_pin, None);
    assert_eq!(appliance(&*table, &forbidden).await.pending_commands, 0);

    // The whole batch again (Lambda retrying it): still one command each.
    let again = dispatch::handle_batch(&state, event).await;
    assert_eq!(again.batch_item_failures.len(), 2);
    assert_eq!(command_count(&*table, &job.id).await, 2);
    assert_eq!(appliance(&*table, &allowed).await.pending_commands, 1);
    assert_eq!(
        command(&*table, &job.id, &allowed).await.status.version,
        queued.status.version
    );

    // An empty batch is no failure.
    let empty: SqsEvent = serde_json::from_value(json!({"Records": []})).unwrap();
    assert!(
        dispatch::handle_batch(&state, empty)
            .await
            .batch_item_failures
            .is_empty()
    );
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
async fn within<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// `rampart serve` wires the same code: the jobs queue's consumer dispatches a job
/// moments after it is sent, and the maintenance timer times out what nobody
/// collected and finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_dispatches_at_once_and_sweeps_on_its_timer() {
    rampart_tests::logs::init();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(Timestamp::now_system());
    let server = serve::start(
        ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            store: StoreKind::Embedded,
            public_url: None,
            poll_interval: Duration::from_secs(60),
            maintenance_every: Duration::from_millis(100),
        },
        Arc::new(clock.clone()),
    )
    .await
    .expect("console starts");
    let table = server.table.clone();
    let now = clock.now();
    let a = seed_appliance(&*table, now, 7, None).await;
    let job = seed_job(&*table, now, Operation::Reboot, std::slice::from_ref(&a)).await;
    let message = DispatchMessage {
        tenant: tenant(),
        job: job.id.clone(),
        targets: vec![DispatchTarget {
            appliance: a.clone(),
            sealed_pin: Some(fake_sealed_pin()),
        }],
    };
    let sent = std::time::Instant::now();
    server
        .jobs_queue
        .send(&message.to_body(), Duration::ZERO)
        .await
        .unwrap();
    let key = store_keys::command(&tenant(), &job.id, &a);
    assert!(
        within(Duration::from_secs(5), || async {
            table.get(&key).await.unwrap().is_some()
        })
        .await,
        "the consumer dispatched the job"
    );
    let pickup = sent.elapsed();
    // The embedded queue wakes its long-polling consumer on an in-process send
    // (~20 ms here), well before its 500 ms re-check for sends by other processes.
    assert!(
        pickup < Duration::from_millis(400),
        "picked up after {pickup:?}"
    );
    assert_eq!(appliance(&*table, &a).await.pending_commands, 1);
    // Not due yet: sweeps leave it alone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        command(&*table, &job.id, &a).await.status.state,
        CommandState::Queued
    );

    clock.advance(rampart_domain::jobs::COLLECT_WINDOW + Duration::from_secs(1));
    assert!(
        within(Duration::from_secs(5), || async {
            command(&*table, &job.id, &a).await.status.state == CommandState::TimedOut
        })
        .await,
        "the maintenance timer timed the command out"
    );
    assert!(
        within(Duration::from_secs(5), || async {
            let item = table
                .get(&store_keys::job(&tenant(), &job.id))
                .await
                .unwrap()
                .unwrap();
            JobRecord::try_from(&item).unwrap().finished_at.is_some()
        })
        .await,
        "the job is finished"
    );
    assert_eq!(appliance(&*table, &a).await.pending_commands, 0);
    server.shutdown().await;
}
