//! `rampart serve` wires the security scan: the device API records the socket's
//! peer address (ConnectInfo), and the in-process `security-scan` consumer runs a
//! scan the portal queued, with the allow-list the operator passed. Only loopback
//! addresses are connected to.

use chrono::{Duration as ChronoDuration, Utc};
use rampart::backend::StoreKind;
use rampart::serve::{self, ServeConfig};
use rampart_agent::client::DeviceClient;
use rampart_app::portal::Principal;
use rampart_domain::device_protocol::EnrollRequest;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_domain::portal_protocol::{ScanOutcome, ScanState};
use rampart_domain::report::CheckinReport;
use rampart_domain::tenancy::{Email, Role, TenantKind};
use rampart_ports::SystemClock;
use rampart_scanner::AllowList;
use serde_json::json;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_records_the_peer_and_runs_queued_scans_in_process() {
    rampart_tests::logs::init();
    let mut r = [0u8; 2];
    getrandom::fill(&mut r).unwrap();
    let addr = Ipv4Addr::new(127, 75, r[0] % 254 + 1, r[1] % 254 + 1);
    let _open = tokio::net::TcpListener::bind((addr, 8080)).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let server = serve::start_with(
        ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_owned(),
            store: StoreKind::Embedded,
            public_url: None,
            poll_interval: Duration::from_secs(60),
            maintenance_every: rampart_app::jobs::maintenance::SWEEP_EVERY,
        },
        Arc::new(SystemClock),
        AllowList::parse(&format!("{addr}/32")).unwrap(),
    )
    .await
    .expect("console starts");

    let tenant = TenantId::parse("100001.sms").unwrap();
    let (_, secret) = server
        .admin
        .add_license(NewLicense {
            serial: Serial::parse("SERVESC1").unwrap(),
            tenant: tenant.clone(),
            product: "UTM".into(),
            expires: (Utc::now() + ChronoDuration::days(30)).date_naive(),
            cluster: None,
        })
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(addr))
        .build()
        .unwrap();
    let mut client = DeviceClient::new(
        http,
        &server.base_url,
        ed25519_dalek::SigningKey::from_bytes(&[77; 32]),
    );
    let enrolled = client
        .enroll(&EnrollRequest {
            serial: Serial::parse("SERVESC1").unwrap(),
            license_secret: secret,
            public_key: client.public_key_base64(),
            firmware: FirmwareVersion::parse("14.2").unwrap(),
            hostname: "fw".into(),
            model: "UTM".into(),
        })
        .await
        .unwrap();
    client.set_appliance(enrolled.appliance_id.as_str());
    let report: CheckinReport = serde_json::from_value(json!({
        "firmware": "14.2", "hostname": "fw", "model": "UTM",
        "cpu_percent": 1.0, "memory_percent": 2.0, "disk_percent": 3.0, "uptime_secs": 9,
        "interfaces": [{"name": "wan0", "addresses": [addr.to_string()], "public": true}],
        "authorizations": {"security_scan": true}
    }))
    .unwrap();
    client.checkin(&report).await.unwrap();

    let admin = Principal {
        email: Email::parse("admin@example.test").unwrap(),
        tenant: tenant.clone(),
        tenant_kind: TenantKind::Customer,
        role: Role::Administrator,
        session_id: "test".into(),
    };
    let appliance = ApplianceId::parse(enrolled.appliance_id.as_str()).unwrap();
    let queued = server
        .portal
        .start_scan(&admin, &tenant, &appliance)
        .await
        .unwrap();
    let mut scan = queued.clone();
    for _ in 0..200 {
        scan = server
            .portal
            .scan(&admin, &tenant, &appliance, &queued.id)
            .await
            .unwrap();
        if scan.state.is_done() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(scan.state, ScanState::Finished, "{scan:?}");
    assert_eq!(scan.results.len(), 1);
    assert_eq!(scan.results[0].outcome, ScanOutcome::Scanned);
    assert_eq!(
        scan.results[0]
            .open
            .iter()
            .map(|p| p.port)
            .collect::<Vec<_>>(),
        vec![8080]
    );
    server.shutdown().await;
}
