//! `rampart serve` end to end: the self-hosted console in-process on a real
//! socket and embedded store, with real agents checking in over HTTP.

use chrono::{Duration as ChronoDuration, Utc};
use rampart::backend::StoreKind;
use rampart::serve::{self, RunningServer, ServeConfig};
use rampart_agent::fleet::http_client;
use rampart_agent::run::{Agent, AgentConfig};
use rampart_agent::state::StateFile;
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_ports::SystemClock;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

async fn spawn_console(data_dir: &Path, listen: SocketAddr, poll_secs: u64) -> RunningServer {
    rampart_tests::logs::init();
    serve::start(
        ServeConfig {
            listen,
            data_dir: data_dir.to_owned(),
            store: StoreKind::Embedded,
            public_url: None,
            poll_interval: Duration::from_secs(poll_secs),
            maintenance_every: rampart_app::jobs::maintenance::SWEEP_EVERY,
        },
        Arc::new(SystemClock),
    )
    .await
    .expect("console starts")
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn admin_list(server: &RunningServer, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut rb = reqwest::Client::new().get(format!("{}/v1/admin/appliances", server.base_url));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let resp = rb.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_fleet_checks_in_and_the_status_endpoint_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn_console(dir.path(), any_port(), 1).await;
    rampart::demo::start(&mut server, dir.path(), 3)
        .await
        .unwrap();

    let health = reqwest::get(format!("{}/healthz", server.base_url))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);

    let token = std::fs::read_to_string(dir.path().join("secrets/operator.token")).unwrap();
    let all_connected = eventually(Duration::from_secs(20), || async {
        let (status, body) = admin_list(&server, Some(token.trim())).await;
        status == 200
            && body["items"].as_array().is_some_and(|items| {
                items.len() == 3 && items.iter().all(|i| i["status"] == "Connected")
            })
    })
    .await;
    assert!(all_connected, "three demo appliances connected");

    let (status, body) = admin_list(&server, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = admin_list(&server, Some("wrong-token")).await;
    assert_eq!(status, 401);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for secret in ["secrets/operator.token", "demo/licenses.txt"] {
            let mode = std::fs::metadata(dir.path().join(secret))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{secret} is private");
        }
    }
    server.shutdown().await;
}

async fn register(server: &RunningServer, serial: &str) -> String {
    server
        .admin
        .add_license(NewLicense {
            serial: Serial::parse(serial).unwrap(),
            tenant: TenantId::parse("777.sms").unwrap(),
            product: "UTM".into(),
            expires: (Utc::now() + ChronoDuration::days(10)).date_naive(),
            cluster: None,
        })
        .await
        .unwrap()
        .1
}

async fn last_checkin(server: &RunningServer) -> Option<String> {
    server
        .admin
        .fleet()
        .await
        .unwrap()
        .first()
        .and_then(|r| r.last_checkin.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_rides_out_a_console_restart_without_re_enrolling() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_console(&dir.path().join("console"), any_port(), 1).await;
    let addr = server.addr;
    let secret = register(&server, "R1R2R3R4").await;
    let state = StateFile::new(dir.path().join("agent/state.json"));
    let config = AgentConfig {
        server: server.base_url.clone(),
        serial: Serial::parse("R1R2R3R4").unwrap(),
        license_secret: secret,
        state_file: state.clone(),
        firmware: FirmwareVersion::parse("14.0.2").unwrap(),
    };
    let agent = tokio::spawn(Agent::open(config, http_client()).unwrap().run());
    assert!(
        eventually(Duration::from_secs(10), || async {
            last_checkin(&server).await.is_some()
        })
        .await
    );
    let enrolled_as = state.load().unwrap().unwrap().appliance_id;

    server.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let server = spawn_console(&dir.path().join("console"), addr, 1).await;
    let before = last_checkin(&server).await;
    let resumed = eventually(Duration::from_secs(15), || async {
        last_checkin(&server).await > before
    })
    .await;
    assert!(resumed, "the agent checks in with the restarted console");
    assert!(!agent.is_finished(), "the agent is still running");
    assert_eq!(
        state.load().unwrap().unwrap().appliance_id,
        enrolled_as,
        "same identity"
    );
    assert_eq!(
        server.admin.fleet().await.unwrap().len(),
        1,
        "no second enrollment"
    );

    // Stopped: Disconnected after three missed intervals.
    agent.abort();
    let went_away = eventually(Duration::from_secs(10), || async {
        server.admin.fleet().await.unwrap()[0].status == ConnectionStatus::Disconnected
    })
    .await;
    assert!(
        went_away,
        "disconnected after 3 poll intervals without a check-in"
    );
    server.shutdown().await;
}
