//! The network and disk side of cloud backup (SPEC 6.2, 6.3) on the appliance.
//!
//! **Backup**: the (simulated) configuration is written to a temporary file, sealed
//! with the current backup password (`rampart_envelope::seal_file`, bound to the
//! license serial), measured (size, SHA-256), and uploaded straight to storage through
//! the presigned request the console grants for exactly that size and checksum.
//!
//! **Restore**: the console grants a presigned download; the encrypted file is fetched
//! (refused unless it is exactly the announced size), opened with the password of the
//! generation that made it, and stored in the configuration manager as
//! `backup-YYYY-DD-MM_HH:ii:ss` of the original backup time (UTC; year, *day*, month as
//! SPEC 6.3 says), replacing one of that name. A wrong password or a damaged file
//! leaves nothing behind (`open_file` is all-or-nothing).
//!
//! Bodies stream from and to files; the password-hard parts run on blocking threads,
//! at most a few at once per process (a fleet shares them), since each takes the
//! KDF's memory (64 MiB by default). Temporary files live in a directory beside the
//! state file that is removed when the work ends (and at the next start, after a
//! crash).

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use rampart_domain::Timestamp;
use rampart_domain::device_protocol::{MAX_BACKUP_BYTES, PresignedHttp};
use rampart_domain::ids::{BackupId, JobId, Serial};
use rampart_envelope::{EnvelopeError, Password, SealOptions};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::client::{AgentError, DeviceClient};
use crate::options::BackupSettings;
use crate::state::AgentState;

/// Why a backup or restore failed. The message is the command's info in the
/// communication log: it names the step and the reason, never a password.
#[derive(Debug, thiserror::Error)]
pub enum CloudBackupError {
    #[error("no password of generation {0} on this appliance")]
    NoPassword(u32),
    #[error("the console refused the {step}: {source}")]
    Console {
        step: &'static str,
        #[source]
        source: AgentError,
    },
    #[error("{step}: {source}")]
    Transport {
        step: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("storage answered {status} to the {step}: {body}")]
    Storage {
        step: &'static str,
        status: u16,
        body: String,
    },
    #[error("the presigned {step} is not usable: {reason}")]
    BadPresigned { step: &'static str, reason: String },
    #[error("backup {backup} is {actual} bytes, but the console announced {expected}")]
    SizeMismatch {
        backup: BackupId,
        expected: u64,
        actual: u64,
    },
    #[error("backup {backup} is {size} bytes, more than the {MAX_BACKUP_BYTES} a backup may be")]
    TooLarge { backup: BackupId, size: u64 },
    /// Sealing or opening failed: the envelope's stable code, then its message.
    #[error("{}: {}", .0.code(), .0)]
    Envelope(EnvelopeError),
    #[error("{step}: {source}")]
    Io {
        step: &'static str,
        #[source]
        source: io::Error,
    },
}

impl CloudBackupError {
    /// The envelope's error code when sealing or opening failed.
    pub fn envelope_code(&self) -> Option<&'static str> {
        match self {
            Self::Envelope(e) => Some(e.code()),
            _ => None,
        }
    }

    fn io(step: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { step, source }
    }
}

/// The backup passwords an appliance holds, by generation, for a restore. Wiped on
/// drop; `Debug` shows only the generations.
pub struct Passwords(BTreeMap<u32, Zeroizing<String>>);

impl Passwords {
    pub fn from_state(state: &AgentState) -> Self {
        Self(
            state
                .backup_password_generations()
                .filter_map(|g| {
                    state
                        .backup_password(g)
                        .map(|p| (g, Zeroizing::new(p.to_owned())))
                })
                .collect(),
        )
    }

