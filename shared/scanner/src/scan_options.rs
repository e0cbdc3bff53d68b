//! How hard a scan pushes: parallelism, retransmissions and time-outs.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Scan settings. `Default` suits a scan of the 100-port profile across the Internet;
/// `validate` (called by every scan) refuses values that make no sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOptions {
    /// Ports probed at the same time: one socket (one file descriptor, one local port)
    /// each.
    pub concurrency: usize,
    /// Connection attempts per port (1 = no retransmission). An attempt with no answer
    /// within the time-out is abandoned and made again on a fresh socket, i.e. a fresh
    /// SYN, so one lost packet does not hide an open port.
    pub attempts: u32,
    /// The time-out before any round-trip time has been measured.
    pub initial_timeout: Duration,
    /// Bounds of the adaptive time-out (see `RttEstimator`).
    pub min_timeout: Duration,
    pub max_timeout: Duration,
}

impl Default for ScanOptions {
    /// 100 in flight (the whole profile at once), 3 attempts (two retransmissions, like
    /// TCP's own first two SYN retries), a 1 s initial time-out (RFC 6298's initial
    /// RTO), adapted within 100 ms (nmap's floor) and 3 s. A port that drops everything
    /// costs 3 time-outs, run in parallel with every other port.
    fn default() -> Self {
        Self {
            concurrency: 100,
            attempts: 3,
            initial_timeout: Duration::from_secs(1),
            min_timeout: Duration::from_millis(100),
            max_timeout: Duration::from_secs(3),
        }
    }
}

/// Why scan options were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("concurrency must be from 1 to {max}")]
    Concurrency { max: usize },
    #[error("attempts must be from 1 to {max}")]
    Attempts { max: u32 },
    #[error(
        "time-outs must satisfy {min_floor:?} <= min_timeout <= initial_timeout <= max_timeout <= {max_ceiling:?}"
    )]
    Timeouts {
        min_floor: Duration,
        max_ceiling: Duration,
    },
}

impl OptionsError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Concurrency { .. } => "invalid_concurrency",
            Self::Attempts { .. } => "invalid_attempts",
            Self::Timeouts { .. } => "invalid_timeouts",
        }
    }
}

impl ScanOptions {
    /// Far below the usual 1,024 open files per process, and plenty for 100 ports.
    pub const MAX_CONCURRENCY: usize = 512;
    pub const MAX_ATTEMPTS: u32 = 10;
    pub const MIN_TIMEOUT_FLOOR: Duration = Duration::from_millis(1);
    /// A scan must fit a queue consumer's run time (minutes, not hours).
    pub const MAX_TIMEOUT_CEILING: Duration = Duration::from_secs(30);

    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.concurrency == 0 || self.concurrency > Self::MAX_CONCURRENCY {
            return Err(OptionsError::Concurrency {
                max: Self::MAX_CONCURRENCY,
            });
        }
        if self.attempts == 0 || self.attempts > Self::MAX_ATTEMPTS {
            return Err(OptionsError::Attempts {
                max: Self::MAX_ATTEMPTS,
            });
        }
        let ordered = Self::MIN_TIMEOUT_FLOOR <= self.min_timeout
            && self.min_timeout <= self.initial_timeout
            && self.initial_timeout <= self.max_timeout
            && self.max_timeout <= Self::MAX_TIMEOUT_CEILING;
        if !ordered {
            return Err(OptionsError::Timeouts {
                min_floor: Self::MIN_TIMEOUT_FLOOR,
                max_ceiling: Self::MAX_TIMEOUT_CEILING,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(ScanOptions::default().validate(), Ok(()));
    }

    #[test]
    fn nonsense_is_refused_with_stable_codes() {
        let d = ScanOptions::default();
        let ms = Duration::from_millis;
        for (options, code) in [
            (
                ScanOptions {
                    concurrency: 0,
                    ..d
                },
                "invalid_concurrency",
            ),
            (
                ScanOptions {
                    concurrency: 100_000,
                    ..d
                },
                "invalid_concurrency",
            ),
            (ScanOptions { attempts: 0, ..d }, "invalid_attempts"),
            (ScanOptions { attempts: 11, ..d }, "invalid_attempts"),
            (
                ScanOptions {
                    min_timeout: ms(0),
                    ..d
                },
                "invalid_timeouts",
            ),
            (
                ScanOptions {
                    initial_timeout: ms(50),
                    ..d
                },
                "invalid_timeouts",
            ),
            (
                ScanOptions {
                    initial_timeout: ms(5000),
                    ..d
                },
                "invalid_timeouts",
            ),
            (
                ScanOptions {
                    max_timeout: Duration::from_secs(31),
                    initial_timeout: ms(1000),
                    ..d
                },
                "invalid_timeouts",
            ),
        ] {
            assert_eq!(options.validate().unwrap_err().code(), code, "{options:?}");
        }
    }
}
