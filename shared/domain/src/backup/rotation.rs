//! Rotation (SPEC 6.4): which backups of a license stay and which go.
//!
//! The meaning is BorgBackup 1.2's `prune --keep-last 7 --keep-weekly 4
//! --keep-monthly 12`, reproduced rule for rule (borg's `prune_split`), with UTC in
//! place of borg's local time and the console's acceptance time in place of the
//! archive time. Keeping the same rule as a well-known tool means operators can reason
//! about it from borg's documentation, and that the test suite has an outside
//! reference to be checked against.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

use crate::Timestamp;
use crate::validation::Invalid;

/// How many backups each rule keeps. [`RotationPolicy::SPEC`] (the default) is the
/// product's scheme: the newest 7, then 4 weekly, then 12 monthly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RotationPolicy {
    pub keep_last: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
}

impl RotationPolicy {
    /// SPEC 6.4: `--keep-last 7 --keep-weekly 4 --keep-monthly 12`.
    pub const SPEC: Self = Self {
        keep_last: 7,
        keep_weekly: 4,
        keep_monthly: 12,
    };

    /// The most backups a plan can keep: each rule keeps at most its quota, its
    /// "oldest" extra included (23 for [`RotationPolicy::SPEC`]).
    pub fn max_kept(&self) -> u64 {
        u64::from(self.keep_last) + u64::from(self.keep_weekly) + u64::from(self.keep_monthly)
    }

    /// The rules with their quotas, in the order borg applies them.
    fn quotas(&self) -> [(RotationRule, u32); 3] {
        [
            (RotationRule::Last, self.keep_last),
            (RotationRule::Weekly, self.keep_weekly),
            (RotationRule::Monthly, self.keep_monthly),
        ]
    }
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self::SPEC
    }
}

/// One of the three rules, in the order they are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationRule {
    /// borg 1.2's `--keep-last`, which is `--keep-secondly`: period = the UTC second
    /// (`%Y-%m-%d %H:%M:%S`).
    Last,
    /// Period = the ISO 8601 week (`%G-%V`), UTC.
    Weekly,
    /// Period = the calendar month (`%Y-%m`), UTC.
    Monthly,
}

impl RotationRule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Last => "last",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// A number that is equal for two instants exactly when borg's period strings
    /// are. Only equality matters to the rule, so no strings are built, and the
    /// arithmetic is total over every `Timestamp` (no calendar library range to fall
    /// off).
    fn period(self, t: Timestamp) -> i64 {
        let days = t.millis().div_euclid(MS_PER_DAY);
        match self {
            Self::Last => t.secs(),
            // An ISO week is named by its year and number, and determined by its
            // Monday; 1970-01-01 (day 0) was a Thursday, three days after one.
            Self::Weekly => days - (days + 3).rem_euclid(7),
            Self::Monthly => {
                let (year, month) = year_month(days);
                year * 12 + (month - 1)
            }
        }
    }
}

impl fmt::Display for RotationRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// Proleptic Gregorian (year, month 1..=12) of a day counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`, in 400-year eras so that it holds for any day).
fn year_month(days: i64) -> (i64, i64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + i64::from(month <= 2);
    (year, month)
}

/// Why a backup stays, as borg's `prune --list` says it: the rule, whether it was that
/// rule's "oldest" extra, and the backup's position among that rule's keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeptBy {
    pub rule: RotationRule,
    /// 1-based, counted within the rule; the "oldest" extra comes last.
    pub position: u32,
    /// Kept because the rule did not fill its quota and this is the oldest backup.
    pub oldest: bool,
}

impl fmt::Display for KeptBy {
    /// "last #3", "weekly #1", "monthly[oldest] #12".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let oldest = if self.oldest { "[oldest]" } else { "" };
        write!(f, "{}{oldest} #{}", self.rule, self.position)
    }
}

/// A backup as rotation sees it: its id and the time the console accepted its upload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BackupPoint<Id> {
    pub id: Id,
    /// The console's acceptance time, never the appliance's clock: a wrong clock on
    /// the appliance must not evict good backups.
    pub accepted: Timestamp,
}