    fn get(&self, generation: u32) -> Option<Password> {
        self.0
            .get(&generation)
            .map(|p| Password::new(String::clone(p)))
    }
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Passwords")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Everything one backup needs, taken from the appliance's state when it starts.
#[derive(Debug)]
pub struct BackupJob {
    /// The backup command this answers (none for one the appliance makes itself).
    pub command_id: Option<JobId>,
    pub serial: Serial,
    pub password_generation: u32,
    pub password: Password,
    /// The configuration to save (padded to `settings.config_size`).
    pub configuration: serde_json::Value,
    /// Seeds the deterministic filler.
    pub filler_seed: u64,
    pub settings: BackupSettings,
    /// Where the temporary directory goes (beside the state file).
    pub work_dir: PathBuf,
    /// Its name prefix (see [`temp_prefix`]).
    pub temp_prefix: String,
}

/// Everything one restore needs.
#[derive(Debug)]
pub struct RestoreJob {
    pub serial: Serial,
    pub backup: BackupId,
    /// When the backup was taken: names the restored configuration.
    pub taken_at: Timestamp,
    pub passwords: Passwords,
    /// The configuration manager's directory.
    pub configs_dir: PathBuf,
    pub work_dir: PathBuf,
    pub temp_prefix: String,
}

/// A finished upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    pub backup_id: BackupId,
    /// Bytes of the encrypted file.
    pub size: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

impl Uploaded {
    /// The command's info.
    pub fn info(&self) -> String {
        format!("backup {} uploaded ({} bytes)", self.backup_id, self.size)
    }
}

/// A finished restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    pub backup_id: BackupId,
    /// The configuration's file in the configuration manager.
    pub path: PathBuf,
    /// Its size (the plaintext).
    pub size: u64,
}

impl Restored {
    /// The command's info.
    pub fn info(&self) -> String {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!(
            "backup {} restored as {name} ({} bytes)",
            self.backup_id, self.size
        )
    }
}

/// The name a restored backup gets: `backup-YYYY-DD-MM_HH:ii:ss` of the time it was
/// taken, in UTC — year, **day**, month, exactly as SPEC 6.3 says.
pub fn restore_name(taken_at: Timestamp) -> String {
    let t = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(taken_at.millis())
        .unwrap_or_default();
    t.format("backup-%Y-%d-%m_%H:%M:%S").to_string()
}

/// The prefix of an agent's temporary backup directories beside its state file.
pub fn temp_prefix(state_stem: &str) -> String {
    format!(".{state_stem}.cloud-backup-")
}

/// Removes temporary backup directories a crash left behind in `dir`.
pub fn remove_leftovers(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let path = entry.path();
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed a leftover backup directory")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "could not remove a leftover backup directory")
                }
            }
        }
    }
}

/// How many password-hard seals or opens run at once in this process.
fn kdf_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Semaphore::new(n.clamp(1, 4))
    })
}

/// Runs `f` on a blocking thread while holding one of the [`kdf_slots`].
async fn heavy<T: Send + 'static>(
    step: &'static str,
    f: impl FnOnce() -> Result<T, CloudBackupError> + Send + 'static,
) -> Result<T, CloudBackupError> {
    let _slot = kdf_slots()
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CloudBackupError::Io {
            step,
            source: io::Error::other(e.to_string()),
        })?
}

/// A time limit for moving `size` bytes: generous (at least 256 KiB/s), never
/// endless.
fn transfer_timeout(size: u64) -> Duration {
    Duration::from_secs(60 + size / (256 * 1024))
}

/// Writes `configuration` as one JSON object padded with deterministic filler (a
/// `filler` member of lower-case hex) to exactly `size` bytes, or just the JSON when
/// that is already larger. Streams: memory stays bounded whatever the size.
pub fn write_configuration(
    path: &Path,
    configuration: &serde_json::Value,
    size: u64,
    seed: u64,
) -> io::Result<u64> {
    let json = serde_json::to_vec(configuration)?;
    let (head, closing) = match json.as_slice() {
        [head @ .., b'}'] if head.len() > 1 => (head, &b"\"}"[..]),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the configuration must be a non-empty JSON object",
            ));
        }
    };
    const OPENING: &[u8] = b",\"filler\":\"";
    let fixed = (head.len() + OPENING.len() + closing.len()) as u64;
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    if size <= fixed {
        out.write_all(&json)?;
        out.flush()?;
        return Ok(json.len() as u64);
    }
    out.write_all(head)?;
    out.write_all(OPENING)?;
    let mut left = size - fixed;
    let mut rng = seed | 1;
    let mut block = vec![0u8; 64 * 1024];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    while left > 0 {
        let n = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
        for b in &mut block[..n] {
            // xorshift64: the same filler for the same appliance, every time.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            *b = HEX[(rng & 0xf) as usize];
        }
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.write_all(closing)?;
    out.flush()?;
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    Ok(size)
}

