//! Cloud backup end to end on both adapter sets (SPEC 6): a real agent makes a
//! backup for a portal job, encrypts it with its password and uploads it straight
//! to storage through the presigned URL; the object-created event (S3's
//! notification on the emulator, the embedded store's own self-hosted) brings it
//! to the ingest, which checks the envelope's header, indexes and rotates; the
//! portal lists and hands out the still-encrypted file; a PIN-protected restore
//! job brings it back to the appliance as `backup-YYYY-DD-MM_HH:ii:ss`; a new
//! password from the portal travels sealed and the next backup records its
//! generation.

use chrono::{Duration as ChronoDuration, Utc};
use rampart::runtime::{DispatchHandler, IngestHandler, RotationHandler, spawn_consumer};
use rampart_agent::AgentOptions;
use rampart_agent::fleet::{FleetLicense, spawn_fleet_with};
use rampart_agent::options::{BackupSettings, KdfParams};
use rampart_app::jobs::dispatch::Dispatcher;
use rampart_domain::backup::BackupPassword;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_identity::pin::Pin;
use rampart_ports::{Clock, Table};
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::spawn_portal_polling;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::fleet_jobs::wait_finished;

const TENANT: &str = "100001.sms";
const SERIAL: &str = "BACKUP01";
const PASSWORD: &str = "Backup-Pass-2026";
const NEW_PASSWORD: &str = "Second!Password9";

/// Every file under `dir` whose name starts with `backup-` (restored configurations).
fn restored_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().starts_with("backup-") {
                out.push(path);
            }
        }
    }
    out
}

