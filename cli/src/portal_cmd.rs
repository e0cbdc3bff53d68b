//! `rampart login|logout|me|appliances|users|tenants` (and, in [`crate::jobs_cmd`]
//! and [`crate::log_cmd`], `jobs` and `log`): the portal administrator's
//! commands, talking to a console's portal API with the session kept by
//! [`crate::session_file`]. Human tables by default; `--json` prints only JSON on
//! stdout (prompts, the enrollment QR code, progress and errors go to stderr).
//! Exit codes scripts can rely on: [`EXIT_CODES`].

use crate::list_pages::{fetch_all, write_page};
use crate::portal_client::{ApplianceQuery, PortalClient, PortalError};
use crate::session_file::{self, Session, SessionError};
use rampart_domain::applications::{ApplicationSort, SortDirection};
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::portal_protocol::{
    ApplianceDetail, AppliancePatch, ApplianceSummary, ClusterView, ListPage, Location, Me,
    NewTenant, NewUser, NextStep, TenantView, TotpEnrollment, UserView,
};
use rampart_domain::tenancy::{Email, Role};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

// ---- exit codes --------------------------------------------------------------------

pub const EXIT_OK: u8 = 0;
pub const EXIT_OTHER: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_NOT_SIGNED_IN: u8 = 3;
pub const EXIT_NOT_FOUND: u8 = 4;
pub const EXIT_FORBIDDEN: u8 = 5;
pub const EXIT_REFUSED: u8 = 6;
pub const EXIT_THROTTLED: u8 = 7;
pub const EXIT_JOB_UNSUCCESSFUL: u8 = 8;
pub const EXIT_CHAIN_BROKEN: u8 = 9;

/// Every exit code of `rampart` with its meaning (also in `--help`, see
/// [`EXIT_CODES_HELP`]).
pub const EXIT_CODES: &[(u8, &str)] = &[
    (EXIT_OK, "success"),
    (
        EXIT_OTHER,
        "any other error (e.g. the server cannot be reached)",
    ),
    (EXIT_USAGE, "usage error: bad or missing arguments"),
    (
        EXIT_NOT_SIGNED_IN,
        "not signed in, or the session expired or was revoked (HTTP 401)",
    ),
    (EXIT_NOT_FOUND, "not found, or no access to it (HTTP 404)"),
    (
        EXIT_FORBIDDEN,
        "forbidden, e.g. a viewer changing something (HTTP 403)",
    ),
    (
        EXIT_REFUSED,
        "input refused, or a conflict (HTTP 400, 409, 413, 415, 422)",
    ),
    (
        EXIT_THROTTLED,
        "throttled or locked: the message says when to retry (HTTP 429)",
    ),
    (
        EXIT_JOB_UNSUCCESSFUL,
        "a job waited for (jobs create --wait) finished, but not every command succeeded",
    ),
    (
        EXIT_CHAIN_BROKEN,
        "the communication log's hash chain is broken (log verify)",
    ),
];

/// [`EXIT_CODES`] as `--help` shows them (a test keeps the two in step).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  any other error (e.g. the server cannot be reached)
  2  usage error: bad or missing arguments
  3  not signed in, or the session expired or was revoked (HTTP 401)
  4  not found, or no access to it (HTTP 404)
  5  forbidden, e.g. a viewer changing something (HTTP 403)
  6  input refused, or a conflict (HTTP 400, 409, 413, 415, 422)
  7  throttled or locked: the message says when to retry (HTTP 429)
  8  a job waited for (jobs create --wait) finished, but not every command succeeded
  9  the communication log's hash chain is broken (log verify)";

/// The exit code for an HTTP error status.
pub fn exit_code_for_status(status: u16) -> u8 {
    match status {
        401 => EXIT_NOT_SIGNED_IN,
        404 => EXIT_NOT_FOUND,
        403 => EXIT_FORBIDDEN,
        400 | 409 | 413 | 415 | 422 => EXIT_REFUSED,
        429 => EXIT_THROTTLED,
        _ => EXIT_OTHER,
    }
}

/// A usage problem found after parsing (e.g. no password source and no terminal).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A command that ran to its end with an outcome that is not a success: a job with
/// commands that did not succeed ([`EXIT_JOB_UNSUCCESSFUL`]), a broken log chain
/// ([`EXIT_CHAIN_BROKEN`]). What it found is already printed; this sets the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Unsuccessful {
    pub exit_code: u8,
    pub message: String,
}

