//! Communication-log items (SPEC 4.6).
//!
//! Layout: each entry lives under its tenant's partition, so every portal query
//! is walled in by the tenant in its key:
//!
//! ```text
//! pk  TENANT#<tenant>
//! sk  LOG#<appliance id>#<seq, zero-padded to 20 digits>
//! appliance S, seq N, time N (ms), job S (absent when none), direction S,
//! status S, info S (may be empty), prev_hash B (32), hash B (32),
//! ttl N = time + 90 days, in seconds
//! ```
//!
//! The padding makes the string order of sort keys the numeric order of seqs
//! (u64::MAX has 20 digits), so a backward query over [`log_prefix`] pages newest
//! first ([`newest_first`]).
//!
//! The chain's head (seq and hash of the newest entry) is kept on the appliance
//! item as `log_head_seq` (N) and `log_head_hash` (B); [`head_update`],
//! [`head_condition`] and [`head_from_item`] are the pieces the writer puts in one
//! transaction with the entry's put.

use rampart_domain::Timestamp;
use rampart_domain::comm_log::{ChainHead, Direction, LogEntry, LogStatus, RETENTION};
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_ports::{Condition, Cursor, Item, Query, SortKey, Update, Value};

use super::{MalformedItem, malformed, required};
use crate::store_keys::{self, LOG_PREFIX, SEQ_DIGITS, log_entry, log_prefix};

const R: &str = "comm_log";

// ---- queries -----------------------------------------------------------------------

/// One page of an appliance's log, newest first.
pub fn newest_first(
    tenant: &TenantId,
    appliance: &ApplianceId,
    limit: u32,
    cursor: Option<Cursor>,
) -> Query {
    Query::partition(store_keys::tenant_partition(tenant))
        .sk(SortKey::BeginsWith(log_prefix(appliance)))
        .limit(limit)
        .backward()
        .after(cursor)
}

/// One page of an appliance's log, oldest first (what `rampart log verify` walks).
pub fn oldest_first(
    tenant: &TenantId,
    appliance: &ApplianceId,
    limit: u32,
    cursor: Option<Cursor>,
) -> Query {
    Query::partition(store_keys::tenant_partition(tenant))
        .sk(SortKey::BeginsWith(log_prefix(appliance)))
        .limit(limit)
        .after(cursor)
}

// ---- entries -----------------------------------------------------------------------

/// When an entry written at `time` expires, in whole seconds (the `ttl` attribute).
pub fn expires_at(time: Timestamp) -> i64 {
    time.plus(RETENTION).secs()
}

/// Entry → item.
pub fn to_item(tenant: &TenantId, e: &LogEntry) -> Item {
    let mut item = Item::new(log_entry(tenant, &e.appliance, e.seq))
        .with("appliance", e.appliance.as_str())
        .with("seq", seq_to_i64(e.seq))
        .with("time", e.time.millis())
        .with("direction", e.direction.as_str())
        .with("status", e.status.as_str())
        .with("info", e.info.as_str())
        .with("prev_hash", Value::B(e.prev_hash.to_vec()))
        .with("hash", Value::B(e.hash.to_vec()))
        .with(rampart_ports::table::TTL_ATTR, expires_at(e.time));
    if let Some(job) = &e.job {
        item = item.with("job", job.as_str());
    }
    item
}

/// Item → entry. The key decides the appliance and the seq; the `appliance` and
/// `seq` attributes must agree with it. Field contents are not re-validated here:
/// the entry's hash covers them, and [`rampart_domain::comm_log::verify_chain`]
/// reports any alteration.
pub fn from_item(item: &Item) -> Result<LogEntry, MalformedItem> {
    if !item.key.pk.starts_with("TENANT#") {
        return Err(malformed(R, "partition key"));
    }
    let (appliance, seq) = parse_sort(&item.key.sk)?;
    if required(item, R, "appliance")? != appliance.as_str() {
        return Err(malformed(R, "appliance attribute does not match the key"));
    }
    let seq_attr = item.i64("seq").ok_or_else(|| malformed(R, "missing seq"))?;
    if u64::try_from(seq_attr).ok() != Some(seq) {
        return Err(malformed(R, "seq attribute does not match the key"));
    }
    let time = item
        .i64("time")
        .map(Timestamp::from_millis)
        .ok_or_else(|| malformed(R, "missing time"))?;
    let job = match item.get("job") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .ok_or_else(|| malformed(R, "job is not a string"))?
                .to_owned(),
        ),
    };
    let direction =
        Direction::parse(required(item, R, "direction")?).map_err(|e| malformed(R, e))?;
    let status = LogStatus::parse(required(item, R, "status")?).map_err(|e| malformed(R, e))?;
    Ok(LogEntry {
        appliance,
        seq,
        time,
        job,
        direction,
        status,
        info: required(item, R, "info")?.to_owned(),
        prev_hash: hash_attr(item, "prev_hash")?,
        hash: hash_attr(item, "hash")?,
    })
}

