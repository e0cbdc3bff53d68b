//! Applications (SPEC 3.1, 4.4) on both adapter sets, with the reference agent: the
//! portal lists what the appliance reports, sorted by name or state either way, in
//! pages; the console refuses a job for an application the appliance does not
//! report (or reports N/A); a stop job goes through the queue to the agent, and the
//! state it then reports is what the list shows.

use chrono::{Duration as ChronoDuration, Utc};
use rampart_agent::AgentOptions;
use rampart_agent::run::{Agent, AgentConfig};
use rampart_agent::state::StateFile;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::{Value, json};
use std::time::Duration;

const TENANT: &str = "100001.sms";

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}={}",
                a["name"].as_str().unwrap(),
                a["state"].as_str().unwrap()
            )
        })
        .collect()
}

async fn dispatch_all(app: &PortalApp) {
    loop {
        let batch = app
            .jobs_queue
            .receive(10, Duration::from_millis(500), Duration::from_secs(30))
            .await
            .unwrap();
        if batch.is_empty() {
            return;
        }
        for m in batch {
            app.dispatcher.handle(&m.body).await.expect("dispatch");
            app.jobs_queue.delete(&m.receipt).await.unwrap();
        }
    }
}

async fn applications_listed_sorted_and_operated(backend: Backend) {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, "admin@example.test", Role::Administrator)
        .await;
    let (token, _) = app.sign_in("admin@example.test", None).await;
    let (_, secret) = app
        .admin
        .add_license(NewLicense {
            serial: Serial::parse("AP1AP1AP").unwrap(),
            tenant: TenantId::parse(TENANT).unwrap(),
            product: "UTM".into(),
            expires: (Utc::now() + ChronoDuration::days(365)).date_naive(),
            cluster: None,
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::open_with(
        AgentConfig {
            server: app.base_url.clone(),
            serial: Serial::parse("AP1AP1AP").unwrap(),
            license_secret: secret,
            state_file: StateFile::new(dir.path().join("state.json")),
            firmware: FirmwareVersion::parse("14.1.0").unwrap(),
        },
        AgentOptions::default(),
        app.http.clone(),
    )
    .unwrap();
    agent.enroll().await.unwrap();
    agent.checkin().await.unwrap();
    let id = agent.state.appliance_id.clone().unwrap();
    let apps = format!("/v1/tenants/{TENANT}/appliances/{id}/applications");
    let list = |query: &'static str| {
        let (app, token, apps) = (&app, &token, &apps);
        async move {
            let a = app
                .call("GET", &format!("{apps}{query}"), Some(token), None)
                .await;
            assert_eq!(a.status, 200, "{query}: {}", a.body);
            a.body
        }
    };

    // The agent's fresh appliance: http_proxy and ips UP, vpn DOWN, mail_connector N/A.
    assert_eq!(
        names(&list("").await),
        ["http_proxy=UP", "ips=UP", "mail_connector=N/A", "vpn=DOWN"]
    );
    assert_eq!(
        names(&list("?sort=name&order=desc").await),
        ["vpn=DOWN", "mail_connector=N/A", "ips=UP", "http_proxy=UP"]
    );
    assert_eq!(
        names(&list("?sort=state").await),
        ["http_proxy=UP", "ips=UP", "vpn=DOWN", "mail_connector=N/A"]
    );
    assert_eq!(
        names(&list("?sort=state&order=desc").await),
        ["mail_connector=N/A", "vpn=DOWN", "http_proxy=UP", "ips=UP"]
    );
    let first = list("?sort=state&limit=3").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let a = app
        .call(
            "GET",
            &format!("{apps}?sort=state&limit=3&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(names(&a.body), ["mail_connector=N/A"]);
    assert_eq!(a.body["next_cursor"], Value::Null);
    for bad in ["?sort=size", "?order=up", "?cursor=99", "?cursor=x"] {
        let a = app
            .call("GET", &format!("{apps}{bad}"), Some(&token), None)
            .await;
        assert_eq!(a.status, 422, "{bad}: {}", a.body);
        assert_eq!(a.body["error"]["code"], "invalid_field", "{bad}");
    }

    // A job for an application the appliance does not report, or reports N/A, is
    // refused at once with a clear error; nothing is queued.
    for name in ["no_such_app", "mail_connector"] {
        let a = app
            .call(
                "POST",
                &format!("/v1/tenants/{TENANT}/jobs"),
                Some(&token),
                Some(json!({"target": {"appliance": id},
                            "operation": {"type": "application", "name": name, "action": "start"}})),
            )
            .await;
        assert_eq!(a.status, 409, "{name}: {}", a.body);
        assert_eq!(a.body["error"]["code"], "command_refused");
        let message = a.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("unknown_application") && message.contains(name),
            "{message}"
        );
    }

    // Stopping ips: queued, dispatched, collected and run by the agent, reported.
    let a = app
        .call(
            "POST",
            &format!("/v1/tenants/{TENANT}/jobs"),
            Some(&token),
            Some(json!({"target": {"appliance": id},
                        "operation": {"type": "application", "name": "ips", "action": "stop"}})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let job = a.body["id"].as_str().unwrap().to_owned();
    dispatch_all(&app).await;
    let resp = agent.checkin().await.unwrap();
    assert_eq!(resp.commands.len(), 1, "{resp:?}");
    agent.handle(&resp).await.unwrap();
    agent.checkin().await.unwrap();
    let j = app
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/jobs/{job}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(j.body["counts"]["succeeded"], 1, "{}", j.body);
    assert_eq!(
        names(&list("?sort=state").await),
        [
            "http_proxy=UP",
            "ips=DOWN",
            "vpn=DOWN",
            "mail_connector=N/A"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_listed_sorted_and_operated_embedded() {
    applications_listed_sorted_and_operated(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_listed_sorted_and_operated_aws() {
    applications_listed_sorted_and_operated(Backend::Aws).await;
}
