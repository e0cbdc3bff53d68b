//! Appliance items: identity, the last check-in report and the check-in guard.
//!
//! `last_request_ms` is the timestamp of the newest signed request accepted from
//! the appliance. Each check-in's single write is conditioned on its timestamp
//! being newer, which refuses replays without a separate nonce store.

use rampart_domain::Timestamp;
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, ClusterId, Serial, TenantId};
use rampart_domain::license::{ClusterMembership, ClusterRole};
use rampart_domain::portal_protocol::Location;
use rampart_domain::report::CheckinReport;
use rampart_ports::{Condition, Item, Update, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "appliance";

/// Until when (ms) the appliance is handed the fast poll interval: set when a job
/// is queued for it or someone views it, read from the check-in's own write.
pub const FAST_POLL_UNTIL: &str = "fast_poll_until";

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
    /// Copied from the license at enrollment.
    pub cluster: Option<ClusterMembership>,
    /// Fields the portal edits (never touched by check-ins).
    pub edits: ApplianceEdits,
}

/// What administrators set on an appliance in the portal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplianceEdits {
    /// Display name; the hostname when unset.
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub location: Option<Location>,
    pub inventory: BTreeMap<String, String>,
}

impl ApplianceEdits {
    /// The attribute changes that store these edits.
    pub fn update(&self) -> Update {
        let mut u = Update::new();
        u = match &self.name {
            Some(n) => u.set("name", n.as_str()),
            None => u.remove("name"),
        };
        u = u.set(
            "tags",
            Value::L(self.tags.iter().map(|t| Value::S(t.clone())).collect()),
        );
        u = match &self.location {
            Some(l) => u.set("location", serde_json::to_string(l).unwrap_or_default()),
            None => u.remove("location"),
        };
        u.set(
            "inventory",
            Value::M(
                self.inventory
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::S(v.clone())))
                    .collect(),
            ),
        )
    }
}

fn read_edits(item: &Item) -> Result<ApplianceEdits, MalformedItem> {
    let tags = match item.get("tags") {
        Some(Value::L(list)) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(R, "tags"))
            })
            .collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    let inventory = match item.get("inventory") {
        Some(Value::M(map)) => map
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| malformed(R, "inventory"))
            })
            .collect::<Result<_, _>>()?,
        _ => BTreeMap::new(),
    };
    Ok(ApplianceEdits {
        name: item.str("name").map(str::to_owned),
        tags,
        location: item
            .str("location")
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| malformed(R, e))?,
        inventory,
    })
}

impl ApplianceRecord {
    /// Connected or not at `now`, from the last check-in and the poll interval.
    pub fn status(&self, now: Timestamp) -> ConnectionStatus {
        ConnectionStatus::at(
            now,
            self.last_checkin,
            Duration::from_secs(self.poll_interval_secs),
        )
    }

    /// The name the portal shows: the one given in the portal, else the hostname.
    pub fn display_name(&self) -> String {
        self.edits
            .name
            .clone()
            .unwrap_or_else(|| self.hostname.clone())
    }

    /// The item written at enrollment. `first_request` is the enrollment
    /// request's timestamp, so no earlier request can be replayed after it.
    pub fn enrollment_item(&self, first_request: Timestamp) -> Item {
        let item = Item::new(store_keys::appliance(&self.tenant, &self.id))
            .with("serial", self.serial.as_str())
            .with("hostname", self.hostname.as_str())
            .with("model", self.model.as_str())
            .with("firmware", self.firmware.to_string())
            .with("enrolled_at", self.enrolled_at.millis())
            .with("poll_interval_secs", self.poll_interval_secs as i64)
            .with("pending_commands", self.pending_commands as i64)
            .with("last_request_ms", first_request.millis());
        match &self.cluster {
            Some(c) => item.with("cluster_id", c.id.as_str()).with(
                "cluster_role",
                match c.role {
                    ClusterRole::Master => "master",
                    ClusterRole::Spare => "spare",
                },
            ),
            None => item,
        }
    }
}

/// Prefix of the attributes that record where check-ins came from: one attribute
/// per distinct address (`seen_from#203.0.113.7`), holding when (ms) it was last
/// seen. One attribute per address lets the check-in's single write record the
/// address without reading the item first; the security scan only ever targets
/// addresses found here (SPEC 7: the appliance's own, observed addresses).
pub const SEEN_FROM_PREFIX: &str = "seen_from#";

