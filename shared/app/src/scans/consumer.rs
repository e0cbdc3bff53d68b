//! `security-scan`: runs one requested scan. The targets are the addresses of the
//! appliance's reported public interfaces that the console also saw its check-ins
//! come from; each passes through `ScanTarget::check` with the operator's
//! allow-list. One result per public interface; the results are stored and the
//! appliance's scan lock released in one transaction. A redelivered message of a
//! finished scan does nothing.

use rampart_domain::Timestamp;
use rampart_domain::portal_protocol::{ScanOpenPort, ScanOutcome, ScanResultView, ScanState};
use rampart_domain::report::CheckinReport;
use rampart_ports::{Condition, Item, StoreError, TransactOp, Update};
use rampart_scanner::{Profile, ScanError, ScanTarget};
use serde::Serialize;
use std::net::IpAddr;

use super::{SEEN_WITHIN, ScanJobError, ScanMessage, Scans};
use crate::error::ApiError;
use crate::records::appliance::seen_from;
use crate::records::scan::{self, ScanRecord};
use crate::store_keys;

/// What became of one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ScanRun {
    /// Ran now and stored as `state`.
    Done { state: ScanState, results: usize },
    /// Already finished or failed by an earlier delivery.
    Duplicate,
    /// No such scan (removed with its appliance).
    Missing,
}

impl Scans {
    /// Handles one message of the `scan` queue.
    pub async fn run(&self, body: &str) -> Result<ScanRun, ScanJobError> {
        let msg: ScanMessage =
            serde_json::from_str(body).map_err(|e| ScanJobError::Malformed(e.to_string()))?;
        let key = scan::scan_key(&msg.tenant, &msg.appliance, &msg.scan);
        let Some(item) = self.table.get(&key).await? else {
            return Ok(ScanRun::Missing);
        };
        let mut record =
            ScanRecord::try_from(&item).map_err(|e| ApiError::Unavailable(e.into()))?;
        if record.state.is_done() {
            return Ok(ScanRun::Duplicate);
        }
        let started = self.clock.now();
        // Running: a redelivery after a crash runs it again (nothing was stored).
        self.table
            .update(
                &key,
                Update::new()
                    .set("state", ScanState::Running.as_str())
                    .set("started_at", started.millis()),
                Some(Condition::Or(vec![
                    Condition::eq("state", ScanState::Queued.as_str()),
                    Condition::eq("state", ScanState::Running.as_str()),
                ])),
                rampart_ports::ReturnItem::None,
            )
            .await
            .or_else(|e| match e {
                // Finished meanwhile by a concurrent delivery: the commit below fails too.
                StoreError::ConditionFailed => Ok(None),
                e => Err(e),
            })?;
        record.started_at = Some(started);

        let appliance = self
            .table
            .get(&store_keys::appliance(&msg.tenant, &msg.appliance))
            .await?;
        match appliance {
            None => {
                record.state = ScanState::Failed;
                record.error = Some("appliance_removed: the appliance no longer exists".into());
            }
            Some(item) => match self.targets(&item, started)? {
                None => {
                    record.state = ScanState::Failed;
                    record.error =
                        Some("no_report: the appliance has not reported its interfaces".into());
                }
                Some(results) => {
                    record.results = results;
                    record.state = ScanState::Finished;
                }
            },
        }
        // Each result's scan happens here (targets() only decided what to scan).
        for result in record.results.iter_mut() {
            if result.outcome == ScanOutcome::Scanned {
                self.scan_one(result).await?;
            }
        }
        record.finished_at = Some(self.clock.now());
        self.commit(&record).await?;
        tracing::info!(
            scan = %record.id,
            appliance = %record.appliance,
            state = record.state.as_str(),
            results = record.results.len(),
            "security scan done"
        );
        Ok(ScanRun::Done {
            state: record.state,
            results: record.results.len(),
        })
    }

