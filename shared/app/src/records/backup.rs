//! Cloud-backup items: the index entry of each accepted backup, the upload grant
//! that precedes it, the registry of licenses that have backups (what the daily
//! rotation sweep walks) and the regular-backup schedule's due entries.
//!
//! ```text
//! backup     pk TENANT#<tenant>  sk BACKUP#<serial>#<backup id>
//!            appliance S, accepted_at N (ms), size N, password_generation N,
//!            made_by S, job S?
//! grant      pk TENANT#<tenant>  sk BACKUPGRANT#<backup id>
//!            serial S, appliance S, size N, sha256 S (hex), password_generation N,
//!            made_by S, job S?, ttl N
//! registry   pk BACKUPLICENSES   sk <tenant>#<serial>
//! due        pk BACKUPDUE        sk <due ms, 13 digits>#<tenant>#<appliance>
//! ```
//! The object of a backup is `backups/<tenant>/<serial>/<backup id>.rbk`, so the
//! created-object event alone names the tenant, license and grant.

use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, BackupId, JobId, Serial, TenantId};
use rampart_domain::portal_protocol::BackupView;
use rampart_ports::{Item, Key};

use super::{MalformedItem, malformed, required, tenant_of};
use crate::store_keys;

const R: &str = "backup";

pub const OBJECT_PREFIX: &str = "backups/";
const OBJECT_SUFFIX: &str = ".rbk";

/// Who made a backup when no user did.
pub const MADE_BY_SCHEDULE: &str = "schedule";
pub const MADE_BY_APPLIANCE: &str = "appliance";

pub fn object_key(tenant: &TenantId, serial: &Serial, id: &BackupId) -> String {
    format!("{OBJECT_PREFIX}{tenant}/{serial}/{id}{OBJECT_SUFFIX}")
}

/// The tenant, license and backup an object key names (None for anything else).
pub fn parse_object_key(key: &str) -> Option<(TenantId, Serial, BackupId)> {
    let rest = key.strip_prefix(OBJECT_PREFIX)?;
    let mut parts = rest.split('/');
    let tenant = TenantId::parse(parts.next()?).ok()?;
    let serial = Serial::parse(parts.next()?).ok()?;
    let id = BackupId::parse(parts.next()?.strip_suffix(OBJECT_SUFFIX)?).ok()?;
    parts.next().is_none().then_some((tenant, serial, id))
}

pub fn license_prefix(serial: &Serial) -> String {
    format!("BACKUP#{serial}#")
}

pub fn backup_key(tenant: &TenantId, serial: &Serial, id: &BackupId) -> Key {
    Key::new(
        store_keys::tenant_partition(tenant),
        format!("{}{id}", license_prefix(serial)),
    )
}

pub fn grant_key(tenant: &TenantId, id: &BackupId) -> Key {
    Key::new(
        store_keys::tenant_partition(tenant),
        format!("BACKUPGRANT#{id}"),
    )
}

pub const REGISTRY_PARTITION: &str = "BACKUPLICENSES";

pub fn registry_key(tenant: &TenantId, serial: &Serial) -> Key {
    Key::new(REGISTRY_PARTITION, format!("{tenant}#{serial}"))
}

pub fn parse_registry_sort(sk: &str) -> Option<(TenantId, Serial)> {
    let (tenant, serial) = sk.split_once('#')?;
    Some((TenantId::parse(tenant).ok()?, Serial::parse(serial).ok()?))
}

pub const DUE_PARTITION: &str = "BACKUPDUE";

pub fn due_key(due: Timestamp, tenant: &TenantId, appliance: &ApplianceId) -> Key {
    Key::new(
        DUE_PARTITION,
        format!("{}#{tenant}#{appliance}", due_sort(due)),
    )
}

/// The sort-key prefix up to and including `due`, for "everything due by then".
pub fn due_sort(due: Timestamp) -> String {
    format!("{:013}", due.millis().clamp(0, 9_999_999_999_999))
}

