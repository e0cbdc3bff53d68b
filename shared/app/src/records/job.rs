//! Job items: what was asked, of which appliances, by whom.
//!
//! ```text
//! pk  TENANT#<tenant>
//! sk  JOB#<job id>
//! operation S (JSON), target S (JSON), appliances S (JSON list of ids),
//! created_at N (ms), created_by S, pickup_expected_by N (ms, optional),
//! finished_at N (ms, set once every command has finished)
//! ```
//! The PIN of a PIN-protected job is never part of it.

use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, JobId, TenantId};
use rampart_domain::jobs::{JobTarget, Operation};
use rampart_ports::Item;

use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "job";

#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: JobId,
    pub tenant: TenantId,
    pub operation: Operation,
    pub target: JobTarget,
    /// The target resolved at creation.
    pub appliances: Vec<ApplianceId>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub pickup_expected_by: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    // These values are plain data; serializing them cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

impl From<&JobRecord> for Item {
    fn from(j: &JobRecord) -> Item {
        let mut item = Item::new(store_keys::job(&j.tenant, &j.id))
            .with("operation", json(&j.operation))
            .with("target", json(&j.target))
            .with("appliances", json(&j.appliances))
            .with("created_at", j.created_at.millis())
            .with("created_by", j.created_by.as_str());
        if let Some(t) = j.pickup_expected_by {
            item = item.with("pickup_expected_by", t.millis());
        }
        if let Some(t) = j.finished_at {
            item = item.with("finished_at", t.millis());
        }
        item
    }
}

impl TryFrom<&Item> for JobRecord {
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
            .strip_prefix(store_keys::JOB_PREFIX)
            .ok_or_else(|| malformed(R, "key"))?;
        let parse = |name: &str| -> Result<&str, MalformedItem> { required(item, R, name) };
        Ok(JobRecord {
            id: JobId::parse(id).map_err(|e| malformed(R, e))?,
            tenant: TenantId::parse(tenant).map_err(|e| malformed(R, e))?,
            operation: serde_json::from_str(parse("operation")?).map_err(|e| malformed(R, e))?,
            target: serde_json::from_str(parse("target")?).map_err(|e| malformed(R, e))?,
            appliances: serde_json::from_str(parse("appliances")?).map_err(|e| malformed(R, e))?,
            created_at: item
                .i64("created_at")
                .map(Timestamp::from_millis)
                .ok_or_else(|| malformed(R, "missing created_at"))?,
            created_by: parse("created_by")?.to_owned(),
            pickup_expected_by: item.i64("pickup_expected_by").map(Timestamp::from_millis),
            finished_at: item.i64("finished_at").map(Timestamp::from_millis),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::jobs::AppAction;

    #[test]
    fn round_trips() {
        let a = ApplianceId::from_random([1; 16]);
        let job = JobRecord {
            id: JobId::new(1_700_000_000_000, [1, 2, 3, 4]),
            tenant: TenantId::parse("123456.sms").unwrap(),
            operation: Operation::Application {
                name: "ips".into(),
                action: AppAction::Restart,
            },
            target: JobTarget::Appliance(a.clone()),
            appliances: vec![a],
            created_at: Timestamp::from_millis(1_700_000_000_000),
            created_by: "admin@example.com".into(),
            pickup_expected_by: Some(Timestamp::from_millis(1_700_000_060_000)),
            finished_at: None,
        };
        let item = Item::from(&job);
        assert_eq!(JobRecord::try_from(&item).unwrap(), job);
    }

    #[test]
    fn refuses_a_foreign_key_or_bad_json() {
        let job = JobRecord {
            id: JobId::new(1, [0; 4]),
            tenant: TenantId::parse("123456.sms").unwrap(),
            operation: Operation::Reboot,
            target: JobTarget::Tag("lab".into()),
            appliances: vec![],
            created_at: Timestamp::from_millis(1),
            created_by: "x".into(),
            pickup_expected_by: None,
            finished_at: None,
        };
        let mut item = Item::from(&job);
        item.key.sk = "USER#x".into();
        assert!(JobRecord::try_from(&item).is_err());
        let item = Item::from(&job).with("operation", "{\"type\":\"format_disk\"}");
        assert!(JobRecord::try_from(&item).is_err());
    }
}
