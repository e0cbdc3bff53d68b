//! How an appliance is configured beyond its identity: the authorizations it holds
//! (SPEC 3.3), the PIN set on it and how many wrong PINs block it (SPEC 3.4), its
//! initial backup password, time zone and how it makes cloud backups (SPEC 6).

use rampart_domain::backup::BackupPassword;
use rampart_domain::jobs::Authorization;
use rampart_domain::profile::Section;
use rampart_domain::report::{Authorizations, UTC_OFFSET_RANGE_MINUTES};
use rampart_identity::pin::{DEFAULT_MAX_RETRY, Pin, max_retry_from_env};

/// The Argon2id parameters a backup is sealed with (re-exported so that callers need
/// not depend on the envelope crate).
pub use rampart_envelope::KdfParams;

use crate::simulated::all_authorizations;

/// The environment variable that sets how many wrong PINs block the PIN.
pub const MAX_RETRY_ENV: &str = "SESSIONAUTH_MAXRETRY";

#[derive(Clone)]
pub struct AgentOptions {
    /// What the appliance allows; it refuses any other command with `not_authorized`.
    pub authorizations: Authorizations,
    /// The PIN to set on the appliance at start; `None` keeps the one in its state
    /// file (if any).
    pub pin: Option<Pin>,
    /// Wrong PINs in a row that block the PIN.
    pub pin_max_retries: u32,
    /// The backup password to set at start as generation 1 when the state file holds
    /// none yet (a password set later from the portal wins).
    pub backup_password: Option<BackupPassword>,
    /// The appliance's time zone as its offset from UTC, reported at check-in (its
    /// regular backup runs at 07:00 appliance time).
    pub utc_offset_minutes: i16,
    /// How cloud backups are made.
    pub backup: BackupSettings,
}

impl Default for AgentOptions {
    /// Everything allowed, no PIN or backup password given, [`DEFAULT_MAX_RETRY`],
    /// UTC, the default backup settings.
    fn default() -> Self {
        Self {
            authorizations: all_authorizations(),
            pin: None,
            pin_max_retries: DEFAULT_MAX_RETRY,
            backup_password: None,
            utc_offset_minutes: 0,
            backup: BackupSettings::default(),
        }
    }
}

/// The size of the simulated configuration a backup seals by default.
pub const DEFAULT_CONFIG_SIZE: u64 = 256 * 1024;
/// The largest simulated configuration (its backup must stay below the console's
/// 1 GiB limit).
pub const MAX_CONFIG_SIZE: u64 = 512 * 1024 * 1024;

/// How the appliance makes a cloud backup: how large its (simulated) configuration
/// is, and the Argon2id cost (SPEC 6.2's default m = 64 MiB, t = 3, p = 4; lower only
/// for tests and load runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupSettings {
    /// Bytes of the simulated configuration (at least its JSON, padded to this size).
    pub config_size: u64,
    pub kdf: KdfParams,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            config_size: DEFAULT_CONFIG_SIZE,
            kdf: KdfParams::default(),
        }
    }
}

impl BackupSettings {
    /// Checked settings: `config_size` from 1 byte to [`MAX_CONFIG_SIZE`]; each KDF
    /// parameter left out takes SPEC 6.2's default, and the result must be within the
    /// envelope's bounds.
    pub fn new(
        config_size: Option<u64>,
        kdf_memory_kib: Option<u32>,
        kdf_iterations: Option<u32>,
        kdf_parallelism: Option<u32>,
    ) -> anyhow::Result<Self> {
        let config_size = config_size.unwrap_or(DEFAULT_CONFIG_SIZE);
        anyhow::ensure!(
            (1..=MAX_CONFIG_SIZE).contains(&config_size),
            "configuration size {config_size}: give 1 to {MAX_CONFIG_SIZE} bytes"
        );
        let d = KdfParams::default();
        let kdf = KdfParams::new(
            kdf_memory_kib.unwrap_or(d.memory_kib()),
            kdf_iterations.unwrap_or(d.iterations()),
            kdf_parallelism.unwrap_or(d.parallelism()),
        )
        .map_err(|e| anyhow::anyhow!("backup KDF: {e}"))?;
        Ok(Self { config_size, kdf })
    }
}

impl std::fmt::Debug for AgentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentOptions")
            .field("authorizations", &self.authorizations)
            .field("pin_set", &self.pin.is_some())
            .field("pin_max_retries", &self.pin_max_retries)
            .field("backup_password_set", &self.backup_password.is_some())
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .field("backup", &self.backup)
            .finish()
    }
}

impl AgentOptions {
    /// The defaults, with the retry limit from `SESSIONAUTH_MAXRETRY` (default 5).
    pub fn from_env() -> Self {
        Self {
            pin_max_retries: max_retry_from_env(std::env::var(MAX_RETRY_ENV).ok().as_deref()),
            ..Self::default()
        }
    }

    /// Turns one authorization off.
    pub fn deny(mut self, authorization: Authorization) -> Self {
        set_authorization(&mut self.authorizations, authorization, false);
        self
    }

    /// Turns one profile section's switch off (`authorizations.profile_sections`).
    pub fn deny_section(mut self, section: Section) -> Self {
        self.authorizations
            .profile_sections
            .insert(section.as_str().to_owned(), false);
        self
    }

    /// Sets this PIN on the appliance at start.
    pub fn with_pin(mut self, pin: Pin) -> Self {
        self.pin = Some(pin);
        self
    }

