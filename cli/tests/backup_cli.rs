//! `rampart backup ...` as an operator runs it: the rotation preview and the offline
//! encrypt/decrypt tools without a server, and the portal commands against a stub of
//! the portal API (what the binary sends, and that no password, PIN or URL signature
//! ever shows in its output).

use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use rampart::session_file::{self, Session};
use rampart_domain::ids::{ApplianceId, BackupId, JobId, Serial, TenantId};
use rampart_domain::jobs::{CommandState, JobCounts};
use rampart_domain::portal_protocol::{BackupSchedule, BackupView, JobView};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "tok-backup";
const TENANT: &str = "123456.sms";
const SERIAL: &str = "A1B2C3D4";
/// The part of a presigned URL that must never be shown.
const SIGNATURE: &str = "SIGsecret0123456789";
/// A password the policy accepts.
const GOOD_PASSWORD: &str = "Correct-Horse-7!";
const PIN: &str = "493817";

fn ap(n: u8) -> ApplianceId {
    ApplianceId::from_random([n; 16])
}

fn bk(n: u8) -> BackupId {
    BackupId::new(1_764_072_000_000 + i64::from(n), [0, 0, 0, n])
}

fn job_id() -> JobId {
    JobId::new(1_764_072_000_000, [0xde, 0xad, 0xbe, 0xef])
}

