//! Runs the commands of a check-in reply on the simulated appliance, each exactly once,
//! and reports their results.
//!
//! Exactly once rests on the state file: a command is written `InProgress` (atomic save,
//! fsync) before the appliance acts, and `Done` with its result afterwards. A command
//! the file knows is never run again, whatever the console sends; one found
//! `InProgress` after a restart is finished without acting again (for a reboot the
//! restart *is* the reboot). Reporting is a separate step behind [`Reporter`]: a result
//! stays unreported until the console takes it (or refuses it for good) and is retried
//! after the next check-in.
//!
//! Cloud backup and restore need the network and take a while, so they run in two
//! steps: [`Executor::execute`] checks them (authorization, a password to seal with,
//! the PIN of a restore), marks them `InProgress` on disk and hands them back as
//! [`IoWork`]; the caller performs them (see [`crate::cloud_backup`]) and records the
//! result with [`Executor::complete`]. One found `InProgress` after a restart was cut
//! off and is reported failed, never run again.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_domain::Timestamp;
use rampart_domain::backup::BackupPassword;
use rampart_domain::device_protocol::{
    CommandResultRequest, PendingCommand, backup_password_seal_context, pin_seal_context,
};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{BackupId, JobId};
use rampart_domain::jobs::{AppAction, ApplianceResult, Operation, Refusal};
use rampart_domain::report::{AppState, Authorizations};
use rampart_identity::device_seal::open_on_device;
use rampart_identity::pin::PinOutcome;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;
use zeroize::Zeroizing;

use crate::options::AgentOptions;
use crate::simulated::default_applications;
use crate::state::{AgentState, ExecutedCommand, Phase, StateFile};

/// The info of a PIN-protected command on an appliance without a PIN.
pub const NO_PIN_SET: &str = "no PIN is set on this appliance";
/// The info when the sealed PIN is missing or does not open (not a wrong attempt).
pub const PIN_NOT_OPENED: &str = "the PIN could not be opened";
/// The info of a backup on an appliance that has no backup password yet.
pub const NO_BACKUP_PASSWORD: &str = "no backup password is set";
/// The info when the sealed backup password is missing or does not open.
pub const BACKUP_PASSWORD_NOT_OPENED: &str = "the backup password could not be opened";
/// The info of a command interrupted by a restart (it is not run again).
pub const INTERRUPTED: &str = "interrupted by a restart of the appliance; not run again";

/// What became of one report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The console took it.
    Delivered,
    /// The console refused it for good (404, 409, 410, 400): never sent again.
    Final,
    /// Network error or 5xx: sent again after the next check-in.
    Retry,
}

/// Sends one result to the console.
pub trait Reporter {
    fn report(
        &self,
        command: &JobId,
        result: &CommandResultRequest,
    ) -> impl Future<Output = Delivery> + Send;
}

/// What one batch of commands did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Executed {
    /// Something ran or finished that the console learns of by check-in (new
    /// firmware, fresh uptime, application states): check in again soon.
    pub state_changed: bool,
    /// A shutdown succeeded: power off once its result is reported. Commands after it
    /// in the same reply are left alone (the appliance is going down).
    pub shutdown: Option<JobId>,
    /// Commands checked and marked `InProgress` that need network I/O: the caller
    /// performs each and records its result with [`Executor::complete`].
    pub io_work: Vec<IoWork>,
}

/// A command that passed every check and is marked `InProgress`, waiting for its
/// network I/O. It carries nothing secret: the password is taken from the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoWork {
    /// Seal the configuration with the current backup password and upload it.
    Backup { command_id: JobId },
    /// Download `backup`, open it and store it as `backup-YYYY-DD-MM_HH:ii:ss` of
    /// `taken_at`.
    Restore {
        command_id: JobId,
        backup: BackupId,
        taken_at: Timestamp,
    },
}

impl IoWork {
    pub fn command_id(&self) -> &JobId {
        match self {
            Self::Backup { command_id } | Self::Restore { command_id, .. } => command_id,
        }
    }
}

