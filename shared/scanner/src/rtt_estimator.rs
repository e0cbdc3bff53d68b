//! The adaptive per-attempt time-out: a smoothed round-trip time and its variation, as
//! TCP's retransmission timer (RFC 6298) and nmap compute them, clamped to bounds.
//!
//! Samples come from answered attempts only (SYN-ACK or RST). Every attempt is a fresh
//! socket, so a sample can never be matched to the wrong SYN (Karn's problem); it can
//! include a SYN retransmitted by the kernel itself, but only when a time-out is longer
//! than the kernel's 1 s initial RTO, and the clamp bounds the effect.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    initial: Duration,
    min: Duration,
    max: Duration,
    /// Smoothed RTT and RTT variation, once there is a sample.
    state: Option<(Duration, Duration)>,
}

impl RttEstimator {
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        Self {
            initial,
            min,
            max,
            state: None,
        }
    }

    /// Folds in one measured round-trip time (RFC 6298 section 2, alpha 1/8, beta 1/4).
    pub fn sample(&mut self, rtt: Duration) {
        self.state = Some(match self.state {
            None => (rtt, rtt / 2),
            Some((srtt, rttvar)) => {
                let deviation = srtt.abs_diff(rtt);
                (srtt * 7 / 8 + rtt / 8, rttvar * 3 / 4 + deviation / 4)
            }
        });
    }

    /// How long an attempt waits for an answer: SRTT + 4 × RTTVAR within the bounds, or
    /// the initial time-out before the first sample.
    pub fn timeout(&self) -> Duration {
        match self.state {
            None => self.initial,
            Some((srtt, rttvar)) => (srtt + rttvar * 4).clamp(self.min, self.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn starts_at_the_initial_timeout() {
        assert_eq!(
            RttEstimator::new(ms(1000), ms(100), ms(3000)).timeout(),
            ms(1000)
        );
    }

    #[test]
    fn fast_answers_bring_it_down_to_the_floor() {
        let mut e = RttEstimator::new(ms(1000), ms(100), ms(3000));
        e.sample(Duration::from_micros(80));
        assert_eq!(e.timeout(), ms(100));
    }

    #[test]
    fn follows_the_measured_rtt_and_its_variation() {
        let mut e = RttEstimator::new(ms(1000), ms(100), ms(3000));
        e.sample(ms(200));
        // 200 + 4 × 100
        assert_eq!(e.timeout(), ms(600));
        e.sample(ms(200));
        // srtt 200, rttvar 75
        assert_eq!(e.timeout(), ms(500));
        for _ in 0..50 {
            e.sample(ms(200));
        }
        assert!(e.timeout() < ms(210), "{:?}", e.timeout());
    }

    #[test]
    fn slow_answers_are_capped() {
        let mut e = RttEstimator::new(ms(1000), ms(100), ms(3000));
        e.sample(ms(2500));
        assert_eq!(e.timeout(), ms(3000));
    }
}
