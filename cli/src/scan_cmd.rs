//! `rampart scan ...`: security scans (SPEC 7) through the portal API.
//!
//! `start` queues a TOP 100 (TCP) scan of an appliance's observed public addresses
//! (`--wait` follows it to its end), `show` prints one scan with its results per
//! public interface, `list` an appliance's scans newest first, `profile` the 100
//! ports with their services. Tables by default, `--json` for the wire types.
//! Exit codes as in [`crate::portal_cmd::EXIT_CODES`]; a refused start (the
//! appliance's `security_scan` authorization is off, or a scan is already running)
//! exits 6, the tenant's hourly scan limit 7, and a scan that ends `failed` 8.

use crate::list_pages::write_page;
use crate::portal_client::PageQuery;
use crate::portal_cmd::{
    EXIT_JOB_UNSUCCESSFUL, PortalOpts, Unsuccessful, dash, parse_appliance_id, parse_tenant,
    render_table, signed_in, write_fields, write_json,
};
use rampart_domain::ids::{ApplianceId, ScanId, TenantId};
use rampart_domain::portal_protocol::{ScanProfileView, ScanState, ScanView};
use std::io::Write;
use std::time::Duration;

#[derive(clap::Subcommand, Clone, Debug)]
pub enum ScanCommand {
    /// Start a security scan of an appliance: a TCP connect scan, profile TOP 100
    /// (TCP), of each public address the appliance reports and the console has seen
    /// it come from.
    Start {
        /// The appliance.
        #[arg(value_parser = parse_appliance_id)]
        appliance: ApplianceId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// Follow the scan to its end and print its results; exits 8 if it failed.
        #[arg(long)]
        wait: bool,
    },
    /// One scan: when it ran and, per public interface, the open ports with their
    /// usual service, closed/filtered counts, or why the address was not scanned.
    Show {
        /// The appliance.
        #[arg(value_parser = parse_appliance_id)]
        appliance: ApplianceId,
        /// The scan's id (scan_ and 21 digits, as `scan list` shows).
        #[arg(value_parser = parse_scan_id)]
        scan: ScanId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// An appliance's scans, newest first.
    List {
        /// The appliance.
        #[arg(value_parser = parse_appliance_id)]
        appliance: ApplianceId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Start at this page (the `next_cursor` of the previous one).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// The scan profile: the 100 TCP ports with the service usually behind each.
    Profile,
}

pub fn parse_scan_id(s: &str) -> Result<ScanId, String> {
    ScanId::parse(s).map_err(|e| e.to_string())
}

/// How often `start --wait` asks, and for how long at most.
const WAIT_POLL: Duration = Duration::from_secs(1);
const WAIT_AT_MOST: Duration = Duration::from_secs(20 * 60);

pub async fn scan(
    opts: &PortalOpts,
    command: ScanCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        ScanCommand::Start {
            appliance,
            tenant,
            wait,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let mut scan = s.client.start_scan(&tenant, &appliance).await?;
            if wait {
                let deadline = tokio::time::Instant::now() + WAIT_AT_MOST;
                while !scan.state.is_done() && tokio::time::Instant::now() < deadline {
                    if !opts.json {
                        eprintln!("scan {}: {}", scan.id, scan.state.as_str());
                    }
                    tokio::time::sleep(WAIT_POLL).await;
                    scan = s.client.scan(&tenant, &appliance, &scan.id).await?;
                }
            }
            if opts.json {
                write_json(out, &scan)?;
            } else {
                print_scan(&scan, out)?;
            }
            if wait && scan.state == ScanState::Failed {
                return Err(Unsuccessful {
                    exit_code: EXIT_JOB_UNSUCCESSFUL,
                    message: format!(
                        "scan {} failed: {}",
                        scan.id,
                        scan.error.as_deref().unwrap_or("no reason given")
                    ),
                }
                .into());
            }
            Ok(())
        }
        ScanCommand::Show {
            appliance,
            scan,
            tenant,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let scan = s.client.scan(&tenant, &appliance, &scan).await?;
            if opts.json {
                write_json(out, &scan)
            } else {
                print_scan(&scan, out)
            }
        }
        ScanCommand::List {
            appliance,
            tenant,
            limit,
            cursor,
        } => {
            let s = signed_in(opts)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let page = s
                .client
                .scans(&tenant, &appliance, &PageQuery { limit, cursor })
                .await?;
            write_page(out, opts.json, &page, print_scan_table, "more scans:")
        }
        ScanCommand::Profile => {
            let s = signed_in(opts)?;
            let profile = s.client.scan_profile().await?;
            if opts.json {
                write_json(out, &profile)
            } else {
                print_profile(&profile, out)
            }
        }
    }
}

fn open_summary(scan: &ScanView) -> String {
    let open: usize = scan.results.iter().map(|r| r.open.len()).sum();
    if scan.state == ScanState::Finished {
        open.to_string()
    } else {
        "-".into()
    }
}

pub fn print_scan_table(scans: &[ScanView], out: &mut impl Write) -> anyhow::Result<()> {
    if scans.is_empty() {
        writeln!(out, "No scans.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = scans
        .iter()
        .map(|s| {
            vec![
                s.requested_at.clone(),
                s.id.to_string(),
                s.state.as_str().to_owned(),
                open_summary(s),
                s.requested_by.clone(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["REQUESTED", "ID", "STATE", "OPEN", "BY"], &rows)
    )?;
    Ok(())
}

pub fn print_scan(scan: &ScanView, out: &mut impl Write) -> anyhow::Result<()> {
    write_fields(
        out,
        &[
            ("Scan", scan.id.to_string()),
            ("Appliance", scan.appliance.to_string()),
            ("Profile", scan.profile.clone()),
            ("State", scan.state.as_str().to_owned()),
            (
                "Requested",
                format!("{} by {}", scan.requested_at, scan.requested_by),
            ),
            ("Started", dash(scan.started_at.as_deref())),
            ("Finished", dash(scan.finished_at.as_deref())),
        ],
    )?;
    if let Some(e) = &scan.error {
        writeln!(out, "Error: {e}")?;
    }
    for r in &scan.results {
        writeln!(out)?;
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        writeln!(
            out,
            "{} {}: {outcome}",
            r.interface,
            dash(r.address.as_deref())
        )?;
        if let Some(reason) = &r.reason {
            writeln!(out, "  {reason}")?;
        }
        if r.outcome == rampart_domain::portal_protocol::ScanOutcome::Scanned {
            writeln!(
                out,
                "  {} open, {} closed, {} filtered ({} to {})",
                r.open.len(),
                r.closed,
                r.filtered,
                dash(r.started_at.as_deref()),
                dash(r.finished_at.as_deref())
            )?;
            if !r.open.is_empty() {
                let rows: Vec<Vec<String>> = r
                    .open
                    .iter()
                    .map(|p| vec![format!("{}/tcp", p.port), p.service.clone()])
                    .collect();
                for line in render_table(&["PORT", "SERVICE"], &rows).lines() {
                    writeln!(out, "  {line}")?;
                }
            }
        }
    }
    Ok(())
}

pub fn print_profile(profile: &ScanProfileView, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "{} ({} ports)", profile.name, profile.ports.len())?;
    let rows: Vec<Vec<String>> = profile
        .ports
        .iter()
        .map(|p| vec![format!("{}/tcp", p.port), p.service.clone()])
        .collect();
    write!(out, "{}", render_table(&["PORT", "SERVICE"], &rows))?;
    Ok(())
}