/// The verdict on one backup: kept (and why) or to be deleted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decision<Id> {
    pub id: Id,
    pub accepted: Timestamp,
    /// `None`: delete it.
    pub keep: Option<KeptBy>,
}

impl<Id> Decision<Id> {
    pub fn is_kept(&self) -> bool {
        self.keep.is_some()
    }
}

/// Newest first: later acceptance time first; among equal times the larger id counts
/// as the newer. The tie-break has to be total so that the plan does not depend on
/// the order the store happens to list backups in.
fn newest_first<Id: Ord>(a: &BackupPoint<Id>, b: &BackupPoint<Id>) -> Ordering {
    b.accepted.cmp(&a.accepted).then_with(|| b.id.cmp(&a.id))
}

/// Decides, for every backup, whether rotation keeps it and why; newest first.
///
/// This is BorgBackup 1.2's `prune` with `--keep-last`, `--keep-weekly` and
/// `--keep-monthly` (src/borg/helpers/misc.py, `prune_split`), periods taken in UTC:
///
/// - The rules run in the order last, weekly, monthly, sharing one record of what is
///   already kept.
/// - Each rule walks the backups newest first and looks at the newest backup of each
///   period (for "last" the UTC second, for "weekly" the ISO week `%G-%V`, for
///   "monthly" the month `%Y-%m`). If an earlier rule already kept it, the period is
///   used up without counting; otherwise the rule keeps it, until its quota is full.
///   Periods are those that hold backups, not calendar periods: a gap of months is
///   skipped over, not counted.
/// - A rule that ran through all backups without filling its quota also keeps the
///   oldest backup, if nothing kept it yet ("[oldest]"), so that the first backup
///   ages until newer ones can replace it.
/// - So at most `keep_last + keep_weekly + keep_monthly` (23) backups stay.
///
/// borg 1.2's `--keep-last` *is* `--keep-secondly`: two backups accepted within the
/// same UTC second form one period, and only the newer of them (by the tie-break
/// below) counts toward the 7; the older one goes unless it is the oldest backup
/// of all and an "[oldest]" rule picks it up.
///
/// Order: by acceptance time; among equal times the larger id counts as the newer
/// (borg itself keeps its listing order there). Ids are expected to be unique; a
/// repeated id is treated as a separate backup. The result does not depend on the
/// order of `backups`, and planning the kept set again keeps all of it.
pub fn plan<Id: Ord + Clone>(
    policy: &RotationPolicy,
    backups: &[BackupPoint<Id>],
) -> Vec<Decision<Id>> {
    let mut order: Vec<&BackupPoint<Id>> = backups.iter().collect();
    order.sort_by(|a, b| newest_first(a, b));
    let mut kept: Vec<Option<KeptBy>> = vec![None; order.len()];
    for (rule, quota) in policy.quotas() {
        split(rule, quota, &order, &mut kept);
    }
    order
        .into_iter()
        .zip(kept)
        .map(|(b, keep)| Decision {
            id: b.id.clone(),
            accepted: b.accepted,
            keep,
        })
        .collect()
}

/// One rule over the backups (newest first), recording its keeps in `kept`
/// (borg's `prune_split`).
fn split<Id>(
    rule: RotationRule,
    quota: u32,
    order: &[&BackupPoint<Id>],
    kept: &mut [Option<KeptBy>],
) {
    if quota == 0 {
        return;
    }
    let mut last_period = None;
    let mut count = 0u32;
    for (b, keep) in order.iter().zip(kept.iter_mut()) {
        let period = rule.period(b.accepted);
        if last_period == Some(period) {
            continue;
        }
        last_period = Some(period);
        if keep.is_none() {
            count += 1;
            *keep = Some(KeptBy {
                rule,
                position: count,
                oldest: false,
            });
            if count == quota {
                return;
            }
        }
    }
    // The walk ended without filling the quota: keep the oldest backup as well.
    if let Some(keep @ None) = kept.last_mut() {
        *keep = Some(KeptBy {
            rule,
            position: count + 1,
            oldest: true,
        });
    }
}

