//! `rampart jobs` and `rampart log` against a stub of the portal API: what the
//! binary sends (the PIN from a file or the environment, never an argument), the
//! progress of `--wait` and its exit code, paging, and `log verify` on an intact and
//! on a tampered chain.

use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use rampart::session_file::{self, Session};
use rampart_domain::Timestamp;
use rampart_domain::comm_log::{self, Direction, LogEntry, LogFields, LogStatus};
use rampart_domain::ids::{ApplianceId, JobId};
use rampart_domain::jobs::{CommandState, JobCounts, Refusal};
use rampart_domain::portal_protocol::{CommandView, JobView};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "tok-jobs";
const TENANT: &str = "123456.sms";

fn ap(n: u8) -> ApplianceId {
    ApplianceId::from_random([n; 16])
}

fn job_id() -> JobId {
    JobId::new(1_764_072_000_000, [0xde, 0xad, 0xbe, 0xef])
}

/// What the stub saw and how far the job has got.
#[derive(Default)]
struct Seen {
    created: Vec<Value>,
    cancels: Vec<Value>,
    polls: usize,
}

type Shared = Arc<Mutex<Seen>>;
type Answer = Result<Json<Value>, (StatusCode, Json<Value>)>;

fn authed(h: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
    match h.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(v) if v == format!("Bearer {TOKEN}") => Ok(()),
        _ => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": "session_expired", "message": "sign in"}})),
        )),
    }
}

/// The job after `polls` polls: 4 appliances, queued → sent → 3 succeeded and 1
/// rejected (wrong PIN).
fn job_at(operation: &Value, target: &Value, polls: usize) -> JobView {
    use CommandState as S;
    let states: Vec<S> = match polls {
        0 => vec![S::Queued; 4],
        1 => vec![S::Queued, S::Sent, S::Sent, S::Sent],
        2 => vec![S::Succeeded, S::Sent, S::Sent, S::Sent],
        _ => vec![S::Succeeded, S::Succeeded, S::Succeeded, S::Rejected],
    };
    let counts = JobCounts::of(states);
    JobView {
        id: job_id(),
        tenant: rampart_domain::ids::TenantId::parse(TENANT).unwrap(),
        operation: serde_json::from_value(operation.clone()).unwrap(),
        target: serde_json::from_value(target.clone()).unwrap(),
        created_at: "2025-11-25T12:00:00.000Z".into(),
        created_by: "admin@example.com".into(),
        appliances: 4,
        pickup_expected_by: (!counts.is_finished()).then(|| "2025-11-25T12:00:03.000Z".into()),
        finished: counts.is_finished(),
        counts,
    }
}

fn command(n: u8, state: CommandState, reason: Option<Refusal>) -> CommandView {
    CommandView {
        job: job_id(),
        appliance: ap(n),
        state,
        reason,
        refused_by_console: false,
        cancel_requested: false,
        created_at: "2025-11-25T12:00:00.000Z".into(),
        not_before: None,
        collect_by: "2025-11-26T12:00:00.000Z".into(),
        sent_at: Some("2025-11-25T12:00:01.000Z".into()),
        finished_at: state
            .is_terminal()
            .then(|| "2025-11-25T12:00:02.000Z".into()),
        info: None,
    }
}

/// A chain of `n` entries of `appliance`.
fn chain(appliance: &ApplianceId, n: u64) -> Vec<LogEntry> {
    let mut c: Vec<LogEntry> = Vec::new();
    for i in 1..=n {
        let f = LogFields {
            time: Timestamp::from_millis(1_764_072_000_000 + i64::try_from(i).unwrap() * 1000),
            job: Some(job_id().to_string()),
            direction: if i % 2 == 1 {
                Direction::ConsoleToAppliance
            } else {
                Direction::ApplianceToConsole
            },
            status: if i == n {
                LogStatus::Refused
            } else {
                LogStatus::Ok
            },
            info: format!("exchange {i}"),
        };
        let next = comm_log::append(c.last(), appliance, f).unwrap();
        c.push(next);
    }
    c
}

/// The log the stub serves for an appliance: `ap(1)` intact, `ap(2)` with an entry
/// altered, `ap(3)` with the newest entries cut off.
fn served_log(appliance: &str) -> (Vec<LogEntry>, LogEntry) {
    let c = chain(&ApplianceId::parse(appliance).unwrap(), 7);
    let head = c.last().unwrap().clone();
    if appliance == ap(2).as_str() {
        let mut t = c.clone();
        t[3].info = "nothing to see".into();
        (t, head)
    } else if appliance == ap(3).as_str() {
        (c[..5].to_vec(), head)
    } else {
        (c, head)
    }
}

