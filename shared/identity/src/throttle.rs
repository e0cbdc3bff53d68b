//! The per-user sign-in throttle, as pure functions of the stored failure count: the
//! store keeps a `FailureState` per user, and the sign-in handler asks these functions
//! whether an attempt may go ahead.
//!
//! Each wrong password or code counts; a successful sign-in resets the state. The first
//! few failures are free (typos), then each costs a doubling delay, and a long run locks
//! the account for a while, so an online guesser gets a few dozen tries per hour at most.
//! An attempt refused by the throttle is neither checked nor recorded as a failure.

/// Consecutive failures allowed before any delay.
pub const FREE_FAILURES: u32 = 3;
/// The first delay, doubled with every further failure.
pub const BASE_DELAY_SECS: i64 = 2;
/// The longest delay, and how long a lock lasts.
pub const MAX_DELAY_SECS: i64 = 15 * 60;
/// Consecutive failures that lock the account.
pub const LOCK_AFTER: u32 = 10;
/// How long a lock lasts, from the last failure.
pub const LOCK_SECS: i64 = 15 * 60;

/// What the store keeps per user. `FailureState::default()` is a user with no recent
/// failure, the state after a success.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureState {
    pub failures: u32,
    pub last_failure_secs: i64,
}

/// When the next attempt may be made, or `None` if it may be made now whatever the
/// time: after failure `FREE_FAILURES + n` (n ≥ 1) the wait is `2^n` seconds from the last
/// failure (2, 4, 8, ...), capped at 15 minutes. Includes the lock.
pub fn next_allowed_at(state: FailureState) -> Option<i64> {
    if state.failures <= FREE_FAILURES {
        return None;
    }
    let doublings = state.failures - FREE_FAILURES - 1;
    // 2 << 9 already exceeds the cap, so larger shifts need not be computed.
    let delay = if doublings >= 10 {
        MAX_DELAY_SECS
    } else {
        (BASE_DELAY_SECS << doublings).min(MAX_DELAY_SECS)
    };
    let delay = match locked_until(state) {
        Some(_) => delay.max(LOCK_SECS),
        None => delay,
    };
    Some(state.last_failure_secs.saturating_add(delay))
}

/// Until when the account is locked: `LOCK_AFTER` or more consecutive failures lock it
/// for `LOCK_SECS` after the last one.
pub fn locked_until(state: FailureState) -> Option<i64> {
    (state.failures >= LOCK_AFTER).then(|| state.last_failure_secs.saturating_add(LOCK_SECS))
}

/// Whether an attempt at `now_secs` may go ahead.
pub fn may_attempt(state: FailureState, now_secs: i64) -> bool {
    next_allowed_at(state).is_none_or(|at| now_secs >= at)
}

/// The state after a failed attempt at `now_secs`.
///
/// A failure `LOCK_SECS` or more after the previous one starts a fresh count, as when a
/// lock runs out: old typos are forgotten, and a guesser who waits that long gains no
/// more than one who sits out the lock. Waiting out a shorter delay keeps the count.
pub fn record_failure(state: FailureState, now_secs: i64) -> FailureState {
    let quiet_since = now_secs.saturating_sub(state.last_failure_secs);
    let previous = if quiet_since >= LOCK_SECS {
        0
    } else {
        state.failures
    };
    FailureState {
        failures: previous.saturating_add(1),
        last_failure_secs: now_secs,
    }
}

/// The state after a successful sign-in.
pub fn record_success() -> FailureState {
    FailureState::default()
}
