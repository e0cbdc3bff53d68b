//! Rotation (SPEC 6.4) against hand-worked cases and an independent reference of
//! borg 1.2's prune rule, day by day and under random input.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rampart_domain::Timestamp;
use rampart_domain::backup::{
    BackupPoint, Decision, KeptBy, RotationPolicy, RotationRule, parse_backup_times, plan,
    to_delete,
};

fn at(rfc3339: &str) -> Timestamp {
    let t = DateTime::parse_from_rfc3339(rfc3339).expect(rfc3339);
    Timestamp::from_millis(t.timestamp_millis())
}

fn points(rows: &[(u32, &str)]) -> Vec<BackupPoint<u32>> {
    rows.iter()
        .map(|&(id, t)| BackupPoint {
            id,
            accepted: at(t),
        })
        .collect()
}

fn kept_ids<Id: Clone>(decisions: &[Decision<Id>]) -> Vec<Id> {
    decisions
        .iter()
        .filter(|d| d.is_kept())
        .map(|d| d.id.clone())
        .collect()
}

// ---------------------------------------------------------------------------------
// The reference: borg's rule written another way. Periods are chrono's strftime
// strings, exactly borg's patterns; each rule first groups all backups by period
// (newest member of each), orders the periods by that member, and only then takes
// its quota from the periods not used up.
// ---------------------------------------------------------------------------------

fn period(ms: i64, pattern: &str) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .expect("time in chrono's range")
        .format(pattern)
        .to_string()
}

/// id -> reason as `KeptBy` displays it; ids missing are deleted.
fn reference<Id: Ord + Clone + std::hash::Hash>(
    policy: &RotationPolicy,
    backups: &[(Id, i64)],
) -> BTreeMap<Id, String> {
    let key = |(id, ms): &(Id, i64)| Reverse((*ms, id.clone()));
    let mut reasons: BTreeMap<Id, String> = BTreeMap::new();
    let rules = [
        ("last", "%Y-%m-%d %H:%M:%S", policy.keep_last),
        ("weekly", "%G-%V", policy.keep_weekly),
        ("monthly", "%Y-%m", policy.keep_monthly),
    ];
    for (name, pattern, quota) in rules {
        if quota == 0 {
            continue;
        }
        let mut newest_of: HashMap<String, &(Id, i64)> = HashMap::new();
        for b in backups {
            let e = newest_of.entry(period(b.1, pattern)).or_insert(b);
            if key(b) < key(e) {
                *e = b;
            }
        }
        let mut newest: Vec<&(Id, i64)> = newest_of.into_values().collect();
        newest.sort_by_key(|b| key(b));
        let fresh: Vec<Id> = newest
            .iter()
            .map(|b| b.0.clone())
            .filter(|id| !reasons.contains_key(id))
            .collect();
        let quota = quota as usize;
        for (i, id) in fresh.iter().take(quota).enumerate() {
            reasons.insert(id.clone(), format!("{name} #{}", i + 1));
        }
        let oldest = backups.iter().max_by_key(|b| key(b));
        if let Some(oldest) = oldest.filter(|_| fresh.len() < quota) {
            reasons
                .entry(oldest.0.clone())
                .or_insert_with(|| format!("{name}[oldest] #{}", fresh.len() + 1));
        }
    }
    reasons
}

fn reasons_of<Id: Ord + Clone>(decisions: &[Decision<Id>]) -> BTreeMap<Id, String> {
    decisions
        .iter()
        .filter_map(|d| d.keep.map(|k| (d.id.clone(), k.to_string())))
        .collect()
}

// ---------------------------------------------------------------------------------
// Hand-worked cases.
// ---------------------------------------------------------------------------------

struct Case {
    name: &'static str,
    policy: RotationPolicy,
    backups: &'static [(u32, &'static str)],
    /// Every backup, newest first, with the reason it stays (`None`: deleted).
    expect: &'static [(u32, Option<&'static str>)],
}

