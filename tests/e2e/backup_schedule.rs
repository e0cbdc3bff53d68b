//! The regular backup (SPEC 6.3) and the rotation sweep (SPEC 6.4) on both adapter
//! sets, with the console's clock moved by hand: a due appliance gets one backup job,
//! an appliance offline at its time gets exactly one when it returns (not one per
//! missed day), the schedule follows the portal's changes; the daily sweep fans out
//! one message per license, and a sweep interrupted half-way and run again rotates
//! every license exactly as SPEC 6.4 says.

use rampart_app::backups::rotation::RotationMessage;
use rampart_app::backups::schedule::ScheduledBackups;
use rampart_app::jobs::dispatch::DispatchMessage;
use rampart_app::records::backup::{self, BackupRecord};
use rampart_app::store_keys;
use rampart_domain::Timestamp;
use rampart_domain::backup::{BackupPoint, RotationPolicy, plan};
use rampart_domain::ids::{ApplianceId, BackupId, Serial, TenantId};
use rampart_domain::jobs::Operation;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_ports::{Clock, Item, Query, Queue, ReturnItem, SortKey, Table, Update};
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const TENANT: &str = "100001.sms";
const ADMIN: &str = "admin@example.test";
const DAY: Duration = Duration::from_secs(24 * 3600);

fn tenant() -> TenantId {
    TenantId::parse(TENANT).unwrap()
}

/// Every message on `queue` (deleted as read).
async fn drain(queue: &dyn Queue) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let batch = queue
            .receive(10, Duration::from_millis(300), Duration::from_secs(30))
            .await
            .unwrap();
        if batch.is_empty() {
            return out;
        }
        for m in batch {
            queue.delete(&m.receipt).await.unwrap();
            out.push(m.body);
        }
    }
}

/// Every message on the jobs queue, as dispatch messages.
async fn drain_jobs(app: &PortalApp) -> Vec<DispatchMessage> {
    drain(&*app.queues.jobs)
        .await
        .iter()
        .map(|body| DispatchMessage::parse(body).unwrap())
        .collect()
}

async fn mark_checked_in(app: &PortalApp, id: &ApplianceId) {
    app.counting
        .update(
            &store_keys::appliance(&tenant(), id),
            Update::new().set("last_checkin", app.clock.now().millis()),
            None,
            ReturnItem::None,
        )
        .await
        .unwrap();
}

async fn due_entries(app: &PortalApp) -> Vec<String> {
    app.counting
        .query(Query::partition(backup::DUE_PARTITION).sk(SortKey::All))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.key.sk)
        .collect()
}