async fn backup_list_and_restore(backend: Backend) {
    let app = spawn_portal_polling(backend, Duration::from_secs(1)).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, "ops@example.test", Role::Administrator)
        .await;
    let (token, _) = app.sign_in("ops@example.test", None).await;
    let clock: Arc<dyn Clock> = Arc::new(app.clock.clone());
    let consumers = [
        spawn_consumer(
            rampart_app::queues::spec("jobs").unwrap(),
            app.queues.jobs.clone(),
            Arc::new(DispatchHandler(Dispatcher::new(
                app.counting.clone(),
                clock.clone(),
            ))),
        ),
        spawn_consumer(
            rampart_app::queues::spec("backup-ingest").unwrap(),
            app.queues.backup_ingest.clone(),
            Arc::new(IngestHandler(app.backups.clone())),
        ),
        spawn_consumer(
            rampart_app::queues::spec("rotation").unwrap(),
            app.queues.rotation.clone(),
            Arc::new(RotationHandler(app.backups.clone())),
        ),
    ];
    let serial = Serial::parse(SERIAL).unwrap();
    let (_, secret) = app
        .admin
        .add_license(NewLicense {
            serial: serial.clone(),
            tenant: TenantId::parse(TENANT).unwrap(),
            product: "UTM".into(),
            expires: (Utc::now() + ChronoDuration::days(365)).date_naive(),
            cluster: None,
        })
        .await
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let options = AgentOptions {
        pin: Some(Pin::parse("135790").unwrap()),
        backup_password: Some(BackupPassword::parse(PASSWORD.into()).unwrap()),
        backup: BackupSettings {
            config_size: 300 * 1024,
            // The smallest Argon2id memory the format allows keeps the test quick;
            // the default (64 MiB) is measured in the envelope's benchmark.
            kdf: KdfParams::new(8 * 1024, 1, 1).unwrap(),
        },
        ..AgentOptions::default()
    };
    let agents = spawn_fleet_with(
        &app.base_url,
        vec![FleetLicense {
            serial: serial.clone(),
            secret,
        }],
        state.path(),
        FirmwareVersion::parse("14.2").unwrap(),
        &options,
    )
    .unwrap();
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let app = &app;
        let token = token.clone();
        async move { app.call(method, &path, Some(&token), body).await }
    };
    let mut id = String::new();
    for _ in 0..100 {
        let a = call("GET", format!("/v1/tenants/{TENANT}/appliances"), None).await;
        if let Some(first) = a.body["items"].as_array().and_then(|i| i.first())
            && first["status"] == "Connected"
        {
            id = first["id"].as_str().unwrap().to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!id.is_empty(), "the appliance enrolled and checked in");
    let backups_path = format!("/v1/tenants/{TENANT}/licenses/{SERIAL}/backups");
    let list = |path: String| {
        let call = &call;
        async move {
            let a = call("GET", path, None).await;
            assert_eq!(a.status, 200, "{}", a.body);
            a.body["items"].as_array().unwrap().clone()
        }
    };
    let wait_for_backups = |n: usize| {
        let list = &list;
        let path = backups_path.clone();
        async move {
            for _ in 0..900 {
                let items = list(path.clone()).await;
                if items.len() >= n {
                    return items;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            panic!("fewer than {n} backups were indexed");
        }
    };

    // A backup for a job: the agent encrypts, uploads; the ingest indexes it.
    let a = call(
        "POST",
        format!("/v1/tenants/{TENANT}/jobs"),
        Some(json!({"target": {"appliance": id}, "operation": {"type": "backup"}})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let job = a.body["id"].as_str().unwrap().to_owned();
    let done = wait_finished(&app, &token, &job, || ()).await;
    assert_eq!(done["counts"]["succeeded"], 1, "{done}");
    let items = wait_for_backups(1).await;
    let first = &items[0];
    assert_eq!(first["made_by"], "ops@example.test", "{first}");
    assert_eq!(first["password_generation"], 1, "{first}");
    assert_eq!(first["job"], job.as_str());
    let backup = first["id"].as_str().unwrap().to_owned();

    // The download is the still-encrypted file: it opens with exactly this
    // license's serial and the password, and with nothing else.
    let a = call("POST", format!("{backups_path}/{backup}/download"), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let bytes = reqwest::get(a.body["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.len() as u64, a.body["size"].as_u64().unwrap());
    let password = rampart_envelope::Password::from(PASSWORD);
    let mut plain = Vec::new();
    rampart_envelope::open(&password, SERIAL, &bytes[..], &mut plain).expect("opens");
    assert_eq!(plain.len(), 300 * 1024);
    assert!(
        rampart_envelope::open(&password, "OTHER001", &bytes[..], &mut Vec::new()).is_err(),
        "bound to the serial"
    );
    assert!(
        !String::from_utf8_lossy(&bytes).contains("hostname"),
        "encrypted"
    );

    // Another tenant's path finds nothing.
    let a = call(
        "GET",
        format!("/v1/tenants/100002.sms/licenses/{SERIAL}/backups"),
        None,
    )
    .await;
    assert_eq!(a.status, 404, "{}", a.body);

    // Restore is PIN-protected: the file appears under the original backup's time.
    let a = call(
        "POST",
        format!("/v1/tenants/{TENANT}/jobs"),
        Some(json!({"target": {"appliance": id},
                    "operation": {"type": "restore_backup", "backup": backup}})),
    )
    .await;
    assert_eq!(a.status, 422, "a restore without the PIN: {}", a.body);
    let a = call(
        "POST",
        format!("/v1/tenants/{TENANT}/jobs"),
        Some(json!({"target": {"appliance": id},
                    "operation": {"type": "restore_backup", "backup": backup},
                    "pin": "135790"})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let restore = a.body["id"].as_str().unwrap().to_owned();
    let done = wait_finished(&app, &token, &restore, || ()).await;
    assert_eq!(done["counts"]["succeeded"], 1, "{done}");
    let accepted = chrono::DateTime::parse_from_rfc3339(first["accepted_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let expected_name = accepted.format("backup-%Y-%d-%m_%H:%M:%S").to_string();
    let restored = restored_files(state.path());
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert_eq!(
        restored[0].file_name().unwrap().to_string_lossy(),
        expected_name
    );
    assert_eq!(std::fs::read(&restored[0]).unwrap(), plain);

    // A new password from the portal is refused by the policy, or sealed and set;
    // the next backup is of generation 2.
    let a = call(
        "POST",
        format!("/v1/tenants/{TENANT}/jobs"),
        Some(json!({"target": {"appliance": id},
                    "operation": {"type": "set_backup_password"},
                    "backup_password": "Sh0rt!"})),
    )
    .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "password_too_short");
    assert!(!a.body.to_string().contains("Sh0rt!"), "never echoed");
    let a = call(
        "POST",
        format!("/v1/tenants/{TENANT}/jobs"),
        Some(json!({"target": {"appliance": id},
                    "operation": {"type": "set_backup_password"},
                    "backup_password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["operation"]["generation"], 1 + 1, "{}", a.body);
    let set = a.body["id"].as_str().unwrap().to_owned();
    let done = wait_finished(&app, &token, &set, || ()).await;
    assert_eq!(done["counts"]["succeeded"], 1, "{done}");
    // The console's clock is moved by hand: a later backup is accepted later.
    app.clock.advance(Duration::from_secs(2));
    let a = call(
        "POST",
        format!("/v1/tenants/{TENANT}/jobs"),
        Some(json!({"target": {"appliance": id}, "operation": {"type": "backup"}})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let second = a.body["id"].as_str().unwrap().to_owned();
    wait_finished(&app, &token, &second, || ()).await;
    let items = wait_for_backups(2).await;
    assert_eq!(
        items[0]["password_generation"], 2,
        "newest first: {items:?}"
    );
    assert_eq!(items[1]["id"], backup.as_str());

    // The communication log records both accepted uploads, chained.
    let a = call(
        "GET",
        format!("/v1/tenants/{TENANT}/appliances/{id}/log?order=oldest&limit=200"),
        None,
    )
    .await;
    let entries: Vec<rampart_domain::comm_log::LogEntry> =
        serde_json::from_value(a.body["items"].clone()).unwrap();
    rampart_domain::comm_log::verify_chain(&entries).expect("intact chain");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.info.contains("accepted"))
            .count(),
        2
    );
    // No password in any stored log entry.
    assert!(
        entries
            .iter()
            .all(|e| !e.info.contains(PASSWORD) && !e.info.contains(NEW_PASSWORD))
    );

    // An upload that is not a backup (granted, right size, but garbage) is refused
    // by the ingest: deleted, logged, and the good backups stay.
    let tenant = TenantId::parse(TENANT).unwrap();
    let bogus = rampart_domain::ids::BackupId::new(app.clock.now().millis(), [9, 9, 9, 9]);
    let garbage = bytes::Bytes::from(vec![0x42u8; 4096]);
    let grant = rampart_app::records::backup::UploadGrant {
        tenant: tenant.clone(),
        serial: serial.clone(),
        id: bogus.clone(),
        appliance: rampart_domain::ids::ApplianceId::parse(&id).unwrap(),
        size: garbage.len() as u64,
        sha256: [0; 32],
        password_generation: 2,
        made_by: "appliance".into(),
        job: None,
        expires: app.clock.now().plus(Duration::from_secs(3600)),
    };
    app.counting
        .put(rampart_ports::Item::from(&grant), None)
        .await
        .unwrap();
    let bogus_key = rampart_app::records::backup::object_key(&tenant, &serial, &bogus);
    app.objects.put(&bogus_key, garbage).await.unwrap();
    let mut refused = false;
    for _ in 0..900 {
        if app.objects.head(&bogus_key).await.unwrap().is_none() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(refused, "the bogus upload was deleted");
    assert_eq!(
        list(backups_path.clone()).await.len(),
        2,
        "the good ones stay"
    );
    let a = call(
        "GET",
        format!("/v1/tenants/{TENANT}/appliances/{id}/log?limit=5"),
        None,
    )
    .await;
    let newest: Vec<rampart_domain::comm_log::LogEntry> =
        serde_json::from_value(a.body["items"].clone()).unwrap();
    assert!(
        newest
            .iter()
            .any(|e| e.status == rampart_domain::comm_log::LogStatus::Error
                && e.info
                    .contains(&format!("backup {bogus} refused (not_a_backup)"))),
        "{newest:?}"
    );

    // Delete one: it is gone from the list and from storage.
    let a = call("DELETE", format!("{backups_path}/{backup}"), None).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let items = list(backups_path.clone()).await;
    assert_eq!(items.len(), 1);
    let key = rampart_app::records::backup::object_key(
        &TenantId::parse(TENANT).unwrap(),
        &serial,
        &rampart_domain::ids::BackupId::parse(&backup).unwrap(),
    );
    assert!(app.objects.head(&key).await.unwrap().is_none());

    for c in consumers {
        c.abort();
    }
    for h in agents {
        h.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_list_download_restore_and_new_password_embedded() {
    backup_list_and_restore(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_list_download_restore_and_new_password_aws() {
    backup_list_and_restore(Backend::Aws).await;
}
