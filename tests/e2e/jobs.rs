//! Jobs through the real APIs on both adapter sets: the portal creates a job, the
//! dispatcher fans it out from the real queue (twice, as a redelivery would), an
//! appliance collects its command at check-in and reports; the maintenance sweep
//! times out what nobody collected. Each step is checked in the store and in the
//! appliance's hash-chained communication log.

use chrono::{Duration as ChronoDuration, Utc};
use rampart_agent::client::DeviceClient;
use rampart_app::records::command::CommandRecord;
use rampart_app::store_keys;
use rampart_domain::comm_log::{LogStatus, verify_chain};
use rampart_domain::device_protocol::{
    CheckinResponse, CommandResultRequest, EnrollRequest, command_result_path,
};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, JobId, Serial, TenantId};
use rampart_domain::jobs::{ApplianceResult, CommandState, Refusal};
use rampart_domain::license::NewLicense;
use rampart_domain::report::CheckinReport;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_ports::{Clock, Item, Table};
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::{Value, json};
use std::time::Duration;

const TENANT: &str = "100001.sms";
const ADMIN: &str = "admin@example.test";

struct World {
    app: PortalApp,
    token: String,
}

struct Appliance {
    id: ApplianceId,
    client: DeviceClient,
}

async fn world(backend: Backend) -> World {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, ADMIN, Role::Administrator).await;
    let (token, _) = app.sign_in(ADMIN, None).await;
    World { app, token }
}

fn report(firmware: &str, uptime_secs: u64, authorizations: Value) -> CheckinReport {
    serde_json::from_value(json!({
        "firmware": firmware, "previous_firmware": "14.0", "hostname": "fw", "model": "UTM",
        "cpu_percent": 1.0, "memory_percent": 2.0, "disk_percent": 3.0,
        "uptime_secs": uptime_secs, "interfaces": [],
        "applications": {"ips": "UP"}, "authorizations": authorizations,
        "privacy_accepted": true, "console_activated": true, "config_version": 0
    }))
    .unwrap()
}

fn all_allowed() -> Value {
    json!({"status": true, "pin_protected_actions": true, "one_time_update": true,
           "web_session": true, "security_scan": true, "cloud_backup": true})
}

