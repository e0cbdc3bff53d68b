//! Check-in: the appliance reports its state and collects what is pending.
//! An idle check-in with a warm credential cache costs exactly one table write.

use rampart_domain::device_protocol::{CheckinRequest, CheckinResponse};
use rampart_domain::ids::ApplianceId;
use rampart_domain::license::EnrollRefusal;
use rampart_ports::{ReturnItem, StoreError};

use super::{DeviceAuth, DeviceService};
use crate::error::ApiError;
use crate::json_body;
use crate::records::appliance::checkin_write;
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

        let report: CheckinRequest = json_body::parse(body)?;
        report.validate()?;
        if !report.firmware.is_supported() {
            return Err(EnrollRefusal::FirmwareTooOld(report.firmware).into());
        }

        let report_json = serde_json::to_string(&report)
            .map_err(|e| ApiError::Unavailable(anyhow::Error::new(e)))?;
        let poll = self.config.poll_interval.as_secs();
        let (update, condition) = checkin_write(&report, report_json, now, auth.timestamp, poll);
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
        // The pending-command count rides on the appliance item, so an idle
        // appliance learns there is nothing to do from its own write; commands are
        // read only when there are some (the jobs feature queues them).
        // Only the one attribute is read: parsing the whole record (and its stored
        // report) on every check-in would be wasted work on the hottest path.
        let pending = written
            .as_ref()
            .and_then(|item| item.i64("pending_commands"))
            .unwrap_or(0);
        tracing::debug!(appliance = %id, pending, "check-in");
        Ok(CheckinResponse {
            commands: Vec::new(),
            poll_interval_secs: poll,
            server_time_ms: now.millis(),
        })
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