/// The exit code for an error a command returned: the first portal, session,
/// usage or outcome error in its chain decides; anything else is [`EXIT_OTHER`].
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(u) = cause.downcast_ref::<Unsuccessful>() {
            return u.exit_code;
        }
        if let Some(p) = cause.downcast_ref::<PortalError>() {
            return p.status().map_or(EXIT_OTHER, exit_code_for_status);
        }
        if cause.downcast_ref::<SessionError>().is_some() {
            return EXIT_NOT_SIGNED_IN;
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return EXIT_USAGE;
        }
    }
    EXIT_OTHER
}

/// Prints a failed command's error on stderr: `error: ...` with a hint, or with
/// `--json` one JSON object `{"error": {code, message, status, exit_code}}`.
pub fn report_error(err: &anyhow::Error, json: bool) -> u8 {
    let code = exit_code(err);
    if json {
        let portal = err.chain().find_map(|c| c.downcast_ref::<PortalError>());
        let (status, error_code, message) = match portal {
            Some(PortalError::Api {
                status,
                code,
                message,
            }) => (Some(*status), code.clone(), message.clone()),
            _ => (None, error_code_name(code).to_owned(), format!("{err:#}")),
        };
        let v = serde_json::json!({
            "error": {"code": error_code, "message": message, "status": status, "exit_code": code}
        });
        eprintln!("{v}");
    } else {
        eprintln!("error: {err:#}");
        if code == EXIT_NOT_SIGNED_IN && err.downcast_ref::<SessionError>().is_none() {
            eprintln!("hint: sign in again with `rampart login`");
        }
    }
    code
}

fn error_code_name(exit: u8) -> &'static str {
    match exit {
        EXIT_USAGE => "usage",
        EXIT_NOT_SIGNED_IN => "not_signed_in",
        EXIT_JOB_UNSUCCESSFUL => "job_unsuccessful",
        EXIT_CHAIN_BROKEN => "chain_broken",
        _ => "error",
    }
}

// ---- arguments -------------------------------------------------------------------

/// Options every portal command takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PortalOpts {
    /// Print JSON on stdout instead of tables (nothing else goes to stdout).
    #[arg(long, global = true)]
    pub json: bool,
    /// The session file [default: $RAMPART_SESSION_FILE, else
    /// $XDG_CONFIG_HOME/rampart/session.json, else ~/.config/rampart/session.json].
    #[arg(long, global = true, value_name = "FILE")]
    pub session_file: Option<PathBuf>,
}

