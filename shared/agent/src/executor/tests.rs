//! The executor against a temporary state file, without any network: reports go to a
//! recording [`Reporter`].

use super::*;
use crate::options::AgentOptions;
use crate::simulated::SimulatedAppliance;
use crate::state::unblock_pin;
use rampart_domain::device_protocol::ResultKind;
use rampart_domain::ids::{ApplianceId, BackupId, Serial};
use rampart_domain::jobs::Authorization;
use rampart_domain::report::CheckinReport;
use rampart_domain::{Timestamp, firmware};
use rampart_identity::device_seal::seal_to_device;
use rampart_identity::pin::{Pin, max_retry_from_env};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

const PIN: &str = "135790";
const WRONG: &str = "864209";
const T0: i64 = 1_760_000_000_000;

fn v(s: &str) -> FirmwareVersion {
    FirmwareVersion::parse(s).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    file: StateFile,
    state: AgentState,
    exec: Executor,
    options: AgentOptions,
}

fn options() -> AgentOptions {
    AgentOptions::default().with_pin(Pin::parse(PIN).unwrap())
}

fn fixture_with(options: AgentOptions, firmware: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let file = StateFile::new(dir.path().join("agent.json"));
    let mut state = AgentState::fresh(Serial::parse("A1B2C3D4").unwrap(), T0);
    state.appliance_id = Some(ApplianceId::from_random([7; 16]));
    let exec = Executor::new(file.clone(), options.authorizations.clone());
    exec.start(&mut state, v(firmware), &options, T0).unwrap();
    Fixture {
        _dir: dir,
        file,
        state,
        exec,
        options,
    }
}

fn fixture() -> Fixture {
    fixture_with(options(), "14.1.0")
}

impl Fixture {
    /// Drops the executor and the in-memory state and starts again from the file, as
    /// an agent restart does.
    fn restart(&mut self, now_ms: i64) {
        let mut state = self.file.load().unwrap().unwrap();
        self.exec = Executor::new(self.file.clone(), self.options.authorizations.clone());
        self.exec
            .start(&mut state, v("14.1.0"), &self.options, now_ms)
            .unwrap();
        self.state = state;
    }

    fn run(&mut self, commands: &[PendingCommand], now_ms: i64) -> Executed {
        self.exec
            .execute(&mut self.state, commands, now_ms)
            .unwrap()
    }

    fn result(&self, id: &JobId) -> CommandResultRequest {
        let c = &self.state.commands[id];
        assert_eq!(c.phase, Phase::Done);
        c.result.clone().unwrap()
    }

    fn report(&self, now_ms: i64) -> CheckinReport {
        SimulatedAppliance::from_state(&self.state, v("14.1.0"), self.exec.authorizations().clone())
            .report(now_ms)
    }

    /// A command sealing `pin` to this appliance for this command.
    fn command(&self, operation: Operation, pin: Option<&str>) -> PendingCommand {
        let id = next_id();
        let sealed_pin = pin.map(|p| {
            let public = self.state.signing_key().unwrap().verifying_key().to_bytes();
            let context = pin_seal_context(self.state.appliance_id.as_ref().unwrap(), &id);
            B64.encode(seal_to_device(&public, p.as_bytes(), &context).unwrap())
        });
        PendingCommand {
            command_id: id,
            operation,
            sealed_pin,
            sealed_password: None,
            cancel: false,
        }
    }

    /// A `set_backup_password` command carrying `password` sealed to this appliance
    /// for this command.
    fn set_password(&self, generation: u32, password: &str) -> PendingCommand {
        let mut cmd = self.command(Operation::SetBackupPassword { generation }, None);
        cmd.sealed_password = Some(self.seal_password(&cmd.command_id, password));
        cmd
    }

    fn seal_password(&self, id: &JobId, password: &str) -> String {
        let public = self.state.signing_key().unwrap().verifying_key().to_bytes();
        let context = backup_password_seal_context(self.state.appliance_id.as_ref().unwrap(), id);
        B64.encode(seal_to_device(&public, password.as_bytes(), &context).unwrap())
    }
}

fn next_id() -> JobId {
    static N: AtomicI64 = AtomicI64::new(T0);
    JobId::new(N.fetch_add(1, Ordering::SeqCst), [0xab, 0, 0, 1])
}

fn rejected(r: Refusal) -> CommandResultRequest {
    CommandResultRequest::new(&ApplianceResult::Rejected(r), None)
}

fn app(name: &str, action: AppAction) -> Operation {
    Operation::Application {
        name: name.into(),
        action,
    }
}

/// Records every report; answers from a script, then `Delivered`.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(JobId, CommandResultRequest)>>,
    answers: Mutex<Vec<Delivery>>,
}

impl Recorder {
    fn answering(answers: &[Delivery]) -> Self {
        Self {
            answers: Mutex::new(answers.iter().rev().copied().collect()),
            ..Self::default()
        }
    }

    fn sent(&self) -> Vec<(JobId, CommandResultRequest)> {
        self.sent.lock().unwrap().clone()
    }
}

impl Reporter for Recorder {
    async fn report(&self, command: &JobId, result: &CommandResultRequest) -> Delivery {
        self.sent
            .lock()
            .unwrap()
            .push((command.clone(), result.clone()));
        self.answers
            .lock()
            .unwrap()
            .pop()
            .unwrap_or(Delivery::Delivered)
    }
}

