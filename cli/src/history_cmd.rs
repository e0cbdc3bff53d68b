//! `rampart appliances status NAME|ID`: an appliance's CPU, memory and disk over
//! time, as a table, as JSON, or drawn into a PNG chart.

use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::status_history::StatusHistoryView;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::list_pages::every_page;
use crate::portal_client::{ApplianceQuery, HistoryQuery};
use crate::portal_cmd::{PortalOpts, SignedIn, UsageError, parse_tenant, render_table, write_json};
use crate::status_chart;

#[derive(clap::Args, Clone, Debug)]
pub struct StatusArgs {
    /// The appliance: its id (ap_...), or its name as `appliances list` shows it.
    pub appliance: String,
    /// Start of the range: an age (`90m`, `12h`, `7d`; at most 30d) or an RFC 3339
    /// time.
    #[arg(long, default_value = "24h")]
    pub since: When,
    /// End of the range, as --since [default: now].
    #[arg(long)]
    pub until: Option<When>,
    /// Most rows (buckets) to show: the range is split into this many equal parts
    /// (1 to 2000) [default: 48, or 400 with --png].
    #[arg(long)]
    pub points: Option<u32>,
    /// Also draw the history into this PNG file (CPU red, memory blue, disk green;
    /// averages dark, maxima light).
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// The tenant [default: your own].
    #[arg(long, value_parser = parse_tenant)]
    pub tenant: Option<TenantId>,
}

/// A point in time given on the command line: an age or an absolute time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum When {
    Ago(Duration),
    At(chrono::DateTime<chrono::Utc>),
}

impl FromStr for When {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let unit = |c: char| match c {
            'm' => Some(60),
            'h' => Some(3600),
            'd' => Some(86_400),
            _ => None,
        };
        if let Some(last) = s.chars().last()
            && let Some(secs) = unit(last)
            && let Ok(n) = s[..s.len() - 1].parse::<u64>()
        {
            return Ok(When::Ago(Duration::from_secs(n.saturating_mul(secs))));
        }
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| When::At(t.with_timezone(&chrono::Utc)))
            .map_err(|_| {
                format!(
                    "{s:?}: give an age (30m, 12h, 7d) or an RFC 3339 time (2026-12-01T08:00:00Z)"
                )
            })
    }
}

impl When {
    /// The RFC 3339 time this stands for, ages counted back from `now`.
    pub fn resolve(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let t = match self {
            When::At(t) => *t,
            // An absurd age means the earliest time there is (the console refuses it).
            When::Ago(d) => chrono::Duration::from_std(*d)
                .ok()
                .and_then(|d| now.checked_sub_signed(d))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
        };
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// The query the arguments ask for, at `now`.
pub fn history_query(a: &StatusArgs, now: chrono::DateTime<chrono::Utc>) -> HistoryQuery {
    HistoryQuery {
        since: Some(a.since.resolve(now)),
        until: a.until.as_ref().map(|u| u.resolve(now)),
        points: Some(a.points.unwrap_or(if a.png.is_some() { 400 } else { 48 })),
    }
}

/// An appliance id as given, or the one appliance whose name is `given`
/// (case-insensitive).
pub async fn resolve_appliance(
    s: &SignedIn,
    tenant: &TenantId,
    given: &str,
) -> anyhow::Result<ApplianceId> {
    if let Ok(id) = ApplianceId::parse(given) {
        return Ok(id);
    }
    let client = &s.client;
    let named = every_page(|cursor| {
        let q = ApplianceQuery {
            name: Some(given.to_owned()),
            cursor,
            ..ApplianceQuery::default()
        };
        async move { client.appliances(tenant, &q).await }
    })
    .await?;
    let matches: Vec<ApplianceId> = named
        .into_iter()
        .filter(|a| a.name.eq_ignore_ascii_case(given))
        .map(|a| a.id)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(UsageError(format!("no appliance named {given:?} in tenant {tenant}")).into()),
        many => Err(UsageError(format!(
            "{} appliances are named {given:?}; give one id: {}",
            many.len(),
            many.iter()
                .map(ApplianceId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into()),
    }
}

pub async fn status(
    s: &SignedIn,
    opts: &PortalOpts,
    a: StatusArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let tenant = s.tenant_or_own(a.tenant.clone()).await?;
    let id = resolve_appliance(s, &tenant, &a.appliance).await?;
    let view = s
        .client
        .status_history(&tenant, &id, &history_query(&a, chrono::Utc::now()))
        .await?;
    if let Some(path) = &a.png {
        status_chart::write_png(&view, path)?;
    }
    if opts.json {
        write_json(out, &view)?;
    } else if let Some(path) = &a.png {
        writeln!(out, "{}", status_chart::describe(&view, path))?;
    } else {
        print_history(&a.appliance, &view, out)?;
    }
    Ok(())
}

/// `90`, `5m`, `1h 30m`, `2d 4h`.
pub fn human_span(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        format!("{secs}s")
    } else {
        parts.join(" ")
    }
}

pub fn print_history(
    name: &str,
    view: &StatusHistoryView,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{name}: {} to {}, {} per row (average / maximum, %)",
        view.since,
        view.until,
        human_span(view.bucket_secs)
    )?;
    if view.points.is_empty() {
        writeln!(out, "No status reported in this range.")?;
        return Ok(());
    }
    let pair =
        |m: &rampart_domain::status_history::MetricSummary| format!("{:.1} / {:.1}", m.avg, m.max);
    let rows: Vec<Vec<String>> = view
        .points
        .iter()
        .map(|p| {
            vec![
                p.start.clone(),
                p.samples.to_string(),
                pair(&p.cpu),
                pair(&p.memory),
                pair(&p.disk),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["FROM", "SAMPLES", "CPU", "MEMORY", "DISK"], &rows)
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_reads_ages_and_times() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let at = |s: &str| When::from_str(s).unwrap().resolve(now);
        assert_eq!(at("7d"), "2026-11-25T12:00:00Z");
        assert_eq!(at("90m"), "2026-12-02T10:30:00Z");
        assert_eq!(at("12h"), "2026-12-02T00:00:00Z");
        assert_eq!(at("2026-12-01T08:00:00+01:00"), "2026-12-01T07:00:00Z");
        for bad in ["", "7", "d", "7w", "-3d", "yesterday"] {
            assert!(When::from_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn spans_read_like_a_person_would_write_them() {
        assert_eq!(human_span(60), "1m");
        assert_eq!(human_span(5400), "1h 30m");
        assert_eq!(human_span(2 * 86_400 + 4 * 3600), "2d 4h");
        assert_eq!(human_span(30), "30s");
    }
}
