//! Appliances the console removed because their license expired more than 40 days
//! ago (SPEC 2), as the tenant's durable record lists them.

use rampart_domain::ids::TenantId;
use rampart_domain::portal_protocol::{ListPage, RemovedAppliance};
use rampart_ports::{Cursor, Query, SortKey};

use super::{PortalService, Principal, page_limit, page_of};
use crate::error::ApiError;
use crate::records::removed_appliance::{PREFIX, RemovedRecord};
use crate::store_keys;

impl PortalService {
    /// One page of the tenant's removals, oldest first.
    pub async fn removed_appliances(
        &self,
        who: &Principal,
        tenant: &TenantId,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<RemovedAppliance>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let query = Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(PREFIX.into()))
            .limit(page_limit(limit))
            .after(cursor.map(Cursor));
        page_of(self.table.as_ref(), query, |item| {
            RemovedRecord::try_from(item).map(|r| r.view())
        })
        .await
    }
}
