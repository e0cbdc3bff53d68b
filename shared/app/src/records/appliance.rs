//! Appliance items: identity, the last check-in report and the check-in guard.
//!
//! `last_request_ms` is the timestamp of the newest signed request accepted from
//! the appliance. Each check-in's single write is conditioned on its timestamp
//! being newer, which refuses replays without a separate nonce store.

use rampart_domain::Timestamp;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::report::CheckinReport;
use rampart_ports::{Condition, Item, Update};

use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "appliance";

#[derive(Clone, Debug, PartialEq)]
pub struct ApplianceRecord {
    pub id: ApplianceId,
    pub tenant: TenantId,
    pub serial: Serial,
    pub hostname: String,
    pub model: String,
    pub firmware: FirmwareVersion,
    pub enrolled_at: Timestamp,
    pub last_checkin: Option<Timestamp>,
    /// The poll interval the console last handed the appliance.
    pub poll_interval_secs: u64,
    /// Commands waiting for the appliance (kept on this item so an idle check-in
    /// learns there are none from its own write).
    pub pending_commands: u64,
    pub report: Option<CheckinReport>,
}

impl ApplianceRecord {
    /// The item written at enrollment. `first_request` is the enrollment
    /// request's timestamp, so no earlier request can be replayed after it.
    pub fn enrollment_item(&self, first_request: Timestamp) -> Item {
        Item::new(store_keys::appliance(&self.tenant, &self.id))
            .with("serial", self.serial.as_str())
            .with("hostname", self.hostname.as_str())
            .with("model", self.model.as_str())
            .with("firmware", self.firmware.to_string())
            .with("enrolled_at", self.enrolled_at.millis())
            .with("poll_interval_secs", self.poll_interval_secs as i64)
            .with("pending_commands", self.pending_commands as i64)
            .with("last_request_ms", first_request.millis())
    }
}

/// The one write of a check-in: the report, when it arrived, and the guard.
pub fn checkin_write(
    report: &CheckinReport,
    report_json: String,
    now: Timestamp,
    request_ts: Timestamp,
    poll_interval_secs: u64,
) -> (Update, Condition) {
    let update = Update::new()
        .set("hostname", report.hostname.as_str())
        .set("model", report.model.as_str())
        .set("firmware", report.firmware.to_string())
        .set("report", report_json)
        .set("last_checkin", now.millis())
        .set("last_request_ms", request_ts.millis())
        .set("poll_interval_secs", poll_interval_secs as i64);
    let condition = Condition::Exists.and(Condition::lt("last_request_ms", request_ts.millis()));
    (update, condition)
}

impl TryFrom<&Item> for ApplianceRecord {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, MalformedItem> {
        let tenant = item
            .key
            .pk
            .strip_prefix("TENANT#")
            .ok_or_else(|| malformed(R, "key"))?;
        let id = item
            .key
            .sk
            .strip_prefix(store_keys::APPLIANCE_PREFIX)
            .ok_or_else(|| malformed(R, "key"))?;
        let num = |name: &str| -> Result<i64, MalformedItem> {
            item.i64(name)
                .ok_or_else(|| malformed(R, format!("missing {name}")))
        };
        let report = item
            .str("report")
            .map(serde_json::from_str::<CheckinReport>)
            .transpose()
            .map_err(|e| malformed(R, e))?;
        Ok(ApplianceRecord {
            id: ApplianceId::parse(id).map_err(|e| malformed(R, e))?,
            tenant: TenantId::parse(tenant).map_err(|e| malformed(R, e))?,
            serial: Serial::parse(required(item, R, "serial")?).map_err(|e| malformed(R, e))?,
            hostname: required(item, R, "hostname")?.to_owned(),
            model: required(item, R, "model")?.to_owned(),
            firmware: FirmwareVersion::parse(required(item, R, "firmware")?)
                .map_err(|e| malformed(R, e))?,
            enrolled_at: Timestamp::from_millis(num("enrolled_at")?),
            last_checkin: item.i64("last_checkin").map(Timestamp::from_millis),
            poll_interval_secs: u64::try_from(num("poll_interval_secs")?)
                .map_err(|e| malformed(R, e))?,
            pending_commands: u64::try_from(num("pending_commands")?)
                .map_err(|e| malformed(R, e))?,
            report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ApplianceRecord {
        ApplianceRecord {
            id: ApplianceId::from_random([4; 16]),
            tenant: TenantId::parse("123456.sms").unwrap(),
            serial: Serial::parse("A1B2C3D4").unwrap(),
            hostname: "fw".into(),
            model: "UTM".into(),
            firmware: FirmwareVersion::parse("14.0").unwrap(),
            enrolled_at: Timestamp::from_secs(10),
            last_checkin: None,
            poll_interval_secs: 60,
            pending_commands: 0,
            report: None,
        }
    }

    #[test]
    fn enrollment_item_reads_back() {
        let r = record();
        let item = r.enrollment_item(Timestamp::from_secs(10));
        assert_eq!(ApplianceRecord::try_from(&item).unwrap(), r);
        assert_eq!(item.i64("last_request_ms"), Some(10_000));
    }

    #[test]
    fn checkin_write_is_guarded_by_the_request_timestamp() {
        let report: CheckinReport = serde_json::from_value(serde_json::json!({
            "firmware": "14.1", "hostname": "fw2", "model": "UTM",
            "cpu_percent": 1, "memory_percent": 2, "disk_percent": 3, "uptime_secs": 4
        }))
        .unwrap();
        let json = serde_json::to_string(&report).unwrap();
        let (update, cond) = checkin_write(
            &report,
            json,
            Timestamp::from_secs(20),
            Timestamp::from_millis(19_500),
            30,
        );
        assert_eq!(
            cond,
            Condition::And(vec![
                Condition::Exists,
                Condition::lt("last_request_ms", 19_500i64)
            ])
        );
        let mut item = record().enrollment_item(Timestamp::from_secs(10));
        for (k, v) in update.set {
            item.attrs.insert(k, v);
        }
        let back = ApplianceRecord::try_from(&item).unwrap();
        assert_eq!(back.report, Some(report));
        assert_eq!(back.hostname, "fw2");
        assert_eq!(back.last_checkin, Some(Timestamp::from_secs(20)));
        assert_eq!(back.poll_interval_secs, 30);
    }
}
