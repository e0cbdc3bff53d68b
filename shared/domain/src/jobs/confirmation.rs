//! Success that only a check-in can prove. A reboot, a rollback or a firmware update
//! takes the appliance down; whatever it says before that proves nothing. Success
//! counts when it checks in afterwards with the expected firmware (update, rollback) or
//! with an uptime younger than the command (reboot).

use serde::{Deserialize, Serialize};

use super::command_state::CommandEvent;
use super::operation::Operation;
use crate::Timestamp;
use crate::firmware::FirmwareVersion;
use crate::report::CheckinReport;

/// What the console knew of the appliance when the command was sent; kept with the
/// command so that a later check-in can be compared against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedState {
    pub firmware: FirmwareVersion,
    #[serde(default)]
    pub previous_firmware: Option<FirmwareVersion>,
}

impl ObservedState {
    pub fn from_report(report: &CheckinReport) -> Self {
        Self {
            firmware: report.firmware,
            previous_firmware: report.previous_firmware,
        }
    }
}

/// What a check-in says about a sent command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// Nothing yet: the appliance has not restarted since, or the operation's success
    /// is not a check-in's to prove (the appliance reports it itself).
    Pending,
    /// The expected firmware, or a fresh uptime for a reboot.
    Succeeded,
    /// The appliance restarted since the command was sent, but not onto the expected
    /// firmware: the update or rollback did not take.
    Failed,
}

impl Confirmation {
    /// The event to apply to the command, if any.
    pub fn event(self) -> Option<CommandEvent> {
        match self {
            Self::Pending => None,
            Self::Succeeded => Some(CommandEvent::Succeeded),
            Self::Failed => Some(CommandEvent::Failed),
        }
    }
}

/// Judges a sent command of `op` by a check-in `after` received at `now` (console
/// time). `sent_at` is when the appliance collected the command; `before` is what the
/// console knew of the appliance then.
///
/// - Reboot: succeeded once the uptime is fresh, i.e. the appliance booted after
///   `sent_at` (`uptime < now - sent_at`); pending otherwise.
/// - Firmware update: succeeded once the reported firmware is the target version;
///   failed if the appliance booted after `sent_at` onto another version; pending
///   otherwise.
/// - Rollback: the same, the target being `before.previous_firmware` (pending if
///   there was none, which [`Operation::check_allowed`] refuses up front).
/// - Anything else: pending; the appliance's own report decides.
///
/// Uptime is measured by the appliance and compared with a console-side interval, so
/// the appliance's clock plays no part.
pub fn confirmed_by_checkin(
    op: &Operation,
    sent_at: Timestamp,
    before: &ObservedState,
    after: &CheckinReport,
    now: Timestamp,
) -> Confirmation {
    let since_sent_ms = now.millis().saturating_sub(sent_at.millis());
    let uptime_ms = i64::try_from(after.uptime_secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    let booted_since = uptime_ms < since_sent_ms;
    let expect_firmware = |target: FirmwareVersion| {
        if after.firmware == target {
            Confirmation::Succeeded
        } else if booted_since {
            Confirmation::Failed
        } else {
            Confirmation::Pending
        }
    };
    match op {
        Operation::Reboot if booted_since => Confirmation::Succeeded,
        Operation::FirmwareUpdate { version, .. } => expect_firmware(*version),
        Operation::Rollback => before
            .previous_firmware
            .map_or(Confirmation::Pending, expect_firmware),
        _ => Confirmation::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> FirmwareVersion {
        FirmwareVersion::parse(s).unwrap()
    }

    fn checkin(firmware: &str, uptime_secs: u64) -> CheckinReport {
        serde_json::from_value(serde_json::json!({
            "firmware": firmware, "hostname": "fw1", "model": "UTM 160",
            "cpu_percent": 1, "memory_percent": 1, "disk_percent": 1,
            "uptime_secs": uptime_secs,
        }))
        .unwrap()
    }

    const SENT: Timestamp = Timestamp::from_secs(1_700_000_000);

    fn at(secs_after_sent: i64) -> Timestamp {
        Timestamp::from_secs(1_700_000_000 + secs_after_sent)
    }

    #[test]
    fn reboot_needs_a_fresh_uptime() {
        let before = ObservedState {
            firmware: v("14.1"),
            previous_firmware: None,
        };
        let judge = |uptime, now| {
            confirmed_by_checkin(
                &Operation::Reboot,
                SENT,
                &before,
                &checkin("14.1", uptime),
                now,
            )
        };
        // Ten minutes later, up for a day: not rebooted yet.
        assert_eq!(judge(86_400, at(600)), Confirmation::Pending);
        // Ten minutes later, up for five: rebooted after the command.
        assert_eq!(judge(300, at(600)), Confirmation::Succeeded);
        // Up exactly as long as since sending: booted no later than the send; not fresh.
        assert_eq!(judge(600, at(600)), Confirmation::Pending);
    }

    #[test]
    fn firmware_update_needs_the_target_version() {
        let op = Operation::FirmwareUpdate {
            version: v("14.2"),
            not_before: SENT,
        };
        let before = ObservedState {
            firmware: v("14.1"),
            previous_firmware: Some(v("14.0")),
        };
        let judge =
            |fw, uptime| confirmed_by_checkin(&op, SENT, &before, &checkin(fw, uptime), at(900));
        assert_eq!(judge("14.1", 86_400), Confirmation::Pending);
        assert_eq!(judge("14.2", 60), Confirmation::Succeeded);
        assert_eq!(judge("14.2", 86_400), Confirmation::Succeeded);
        assert_eq!(judge("14.1", 60), Confirmation::Failed);
        assert_eq!(Confirmation::Failed.event(), Some(CommandEvent::Failed));
        assert_eq!(Confirmation::Pending.event(), None);
    }

    #[test]
    fn rollback_needs_the_previous_version_at_send_time() {
        let before = ObservedState {
            firmware: v("14.2"),
            previous_firmware: Some(v("14.1")),
        };
        let judge = |fw, uptime| {
            confirmed_by_checkin(
                &Operation::Rollback,
                SENT,
                &before,
                &checkin(fw, uptime),
                at(900),
            )
        };
        assert_eq!(judge("14.1", 60), Confirmation::Succeeded);
        assert_eq!(judge("14.2", 86_400), Confirmation::Pending);
        assert_eq!(judge("14.2", 60), Confirmation::Failed);
        let nothing = ObservedState {
            previous_firmware: None,
            ..before
        };
        assert_eq!(
            confirmed_by_checkin(
                &Operation::Rollback,
                SENT,
                &nothing,
                &checkin("14.1", 60),
                at(900)
            ),
            Confirmation::Pending
        );
    }

    #[test]
    fn other_operations_are_not_judged_by_checkins() {
        let report = checkin("14.1", 1);
        let before = ObservedState::from_report(&report);
        for op in [Operation::Shutdown, Operation::FactoryReset] {
            assert_eq!(
                confirmed_by_checkin(&op, SENT, &before, &report, at(900)),
                Confirmation::Pending
            );
        }
    }
}
