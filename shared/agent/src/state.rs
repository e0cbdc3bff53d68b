//! The agent's state file: its private key, the identity the console gave it, the
//! simulated appliance's own state (firmware, uptime, applications, power), its PIN
//! with the retry counters, its backup passwords by generation, and a bounded record
//! of the commands it executed. Written atomically with mode 0600, because it holds
//! the key, the PIN and the backup passwords (it is the appliance's own secret store,
//! like its configuration). Restored configurations live beside it, in
//! [`StateFile::configs_dir`].
//!
//! Every field added after the first release has a serde default, so an older state
//! file still loads.

use anyhow::Context;
use ed25519_dalek::SigningKey;
use rampart_domain::backup::BackupPassword;
use rampart_domain::device_protocol::CommandResultRequest;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, JobId, Serial};
use rampart_domain::jobs::Operation;
use rampart_domain::report::AppState;
use rampart_identity::pin::{Pin, PinGuard};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::configuration::AppliedConfig;
use crate::simulated::default_applications;

/// How many executed commands the state file remembers (the newest; job ids sort by
/// creation time). Older ones are long past their deadlines on the console.
pub const MAX_REMEMBERED_COMMANDS: usize = 500;

#[derive(Clone, Serialize, Deserialize)]
pub struct AgentState {
    pub serial: Serial,
    /// Hex of the 32-byte Ed25519 private key.
    signing_key: String,
    pub appliance_id: Option<ApplianceId>,
    /// Simulated boot time (ms): survives agent restarts like a real uptime would.
    pub booted_at_ms: i64,
    /// The installed firmware; `None` in a state file from before commands existed
    /// (the agent then takes the configured one).
    #[serde(default)]
    pub firmware: Option<FirmwareVersion>,
    /// The firmware a rollback returns to.
    #[serde(default)]
    pub previous_firmware: Option<FirmwareVersion>,
    /// `None`: the default hostname derived from the serial.
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default = "default_applications")]
    pub applications: BTreeMap<String, AppState>,
    /// Set by a shutdown command; the next start of the agent powers it on again.
    #[serde(default)]
    pub powered_off: bool,
    /// The PIN as set on the appliance (6 digits), if any.
    #[serde(default, with = "pin_field")]
    pin: Option<Pin>,
    /// Wrong-PIN counters; blocked until a local login.
    #[serde(default)]
    pub pin_guard: PinGuard,
    /// How many local logins happened (each unblocks the PIN). A running agent adopts
    /// a login made by `rampart agent unblock-pin` on its state file by comparing this
    /// counter with the file's.
    #[serde(default)]
    pub local_logins: u64,
    /// The commands this appliance executed, newest [`MAX_REMEMBERED_COMMANDS`].
    #[serde(default)]
    pub commands: BTreeMap<JobId, ExecutedCommand>,
    /// Every backup password this appliance was given, by generation (SPEC 6.1: each
    /// backup stays bound to the password that made it, so old ones are kept for
    /// restores). Never logged; `Debug` shows only the generations.
    #[serde(default)]
    backup_passwords: BTreeMap<u32, String>,
    /// The generation new backups are sealed with; 0: no password set yet.
    #[serde(default)]
    backup_password_generation: u32,
    /// The profile sections in force and the configuration version held (SPEC 8).
    #[serde(default)]
    pub config: AppliedConfig,
}

/// Where a command stands on the appliance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Written before acting: found after a restart, the command is finished without
    /// acting again.
    InProgress,
    Done,
}

/// What the appliance remembers of one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutedCommand {
    pub phase: Phase,
    /// The result to report (set when `Done`).
    #[serde(default)]
    pub result: Option<CommandResultRequest>,
    /// Whether the console took the report (or refused it for good).
    #[serde(default)]
    pub reported: bool,
    /// The operation, so an interrupted command can be finished after a restart.
    #[serde(default)]
    pub operation: Option<Operation>,
    /// When it was marked in progress (ms, appliance clock).
    #[serde(default)]
    pub started_at_ms: i64,
}

