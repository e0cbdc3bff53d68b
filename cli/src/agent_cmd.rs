//! `rampart agent`: one appliance, or a fleet of simulated ones; and
//! `rampart agent unblock-pin`, the local login that unblocks an appliance's PIN.

use anyhow::Context;
use rampart_agent::fleet;
use rampart_agent::options::{AgentOptions, MAX_RETRY_ENV, parse_authorization};
use rampart_agent::run::{Agent, AgentConfig};
use rampart_agent::state::{StateFile, unblock_pin};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::Serial;
use rampart_identity::pin::{MAX_RETRY_RANGE, Pin, max_retry_from_env};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable an appliance's PIN may come from (instead of `--pin-file`).
pub const PIN_ENV: &str = "RAMPART_AGENT_PIN";

/// What `rampart agent` does besides running appliances.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum AgentAction {
    /// Log in locally on the appliance: unblocks its PIN after too many wrong ones
    /// (a running agent picks it up before it next checks a PIN).
    UnblockPin {
        /// The appliance's state file.
        #[arg(long = "state-file", visible_alias = "state", value_name = "FILE")]
        state_file: PathBuf,
    },
}

/// How the appliance (or every appliance of a fleet) is configured.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ApplianceArgs {
    /// Turn an authorization off, e.g. `one_time_update` or `pin_protected_actions`
    /// (repeatable, or comma-separated); every other one is granted.
    #[arg(long = "deny", value_name = "AUTH", value_delimiter = ',')]
    pub deny: Vec<String>,
    /// File holding the appliance's 6-digit PIN (or set RAMPART_AGENT_PIN). Without
    /// either, the PIN in the state file stays (if any).
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Wrong PINs in a row that block the PIN (default: SESSIONAUTH_MAXRETRY, else 5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub pin_max_retry: Option<u32>,
}

impl ApplianceArgs {
    /// The agent options these arguments and the environment give.
    pub fn options(&self) -> anyhow::Result<AgentOptions> {
        let env_pin = std::env::var(PIN_ENV).ok();
        let env_retry = std::env::var(MAX_RETRY_ENV).ok();
        self.options_from(env_pin.as_deref(), env_retry.as_deref())
    }

    /// [`ApplianceArgs::options`] with the environment given (for tests).
    pub fn options_from(
        &self,
        env_pin: Option<&str>,
        env_max_retry: Option<&str>,
    ) -> anyhow::Result<AgentOptions> {
        let mut options = AgentOptions::default();
        for name in self.deny.iter().filter(|n| !n.trim().is_empty()) {
            options = options.deny(parse_authorization(name)?);
        }
        options.pin = read_pin(self.pin_file.as_deref(), env_pin)?;
        options.pin_max_retries = match self.pin_max_retry {
            Some(n) if MAX_RETRY_RANGE.contains(&n) => n,
            Some(n) => anyhow::bail!("--pin-max-retry {n}: give 1 to 20"),
            None => max_retry_from_env(env_max_retry),
        };
        Ok(options)
    }
}

/// The PIN from `pin_file`, else from `env_pin` (RAMPART_AGENT_PIN), else none. Never
/// from the command line, where `ps` would show it; errors never contain it.
pub fn read_pin(pin_file: Option<&Path>, env_pin: Option<&str>) -> anyhow::Result<Option<Pin>> {
    if let Some(p) = pin_file {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        return Pin::parse(text.trim())
            .map(Some)
            .map_err(|_| anyhow::anyhow!("{} does not hold a 6-digit PIN", p.display()));
    }
    match env_pin.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => Pin::parse(v)
            .map(Some)
            .map_err(|_| anyhow::anyhow!("{PIN_ENV} is not a 6-digit PIN")),
    }
}

/// The license secret comes from a file or the environment, never from the
/// command line (where `ps` would show it).
pub fn read_secret(secret_file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(p) = secret_file {
        let s = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        return Ok(s.trim().to_owned());
    }
    std::env::var("RAMPART_LICENSE_SECRET")
        .map(|s| s.trim().to_owned())
        .context("give the license secret with --secret-file or RAMPART_LICENSE_SECRET")
}

