//! Time as the console sees it: milliseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A point in time, milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// 1970-01-01T00:00:00Z, the stand-in for a time the console fills in.
    pub const fn epoch() -> Self {
        Self(0)
    }

    pub const fn from_secs(s: i64) -> Self {
        Self(s.saturating_mul(1000))
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds, as DynamoDB's TTL attribute wants them.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn now_system() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    pub fn minus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Absolute distance between two instants.
    pub fn distance(self, other: Timestamp) -> Duration {
        Duration::from_millis(self.0.abs_diff(other.0))
    }

    /// The UTC calendar day this instant falls on.
    pub fn utc_date(self) -> chrono::NaiveDate {
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(self.0)
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }

    pub fn to_rfc3339(self) -> String {
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(self.0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_down_even_before_the_epoch() {
        assert_eq!(Timestamp::from_millis(1999).secs(), 1);
        assert_eq!(Timestamp::from_millis(-1).secs(), -1);
    }

    #[test]
    fn formats_as_rfc3339_utc() {
        assert_eq!(
            Timestamp::from_secs(1_700_000_000).to_rfc3339(),
            "2023-11-14T22:13:20.000Z"
        );
    }

    #[test]
    fn plus_and_distance_agree() {
        let t = Timestamp::from_secs(100);
        assert_eq!(
            t.plus(Duration::from_secs(5)).distance(t),
            Duration::from_secs(5)
        );
    }
}
