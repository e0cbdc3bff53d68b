//! The portal commands without a real console: the session file, the exit-code
//! mapping, table rendering, and the binary against a small stub of the portal API
//! (sign-in with and without TOTP enrollment, paging, error statuses).

use axum::extract::{Path as AxPath, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rampart::portal_client::{ApplianceQuery, PortalClient, PortalError, api_error};
use rampart::portal_cmd::{
    self, ApplianceSetArgs, EXIT_CODES, EXIT_CODES_HELP, UsageError, exit_code,
    exit_code_for_status, parse_inventory, parse_location, render_table,
};
use rampart::session_file::{self, Session, SessionError};
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::portal_protocol::{ApplianceSummary, TenantView, UserView};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn session(expires_at: &str) -> Session {
    Session {
        server: "http://127.0.0.1:9".into(),
        token: "secret-token-value".into(),
        email: "admin@example.com".into(),
        expires_at: expires_at.into(),
        idle_timeout_secs: Some(1800),
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

// ---- session file ---------------------------------------------------------------

#[test]
fn session_file_round_trips_with_owner_only_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cfg").join("rampart").join("session.json");
    assert!(session_file::load(&path).unwrap().is_none());
    let s = session("2999-01-01T00:00:00Z");
    session_file::save(&path, &s).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(session_file::load(&path).unwrap(), Some(s.clone()));
    assert_eq!(session_file::load_required(&path).unwrap(), s);
    // Atomic write: nothing but the file itself is left in the directory.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![OsString::from("session.json")]);
    assert!(session_file::remove(&path).unwrap());
    assert!(!session_file::remove(&path).unwrap());
}

#[test]
fn saving_over_a_readable_file_leaves_it_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.json");
    std::fs::write(&path, "{}").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    session_file::save(&path, &session("2999-01-01T00:00:00Z")).unwrap();
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    for key in ["server", "token", "email", "expires_at"] {
        assert!(v.get(key).is_some(), "{key} in {text}");
    }
}

#[test]
fn debug_never_shows_the_token() {
    let s = session("2999-01-01T00:00:00Z");
    let text = format!("{s:?} {s:#?}");
    assert!(!text.contains("secret-token-value"), "{text}");
    assert!(text.contains("admin@example.com"));
    let client = PortalClient::new("http://127.0.0.1:9", Some(s.token.clone())).unwrap();
    assert!(!format!("{client:?}").contains("secret-token-value"));
}

#[test]
fn expired_or_missing_sessions_mean_not_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let e = session_file::load_required(&path).unwrap_err();
    assert!(matches!(
        e.downcast_ref::<SessionError>(),
        Some(SessionError::NotSignedIn(_))
    ));
    assert_eq!(exit_code(&e), 3);
    session_file::save(&path, &session("2000-01-01T00:00:00Z")).unwrap();
    let e = session_file::load_required(&path).unwrap_err();
    assert!(matches!(
        e.downcast_ref::<SessionError>(),
        Some(SessionError::Expired(_))
    ));
    assert_eq!(exit_code(&e), 3);
    std::fs::write(&path, "not json").unwrap();
    assert!(session_file::load(&path).is_err());
}

#[test]
fn session_path_precedence() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(*v))
        }
    };
    let all: &[(&str, &str)] = &[
        ("RAMPART_SESSION_FILE", "/env/s.json"),
        ("XDG_CONFIG_HOME", "/xdg"),
        ("HOME", "/home/u"),
    ];
    let flag = PathBuf::from("/flag/s.json");
    let r = |f: Option<&Path>, e| session_file::resolve_path_with(f, e).unwrap();
    assert_eq!(r(Some(&flag), env(all)), flag);
    assert_eq!(r(None, env(all)), PathBuf::from("/env/s.json"));
    assert_eq!(
        r(
            None,
            env(&[
                ("RAMPART_SESSION_FILE", ""),
                ("XDG_CONFIG_HOME", "/xdg"),
                ("HOME", "/home/u")
            ])
        ),
        PathBuf::from("/xdg/rampart/session.json")
    );
    assert_eq!(
        r(None, env(&[("HOME", "/home/u")])),
        PathBuf::from("/home/u/.config/rampart/session.json")
    );
    assert!(session_file::resolve_path_with(None, env(&[])).is_err());
}

