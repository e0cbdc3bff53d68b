//! One appliance's life: enroll once, then check in forever at the interval the
//! console sets, riding out console restarts.

use anyhow::Context;
use rampart_domain::device_protocol::EnrollRequest;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::Serial;
use std::time::Duration;

use crate::client::{AgentError, DeviceClient};
use crate::simulated::SimulatedAppliance;
use crate::state::{AgentState, StateFile};

#[derive(Clone)]
pub struct AgentConfig {
    pub server: String,
    pub serial: Serial,
    pub license_secret: String,
    pub state_file: StateFile,
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
    poll: Duration,
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

impl Agent {
    /// Loads the state file (creating a key on first start).
    pub fn open(config: AgentConfig, http: reqwest::Client) -> anyhow::Result<Self> {
        let now = rampart_domain::Timestamp::now_system().millis();
        let state = match config.state_file.load()? {
            Some(s) if s.serial == config.serial => s,
            Some(s) => anyhow::bail!(
                "state file {} belongs to {}, not {}",
                config.state_file.path().display(),
                s.serial,
                config.serial
            ),
            None => {
                let s = AgentState::fresh(config.serial.clone(), now);
                config.state_file.save(&s)?;
                s
            }
        };
        let mut client = DeviceClient::new(http, &config.server, state.signing_key()?);
        if let Some(id) = &state.appliance_id {
            client.set_appliance(id.as_str());
        }
        let appliance =
            SimulatedAppliance::new(&config.serial, config.firmware, state.booted_at_ms);
        Ok(Self {
            config,
            client,
            state,
            appliance,
            poll: Duration::from_secs(60),
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
            firmware: self.config.firmware,
            hostname: self.appliance.hostname.clone(),
            model: self.appliance.model.clone(),
        };
        let resp = self.client.enroll(&req).await?;
        self.client.set_appliance(resp.appliance_id.as_str());
        self.state.appliance_id = Some(resp.appliance_id.clone());
        self.poll = Duration::from_secs(resp.poll_interval_secs.max(1));
        if let Err(e) = self.config.state_file.save(&self.state) {
            tracing::error!(error = format!("{e:#}"), "could not save agent state");
        }
        tracing::info!(serial = %self.config.serial, appliance = %resp.appliance_id, "enrolled");
        Ok(())
    }

    pub async fn checkin(&mut self) -> Result<(), AgentError> {
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
        Ok(())
    }

    /// Runs until a fatal refusal; transport errors and transient refusals are
    /// retried with a growing delay capped at the poll interval.
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
                Ok(()) => {
                    backoff = Duration::from_secs(1);
                    self.poll
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
