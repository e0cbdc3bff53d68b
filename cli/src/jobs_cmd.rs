//! `rampart jobs create|list|show|cancel`: operations on appliances as jobs (SPEC 4.4,
//! 5), through the portal API. A job targets one appliance, a list or a tag and fans
//! out into one command per appliance; `create --wait` follows it to the end with a
//! progress line on stderr. Human output by default, `--json` for scripts; exit codes
//! as in [`crate::portal_cmd::EXIT_CODES`] (8: a job waited for did not fully succeed).
//!
//! The PIN of PIN-protected operations (reboot, shut down, factory reset, rollback)
//! comes from `--pin-file`, `$RAMPART_PIN` or a prompt without echo, never from an
//! argument (arguments show in `ps` and shell histories), and is never printed.

use crate::list_pages::{fetch_all, write_page};
use crate::portal_client::PageQuery;
use crate::portal_cmd::{
    EXIT_JOB_UNSUCCESSFUL, PortalOpts, SignedIn, Unsuccessful, UsageError, dash,
    parse_appliance_id, parse_tenant, render_table, signed_in, wire_name, write_fields, write_json,
};
use rampart_domain::Timestamp;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, JobId, TenantId};
use rampart_domain::jobs::{AppAction, CommandState, JobTarget, Operation, Refusal};
use rampart_domain::portal_protocol::{CommandView, JobCancel, JobView, NewJob, PinText};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often `--wait` asks for the job.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

// ---- arguments -----------------------------------------------------------------------

#[derive(clap::Subcommand, Clone, Debug)]
pub enum JobsCommand {
    /// Run an operation on one appliance, a list, or every appliance with a tag.
    Create(JobCreateArgs),
    /// The tenant's jobs, newest first (one page, or every page with --all).
    List {
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
    /// Show a job and its progress; with --commands, each appliance's command too
    /// (`--json` then prints `{"job": ..., "commands": [...]}`).
    Show {
        /// The job's id (job_ and 21 digits, as `jobs create` and `jobs list` show).
        #[arg(value_parser = parse_job_id)]
        job: JobId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// List every appliance's command (all pages).
        #[arg(long)]
        commands: bool,
    },
    /// Cancel a job's queued commands (all, or those of the appliances named);
    /// commands already sent get a cancel request the appliance answers.
    Cancel {
        #[arg(value_parser = parse_job_id)]
        job: JobId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// Cancel only this appliance's command (repeat for several).
        #[arg(long, value_parser = parse_appliance_id, value_name = "ID")]
        appliance: Vec<ApplianceId>,
    },
}

/// The operations `jobs create --operation` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OperationArg {
    /// Reboot (needs the PIN).
    Reboot,
    /// Shut down (needs the PIN).
    Shutdown,
    /// Reset to factory settings (needs the PIN).
    FactoryReset,
    /// Roll back to the previous firmware (needs the PIN; firmware 14.1.0 or later).
    Rollback,
    /// A one-time firmware update: --version, and --at for a planned time.
    FirmwareUpdate,
    /// Start the application named by --app.
    AppStart,
    /// Stop the application named by --app.
    AppStop,
    /// Restart the application named by --app.
    AppRestart,
}

/// When a firmware update may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Now,
    At(Timestamp),
}

/// Which appliances a job is for: exactly one of these (`jobs create`, `backup create`,
/// `backup set-password`).
#[derive(clap::Args, Clone, Debug)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// Target one appliance.
    #[arg(long, value_parser = parse_appliance_id, value_name = "ID")]
    pub appliance: Option<ApplianceId>,
    /// Target a list of appliances, comma-separated.
    #[arg(long, value_parser = parse_appliance_id, value_delimiter = ',', value_name = "ID,ID,..")]
    pub appliances: Vec<ApplianceId>,
    /// Target every appliance with this tag (as tagged now).
    #[arg(long)]
    pub tag: Option<String>,
}