const SPEC: RotationPolicy = RotationPolicy::SPEC;
const fn weekly_only(n: u32) -> RotationPolicy {
    RotationPolicy {
        keep_last: 0,
        keep_weekly: n,
        keep_monthly: 0,
    }
}
const fn monthly_only(n: u32) -> RotationPolicy {
    RotationPolicy {
        keep_last: 0,
        keep_weekly: 0,
        keep_monthly: n,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "nothing to rotate",
            policy: SPEC,
            backups: &[],
            expect: &[],
        },
        Case {
            name: "fewer than 7: all kept by 'last'",
            policy: SPEC,
            backups: &[
                (1, "2024-05-01T07:00:00Z"),
                (2, "2024-05-02T07:00:00Z"),
                (3, "2024-05-03T07:00:00Z"),
            ],
            expect: &[
                (3, Some("last #1")),
                (2, Some("last #2")),
                (1, Some("last #3")),
            ],
        },
        Case {
            // Ten on Wednesday 2024-05-15 (ISO 2024-W20): the newest 7 of the day stay;
            // the day's week and month are used up by them, so the older periods are
            // kept by 'weekly'; the three oldest of the day go.
            name: "many in one day",
            policy: SPEC,
            backups: &[
                (1, "2024-05-15T01:00:00Z"),
                (2, "2024-05-15T02:00:00Z"),
                (3, "2024-05-15T03:00:00Z"),
                (4, "2024-05-15T04:00:00Z"),
                (5, "2024-05-15T05:00:00Z"),
                (6, "2024-05-15T06:00:00Z"),
                (7, "2024-05-15T07:00:00Z"),
                (8, "2024-05-15T08:00:00Z"),
                (9, "2024-05-15T09:00:00Z"),
                (10, "2024-05-15T10:00:00Z"),
                (11, "2024-05-08T07:00:00Z"),
                (12, "2024-04-20T07:00:00Z"),
                (13, "2024-03-10T07:00:00Z"),
            ],
            expect: &[
                (10, Some("last #1")),
                (9, Some("last #2")),
                (8, Some("last #3")),
                (7, Some("last #4")),
                (6, Some("last #5")),
                (5, Some("last #6")),
                (4, Some("last #7")),
                (3, None),
                (2, None),
                (1, None),
                (11, Some("weekly #1")),
                (12, Some("weekly #2")),
                (13, Some("weekly #3")),
            ],
        },
        Case {
            // borg 1.2's --keep-last is --keep-secondly: five backups accepted within
            // 07:00:00 UTC are one period, and only the newest of them counts.
            name: "many in the same second",
            policy: SPEC,
            backups: &[
                (1, "2024-05-15T07:00:00.100Z"),
                (2, "2024-05-15T07:00:00.200Z"),
                (3, "2024-05-15T07:00:00.300Z"),
                (4, "2024-05-15T07:00:00.400Z"),
                (5, "2024-05-15T07:00:00.500Z"),
                (6, "2024-05-15T06:59:59.999Z"),
                (7, "2024-05-15T06:00:00Z"),
                (8, "2024-05-14T07:00:00Z"),
                (9, "2024-05-13T07:00:00Z"),
                (10, "2024-05-12T07:00:00Z"),
                (11, "2024-05-11T07:00:00Z"),
            ],
            expect: &[
                (5, Some("last #1")),
                (4, None),
                (3, None),
                (2, None),
                (1, None),
                (6, Some("last #2")),
                (7, Some("last #3")),
                (8, Some("last #4")),
                (9, Some("last #5")),
                (10, Some("last #6")),
                (11, Some("last #7")),
            ],
        },
        Case {
            // Months without backups are no periods: 'monthly' reaches back to 2019.
            // 2024-12-01 is a Sunday (W48), 12-02..12-08 are W49.
            name: "gaps of months",
            policy: SPEC,
            backups: &[
                (21, "2024-12-01T07:00:00Z"),
                (22, "2024-12-02T07:00:00Z"),
                (23, "2024-12-03T07:00:00Z"),
                (24, "2024-12-04T07:00:00Z"),
                (25, "2024-12-05T07:00:00Z"),
                (26, "2024-12-06T07:00:00Z"),
                (27, "2024-12-07T07:00:00Z"),
                (28, "2024-12-08T07:00:00Z"),
                (14, "2024-06-15T07:00:00Z"),
                (15, "2024-06-03T07:00:00Z"),
                (16, "2024-06-01T07:00:00Z"),
                (13, "2023-01-10T07:00:00Z"),
                (9, "2023-01-05T07:00:00Z"),
                (12, "2021-03-03T07:00:00Z"),
                (11, "2019-07-07T07:00:00Z"),
                (10, "2019-07-01T07:00:00Z"),
            ],
            expect: &[
                (28, Some("last #1")),
                (27, Some("last #2")),
                (26, Some("last #3")),
                (25, Some("last #4")),
                (24, Some("last #5")),
                (23, Some("last #6")),
                (22, Some("last #7")),
                (21, Some("weekly #1")),
                (14, Some("weekly #2")),
                (15, Some("weekly #3")),
                (16, Some("weekly #4")),
                (13, Some("monthly #1")),
                (9, None),
                (12, Some("monthly #2")),
                (11, Some("monthly #3")),
                (10, Some("monthly[oldest] #4")),
            ],
        },
        Case {
            // 2020-12-31 (Thu) and 2021-01-01 (Fri) are both ISO 2020-W53: one week
            // across the year boundary; 2020-12-27 (Sun) is 2020-W52.
            name: "ISO week 2020-W53 spans the new year",
            policy: weekly_only(3),
            backups: &[
                (1, "2020-12-27T12:00:00Z"),
                (2, "2020-12-31T12:00:00Z"),
                (3, "2021-01-01T12:00:00Z"),
                (4, "2021-01-04T12:00:00Z"),
            ],
            expect: &[
                (4, Some("weekly #1")),
                (3, Some("weekly #2")),
                (2, None),
                (1, Some("weekly #3")),
            ],
        },
        Case {
            // 2024-12-30 (Mon) is already 2025-W01; 2024-12-29 (Sun) is 2024-W52.
            name: "ISO week 2025-W01 starts in December",
            policy: weekly_only(2),
            backups: &[
                (1, "2024-12-29T12:00:00Z"),
                (2, "2024-12-30T12:00:00Z"),
                (3, "2025-01-05T12:00:00Z"),
            ],
            expect: &[(3, Some("weekly #1")), (2, None), (1, Some("weekly #2"))],
        },
        Case {
            // The same three by month: 2024-12 holds two, and 'monthly' cannot fill
            // its quota, so the oldest stays as well.
            name: "months across the year boundary, with the oldest",
            policy: monthly_only(3),
            backups: &[
                (1, "2024-12-29T12:00:00Z"),
                (2, "2024-12-30T12:00:00Z"),
                (3, "2025-01-05T12:00:00Z"),
            ],
            expect: &[
                (3, Some("monthly #1")),
                (2, Some("monthly #2")),
                (1, Some("monthly[oldest] #3")),
            ],
        },
        Case {
            // Periods are UTC: 23:30 at -02:00 on January 31st is February in UTC.
            name: "periods are taken in UTC",
            policy: monthly_only(2),
            backups: &[
                (1, "2024-01-31T12:00:00Z"),
                (2, "2024-01-31T23:30:00-02:00"),
                (3, "2024-02-01T05:00:00Z"),
            ],
            expect: &[(3, Some("monthly #1")), (2, None), (1, Some("monthly #2"))],
        },
        Case {
            // The same millisecond: the larger id is the newer and takes the second.
            name: "equal timestamps break by id",
            policy: SPEC,
            backups: &[
                (3, "2024-05-15T07:00:00Z"),
                (5, "2024-05-15T07:00:00Z"),
                (4, "2024-05-14T07:00:00Z"),
            ],
            expect: &[(5, Some("last #1")), (3, None), (4, Some("last #2"))],
        },
        Case {
            // The older of a same-second pair is also the oldest backup of all, so
            // 'last' keeps it as its "[oldest]".
            name: "equal timestamps, the loser being the oldest",
            policy: SPEC,
            backups: &[(1, "2024-05-15T07:00:00Z"), (2, "2024-05-15T07:00:00Z")],
            expect: &[(2, Some("last #1")), (1, Some("last[oldest] #2"))],
        },
        Case {
            // Nine days from Wednesday 2024-05-01: 'last' keeps 05-09..05-03, which
            // use up both weeks (W19, W18) and the month; 'weekly' finds nothing and
            // keeps the oldest; 05-02 goes.
            name: "the [oldest] rule",
            policy: SPEC,
            backups: &[
                (1, "2024-05-01T07:00:00Z"),
                (2, "2024-05-02T07:00:00Z"),
                (3, "2024-05-03T07:00:00Z"),
                (4, "2024-05-04T07:00:00Z"),
                (5, "2024-05-05T07:00:00Z"),
                (6, "2024-05-06T07:00:00Z"),
                (7, "2024-05-07T07:00:00Z"),
                (8, "2024-05-08T07:00:00Z"),
                (9, "2024-05-09T07:00:00Z"),
            ],
            expect: &[
                (9, Some("last #1")),
                (8, Some("last #2")),
                (7, Some("last #3")),
                (6, Some("last #4")),
                (5, Some("last #5")),
                (4, Some("last #6")),
                (3, Some("last #7")),
                (2, None),
                (1, Some("weekly[oldest] #1")),
            ],
        },
        Case {
            name: "a rule with quota 0 keeps nothing, not even the oldest",
            policy: RotationPolicy {
                keep_last: 1,
                keep_weekly: 0,
                keep_monthly: 0,
            },
            backups: &[(1, "2024-05-01T07:00:00Z"), (2, "2024-05-02T07:00:00Z")],
            expect: &[(2, Some("last #1")), (1, None)],
        },
    ]
}

