//! A tenant's licenses, from the tenant's secondary-index partition.

use rampart_domain::ids::TenantId;
use rampart_domain::license::{ClusterRole, License};
use rampart_domain::portal_protocol::{LicenseView, ListPage};
use rampart_ports::{Index, Query, SortKey};

use super::access::Principal;
use super::{PortalService, page_limit, page_of};
use crate::error::ApiError;
use crate::records::license;
use crate::store_keys;

pub(super) fn license_view(l: &License) -> LicenseView {
    LicenseView {
        serial: l.serial.clone(),
        tenant: l.tenant.clone(),
        product: l.product.clone(),
        expires: l.expires.to_string(),
        cluster_id: l.cluster.as_ref().map(|c| c.id.clone()),
        cluster_role: l.cluster.as_ref().map(|c| role_name(c.role).to_owned()),
        appliance_id: l.bound_to.clone(),
    }
}

pub(super) fn role_name(role: ClusterRole) -> &'static str {
    match role {
        ClusterRole::Master => "master",
        ClusterRole::Spare => "spare",
    }
}

impl PortalService {
    pub async fn list_licenses(
        &self,
        who: &Principal,
        tenant: &TenantId,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<LicenseView>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        page_of(
            self.table.as_ref(),
            Query::partition(store_keys::tenant_licenses_index(tenant))
                .on(Index::Gsi1)
                .sk(SortKey::BeginsWith("LICENSE#".into()))
                .limit(page_limit(limit))
                .after(cursor.map(rampart_ports::Cursor)),
            |i| license::from_item(i).map(|l| license_view(&l)),
        )
        .await
    }
}
