//! Security scan end to end on both adapter sets (SPEC 7): an appliance checks in
//! from a dedicated loopback address and reports it on a public interface; the
//! test listens on a few TOP 100 ports of that address; a scan requested in the
//! portal goes through the real `scan` queue to the consumer, which finds exactly
//! those ports open, with the operator allow-list for that one /32. Without the
//! allow-list the address is refused as special-purpose (loopback) and nothing is
//! scanned; an address reported but never seen is not scanned; a second scan while
//! one is queued is refused; so is a scan the appliance's authorization forbids,
//! and one past the tenant's hourly limit. An `X-Forwarded-For` header naming
//! another address does not make the console believe it saw that address.
//! Only loopback addresses are ever connected to.

use chrono::{Duration as ChronoDuration, Utc};
use rampart_agent::client::DeviceClient;
use rampart_app::scans::{Scans, consumer::ScanRun};
use rampart_domain::device_protocol::EnrollRequest;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_domain::portal_protocol::{ScanProfileView, ScanView};
use rampart_domain::report::CheckinReport;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_ports::{Clock, Item, Table};
use rampart_scanner::{AllowList, Profile};
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const TENANT: &str = "100001.sms";
const ADMIN: &str = "admin@example.test";
/// TOP 100 ports the test listens on.
const OPEN: [u16; 3] = [80, 443, 8080];

/// A loopback address of its own (127.77.x.y, x.y random), so parallel tests and
/// anything else listening on 127.0.0.1 do not disturb the counts.
fn random_loopback(second: u8) -> Ipv4Addr {
    let mut r = [0u8; 2];
    getrandom::fill(&mut r).unwrap();
    Ipv4Addr::new(127, second, r[0] % 254 + 1, r[1] % 254 + 1)
}

fn report(interfaces: Value, security_scan: bool) -> CheckinReport {
    serde_json::from_value(json!({
        "firmware": "14.2", "hostname": "fw", "model": "UTM",
        "cpu_percent": 1.0, "memory_percent": 2.0, "disk_percent": 3.0,
        "uptime_secs": 100, "interfaces": interfaces,
        "authorizations": {"status": true, "security_scan": security_scan},
        "privacy_accepted": true, "console_activated": true
    }))
    .unwrap()
}

