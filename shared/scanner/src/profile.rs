//! Scan profiles: a named list of TCP ports, each with the service usually behind it.

use std::sync::LazyLock;

/// A named port list, in rank order (most commonly open first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// Port and the service usually behind it, as nmap names it.
    pub ports: Vec<(u16, &'static str)>,
}

/// The "TOP 100 (TCP)" data file, derived from nmap-services by
/// `scripts/regenerate-top100` (its header says from which nmap version and how).
pub const TOP100_TCP_TSV: &str = include_str!("../data/top100-tcp.tsv");

pub const TOP100_TCP_NAME: &str = "TOP 100 (TCP)";

/// Parsed once, on first use; a test proves the embedded file parses.
static TOP100_TCP: LazyLock<Profile> = LazyLock::new(|| {
    Profile::parse_tsv(TOP100_TCP_NAME, TOP100_TCP_TSV)
        .unwrap_or_else(|e| panic!("the embedded {TOP100_TCP_NAME} profile is malformed: {e}"))
});

/// Why a profile file was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("line {line}: expected rank, port, service and frequency separated by tabs")]
    Malformed { line: usize },
    #[error("line {line}: rank {found}, expected {expected}")]
    RankOutOfOrder {
        line: usize,
        found: String,
        expected: usize,
    },
    #[error("line {line}: {port:?} is not a port from 1 to 65535")]
    InvalidPort { line: usize, port: String },
    #[error("line {line}: port {port} is listed twice")]
    DuplicatePort { line: usize, port: u16 },
}

impl ProfileError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed_line",
            Self::RankOutOfOrder { .. } => "rank_out_of_order",
            Self::InvalidPort { .. } => "invalid_port",
            Self::DuplicatePort { .. } => "duplicate_port",
        }
    }
}

impl Profile {
    /// The "TOP 100 (TCP)" profile: the 100 TCP ports nmap finds open most often.
    pub fn top100_tcp() -> &'static Profile {
        &TOP100_TCP
    }

    /// Reads the data file format: `#` comment lines, then one
    /// `rank<TAB>port<TAB>service<TAB>frequency` line per port, ranks counting from 1.
    pub fn parse_tsv(name: &'static str, text: &'static str) -> Result<Profile, ProfileError> {
        let mut ports: Vec<(u16, &'static str)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.starts_with('#') || raw.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = raw.split('\t').collect();
            let [rank, port, service, _frequency] = fields[..] else {
                return Err(ProfileError::Malformed { line });
            };
            if service.is_empty() {
                return Err(ProfileError::Malformed { line });
            }
            let expected = ports.len() + 1;
            if rank.parse::<usize>().ok() != Some(expected) {
                return Err(ProfileError::RankOutOfOrder {
                    line,
                    found: rank.to_owned(),
                    expected,
                });
            }
            let number = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| ProfileError::InvalidPort {
                    line,
                    port: port.to_owned(),
                })?;
            if ports.iter().any(|(p, _)| *p == number) {
                return Err(ProfileError::DuplicatePort { line, port: number });
            }
            ports.push((number, service));
        }
        Ok(Profile { name, ports })
    }

    /// The service usually behind `port`, if the profile lists it.
    pub fn service(&self, port: u16) -> Option<&'static str> {
        self.ports.iter().find(|(p, _)| *p == port).map(|(_, s)| *s)
    }

    pub fn port_numbers(&self) -> impl Iterator<Item = u16> + '_ {
        self.ports.iter().map(|(p, _)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn top100_has_100_distinct_ports_in_rank_order() {
        let profile = Profile::top100_tcp();
        assert_eq!(profile.name, "TOP 100 (TCP)");
        assert_eq!(profile.ports.len(), 100);
        let distinct: HashSet<u16> = profile.port_numbers().collect();
        assert_eq!(distinct.len(), 100);
        // Rank order: open-frequency never rises, and ties go to the lower port.
        let rows: Vec<(u16, f64)> = TOP100_TCP_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[1].parse().unwrap(), f[3].parse().unwrap())
            })
            .collect();
        for w in rows.windows(2) {
            let ((p1, f1), (p2, f2)) = (w[0], w[1]);
            assert!(
                f1 > f2 || (f1 == f2 && p1 < p2),
                "{p1} ({f1}) before {p2} ({f2})"
            );
        }
        assert_eq!(profile.ports[0], (80, "http"));
        assert_eq!(profile.service(22), Some("ssh"));
        assert_eq!(profile.service(1), None);
    }

    #[test]
    fn the_data_file_says_where_it_came_from() {
        let header: Vec<&str> = TOP100_TCP_TSV
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect();
        let text = header.join("\n");
        assert!(text.contains("Debian package nmap "), "{text}");
        assert!(text.contains("scripts/regenerate-top100"), "{text}");
    }

    #[test]
    fn malformed_files_are_refused() {
        for (text, code) in [
            ("1\t80\thttp\n", "malformed_line"),
            ("1\t80\t\t0.1\n", "malformed_line"),
            ("2\t80\thttp\t0.1\n", "rank_out_of_order"),
            ("1\t0\tzero\t0.1\n", "invalid_port"),
            ("1\t70000\tbig\t0.1\n", "invalid_port"),
            ("1\t80\thttp\t0.2\n2\t80\thttp\t0.1\n", "duplicate_port"),
        ] {
            assert_eq!(
                Profile::parse_tsv("t", text).unwrap_err().code(),
                code,
                "{text:?}"
            );
        }
    }
}
