//! The sign-in throttle, table-driven.

use rampart_identity::throttle::{
    FailureState, LOCK_AFTER, LOCK_SECS, locked_until, may_attempt, next_allowed_at,
    record_failure, record_success,
};

const T: i64 = 1_700_000_000;

fn state(failures: u32) -> FailureState {
    FailureState {
        failures,
        last_failure_secs: T,
    }
}

#[test]
fn delays_by_failure_count() {
    // (failures, seconds after the last failure before the next attempt, locked)
    let table: &[(u32, Option<i64>, bool)] = &[
        (0, None, false),
        (1, None, false),
        (2, None, false),
        (3, None, false),
        (4, Some(2), false),
        (5, Some(4), false),
        (6, Some(8), false),
        (7, Some(16), false),
        (8, Some(32), false),
        (9, Some(64), false),
        (10, Some(900), true),
        (11, Some(900), true),
        (20, Some(900), true),
        (u32::MAX, Some(900), true),
    ];
    for &(failures, delay, locked) in table {
        let s = state(failures);
        assert_eq!(
            next_allowed_at(s),
            delay.map(|d| T + d),
            "failures {failures}"
        );
        assert_eq!(
            locked_until(s),
            locked.then_some(T + LOCK_SECS),
            "failures {failures}"
        );
    }
    assert_eq!(LOCK_AFTER, 10);
}

#[test]
fn may_attempt_by_time() {
    // (failures, seconds since the last failure, allowed)
    let table: &[(u32, i64, bool)] = &[
        (3, 0, true),
        (4, 1, false),
        (4, 2, true),
        (6, 7, false),
        (6, 8, true),
        (10, 899, false),
        (10, 900, true),
        (15, 600, false),
    ];
    for &(failures, after, allowed) in table {
        assert_eq!(
            may_attempt(state(failures), T + after),
            allowed,
            "{failures} failures, {after} s"
        );
    }
}

#[test]
fn record_failure_counts_and_resets() {
    // (failures before, seconds since the last failure, failures after)
    let table: &[(u32, i64, u32)] = &[
        (0, 0, 1),
        (3, 5, 4),
        (9, 100, 10),
        (10, 60, 11), // attempts during a lock still count
        (10, 900, 1), // the lock has run out: a fresh count
        (5, 899, 6),
        (5, 900, 1), // quiet for 15 minutes: old typos forgotten
        (u32::MAX, 1, u32::MAX),
    ];
    for &(before, after, expected) in table {
        let next = record_failure(state(before), T + after);
        assert_eq!(
            next,
            FailureState {
                failures: expected,
                last_failure_secs: T + after
            },
            "{before}, {after} s"
        );
    }
}

#[test]
fn ten_quick_failures_lock_then_success_resets() {
    let mut s = FailureState::default();
    let mut now = T;
    for _ in 0..LOCK_AFTER {
        now = next_allowed_at(s).unwrap_or(now).max(now) + 1;
        s = record_failure(s, now);
    }
    assert_eq!(locked_until(s), Some(now + LOCK_SECS));
    assert!(!may_attempt(s, now + LOCK_SECS - 1));
    assert!(may_attempt(s, now + LOCK_SECS));
    assert_eq!(record_success(), FailureState::default());
    assert_eq!(next_allowed_at(record_success()), None);
}

#[test]
fn extreme_times_do_not_overflow() {
    let s = FailureState {
        failures: 12,
        last_failure_secs: i64::MAX,
    };
    assert_eq!(next_allowed_at(s), Some(i64::MAX));
    assert_eq!(locked_until(s), Some(i64::MAX));
    let _ = record_failure(s, i64::MIN);
    let _ = record_failure(
        FailureState {
            failures: 1,
            last_failure_secs: i64::MIN,
        },
        i64::MAX,
    );
}
