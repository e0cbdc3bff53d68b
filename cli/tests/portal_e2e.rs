//! The `rampart` binary against a real self-hosted console: bootstrap, first
//! sign-in with TOTP enrollment answered at the prompt, listing, editing, exit
//! codes, sign-out.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod support;

fn rampart(session: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env("RAMPART_SESSION_FILE", session)
        .args(args)
        .output()
        .expect("rampart runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_signs_in_and_works_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::demo_console(dir.path(), 2).await;
    let session = dir.path().join("session.json");
    support::sign_in_demo_admin(&server, dir.path(), &session).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&session).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // The demo fleet shows up under the reseller's customer.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || {
        rampart(
            &s,
            &["appliances", "list", "--tenant", "100001.sms", "--json"],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    // The agents report with the status authorization on: the report icon is lit.
    assert_eq!(page["items"][0]["flags"]["report_active"], true, "{page}");
    // The demo's firmware catalog has a newer security release than their 14.0.2.
    assert_eq!(
        page["items"][0]["flags"]["update_available"], true,
        "{page}"
    );
    assert_eq!(
        page["items"][0]["flags"]["security_update_recommended"], true,
        "{page}"
    );
    let first = page["items"][0]["id"].as_str().unwrap().to_owned();

    // Its applications, by state descending (N/A, DOWN, UP; ties by name).
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || {
        rampart(
            &s,
            &[
                "appliances",
                "apps",
                &first,
                "--tenant",
                "100001.sms",
                "--sort",
                "state",
                "--order",
                "desc",
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["NAME", "STATE"],
            vec!["mail_connector", "N/A"],
            vec!["vpn", "DOWN"],
            vec!["http_proxy", "UP"],
            vec!["ips", "UP"],
        ],
        "{text}"
    );
    // The catalog and the removals are empty on a fresh console.
    let s = session.clone();
    let out =
        tokio::task::spawn_blocking(move || rampart(&s, &["appliances", "firmware", "--json"]))
            .await
            .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The demo's catalog, oldest first, with 14.0.3 its security release.
    let catalog: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions: Vec<(&str, bool)> = catalog
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["version"].as_str().unwrap(), r["security"] == true))
        .collect();
    assert_eq!(
        versions,
        [("14.0.2", false), ("14.0.3", true), ("14.1.0", false)]
    );
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || {
        rampart(&s, &["appliances", "removed", "--tenant", "100001.sms"])
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "No appliances removed."
    );

    // A tenant the user cannot see: exit 4; a bad value: exit 6.
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || {
        rampart(&s, &["appliances", "list", "--tenant", "999999.sms"])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || {
        rampart(&s, &["users", "add", "not-an-email", "--role", "viewer"])
    })
    .await
    .unwrap();
    assert_ne!(out.status.code(), Some(0));

    // An administrator can end a user's sessions, here its own.
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || {
        rampart(
            &s,
            &["users", "revoke", rampart::demo::DEMO_ADMIN, "--json"],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(revoked["revoked"], 1);
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || rampart(&s, &["me"]))
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the revoked session no longer works"
    );

    // Sign-out: the session is gone and commands say so with exit 3.
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || rampart(&s, &["logout"]))
        .await
        .unwrap();
    assert!(out.status.success());
    let s = session.clone();
    let out = tokio::task::spawn_blocking(move || rampart(&s, &["me"]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    server.shutdown().await;
}