/// How many distinct addresses are kept; beyond that the oldest are dropped.
pub const MAX_SEEN_FROM: usize = 8;

pub fn seen_from_attr(addr: IpAddr) -> String {
    format!("{SEEN_FROM_PREFIX}{}", addr.to_canonical())
}

/// The addresses check-ins came from, newest first, with when each was last seen.
pub fn seen_from(item: &Item) -> Vec<(IpAddr, Timestamp)> {
    let mut seen: Vec<(IpAddr, Timestamp)> = item
        .attrs
        .iter()
        .filter_map(|(name, value)| {
            let addr = name
                .strip_prefix(SEEN_FROM_PREFIX)?
                .parse::<IpAddr>()
                .ok()?;
            Some((addr, Timestamp::from_millis(value.as_i64()?)))
        })
        .collect();
    seen.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    seen
}

/// The attribute removals that keep the newest `MAX_SEEN_FROM` addresses, if the
/// item holds more (only after the appliance's address changed that often).
pub fn seen_from_overflow(item: &Item) -> Option<Update> {
    let seen = seen_from(item);
    if seen.len() <= MAX_SEEN_FROM {
        return None;
    }
    let mut u = Update::new();
    for (addr, _) in &seen[MAX_SEEN_FROM..] {
        u = u.remove(&seen_from_attr(*addr));
    }
    Some(u)
}

/// The one write of a check-in: the report, when it arrived, where it came from,
/// this minute's status-history sample, and the guard.
pub fn checkin_write(
    report: &CheckinReport,
    report_json: String,
    now: Timestamp,
    request_ts: Timestamp,
    poll_interval_secs: u64,
    peer: Option<IpAddr>,
) -> (Update, Condition) {
    let (sample_attr, sample) = super::status_history::pending_write(report, now);
    let mut update = Update::new().set(&sample_attr, sample);
    if let Some(peer) = peer {
        update = update.set(&seen_from_attr(peer), now.millis());
    }
    let update = update
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
            cluster: match (item.str("cluster_id"), item.str("cluster_role")) {
                (Some(id), Some(role)) => Some(ClusterMembership {
                    id: ClusterId::parse(id).map_err(|e| malformed(R, e))?,
                    role: if role == "spare" {
                        ClusterRole::Spare
                    } else {
                        ClusterRole::Master
                    },
                }),
                _ => None,
            },
            edits: read_edits(item)?,
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
            cluster: Some(ClusterMembership {
                id: ClusterId::parse("beef0001").unwrap(),
                role: ClusterRole::Master,
            }),
            edits: ApplianceEdits::default(),
        }
    }

    #[test]
    fn portal_edits_round_trip() {
        let mut item = record().enrollment_item(Timestamp::from_secs(10));
        let edits = ApplianceEdits {
            name: Some("Branch office".into()),
            tags: vec!["berlin".into(), "retail".into()],
            location: Some(Location {
                latitude: 52.5,
                longitude: 13.4,
                label: Some("Berlin".into()),
            }),
            inventory: BTreeMap::from([("asset".to_owned(), "A-17".to_owned())]),
        };
        for (k, v) in edits.update().set {
            item.attrs.insert(k, v);
        }
        assert_eq!(ApplianceRecord::try_from(&item).unwrap().edits, edits);
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
            Some("::ffff:203.0.113.7".parse().unwrap()),
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
        assert_eq!(
            seen_from(&item),
            vec![("203.0.113.7".parse().unwrap(), Timestamp::from_secs(20))]
        );
        let history = super::super::status_history::pending_samples(&item);
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].sample.time(), Timestamp::from_secs(0));
        assert_eq!(history[0].sample.cpu, 1.0);
    }

    #[test]
    fn seen_from_keeps_the_newest_addresses() {
        let mut item = record().enrollment_item(Timestamp::from_secs(10));
        for i in 0..(MAX_SEEN_FROM as u8 + 2) {
            let addr: IpAddr = format!("198.51.100.{i}").parse().unwrap();
            item.attrs
                .insert(seen_from_attr(addr), Value::from(i64::from(i) * 1000));
        }
        let trim = seen_from_overflow(&item).unwrap();
        assert_eq!(trim.remove.len(), 2);
        assert!(trim.remove.contains(&"seen_from#198.51.100.0".to_owned()));
        assert!(trim.remove.contains(&"seen_from#198.51.100.1".to_owned()));
        assert_eq!(seen_from(&item)[0].0.to_string(), "198.51.100.9");
    }
}