    pub fn with_pin_max_retries(mut self, n: u32) -> Self {
        self.pin_max_retries = n.max(1);
        self
    }

    /// Sets this backup password at start (generation 1) if the appliance has none.
    pub fn with_backup_password(mut self, password: BackupPassword) -> Self {
        self.backup_password = Some(password);
        self
    }

    /// The appliance's UTC offset; refused outside UTC-12:00 to UTC+14:00.
    pub fn with_utc_offset_minutes(mut self, minutes: i16) -> anyhow::Result<Self> {
        anyhow::ensure!(
            UTC_OFFSET_RANGE_MINUTES.contains(&minutes),
            "UTC offset {minutes} minutes: give {} to {}",
            UTC_OFFSET_RANGE_MINUTES.start(),
            UTC_OFFSET_RANGE_MINUTES.end()
        );
        self.utc_offset_minutes = minutes;
        Ok(self)
    }

    pub fn with_backup_settings(mut self, backup: BackupSettings) -> Self {
        self.backup = backup;
        self
    }
}

/// Switches one authorization in `a`.
pub fn set_authorization(a: &mut Authorizations, which: Authorization, on: bool) {
    let field = match which {
        Authorization::Status => &mut a.status,
        Authorization::PinProtectedActions => &mut a.pin_protected_actions,
        Authorization::OneTimeUpdate => &mut a.one_time_update,
        Authorization::WebSession => &mut a.web_session,
        Authorization::SecurityScan => &mut a.security_scan,
        Authorization::UtmProfiles => &mut a.utm_profiles,
        Authorization::CloudBackup => &mut a.cloud_backup,
        Authorization::Administration => &mut a.administration,
        Authorization::Tif => &mut a.tif,
        Authorization::DataProtection => &mut a.data_protection,
        Authorization::Fail2ban => &mut a.fail2ban,
        Authorization::CloudShield => &mut a.cloud_shield,
        Authorization::VpnConfiguration => &mut a.vpn_configuration,
    };
    *field = on;
}

/// An authorization by its wire name (`Authorization::as_str`, e.g. `one_time_update`).
pub fn parse_authorization(name: &str) -> anyhow::Result<Authorization> {
    serde_json::from_value(serde_json::Value::String(name.trim().to_owned())).map_err(|_| {
        anyhow::anyhow!(
            "unknown authorization {name:?}: one of status, pin_protected_actions, \
             one_time_update, web_session, security_scan, utm_profiles, cloud_backup, \
             administration, tif, data_protection, fail2ban, cloud_shield, vpn_configuration"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denying_turns_exactly_that_authorization_off() {
        for name in [
            "status",
            "pin_protected_actions",
            "one_time_update",
            "fail2ban",
        ] {
            let which = parse_authorization(name).unwrap();
            assert_eq!(which.as_str(), name);
            let o = AgentOptions::default().deny(which);
            assert!(!which.granted(&o.authorizations));
            assert!(
                [Authorization::Status, Authorization::OneTimeUpdate]
                    .into_iter()
                    .filter(|a| *a != which)
                    .all(|a| a.granted(&o.authorizations))
            );
        }
        assert!(parse_authorization("reboot").is_err());
    }

    #[test]
    fn debug_hides_the_pin_and_the_backup_password() {
        let o = AgentOptions::default()
            .with_pin(Pin::parse("246813").unwrap())
            .with_backup_password(BackupPassword::parse("Sesame-Open-42".into()).unwrap());
        let shown = format!("{o:?}");
        assert!(!shown.contains("246813"), "{shown}");
        assert!(!shown.contains("Sesame-Open-42"), "{shown}");
        assert!(shown.contains("backup_password_set: true"), "{shown}");
    }

    #[test]
    fn backup_settings_default_to_the_spec_and_are_bounded() {
        let d = BackupSettings::new(None, None, None, None).unwrap();
        assert_eq!(d, BackupSettings::default());
        assert_eq!(d.config_size, 256 * 1024);
        assert_eq!(
            (d.kdf.memory_kib(), d.kdf.iterations(), d.kdf.parallelism()),
            (65536, 3, 4)
        );
        let low = BackupSettings::new(Some(4096), Some(8192), Some(1), None).unwrap();
        assert_eq!(
            (
                low.config_size,
                low.kdf.memory_kib(),
                low.kdf.iterations(),
                low.kdf.parallelism()
            ),
            (4096, 8192, 1, 4)
        );
        let err = BackupSettings::new(None, Some(1024), None, None).unwrap_err();
        assert!(err.to_string().contains("memory_kib"), "{err}");
        assert!(BackupSettings::new(None, None, Some(11), None).is_err());
        assert!(BackupSettings::new(None, None, None, Some(0)).is_err());
        assert!(BackupSettings::new(Some(0), None, None, None).is_err());
        assert!(BackupSettings::new(Some(MAX_CONFIG_SIZE + 1), None, None, None).is_err());

        assert!(
            AgentOptions::default()
                .with_utc_offset_minutes(-720)
                .is_ok()
        );
        assert!(AgentOptions::default().with_utc_offset_minutes(840).is_ok());
        assert!(
            AgentOptions::default()
                .with_utc_offset_minutes(841)
                .is_err()
        );
        assert!(
            AgentOptions::default()
                .with_utc_offset_minutes(-721)
                .is_err()
        );
        assert_eq!(AgentOptions::default().utc_offset_minutes, 0);
    }
}
