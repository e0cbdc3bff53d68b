//! Check-in: the appliance reports its state and collects what is pending.
//! An idle check-in with a warm credential cache costs exactly one table write.

use rampart_domain::device_protocol::{CheckinRequest, CheckinResponse};
use rampart_domain::ids::ApplianceId;
use rampart_domain::license::EnrollRefusal;
use rampart_ports::{ReturnItem, StoreError};

use super::{DeviceAuth, DeviceService};
use crate::error::ApiError;
use crate::jobs::delivery;
use crate::json_body;
use crate::profiles;
use crate::records::appliance::{FAST_POLL_UNTIL, checkin_write, seen_from_overflow};
use crate::records::comm_log::head_from_item;
use crate::records::credential::Credential;
use crate::store_keys;

impl DeviceService {
    pub async fn checkin(
        &self,
        auth: &DeviceAuth,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<CheckinResponse, ApiError> {
        let now = self.clock.now();
        let (id, credential) = self.authenticate(auth, method, path, body, now).await?;

        let report: CheckinRequest = json_body::parse(body)?;
        report.validate()?;
        if !report.firmware.is_supported() {
            return Err(EnrollRefusal::FirmwareTooOld(report.firmware).into());
        }

        let report_json = serde_json::to_string(&report)
            .map_err(|e| ApiError::Unavailable(anyhow::Error::new(e)))?;
        let poll = self.config.poll_interval.as_secs();
        let (update, condition) =
            checkin_write(&report, report_json, now, auth.timestamp, poll, auth.peer);
        let key = store_keys::appliance(&credential.tenant, &id);
        let written = match self
            .table
            .update(&key, update, Some(condition), ReturnItem::AllNew)
            .await
        {
            Ok(item) => item,
            Err(StoreError::ConditionFailed) => {
                return Err(self.explain_refused_write(&key, &id).await);
            }
            Err(e) => return Err(e.into()),
        };
        // Only after the appliance's address changed more than MAX_SEEN_FROM times:
        // one more write drops the oldest addresses (an idle check-in from a known
        // address never gets here).
        if let Some(trim) = written.as_ref().and_then(seen_from_overflow) {
            self.table
                .update(
                    &key,
                    trim,
                    Some(rampart_ports::Condition::Exists),
                    ReturnItem::None,
                )
                .await?;
        }
        // The pending-command count rides on the appliance item, so an idle
        // appliance learns there is nothing to do from its own write; commands are
        // read only when there are some (the jobs feature queues them).
        // Only the one attribute is read: parsing the whole record (and its stored
        // report) on every check-in would be wasted work on the hottest path.
        let pending = written
            .as_ref()
            .and_then(|item| item.i64("pending_commands"))
            .unwrap_or(0);
        let fast_until = written
            .as_ref()
            .and_then(|item| item.i64(FAST_POLL_UNTIL))
            .unwrap_or(0);
        let commands = match (pending > 0, written.as_ref()) {
            (true, Some(item)) => {
                let head = head_from_item(item).map_err(|e| ApiError::Unavailable(e.into()))?;
                delivery::at_checkin(&*self.table, &credential.tenant, &id, &report, now, head)
                    .await?
            }
            _ => Vec::new(),
        };
        // Configuration changes (SPEC 8): decided from the same written item.
        let configuration = match written
            .as_ref()
            .and_then(|item| profiles::delivery::due(item, &report))
        {
            Some(due) => {
                profiles::delivery::at_checkin(
                    &*self.table,
                    &credential.tenant,
                    &id,
                    &report,
                    &due,
                    now,
                )
                .await?
            }
            None => None,
        };
        let poll = if fast_until > now.millis() {
            self.fast_poll_secs(poll)
        } else {
            poll
        };
        tracing::debug!(appliance = %id, pending, delivered = commands.len(), "check-in");
        Ok(CheckinResponse {
            commands,
            poll_interval_secs: poll,
            server_time_ms: now.millis(),
            configuration,
        })
    }

    /// The short interval handed out while someone waits on the appliance, with
    /// jitter so that a fleet told at once does not come back at once.
    fn fast_poll_secs(&self, regular: u64) -> u64 {
        let base = self.config.fast_poll_interval.as_secs().max(1);
        let mut r = [0u8; 1];
        let jitter = match getrandom::fill(&mut r) {
            Ok(()) => u64::from(r[0]) % (base / 2 + 1),
            Err(_) => 0,
        };
        (base + jitter).min(regular)
    }

    /// Checks the request's clock window and signature; the appliance and its
    /// credential.
    pub(super) async fn authenticate(
        &self,
        auth: &DeviceAuth,
        method: &str,
        path: &str,
        body: &[u8],
        now: rampart_domain::Timestamp,
    ) -> Result<(ApplianceId, Credential), ApiError> {
        auth.check_window(now)?;
        let id = auth
            .appliance
            .as_deref()
            .ok_or(ApiError::MissingAuth(
                rampart_domain::device_protocol::HEADER_APPLIANCE,
            ))
            .and_then(|a| ApplianceId::parse(a).map_err(|_| ApiError::UnknownAppliance))?;
        let credential = self.credential(&id).await?;
        auth.verify(&credential.public_key, method, path, body)?;
        Ok((id, credential))
    }

    async fn credential(&self, id: &ApplianceId) -> Result<Credential, ApiError> {
        if let Some(c) = self.credentials.get(id) {
            return Ok(c);
        }
        let item = self
            .table
            .get(&store_keys::credential(id))
            .await?
            .ok_or(ApiError::UnknownAppliance)?;
        let c = Credential::try_from(&item).map_err(|e| ApiError::Unavailable(e.into()))?;
        self.credentials.insert(c.clone());
        Ok(c)
    }

    /// The guarded write failed: either the appliance is gone, or the request's
    /// timestamp is not newer than the last accepted one (a replay).
    async fn explain_refused_write(&self, key: &rampart_ports::Key, id: &ApplianceId) -> ApiError {
        match self.table.get(key).await {
            Ok(Some(_)) => ApiError::ReplayedRequest,
            Ok(None) => {
                self.credentials.remove(id);
                ApiError::UnknownAppliance
            }
            Err(e) => e.into(),
        }
    }
}