/// The ids rotation deletes, newest first.
pub fn to_delete<Id: Ord + Clone>(policy: &RotationPolicy, backups: &[BackupPoint<Id>]) -> Vec<Id> {
    plan(policy, backups)
        .into_iter()
        .filter(|d| d.keep.is_none())
        .map(|d| d.id)
        .collect()
}

/// Most lines [`parse_backup_times`] reads (blank ones included).
pub const MAX_TIME_LINES: usize = 100_000;
/// Longest line [`parse_backup_times`] reads, in characters.
pub const MAX_TIME_LINE_CHARS: usize = 64;

/// Reads acceptance times for a rotation preview (`rampart backup rotation-plan`): one
/// RFC 3339 time per line (`2024-05-01T07:00:00Z`, any offset, converted to UTC and
/// truncated to milliseconds), surrounding blanks and blank lines ignored. Bounded,
/// since the text comes from an operator's file: at most [`MAX_TIME_LINES`] lines of
/// at most [`MAX_TIME_LINE_CHARS`] characters. The error names the line.
pub fn parse_backup_times(text: &str) -> Result<Vec<Timestamp>, Invalid> {
    const FIELD: &str = "backup_times";
    let mut times = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if n > MAX_TIME_LINES {
            return Err(Invalid::new(
                FIELD,
                format!("line {n}: at most {MAX_TIME_LINES} lines"),
            ));
        }
        // `nth` stops counting at the limit, so an enormous line costs no more.
        if line.chars().nth(MAX_TIME_LINE_CHARS).is_some() {
            return Err(Invalid::new(
                FIELD,
                format!("line {n}: at most {MAX_TIME_LINE_CHARS} characters"),
            ));
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let t = chrono::DateTime::parse_from_rfc3339(line).map_err(|_| {
            Invalid::new(
                FIELD,
                format!("line {n}: not an RFC 3339 time such as 2024-05-01T07:00:00Z"),
            )
        })?;
        times.push(Timestamp::from_millis(t.timestamp_millis()));
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Utc};

    #[test]
    fn year_month_matches_chrono_across_centuries() {
        // Every 13th day from 1600 to 2400, both sides of the epoch and leap rules.
        let start = Utc
            .with_ymd_and_hms(1600, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp()
            / 86_400;
        let end = Utc
            .with_ymd_and_hms(2400, 12, 31, 0, 0, 0)
            .unwrap()
            .timestamp()
            / 86_400;
        let mut day = start;
        while day <= end {
            let d = Utc.timestamp_opt(day * 86_400, 0).unwrap();
            assert_eq!(
                year_month(day),
                (i64::from(d.year()), i64::from(d.month())),
                "{d}"
            );
            day += 13;
        }
    }

    #[test]
    fn periods_are_total_at_the_extremes() {
        for ms in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            for rule in [
                RotationRule::Last,
                RotationRule::Weekly,
                RotationRule::Monthly,
            ] {
                let _ = rule.period(Timestamp::from_millis(ms));
            }
        }
        let b = |id: u8, ms| BackupPoint {
            id,
            accepted: Timestamp::from_millis(ms),
        };
        let kept = plan(&RotationPolicy::SPEC, &[b(1, i64::MIN), b(2, i64::MAX)]);
        assert!(kept.iter().all(Decision::is_kept));
    }

    #[test]
    fn kept_by_reads_like_borg() {
        let k = |rule, position, oldest| {
            KeptBy {
                rule,
                position,
                oldest,
            }
            .to_string()
        };
        assert_eq!(k(RotationRule::Last, 3, false), "last #3");
        assert_eq!(k(RotationRule::Weekly, 1, false), "weekly #1");
        assert_eq!(k(RotationRule::Monthly, 12, true), "monthly[oldest] #12");
    }

    #[test]
    fn spec_policy_is_the_default_and_keeps_at_most_23() {
        assert_eq!(RotationPolicy::default(), RotationPolicy::SPEC);
        assert_eq!(RotationPolicy::SPEC.max_kept(), 23);
    }
}