/// The appliance and seq a log sort key names.
pub fn parse_sort(sk: &str) -> Result<(ApplianceId, u64), MalformedItem> {
    let rest = sk
        .strip_prefix(LOG_PREFIX)
        .ok_or_else(|| malformed(R, "sort key"))?;
    let (id, seq) = rest
        .rsplit_once('#')
        .ok_or_else(|| malformed(R, "sort key"))?;
    let appliance = ApplianceId::parse(id).map_err(|e| malformed(R, e))?;
    if seq.len() != SEQ_DIGITS || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(R, "sort key seq"));
    }
    let seq = seq.parse().map_err(|_| malformed(R, "sort key seq"))?;
    Ok((appliance, seq))
}

fn hash_attr(item: &Item, name: &str) -> Result<[u8; 32], MalformedItem> {
    item.get(name)
        .and_then(Value::as_bytes)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed(R, format!("{name} is not 32 bytes")))
}

/// Seqs beyond i64::MAX cannot be stored as `N`; they are never reached (one entry
/// a millisecond would take 292 million years), so saturate rather than fail.
fn seq_to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

// ---- the head pointer on the appliance item ----------------------------------------

pub const HEAD_SEQ_ATTR: &str = "log_head_seq";
pub const HEAD_HASH_ATTR: &str = "log_head_hash";

/// The appliance item's chain head; [`ChainHead::GENESIS`] when no entry was
/// ever written (neither attribute present).
pub fn head_from_item(appliance_item: &Item) -> Result<ChainHead, MalformedItem> {
    match (
        appliance_item.get(HEAD_SEQ_ATTR),
        appliance_item.get(HEAD_HASH_ATTR),
    ) {
        (None, None) => Ok(ChainHead::GENESIS),
        (Some(seq), Some(_)) => {
            let seq = seq
                .as_i64()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| malformed(R, "log_head_seq"))?;
            Ok(ChainHead {
                seq,
                hash: hash_attr(appliance_item, HEAD_HASH_ATTR)?,
            })
        }
        _ => Err(malformed(R, "log_head_seq without log_head_hash")),
    }
}

/// Moves the appliance item's head to `new`.
pub fn head_update(new: ChainHead) -> Update {
    Update::new()
        .set(HEAD_SEQ_ATTR, seq_to_i64(new.seq))
        .set(HEAD_HASH_ATTR, Value::B(new.hash.to_vec()))
}

