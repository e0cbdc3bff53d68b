//! An appliance's CPU, memory and disk over time (SPEC 4.3), read from its
//! tenant's partition and downsampled to what a chart can show.

use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::status_history::{DEFAULT_POINTS, HistoryRange, StatusHistoryView, downsample};
use std::time::Duration;

use super::PortalService;
use super::access::Principal;
use crate::error::ApiError;
use crate::status_history::samples_in;
use crate::store_keys;

/// The range when the query names no start: the day before its end.
pub const DEFAULT_SPAN: Duration = Duration::from_secs(24 * 3600);

impl PortalService {
    /// `[since, until)` (default: the last 24 hours) in at most `points` buckets.
    pub async fn status_history(
        &self,
        who: &Principal,
        tenant: &TenantId,
        id: &ApplianceId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        points: Option<u32>,
    ) -> Result<StatusHistoryView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let now = self.clock.now();
        let until = until.unwrap_or(now);
        let since = since.unwrap_or_else(|| until.minus(DEFAULT_SPAN));
        let range = HistoryRange::new(since, until, points.unwrap_or(DEFAULT_POINTS), now)
            .map_err(ApiError::HistoryRange)?;
        let appliance = self
            .table
            .get(&store_keys::appliance(tenant, id))
            .await?
            .ok_or(ApiError::NotFound)?;
        let samples = samples_in(&*self.table, tenant, &appliance, id, &range).await?;
        Ok(StatusHistoryView {
            since: range.since().to_rfc3339(),
            until: range.until().to_rfc3339(),
            bucket_secs: (range.bucket_width_ms() / 1000) as u64,
            points: downsample(&samples, &range),
        })
    }
}