impl World {
    /// A licensed, enrolled appliance of the tenant that checked in once with
    /// `authorizations`, optionally tagged.
    async fn appliance(
        &self,
        serial: &str,
        seed: u8,
        authorizations: Value,
        tag: Option<&str>,
    ) -> Appliance {
        let (_, secret) = self
            .app
            .admin
            .add_license(NewLicense {
                serial: Serial::parse(serial).unwrap(),
                tenant: TenantId::parse(TENANT).unwrap(),
                product: "UTM".into(),
                expires: (Utc::now() + ChronoDuration::days(365)).date_naive(),
                cluster: None,
            })
            .await
            .expect("license");
        let mut client = DeviceClient::new(
            self.app.http.clone(),
            &self.app.base_url,
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
        );
        let enrolled = client
            .enroll(&EnrollRequest {
                serial: Serial::parse(serial).unwrap(),
                license_secret: secret,
                public_key: client.public_key_base64(),
                firmware: FirmwareVersion::parse("14.2").unwrap(),
                hostname: format!("fw-{serial}"),
                model: "UTM".into(),
            })
            .await
            .expect("enroll");
        client.set_appliance(enrolled.appliance_id.as_str());
        client
            .checkin(&report("14.2", 10_000, authorizations))
            .await
            .expect("first check-in");
        if let Some(tag) = tag {
            let a = self
                .call(
                    "PATCH",
                    &format!("/v1/tenants/{TENANT}/appliances/{}", enrolled.appliance_id),
                    Some(json!({"tags": [tag]})),
                )
                .await;
            assert_eq!(a.0, 200, "{}", a.1);
        }
        Appliance {
            id: enrolled.appliance_id,
            client,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let a = self.app.call(method, path, Some(&self.token), body).await;
        (a.status, a.body)
    }

    async fn create_job(&self, body: Value) -> (u16, Value) {
        self.call("POST", &format!("/v1/tenants/{TENANT}/jobs"), Some(body))
            .await
    }

    async fn job(&self, id: &str) -> Value {
        let (status, body) = self
            .call("GET", &format!("/v1/tenants/{TENANT}/jobs/{id}"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Receives the job's fan-out messages from the real queue and hands each to
    /// the dispatcher `times` times, as a redelivery would. Returns the bodies.
    async fn dispatch(&self, times: usize) -> Vec<String> {
        let mut bodies = Vec::new();
        for _ in 0..20 {
            let batch = self
                .app
                .jobs_queue
                .receive(10, Duration::from_secs(1), Duration::from_secs(30))
                .await
                .expect("receive");
            if batch.is_empty() && !bodies.is_empty() {
                break;
            }
            for m in batch {
                for _ in 0..times {
                    self.app.dispatcher.handle(&m.body).await.expect("dispatch");
                }
                self.app.jobs_queue.delete(&m.receipt).await.unwrap();
                bodies.push(m.body);
            }
        }
        assert!(!bodies.is_empty(), "the job put nothing on the queue");
        bodies
    }

    async fn command(&self, job: &str, appliance: &ApplianceId) -> CommandRecord {
        let key = store_keys::command(
            &TenantId::parse(TENANT).unwrap(),
            &JobId::parse(job).unwrap(),
            appliance,
        );
        let item = self
            .app
            .counting
            .get(&key)
            .await
            .unwrap()
            .expect("command exists");
        CommandRecord::try_from(&item).unwrap()
    }

    async fn appliance_item(&self, a: &ApplianceId) -> Item {
        self.app
            .counting
            .get(&store_keys::appliance(&TenantId::parse(TENANT).unwrap(), a))
            .await
            .unwrap()
            .unwrap()
    }

    async fn log(&self, a: &ApplianceId) -> Vec<rampart_domain::comm_log::LogEntry> {
        let (status, body) = self
            .call(
                "GET",
                &format!("/v1/tenants/{TENANT}/appliances/{a}/log?order=oldest&limit=200"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body["items"].clone()).unwrap()
    }
}

async fn post_result(a: &Appliance, job: &str, result: &ApplianceResult) -> (u16, Value) {
    let body = serde_json::to_vec(&CommandResultRequest::new(result, None)).unwrap();
    let resp = a
        .client
        .signed_request(&command_result_path(&JobId::parse(job).unwrap()), body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn checkin(a: &Appliance, r: &CheckinReport) -> CheckinResponse {
    a.client.checkin(r).await.expect("check-in")
}

fn restart_ips() -> Value {
    json!({"type": "application", "name": "ips", "action": "restart"})
}

// ---- the life of a command ---------------------------------------------------------

async fn a_command_reaches_its_appliance_once(backend: Backend) {
    let w = world(backend).await;
    let a = w.appliance("JOBA0001", 11, all_allowed(), None).await;
    let (status, job) = w
        .create_job(json!({"target": {"appliance": a.id}, "operation": restart_ips()}))
        .await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["appliances"], 1);
    assert!(job["pickup_expected_by"].is_string(), "{job}");

    // The same message handled twice makes one command and counts it once.
    w.dispatch(2).await;
    let cmd = w.command(&id, &a.id).await;
    assert_eq!(cmd.status.state, CommandState::Queued);
    assert_eq!(
        w.appliance_item(&a.id).await.i64("pending_commands"),
        Some(1)
    );

    // Collected at the next check-in, with the fast poll interval; never again.
    let r = report("14.2", 10_100, all_allowed());
    let reply = checkin(&a, &r).await;
    assert_eq!(reply.commands.len(), 1, "{reply:?}");
    assert_eq!(reply.commands[0].command_id.as_str(), id);
    assert!(
        reply.poll_interval_secs < 60,
        "fast poll while a job waits: {reply:?}"
    );
    assert!(checkin(&a, &r).await.commands.is_empty(), "delivered twice");
    assert_eq!(w.command(&id, &a.id).await.status.state, CommandState::Sent);

    // Confirming a cancel nobody asked for is not a transition: 409, nothing written.
    let (s, body) = post_result(&a, &id, &ApplianceResult::Canceled).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("illegal_transition")),
        "{body}"
    );
    assert_eq!(w.command(&id, &a.id).await.status.version, 1);

    // Reports are idempotent; a different one on a finished command is 410.
    let (s, body) = post_result(&a, &id, &ApplianceResult::Succeeded).await;
    assert_eq!(
        (s, body["state"].as_str()),
        (200, Some("succeeded")),
        "{body}"
    );
    let (s, _) = post_result(&a, &id, &ApplianceResult::Succeeded).await;
    assert_eq!(s, 200);
    let (s, body) = post_result(&a, &id, &ApplianceResult::Failed).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (410, Some("command_finished"))
    );
    let cmd = w.command(&id, &a.id).await;
    assert_eq!(
        (cmd.status.state, cmd.status.version),
        (CommandState::Succeeded, 2)
    );
    assert_eq!(
        w.appliance_item(&a.id).await.i64("pending_commands"),
        Some(0)
    );

    // A result for a command the appliance never had is 404; a malformed one 422.
    let (s, _) = post_result(&a, "job_1700000000000deadbeef", &ApplianceResult::Succeeded).await;
    assert_eq!(s, 404);
    let bad = a
        .client
        .signed_request(
            &command_result_path(&JobId::parse(&id).unwrap()),
            br#"{"result":"rejected"}"#.to_vec(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);

    let job = w.job(&id).await;
    assert_eq!(job["counts"]["succeeded"], 1, "{job}");
    assert_eq!(job["finished"], true);
    assert!(job["pickup_expected_by"].is_null());

    // Two exchanges logged (sent, succeeded), chained, and the chain verifies.
    let log = w.log(&a.id).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log.iter().all(|e| e.job.as_deref() == Some(id.as_str())));
    verify_chain(&log).expect("intact chain");
    let (_, head) = w
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/appliances/{}/log/head", a.id),
            None,
        )
        .await;
    assert_eq!(head["head"]["seq"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_reaches_its_appliance_once_embedded() {
    a_command_reaches_its_appliance_once(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_reaches_its_appliance_once_aws() {
    a_command_reaches_its_appliance_once(Backend::Aws).await;
}

// ---- concurrent duplicate reports ----------------------------------------------------

async fn concurrent_duplicate_reports_apply_once(backend: Backend) {
    let w = world(backend).await;
    let a = w.appliance("JOBB0001", 12, all_allowed(), None).await;
    let (_, job) = w
        .create_job(json!({"target": {"appliance": a.id}, "operation": restart_ips()}))
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    w.dispatch(1).await;
    assert_eq!(
        checkin(&a, &report("14.2", 10_100, all_allowed()))
            .await
            .commands
            .len(),
        1
    );
    let failed = ApplianceResult::Failed;
    let (r1, r2, r3, r4) = tokio::join!(
        post_result(&a, &id, &failed),
        post_result(&a, &id, &failed),
        post_result(&a, &id, &failed),
        post_result(&a, &id, &failed),
    );
    for (s, body) in [&r1, &r2, &r3, &r4] {
        assert_eq!(*s, 200, "{body}");
        assert_eq!(body["state"], "failed");
    }
    let cmd = w.command(&id, &a.id).await;
    assert_eq!(
        (cmd.status.state, cmd.status.version),
        (CommandState::Failed, 2)
    );
    let log = w.log(&a.id).await;
    assert_eq!(log.len(), 2, "one sent, one result: {log:?}");
    verify_chain(&log).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_reports_apply_once_embedded() {
    concurrent_duplicate_reports_apply_once(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_reports_apply_once_aws() {
    concurrent_duplicate_reports_apply_once(Backend::Aws).await;
}

// ---- authorizations known to the console ---------------------------------------------

async fn the_console_refuses_what_the_appliance_forbids(backend: Backend) {
    let w = world(backend).await;
    let no_update = json!({"status": true, "pin_protected_actions": true});
    let strict = w.appliance("JOBC0001", 13, no_update, Some("lab")).await;
    let open = w
        .appliance("JOBC0002", 14, all_allowed(), Some("lab"))
        .await;
    let update = json!({"type": "firmware_update", "version": "14.3",
                        "not_before": Utc::now().timestamp_millis()});

    // One appliance: refused at once, with the reason, and no job is made.
    let before = w.app.counts();
    let (s, body) = w
        .create_job(json!({"target": {"appliance": strict.id}, "operation": update}))
        .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["error"]["code"], "command_refused");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one_time_update")
    );
    assert_eq!(
        rampart_tests::device_harness::delta(before, w.app.counts()).writes(),
        0
    );

    // A tag: the appliance that forbids it gets a refused command, the other a real one.
    let (s, job) = w
        .create_job(json!({"target": {"tag": "lab"}, "operation": update}))
        .await;
    assert_eq!(s, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["appliances"], 2);
    w.dispatch(1).await;
    let refused = w.command(&id, &strict.id).await;
    assert_eq!(refused.status.state, CommandState::Rejected);
    assert!(refused.refused_by_console);
    assert!(matches!(
        refused.status.reason,
        Some(Refusal::NotAuthorized { .. })
    ));
    assert_eq!(
        w.appliance_item(&strict.id).await.i64("pending_commands"),
        Some(0)
    );
    assert_eq!(
        w.command(&id, &open.id).await.status.state,
        CommandState::Queued
    );
    let job = w.job(&id).await;
    assert_eq!(
        (
            job["counts"]["rejected"].as_u64(),
            job["counts"]["queued"].as_u64()
        ),
        (Some(1), Some(1))
    );

    // The appliance refuses on its own too: its reason arrives with the result.
    assert_eq!(
        checkin(&open, &report("14.2", 10_100, all_allowed()))
            .await
            .commands
            .len(),
        1
    );
    let refusal = ApplianceResult::Rejected(Refusal::NotAuthorized {
        authorization: rampart_domain::jobs::Authorization::OneTimeUpdate,
    });
    let (s, body) = post_result(&open, &id, &refusal).await;
    assert_eq!(
        (s, body["state"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    let log = w.log(&open.id).await;
    let last = log.last().unwrap();
    assert_eq!(last.status, LogStatus::Refused);
    assert!(last.info.contains("not_authorized"), "{}", last.info);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_what_the_appliance_forbids_embedded() {
    the_console_refuses_what_the_appliance_forbids(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_what_the_appliance_forbids_aws() {
    the_console_refuses_what_the_appliance_forbids(Backend::Aws).await;
}

// ---- deadlines and cancel ------------------------------------------------------------

async fn an_uncollected_command_times_out_and_is_never_delivered(backend: Backend) {
    let w = world(backend).await;
    let a = w.appliance("JOBD0001", 15, all_allowed(), None).await;
    let (_, job) = w
        .create_job(json!({"target": {"appliance": a.id}, "operation": {"type": "factory_reset"}, "pin": "123456"}))
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    w.dispatch(1).await;

    // The appliance stays away for two days; the sweep times the reset out.
    let back = w.app.clock.now();
    w.app.clock.advance(Duration::from_secs(2 * 86_400));
    let swept = w.app.maintenance.sweep().await.unwrap();
    assert_eq!((swept.timed_out, swept.jobs_finished), (1, 1), "{swept:?}");
    let cmd = w.command(&id, &a.id).await;
    assert_eq!(cmd.status.state, CommandState::TimedOut);
    assert!(
        cmd.sealed_pin.is_none(),
        "the sealed PIN is dropped when the command ends"
    );
    assert_eq!(
        w.appliance_item(&a.id).await.i64("pending_commands"),
        Some(0)
    );
    // A second sweep has nothing left to do.
    assert_eq!(w.app.maintenance.sweep().await.unwrap().open_jobs, 0);

    // When it reappears, the reset is not delivered.
    w.app.clock.set(back);
    assert!(
        checkin(&a, &report("14.2", 10_100, all_allowed()))
            .await
            .commands
            .is_empty()
    );
    let log = w.log(&a.id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, LogStatus::TimedOut);
    assert_eq!(w.job(&id).await["counts"]["timed_out"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncollected_command_times_out_and_is_never_delivered_embedded() {
    an_uncollected_command_times_out_and_is_never_delivered(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncollected_command_times_out_and_is_never_delivered_aws() {
    an_uncollected_command_times_out_and_is_never_delivered(Backend::Aws).await;
}

async fn cancel_stops_queued_and_asks_the_appliance_for_sent(backend: Backend) {
    let w = world(backend).await;
    let a = w
        .appliance("JOBE0001", 16, all_allowed(), Some("edge"))
        .await;
    let b = w
        .appliance("JOBE0002", 17, all_allowed(), Some("edge"))
        .await;
    let (_, job) = w
        .create_job(json!({"target": {"tag": "edge"}, "operation": restart_ips()}))
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    w.dispatch(1).await;
    // `a` collects its command; `b` has not yet.
    assert_eq!(
        checkin(&a, &report("14.2", 10_100, all_allowed()))
            .await
            .commands
            .len(),
        1
    );
    let (s, view) = w
        .call(
            "POST",
            &format!("/v1/tenants/{TENANT}/jobs/{id}/cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["counts"]["canceled"], 1);
    assert_eq!(view["counts"]["sent"], 1);
    assert!(w.command(&id, &a.id).await.status.cancel_requested);
    assert!(
        checkin(&b, &report("14.2", 10_100, all_allowed()))
            .await
            .commands
            .is_empty()
    );
    // `a` is asked to cancel and confirms.
    let reply = checkin(&a, &report("14.2", 10_200, all_allowed())).await;
    assert!(
        reply.commands.len() == 1 && reply.commands[0].cancel,
        "{reply:?}"
    );
    let (s, body) = post_result(&a, &id, &ApplianceResult::Canceled).await;
    assert_eq!((s, body["state"].as_str()), (200, Some("canceled")));
    let job = w.job(&id).await;
    assert_eq!(job["counts"]["canceled"], 2, "{job}");
    assert_eq!(job["finished"], true);
    // Canceling again changes nothing.
    let (s, _) = w
        .call(
            "POST",
            &format!("/v1/tenants/{TENANT}/jobs/{id}/cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_queued_and_asks_the_appliance_for_sent_embedded() {
    cancel_stops_queued_and_asks_the_appliance_for_sent(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_queued_and_asks_the_appliance_for_sent_aws() {
    cancel_stops_queued_and_asks_the_appliance_for_sent(Backend::Aws).await;
}

// ---- proof by check-in ---------------------------------------------------------------

async fn a_reboot_counts_only_after_a_fresh_uptime(backend: Backend) {
    let w = world(backend).await;
    let a = w.appliance("JOBF0001", 18, all_allowed(), None).await;
    let (s, job) = w
        .create_job(json!({"target": {"appliance": a.id}, "operation": {"type": "reboot"}, "pin": "123456"}))
        .await;
    assert_eq!(s, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    w.dispatch(1).await;
    let reply = checkin(&a, &report("14.2", 10_100, all_allowed())).await;
    assert!(
        reply.commands[0].sealed_pin.is_some(),
        "a PIN-protected command carries it sealed"
    );
    // "Done" from the appliance proves nothing: it is about to go down.
    let (s, body) = post_result(&a, &id, &ApplianceResult::Succeeded).await;
    assert_eq!(
        (s, body["awaiting_checkin"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(w.command(&id, &a.id).await.status.state, CommandState::Sent);
    // Still the old uptime: nothing. A fresh one: succeeded.
    checkin(&a, &report("14.2", 10_200, all_allowed())).await;
    assert_eq!(w.command(&id, &a.id).await.status.state, CommandState::Sent);
    // It went down and came back: 20 s later on the console's clock, up for 3 s.
    w.app.clock.advance(Duration::from_secs(20));
    checkin(&a, &report("14.2", 3, all_allowed())).await;
    let cmd = w.command(&id, &a.id).await;
    assert_eq!(cmd.status.state, CommandState::Succeeded);
    let log = w.log(&a.id).await;
    assert!(log.last().unwrap().info.contains("uptime"), "{log:?}");
    verify_chain(&log).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_counts_only_after_a_fresh_uptime_embedded() {
    a_reboot_counts_only_after_a_fresh_uptime(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_counts_only_after_a_fresh_uptime_aws() {
    a_reboot_counts_only_after_a_fresh_uptime(Backend::Aws).await;
}

// ---- bad job requests ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_job_requests_are_clear_errors_and_write_nothing() {
    let w = world(Backend::Embedded).await;
    let a = w.appliance("JOBG0001", 19, all_allowed(), None).await;
    let cases = [
        (
            json!({"target": {"appliance": a.id}, "operation": {"type": "reboot"}}),
            422,
            "pin",
        ),
        (
            json!({"target": {"appliance": a.id}, "operation": {"type": "reboot"}, "pin": "12a456"}),
            422,
            "6 digits",
        ),
        (
            json!({"target": {"appliance": a.id}, "operation": restart_ips(), "pin": "123456"}),
            422,
            "no PIN",
        ),
        (
            json!({"target": {"tag": "nobody"}, "operation": restart_ips()}),
            422,
            "tag",
        ),
        (
            json!({"target": {"list": []}, "operation": restart_ips()}),
            400,
            "",
        ),
        (
            json!({"target": {"appliance": "ap_00000000000000000000000000000000"}, "operation": restart_ips()}),
            404,
            "",
        ),
        (
            json!({"target": {"appliance": a.id}, "operation": {"type": "format_disk"}}),
            400,
            "",
        ),
    ];
    for (body, status, needle) in cases {
        let before = w.app.counts();
        let (s, answer) = w.create_job(body.clone()).await;
        assert_eq!(s, status, "{body} → {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
        assert!(
            !message.contains("12a456"),
            "an error repeats the PIN: {message}"
        );
        assert_eq!(
            rampart_tests::device_harness::delta(before, w.app.counts()).writes(),
            0,
            "{body}"
        );
    }
}

// ---- the PIN -------------------------------------------------------------------------

/// Everything the job wrote where a portal or device query could reach it: the
/// tenant's partition, the open-job markers and the appliance's open-command index.
async fn everything_stored(w: &World, a: &ApplianceId) -> String {
    use rampart_ports::{Index, Query, SortKey};
    let mut text = String::new();
    for query in [
        Query::partition(store_keys::tenant_partition(
            &TenantId::parse(TENANT).unwrap(),
        ))
        .sk(SortKey::All),
        Query::partition(store_keys::OPEN_JOBS_PARTITION).sk(SortKey::All),
        Query::partition(store_keys::open_commands_index(a)).on(Index::Gsi1),
    ] {
        for item in rampart_app::all_pages::all_items(&*w.app.counting, query)
            .await
            .unwrap()
        {
            text.push_str(&format!("{item:?}\n"));
        }
    }
    text
}

async fn the_pin_is_only_ever_sealed(backend: Backend) {
    const PIN: &str = "493817";
    let w = world(backend).await;
    let a = w.appliance("JOBH0001", 20, all_allowed(), None).await;
    let (s, job) = w
        .create_job(
            json!({"target": {"appliance": a.id}, "operation": {"type": "shutdown"}, "pin": PIN}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    assert!(!job.to_string().contains(PIN));
    let id = job["id"].as_str().unwrap().to_owned();
    for body in w.dispatch(1).await {
        assert!(!body.contains(PIN), "a queue message holds the PIN: {body}");
        assert!(body.contains("sealed_pin"), "{body}");
    }
    let stored = everything_stored(&w, &a.id).await;
    assert!(
        stored.contains("sealed_pin"),
        "the sealed form is kept while the command is open"
    );
    assert!(!stored.contains(PIN), "a stored record holds the PIN");
    // Nor as raw bytes (how Debug shows a binary attribute).
    assert!(
        !stored.contains("52, 57, 51, 56, 49, 55"),
        "a binary attribute holds the PIN"
    );
    assert!(!w.job(&id).await.to_string().contains(PIN));

    // The appliance opens it, finds it wrong and says so: attempts, never the PIN.
    let reply = checkin(&a, &report("14.2", 10_100, all_allowed())).await;
    assert!(!serde_json::to_string(&reply).unwrap().contains(PIN));
    let wrong = ApplianceResult::Rejected(Refusal::WrongPin { attempts_left: 4 });
    let (s, body) = post_result(&a, &id, &wrong).await;
    assert_eq!(s, 200, "{body}");
    let stored = everything_stored(&w, &a.id).await;
    assert!(!stored.contains(PIN));
    assert!(
        !stored.contains("sealed_pin"),
        "the sealed PIN is dropped when the command ends"
    );
    let log = w.log(&a.id).await;
    assert!(
        log.last().unwrap().info.contains("4 attempts left"),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_is_only_ever_sealed_embedded() {
    the_pin_is_only_ever_sealed(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_is_only_ever_sealed_aws() {
    the_pin_is_only_ever_sealed(Backend::Aws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_fan_out_never_came_is_finished_by_the_sweep() {
    let w = world(Backend::Embedded).await;
    let a = w.appliance("JOBI0001", 21, all_allowed(), None).await;
    let (_, job) = w
        .create_job(json!({"target": {"appliance": a.id}, "operation": restart_ips()}))
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    // The message is lost (dead-lettered): nobody dispatches it.
    let lost = w
        .app
        .jobs_queue
        .receive(10, Duration::from_secs(1), Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!(
        w.app.maintenance.sweep().await.unwrap().jobs_finished,
        0,
        "too early"
    );
    w.app.clock.advance(Duration::from_secs(2 * 3600));
    let swept = w.app.maintenance.sweep().await.unwrap();
    assert_eq!(swept.jobs_finished, 1, "{swept:?}");
    // (Two hours on, the session has lapsed: read the job from the store.)
    let item = w
        .app
        .counting
        .get(&store_keys::job(
            &TenantId::parse(TENANT).unwrap(),
            &JobId::parse(&id).unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    let job = rampart_app::records::job::JobRecord::try_from(&item).unwrap();
    assert!(job.finished_at.is_some(), "{job:?}");
    assert!(
        w.app
            .counting
            .get(&store_keys::open_job(&job.tenant, &job.id))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewing_an_appliance_puts_it_on_the_fast_poll_interval() {
    let w = world(Backend::Embedded).await;
    let a = w.appliance("JOBJ0001", 22, all_allowed(), None).await;
    let r = report("14.2", 10_100, all_allowed());
    assert_eq!(
        checkin(&a, &r).await.poll_interval_secs,
        60,
        "nobody is waiting"
    );
    let (s, _) = w
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/appliances/{}", a.id),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let fast = checkin(&a, &r).await.poll_interval_secs;
    assert!(
        (5..=7).contains(&fast),
        "5 s and up to half of it in jitter: {fast}"
    );
    // For five minutes from the view (the console's clock, not the appliance's).
    let until = w
        .appliance_item(&a.id)
        .await
        .i64(rampart_app::records::appliance::FAST_POLL_UNTIL)
        .unwrap();
    let now = w.app.clock.now().millis();
    assert!(
        until > now && until <= now + 5 * 60 * 1000,
        "{until} vs {now}"
    );
}
