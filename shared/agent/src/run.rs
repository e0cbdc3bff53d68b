//! One appliance's life: enroll once, then check in forever at the interval the
//! console sets, riding out console restarts; run the commands each reply carries
//! (see [`crate::executor`]) and report their results.
//!
//! Backups and restores ([`IoWork`]) run as tasks beside the check-ins (a large one
//! must not make the appliance look disconnected); each result is recorded through
//! the executor and reported as soon as it is in.

use anyhow::Context;
use rampart_domain::device_protocol::{CheckinResponse, EnrollRequest};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{JobId, Serial};
use rampart_domain::jobs::ApplianceResult;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinSet;

use crate::client::{AgentError, DeviceClient};
use crate::cloud_backup::{self, BackupJob, Passwords, RestoreJob};
use crate::executor::{Executed, Executor, IoWork, NO_BACKUP_PASSWORD, Reported};
use crate::options::{AgentOptions, BackupSettings};
use crate::simulated::SimulatedAppliance;
use crate::state::{AgentState, StateFile};

/// How soon the agent checks in again after a command changed what it reports (new
/// firmware, fresh uptime, application states), so the console sees it promptly.
pub const PROMPT_CHECKIN: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct AgentConfig {
    pub server: String,
    pub serial: Serial,
    pub license_secret: String,
    pub state_file: StateFile,
    /// The firmware of a fresh appliance; once the state file records one (commands
    /// change it), that one counts.
    pub firmware: FirmwareVersion,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("server", &self.server)
            .field("serial", &self.serial)
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

pub struct Agent {
    pub config: AgentConfig,
    pub client: DeviceClient,
    pub state: AgentState,
    pub appliance: SimulatedAppliance,
    pub executor: Executor,
    poll: Duration,
    /// A shutdown ran; the appliance powers off once its result is reported.
    shutdown: Option<JobId>,
    /// How backups are made.
    backup: BackupSettings,
    /// Backups and restores under way: each task ends with its command's result.
    io: JoinSet<(JobId, IoResult)>,
    /// Which command each task runs (to fail it should the task itself fail).
    io_commands: HashMap<tokio::task::Id, JobId>,
}

/// The result of one backup or restore, and its info.
type IoResult = (ApplianceResult, Option<String>);

/// Errors after which retrying cannot help.
fn is_fatal(e: &AgentError) -> bool {
    matches!(
        e.code(),
        Some(
            "unknown_license"
                | "wrong_license_secret"
                | "license_bound_elsewhere"
                | "license_expired"
                | "firmware_too_old"
                | "unknown_appliance"
        )
    )
}

/// What one check-in round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub executed: Executed,
    pub reported: Reported,
    /// The reply carried configuration changes (SPEC 8) and they were taken.
    pub configured: bool,
    /// The appliance shut down: the agent stops.
    pub powered_off: bool,
}

impl Agent {
    /// Loads the state file (creating a key on first start) with the default options:
    /// every authorization granted, the PIN the state file holds (if any), the retry
    /// limit from `SESSIONAUTH_MAXRETRY`.
    pub fn open(config: AgentConfig, http: reqwest::Client) -> anyhow::Result<Self> {
        Self::open_with(config, AgentOptions::from_env(), http)
    }

    /// Loads the state file (creating a key on first start), applies `options` and
    /// finishes commands a crash left in progress.
    pub fn open_with(
        config: AgentConfig,
        options: AgentOptions,
        http: reqwest::Client,
    ) -> anyhow::Result<Self> {
        let now = rampart_domain::Timestamp::now_system().millis();
        let mut state = match config.state_file.load()? {
            Some(s) if s.serial == config.serial => s,
            Some(s) => anyhow::bail!(
                "state file {} belongs to {}, not {}",
                config.state_file.path().display(),
                s.serial,
                config.serial
            ),
            None => AgentState::fresh(config.serial.clone(), now),
        };
        let executor = Executor::new(config.state_file.clone(), options.authorizations.clone());
        executor.start(&mut state, config.firmware, &options, now)?;
        cloud_backup::remove_leftovers(
            config.state_file.dir(),
            &cloud_backup::temp_prefix(&config.state_file.stem()),
        );
        let mut client = DeviceClient::new(http, &config.server, state.signing_key()?);
        if let Some(id) = &state.appliance_id {
            client.set_appliance(id.as_str());
        }
        let mut appliance =
            SimulatedAppliance::from_state(&state, config.firmware, options.authorizations);
        appliance.utc_offset_minutes = options.utc_offset_minutes;
        let shutdown = Executor::pending_shutdown(&state);
        Ok(Self {
            config,
            client,
            state,
            appliance,
            executor,
            poll: Duration::from_secs(60),
            shutdown,
            backup: options.backup,
            io: JoinSet::new(),
            io_commands: HashMap::new(),
        })
    }

    pub fn poll_interval(&self) -> Duration {
        self.poll
    }

