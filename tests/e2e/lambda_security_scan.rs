//! The security-scan function's handler on the emulator's table with real SQS
//! event payloads: a queued scan of an appliance seen from a dedicated loopback
//! address (allowed for that /32 only) finds the test's listeners, releases the
//! appliance's scan lock and is not run again on redelivery; a malformed message
//! is the only item failure of its batch. Only loopback addresses are connected to.

use aws_lambda_events::event::sqs::SqsEvent;
use rampart_app::records::appliance::{ApplianceEdits, ApplianceRecord, seen_from_attr};
use rampart_app::records::scan::{self, ScanRecord};
use rampart_domain::Timestamp;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, ScanId, Serial, TenantId};
use rampart_domain::portal_protocol::{ScanOutcome, ScanState};
use rampart_ports::{Item, SystemClock, Table};
use rampart_scanner::AllowList;
use rampart_tests::aws_env;
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use std::sync::Arc;

fn record(id: &str, body: &str) -> Value {
    let now = Timestamp::now_system().millis().to_string();
    json!({
        "messageId": id,
        "receiptHandle": format!("receipt-{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now,
            "SenderId": "AIDAJHIPRHEMV73VRJEBU",
            "ApproximateFirstReceiveTimestamp": now
        },
        "messageAttributes": {},
        "md5OfBody": "0123456789abcdef0123456789abcdef",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:scan",
        "awsRegion": "us-east-1"
    })
}

fn event(records: Vec<Value>) -> SqsEvent {
    serde_json::from_value(json!({ "Records": records })).expect("a real SQS event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_handler_scans_allowed_observed_addresses_once_and_fails_only_bad_messages() {
    rampart_tests::logs::init();
    let clients = aws_env::clients().await;
    let provisioned = aws_env::provision(&clients).await;
    let resources = provisioned.resources();
    let table: Arc<dyn Table> = resources.table(&clients, Arc::new(SystemClock));

    let mut r = [0u8; 2];
    getrandom::fill(&mut r).unwrap();
    let addr = Ipv4Addr::new(127, 76, r[0] % 254 + 1, r[1] % 254 + 1);
    let _open = tokio::net::TcpListener::bind((addr, 22)).await.unwrap();

    let tenant = TenantId::parse("654321.sms").unwrap();
    let appliance = ApplianceId::from_random([9; 16]);
    let now = Timestamp::now_system();
    let report = json!({
        "firmware": "14.2", "hostname": "fw", "model": "UTM",
        "cpu_percent": 1.0, "memory_percent": 2.0, "disk_percent": 3.0, "uptime_secs": 9,
        "interfaces": [{"name": "wan0", "addresses": [addr.to_string()], "public": true}],
        "authorizations": {"security_scan": true}
    });
    let item = ApplianceRecord {
        id: appliance.clone(),
        tenant: tenant.clone(),
        serial: Serial::parse("SCANL001").unwrap(),
        hostname: "fw".into(),
        model: "UTM".into(),
        firmware: FirmwareVersion::parse("14.2").unwrap(),
        enrolled_at: now,
        last_checkin: Some(now),
        poll_interval_secs: 60,
        pending_commands: 0,
        report: None,
        cluster: None,
        edits: ApplianceEdits::default(),
    }
    .enrollment_item(now)
    .with("report", report.to_string())
    .with(&seen_from_attr(addr.into()), now.millis());
    table.put(item, None).await.unwrap();
    let scan_id = ScanId::new(now.millis(), [1, 2, 3, 4]);
    let queued = ScanRecord {
        tenant: tenant.clone(),
        appliance: appliance.clone(),
        id: scan_id.clone(),
        profile: "TOP 100 (TCP)".into(),
        state: ScanState::Queued,
        requested_by: "admin@example.test".into(),
        requested_at: now,
        started_at: None,
        finished_at: None,
        results: Vec::new(),
        error: None,
    };
    table.put(Item::from(&queued), None).await.unwrap();
    table
        .put(
            Item::new(scan::lock_key(&tenant, &appliance))
                .with("scan", scan_id.as_str())
                .with("ttl", now.millis() / 1000 + 3600),
            None,
        )
        .await
        .unwrap();

    let state = security_scan::ScanState::on_resources(
        &resources,
        &clients,
        Arc::new(SystemClock),
        AllowList::parse(&format!("{addr}/32")).unwrap(),
    );
    let body = json!({"tenant": tenant, "appliance": appliance, "scan": scan_id}).to_string();
    let batch = event(vec![record("good", &body), record("bad", "{not json")]);
    let response = security_scan::handle_batch(&state, batch.clone()).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["bad"]);

    let stored = table.get(&queued.key()).await.unwrap().unwrap();
    let done = ScanRecord::try_from(&stored).unwrap();
    assert_eq!(done.state, ScanState::Finished);
    assert_eq!(done.results.len(), 1);
    assert_eq!(done.results[0].outcome, ScanOutcome::Scanned);
    assert_eq!(
        done.results[0]
            .open
            .iter()
            .map(|p| (p.port, p.service.as_str()))
            .collect::<Vec<_>>(),
        vec![(22, "ssh")]
    );
    assert_eq!(done.results[0].closed, 99);
    assert!(
        table
            .get(&scan::lock_key(&tenant, &appliance))
            .await
            .unwrap()
            .is_none(),
        "the lock is released"
    );

    // Redelivered: nothing runs again, nothing changes.
    let again = security_scan::handle_batch(&state, event(vec![record("good", &body)])).await;
    assert!(again.batch_item_failures.is_empty());
    let after = ScanRecord::try_from(&table.get(&queued.key()).await.unwrap().unwrap()).unwrap();
    assert_eq!(after, done);
}