/// Size and lower-case hex SHA-256 of a file, read in chunks.
fn measure(path: &Path) -> io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn temp_dir(work_dir: &Path, prefix: &str) -> Result<tempfile::TempDir, CloudBackupError> {
    std::fs::create_dir_all(work_dir)
        .map_err(CloudBackupError::io("creating the work directory"))?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(work_dir)
        .map_err(CloudBackupError::io("creating a temporary directory"))
}

/// The presigned request as given: its method, URL and every header.
fn presigned_request(
    http: &reqwest::Client,
    p: &PresignedHttp,
    step: &'static str,
) -> Result<reqwest::RequestBuilder, CloudBackupError> {
    let bad = |reason: String| CloudBackupError::BadPresigned { step, reason };
    let method = reqwest::Method::from_bytes(p.method.as_bytes())
        .map_err(|_| bad(format!("method {:?}", p.method)))?;
    let url = reqwest::Url::parse(&p.url).map_err(|e| bad(format!("URL: {e}")))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &p.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("header name {name:?}")))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| bad(format!("value of header {name}")))?;
        headers.append(name, value);
    }
    Ok(http.request(method, url).headers(headers))
}

/// A transport error of a presigned request, without its URL: the signature in it is
/// a short-lived credential and has no place in a log or a command's info.
fn storage_transport(step: &'static str) -> impl FnOnce(reqwest::Error) -> CloudBackupError {
    move |source| CloudBackupError::Transport {
        step,
        source: source.without_url(),
    }
}

/// Reads the error body of a refused storage request (a little of it).
async fn storage_error(step: &'static str, resp: reqwest::Response) -> CloudBackupError {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    CloudBackupError::Storage {
        step,
        status,
        body: body.chars().take(200).collect(),
    }
}

/// Makes one backup and uploads it (see the module doc).
pub async fn backup(client: &DeviceClient, job: BackupJob) -> Result<Uploaded, CloudBackupError> {
    let dir = temp_dir(&job.work_dir, &job.temp_prefix)?;
    let plain = dir.path().join("configuration.json");
    let sealed = dir.path().join("backup.rampart");
    let BackupJob {
        command_id,
        serial,
        password_generation,
        password,
        configuration,
        filler_seed,
        settings,
        ..
    } = job;
    let (size, sha256) = {
        let (plain, sealed) = (plain.clone(), sealed.clone());
        heavy("sealing the backup", move || {
            write_configuration(&plain, &configuration, settings.config_size, filler_seed)
                .map_err(CloudBackupError::io("writing the configuration"))?;
            let options = SealOptions {
                kdf: settings.kdf,
                ..SealOptions::new(password_generation)
            };
            let sealed_result =
                rampart_envelope::seal_file(&password, serial.as_str(), options, &plain, &sealed);
            // The plaintext goes as soon as it is sealed (or not).
            let _ = std::fs::remove_file(&plain);
            sealed_result.map_err(CloudBackupError::Envelope)?;
            measure(&sealed).map_err(CloudBackupError::io("measuring the backup"))
        })
        .await?
    };
    let request = rampart_domain::device_protocol::BackupUploadRequest {
        command_id,
        size,
        sha256: sha256.clone(),
        password_generation,
    };
    let granted = client
        .request_backup_upload(&request)
        .await
        .map_err(|source| CloudBackupError::Console {
            step: "backup upload",
            source,
        })?;
    put_file(client.http(), &granted.upload, &sealed, size).await?;
    drop(dir);
    Ok(Uploaded {
        backup_id: granted.backup_id,
        size,
        sha256,
    })
}

