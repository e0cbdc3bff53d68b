//! A tag job over a simulated fleet of real agents (`rampart_agent`), on both
//! adapter sets: the portal over HTTP, the fan-out by the same queue consumer
//! `rampart serve` runs (on SQLite's queue, or on SQS of the emulator), agents that
//! collect, check PINs sealed to their keys, act and report.

use chrono::{Duration as ChronoDuration, Utc};
use rampart::runtime::{DispatchHandler, spawn_consumer};
use rampart_agent::AgentOptions;
use rampart_agent::fleet::{FleetLicense, spawn_fleet_with};
use rampart_app::jobs::dispatch::Dispatcher;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_domain::report::Authorizations;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_identity::pin::Pin;
use rampart_ports::Clock;
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::spawn_portal_polling;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const TENANT: &str = "100001.sms";
const FLEET: usize = 5;

async fn tag_job_over_a_fleet(backend: Backend) {
    let app = spawn_portal_polling(backend, Duration::from_secs(1)).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, "ops@example.test", Role::Administrator)
        .await;
    let (token, _) = app.sign_in("ops@example.test", None).await;
    let consumer = spawn_consumer(
        rampart_app::queues::spec("jobs").unwrap(),
        app.jobs_queue.clone(),
        Arc::new(DispatchHandler(Dispatcher::new(
            app.counting.clone(),
            Arc::new(app.clock.clone()),
        ))),
    );

    let mut licenses = Vec::new();
    for i in 0..FLEET {
        let serial = Serial::parse(&format!("FLEET{i:03}")).unwrap();
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
        licenses.push(FleetLicense { serial, secret });
    }
    let state = tempfile::tempdir().unwrap();
    let options = AgentOptions {
        pin: Some(Pin::parse("135790").unwrap()),
        ..AgentOptions::default()
    };
    let agents = spawn_fleet_with(
        &app.base_url,
        licenses,
        state.path(),
        FirmwareVersion::parse("14.2").unwrap(),
        &options,
    )
    .unwrap();
    // A sixth appliance whose owner switched off `status`: applications are not the
    // console's to touch there.
    let (_, secret) = app
        .admin
        .add_license(NewLicense {
            serial: Serial::parse("FLEETX01").unwrap(),
            tenant: TenantId::parse(TENANT).unwrap(),
            product: "UTM".into(),
            expires: (Utc::now() + ChronoDuration::days(365)).date_naive(),
            cluster: None,
        })
        .await
        .unwrap();
    let strict = spawn_fleet_with(
        &app.base_url,
        vec![FleetLicense {
            serial: Serial::parse("FLEETX01").unwrap(),
            secret,
        }],
        state.path(),
        FirmwareVersion::parse("14.2").unwrap(),
        &AgentOptions {
            authorizations: Authorizations {
                status: false,
                ..AgentOptions::default().authorizations
            },
            ..options.clone()
        },
    )
    .unwrap();

    let call = |method: &'static str, path: String, body: Option<Value>| {
        let app = &app;
        let token = token.clone();
        async move { app.call(method, &path, Some(&token), body).await }
    };
    // Every appliance enrolled and reported; tag them all.
    let mut ids = Vec::new();
    for _ in 0..100 {
        let a = call("GET", format!("/v1/tenants/{TENANT}/appliances"), None).await;
        ids = a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        if ids.len() == FLEET + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ids.len(), FLEET + 1, "the fleet enrolled");
    for id in &ids {
        let a = call(
            "PATCH",
            format!("/v1/tenants/{TENANT}/appliances/{id}"),
            Some(json!({"tags": ["branch"]})),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    // Restart an application everywhere with the tag.
    let a = call(
        "POST",
        format!("/v1/tenants/{TENANT}/jobs"),
        Some(json!({"target": {"tag": "branch"},
                    "operation": {"type": "application", "name": "ips", "action": "restart"}})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let restart = a.body["id"].as_str().unwrap().to_owned();
    let job = wait_finished(&app, &token, &restart, || ()).await;
    assert_eq!(job["counts"]["succeeded"], FLEET as u64, "{job}");
    assert_eq!(job["counts"]["rejected"], 1, "{job}");

    // Reboot the tag with the PIN: each appliance opens it with its own key; success
    // counts once each checks in with a fresh uptime. The console's clock is moved
    // along so that "fresh" is measurable without waiting.
    let a = call(
        "POST",
        format!("/v1/tenants/{TENANT}/jobs"),
        Some(
            json!({"target": {"tag": "branch"}, "operation": {"type": "reboot"}, "pin": "135790"}),
        ),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let reboot = a.body["id"].as_str().unwrap().to_owned();
    let clock = app.clock.clone();
    let job = wait_finished(&app, &token, &reboot, || {
        clock.advance(Duration::from_millis(300))
    })
    .await;
    assert_eq!(job["counts"]["succeeded"], (FLEET + 1) as u64, "{job}");

    // Every appliance's log holds the four exchanges, chained.
    for id in &ids {
        let a = call(
            "GET",
            format!("/v1/tenants/{TENANT}/appliances/{id}/log?order=oldest"),
            None,
        )
        .await;
        let entries: Vec<rampart_domain::comm_log::LogEntry> =
            serde_json::from_value(a.body["items"].clone()).unwrap();
        rampart_domain::comm_log::verify_chain(&entries).expect("intact chain");
        assert!(
            entries
                .iter()
                .any(|e| e.job.as_deref() == Some(reboot.as_str()))
        );
    }
    consumer.abort();
    for h in agents.into_iter().chain(strict) {
        h.abort();
    }
    let _ = app.clock.now();
}

/// Polls the job until it is finished (at most 3 minutes: a loaded CI machine runs
/// many tests at once), calling `tick` each round.
pub(crate) async fn wait_finished(
    app: &rampart_tests::portal_harness::PortalApp,
    token: &str,
    job: &str,
    tick: impl Fn(),
) -> Value {
    for _ in 0..900 {
        let a = app
            .call(
                "GET",
                &format!("/v1/tenants/{TENANT}/jobs/{job}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        if a.body["finished"] == true {
            return a.body;
        }
        tick();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("job {job} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_job_runs_over_a_simulated_fleet_embedded() {
    tag_job_over_a_fleet(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_job_runs_over_a_simulated_fleet_aws() {
    tag_job_over_a_fleet(Backend::Aws).await;
}