/// Counts of one round of reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reported {
    pub delivered: usize,
    pub refused: usize,
    pub retry_later: usize,
}

/// Runs commands against an [`AgentState`] and keeps its file up to date.
pub struct Executor {
    file: StateFile,
    authorizations: Authorizations,
    /// Commands handed out as [`IoWork`] by this process and not completed yet: a
    /// redelivery of one is left alone (it is running, not interrupted).
    in_flight: Mutex<BTreeSet<JobId>>,
    /// Test hook: stop right after writing `InProgress`, as a crash would.
    #[cfg(test)]
    crash_after_mark: bool,
}

/// A finished command: its result and the info for the communication log.
type Outcome = (ApplianceResult, Option<String>);

/// What became of a new command.
enum Step {
    Finished(Outcome),
    /// Marked in progress; the caller performs the I/O.
    Io(IoWork),
}

/// A secret that arrived sealed with the command and passed its checks.
enum Opened {
    None,
    BackupPassword(BackupPassword),
}

impl Executor {
    pub fn new(file: StateFile, authorizations: Authorizations) -> Self {
        Self {
            file,
            authorizations,
            in_flight: Mutex::new(BTreeSet::new()),
            #[cfg(test)]
            crash_after_mark: false,
        }
    }

    pub fn authorizations(&self) -> &Authorizations {
        &self.authorizations
    }

    /// At agent start: fills in the firmware of an older state file, sets the PIN and
    /// retry limit from `options`, powers on an appliance that was shut down (a fresh
    /// boot), and finishes commands a crash left in progress. Saves the state.
    pub fn start(
        &self,
        state: &mut AgentState,
        firmware: FirmwareVersion,
        options: &AgentOptions,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        if state.firmware.is_none() {
            state.firmware = Some(firmware);
        }
        if let Some(pin) = &options.pin {
            state.set_pin(Some(pin.clone()));
        }
        state.pin_guard.max_retries = options.pin_max_retries.max(1);
        if let Some(password) = &options.backup_password {
            if state.backup_password_generation() == 0 {
                // The first password of this appliance: generation 1 (or one above any
                // generation it kept, should the current one have been cleared).
                let generation = state.backup_password_generations().max().unwrap_or(0) + 1;
                if state.set_backup_password(generation, password).is_ok() {
                    tracing::info!(serial = %state.serial, generation, "backup password set");
                }
            } else if state
                .current_backup_password()
                .is_some_and(|(_, held)| held != password.expose())
            {
                tracing::info!(
                    serial = %state.serial,
                    generation = state.backup_password_generation(),
                    "the appliance already has a backup password; the given one is not used"
                );
            }
        }
        if state.powered_off {
            state.powered_off = false;
            state.booted_at_ms = now_ms;
            tracing::info!(serial = %state.serial, "appliance powered on");
        }
        let interrupted: Vec<JobId> = state
            .commands
            .iter()
            .filter(|(_, c)| c.phase == Phase::InProgress)
            .map(|(id, _)| id.clone())
            .collect();
        for id in interrupted {
            self.finish_interrupted(state, &id, now_ms);
        }
        self.save(state)
    }