#[test]
fn hand_worked_cases() {
    for case in cases() {
        let name = case.name;
        let backups = points(case.backups);
        let decisions = plan(&case.policy, &backups);
        let got: Vec<(u32, Option<String>)> = decisions
            .iter()
            .map(|d| (d.id, d.keep.map(|k| k.to_string())))
            .collect();
        let want: Vec<(u32, Option<String>)> = case
            .expect
            .iter()
            .map(|&(id, why)| (id, why.map(str::to_owned)))
            .collect();
        assert_eq!(got, want, "{name}");

        // The reference agrees, whatever the input order.
        let raw: Vec<(u32, i64)> = backups
            .iter()
            .map(|b| (b.id, b.accepted.millis()))
            .collect();
        assert_eq!(
            reasons_of(&decisions),
            reference(&case.policy, &raw),
            "{name}"
        );
        let mut reversed = backups.clone();
        reversed.reverse();
        assert_eq!(plan(&case.policy, &reversed), decisions, "{name}");

        // to_delete is the rest, newest first.
        let deleted: Vec<u32> = case
            .expect
            .iter()
            .filter(|(_, why)| why.is_none())
            .map(|&(id, _)| id)
            .collect();
        assert_eq!(to_delete(&case.policy, &backups), deleted, "{name}");

        // Planning what stays again deletes nothing.
        let kept: Vec<BackupPoint<u32>> = backups
            .iter()
            .filter(|b| !deleted.contains(&b.id))
            .cloned()
            .collect();
        assert!(to_delete(&case.policy, &kept).is_empty(), "{name}");
    }
}