impl TargetArgs {
    /// The target the arguments name (clap makes sure there is exactly one).
    pub fn job_target(&self) -> anyhow::Result<JobTarget> {
        if let Some(id) = &self.appliance {
            return Ok(JobTarget::Appliance(id.clone()));
        }
        if let Some(tag) = &self.tag {
            return JobTarget::tag(tag.clone()).map_err(|e| usage(format!("--tag: {e}")));
        }
        if !self.appliances.is_empty() {
            return JobTarget::list(self.appliances.clone())
                .map_err(|e| usage(format!("--appliances: {e}")));
        }
        Err(usage("give --appliance, --appliances or --tag"))
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct JobCreateArgs {
    /// The tenant [default: your own].
    #[arg(long, value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// What to do.
    #[arg(long, value_enum)]
    pub operation: OperationArg,
    /// firmware-update: the version to install, e.g. 14.2.0.
    #[arg(long, value_parser = parse_firmware)]
    pub version: Option<FirmwareVersion>,
    /// firmware-update: not before this time (RFC 3339, e.g. 2030-01-31T22:00:00Z),
    /// or `now` [default: now].
    #[arg(long, value_parser = parse_when, value_name = "TIME|now")]
    pub at: Option<When>,
    /// app-start, app-stop, app-restart: the application's name.
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Read the appliances' PIN from this file (else $RAMPART_PIN, else a prompt
    /// without echo; never from an argument). Only PIN-protected operations.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Follow the job until every command has finished, with progress on stderr;
    /// exits 8 unless every command succeeded.
    #[arg(long)]
    pub wait: bool,
}

pub fn parse_job_id(s: &str) -> Result<JobId, String> {
    JobId::parse(s).map_err(|e| e.to_string())
}

pub fn parse_firmware(s: &str) -> Result<FirmwareVersion, String> {
    FirmwareVersion::parse(s).map_err(|e| e.to_string())
}

/// `now`, or an RFC 3339 time with its offset.
pub fn parse_when(s: &str) -> Result<When, String> {
    if s.trim().eq_ignore_ascii_case("now") {
        return Ok(When::Now);
    }
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| When::At(Timestamp::from_millis(t.timestamp_millis())))
        .map_err(|e| {
            format!("{s:?}: expected `now` or an RFC 3339 time like 2030-01-31T22:00:00Z ({e})")
        })
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// The operation the arguments ask for, `now` standing for `--at now`. Refuses
/// options that do not belong to the operation, so nothing is silently ignored.
pub fn build_operation(a: &JobCreateArgs, now: Timestamp) -> anyhow::Result<Operation> {
    use OperationArg as O;
    let is_update = a.operation == O::FirmwareUpdate;
    let is_app = matches!(a.operation, O::AppStart | O::AppStop | O::AppRestart);
    if !is_update && (a.version.is_some() || a.at.is_some()) {
        return Err(usage(
            "--version and --at belong to --operation firmware-update",
        ));
    }
    if !is_app && a.app.is_some() {
        return Err(usage(
            "--app belongs to --operation app-start, app-stop or app-restart",
        ));
    }
    let app = |action| -> anyhow::Result<Operation> {
        let name = a
            .app
            .clone()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| usage("give the application with --app NAME"))?;
        Ok(Operation::Application { name, action })
    };
    let op = match a.operation {
        O::Reboot => Operation::Reboot,
        O::Shutdown => Operation::Shutdown,
        O::FactoryReset => Operation::FactoryReset,
        O::Rollback => Operation::Rollback,
        O::FirmwareUpdate => Operation::FirmwareUpdate {
            version: a
                .version
                .ok_or_else(|| usage("give the firmware version with --version, e.g. 14.2.0"))?,
            not_before: match a.at.unwrap_or(When::Now) {
                When::Now => now,
                When::At(t) => t,
            },
        },
        O::AppStart => app(AppAction::Start)?,
        O::AppStop => app(AppAction::Stop)?,
        O::AppRestart => app(AppAction::Restart)?,
    };
    if !op.needs_pin() && a.pin_file.is_some() {
        return Err(usage(format!(
            "--pin-file: {} needs no PIN",
            operation_label(&op)
        )));
    }
    Ok(op)
}

/// The PIN: from the file, else `$RAMPART_PIN`, else a prompt without echo on the
/// terminal. Checked to be 6 digits here, so a typo costs no attempt on the
/// appliances; the error never repeats what was typed.
pub fn read_pin(file: Option<&Path>, env_value: Option<String>) -> anyhow::Result<PinText> {
    let pin = if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("reading the PIN file {}: {e}", f.display()))?;
        let pin = text.trim_end_matches(['\n', '\r']).to_owned();
        if pin.is_empty() {
            return Err(usage(format!("the PIN file {} is empty", f.display())));
        }
        pin
    } else if let Some(pin) = env_value.filter(|p| !p.is_empty()) {
        pin
    } else {
        rpassword::prompt_password("Appliance PIN: ").map_err(|e| {
            usage(format!(
                "cannot ask for the PIN ({e}): give --pin-file or set RAMPART_PIN"
            ))
        })?
    };
    if rampart_identity::pin::Pin::parse(pin.as_bytes()).is_err() {
        return Err(usage("a PIN is exactly 6 digits"));
    }
    Ok(PinText::new(pin))
}

