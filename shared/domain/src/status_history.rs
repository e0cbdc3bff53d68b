//! Status history (SPEC 4.3): CPU, memory and disk of an appliance over time, one
//! sample per minute, read back by range and downsampled into at most N
//! equal-width buckets so that a 30-day chart costs the same to draw as an hour.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::Timestamp;

const MINUTE_MS: i64 = 60_000;

/// How far back the history reaches: queries may start no earlier than this
/// (plus [`CLOCK_GRACE`]).
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How much earlier than the retention window a query may start, so that "the
/// last 30 days" computed on a client whose clock is a little behind (or sent
/// a little before the console reads its clock) is not refused. The stored data
/// reaches back further than that (a day, see the hour items' TTL).
pub const CLOCK_GRACE: Duration = Duration::from_secs(3600);
/// Most buckets one query may ask for.
pub const MAX_POINTS: u32 = 2000;
/// Buckets when the query names none.
pub const DEFAULT_POINTS: u32 = 200;

/// One minute's CPU, memory and disk use, in percent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatusSample {
    /// Minutes since the Unix epoch (samples within one minute overwrite).
    pub minute: i64,
    pub cpu: f64,
    pub memory: f64,
    pub disk: f64,
}

impl StatusSample {
    pub fn at(time: Timestamp, cpu: f64, memory: f64, disk: f64) -> Self {
        Self {
            minute: minute_of(time),
            cpu,
            memory,
            disk,
        }
    }

    pub fn time(&self) -> Timestamp {
        Timestamp::from_millis(self.minute.saturating_mul(MINUTE_MS))
    }

    /// The three values in tenths of a percent, `"125,400,30"`: the compact form
    /// stored per minute (a tenth is finer than any chart shows).
    pub fn encode_values(&self) -> String {
        let tenths = |v: f64| (v.clamp(0.0, 100.0) * 10.0).round() as i64;
        format!(
            "{},{},{}",
            tenths(self.cpu),
            tenths(self.memory),
            tenths(self.disk)
        )
    }

    /// Reads what [`encode_values`](Self::encode_values) wrote; `None` for anything else.
    pub fn decode_values(minute: i64, text: &str) -> Option<Self> {
        let mut parts = text.split(',').map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|t| *t <= 1000)
                .map(|t| f64::from(t) / 10.0)
        });
        let (cpu, memory, disk) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            minute,
            cpu,
            memory,
            disk,
        })
    }
}

/// Minutes since the epoch of `t` (rounding down, also before the epoch).
pub fn minute_of(t: Timestamp) -> i64 {
    t.millis().div_euclid(MINUTE_MS)
}

/// Why a history range is refused; each has its own stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeRefusal {
    #[error("`until` must be later than `since`")]
    Empty,
    #[error("`since` reaches back further than the {} days of history kept", RETENTION.as_secs() / 86_400)]
    BeforeRetention,
    #[error("`points` must be from 1 to {MAX_POINTS}")]
    Points,
}

/// A validated history query: `[since, until)`, in at most `points` buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryRange {
    since: Timestamp,
    until: Timestamp,
    points: u32,
}

impl HistoryRange {
    /// `until` may lie in the future (it is capped at `now`, nothing is there yet);
    /// `since` no further back than the retention window from `now`.
    pub fn new(
        since: Timestamp,
        until: Timestamp,
        points: u32,
        now: Timestamp,
    ) -> Result<Self, RangeRefusal> {
        if !(1..=MAX_POINTS).contains(&points) {
            return Err(RangeRefusal::Points);
        }
        if until <= since {
            return Err(RangeRefusal::Empty);
        }
        if since < now.minus(RETENTION).minus(CLOCK_GRACE) {
            return Err(RangeRefusal::BeforeRetention);
        }
        Ok(Self {
            since,
            until: until.min(now.max(since.plus(Duration::from_millis(1)))),
            points,
        })
    }

    pub fn since(&self) -> Timestamp {
        self.since
    }
    pub fn until(&self) -> Timestamp {
        self.until
    }