#[test]
fn decisions_carry_the_acceptance_time() {
    let backups = points(&[(1, "2024-05-01T07:00:00Z"), (2, "2024-05-02T07:00:00Z")]);
    let decisions = plan(&RotationPolicy::SPEC, &backups);
    assert_eq!(decisions[0].accepted, at("2024-05-02T07:00:00Z"));
    assert_eq!(
        decisions[0].keep,
        Some(KeptBy {
            rule: RotationRule::Last,
            position: 1,
            oldest: false
        })
    );
}

/// Every six hours for three years: each rule fills its quota exactly.
#[test]
fn at_most_23_are_kept() {
    let start = Utc.with_ymd_and_hms(2022, 1, 1, 1, 0, 0).unwrap();
    let backups: Vec<BackupPoint<u32>> = (0..3 * 365 * 4)
        .map(|i| BackupPoint {
            id: i,
            accepted: Timestamp::from_millis(
                (start + Duration::hours(6 * i64::from(i))).timestamp_millis(),
            ),
        })
        .collect();
    let decisions = plan(&RotationPolicy::SPEC, &backups);
    let kept: Vec<KeptBy> = decisions.iter().filter_map(|d| d.keep).collect();
    assert_eq!(kept.len(), 23);
    let count = |rule| kept.iter().filter(|k| k.rule == rule && !k.oldest).count();
    assert_eq!(count(RotationRule::Last), 7);
    assert_eq!(count(RotationRule::Weekly), 4);
    assert_eq!(count(RotationRule::Monthly), 12);

    let survivors: Vec<BackupPoint<u32>> = backups
        .iter()
        .filter(|b| kept_ids(&decisions).contains(&b.id))
        .cloned()
        .collect();
    assert!(to_delete(&RotationPolicy::SPEC, &survivors).is_empty());
}

// ---------------------------------------------------------------------------------
// 400 days of daily backups, rotated after each day as ingest and the sweep do.
// ---------------------------------------------------------------------------------