    /// Runs `commands` in order (see the module doc). Errors only when the state file
    /// cannot be written; then nothing further is run.
    pub fn execute(
        &self,
        state: &mut AgentState,
        commands: &[PendingCommand],
        now_ms: i64,
    ) -> anyhow::Result<Executed> {
        let mut out = Executed::default();
        if commands.is_empty() {
            return Ok(out);
        }
        self.adopt_local_login(state);
        for cmd in commands {
            let id = &cmd.command_id;
            match state.commands.get(id).map(|c| c.phase) {
                Some(Phase::Done) => {
                    // Never again. A cancel request is answered with the result we
                    // have (the console treats the same result twice as one).
                    if cmd.cancel {
                        if let Some(c) = state.commands.get_mut(id) {
                            c.reported = false;
                        }
                        self.save(state)?;
                    }
                }
                Some(Phase::InProgress) if cmd.cancel => {}
                // Running in this process (backup, restore): not interrupted.
                Some(Phase::InProgress) if self.is_in_flight(id) => {}
                Some(Phase::InProgress) => {
                    self.finish_interrupted(state, id, now_ms);
                    self.save(state)?;
                    out.state_changed = true;
                }
                None if cmd.cancel => {
                    tracing::info!(command = %id, "canceled before it ran");
                    let result = CommandResultRequest::new(&ApplianceResult::Canceled, None);
                    state.remember(
                        id.clone(),
                        ExecutedCommand::done(Some(cmd.operation.clone()), result, now_ms),
                    );
                    self.save(state)?;
                }
                None => match self.run_new(state, cmd, now_ms)? {
                    Step::Io(work) => out.io_work.push(work),
                    Step::Finished((result, _)) => {
                        if result == ApplianceResult::Succeeded {
                            out.state_changed = true;
                            if cmd.operation == Operation::Shutdown {
                                out.shutdown = Some(id.clone());
                                break;
                            }
                        }
                    }
                },
            }
        }
        Ok(out)
    }

