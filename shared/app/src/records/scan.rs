//! Security-scan items (SPEC 7), all under the tenant's partition:
//! - the scan, `SCAN#<appliance>#<scan id>` (ids sort by request time, so a
//!   backward query lists an appliance's scans newest first);
//! - the appliance's lock, `SCANLOCK#<appliance>`, held from the request until the
//!   consumer finishes, so a second scan is refused by a conditional write;
//! - the tenant's rate counter, `SCANRATE#<hour>`, one per clock hour, with a TTL.

use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, ScanId, TenantId};
use rampart_domain::portal_protocol::{ScanResultView, ScanState, ScanView};
use rampart_ports::{Item, Key};

use super::{MalformedItem, malformed, required, tenant_of};
use crate::store_keys::tenant_partition;

const R: &str = "scan";

pub fn appliance_prefix(appliance: &ApplianceId) -> String {
    format!("SCAN#{appliance}#")
}

pub fn scan_key(tenant: &TenantId, appliance: &ApplianceId, id: &ScanId) -> Key {
    Key::new(
        tenant_partition(tenant),
        format!("{}{id}", appliance_prefix(appliance)),
    )
}

pub fn lock_key(tenant: &TenantId, appliance: &ApplianceId) -> Key {
    Key::new(tenant_partition(tenant), format!("SCANLOCK#{appliance}"))
}

/// The counter of scans requested in the clock hour holding `now`.
pub fn rate_key(tenant: &TenantId, now: Timestamp) -> Key {
    Key::new(
        tenant_partition(tenant),
        format!("SCANRATE#{}", now.millis().div_euclid(3_600_000)),
    )
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScanRecord {
    pub tenant: TenantId,
    pub appliance: ApplianceId,
    pub id: ScanId,
    pub profile: String,
    pub state: ScanState,
    pub requested_by: String,
    pub requested_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub results: Vec<ScanResultView>,
    pub error: Option<String>,
}

impl ScanRecord {
    pub fn key(&self) -> Key {
        scan_key(&self.tenant, &self.appliance, &self.id)
    }

    pub fn view(&self) -> ScanView {
        ScanView {
            id: self.id.clone(),
            appliance: self.appliance.clone(),
            profile: self.profile.clone(),
            state: self.state,
            requested_by: self.requested_by.clone(),
            requested_at: self.requested_at.to_rfc3339(),
            started_at: self.started_at.map(|t| t.to_rfc3339()),
            finished_at: self.finished_at.map(|t| t.to_rfc3339()),
            results: self.results.clone(),
            error: self.error.clone(),
        }
    }
}

impl From<&ScanRecord> for Item {
    fn from(r: &ScanRecord) -> Item {
        let mut item = Item::new(r.key())
            .with("profile", r.profile.as_str())
            .with("state", r.state.as_str())
            .with("requested_by", r.requested_by.as_str())
            .with("requested_at", r.requested_at.millis())
            .with(
                "results",
                serde_json::to_string(&r.results).unwrap_or_else(|_| "[]".into()),
            );
        if let Some(t) = r.started_at {
            item = item.with("started_at", t.millis());
        }
        if let Some(t) = r.finished_at {
            item = item.with("finished_at", t.millis());
        }
        if let Some(e) = &r.error {
            item = item.with("error", e.as_str());
        }
        item
    }
}

impl TryFrom<&Item> for ScanRecord {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, MalformedItem> {
        let tenant = tenant_of(item, R)?;
        let (appliance, id) = item
            .key
            .sk
            .strip_prefix("SCAN#")
            .and_then(|rest| rest.split_once('#'))
            .ok_or_else(|| malformed(R, "key"))?;
        Ok(ScanRecord {
            tenant,
            appliance: ApplianceId::parse(appliance).map_err(|e| malformed(R, e))?,
            id: ScanId::parse(id).map_err(|e| malformed(R, e))?,
            profile: required(item, R, "profile")?.to_owned(),
            state: ScanState::parse(required(item, R, "state")?)
                .ok_or_else(|| malformed(R, "state"))?,
            requested_by: required(item, R, "requested_by")?.to_owned(),
            requested_at: Timestamp::from_millis(
                item.i64("requested_at")
                    .ok_or_else(|| malformed(R, "missing requested_at"))?,
            ),
            started_at: item.i64("started_at").map(Timestamp::from_millis),
            finished_at: item.i64("finished_at").map(Timestamp::from_millis),
            results: match item.str("results") {
                Some(s) => serde_json::from_str(s).map_err(|e| malformed(R, e))?,
                None => Vec::new(),
            },
            error: item.str("error").map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::portal_protocol::{ScanOpenPort, ScanOutcome};

    #[test]
    fn scan_items_round_trip() {
        let r = ScanRecord {
            tenant: TenantId::parse("123456.sms").unwrap(),
            appliance: ApplianceId::from_random([1; 16]),
            id: ScanId::new(1_764_000_000_000, [1, 2, 3, 4]),
            profile: "TOP 100 (TCP)".into(),
            state: ScanState::Finished,
            requested_by: "a@example.com".into(),
            requested_at: Timestamp::from_secs(10),
            started_at: Some(Timestamp::from_secs(11)),
            finished_at: Some(Timestamp::from_secs(12)),
            results: vec![ScanResultView {
                interface: "wan0".into(),
                address: Some("203.0.113.7".into()),
                outcome: ScanOutcome::Scanned,
                reason: None,
                started_at: None,
                finished_at: None,
                open: vec![ScanOpenPort {
                    port: 443,
                    service: "https".into(),
                }],
                closed: 99,
                filtered: 0,
            }],
            error: None,
        };
        assert_eq!(ScanRecord::try_from(&Item::from(&r)).unwrap(), r);
    }
}