#[derive(clap::Args, Clone, Debug)]
pub struct LoginArgs {
    /// The console's URL, e.g. https://console.example.com.
    #[arg(long, env = "RAMPART_SERVER", value_name = "URL")]
    pub server: String,
    /// Your e-mail address (the sign-in name).
    #[arg(long, value_parser = parse_email)]
    pub email: Email,
    /// Read the password from this file (else $RAMPART_PASSWORD, else a hidden
    /// prompt on the terminal; never from an argument).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The authenticator code (else a prompt reading a line from stdin).
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum AppliancesCommand {
    /// List appliances (one page, or every page with --all).
    List(ApplianceListArgs),
    /// Show one appliance, with its cluster when the license is clustered.
    Show {
        /// The appliance's id (ap_ and 32 hex digits, as `appliances list` shows).
        #[arg(value_parser = parse_appliance_id)]
        id: ApplianceId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Change an appliance's name, tags, location or inventory fields.
    Set(ApplianceSetArgs),
    /// CPU, memory and disk over time (kept 30 days): a table, or a PNG chart.
    Status(crate::history_cmd::StatusArgs),
    /// The applications an appliance reports (UP, DOWN, N/A); start, stop or restart
    /// one with `rampart jobs create ... application`.
    Apps {
        #[arg(value_parser = parse_appliance_id)]
        id: ApplianceId,
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        #[arg(long, value_enum, default_value = "name")]
        sort: AppSortArg,
        #[arg(long, value_enum, default_value = "asc")]
        order: OrderArg,
    },
    /// The cluster of an appliance: state, sync, the partner and its firmware.
    Cluster {
        #[arg(value_parser = parse_appliance_id)]
        id: ApplianceId,
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Appliances the console removed because their license expired over 40 days ago.
    Removed {
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// The firmware catalog (versions, release dates, security releases).
    Firmware,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AppSortArg {
    Name,
    State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OrderArg {
    Asc,
    Desc,
}

#[derive(clap::Args, Clone, Debug)]
pub struct ApplianceListArgs {
    /// The tenant [default: your own].
    #[arg(long, value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    /// Only names containing this.
    #[arg(long)]
    pub name: Option<String>,
    /// Only this cluster (its id or first hex digits).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Only appliances with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Order by name, ascending (`name`) or descending (`-name`).
    #[arg(long, value_enum, allow_hyphen_values = true)]
    pub sort: Option<SortOrder>,
    /// Page size.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Start at this page (the `next_cursor` of the previous one).
    #[arg(long, conflicts_with = "all")]
    pub cursor: Option<String>,
    /// Follow the pages to the end.
    #[arg(long)]
    pub all: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SortOrder {
    #[value(name = "name")]
    Name,
    #[value(name = "-name")]
    NameDescending,
}

impl SortOrder {
    pub fn wire(self) -> &'static str {
        match self {
            SortOrder::Name => "name",
            SortOrder::NameDescending => "-name",
        }
    }
}

#[derive(clap::Args, Clone, Debug)]
#[command(group(
    clap::ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args(["name", "tag", "no_tags", "location", "clear_location", "inventory"])
))]
pub struct ApplianceSetArgs {
    /// The appliance's id (ap_ and 32 hex digits, as `appliances list` shows).
    #[arg(value_parser = parse_appliance_id)]
    pub id: ApplianceId,
    /// The tenant [default: your own].
    #[arg(long, value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    /// The new display name.
    #[arg(long)]
    pub name: Option<String>,
    /// The tags (repeat for several); replaces the appliance's tags.
    #[arg(long)]
    pub tag: Vec<String>,
    /// Remove every tag.
    #[arg(long, conflicts_with = "tag")]
    pub no_tags: bool,
    /// Where the appliance stands: LAT,LON or LAT,LON,LABEL.
    #[arg(long, value_parser = parse_location, value_name = "LAT,LON[,LABEL]", allow_hyphen_values = true)]
    pub location: Option<Location>,
    /// Forget the location.
    #[arg(long, conflicts_with = "location")]
    pub clear_location: bool,
    /// Set an inventory field (repeat for several); KEY= removes the field.
    #[arg(long, value_parser = parse_inventory, value_name = "KEY=VALUE")]
    pub inventory: Vec<(String, String)>,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum UsersCommand {
    /// The tenant's portal users.
    List {
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Invite a user: they get a mailed link to set a password, and enroll TOTP at
    /// first sign-in.
    Add {
        #[arg(value_parser = parse_email)]
        email: Email,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// End every session of a user (they sign in again).
    Revoke {
        #[arg(value_parser = parse_email)]
        email: Email,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Remove a user from the tenant.
    Remove {
        #[arg(value_parser = parse_email)]
        email: Email,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Administrator,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Administrator => Role::Administrator,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum TenantsCommand {
    /// The tenants you can see (a reseller's own and its customers).
    List,
    /// Create a customer tenant (reseller administrators).
    Create {
        #[arg(value_parser = parse_tenant)]
        id: TenantId,
        #[arg(long)]
        name: String,
    },
}

pub fn parse_tenant(s: &str) -> Result<TenantId, String> {
    TenantId::parse(s).map_err(|e| e.to_string())
}

pub fn parse_email(s: &str) -> Result<Email, String> {
    Email::parse(s).map_err(|e| e.to_string())
}

pub fn parse_appliance_id(s: &str) -> Result<ApplianceId, String> {
    ApplianceId::parse(s).map_err(|e| e.to_string())
}

/// `LAT,LON` or `LAT,LON,LABEL` (the label may contain commas).
pub fn parse_location(s: &str) -> Result<Location, String> {
    let mut parts = s.splitn(3, ',');
    let bad = || format!("{s:?}: expected LAT,LON or LAT,LON,LABEL, e.g. 48.137,11.575,Munich");
    let lat: f64 = parts
        .next()
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(bad)?;
    let lon: f64 = parts
        .next()
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(bad)?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} is outside -90..90"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} is outside -180..180"));
    }
    let label = parts
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty());
    Ok(Location {
        latitude: lat,
        longitude: lon,
        label,
    })
}

/// `KEY=VALUE` (an empty value removes the key).
pub fn parse_inventory(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("{s:?}: expected KEY=VALUE")),
    }
}

// ---- commands ------------------------------------------------------------------------

/// A signed-in client and the session it came from.
pub struct SignedIn {
    pub client: PortalClient,
    pub session: Session,
    pub path: PathBuf,
}

/// Loads the session file and builds a client with its token.
pub fn signed_in(opts: &PortalOpts) -> anyhow::Result<SignedIn> {
    let path = session_file::resolve_path(opts.session_file.as_deref())?;
    let session = session_file::load_required(&path)?;
    let client = PortalClient::new(&session.server, Some(session.token.clone()))?;
    Ok(SignedIn {
        client,
        session,
        path,
    })
}

impl SignedIn {
    /// `tenant`, else the signed-in user's own.
    pub async fn tenant_or_own(&self, tenant: Option<TenantId>) -> anyhow::Result<TenantId> {
        match tenant {
            Some(t) => Ok(t),
            None => Ok(self.client.me().await?.tenant),
        }
    }
}

/// Where the password comes from: the file, else `$RAMPART_PASSWORD`, else a
/// hidden prompt on the terminal.
pub fn read_password(file: Option<&Path>, env_value: Option<String>) -> anyhow::Result<String> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("reading the password file {}: {e}", f.display()))?;
        let pw = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        if pw.is_empty() {
            return Err(UsageError(format!("the password file {} is empty", f.display())).into());
        }
        return Ok(pw.to_owned());
    }
    if let Some(pw) = env_value.filter(|p| !p.is_empty()) {
        return Ok(pw);
    }
    rpassword::prompt_password("Password: ").map_err(|e| {
        UsageError(format!(
            "cannot ask for the password ({e}): give --password-file or set RAMPART_PASSWORD"
        ))
        .into()
    })
}