/// Sends the presigned upload with `path` (exactly `size` bytes) as its streamed body.
async fn put_file(
    http: &reqwest::Client,
    upload: &PresignedHttp,
    path: &Path,
    size: u64,
) -> Result<(), CloudBackupError> {
    const STEP: &str = "upload";
    if let Some((_, v)) = upload
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        && v.trim().parse::<u64>().ok() != Some(size)
    {
        return Err(CloudBackupError::BadPresigned {
            step: STEP,
            reason: format!("it is for {v} bytes, the backup is {size}"),
        });
    }
    let file = tokio::fs::File::open(path)
        .await
        .map_err(CloudBackupError::io("opening the backup"))?;
    let body = FileBody {
        file,
        remaining: size,
        buf: vec![0u8; 64 * 1024].into_boxed_slice(),
    };
    let resp = presigned_request(http, upload, STEP)?
        .timeout(transfer_timeout(size))
        .body(reqwest::Body::wrap(body))
        .send()
        .await
        .map_err(storage_transport(STEP))?;
    if !resp.status().is_success() {
        return Err(storage_error(STEP, resp).await);
    }
    Ok(())
}

/// Downloads, opens and stores one backup (see the module doc).
pub async fn restore(client: &DeviceClient, job: RestoreJob) -> Result<Restored, CloudBackupError> {
    let granted = client
        .request_backup_download(&job.backup)
        .await
        .map_err(|source| CloudBackupError::Console {
            step: "backup download",
            source,
        })?;
    let backup = granted.backup_id.clone();
    if granted.size > MAX_BACKUP_BYTES {
        return Err(CloudBackupError::TooLarge {
            backup,
            size: granted.size,
        });
    }
    let password = job
        .passwords
        .get(granted.password_generation)
        .ok_or(CloudBackupError::NoPassword(granted.password_generation))?;
    let dir = temp_dir(&job.work_dir, &job.temp_prefix)?;
    let sealed = dir.path().join("backup.rampart");
    get_file(
        client.http(),
        &granted.download,
        &sealed,
        &backup,
        granted.size,
    )
    .await?;

    let target = job.configs_dir.join(restore_name(job.taken_at));
    let serial = job.serial;
    let configs_dir = job.configs_dir;
    let header = {
        let target = target.clone();
        heavy("opening the backup", move || {
            create_private_dir(&configs_dir)
                .map_err(CloudBackupError::io("creating the configuration directory"))?;
            rampart_envelope::open_file(&password, serial.as_str(), &sealed, &target)
                .map_err(CloudBackupError::Envelope)
        })
        .await?
    };
    drop(dir);
    Ok(Restored {
        backup_id: backup,
        path: target,
        size: header.plaintext_len(),
    })
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Fetches the presigned download into `path`, refusing anything but exactly
/// `expected` bytes.
async fn get_file(
    http: &reqwest::Client,
    download: &PresignedHttp,
    path: &Path,
    backup: &BackupId,
    expected: u64,
) -> Result<(), CloudBackupError> {
    const STEP: &str = "download";
    let mismatch = |actual| CloudBackupError::SizeMismatch {
        backup: backup.clone(),
        expected,
        actual,
    };
    let mut resp = presigned_request(http, download, STEP)?
        .timeout(transfer_timeout(expected))
        .send()
        .await
        .map_err(storage_transport(STEP))?;
    if !resp.status().is_success() {
        return Err(storage_error(STEP, resp).await);
    }
    if let Some(announced) = resp.content_length()
        && announced != expected
    {
        return Err(mismatch(announced));
    }
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(CloudBackupError::io("writing the download"))?;
    let mut got = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(storage_transport(STEP))? {
        got += chunk.len() as u64;
        if got > expected {
            return Err(mismatch(got));
        }
        file.write_all(&chunk)
            .await
            .map_err(CloudBackupError::io("writing the download"))?;
    }
    if got != expected {
        return Err(mismatch(got));
    }
    file.flush()
        .await
        .map_err(CloudBackupError::io("writing the download"))?;
    Ok(())
}

/// An upload body read from a file as it is sent, of exactly `remaining` bytes (so
/// the request carries a `content-length`, as storage requires).
struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Box<[u8]>,
}

impl HttpBody for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want =
            usize::try_from(this.remaining.min(this.buf.len() as u64)).unwrap_or(this.buf.len());
        let mut rb = ReadBuf::new(&mut this.buf[..want]);
        ready!(Pin::new(&mut this.file).poll_read(cx, &mut rb))?;
        let n = rb.filled().len();
        if n == 0 {
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the backup file is shorter than announced",
            ))));
        }
        this.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(rb.filled())))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests;