#[tokio::test]
async fn duplicate_delivery_runs_a_command_once() {
    let mut f = fixture();
    let reboot = f.command(Operation::Reboot, Some(PIN));
    // Twice in one reply, then again in the next.
    let first = f.run(&[reboot.clone(), reboot.clone()], T0 + 10_000);
    assert!(first.state_changed);
    assert_eq!(f.state.booted_at_ms, T0 + 10_000);
    let again = f.run(std::slice::from_ref(&reboot), T0 + 20_000);
    assert_eq!(again, Executed::default());
    assert_eq!(f.state.booted_at_ms, T0 + 10_000, "rebooted once");
    assert_eq!(f.result(&reboot.command_id).result, ResultKind::Succeeded);

    let rec = Recorder::default();
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    f.run(std::slice::from_ref(&reboot), T0 + 30_000);
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    assert_eq!(rec.sent().len(), 1, "reported once");
    assert_eq!(f.state.booted_at_ms, T0 + 10_000);

    // An application command twice: one effect, one result.
    let stop = f.command(app("ips", AppAction::Stop), None);
    f.run(std::slice::from_ref(&stop), T0 + 40_000);
    f.state.applications.insert("ips".into(), AppState::Up);
    f.run(std::slice::from_ref(&stop), T0 + 50_000);
    assert_eq!(
        f.state.applications["ips"],
        AppState::Up,
        "not stopped again"
    );
}

#[tokio::test]
async fn a_restart_mid_reboot_reboots_exactly_once() {
    let mut f = fixture();
    let booted_before = f.state.booted_at_ms;
    let reboot = f.command(Operation::Reboot, Some(PIN));

    // The agent dies right after writing InProgress, before acting.
    f.exec.crash_after_mark = true;
    assert!(
        f.exec
            .execute(&mut f.state, std::slice::from_ref(&reboot), T0 + 10_000)
            .is_err()
    );
    let on_disk = f.file.load().unwrap().unwrap();
    assert_eq!(
        on_disk.commands[&reboot.command_id].phase,
        Phase::InProgress
    );
    assert_eq!(on_disk.booted_at_ms, booted_before, "not acted yet");

    // The restart is the reboot.
    f.restart(T0 + 20_000);
    assert_eq!(f.state.booted_at_ms, T0 + 20_000);
    assert_eq!(f.result(&reboot.command_id).result, ResultKind::Succeeded);
    assert_eq!(
        f.file.load().unwrap().unwrap().commands[&reboot.command_id].phase,
        Phase::Done,
        "finished on disk"
    );

    // The console delivers it again: nothing runs.
    let out = f.run(std::slice::from_ref(&reboot), T0 + 30_000);
    assert!(!out.state_changed);
    assert_eq!(f.state.booted_at_ms, T0 + 20_000, "booted exactly once");
    f.restart(T0 + 40_000);
    assert_eq!(
        f.state.booted_at_ms,
        T0 + 20_000,
        "a later restart changes nothing"
    );

    let rec = Recorder::default();
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    assert_eq!(rec.sent().len(), 1);
    assert_eq!(rec.sent()[0].1.result, ResultKind::Succeeded);
    assert_eq!(f.report(T0 + 41_000).uptime_secs, 21);
}

#[test]
fn an_interrupted_command_found_on_redelivery_is_finished_without_acting() {
    let mut f = fixture();
    let booted_before = f.state.booted_at_ms;
    let reboot = f.command(Operation::Reboot, Some(PIN));
    f.exec.crash_after_mark = true;
    assert!(
        f.exec
            .execute(&mut f.state, std::slice::from_ref(&reboot), T0 + 10_000)
            .is_err()
    );
    // Without a restart of the executor (its start would finish it first).
    f.exec.crash_after_mark = false;
    f.state = f.file.load().unwrap().unwrap();
    assert_eq!(f.state.booted_at_ms, booted_before);
    f.run(std::slice::from_ref(&reboot), T0 + 20_000);
    assert_eq!(f.state.booted_at_ms, T0 + 20_000);
    assert_eq!(f.result(&reboot.command_id).result, ResultKind::Succeeded);

    // Anything else interrupted is not repeated and reported failed.
    let update = f.command(
        Operation::FirmwareUpdate {
            version: v("14.2"),
            not_before: Timestamp::from_millis(T0),
        },
        None,
    );
    f.exec.crash_after_mark = true;
    assert!(
        f.exec
            .execute(&mut f.state, std::slice::from_ref(&update), T0 + 30_000)
            .is_err()
    );
    f.restart(T0 + 40_000);
    assert_eq!(f.state.firmware, Some(v("14.1.0")), "not updated");
    assert_eq!(f.result(&update.command_id).result, ResultKind::Failed);
}

