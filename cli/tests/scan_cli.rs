//! `rampart scan ...` against a stub of the portal API: what the binary sends,
//! the tables and JSON it prints, `--wait` following a scan to its end, and the
//! exit codes of a refused (409) and a throttled (429) start.

use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use rampart::session_file::{self, Session};
use rampart_domain::ids::{ApplianceId, ScanId};
use rampart_domain::portal_protocol::{
    ListPage, ScanOpenPort, ScanOutcome, ScanResultView, ScanState, ScanView,
};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "tok-scan";
const TENANT: &str = "123456.sms";

fn ap(n: u8) -> ApplianceId {
    ApplianceId::from_random([n; 16])
}

fn scan_id() -> ScanId {
    ScanId::new(1_764_072_000_000, [0xde, 0xad, 0xbe, 0xef])
}

fn view(state: ScanState) -> ScanView {
    ScanView {
        id: scan_id(),
        appliance: ap(1),
        profile: "TOP 100 (TCP)".into(),
        state,
        requested_by: "admin@example.com".into(),
        requested_at: "2025-11-25T12:00:00.000Z".into(),
        started_at: (state != ScanState::Queued).then(|| "2025-11-25T12:00:01.000Z".into()),
        finished_at: state.is_done().then(|| "2025-11-25T12:00:04.000Z".into()),
        results: if state == ScanState::Finished {
            vec![
                ScanResultView {
                    interface: "wan0".into(),
                    address: Some("203.0.113.7".into()),
                    outcome: ScanOutcome::Scanned,
                    reason: None,
                    started_at: Some("2025-11-25T12:00:01.000Z".into()),
                    finished_at: Some("2025-11-25T12:00:04.000Z".into()),
                    open: vec![ScanOpenPort {
                        port: 443,
                        service: "https".into(),
                    }],
                    closed: 98,
                    filtered: 1,
                },
                ScanResultView {
                    interface: "wan1".into(),
                    address: Some("10.1.1.1".into()),
                    outcome: ScanOutcome::Refused,
                    reason: Some("special_purpose_address: 10.1.1.1 is private".into()),
                    started_at: None,
                    finished_at: None,
                    open: Vec::new(),
                    closed: 0,
                    filtered: 0,
                },
            ]
        } else {
            Vec::new()
        },
        error: None,
    }
}

#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    polls: u32,
}

type Shared = Arc<Mutex<Seen>>;

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

fn error(status: StatusCode, code: &str) -> axum::response::Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": code}})),
    )
        .into_response()
}

async fn start(
    State(seen): State<Shared>,
    h: HeaderMap,
    AxPath((tenant, appliance)): AxPath<(String, String)>,
) -> axum::response::Response {
    assert!(authorized(&h));
    seen.lock()
        .unwrap()
        .requests
        .push(format!("POST {tenant} {appliance}"));
    if appliance == ap(2).as_str() {
        return error(StatusCode::CONFLICT, "scan_running");
    }
    if appliance == ap(3).as_str() {
        return error(StatusCode::TOO_MANY_REQUESTS, "too_many_scans");
    }
    (StatusCode::ACCEPTED, Json(view(ScanState::Queued))).into_response()
}

async fn list(
    State(seen): State<Shared>,
    h: HeaderMap,
    AxPath((tenant, appliance)): AxPath<(String, String)>,
) -> axum::response::Response {
    assert!(authorized(&h));
    seen.lock()
        .unwrap()
        .requests
        .push(format!("LIST {tenant} {appliance}"));
    Json(ListPage {
        items: vec![view(ScanState::Finished)],
        next_cursor: None,
    })
    .into_response()
}

async fn show(
    State(seen): State<Shared>,
    h: HeaderMap,
    AxPath((tenant, appliance, scan)): AxPath<(String, String, String)>,
) -> axum::response::Response {
    assert!(authorized(&h));
    let mut s = seen.lock().unwrap();
    s.requests.push(format!("GET {tenant} {appliance} {scan}"));
    s.polls += 1;
    // Running on the first poll, finished after.
    let state = if s.polls == 1 {
        ScanState::Running
    } else {
        ScanState::Finished
    };
    Json(view(state)).into_response()
}

async fn profile(h: HeaderMap) -> axum::response::Response {
    assert!(authorized(&h));
    Json(rampart_app::portal::scan_profile()).into_response()
}

async fn stub() -> (String, Shared) {
    let seen = Shared::default();
    let app = Router::new()
        .route(
            "/v1/tenants/{tenant}/appliances/{appliance}/scans",
            get(list).post(start),
        )
        .route(
            "/v1/tenants/{tenant}/appliances/{appliance}/scans/{scan}",
            get(show),
        )
        .route("/v1/scan-profile", get(profile))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn session(dir: &Path, server: &str) -> std::path::PathBuf {
    let sf = dir.join("session.json");
    session_file::save(
        &sf,
        &Session {
            server: server.to_owned(),
            token: TOKEN.into(),
            email: "admin@example.com".into(),
            expires_at: "2999-01-01T00:00:00Z".into(),
            idle_timeout_secs: None,
        },
    )
    .unwrap();
    sf
}

async fn run(session: &Path, args: &[&str]) -> Output {
    let session = session.to_owned();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(&args)
            .env("RAMPART_SESSION_FILE", &session)
            .stdin(Stdio::null())
            .output()
            .expect("rampart runs")
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_commands_start_wait_show_list_and_profile() {
    let (base, seen) = stub().await;
    let dir = tempfile::tempdir().unwrap();
    let sf = session(dir.path(), &base);
    let a1 = ap(1).to_string();

    // start --wait follows the scan until it finished, then prints it.
    let out = run(&sf, &["scan", "start", &a1, "--tenant", TENANT, "--wait"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("State:"), "{stdout}");
    assert!(stdout.contains("finished"), "{stdout}");
    assert!(stdout.contains("wan0 203.0.113.7: scanned"), "{stdout}");
    assert!(stdout.contains("1 open, 98 closed, 1 filtered"), "{stdout}");
    assert!(stdout.contains("443/tcp"), "{stdout}");
    assert!(stdout.contains("https"), "{stdout}");
    assert!(stdout.contains("wan1 10.1.1.1: refused"), "{stdout}");
    assert!(stdout.contains("special_purpose_address"), "{stdout}");
    let sid = scan_id().to_string();
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.requests[0], format!("POST {TENANT} {a1}"));
        assert_eq!(s.requests[1], format!("GET {TENANT} {a1} {sid}"));
        assert!(s.polls >= 2);
    }

    // show --json: the wire type.
    let out = run(
        &sf,
        &["scan", "show", &a1, &sid, "--tenant", TENANT, "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: ScanView = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.state, ScanState::Finished);

    // list: a table, newest first.
    let out = run(&sf, &["scan", "list", &a1, "--tenant", TENANT]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("REQUESTED"), "{stdout}");
    assert!(
        stdout.contains(&sid) && stdout.contains("finished"),
        "{stdout}"
    );

    // profile: the 100 ports.
    let out = run(&sf, &["scan", "profile"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("TOP 100 (TCP) (100 ports)"), "{stdout}");
    assert_eq!(stdout.lines().count(), 102, "{stdout}");
    let out = run(&sf, &["scan", "profile", "--json"]).await;
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["ports"].as_array().unwrap().len(), 100);

    // A scan already running: refused, exit 6; the tenant's limit: exit 7.
    let out = run(
        &sf,
        &["scan", "start", &ap(2).to_string(), "--tenant", TENANT],
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("scan_running"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        &sf,
        &["scan", "start", &ap(3).to_string(), "--tenant", TENANT],
    )
    .await;
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
}