#[test]
fn four_hundred_days_of_daily_rotation() {
    let policy = RotationPolicy::SPEC;
    // From December 2023, so the run crosses two new years (and 2024's leap day).
    let first_day = Utc.with_ymd_and_hms(2023, 12, 1, 7, 0, 0).unwrap();
    let mut kept: Vec<BackupPoint<u64>> = Vec::new();
    let mut next_id = 0u64;
    let mut ever_deleted: BTreeSet<u64> = BTreeSet::new();
    let mut history: Vec<(u64, i64)> = Vec::new();

    for day in 0..400i64 {
        // Deterministic irregularity: some days are skipped, some have a second
        // backup in the evening, some a second one in the same second as the first.
        let daily = first_day + Duration::days(day);
        let mut today = Vec::new();
        if day % 11 != 5 {
            today.push(daily);
            if day % 7 == 3 {
                today.push(daily + Duration::hours(12));
            }
            if day % 37 == 4 {
                today.push(daily + Duration::milliseconds(500));
            }
        }
        for t in today {
            next_id += 1;
            history.push((next_id, t.timestamp_millis()));
            kept.push(BackupPoint {
                id: next_id,
                accepted: Timestamp::from_millis(t.timestamp_millis()),
            });
        }

        // Rotate what is stored now: what survived so far plus today's.
        let before = kept.clone();
        let decisions = plan(&policy, &before);
        let raw: Vec<(u64, i64)> = before.iter().map(|b| (b.id, b.accepted.millis())).collect();
        assert_eq!(
            reasons_of(&decisions),
            reference(&policy, &raw),
            "day {day}: rotation differs from the reference rule"
        );
        let keep: BTreeSet<u64> = kept_ids(&decisions).into_iter().collect();
        ever_deleted.extend(before.iter().map(|b| b.id).filter(|id| !keep.contains(id)));
        kept.retain(|b| keep.contains(&b.id));

        // What stays is stable: rotating it again changes nothing.
        assert!(
            to_delete(&policy, &kept).is_empty(),
            "day {day}: not idempotent"
        );
        assert!(kept.len() <= 23, "day {day}: {} kept", kept.len());
        assert!(kept.iter().all(|b| !ever_deleted.contains(&b.id)));
        check_invariants(day, &before, &keep);
    }

    // After 400 days, 14 months hold backups: every quota is full, and the first
    // backups have aged out.
    assert_eq!(kept.len(), 23);
    assert!(ever_deleted.contains(&1));
    // Each period's newest backup survives until its period is no longer wanted, so
    // here the rule applied once to the whole history keeps the same 23.
    let survivors: BTreeSet<u64> = kept.iter().map(|b| b.id).collect();
    let whole: BTreeSet<u64> = reference(&policy, &history).into_keys().collect();
    assert_eq!(survivors, whole);
}

/// What borg's rule promises, stated directly on the set that was rotated: the newest
/// backup of each of the 7 newest seconds, 4 newest ISO weeks and 12 newest months
/// holding backups stays (each such period is used up by an earlier keep or kept).
fn check_invariants(day: i64, rotated: &[BackupPoint<u64>], keep: &BTreeSet<u64>) {
    let mut newest_first: Vec<&BackupPoint<u64>> = rotated.iter().collect();
    newest_first.sort_by_key(|b| Reverse((b.accepted, b.id)));
    let newest_of_periods = |pattern: &str, n: usize| -> Vec<u64> {
        let mut seen = BTreeSet::new();
        newest_first
            .iter()
            .filter(|b| seen.insert(period(b.accepted.millis(), pattern)))
            .take(n)
            .map(|b| b.id)
            .collect()
    };
    for (pattern, n) in [("%Y-%m-%d %H:%M:%S", 7), ("%G-%V", 4), ("%Y-%m", 12)] {
        for id in newest_of_periods(pattern, n) {
            assert!(
                keep.contains(&id),
                "day {day}: {pattern} newest {id} dropped"
            );
        }
    }
    if let Some(newest) = newest_first.first() {
        assert!(keep.contains(&newest.id), "day {day}: newest dropped");
    }
}

#[test]
fn the_reference_knows_iso_weeks() {
    // Guards the reference itself: chrono's %G-%V is ISO 8601.
    let week = |s: &str| period(at(s).millis(), "%G-%V");
    assert_eq!(week("2020-12-31T00:00:00Z"), "2020-53");
    assert_eq!(week("2021-01-01T00:00:00Z"), "2020-53");
    assert_eq!(week("2024-12-30T00:00:00Z"), "2025-01");
    let d = Utc.with_ymd_and_hms(2024, 12, 30, 0, 0, 0).unwrap();
    assert_eq!(d.iso_week().year(), 2025);
}