// ---- commands ----------------------------------------------------------------------------

/// `rampart jobs ...`.
pub async fn jobs(
    opts: &PortalOpts,
    command: JobsCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        JobsCommand::Create(a) => create(opts, a, out).await,
        JobsCommand::List {
            tenant,
            limit,
            cursor,
            all,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let (client, tenant) = (&s.client, &tenant);
            let fetch =
                |cursor| async move { client.jobs(tenant, &PageQuery { limit, cursor }).await };
            let page = if all {
                fetch_all(cursor, fetch, |_, _| {}).await?.0
            } else {
                fetch(cursor).await?
            };
            write_page(
                out,
                opts.json,
                &page,
                print_job_table,
                "more jobs: add --all, or",
            )
        }
        JobsCommand::Show {
            job,
            tenant,
            commands,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let view = s.client.job(&tenant, &job).await?;
            if !commands {
                if opts.json {
                    write_json(out, &view)?;
                } else {
                    print_job_detail(&view, out)?;
                }
                return Ok(());
            }
            let list = all_commands(&s, &tenant, &job).await?;
            if opts.json {
                write_json(out, &serde_json::json!({"job": view, "commands": list}))?;
            } else {
                print_job_detail(&view, out)?;
                writeln!(out)?;
                print_command_table(&list, out)?;
            }
            Ok(())
        }
        JobsCommand::Cancel {
            job,
            tenant,
            appliance,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let cancel = JobCancel {
                appliances: (!appliance.is_empty()).then_some(appliance),
            };
            let view = s.client.cancel_job(&tenant, &job, &cancel).await?;
            if opts.json {
                write_json(out, &view)?;
            } else {
                writeln!(
                    out,
                    "Cancel requested: queued commands are canceled, sent ones are asked to stop."
                )?;
                print_job_detail(&view, out)?;
            }
            Ok(())
        }
    }
}

/// Every command of a job, following the pages.
async fn all_commands(
    s: &SignedIn,
    tenant: &TenantId,
    job: &JobId,
) -> anyhow::Result<Vec<CommandView>> {
    let mut q = PageQuery::default();
    let mut items = Vec::new();
    loop {
        let page = s.client.job_commands(tenant, job, &q).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(c) if Some(&c) != q.cursor.as_ref() => q.cursor = Some(c),
            _ => break,
        }
    }
    Ok(items)
}

/// `rampart jobs create`.
async fn create(opts: &PortalOpts, a: JobCreateArgs, out: &mut impl Write) -> anyhow::Result<()> {
    // Everything that can be refused locally is, before signing in or asking for a PIN.
    let operation = build_operation(&a, Timestamp::now_system())?;
    let target = a.target.job_target()?;
    let s = signed_in(opts)?;
    let pin = if operation.needs_pin() {
        Some(read_pin(
            a.pin_file.as_deref(),
            std::env::var("RAMPART_PIN").ok(),
        )?)
    } else {
        None
    };
    let tenant = s.tenant_or_own(a.tenant.clone()).await?;
    let job = NewJob {
        target,
        operation,
        pin,
        backup_password: None,
    };
    submit(opts, &s, &tenant, job, a.wait, out).await
}

