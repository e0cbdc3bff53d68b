//! SPEC 2: an appliance whose license expired more than 40 days ago is removed,
//! unless a VPN configuration references it.

use chrono::NaiveDate;

/// Days after expiry an appliance is still kept.
pub const GRACE_DAYS: i64 = 40;

/// Days since the license's last valid day (`expires`); 0 or less while valid.
pub fn days_expired(expires: NaiveDate, today: NaiveDate) -> i64 {
    (today - expires).num_days()
}

/// The appliance of a license that expired on `expires` is due for removal on
/// `today` (VPN references aside).
pub fn removal_due(expires: NaiveDate, today: NaiveDate) -> bool {
    days_expired(expires, today) > GRACE_DAYS
}

/// Why an appliance was removed, in words for the removal record and the log.
pub fn removal_reason(expires: NaiveDate, today: NaiveDate) -> String {
    format!(
        "license expired on {expires}, {} days ago (removed after {GRACE_DAYS})",
        days_expired(expires, today)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn removed_only_after_more_than_forty_days() {
        let expires = d("2026-01-01");
        assert!(!removal_due(expires, d("2025-12-31")), "still valid");
        assert!(!removal_due(expires, d("2026-01-01")), "last valid day");
        assert!(!removal_due(expires, d("2026-02-09")), "39 days");
        assert!(!removal_due(expires, d("2026-02-10")), "exactly 40 days");
        assert!(removal_due(expires, d("2026-02-11")), "41 days");
        assert_eq!(days_expired(expires, d("2026-02-11")), 41);
    }

    #[test]
    fn the_reason_names_the_date_and_the_days() {
        assert_eq!(
            removal_reason(d("2026-01-01"), d("2026-02-11")),
            "license expired on 2026-01-01, 41 days ago (removed after 40)"
        );
    }
}
