//! Who is calling, and which tenants they may see.

use rampart_domain::ids::TenantId;
use rampart_domain::tenancy::{Email, Role, TenantKind};

use super::PortalService;
use crate::error::ApiError;
use crate::store_keys;

/// The signed-in user behind a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub email: Email,
    pub tenant: TenantId,
    pub tenant_kind: TenantKind,
    pub role: Role,
    /// The session's token id, for sign-out.
    pub session_id: String,
}

impl Principal {
    pub fn require_change(&self) -> Result<(), ApiError> {
        if self.role.may_change() {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

impl PortalService {
    /// The caller's own tenant, or a customer of the caller's reseller tenant
    /// (found under the reseller's own partition). Anything else is reported as
    /// not found, so the existence of other tenants does not leak.
    pub async fn authorize_tenant(
        &self,
        who: &Principal,
        tenant: &TenantId,
    ) -> Result<(), ApiError> {
        if &who.tenant == tenant {
            return Ok(());
        }
        if who.tenant_kind == TenantKind::Reseller
            && self
                .table
                .get(&store_keys::customer_link(&who.tenant, tenant))
                .await?
                .is_some()
        {
            return Ok(());
        }
        Err(ApiError::NotFound)
    }
}
