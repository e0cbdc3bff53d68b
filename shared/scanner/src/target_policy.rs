//! Which addresses may be scanned: never a special-purpose range (private, loopback,
//! link-local, CGNAT, multicast, documentation, benchmarking, ...) unless the operator
//! allows that range explicitly. Choosing *whose* address it is (the appliance's own,
//! observed public address) is the caller's job; this is the last line of defence.

use crate::allow_list::AllowList;
use crate::special_ranges::{self, SpecialRange};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// An address that passed the target policy. The engine scans nothing else, and the
/// only way to get one is `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ScanTarget(IpAddr);

/// An address refused by the policy, naming the range and the registry that lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    /// The address asked for.
    pub address: IpAddr,
    /// The address that fell in `range`: `address` itself, or the IPv4 address an
    /// IPv4-mapped IPv6 address embeds.
    pub matched: IpAddr,
    pub range: &'static SpecialRange,
}

impl Refusal {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "special_purpose_address"
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.matched != self.address {
            write!(f, "{} embeds {}, which ", self.address, self.matched)?;
        } else {
            write!(f, "{} ", self.address)?;
        }
        write!(
            f,
            "is in {} \"{}\" ({}) of the {}: not scanned unless the operator allows that range",
            self.range.cidr,
            self.range.name,
            self.range.rfc,
            self.range.registry.title()
        )
    }
}

impl ScanTarget {
    /// Accepts `addr` if no special-purpose range holds it, or if `allow` does.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is refused as a member of
    /// `::ffff:0:0/96`; if that range is allowed, the IPv4 address it embeds (where the
    /// packets would really go) must pass as well. Callers holding a dual-stack
    /// socket's peer address should pass `IpAddr::to_canonical()` of it.
    pub fn check(addr: IpAddr, allow: &AllowList) -> Result<ScanTarget, Refusal> {
        refuse_unless_allowed(addr, addr, allow)?;
        if let IpAddr::V6(v6) = addr
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            refuse_unless_allowed(addr, IpAddr::V4(v4), allow)?;
        }
        Ok(ScanTarget(addr))
    }

    pub fn address(&self) -> IpAddr {
        self.0
    }
}

impl fmt::Display for ScanTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn refuse_unless_allowed(
    address: IpAddr,
    matched: IpAddr,
    allow: &AllowList,
) -> Result<(), Refusal> {
    match special_ranges::most_specific(matched) {
        Some(range) if !allow.allows(matched) => Err(Refusal {
            address,
            matched,
            range,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_refusal_names_the_range_and_the_registry() {
        let r = ScanTarget::check(ip("100.64.1.2"), &AllowList::none()).unwrap_err();
        assert_eq!(r.code(), "special_purpose_address");
        assert_eq!(r.range.cidr.to_string(), "100.64.0.0/10");
        let text = r.to_string();
        assert!(text.contains("100.64.0.0/10"), "{text}");
        assert!(text.contains("Shared Address Space"), "{text}");
        assert!(text.contains("RFC 6598"), "{text}");
        assert!(
            text.contains("IANA IPv4 Special-Purpose Address Registry"),
            "{text}"
        );
    }

    #[test]
    fn a_mapped_address_must_pass_as_ipv4_too() {
        let mapped_only = AllowList::parse("::ffff:0:0/96").unwrap();
        let r = ScanTarget::check(ip("::ffff:10.1.2.3"), &mapped_only).unwrap_err();
        assert_eq!(r.matched, ip("10.1.2.3"));
        assert_eq!(r.range.cidr.to_string(), "10.0.0.0/8");
        assert!(r.to_string().contains("embeds 10.1.2.3"));
        assert!(ScanTarget::check(ip("::ffff:8.8.8.8"), &mapped_only).is_ok());
        let both = AllowList::parse("::ffff:0:0/96,10.0.0.0/8").unwrap();
        assert!(ScanTarget::check(ip("::ffff:10.1.2.3"), &both).is_ok());
        // Allowing the IPv4 range alone does not open its mapped form.
        let v4_only = AllowList::parse("10.0.0.0/8").unwrap();
        let r = ScanTarget::check(ip("::ffff:10.1.2.3"), &v4_only).unwrap_err();
        assert_eq!(r.range.name, "IPv4-mapped Address");
    }
}
