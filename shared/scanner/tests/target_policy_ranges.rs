//! Every range of the IANA special-purpose registries (and multicast) is refused
//! without the operator allow list and accepted with it; ordinary public addresses
//! pass. Addresses are only checked here, never connected to.

use rampart_scanner::{AllowList, Cidr, Registry, SPECIAL_RANGES, ScanTarget, SpecialRange};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The first, a middle and the last address of a range.
fn samples(cidr: &Cidr) -> [IpAddr; 3] {
    let (first, last) = (cidr.first(), cidr.last());
    let middle = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let (a, b) = (u32::from(a), u32::from(b));
            IpAddr::V4(Ipv4Addr::from(a + (b - a) / 2))
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let (a, b) = (u128::from(a), u128::from(b));
            IpAddr::V6(Ipv6Addr::from(a + (b - a) / 2))
        }
        _ => unreachable!("a range has one address family"),
    };
    [first, middle, last]
}

/// The addresses just outside a range, where they exist.
fn neighbours(cidr: &Cidr) -> Vec<IpAddr> {
    match (cidr.first(), cidr.last()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            [u32::from(a).checked_sub(1), u32::from(b).checked_add(1)]
                .into_iter()
                .flatten()
                .map(|n| IpAddr::V4(Ipv4Addr::from(n)))
                .collect()
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            [u128::from(a).checked_sub(1), u128::from(b).checked_add(1)]
                .into_iter()
                .flatten()
                .map(|n| IpAddr::V6(Ipv6Addr::from(n)))
                .collect()
        }
        _ => unreachable!(),
    }
}

fn everything_allowed() -> AllowList {
    let all: Vec<String> = SPECIAL_RANGES.iter().map(|r| r.cidr.to_string()).collect();
    AllowList::parse(&all.join(",")).unwrap()
}

#[test]
fn every_registry_range_is_refused_without_the_allow_list() {
    let none = AllowList::none();
    for range in SPECIAL_RANGES {
        for addr in samples(&range.cidr) {
            let refusal = ScanTarget::check(addr, &none).expect_err(&format!(
                "{addr} ({} {}) was accepted",
                range.cidr, range.name
            ));
            // Named by this entry or a more specific one inside it.
            let named: &SpecialRange = refusal.range;
            assert!(
                named.cidr.contains(refusal.matched)
                    && named.cidr.prefix_len() >= range.cidr.prefix_len(),
                "{addr}: named {} instead of {}",
                named.cidr,
                range.cidr
            );
            let text = refusal.to_string();
            assert!(text.contains(&named.cidr.to_string()), "{text}");
            assert!(text.contains(named.name), "{text}");
            assert!(text.contains(named.registry.title()), "{text}");
            assert_eq!(refusal.code(), "special_purpose_address");
        }
    }
}

#[test]
fn the_registries_are_complete_in_both_families() {
    let count = |registry| {
        SPECIAL_RANGES
            .iter()
            .filter(|r| r.registry == registry)
            .count()
    };
    assert_eq!(count(Registry::Ipv4SpecialPurpose), 26);
    assert_eq!(count(Registry::Ipv6SpecialPurpose), 25);
    assert_eq!(count(Registry::Ipv4Multicast), 1);
    assert_eq!(count(Registry::Ipv6Multicast), 1);
    // The ranges the issue names, by block.
    for block in [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.31.196.0/24",
        "192.52.193.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "192.175.48.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "224.0.0.0/4",
        "::/128",
        "::1/128",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "100:0:0:1::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "2620:4f:8000::/48",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "2001:4:112::/48",
    ] {
        let cidr = Cidr::parse(block).unwrap();
        assert!(
            SPECIAL_RANGES.iter().any(|r| r.cidr == cidr),
            "{block} missing"
        );
    }
}

#[test]
fn every_registry_range_is_accepted_with_the_allow_list() {
    let all = everything_allowed();
    for range in SPECIAL_RANGES {
        for addr in samples(&range.cidr) {
            let target = ScanTarget::check(addr, &all)
                .unwrap_or_else(|r| panic!("{addr} refused despite the allow list: {r}"));
            assert_eq!(target.address(), addr);
        }
        // Allowing just this range is enough, more specific entries inside it
        // included (an IPv4-mapped address also needs the IPv4 address it embeds to
        // pass: the next test).
        if range.name != "IPv4-mapped Address" {
            let only = AllowList::parse(&range.cidr.to_string()).unwrap();
            for addr in samples(&range.cidr) {
                if let Err(r) = ScanTarget::check(addr, &only) {
                    panic!("{addr} refused with only {} allowed: {r}", range.cidr);
                }
            }
        }
    }
}

#[test]
fn mapped_ipv4_addresses_are_checked_as_ipv4_too() {
    let mapped = AllowList::parse("::ffff:0:0/96").unwrap();
    for (addr, refused_by) in [
        ("::ffff:127.0.0.1", Some("127.0.0.0/8")),
        ("::ffff:192.168.1.1", Some("192.168.0.0/16")),
        ("::ffff:0.0.0.0", Some("0.0.0.0/32")),
        ("::ffff:255.255.255.255", Some("255.255.255.255/32")),
        ("::ffff:8.8.8.8", None),
    ] {
        match (ScanTarget::check(ip(addr), &mapped), refused_by) {
            (Ok(_), None) => {}
            (Err(r), Some(block)) => assert_eq!(r.range.cidr.to_string(), block, "{addr}"),
            (other, _) => panic!("{addr}: {other:?}"),
        }
    }
    // Without the allow list even a public IPv4 address in mapped form is refused.
    let r = ScanTarget::check(ip("::ffff:8.8.8.8"), &AllowList::none()).unwrap_err();
    assert_eq!(r.range.cidr.to_string(), "::ffff:0:0/96");
}

#[test]
fn public_addresses_are_accepted() {
    let none = AllowList::none();
    for addr in [
        "8.8.8.8",
        "1.1.1.1",
        "9.9.9.9",
        "2606:4700::1111",
        "2001:4860:4860::8888",
        "2a00:1450:4001::1",
        // Just outside special ranges.
        "11.0.0.0",
        "100.128.0.0",
        "172.32.0.0",
        "198.20.0.0",
        "223.255.255.255",
        "2001:200::",
    ] {
        let target =
            ScanTarget::check(ip(addr), &none).unwrap_or_else(|r| panic!("{addr} refused: {r}"));
        assert_eq!(target.address(), ip(addr));
    }
}

#[test]
fn the_addresses_next_to_a_range_are_not_refused_by_it() {
    let none = AllowList::none();
    for range in SPECIAL_RANGES {
        for addr in neighbours(&range.cidr) {
            if let Err(r) = ScanTarget::check(addr, &none) {
                assert_ne!(r.range.cidr, range.cidr, "{addr} is outside {}", range.cidr);
            }
        }
    }
}