#[test]
fn five_wrong_pins_block_until_a_local_login() {
    let mut f = fixture();
    let mut answers = Vec::new();
    for i in 0..5 {
        let cmd = f.command(Operation::Reboot, Some(WRONG));
        f.run(std::slice::from_ref(&cmd), T0 + i);
        answers.push(f.result(&cmd.command_id));
        // The counters are on disk at once.
        assert_eq!(
            f.file.load().unwrap().unwrap().pin_guard.failed,
            u32::try_from(i + 1).unwrap()
        );
    }
    let expected: Vec<_> = [4, 3, 2, 1]
        .into_iter()
        .map(|n| rejected(Refusal::WrongPin { attempts_left: n }))
        .chain([rejected(Refusal::PinBlocked)])
        .collect();
    assert_eq!(answers, expected);
    assert_eq!(f.state.booted_at_ms, T0, "no reboot");

    // Blocked: even the right PIN is refused, and a garbled one is not even opened.
    let right = f.command(Operation::Reboot, Some(PIN));
    f.run(std::slice::from_ref(&right), T0 + 100);
    assert_eq!(f.result(&right.command_id), rejected(Refusal::PinBlocked));
    let mut garbled = f.command(Operation::Reboot, None);
    garbled.sealed_pin = Some("not base64".into());
    f.run(std::slice::from_ref(&garbled), T0 + 101);
    assert_eq!(f.result(&garbled.command_id), rejected(Refusal::PinBlocked));

    // The local login, as `rampart agent unblock-pin` does it, while the agent runs.
    let u = unblock_pin(&f.file).unwrap();
    assert!(u.was_blocked);
    let right = f.command(Operation::Reboot, Some(PIN));
    f.run(std::slice::from_ref(&right), T0 + 200);
    assert_eq!(f.result(&right.command_id).result, ResultKind::Succeeded);
    assert_eq!(f.state.booted_at_ms, T0 + 200);
    assert_eq!(f.state.pin_guard.failed, 0);
    assert!(!f.file.load().unwrap().unwrap().pin_guard.is_blocked());
}

#[test]
fn a_right_pin_resets_the_count() {
    let mut f = fixture();
    let steps = [
        (WRONG, Some(4)),
        (WRONG, Some(3)),
        (PIN, None),
        (WRONG, Some(4)),
    ];
    for (i, (pin, want)) in steps.into_iter().enumerate() {
        let cmd = f.command(Operation::Reboot, Some(pin));
        f.run(std::slice::from_ref(&cmd), T0 + i as i64);
        let got = f.result(&cmd.command_id);
        match want {
            Some(n) => assert_eq!(got, rejected(Refusal::WrongPin { attempts_left: n })),
            None => assert_eq!(got.result, ResultKind::Succeeded),
        }
    }
}

#[test]
fn sessionauth_maxretry_three() {
    let options = options().with_pin_max_retries(max_retry_from_env(Some("3")));
    let mut f = fixture_with(options, "14.1.0");
    assert_eq!(f.state.pin_guard.max_retries, 3);
    let mut answers = Vec::new();
    for i in 0..4 {
        let cmd = f.command(Operation::Shutdown, Some(WRONG));
        f.run(std::slice::from_ref(&cmd), T0 + i);
        answers.push(f.result(&cmd.command_id));
    }
    assert_eq!(
        answers,
        vec![
            rejected(Refusal::WrongPin { attempts_left: 2 }),
            rejected(Refusal::WrongPin { attempts_left: 1 }),
            rejected(Refusal::PinBlocked),
            rejected(Refusal::PinBlocked),
        ]
    );
    assert!(!f.state.powered_off);
}

#[test]
fn unopenable_or_missing_pins_fail_without_counting() {
    let mut f = fixture();
    // No sealed PIN at all.
    let bare = f.command(Operation::FactoryReset, None);
    // Sealed for another command: the context differs, so it does not open.
    let other = f.command(Operation::Reboot, Some(PIN));
    let mut replayed = f.command(Operation::Reboot, None);
    replayed.sealed_pin = other.sealed_pin.clone();
    // Not base64.
    let mut garbled = f.command(Operation::Rollback, None);
    garbled.sealed_pin = Some("%%%".into());
    let ids: Vec<_> = [&bare, &replayed, &garbled]
        .iter()
        .map(|c| c.command_id.clone())
        .collect();
    f.state.previous_firmware = Some(v("14.0.2"));
    f.run(&[bare, replayed, garbled], T0 + 1);
    for id in &ids {
        assert_eq!(
            f.result(id),
            CommandResultRequest::new(&ApplianceResult::Failed, Some(PIN_NOT_OPENED.into()))
        );
    }
    assert_eq!(f.state.pin_guard.failed, 0, "not wrong attempts");
    assert_eq!(f.state.booted_at_ms, T0);

    // An appliance without a PIN.
    let mut f = fixture_with(AgentOptions::default(), "14.1.0");
    assert!(f.state.pin().is_none());
    let reboot = f.command(Operation::Reboot, Some(PIN));
    f.run(std::slice::from_ref(&reboot), T0 + 1);
    assert_eq!(
        f.result(&reboot.command_id),
        CommandResultRequest::new(&ApplianceResult::Failed, Some(NO_PIN_SET.into()))
    );
    // Operations without a PIN still run.
    let start = f.command(app("vpn", AppAction::Start), None);
    f.run(std::slice::from_ref(&start), T0 + 2);
    assert_eq!(f.result(&start.command_id).result, ResultKind::Succeeded);
}

