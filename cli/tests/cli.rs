//! The `rampart` binary as an operator uses it: stdout carries only what
//! scripts read, errors go to stderr with a failing exit code.

use std::process::{Command, Output};

fn rampart(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("rampart runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn license_add_prints_serial_and_secret_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let add = [
        "license",
        "add",
        "--serial",
        "A1B2C3D4",
        "--tenant",
        "123456.sms",
        "--expires",
        "2030-01-01",
    ];
    let out = rampart(dir.path(), &add);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        fields.len(),
        2,
        "exactly `SERIAL SECRET` on stdout: {text:?}"
    );
    assert_eq!(fields[0], "A1B2C3D4");
    assert!(fields[1].len() == 32 && fields[1].bytes().all(|b| b.is_ascii_hexdigit()));

    let again = rampart(dir.path(), &add);
    assert_eq!(again.status.code(), Some(1));
    assert!(stdout(&again).is_empty());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already registered"));

    let bad = rampart(
        dir.path(),
        &[
            "license",
            "add",
            "--serial",
            "bad serial",
            "--tenant",
            "1.sms",
            "--expires",
            "2030-01-01",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("serial"));
}

#[test]
fn batches_and_json_output_are_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(
        dir.path(),
        &[
            "--json",
            "license",
            "add",
            "--serial",
            "LOAD",
            "--count",
            "3",
            "--tenant",
            "9.sms",
            "--expires",
            "2030-01-01",
        ],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    let serials: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["serial"].as_str().unwrap())
        .collect();
    assert_eq!(serials, ["LOAD000001", "LOAD000002", "LOAD000003"]);

    let list = rampart(dir.path(), &["--json", "appliances"]);
    assert!(list.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&list)).expect("stdout is JSON");
    assert_eq!(v, serde_json::json!([]), "no appliance has enrolled");
}

#[test]
fn bootstrap_creates_the_first_reseller_administrator_once() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bootstrap",
        "--tenant",
        "100000.sms",
        "--name",
        "Reseller AG",
        "--email",
        "admin@reseller.example",
    ];
    let out = rampart(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.contains("Initial password (shown only now): "),
        "{text}"
    );
    assert!(
        text.contains(
            "rampart login --server http://127.0.0.1:8080 --email admin@reseller.example"
        )
    );
    assert!(
        !dir.path().join("secrets/totp.key").exists(),
        "bootstrap needs only the store, no TOTP key"
    );
    let again = rampart(dir.path(), &args);
    assert_eq!(again.status.code(), Some(1), "refuses to run twice");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already bootstrapped"));
    assert!(stdout(&again).is_empty());
}
