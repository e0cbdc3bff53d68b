//! Identifiers, each parsed once at the boundary and trusted afterwards.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::validation::Invalid;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, Invalid> {
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(s).map_err(|r| Invalid::new($field, r))?;
                Ok(Self(s.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A customer or reseller tenant, e.g. `123456.sms`.
    TenantId,
    "tenant",
    |s| {
        let (num, suffix) = s.split_once('.').ok_or("looks like 123456.sms")?;
        let num_ok = (1..=20).contains(&num.len()) && num.bytes().all(|b| b.is_ascii_digit());
        let suffix_ok =
            (2..=16).contains(&suffix.len()) && suffix.bytes().all(|b| b.is_ascii_lowercase());
        if num_ok && suffix_ok { Ok(()) } else { Err("looks like 123456.sms") }
    }
);

string_id!(
    /// A license serial, e.g. `A1B2C3D4`; spare licenses of a cluster end in `-SPARE`.
    Serial,
    "serial",
    |s| {
        let base = s.strip_suffix("-SPARE").unwrap_or(s);
        let ok = (4..=32).contains(&base.len())
            && base.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok { Ok(()) } else { Err("4 to 32 upper-case letters or digits, optionally -SPARE") }
    }
);

string_id!(
    /// The console's id for an enrolled appliance: `ap_` and 32 lower-case hex digits.
    ApplianceId,
    "appliance_id",
    |s| {
        let ok = s.strip_prefix("ap_").is_some_and(|h| {
            h.len() == 32 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok { Ok(()) } else { Err("ap_ followed by 32 hex digits") }
    }
);

string_id!(
    /// A cluster id shared by a master and a spare license (hex).
    ClusterId,
    "cluster_id",
    |s| {
        let ok = (4..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok { Ok(()) } else { Err("4 to 64 lower-case hex digits") }
    }
);

string_id!(
    /// A job: `job_`, its creation time in 13 decimal digits of milliseconds, and 8
    /// random lower-case hex digits. The time prefix makes the store's key order the
    /// order of creation. Each of a job's commands is named by the job's id on the
    /// device API (an appliance has at most one command per job).
    JobId,
    "job_id",
    |s| {
        let ok = s.strip_prefix("job_").is_some_and(|rest| {
            rest.len() == 21
                && rest[..13].bytes().all(|b| b.is_ascii_digit())
                && rest[13..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok { Ok(()) } else { Err("job_ followed by 13 digits and 8 hex digits") }
    }
);

string_id!(
    /// A cloud backup: `bk_`, the time its upload was granted in 13 decimal digits of
    /// milliseconds, and 8 random lower-case hex digits (the same shape as [`JobId`]).
    /// It is also the last part of the backup's object key.
    BackupId,
    "backup_id",
    |s| {
        let ok = s.strip_prefix("bk_").is_some_and(|rest| {
            rest.len() == 21
                && rest[..13].bytes().all(|b| b.is_ascii_digit())
                && rest[13..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok { Ok(()) } else { Err("bk_ followed by 13 digits and 8 hex digits") }
    }
);

string_id!(
    /// A security scan: `scan_`, the time it was requested in 13 decimal digits of
    /// milliseconds, and 8 random lower-case hex digits (so ids sort by request time).
    ScanId,
    "scan_id",
    |s| {
        let ok = s.strip_prefix("scan_").is_some_and(|rest| {
            rest.len() == 21
                && rest[..13].bytes().all(|b| b.is_ascii_digit())
                && rest[13..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok { Ok(()) } else { Err("scan_ followed by 13 digits and 8 hex digits") }
    }
);

impl ScanId {
    /// A fresh id for a scan requested at `requested_ms`.
    pub fn new(requested_ms: i64, random: [u8; 4]) -> Self {
        Self(format!(
            "scan_{:013}{}",
            requested_ms.clamp(0, 9_999_999_999_999),
            hex::encode(random)
        ))
    }
}

impl BackupId {
    /// A fresh id for an upload granted at `granted_ms`.
    pub fn new(granted_ms: i64, random: [u8; 4]) -> Self {
        Self(format!(
            "bk_{:013}{}",
            granted_ms.clamp(0, 9_999_999_999_999),
            hex::encode(random)
        ))
    }
}

impl JobId {
    /// A fresh id for a job created at `created_ms` (milliseconds since the epoch).
    pub fn new(created_ms: i64, random: [u8; 4]) -> Self {
        Self(format!(
            "job_{:013}{}",
            created_ms.clamp(0, 9_999_999_999_999),
            hex::encode(random)
        ))
    }
}

impl Serial {
    pub fn is_spare(&self) -> bool {
        self.0.ends_with("-SPARE")
    }
}

impl ApplianceId {
    /// A fresh id from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(format!("ap_{}", hex::encode(bytes)))
    }
}

impl ClusterId {
    /// The first four hex digits, as the appliance tile shows them.
    pub fn short(&self) -> &str {
        &self.0[..4]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        assert!(TenantId::parse("123456.sms").is_ok());
        for bad in ["", "123456", ".sms", "12a.sms", "123.S", "123.sms.x", "1.s"] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_ids() {
        let id = JobId::new(1_764_000_000_123, [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(id.as_str(), "job_1764000000123deadbeef");
        assert_eq!(JobId::parse(id.as_str()).unwrap(), id);
        assert!(JobId::new(1, [0; 4]) < JobId::new(2, [0; 4]));
        for bad in [
            "",
            "job_",
            "job_1764000000123deadbee",
            "job_176400000012Xdeadbeef",
            "job_1764000000123DEADBEEF",
            "ap_1764000000123deadbeef",
        ] {
            assert!(JobId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backup_ids() {
        let id = BackupId::new(1_764_000_000_123, [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(id.as_str(), "bk_1764000000123deadbeef");
        assert_eq!(BackupId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "bk_",
            "bk_1764000000123deadbee",
            "job_1764000000123deadbeef",
            "bk_../x",
        ] {
            assert!(BackupId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serials() {
        assert!(Serial::parse("A1B2C3D4").is_ok());
        assert!(Serial::parse("A1B2C3D4-SPARE").unwrap().is_spare());
        for bad in ["", "abc1", "A1B", "A1B2-spare", "A1B2 C3", &"A".repeat(33)] {
            assert!(Serial::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn appliance_ids_round_trip() {
        let id = ApplianceId::from_random([0xab; 16]);
        assert_eq!(ApplianceId::parse(id.as_str()).unwrap(), id);
        assert!(ApplianceId::parse("ap_XYZ").is_err());
    }

    #[test]
    fn cluster_ids() {
        assert_eq!(ClusterId::parse("abcdef0123").unwrap().short(), "abcd");
        assert!(ClusterId::parse("ABCD").is_err());
        assert!(ClusterId::parse("abc").is_err());
    }

    #[test]
    fn deserialize_validates() {
        assert!(serde_json::from_str::<Serial>("\"bad serial\"").is_err());
        assert!(serde_json::from_str::<Serial>("\"A1B2C3D4\"").is_ok());
    }
}
