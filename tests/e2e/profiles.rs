//! Configuration profiles end to end (SPEC 8), on both adapter sets: profiles and
//! assignments through the portal API over HTTP, real agents (`rampart_agent`)
//! checking in over HTTP, driven round by round so each delivery can be looked at.
//!
//! - only what changed since the version an appliance holds is delivered, and an
//!   idle check-in after convergence is still one write;
//! - an appliance whose authorizations allow only some sections takes those,
//!   refuses (or is withheld) the others, and the log and the status show it; a
//!   section it later allows arrives then.

use chrono::{Duration as ChronoDuration, Utc};
use rampart_agent::state::StateFile;
use rampart_agent::{Agent, AgentConfig, AgentOptions};
use rampart_app::records::vpn_reference;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::jobs::Authorization;
use rampart_domain::license::NewLicense;
use rampart_domain::profile::Section;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::{Value, json};

const TENANT: &str = "100008.sms";

fn tenant() -> TenantId {
    TenantId::parse(TENANT).unwrap()
}

struct Setup {
    app: PortalApp,
    token: String,
    _state: tempfile::TempDir,
}

impl Setup {
    async fn new(backend: Backend) -> Self {
        let app = spawn_portal(backend).await;
        app.tenant(TENANT, TenantKind::Customer, None).await;
        app.user(TENANT, "admin@example.test", Role::Administrator)
            .await;
        let (token, _) = app.sign_in("admin@example.test", None).await;
        Self {
            app,
            token,
            _state: tempfile::tempdir().unwrap(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let a = self.app.call(method, path, Some(&self.token), body).await;
        assert!(
            (200..300).contains(&a.status),
            "{method} {path}: {} {}",
            a.status,
            a.body
        );
        a.body
    }

    /// A license and a real agent for it, enrolled and checked in once.
    async fn agent(&self, serial: &str, options: AgentOptions) -> Agent {
        let serial = Serial::parse(serial).unwrap();
        let (_, secret) = self
            .app
            .admin
            .add_license(NewLicense {
                serial: serial.clone(),
                tenant: tenant(),
                product: "UTM".into(),
                expires: (Utc::now() + ChronoDuration::days(365)).date_naive(),
                cluster: None,
            })
            .await
            .unwrap();
        let config = AgentConfig {
            server: self.app.base_url.clone(),
            serial: serial.clone(),
            license_secret: secret,
            state_file: StateFile::new(self._state.path().join(format!("{serial}.json"))),
            firmware: FirmwareVersion::parse("14.2").unwrap(),
        };
        let mut agent = Agent::open_with(config, options, reqwest::Client::new()).unwrap();
        agent.enroll().await.unwrap();
        let first = agent.checkin().await.unwrap();
        assert_eq!(first.configuration, None, "nothing assigned yet");
        agent
    }

    async fn save(&self, name: &str, sections: Value) -> Value {
        self.call(
            "PUT",
            &format!("/v1/tenants/{TENANT}/profiles/{name}"),
            Some(json!({ "sections": sections })),
        )
        .await
    }

    async fn configuration(&self, agent: &Agent) -> Value {
        let id = agent.state.appliance_id.as_ref().unwrap();
        self.call(
            "GET",
            &format!("/v1/tenants/{TENANT}/appliances/{id}/configuration"),
            None,
        )
        .await
    }

    async fn log(&self, agent: &Agent) -> Vec<Value> {
        let id = agent.state.appliance_id.as_ref().unwrap();
        self.call(
            "GET",
            &format!("/v1/tenants/{TENANT}/appliances/{id}/log?order=oldest"),
            None,
        )
        .await["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// One check-in and the handling of its reply; the sections it carried.
async fn round(agent: &mut Agent) -> Option<Vec<Section>> {
    let resp = agent.checkin().await.unwrap();
    agent.handle(&resp).await.unwrap();
    resp.configuration.map(|c| c.sections())
}

/// The transfer state of each section of a configuration view.
fn states(view: &Value) -> Vec<(String, String)> {
    view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .chain(view["removed"].as_array().unwrap())
        .map(|s| {
            (
                s["section"].as_str().unwrap().to_owned(),
                s["transfer"]["state"]
                    .as_str()
                    .unwrap_or("pending")
                    .to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

async fn only_changes_are_delivered(backend: Backend) {
    let s = Setup::new(backend).await;
    let mut agent = s.agent("PROF0001", AgentOptions::default()).await;
    let id = agent.state.appliance_id.clone().unwrap();
    let branch = json!({
        "fail2ban": {"enabled": true, "max_retries": 5, "ban_time_secs": 600},
        "cloud_shield": {"enabled": true},
        "vpn": {"connections": [{"name": "hq", "peer": "PEER0001", "enabled": true}]}
    });
    let saved = s.save("Branch", branch.clone()).await;
    assert_eq!(saved["version"], 1);
    s.call(
        "PUT",
        &format!("/v1/tenants/{TENANT}/profile-assignments/appliance/{id}"),
        Some(json!({"profile": "Branch"})),
    )
    .await;
    // The VPN reference of SPEC 2 exists with the profile.
    let peer = Serial::parse("PEER0001").unwrap();
    assert_eq!(
        vpn_reference::references_by_peer(&*s.app.counting, &tenant())
            .await
            .unwrap()
            .get(&peer),
        Some(&vec!["Branch".to_owned()])
    );
    let view = s.configuration(&agent).await;
    assert_eq!(view["version"], 1);
    assert_eq!(
        states(&view),
        pairs(&[
            ("fail2ban", "pending"),
            ("cloud_shield", "pending"),
            ("vpn", "pending")
        ])
    );

    // First delivery: every section.
    assert_eq!(
        round(&mut agent).await,
        Some(vec![Section::Fail2ban, Section::CloudShield, Section::Vpn])
    );
    assert_eq!(agent.state.config.version, 1);
    let report = agent.appliance.report(0);
    assert_eq!(report.config_version, 1);
    assert!(report.features.vpn && report.features.cloud_shield);
    assert_eq!(
        states(&s.configuration(&agent).await),
        pairs(&[
            ("fail2ban", "applied"),
            ("cloud_shield", "applied"),
            ("vpn", "applied")
        ])
    );

    // A new version changing one section: only that one travels.
    let mut changed = branch.clone();
    changed["fail2ban"]["max_retries"] = json!(3);
    let saved = s
        .call(
            "PUT",
            &format!("/v1/tenants/{TENANT}/profiles/Branch"),
            Some(json!({"sections": changed, "expected_version": 1})),
        )
        .await;
    assert_eq!(saved["version"], 2);
    let stale = s
        .app
        .call(
            "PUT",
            &format!("/v1/tenants/{TENANT}/profiles/Branch"),
            Some(&s.token),
            Some(json!({"sections": changed, "expected_version": 1})),
        )
        .await;
    assert_eq!(
        (stale.status, stale.body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    assert_eq!(round(&mut agent).await, Some(vec![Section::Fail2ban]));
    assert_eq!(agent.state.config.sections.fail2ban.unwrap().max_retries, 3);
    // Both versions stay readable.
    let v1 = s
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/profiles/Branch?version=1"),
            None,
        )
        .await;
    assert_eq!(v1["sections"]["fail2ban"]["max_retries"], 5);

    // Converged: an idle check-in is one write, nothing else.
    let before = s.app.counts();
    assert_eq!(round(&mut agent).await, None);
    let d = rampart_tests::device_harness::delta(before, s.app.counts());
    assert_eq!(
        (
            d.gets,
            d.queries,
            d.puts,
            d.updates,
            d.deletes,
            d.transactions
        ),
        (0, 0, 0, 1, 0, 0),
        "idle check-in after convergence: {d:?}"
    );

    // A tag's profile adds its section; the appliance's own profile still wins
    // where both have one.
    s.call(
        "PATCH",
        &format!("/v1/tenants/{TENANT}/appliances/{id}"),
        Some(json!({"tags": ["berlin"]})),
    )
    .await;
    s.save(
        "Berlin",
        json!({
            "cloud_backup_schedule": {"enabled": true, "hour": 5, "minute": 15},
            "data_protection": {"anonymize_reports": true, "log_retention_days": 30},
            "fail2ban": {"enabled": false, "max_retries": 9, "ban_time_secs": 60}
        }),
    )
    .await;
    s.call(
        "PUT",
        &format!("/v1/tenants/{TENANT}/profile-assignments/tag/berlin"),
        Some(json!({"profile": "Berlin"})),
    )
    .await;
    assert_eq!(
        round(&mut agent).await,
        Some(vec![Section::CloudBackupSchedule, Section::DataProtection])
    );
    // The applied backup schedule section is now the appliance's regular backup.
    let schedule = s
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/appliances/{id}/backup-schedule"),
            None,
        )
        .await;
    assert_eq!(
        schedule["schedule"],
        json!({"enabled": true, "hour": 5, "minute": 15})
    );
    let view = s.configuration(&agent).await;
    let fail2ban = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["section"] == "fail2ban")
        .unwrap();
    assert_eq!(
        (fail2ban["profile"].as_str(), fail2ban["via"].as_str()),
        (Some("Branch"), Some("appliance"))
    );

    // Without its own profile, the tag's fail2ban replaces it, and the sections
    // only Branch had are removed.
    s.call(
        "DELETE",
        &format!("/v1/tenants/{TENANT}/profile-assignments/appliance/{id}"),
        None,
    )
    .await;
    assert_eq!(
        round(&mut agent).await,
        Some(vec![Section::Fail2ban, Section::CloudShield, Section::Vpn])
    );
    assert!(!agent.state.config.sections.fail2ban.unwrap().enabled);
    assert!(agent.state.config.sections.vpn.is_none());
    assert!(!agent.appliance.report(0).features.vpn);
    let view = s.configuration(&agent).await;
    assert_eq!(
        view["held_version"],
        view["version"].as_u64().unwrap() - 1,
        "the report comes with the next check-in"
    );
    assert_eq!(round(&mut agent).await, None);

    // Branch is unassigned now: it can go, and its VPN reference with it.
    let gone = s
        .app
        .call(
            "DELETE",
            &format!("/v1/tenants/{TENANT}/profiles/Berlin"),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(gone.status, 409, "Berlin is still assigned to the tag");
    s.call(
        "DELETE",
        &format!("/v1/tenants/{TENANT}/profiles/Branch"),
        None,
    )
    .await;
    assert!(
        vpn_reference::references_by_peer(&*s.app.counting, &tenant())
            .await
            .unwrap()
            .get(&peer)
            .is_none_or(Vec::is_empty)
    );
    let listed = s
        .call("GET", &format!("/v1/tenants/{TENANT}/profiles"), None)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // The log tells every transfer, both ways.
    let log = s.log(&agent).await;
    let config_lines: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| e["info"].as_str().unwrap().starts_with("configuration v"))
        .map(|e| {
            (
                e["direction"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(config_lines.len(), 8, "{log:#?}");
    assert!(config_lines.iter().all(|(_, status)| *status == "ok"));
    assert!(
        log.iter()
            .any(|e| e["info"] == "configuration v2: sent fail2ban v2")
    );
}

async fn restricted_authorizations(backend: Backend) {
    let s = Setup::new(backend).await;
    // The owner allows no VPN configuration: the console knows it from the report.
    let mut agent = s
        .agent(
            "PROF0002",
            AgentOptions::default().deny(Authorization::VpnConfiguration),
        )
        .await;
    let id = agent.state.appliance_id.clone().unwrap();
    s.save(
        "Strict",
        json!({
            "fail2ban": {"enabled": true, "max_retries": 5, "ban_time_secs": 600},
            "cloud_shield": {"enabled": true},
            "vpn": {"connections": [{"name": "hq", "peer": "PEER0002", "enabled": true}]}
        }),
    )
    .await;
    s.call(
        "PUT",
        &format!("/v1/tenants/{TENANT}/profile-assignments/appliance/{id}"),
        Some(json!({"profile": "Strict"})),
    )
    .await;
    // The owner switches Cloud Shield's section off after the check-in that
    // reported it on: the console sends it, the appliance refuses it.
    let resp = agent.checkin().await.unwrap();
    let change = resp.configuration.clone().unwrap();
    assert_eq!(
        change.sections(),
        vec![Section::Fail2ban, Section::CloudShield]
    );
    agent
        .appliance
        .authorizations
        .profile_sections
        .insert("cloud_shield".into(), false);
    agent.handle(&resp).await.unwrap();
    assert!(agent.state.config.sections.fail2ban.is_some());
    assert!(agent.state.config.sections.cloud_shield.is_none());
    let view = s.configuration(&agent).await;
    assert_eq!(
        states(&view),
        pairs(&[
            ("fail2ban", "applied"),
            ("cloud_shield", "refused"),
            ("vpn", "withheld")
        ])
    );
    assert_eq!(view["withheld"], json!(["cloud_shield", "vpn"]));
    let log = s.log(&agent).await;
    assert!(
        log.iter().any(|e| e["direction"] == "console_to_appliance"
            && e["info"]
                == "configuration v1: sent fail2ban v1, cloud_shield v1; withheld vpn v1 (not authorized: vpn_configuration is off)"),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|e| e["direction"] == "appliance_to_console"
            && e["status"] == "refused"
            && e["info"].as_str().unwrap().contains(
                "cloud_shield v1 refused: not authorized: profile section switch cloud_shield is off"
            )),
        "{log:#?}"
    );
    // Still not allowed: nothing more travels, and the idle check-in is one write.
    let before = s.app.counts();
    assert_eq!(round(&mut agent).await, None);
    let d = rampart_tests::device_harness::delta(before, s.app.counts());
    assert_eq!(
        (
            d.gets + d.queries,
            d.puts + d.updates + d.deletes + d.transactions
        ),
        (0, 1),
        "{d:?}"
    );

    // The owner allows both: they arrive at the next check-in, though the version
    // the appliance holds did not change.
    agent.appliance.authorizations.vpn_configuration = true;
    agent
        .appliance
        .authorizations
        .profile_sections
        .remove("cloud_shield");
    assert_eq!(
        round(&mut agent).await,
        Some(vec![Section::CloudShield, Section::Vpn])
    );
    assert!(agent.appliance.report(0).features.vpn);
    let view = s.configuration(&agent).await;
    assert_eq!(
        states(&view),
        pairs(&[
            ("fail2ban", "applied"),
            ("cloud_shield", "applied"),
            ("vpn", "applied")
        ])
    );
    assert_eq!(view["withheld"], json!([]));
    assert_eq!(round(&mut agent).await, None);

    // A viewer reads the status but changes nothing.
    s.app
        .user(TENANT, "viewer@example.test", Role::Viewer)
        .await;
    let (viewer, _) = s.app.sign_in("viewer@example.test", None).await;
    let read = s
        .app
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/appliances/{id}/configuration"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(read.status, 200);
    let write = s
        .app
        .call(
            "PUT",
            &format!("/v1/tenants/{TENANT}/profiles/Strict"),
            Some(&viewer),
            Some(json!({"sections": {"cloud_shield": {"enabled": false}}})),
        )
        .await;
    assert_eq!(write.status, 403);
}

async fn bad_input_is_refused(backend: Backend) {
    let s = Setup::new(backend).await;
    let agent = s.agent("PROF0003", AgentOptions::default()).await;
    let id = agent.state.appliance_id.clone().unwrap();
    let put = |path: String, body: Value| {
        let s = &s;
        async move { s.app.call("PUT", &path, Some(&s.token), Some(body)).await }
    };
    let profiles = format!("/v1/tenants/{TENANT}/profiles");
    for (name, body, status, code) in [
        (
            "ok",
            json!({"sections": {"firewall": {}}}),
            400,
            "malformed_body",
        ),
        ("ok", json!({"sections": {}}), 422, "invalid_field"),
        (
            "ok",
            json!({"sections": {"administration_access": {"networks": ["10.0.0.0/40"]}}}),
            422,
            "invalid_field",
        ),
        (
            "bad%23name",
            json!({"sections": {"cloud_shield": {"enabled": true}}}),
            404,
            "not_found",
        ),
    ] {
        let a = put(format!("{profiles}/{name}"), body.clone()).await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let a = put(
        format!("/v1/tenants/{TENANT}/profile-assignments/appliance/{id}"),
        json!({"profile": "missing"}),
    )
    .await;
    assert_eq!(a.status, 422);
    let a = put(
        format!("/v1/tenants/{TENANT}/profile-assignments/rack/{id}"),
        json!({"profile": "missing"}),
    )
    .await;
    assert_eq!(a.status, 404);
    // Nothing was stored by any of them.
    let listed = s.call("GET", &profiles, None).await;
    assert_eq!(listed["items"], json!([]));
    let view = s.configuration(&agent).await;
    assert_eq!(
        (
            view["version"].as_u64(),
            view["sections"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_changes_are_delivered_embedded() {
    only_changes_are_delivered(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_changes_are_delivered_aws() {
    only_changes_are_delivered(Backend::Aws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_authorizations_apply_part_embedded() {
    restricted_authorizations(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_authorizations_apply_part_aws() {
    restricted_authorizations(Backend::Aws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_profile_input_is_refused_embedded() {
    bad_input_is_refused(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_profile_input_is_refused_aws() {
    bad_input_is_refused(Backend::Aws).await;
}