#[test]
fn denied_authorizations_are_refused_with_not_authorized() {
    let options = options()
        .deny(Authorization::PinProtectedActions)
        .deny(Authorization::OneTimeUpdate);
    let mut f = fixture_with(options, "14.1.0");
    let report = f.report(T0);
    assert!(!report.authorizations.pin_protected_actions);
    assert!(!report.authorizations.one_time_update);
    assert!(report.authorizations.status);

    // Refused before the PIN is looked at: a wrong PIN costs no attempt.
    let reboot = f.command(Operation::Reboot, Some(WRONG));
    let update = f.command(
        Operation::FirmwareUpdate {
            version: v("14.2"),
            not_before: Timestamp::from_millis(T0),
        },
        None,
    );
    let restart = f.command(app("http_proxy", AppAction::Restart), None);
    f.run(&[reboot.clone(), update.clone(), restart.clone()], T0 + 1);
    let reboot_result = f.result(&reboot.command_id);
    assert_eq!(
        reboot_result,
        rejected(Refusal::NotAuthorized {
            authorization: Authorization::PinProtectedActions
        })
    );
    assert_eq!(reboot_result.reason.unwrap().code(), "not_authorized");
    assert_eq!(
        f.result(&update.command_id),
        rejected(Refusal::NotAuthorized {
            authorization: Authorization::OneTimeUpdate
        })
    );
    assert_eq!(f.result(&restart.command_id).result, ResultKind::Succeeded);
    assert_eq!(f.state.pin_guard.failed, 0);
    assert_eq!(f.state.firmware, Some(v("14.1.0")));
    assert_eq!(f.state.booted_at_ms, T0);
}

#[test]
fn the_appliance_checks_firmware_previous_version_and_applications() {
    let mut f = fixture_with(options(), "14.0.2");
    let rollback = f.command(Operation::Rollback, Some(PIN));
    f.run(std::slice::from_ref(&rollback), T0 + 1);
    assert_eq!(
        f.result(&rollback.command_id),
        rejected(Refusal::FirmwareTooOld {
            required: firmware::MIN_ROLLBACK
        })
    );

    let mut f = fixture();
    let rollback = f.command(Operation::Rollback, Some(PIN));
    let unknown = f.command(app("coffee_maker", AppAction::Start), None);
    let not_here = f.command(app("mail_connector", AppAction::Start), None);
    let older = f.command(
        Operation::FirmwareUpdate {
            version: v("14.0"),
            not_before: Timestamp::from_millis(T0),
        },
        None,
    );
    f.run(
        &[
            rollback.clone(),
            unknown.clone(),
            not_here.clone(),
            older.clone(),
        ],
        T0 + 1,
    );
    assert_eq!(
        f.result(&rollback.command_id),
        rejected(Refusal::NothingToRollBack)
    );
    assert_eq!(
        f.result(&unknown.command_id),
        rejected(Refusal::Unsupported)
    );
    assert_eq!(
        f.result(&not_here.command_id),
        rejected(Refusal::Unsupported)
    );
    assert_eq!(
        f.result(&older.command_id),
        rejected(Refusal::NotAnUpdate {
            installed: v("14.1.0")
        })
    );
    assert_eq!(f.state.pin_guard.failed, 0, "the PIN was never checked");
}

#[tokio::test]
async fn cancels_answer_canceled_or_the_result_at_hand() {
    let mut f = fixture();
    let mut cancel = f.command(Operation::FactoryReset, None);
    cancel.cancel = true;
    let out = f.run(std::slice::from_ref(&cancel), T0 + 1);
    assert!(!out.state_changed);
    assert_eq!(
        f.result(&cancel.command_id),
        CommandResultRequest::new(&ApplianceResult::Canceled, None)
    );
    // Canceled means never run, even if the command itself arrives later.
    let mut late = cancel.clone();
    late.cancel = false;
    f.state.hostname = Some("custom".into());
    f.run(std::slice::from_ref(&late), T0 + 2);
    assert_eq!(f.state.hostname.as_deref(), Some("custom"));

    let rec = Recorder::default();
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    assert_eq!(rec.sent().len(), 1);
    assert_eq!(rec.sent()[0].1.result, ResultKind::Canceled);

    // A cancel for a command already done repeats its result.
    let stop = f.command(app("ips", AppAction::Stop), None);
    f.run(std::slice::from_ref(&stop), T0 + 3);
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    let mut cancel_stop = stop.clone();
    cancel_stop.cancel = true;
    f.state.applications.insert("ips".into(), AppState::Up);
    f.run(std::slice::from_ref(&cancel_stop), T0 + 4);
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    let sent = rec.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[1], sent[2], "the same result again");
    assert_eq!(sent[2].1.result, ResultKind::Succeeded);
    assert_eq!(f.state.applications["ips"], AppState::Up, "not run again");
}

#[tokio::test]
async fn transient_report_failures_are_retried_and_final_ones_dropped() {
    let mut f = fixture();
    let a = f.command(app("ips", AppAction::Stop), None);
    let b = f.command(app("vpn", AppAction::Start), None);
    f.run(&[a.clone(), b.clone()], T0 + 1);
    let rec = Recorder::answering(&[Delivery::Retry, Delivery::Final]);
    let counts = f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    assert_eq!(
        counts,
        Reported {
            delivered: 0,
            refused: 1,
            retry_later: 1
        }
    );
    assert!(!f.state.commands[&a.command_id].reported);
    assert!(f.state.commands[&b.command_id].reported);
    // Still owed after a restart, and sent again next time.
    f.restart(T0 + 2);
    assert_eq!(Executor::unreported(&f.state).len(), 1);
    let counts = f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    assert_eq!(counts.delivered, 1);
    assert_eq!(rec.sent().len(), 3);
    assert_eq!(rec.sent()[2].0, a.command_id);
    assert!(Executor::unreported(&f.state).is_empty());
}

