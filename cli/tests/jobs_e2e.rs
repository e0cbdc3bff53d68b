//! `rampart jobs` and `rampart log` against a real self-hosted console with reference
//! agents running: a tag job with the PIN followed to the end, an application
//! restart, a wrong PIN (exit 8, the reason shown), a console refusal (exit 6), a
//! planned update canceled before pickup, the list, and the communication log with
//! its hash chain verified.

use chrono::{Duration as ChronoDuration, Utc};
use rampart::backend::StoreKind;
use rampart::serve::{self, RunningServer, ServeConfig};
use rampart_agent::fleet::{FleetLicense, spawn_fleet_with};
use rampart_agent::options::AgentOptions;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::jobs::Authorization;
use rampart_domain::license::NewLicense;
use rampart_identity::pin::Pin;
use rampart_ports::SystemClock;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::login_enrolling;

const TENANT: &str = rampart::demo::DEMO_TENANT;
const PIN: &str = "482913";

/// Runs the binary with the session, and the extra environment.
async fn rampart(session: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let session = session.to_owned();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .env("RAMPART_SESSION_FILE", &session)
            .env_remove("RAMPART_PIN")
            .args(&args)
            .envs(envs)
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

fn json_out(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

async fn licenses(server: &RunningServer, serials: &[&str]) -> Vec<FleetLicense> {
    let mut out = Vec::new();
    for s in serials {
        let serial = Serial::parse(s).unwrap();
        let (_, secret) = server
            .admin
            .add_license(NewLicense {
                serial: serial.clone(),
                tenant: TenantId::parse(TENANT).unwrap(),
                product: "UTM test".into(),
                expires: (Utc::now() + ChronoDuration::days(30)).date_naive(),
                cluster: None,
            })
            .await
            .unwrap();
        out.push(FleetLicense { serial, secret });
    }
    out
}

fn spawn(
    server: &mut RunningServer,
    licenses: Vec<FleetLicense>,
    state_dir: &Path,
    options: &AgentOptions,
) {
    let handles = spawn_fleet_with(
        &server.base_url,
        licenses,
        state_dir,
        FirmwareVersion::parse("14.0.2").unwrap(),
        options,
    )
    .unwrap();
    for h in handles {
        server.adopt(tokio::spawn(async move {
            let _ = h.await;
        }));
    }
}

/// The appliance ids by serial, once all `n` have checked in.
async fn appliances(session: &Path, n: usize) -> Vec<(String, String)> {
    let start = Instant::now();
    loop {
        let out = rampart(
            session,
            &["appliances", "list", "--tenant", TENANT, "--all", "--json"],
            &[],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let page = json_out(&out);
        let items = page["items"].as_array().unwrap();
        let seen: Vec<(String, String)> = items
            .iter()
            .filter(|a| a["last_checkin"].is_string())
            .map(|a| {
                (
                    a["serial"].as_str().unwrap().to_owned(),
                    a["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "appliances did not check in: {page}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn id_of<'a>(all: &'a [(String, String)], serial: &str) -> &'a str {
    &all.iter().find(|(s, _)| s == serial).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_the_log_through_the_cli_on_a_real_console() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = serve::start(
        ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data.clone(),
            store: StoreKind::Embedded,
            public_url: None,
            poll_interval: Duration::from_secs(1),
            maintenance_every: Duration::from_secs(1),
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    // The demo's portal (reseller, customer, administrator), without its fleet.
    rampart::demo::start(&mut server, &data, 0).await.unwrap();
    let with_pin = AgentOptions::default().with_pin(Pin::parse(PIN).unwrap());
    let lics = licenses(&server, &["JOBA0001", "JOBA0002", "JOBA0003"]).await;
    spawn(&mut server, lics, &dir.path().join("agents"), &with_pin);
    // One appliance that does not allow one-time updates.
    let lics = licenses(&server, &["JOBB0001"]).await;
    spawn(
        &mut server,
        lics,
        &dir.path().join("agents-b"),
        &with_pin.clone().deny(Authorization::OneTimeUpdate),
    );

    let session = dir.path().join("session.json");
    let password_file = data.join("demo/admin-password.txt");
    let out = tokio::task::spawn_blocking({
        let (s, b, p) = (session.clone(), server.base_url.clone(), password_file);
        move || login_enrolling(&s, &b, rampart::demo::DEMO_ADMIN, &p)
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    let all = appliances(&session, 4).await;
    let (a1, a2, a3, b1) = (
        id_of(&all, "JOBA0001").to_owned(),
        id_of(&all, "JOBA0002").to_owned(),
        id_of(&all, "JOBA0003").to_owned(),
        id_of(&all, "JOBB0001").to_owned(),
    );
    for id in [&a1, &a2] {
        let out = rampart(
            &session,
            &["appliances", "set", id, "--tenant", TENANT, "--tag", "lab"],
            &[],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let pin_path = pin_file.to_str().unwrap();

    // A tag job with the PIN, followed to the end: both reboots succeed.
    let out = rampart(
        &session,
        &[
            "jobs",
            "create",
            "--tenant",
            TENANT,
            "--tag",
            "lab",
            "--operation",
            "reboot",
            "--pin-file",
            pin_path,
            "--wait",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let reboot = json_out(&out);
    assert_eq!(reboot["finished"], true);
    assert_eq!(reboot["appliances"], 2);
    assert_eq!(reboot["counts"]["succeeded"], 2, "{reboot}");
    let reboot_id = reboot["id"].as_str().unwrap().to_owned();
    let progress = text(&out.stderr);
    assert!(
        progress
            .lines()
            .any(|l| l == format!("reboot {reboot_id}: 2/2 finished · succeeded 2")),
        "{progress}"
    );
    assert!(!progress.contains(PIN) && !text(&out.stdout).contains(PIN));

    // An application restart, human output.
    let out = rampart(
        &session,
        &[
            "jobs",
            "create",
            "--tenant",
            TENANT,
            "--appliance",
            &a3,
            "--operation",
            "app-restart",
            "--app",
            "http_proxy",
            "--wait",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.starts_with("Created job job_"), "{said}");
    assert!(
        said.contains("app-restart http_proxy on 1 appliance"),
        "{said}"
    );
    assert!(said.contains("1/1 finished · succeeded 1"), "{said}");

    // A wrong PIN from the environment: rejected by the appliance, exit 8, and the
    // reason with the attempts left.
    let out = rampart(
        &session,
        &[
            "jobs",
            "create",
            "--tenant",
            TENANT,
            "--appliance",
            &a3,
            "--operation",
            "shutdown",
            "--wait",
            "--json",
        ],
        &[("RAMPART_PIN", "000000")],
    )
    .await;
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    let shutdown = json_out(&out);
    assert_eq!(shutdown["counts"]["rejected"], 1, "{shutdown}");
    let shutdown_id = shutdown["id"].as_str().unwrap().to_owned();
    let out = rampart(
        &session,
        &[
            "jobs",
            "show",
            &shutdown_id,
            "--tenant",
            TENANT,
            "--commands",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = json_out(&out);
    let cmd = &shown["commands"][0];
    assert_eq!(cmd["appliance"], a3.as_str());
    assert_eq!(cmd["state"], "rejected");
    assert_eq!(cmd["reason"]["code"], "wrong_pin", "{shown}");
    assert_eq!(cmd["reason"]["attempts_left"], 4);
    let out = rampart(
        &session,
        &[
            "jobs",
            "show",
            &shutdown_id,
            "--tenant",
            TENANT,
            "--commands",
        ],
        &[],
    )
    .await;
    assert!(
        text(&out.stdout).contains("wrong_pin: wrong PIN, 4 attempts left"),
        "{}",
        text(&out.stdout)
    );

    // The console refuses what it knows the appliance does not allow: exit 6.
    let out = rampart(
        &session,
        &[
            "jobs",
            "create",
            "--tenant",
            TENANT,
            "--appliance",
            &b1,
            "--operation",
            "firmware-update",
            "--version",
            "14.1",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let err: Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!(err["error"]["code"], "command_refused");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one_time_update"),
        "{err}"
    );

    // A planned update is not picked up before its time; canceled, it ends there.
    let later = (Utc::now() + ChronoDuration::hours(2)).to_rfc3339();
    let out = rampart(
        &session,
        &[
            "jobs",
            "create",
            "--tenant",
            TENANT,
            "--appliance",
            &a1,
            "--operation",
            "firmware-update",
            "--version",
            "14.1",
            "--at",
            &later,
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let planned_id = json_out(&out)["id"].as_str().unwrap().to_owned();
    // Let dispatch create the command, and a check-in or two pass it by.
    let start = Instant::now();
    loop {
        let out = rampart(
            &session,
            &["jobs", "show", &planned_id, "--tenant", TENANT, "--json"],
            &[],
        )
        .await;
        let v = json_out(&out);
        if v["counts"]["queued"] == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let out = rampart(
        &session,
        &["jobs", "cancel", &planned_id, "--tenant", TENANT, "--json"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let canceled = json_out(&out);
    assert_eq!(canceled["counts"]["canceled"], 1, "{canceled}");
    assert_eq!(canceled["finished"], true);

    // The list, newest first.
    let out = rampart(
        &session,
        &["jobs", "list", "--tenant", TENANT, "--all", "--json"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ids: Vec<String> = json_out(&out)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(ids[0], planned_id);
    assert_eq!(ids[3], reboot_id);
    let out = rampart(&session, &["jobs", "list", "--tenant", TENANT], &[]).await;
    let table = text(&out.stdout);
    assert!(table.starts_with("ID  "), "{table}");
    assert_eq!(table.lines().count(), 5, "{table}");

    // The communication log of the appliance that rebooted, restarted an
    // application and refused a wrong PIN: newest first, with arrows.
    let out = rampart(&session, &["log", &a3, "--tenant", TENANT, "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = json_out(&out);
    let entries = page["items"].as_array().unwrap();
    assert!(entries.len() >= 4, "{page}");
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    assert!(
        entries.iter().any(|e| e["job"] == shutdown_id.as_str()
            && e["direction"] == "appliance_to_console"
            && e["status"] == "refused"),
        "{page}"
    );
    // (Hashes are hex and may hold any digits; the text fields must not.)
    for e in entries {
        for field in ["info", "job"] {
            let v = e[field].as_str().unwrap_or_default();
            assert!(!v.contains(PIN) && !v.contains("000000"), "{e}");
        }
    }
    let out = rampart(&session, &["log", &a3, "--tenant", TENANT], &[]).await;
    let table = text(&out.stdout);
    assert!(table.starts_with("SEQ  TIME"), "{table}");
    assert!(table.contains("console → appliance") && table.contains("appliance → console"));

    // The chain verifies, for every appliance.
    for id in [&a1, &a2, &a3, &b1] {
        let out = rampart(&session, &["log", "verify", id, "--tenant", TENANT], &[]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let said = text(&out.stdout);
        assert!(said.starts_with("chain intact: "), "{said}");
    }
    let out = rampart(
        &session,
        &["log", "verify", &a3, "--tenant", TENANT, "--json"],
        &[],
    )
    .await;
    let v = json_out(&out);
    assert_eq!(v["intact"], true);
    assert_eq!(v["from_genesis"], true);
    assert_eq!(v["first_seq"], 1);
    let last = v["last_seq"].as_u64().unwrap();
    assert!(
        last >= seqs[0] && last >= v["head"]["seq"].as_u64().unwrap(),
        "{v}"
    );

    server.shutdown().await;
}
