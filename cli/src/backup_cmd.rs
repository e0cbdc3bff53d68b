//! `rampart backup ...`: cloud backups (SPEC 6).
//!
//! Through the portal API: a license's backups (`list`, `download`, `delete`), the
//! jobs that make, restore and re-key them (`create`, `restore`, `set-password`, made
//! and followed with [`crate::jobs_cmd::submit`]), and an appliance's regular backup
//! (`schedule`). Without a server: a preview of rotation (`rotation-plan`) and the
//! offline envelope tools (`decrypt`, `encrypt`) that open a downloaded backup on any
//! machine, or make one.
//!
//! Secrets: the backup password comes from `--password-file` or a prompt without echo
//! (asked twice when it is a new one), the PIN of `restore` from `--pin-file`,
//! `$RAMPART_PIN` or a prompt; never from an argument, and neither is ever printed.
//! A download's presigned URL is never printed either: its query is its signature.
//! Exit codes as in [`crate::portal_cmd::EXIT_CODES`]; a backup that does not open
//! (wrong password or serial, corruption) exits 6 with the envelope's error code.

use crate::jobs_cmd::{TargetArgs, read_pin, submit};
use crate::list_pages::{fetch_all, write_page};
use crate::portal_client::PageQuery;
use crate::portal_cmd::{
    EXIT_REFUSED, PortalOpts, SignedIn, Unsuccessful, UsageError, dash, parse_appliance_id,
    parse_tenant, render_table, signed_in, write_fields, write_json,
};
use rampart_domain::Timestamp;
use rampart_domain::backup::{BackupPassword, BackupPoint, RotationPolicy, parse_backup_times};
use rampart_domain::ids::{ApplianceId, BackupId, Serial, TenantId};
use rampart_domain::jobs::{JobTarget, Operation};
use rampart_domain::portal_protocol::{
    BackupDownload, BackupSchedule, BackupScheduleView, BackupView, NewJob, PasswordText,
};
use rampart_envelope::{ChunkSize, EnvelopeError, KdfParams, Password, SealOptions};
use serde::Serialize;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

// ---- arguments -----------------------------------------------------------------------