    /// Checks, marks in progress, acts, records the result; or, for an operation
    /// that needs network I/O, hands it back marked in progress.
    fn run_new(
        &self,
        state: &mut AgentState,
        cmd: &PendingCommand,
        now_ms: i64,
    ) -> anyhow::Result<Step> {
        let id = &cmd.command_id;
        let op = &cmd.operation;
        let checked = self
            .check(state, op)
            .map_err(|r| (ApplianceResult::Rejected(r), None))
            .and_then(|()| {
                if op.needs_pin() {
                    check_pin(state, cmd)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| check_backup(state, cmd));
        let opened = match checked {
            Ok(opened) => opened,
            Err((result, info)) => {
                tracing::warn!(command = %id, operation = op.name(), result = ?result, info, "command not run");
                // The PIN guard's counters are saved with the result, at once.
                let outcome = self.record(state, id, op, result, info, now_ms)?;
                return Ok(Step::Finished(outcome));
            }
        };

        state.remember(id.clone(), ExecutedCommand::in_progress(op.clone(), now_ms));
        self.save(state)?;
        #[cfg(test)]
        if self.crash_after_mark {
            anyhow::bail!("simulated crash after marking {id} in progress");
        }
        let work = match op {
            Operation::Backup => Some(IoWork::Backup {
                command_id: id.clone(),
            }),
            Operation::RestoreBackup { backup, taken_at } => Some(IoWork::Restore {
                command_id: id.clone(),
                backup: backup.clone(),
                taken_at: *taken_at,
            }),
            _ => None,
        };
        if let Some(work) = work {
            self.lock_in_flight().insert(id.clone());
            tracing::info!(command = %id, operation = op.name(), "command started");
            return Ok(Step::Io(work));
        }
        let info = act(state, op, opened, now_ms);
        tracing::info!(command = %id, operation = op.name(), info, "command done");
        let outcome = self.record(
            state,
            id,
            op,
            ApplianceResult::Succeeded,
            Some(info),
            now_ms,
        )?;
        Ok(Step::Finished(outcome))
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, BTreeSet<JobId>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `id` was handed out as [`IoWork`] by this executor and is not complete.
    pub fn is_in_flight(&self, id: &JobId) -> bool {
        self.lock_in_flight().contains(id)
    }

    /// Records the result of an [`IoWork`] (backup, restore) and saves. A command
    /// that is not in progress any more (finished meanwhile) keeps its result; the
    /// answer says whether this one was recorded.
    pub fn complete(
        &self,
        state: &mut AgentState,
        id: &JobId,
        result: ApplianceResult,
        info: Option<String>,
    ) -> anyhow::Result<bool> {
        self.lock_in_flight().remove(id);
        let Some(c) = state.commands.get(id) else {
            return Ok(false);
        };
        if c.phase != Phase::InProgress {
            return Ok(false);
        }
        let (op, started) = (c.operation.clone(), c.started_at_ms);
        match &result {
            ApplianceResult::Succeeded => {
                tracing::info!(command = %id, info, "command done");
            }
            other => tracing::warn!(command = %id, result = ?other, info, "command failed"),
        }
        let req = CommandResultRequest::new(&result, info);
        state.remember(id.clone(), ExecutedCommand::done(op, req, started));
        self.save(state)?;
        Ok(true)
    }

    fn record(
        &self,
        state: &mut AgentState,
        id: &JobId,
        op: &Operation,
        result: ApplianceResult,
        info: Option<String>,
        now_ms: i64,
    ) -> anyhow::Result<Outcome> {
        let req = CommandResultRequest::new(&result, info.clone());
        state.remember(
            id.clone(),
            ExecutedCommand::done(Some(op.clone()), req, now_ms),
        );
        self.save(state)?;
        Ok((result, info))
    }

    /// The appliance's own checks, in order: authorization, firmware minimum and what
    /// the operation needs (something to roll back to, a newer version), then the
    /// application's existence.
    fn check(&self, state: &AgentState, op: &Operation) -> Result<(), Refusal> {
        let firmware = state
            .firmware
            .unwrap_or(rampart_domain::firmware::MIN_SUPPORTED);
        op.check_allowed(&self.authorizations, firmware, state.previous_firmware)?;
        if let Operation::Application { name, .. } = op {
            // N/A: the application does not run on this appliance at all.
            match state.applications.get(name) {
                Some(AppState::Up | AppState::Down) => {}
                Some(AppState::NotApplicable) | None => return Err(Refusal::Unsupported),
            }
        }
        Ok(())
    }

    /// Finishes a command found in progress: the appliance restarted while it ran. It
    /// is not acted on again. A reboot (or shutdown) was completed by the restart
    /// itself; anything else is reported failed, since whether it took is unknown.
    fn finish_interrupted(&self, state: &mut AgentState, id: &JobId, now_ms: i64) {
        let Some(c) = state.commands.get(id) else {
            return;
        };
        let started = c.started_at_ms;
        let op = c.operation.clone();
        let (result, info) = match &op {
            Some(Operation::Reboot | Operation::Shutdown) => {
                if state.booted_at_ms <= started {
                    state.booted_at_ms = now_ms;
                }
                (
                    ApplianceResult::Succeeded,
                    "the appliance restarted while running it",
                )
            }
            _ => (ApplianceResult::Failed, INTERRUPTED),
        };
        tracing::warn!(command = %id, result = ?result, "finishing a command interrupted by a restart");
        let req = CommandResultRequest::new(&result, Some(info.to_owned()));
        state.remember(id.clone(), ExecutedCommand::done(op, req, started));
    }

    /// Results not yet reported, oldest first.
    pub fn unreported(state: &AgentState) -> Vec<(JobId, CommandResultRequest)> {
        state
            .commands
            .iter()
            .filter(|(_, c)| c.phase == Phase::Done && !c.reported)
            .filter_map(|(id, c)| c.result.clone().map(|r| (id.clone(), r)))
            .collect()
    }

    /// Reports every unreported result; those that fail transiently stay unreported.
    pub async fn report_pending<R: Reporter>(
        &self,
        state: &mut AgentState,
        reporter: &R,
    ) -> anyhow::Result<Reported> {
        let mut counts = Reported::default();
        for (id, req) in Self::unreported(state) {
            match reporter.report(&id, &req).await {
                Delivery::Retry => {
                    counts.retry_later += 1;
                    continue;
                }
                Delivery::Delivered => counts.delivered += 1,
                Delivery::Final => counts.refused += 1,
            }
            if let Some(c) = state.commands.get_mut(&id) {
                c.reported = true;
            }
        }
        if counts.delivered + counts.refused > 0 {
            self.save(state)?;
        }
        Ok(counts)
    }

    /// A shutdown that succeeded but whose result is not reported yet (after a restart
    /// in between, the agent still owes it before powering off).
    pub fn pending_shutdown(state: &AgentState) -> Option<JobId> {
        let done = CommandResultRequest::new(&ApplianceResult::Succeeded, None).result;
        state
            .commands
            .iter()
            .find(|(_, c)| {
                c.phase == Phase::Done
                    && !c.reported
                    && c.operation == Some(Operation::Shutdown)
                    && c.result.as_ref().is_some_and(|r| r.result == done)
            })
            .map(|(id, _)| id.clone())
    }

    /// Powers the appliance off (after its shutdown was reported).
    pub fn power_off(&self, state: &mut AgentState) -> anyhow::Result<()> {
        state.powered_off = true;
        self.save(state)
    }

    /// Takes over a local login made on the state file by another process
    /// (`rampart agent unblock-pin`) while this agent runs.
    fn adopt_local_login(&self, state: &mut AgentState) {
        match self.file.load() {
            Ok(Some(disk)) if disk.local_logins > state.local_logins => {
                state.pin_guard.unblock_by_local_login();
                state.local_logins = disk.local_logins;
                tracing::info!(serial = %state.serial, "local login: PIN unblocked");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = format!("{e:#}"), "could not read the state file"),
        }
    }

    /// Saves, first adopting a local login made meanwhile so it is not overwritten.
    pub fn save(&self, state: &mut AgentState) -> anyhow::Result<()> {
        self.adopt_local_login(state);
        self.file.save(state)
    }
}

/// The PIN of a PIN-protected command: blocked → rejected without opening anything;
/// no PIN set or a sealed PIN that does not open → failed (not a wrong attempt);
/// otherwise the guard decides and counts.
fn check_pin(state: &mut AgentState, cmd: &PendingCommand) -> Result<(), Outcome> {
    if state.pin_guard.is_blocked() {
        return Err((ApplianceResult::Rejected(Refusal::PinBlocked), None));
    }
    let Some(pin) = state.pin().cloned() else {
        return Err((ApplianceResult::Failed, Some(NO_PIN_SET.to_owned())));
    };
    let Some(presented) = open_pin(state, cmd) else {
        return Err((ApplianceResult::Failed, Some(PIN_NOT_OPENED.to_owned())));
    };
    match state.pin_guard.check(&pin, &presented) {
        PinOutcome::Accepted => Ok(()),
        PinOutcome::Wrong { attempts_left } => Err((
            ApplianceResult::Rejected(Refusal::WrongPin { attempts_left }),
            None,
        )),
        PinOutcome::Blocked => Err((ApplianceResult::Rejected(Refusal::PinBlocked), None)),
    }
}

/// Opens the sealed PIN with the appliance's key, bound to this appliance and command.
fn open_pin(state: &AgentState, cmd: &PendingCommand) -> Option<Zeroizing<Vec<u8>>> {
    let appliance = state.appliance_id.as_ref()?;
    open_sealed(
        state,
        cmd.sealed_pin.as_deref()?,
        &pin_seal_context(appliance, &cmd.command_id),
    )
}

/// Opens a secret sealed to this appliance's key under `context`.
fn open_sealed(state: &AgentState, sealed_b64: &str, context: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let sealed = B64.decode(sealed_b64).ok()?;
    let seed = Zeroizing::new(state.signing_key().ok()?.to_bytes());
    open_on_device(&seed, &sealed, context)
        .ok()
        .map(Zeroizing::new)
}

/// Opens the new backup password of a `set_backup_password` command: sealed like the
/// PIN, under its own context (a sealed PIN never opens as a password).
fn open_backup_password(state: &AgentState, cmd: &PendingCommand) -> Option<Zeroizing<String>> {
    let appliance = state.appliance_id.as_ref()?;
    let bytes = open_sealed(
        state,
        cmd.sealed_password.as_deref()?,
        &backup_password_seal_context(appliance, &cmd.command_id),
    )?;
    String::from_utf8(bytes.to_vec()).ok().map(Zeroizing::new)
}

/// The checks of the backup operations, after authorization (and the PIN of a
/// restore): a backup needs a password to seal with; a new password must open, meet
/// the policy (SPEC 6.1) and not reuse a generation of another password. Refusals
/// name the rule, never the password.
fn check_backup(state: &AgentState, cmd: &PendingCommand) -> Result<Opened, Outcome> {
    let failed = |info: String| (ApplianceResult::Failed, Some(info));
    match &cmd.operation {
        Operation::Backup if state.current_backup_password().is_none() => {
            Err(failed(NO_BACKUP_PASSWORD.to_owned()))
        }
        Operation::SetBackupPassword { generation } => {
            let Some(text) = open_backup_password(state, cmd) else {
                return Err(failed(BACKUP_PASSWORD_NOT_OPENED.to_owned()));
            };
            if *generation == 0 {
                return Err(failed("password generations count from 1".to_owned()));
            }
            // `parse` takes the string and wipes it, accepted or not.
            let password = BackupPassword::parse(String::clone(&text)).map_err(|refusal| {
                failed(format!(
                    "backup password refused ({}): it needs {refusal}",
                    refusal.code()
                ))
            })?;
            if state
                .backup_password(*generation)
                .is_some_and(|held| held != password.expose())
            {
                return Err(failed(
                    crate::state::GenerationInUse(*generation).to_string(),
                ));
            }
            Ok(Opened::BackupPassword(password))
        }
        _ => Ok(Opened::None),
    }
}

/// The simulated effect of an operation that passed every check; returns the info.
/// Backup and restore never come here: they are handed back as [`IoWork`].
fn act(state: &mut AgentState, op: &Operation, opened: Opened, now_ms: i64) -> String {
    match op {
        Operation::Reboot => {
            state.booted_at_ms = now_ms;
            "rebooted".into()
        }
        // Powered off by the agent once the result is reported.
        Operation::Shutdown => "shutting down".into(),
        Operation::FactoryReset => {
            // Back to defaults, and a restart. The simulation keeps its enrollment
            // (key and appliance id), its firmware, its PIN and its record of executed
            // commands, so it stays usable and never runs a command twice. Its
            // configuration goes too: holding version 0, it is sent every section again.
            state.applications = default_applications();
            state.config = crate::configuration::AppliedConfig::default();
            state.hostname = None;
            state.pin_guard.unblock_by_local_login();
            state.booted_at_ms = now_ms;
            "reset to factory defaults".into()
        }
        Operation::Rollback => {
            // `check` made sure there is a previous firmware.
            let current = state.firmware;
            if let Some(previous) = state.previous_firmware {
                state.firmware = Some(previous);
                state.previous_firmware = current;
            }
            state.booted_at_ms = now_ms;
            format!(
                "rolled back to {}",
                state.firmware.map(|f| f.to_string()).unwrap_or_default()
            )
        }
        Operation::FirmwareUpdate { version, .. } => {
            state.previous_firmware = state.firmware;
            state.firmware = Some(*version);
            state.booted_at_ms = now_ms;
            format!("updated to {version}")
        }
        Operation::Application { name, action } => {
            let to = match action {
                AppAction::Start | AppAction::Restart => AppState::Up,
                AppAction::Stop => AppState::Down,
            };
            state.applications.insert(name.clone(), to);
            let verb = match action {
                AppAction::Start => "started",
                AppAction::Stop => "stopped",
                AppAction::Restart => "restarted",
            };
            format!("{name} {verb}")
        }
        Operation::SetBackupPassword { generation } => match opened {
            Opened::BackupPassword(password) => {
                match state.set_backup_password(*generation, &password) {
                    Ok(()) => format!("backup password set (generation {generation})"),
                    // `check_backup` refused this case already.
                    Err(e) => e.to_string(),
                }
            }
            Opened::None => BACKUP_PASSWORD_NOT_OPENED.to_owned(),
        },
        Operation::Backup | Operation::RestoreBackup { .. } => {
            unreachable!("backup and restore are handed back as I/O work")
        }
    }
}

#[cfg(test)]
mod tests;