impl ExecutedCommand {
    pub fn in_progress(operation: Operation, now_ms: i64) -> Self {
        Self {
            phase: Phase::InProgress,
            result: None,
            reported: false,
            operation: Some(operation),
            started_at_ms: now_ms,
        }
    }

    pub fn done(operation: Option<Operation>, result: CommandResultRequest, now_ms: i64) -> Self {
        Self {
            phase: Phase::Done,
            result: Some(result),
            reported: false,
            operation,
            started_at_ms: now_ms,
        }
    }
}

/// The PIN is stored as its 6 digits (the appliance's own 0600 file); `Pin` itself
/// deliberately has no serde.
mod pin_field {
    use rampart_identity::pin::Pin;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(pin: &Option<Pin>, s: S) -> Result<S::Ok, S::Error> {
        match pin {
            Some(p) => s.serialize_some(p.expose()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Pin>, D::Error> {
        let raw = Option::<String>::deserialize(d)?;
        raw.map(|s| Pin::parse(s.as_bytes()))
            .transpose()
            .map_err(|_| serde::de::Error::custom("the stored PIN is not 6 digits"))
    }
}

impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key, never the PIN: only whether one is set.
        f.debug_struct("AgentState")
            .field("serial", &self.serial)
            .field("appliance_id", &self.appliance_id)
            .field("booted_at_ms", &self.booted_at_ms)
            .field("firmware", &self.firmware)
            .field("previous_firmware", &self.previous_firmware)
            .field("hostname", &self.hostname)
            .field("applications", &self.applications)
            .field("powered_off", &self.powered_off)
            .field("pin_set", &self.pin.is_some())
            .field("pin_guard", &self.pin_guard)
            .field("local_logins", &self.local_logins)
            .field("commands", &self.commands.len())
            .field(
                "backup_password_generations",
                &self.backup_passwords.keys().collect::<Vec<_>>(),
            )
            .field(
                "backup_password_generation",
                &self.backup_password_generation,
            )
            .finish_non_exhaustive()
    }
}

impl AgentState {
    pub fn fresh(serial: Serial, now_ms: i64) -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is available");
        Self {
            serial,
            signing_key: hex::encode(seed),
            appliance_id: None,
            booted_at_ms: now_ms,
            firmware: None,
            previous_firmware: None,
            hostname: None,
            applications: default_applications(),
            powered_off: false,
            pin: None,
            pin_guard: PinGuard::default(),
            local_logins: 0,
            commands: BTreeMap::new(),
            backup_passwords: BTreeMap::new(),
            backup_password_generation: 0,
            config: AppliedConfig::default(),
        }
    }

    pub fn signing_key(&self) -> anyhow::Result<SigningKey> {
        let bytes: [u8; 32] = hex::decode(&self.signing_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("state file holds a malformed key")?;
        Ok(SigningKey::from_bytes(&bytes))
    }

    /// The PIN set on the appliance. Never log it.
    pub fn pin(&self) -> Option<&Pin> {
        self.pin.as_ref()
    }

    /// Sets (or clears) the appliance's PIN.
    pub fn set_pin(&mut self, pin: Option<Pin>) {
        self.pin = pin;
    }

    /// The generation of the current backup password; 0 when none is set.
    pub fn backup_password_generation(&self) -> u32 {
        self.backup_password_generation
    }

    /// The backup password of `generation`, if this appliance holds it. Never log it.
    pub fn backup_password(&self, generation: u32) -> Option<&str> {
        self.backup_passwords.get(&generation).map(String::as_str)
    }

    /// The current backup password with its generation. Never log it.
    pub fn current_backup_password(&self) -> Option<(u32, &str)> {
        self.backup_password(self.backup_password_generation)
            .map(|p| (self.backup_password_generation, p))
    }

    /// The generations this appliance holds a password of.
    pub fn backup_password_generations(&self) -> impl Iterator<Item = u32> + '_ {
        self.backup_passwords.keys().copied()
    }

