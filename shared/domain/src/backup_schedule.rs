//! When an appliance's regular backup runs next (SPEC 6.3): daily at a time of day in
//! the appliance's own time zone, which it reports as its current UTC offset.

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use crate::Timestamp;
use crate::portal_protocol::BackupSchedule;

/// The first instant strictly after `after` at which the appliance's local clock
/// (UTC + `utc_offset_minutes`) shows the schedule's time of day. None when the
/// schedule is off.
pub fn next_run(
    schedule: &BackupSchedule,
    utc_offset_minutes: i16,
    after: Timestamp,
) -> Option<Timestamp> {
    if !schedule.enabled {
        return None;
    }
    let offset = ChronoDuration::minutes(i64::from(utc_offset_minutes));
    let after_utc = DateTime::<Utc>::from_timestamp_millis(after.millis())?;
    let local = after_utc.naive_utc() + offset;
    let at = |date: chrono::NaiveDate| {
        date.and_hms_opt(u32::from(schedule.hour), u32::from(schedule.minute), 0)
            .map(|t| t - offset)
    };
    let today = at(local.date())?;
    let next = if today > after_utc.naive_utc() {
        today
    } else {
        at(local.date().succ_opt()?)?
    };
    Some(Timestamp::from_millis(next.and_utc().timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::from_millis(DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis())
    }

    #[test]
    fn seven_in_the_morning_appliance_time() {
        let daily = BackupSchedule::default();
        let cases = [
            // UTC appliance, before and after 07:00.
            (0, "2026-12-01T06:59:59Z", "2026-12-01T07:00:00Z"),
            (0, "2026-12-01T07:00:00Z", "2026-12-02T07:00:00Z"),
            // CET (UTC+1): 07:00 local is 06:00 UTC.
            (60, "2026-12-01T05:00:00Z", "2026-12-01T06:00:00Z"),
            (60, "2026-12-01T06:00:00Z", "2026-12-02T06:00:00Z"),
            // UTC+14: 02:00 the next day locally, so 07:00 local is 17:00 UTC today.
            (840, "2026-12-01T12:00:00Z", "2026-12-01T17:00:00Z"),
            // UTC-12: 07:00 local is 19:00 UTC the same day.
            (-720, "2026-12-01T12:00:00Z", "2026-12-01T19:00:00Z"),
            // Year boundary.
            (0, "2026-12-31T23:00:00Z", "2027-01-01T07:00:00Z"),
        ];
        for (offset, now, expected) in cases {
            assert_eq!(
                next_run(&daily, offset, at(now)),
                Some(at(expected)),
                "{offset} {now}"
            );
        }
    }

    #[test]
    fn off_means_never_and_other_times_work() {
        let off = BackupSchedule {
            enabled: false,
            ..BackupSchedule::default()
        };
        assert_eq!(next_run(&off, 0, at("2026-12-01T00:00:00Z")), None);
        let late = BackupSchedule {
            enabled: true,
            hour: 23,
            minute: 45,
        };
        assert_eq!(
            next_run(&late, 120, at("2026-12-01T00:00:00Z")),
            Some(at("2026-12-01T21:45:00Z"))
        );
    }
}
