//! `rampart agent` as an operator uses it: the local login that unblocks an
//! appliance's PIN, and how the PIN and authorizations are given (never a PIN on the
//! command line).

use rampart_agent::state::{AgentState, StateFile};
use rampart_domain::ids::Serial;
use rampart_identity::pin::Pin;
use std::process::{Command, Output};

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .env_remove("RAMPART_AGENT_PIN")
        .env_remove("RAMPART_AGENT_BACKUP_PASSWORD")
        .env_remove("SESSIONAUTH_MAXRETRY")
        .env("RAMPART_LICENSE_SECRET", "not-used")
        .output()
        .expect("rampart runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A state file whose PIN is blocked after five wrong ones.
fn blocked_state(file: &StateFile) {
    let mut st = AgentState::fresh(Serial::parse("A1B2C3D4").unwrap(), 1);
    st.set_pin(Some(Pin::parse("135790").unwrap()));
    st.pin_guard.failed = 5;
    st.pin_guard.blocked = true;
    file.save(&st).unwrap();
}

#[test]
fn unblock_pin_is_the_local_login() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.json");
    let file = StateFile::new(&path);
    blocked_state(&file);
    assert!(file.load().unwrap().unwrap().pin_guard.is_blocked());

    let out = rampart(&[
        "agent",
        "unblock-pin",
        "--state-file",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("PIN unblocked"), "{said}");
    assert!(said.contains("5 wrong PINs allowed"), "{said}");
    assert!(!said.contains("135790"));

    let st = file.load().unwrap().unwrap();
    assert!(!st.pin_guard.is_blocked());
    assert_eq!(st.pin_guard.failed, 0);
    assert_eq!(st.local_logins, 1);
    assert_eq!(st.pin(), Some(&Pin::parse("135790").unwrap()), "PIN kept");
    assert_eq!(st.serial.as_str(), "A1B2C3D4", "identity kept");

    // `--state` works too; an unblocked PIN just gets a fresh count.
    let out = rampart(&["agent", "unblock-pin", "--state", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("was not blocked"));
}

#[test]
fn unblock_pin_without_a_state_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.json");
    let out = rampart(&[
        "agent",
        "unblock-pin",
        "--state-file",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no agent state file"),
        "{}",
        text(&out.stderr)
    );
    assert!(!missing.exists(), "nothing created");
    // It is not mixed with the options of a running agent.
    let out = rampart(&[
        "agent",
        "--serial",
        "A1B2C3D4",
        "unblock-pin",
        "--state-file",
        "x",
    ]);
    assert!(!out.status.success());
}

#[test]
fn the_pin_never_comes_from_argv_and_bad_options_fail_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    // No such flag: a PIN on the command line would show in `ps`.
    let out = rampart(&["agent", "--serial", "A1B2C3D4", "--pin", "135790"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unexpected argument"),
        "{}",
        text(&out.stderr)
    );

    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, "12x456\n").unwrap();
    let out = rampart(&[
        "agent",
        "--server",
        "http://127.0.0.1:9",
        "--serial",
        "A1B2C3D4",
        "--state-file",
        dir.path().join("a.json").to_str().unwrap(),
        "--pin-file",
        pin_file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("does not hold a 6-digit PIN"), "{err}");
    assert!(!err.contains("12x456"), "{err}");

    let out = rampart(&["agent", "--serial", "A1B2C3D4", "--deny", "status,reboot"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unknown authorization"),
        "{}",
        text(&out.stderr)
    );

    let out = rampart(&["agent", "--serial", "A1B2C3D4", "--pin-max-retry", "0"]);
    assert!(!out.status.success());
}

#[test]
fn the_agent_keeps_its_existing_invocations() {
    let help = rampart(&["agent", "--help"]);
    assert!(help.status.success());
    let h = text(&help.stdout);
    for flag in [
        "--serial",
        "--fleet",
        "--licenses",
        "--deny",
        "--pin-file",
        "--pin-max-retry",
        "unblock-pin",
    ] {
        assert!(h.contains(flag), "{flag} in {h}");
    }
    // Neither --serial nor --fleet: still refused by clap.
    let out = rampart(&["agent"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--serial"),
        "{}",
        text(&out.stderr)
    );
    // --fleet still needs --licenses.
    let out = rampart(&["agent", "--fleet", "2"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--licenses"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn backup_options_are_offered_and_checked_before_connecting() {
    let help = text(&rampart(&["agent", "--help"]).stdout);
    for flag in [
        "--backup-password-file",
        "--utc-offset-minutes",
        "--config-size",
        "--backup-kdf-memory-kib",
        "--backup-kdf-iterations",
        "--backup-kdf-parallelism",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    // No such flag: a password on the command line would show in `ps`.
    let out = rampart(&[
        "agent",
        "--serial",
        "A1B2C3D4",
        "--backup-password",
        "Correct-Horse-9",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unexpected argument"));

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("a.json");
    let with = |extra: &[&str]| {
        let mut args = vec![
            "agent",
            "--server",
            "http://127.0.0.1:9",
            "--serial",
            "A1B2C3D4",
            "--state-file",
            state.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        rampart(&args)
    };
    let weak = dir.path().join("weak");
    std::fs::write(&weak, "alllowercase\n").unwrap();
    let out = with(&["--backup-password-file", weak.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("3 of 4 character classes"), "{err}");
    assert!(!err.contains("alllowercase"), "{err}");
    let out = with(&["--backup-kdf-memory-kib", "1024"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("memory_kib"),
        "{}",
        text(&out.stderr)
    );
    for bad in [
        &["--utc-offset-minutes", "900"][..],
        &["--config-size", "12X"],
        &["--backup-kdf-iterations", "11"],
    ] {
        let out = with(bad);
        assert!(!out.status.success(), "{bad:?}");
    }
    // A negative offset is a value, not a flag: the error is about the other option.
    let out = with(&["--utc-offset-minutes", "-300", "--pin-max-retry", "0"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--pin-max-retry"), "{err}");
    assert!(!err.contains("--utc-offset-minutes"), "{err}");
    assert!(!state.exists(), "nothing started");
}

/// The agent against the self-hosted console, in-process: jobs created through the
/// portal service reach it, run once and come back with the right states.
mod over_a_real_console {
    use chrono::{Duration as ChronoDuration, Utc};
    use rampart::backend::StoreKind;
    use rampart::serve::{RunningServer, ServeConfig, start};
    use rampart_agent::fleet::http_client;
    use rampart_agent::state::StateFile;
    use rampart_agent::{Agent, AgentConfig, AgentOptions};
    use rampart_app::ApiError;
    use rampart_app::portal::Principal;
    use rampart_domain::Timestamp;
    use rampart_domain::firmware::FirmwareVersion;
    use rampart_domain::ids::{ApplianceId, JobId, Serial, TenantId};
    use rampart_domain::jobs::{
        AppAction, Authorization, CommandState, JobCounts, JobTarget, Operation, Refusal,
    };
    use rampart_domain::license::NewLicense;
    use rampart_domain::portal_protocol::{NewJob, NewTenant, PasswordText, PinText};
    use rampart_domain::report::AppState;
    use rampart_domain::tenancy::{Email, Role, TenantKind};
    use rampart_identity::pin::Pin;
    use rampart_ports::SystemClock;
    use std::sync::Arc;
    use std::time::Duration;

    const PIN: &str = "135790";

    struct Console {
        server: RunningServer,
        who: Principal,
        tenant: TenantId,
    }

    async fn console(dir: &std::path::Path) -> Console {
        let server = start(
            ServeConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                data_dir: dir.join("console"),
                store: StoreKind::Embedded,
                public_url: None,
                poll_interval: Duration::from_secs(1),
                maintenance_every: Duration::from_secs(1),
            },
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let reseller = TenantId::parse("100000.sms").unwrap();
        let tenant = TenantId::parse("100001.sms").unwrap();
        let email = Email::parse("admin@example.test").unwrap();
        server
            .portal
            .bootstrap(reseller.clone(), "Reseller".into(), email.clone())
            .await
            .unwrap();
        let who = Principal {
            email,
            tenant: reseller,
            tenant_kind: TenantKind::Reseller,
            role: Role::Administrator,
            session_id: String::new(),
        };
        let customer = NewTenant {
            id: tenant.clone(),
            name: "Customer".into(),
        };
        server.portal.create_customer(&who, customer).await.unwrap();
        Console {
            server,
            who,
            tenant,
        }
    }

    impl Console {
        async fn job(
            &self,
            appliance: &ApplianceId,
            operation: Operation,
            pin: Option<&str>,
        ) -> Result<JobId, ApiError> {
            self.job_with(appliance, operation, pin, None).await
        }

        async fn job_with(
            &self,
            appliance: &ApplianceId,
            operation: Operation,
            pin: Option<&str>,
            backup_password: Option<&str>,
        ) -> Result<JobId, ApiError> {
            let new = NewJob {
                target: JobTarget::Appliance(appliance.clone()),
                operation,
                pin: pin.map(PinText::new),
                backup_password: backup_password.map(PasswordText::new),
            };
            Ok(self
                .server
                .portal
                .create_job(&self.who, &self.tenant, new)
                .await?
                .id)
        }

        /// The job's counts once it finished (or after 20 s).
        async fn finished(&self, job: &JobId) -> JobCounts {
            let mut view = None;
            for _ in 0..100 {
                let v = self
                    .server
                    .portal
                    .job(&self.who, &self.tenant, job)
                    .await
                    .unwrap();
                let done = v.finished;
                view = Some(v);
                if done {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let v = view.unwrap();
            assert!(v.finished, "{v:?}");
            v.counts
        }
    }

    fn one(state: CommandState) -> JobCounts {
        JobCounts::of([state])
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_agent_runs_jobs_from_a_real_console() {
        let dir = tempfile::tempdir().unwrap();
        let c = console(dir.path()).await;
        let serial = Serial::parse("E2E00001").unwrap();
        let (_, secret) = c
            .server
            .admin
            .add_license(NewLicense {
                serial: serial.clone(),
                tenant: c.tenant.clone(),
                product: "UTM".into(),
                expires: (Utc::now() + ChronoDuration::days(30)).date_naive(),
                cluster: None,
            })
            .await
            .unwrap();
        let state = StateFile::new(dir.path().join("agent.json"));
        let config = AgentConfig {
            server: c.server.base_url.clone(),
            serial,
            license_secret: secret,
            state_file: state.clone(),
            firmware: FirmwareVersion::parse("14.1.0").unwrap(),
        };
        let options = AgentOptions::default()
            .with_pin(Pin::parse(PIN).unwrap())
            .deny(Authorization::OneTimeUpdate);
        let agent = tokio::spawn(
            Agent::open_with(config, options, http_client())
                .unwrap()
                .run(),
        );
        // Enrolled, and checked in once (so the console knows its authorizations).
        let mut id = None;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            id = state.load().unwrap().and_then(|s| s.appliance_id);
            if id.is_some() {
                break;
            }
        }
        let id = id.expect("the agent enrolls");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let booted_before = state.load().unwrap().unwrap().booted_at_ms;

        let reboot = c.job(&id, Operation::Reboot, Some(PIN)).await.unwrap();
        assert_eq!(
            c.finished(&reboot).await,
            one(CommandState::Succeeded),
            "confirmed by a fresh uptime"
        );
        let stop = Operation::Application {
            name: "ips".into(),
            action: AppAction::Stop,
        };
        let stop = c.job(&id, stop, None).await.unwrap();
        assert_eq!(c.finished(&stop).await, one(CommandState::Succeeded));
        let wrong = c.job(&id, Operation::Reboot, Some("111111")).await.unwrap();
        assert_eq!(c.finished(&wrong).await, one(CommandState::Rejected));
        // Denied on the appliance, so the console refuses it up front.
        let update = Operation::FirmwareUpdate {
            version: FirmwareVersion::parse("14.2").unwrap(),
            not_before: Timestamp::now_system(),
        };
        assert!(matches!(
            c.job(&id, update, None).await,
            Err(ApiError::CommandRefused(Refusal::NotAuthorized {
                authorization: Authorization::OneTimeUpdate
            }))
        ));

        let st = state.load().unwrap().unwrap();
        assert!(st.booted_at_ms > booted_before, "rebooted");
        assert_eq!(st.applications["ips"], AppState::Down);
        assert_eq!(st.pin_guard.failed, 1);
        assert_eq!(st.commands.len(), 3);
        assert!(st.commands.values().all(|c| c.reported));
        assert!(!agent.is_finished());

        // A shutdown ends the agent once its result is in.
        let shutdown = c.job(&id, Operation::Shutdown, Some(PIN)).await.unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(15), agent).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
        assert_eq!(c.finished(&shutdown).await, one(CommandState::Succeeded));
        assert!(state.load().unwrap().unwrap().powered_off);
        c.server.shutdown().await;
    }

    /// Cloud backup through the self-hosted console: the password set by a job (sealed
    /// to the appliance), a backup uploaded through the presigned URL and indexed, and
    /// restored (PIN-protected) into the appliance's configuration manager.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_agent_backs_up_and_restores_through_a_real_console() {
        let dir = tempfile::tempdir().unwrap();
        let c = console(dir.path()).await;
        let serial = Serial::parse("E2E00002").unwrap();
        let (_, secret) = c
            .server
            .admin
            .add_license(NewLicense {
                serial: serial.clone(),
                tenant: c.tenant.clone(),
                product: "UTM".into(),
                expires: (Utc::now() + ChronoDuration::days(30)).date_naive(),
                cluster: None,
            })
            .await
            .unwrap();
        let state = StateFile::new(dir.path().join("agent.json"));
        let config = AgentConfig {
            server: c.server.base_url.clone(),
            serial: serial.clone(),
            license_secret: secret,
            state_file: state.clone(),
            firmware: FirmwareVersion::parse("14.1.0").unwrap(),
        };
        // The SPEC's default KDF, as the demo runs it.
        let options = AgentOptions::default()
            .with_pin(Pin::parse(PIN).unwrap())
            .with_utc_offset_minutes(60)
            .unwrap();
        let agent = tokio::spawn(
            Agent::open_with(config, options, http_client())
                .unwrap()
                .run(),
        );
        let mut id = None;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            id = state.load().unwrap().and_then(|s| s.appliance_id);
            if id.is_some() {
                break;
            }
        }
        let id = id.expect("the agent enrolls");
        tokio::time::sleep(Duration::from_millis(1500)).await;

        // Without a password, a backup fails on the appliance.
        let early = c.job(&id, Operation::Backup, None).await.unwrap();
        assert_eq!(c.finished(&early).await, one(CommandState::Failed));

        let password = "Correct-Horse-9";
        let set = c
            .job_with(
                &id,
                Operation::SetBackupPassword { generation: 0 },
                None,
                Some(password),
            )
            .await
            .unwrap();
        assert_eq!(c.finished(&set).await, one(CommandState::Succeeded));
        let st = state.load().unwrap().unwrap();
        assert_eq!(st.current_backup_password(), Some((1, password)));

        let backup = c.job(&id, Operation::Backup, None).await.unwrap();
        assert_eq!(c.finished(&backup).await, one(CommandState::Succeeded));
        // Indexed by the ingest (asynchronously).
        let mut listed = Vec::new();
        for _ in 0..100 {
            listed = c
                .server
                .portal
                .list_backups(&c.who, &c.tenant, &serial, None, None)
                .await
                .unwrap()
                .items;
            if !listed.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(listed.len(), 1, "{listed:?}");
        let view = listed[0].clone();
        assert_eq!(view.password_generation, 1);

        let taken_at = Timestamp::from_millis(
            chrono::DateTime::parse_from_rfc3339(&view.accepted_at)
                .unwrap()
                .timestamp_millis(),
        );
        let restore = Operation::RestoreBackup {
            backup: view.id.clone(),
            taken_at: Timestamp::epoch(),
        };
        let wrong = c.job(&id, restore.clone(), Some("111111")).await.unwrap();
        assert_eq!(c.finished(&wrong).await, one(CommandState::Rejected));
        let restored = c.job(&id, restore, Some(PIN)).await.unwrap();
        assert_eq!(c.finished(&restored).await, one(CommandState::Succeeded));
        let name = rampart_agent::cloud_backup::restore_name(taken_at);
        let file = state.configs_dir().join(&name);
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(config["serial"], "E2E00002");
        assert_eq!(config["utc_offset_minutes"], 60);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 256 * 1024);
        let st = state.load().unwrap().unwrap();
        assert_eq!(st.pin_guard.failed, 0, "the right PIN reset the count");
        assert!(st.commands.values().all(|c| c.reported));
        agent.abort();
        c.server.shutdown().await;
    }
}
