//! Crash-safe file replacement: write a temp file in the target's directory, fsync
//! it, rename it over the target, fsync the directory. A reader (or a restart after
//! a crash) sees the old content or the new, never a torn mix; an abandoned write
//! leaves only a temp file, which listings ignore.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::random_token::random_hex;

/// Marks temp files, so a directory scan can tell them from finished files.
pub(crate) const TEMP_MARKER: &str = ".tmp-";

/// A new version of `target` being written. Dropped without `commit`, it removes
/// its temp file and the target is untouched.
pub(crate) struct PendingFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    done: bool,
}

/// Who may read the new file (and any directory created for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The process's umask decides.
    Default,
    /// Owner only: 0600 files, 0700 directories (mail with one-time links, keys).
    Private,
}

impl PendingFile {
    pub(crate) fn create(target: &Path) -> io::Result<Self> {
        Self::create_with(target, Access::Default)
    }

    pub(crate) fn create_with(target: &Path, access: Access) -> io::Result<Self> {
        let dir = target
            .parent()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "target has no parent"))?;
        create_dirs_durably(dir, access)?;
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "target has no name"))?;
        let temp = dir.join(format!(
            ".{}{TEMP_MARKER}{}",
            name.to_string_lossy(),
            random_hex(8)
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if access == Access::Private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&temp)?;
        Ok(Self {
            file,
            temp,
            target: target.to_path_buf(),
            done: false,
        })
    }

    pub(crate) fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk)
    }

    /// Makes the new content durable and visible under the target name.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        self.file.sync_all()?;
        fs::rename(&self.temp, &self.target)?;
        self.done = true;
        sync_dir(self.target.parent().unwrap_or(Path::new(".")))
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

pub(crate) fn write_atomically(target: &Path, data: &[u8]) -> io::Result<()> {
    write_atomically_with(target, data, Access::Default)
}

pub(crate) fn write_atomically_with(target: &Path, data: &[u8], access: Access) -> io::Result<()> {
    let mut pending = PendingFile::create_with(target, access)?;
    pending.write(data)?;
    pending.commit()
}

/// Creates missing directories and fsyncs the parent of each one created, so the
/// new directory entries survive a crash along with the file.
fn create_dirs_durably(dir: &Path, access: Access) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_durably(parent, access)?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    if access == Access::Private {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(dir) {
        Ok(()) => sync_dir(dir.parent().unwrap_or(Path::new("."))),
        // Another writer created it meanwhile.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commit_replaces_and_creates_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("a/b/file");
        write_atomically(&target, b"one").unwrap();
        write_atomically(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(names(&tmp.path().join("a/b")), vec!["file".to_owned()]);
    }

    #[test]
    fn an_abandoned_write_leaves_the_old_content_and_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("file");
        write_atomically(&target, b"old").unwrap();
        let mut pending = PendingFile::create(&target).unwrap();
        pending.write(b"half of the new").unwrap();
        // Mid-write, the target still holds the old content.
        assert_eq!(fs::read(&target).unwrap(), b"old");
        drop(pending);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(names(tmp.path()), vec!["file".to_owned()]);
    }

    #[test]
    fn a_crash_mid_write_leaves_the_old_content_and_a_marked_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("file");
        write_atomically(&target, b"old").unwrap();
        let mut pending = PendingFile::create(&target).unwrap();
        pending.write(b"torn").unwrap();
        // A crash runs no destructor.
        std::mem::forget(pending);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        let leftovers: Vec<String> = names(tmp.path())
            .into_iter()
            .filter(|n| n != "file")
            .collect();
        assert_eq!(leftovers.len(), 1);
        assert!(leftovers[0].contains(TEMP_MARKER));
    }
}
