//! `rampart log APPLIANCE` and `rampart log verify APPLIANCE`: an appliance's
//! communication log (SPEC 4.6) through the portal API, and a local check of its hash
//! chain.
//!
//! `log verify` reads the chain's head first, then every entry oldest first, and
//! checks them with [`rampart_domain::comm_log::verify_head`] on this machine, so it
//! does not take the console's word for it: an altered, deleted or inserted entry,
//! and deleted newest entries, are reported (exit code 9). What it cannot see is in
//! the [`rampart_domain::comm_log`] docs (expired old entries, a consistent rewrite
//! of the whole chain and its head).

use crate::list_pages::{fetch_all, write_page};
use crate::portal_client::{LogOrder, PageQuery};
use crate::portal_cmd::{
    EXIT_CHAIN_BROKEN, PortalOpts, Unsuccessful, dash, parse_appliance_id, parse_tenant,
    render_table, signed_in, write_json,
};
use rampart_domain::comm_log::{self, ChainBreak, ChainHead, ChainReport, LogEntry};
use rampart_domain::ids::{ApplianceId, TenantId};
use serde::Serialize;
use std::io::{IsTerminal, Write};

/// The page size `log verify` asks for (the API's largest).
pub const VERIFY_PAGE: u32 = 200;

#[derive(clap::Args, Clone, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LogArgs {
    #[command(subcommand)]
    pub command: Option<LogCommand>,
    /// The appliance's id (ap_ and 32 hex digits, as `appliances list` shows).
    #[arg(value_parser = parse_appliance_id, required = true, value_name = "APPLIANCE")]
    pub appliance: Option<ApplianceId>,
    /// The tenant [default: your own].
    #[arg(long, value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
    /// Page size.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Start at this page (the `next_cursor` of the previous one).
    #[arg(long, conflicts_with = "all")]
    pub cursor: Option<String>,
    /// Follow the pages to the end (the whole log, 90 days).
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum LogCommand {
    /// Check the appliance's log chain here: every entry's hash, the links between
    /// them, and the chain's head (so deleted newest entries are caught). Exits 9
    /// when the chain is broken.
    Verify {
        /// The appliance's id.
        #[arg(value_parser = parse_appliance_id, value_name = "APPLIANCE")]
        appliance: ApplianceId,
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
}

/// `rampart log ...`.
pub async fn log(opts: &PortalOpts, args: LogArgs, out: &mut impl Write) -> anyhow::Result<()> {
    match args.command {
        Some(LogCommand::Verify { appliance, tenant }) => {
            verify(opts, &appliance, tenant, out).await
        }
        None => {
            let appliance = args
                .appliance
                .ok_or_else(|| crate::portal_cmd::UsageError("give the appliance's id".into()))?;
            show(
                opts,
                &appliance,
                args.tenant,
                args.limit,
                args.cursor,
                args.all,
                out,
            )
            .await
        }
    }
}

async fn show(
    opts: &PortalOpts,
    appliance: &ApplianceId,
    tenant: Option<TenantId>,
    limit: Option<u32>,
    cursor: Option<String>,
    all: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let s = signed_in(opts)?;
    let tenant = s.tenant_or_own(tenant).await?;
    let (client, tenant) = (&s.client, &tenant);
    let fetch = |cursor| async move {
        client
            .appliance_log(
                tenant,
                appliance,
                &PageQuery { limit, cursor },
                LogOrder::Newest,
            )
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
        print_log_table,
        "older entries: add --all, or",
    )
}

async fn verify(
    opts: &PortalOpts,
    appliance: &ApplianceId,
    tenant: Option<TenantId>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let s = signed_in(opts)?;
    let tenant = s.tenant_or_own(tenant).await?;
    // The head first: entries written after it was read still chain onto it, while
    // a head read after the entries could name an entry this read never saw.
    let head = s.client.log_head(&tenant, appliance).await?;
    let progress = std::io::stderr().is_terminal();
    let mut q = PageQuery {
        limit: Some(VERIFY_PAGE),
        cursor: None,
    };
    let mut entries = Vec::new();
    loop {
        let page = s
            .client
            .appliance_log(&tenant, appliance, &q, LogOrder::Oldest)
            .await?;
        entries.extend(page.items);
        match page.next_cursor {
            Some(c) if Some(&c) != q.cursor.as_ref() => {
                if progress {
                    eprint!("\rread {} entries…", entries.len());
                }
                q.cursor = Some(c);
            }
            _ => break,
        }
    }
    if progress && q.cursor.is_some() {
        eprintln!("\rread {} entries.", entries.len());
    }
    let outcome = check(appliance, &entries, &head.head);
    if opts.json {
        write_json(out, &outcome)?;
    } else {
        writeln!(out, "{}", outcome.summary())?;
    }
    match &outcome.broken {
        None => Ok(()),
        Some(b) => Err(Unsuccessful {
            exit_code: EXIT_CHAIN_BROKEN,
            message: format!("the log chain of {appliance} is broken: {}", b.message()),
        }
        .into()),
    }
}

/// What `log verify` found, as `--json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyOutcome {
    pub appliance: ApplianceId,
    pub intact: bool,
    /// Entries read (and, when intact, checked).
    pub entries: usize,
    /// The oldest and newest seq present.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The check reached back to the appliance's very first entry (none expired).
    pub from_genesis: bool,
    /// The head the console keeps for the chain.
    pub head: ChainHead,
    /// Where and how the chain is broken.
    #[serde(rename = "break", skip_serializing_if = "Option::is_none")]
    pub broken: Option<ChainBreak>,
    /// The break in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Checks `entries` (any order) against the chain's `head`.
pub fn check(appliance: &ApplianceId, entries: &[LogEntry], head: &ChainHead) -> VerifyOutcome {
    let first_seq = entries.iter().map(|e| e.seq).min();
    let last_seq = entries.iter().map(|e| e.seq).max();
    let base = VerifyOutcome {
        appliance: appliance.clone(),
        intact: true,
        entries: entries.len(),
        first_seq,
        last_seq,
        from_genesis: false,
        head: *head,
        broken: None,
        message: None,
    };
    // Entries of another appliance than the one asked for: the console answered
    // with something else than this appliance's log.
    if let Some(e) = entries.iter().find(|e| &e.appliance != appliance) {
        let b = ChainBreak {
            seq: e.seq,
            kind: comm_log::BreakKind::MixedAppliances,
        };
        return VerifyOutcome {
            intact: false,
            message: Some(b.message()),
            broken: Some(b),
            ..base
        };
    }
    match comm_log::verify_head(entries, head.seq, &head.hash) {
        Ok(ChainReport {
            anchored_at_seq, ..
        }) => VerifyOutcome {
            from_genesis: anchored_at_seq == Some(1),
            ..base
        },
        Err(b) => VerifyOutcome {
            intact: false,
            message: Some(b.message()),
            broken: Some(b),
            ..base
        },
    }
}

impl VerifyOutcome {
    /// One line (two when older entries expired) for people.
    pub fn summary(&self) -> String {
        match (&self.broken, self.first_seq, self.last_seq) {
            (Some(b), _, _) => format!(
                "chain BROKEN at seq {}: {} ({} entries read, head seq {})",
                b.seq,
                b.message(),
                self.entries,
                self.head.seq
            ),
            (None, Some(a), Some(b)) => {
                let mut s = format!(
                    "chain intact: {} entr{}, seq {a}..{b}",
                    self.entries,
                    if self.entries == 1 { "y" } else { "ies" }
                );
                if self.head.seq != b {
                    s.push_str(&format!(
                        " (head seq {} when the check started)",
                        self.head.seq
                    ));
                }
                if !self.from_genesis {
                    s.push_str(&format!(
                        "\nentries before seq {a} have expired (or were removed at the old end, which the chain cannot tell apart); the check starts there"
                    ));
                }
                s
            }
            _ => "chain intact: no entries".to_owned(),
        }
    }
}

pub fn print_log_table(entries: &[LogEntry], out: &mut impl Write) -> anyhow::Result<()> {
    if entries.is_empty() {
        writeln!(out, "No log entries.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.time.to_string(),
                dash(e.job.as_deref()),
                e.direction.arrow().to_owned(),
                e.status.as_str().to_owned(),
                dash(Some(&e.info)),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(
            &["SEQ", "TIME", "JOB", "DIRECTION", "STATUS", "INFO"],
            &rows
        )
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use rampart_domain::Timestamp;
    use rampart_domain::comm_log::{BreakKind, Direction, LogFields, LogStatus};

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        opts: PortalOpts,
        #[command(flatten)]
        args: LogArgs,
    }

    fn id(n: u8) -> ApplianceId {
        ApplianceId::from_random([n; 16])
    }

    fn chain(n: u64) -> Vec<LogEntry> {
        let mut c: Vec<LogEntry> = Vec::new();
        for i in 1..=n {
            let f = LogFields {
                time: Timestamp::from_millis(1_764_072_000_000 + i64::try_from(i).unwrap()),
                job: Some("job_1764072000000deadbeef".into()),
                direction: if i % 2 == 1 {
                    Direction::ConsoleToAppliance
                } else {
                    Direction::ApplianceToConsole
                },
                status: LogStatus::Ok,
                info: format!("exchange {i}"),
            };
            let next = comm_log::append(c.last(), &id(1), f).unwrap();
            c.push(next);
        }
        c
    }

    fn head(c: &[LogEntry]) -> ChainHead {
        c.last().map_or(ChainHead::GENESIS, LogEntry::head)
    }

    #[test]
    fn both_forms_of_the_command_parse() {
        let a = id(1).to_string();
        let p = Cli::try_parse_from(["log", &a, "--limit", "5", "--json"]).unwrap();
        assert!(p.opts.json);
        assert!(p.args.command.is_none());
        assert_eq!(p.args.appliance, Some(id(1)));
        assert_eq!(p.args.limit, Some(5));
        let p = Cli::try_parse_from(["log", "verify", &a, "--tenant", "100001.sms"]).unwrap();
        match p.args.command {
            Some(LogCommand::Verify { appliance, tenant }) => {
                assert_eq!(appliance, id(1));
                assert_eq!(tenant.unwrap().as_str(), "100001.sms");
            }
            None => panic!("verify expected"),
        }
        let p = Cli::try_parse_from(["log", "verify", &a, "--json"]).unwrap();
        assert!(p.opts.json);
        for bad in [
            &["log"][..],
            &["log", "verify"],
            &["log", "nope"],
            &["log", &a, "--all", "--cursor", "x"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_intact_chain_is_reported_with_its_range() {
        let c = chain(12);
        let o = check(&id(1), &c, &head(&c));
        assert!(o.intact && o.from_genesis, "{o:?}");
        assert_eq!(o.summary(), "chain intact: 12 entries, seq 1..12");
        // Older entries expired: still intact, and said so.
        let o = check(&id(1), &c[4..], &head(&c));
        assert!(o.intact && !o.from_genesis);
        assert!(
            o.summary().starts_with(
                "chain intact: 8 entries, seq 5..12\nentries before seq 5 have expired"
            ),
            "{}",
            o.summary()
        );
        // An entry written after the head was read.
        let o = check(&id(1), &c, &c[10].head());
        assert!(o.intact);
        assert!(o.summary().contains("head seq 11"), "{}", o.summary());
        let o = check(&id(1), &[], &ChainHead::GENESIS);
        assert_eq!(o.summary(), "chain intact: no entries");
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["intact"], true);
        assert!(json.get("break").is_none());
    }

    #[test]
    fn a_tampered_chain_is_reported_with_where_and_how() {
        let c = chain(12);
        let h = head(&c);
        // An altered entry.
        let mut t = c.clone();
        t[6].info = "nothing happened".into();
        let o = check(&id(1), &t, &h);
        assert!(!o.intact);
        assert_eq!(
            o.broken,
            Some(ChainBreak {
                seq: 7,
                kind: BreakKind::Altered
            })
        );
        assert!(
            o.summary()
                .starts_with("chain BROKEN at seq 7: entry 7 was altered"),
            "{}",
            o.summary()
        );
        // A deleted entry in the middle.
        let mut t = c.clone();
        t.remove(3);
        let o = check(&id(1), &t, &h);
        assert_eq!(
            o.broken.as_ref().map(|b| &b.kind),
            Some(&BreakKind::Missing { expected_seq: 4 })
        );
        assert!(
            o.summary().contains("entry 4 is missing"),
            "{}",
            o.summary()
        );
        // The newest entries deleted: only the head tells.
        let o = check(&id(1), &c[..9], &h);
        assert_eq!(
            o.broken.as_ref().map(|b| &b.kind),
            Some(&BreakKind::Truncated {
                newest_present: Some(9)
            })
        );
        assert!(o.summary().contains("entries 10 to 12 are missing"));
        // Entries of another appliance.
        let o = check(&id(2), &c, &h);
        assert_eq!(
            o.broken.as_ref().map(|b| &b.kind),
            Some(&BreakKind::MixedAppliances)
        );
        // JSON names the break.
        let mut t = c.clone();
        t[2].hash[0] ^= 1;
        let json = serde_json::to_value(check(&id(1), &t, &h)).unwrap();
        assert_eq!(json["intact"], false);
        assert_eq!(json["break"]["seq"], 3);
        assert_eq!(json["break"]["kind"], "altered");
        assert!(json["message"].as_str().unwrap().contains("entry 3"));
    }

    #[test]
    fn the_table_shows_arrows() {
        let c = chain(2);
        let mut out = Vec::new();
        print_log_table(&[c[1].clone(), c[0].clone()], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("SEQ  TIME"), "{text}");
        assert!(
            lines[1].starts_with("2    2025-11-25T12:00:00.002Z"),
            "{text}"
        );
        assert!(lines[1].contains("appliance → console"));
        assert!(lines[2].contains("console → appliance"));
        assert!(lines[2].ends_with("exchange 1"));
    }
}