fn page_of<T: serde::Serialize + Clone>(items: &[T], q: &HashMap<String, String>) -> Value {
    let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
    let limit: usize = q.get("limit").map_or(3, |l| l.parse().unwrap());
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    json!({"items": items[start..end].to_vec(), "next_cursor": next})
}

fn stub(seen: Shared) -> Router {
    Router::new()
        .route(
            "/v1/me",
            get(|h: HeaderMap| async move {
                authed(&h)?;
                Answer::Ok(Json(json!({"email": "admin@example.com", "tenant": TENANT,
                    "tenant_kind": "customer", "role": "administrator"})))
            }),
        )
        .route(
            "/v1/tenants/{t}/jobs",
            post(
                |State(seen): State<Shared>, h: HeaderMap, Json(b): Json<Value>| async move {
                    authed(&h)?;
                    seen.lock().unwrap().created.push(b.clone());
                    let view = job_at(&b["operation"], &b["target"], 0);
                    Answer::Ok(Json(json!(view)))
                },
            )
            .get(
                |h: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
                    authed(&h)?;
                    let jobs: Vec<JobView> = (0..5)
                        .map(|i| job_at(&json!({"type": "reboot"}), &json!({"tag": "berlin"}), i))
                        .collect();
                    Answer::Ok(Json(page_of(&jobs, &q)))
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/jobs/{job}",
            get(
                |State(seen): State<Shared>,
                 h: HeaderMap,
                 AxPath((t, job)): AxPath<(String, String)>| async move {
                    authed(&h)?;
                    assert_eq!((t.as_str(), job.as_str()), (TENANT, job_id().as_str()));
                    let mut s = seen.lock().unwrap();
                    s.polls += 1;
                    let b = s.created.last().cloned().unwrap_or(json!({
                        "operation": {"type": "reboot"}, "target": {"tag": "berlin"}}));
                    Answer::Ok(Json(json!(job_at(&b["operation"], &b["target"], s.polls))))
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/jobs/{job}/commands",
            get(
                |h: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
                    authed(&h)?;
                    let all = vec![
                        command(1, CommandState::Succeeded, None),
                        command(2, CommandState::Succeeded, None),
                        command(3, CommandState::Succeeded, None),
                        command(
                            4,
                            CommandState::Rejected,
                            Some(Refusal::WrongPin { attempts_left: 4 }),
                        ),
                    ];
                    Answer::Ok(Json(page_of(&all, &q)))
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/jobs/{job}/cancel",
            post(
                |State(seen): State<Shared>, h: HeaderMap, Json(b): Json<Value>| async move {
                    authed(&h)?;
                    seen.lock().unwrap().cancels.push(b);
                    let mut view = job_at(&json!({"type": "reboot"}), &json!({"tag": "berlin"}), 0);
                    view.counts = JobCounts::of([CommandState::Canceled; 4]);
                    view.finished = true;
                    Answer::Ok(Json(json!(view)))
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/appliances/{a}/log",
            get(
                |h: HeaderMap,
                 AxPath((_, a)): AxPath<(String, String)>,
                 Query(q): Query<HashMap<String, String>>| async move {
                    authed(&h)?;
                    let (mut entries, _) = served_log(&a);
                    if q.get("order").map(String::as_str) != Some("oldest") {
                        entries.reverse();
                    }
                    Answer::Ok(Json(page_of(&entries, &q)))
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/appliances/{a}/log/head",
            get(
                |h: HeaderMap, AxPath((_, a)): AxPath<(String, String)>| async move {
                    authed(&h)?;
                    let (_, head) = served_log(&a);
                    Answer::Ok(Json(json!({"appliance": a, "head": head.head()})))
                },
            ),
        )
        .with_state(seen)
}

async fn start_stub() -> (String, Shared) {
    let seen = Shared::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = stub(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn signed_in(dir: &Path, server: &str) -> String {
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
    sf.to_str().unwrap().to_owned()
}

async fn run(args: Vec<String>, envs: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(&args)
            .env_remove("RAMPART_PIN")
            .env_remove("RAMPART_SESSION_FILE")
            .envs(envs)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("rampart runs")
    })
    .await
    .unwrap()
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_wait_show_list_and_cancel_against_a_stub() {
    let (server, seen) = start_stub().await;
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "RAMPART_SESSION_FILE".to_owned(),
        signed_in(dir.path(), &server),
    )];
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, "493817\n").unwrap();

    // A PIN-protected operation without a PIN source and without a terminal: usage
    // error (2), nothing sent. (Skipped when run from a terminal: the binary would
    // rightly prompt on it.)
    if std::fs::File::open("/dev/tty").is_err() {
        let out = run(
            strings(&["jobs", "create", "--tag", "berlin", "--operation", "reboot"]),
            env.clone(),
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("--pin-file"),
            "{}",
            text(&out.stderr)
        );
        assert!(seen.lock().unwrap().created.is_empty());
    }
    // A malformed PIN is refused here, without repeating it.
    let mut bad_env = env.clone();
    bad_env.push(("RAMPART_PIN".into(), "98765".into()));
    let out = run(
        strings(&["jobs", "create", "--tag", "berlin", "--operation", "reboot"]),
        bad_env,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("98765"));
    assert!(seen.lock().unwrap().created.is_empty());

    // --wait: progress on stderr, one line per change (not a terminal), then the
    // final view; one command rejected, so exit 8.
    let mut args = strings(&[
        "jobs",
        "create",
        "--tag",
        "berlin",
        "--operation",
        "reboot",
        "--wait",
        "--pin-file",
    ]);
    args.push(pin_file.to_str().unwrap().into());
    let out = run(args, env.clone()).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(8), "{stdout}\n{stderr}");
    let sent = seen.lock().unwrap().created.pop().unwrap();
    assert_eq!(
        sent,
        json!({"target": {"tag": "berlin"}, "operation": {"type": "reboot"}, "pin": "493817"})
    );
    assert!(!stdout.contains("493817") && !stderr.contains("493817"));
    assert!(
        stdout.contains(&format!("Created job {}", job_id())),
        "{stdout}"
    );
    assert!(
        stdout.contains("Pickup expected by 2025-11-25T12:00:03.000Z"),
        "{stdout}"
    );
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("reboot job_"))
        .collect();
    assert_eq!(
        progress,
        vec![
            format!("reboot {}: 0/4 finished · queued 4", job_id()),
            format!("reboot {}: 0/4 finished · queued 1 · sent 3", job_id()),
            format!("reboot {}: 1/4 finished · succeeded 1 · sent 3", job_id()),
            format!(
                "reboot {}: 4/4 finished · succeeded 3 · rejected 1",
                job_id()
            ),
        ],
        "{stderr}"
    );
    assert!(!stderr.contains('\r'));
    assert!(
        stderr.contains("1 of 4 commands did not succeed"),
        "{stderr}"
    );
    // The commands that did not succeed are listed, with their reason.
    assert!(stdout.contains("Not succeeded:"), "{stdout}");
    assert!(
        stdout.contains("wrong_pin: wrong PIN, 4 attempts left"),
        "{stdout}"
    );
    assert!(stdout.contains(ap(4).as_str()) && !stdout.contains(ap(1).as_str()));

    // --json --wait: only the final job on stdout.
    seen.lock().unwrap().polls = 0;
    let args = strings(&[
        "jobs",
        "create",
        "--appliances",
        &format!("{},{}", ap(1), ap(2)),
        "--operation",
        "app-restart",
        "--app",
        "http_proxy",
        "--wait",
        "--json",
    ]);
    let out = run(args, env.clone()).await;
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["finished"], true);
    assert_eq!(v["counts"]["rejected"], 1);
    let sent = seen.lock().unwrap().created.pop().unwrap();
    assert_eq!(
        sent,
        json!({"target": {"list": [ap(1), ap(2)]},
               "operation": {"type": "application", "name": "http_proxy", "action": "restart"}})
    );
    let err: Value = serde_json::from_str(text(&out.stderr).lines().last().unwrap()).unwrap();
    assert_eq!(err["error"]["exit_code"], 8);
    assert_eq!(err["error"]["code"], "job_unsuccessful");

    // Without --wait: the created job, at once; the PIN from the environment.
    let mut pin_env = env.clone();
    pin_env.push(("RAMPART_PIN".into(), "111222".into()));
    let out = run(
        strings(&[
            "jobs",
            "create",
            "--appliance",
            ap(1).as_str(),
            "--operation",
            "factory-reset",
            "--json",
        ]),
        pin_env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], job_id().as_str());
    assert_eq!(v["counts"]["queued"], 4);
    let sent = seen.lock().unwrap().created.pop().unwrap();
    assert_eq!(sent["pin"], "111222");
    assert_eq!(sent["target"], json!({"appliance": ap(1)}));

    // A planned firmware update: the time goes out as milliseconds; no PIN.
    let out = run(
        strings(&[
            "jobs",
            "create",
            "--tag",
            "hq",
            "--operation",
            "firmware-update",
            "--version",
            "14.2",
            "--at",
            "2030-01-31T22:00:00Z",
        ]),
        env.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sent = seen.lock().unwrap().created.pop().unwrap();
    assert_eq!(
        sent,
        json!({"target": {"tag": "hq"}, "operation": {"type": "firmware_update",
               "version": "14.2.0", "not_before": 1_896_127_200_000_i64}})
    );
    assert!(
        text(&out.stdout)
            .contains("firmware update to 14.2.0, not before 2030-01-31T22:00:00.000Z")
    );

    // show --commands follows the command pages (the stub pages by 3).
    let out = run(
        strings(&["jobs", "show", job_id().as_str(), "--commands", "--json"]),
        env.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["commands"].as_array().unwrap().len(), 4);
    assert_eq!(v["job"]["id"], job_id().as_str());
    let out = run(
        strings(&["jobs", "show", job_id().as_str(), "--commands"]),
        env.clone(),
    )
    .await;
    let table = text(&out.stdout);
    assert!(
        table.contains("APPLIANCE") && table.lines().filter(|l| l.starts_with("ap_")).count() == 4,
        "{table}"
    );

    // list: one page (with a hint on stderr), or all.
    let out = run(strings(&["jobs", "list", "--json"]), env.clone()).await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    assert_eq!(v["next_cursor"], "3");
    let out = run(strings(&["jobs", "list", "--all"]), env.clone()).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        6,
        "{}",
        text(&out.stdout)
    );

    // cancel: the whole job, or some appliances.
    let out = run(
        strings(&["jobs", "cancel", job_id().as_str(), "--json"]),
        env.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(
        strings(&[
            "jobs",
            "cancel",
            job_id().as_str(),
            "--appliance",
            ap(1).as_str(),
            "--appliance",
            ap(2).as_str(),
        ]),
        env.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("canceled 4"));
    let cancels = std::mem::take(&mut seen.lock().unwrap().cancels);
    assert_eq!(
        cancels,
        vec![json!({}), json!({"appliances": [ap(1), ap(2)]})]
    );

    // Usage errors exit 2 before anything is sent.
    for args in [
        &["jobs", "create", "--operation", "reboot"][..],
        &["jobs", "create", "--tag", "x", "--operation", "app-stop"],
        &[
            "jobs",
            "create",
            "--tag",
            "x",
            "--operation",
            "reboot",
            "--pin",
            "123456",
        ],
        &["jobs", "show", "job_1"],
    ] {
        let out = run(strings(args), env.clone()).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(seen.lock().unwrap().created.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_and_log_verify_against_a_stub() {
    let (server, _) = start_stub().await;
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "RAMPART_SESSION_FILE".to_owned(),
        signed_in(dir.path(), &server),
    )];

    // Newest first, paged.
    let out = run(strings(&["log", ap(1).as_str()]), env.clone()).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("SEQ  TIME"));
    assert!(
        lines[1].starts_with("7 ")
            && lines[1].contains("console → appliance")
            && lines[1].contains("refused"),
        "{table}"
    );
    assert!(lines[2].contains("appliance → console"), "{table}");
    assert!(text(&out.stderr).contains("--cursor 3"));
    let out = run(
        strings(&["log", ap(1).as_str(), "--all", "--json"]),
        env.clone(),
    )
    .await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let seqs: Vec<u64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![7, 6, 5, 4, 3, 2, 1]);

    // An intact chain.
    let out = run(strings(&["log", "verify", ap(1).as_str()]), env.clone()).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "chain intact: 7 entries, seq 1..7"
    );
    let out = run(
        strings(&["log", "verify", ap(1).as_str(), "--json"]),
        env.clone(),
    )
    .await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], true);
    assert_eq!(
        (v["first_seq"].as_u64(), v["last_seq"].as_u64()),
        (Some(1), Some(7))
    );

    // An altered entry: exit 9, the entry named.
    let out = run(strings(&["log", "verify", ap(2).as_str()]), env.clone()).await;
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("chain BROKEN at seq 4: entry 4 was altered"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("is broken"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        strings(&["log", "verify", ap(2).as_str(), "--json"]),
        env.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(9));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], false);
    assert_eq!(v["break"]["kind"], "altered");
    // The newest entries cut off: only the head catches it.
    let out = run(
        strings(&["log", "verify", ap(3).as_str(), "--json"]),
        env.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["break"]["kind"], "truncated");
    assert_eq!(v["break"]["newest_present"], 5);
}
