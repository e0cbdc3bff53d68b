//! The presign signing key file: 32 random bytes, created once with mode 0600 and
//! reused across restarts so that URLs already handed out stay valid.

use anyhow::{Context, bail};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::random_token::random_hex;

const KEY_LEN: usize = 32;

pub fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    if let Some(key) = read_key(path)? {
        return Ok(key);
    }
    let dir = path.parent().context("key path has no parent directory")?;
    create_private_dir(dir)?;
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("OS random generator failed: {e}"))?;
    // Written whole to a temp file, then linked into place: a crash never leaves a
    // short key file, and if another process won the race its key is kept.
    let temp = dir.join(format!(".presign-key-{}", random_hex(8)));
    let written = write_private(&temp, &key).and_then(|()| {
        fs::hard_link(&temp, path).or_else(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Ok(())
            } else {
                Err(e)
            }
        })
    });
    let _ = fs::remove_file(&temp);
    written.with_context(|| format!("creating signing key {}", path.display()))?;
    read_key(path)?.context("signing key vanished after creation")
}

fn read_key(path: &Path) -> anyhow::Result<Option<[u8; KEY_LEN]>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading signing key {}", path.display())),
    };
    // Never echo the content: only its length.
    let Ok(key) = <[u8; KEY_LEN]>::try_from(bytes.as_slice()) else {
        bail!(
            "signing key {} holds {} bytes, expected {KEY_LEN}",
            path.display(),
            bytes.len()
        );
    };
    warn_if_readable_by_others(path);
    Ok(Some(key))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "signing key file is accessible to group or others; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("secrets/presign.key");
        let a = load_or_create_key(&path).unwrap();
        let b = load_or_create_key(&path).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, [0u8; 32]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the key file remains (no temp files).
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn a_wrong_length_key_is_refused_without_showing_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("presign.key");
        fs::write(&path, b"secret-ish").unwrap();
        let err = load_or_create_key(&path).unwrap_err().to_string();
        assert!(!err.contains("secret-ish"), "{err}");
    }
}