#[derive(clap::Subcommand, Clone, Debug)]
pub enum BackupCommand {
    /// A license's backups, newest first: time, id, size, password generation and who
    /// made it (one page, or every page with --all).
    List {
        /// The license serial.
        #[arg(value_parser = parse_serial)]
        serial: Serial,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Start at this page (the `next_cursor` of the previous one).
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Follow the pages to the end.
        #[arg(long)]
        all: bool,
    },
    /// Download a backup, still encrypted (open it with `rampart backup decrypt`).
    /// The file appears only once complete.
    Download {
        /// The license serial.
        #[arg(value_parser = parse_serial)]
        serial: Serial,
        /// The backup's id (bk_ and 21 digits, as `backup list` shows).
        #[arg(value_parser = parse_backup_id)]
        backup: BackupId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// Where to write the encrypted file (replaced if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Delete one backup of a license.
    Delete {
        /// The license serial.
        #[arg(value_parser = parse_serial)]
        serial: Serial,
        /// The backup's id.
        #[arg(value_parser = parse_backup_id)]
        backup: BackupId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Make a backup now, on one appliance, a list, or every appliance with a tag (a
    /// `backup` job).
    Create(BackupCreateArgs),
    /// Load a backup into an appliance's configuration manager, named after the
    /// backup's time: backup-YYYY-DD-MM_HH:ii:ss (a PIN-protected `restore_backup`
    /// job).
    Restore {
        /// The appliance to restore on.
        #[arg(value_parser = parse_appliance_id)]
        appliance: ApplianceId,
        /// The backup's id (a backup of that appliance's license).
        #[arg(value_parser = parse_backup_id)]
        backup: BackupId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// Read the appliance's PIN from this file (else $RAMPART_PIN, else a prompt
        /// without echo; never from an argument).
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
        /// Follow the job to its end, with progress on stderr; exits 8 unless it
        /// succeeded.
        #[arg(long)]
        wait: bool,
    },
    /// Set or change the backup password of an appliance, or of every appliance with a
    /// tag (a `set_backup_password` job; the password travels sealed to each
    /// appliance). Policy: 8+ characters, 3 of upper case, lower case, digits, special.
    SetPassword(SetPasswordArgs),
    /// Show an appliance's regular backup, or change it: --at HH:MM (daily, appliance
    /// time) or --off.
    Schedule {
        /// The appliance.
        #[arg(value_parser = parse_appliance_id)]
        appliance: ApplianceId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// Turn the regular backup off (its time is kept for when it is on again).
        #[arg(long)]
        off: bool,
        /// Back up daily at this time of day, appliance time (turns it on).
        #[arg(long, conflicts_with = "off", value_parser = parse_time_of_day, value_name = "HH:MM")]
        at: Option<TimeOfDay>,
    },
    /// Preview rotation (keep the newest 7, then 4 weekly, then 12 monthly; UTC):
    /// reads backup times (RFC 3339, one per line) on stdin and prints each, newest
    /// first, with `keep` and the rule that keeps it, or `delete`. No server needed.
    RotationPlan,
    /// Decrypt a downloaded backup, offline. Writes OUT only if the whole backup
    /// opens; a wrong password or serial, or any corruption, exits 6 and writes
    /// nothing.
    Decrypt {
        /// The license serial the backup was made for.
        #[arg(long, value_parser = parse_serial)]
        serial: Serial,
        /// Read the backup password from this file (else a prompt without echo; never
        /// from an argument).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The encrypted backup.
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// Where to write the configuration (created readable by you only).
        #[arg(long, value_name = "OUT")]
        out: PathBuf,
    },
    /// Encrypt a file into a backup for a license, offline, in the format appliances
    /// upload. The password must meet the backup-password policy.
    Encrypt {
        /// The license serial to bind the backup to.
        #[arg(long, value_parser = parse_serial)]
        serial: Serial,
        /// Read the backup password from this file (else a prompt without echo, asked
        /// twice; never from an argument).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The password generation to record in the header.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        generation: u32,
        /// Argon2id memory in KiB (8192 to 1048576) [default: 65536].
        #[arg(long, value_name = "KIB")]
        kdf_memory_kib: Option<u32>,
        /// The file to encrypt.
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// Where to write the backup.
        #[arg(long, value_name = "OUT")]
        out: PathBuf,
    },
}

#[derive(clap::Args, Clone, Debug)]
pub struct BackupCreateArgs {
    /// The tenant [default: your own].
    #[arg(long, value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Follow the job until every command has finished, with progress on stderr;
    /// exits 8 unless every command succeeded.
    #[arg(long)]
    pub wait: bool,
}

#[derive(clap::Args, Clone, Debug)]
pub struct SetPasswordArgs {
    /// The tenant [default: your own].
    #[arg(long, value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Read the new password from this file (else a prompt without echo, asked twice;
    /// never from an argument).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Follow the job until every command has finished, with progress on stderr;
    /// exits 8 unless every command succeeded.
    #[arg(long)]
    pub wait: bool,
}

/// A time of day, as `--at HH:MM` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

pub fn parse_serial(s: &str) -> Result<Serial, String> {
    Serial::parse(s).map_err(|e| e.to_string())
}

pub fn parse_backup_id(s: &str) -> Result<BackupId, String> {
    BackupId::parse(s).map_err(|e| e.to_string())
}

/// `HH:MM` (or `H:MM`), 00:00 to 23:59.
pub fn parse_time_of_day(s: &str) -> Result<TimeOfDay, String> {
    let bad = || format!("{s:?}: expected a time of day HH:MM, e.g. 07:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return Err(bad());
    }
    let (hour, minute): (u8, u8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok(TimeOfDay { hour, minute })
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

// ---- the backup password ----------------------------------------------------------------

/// Whether a password is asked for to open a backup or to set a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordUse {
    /// Asked once; any password (an old backup must stay openable).
    Open,
    /// Asked twice at the prompt; checked against the policy.
    New,
}

/// The backup password from `file` (one trailing line break dropped), else from a
/// prompt without echo on the terminal (twice for a new one). Never from an argument
/// or the environment; no error repeats it.
pub fn read_backup_password(
    file: Option<&Path>,
    purpose: PasswordUse,
) -> anyhow::Result<Zeroizing<String>> {
    if let Some(f) = file {
        let text = Zeroizing::new(std::fs::read_to_string(f).map_err(|e| {
            anyhow::anyhow!("reading the backup password file {}: {e}", f.display())
        })?);
        let pw = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        if pw.is_empty() {
            return Err(usage(format!(
                "the backup password file {} is empty",
                f.display()
            )));
        }
        return Ok(Zeroizing::new(pw.to_owned()));
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| {
                usage(format!(
                    "cannot ask for the backup password ({e}): give --password-file"
                ))
            })
    };
    let pw = ask(match purpose {
        PasswordUse::Open => "Backup password: ",
        PasswordUse::New => "New backup password: ",
    })?;
    if pw.is_empty() {
        return Err(usage("the backup password is empty"));
    }
    if purpose == PasswordUse::New {
        let again = ask("Repeat the backup password: ")?;
        if *again != *pw {
            return Err(usage("the two backup passwords differ"));
        }
    }
    Ok(pw)
}

/// A new backup password, checked against the policy (SPEC 6.1) here so that a
/// refused one costs no round trip; the message names the rule that failed.
pub fn new_backup_password(file: Option<&Path>) -> anyhow::Result<BackupPassword> {
    let pw = read_backup_password(file, PasswordUse::New)?;
    BackupPassword::parse(pw.as_str().to_owned()).map_err(|r| {
        usage(format!(
            "the backup password is refused ({}): {r}",
            r.code()
        ))
    })
}

// ---- commands ------------------------------------------------------------------------------

/// `rampart backup ...`.
pub async fn backup(
    opts: &PortalOpts,
    command: BackupCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        BackupCommand::List {
            serial,
            tenant,
            limit,
            cursor,
            all,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let (client, tenant, serial) = (&s.client, &tenant, &serial);
            let fetch = |cursor| async move {
                client
                    .backups(tenant, serial, &PageQuery { limit, cursor })
                    .await
            };
            let page = if all {
                fetch_all(cursor, fetch, |_, _| {}).await?.0
            } else {
                fetch(cursor).await?
            };
            write_page(
                out,
                opts.json,
                &page,
                print_backup_table,
                "more backups: add --all, or",
            )
        }
        BackupCommand::Download {
            serial,
            backup,
            tenant,
            out: path,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let grant = s.client.backup_download(&tenant, &serial, &backup).await?;
            let size = fetch_to_file(&grant, &path).await?;
            if opts.json {
                write_json(
                    out,
                    &serde_json::json!({"backup_id": grant.backup_id, "serial": serial,
                        "size": size, "out": path.display().to_string()}),
                )?;
            } else {
                writeln!(
                    out,
                    "Downloaded backup {} of license {serial} ({}, still encrypted) to {}.",
                    grant.backup_id,
                    human_size(size),
                    path.display()
                )?;
                writeln!(
                    out,
                    "Open it with: rampart backup decrypt --serial {serial} {} --out FILE",
                    path.display()
                )?;
            }
            Ok(())
        }
        BackupCommand::Delete {
            serial,
            backup,
            tenant,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            s.client.delete_backup(&tenant, &serial, &backup).await?;
            if opts.json {
                write_json(
                    out,
                    &serde_json::json!({"deleted": backup, "serial": serial, "tenant": tenant}),
                )?;
            } else {
                writeln!(out, "Deleted backup {backup} of license {serial}.")?;
            }
            Ok(())
        }
        BackupCommand::Create(a) => {
            let target = a.target.job_target()?;
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(a.tenant).await?;
            let job = NewJob {
                target,
                operation: Operation::Backup,
                pin: None,
                backup_password: None,
            };
            submit(opts, &s, &tenant, job, a.wait, out).await
        }
        BackupCommand::Restore {
            appliance,
            backup,
            tenant,
            pin_file,
            wait,
        } => {
            let s = signed_in(opts)?;
            let pin = read_pin(pin_file.as_deref(), std::env::var("RAMPART_PIN").ok())?;
            let tenant = s.tenant_or_own(tenant).await?;
            let job = NewJob {
                target: JobTarget::Appliance(appliance),
                // The console fills in the backup's time from its index.
                operation: Operation::RestoreBackup {
                    backup,
                    taken_at: Timestamp::epoch(),
                },
                pin: Some(pin),
                backup_password: None,
            };
            submit(opts, &s, &tenant, job, wait, out).await
        }
        BackupCommand::SetPassword(a) => {
            let target = a.target.job_target()?;
            let s = signed_in(opts)?;
            let password = new_backup_password(a.password_file.as_deref())?;
            let tenant = s.tenant_or_own(a.tenant).await?;
            let job = NewJob {
                target,
                // The console numbers the generation.
                operation: Operation::SetBackupPassword { generation: 0 },
                pin: None,
                backup_password: Some(PasswordText::new(password.expose())),
            };
            drop(password);
            submit(opts, &s, &tenant, job, a.wait, out).await
        }
        BackupCommand::Schedule {
            appliance,
            tenant,
            off,
            at,
        } => schedule(opts, appliance, tenant, off, at, out).await,
        BackupCommand::RotationPlan => {
            let text = read_stdin_bounded()?;
            let lines = rotation_plan(&text)?;
            print_rotation_plan(&lines, opts.json, out)
        }
        BackupCommand::Decrypt {
            serial,
            password_file,
            input,
            out: path,
        } => {
            decrypt(
                &serial,
                password_file.as_deref(),
                &input,
                &path,
                opts.json,
                out,
            )
            .await
        }
        BackupCommand::Encrypt {
            serial,
            password_file,
            generation,
            kdf_memory_kib,
            input,
            out: path,
        } => {
            let kdf = match kdf_memory_kib {
                None => KdfParams::default(),
                Some(m) => {
                    let d = KdfParams::default();
                    KdfParams::new(m, d.iterations(), d.parallelism())
                        .map_err(|e| usage(format!("--kdf-memory-kib: {e}")))?
                }
            };
            let options = SealOptions {
                kdf,
                chunk_size: ChunkSize::DEFAULT,
                password_generation: generation,
            };
            encrypt(
                &serial,
                password_file.as_deref(),
                options,
                &input,
                &path,
                opts.json,
                out,
            )
            .await
        }
    }
}

/// `rampart backup schedule`.
async fn schedule(
    opts: &PortalOpts,
    appliance: ApplianceId,
    tenant: Option<TenantId>,
    off: bool,
    at: Option<TimeOfDay>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let s: SignedIn = signed_in(opts)?;
    let tenant = s.tenant_or_own(tenant).await?;
    let view = match (off, at) {
        (false, None) => s.client.backup_schedule(&tenant, &appliance).await?,
        (_, Some(t)) => {
            let schedule = BackupSchedule {
                enabled: true,
                hour: t.hour,
                minute: t.minute,
            };
            s.client
                .set_backup_schedule(&tenant, &appliance, &schedule)
                .await?
        }
        (true, None) => {
            // Off keeps the time of day, for when it is turned on again.
            let current = s.client.backup_schedule(&tenant, &appliance).await?;
            let schedule = BackupSchedule {
                enabled: false,
                ..current.schedule
            };
            s.client
                .set_backup_schedule(&tenant, &appliance, &schedule)
                .await?
        }
    };
    if opts.json {
        write_json(out, &view)
    } else {
        print_schedule(&appliance, &view, out)
    }
}

// ---- download ------------------------------------------------------------------------------

/// The longest a download may stall before it is given up.
const DOWNLOAD_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A URL as it may be shown: scheme, host, port and path, without user info, query
/// (a presigned URL's signature) or fragment.
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

/// reqwest's error with its causes, without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

/// Streams the presigned download into a temporary file beside `path` and renames it
/// over `path` once complete and exactly `grant.size` bytes long. The portal session's
/// token is not sent to the storage; the URL's query never reaches an error message.
async fn fetch_to_file(grant: &BackupDownload, path: &Path) -> anyhow::Result<u64> {
    let url = reqwest::Url::parse(&grant.url)
        .map_err(|_| anyhow::anyhow!("the console answered with an unusable download URL"))?;
    let shown = redact_url(&url);
    tracing::debug!(backup = %grant.backup_id, url = %shown, "downloading backup");
    let http = reqwest::Client::builder()
        .user_agent(concat!("rampart-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(DOWNLOAD_READ_TIMEOUT)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up the download: {}", describe(e)))?;
    let mut resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot download from {shown}: {}", describe(e)))?;
    let status = resp.status();
    if !status.is_success() {
        anyhow::bail!(
            "the storage refused the download from {shown}: HTTP {} (the link lives a few minutes; try again)",
            status.as_u16()
        );
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".rampart-download-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("cannot write in {}: {e}", dir.display()))?;
    let mut got: u64 = 0;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| anyhow::anyhow!("download from {shown} broke off: {}", describe(e)))?
    {
        got += chunk.len() as u64;
        if got > grant.size {
            anyhow::bail!(
                "download from {shown} is longer than the backup's {} bytes",
                grant.size
            );
        }
        temp.as_file_mut().write_all(&chunk)?;
    }
    if got != grant.size {
        anyhow::bail!(
            "download from {shown} incomplete: {got} of {} bytes",
            grant.size
        );
    }
    temp.as_file().sync_all()?;
    temp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(got)
}

// ---- rotation plan ---------------------------------------------------------------------

/// Most bytes `rotation-plan` reads: the longest input `parse_backup_times` accepts
/// (each line up to 64 characters of up to 4 bytes, and its line break).
const MAX_PLAN_INPUT: u64 = (rampart_domain::backup::MAX_TIME_LINES as u64)
    * (rampart_domain::backup::MAX_TIME_LINE_CHARS as u64 * 4 + 2);

fn read_stdin_bounded() -> anyhow::Result<String> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_PLAN_INPUT + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_PLAN_INPUT {
        return Err(refused(format!(
            "the input is longer than {MAX_PLAN_INPUT} bytes"
        )));
    }
    String::from_utf8(buf).map_err(|_| refused("the input is not UTF-8 text"))
}

fn refused(message: impl Into<String>) -> anyhow::Error {
    Unsuccessful {
        exit_code: EXIT_REFUSED,
        message: message.into(),
    }
    .into()
}

/// One backup of a rotation preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanLine {
    /// The backup's time, RFC 3339 in UTC.
    pub time: String,
    pub keep: bool,
    /// Why it stays, as borg's `prune --list` says it: `last #3`, `weekly #1`,
    /// `monthly[oldest] #12`; `null` when it goes.
    pub rule: Option<String>,
}