// ---- exit codes -------------------------------------------------------------------

fn api(status: u16, code: &str) -> PortalError {
    PortalError::Api {
        status,
        code: code.into(),
        message: "m".into(),
    }
}

#[test]
fn http_statuses_map_to_documented_exit_codes() {
    let cases = [
        (401, 3),
        (404, 4),
        (403, 5),
        (400, 6),
        (409, 6),
        (413, 6),
        (415, 6),
        (422, 6),
        (429, 7),
        (500, 1),
        (502, 1),
        (418, 1),
    ];
    for (status, code) in cases {
        assert_eq!(exit_code_for_status(status), code, "HTTP {status}");
        let e = anyhow::Error::new(api(status, "x")).context("doing something");
        assert_eq!(exit_code(&e), code, "HTTP {status} through context");
    }
    let transport = PortalError::Transport {
        url: "u".into(),
        detail: "refused".into(),
    };
    assert_eq!(exit_code(&transport.into()), 1);
    assert_eq!(exit_code(&UsageError("x".into()).into()), 2);
    assert_eq!(exit_code(&anyhow::anyhow!("plain")), 1);
}

#[test]
fn exit_code_table_and_help_text_agree() {
    let codes: Vec<u8> = EXIT_CODES.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, (0..=9).collect::<Vec<u8>>());
    for (code, meaning) in EXIT_CODES {
        let line = format!("  {code}  {meaning}");
        assert!(
            EXIT_CODES_HELP.lines().any(|l| l == line),
            "{line:?} missing from the help text"
        );
    }
    assert_eq!(EXIT_CODES_HELP.lines().count(), EXIT_CODES.len() + 1);
}

#[test]
fn error_bodies_become_typed_errors() {
    let body = br#"{"error":{"code":"too_many_attempts","message":"try again after 2030-01-01T00:00:05Z"}}"#;
    let e = api_error(StatusCode::TOO_MANY_REQUESTS, body);
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.code(), Some("too_many_attempts"));
    assert!(e.to_string().contains("2030-01-01T00:00:05Z"), "{e}");
    let e = api_error(StatusCode::BAD_GATEWAY, b"<html>oops</html>");
    assert_eq!(e.status(), Some(502));
    assert_eq!(e.code(), Some("http_502"));
    assert!(e.to_string().contains("Bad Gateway"), "{e}");
}

// ---- arguments and requests ----------------------------------------------------------

