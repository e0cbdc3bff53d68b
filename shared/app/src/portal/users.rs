//! Users of a tenant: listed and managed by the tenant's (or its reseller's)
//! administrators. A new user gets a mailed link to set a password.

use rampart_domain::ids::TenantId;
use rampart_domain::portal_protocol::{ListPage, NewUser, UserView};
use rampart_domain::tenancy::Email;
use rampart_ports::{Condition, Item, Query, SortKey, StoreError, TransactOp};

use super::access::Principal;
use super::{PortalService, page_limit, page_of};
use crate::error::ApiError;
use crate::records::user::{self, UserRecord};
use crate::store_keys;

fn view(u: &UserRecord) -> UserView {
    UserView {
        email: u.email.clone(),
        tenant: u.tenant.clone(),
        role: u.role,
        totp_enabled: u.totp_sealed.is_some(),
    }
}

impl PortalService {
    pub async fn list_users(
        &self,
        who: &Principal,
        tenant: &TenantId,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<UserView>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        page_of(
            self.table.as_ref(),
            Query::partition(store_keys::tenant_partition(tenant))
                .sk(SortKey::BeginsWith(store_keys::USER_PREFIX.into()))
                .limit(page_limit(limit))
                .after(cursor.map(rampart_ports::Cursor)),
            |i| user::from_item(i).map(|u| view(&u)),
        )
        .await
    }

    /// Creates the user (e-mail unique across tenants) and mails a link to set
    /// the first password.
    pub async fn add_user(
        &self,
        who: &Principal,
        tenant: &TenantId,
        new: NewUser,
    ) -> Result<UserView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        let record = UserRecord {
            email: new.email,
            tenant: tenant.clone(),
            role: new.role,
            password_hash: None,
            totp_sealed: None,
            totp_pending: None,
            totp_last_step: None,
            failures: 0,
            last_failure_secs: 0,
            created_at: self.clock.now(),
        };
        self.insert_user(&record).await?;
        self.send_password_link(&record, "Your Rampart account")
            .await?;
        tracing::info!(user = %record.email, tenant = %tenant, by = %who.email, "user added");
        Ok(view(&record))
    }

    pub(super) async fn insert_user(&self, record: &UserRecord) -> Result<(), ApiError> {
        match self
            .table
            .transact(vec![
                TransactOp::Put(
                    Item::new(store_keys::login(&record.email))
                        .with("tenant", record.tenant.as_str()),
                    Some(Condition::NotExists),
                ),
                TransactOp::Put(user::to_item(record), Some(Condition::NotExists)),
            ])
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCanceled) => Err(ApiError::Conflict(format!(
                "a user {} already exists",
                record.email
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn remove_user(
        &self,
        who: &Principal,
        tenant: &TenantId,
        email: &Email,
    ) -> Result<(), ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        if email == &who.email {
            return Err(ApiError::Conflict("you cannot remove yourself".into()));
        }
        match self
            .table
            .transact(vec![
                TransactOp::Delete(store_keys::user(tenant, email), Some(Condition::Exists)),
                TransactOp::Delete(
                    store_keys::login(email),
                    Some(Condition::eq("tenant", tenant.as_str())),
                ),
            ])
            .await
        {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled) => return Err(ApiError::NotFound),
            Err(e) => return Err(e.into()),
        }
        let revoked = self.revoke_user_sessions(email).await?;
        tracing::info!(user = %email, tenant = %tenant, by = %who.email, revoked, "user removed");
        Ok(())
    }

    /// Ends every session of a user of the tenant (an administrator's action, e.g.
    /// for a lost laptop); the user signs in again.
    pub async fn revoke_sessions(
        &self,
        who: &Principal,
        tenant: &TenantId,
        email: &Email,
    ) -> Result<u32, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        if self.load_user(tenant, email).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        let revoked = self.revoke_user_sessions(email).await?;
        tracing::info!(user = %email, tenant = %tenant, by = %who.email, revoked, "sessions revoked");
        Ok(revoked)
    }
}