/// The rotation of SPEC 6.4 applied to backup times (RFC 3339, one per line), newest
/// first. Each line is its own backup, so equal times stay distinct (the later line
/// counts as the newer).
pub fn rotation_plan(text: &str) -> anyhow::Result<Vec<PlanLine>> {
    let times = parse_backup_times(text).map_err(|e| refused(e.to_string()))?;
    let points: Vec<BackupPoint<usize>> = times
        .into_iter()
        .enumerate()
        .map(|(id, accepted)| BackupPoint { id, accepted })
        .collect();
    Ok(rampart_domain::backup::plan(&RotationPolicy::SPEC, &points)
        .into_iter()
        .map(|d| PlanLine {
            time: d.accepted.to_string(),
            keep: d.keep.is_some(),
            rule: d.keep.map(|k| k.to_string()),
        })
        .collect())
}

pub fn print_rotation_plan(
    lines: &[PlanLine],
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if json {
        return write_json(out, &lines);
    }
    if lines.is_empty() {
        writeln!(out, "No backup times.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.time.clone(),
                if l.keep { "keep" } else { "delete" }.to_owned(),
                l.rule.clone().unwrap_or_default(),
            ]
        })
        .collect();
    write!(out, "{}", render_table(&["TIME", "ACTION", "RULE"], &rows))?;
    let kept = lines.iter().filter(|l| l.keep).count();
    writeln!(
        out,
        "{kept} kept, {} deleted, of {}.",
        lines.len() - kept,
        lines.len()
    )?;
    Ok(())
}