/// The appliance item still has head `expected` (so two writers cannot both append
/// after it). For [`ChainHead::GENESIS`]: the item exists without a head.
pub fn head_condition(expected: ChainHead) -> Condition {
    if expected == ChainHead::GENESIS {
        Condition::Exists.and(Condition::AttrNotExists(HEAD_SEQ_ATTR.to_owned()))
    } else {
        Condition::eq(HEAD_SEQ_ATTR, seq_to_i64(expected.seq)).and(Condition::eq(
            HEAD_HASH_ATTR,
            Value::B(expected.hash.to_vec()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_keys::log_sort;
    use rampart_domain::comm_log::{LogFields, append, verify_chain, verify_head};
    use rampart_ports::Key;

    fn tenant() -> TenantId {
        TenantId::parse("123456.sms").unwrap()
    }

    fn ap(n: u8) -> ApplianceId {
        ApplianceId::from_random([n; 16])
    }

    fn fields(i: u64) -> LogFields {
        LogFields {
            time: Timestamp::from_millis(1_700_000_000_000 + i as i64 * 1000),
            job: i.is_multiple_of(2).then(|| format!("job-{i}")),
            direction: if i.is_multiple_of(3) {
                Direction::ApplianceToConsole
            } else {
                Direction::ConsoleToAppliance
            },
            status: LogStatus::ALL[(i % 5) as usize],
            info: if i == 1 {
                String::new()
            } else {
                format!("exchange {i}")
            },
        }
    }

    fn chain(n: u64) -> Vec<LogEntry> {
        let mut out: Vec<LogEntry> = Vec::new();
        for i in 1..=n {
            let e = append(out.last(), &ap(1), fields(i)).unwrap();
            out.push(e);
        }
        out
    }

    #[test]
    fn round_trips_through_an_item() {
        for e in chain(12) {
            let item = to_item(&tenant(), &e);
            assert_eq!(item.key.pk, "TENANT#123456.sms");
            assert_eq!(from_item(&item).unwrap(), e);
        }
    }

    #[test]
    fn item_layout() {
        let c = chain(2);
        let item = to_item(&tenant(), &c[1]);
        assert_eq!(item.key.sk, format!("LOG#{}#00000000000000000002", ap(1)));
        assert_eq!(item.i64("seq"), Some(2));
        assert_eq!(item.i64("time"), Some(1_700_000_002_000));
        assert_eq!(item.str("job"), Some("job-2"));
        assert_eq!(item.str("direction"), Some("console_to_appliance"));
        assert_eq!(item.str("status"), Some("refused"));
        assert_eq!(item.str("info"), Some("exchange 2"));
        assert_eq!(item.get("prev_hash"), Some(&Value::B(c[0].hash.to_vec())));
        assert_eq!(item.get("hash"), Some(&Value::B(c[1].hash.to_vec())));
        assert_eq!(item.i64("ttl"), Some(1_700_000_002 + 90 * 86_400));
        assert!(to_item(&tenant(), &c[0]).get("job").is_none());
        assert!(item.key.sk.starts_with(&log_prefix(&ap(1))));
        assert_eq!(item.key, log_entry(&tenant(), &ap(1), 2));
    }

    #[test]
    fn sort_keys_order_by_seq() {
        let a = ap(1);
        assert!(log_sort(&a, 9) < log_sort(&a, 10));
        let seqs = [1u64, 2, 9, 10, 11, 99, 100, 1_000_000, u64::MAX];
        for w in seqs.windows(2) {
            assert!(log_sort(&a, w[0]) < log_sort(&a, w[1]), "{w:?}");
        }
        assert_eq!(
            parse_sort(&log_sort(&a, u64::MAX)).unwrap(),
            (a.clone(), u64::MAX)
        );
        // One appliance's prefix never covers another's keys.
        assert!(!log_sort(&ap(2), 1).starts_with(&log_prefix(&a)));
    }

    #[test]
    fn queries_are_scoped_by_tenant_and_appliance() {
        let q = newest_first(&tenant(), &ap(1), 50, None);
        assert_eq!(q.pk, "TENANT#123456.sms");
        assert_eq!(q.sk, SortKey::BeginsWith(log_prefix(&ap(1))));
        assert!(!q.forward);
        assert_eq!(q.limit, 50);
        assert!(oldest_first(&tenant(), &ap(1), 50, None).forward);
    }

    #[test]
    fn items_back_from_the_store_verify() {
        let c = chain(30);
        let mut items: Vec<Item> = c.iter().map(|e| to_item(&tenant(), e)).collect();
        // Newest first, as a backward query returns them.
        items.sort_by(|a, b| b.key.sk.cmp(&a.key.sk));
        assert_eq!(items[0].key.sk, log_sort(&ap(1), 30));
        let entries: Vec<LogEntry> = items.iter().map(|i| from_item(i).unwrap()).collect();
        let head = c[29].head();
        assert!(verify_head(&entries, head.seq, &head.hash).is_ok());
        // An attribute edited in the table is caught by the chain.
        items[5]
            .attrs
            .insert("info".into(), Value::S("edited".into()));
        let entries: Vec<LogEntry> = items.iter().map(|i| from_item(i).unwrap()).collect();
        assert_eq!(verify_chain(&entries).unwrap_err().seq, 25);
    }

    #[test]
    fn refuses_malformed_items() {
        let c = chain(3);
        let good = to_item(&tenant(), &c[2]);
        let mut bad = Vec::new();
        let mut i = good.clone();
        i.key.pk = "LICENSE#A1B2C3D4".into();
        bad.push(i);
        let mut i = good.clone();
        i.key.sk = format!("LOG#{}#3", ap(1));
        bad.push(i);
        let mut i = good.clone();
        i.key.sk = log_sort(&ap(1), 4);
        bad.push(i);
        let mut i = good.clone();
        i.attrs
            .insert("appliance".into(), Value::S(ap(2).to_string()));
        bad.push(i);
        for name in [
            "seq",
            "time",
            "direction",
            "status",
            "info",
            "hash",
            "prev_hash",
        ] {
            let mut i = good.clone();
            i.attrs.remove(name);
            bad.push(i);
        }
        let mut i = good.clone();
        i.attrs.insert("hash".into(), Value::B(vec![0; 31]));
        bad.push(i);
        let mut i = good.clone();
        i.attrs.insert("status".into(), Value::S("fine".into()));
        bad.push(i);
        let mut i = good.clone();
        i.attrs.insert("job".into(), Value::N(3));
        bad.push(i);
        for (n, i) in bad.iter().enumerate() {
            assert!(from_item(i).is_err(), "case {n}");
        }
    }

    #[test]
    fn head_pointer_attributes() {
        let key = Key::new("TENANT#123456.sms", format!("APPLIANCE#{}", ap(1)));
        let empty = Item::new(key.clone());
        assert_eq!(head_from_item(&empty).unwrap(), ChainHead::GENESIS);
        let c = chain(4);
        let head = c[3].head();
        let mut item = Item::new(key);
        for (name, v) in head_update(head).set {
            item.attrs.insert(name, v);
        }
        assert_eq!(head_from_item(&item).unwrap(), head);
        item.attrs.remove(HEAD_HASH_ATTR);
        assert!(head_from_item(&item).is_err());
        assert_eq!(
            head_condition(head),
            Condition::And(vec![
                Condition::eq(HEAD_SEQ_ATTR, 4i64),
                Condition::eq(HEAD_HASH_ATTR, Value::B(head.hash.to_vec())),
            ])
        );
        assert!(matches!(head_condition(ChainHead::GENESIS), Condition::And(v) if v.len() == 2));
    }
}