/// A licensed, enrolled appliance that checked in once from `from`.
async fn appliance(
    app: &PortalApp,
    serial: &str,
    seed: u8,
    from: IpAddr,
    claims: Option<IpAddr>,
    report: &CheckinReport,
) -> String {
    let (_, secret) = app
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
    // The appliance's requests leave from `from`: the console sees that address.
    // A forwarded-for header claims another address: the console must not believe it.
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(claimed) = claims {
        headers.insert("x-forwarded-for", claimed.to_string().parse().unwrap());
    }
    let http = reqwest::Client::builder()
        .local_address(from)
        .default_headers(headers)
        .build()
        .unwrap();
    let mut client = DeviceClient::new(
        http,
        &app.base_url,
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
    client.checkin(report).await.expect("check-in");
    enrolled.appliance_id.to_string()
}

/// Runs the `security-scan` consumer over every message on the scan queue, as
/// the self-hosted runtime and the Lambda do, with `allow` as the operator's list.
async fn run_consumer(app: &PortalApp, allow: &str) -> Vec<ScanRun> {
    let clock: Arc<dyn Clock> = Arc::new(app.clock.clone());
    let scans = Scans::new(
        app.counting.clone(),
        clock,
        AllowList::parse(allow).unwrap(),
    );
    let mut runs = Vec::new();
    for _ in 0..10 {
        let got = app
            .queues
            .scan
            .receive(10, Duration::from_millis(500), Duration::from_secs(60))
            .await
            .unwrap();
        if got.is_empty() && !runs.is_empty() {
            break;
        }
        for m in got {
            runs.push(scans.run(&m.body).await.expect("scan run"));
            app.queues.scan.delete(&m.receipt).await.unwrap();
        }
    }
    runs
}

async fn scans_end_to_end(backend: Backend) {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, ADMIN, Role::Administrator).await;
    let (token, _) = app.sign_in(ADMIN, None).await;
    let call = |method: &'static str, path: String| {
        let app = &app;
        let token = token.clone();
        async move { app.call(method, &path, Some(&token), None).await }
    };

    let seen = random_loopback(77);
    let unseen = random_loopback(78);
    let _listeners: Vec<tokio::net::TcpListener> = {
        let mut v = Vec::new();
        for port in OPEN {
            v.push(
                tokio::net::TcpListener::bind((seen, port))
                    .await
                    .unwrap_or_else(|e| panic!("listen on {seen}:{port}: {e}")),
            );
        }
        v
    };
    let interfaces = json!([
        {"name": "wan0", "addresses": [seen.to_string()], "public": true},
        {"name": "wan1", "addresses": [unseen.to_string()], "public": true},
        {"name": "lan0", "addresses": ["192.168.1.1"], "public": false}
    ]);
    // The appliance claims (X-Forwarded-For) to come from `unseen` as well: wan1
    // must still count as never seen.
    let id = appliance(
        &app,
        "SCAN0001",
        31,
        seen.into(),
        Some(unseen.into()),
        &report(interfaces, true),
    )
    .await;
    let scans_path = format!("/v1/tenants/{TENANT}/appliances/{id}/scans");

    // Started, then a second one is refused while the first is queued.
    let started = call("POST", scans_path.clone()).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let first: ScanView = serde_json::from_value(started.body).unwrap();
    assert_eq!(first.state.as_str(), "queued");
    let again = call("POST", scans_path.clone()).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["error"]["code"], "scan_running");

    // With the allow-list for that one /32: the listeners are found, nothing else.
    let runs = run_consumer(&app, &format!("{seen}/32")).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let got = call("GET", format!("{scans_path}/{}", first.id)).await;
    assert_eq!(got.status, 200, "{}", got.body);
    let scan: ScanView = serde_json::from_value(got.body.clone()).unwrap();
    assert_eq!(scan.state.as_str(), "finished", "{}", got.body);
    assert!(scan.started_at.is_some() && scan.finished_at.is_some());
    assert_eq!(scan.results.len(), 2, "one result per public interface");
    let wan0 = &scan.results[0];
    assert_eq!(wan0.interface, "wan0");
    assert_eq!(wan0.address.as_deref(), Some(seen.to_string().as_str()));
    assert_eq!(json!(wan0.outcome), json!("scanned"));
    let profile = Profile::top100_tcp();
    let open: Vec<(u16, String)> = wan0
        .open
        .iter()
        .map(|p| (p.port, p.service.clone()))
        .collect();
    let expected: Vec<(u16, String)> = OPEN
        .iter()
        .map(|p| (*p, profile.service(*p).unwrap().to_owned()))
        .collect();
    assert_eq!(open, expected);
    assert_eq!(wan0.closed, 97);
    assert_eq!(wan0.filtered, 0);
    let wan1 = &scan.results[1];
    assert_eq!(wan1.interface, "wan1");
    assert_eq!(json!(wan1.outcome), json!("not_observed"));
    assert_eq!(wan1.address.as_deref(), Some(unseen.to_string().as_str()));
    assert!(wan1.open.is_empty() && wan1.closed == 0);

    // A redelivered message of a finished scan does not run it again.
    let clock: Arc<dyn Clock> = Arc::new(app.clock.clone());
    let scans = Scans::new(app.counting.clone(), clock, AllowList::none());
    let body = json!({"tenant": TENANT, "appliance": id, "scan": first.id}).to_string();
    assert_eq!(scans.run(&body).await.unwrap(), ScanRun::Duplicate);

    // The lock is released: a new scan, without the allow-list, refuses loopback.
    app.clock.advance(Duration::from_secs(60));
    let started = call("POST", scans_path.clone()).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let second: ScanView = serde_json::from_value(started.body).unwrap();
    run_consumer(&app, "").await;
    let got = call("GET", format!("{scans_path}/{}", second.id)).await;
    let scan: ScanView = serde_json::from_value(got.body.clone()).unwrap();
    assert_eq!(scan.state.as_str(), "finished", "{}", got.body);
    let wan0 = &scan.results[0];
    assert_eq!(json!(wan0.outcome), json!("refused"), "{}", got.body);
    let reason = wan0.reason.as_deref().unwrap();
    assert!(reason.starts_with("special_purpose_address"), "{reason}");
    assert!(reason.contains("127.0.0.0/8"), "{reason}");
    assert!(wan0.open.is_empty() && wan0.closed == 0 && wan0.started_at.is_none());

    // History, newest first; one scan per page with a cursor to the next.
    let list = call("GET", scans_path.clone()).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![second.id.as_str(), first.id.as_str()]);
    let page = call("GET", format!("{scans_path}?limit=1")).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert!(page.body["next_cursor"].is_string());

    // The tenant's hourly limit: with the hour's counter at the limit, refused
    // with 429, and nothing is queued or locked.
    let now = app.clock.now();
    app.counting
        .put(
            Item::new(rampart_app::records::scan::rate_key(
                &TenantId::parse(TENANT).unwrap(),
                now,
            ))
            .with("count", rampart_app::scans::SCANS_PER_HOUR)
            .with("ttl", now.millis() / 1000 + 7200),
            None,
        )
        .await
        .unwrap();
    let limited = call("POST", scans_path.clone()).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.body["error"]["code"], "too_many_scans");
    let list = call("GET", scans_path.clone()).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);

    // The appliance forbids security scans: refused before anything is stored.
    let other_ip = random_loopback(79);
    let forbidden = appliance(
        &app,
        "SCAN0002",
        32,
        other_ip.into(),
        None,
        &report(
            json!([{"name": "wan0", "addresses": [other_ip.to_string()], "public": true}]),
            false,
        ),
    )
    .await;
    let refused = call(
        "POST",
        format!("/v1/tenants/{TENANT}/appliances/{forbidden}/scans"),
    )
    .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "command_refused");

    // The profile: 100 ports with their services.
    let p = call("GET", "/v1/scan-profile".into()).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let p: ScanProfileView = serde_json::from_value(p.body).unwrap();
    assert_eq!(p.name, "TOP 100 (TCP)");
    assert_eq!(p.ports.len(), 100);
    assert!(
        p.ports
            .iter()
            .any(|x| x.port == 443 && x.service == "https")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_find_open_ports_only_of_observed_allowed_addresses_embedded() {
    scans_end_to_end(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_find_open_ports_only_of_observed_allowed_addresses_aws() {
    scans_end_to_end(Backend::Aws).await;
}
