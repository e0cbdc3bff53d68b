//! What the CLI tests against a real console share: a self-hosted console with
//! its demo fleet, and signing in as `rampart login` does for a new user,
//! answering the TOTP enrollment prompt with a current code.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use rampart::backend::StoreKind;
use rampart::serve::{self, RunningServer, ServeConfig};
use rampart_ports::SystemClock;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// `rampart serve --demo` in-process on a free loopback port, with its data under
/// `dir/data` and `appliances` demo appliances checking in every second.
pub async fn demo_console(dir: &Path, appliances: usize) -> RunningServer {
    let data = dir.join("data");
    let mut server = serve::start(
        ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data.clone(),
            store: StoreKind::Embedded,
            public_url: None,
            poll_interval: Duration::from_secs(1),
            maintenance_every: rampart_app::jobs::maintenance::SWEEP_EVERY,
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    rampart::demo::start(&mut server, &data, appliances)
        .await
        .unwrap();
    server
}

/// Signs in as the demo's administrator (enrolling TOTP) with the password the
/// demo wrote under `dir/data`, keeping the session in `session`.
pub async fn sign_in_demo_admin(server: &RunningServer, dir: &Path, session: &Path) {
    let (s, b, p) = (
        session.to_owned(),
        server.base_url.clone(),
        dir.join("data/demo/admin-password.txt"),
    );
    let login =
        tokio::task::spawn_blocking(move || login_enrolling(&s, &b, rampart::demo::DEMO_ADMIN, &p))
            .await
            .unwrap();
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
}

/// Runs `rampart login`, reads the enrollment secret it prints on stderr, and
/// answers its code prompt with the current code.
pub fn login_enrolling(session: &Path, server: &str, email: &str, password_file: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env("RAMPART_SESSION_FILE", session)
        .args([
            "login",
            "--server",
            server,
            "--email",
            email,
            "--password-file",
        ])
        .arg(password_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    // Up to the code prompt, which ends the line without a newline.
    while !String::from_utf8_lossy(&seen).ends_with("shows: ") {
        if stderr.read(&mut byte).unwrap() == 0 {
            panic!("login ended early: {}", String::from_utf8_lossy(&seen));
        }
        seen.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&seen).to_string();
    let secret = text
        .split("Secret (base32): ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    let secret = rampart_identity::TotpSecret::from_base32(&secret).unwrap();
    let now = rampart_domain::Timestamp::now_system().secs();
    let code = rampart_identity::code_at(&secret, now);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{code}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