// ---- offline envelope tools ------------------------------------------------------------

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// An envelope error as the CLI reports it: the backup itself is refused (exit 6,
/// with the error's code), or reading/writing failed (exit 1).
fn envelope_error(what: &str, e: EnvelopeError) -> anyhow::Error {
    match e {
        EnvelopeError::Io(io) => anyhow::anyhow!("{what}: {io}"),
        other => refused(format!("{what}: {other} ({})", other.code())),
    }
}

async fn decrypt(
    serial: &Serial,
    password_file: Option<&Path>,
    input: &Path,
    path: &Path,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if same_file(input, path) {
        return Err(usage("--out must not be the backup itself"));
    }
    let password = Password::new(
        read_backup_password(password_file, PasswordUse::Open)?
            .as_str()
            .to_owned(),
    );
    let (serial_s, input_p, path_p) = (serial.to_string(), input.to_owned(), path.to_owned());
    let header = tokio::task::spawn_blocking(move || {
        rampart_envelope::open_file(&password, &serial_s, &input_p, &path_p)
    })
    .await?
    .map_err(|e| envelope_error(&format!("cannot decrypt {}", input.display()), e))?;
    if json {
        write_json(
            out,
            &serde_json::json!({"out": path.display().to_string(), "serial": serial,
                "plaintext_len": header.plaintext_len(),
                "password_generation": header.password_generation(),
                "format_version": header.format_version()}),
        )
    } else {
        writeln!(
            out,
            "Decrypted {} (license {serial}, password generation {}) to {}: {}.",
            input.display(),
            header.password_generation(),
            path.display(),
            human_size(header.plaintext_len())
        )?;
        Ok(())
    }
}

