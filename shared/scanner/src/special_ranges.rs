//! The special-purpose address ranges a scan refuses: every entry of the IANA IPv4 and
//! IPv6 Special-Purpose Address Registries (RFC 6890, as updated by RFC 8190 and later
//! assignments), plus the two multicast spaces, which live in registries of their own.
//!
//! The registry also records whether each block is "globally reachable". Some are
//! (AS112, AMT, the PCP and TURN anycast addresses, ORCHIDv2, 64:ff9b::/96), but none of
//! them is an address an appliance would have as its own public interface: they are
//! anycast services run by others, or translation prefixes that lead to someone else's
//! IPv4 host. So every entry is refused alike (the issue: "every other special-purpose
//! range"); the column is kept to show the decision was made knowingly. An operator
//! allows a range explicitly with an `AllowList` for test set-ups.
//!
//! Checked against the registries as of 2025 (IPv4 last updated with 192.88.99.2/32,
//! IPv6 with 100:0:0:1::/64). New registry entries need a new row here.

use crate::cidr::Cidr;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IANA registry a range is listed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Registry {
    Ipv4SpecialPurpose,
    Ipv6SpecialPurpose,
    Ipv4Multicast,
    Ipv6Multicast,
}

impl Registry {
    /// The registry's title at IANA.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Ipv4SpecialPurpose => "IANA IPv4 Special-Purpose Address Registry",
            Self::Ipv6SpecialPurpose => "IANA IPv6 Special-Purpose Address Registry",
            Self::Ipv4Multicast => "IANA IPv4 Multicast Address Space Registry",
            Self::Ipv6Multicast => "IANA IPv6 Multicast Address Space Registry",
        }
    }
}

/// The registry's "Globally Reachable" column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GloballyReachable {
    Yes,
    No,
    /// "N/A" in the registry (deprecated or tunnelling blocks) or, for multicast, no
    /// such column.
    NotApplicable,
}

/// One registry entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpecialRange {
    pub cidr: Cidr,
    /// The entry's name in the registry.
    pub name: &'static str,
    /// The RFC(s) the registry cites for it.
    pub rfc: &'static str,
    pub registry: Registry,
    pub globally_reachable: GloballyReachable,
}

use GloballyReachable::{No, NotApplicable as NA, Yes};

const fn v4(
    o: [u8; 4],
    len: u8,
    name: &'static str,
    rfc: &'static str,
    reach: GloballyReachable,
) -> SpecialRange {
    SpecialRange {
        cidr: Cidr::v4(Ipv4Addr::new(o[0], o[1], o[2], o[3]), len),
        name,
        rfc,
        registry: Registry::Ipv4SpecialPurpose,
        globally_reachable: reach,
    }
}

const fn v6(
    s: [u16; 8],
    len: u8,
    name: &'static str,
    rfc: &'static str,
    reach: GloballyReachable,
) -> SpecialRange {
    SpecialRange {
        cidr: Cidr::v6(
            Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
            len,
        ),
        name,
        rfc,
        registry: Registry::Ipv6SpecialPurpose,
        globally_reachable: reach,
    }
}

const fn multicast(mut r: SpecialRange) -> SpecialRange {
    r.registry = match r.registry {
        Registry::Ipv4SpecialPurpose | Registry::Ipv4Multicast => Registry::Ipv4Multicast,
        Registry::Ipv6SpecialPurpose | Registry::Ipv6Multicast => Registry::Ipv6Multicast,
    };
    r
}