#[test]
fn locations_and_inventory_fields_parse() {
    let l = parse_location("48.137,11.575,Munich, HQ").unwrap();
    assert_eq!((l.latitude, l.longitude), (48.137, 11.575));
    assert_eq!(l.label.as_deref(), Some("Munich, HQ"));
    assert_eq!(parse_location("-33.9,18.4").unwrap().label, None);
    for bad in ["", "1", "a,b", "91,0", "0,181"] {
        assert!(parse_location(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse_inventory("rack=B4").unwrap(),
        ("rack".into(), "B4".into())
    );
    assert_eq!(
        parse_inventory("rack=").unwrap(),
        ("rack".into(), "".into())
    );
    assert!(parse_inventory("rack").is_err());
    assert!(parse_inventory("=x").is_err());
}

#[test]
fn patches_send_only_what_was_given() {
    let id = ApplianceId::parse(&format!("ap_{}", "0".repeat(32))).unwrap();
    let args = ApplianceSetArgs {
        id,
        tenant: None,
        name: None,
        tag: vec![],
        no_tags: true,
        location: None,
        clear_location: true,
        inventory: vec![],
    };
    let v = serde_json::to_value(portal_cmd::build_patch(&args, None)).unwrap();
    assert_eq!(v["tags"], json!([]));
    assert_eq!(v["location"], Value::Null);
    let merged = portal_cmd::merge_inventory(
        BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
        &[("a".into(), "".into()), ("c".into(), "3".into())],
    );
    assert_eq!(
        merged,
        BTreeMap::from([("b".into(), "2".into()), ("c".into(), "3".into())])
    );
}

#[test]
fn appliance_queries_are_encoded() {
    let c = PortalClient::new("https://console.example.com/base/", None).unwrap();
    let q = ApplianceQuery {
        name: Some("fw 1&2".into()),
        sort: Some("-name".into()),
        limit: Some(50),
        ..Default::default()
    };
    let url = c.appliances_url(&TenantId::parse("123456.sms").unwrap(), &q);
    assert_eq!(
        url.as_str(),
        "https://console.example.com/base/v1/tenants/123456.sms/appliances?name=fw+1%262&sort=-name&limit=50"
    );
    assert!(PortalClient::new("ftp://x", None).is_err());
    assert!(PortalClient::new("not a url", None).is_err());
}

// ---- tables ---------------------------------------------------------------------------

fn appliance_json(i: usize, name: &str) -> Value {
    json!({
        "id": format!("ap_{:032x}", i),
        "tenant": "123456.sms",
        "name": name,
        "serial": format!("SER{i:05}"),
        "model": "UTM",
        "firmware": "14.0.2",
        "status": if i.is_multiple_of(2) { "Connected" } else { "Disconnected" },
        "last_checkin": if i.is_multiple_of(2) { Some("2030-01-01T00:00:00Z") } else { None },
        "cluster": if i == 1 { Some("ab12") } else { None },
        "tags": if i == 0 { vec!["berlin", "edge"] } else { vec![] },
        "flags": {"report_active": true, "vpn": false, "cloud_shield": false,
                  "update_available": false, "security_update_recommended": false}
    })
}

#[test]
fn tables_align_columns_without_trailing_blanks() {
    let t = render_table(
        &["A", "LONG HEADER", "C"],
        &[
            vec!["xxxx".into(), "y".into(), "z".into()],
            vec!["".into(), "".into(), "".into()],
        ],
    );
    assert_eq!(t, "A     LONG HEADER  C\nxxxx  y            z\n\n");

    let rows: Vec<ApplianceSummary> = (0..2)
        .map(|i| serde_json::from_value(appliance_json(i, ["fw-berlin", "fw-2"][i])).unwrap())
        .collect();
    let mut out = Vec::new();
    portal_cmd::print_appliance_table(&rows, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("NAME       ID  "), "{text}");
    let status_col = lines[0].find("STATUS").unwrap();
    assert_eq!(&lines[1][status_col..status_col + 9], "Connected");
    assert_eq!(&lines[2][status_col..status_col + 12], "Disconnected");
    assert!(lines[1].contains("berlin,edge") && lines[1].ends_with("2030-01-01T00:00:00Z"));
    assert!(
        lines[2].contains("ab12") && lines[2].ends_with('-'),
        "{text}"
    );

    let users: Vec<UserView> = serde_json::from_value(json!([
        {"email": "a@example.com", "tenant": "123456.sms", "role": "administrator", "totp_enabled": true},
        {"email": "viewer.person@example.com", "tenant": "123456.sms", "role": "viewer", "totp_enabled": false}
    ]))
    .unwrap();
    let mut out = Vec::new();
    portal_cmd::print_user_table(&users, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "EMAIL                      ROLE           TOTP  TENANT\n\
         a@example.com              administrator  yes   123456.sms\n\
         viewer.person@example.com  viewer         no    123456.sms\n"
    );

    let tenants: Vec<TenantView> = serde_json::from_value(json!([
        {"id": "100.res", "name": "Reseller", "kind": "reseller", "reseller": null},
        {"id": "123456.sms", "name": "Customer GmbH", "kind": "customer", "reseller": "100.res"}
    ]))
    .unwrap();
    let mut out = Vec::new();
    portal_cmd::print_tenant_table(&tenants, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "ID          NAME           KIND      RESELLER\n\
         100.res     Reseller       reseller  -\n\
         123456.sms  Customer GmbH  customer  100.res\n"
    );

    let mut out = Vec::new();
    portal_cmd::print_appliance_table(&[], &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "No appliances.\n");
}

// ---- the binary ---------------------------------------------------------------------------

fn rampart(args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
    cmd.args(args)
        .env_remove("RAMPART_PASSWORD")
        .env_remove("RAMPART_SESSION_FILE")
        .env_remove("RAMPART_SERVER")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("rampart runs");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_documents_exit_codes_and_usage_errors_exit_2() {
    let out = rampart(&["--help"], &[], None);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains(EXIT_CODES_HELP));
    let out = rampart(&["appliances", "list", "--help"], &[], None);
    assert!(text(&out.stdout).contains("--json"));

    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("s.json");
    let sf = sf.to_str().unwrap();
    for args in [
        &[
            "users",
            "add",
            "a@example.com",
            "--role",
            "boss",
            "--session-file",
            sf,
        ][..],
        &["users", "add", "not-an-email", "--role", "viewer"],
        &["appliances", "set", &format!("ap_{}", "0".repeat(32))],
        &["appliances", "show", "nope"],
        &[
            "appliances",
            "set",
            &format!("ap_{}", "0".repeat(32)),
            "--location",
            "95,0",
        ],
        &["tenants", "create", "123456.sms"],
        &["login", "--email", "a@example.com"],
    ] {
        let out = rampart(args, &[], None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn commands_without_a_session_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("none.json");
    let sf = sf.to_str().unwrap();
    for args in [
        &["me", "--session-file", sf][..],
        &["appliances", "list", "--session-file", sf],
        &["users", "list", "--session-file", sf],
        &["tenants", "list", "--session-file", sf],
    ] {
        let out = rampart(args, &[], None);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(text(&out.stderr).contains("rampart login"));
    }
    let out = rampart(&["me", "--json"], &[("RAMPART_SESSION_FILE", sf)], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let err: Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!(err["error"]["exit_code"], 3);
    // Signing out without a session is not an error.
    let out = rampart(&["logout", "--session-file", sf], &[], None);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn an_unreachable_server_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "hunter2\n").unwrap();
    let out = rampart(
        &[
            "login",
            "--server",
            "http://127.0.0.1:9",
            "--email",
            "a@example.com",
            "--password-file",
            pw.to_str().unwrap(),
            "--session-file",
            dir.path().join("s.json").to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!dir.path().join("s.json").exists());
}

// ---- against a stub of the portal API ---------------------------------------------------

const TOKEN: &str = "tok-abcdef";

fn err(status: StatusCode, code: &str, message: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
}

fn authed(h: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
    match h.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(v) if v == format!("Bearer {TOKEN}") => Ok(()),
        _ => Err(err(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first",
        )),
    }
}

type Answer = Result<Json<Value>, (StatusCode, Json<Value>)>;

fn grant() -> Value {
    json!({"token": TOKEN, "expires_at": "2999-01-01T00:00:00Z", "idle_timeout_secs": 1800})
}

fn stub() -> Router {
    Router::new()
        .route(
            "/v1/auth/login",
            post(|Json(b): Json<Value>| async move {
                let email = b["email"].as_str().unwrap_or_default().to_owned();
                if email == "locked@example.com" {
                    return Err(err(
                        StatusCode::TOO_MANY_REQUESTS,
                        "account_locked",
                        "locked until 2999-01-01T00:15:00Z",
                    ));
                }
                if b["password"] != "hunter2" {
                    return Err(err(
                        StatusCode::UNAUTHORIZED,
                        "bad_credentials",
                        "wrong e-mail or password",
                    ));
                }
                let next = if email == "new@example.com" {
                    "totp_enrollment"
                } else {
                    "totp"
                };
                Ok(Json(
                    json!({"challenge": format!("ch-{email}"), "next": next, "expires_at": "2999-01-01T00:05:00Z"}),
                ))
            }),
        )
        .route(
            "/v1/auth/totp",
            post(|Json(b): Json<Value>| async move {
                if b["challenge"] == "ch-admin@example.com" && b["code"] == "123456" {
                    Ok(Json(grant()))
                } else {
                    Err(err(StatusCode::UNAUTHORIZED, "bad_code", "wrong code"))
                }
            }),
        )
        .route(
            "/v1/auth/totp/enroll",
            post(|Json(b): Json<Value>| async move {
                assert_eq!(b["challenge"], "ch-new@example.com");
                Json(json!({
                    "otpauth_uri": "otpauth://totp/Rampart:new%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Rampart",
                    "secret": "JBSWY3DPEHPK3PXP",
                    "qr_svg": "<svg/>"
                }))
            }),
        )
        .route(
            "/v1/auth/totp/confirm",
            post(|Json(b): Json<Value>| async move {
                if b["challenge"] == "ch-new@example.com" && b["code"] == "654321" {
                    Ok(Json(grant()))
                } else {
                    Err(err(StatusCode::BAD_REQUEST, "bad_code", "wrong code"))
                }
            }),
        )
        .route(
            "/v1/auth/logout",
            post(|h: HeaderMap| async move { authed(&h).map(|()| StatusCode::NO_CONTENT) }),
        )
        .route(
            "/v1/me",
            get(|h: HeaderMap| async move {
                authed(&h)?;
                Answer::Ok(Json(
                    json!({"email": "admin@example.com", "tenant": "123456.sms", "tenant_kind": "customer", "role": "administrator"}),
                ))
            }),
        )
        .route(
            "/v1/tenants/{t}/appliances",
            get(
                |h: HeaderMap, AxPath(t): AxPath<String>, Query(q): Query<HashMap<String, String>>| async move {
                    authed(&h)?;
                    assert_eq!(t, "123456.sms");
                    let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
                    let limit: usize = q.get("limit").map_or(100, |l| l.parse().unwrap());
                    let all: Vec<Value> = (0..5).map(|i| appliance_json(i, &format!("fw-{i}"))).collect();
                    let end = (start + limit).min(all.len());
                    let next = (end < all.len()).then(|| end.to_string());
                    Answer::Ok(Json(json!({"items": all[start..end], "next_cursor": next})))
                },
            ),
        )
        .route(
            "/v1/tenants/{t}/appliances/{id}",
            get(|h: HeaderMap| async move {
                authed(&h)?;
                Answer::Err(err(StatusCode::NOT_FOUND, "not_found", "no such appliance"))
            }),
        )
        .route(
            "/v1/tenants/{t}/users/{email}",
            delete(|h: HeaderMap, AxPath((_, email)): AxPath<(String, String)>| async move {
                authed(&h)?;
                assert_eq!(email, "odd/name+x@example.com");
                Answer::Err(err(StatusCode::FORBIDDEN, "forbidden", "viewers cannot change users"))
            }),
        )
}

async fn start_stub() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, stub()).await.unwrap() });
    format!("http://{addr}")
}