/// The code from `--code`, else a line read from stdin after a prompt on stderr.
fn read_code(given: Option<&str>, prompt: &str) -> anyhow::Result<String> {
    let code = match given {
        Some(c) => c.to_owned(),
        None => {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            let n = std::io::stdin().lock().read_line(&mut line)?;
            if n == 0 {
                return Err(UsageError("no authenticator code given: use --code".into()).into());
            }
            line
        }
    };
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        return Err(UsageError("the authenticator code is empty".into()).into());
    }
    Ok(code)
}

#[derive(Serialize)]
struct SignedInView<'a> {
    #[serde(flatten)]
    me: &'a Me,
    server: &'a str,
    expires_at: &'a str,
    idle_timeout_secs: Option<u64>,
    session_file: String,
}

/// `rampart login`.
pub async fn login(opts: &PortalOpts, args: LoginArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let path = session_file::resolve_path(opts.session_file.as_deref())?;
    let client = PortalClient::new(&args.server, None)?;
    let password = read_password(
        args.password_file.as_deref(),
        std::env::var("RAMPART_PASSWORD").ok(),
    )?;
    let challenge = client.login(&args.email, &password).await?;
    drop(password);
    let grant = match challenge.next {
        NextStep::Totp => {
            let code = read_code(args.code.as_deref(), "Authenticator code: ")?;
            client.totp(&challenge.challenge, &code).await?
        }
        NextStep::TotpEnrollment => {
            let enrollment = client.totp_enroll(&challenge.challenge).await?;
            let mut err = std::io::stderr().lock();
            print_enrollment(&enrollment, &mut err)?;
            drop(err);
            let code = read_code(
                args.code.as_deref(),
                "Enter the first code your authenticator shows: ",
            )?;
            client.totp_confirm(&challenge.challenge, &code).await?
        }
    };
    let session = Session {
        server: client.base_url().to_owned(),
        token: grant.token.clone(),
        email: args.email.to_string(),
        expires_at: grant.expires_at.clone(),
        idle_timeout_secs: Some(grant.idle_timeout_secs),
    };
    session_file::save(&path, &session)?;
    let signed = PortalClient::new(&session.server, Some(grant.token))?;
    let me = signed.me().await?;
    let view = SignedInView {
        me: &me,
        server: &session.server,
        expires_at: &session.expires_at,
        idle_timeout_secs: session.idle_timeout_secs,
        session_file: path.display().to_string(),
    };
    if opts.json {
        write_json(out, &view)?;
    } else {
        writeln!(
            out,
            "Signed in to {} as {} ({}, tenant {} [{}]).",
            view.server,
            me.email,
            wire_name(&me.role),
            me.tenant,
            wire_name(&me.tenant_kind)
        )?;
        writeln!(
            out,
            "Session saved in {}; it expires at {}.",
            view.session_file, view.expires_at
        )?;
    }
    Ok(())
}

