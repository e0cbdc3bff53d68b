//! Tenants: a user sees its own; a reseller also sees and creates its customers.

use rampart_domain::ids::TenantId;
use rampart_domain::portal_protocol::{ListPage, Me, NewTenant, TenantView};
use rampart_domain::tenancy::TenantKind;
use rampart_domain::validation::{self, Invalid};
use rampart_ports::{Condition, Item, Query, SortKey, StoreError, TransactOp};

use super::access::Principal;
use super::{PortalService, malformed, page_limit};
use crate::error::ApiError;
use crate::records::tenant;
use crate::store_keys;

impl PortalService {
    pub async fn me(&self, who: &Principal) -> Me {
        Me {
            email: who.email.clone(),
            tenant: who.tenant.clone(),
            tenant_kind: who.tenant_kind,
            role: who.role,
        }
    }

    async fn profile(&self, id: &TenantId) -> Result<TenantView, ApiError> {
        match self.table.get(&store_keys::tenant_profile(id)).await? {
            Some(item) => tenant::from_item(&item).map_err(malformed),
            // Licenses may name a tenant before anyone created its profile.
            None => Ok(TenantView {
                id: id.clone(),
                name: id.to_string(),
                kind: TenantKind::Customer,
                reseller: None,
            }),
        }
    }

    pub async fn get_tenant(&self, who: &Principal, id: &TenantId) -> Result<TenantView, ApiError> {
        self.authorize_tenant(who, id).await?;
        self.profile(id).await
    }

    /// The caller's tenant, then (for a reseller) its customers in id order, in
    /// pages. Cursor `b` starts the customers; `s<store cursor>` continues them.
    pub async fn list_tenants(
        &self,
        who: &Principal,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<TenantView>, ApiError> {
        let limit = page_limit(limit);
        let mut items = Vec::new();
        let store_cursor = match cursor.as_deref() {
            None => {
                items.push(self.profile(&who.tenant).await?);
                None
            }
            Some("b") => None,
            Some(c) => match c.strip_prefix('s') {
                Some(rest) => Some(rampart_ports::Cursor(rest.to_owned())),
                None => {
                    return Err(Invalid::new("cursor", "not a cursor this list returned").into());
                }
            },
        };
        let room = limit - items.len() as u32;
        if who.tenant_kind != TenantKind::Reseller {
            return Ok(ListPage {
                items,
                next_cursor: None,
            });
        }
        if room == 0 {
            return Ok(ListPage {
                items,
                next_cursor: Some("b".into()),
            });
        }
        let page = self
            .table
            .query(
                Query::partition(store_keys::tenant_partition(&who.tenant))
                    .sk(SortKey::BeginsWith(store_keys::CUSTOMER_PREFIX.into()))
                    .limit(room)
                    .after(store_cursor),
            )
            .await?;
        for link in page.items {
            let id = link.key.sk.trim_start_matches(store_keys::CUSTOMER_PREFIX);
            let id = TenantId::parse(id).map_err(|e| ApiError::Unavailable(e.into()))?;
            items.push(self.profile(&id).await?);
        }
        Ok(ListPage {
            items,
            next_cursor: page.next.map(|c| format!("s{}", c.0)),
        })
    }

    /// A reseller administrator creates a customer tenant.
    pub async fn create_customer(
        &self,
        who: &Principal,
        new: NewTenant,
    ) -> Result<TenantView, ApiError> {
        who.require_change()?;
        if who.tenant_kind != TenantKind::Reseller {
            return Err(ApiError::Forbidden);
        }
        validation::text("name", &new.name, 128)?;
        let view = TenantView {
            id: new.id.clone(),
            name: new.name,
            kind: TenantKind::Customer,
            reseller: Some(who.tenant.clone()),
        };
        match self
            .table
            .transact(vec![
                TransactOp::Put(tenant::to_item(&view), Some(Condition::NotExists)),
                TransactOp::Put(
                    Item::new(store_keys::customer_link(&who.tenant, &new.id)),
                    Some(Condition::NotExists),
                ),
                TransactOp::Put(Item::new(store_keys::tenant_registry(&new.id)), None),
            ])
            .await
        {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled) => {
                return Err(ApiError::Conflict(format!(
                    "tenant {} already exists",
                    new.id
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(tenant = %view.id, reseller = %who.tenant, "customer tenant created");
        Ok(view)
    }
}
