//! One appliance's life: enroll once, then check in forever at the interval the
//! console sets, riding out console restarts; run the commands each reply carries
//! (see [`crate::executor`]) and report their results.

use anyhow::Context;
use rampart_domain::device_protocol::{CheckinResponse, EnrollRequest};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{JobId, Serial};
use std::time::Duration;

use crate::client::{AgentError, DeviceClient};
use crate::executor::{Executed, Executor, Reported};
use crate::options::AgentOptions;
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
}

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
        let mut client = DeviceClient::new(http, &config.server, state.signing_key()?);
        if let Some(id) = &state.appliance_id {
            client.set_appliance(id.as_str());
        }
        let appliance =
            SimulatedAppliance::from_state(&state, config.firmware, options.authorizations);
        let shutdown = Executor::pending_shutdown(&state);
        Ok(Self {
            config,
            client,
            state,
            appliance,
            executor,
            poll: Duration::from_secs(60),
            shutdown,
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

    /// Runs the commands of a check-in reply and reports every unreported result.
    /// Errors only when the state file cannot be written.
    pub async fn handle(&mut self, resp: &CheckinResponse) -> anyhow::Result<Round> {
        let now = rampart_domain::Timestamp::now_system().millis();
        let executed = self
            .executor
            .execute(&mut self.state, &resp.commands, now)?;
        self.appliance.sync(&self.state);
        if executed.shutdown.is_some() {
            self.shutdown.clone_from(&executed.shutdown);
        }
        let reported = self
            .executor
            .report_pending(&mut self.state, &self.client)
            .await?;
        let mut powered_off = false;
        if let Some(id) = &self.shutdown
            && self.state.commands.get(id).is_none_or(|c| c.reported)
        {
            self.executor.power_off(&mut self.state)?;
            powered_off = true;
        }
        Ok(Round {
            executed,
            reported,
            powered_off,
        })
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
                    if round.executed.state_changed {
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
            tokio::time::sleep(wait).await;
        }
    }
}