/// Creates `job` and prints it; with `wait`, follows it to its end and fails with
/// [`EXIT_JOB_UNSUCCESSFUL`] unless every command succeeded. The job, with any secret
/// it carries, is dropped as soon as it is sent. `jobs create` and the `backup`
/// commands that make jobs share it.
pub async fn submit(
    opts: &PortalOpts,
    s: &SignedIn,
    tenant: &TenantId,
    job: NewJob,
    wait: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let created = s.client.create_job(tenant, &job).await?;
    drop(job);
    if !wait {
        if opts.json {
            write_json(out, &created)?;
        } else {
            print_created(&created, out)?;
        }
        return Ok(());
    }
    if !opts.json {
        print_created(&created, out)?;
        out.flush()?;
    }
    let finished = self::wait(s, tenant, created).await?;
    let failed = if finished.counts.get(CommandState::Succeeded) < finished.appliances {
        let all = all_commands(s, tenant, &finished.id).await?;
        Some(
            all.into_iter()
                .filter(|c| c.state != CommandState::Succeeded)
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    if opts.json {
        write_json(out, &finished)?;
    } else {
        writeln!(out)?;
        print_job_detail(&finished, out)?;
        if let Some(failed) = failed.as_ref().filter(|f| !f.is_empty()) {
            writeln!(out, "\nNot succeeded:")?;
            print_command_table(failed, out)?;
        }
    }
    match failed {
        None => Ok(()),
        Some(_) => Err(Unsuccessful {
            exit_code: EXIT_JOB_UNSUCCESSFUL,
            message: format!(
                "job {} finished, but {} of {} commands did not succeed",
                finished.id,
                finished
                    .appliances
                    .saturating_sub(finished.counts.get(CommandState::Succeeded)),
                finished.appliances
            ),
        }
        .into()),
    }
}

/// Polls the job every [`POLL_EVERY`] until it has finished, showing progress on
/// stderr: rewritten in place on a terminal, one line per change otherwise.
async fn wait(s: &SignedIn, tenant: &TenantId, mut job: JobView) -> anyhow::Result<JobView> {
    let tty = std::io::stderr().is_terminal();
    let mut shown = String::new();
    loop {
        let line = progress_line(&job);
        if line != shown {
            let mut err = std::io::stderr().lock();
            if tty {
                // \r back to the start, ESC[K clears what a longer line left behind.
                write!(err, "\r{line}\x1b[K")?;
            } else {
                writeln!(err, "{line}")?;
            }
            err.flush()?;
            shown = line;
        }
        if job.finished {
            if tty {
                eprintln!();
            }
            return Ok(job);
        }
        tokio::time::sleep(POLL_EVERY).await;
        job = s.client.job(tenant, &job.id).await?;
    }
}

// ---- output ---------------------------------------------------------------------------------

/// A short name of an operation, as `--operation` spells it: `reboot`,
/// `firmware-update 14.2.0`, `app-restart http_proxy`.
pub fn operation_label(op: &Operation) -> String {
    match op {
        Operation::Reboot => "reboot".into(),
        Operation::Shutdown => "shutdown".into(),
        Operation::FactoryReset => "factory-reset".into(),
        Operation::Rollback => "rollback".into(),
        Operation::FirmwareUpdate { version, .. } => format!("firmware-update {version}"),
        Operation::Application { name, action } => {
            let verb = match action {
                AppAction::Start => "start",
                AppAction::Stop => "stop",
                AppAction::Restart => "restart",
            };
            format!("app-{verb} {name}")
        }
        // The `rampart backup` commands that make these jobs.
        Operation::Backup => "backup".into(),
        Operation::SetBackupPassword { .. } => "set-backup-password".into(),
        Operation::RestoreBackup { backup, .. } => format!("restore-backup {backup}"),
    }
}

/// An operation in words, with the planned time of an update.
pub fn describe_operation(op: &Operation) -> String {
    match op {
        Operation::FirmwareUpdate {
            version,
            not_before,
        } => format!("firmware update to {version}, not before {not_before}"),
        other => operation_label(other),
    }
}

pub fn describe_target(t: &JobTarget) -> String {
    match t {
        JobTarget::Appliance(id) => format!("appliance {id}"),
        JobTarget::List(ids) => format!("list of {}", ids.len()),
        JobTarget::Tag(tag) => format!("tag {tag}"),
    }
}

/// `37/40 finished · succeeded 35 · failed 1 · rejected 1 · queued 2 · sent 1`:
/// finished out of the appliances targeted, then each non-empty state, the final
/// ones first.
pub fn progress_summary(job: &JobView) -> String {
    let c = &job.counts;
    let finished = c.total() - c.open();
    let mut s = format!("{finished}/{} finished", job.appliances.max(c.total()));
    for state in [
        CommandState::Succeeded,
        CommandState::Failed,
        CommandState::Rejected,
        CommandState::TimedOut,
        CommandState::Canceled,
        CommandState::Queued,
        CommandState::Sent,
    ] {
        let n = c.get(state);
        if n > 0 {
            s.push_str(&format!(" · {} {n}", state_label(state)));
        }
    }
    s
}

/// The progress line of `--wait`: `reboot job_…: 37/40 finished · succeeded 35 · …`.
pub fn progress_line(job: &JobView) -> String {
    format!(
        "{} {}: {}",
        operation_label(&job.operation),
        job.id,
        progress_summary(job)
    )
}

fn state_label(s: CommandState) -> &'static str {
    match s {
        CommandState::TimedOut => "timed out",
        other => other.as_str(),
    }
}

fn print_created(job: &JobView, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "Created job {}: {} on {} appliance{} ({}).",
        job.id,
        describe_operation(&job.operation),
        job.appliances,
        if job.appliances == 1 { "" } else { "s" },
        describe_target(&job.target)
    )?;
    match &job.pickup_expected_by {
        Some(t) => writeln!(out, "Pickup expected by {t}.")?,
        None => writeln!(out, "Nothing left to pick up.")?,
    }
    Ok(())
}