/// The enrollment screen: QR code, otpauth URI and the secret for manual entry.
pub fn print_enrollment(e: &TotpEnrollment, w: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        w,
        "Two-factor sign-in is required and not set up yet for this account."
    )?;
    writeln!(
        w,
        "Scan this QR code with an authenticator app (or enter the key by hand):"
    )?;
    writeln!(w)?;
    match rampart_identity::qr::qr_terminal(&e.otpauth_uri) {
        Ok(qr) => write!(w, "{qr}")?,
        Err(err) => writeln!(w, "(cannot draw the QR code: {err})")?,
    }
    writeln!(w)?;
    writeln!(w, "otpauth URI: {}", e.otpauth_uri)?;
    writeln!(w, "Secret (base32): {}", e.secret)?;
    writeln!(w)?;
    Ok(())
}

/// `rampart logout`: ends the session on the server and removes the file.
pub async fn logout(opts: &PortalOpts, out: &mut impl Write) -> anyhow::Result<()> {
    let path = session_file::resolve_path(opts.session_file.as_deref())?;
    let Some(session) = session_file::load(&path)? else {
        if opts.json {
            write_json(out, &serde_json::json!({"signed_out": false}))?;
        } else {
            writeln!(out, "Not signed in.")?;
        }
        return Ok(());
    };
    let client = PortalClient::new(&session.server, Some(session.token.clone()))?;
    match client.logout().await {
        Ok(()) => {}
        // Already ended (expired or revoked): nothing left to end on the server.
        Err(e) if e.status() == Some(401) => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "signing out on the server (the session file {} is kept; retry, or delete it)",
                path.display()
            )));
        }
    }
    session_file::remove(&path)?;
    if opts.json {
        write_json(
            out,
            &serde_json::json!({"signed_out": true, "email": session.email, "server": session.server}),
        )?;
    } else {
        writeln!(out, "Signed out {} from {}.", session.email, session.server)?;
    }
    Ok(())
}

/// `rampart me`.
pub async fn me(opts: &PortalOpts, out: &mut impl Write) -> anyhow::Result<()> {
    let s = signed_in(opts)?;
    let me = s.client.me().await?;
    if opts.json {
        let view = SignedInView {
            me: &me,
            server: &s.session.server,
            expires_at: &s.session.expires_at,
            idle_timeout_secs: s.session.idle_timeout_secs,
            session_file: s.path.display().to_string(),
        };
        write_json(out, &view)?;
    } else {
        print_me(&me, &s.session, out)?;
    }
    Ok(())
}

pub fn print_me(me: &Me, session: &Session, out: &mut impl Write) -> anyhow::Result<()> {
    let rows = [
        ("Email", me.email.to_string()),
        ("Role", wire_name(&me.role)),
        (
            "Tenant",
            format!("{} ({})", me.tenant, wire_name(&me.tenant_kind)),
        ),
        ("Server", session.server.clone()),
        ("Session expires", session.expires_at.clone()),
    ];
    write_fields(out, &rows)
}