    /// Enrolls if this appliance has not yet; idempotent.
    pub async fn enroll(&mut self) -> Result<(), AgentError> {
        if self.state.appliance_id.is_some() {
            return Ok(());
        }
        let req = EnrollRequest {
            serial: self.config.serial.clone(),
            license_secret: self.config.license_secret.clone(),
            public_key: self.client.public_key_base64(),
            firmware: self.appliance.firmware,
            hostname: self.appliance.hostname.clone(),
            model: self.appliance.model.clone(),
        };
        let resp = self.client.enroll(&req).await?;
        self.client.set_appliance(resp.appliance_id.as_str());
        self.state.appliance_id = Some(resp.appliance_id.clone());
        self.poll = Duration::from_secs(resp.poll_interval_secs.max(1));
        if let Err(e) = self.executor.save(&mut self.state) {
            tracing::error!(error = format!("{e:#}"), "could not save agent state");
        }
        tracing::info!(serial = %self.config.serial, appliance = %resp.appliance_id, "enrolled");
        Ok(())
    }

    /// One check-in: the report out, the reply (with its commands) back. Does not run
    /// the commands; see [`Agent::round`].
    pub async fn checkin(&mut self) -> Result<CheckinResponse, AgentError> {
        let report = self
            .appliance
            .report(rampart_domain::Timestamp::now_system().millis());
        let resp = self.client.checkin(&report).await?;
        self.poll = Duration::from_secs(resp.poll_interval_secs.max(1));
        tracing::info!(
            serial = %self.config.serial,
            commands = resp.commands.len(),
            next_in_secs = resp.poll_interval_secs,
            "checked in"
        );
        Ok(resp)
    }

    /// Backups and restores still running.
    pub fn io_in_flight(&self) -> usize {
        self.io.len()
    }

    /// Runs the commands of a check-in reply and reports every unreported result.
    /// Errors only when the state file cannot be written.
    pub async fn handle(&mut self, resp: &CheckinResponse) -> anyhow::Result<Round> {
        let now = rampart_domain::Timestamp::now_system().millis();
        let executed = self
            .executor
            .execute(&mut self.state, &resp.commands, now)?;
        self.appliance.sync(&self.state);
        for work in &executed.io_work {
            self.start_io(work, now)?;
        }
        if executed.shutdown.is_some() {
            self.shutdown.clone_from(&executed.shutdown);
        }
        let mut reported = self
            .executor
            .report_pending(&mut self.state, &self.client)
            .await?;
        let configured = match &resp.configuration {
            Some(change) => {
                self.state
                    .config
                    .apply(change, &self.appliance.authorizations);
                self.executor.save(&mut self.state)?;
                self.appliance.sync(&self.state);
                true
            }
            None => false,
        };
        self.report_configuration().await?;
        let mut powered_off = false;
        if let Some(id) = &self.shutdown
            && self.state.commands.get(id).is_none_or(|c| c.reported)
        {
            // A backup under way finishes (and is reported) before the power goes.
            let more = self.settle_io().await?;
            reported.delivered += more.delivered;
            reported.refused += more.refused;
            reported.retry_later += more.retry_later;
            self.executor.power_off(&mut self.state)?;
            powered_off = true;
        }
        Ok(Round {
            executed,
            reported,
            configured,
            powered_off,
        })
    }

    /// Reports the results of the last configuration change, once; kept for the next
    /// round while the console cannot be reached.
    async fn report_configuration(&mut self) -> anyhow::Result<()> {
        let Some(req) = self.state.config.unreported.clone() else {
            return Ok(());
        };
        match self.client.report_config_result(&req).await {
            Ok(_) => {}
            Err(AgentError::Refused {
                status: 400 | 413 | 415 | 422,
                code,
                ..
            }) => {
                // The body itself was refused: sending it again cannot help.
                tracing::warn!(serial = %self.config.serial, code, "configuration result refused");
            }
            Err(e) => {
                tracing::warn!(serial = %self.config.serial, error = %e, "configuration result not delivered, retrying");
                return Ok(());
            }
        }
        self.state.config.unreported = None;
        self.executor.save(&mut self.state)
    }