    /// Stores `password` (already checked against the policy) under `generation` and
    /// makes it the current one. A generation already holding a *different* password
    /// is refused: backups made with it would no longer open.
    pub fn set_backup_password(
        &mut self,
        generation: u32,
        password: &BackupPassword,
    ) -> Result<(), GenerationInUse> {
        match self.backup_passwords.get(&generation) {
            Some(held) if held.as_str() != password.expose() => Err(GenerationInUse(generation)),
            _ => {
                self.backup_passwords
                    .insert(generation, password.expose().to_owned());
                self.backup_password_generation = generation;
                Ok(())
            }
        }
    }

    /// Records a command, forgetting the oldest beyond [`MAX_REMEMBERED_COMMANDS`].
    pub fn remember(&mut self, id: JobId, command: ExecutedCommand) {
        self.commands.insert(id, command);
        while self.commands.len() > MAX_REMEMBERED_COMMANDS {
            self.commands.pop_first();
        }
    }

    /// A local login on the appliance: the PIN works again with a fresh count.
    pub fn local_login(&mut self) {
        self.pin_guard.unblock_by_local_login();
        self.local_logins += 1;
    }
}

/// A password generation that already holds another password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("password generation {0} is already in use on this appliance with another password")]
pub struct GenerationInUse(pub u32);

