//! A job's progress across its appliances: how many of its commands are in each state.

use serde::{Deserialize, Serialize};

use super::command_state::CommandState;

/// Per-state counts of a job's commands. Kept up to date by [`JobCounts::add`] when a
/// command is created and [`JobCounts::moved`] when one changes state, so the total
/// always equals the number of commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobCounts {
    queued: u64,
    sent: u64,
    succeeded: u64,
    failed: u64,
    rejected: u64,
    timed_out: u64,
    canceled: u64,
}

/// A move out of a state that has no command in it: the counts were out of step with
/// the commands, and nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no command is {0} to move out of it")]
pub struct CountUnderflow(pub CommandState);

impl JobCounts {
    /// Counts of the given commands' states.
    pub fn of(states: impl IntoIterator<Item = CommandState>) -> Self {
        let mut c = Self::default();
        for s in states {
            c.add(s);
        }
        c
    }

    fn slot(&mut self, state: CommandState) -> &mut u64 {
        match state {
            CommandState::Queued => &mut self.queued,
            CommandState::Sent => &mut self.sent,
            CommandState::Succeeded => &mut self.succeeded,
            CommandState::Failed => &mut self.failed,
            CommandState::Rejected => &mut self.rejected,
            CommandState::TimedOut => &mut self.timed_out,
            CommandState::Canceled => &mut self.canceled,
        }
    }

    pub fn get(&self, state: CommandState) -> u64 {
        match state {
            CommandState::Queued => self.queued,
            CommandState::Sent => self.sent,
            CommandState::Succeeded => self.succeeded,
            CommandState::Failed => self.failed,
            CommandState::Rejected => self.rejected,
            CommandState::TimedOut => self.timed_out,
            CommandState::Canceled => self.canceled,
        }
    }

    /// One more command, in `state` (normally queued).
    pub fn add(&mut self, state: CommandState) {
        *self.slot(state) += 1;
    }

    /// One command went from `from` to `to` (the same state is allowed and changes
    /// nothing, e.g. a cancel request on a sent command).
    pub fn moved(&mut self, from: CommandState, to: CommandState) -> Result<(), CountUnderflow> {
        if self.get(from) == 0 {
            return Err(CountUnderflow(from));
        }
        *self.slot(from) -= 1;
        *self.slot(to) += 1;
        Ok(())
    }

    /// All commands of the job.
    pub fn total(&self) -> u64 {
        CommandState::ALL.iter().map(|s| self.get(*s)).sum()
    }

    /// Commands not yet finished (queued or sent).
    pub fn open(&self) -> u64 {
        self.queued + self.sent
    }

    /// Whether every command is in a terminal state.
    pub fn is_finished(&self) -> bool {
        self.open() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandState as S;

    #[test]
    fn counts_follow_moves() {
        let mut c = JobCounts::of([S::Queued; 3]);
        assert_eq!(
            (c.total(), c.get(S::Queued), c.is_finished()),
            (3, 3, false)
        );
        c.moved(S::Queued, S::Sent).unwrap();
        c.moved(S::Queued, S::Canceled).unwrap();
        c.moved(S::Sent, S::Sent).unwrap();
        assert_eq!(
            c.moved(S::Failed, S::Succeeded),
            Err(CountUnderflow(S::Failed))
        );
        c.moved(S::Sent, S::Succeeded).unwrap();
        c.moved(S::Queued, S::TimedOut).unwrap();
        assert!(c.is_finished());
        assert_eq!(c.total(), 3);
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            serde_json::json!({"queued": 0, "sent": 0, "succeeded": 1, "failed": 0,
                "rejected": 0, "timed_out": 1, "canceled": 1})
        );
        assert_eq!(
            serde_json::from_value::<JobCounts>(serde_json::to_value(c).unwrap()).unwrap(),
            c
        );
    }
}