#[tokio::test]
async fn each_effect_shows_in_the_report() {
    let mut f = fixture();
    let r0 = f.report(T0 + 3_600_000);
    assert_eq!(r0.uptime_secs, 3600);
    assert_eq!(r0.firmware, v("14.1.0"));
    assert_eq!(r0.previous_firmware, None);

    let t = T0 + 3_600_000;
    let reboot = f.command(Operation::Reboot, Some(PIN));
    assert!(f.run(std::slice::from_ref(&reboot), t).state_changed);
    assert_eq!(f.report(t + 2_000).uptime_secs, 2);

    let update = f.command(
        Operation::FirmwareUpdate {
            version: v("14.2.1"),
            not_before: Timestamp::from_millis(t),
        },
        None,
    );
    f.run(std::slice::from_ref(&update), t + 10_000);
    let r = f.report(t + 15_000);
    assert_eq!(
        (r.firmware, r.previous_firmware, r.uptime_secs),
        (v("14.2.1"), Some(v("14.1.0")), 5)
    );
    assert_eq!(
        f.result(&update.command_id).info.as_deref(),
        Some("updated to 14.2.1")
    );

    let rollback = f.command(Operation::Rollback, Some(PIN));
    f.run(std::slice::from_ref(&rollback), t + 20_000);
    let r = f.report(t + 20_000);
    assert_eq!(
        (r.firmware, r.previous_firmware, r.uptime_secs),
        (v("14.1.0"), Some(v("14.2.1")), 0)
    );

    let stop = f.command(app("http_proxy", AppAction::Stop), None);
    let start = f.command(app("vpn", AppAction::Start), None);
    f.run(&[stop, start], t + 30_000);
    let r = f.report(t + 30_000);
    assert_eq!(r.applications["http_proxy"], AppState::Down);
    assert_eq!(r.applications["vpn"], AppState::Up);
    let restart = f.command(app("http_proxy", AppAction::Restart), None);
    f.run(std::slice::from_ref(&restart), t + 31_000);
    assert_eq!(
        f.report(t + 31_000).applications["http_proxy"],
        AppState::Up
    );

    // Factory reset: defaults back, the PIN guard fresh, the enrollment kept.
    let stop = f.command(app("ips", AppAction::Stop), None);
    let wrong = f.command(Operation::Reboot, Some(WRONG));
    f.run(&[stop, wrong], t + 40_000);
    f.state.hostname = Some("renamed".into());
    assert_eq!(f.state.pin_guard.failed, 1);
    let reset = f.command(Operation::FactoryReset, Some(PIN));
    f.run(std::slice::from_ref(&reset), t + 50_000);
    let r = f.report(t + 50_000);
    assert_eq!(r.applications, crate::simulated::default_applications());
    assert_eq!(r.hostname, "utm-a1b2c3d4");
    assert_eq!(r.uptime_secs, 0);
    assert_eq!(f.state.pin_guard.failed, 0);
    assert!(f.state.appliance_id.is_some());
    assert_eq!(r.firmware, v("14.1.0"));

    // Shutdown: reported, then powered off; the next start powers it on.
    let shutdown = f.command(Operation::Shutdown, Some(PIN));
    let after = f.command(app("ips", AppAction::Stop), None);
    let out = f.run(&[shutdown.clone(), after.clone()], t + 60_000);
    assert_eq!(out.shutdown, Some(shutdown.command_id.clone()));
    assert!(
        !f.state.commands.contains_key(&after.command_id),
        "nothing runs after a shutdown"
    );
    assert_eq!(
        Executor::pending_shutdown(&f.state),
        Some(shutdown.command_id.clone())
    );
    let rec = Recorder::default();
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    assert_eq!(Executor::pending_shutdown(&f.state), None);
    f.exec.power_off(&mut f.state).unwrap();
    assert!(f.file.load().unwrap().unwrap().powered_off);
    f.restart(t + 70_000);
    assert!(!f.state.powered_off);
    assert_eq!(f.report(t + 70_000).uptime_secs, 0);

    // Everything survives a restart.
    let r = f.report(t + 80_000);
    assert_eq!(r.firmware, v("14.1.0"));
    assert_eq!(r.previous_firmware, Some(v("14.2.1")));
}

#[tokio::test]
async fn the_pin_never_shows_in_debug_reports_or_results() {
    let mut f = fixture();
    let wrong = f.command(Operation::Reboot, Some(WRONG));
    let right = f.command(Operation::Reboot, Some(PIN));
    f.run(&[wrong, right], T0 + 1);
    let rec = Recorder::default();
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    let debug = format!("{:?} {:?}", f.state, f.options);
    let report = serde_json::to_string(&f.report(T0 + 2)).unwrap();
    let results = serde_json::to_string(&rec.sent()).unwrap();
    let records = format!("{:?}", f.state.commands);
    for text in [&debug, &report, &results, &records] {
        assert!(!text.contains(PIN), "{text}");
        assert!(!text.contains(WRONG), "{text}");
    }
    assert!(debug.contains("pin_set: true"));
}

// ---- cloud backup ------------------------------------------------------------------

const BACKUP_PW: &str = "Correct-Horse-9";

fn failed(info: &str) -> CommandResultRequest {
    CommandResultRequest::new(&ApplianceResult::Failed, Some(info.to_owned()))
}

fn restore_op(taken_at_ms: i64) -> Operation {
    Operation::RestoreBackup {
        backup: BackupId::new(taken_at_ms, [1, 2, 3, 4]),
        taken_at: Timestamp::from_millis(taken_at_ms),
    }
}