// ---------------------------------------------------------------------------------
// Random input.
// ---------------------------------------------------------------------------------

const T0: i64 = 1_700_000_000_000;

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..3_000,            // a few within the same seconds
        0i64..3 * 86_400_000,   // a few days
        0i64..900 * 86_400_000, // a few years
        Just(0i64),             // identical times
    ]
}

fn backup_set() -> impl Strategy<Value = Vec<BackupPoint<u16>>> {
    prop::collection::btree_map(any::<u16>(), offset(), 0..80).prop_map(|m| {
        m.into_iter()
            .map(|(id, off)| BackupPoint {
                id,
                accepted: Timestamp::from_millis(T0 + off),
            })
            .collect()
    })
}

fn policy() -> impl Strategy<Value = RotationPolicy> {
    prop_oneof![
        Just(RotationPolicy::SPEC),
        (0u32..10, 0u32..6, 0u32..14).prop_map(|(l, w, m)| RotationPolicy {
            keep_last: l,
            keep_weekly: w,
            keep_monthly: m,
        }),
    ]
}

proptest! {
    #[test]
    fn plan_properties(
        policy in policy(),
        (backups, shuffled) in backup_set().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
    ) {
        let decisions = plan(&policy, &backups);
        prop_assert_eq!(&plan(&policy, &backups), &decisions);
        prop_assert_eq!(&plan(&policy, &shuffled), &decisions);
        prop_assert_eq!(decisions.len(), backups.len());

        let kept = kept_ids(&decisions);
        prop_assert!(kept.len() as u64 <= policy.max_kept());
        if policy == RotationPolicy::SPEC {
            prop_assert!(kept.len() <= 23);
        }
        if policy.max_kept() > 0 && !decisions.is_empty() {
            prop_assert!(decisions[0].is_kept(), "newest dropped");
        }
        for pair in decisions.windows(2) {
            prop_assert!((pair[0].accepted, pair[0].id) > (pair[1].accepted, pair[1].id));
        }

        let raw: Vec<(u16, i64)> = backups.iter().map(|b| (b.id, b.accepted.millis())).collect();
        prop_assert_eq!(reasons_of(&decisions), reference(&policy, &raw));

        let survivors: Vec<BackupPoint<u16>> =
            backups.iter().filter(|b| kept.contains(&b.id)).cloned().collect();
        prop_assert!(to_delete(&policy, &survivors).is_empty(), "re-planning deletes");
    }
}

// ---------------------------------------------------------------------------------
// The operator's preview input.
// ---------------------------------------------------------------------------------

#[test]
fn parses_backup_times() {
    let text =
        "2024-05-01T07:00:00Z\n\n  2024-05-02T09:00:00+02:00  \r\n2024-05-03T07:00:00.250Z\n";
    assert_eq!(
        parse_backup_times(text).unwrap(),
        vec![
            at("2024-05-01T07:00:00Z"),
            at("2024-05-02T07:00:00Z"),
            Timestamp::from_millis(at("2024-05-03T07:00:00Z").millis() + 250),
        ]
    );
    assert_eq!(parse_backup_times("").unwrap(), vec![]);
}

#[test]
fn refuses_bad_backup_times_naming_the_line() {
    let table: &[(&str, &str)] = &[
        (
            "2024-05-01T07:00:00Z\nyesterday\n",
            "line 2: not an RFC 3339",
        ),
        ("\n\n2024-05-01 07:00\n", "line 3: not an RFC 3339"),
        ("2024-13-01T07:00:00Z", "line 1: not an RFC 3339"),
    ];
    for (text, want) in table {
        let err = parse_backup_times(text).unwrap_err();
        assert_eq!(err.field, "backup_times");
        assert!(err.reason.starts_with(want), "{text:?}: {err}");
    }

    let long = format!("2024-05-01T07:00:00Z\n{}", "9".repeat(65));
    let err = parse_backup_times(&long).unwrap_err();
    assert_eq!(err.reason, "line 2: at most 64 characters");
    let exactly_64 = format!("2024-05-01T07:00:00Z{}", " ".repeat(44));
    assert_eq!(parse_backup_times(&exactly_64).unwrap().len(), 1);

    let many = "\n".repeat(100_000);
    assert_eq!(parse_backup_times(&many).unwrap(), vec![]);
    let too_many = format!("{many}2024-05-01T07:00:00Z");
    let err = parse_backup_times(&too_many).unwrap_err();
    assert_eq!(err.reason, "line 100001: at most 100000 lines");
}