async fn encrypt(
    serial: &Serial,
    password_file: Option<&Path>,
    options: SealOptions,
    input: &Path,
    path: &Path,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if same_file(input, path) {
        return Err(usage("--out must not be the input itself"));
    }
    let checked = new_backup_password(password_file)?;
    let password = Password::new(checked.expose().to_owned());
    drop(checked);
    let (serial_s, input_p, path_p) = (serial.to_string(), input.to_owned(), path.to_owned());
    let header = tokio::task::spawn_blocking(move || {
        rampart_envelope::seal_file(&password, &serial_s, options, &input_p, &path_p)
    })
    .await?
    .map_err(|e| envelope_error(&format!("cannot encrypt {}", input.display()), e))?;
    let kdf = header.kdf();
    if json {
        write_json(
            out,
            &serde_json::json!({"out": path.display().to_string(), "serial": serial,
                "plaintext_len": header.plaintext_len(), "sealed_len": header.sealed_len(),
                "password_generation": header.password_generation(),
                "format_version": header.format_version(),
                "kdf": {"memory_kib": kdf.memory_kib(), "iterations": kdf.iterations(),
                        "parallelism": kdf.parallelism()}}),
        )
    } else {
        writeln!(
            out,
            "Encrypted {} for license {serial} (password generation {}, Argon2id m={} KiB t={} p={}) to {}: {}.",
            input.display(),
            header.password_generation(),
            kdf.memory_kib(),
            kdf.iterations(),
            kdf.parallelism(),
            path.display(),
            human_size(header.sealed_len())
        )?;
        Ok(())
    }
}