    /// One pending result per public interface: `Scanned` (not yet run) for an
    /// address that passed, `Refused` or `NotObserved` otherwise. None without a
    /// report.
    fn targets(
        &self,
        appliance: &Item,
        now: Timestamp,
    ) -> Result<Option<Vec<ScanResultView>>, ScanJobError> {
        let Some(report) = appliance.str("report") else {
            return Ok(None);
        };
        let report: CheckinReport =
            serde_json::from_str(report).map_err(|e| ApiError::Unavailable(e.into()))?;
        let since = now.millis() - SEEN_WITHIN.as_millis() as i64;
        let seen: Vec<IpAddr> = seen_from(appliance)
            .into_iter()
            .filter(|(_, t)| t.millis() >= since)
            .map(|(a, _)| a)
            .collect();
        let results = report
            .interfaces
            .iter()
            .filter(|i| i.public)
            .map(|iface| {
                let observed = iface
                    .addresses
                    .iter()
                    .map(|a| a.to_canonical())
                    .find(|a| seen.contains(a));
                let mut result = ScanResultView {
                    interface: iface.name.clone(),
                    address: None,
                    outcome: ScanOutcome::NotObserved,
                    reason: None,
                    started_at: None,
                    finished_at: None,
                    open: Vec::new(),
                    closed: 0,
                    filtered: 0,
                };
                match observed {
                    None => {
                        result.address = iface.addresses.first().map(|a| a.to_string());
                        result.reason = Some(match &result.address {
                            Some(a) => format!(
                                "not_observed: the console never saw the appliance come from {a}"
                            ),
                            None => "no_address: the interface reported no address".into(),
                        });
                    }
                    Some(addr) => {
                        result.address = Some(addr.to_string());
                        match ScanTarget::check(addr, &self.allow) {
                            Ok(_) => result.outcome = ScanOutcome::Scanned,
                            Err(refusal) => {
                                result.outcome = ScanOutcome::Refused;
                                result.reason = Some(format!("{}: {refusal}", refusal.code()));
                            }
                        }
                    }
                }
                result
            })
            .collect();
        Ok(Some(results))
    }

    /// Scans the address of a result that passed the policy, filling it in.
    async fn scan_one(&self, result: &mut ScanResultView) -> Result<(), ScanJobError> {
        let addr: IpAddr = result
            .address
            .as_deref()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| ScanJobError::Malformed("result without an address".into()))?;
        // Checked again right before the packets go: the only way to a ScanTarget.
        let target = match ScanTarget::check(addr, &self.allow) {
            Ok(t) => t,
            Err(refusal) => {
                result.outcome = ScanOutcome::Refused;
                result.reason = Some(format!("{}: {refusal}", refusal.code()));
                return Ok(());
            }
        };
        let profile = Profile::top100_tcp();
        match rampart_scanner::scan(&target, &profile.ports, &self.options).await {
            Ok(report) => {
                result.started_at = Some(report.started.to_rfc3339());
                result.finished_at = Some(report.finished.to_rfc3339());
                result.open = report
                    .open
                    .into_iter()
                    .map(|p| ScanOpenPort {
                        port: p.port,
                        service: p.service,
                    })
                    .collect();
                result.closed = report.closed;
                result.filtered = report.filtered;
                Ok(())
            }
            // This machine could not probe: retry the message rather than report lies.
            Err(e @ ScanError::Local { .. }) => Err(ScanJobError::Local(e.to_string())),
            Err(e) => {
                result.outcome = ScanOutcome::Failed;
                result.reason = Some(format!("{}: {e}", e.code()));
                Ok(())
            }
        }
    }

    /// Stores the outcome and releases the appliance's lock (if this scan holds it).
    async fn commit(&self, record: &ScanRecord) -> Result<(), ScanJobError> {
        let item = Item::from(record);
        let lock = scan::lock_key(&record.tenant, &record.appliance);
        let not_done = Condition::Or(vec![
            Condition::eq("state", ScanState::Queued.as_str()),
            Condition::eq("state", ScanState::Running.as_str()),
        ]);
        let with_lock = vec![
            TransactOp::Put(item.clone(), Some(not_done.clone())),
            TransactOp::Delete(
                lock.clone(),
                Some(Condition::eq("scan", record.id.as_str())),
            ),
        ];
        match self.table.transact(with_lock).await {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCanceled) => {
                // The lock expired (and maybe another scan holds it now), or a
                // concurrent delivery finished first: store without touching the lock.
                match self.table.put(item, Some(not_done)).await {
                    Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}