    /// The width of one bucket: the range split into `points` parts, rounded up
    /// to whole minutes (there is one sample per minute at most).
    pub fn bucket_width_ms(&self) -> i64 {
        // Both positive: `until > since` and `points >= 1`.
        let ceil = |a: i64, b: i64| (a + b - 1) / b;
        let span = self.until.millis() - self.since.millis();
        let width = ceil(span, i64::from(self.points));
        ceil(width, MINUTE_MS).max(1) * MINUTE_MS
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        self.since <= t && t < self.until
    }
}

/// Average and maximum of one metric over a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSummary {
    pub avg: f64,
    pub max: f64,
}

/// One bucket of the downsampled history (only buckets that hold samples).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPoint {
    /// Start of the bucket (RFC 3339); it ends where the next bucket starts.
    pub start: String,
    /// How many one-minute samples the bucket holds.
    pub samples: u32,
    pub cpu: MetricSummary,
    pub memory: MetricSummary,
    pub disk: MetricSummary,
}

/// The answer of a history query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusHistoryView {
    pub since: String,
    /// The end of the range (capped at the console's now).
    pub until: String,
    /// Width of every bucket in seconds.
    pub bucket_secs: u64,
    /// Buckets in time order; empty buckets (no check-ins) are left out.
    pub points: Vec<StatusPoint>,
}

#[derive(Default)]
struct Accumulator {
    n: u32,
    sum: [f64; 3],
    max: [f64; 3],
}

