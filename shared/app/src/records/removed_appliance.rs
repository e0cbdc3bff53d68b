//! The durable record of an appliance removed because its license expired long ago
//! (SPEC 2): `REMOVED#<removed ms>#<serial>` in the tenant's partition, so the
//! tenant's removals list oldest first and no other tenant can see them.

use chrono::NaiveDate;
use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::portal_protocol::RemovedAppliance;
use rampart_ports::{Item, Key};

use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "removed appliance";

pub const PREFIX: &str = "REMOVED#";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedRecord {
    pub tenant: TenantId,
    pub serial: Serial,
    pub appliance: ApplianceId,
    pub hostname: String,
    pub license_expired: NaiveDate,
    pub removed_at: Timestamp,
    pub reason: String,
}

pub fn key(tenant: &TenantId, removed_at: Timestamp, serial: &Serial) -> Key {
    Key::new(
        store_keys::tenant_partition(tenant),
        format!("{PREFIX}{:015}#{serial}", removed_at.millis().max(0)),
    )
}

impl From<&RemovedRecord> for Item {
    fn from(r: &RemovedRecord) -> Item {
        Item::new(key(&r.tenant, r.removed_at, &r.serial))
            .with("serial", r.serial.as_str())
            .with("appliance", r.appliance.as_str())
            .with("hostname", r.hostname.as_str())
            .with("license_expired", r.license_expired.to_string())
            .with("removed_at", r.removed_at.millis())
            .with("reason", r.reason.as_str())
    }
}

impl TryFrom<&Item> for RemovedRecord {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, MalformedItem> {
        Ok(RemovedRecord {
            tenant: super::tenant_of(item, R)?,
            serial: Serial::parse(required(item, R, "serial")?).map_err(|e| malformed(R, e))?,
            appliance: ApplianceId::parse(required(item, R, "appliance")?)
                .map_err(|e| malformed(R, e))?,
            hostname: required(item, R, "hostname")?.to_owned(),
            license_expired: NaiveDate::parse_from_str(
                required(item, R, "license_expired")?,
                "%Y-%m-%d",
            )
            .map_err(|e| malformed(R, e))?,
            removed_at: Timestamp::from_millis(
                item.i64("removed_at")
                    .ok_or_else(|| malformed(R, "missing removed_at"))?,
            ),
            reason: required(item, R, "reason")?.to_owned(),
        })
    }
}

impl RemovedRecord {
    pub fn view(&self) -> RemovedAppliance {
        RemovedAppliance {
            tenant: self.tenant.clone(),
            serial: self.serial.clone(),
            appliance: self.appliance.clone(),
            hostname: self.hostname.clone(),
            license_expired: self.license_expired.to_string(),
            removed_at: self.removed_at.to_rfc3339(),
            reason: self.reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let r = RemovedRecord {
            tenant: TenantId::parse("123456.sms").unwrap(),
            serial: Serial::parse("A1B2C3D4").unwrap(),
            appliance: ApplianceId::from_random([3; 16]),
            hostname: "fw-old".into(),
            license_expired: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            removed_at: Timestamp::from_secs(1_780_000_000),
            reason: "license expired".into(),
        };
        let item = Item::from(&r);
        assert!(item.key.sk.starts_with(PREFIX));
        assert_eq!(RemovedRecord::try_from(&item).unwrap(), r);
    }
}
