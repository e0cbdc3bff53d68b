//! The agent's state file: its private key and the identity the console gave it.
//! Written atomically with mode 0600, because it holds the key.

use anyhow::Context;
use ed25519_dalek::SigningKey;
use rampart_domain::ids::{ApplianceId, Serial};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Serialize, Deserialize)]
pub struct AgentState {
    pub serial: Serial,
    /// Hex of the 32-byte Ed25519 private key.
    signing_key: String,
    pub appliance_id: Option<ApplianceId>,
    /// Simulated boot time (ms): survives agent restarts like a real uptime would.
    pub booted_at_ms: i64,
}

impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentState")
            .field("serial", &self.serial)
            .field("appliance_id", &self.appliance_id)
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
        }
    }

    pub fn signing_key(&self) -> anyhow::Result<SigningKey> {
        let bytes: [u8; 32] = hex::decode(&self.signing_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("state file holds a malformed key")?;
        Ok(SigningKey::from_bytes(&bytes))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_privately_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("a/state.json"));
        assert!(file.load().unwrap().is_none());
        let mut st = AgentState::fresh(Serial::parse("A1B2C3D4").unwrap(), 5);
        st.appliance_id = Some(ApplianceId::from_random([1; 16]));
        file.save(&st).unwrap();
        let back = file.load().unwrap().unwrap();
        assert_eq!(back.appliance_id, st.appliance_id);
        assert_eq!(
            back.signing_key().unwrap().to_bytes(),
            st.signing_key().unwrap().to_bytes()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{st:?}").contains(&st.signing_key));
    }
}