/// What the backup's object holds: 5000 bytes.
fn object_bytes() -> Vec<u8> {
    (0..5000u32).map(|i| (i % 251) as u8).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs the binary with `stdin` as its input (none: /dev/null).
async fn run(args: Vec<String>, envs: Vec<(String, String)>, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(&args)
            .env_remove("RAMPART_PIN")
            .env_remove("RAMPART_SESSION_FILE")
            .env_remove("RAMPART_PASSWORD")
            .envs(envs)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rampart runs");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

// ---- rotation-plan -----------------------------------------------------------------------

#[tokio::test]
async fn rotation_plan_previews_the_spec_rotation() {
    // Ten daily backups, oldest first: the newest 7 by "last"; their two ISO weeks
    // and their month are used up by those, so "weekly" keeps only the oldest.
    let daily: String = (1..=10)
        .map(|d| format!("2024-05-{d:02}T07:00:00Z\n"))
        .collect();
    let out = run(
        strings(&["backup", "rotation-plan"]),
        vec![],
        Some(daily.clone()),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "\
TIME                      ACTION  RULE
2024-05-10T07:00:00.000Z  keep    last #1
2024-05-09T07:00:00.000Z  keep    last #2
2024-05-08T07:00:00.000Z  keep    last #3
2024-05-07T07:00:00.000Z  keep    last #4
2024-05-06T07:00:00.000Z  keep    last #5
2024-05-05T07:00:00.000Z  keep    last #6
2024-05-04T07:00:00.000Z  keep    last #7
2024-05-03T07:00:00.000Z  delete
2024-05-02T07:00:00.000Z  delete
2024-05-01T07:00:00.000Z  keep    weekly[oldest] #1
8 kept, 2 deleted, of 10.
"
    );
    // The input order does not matter.
    let reversed: String = daily.lines().rev().map(|l| format!("{l}\n")).collect();
    let again = run(
        strings(&["backup", "rotation-plan"]),
        vec![],
        Some(reversed),
    )
    .await;
    assert_eq!(again.stdout, out.stdout);

    // JSON, with weekly and monthly keeps: a week spanning two months (30 April and
    // 2 May), two backups at the same instant (the later line counts as the newer),
    // and an offset time that is still in 2023 in UTC.
    let mixed = "\
2024-01-01T00:30:00+01:00
2024-04-10T07:00:00Z
2024-04-10T07:00:00Z

2024-04-30T07:00:00Z
2024-05-02T07:00:00Z
2024-06-14T07:00:00Z
2024-06-15T07:00:00Z
2024-06-16T07:00:00Z
2024-06-17T07:00:00Z
2024-06-18T07:00:00Z
2024-06-19T07:00:00Z
2024-06-20T07:00:00Z
";
    let out = run(
        strings(&["backup", "rotation-plan", "--json"]),
        vec![],
        Some(mixed.into()),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keep = |time: &str, rule: &str| json!({"time": time, "keep": true, "rule": rule});
    assert_eq!(
        v,
        json!([
            keep("2024-06-20T07:00:00.000Z", "last #1"),
            keep("2024-06-19T07:00:00.000Z", "last #2"),
            keep("2024-06-18T07:00:00.000Z", "last #3"),
            keep("2024-06-17T07:00:00.000Z", "last #4"),
            keep("2024-06-16T07:00:00.000Z", "last #5"),
            keep("2024-06-15T07:00:00.000Z", "last #6"),
            keep("2024-06-14T07:00:00.000Z", "last #7"),
            keep("2024-05-02T07:00:00.000Z", "weekly #1"),
            keep("2024-04-30T07:00:00.000Z", "monthly #1"),
            keep("2024-04-10T07:00:00.000Z", "weekly #2"),
            {"time": "2024-04-10T07:00:00.000Z", "keep": false, "rule": null},
            keep("2023-12-31T23:30:00.000Z", "weekly #3"),
        ])
    );

    // Nothing on stdin; a bad line (exit 6, the line named, nothing on stdout).
    let out = run(
        strings(&["backup", "rotation-plan", "--json"]),
        vec![],
        Some(String::new()),
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        json!([])
    );
    let out = run(
        strings(&["backup", "rotation-plan"]),
        vec![],
        Some("2024-05-01T07:00:00Z\nyesterday\n".into()),
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
}

// ---- encrypt / decrypt -----------------------------------------------------------------

fn no_partial_files(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[tokio::test]
async fn encrypt_and_decrypt_offline() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    // Several 64 KiB chunks and a partial last one.
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(p("config.tar"), &plain).unwrap();
    std::fs::write(p("pw"), format!("{GOOD_PASSWORD}\n")).unwrap();
    std::fs::write(p("wrong-pw"), "Wrong-Horse-8?\n").unwrap();
    let secrets = [GOOD_PASSWORD, "Wrong-Horse-8?"];
    let clean = |o: &Output| {
        for s in secrets {
            assert!(
                !text(&o.stdout).contains(s) && !text(&o.stderr).contains(s),
                "a password shows in the output"
            );
        }
    };

    let out = run(
        strings(&[
            "backup",
            "encrypt",
            "--serial",
            SERIAL,
            "--password-file",
            &p("pw"),
            "--generation",
            "3",
            "--kdf-memory-kib",
            "8192",
            &p("config.tar"),
            "--out",
            &p("backup.rmp"),
        ]),
        vec![],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    clean(&out);
    assert!(
        text(&out.stdout).contains("password generation 3, Argon2id m=8192 KiB t=3 p=4"),
        "{}",
        text(&out.stdout)
    );
    let sealed = std::fs::read(p("backup.rmp")).unwrap();
    assert_eq!(&sealed[..8], &rampart_envelope::MAGIC);
    assert!(sealed.len() > plain.len());

    // The round trip, with --json.
    let decrypt = |pw: &str, serial: &str, input: &str, out: &str| {
        strings(&[
            "backup",
            "decrypt",
            "--serial",
            serial,
            "--password-file",
            pw,
            input,
            "--out",
            out,
        ])
    };
    let mut args = decrypt(&p("pw"), SERIAL, &p("backup.rmp"), &p("restored.tar"));
    args.push("--json".into());
    let out = run(args, vec![], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    clean(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["plaintext_len"], 200_000);
    assert_eq!(v["password_generation"], 3);
    assert_eq!(std::fs::read(p("restored.tar")).unwrap(), plain);

    // A wrong password, a wrong serial: exit 6 with the envelope's code, no output.
    for (pw, serial) in [(p("wrong-pw"), SERIAL), (p("pw"), "A1B2C3D5")] {
        let out = run(
            decrypt(&pw, serial, &p("backup.rmp"), &p("nothing.tar")),
            vec![],
            None,
        )
        .await;
        assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
        clean(&out);
        assert!(
            text(&out.stderr).contains("wrong_password_or_serial"),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
        assert!(!dir.path().join("nothing.tar").exists());
    }
    // A flipped byte in the last chunk: corrupted; an existing output file is left as
    // it was.
    let mut tampered = sealed.clone();
    let last = tampered.len() - 20;
    tampered[last] ^= 0x01;
    std::fs::write(p("tampered.rmp"), &tampered).unwrap();
    std::fs::write(p("old.tar"), "old content").unwrap();
    let out = run(
        decrypt(&p("pw"), SERIAL, &p("tampered.rmp"), &p("old.tar")),
        vec![],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("(corrupted)"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(p("old.tar")).unwrap(),
        "old content"
    );
    // Truncated, and not a backup at all.
    std::fs::write(p("short.rmp"), &sealed[..sealed.len() / 2]).unwrap();
    let out = run(
        decrypt(&p("pw"), SERIAL, &p("short.rmp"), &p("nothing.tar")),
        vec![],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let out = run(
        decrypt(&p("pw"), SERIAL, &p("config.tar"), &p("nothing.tar")),
        vec![],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not_a_backup"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("nothing.tar").exists());
    // A missing input: exit 1.
    let out = run(
        decrypt(&p("pw"), SERIAL, &p("missing.rmp"), &p("nothing.tar")),
        vec![],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    // The backup itself as the output: refused before anything is read.
    let out = run(
        decrypt(&p("pw"), SERIAL, &p("backup.rmp"), &p("backup.rmp")),
        vec![],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(p("backup.rmp")).unwrap(), sealed);

    // Passwords the policy refuses: exit 2, the rule named, the password not shown,
    // nothing written.
    for (bad, rule) in [
        ("Ab1-", "at least 8 characters"),
        ("lowercase-only", "at least 3 of 4 character classes"),
    ] {
        std::fs::write(p("bad-pw"), bad).unwrap();
        let out = run(
            strings(&[
                "backup",
                "encrypt",
                "--serial",
                SERIAL,
                "--password-file",
                &p("bad-pw"),
                "--kdf-memory-kib",
                "8192",
                &p("config.tar"),
                "--out",
                &p("refused.rmp"),
            ]),
            vec![],
            None,
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.contains(rule), "{stderr}");
        assert!(!stderr.contains(bad) && !text(&out.stdout).contains(bad));
        assert!(!dir.path().join("refused.rmp").exists());
    }
    // KDF memory outside the format's bounds.
    let out = run(
        strings(&[
            "backup",
            "encrypt",
            "--serial",
            SERIAL,
            "--password-file",
            &p("pw"),
            "--kdf-memory-kib",
            "1024",
            &p("config.tar"),
            "--out",
            &p("refused.rmp"),
        ]),
        vec![],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // The password is never an argument.
    let out = run(
        strings(&[
            "backup",
            "decrypt",
            "--serial",
            SERIAL,
            "--password",
            GOOD_PASSWORD,
            &p("backup.rmp"),
            "--out",
            &p("nothing.tar"),
        ]),
        vec![],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    // Without a file and without a terminal there is nobody to ask. (Skipped on a
    // terminal: the binary would rightly prompt there.)
    if std::fs::File::open("/dev/tty").is_err() {
        let out = run(
            strings(&[
                "backup",
                "decrypt",
                "--serial",
                SERIAL,
                &p("backup.rmp"),
                "--out",
                &p("nothing.tar"),
            ]),
            vec![],
            None,
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("--password-file"));
    }
    assert!(!dir.path().join("refused.rmp").exists());
    assert!(!dir.path().join("nothing.tar").exists());
    no_partial_files(dir.path());
}

// ---- the portal commands against a stub ----------------------------------------------------

#[derive(Default)]
struct Seen {
    base: String,
    jobs: Vec<Value>,
    downloads: Vec<String>,
    deleted: Vec<String>,
    schedule_puts: Vec<Value>,
    schedule: Option<BackupSchedule>,
    /// Authorization headers the object storage received (must be none).
    storage_auth: Vec<String>,
    storage_queries: Vec<HashMap<String, String>>,
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

fn not_found() -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"code": "not_found", "message": "no such backup"}})),
    )
}

/// The license's five backups, newest first.
fn backups() -> Vec<BackupView> {
    (1..=5u8)
        .rev()
        .map(|n| BackupView {
            id: bk(n),
            serial: Serial::parse(SERIAL).unwrap(),
            appliance: ap(1),
            accepted_at: format!("2025-11-2{n}T07:00:05.000Z"),
            size: 1000 * u64::from(n) + 536,
            password_generation: u32::from(n).min(2),
            made_by: if n == 5 {
                "admin@example.com".into()
            } else {
                "schedule".into()
            },
            job: None,
        })
        .collect()
}

fn page_of<T: serde::Serialize + Clone>(items: &[T], q: &HashMap<String, String>) -> Value {
    let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
    let limit: usize = q.get("limit").map_or(3, |l| l.parse().unwrap());
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    json!({"items": items[start..end].to_vec(), "next_cursor": next})
}

fn schedule_view(s: BackupSchedule) -> Value {
    json!({"schedule": s, "utc_offset_minutes": 60,
           "next_run": s.enabled.then_some("2025-11-26T06:00:00.000Z")})
}

fn stub(seen: Shared) -> Router {
    let backups_path = "/v1/tenants/{t}/licenses/{s}/backups";
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
            backups_path,
            get(
                |h: HeaderMap,
                 AxPath((t, s)): AxPath<(String, String)>,
                 Query(q): Query<HashMap<String, String>>| async move {
                    authed(&h)?;
                    assert_eq!((t.as_str(), s.as_str()), (TENANT, SERIAL));
                    Answer::Ok(Json(page_of(&backups(), &q)))
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/licenses/{s}/backups/{b}/download",
            post(
                |State(seen): State<Shared>,
                 h: HeaderMap,
                 AxPath((_, _, b)): AxPath<(String, String, String)>,
                 Json(body): Json<Value>| async move {
                    authed(&h)?;
                    assert_eq!(body, json!({}));
                    let mut s = seen.lock().unwrap();
                    s.downloads.push(b.clone());
                    // bk(1): whole; bk(2): the object is shorter than announced;
                    // bk(3): the storage refuses (an expired link).
                    let size = match b.as_str() {
                        x if x == bk(1).as_str() || x == bk(3).as_str() => 5000,
                        x if x == bk(2).as_str() => 6000,
                        _ => return Err(not_found()),
                    };
                    let url = format!(
                        "{}/objects/{b}?X-Amz-Expires=300&X-Amz-Signature={SIGNATURE}",
                        s.base
                    );
                    Answer::Ok(Json(json!({"backup_id": b, "size": size, "url": url,
                        "expires_at": "2025-11-25T12:05:00.000Z"})))
                },
            ),
        )
        .route(
            "/objects/{b}",
            get(
                |State(seen): State<Shared>,
                 h: HeaderMap,
                 AxPath(b): AxPath<String>,
                 Query(q): Query<HashMap<String, String>>| async move {
                    let mut s = seen.lock().unwrap();
                    if let Some(a) = h.get("authorization") {
                        s.storage_auth.push(a.to_str().unwrap().to_owned());
                    }
                    s.storage_queries.push(q);
                    if b == bk(3).as_str() {
                        return (StatusCode::FORBIDDEN, "Request has expired").into_response();
                    }
                    object_bytes().into_response()
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/licenses/{s}/backups/{b}",
            axum::routing::delete(
                |State(seen): State<Shared>,
                 h: HeaderMap,
                 AxPath((_, _, b)): AxPath<(String, String, String)>| async move {
                    if let Err(e) = authed(&h) {
                        return e.into_response();
                    }
                    if !backups().iter().any(|v| v.id.as_str() == b) {
                        return not_found().into_response();
                    }
                    seen.lock().unwrap().deleted.push(b);
                    StatusCode::NO_CONTENT.into_response()
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/appliances/{a}/backup-schedule",
            get(|State(seen): State<Shared>, h: HeaderMap| async move {
                authed(&h)?;
                let s = seen.lock().unwrap().schedule.unwrap_or_default();
                Answer::Ok(Json(schedule_view(s)))
            })
            .put(
                |State(seen): State<Shared>, h: HeaderMap, Json(body): Json<Value>| async move {
                    authed(&h)?;
                    let new: BackupSchedule = serde_json::from_value(body.clone()).unwrap();
                    let mut s = seen.lock().unwrap();
                    s.schedule_puts.push(body);
                    s.schedule = Some(new);
                    Answer::Ok(Json(schedule_view(new)))
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/jobs",
            post(
                |State(seen): State<Shared>, h: HeaderMap, Json(b): Json<Value>| async move {
                    authed(&h)?;
                    seen.lock().unwrap().jobs.push(b.clone());
                    Answer::Ok(Json(json!(finished_job(&b))))
                },
            ),
        )
        .with_state(seen)
}

/// The job the stub makes of a request: one appliance, already succeeded.
fn finished_job(b: &Value) -> JobView {
    JobView {
        id: job_id(),
        tenant: TenantId::parse(TENANT).unwrap(),
        operation: serde_json::from_value(b["operation"].clone()).unwrap(),
        target: serde_json::from_value(b["target"].clone()).unwrap(),
        created_at: "2025-11-25T12:00:00.000Z".into(),
        created_by: "admin@example.com".into(),
        appliances: 1,
        counts: JobCounts::of([CommandState::Succeeded]),
        pickup_expected_by: None,
        finished: true,
    }
}

async fn start_stub() -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Shared::default();
    seen.lock().unwrap().base = base.clone();
    let app = stub(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn signed_in(dir: &Path, server: &str) -> Vec<(String, String)> {
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
    vec![(
        "RAMPART_SESSION_FILE".to_owned(),
        sf.to_str().unwrap().to_owned(),
    )]
}

/// Neither stream shows a secret.
fn assert_clean(out: &Output, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !text(&out.stdout).contains(s) && !text(&out.stderr).contains(s),
            "{s:?} shows in the output:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_download_and_delete_against_a_stub() {
    let (server, seen) = start_stub().await;
    let dir = tempfile::tempdir().unwrap();
    let env = signed_in(dir.path(), &server);

    // One page, with a hint on stderr.
    let out = run(strings(&["backup", "list", SERIAL]), env.clone(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert_eq!(
        lines[0],
        "TIME                      ID                        SIZE     PASSWORD GEN  MADE BY"
    );
    assert_eq!(
        lines[1],
        format!(
            "2025-11-25T07:00:05.000Z  {}  5.4 KiB  2             admin@example.com",
            bk(5)
        )
    );
    assert!(lines[3].ends_with("2             schedule"), "{table}");
    assert!(text(&out.stderr).contains("--cursor 3"));
    // Every page, as JSON.
    let out = run(
        strings(&["backup", "list", SERIAL, "--all", "--json"]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["items"], json!(backups()));
    assert_eq!(v["next_cursor"], Value::Null);
    let out = run(
        strings(&[
            "backup", "list", SERIAL, "--limit", "2", "--cursor", "4", "--json",
        ]),
        env.clone(),
        None,
    )
    .await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["items"][0]["id"], bk(1).as_str());

    // Download: the file appears complete, the storage gets no portal token, and the
    // URL's signature is never shown.
    let file = dir.path().join("backup.rmp");
    let args = |b: &BackupId| {
        let mut a = strings(&["backup", "download", SERIAL, b.as_str(), "--out"]);
        a.push(file.to_str().unwrap().into());
        a
    };
    let out = run(args(&bk(1)), env.clone(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_clean(&out, &[SIGNATURE, TOKEN]);
    assert_eq!(std::fs::read(&file).unwrap(), object_bytes());
    assert!(
        text(&out.stdout).contains(&format!("Downloaded backup {}", bk(1))),
        "{}",
        text(&out.stdout)
    );
    {
        let s = seen.lock().unwrap();
        assert!(s.storage_auth.is_empty(), "{:?}", s.storage_auth);
        assert_eq!(s.storage_queries[0]["X-Amz-Signature"], SIGNATURE);
    }
    // --json names the file and the size, not the URL.
    let mut a = args(&bk(1));
    a.push("--json".into());
    let out = run(a, env.clone(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_clean(&out, &[SIGNATURE]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["size"], 5000);
    assert_eq!(v["backup_id"], bk(1).as_str());
    // Shorter than announced, or refused by the storage: an error (without the
    // signature), and the earlier file stays as it was.
    for b in [bk(2), bk(3)] {
        let out = run(args(&b), env.clone(), None).await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert_clean(&out, &[SIGNATURE, "X-Amz"]);
        assert!(
            text(&out.stderr).contains(&format!("{server}/objects/{b}")),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(std::fs::read(&file).unwrap(), object_bytes());
    }
    assert!(text(&run(args(&bk(2)), env.clone(), None).await.stderr).contains("5000 of 6000"));
    // An unknown backup: 404 from the portal, exit 4.
    let out = run(args(&bk(9)), env.clone(), None).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");

    // Delete.
    let out = run(
        strings(&["backup", "delete", SERIAL, bk(4).as_str()]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("Deleted backup {} of license {SERIAL}.", bk(4))
    );
    let out = run(
        strings(&["backup", "delete", SERIAL, bk(9).as_str(), "--json"]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(4));
    let err: Value = serde_json::from_str(text(&out.stderr).lines().last().unwrap()).unwrap();
    assert_eq!(err["error"]["code"], "not_found");
    assert_eq!(seen.lock().unwrap().deleted, vec![bk(4).to_string()]);

    // Not signed in: exit 3.
    let out = run(
        strings(&["backup", "list", SERIAL]),
        vec![(
            "RAMPART_SESSION_FILE".into(),
            dir.path().join("none.json").to_str().unwrap().into(),
        )],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_and_backup_jobs_against_a_stub() {
    let (server, seen) = start_stub().await;
    let dir = tempfile::tempdir().unwrap();
    let env = signed_in(dir.path(), &server);
    let appliance = ap(1);

    // The schedule: shown, moved, turned off (keeping its time).
    let out = run(
        strings(&["backup", "schedule", appliance.as_str()]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("Regular backup: daily at 07:00 appliance time (UTC+01:00)"),
        "{shown}"
    );
    assert!(
        shown.contains("Next run:       2025-11-26T06:00:00.000Z"),
        "{shown}"
    );
    let out = run(
        strings(&[
            "backup",
            "schedule",
            appliance.as_str(),
            "--at",
            "22:30",
            "--json",
        ]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["schedule"],
        json!({"enabled": true, "hour": 22, "minute": 30})
    );
    let out = run(
        strings(&["backup", "schedule", appliance.as_str(), "--off"]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("off (daily at 22:30 appliance time when on)"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("Next run:       -"));
    assert_eq!(
        std::mem::take(&mut seen.lock().unwrap().schedule_puts),
        vec![
            json!({"enabled": true, "hour": 22, "minute": 30}),
            json!({"enabled": false, "hour": 22, "minute": 30}),
        ]
    );

    // create: a `backup` job on a list, printed as `jobs create` prints it.
    let out = run(
        strings(&[
            "backup",
            "create",
            "--appliances",
            &format!("{},{}", ap(1), ap(2)),
        ]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("Created job {}: backup on 1 appliance", job_id())),
        "{}",
        text(&out.stdout)
    );
    let sent = seen.lock().unwrap().jobs.pop().unwrap();
    assert_eq!(
        sent,
        json!({"target": {"list": [ap(1), ap(2)]}, "operation": {"type": "backup"}})
    );
    let out = run(
        strings(&["backup", "create", "--tag", "berlin", "--json"]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["operation"], json!({"type": "backup"}));
    seen.lock().unwrap().jobs.clear();

    // restore: a PIN-protected job carrying the PIN (from a file), followed to its end.
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let mut args = strings(&[
        "backup",
        "restore",
        appliance.as_str(),
        bk(2).as_str(),
        "--wait",
        "--pin-file",
    ]);
    args.push(pin_file.to_str().unwrap().into());
    let out = run(args, env.clone(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_clean(&out, &[PIN]);
    let sent = seen.lock().unwrap().jobs.pop().unwrap();
    assert_eq!(
        sent,
        json!({"target": {"appliance": appliance},
               "operation": {"type": "restore_backup", "backup": bk(2), "taken_at": 0},
               "pin": PIN})
    );
    assert!(
        text(&out.stderr).contains(&format!(
            "restore-backup {} {}: 1/1 finished · succeeded 1",
            bk(2),
            job_id()
        )),
        "{}",
        text(&out.stderr)
    );
    // The PIN from the environment; a malformed one is refused here, unrepeated.
    let mut pin_env = env.clone();
    pin_env.push(("RAMPART_PIN".into(), "12345".into()));
    let out = run(
        strings(&["backup", "restore", appliance.as_str(), bk(2).as_str()]),
        pin_env,
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_clean(&out, &["12345"]);
    assert!(seen.lock().unwrap().jobs.is_empty());

    // set-password: the password from a file, checked locally, sent once in
    // `backup_password`, never shown.
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, format!("{GOOD_PASSWORD}\n")).unwrap();
    let mut args = strings(&[
        "backup",
        "set-password",
        "--tag",
        "berlin",
        "--password-file",
    ]);
    args.push(pw_file.to_str().unwrap().into());
    let mut json_args = args.clone();
    json_args.push("--json".into());
    let out = run(args, env.clone(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_clean(&out, &[GOOD_PASSWORD]);
    assert!(
        text(&out.stdout).contains("set-backup-password on 1 appliance"),
        "{}",
        text(&out.stdout)
    );
    let sent = seen.lock().unwrap().jobs.pop().unwrap();
    assert_eq!(
        sent,
        json!({"target": {"tag": "berlin"},
               "operation": {"type": "set_backup_password", "generation": 0},
               "backup_password": GOOD_PASSWORD})
    );
    let out = run(json_args, env.clone(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_clean(&out, &[GOOD_PASSWORD]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["operation"]["type"], "set_backup_password");
    seen.lock().unwrap().jobs.clear();
    // Refused by the policy: exit 2, the failed rule named, nothing sent.
    std::fs::write(&pw_file, "NoDigitsOrSpecials\n").unwrap();
    let mut args = strings(&[
        "backup",
        "set-password",
        "--appliance",
        appliance.as_str(),
        "--password-file",
    ]);
    args.push(pw_file.to_str().unwrap().into());
    let out = run(args, env.clone(), None).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_clean(&out, &["NoDigitsOrSpecials"]);
    assert!(
        text(&out.stderr).contains(
            "at least 3 of 4 character classes: has upper case and lower case; missing digits and special characters"
        ),
        "{}",
        text(&out.stderr)
    );
    // No file and no terminal: nobody to ask, nothing sent. (Skipped on a terminal.)
    if std::fs::File::open("/dev/tty").is_err() {
        let out = run(
            strings(&["backup", "set-password", "--tag", "berlin"]),
            env.clone(),
            None,
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("--password-file"));
    }
    // Usage errors before anything is sent.
    for args in [
        &["backup", "create"][..],
        &[
            "backup",
            "set-password",
            "--tag",
            "x",
            "--password",
            GOOD_PASSWORD,
        ],
        &["backup", "restore", appliance.as_str(), "bk_1"],
        &["backup", "schedule", appliance.as_str(), "--at", "7"],
    ] {
        let out = run(strings(args), env.clone(), None).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(seen.lock().unwrap().jobs.is_empty());
}
