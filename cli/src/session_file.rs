//! The signed-in portal session the `rampart` portal commands share: a small JSON
//! file (server URL, bearer token, e-mail, expiry) readable only by its owner.
//!
//! Where it lives: `--session-file`, else `$RAMPART_SESSION_FILE`, else
//! `$XDG_CONFIG_HOME/rampart/session.json`, else `~/.config/rampart/session.json`.
//! It is written atomically (a temporary file in the same directory, created with
//! mode 0600, synced, then renamed over the old one), so a crash never leaves a
//! half-written or world-readable token behind.

use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable naming the session file.
pub const SESSION_FILE_ENV: &str = "RAMPART_SESSION_FILE";

/// One signed-in session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The console's base URL, e.g. `https://console.example.com`.
    pub server: String,
    /// The bearer token; never printed (see the `Debug` impl).
    pub token: String,
    pub email: String,
    /// Absolute expiry as the server gave it (RFC 3339).
    pub expires_at: String,
    /// The server also ends a session unused for this long.
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .field("email", &self.email)
            .field("expires_at", &self.expires_at)
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .finish()
    }
}

impl Session {
    /// Whether the absolute expiry has passed at `now` (an unparsable expiry is
    /// left to the server to judge).
    pub fn expired_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        chrono::DateTime::parse_from_rfc3339(&self.expires_at).is_ok_and(|t| t <= now)
    }
}

/// No session file, or one whose session has ended: sign in again.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("not signed in (no session in {}); run `rampart login`", .0.display())]
    NotSignedIn(PathBuf),
    #[error("the session expired at {0}; run `rampart login`")]
    Expired(String),
}

/// Resolves the session file's path from the flag and the process environment.
pub fn resolve_path(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    resolve_path_with(flag, |k| std::env::var_os(k))
}

/// As [`resolve_path`], with the environment given (for tests).
pub fn resolve_path_with(
    flag: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
) -> anyhow::Result<PathBuf> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = non_empty(SESSION_FILE_ENV) {
        return Ok(PathBuf::from(p));
    }
    if let Some(dir) = non_empty("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(dir).join("rampart").join("session.json"));
    }
    if let Some(home) = non_empty("HOME") {
        return Ok(PathBuf::from(home)
            .join(".config")
            .join("rampart")
            .join("session.json"));
    }
    anyhow::bail!(
        "cannot tell where to keep the session: give --session-file, or set {SESSION_FILE_ENV}, XDG_CONFIG_HOME or HOME"
    )
}

/// Reads the session, `Ok(None)` when there is no file.
pub fn load(path: &Path) -> anyhow::Result<Option<Session>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    };
    warn_if_readable_by_others(path);
    let session = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a rampart session file ({e}); run `rampart login`",
            path.display()
        )
    })?;
    Ok(Some(session))
}

/// Reads the session, failing with [`SessionError`] when there is none or it has
/// expired.
pub fn load_required(path: &Path) -> anyhow::Result<Session> {
    let session = load(path)?.ok_or_else(|| SessionError::NotSignedIn(path.to_path_buf()))?;
    if session.expired_at(chrono::Utc::now()) {
        return Err(SessionError::Expired(session.expires_at).into());
    }
    Ok(session)
}

/// Writes the session atomically with mode 0600, creating the directory (0700)
/// when missing.
pub fn save(path: &Path, session: &Session) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file path", path.display()))?
        .to_string_lossy()
        .into_owned();
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(suffix)));
    let result = (|| -> anyhow::Result<()> {
        let mut f = open_private(&tmp)?;
        let mut body = serde_json::to_vec_pretty(session)?;
        body.push(b'\n');
        f.write_all(&body)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::anyhow!("writing {}: {e}", path.display()));
    }
    // Make the rename durable too (best effort: not every filesystem allows it).
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the session file; `Ok(false)` when there was none.
pub fn remove(path: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(anyhow::anyhow!("removing {}: {e}", path.display())),
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The umask can only take bits away, but be explicit.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: {} can be read by other users; `chmod 600` it or sign in again",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}