// ---- output ---------------------------------------------------------------------------------

/// `512 B`, `1.5 KiB`, `12.0 MiB`, `1.2 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `UTC+01:00`, `UTC-03:30`, `UTC`.
pub fn utc_offset(minutes: i16) -> String {
    if minutes == 0 {
        return "UTC".to_owned();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

pub fn print_backup_table(backups: &[BackupView], out: &mut impl Write) -> anyhow::Result<()> {
    if backups.is_empty() {
        writeln!(out, "No backups.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = backups
        .iter()
        .map(|b| {
            vec![
                b.accepted_at.clone(),
                b.id.to_string(),
                human_size(b.size),
                b.password_generation.to_string(),
                dash(Some(&b.made_by)),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["TIME", "ID", "SIZE", "PASSWORD GEN", "MADE BY"], &rows)
    )?;
    Ok(())
}

pub fn print_schedule(
    appliance: &ApplianceId,
    view: &BackupScheduleView,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let s = &view.schedule;
    let time = format!("{:02}:{:02}", s.hour, s.minute);
    let zone = utc_offset(view.utc_offset_minutes);
    let state = if s.enabled {
        format!("daily at {time} appliance time ({zone})")
    } else {
        format!("off (daily at {time} appliance time when on)")
    };
    write_fields(
        out,
        &[
            ("Appliance", appliance.to_string()),
            ("Regular backup", state),
            ("Next run", dash(view.next_run.as_deref())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: BackupCommand,
    }

    fn parse(args: &[&str]) -> Result<BackupCommand, clap::Error> {
        let mut argv = vec!["backup"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|c| c.command)
    }

    #[test]
    fn times_of_day() {
        assert_eq!(
            parse_time_of_day("07:00"),
            Ok(TimeOfDay { hour: 7, minute: 0 })
        );
        assert_eq!(
            parse_time_of_day("7:05"),
            Ok(TimeOfDay { hour: 7, minute: 5 })
        );
        assert_eq!(
            parse_time_of_day("23:59"),
            Ok(TimeOfDay {
                hour: 23,
                minute: 59
            })
        );
        for bad in [
            "24:00", "12:60", "7", "07:0", "07:000", "-1:00", "ab:cd", "",
        ] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arguments() {
        let ap = format!("ap_{}", "ab".repeat(16));
        let bk = "bk_1764072000000deadbeef";
        assert!(parse(&["list", "A1B2C3D4"]).is_ok());
        assert!(parse(&["list", "a1b2"]).is_err());
        assert!(parse(&["list", "A1B2C3D4", "--all", "--cursor", "x"]).is_err());
        assert!(parse(&["download", "A1B2C3D4", bk, "--out", "f"]).is_ok());
        assert!(parse(&["download", "A1B2C3D4", bk]).is_err());
        assert!(parse(&["delete", "A1B2C3D4", "bk_1"]).is_err());
        assert!(parse(&["create"]).is_err());
        assert!(parse(&["create", "--appliance", &ap, "--tag", "x"]).is_err());
        assert!(parse(&["create", "--appliances", &format!("{ap},{ap}")]).is_ok());
        assert!(parse(&["restore", &ap, bk]).is_ok());
        assert!(parse(&["restore", &ap, bk, "--pin", "123456"]).is_err());
        assert!(parse(&["set-password", "--tag", "x"]).is_ok());
        assert!(parse(&["set-password", "--tag", "x", "--password", "Secret-123"]).is_err());
        assert!(parse(&["set-password"]).is_err());
        assert!(parse(&["schedule", &ap, "--off", "--at", "07:00"]).is_err());
        assert!(parse(&["schedule", &ap, "--at", "25:00"]).is_err());
        assert!(parse(&["rotation-plan"]).is_ok());
        assert!(parse(&["decrypt", "--serial", "A1B2C3D4", "in", "--out", "o"]).is_ok());
        assert!(
            parse(&[
                "encrypt",
                "--serial",
                "A1B2C3D4",
                "in",
                "--out",
                "o",
                "--generation",
                "0"
            ])
            .is_err()
        );
    }

    #[test]
    fn password_files_and_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "Correct-Horse-7\r\n").unwrap();
        assert_eq!(
            new_backup_password(Some(&f)).unwrap().expose(),
            "Correct-Horse-7"
        );
        // Only one line break goes; spaces are part of it.
        std::fs::write(&f, " Correct Horse 7 \n\n").unwrap();
        assert_eq!(
            read_backup_password(Some(&f), PasswordUse::Open)
                .unwrap()
                .as_str(),
            " Correct Horse 7 \n"
        );
        std::fs::write(&f, "\n").unwrap();
        assert!(read_backup_password(Some(&f), PasswordUse::Open).is_err());
        for (bad, rule) in [
            ("Ab1-", "at least 8 characters"),
            ("alllowercase", "at least 3 of 4 character classes"),
        ] {
            std::fs::write(&f, bad).unwrap();
            let e = new_backup_password(Some(&f)).unwrap_err();
            assert!(e.downcast_ref::<UsageError>().is_some());
            let msg = format!("{e:#}");
            assert!(msg.contains(rule), "{msg}");
            assert!(!msg.contains(bad), "{msg}");
        }
    }

    #[test]
    fn urls_lose_their_signature() {
        let u = reqwest::Url::parse(
            "https://user:pw@bucket.s3.amazonaws.com:8443/k/bk_1?X-Amz-Signature=abc#f",
        )
        .unwrap();
        assert_eq!(
            redact_url(&u),
            "https://bucket.s3.amazonaws.com:8443/k/bk_1"
        );
    }

    #[test]
    fn sizes_and_offsets() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(12 * 1024 * 1024), "12.0 MiB");
        assert_eq!(utc_offset(0), "UTC");
        assert_eq!(utc_offset(60), "UTC+01:00");
        assert_eq!(utc_offset(-210), "UTC-03:30");
    }

    #[test]
    fn rotation_preview() {
        let text: String = (1..=10)
            .map(|d| format!("2024-05-{d:02}T07:00:00Z\n"))
            .collect();
        let lines = rotation_plan(&text).unwrap();
        let rules: Vec<Option<&str>> = lines.iter().map(|l| l.rule.as_deref()).collect();
        assert_eq!(
            rules,
            vec![
                Some("last #1"),
                Some("last #2"),
                Some("last #3"),
                Some("last #4"),
                Some("last #5"),
                Some("last #6"),
                Some("last #7"),
                None,
                None,
                Some("weekly[oldest] #1"),
            ]
        );
        assert_eq!(lines[0].time, "2024-05-10T07:00:00.000Z");
        let e = rotation_plan("2024-05-01\n").unwrap_err();
        assert!(format!("{e:#}").contains("line 1"), "{e:#}");
        assert!(rotation_plan("").unwrap().is_empty());
    }
}