async fn run(args: Vec<String>, envs: Vec<(String, String)>, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        rampart(&args, &envs, stdin.as_deref())
    })
    .await
    .unwrap()
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_list_and_sign_out_against_a_stub() {
    let server = start_stub().await;
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("conf").join("session.json");
    let sfs = sf.to_str().unwrap().to_owned();
    let env = vec![("RAMPART_SESSION_FILE".to_owned(), sfs.clone())];
    let pw_env = vec![
        ("RAMPART_SESSION_FILE".to_owned(), sfs.clone()),
        ("RAMPART_PASSWORD".to_owned(), "hunter2".to_owned()),
    ];

    // A wrong code: 401, no session written.
    let login = |email: &str, code: Option<&str>| {
        let mut a = strings(&["login", "--server", &server, "--email", email]);
        if let Some(c) = code {
            a.extend(strings(&["--code", c]));
        }
        a
    };
    let out = run(
        login("admin@example.com", Some("000000")),
        pw_env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(!sf.exists());

    // Locked: 429 with the time in the message.
    let out = run(login("locked@example.com", Some("1")), pw_env.clone(), None).await;
    assert_eq!(out.status.code(), Some(7));
    assert!(text(&out.stderr).contains("2999-01-01T00:15:00Z"));

    // The code read from stdin.
    let mut args = login("admin@example.com", None);
    args.push("--json".into());
    let out = run(args, pw_env.clone(), Some("123 456\n".into())).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["email"], "admin@example.com");
    assert_eq!(v["tenant"], "123456.sms");
    assert!(v.get("token").is_none());
    assert_eq!(mode(&sf), 0o600);
    let saved = session_file::load(&sf).unwrap().unwrap();
    assert_eq!(saved.token, TOKEN);
    assert_eq!(saved.server, server);

    // One page, then all pages; JSON carries only the page.
    let out = run(
        strings(&["appliances", "list", "--limit", "2", "--json"]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_cursor"], "2");
    let out = run(
        strings(&["appliances", "list", "--limit", "2", "--all", "--json"]),
        env.clone(),
        None,
    )
    .await;
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["next_cursor"], Value::Null);
    let out = run(strings(&["appliances", "list", "--all"]), env.clone(), None).await;
    let table = text(&out.stdout);
    assert_eq!(table.lines().count(), 6, "{table}");
    assert!(table.starts_with("NAME  "));

    // 404 and 403 map to their exit codes.
    let out = run(
        vec![
            "appliances".into(),
            "show".into(),
            format!("ap_{}", "1".repeat(32)),
        ],
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty());
    let out = run(
        strings(&["users", "remove", "odd/name+x@example.com", "--json"]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let e: Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!(e["error"]["code"], "forbidden");
    assert_eq!(e["error"]["status"], 403);

    let out = run(strings(&["me"]), env.clone(), None).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("administrator"));

    let out = run(strings(&["logout"]), env.clone(), None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!sf.exists());
    let out = run(strings(&["me"]), env.clone(), None).await;
    assert_eq!(out.status.code(), Some(3));

    // A revoked token: the server's 401 exits 3 too.
    session_file::save(
        &sf,
        &Session {
            server: server.clone(),
            token: "revoked".into(),
            email: "admin@example.com".into(),
            expires_at: "2999-01-01T00:00:00Z".into(),
            idle_timeout_secs: None,
        },
    )
    .unwrap();
    let out = run(strings(&["appliances", "list"]), env.clone(), None).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("rampart login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sign_in_enrolls_totp() {
    let server = start_stub().await;
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("session.json");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "hunter2\n").unwrap();
    let args = vec![
        "login".to_owned(),
        "--server".into(),
        server.clone(),
        "--email".into(),
        "new@example.com".into(),
        "--password-file".into(),
        pw.to_str().unwrap().into(),
        "--session-file".into(),
        sf.to_str().unwrap().into(),
    ];
    let out = run(args, vec![], Some("654321\n".into())).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("otpauth://totp/Rampart:new%40example.com"),
        "{err}"
    );
    assert!(err.contains("JBSWY3DPEHPK3PXP"));
    assert!(err.contains('█'), "a QR code is drawn: {err}");
    assert!(text(&out.stdout).contains("Signed in"));
    assert!(!text(&out.stdout).contains("otpauth"));
    assert_eq!(mode(&sf), 0o600);
}
