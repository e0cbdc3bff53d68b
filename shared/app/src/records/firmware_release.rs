//! Firmware catalog entries (SPEC 9): one item per version in the tenant-independent
//! `FIRMWARE` partition, sorted by version (zero-padded numbers in the sort key), so
//! one query reads the whole catalog in order.

use chrono::NaiveDate;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::firmware_catalog::FirmwareRelease;
use rampart_ports::{Item, Key, Value};

use super::{MalformedItem, malformed, required};

const R: &str = "firmware release";

/// The catalog's partition: the same for every tenant (portal users read it all).
pub const PARTITION: &str = "FIRMWARE";
pub const PREFIX: &str = "VERSION#";

/// Sorts numerically as text: 14.10.0 after 14.9.0.
pub fn sort_key(v: FirmwareVersion) -> String {
    let (major, minor, patch) = v.parts();
    format!("{PREFIX}{major:05}.{minor:05}.{patch:05}")
}

pub fn key(v: FirmwareVersion) -> Key {
    Key::new(PARTITION, sort_key(v))
}

pub fn to_item(r: &FirmwareRelease) -> Item {
    let item = Item::new(key(r.version))
        .with("version", r.version.to_string())
        .with("released", r.released.to_string())
        .with("security", r.security);
    match &r.notes {
        Some(n) => item.with("notes", n.as_str()),
        None => item,
    }
}

pub fn from_item(item: &Item) -> Result<FirmwareRelease, MalformedItem> {
    Ok(FirmwareRelease {
        version: FirmwareVersion::parse(required(item, R, "version")?)
            .map_err(|e| malformed(R, e))?,
        released: NaiveDate::parse_from_str(required(item, R, "released")?, "%Y-%m-%d")
            .map_err(|e| malformed(R, e))?,
        security: matches!(item.get("security"), Some(Value::Bool(true))),
        notes: item.str("notes").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts_numerically() {
        let r = FirmwareRelease {
            version: FirmwareVersion::parse("14.10").unwrap(),
            released: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            security: true,
            notes: Some("fixes CVE-2026-0001".into()),
        };
        assert_eq!(from_item(&to_item(&r)).unwrap(), r);
        let plain = FirmwareRelease {
            notes: None,
            security: false,
            ..r.clone()
        };
        assert_eq!(from_item(&to_item(&plain)).unwrap(), plain);
        assert!(
            sort_key(FirmwareVersion::parse("14.9.9").unwrap()) < sort_key(r.version),
            "14.9.9 sorts before 14.10.0"
        );
    }
}