    /// Starts the network I/O of a backup or restore the executor marked in progress.
    fn start_io(&mut self, work: &IoWork, now_ms: i64) -> anyhow::Result<()> {
        let id = work.command_id().clone();
        let client = self.client.clone();
        let file = &self.config.state_file;
        let (work_dir, temp_prefix) = (
            file.dir().to_path_buf(),
            cloud_backup::temp_prefix(&file.stem()),
        );
        let handle = match work {
            IoWork::Backup { command_id } => {
                let Some((generation, password)) = self.state.current_backup_password() else {
                    // Checked before it was marked; only a cleared state gets here.
                    self.executor.complete(
                        &mut self.state,
                        &id,
                        ApplianceResult::Failed,
                        Some(NO_BACKUP_PASSWORD.to_owned()),
                    )?;
                    return Ok(());
                };
                let job = BackupJob {
                    command_id: Some(command_id.clone()),
                    serial: self.state.serial.clone(),
                    password_generation: generation,
                    password: rampart_envelope::Password::new(password.to_owned()),
                    configuration: self.appliance.configuration(now_ms),
                    filler_seed: self.appliance.filler_seed(),
                    settings: self.backup,
                    work_dir,
                    temp_prefix,
                };
                let id = id.clone();
                self.io.spawn(async move {
                    let result = match cloud_backup::backup(&client, job).await {
                        Ok(up) => (ApplianceResult::Succeeded, Some(up.info())),
                        Err(e) => (ApplianceResult::Failed, Some(e.to_string())),
                    };
                    (id, result)
                })
            }
            IoWork::Restore {
                backup, taken_at, ..
            } => {
                let job = RestoreJob {
                    serial: self.state.serial.clone(),
                    backup: backup.clone(),
                    taken_at: *taken_at,
                    passwords: Passwords::from_state(&self.state),
                    configs_dir: file.configs_dir(),
                    work_dir,
                    temp_prefix,
                };
                let id = id.clone();
                self.io.spawn(async move {
                    let result = match cloud_backup::restore(&client, job).await {
                        Ok(r) => (ApplianceResult::Succeeded, Some(r.info())),
                        Err(e) => (ApplianceResult::Failed, Some(e.to_string())),
                    };
                    (id, result)
                })
            }
        };
        self.io_commands.insert(handle.id(), id);
        Ok(())
    }

    /// Records the result of one finished backup or restore task.
    fn record_io(
        &mut self,
        joined: Result<(tokio::task::Id, (JobId, IoResult)), tokio::task::JoinError>,
    ) -> anyhow::Result<()> {
        let (id, (result, info)) = match joined {
            Ok((task, (id, outcome))) => {
                self.io_commands.remove(&task);
                (id, outcome)
            }
            Err(e) => {
                let Some(id) = self.io_commands.remove(&e.id()) else {
                    return Ok(());
                };
                tracing::error!(command = %id, error = %e, "a backup task failed");
                let info = "the appliance's backup task failed".to_owned();
                (id, (ApplianceResult::Failed, Some(info)))
            }
        };
        self.executor
            .complete(&mut self.state, &id, result, info)
            .map(|_| ())
    }

    /// Waits for every backup and restore under way, records their results and
    /// reports them. Errors only when the state file cannot be written.
    pub async fn settle_io(&mut self) -> anyhow::Result<Reported> {
        if self.io.is_empty() {
            return Ok(Reported::default());
        }
        while let Some(joined) = self.io.join_next_with_id().await {
            self.record_io(joined)?;
        }
        self.executor
            .report_pending(&mut self.state, &self.client)
            .await
    }

    /// Waits `wait`, recording and reporting each backup or restore that finishes
    /// meanwhile.
    async fn idle(&mut self, wait: Duration) -> anyhow::Result<()> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            if self.io.is_empty() {
                tokio::time::sleep_until(until).await;
                return Ok(());
            }
            tokio::select! {
                () = tokio::time::sleep_until(until) => return Ok(()),
                Some(joined) = self.io.join_next_with_id() => {
                    self.record_io(joined)?;
                    self.executor
                        .report_pending(&mut self.state, &self.client)
                        .await?;
                }
            }
        }
    }

    /// Runs until a fatal refusal, a state file it cannot write, or a shutdown
    /// command (then `Ok` once its result is reported). Transport errors and transient
    /// refusals are retried with a growing delay capped at the poll interval.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.enroll().await {
                Ok(()) => break,
                Err(e) if is_fatal(&e) => {
                    return Err(e).context(format!("enrolling {}", self.config.serial));
                }
                Err(e) => {
                    tracing::warn!(serial = %self.config.serial, error = %e, "enrollment failed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        loop {
            let wait = match self.checkin().await {
                Ok(resp) => {
                    backoff = Duration::from_secs(1);
                    let round = self
                        .handle(&resp)
                        .await
                        .with_context(|| format!("running commands on {}", self.config.serial))?;
                    if round.powered_off {
                        tracing::info!(serial = %self.config.serial, "appliance shut down");
                        return Ok(());
                    }
                    if round.executed.state_changed || round.configured {
                        self.poll.min(PROMPT_CHECKIN)
                    } else {
                        self.poll
                    }
                }
                Err(e) if is_fatal(&e) => {
                    return Err(e).context(format!("checking in {}", self.config.serial));
                }
                Err(e) => {
                    tracing::warn!(serial = %self.config.serial, error = %e, "check-in failed, retrying");
                    let w = backoff.min(self.poll);
                    backoff = (backoff * 2).min(self.poll);
                    w
                }
            };
            self.idle(wait)
                .await
                .with_context(|| format!("recording a backup on {}", self.config.serial))?;
        }
    }
}
