//! `rampart agent`: one appliance, or a fleet of simulated ones; and
//! `rampart agent unblock-pin`, the local login that unblocks an appliance's PIN.

use anyhow::Context;
use rampart_agent::fleet;
use rampart_agent::options::{AgentOptions, BackupSettings, MAX_RETRY_ENV, parse_authorization};
use rampart_agent::run::{Agent, AgentConfig};
use rampart_agent::state::{StateFile, unblock_pin};
use rampart_domain::backup::BackupPassword;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::Serial;
use rampart_identity::pin::{MAX_RETRY_RANGE, Pin, max_retry_from_env};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable an appliance's PIN may come from (instead of `--pin-file`).
pub const PIN_ENV: &str = "RAMPART_AGENT_PIN";
/// The environment variable an appliance's initial backup password may come from
/// (instead of `--backup-password-file`).
pub const BACKUP_PASSWORD_ENV: &str = "RAMPART_AGENT_BACKUP_PASSWORD";

/// The environment [`ApplianceArgs::options_from`] reads (given, for tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct AgentEnv<'a> {
    /// RAMPART_AGENT_PIN
    pub pin: Option<&'a str>,
    /// SESSIONAUTH_MAXRETRY
    pub max_retry: Option<&'a str>,
    /// RAMPART_AGENT_BACKUP_PASSWORD
    pub backup_password: Option<&'a str>,
}

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
    /// Turn a profile section's switch off, e.g. `vpn` or `cloud_shield` (repeatable,
    /// or comma-separated): the appliance refuses that section of its profiles.
    #[arg(long = "deny-section", value_name = "SECTION", value_delimiter = ',')]
    pub deny_section: Vec<String>,
    /// File holding the appliance's 6-digit PIN (or set RAMPART_AGENT_PIN). Without
    /// either, the PIN in the state file stays (if any).
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Wrong PINs in a row that block the PIN (default: SESSIONAUTH_MAXRETRY, else 5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub pin_max_retry: Option<u32>,
    /// File holding the appliance's initial cloud-backup password (or set
    /// RAMPART_AGENT_BACKUP_PASSWORD): set as generation 1 when the appliance has none
    /// yet. At least 8 characters and 3 of: upper case, lower case, digits, special.
    #[arg(long, value_name = "FILE")]
    pub backup_password_file: Option<PathBuf>,
    /// The appliance's time zone as minutes east of UTC (e.g. 60, -300), reported at
    /// check-in; its regular backup runs at 07:00 appliance time. Default 0 (UTC).
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        value_parser = clap::value_parser!(i16).range(-720..=840)
    )]
    pub utc_offset_minutes: Option<i16>,
    /// Size of the simulated configuration a cloud backup seals, in bytes (suffixes K,
    /// M, G count in 1024s). Default 256K.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub config_size: Option<u64>,
    /// Argon2id memory of backup encryption in KiB (default 65536 = 64 MiB; at least
    /// 8192). Lower only for tests and load runs.
    #[arg(long, value_name = "KIB")]
    pub backup_kdf_memory_kib: Option<u32>,
    /// Argon2id passes of backup encryption (default 3; 1 to 10).
    #[arg(long, value_name = "N")]
    pub backup_kdf_iterations: Option<u32>,
    /// Argon2id lanes of backup encryption (default 4; 1 to 16).
    #[arg(long, value_name = "N")]
    pub backup_kdf_parallelism: Option<u32>,
}

/// A byte count: digits, optionally followed by K, M or G (binary, `KiB` and `k`
/// too).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let bad = || format!("{text:?} is not a size (e.g. 262144, 256K, 2M)");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

impl ApplianceArgs {
    /// The agent options these arguments and the environment give.
    pub fn options(&self) -> anyhow::Result<AgentOptions> {
        let pin = std::env::var(PIN_ENV).ok();
        let max_retry = std::env::var(MAX_RETRY_ENV).ok();
        let backup_password = std::env::var(BACKUP_PASSWORD_ENV).ok();
        self.options_from(AgentEnv {
            pin: pin.as_deref(),
            max_retry: max_retry.as_deref(),
            backup_password: backup_password.as_deref(),
        })
    }

    /// [`ApplianceArgs::options`] with the environment given (for tests).
    pub fn options_from(&self, env: AgentEnv<'_>) -> anyhow::Result<AgentOptions> {
        let mut options = AgentOptions::default();
        for name in self.deny.iter().filter(|n| !n.trim().is_empty()) {
            options = options.deny(parse_authorization(name)?);
        }
        for name in self.deny_section.iter().filter(|n| !n.trim().is_empty()) {
            let section = rampart_domain::profile::Section::parse(name.trim())
                .map_err(|e| anyhow::anyhow!("--deny-section {name:?}: {e}"))?;
            options = options.deny_section(section);
        }
        options.pin = read_pin(self.pin_file.as_deref(), env.pin)?;
        options.pin_max_retries = match self.pin_max_retry {
            Some(n) if MAX_RETRY_RANGE.contains(&n) => n,
            Some(n) => anyhow::bail!("--pin-max-retry {n}: give 1 to 20"),
            None => max_retry_from_env(env.max_retry),
        };
        options.backup_password =
            read_backup_password(self.backup_password_file.as_deref(), env.backup_password)?;
        if let Some(minutes) = self.utc_offset_minutes {
            options = options
                .with_utc_offset_minutes(minutes)
                .context("--utc-offset-minutes")?;
        }
        options.backup = BackupSettings::new(
            self.config_size,
            self.backup_kdf_memory_kib,
            self.backup_kdf_iterations,
            self.backup_kdf_parallelism,
        )?;
        Ok(options)
    }
}

