//! `rampart profiles ...` against a real self-hosted console with its demo fleet:
//! a profile saved from a YAML file, assigned to an appliance, applied by the
//! appliance's agent at its next check-in and shown as applied by `status`; a
//! delete refused while assigned (exit 6).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod support;

const CUSTOMER: &str = "100001.sms";

fn rampart(session: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env("RAMPART_SESSION_FILE", session)
        .args(args)
        .output()
        .expect("rampart runs")
}

async fn run(session: &Path, args: &[&str]) -> Output {
    let session = session.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        rampart(&session, &args)
    })
    .await
    .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_is_saved_assigned_and_applied_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::demo_console(dir.path(), 1).await;
    let session = dir.path().join("session.json");
    support::sign_in_demo_admin(&server, dir.path(), &session).await;

    let yaml = dir.path().join("branch.yaml");
    std::fs::write(
        &yaml,
        "fail2ban: {enabled: true, max_retries: 5, ban_time_secs: 600}\ncloud_shield:\n  enabled: true\n",
    )
    .unwrap();
    let yaml = yaml.to_str().unwrap().to_owned();
    let saved = stdout(
        &run(
            &session,
            &["profiles", "save", "Branch", &yaml, "--tenant", CUSTOMER],
        )
        .await,
    );
    assert_eq!(saved.trim(), "Saved Branch version 1.");
    let listed = stdout(&run(&session, &["profiles", "list", "--tenant", CUSTOMER]).await);
    assert!(
        listed.contains("Branch") && listed.contains("fail2ban,cloud_shield"),
        "{listed}"
    );

    // The demo's appliance shows up once its agent has enrolled.
    let mut id = String::new();
    for _ in 0..50 {
        let page: serde_json::Value = serde_json::from_str(&stdout(
            &run(
                &session,
                &["appliances", "list", "--tenant", CUSTOMER, "--json"],
            )
            .await,
        ))
        .unwrap();
        if let Some(first) = page["items"].as_array().and_then(|a| a.first()) {
            id = first["id"].as_str().unwrap().to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!id.is_empty(), "the demo appliance enrolled");
    let assigned = stdout(
        &run(
            &session,
            &[
                "profiles",
                "assign",
                "Branch",
                "--appliance",
                &id,
                "--tenant",
                CUSTOMER,
            ],
        )
        .await,
    );
    assert!(
        assigned.contains("Assigned Branch to appliance"),
        "{assigned}"
    );

    // The agent applies both sections at one of its next check-ins (1 s apart).
    let mut states = Vec::new();
    for _ in 0..60 {
        let view: serde_json::Value = serde_json::from_str(&stdout(
            &run(
                &session,
                &["profiles", "status", &id, "--tenant", CUSTOMER, "--json"],
            )
            .await,
        ))
        .unwrap();
        states = view["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["transfer"]["state"]
                    .as_str()
                    .unwrap_or("pending")
                    .to_owned()
            })
            .collect();
        if states == ["applied", "applied"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(states, ["applied", "applied"]);
    let table = stdout(&run(&session, &["profiles", "status", &id, "--tenant", CUSTOMER]).await);
    assert!(
        table.contains("SECTION") && table.contains("Branch v1"),
        "{table}"
    );
    assert_eq!(table.matches("applied").count(), 2, "{table}");

    // Assigned: the delete is refused (exit 6) and the profile stays.
    let refused = run(
        &session,
        &["profiles", "delete", "Branch", "--tenant", CUSTOMER],
    )
    .await;
    assert_eq!(
        refused.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    stdout(
        &run(
            &session,
            &[
                "profiles",
                "unassign",
                "--appliance",
                &id,
                "--tenant",
                CUSTOMER,
            ],
        )
        .await,
    );
    stdout(
        &run(
            &session,
            &["profiles", "delete", "Branch", "--tenant", CUSTOMER],
        )
        .await,
    );
    let listed = stdout(&run(&session, &["profiles", "list", "--tenant", CUSTOMER]).await);
    assert!(listed.contains("No profiles."), "{listed}");
    server.shutdown().await;
}
