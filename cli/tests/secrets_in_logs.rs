//! No password, token, TOTP secret, license secret, reset link, PIN or backup
//! password in any log line: runs the real `rampart serve --demo` with every log
//! level on, goes through enrollment, sign-in, PIN jobs, a new backup password and a
//! backup, a failed sign-in and a password reset, then reads the whole log for each
//! secret.

use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_path = dir.path().join("serve.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env("RUST_LOG", "trace")
        .args([
            "serve",
            "--demo",
            "--demo-appliances",
            "2",
            "--poll-interval",
            "1",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let server = KillOnDrop(server);
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the console started");
    tokio::time::sleep(Duration::from_secs(2)).await; // the demo fleet enrolls and checks in

    let password = std::fs::read_to_string(data.join("demo/admin-password.txt")).unwrap();
    let post = |path: &str, body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let email = "admin@demo.example";
    let (_, ch) = post(
        "/v1/auth/login",
        serde_json::json!({"email": email, "password": password}),
    )
    .await;
    let challenge = ch["challenge"].as_str().unwrap().to_owned();
    let (_, e) = post(
        "/v1/auth/totp/enroll",
        serde_json::json!({"challenge": challenge}),
    )
    .await;
    let totp_secret = e["secret"].as_str().unwrap().to_owned();
    let secret = rampart_identity::TotpSecret::from_base32(&totp_secret).unwrap();
    let code = rampart_identity::code_at(&secret, rampart_domain::Timestamp::now_system().secs());
    let (status, grant) = post(
        "/v1/auth/totp/confirm",
        serde_json::json!({"challenge": challenge, "code": code}),
    )
    .await;
    assert_eq!(status, 200, "{grant}");
    let token = grant["token"].as_str().unwrap().to_owned();
    let me = http
        .get(format!("{base}/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    // PIN-protected jobs on a demo appliance: one with its PIN, one with a wrong one.
    let pin = std::fs::read_to_string(data.join("demo/pin.txt")).unwrap();
    let pin = pin.trim().to_owned();
    let wrong_pin = if pin == "864209" { "864208" } else { "864209" }.to_owned();
    let list = http
        .get(format!("{base}/v1/tenants/100001.sms/appliances"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let appliance = list["items"][0]["id"].as_str().unwrap().to_owned();
    let mut jobs = Vec::new();
    for p in [&wrong_pin, &pin] {
        let r = http
            .post(format!("{base}/v1/tenants/100001.sms/jobs"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "target": {"appliance": appliance},
                "operation": {"type": "reboot"},
                "pin": p
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let job = r.json::<serde_json::Value>().await.unwrap();
        jobs.push(job["id"].as_str().unwrap().to_owned());
    }
    // Both are answered: the wrong PIN rejected with attempts left, the right one run.
    let mut states = Vec::new();
    for _ in 0..100 {
        states.clear();
        for id in &jobs {
            let r = http
                .get(format!("{base}/v1/tenants/100001.sms/jobs/{id}/commands"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap();
            states.push(r["items"][0]["state"].as_str().unwrap_or("").to_owned());
        }
        if states[0] == "rejected" && states[1] != "queued" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(states[0], "rejected", "{states:?}");
    assert_ne!(states[1], "queued", "{states:?}");

    // A new backup password set from the portal (sealed to the appliance), then a
    // backup made with it: neither the demo's password nor the new one is logged.
    let new_backup_password = "Fresh-Backup-Pass-77".to_owned();
    let mut backup_jobs = Vec::new();
    for body in [
        serde_json::json!({"target": {"appliance": appliance},
                           "operation": {"type": "set_backup_password"},
                           "backup_password": new_backup_password}),
        serde_json::json!({"target": {"appliance": appliance},
                           "operation": {"type": "backup"}}),
    ] {
        let r = http
            .post(format!("{base}/v1/tenants/100001.sms/jobs"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let job = r.json::<serde_json::Value>().await.unwrap();
        backup_jobs.push(job["id"].as_str().unwrap().to_owned());
    }
    let mut succeeded = 0;
    for _ in 0..300 {
        succeeded = 0;
        for id in &backup_jobs {
            let r = http
                .get(format!("{base}/v1/tenants/100001.sms/jobs/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap();
            succeeded += r["counts"]["succeeded"].as_u64().unwrap_or(0);
        }
        if succeeded == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(succeeded, 2, "password set and backup made");

    let (status, _) = post(
        "/v1/auth/login",
        serde_json::json!({"email": email, "password": "Wrong-Password-123"}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        "/v1/auth/password-reset",
        serde_json::json!({"email": email}),
    )
    .await;
    assert_eq!(status, 202);
    let outbox: Vec<_> = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mail = std::fs::read_to_string(&outbox[0]).unwrap();
    let reset = mail
        .split("#token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (status, _) = post(
        "/v1/auth/password-reset/confirm",
        serde_json::json!({"token": reset, "password": "Another-Long-Passw0rd"}),
    )
    .await;
    assert_eq!(status, 204);
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("signed in") && log.contains("checked in"),
        "the log was captured"
    );
    let mut secrets = vec![
        password.trim().to_owned(),
        "Wrong-Password-123".to_owned(),
        "Another-Long-Passw0rd".to_owned(),
        token,
        totp_secret,
        reset,
        std::fs::read_to_string(data.join("secrets/operator.token")).unwrap(),
        new_backup_password,
        std::fs::read_to_string(data.join("demo/backup-password.txt"))
            .unwrap()
            .trim()
            .to_owned(),
    ];
    for line in std::fs::read_to_string(data.join("demo/licenses.txt"))
        .unwrap()
        .lines()
    {
        if let Some(license_secret) = line
            .split_whitespace()
            .nth(1)
            .filter(|_| !line.starts_with('#'))
        {
            secrets.push(license_secret.to_owned());
        }
    }
    // A PIN is 6 digits; the log is full of digits (timestamps), so a PIN counts as
    // leaked where it stands alone, not inside a longer number.
    for p in [&pin, &wrong_pin] {
        let leaked = log.match_indices(p.as_str()).any(|(at, _)| {
            let before = log[..at].chars().next_back();
            let after = log[at + p.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_digit())
                && !after.is_some_and(|c| c.is_ascii_digit())
        });
        assert!(!leaked, "a PIN reached the log");
    }
    for s in &secrets {
        assert!(s.len() >= 8, "a real secret");
        assert!(
            !log.contains(s.as_str()),
            "a secret reached the log ({} characters)",
            s.len()
        );
    }
}