/// Where one agent keeps its state.
#[derive(Clone, Debug)]
pub struct StateFile(PathBuf);

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory the state file is in (temporary backup files go there too).
    pub fn dir(&self) -> &Path {
        match self.0.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        }
    }

    /// The file name without its extension (`agent` for `agent.json`).
    pub fn stem(&self) -> String {
        self.0
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "agent".to_owned())
    }

    /// The appliance's configuration manager: restored backups are stored here as
    /// `backup-YYYY-DD-MM_HH:ii:ss` (beside the state file, `<stem>.configs/`).
    pub fn configs_dir(&self) -> PathBuf {
        self.dir().join(format!("{}.configs", self.stem()))
    }

    pub fn load(&self) -> anyhow::Result<Option<AgentState>> {
        match std::fs::read(&self.0) {
            Ok(raw) => Ok(Some(serde_json::from_slice(&raw).with_context(|| {
                format!("state file {} is not valid", self.0.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.0.display())),
        }
    }

    /// Temp file, fsync, rename: a crash leaves either the old or the new state.
    pub fn save(&self, state: &AgentState) -> anyhow::Result<()> {
        let dir = self.0.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = self.0.with_extension("tmp");
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts
                .open(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            f.write_all(&serde_json::to_vec_pretty(state)?)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.0)
            .with_context(|| format!("replacing {}", self.0.display()))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// What a local login found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unblocked {
    /// The PIN was blocked before.
    pub was_blocked: bool,
    /// Wrong PINs allowed now.
    pub attempts_left: u32,
}

/// The local login on the appliance itself (`rampart agent unblock-pin`): unblocks the
/// PIN in the state file. A running agent adopts it before it next checks a PIN.
pub fn unblock_pin(file: &StateFile) -> anyhow::Result<Unblocked> {
    let mut state = file
        .load()?
        .with_context(|| format!("no agent state file at {}", file.path().display()))?;
    let was_blocked = state.pin_guard.is_blocked();
    state.local_login();
    file.save(&state)?;
    Ok(Unblocked {
        was_blocked,
        attempts_left: state.pin_guard.attempts_left(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::jobs::ApplianceResult;

    #[test]
    fn saves_privately_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("a/state.json"));
        assert!(file.load().unwrap().is_none());
        let mut st = AgentState::fresh(Serial::parse("A1B2C3D4").unwrap(), 5);
        st.appliance_id = Some(ApplianceId::from_random([1; 16]));
        st.set_pin(Some(Pin::parse("493817").unwrap()));
        st.pin_guard.failed = 2;
        st.firmware = Some(FirmwareVersion::parse("14.1").unwrap());
        file.save(&st).unwrap();
        let back = file.load().unwrap().unwrap();
        assert_eq!(back.appliance_id, st.appliance_id);
        assert_eq!(
            back.signing_key().unwrap().to_bytes(),
            st.signing_key().unwrap().to_bytes()
        );
        assert_eq!(back.pin(), st.pin());
        assert_eq!(back.pin_guard.failed, 2);
        assert_eq!(back.firmware, st.firmware);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let debug = format!("{st:?}");
        assert!(!debug.contains(&st.signing_key));
        assert!(!debug.contains("493817"), "{debug}");
    }

    #[test]
    fn state_files_from_before_commands_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(
            &path,
            serde_json::json!({
                "serial": "A1B2C3D4",
                "signing_key": hex::encode([3u8; 32]),
                "appliance_id": null,
                "booted_at_ms": 42
            })
            .to_string(),
        )
        .unwrap();
        let st = StateFile::new(&path).load().unwrap().unwrap();
        assert_eq!(st.booted_at_ms, 42);
        assert_eq!(st.firmware, None);
        assert_eq!(st.applications, default_applications());
        assert!(st.pin().is_none());
        assert_eq!(st.pin_guard, PinGuard::default());
        assert!(st.commands.is_empty());
        assert!(!st.powered_off);
        assert_eq!(st.backup_password_generation(), 0);
        assert!(st.current_backup_password().is_none());
        assert_eq!(st.backup_password_generations().count(), 0);
    }

    #[test]
    fn backup_passwords_are_kept_by_generation_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("appliance.json"));
        let mut st = AgentState::fresh(Serial::parse("A1B2C3D4").unwrap(), 5);
        let first = BackupPassword::parse("Correct-Horse-1".into()).unwrap();
        let second = BackupPassword::parse("Battery-Staple-2".into()).unwrap();
        st.set_backup_password(1, &first).unwrap();
        st.set_backup_password(2, &second).unwrap();
        assert_eq!(st.current_backup_password(), Some((2, "Battery-Staple-2")));
        // The same password again is fine; another one under a used generation is not.
        st.set_backup_password(1, &first).unwrap();
        assert_eq!(st.backup_password_generation(), 1);
        assert_eq!(st.set_backup_password(2, &first), Err(GenerationInUse(2)));
        assert_eq!(st.backup_password(2), Some("Battery-Staple-2"));
        st.set_backup_password(2, &second).unwrap();
        file.save(&st).unwrap();
        let back = file.load().unwrap().unwrap();
        assert_eq!(
            back.current_backup_password(),
            Some((2, "Battery-Staple-2"))
        );
        assert_eq!(back.backup_password(1), Some("Correct-Horse-1"));
        let debug = format!("{back:?}");
        assert!(!debug.contains("Correct-Horse-1"), "{debug}");
        assert!(!debug.contains("Battery-Staple-2"), "{debug}");
        assert!(
            debug.contains("backup_password_generations: [1, 2]"),
            "{debug}"
        );
        assert_eq!(
            file.configs_dir(),
            dir.path().join("appliance.configs"),
            "beside the state file"
        );
    }

    #[test]
    fn the_command_record_keeps_the_newest() {
        let mut st = AgentState::fresh(Serial::parse("A1B2C3D4").unwrap(), 5);
        let done = || {
            ExecutedCommand::done(
                None,
                CommandResultRequest::new(&ApplianceResult::Succeeded, None),
                0,
            )
        };
        for i in 0..(MAX_REMEMBERED_COMMANDS as i64 + 20) {
            st.remember(JobId::new(1_000 + i, [0; 4]), done());
        }
        assert_eq!(st.commands.len(), MAX_REMEMBERED_COMMANDS);
        assert!(!st.commands.contains_key(&JobId::new(1_000 + 19, [0; 4])));
        assert!(st.commands.contains_key(&JobId::new(1_000 + 20, [0; 4])));
    }

    #[test]
    fn unblocking_needs_a_state_file_and_resets_the_guard() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("s.json"));
        assert!(unblock_pin(&file).is_err());
        let mut st = AgentState::fresh(Serial::parse("A1B2C3D4").unwrap(), 5);
        st.pin_guard.failed = 5;
        st.pin_guard.blocked = true;
        file.save(&st).unwrap();
        let u = unblock_pin(&file).unwrap();
        assert_eq!(
            u,
            Unblocked {
                was_blocked: true,
                attempts_left: 5
            }
        );
        let back = file.load().unwrap().unwrap();
        assert!(!back.pin_guard.is_blocked());
        assert_eq!(back.local_logins, 1);
    }
}
