//! What one connection attempt's outcome says about a port.

use serde::{Deserialize, Serialize};
use std::io;

/// A port's state as a TCP connect scan sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortState {
    /// The handshake completed (SYN-ACK).
    Open,
    /// The host answered with a reset (connection refused).
    Closed,
    /// No answer after every attempt, or an ICMP unreachable / administratively
    /// prohibited answer (a firewall in the way).
    Filtered,
}

impl PortState {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Filtered => "filtered",
        }
    }
}

/// Linux errno values std has no `ErrorKind` for, which the kernel sets from ICMP
/// errors (net/ipv4/icmp.c `icmp_err_convert`: host unknown, host isolated, protocol
/// unreachable). Not worth a libc dependency for three constants.
#[cfg(target_os = "linux")]
const ICMP_ONLY_ERRNOS: [i32; 3] = [
    112, // EHOSTDOWN
    64,  // ENONET
    92,  // ENOPROTOOPT
];
#[cfg(not(target_os = "linux"))]
const ICMP_ONLY_ERRNOS: [i32; 0] = [];

/// The state a failed connect reveals, or `None` when the error is about this machine
/// (no file descriptors or local ports left, ...) and says nothing about the port.
pub(crate) fn state_of_error(e: &io::Error) -> Option<PortState> {
    match e.kind() {
        // A reset; Linux also reports ICMP port unreachable this way.
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => {
            Some(PortState::Closed)
        }
        // ICMP unreachable or administratively prohibited, or a local firewall rule
        // (EPERM/EACCES): something filters the port.
        io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::NetworkDown
        | io::ErrorKind::PermissionDenied => Some(PortState::Filtered),
        _ => e
            .raw_os_error()
            .filter(|n| ICMP_ONLY_ERRNOS.contains(n))
            .map(|_| PortState::Filtered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_states_and_local_trouble_to_none() {
        let kind = |k: io::ErrorKind| state_of_error(&io::Error::from(k));
        assert_eq!(
            kind(io::ErrorKind::ConnectionRefused),
            Some(PortState::Closed)
        );
        assert_eq!(
            kind(io::ErrorKind::HostUnreachable),
            Some(PortState::Filtered)
        );
        assert_eq!(kind(io::ErrorKind::AddrNotAvailable), None);
        assert_eq!(kind(io::ErrorKind::OutOfMemory), None);
        #[cfg(target_os = "linux")]
        {
            assert_eq!(
                state_of_error(&io::Error::from_raw_os_error(112)),
                Some(PortState::Filtered)
            );
            // EMFILE: too many open files here.
            assert_eq!(state_of_error(&io::Error::from_raw_os_error(24)), None);
        }
    }
}