pub async fn run_one(
    server: &str,
    serial: &str,
    secret: String,
    state_file: Option<PathBuf>,
    firmware: &str,
    options: AgentOptions,
) -> anyhow::Result<()> {
    let serial = Serial::parse(serial)?;
    let state_file = state_file.unwrap_or_else(|| PathBuf::from(format!("agent-{serial}.json")));
    let config = AgentConfig {
        server: server.to_owned(),
        serial,
        license_secret: secret,
        state_file: StateFile::new(state_file),
        firmware: FirmwareVersion::parse(firmware)?,
    };
    Agent::open_with(config, options, fleet::http_client())?
        .run()
        .await
}

pub async fn run_fleet(
    server: &str,
    count: usize,
    licenses_file: &Path,
    state_dir: &Path,
    firmware: &str,
    options: AgentOptions,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(licenses_file)
        .with_context(|| format!("reading {}", licenses_file.display()))?;
    let licenses = fleet::parse_licenses(&text)?;
    anyhow::ensure!(
        licenses.len() >= count,
        "{} holds {} licenses, the fleet needs {count}",
        licenses_file.display(),
        licenses.len()
    );
    let handles = fleet::spawn_fleet_with(
        server,
        licenses.into_iter().take(count).collect(),
        state_dir,
        FirmwareVersion::parse(firmware)?,
        &options,
    )?;
    tracing::info!(count, "fleet started");
    let mut failed = 0;
    for h in handles {
        if let Ok(Err(e)) = h.await {
            failed += 1;
            tracing::error!(error = format!("{e:#}"), "appliance stopped");
        }
    }
    anyhow::bail!("all {count} appliances stopped ({failed} with errors)")
}

/// `rampart agent unblock-pin`.
pub fn action(action: AgentAction, out: &mut dyn Write) -> anyhow::Result<()> {
    match action {
        AgentAction::UnblockPin { state_file } => {
            let u = unblock_pin(&StateFile::new(&state_file))?;
            let before = if u.was_blocked {
                "PIN unblocked"
            } else {
                "PIN was not blocked; wrong-PIN count reset"
            };
            writeln!(
                out,
                "{before}: {} wrong PINs allowed before it blocks again",
                u.attempts_left
            )?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::jobs::Authorization;

    #[test]
    fn options_from_arguments_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, "314159\n").unwrap();
        let args = ApplianceArgs {
            deny: vec!["one_time_update".into(), "status".into()],
            pin_file: Some(pin_file.clone()),
            pin_max_retry: None,
        };
        let o = args.options_from(Some("111111"), Some("3")).unwrap();
        assert!(!Authorization::OneTimeUpdate.granted(&o.authorizations));
        assert!(!Authorization::Status.granted(&o.authorizations));
        assert!(Authorization::PinProtectedActions.granted(&o.authorizations));
        assert_eq!(o.pin, Some(Pin::parse("314159").unwrap()), "the file wins");
        assert_eq!(o.pin_max_retries, 3);

        let env_only = ApplianceArgs {
            pin_max_retry: Some(7),
            ..ApplianceArgs::default()
        };
        let o = env_only.options_from(Some("271828"), Some("3")).unwrap();
        assert_eq!(o.pin, Some(Pin::parse("271828").unwrap()));
        assert_eq!(o.pin_max_retries, 7, "the flag wins");
        let o = ApplianceArgs::default().options_from(None, None).unwrap();
        assert_eq!((o.pin.is_none(), o.pin_max_retries), (true, 5));

        let bad = ApplianceArgs {
            deny: vec!["reboot".into()],
            ..ApplianceArgs::default()
        };
        assert!(bad.options_from(None, None).is_err());
        std::fs::write(&pin_file, "12345x").unwrap();
        let err = read_pin(Some(&pin_file), None).unwrap_err().to_string();
        assert!(!err.contains("12345x"), "{err}");
        let err = read_pin(None, Some("99")).unwrap_err().to_string();
        assert!(!err.contains("99"), "{err}");
    }
}
