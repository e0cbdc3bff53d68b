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

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_domain::device_protocol::{CommandResultRequest, PendingCommand, pin_seal_context};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::JobId;
use rampart_domain::jobs::{AppAction, ApplianceResult, Operation, Refusal};
use rampart_domain::report::{AppState, Authorizations};
use rampart_identity::device_seal::open_on_device;
use rampart_identity::pin::PinOutcome;
use std::future::Future;
use zeroize::Zeroizing;

use crate::options::AgentOptions;
use crate::simulated::default_applications;
use crate::state::{AgentState, ExecutedCommand, Phase, StateFile};

/// The info of a PIN-protected command on an appliance without a PIN.
pub const NO_PIN_SET: &str = "no PIN is set on this appliance";
/// The info when the sealed PIN is missing or does not open (not a wrong attempt).
pub const PIN_NOT_OPENED: &str = "the PIN could not be opened";

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
    /// Test hook: stop right after writing `InProgress`, as a crash would.
    #[cfg(test)]
    crash_after_mark: bool,
}

/// A finished command: its result and the info for the communication log.
type Outcome = (ApplianceResult, Option<String>);

impl Executor {
    pub fn new(file: StateFile, authorizations: Authorizations) -> Self {
        Self {
            file,
            authorizations,
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
                None => {
                    let (result, _) = self.run_new(state, cmd, now_ms)?;
                    if result == ApplianceResult::Succeeded {
                        out.state_changed = true;
                        if cmd.operation == Operation::Shutdown {
                            out.shutdown = Some(id.clone());
                            break;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Checks, marks in progress, acts, records the result.
    fn run_new(
        &self,
        state: &mut AgentState,
        cmd: &PendingCommand,
        now_ms: i64,
    ) -> anyhow::Result<Outcome> {
        let id = &cmd.command_id;
        let op = &cmd.operation;
        let refused = self
            .check(state, op)
            .map_err(|r| (ApplianceResult::Rejected(r), None))
            .and_then(|()| {
                if op.needs_pin() {
                    check_pin(state, cmd)
                } else {
                    Ok(())
                }
            });
        if let Err((result, info)) = refused {
            tracing::warn!(command = %id, operation = op.name(), result = ?result, "command not run");
            // The PIN guard's counters are saved with the result, at once.
            return self.record(state, id, op, result, info, now_ms);
        }

        state.remember(id.clone(), ExecutedCommand::in_progress(op.clone(), now_ms));
        self.save(state)?;
        #[cfg(test)]
        if self.crash_after_mark {
            anyhow::bail!("simulated crash after marking {id} in progress");
        }
        let info = act(state, op, now_ms);
        tracing::info!(command = %id, operation = op.name(), info, "command done");
        self.record(
            state,
            id,
            op,
            ApplianceResult::Succeeded,
            Some(info),
            now_ms,
        )
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
            _ => (
                ApplianceResult::Failed,
                "interrupted by a restart of the appliance; not run again",
            ),
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
    let sealed = B64.decode(cmd.sealed_pin.as_deref()?).ok()?;
    let seed = Zeroizing::new(state.signing_key().ok()?.to_bytes());
    open_on_device(
        &seed,
        &sealed,
        &pin_seal_context(appliance, &cmd.command_id),
    )
    .ok()
    .map(Zeroizing::new)
}

/// The simulated effect of an operation that passed every check; returns the info.
fn act(state: &mut AgentState, op: &Operation, now_ms: i64) -> String {
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
            // commands, so it stays usable and never runs a command twice.
            state.applications = default_applications();
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
    }
}

#[cfg(test)]
mod tests;
