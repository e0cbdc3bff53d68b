//! Where the status history lives, as pure item mapping.
//!
//! Fresh samples ride on the appliance item, so the check-in's one write records
//! them: `status#<slot>` = `"<epoch minute>:<cpu>,<mem>,<disk>"` (tenths of a
//! percent), with `slot` = minute mod [`PENDING_SLOTS`]. The slots form a ring:
//! whatever happens to compaction, the appliance item never holds more than
//! `PENDING_SLOTS` samples (a few KB), so its write cost stays bounded.
//!
//! Compaction moves the samples of closed hours into one item per appliance and
//! hour in the tenant's partition, `STATUS#<appliance>#<yyyymmddhh>`:
//! hour N (epoch hour), m00..m59 S (`"<cpu>,<mem>,<disk>"` of that minute), ttl N.
//! Samples are merged in by setting their minute's attribute, so writing the same
//! sample twice changes nothing.

use chrono::{DateTime, Utc};
use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::report::CheckinReport;
use rampart_domain::status_history::{RETENTION, StatusSample};
use rampart_ports::table::TTL_ATTR;
use rampart_ports::{Condition, Item, Key, Update, Value};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::store_keys;

pub const PENDING_PREFIX: &str = "status#";
/// Six hours of one-minute samples: compaction runs every hour, so five missed
/// runs in a row still lose nothing.
pub const PENDING_SLOTS: i64 = 360;
/// Attributes one compaction write removes at most (DynamoDB caps a condition
/// expression at 4 KB; each removal carries an equality condition).
pub const REMOVALS_PER_WRITE: usize = 40;

const MINUTES_PER_HOUR: i64 = 60;
const HOUR_ATTR: &str = "hour";
/// An hour item outlives the retention window by a day, so everything a query
/// may reach is still there (TTL deletes late, never early: reads filter on it).
const KEEP_AFTER_HOUR: Duration = Duration::from_secs(RETENTION.as_secs() + 24 * 3600);

pub fn pending_attr(minute: i64) -> String {
    format!("{PENDING_PREFIX}{}", minute.rem_euclid(PENDING_SLOTS))
}

/// The attribute the check-in's write sets: this minute's sample.
pub fn pending_write(report: &CheckinReport, now: Timestamp) -> (String, Value) {
    let s = StatusSample::at(
        now,
        report.cpu_percent,
        report.memory_percent,
        report.disk_percent,
    );
    (
        pending_attr(s.minute),
        Value::S(format!("{}:{}", s.minute, s.encode_values())),
    )
}

/// One not-yet-compacted sample on an appliance item, with the attribute as
/// stored (compaction removes it only if it is still exactly that).
#[derive(Clone, Debug, PartialEq)]
pub struct PendingSample {
    pub attr: String,
    pub stored: Value,
    pub sample: StatusSample,
}

/// The samples on an appliance item, oldest first; unreadable slots are skipped.
pub fn pending_samples(item: &Item) -> Vec<PendingSample> {
    let mut out: Vec<PendingSample> = item
        .attrs
        .iter()
        .filter(|(name, _)| name.starts_with(PENDING_PREFIX))
        .filter_map(|(name, value)| {
            let (minute, values) = value.as_str()?.split_once(':')?;
            let sample = StatusSample::decode_values(minute.parse().ok()?, values)?;
            Some(PendingSample {
                attr: name.clone(),
                stored: value.clone(),
                sample,
            })
        })
        .collect();
    out.sort_by_key(|p| p.sample.minute);
    out
}

pub fn hour_of_minute(minute: i64) -> i64 {
    minute.div_euclid(MINUTES_PER_HOUR)
}

fn hour_label(hour: i64) -> String {
    DateTime::<Utc>::from_timestamp(hour.saturating_mul(3600), 0)
        .map(|t| t.format("%Y%m%d%H").to_string())
        .unwrap_or_else(|| format!("{hour:010}"))
}

/// The sort-key prefix of one appliance's hour items (ends in `#`).
pub fn hour_prefix(appliance: &ApplianceId) -> String {
    format!("STATUS#{appliance}#")
}

/// The sort key of an appliance's item for `hour` (epoch hours); sorts by time.
pub fn hour_sort(appliance: &ApplianceId, hour: i64) -> String {
    format!("{}{}", hour_prefix(appliance), hour_label(hour))
}

pub fn hour_key(tenant: &TenantId, appliance: &ApplianceId, hour: i64) -> Key {
    Key::new(
        store_keys::tenant_partition(tenant),
        hour_sort(appliance, hour),
    )
}

/// The merge of `samples` (all of `hour`) into that hour's item: each sets its
/// own minute, so a repeated merge is harmless, and the TTL follows the hour.
pub fn hour_merge(hour: i64, samples: &[StatusSample]) -> Update {
    let end = Timestamp::from_secs((hour + 1).saturating_mul(3600));
    let mut u = Update::new()
        .set(HOUR_ATTR, hour)
        .set(TTL_ATTR, end.plus(KEEP_AFTER_HOUR).secs());
    for s in samples {
        u = u.set(
            &format!("m{:02}", s.minute.rem_euclid(MINUTES_PER_HOUR)),
            s.encode_values(),
        );
    }
    u
}

/// The samples an hour item holds.
pub fn hour_samples(item: &Item) -> Vec<StatusSample> {
    let Some(hour) = item.i64(HOUR_ATTR) else {
        return Vec::new();
    };
    item.attrs
        .iter()
        .filter_map(|(name, value)| {
            let m: i64 = name.strip_prefix('m')?.parse().ok()?;
            if !(0..MINUTES_PER_HOUR).contains(&m) || name.len() != 3 {
                return None;
            }
            StatusSample::decode_values(hour * MINUTES_PER_HOUR + m, value.as_str()?)
        })
        .collect()
}