async fn regular_backup(backend: Backend) {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, ADMIN, Role::Administrator).await;
    let (token, totp) = app.sign_in(ADMIN, None).await;
    let id = app.appliance(TENANT, "SCHED001", "fw-sched", None).await;
    let scheduled = ScheduledBackups::new(
        app.counting.clone(),
        Arc::new(app.clock.clone()),
        app.queues.jobs.clone(),
    );
    let path = format!("/v1/tenants/{TENANT}/appliances/{id}/backup-schedule");

    // Putting the default schedule (daily 07:00) creates the appliance's due entry.
    let a = app
        .call(
            "PUT",
            &path,
            Some(&token),
            Some(json!({"enabled": true, "hour": 7, "minute": 0})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let next = a.body["next_run"].as_str().expect("a next run").to_owned();
    assert!(next.contains("T07:00:00"), "{next}");
    assert_eq!(due_entries(&app).await.len(), 1);
    let bad = app
        .call(
            "PUT",
            &path,
            Some(&token),
            Some(json!({"enabled": true, "hour": 24, "minute": 0})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    // Not due yet: nothing happens.
    assert_eq!(scheduled.run_due().await.unwrap().due, 0);

    // Three days pass while the appliance is offline: no job, the entry stays due.
    app.clock.advance(3 * DAY);
    for _ in 0..3 {
        let r = scheduled.run_due().await.unwrap();
        assert_eq!((r.jobs_created, r.offline), (0, 1), "{r:?}");
        app.clock.advance(Duration::from_secs(20 * 60));
    }
    assert!(drain_jobs(&app).await.is_empty());

    // It returns: exactly one backup job, then the entry moves to the next 07:00.
    mark_checked_in(&app, &id).await;
    let r = scheduled.run_due().await.unwrap();
    assert_eq!(r.jobs_created, 1, "{r:?}");
    assert_eq!(
        scheduled.run_due().await.unwrap().due,
        0,
        "one, not one per day"
    );
    let jobs = drain_jobs(&app).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].targets[0].appliance, id);
    let job = app
        .counting
        .get(&store_keys::job(&tenant(), &jobs[0].job))
        .await
        .unwrap()
        .unwrap();
    let job = rampart_app::records::job::JobRecord::try_from(&job).unwrap();
    assert_eq!(job.operation, Operation::Backup);
    assert_eq!(job.created_by, "schedule");
    let entries = due_entries(&app).await;
    assert_eq!(entries.len(), 1);
    let (due, _, _) = backup::parse_due_sort(&entries[0]).unwrap();
    assert!(due > app.clock.now() && due <= app.clock.now().plus(DAY));

    // Switched off: the entry goes and nothing is due ever again. (Days passed:
    // sign in again.)
    let (token, _) = app.sign_in(ADMIN, Some(&totp)).await;
    let a = app
        .call(
            "PUT",
            &path,
            Some(&token),
            Some(json!({"enabled": false, "hour": 7, "minute": 0})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["next_run"].is_null(), "{}", a.body);
    assert!(due_entries(&app).await.is_empty());
    let a = app.call("GET", &path, Some(&token), None).await;
    assert_eq!(a.body["schedule"]["enabled"], false, "{}", a.body);
    app.clock.advance(2 * DAY);
    mark_checked_in(&app, &id).await;
    assert_eq!(scheduled.run_due().await.unwrap().due, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_regular_backup_runs_once_on_return_embedded() {
    regular_backup(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_regular_backup_runs_once_on_return_aws() {
    regular_backup(Backend::Aws).await;
}

// ---- the rotation sweep --------------------------------------------------------------

const LICENSES: usize = 4;
const PER_LICENSE: usize = 30;

/// Indexes `PER_LICENSE` backups (a day apart, some the same day) for each license,
/// each with a stored object.
async fn seed_backups(app: &PortalApp) -> Vec<(Serial, Vec<BackupRecord>)> {
    let start = Timestamp::from_secs(1_767_225_600); // 2026-01-01
    let mut all = Vec::new();
    for l in 0..LICENSES {
        let serial = Serial::parse(&format!("ROT{l:05}")).unwrap();
        let mut records = Vec::new();
        for b in 0..PER_LICENSE {
            let at = start.plus(Duration::from_secs(b as u64 * 20 * 3600));
            let record = BackupRecord {
                tenant: tenant(),
                serial: serial.clone(),
                id: BackupId::new(at.millis(), [l as u8, b as u8, 0, 1]),
                appliance: ApplianceId::from_random([l as u8 + 1; 16]),
                accepted_at: at,
                size: 5,
                password_generation: 1,
                made_by: "schedule".into(),
                job: None,
            };
            app.counting.put(Item::from(&record), None).await.unwrap();
            app.objects
                .put(&record.object_key(), bytes::Bytes::from_static(b"bytes"))
                .await
                .unwrap();
            records.push(record);
        }
        app.counting
            .put(Item::new(backup::registry_key(&tenant(), &serial)), None)
            .await
            .unwrap();
        all.push((serial, records));
    }
    all
}

async fn sweep_interrupted_and_run_again(backend: Backend) {
    let app = spawn_portal(backend).await;
    let seeded = seed_backups(&app).await;
    let sweep = serde_json::to_string(&RotationMessage::RotationSweep { after: None }).unwrap();

    // The sweep fans out one message per license.
    app.backups.rotation_message(&sweep).await.unwrap();
    let fanned = drain(&*app.queues.rotation).await;
    assert_eq!(fanned.len(), LICENSES, "{fanned:?}");
    // Interrupted: only the first half of the licenses is rotated...
    for body in &fanned[..LICENSES / 2] {
        app.backups.rotation_message(body).await.unwrap();
    }
    // ... then the whole sweep runs again from the start, every message twice.
    app.backups.rotation_message(&sweep).await.unwrap();
    for body in drain(&*app.queues.rotation).await {
        app.backups.rotation_message(&body).await.unwrap();
        app.backups.rotation_message(&body).await.unwrap();
    }

    for (serial, records) in seeded {
        let points: Vec<BackupPoint<BackupId>> = records
            .iter()
            .map(|r| BackupPoint {
                id: r.id.clone(),
                accepted: r.accepted_at,
            })
            .collect();
        let expected: BTreeSet<BackupId> = plan(&RotationPolicy::SPEC, &points)
            .into_iter()
            .filter(|d| d.is_kept())
            .map(|d| d.id)
            .collect();
        let stored: BTreeSet<BackupId> = app
            .counting
            .query(
                Query::partition(store_keys::tenant_partition(&tenant()))
                    .sk(SortKey::BeginsWith(backup::license_prefix(&serial))),
            )
            .await
            .unwrap()
            .items
            .iter()
            .map(|i| BackupRecord::try_from(i).unwrap().id)
            .collect();
        assert_eq!(stored, expected, "{serial}");
        assert!(expected.len() < PER_LICENSE && expected.len() <= 23);
        for r in &records {
            let present = app.objects.head(&r.object_key()).await.unwrap().is_some();
            assert_eq!(present, expected.contains(&r.id), "object of {}", r.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_sweep_interrupted_and_run_again_embedded() {
    sweep_interrupted_and_run_again(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_sweep_interrupted_and_run_again_aws() {
    sweep_interrupted_and_run_again(Backend::Aws).await;
}