/// The initial backup password from `file`, else from `env_value`
/// (RAMPART_AGENT_BACKUP_PASSWORD), else none; checked against the policy (SPEC 6.1).
/// Never from the command line; errors name the rule, never the password. A file's
/// final line break is not part of the password.
pub fn read_backup_password(
    file: Option<&Path>,
    env_value: Option<&str>,
) -> anyhow::Result<Option<BackupPassword>> {
    let (mut text, source) = match (file, env_value) {
        (Some(p), _) => (
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            p.display().to_string(),
        ),
        (None, Some(v)) if !v.is_empty() => (v.to_owned(), BACKUP_PASSWORD_ENV.to_owned()),
        _ => return Ok(None),
    };
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    // `parse` owns the text from here and wipes it, accepted or not.
    BackupPassword::parse(text).map(Some).map_err(|refusal| {
        anyhow::anyhow!(
            "the backup password in {source} is refused ({}): it needs {refusal}",
            refusal.code()
        )
    })
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
            ..ApplianceArgs::default()
        };
        let o = args
            .options_from(AgentEnv {
                pin: Some("111111"),
                max_retry: Some("3"),
                backup_password: None,
            })
            .unwrap();
        assert!(!Authorization::OneTimeUpdate.granted(&o.authorizations));
        assert!(!Authorization::Status.granted(&o.authorizations));
        assert!(Authorization::PinProtectedActions.granted(&o.authorizations));
        assert_eq!(o.pin, Some(Pin::parse("314159").unwrap()), "the file wins");
        assert_eq!(o.pin_max_retries, 3);

        let env_only = ApplianceArgs {
            pin_max_retry: Some(7),
            ..ApplianceArgs::default()
        };
        let o = env_only
            .options_from(AgentEnv {
                pin: Some("271828"),
                max_retry: Some("3"),
                backup_password: None,
            })
            .unwrap();
        assert_eq!(o.pin, Some(Pin::parse("271828").unwrap()));
        assert_eq!(o.pin_max_retries, 7, "the flag wins");
        let o = ApplianceArgs::default()
            .options_from(AgentEnv::default())
            .unwrap();
        assert_eq!((o.pin.is_none(), o.pin_max_retries), (true, 5));
        assert!(o.backup_password.is_none());
        assert_eq!(o.utc_offset_minutes, 0);
        assert_eq!(o.backup, BackupSettings::default());

        let bad = ApplianceArgs {
            deny: vec!["reboot".into()],
            ..ApplianceArgs::default()
        };
        assert!(bad.options_from(AgentEnv::default()).is_err());
        let sections = ApplianceArgs {
            deny_section: vec!["vpn".into(), " cloud_shield".into()],
            ..ApplianceArgs::default()
        };
        let o = sections.options_from(AgentEnv::default()).unwrap();
        assert_eq!(o.authorizations.profile_sections.get("vpn"), Some(&false));
        assert!(
            rampart_domain::profile::section_refusal(
                &o.authorizations,
                rampart_domain::profile::Section::CloudShield
            )
            .is_some()
        );
        let bad = ApplianceArgs {
            deny_section: vec!["firewall".into()],
            ..ApplianceArgs::default()
        };
        assert!(bad.options_from(AgentEnv::default()).is_err());
        std::fs::write(&pin_file, "12345x").unwrap();
        let err = read_pin(Some(&pin_file), None).unwrap_err().to_string();
        assert!(!err.contains("12345x"), "{err}");
        let err = read_pin(None, Some("99")).unwrap_err().to_string();
        assert!(!err.contains("99"), "{err}");
    }

    #[test]
    fn backup_options_from_arguments_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backup-password");
        std::fs::write(&file, "Correct Horse-9\n").unwrap();
        let args = ApplianceArgs {
            backup_password_file: Some(file.clone()),
            utc_offset_minutes: Some(-300),
            config_size: Some(4096),
            backup_kdf_memory_kib: Some(8192),
            backup_kdf_iterations: Some(1),
            ..ApplianceArgs::default()
        };
        let env = AgentEnv {
            backup_password: Some("From-The-Env-1"),
            ..AgentEnv::default()
        };
        let o = args.options_from(env).unwrap();
        assert_eq!(
            o.backup_password.as_ref().map(BackupPassword::expose),
            Some("Correct Horse-9"),
            "the file wins; its line break is not part of it"
        );
        assert_eq!(o.utc_offset_minutes, -300);
        assert_eq!(o.backup.config_size, 4096);
        assert_eq!(
            (
                o.backup.kdf.memory_kib(),
                o.backup.kdf.iterations(),
                o.backup.kdf.parallelism()
            ),
            (8192, 1, 4)
        );
        let o = ApplianceArgs::default().options_from(env).unwrap();
        assert_eq!(
            o.backup_password.as_ref().map(BackupPassword::expose),
            Some("From-The-Env-1")
        );

        // The policy, named without the password.
        std::fs::write(&file, "weakpassword\n").unwrap();
        let err = args.options_from(AgentEnv::default()).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("3 of 4 character classes"), "{err}");
        assert!(err.contains("password_too_few_classes"), "{err}");
        assert!(!err.contains("weakpassword"), "{err}");
        let err = read_backup_password(None, Some("Sh0rt!")).unwrap_err();
        assert!(err.to_string().contains("at least 8 characters"), "{err}");
        assert!(!err.to_string().contains("Sh0rt!"), "{err}");

        let low_kdf = ApplianceArgs {
            backup_kdf_memory_kib: Some(1024),
            ..ApplianceArgs::default()
        };
        let err = low_kdf.options_from(AgentEnv::default()).unwrap_err();
        assert!(format!("{err:#}").contains("memory_kib"), "{err:#}");

        assert_eq!(parse_size("262144"), Ok(262_144));
        assert_eq!(parse_size("256K"), Ok(262_144));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }
}