/// `rampart appliances ...`.
pub async fn appliances(
    opts: &PortalOpts,
    command: AppliancesCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let s = signed_in(opts)?;
    match command {
        AppliancesCommand::List(a) => {
            let tenant = s.tenant_or_own(a.tenant.clone()).await?;
            let query = ApplianceQuery {
                name: a.name,
                cluster: a.cluster,
                tag: a.tag,
                sort: a.sort.map(|o| o.wire().to_owned()),
                limit: a.limit,
                cursor: a.cursor,
            };
            let (client, tenant) = (&s.client, &tenant);
            let fetch = |cursor| {
                let q = ApplianceQuery {
                    cursor,
                    ..query.clone()
                };
                async move { client.appliances(tenant, &q).await }
            };
            let page = if a.all {
                let progress = std::io::stderr().is_terminal();
                let (page, pages) = fetch_all(query.cursor.clone(), fetch, |items, pages| {
                    if progress {
                        eprint!("\rfetched {items} appliances ({pages} pages)…");
                    }
                })
                .await?;
                if progress && pages > 1 {
                    eprintln!("\rfetched {} appliances ({pages} pages).", page.items.len());
                }
                page
            } else {
                fetch(query.cursor.clone()).await?
            };
            write_page(
                out,
                opts.json,
                &page,
                print_appliance_table,
                "more appliances: add --all, or",
            )
        }
        AppliancesCommand::Show { id, tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let detail = s.client.appliance(&tenant, &id).await?;
            let cluster = if detail.license.cluster_id.is_some() {
                Some(s.client.cluster(&tenant, &id).await?)
            } else {
                None
            };
            if opts.json {
                write_json(
                    out,
                    &serde_json::json!({"appliance": detail, "cluster": cluster}),
                )?;
            } else {
                print_appliance_detail(&detail, cluster.as_ref(), out)?;
            }
            Ok(())
        }
        AppliancesCommand::Apps {
            id,
            tenant,
            sort,
            order,
        } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let sort = match sort {
                AppSortArg::Name => ApplicationSort::Name,
                AppSortArg::State => ApplicationSort::State,
            };
            let order = match order {
                OrderArg::Asc => SortDirection::Asc,
                OrderArg::Desc => SortDirection::Desc,
            };
            crate::fleet_cmd::applications(&s, &tenant, &id, sort, order, opts.json, out).await
        }
        AppliancesCommand::Cluster { id, tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let view = s.client.cluster(&tenant, &id).await?;
            if opts.json {
                write_json(out, &view)
            } else {
                crate::fleet_cmd::print_cluster(&view, out)
            }
        }
        AppliancesCommand::Removed { tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            crate::fleet_cmd::removed(&s, &tenant, opts.json, out).await
        }
        AppliancesCommand::Firmware => crate::fleet_cmd::firmware(&s, opts.json, out).await,
        AppliancesCommand::Set(a) => {
            let tenant = s.tenant_or_own(a.tenant.clone()).await?;
            let inventory = if a.inventory.is_empty() {
                None
            } else {
                let current = s.client.appliance(&tenant, &a.id).await?;
                Some(merge_inventory(current.inventory, &a.inventory))
            };
            let patch = build_patch(&a, inventory);
            let detail = s.client.patch_appliance(&tenant, &a.id, &patch).await?;
            if opts.json {
                write_json(out, &detail)?;
            } else {
                print_appliance_detail(&detail, None, out)?;
            }
            Ok(())
        }
        AppliancesCommand::Status(a) => crate::history_cmd::status(&s, opts, a, out).await,
    }
}

/// The PATCH body for `appliances set` (inventory already merged).
pub fn build_patch(
    a: &ApplianceSetArgs,
    inventory: Option<BTreeMap<String, String>>,
) -> AppliancePatch {
    AppliancePatch {
        name: a.name.clone(),
        tags: if a.no_tags {
            Some(Vec::new())
        } else if a.tag.is_empty() {
            None
        } else {
            Some(a.tag.clone())
        },
        location: if a.clear_location {
            Some(None)
        } else {
            a.location.clone().map(Some)
        },
        inventory,
    }
}

/// Applies `KEY=VALUE` changes to the current inventory (`KEY=` removes).
pub fn merge_inventory(
    mut current: BTreeMap<String, String>,
    changes: &[(String, String)],
) -> BTreeMap<String, String> {
    for (k, v) in changes {
        if v.is_empty() {
            current.remove(k);
        } else {
            current.insert(k.clone(), v.clone());
        }
    }
    current
}

/// `rampart users ...`.
pub async fn users(
    opts: &PortalOpts,
    command: UsersCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let s = signed_in(opts)?;
    match command {
        UsersCommand::List { tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let mut items = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = s.client.users(&tenant, cursor.as_deref()).await?;
                items.extend(page.items);
                match page.next_cursor {
                    Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                    _ => break,
                }
            }
            if opts.json {
                write_json(
                    out,
                    &ListPage::<UserView> {
                        items,
                        next_cursor: None,
                    },
                )?;
            } else {
                print_user_table(&items, out)?;
            }
        }
        UsersCommand::Add {
            email,
            role,
            tenant,
        } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let user = s
                .client
                .add_user(
                    &tenant,
                    &NewUser {
                        email,
                        role: role.into(),
                    },
                )
                .await?;
            if opts.json {
                write_json(out, &user)?;
            } else {
                writeln!(
                    out,
                    "Added {} as {} to tenant {}; a link to set the password is on its way by mail.",
                    user.email,
                    wire_name(&user.role),
                    user.tenant
                )?;
            }
        }
        UsersCommand::Revoke { email, tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let revoked = s.client.revoke_sessions(&tenant, &email).await?;
            if opts.json {
                write_json(
                    out,
                    &serde_json::json!({"user": email, "tenant": tenant, "revoked": revoked}),
                )?;
            } else {
                writeln!(out, "Ended {revoked} session(s) of {email}.")?;
            }
        }
        UsersCommand::Remove { email, tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            s.client.remove_user(&tenant, &email).await?;
            if opts.json {
                write_json(
                    out,
                    &serde_json::json!({"removed": email, "tenant": tenant}),
                )?;
            } else {
                writeln!(out, "Removed {email} from tenant {tenant}.")?;
            }
        }
    }
    Ok(())
}

