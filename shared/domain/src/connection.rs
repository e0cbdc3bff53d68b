//! Connected or Disconnected (SPEC 3.2).

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::Timestamp;

/// How many poll intervals may pass without a check-in before an appliance
/// counts as disconnected.
pub const MISSED_POLLS_ALLOWED: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectionStatus {
    Connected,
    Disconnected,
}

impl ConnectionStatus {
    pub fn at(now: Timestamp, last_checkin: Option<Timestamp>, poll_interval: Duration) -> Self {
        match last_checkin {
            Some(seen)
                if now.millis() - seen.millis()
                    <= (poll_interval * MISSED_POLLS_ALLOWED).as_millis() as i64 =>
            {
                Self::Connected
            }
            _ => Self::Disconnected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_within_three_intervals() {
        let poll = Duration::from_secs(60);
        let seen = Timestamp::from_secs(1000);
        let at = |s| ConnectionStatus::at(Timestamp::from_secs(s), Some(seen), poll);
        assert_eq!(at(1000), ConnectionStatus::Connected);
        assert_eq!(at(1180), ConnectionStatus::Connected);
        assert_eq!(at(1181), ConnectionStatus::Disconnected);
        assert_eq!(
            ConnectionStatus::at(Timestamp::from_secs(1), None, poll),
            ConnectionStatus::Disconnected
        );
    }
}
