//! The operator's explicit exceptions to the target policy, for test set-ups
//! (e.g. `127.0.0.0/8,198.18.0.0/15`).

use crate::cidr::{Cidr, CidrError};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Networks whose addresses may be scanned even though they are special-purpose.
/// Empty by default: production configurations have no reason to set it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList(Vec<Cidr>);

/// Why an allow list was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AllowListError {
    #[error("allow list entry {index}: {source}")]
    Entry { index: usize, source: CidrError },
    #[error("allow list entry {index} is empty")]
    EmptyEntry { index: usize },
    /// `0.0.0.0/0` or `::/0` would switch the policy off instead of making an
    /// exception; nobody needs that for a test set-up.
    #[error("allow list entry {index} ({cidr}) covers a whole address family")]
    WholeFamily { index: usize, cidr: Cidr },
    #[error("the allow list has more than {max} entries")]
    TooManyEntries { max: usize },
    #[error("the allow list is longer than {max} characters")]
    TooLong { max: usize },
}

impl AllowListError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Entry { source, .. } => source.code(),
            Self::EmptyEntry { .. } => "empty_entry",
            Self::WholeFamily { .. } => "whole_address_family",
            Self::TooManyEntries { .. } => "too_many_entries",
            Self::TooLong { .. } => "too_long",
        }
    }
}

impl AllowList {
    pub const MAX_ENTRIES: usize = 64;
    pub const MAX_CHARS: usize = 4096;

    /// Allows nothing: every special-purpose address is refused.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Parses comma-separated CIDRs (spaces around entries are ignored); a blank
    /// string is the empty list.
    pub fn parse(input: &str) -> Result<Self, AllowListError> {
        if input.len() > Self::MAX_CHARS {
            return Err(AllowListError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        if input.trim().is_empty() {
            return Ok(Self::none());
        }
        let entries: Vec<&str> = input.split(',').collect();
        if entries.len() > Self::MAX_ENTRIES {
            return Err(AllowListError::TooManyEntries {
                max: Self::MAX_ENTRIES,
            });
        }
        let mut cidrs = Vec::with_capacity(entries.len());
        for (index, entry) in entries.into_iter().enumerate() {
            if entry.trim().is_empty() {
                return Err(AllowListError::EmptyEntry { index });
            }
            let cidr =
                Cidr::parse(entry).map_err(|source| AllowListError::Entry { index, source })?;
            if cidr.prefix_len() == 0 {
                return Err(AllowListError::WholeFamily { index, cidr });
            }
            cidrs.push(cidr);
        }
        Ok(Self(cidrs))
    }

    /// Whether an entry holds `addr`.
    pub fn allows(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(addr))
    }

    pub fn entries(&self) -> &[Cidr] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for AllowList {
    type Err = AllowListError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The form `parse` reads back.
impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_operator_form() {
        let list = AllowList::parse("127.0.0.0/8, 198.18.0.0/15,::1").unwrap();
        assert_eq!(list.to_string(), "127.0.0.0/8,198.18.0.0/15,::1/128");
        assert!(list.allows("127.1.2.3".parse().unwrap()));
        assert!(list.allows("198.19.0.1".parse().unwrap()));
        assert!(list.allows("::1".parse().unwrap()));
        assert!(!list.allows("10.0.0.1".parse().unwrap()));
        assert!(AllowList::parse("  ").unwrap().is_empty());
        assert_eq!(AllowList::parse(&list.to_string()).unwrap(), list);
    }

    #[test]
    fn refuses_bad_lists_with_stable_codes() {
        for (input, code) in [
            ("127.0.0.0/8,", "empty_entry"),
            ("127.0.0.0/8,,10.0.0.0/8", "empty_entry"),
            ("0.0.0.0/0", "whole_address_family"),
            ("10.0.0.0/8,::/0", "whole_address_family"),
            ("localhost", "invalid_address"),
            ("127.0.0.1/8", "host_bits_set"),
        ] {
            assert_eq!(AllowList::parse(input).unwrap_err().code(), code, "{input}");
        }
        let many = vec!["10.0.0.0/8"; AllowList::MAX_ENTRIES + 1].join(",");
        assert_eq!(
            AllowList::parse(&many).unwrap_err().code(),
            "too_many_entries"
        );
        let long = " ".repeat(AllowList::MAX_CHARS + 1);
        assert_eq!(AllowList::parse(&long).unwrap_err().code(), "too_long");
    }
}