/// `rampart tenants ...`.
pub async fn tenants(
    opts: &PortalOpts,
    command: TenantsCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let s = signed_in(opts)?;
    match command {
        TenantsCommand::List => {
            let mut items = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = s.client.tenants(cursor.as_deref()).await?;
                items.extend(page.items);
                match page.next_cursor {
                    Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                    _ => break,
                }
            }
            if opts.json {
                write_json(
                    out,
                    &ListPage::<TenantView> {
                        items,
                        next_cursor: None,
                    },
                )?;
            } else {
                print_tenant_table(&items, out)?;
            }
        }
        TenantsCommand::Create { id, name } => {
            let t = s.client.create_tenant(&NewTenant { id, name }).await?;
            if opts.json {
                write_json(out, &t)?;
            } else {
                writeln!(out, "Created tenant {} ({}).", t.id, t.name)?;
            }
        }
    }
    Ok(())
}

// ---- output ------------------------------------------------------------------------------

pub fn write_json(out: &mut impl Write, v: &impl Serialize) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// A value's name on the wire (`"administrator"`, `"Connected"`, `"N/A"`).
pub fn wire_name(v: &impl Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate().take(cols) {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(cell);
            if i + 1 < cols {
                let pad = widths[i].saturating_sub(cell.chars().count());
                l.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    s
}

pub fn dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

pub fn print_appliance_table(
    rows: &[ApplianceSummary],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "No appliances.")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.id.to_string(),
                a.serial.to_string(),
                a.model.clone(),
                a.firmware.clone(),
                wire_name(&a.status),
                dash(a.cluster.as_deref()),
                icons(&a.flags),
                if a.tags.is_empty() {
                    "-".to_owned()
                } else {
                    a.tags.join(",")
                },
                dash(a.last_checkin.as_deref()),
            ]
        })
        .collect();
    let headers = [
        "NAME",
        "ID",
        "SERIAL",
        "MODEL",
        "FIRMWARE",
        "STATUS",
        "CLUSTER",
        "ICONS",
        "TAGS",
        "LAST CHECK-IN",
    ];
    write!(out, "{}", render_table(&headers, &cells))?;
    Ok(())
}

/// The status icons of SPEC 4.2 in one cell: a letter when on, `.` when off
/// (greyed): Report, VPN, Cloud shield, Update available, `!` security update.
pub fn icons(f: &rampart_domain::portal_protocol::ApplianceFlags) -> String {
    [
        (f.report_active, 'R'),
        (f.vpn, 'V'),
        (f.cloud_shield, 'C'),
        (f.update_available, 'U'),
        (f.security_update_recommended, '!'),
    ]
    .iter()
    .map(|(on, c)| if *on { *c } else { '.' })
    .collect()
}

pub fn print_user_table(rows: &[UserView], out: &mut impl Write) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "No users.")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|u| {
            vec![
                u.email.to_string(),
                wire_name(&u.role),
                if u.totp_enabled { "yes" } else { "no" }.to_owned(),
                u.tenant.to_string(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["EMAIL", "ROLE", "TOTP", "TENANT"], &cells)
    )?;
    Ok(())
}

pub fn print_tenant_table(rows: &[TenantView], out: &mut impl Write) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "No tenants.")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.name.clone(),
                wire_name(&t.kind),
                t.reseller
                    .as_ref()
                    .map_or("-".to_owned(), |r| r.to_string()),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["ID", "NAME", "KIND", "RESELLER"], &cells)
    )?;
    Ok(())
}

pub fn write_fields(out: &mut impl Write, rows: &[(&str, String)]) -> anyhow::Result<()> {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    for (k, v) in rows {
        writeln!(out, "{:<width$} {v}", format!("{k}:"))?;
    }
    Ok(())
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |x| format!("{x:.0}%"))
}