pub fn parse_due_sort(sk: &str) -> Option<(Timestamp, TenantId, ApplianceId)> {
    let mut parts = sk.split('#');
    let due = parts.next()?.parse::<i64>().ok()?;
    let tenant = TenantId::parse(parts.next()?).ok()?;
    let appliance = ApplianceId::parse(parts.next()?).ok()?;
    parts
        .next()
        .is_none()
        .then_some((Timestamp::from_millis(due), tenant, appliance))
}

/// One accepted backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupRecord {
    pub tenant: TenantId,
    pub serial: Serial,
    pub id: BackupId,
    pub appliance: ApplianceId,
    pub accepted_at: Timestamp,
    pub size: u64,
    pub password_generation: u32,
    pub made_by: String,
    pub job: Option<JobId>,
}

impl BackupRecord {
    pub fn key(&self) -> Key {
        backup_key(&self.tenant, &self.serial, &self.id)
    }

    pub fn object_key(&self) -> String {
        object_key(&self.tenant, &self.serial, &self.id)
    }

    pub fn view(&self) -> BackupView {
        BackupView {
            id: self.id.clone(),
            serial: self.serial.clone(),
            appliance: self.appliance.clone(),
            accepted_at: self.accepted_at.to_rfc3339(),
            size: self.size,
            password_generation: self.password_generation,
            made_by: self.made_by.clone(),
            job: self.job.clone(),
        }
    }
}

impl From<&BackupRecord> for Item {
    fn from(b: &BackupRecord) -> Item {
        let item = Item::new(b.key())
            .with("appliance", b.appliance.as_str())
            .with("accepted_at", b.accepted_at.millis())
            .with("size", i64::try_from(b.size).unwrap_or(i64::MAX))
            .with("password_generation", i64::from(b.password_generation))
            .with("made_by", b.made_by.as_str());
        match &b.job {
            Some(j) => item.with("job", j.as_str()),
            None => item,
        }
    }
}

fn number<T: TryFrom<i64>>(
    item: &Item,
    record: &'static str,
    name: &str,
) -> Result<T, MalformedItem> {
    item.i64(name)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| malformed(record, format!("missing or bad {name}")))
}

impl TryFrom<&Item> for BackupRecord {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, MalformedItem> {
        let tenant = tenant_of(item, R)?;
        let (serial, id) = item
            .key
            .sk
            .strip_prefix("BACKUP#")
            .and_then(|rest| rest.split_once('#'))
            .ok_or_else(|| malformed(R, "key"))?;
        Ok(BackupRecord {
            tenant,
            serial: Serial::parse(serial).map_err(|e| malformed(R, e))?,
            id: BackupId::parse(id).map_err(|e| malformed(R, e))?,
            appliance: ApplianceId::parse(required(item, R, "appliance")?)
                .map_err(|e| malformed(R, e))?,
            accepted_at: Timestamp::from_millis(number(item, R, "accepted_at")?),
            size: number(item, R, "size")?,
            password_generation: number(item, R, "password_generation")?,
            made_by: required(item, R, "made_by")?.to_owned(),
            job: item
                .str("job")
                .map(JobId::parse)
                .transpose()
                .map_err(|e| malformed(R, e))?,
        })
    }
}

/// A granted upload: what the object must be for the ingest to index it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadGrant {
    pub tenant: TenantId,
    pub serial: Serial,
    pub id: BackupId,
    pub appliance: ApplianceId,
    pub size: u64,
    pub sha256: [u8; 32],
    pub password_generation: u32,
    pub made_by: String,
    pub job: Option<JobId>,
    /// The grant is kept this long (seconds since the epoch, the store's TTL).
    pub expires: Timestamp,
}

const G: &str = "backup grant";

impl From<&UploadGrant> for Item {
    fn from(g: &UploadGrant) -> Item {
        let item = Item::new(grant_key(&g.tenant, &g.id))
            .with("serial", g.serial.as_str())
            .with("appliance", g.appliance.as_str())
            .with("size", i64::try_from(g.size).unwrap_or(i64::MAX))
            .with("sha256", hex::encode(g.sha256))
            .with("password_generation", i64::from(g.password_generation))
            .with("made_by", g.made_by.as_str())
            .with("ttl", g.expires.secs());
        match &g.job {
            Some(j) => item.with("job", j.as_str()),
            None => item,
        }
    }
}

