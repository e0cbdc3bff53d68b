//! The maintenance Lambda handler fed real EventBridge scheduled events, with the
//! DynamoDB table on the local AWS emulator and a clock moved past a command's
//! collection deadline.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use rampart_app::jobs::dispatch::{DispatchMessage, DispatchTarget, Dispatcher};
use rampart_app::records::comm_log;
use rampart_app::records::job::JobRecord;
use rampart_app::store_keys;
use rampart_domain::Timestamp;
use rampart_domain::comm_log::{Direction, LogStatus};
use rampart_domain::jobs::{AppAction, COLLECT_WINDOW, CommandState, Operation};
use rampart_ports::{Clock, ManualClock};
use rampart_tests::aws_env;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use crate::lambda_dispatch::{appliance, command, report, seed_appliance, seed_job, tenant};

/// The event EventBridge sends for a `rate(1 minute)` rule.
fn scheduled_event(at: Timestamp) -> EventBridgeEvent {
    let time = chrono::DateTime::from_timestamp_millis(at.millis())
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    serde_json::from_value(json!({
        "version": "0",
        "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [
            "arn:aws:events:us-east-1:123456789012:rule/rampart-MaintenanceFunctionSweep-ABC123"
        ],
        "detail": {}
    }))
    .expect("a real scheduled event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_handler_times_out_uncollected_commands_and_finishes_jobs() {
    rampart_tests::logs::init();
    let clients = aws_env::clients().await;
    let provisioned = aws_env::provision(&clients).await;
    let resources = provisioned.resources();
    let clock = ManualClock::at(Timestamp::now_system());
    let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let table = resources.table(&clients, shared_clock.clone());
    let now = clock.now();

    let a = seed_appliance(&*table, now, 3, Some(report(json!({"status": true})))).await;
    let job = seed_job(
        &*table,
        now,
        Operation::Application {
            name: "ips".into(),
            action: AppAction::Restart,
        },
        std::slice::from_ref(&a),
    )
    .await;
    let message = DispatchMessage {
        tenant: tenant(),
        job: job.id.clone(),
        targets: vec![DispatchTarget {
            appliance: a.clone(),
            sealed_pin: None,
        }],
    };
    Dispatcher::new(table.clone(), shared_clock.clone())
        .handle(&message.to_body())
        .await
        .unwrap();
    let queued = command(&*table, &job.id, &a).await;
    assert_eq!(queued.status.state, CommandState::Queued);
    assert_eq!(appliance(&*table, &a).await.pending_commands, 1);

    let state = maintenance::MaintenanceState::on_table(&resources, &clients, shared_clock);

    // Before the deadline a sweep changes nothing.
    clock.advance(COLLECT_WINDOW - Duration::from_secs(1));
    let report = maintenance::handle_event(&state, scheduled_event(clock.now()))
        .await
        .unwrap();
    assert_eq!(
        without_history(serde_json::to_value(report).unwrap()),
        json!({"open_jobs": 1, "timed_out": 0, "jobs_finished": 0,
               "backups": {"due": 0, "jobs_created": 0, "offline": 0},
               "expired_removed": 0, "expired_kept_for_vpn": 0})
    );
    assert_eq!(
        command(&*table, &job.id, &a).await.status.state,
        CommandState::Queued
    );

    // Past it: timed out, no longer pending, logged, and the job is finished.
    clock.advance(Duration::from_secs(2));
    let swept_at = clock.now();
    let report = maintenance::handle_event(&state, scheduled_event(swept_at))
        .await
        .unwrap();
    assert_eq!(
        without_history(serde_json::to_value(report).unwrap()),
        json!({"open_jobs": 1, "timed_out": 1, "jobs_finished": 1,
               "backups": {"due": 0, "jobs_created": 0, "offline": 0},
               "expired_removed": 0, "expired_kept_for_vpn": 0}),
        "the function's JSON result"
    );
    let timed_out = command(&*table, &job.id, &a).await;
    assert_eq!(timed_out.status.state, CommandState::TimedOut);
    assert_eq!(timed_out.status.finished_at, Some(swept_at));
    assert_eq!(appliance(&*table, &a).await.pending_commands, 0);

    let log = table
        .query(comm_log::newest_first(&tenant(), &a, 10, None))
        .await
        .unwrap();
    let newest = comm_log::from_item(log.items.first().expect("a log entry")).unwrap();
    assert_eq!(newest.status, LogStatus::TimedOut);
    assert_eq!(newest.direction, Direction::ConsoleToAppliance);
    assert_eq!(newest.job.as_deref(), Some(job.id.as_str()));
    assert_eq!(newest.time, swept_at);
    assert!(newest.info.contains("not collected by"), "{}", newest.info);

    let job_item = table
        .get(&store_keys::job(&tenant(), &job.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        JobRecord::try_from(&job_item).unwrap().finished_at,
        Some(swept_at)
    );
    assert!(
        table
            .get(&store_keys::open_job(&tenant(), &job.id))
            .await
            .unwrap()
            .is_none(),
        "a finished job is no longer swept"
    );

    // The next scheduled run finds nothing to do.
    clock.advance(Duration::from_secs(60));
    let report = maintenance::handle_event(&state, scheduled_event(clock.now()))
        .await
        .unwrap();
    assert_eq!(report.open_jobs, 0);
    assert_eq!(
        appliance(&*table, &a).await.pending_commands,
        0,
        "a second sweep changes no count"
    );
}

/// The report without the hourly status-history compaction, whose `ran` depends
/// on where in the clock hour the test happens to start.
fn without_history(mut report: serde_json::Value) -> serde_json::Value {
    let history = report
        .as_object_mut()
        .and_then(|r| r.remove("status_history"))
        .expect("the report has status_history");
    assert_eq!(history["samples_moved"], 0, "{history}");
    report
}