fn uptime(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

pub fn print_appliance_detail(
    d: &ApplianceDetail,
    cluster: Option<&ClusterView>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let a = &d.summary;
    let f = &a.flags;
    let flags: Vec<&str> = [
        (f.report_active, "report active"),
        (f.vpn, "VPN"),
        (f.cloud_shield, "cloud shield"),
        (f.update_available, "update available"),
        (
            f.security_update_recommended,
            "security update highly recommended",
        ),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| *n)
    .collect();
    let l = &d.license;
    let license = format!(
        "{} ({}, expires {}{})",
        l.serial,
        l.product,
        l.expires,
        match (&l.cluster_id, &l.cluster_role) {
            (Some(c), Some(r)) => format!(", cluster {c} as {r}"),
            (Some(c), None) => format!(", cluster {c}"),
            _ => String::new(),
        }
    );
    let rows = vec![
        ("Name", a.name.clone()),
        ("ID", a.id.to_string()),
        ("Company", format!("{} ({})", d.company, a.tenant)),
        ("Serial", a.serial.to_string()),
        ("Model", a.model.clone()),
        ("Hostname", d.hostname.clone()),
        (
            "Firmware",
            match &d.previous_firmware {
                Some(p) => format!("{} (previously {p})", a.firmware),
                None => a.firmware.clone(),
            },
        ),
        (
            "Status",
            format!(
                "{} (last check-in {})",
                wire_name(&a.status),
                a.last_checkin.as_deref().unwrap_or("never")
            ),
        ),
        (
            "CPU / memory / disk",
            format!(
                "{} / {} / {}",
                pct(d.cpu_percent),
                pct(d.memory_percent),
                pct(d.disk_percent)
            ),
        ),
        ("Uptime", d.uptime_secs.map_or("-".to_owned(), uptime)),
        (
            "Tags",
            if a.tags.is_empty() {
                "-".to_owned()
            } else {
                a.tags.join(", ")
            },
        ),
        (
            "Flags",
            if flags.is_empty() {
                "-".to_owned()
            } else {
                flags.join(", ")
            },
        ),
        (
            "Location",
            d.location.as_ref().map_or("-".to_owned(), |loc| {
                let mut s = format!("{}, {}", loc.latitude, loc.longitude);
                if let Some(label) = &loc.label {
                    s.push_str(&format!(" ({label})"));
                }
                s
            }),
        ),
        ("License", license),
        ("Enrolled", d.enrolled_at.clone()),
    ];
    write_fields(out, &rows)?;
    if !d.interfaces.is_empty() {
        writeln!(out, "\nInterfaces:")?;
        let cells: Vec<Vec<String>> = d
            .interfaces
            .iter()
            .map(|i| {
                let addrs: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
                vec![
                    i.name.clone(),
                    if i.public { "yes" } else { "no" }.to_owned(),
                    if addrs.is_empty() {
                        "-".to_owned()
                    } else {
                        addrs.join(", ")
                    },
                ]
            })
            .collect();
        write!(
            out,
            "{}",
            indent(&render_table(&["NAME", "PUBLIC", "ADDRESSES"], &cells))
        )?;
    }
    if !d.applications.is_empty() {
        writeln!(out, "\nApplications:")?;
        let cells: Vec<Vec<String>> = d
            .applications
            .iter()
            .map(|(name, state)| vec![name.clone(), wire_name(state)])
            .collect();
        write!(out, "{}", indent(&render_table(&["NAME", "STATE"], &cells)))?;
    }
    if !d.inventory.is_empty() {
        writeln!(out, "\nInventory:")?;
        let cells: Vec<Vec<String>> = d
            .inventory
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        write!(
            out,
            "{}",
            indent(&render_table(&["FIELD", "VALUE"], &cells))
        )?;
    }
    let fw = &d.firmware_options;
    if !fw.upgrades.is_empty() || fw.rollback_to.is_some() {
        writeln!(out, "\nFirmware options:")?;
        let mut cells: Vec<Vec<String>> = fw
            .upgrades
            .iter()
            .map(|r| {
                let kind = if r.security {
                    "upgrade (security)"
                } else {
                    "upgrade"
                };
                vec![
                    kind.to_owned(),
                    r.version.to_string(),
                    r.released.to_string(),
                ]
            })
            .collect();
        if let Some(v) = fw.rollback_to {
            cells.push(vec!["rollback".to_owned(), v.to_string(), "-".to_owned()]);
        }
        write!(
            out,
            "{}",
            indent(&render_table(&["OPTION", "VERSION", "RELEASED"], &cells))
        )?;
    }
    if let Some(c) = cluster {
        writeln!(out)?;
        crate::fleet_cmd::print_cluster(c, out)?;
    }
    Ok(())
}

pub fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}