/// Splits `range` into equal-width buckets from `since` (at most `points` of
/// them) and summarizes the samples inside the range in each one. Samples may
/// come in any order; two samples of the same minute both count (the caller
/// dedups).
pub fn downsample<'a>(
    samples: impl IntoIterator<Item = &'a StatusSample>,
    range: &HistoryRange,
) -> Vec<StatusPoint> {
    let width = range.bucket_width_ms();
    let mut buckets: std::collections::BTreeMap<i64, Accumulator> = Default::default();
    for s in samples {
        let t = s.time();
        if !range.contains(t) {
            continue;
        }
        let index = (t.millis() - range.since.millis()) / width;
        let acc = buckets.entry(index).or_default();
        for (i, v) in [s.cpu, s.memory, s.disk].into_iter().enumerate() {
            acc.sum[i] += v;
            acc.max[i] = if acc.n == 0 { v } else { acc.max[i].max(v) };
        }
        acc.n += 1;
    }
    buckets
        .into_iter()
        .map(|(index, acc)| {
            let metric = |i: usize| MetricSummary {
                avg: acc.sum[i] / f64::from(acc.n),
                max: acc.max[i],
            };
            StatusPoint {
                start: Timestamp::from_millis(range.since.millis() + index * width).to_rfc3339(),
                samples: acc.n,
                cpu: metric(0),
                memory: metric(1),
                disk: metric(2),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOUR_MS: i64 = 3_600_000;
    const DAY_MS: i64 = 24 * HOUR_MS;
    const NOW: i64 = 1_764_072_000_000;

    fn range(since: i64, until: i64, points: u32) -> HistoryRange {
        HistoryRange::new(
            Timestamp::from_millis(since),
            Timestamp::from_millis(until),
            points,
            Timestamp::from_millis(NOW),
        )
        .unwrap()
    }

    fn sample(ms: i64, cpu: f64) -> StatusSample {
        StatusSample::at(Timestamp::from_millis(ms), cpu, cpu / 2.0, 50.0)
    }

    #[test]
    fn values_round_trip_in_tenths() {
        let s = StatusSample::at(Timestamp::from_millis(NOW), 12.54, 40.0, 3.0);
        assert_eq!(s.encode_values(), "125,400,30");
        let back = StatusSample::decode_values(s.minute, &s.encode_values()).unwrap();
        assert_eq!((back.cpu, back.memory, back.disk), (12.5, 40.0, 3.0));
        for bad in ["", "1,2", "1,2,3,4", "1001,0,0", "-1,0,0", "a,b,c"] {
            assert_eq!(StatusSample::decode_values(0, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ranges_are_refused_with_their_reason() {
        let now = Timestamp::from_millis(NOW);
        let new = |since: i64, until: i64, points| {
            HistoryRange::new(
                Timestamp::from_millis(since),
                Timestamp::from_millis(until),
                points,
                now,
            )
        };
        assert_eq!(new(NOW - HOUR_MS, NOW, 0), Err(RangeRefusal::Points));
        assert_eq!(new(NOW - HOUR_MS, NOW, 2001), Err(RangeRefusal::Points));
        assert_eq!(new(NOW, NOW, 10), Err(RangeRefusal::Empty));
        assert_eq!(new(NOW, NOW - 1, 10), Err(RangeRefusal::Empty));
        assert_eq!(
            new(NOW - 31 * DAY_MS, NOW, 10),
            Err(RangeRefusal::BeforeRetention)
        );
        assert!(new(NOW - 30 * DAY_MS - HOUR_MS, NOW, 2000).is_ok());
        assert_eq!(
            new(NOW - 30 * DAY_MS - HOUR_MS - 1, NOW, 2000),
            Err(RangeRefusal::BeforeRetention)
        );
        // A future end is capped at now.
        assert_eq!(
            new(NOW - HOUR_MS, NOW + DAY_MS, 10)
                .unwrap()
                .until()
                .millis(),
            NOW
        );
    }

    #[test]
    fn a_short_range_keeps_every_minute() {
        let r = range(NOW - HOUR_MS, NOW, 200);
        assert_eq!(r.bucket_width_ms(), 60_000);
        let samples: Vec<_> = (0..60)
            .map(|m| sample(NOW - HOUR_MS + m * 60_000, m as f64))
            .collect();
        let points = downsample(&samples, &r);
        assert_eq!(points.len(), 60);
        assert_eq!(points[7].cpu.avg, 7.0);
        assert_eq!(points[7].samples, 1);
    }

    #[test]
    fn buckets_average_and_take_the_max() {
        // 4 hours into 2 buckets of 2 hours.
        let r = range(NOW - 4 * HOUR_MS, NOW, 2);
        assert_eq!(r.bucket_width_ms(), 2 * HOUR_MS);
        let samples = [
            sample(NOW - 4 * HOUR_MS, 10.0),
            sample(NOW - 3 * HOUR_MS, 30.0),
            sample(NOW - HOUR_MS, 90.0),
            // Outside the range on both sides: ignored.
            sample(NOW - 5 * HOUR_MS, 100.0),
            sample(NOW, 100.0),
        ];
        let points = downsample(&samples, &r);
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].samples, 2);
        assert_eq!(
            points[0].cpu,
            MetricSummary {
                avg: 20.0,
                max: 30.0
            }
        );
        assert_eq!(
            points[0].memory,
            MetricSummary {
                avg: 10.0,
                max: 15.0
            }
        );
        assert_eq!(
            points[0].start,
            Timestamp::from_millis(NOW - 4 * HOUR_MS).to_rfc3339()
        );
        assert_eq!(
            points[1].cpu,
            MetricSummary {
                avg: 90.0,
                max: 90.0
            }
        );
        assert_eq!(
            points[1].start,
            Timestamp::from_millis(NOW - 2 * HOUR_MS).to_rfc3339()
        );
    }

    proptest! {
        #[test]
        fn never_more_buckets_than_asked_and_no_sample_lost(
            span_min in 1i64..(30 * 24 * 60),
            points in 1u32..=MAX_POINTS,
            offsets in proptest::collection::vec(0i64..(30 * 24 * 60), 0..300),
            cpu in 0.0f64..=100.0,
        ) {
            let r = range(NOW - span_min * 60_000, NOW, points);
            let samples: Vec<_> = offsets
                .iter()
                .map(|o| sample(NOW - 30 * DAY_MS + o * 60_000, cpu))
                .collect();
            let out = downsample(&samples, &r);
            prop_assert!(out.len() <= points as usize);
            let inside = samples.iter().filter(|s| r.contains(s.time())).count();
            prop_assert_eq!(out.iter().map(|p| p.samples as usize).sum::<usize>(), inside);
            for p in &out {
                prop_assert!((p.cpu.avg - cpu).abs() < 1e-9 && p.cpu.max == cpu);
            }
            // Buckets are in time order and start inside the range.
            let starts: Vec<_> = out.iter().map(|p| p.start.clone()).collect();
            let mut sorted = starts.clone();
            sorted.sort();
            prop_assert_eq!(starts, sorted);
        }
    }
}