/// Every refused range, in registry order: block, name, RFC, globally reachable.
#[rustfmt::skip]
pub const SPECIAL_RANGES: &[SpecialRange] = &[
    // IANA IPv4 Special-Purpose Address Registry
    v4([0, 0, 0, 0], 8,         "\"This network\"",                           "RFC 791 §3.2",                No),
    v4([0, 0, 0, 0], 32,        "\"This host on this network\"",              "RFC 1122 §3.2.1.3",           No),
    v4([10, 0, 0, 0], 8,        "Private-Use",                                "RFC 1918",                    No),
    v4([100, 64, 0, 0], 10,     "Shared Address Space",                       "RFC 6598",                    No),
    v4([127, 0, 0, 0], 8,       "Loopback",                                   "RFC 1122 §3.2.1.3",           No),
    v4([169, 254, 0, 0], 16,    "Link Local",                                 "RFC 3927",                    No),
    v4([172, 16, 0, 0], 12,     "Private-Use",                                "RFC 1918",                    No),
    v4([192, 0, 0, 0], 24,      "IETF Protocol Assignments",                  "RFC 6890 §2.1",               No),
    v4([192, 0, 0, 0], 29,      "IPv4 Service Continuity Prefix",             "RFC 7335",                    No),
    v4([192, 0, 0, 8], 32,      "IPv4 dummy address",                         "RFC 7600",                    No),
    v4([192, 0, 0, 9], 32,      "Port Control Protocol Anycast",              "RFC 7723",                    Yes),
    v4([192, 0, 0, 10], 32,     "Traversal Using Relays around NAT Anycast",  "RFC 8155",                    Yes),
    v4([192, 0, 0, 170], 32,    "NAT64/DNS64 Discovery",                      "RFC 8880, RFC 7050 §2.2",     No),
    v4([192, 0, 0, 171], 32,    "NAT64/DNS64 Discovery",                      "RFC 8880, RFC 7050 §2.2",     No),
    v4([192, 0, 2, 0], 24,      "Documentation (TEST-NET-1)",                 "RFC 5737",                    No),
    v4([192, 31, 196, 0], 24,   "AS112-v4",                                   "RFC 7535",                    Yes),
    v4([192, 52, 193, 0], 24,   "AMT",                                        "RFC 7450",                    Yes),
    v4([192, 88, 99, 0], 24,    "Deprecated (6to4 Relay Anycast)",            "RFC 7526",                    NA),
    v4([192, 88, 99, 2], 32,    "6a44-relay anycast address",                 "RFC 6751",                    No),
    v4([192, 168, 0, 0], 16,    "Private-Use",                                "RFC 1918",                    No),
    v4([192, 175, 48, 0], 24,   "Direct Delegation AS112 Service",            "RFC 7534",                    Yes),
    v4([198, 18, 0, 0], 15,     "Benchmarking",                               "RFC 2544",                    No),
    v4([198, 51, 100, 0], 24,   "Documentation (TEST-NET-2)",                 "RFC 5737",                    No),
    v4([203, 0, 113, 0], 24,    "Documentation (TEST-NET-3)",                 "RFC 5737",                    No),
    v4([240, 0, 0, 0], 4,       "Reserved",                                   "RFC 1112 §4",                 No),
    v4([255, 255, 255, 255], 32, "Limited Broadcast",                         "RFC 8190, RFC 919 §7",        No),
    // IANA IPv4 Multicast Address Space Registry (the whole space)
    multicast(v4([224, 0, 0, 0], 4, "Multicast",                              "RFC 5771",                    NA)),
    // IANA IPv6 Special-Purpose Address Registry
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128,              "Loopback Address",        "RFC 4291",                    No),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128,              "Unspecified Address",     "RFC 4291",                    No),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96,          "IPv4-mapped Address",     "RFC 4291",                    No),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96,       "IPv4-IPv6 Translat.",     "RFC 6052",                    Yes),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48,       "IPv4-IPv6 Translat.",     "RFC 8215",                    No),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64,           "Discard-Only Address Block", "RFC 6666",                 No),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64,           "Dummy IPv6 Prefix",       "RFC 9780",                    No),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23,          "IETF Protocol Assignments", "RFC 2928",                  No),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32,          "TEREDO",                  "RFC 4380, RFC 8190",          NA),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128,         "Port Control Protocol Anycast", "RFC 7723",              Yes),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128,         "Traversal Using Relays around NAT Anycast", "RFC 8155",  Yes),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128,         "DNS-SD Service Registration Protocol Anycast Address", "RFC 9665", Yes),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48,          "Benchmarking",            "RFC 5180, RFC Errata 1752",   No),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32,          "AMT",                     "RFC 7450",                    Yes),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48,      "AS112-v6",                "RFC 7535",                    Yes),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28,       "Deprecated (previously ORCHID)", "RFC 4843",             NA),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28,       "ORCHIDv2",                "RFC 7343",                    Yes),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28,       "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", Yes),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32,      "Documentation",           "RFC 3849",                    No),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16,          "6to4",                    "RFC 3056",                    NA),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48,  "Direct Delegation AS112 Service", "RFC 7534",            Yes),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20,          "Documentation",           "RFC 9637",                    No),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16,          "Segment Routing (SRv6) SIDs", "RFC 9602",                No),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7,           "Unique-Local",            "RFC 4193, RFC 8190",          No),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10,          "Link-Local Unicast",      "RFC 4291",                    No),
    // IANA IPv6 Multicast Address Space Registry (the whole space)
    multicast(v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "Multicast",               "RFC 4291",                    NA)),
];

/// The most specific listed range holding `addr` (192.0.0.9 names the PCP anycast
/// entry, not its /24), or `None` for an ordinary address.
pub fn most_specific(addr: IpAddr) -> Option<&'static SpecialRange> {
    SPECIAL_RANGES
        .iter()
        .filter(|r| r.cidr.contains(addr))
        .max_by_key(|r| r.cidr.prefix_len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_a_well_formed_network() {
        for r in SPECIAL_RANGES {
            let reparsed = Cidr::parse(&r.cidr.to_string())
                .unwrap_or_else(|e| panic!("{} ({}): {e}", r.cidr, r.name));
            assert_eq!(reparsed, r.cidr, "{}", r.name);
            assert!(!r.name.is_empty() && r.rfc.starts_with("RFC "));
        }
    }

    #[test]
    fn no_block_is_listed_twice() {
        for (i, a) in SPECIAL_RANGES.iter().enumerate() {
            for b in &SPECIAL_RANGES[i + 1..] {
                assert_ne!(a.cidr, b.cidr, "{} listed twice", a.cidr);
            }
        }
    }

    #[test]
    fn the_most_specific_entry_names_an_address() {
        let name = |s: &str| most_specific(s.parse().unwrap()).map(|r| r.name);
        assert_eq!(name("192.0.0.9"), Some("Port Control Protocol Anycast"));
        assert_eq!(name("192.0.0.200"), Some("IETF Protocol Assignments"));
        assert_eq!(name("0.0.0.0"), Some("\"This host on this network\""));
        assert_eq!(name("2001:4:112::1"), Some("AS112-v6"));
        assert_eq!(name("2001:0:4136:e378::1"), Some("TEREDO"));
        assert_eq!(name("8.8.8.8"), None);
        assert_eq!(name("2606:4700::1111"), None);
    }
}
