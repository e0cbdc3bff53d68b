//! Sealing and opening files all-or-nothing: the result is written to a temporary file
//! beside the destination and renamed over it only once complete and verified, so a
//! failure never leaves a partial plaintext or backup at the destination.

use std::fs::File;
use std::path::Path;

use crate::error::EnvelopeError;
use crate::header::Header;
use crate::open::open;
use crate::password::Password;
use crate::seal::{SealOptions, seal};

/// Seals the regular file at `input_path` into `output_path` (replaced only on success).
/// Its length is taken from its metadata; for pipes and other streams use `seal`.
pub fn seal_file(
    password: &Password,
    serial: &str,
    options: SealOptions,
    input_path: &Path,
    output_path: &Path,
) -> Result<Header, EnvelopeError> {
    let input = File::open(input_path)?;
    // A file that changes size while being read fails with input_length_mismatch.
    let plaintext_len = input.metadata()?.len();
    write_atomically(output_path, |output| {
        seal(password, serial, options, plaintext_len, input, output)
    })
}

/// Opens the backup at `input_path` into `output_path`. On any error (wrong password,
/// corruption, truncation, I/O) `output_path` is left as it was: absent, or its old
/// content. The plaintext file is created readable by its owner only.
pub fn open_file(
    password: &Password,
    serial: &str,
    input_path: &Path,
    output_path: &Path,
) -> Result<Header, EnvelopeError> {
    let input = File::open(input_path)?;
    write_atomically(output_path, |output| open(password, serial, input, output))
}

fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<T, EnvelopeError>,
) -> Result<T, EnvelopeError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Same directory, so the rename is atomic (same file system); tempfile creates it
    // with mode 0600 and deletes it when dropped, i.e. on every error path below.
    let mut temp = tempfile::Builder::new()
        .prefix(".rampart-envelope-")
        .suffix(".partial")
        .tempfile_in(dir)?;
    let value = write(temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| EnvelopeError::Io(e.error))?;
    // Make the rename itself durable.
    File::open(dir)?.sync_all()?;
    Ok(value)
}
