//! What the CLI tests against a real console share: signing in as `rampart login`
//! does for a new user, answering the TOTP enrollment prompt with a current code.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

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
