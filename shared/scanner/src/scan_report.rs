//! A scan's result as it is kept in the history and shown to administrators.

use crate::port_state::PortState;
use rampart_domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One scanned address: the open ports with their usual service, closed and filtered
/// counts, and when the scan ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    pub address: IpAddr,
    pub started: Timestamp,
    pub finished: Timestamp,
    /// By port number.
    pub open: Vec<OpenPort>,
    pub closed: u32,
    pub filtered: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPort {
    pub port: u16,
    /// The service usually behind the port (from the profile), not one identified on
    /// the wire: a connect scan sends no data.
    pub service: String,
}

/// One port's outcome, for callers that need more than the report's counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortResult {
    pub port: u16,
    pub service: String,
    pub state: PortState,
    /// Connection attempts made (more than one when earlier ones got no answer).
    pub attempts: u32,
}

/// Every port's outcome of one scan, by port number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortScan {
    pub address: IpAddr,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub ports: Vec<PortResult>,
}

impl PortScan {
    pub fn ports_in(&self, state: PortState) -> impl Iterator<Item = u16> + '_ {
        self.ports
            .iter()
            .filter(move |p| p.state == state)
            .map(|p| p.port)
    }

    /// The summary kept as history.
    pub fn report(&self) -> ScanReport {
        let count = |state| u32::try_from(self.ports_in(state).count()).unwrap_or(u32::MAX);
        ScanReport {
            address: self.address,
            started: self.started,
            finished: self.finished,
            open: self
                .ports
                .iter()
                .filter(|p| p.state == PortState::Open)
                .map(|p| OpenPort {
                    port: p.port,
                    service: p.service.clone(),
                })
                .collect(),
            closed: count(PortState::Closed),
            filtered: count(PortState::Filtered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_summarises_and_serializes() {
        let result = |port, service: &str, state| PortResult {
            port,
            service: service.to_owned(),
            state,
            attempts: 1,
        };
        let scan = PortScan {
            address: "198.18.0.2".parse().unwrap(),
            started: Timestamp::from_millis(1_000),
            finished: Timestamp::from_millis(1_350),
            ports: vec![
                result(22, "ssh", PortState::Open),
                result(23, "telnet", PortState::Filtered),
                result(80, "http", PortState::Open),
                result(443, "https", PortState::Closed),
            ],
        };
        let report = scan.report();
        assert_eq!(report.closed, 1);
        assert_eq!(report.filtered, 1);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "address": "198.18.0.2",
                "started": 1000,
                "finished": 1350,
                "open": [{"port": 22, "service": "ssh"}, {"port": 80, "service": "http"}],
                "closed": 1,
                "filtered": 1
            })
        );
        let back: ScanReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }
}
