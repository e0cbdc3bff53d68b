//! An IPv4 or IPv6 network in CIDR notation (`198.18.0.0/15`, `2001:db8::/32`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A network: an address with every bit past the prefix zero, and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

/// Why a CIDR was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{input:?} is not an IPv4 or IPv6 address")]
    InvalidAddress { input: String },
    #[error("{input:?}: the prefix length must be a number from 0 to {max}")]
    InvalidPrefixLength { input: String, max: u8 },
    /// `198.18.0.1/15` could mean the host or its network: refused rather than guessed.
    #[error("{input:?} has bits set past the prefix; the network is {network}")]
    HostBitsSet { input: String, network: Cidr },
}

impl CidrError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidAddress { .. } => "invalid_address",
            Self::InvalidPrefixLength { .. } => "invalid_prefix_length",
            Self::HostBitsSet { .. } => "host_bits_set",
        }
    }
}

/// Longest accepted input: the longest IPv6 text form plus "/128", with room to spare.
const MAX_INPUT_CHARS: usize = 64;

impl Cidr {
    /// For the constant tables: `prefix_len` must be at most 32 and `network` must have
    /// no host bits (a test of the tables checks both).
    pub const fn v4(network: Ipv4Addr, prefix_len: u8) -> Self {
        Self {
            network: IpAddr::V4(network),
            prefix_len,
        }
    }

    /// For the constant tables: `prefix_len` must be at most 128 and `network` must have
    /// no host bits (a test of the tables checks both).
    pub const fn v6(network: Ipv6Addr, prefix_len: u8) -> Self {
        Self {
            network: IpAddr::V6(network),
            prefix_len,
        }
    }

    /// Parses `address/length`; a bare address is the network of that one host.
    pub fn parse(input: &str) -> Result<Self, CidrError> {
        let input = input.trim();
        if input.len() > MAX_INPUT_CHARS {
            return Err(CidrError::InvalidAddress {
                input: format!(
                    "{}…",
                    input.chars().take(MAX_INPUT_CHARS).collect::<String>()
                ),
            });
        }
        let (addr_text, len_text) = match input.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (input, None),
        };
        let addr = IpAddr::from_str(addr_text).map_err(|_| CidrError::InvalidAddress {
            input: input.to_owned(),
        })?;
        let max = max_prefix_len(addr);
        let prefix_len = match len_text {
            None => max,
            // Digits only: `u8::from_str` would also take "+8".
            Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => {
                l.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(|| {
                    CidrError::InvalidPrefixLength {
                        input: input.to_owned(),
                        max,
                    }
                })?
            }
            Some(_) => {
                return Err(CidrError::InvalidPrefixLength {
                    input: input.to_owned(),
                    max,
                });
            }
        };
        let network = Self {
            network: mask(addr, prefix_len),
            prefix_len,
        };
        if network.network != addr {
            return Err(CidrError::HostBitsSet {
                input: input.to_owned(),
                network,
            });
        }
        Ok(network)
    }

    pub fn network(&self) -> IpAddr {
        self.network
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `addr` is in this network (never across address families).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(addr, self.prefix_len) == self.network
            }
            _ => false,
        }
    }

    /// The first and the last address of the network.
    pub fn first(&self) -> IpAddr {
        self.network
    }

    pub fn last(&self) -> IpAddr {
        match self.network {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(
                u32::from(a) | !prefix_mask_v4(self.prefix_len),
            )),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(
                u128::from(a) | !prefix_mask_v6(self.prefix_len),
            )),
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.network {
            // std writes IPv4-mapped addresses dotted (`::ffff:0.0.0.0`); the registry
            // writes the block `::ffff:0:0/96`, and a refusal should name it the same way.
            IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => {
                let s = a.segments();
                write!(f, "::ffff:{:x}:{:x}/{}", s[6], s[7], self.prefix_len)
            }
            network => write!(f, "{network}/{}", self.prefix_len),
        }
    }
}

fn max_prefix_len(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn prefix_mask_v4(len: u8) -> u32 {
    // checked_shl: a shift by the full width (len 0) overflows; its mask is 0.
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn prefix_mask_v6(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & prefix_mask_v4(len))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & prefix_mask_v6(len))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_networks_and_bare_hosts() {
        let c = Cidr::parse("198.18.0.0/15").unwrap();
        assert_eq!(c.network(), ip("198.18.0.0"));
        assert_eq!(c.prefix_len(), 15);
        assert_eq!(c.last(), ip("198.19.255.255"));
        assert_eq!(c.to_string(), "198.18.0.0/15");
        assert_eq!(Cidr::parse(" ::1 ").unwrap().to_string(), "::1/128");
        assert_eq!(Cidr::parse("10.0.0.7").unwrap().prefix_len(), 32);
        assert_eq!(
            Cidr::parse("2001:db8::/32").unwrap().last(),
            ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
        );
        assert_eq!(
            Cidr::parse("0.0.0.0/0").unwrap().last(),
            ip("255.255.255.255")
        );
        let mapped = Cidr::parse("::ffff:0.0.0.0/96").unwrap();
        assert_eq!(mapped.to_string(), "::ffff:0:0/96");
        assert_eq!(Cidr::parse(&mapped.to_string()).unwrap(), mapped);
    }

    #[test]
    fn refuses_bad_input_with_stable_codes() {
        for (input, code) in [
            ("", "invalid_address"),
            ("example.com/8", "invalid_address"),
            ("10.0.0.0/33", "invalid_prefix_length"),
            ("::/129", "invalid_prefix_length"),
            ("10.0.0.0/+8", "invalid_prefix_length"),
            ("10.0.0.0/", "invalid_prefix_length"),
            ("10.0.0.0/08x", "invalid_prefix_length"),
            ("198.18.0.1/15", "host_bits_set"),
            ("fe80::1/10", "host_bits_set"),
        ] {
            assert_eq!(Cidr::parse(input).unwrap_err().code(), code, "{input}");
        }
        let long = "1".repeat(10_000);
        assert_eq!(Cidr::parse(&long).unwrap_err().code(), "invalid_address");
    }

    #[test]
    fn contains_respects_the_prefix_and_the_family() {
        let c = Cidr::parse("100.64.0.0/10").unwrap();
        assert!(c.contains(ip("100.64.0.0")));
        assert!(c.contains(ip("100.127.255.255")));
        assert!(!c.contains(ip("100.128.0.0")));
        assert!(!c.contains(ip("100.63.255.255")));
        assert!(!c.contains(ip("::ffff:100.64.0.1")));
        let all = Cidr::parse("::/0").unwrap();
        assert!(all.contains(ip("2606:4700::1111")));
        assert!(!all.contains(ip("1.1.1.1")));
    }
}