#[tokio::test]
async fn setting_the_backup_password() {
    let mut f = fixture();
    assert_eq!(f.report(T0).backup_password_generation, 0);
    let set = f.set_password(1, BACKUP_PW);
    let out = f.run(std::slice::from_ref(&set), T0 + 1);
    assert!(out.state_changed, "the report changes");
    assert!(out.io_work.is_empty(), "synchronous");
    assert_eq!(
        f.result(&set.command_id),
        CommandResultRequest::new(
            &ApplianceResult::Succeeded,
            Some("backup password set (generation 1)".into())
        )
    );
    assert_eq!(f.state.current_backup_password(), Some((1, BACKUP_PW)));
    assert_eq!(
        f.file.load().unwrap().unwrap().current_backup_password(),
        Some((1, BACKUP_PW)),
        "on disk"
    );
    assert_eq!(f.report(T0 + 2).backup_password_generation, 1);

    // A change: a new generation, the old one kept for the backups it made.
    let change = f.set_password(2, "Another-Pass-7");
    f.run(std::slice::from_ref(&change), T0 + 3);
    assert_eq!(
        f.result(&change.command_id).info.as_deref(),
        Some("backup password set (generation 2)")
    );
    assert_eq!(
        f.state.current_backup_password(),
        Some((2, "Another-Pass-7"))
    );
    assert_eq!(f.state.backup_password(1), Some(BACKUP_PW));
    // Delivered again: not run again.
    let again = f.run(std::slice::from_ref(&set), T0 + 4);
    assert_eq!(again, Executed::default());
    assert_eq!(f.state.backup_password_generation(), 2);

    // A generation that already holds another password is refused.
    let clash = f.set_password(1, "Third-Pass-55");
    f.run(std::slice::from_ref(&clash), T0 + 5);
    let r = f.result(&clash.command_id);
    assert_eq!(r.result, ResultKind::Failed);
    assert!(
        r.info
            .as_deref()
            .unwrap()
            .contains("generation 1 is already in use"),
        "{r:?}"
    );
    assert!(!r.info.as_deref().unwrap().contains("Third-Pass-55"));
    assert_eq!(f.state.backup_password(1), Some(BACKUP_PW));

    // Nothing secret in debug output, results or the command record.
    let rec = Recorder::default();
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    let texts = [
        format!("{:?} {:?}", f.state, f.options),
        serde_json::to_string(&rec.sent()).unwrap(),
        format!("{:?}", f.state.commands),
        format!("{set:?}"),
    ];
    for text in &texts {
        for secret in [BACKUP_PW, "Another-Pass-7", "Third-Pass-55"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[test]
fn a_password_against_the_policy_is_refused_naming_the_rule() {
    let mut f = fixture();
    let cases = [
        (
            "Sh0rt!",
            "password_too_short",
            "at least 8 characters (got 6)",
        ),
        (
            "alllowercase",
            "password_too_few_classes",
            "at least 3 of 4 character classes",
        ),
        (
            "lowerand12345",
            "password_too_few_classes",
            "missing upper case and special",
        ),
        (
            "Tab\tSeparated-1",
            "password_control_characters",
            "no control characters",
        ),
    ];
    for (i, (password, code, rule)) in cases.into_iter().enumerate() {
        let cmd = f.set_password(1, password);
        f.run(std::slice::from_ref(&cmd), T0 + i as i64);
        let r = f.result(&cmd.command_id);
        assert_eq!(r.result, ResultKind::Failed, "{password:?}");
        let info = r.info.unwrap();
        assert!(info.contains(code), "{info}");
        assert!(info.contains(rule), "{info}");
        assert!(!info.contains(password), "{info}");
        assert!(info.starts_with("backup password refused"), "{info}");
    }
    assert_eq!(f.state.backup_password_generation(), 0, "nothing stored");
    assert!(f.state.current_backup_password().is_none());
    let on_disk = std::fs::read_to_string(f.file.path()).unwrap();
    for (password, ..) in cases {
        assert!(!on_disk.contains(password));
    }
}

#[test]
fn a_password_that_does_not_open_is_refused_without_content() {
    let mut f = fixture();
    // None at all.
    let bare = f.command(Operation::SetBackupPassword { generation: 1 }, None);
    // Sealed as a PIN (another context): never opens as a password.
    let mut as_pin = f.command(
        Operation::SetBackupPassword { generation: 1 },
        Some(BACKUP_PW),
    );
    as_pin.sealed_password = as_pin.sealed_pin.take();
    // Sealed for another command.
    let other = f.set_password(1, BACKUP_PW);
    let mut replayed = f.command(Operation::SetBackupPassword { generation: 1 }, None);
    replayed.sealed_password = other.sealed_password.clone();
    // Not base64.
    let mut garbled = f.command(Operation::SetBackupPassword { generation: 1 }, None);
    garbled.sealed_password = Some("%%%".into());
    let cmds = [bare, as_pin, replayed, garbled];
    f.run(&cmds, T0 + 1);
    for c in &cmds {
        assert_eq!(f.result(&c.command_id), failed(BACKUP_PASSWORD_NOT_OPENED));
    }
    assert_eq!(f.state.backup_password_generation(), 0);

    // Without the cloud backup authorization nothing is opened at all.
    let mut f = fixture_with(options().deny(Authorization::CloudBackup), "14.1.0");
    let set = f.set_password(1, BACKUP_PW);
    let backup = f.command(Operation::Backup, None);
    let restore = f.command(restore_op(T0), Some(WRONG));
    f.run(&[set.clone(), backup.clone(), restore.clone()], T0 + 1);
    for c in [&set, &backup, &restore] {
        assert_eq!(
            f.result(&c.command_id),
            rejected(Refusal::NotAuthorized {
                authorization: Authorization::CloudBackup
            })
        );
    }
    assert_eq!(f.state.pin_guard.failed, 0, "the PIN was not looked at");
    assert_eq!(f.state.backup_password_generation(), 0);
}

#[test]
fn a_backup_needs_a_password_and_is_handed_out_once() {
    let mut f = fixture();
    let early = f.command(Operation::Backup, None);
    let out = f.run(std::slice::from_ref(&early), T0 + 1);
    assert!(out.io_work.is_empty());
    assert_eq!(f.result(&early.command_id), failed(NO_BACKUP_PASSWORD));
    assert_eq!(NO_BACKUP_PASSWORD, "no backup password is set");

    let set = f.set_password(1, BACKUP_PW);
    f.run(std::slice::from_ref(&set), T0 + 2);
    let backup = f.command(Operation::Backup, None);
    // Twice in one reply: handed out once, the second left alone (it is running).
    let out = f.run(&[backup.clone(), backup.clone()], T0 + 3);
    assert_eq!(
        out.io_work,
        vec![IoWork::Backup {
            command_id: backup.command_id.clone()
        }]
    );
    assert!(!out.state_changed);
    assert!(f.exec.is_in_flight(&backup.command_id));
    let on_disk = f.file.load().unwrap().unwrap();
    assert_eq!(
        on_disk.commands[&backup.command_id].phase,
        Phase::InProgress,
        "marked before acting"
    );
    // Delivered again while it runs: still running, not failed.
    let out = f.run(std::slice::from_ref(&backup), T0 + 4);
    assert!(out.io_work.is_empty());
    assert_eq!(
        f.state.commands[&backup.command_id].phase,
        Phase::InProgress
    );
    assert!(
        Executor::unreported(&f.state)
            .iter()
            .all(|(id, _)| *id != backup.command_id)
    );

    // Its result comes back through the executor, saved at once.
    let info = "backup bk_1760000000000deadbeef uploaded (1234 bytes)";
    assert!(
        f.exec
            .complete(
                &mut f.state,
                &backup.command_id,
                ApplianceResult::Succeeded,
                Some(info.into())
            )
            .unwrap()
    );
    assert!(!f.exec.is_in_flight(&backup.command_id));
    let done = CommandResultRequest::new(&ApplianceResult::Succeeded, Some(info.into()));
    assert_eq!(f.result(&backup.command_id), done);
    assert_eq!(
        f.file.load().unwrap().unwrap().commands[&backup.command_id].result,
        Some(done.clone())
    );
    // A second completion changes nothing; neither does another delivery.
    assert!(
        !f.exec
            .complete(
                &mut f.state,
                &backup.command_id,
                ApplianceResult::Failed,
                None
            )
            .unwrap()
    );
    assert_eq!(f.result(&backup.command_id), done);
    let out = f.run(std::slice::from_ref(&backup), T0 + 5);
    assert_eq!(out, Executed::default());
}

#[test]
fn a_restore_needs_the_right_pin_before_it_is_marked() {
    let mut f = fixture();
    let taken = T0 - 86_400_000;
    let wrong = f.command(restore_op(taken), Some(WRONG));
    let out = f.run(std::slice::from_ref(&wrong), T0 + 1);
    assert!(out.io_work.is_empty());
    assert_eq!(
        f.result(&wrong.command_id),
        rejected(Refusal::WrongPin { attempts_left: 4 })
    );
    assert_eq!(f.state.pin_guard.failed, 1, "a wrong attempt counts");
    assert_eq!(f.file.load().unwrap().unwrap().pin_guard.failed, 1);

    let bare = f.command(restore_op(taken), None);
    f.run(std::slice::from_ref(&bare), T0 + 2);
    assert_eq!(f.result(&bare.command_id), failed(PIN_NOT_OPENED));
    assert_eq!(f.state.pin_guard.failed, 1, "not a wrong attempt");

    let right = f.command(restore_op(taken), Some(PIN));
    let out = f.run(std::slice::from_ref(&right), T0 + 3);
    assert_eq!(
        out.io_work,
        vec![IoWork::Restore {
            command_id: right.command_id.clone(),
            backup: BackupId::new(taken, [1, 2, 3, 4]),
            taken_at: Timestamp::from_millis(taken),
        }]
    );
    assert_eq!(
        f.state.pin_guard.failed, 0,
        "the right PIN resets the count"
    );
    assert_eq!(
        f.file.load().unwrap().unwrap().commands[&right.command_id].phase,
        Phase::InProgress
    );

    // Blocked: refused before anything is opened or marked.
    for i in 0..5 {
        let w = f.command(Operation::Reboot, Some(WRONG));
        f.run(std::slice::from_ref(&w), T0 + 10 + i);
    }
    let blocked = f.command(restore_op(taken), Some(PIN));
    let out = f.run(std::slice::from_ref(&blocked), T0 + 20);
    assert!(out.io_work.is_empty());
    assert_eq!(f.result(&blocked.command_id), rejected(Refusal::PinBlocked));
}

#[test]
fn restored_configurations_are_named_year_day_month() {
    let at = |rfc3339: &str| {
        Timestamp::from_millis(
            chrono::DateTime::parse_from_rfc3339(rfc3339)
                .unwrap()
                .timestamp_millis(),
        )
    };
    assert_eq!(
        crate::cloud_backup::restore_name(at("2026-03-04T05:06:07Z")),
        "backup-2026-04-03_05:06:07"
    );
    assert_eq!(
        crate::cloud_backup::restore_name(at("2025-12-31T23:59:59.999Z")),
        "backup-2025-31-12_23:59:59"
    );
    // In UTC, whatever offset the time was written with.
    assert_eq!(
        crate::cloud_backup::restore_name(at("2026-03-04T01:06:07-05:00")),
        "backup-2026-04-03_06:06:07"
    );
}

#[tokio::test]
async fn a_crash_mid_backup_fails_it_after_the_restart_and_never_runs_it_again() {
    let options = options().with_backup_password(
        rampart_domain::backup::BackupPassword::parse(BACKUP_PW.into()).unwrap(),
    );
    let mut f = fixture_with(options, "14.1.0");
    assert_eq!(f.state.current_backup_password(), Some((1, BACKUP_PW)));
    let backup = f.command(Operation::Backup, None);
    let restore = f.command(restore_op(T0 - 1000), Some(PIN));
    let out = f.run(&[backup.clone(), restore.clone()], T0 + 1);
    assert_eq!(out.io_work.len(), 2);
    // The agent dies while uploading: the executor and memory are gone, the file
    // says InProgress.
    f.restart(T0 + 10_000);
    let interrupted = failed(INTERRUPTED);
    assert_eq!(f.result(&backup.command_id), interrupted);
    assert_eq!(f.result(&restore.command_id), interrupted);
    assert!(INTERRUPTED.contains("not run again"));
    let on_disk = f.file.load().unwrap().unwrap();
    assert_eq!(on_disk.commands[&backup.command_id].phase, Phase::Done);

    // Delivered again: never handed out again, reported once.
    let out = f.run(&[backup.clone(), restore.clone()], T0 + 20_000);
    assert_eq!(out, Executed::default());
    let rec = Recorder::default();
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    f.run(std::slice::from_ref(&backup), T0 + 30_000);
    f.exec.report_pending(&mut f.state, &rec).await.unwrap();
    assert_eq!(rec.sent().len(), 2);
    assert!(
        rec.sent()
            .iter()
            .all(|(_, r)| r.result == ResultKind::Failed)
    );
    // A result arriving late from the lost run is not taken.
    assert!(
        !f.exec
            .complete(
                &mut f.state,
                &backup.command_id,
                ApplianceResult::Succeeded,
                None
            )
            .unwrap()
    );
    assert_eq!(f.result(&backup.command_id), interrupted);

    // The same when the crash comes right after marking, before the I/O started.
    let backup = f.command(Operation::Backup, None);
    f.exec.crash_after_mark = true;
    assert!(
        f.exec
            .execute(&mut f.state, std::slice::from_ref(&backup), T0 + 40_000)
            .is_err()
    );
    f.restart(T0 + 50_000);
    assert_eq!(f.result(&backup.command_id), interrupted);
    assert!(
        f.run(std::slice::from_ref(&backup), T0 + 60_000)
            .io_work
            .is_empty()
    );
}

#[test]
fn the_initial_password_is_generation_one_and_never_replaces_a_set_one() {
    let pw = |s: &str| rampart_domain::backup::BackupPassword::parse(s.into()).unwrap();
    let mut f = fixture_with(options().with_backup_password(pw(BACKUP_PW)), "14.1.0");
    assert_eq!(f.state.current_backup_password(), Some((1, BACKUP_PW)));
    assert_eq!(f.report(T0).backup_password_generation, 1);
    let change = f.set_password(2, "Portal-Set-42");
    f.run(std::slice::from_ref(&change), T0 + 1);
    // Restarted with another initial password: the portal's stays.
    f.options = options().with_backup_password(pw("Given-Later-3"));
    f.restart(T0 + 2);
    assert_eq!(
        f.state.current_backup_password(),
        Some((2, "Portal-Set-42"))
    );
    assert_eq!(f.state.backup_password(1), Some(BACKUP_PW));
    assert_eq!(f.state.backup_password_generations().count(), 2);
}

#[test]
fn a_state_file_from_before_backups_still_loads_and_runs() {
    let f = fixture();
    let path = f.file.path().to_path_buf();
    // A state file as the previous release wrote it: no backup fields.
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let obj = old.as_object_mut().unwrap();
    assert!(obj.remove("backup_passwords").is_some());
    assert!(obj.remove("backup_password_generation").is_some());
    std::fs::write(&path, old.to_string()).unwrap();
    let mut f = f;
    f.restart(T0 + 1);
    assert_eq!(f.state.backup_password_generation(), 0);
    assert_eq!(f.report(T0 + 1).backup_password_generation, 0);
    assert_eq!(f.report(T0 + 1).utc_offset_minutes, Some(0));
    let set = f.set_password(1, BACKUP_PW);
    f.run(std::slice::from_ref(&set), T0 + 2);
    assert_eq!(f.result(&set.command_id).result, ResultKind::Succeeded);
}