impl TryFrom<&Item> for UploadGrant {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, MalformedItem> {
        let tenant = tenant_of(item, G)?;
        let id = item
            .key
            .sk
            .strip_prefix("BACKUPGRANT#")
            .and_then(|id| BackupId::parse(id).ok())
            .ok_or_else(|| malformed(G, "key"))?;
        let sha256 = hex::decode(required(item, G, "sha256")?)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| malformed(G, "sha256"))?;
        Ok(UploadGrant {
            tenant,
            id,
            serial: Serial::parse(required(item, G, "serial")?).map_err(|e| malformed(G, e))?,
            appliance: ApplianceId::parse(required(item, G, "appliance")?)
                .map_err(|e| malformed(G, e))?,
            size: number(item, G, "size")?,
            sha256,
            password_generation: number(item, G, "password_generation")?,
            made_by: required(item, G, "made_by")?.to_owned(),
            job: item
                .str("job")
                .map(JobId::parse)
                .transpose()
                .map_err(|e| malformed(G, e))?,
            expires: Timestamp::from_secs(number(item, G, "ttl")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("100001.sms").unwrap()
    }

    fn serial() -> Serial {
        Serial::parse("A1B2C3D4").unwrap()
    }

    #[test]
    fn object_keys_name_tenant_license_and_backup() {
        let id = BackupId::new(1_764_000_000_000, [1, 2, 3, 4]);
        let key = object_key(&tenant(), &serial(), &id);
        assert_eq!(
            key,
            "backups/100001.sms/A1B2C3D4/bk_176400000000001020304.rbk"
        );
        assert!(rampart_ports::objects::validate_object_key(&key).is_ok());
        assert_eq!(parse_object_key(&key), Some((tenant(), serial(), id)));
        for bad in [
            "backups/100001.sms/A1B2C3D4/bk_176400000000001020304",
            "backups/100001.sms/A1B2C3D4/x/bk_176400000000001020304.rbk",
            "other/100001.sms/A1B2C3D4/bk_176400000000001020304.rbk",
            "backups/nope/A1B2C3D4/bk_176400000000001020304.rbk",
        ] {
            assert_eq!(parse_object_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn records_round_trip_through_items() {
        let b = BackupRecord {
            tenant: tenant(),
            serial: serial(),
            id: BackupId::new(1_764_000_000_000, [9; 4]),
            appliance: ApplianceId::from_random([7; 16]),
            accepted_at: Timestamp::from_millis(1_764_000_001_234),
            size: 4096,
            password_generation: 3,
            made_by: "admin@example.com".into(),
            job: Some(JobId::new(1_764_000_000_000, [1; 4])),
        };
        assert_eq!(BackupRecord::try_from(&Item::from(&b)).unwrap(), b);
        let g = UploadGrant {
            tenant: tenant(),
            serial: serial(),
            id: b.id.clone(),
            appliance: b.appliance.clone(),
            size: 4096,
            sha256: [0xab; 32],
            password_generation: 3,
            made_by: MADE_BY_SCHEDULE.into(),
            job: None,
            expires: Timestamp::from_secs(1_764_100_000),
        };
        assert_eq!(UploadGrant::try_from(&Item::from(&g)).unwrap(), g);
        let mut broken = Item::from(&b);
        broken.attrs.remove("size");
        assert!(BackupRecord::try_from(&broken).is_err());
    }

    #[test]
    fn due_keys_sort_by_time() {
        let a = ApplianceId::from_random([1; 16]);
        let early = due_key(Timestamp::from_millis(999), &tenant(), &a);
        let late = due_key(Timestamp::from_millis(1_764_000_000_000), &tenant(), &a);
        assert!(early.sk < late.sk);
        assert_eq!(
            parse_due_sort(&late.sk),
            Some((Timestamp::from_millis(1_764_000_000_000), tenant(), a))
        );
        assert_eq!(
            parse_registry_sort(&registry_key(&tenant(), &serial()).sk),
            Some((tenant(), serial()))
        );
    }
}
