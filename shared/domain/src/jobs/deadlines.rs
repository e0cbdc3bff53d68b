//! When a command must be collected, and answered, by (SPEC 5: "a command not
//! collected in time, or not answered in time, times out").
//!
//! `collect_by` is a not-after for delivery: once it has passed, the command is never
//! delivered, even to an appliance that reappears later (a factory reset must not run on
//! an appliance that comes back days afterwards). A sent command must be answered within
//! the answer window after it was collected.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::command_state::{CommandState, CommandStatus};
use super::operation::Operation;
use crate::Timestamp;

/// How long an immediate command waits to be collected; for a planned one, how long
/// after its not-before time.
pub const COLLECT_WINDOW: Duration = Duration::from_secs(3600);
/// How long a collected command may go unanswered.
pub const ANSWER_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The answer window of operations whose success only the next check-in proves
/// (reboot, rollback, firmware update): the appliance has to go down, come back up and
/// check in again.
pub const ANSWER_WINDOW_CONFIRMED_BY_CHECKIN: Duration = Duration::from_secs(30 * 60);

/// A command's deadlines, fixed when it is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// Not delivered before this (planned operations).
    #[serde(default)]
    pub not_before: Option<Timestamp>,
    /// Not delivered after this; at this instant it may still be.
    pub collect_by: Timestamp,
    /// How long after collection the answer may take.
    pub answer_window_secs: u64,
}

impl Deadlines {
    /// The deadlines of a command for `op` created at `created_at`. A not-before time in
    /// the past counts as "now", so such a command still gets its full collect window.
    pub fn for_operation(op: &Operation, created_at: Timestamp) -> Self {
        let not_before = op.not_before();
        let start = not_before.map_or(created_at, |nb| nb.max(created_at));
        let answer_window = if op.success_needs_checkin() {
            ANSWER_WINDOW_CONFIRMED_BY_CHECKIN
        } else {
            ANSWER_WINDOW
        };
        Self {
            not_before,
            collect_by: start.plus(COLLECT_WINDOW),
            answer_window_secs: answer_window.as_secs(),
        }
    }

    pub fn answer_window(&self) -> Duration {
        Duration::from_secs(self.answer_window_secs)
    }

    /// The answer deadline of a command collected at `sent_at`; at this instant an
    /// answer is still in time.
    pub fn answer_by(&self, sent_at: Timestamp) -> Timestamp {
        sent_at.plus(self.answer_window())
    }
}

/// Whether the command may be handed to its appliance now: queued, at or after its
/// not-before time, and not after its collect-by time.
pub fn deliverable(status: &CommandStatus, deadlines: &Deadlines, now: Timestamp) -> bool {
    status.state == CommandState::Queued
        && now <= deadlines.collect_by
        && deadlines.not_before.is_none_or(|nb| now >= nb)
}

/// Whether the command should time out now: queued past its collect-by time, or sent
/// and unanswered past its answer-by time. A sent command without a recorded
/// collection time is measured from its collect-by time, the latest it can have been
/// collected.
pub fn due_timeout(status: &CommandStatus, deadlines: &Deadlines, now: Timestamp) -> bool {
    match status.state {
        CommandState::Queued => now > deadlines.collect_by,
        CommandState::Sent => {
            let sent_at = status.sent_at.unwrap_or(deadlines.collect_by);
            now > deadlines.answer_by(sent_at)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firmware::FirmwareVersion;
    use crate::jobs::CommandEvent;

    const MIN: Duration = Duration::from_secs(60);

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn immediate_commands_have_an_hour_to_be_collected() {
        let d = Deadlines::for_operation(&Operation::FactoryReset, t(0));
        assert_eq!(d.not_before, None);
        assert_eq!(d.collect_by, t(3600));
        assert_eq!(d.answer_window(), ANSWER_WINDOW);
        let q = CommandStatus::new(t(0));
        assert!(deliverable(&q, &d, t(0)));
        assert!(deliverable(&q, &d, t(3600)));
        assert!(!due_timeout(&q, &d, t(3600)));
        assert!(!deliverable(&q, &d, t(3600).plus(Duration::from_millis(1))));
        assert!(due_timeout(&q, &d, t(3600).plus(Duration::from_millis(1))));
        // Days later: still never delivered.
        assert!(!deliverable(&q, &d, t(5 * 24 * 3600)));
    }

    #[test]
    fn planned_updates_wait_for_their_time() {
        let op = Operation::FirmwareUpdate {
            version: FirmwareVersion::new(14, 2, 0),
            not_before: t(86_400),
        };
        let d = Deadlines::for_operation(&op, t(0));
        assert_eq!(d.not_before, Some(t(86_400)));
        assert_eq!(d.collect_by, t(86_400 + 3600));
        assert_eq!(d.answer_window(), ANSWER_WINDOW_CONFIRMED_BY_CHECKIN);
        let q = CommandStatus::new(t(0));
        assert!(!deliverable(&q, &d, t(86_399)));
        assert!(!due_timeout(&q, &d, t(86_399)));
        assert!(deliverable(&q, &d, t(86_400)));
        assert!(!deliverable(&q, &d, t(86_400 + 3601)));
        assert!(due_timeout(&q, &d, t(86_400 + 3601)));

        // Planned in the past: as if immediate.
        let past = Operation::FirmwareUpdate {
            version: FirmwareVersion::new(14, 2, 0),
            not_before: t(-86_400),
        };
        assert_eq!(Deadlines::for_operation(&past, t(0)).collect_by, t(3600));
    }

    #[test]
    fn sent_commands_must_be_answered_in_time() {
        let d = Deadlines::for_operation(&Operation::Reboot, t(0));
        let sent = CommandStatus::new(t(0))
            .apply(&CommandEvent::Collected, t(600))
            .unwrap();
        assert!(!deliverable(&sent, &d, t(600)));
        assert_eq!(d.answer_by(t(600)), t(600).plus(30 * MIN));
        assert!(!due_timeout(&sent, &d, t(600).plus(30 * MIN)));
        assert!(due_timeout(&sent, &d, t(601).plus(30 * MIN)));

        let app = Operation::Application {
            name: "ips".into(),
            action: crate::jobs::AppAction::Stop,
        };
        let d = Deadlines::for_operation(&app, t(0));
        assert!(due_timeout(&sent, &d, t(601).plus(15 * MIN)));

        let done = sent.apply(&CommandEvent::Failed, t(700)).unwrap();
        assert!(!due_timeout(&done, &d, t(1_000_000)));
        assert!(!deliverable(&done, &d, t(700)));
    }

    #[test]
    fn deadlines_on_the_wire() {
        let d = Deadlines::for_operation(&Operation::Reboot, t(0));
        let json = serde_json::to_value(d).unwrap();
        assert_eq!(json["answer_window_secs"], 1800);
        assert_eq!(serde_json::from_value::<Deadlines>(json).unwrap(), d);
    }
}