pub fn print_job_detail(job: &JobView, out: &mut impl Write) -> anyhow::Result<()> {
    let rows = [
        ("Job", job.id.to_string()),
        ("Operation", describe_operation(&job.operation)),
        (
            "Target",
            format!(
                "{} ({} appliance{})",
                describe_target(&job.target),
                job.appliances,
                if job.appliances == 1 { "" } else { "s" }
            ),
        ),
        (
            "Created",
            format!("{} by {}", job.created_at, job.created_by),
        ),
        ("Progress", progress_summary(job)),
        (
            "State",
            if job.finished { "finished" } else { "running" }.to_owned(),
        ),
        (
            "Pickup expected by",
            dash(job.pickup_expected_by.as_deref()),
        ),
    ];
    write_fields(out, &rows)
}

pub fn print_job_table(jobs: &[JobView], out: &mut impl Write) -> anyhow::Result<()> {
    if jobs.is_empty() {
        writeln!(out, "No jobs.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.created_at.clone(),
                operation_label(&j.operation),
                describe_target(&j.target),
                if j.finished { "finished" } else { "running" }.to_owned(),
                progress_summary(j),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(
            &["ID", "CREATED", "OPERATION", "TARGET", "STATE", "PROGRESS"],
            &rows
        )
    )?;
    Ok(())
}

/// A refusal in words, with its code: `wrong_pin: wrong PIN, 2 attempts left`.
pub fn describe_refusal(r: &Refusal) -> String {
    format!("{}: {r}", r.code())
}

pub fn print_command_table(commands: &[CommandView], out: &mut impl Write) -> anyhow::Result<()> {
    if commands.is_empty() {
        writeln!(out, "No commands.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = commands
        .iter()
        .map(|c| {
            let mut state = wire_name(&c.state);
            if c.cancel_requested && !c.state.is_terminal() {
                state.push_str(" (cancel requested)");
            }
            let mut reason = c.reason.as_ref().map(describe_refusal);
            if c.refused_by_console
                && let Some(r) = reason.as_mut()
            {
                r.push_str(" (refused by the console)");
            }
            vec![
                c.appliance.to_string(),
                state,
                dash(c.sent_at.as_deref()),
                dash(c.finished_at.as_deref()),
                dash(reason.as_deref().or(c.info.as_deref())),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["APPLIANCE", "STATE", "SENT", "FINISHED", "INFO"], &rows)
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use rampart_domain::jobs::JobCounts;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: JobsCommand,
    }

    fn ap(n: u8) -> String {
        format!("ap_{}", format!("{n:02x}").repeat(16))
    }

    fn create_args(args: &[&str]) -> Result<JobCreateArgs, clap::Error> {
        let mut argv = vec!["jobs", "create"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv)?.command {
            JobsCommand::Create(a) => Ok(a),
            _ => unreachable!(),
        }
    }

    fn op(args: &[&str]) -> anyhow::Result<Operation> {
        build_operation(&create_args(args).unwrap(), Timestamp::from_millis(1_000))
    }

    fn is_usage(e: &anyhow::Error) -> bool {
        e.downcast_ref::<UsageError>().is_some()
    }

    #[test]
    fn arguments_become_operations() {
        let a = ap(1);
        let base = ["--appliance", a.as_str(), "--operation"];
        let with = |rest: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(rest);
            op(&v)
        };
        assert_eq!(with(&["reboot"]).unwrap(), Operation::Reboot);
        assert_eq!(with(&["shutdown"]).unwrap(), Operation::Shutdown);
        assert_eq!(with(&["factory-reset"]).unwrap(), Operation::FactoryReset);
        assert_eq!(
            with(&["rollback", "--pin-file", "/p"]).unwrap(),
            Operation::Rollback
        );
        assert_eq!(
            with(&["firmware-update", "--version", "14.2"]).unwrap(),
            Operation::FirmwareUpdate {
                version: FirmwareVersion::new(14, 2, 0),
                not_before: Timestamp::from_millis(1_000),
            }
        );
        assert_eq!(
            with(&[
                "firmware-update",
                "--version",
                "14.2.1",
                "--at",
                "2030-01-31T23:00:00+01:00"
            ])
            .unwrap(),
            Operation::FirmwareUpdate {
                version: FirmwareVersion::new(14, 2, 1),
                not_before: Timestamp::from_millis(1_896_127_200_000),
            }
        );
        assert_eq!(
            with(&["firmware-update", "--version", "14.2", "--at", "now"])
                .unwrap()
                .not_before(),
            Some(Timestamp::from_millis(1_000))
        );
        for (arg, action) in [
            ("app-start", AppAction::Start),
            ("app-stop", AppAction::Stop),
            ("app-restart", AppAction::Restart),
        ] {
            assert_eq!(
                with(&[arg, "--app", "http_proxy"]).unwrap(),
                Operation::Application {
                    name: "http_proxy".into(),
                    action
                }
            );
        }
        // Options that do not fit the operation are usage errors, not ignored.
        for bad in [
            &["firmware-update"][..],
            &["reboot", "--version", "14.2"],
            &["reboot", "--at", "now"],
            &["reboot", "--app", "x"],
            &["app-stop"],
            &["app-stop", "--app", " "],
            &["app-stop", "--app", "x", "--pin-file", "/p"],
            &["firmware-update", "--version", "14.2", "--pin-file", "/p"],
        ] {
            let e = with(bad).unwrap_err();
            assert!(is_usage(&e), "{bad:?}: {e}");
        }
        // Values clap itself refuses (exit 2 as well).
        for bad in [
            &["explode"][..],
            &["firmware-update", "--version", "fourteen"],
            &["firmware-update", "--version", "14.2", "--at", "tomorrow"],
            &["firmware-update", "--version", "14.2", "--at", "2030-01-31"],
        ] {
            let mut v = base.to_vec();
            v.extend_from_slice(bad);
            assert!(create_args(&v).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn arguments_become_targets() {
        let (a, b) = (ap(1), ap(2));
        let t = |args: &[&str]| {
            let mut v = args.to_vec();
            v.extend_from_slice(&["--operation", "reboot"]);
            create_args(&v).map(|a| a.target.job_target().unwrap())
        };
        assert_eq!(
            t(&["--appliance", &a]).unwrap(),
            JobTarget::Appliance(ApplianceId::parse(&a).unwrap())
        );
        assert_eq!(
            t(&["--appliances", &format!("{a},{b},{a}")]).unwrap(),
            JobTarget::List(vec![
                ApplianceId::parse(&a).unwrap(),
                ApplianceId::parse(&b).unwrap()
            ])
        );
        assert_eq!(
            t(&["--tag", "berlin"]).unwrap(),
            JobTarget::Tag("berlin".into())
        );
        // Exactly one target.
        assert!(t(&[]).is_err());
        assert!(t(&["--appliance", &a, "--tag", "x"]).is_err());
        assert!(t(&["--appliances", "ap_nope"]).is_err());
        let args = create_args(&["--tag", "", "--operation", "reboot"]).unwrap();
        assert!(is_usage(&args.target.job_target().unwrap_err()));
    }

    #[test]
    fn the_pin_comes_from_a_file_or_the_environment_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pin");
        std::fs::write(&f, "123456\n").unwrap();
        assert_eq!(read_pin(Some(&f), None).unwrap().expose(), "123456");
        // The file wins over the environment.
        assert_eq!(
            read_pin(Some(&f), Some("654321".into())).unwrap().expose(),
            "123456"
        );
        assert_eq!(
            read_pin(None, Some("654321".into())).unwrap().expose(),
            "654321"
        );
        for bad in ["12345", "1234567", "12 456", "abcdef"] {
            let e = read_pin(None, Some(bad.into())).unwrap_err();
            assert!(is_usage(&e));
            assert!(!format!("{e:#}").contains(bad), "the error repeats the PIN");
        }
        std::fs::write(&f, "\n").unwrap();
        assert!(is_usage(&read_pin(Some(&f), None).unwrap_err()));
        assert!(read_pin(Some(&dir.path().join("missing")), None).is_err());
    }

    fn job(counts: JobCounts, appliances: u64, finished: bool) -> JobView {
        JobView {
            id: JobId::new(1_764_072_000_000, [0xde, 0xad, 0xbe, 0xef]),
            tenant: TenantId::parse("100001.sms").unwrap(),
            operation: Operation::Reboot,
            target: JobTarget::Tag("berlin".into()),
            created_at: "2025-11-25T12:00:00.000Z".into(),
            created_by: "admin@example.com".into(),
            appliances,
            counts,
            pickup_expected_by: None,
            finished,
        }
    }

    #[test]
    fn progress_lines() {
        use CommandState as S;
        let mut states = vec![S::Succeeded; 35];
        states.extend([S::Failed, S::Rejected, S::Queued, S::Queued, S::Sent]);
        let j = job(JobCounts::of(states), 40, false);
        assert_eq!(
            progress_line(&j),
            "reboot job_1764072000000deadbeef: 37/40 finished · succeeded 35 · failed 1 · rejected 1 · queued 2 · sent 1"
        );
        // Commands not all created yet: out of the appliances targeted.
        let j = job(JobCounts::of([S::Queued]), 3, false);
        assert_eq!(progress_summary(&j), "0/3 finished · queued 1");
        let j = job(JobCounts::of([S::TimedOut, S::Canceled]), 2, true);
        assert_eq!(
            progress_summary(&j),
            "2/2 finished · timed out 1 · canceled 1"
        );
        let mut j = job(JobCounts::default(), 1, false);
        j.operation = Operation::Application {
            name: "ips".into(),
            action: AppAction::Restart,
        };
        assert!(progress_line(&j).starts_with("app-restart ips job_"));
    }

    #[test]
    fn job_views_print() {
        use CommandState as S;
        let j = job(JobCounts::of([S::Succeeded, S::Rejected]), 2, true);
        let mut out = Vec::new();
        print_job_detail(&j, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Target:"), "{text}");
        assert!(text.contains("tag berlin (2 appliances)"), "{text}");
        assert!(text.contains("2/2 finished · succeeded 1 · rejected 1"));
        let mut out = Vec::new();
        print_job_table(&[j], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("ID  "), "{text}");
        assert!(text.contains("finished"));

        let c = CommandView {
            job: JobId::new(1, [0; 4]),
            appliance: ApplianceId::parse(&ap(1)).unwrap(),
            state: S::Rejected,
            reason: Some(Refusal::WrongPin { attempts_left: 2 }),
            refused_by_console: false,
            cancel_requested: false,
            created_at: "2025-11-25T12:00:00.000Z".into(),
            not_before: None,
            collect_by: "2025-11-26T12:00:00.000Z".into(),
            sent_at: Some("2025-11-25T12:00:05.000Z".into()),
            finished_at: Some("2025-11-25T12:00:09.000Z".into()),
            info: None,
        };
        let mut out = Vec::new();
        print_command_table(&[c], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("rejected") && text.contains("wrong_pin: wrong PIN, 2 attempts left"),
            "{text}"
        );
    }
}
