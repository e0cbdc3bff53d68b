//! An appliance's communication log in the portal (SPEC 4.6): its entries newest
//! (or oldest) first, and where its hash chain ends, so that a client can check the
//! chain itself (`rampart log verify`).

use rampart_domain::comm_log::LogEntry;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::portal_protocol::{ListPage, LogHeadView};
use rampart_ports::Cursor;

use super::access::Principal;
use super::{PortalService, malformed, page_limit, page_of};
use crate::error::ApiError;
use crate::records::comm_log;
use crate::store_keys;

/// The order of a log page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogOrder {
    #[default]
    Newest,
    Oldest,
}

impl PortalService {
    pub async fn appliance_log(
        &self,
        who: &Principal,
        tenant: &TenantId,
        appliance: &ApplianceId,
        order: LogOrder,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<LogEntry>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        self.appliance_record(tenant, appliance).await?;
        let limit = page_limit(limit);
        let cursor = cursor.map(Cursor);
        let query = match order {
            LogOrder::Newest => comm_log::newest_first(tenant, appliance, limit, cursor),
            LogOrder::Oldest => comm_log::oldest_first(tenant, appliance, limit, cursor),
        };
        page_of(&*self.table, query, comm_log::from_item).await
    }

    pub async fn appliance_log_head(
        &self,
        who: &Principal,
        tenant: &TenantId,
        appliance: &ApplianceId,
    ) -> Result<LogHeadView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let item = self
            .table
            .get(&store_keys::appliance(tenant, appliance))
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(LogHeadView {
            appliance: appliance.clone(),
            head: comm_log::head_from_item(&item).map_err(malformed)?,
        })
    }
}