/// Groups samples by their hour.
pub fn by_hour(samples: &[PendingSample]) -> BTreeMap<i64, Vec<StatusSample>> {
    let mut hours: BTreeMap<i64, Vec<StatusSample>> = BTreeMap::new();
    for p in samples {
        hours
            .entry(hour_of_minute(p.sample.minute))
            .or_default()
            .push(p.sample);
    }
    hours
}

/// The writes that take moved samples off the appliance item, each removing an
/// attribute only while it still holds the moved value (a check-in may have
/// reused the slot meanwhile; then that sample stays for the next run).
pub fn pending_removals(moved: &[PendingSample]) -> Vec<(Update, Condition)> {
    moved
        .chunks(REMOVALS_PER_WRITE)
        .map(|chunk| {
            let mut u = Update::new();
            let mut c = Condition::Exists;
            for p in chunk {
                u = u.remove(&p.attr);
                c = c.and(Condition::Eq(p.attr.clone(), p.stored.clone()));
            }
            (u, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appliance() -> ApplianceId {
        ApplianceId::from_random([4; 16])
    }

    fn tenant() -> TenantId {
        TenantId::parse("123456.sms").unwrap()
    }

    fn report(cpu: f64) -> CheckinReport {
        serde_json::from_value(serde_json::json!({
            "firmware": "14.1", "hostname": "fw", "model": "UTM",
            "cpu_percent": cpu, "memory_percent": 40, "disk_percent": 3.25, "uptime_secs": 4
        }))
        .unwrap()
    }

    fn appliance_item(writes: &[(f64, Timestamp)]) -> Item {
        let mut item = Item::new(store_keys::appliance(&tenant(), &appliance()));
        for (cpu, at) in writes {
            let (name, value) = pending_write(&report(*cpu), *at);
            item.attrs.insert(name, value);
        }
        item
    }

    // 2025-11-25T12:00:00Z
    const NOON: i64 = 1_764_072_000;

    #[test]
    fn the_check_in_sample_reads_back_and_a_minute_keeps_its_last() {
        let t = Timestamp::from_secs(NOON);
        let item = appliance_item(&[
            (10.0, t),
            (20.0, t.plus(Duration::from_secs(30))),
            (30.0, t.plus(Duration::from_secs(60))),
        ]);
        let pending = pending_samples(&item);
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].sample.cpu, 20.0);
        assert_eq!(pending[0].sample.disk, 3.3);
        assert_eq!(pending[0].sample.time(), t);
        assert_eq!(pending[1].sample.cpu, 30.0);
    }

    #[test]
    fn the_ring_bounds_the_appliance_item() {
        let t = Timestamp::from_secs(NOON);
        let writes: Vec<_> = (0..(PENDING_SLOTS * 2))
            .map(|m| (1.0, t.plus(Duration::from_secs(60 * m as u64))))
            .collect();
        let pending = pending_samples(&appliance_item(&writes));
        assert_eq!(pending.len() as i64, PENDING_SLOTS);
        // The newest samples are the ones kept.
        assert_eq!(
            pending.last().unwrap().sample.time(),
            writes.last().unwrap().1
        );
    }

    #[test]
    fn hour_items_merge_idempotently_and_read_back() {
        let t = Timestamp::from_secs(NOON);
        let item = appliance_item(&[(10.0, t), (20.0, t.plus(Duration::from_secs(59 * 60)))]);
        let pending = pending_samples(&item);
        let hours = by_hour(&pending);
        assert_eq!(hours.len(), 1);
        let (hour, samples) = hours.iter().next().unwrap();
        assert_eq!(
            hour_sort(&appliance(), *hour),
            format!("STATUS#{}#2025112512", appliance())
        );
        let mut hour_item = Item::new(hour_key(&tenant(), &appliance(), *hour));
        for _ in 0..2 {
            for (k, v) in hour_merge(*hour, samples).set {
                hour_item.attrs.insert(k, v);
            }
        }
        let back = hour_samples(&hour_item);
        assert_eq!(back, *samples);
        assert_eq!(
            hour_item.i64(TTL_ATTR),
            Some(NOON + 3600 + 31 * 24 * 3600),
            "kept a day past the retention window after the hour ends"
        );
    }

    #[test]
    fn removals_are_conditioned_on_the_moved_value_and_chunked() {
        let t = Timestamp::from_secs(NOON);
        let writes: Vec<_> = (0..100)
            .map(|m| (1.0, t.plus(Duration::from_secs(60 * m))))
            .collect();
        let pending = pending_samples(&appliance_item(&writes));
        let removals = pending_removals(&pending);
        assert_eq!(removals.len(), 3);
        let (u, c) = &removals[0];
        assert_eq!(u.remove.len(), REMOVALS_PER_WRITE);
        let Condition::And(parts) = c else {
            panic!("{c:?}")
        };
        assert_eq!(parts[0], Condition::Exists);
        assert_eq!(
            parts[1],
            Condition::Eq(pending[0].attr.clone(), pending[0].stored.clone())
        );
    }

    #[test]
    fn garbage_is_not_a_sample() {
        let mut item = appliance_item(&[]);
        item.attrs
            .insert("status#1".into(), Value::S("x:1,2,3".into()));
        item.attrs.insert("status#2".into(), Value::N(5));
        assert!(pending_samples(&item).is_empty());
        let mut hour = Item::new(hour_key(&tenant(), &appliance(), 1)).with("hour", 1i64);
        hour.attrs.insert("m60".into(), Value::S("1,2,3".into()));
        hour.attrs.insert("m5".into(), Value::S("1,2,3".into()));
        assert!(hour_samples(&hour).is_empty());
    }
}
