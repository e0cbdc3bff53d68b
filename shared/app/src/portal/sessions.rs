//! Sessions: created after the second factor, checked on every request, ended by
//! idle time, absolute age, sign-out or revocation.

use rampart_domain::portal_protocol::SessionGrant;
use rampart_identity::{new_token, token_id};
use rampart_ports::{Condition, Index, Query, ReturnItem, SortKey, Update};
use std::time::Duration;

use super::access::Principal;
use super::{PortalService, malformed};
use crate::error::ApiError;
use crate::records::session::{self, SessionRecord, Stage};
use crate::records::user::UserRecord;
use crate::store_keys;

/// `last_seen` is refreshed at most this often, so reads do not each cost a write.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl PortalService {
    /// Stores a new session or challenge for `user` and returns its bearer token.
    pub(super) async fn open_session(
        &self,
        user: &UserRecord,
        tenant_kind: rampart_domain::tenancy::TenantKind,
        stage: Stage,
        lifetime: Duration,
    ) -> Result<(String, SessionRecord), ApiError> {
        let now = self.clock.now();
        let token = new_token();
        let record = SessionRecord {
            token_id: token_id(&token),
            stage,
            email: user.email.clone(),
            tenant: user.tenant.clone(),
            tenant_kind,
            role: user.role,
            created_at: now,
            last_seen: now,
            expires_at: now.plus(lifetime),
        };
        self.table
            .put(session::to_item(&record), Some(Condition::NotExists))
            .await?;
        Ok((token, record))
    }

    pub(super) fn grant(&self, token: String, record: &SessionRecord) -> SessionGrant {
        SessionGrant {
            token,
            expires_at: record.expires_at.to_rfc3339(),
            idle_timeout_secs: self.config.session_idle.as_secs(),
        }
    }

    /// Loads a live record of the given stage for a bearer token.
    pub(super) async fn load_session(
        &self,
        token: &str,
        stage: Stage,
    ) -> Result<SessionRecord, ApiError> {
        if token.is_empty() || token.len() > 128 {
            return Err(ApiError::SessionExpired);
        }
        let item = self
            .table
            .get(&store_keys::session(&token_id(token)))
            .await?
            .ok_or(ApiError::SessionExpired)?;
        let record = session::from_item(&item).map_err(malformed)?;
        let now = self.clock.now();
        if record.stage != stage || now >= record.expires_at {
            return Err(ApiError::SessionExpired);
        }
        Ok(record)
    }

    /// The principal behind a session token, or `session_expired`.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ApiError> {
        let record = self.load_session(token, Stage::Session).await?;
        let now = self.clock.now();
        let idle = self.config.session_idle;
        if record.last_seen.distance(now) > idle {
            // Gone idle: end it now rather than leave it to the TTL.
            let _ = self
                .table
                .delete(&store_keys::session(&record.token_id), None)
                .await;
            return Err(ApiError::SessionExpired);
        }
        if record.last_seen.distance(now) > TOUCH_EVERY {
            let touched = self
                .table
                .update(
                    &store_keys::session(&record.token_id),
                    Update::new().set("last_seen", now.millis()),
                    Some(Condition::Exists),
                    ReturnItem::None,
                )
                .await;
            if matches!(touched, Err(rampart_ports::StoreError::ConditionFailed)) {
                return Err(ApiError::SessionExpired);
            }
            touched?;
        }
        Ok(Principal {
            email: record.email,
            tenant: record.tenant,
            tenant_kind: record.tenant_kind,
            role: record.role,
            session_id: record.token_id,
        })
    }

    /// Sign-out: the session is deleted and its token no longer works.
    pub async fn sign_out(&self, who: &Principal) -> Result<(), ApiError> {
        self.table
            .delete(&store_keys::session(&who.session_id), None)
            .await?;
        Ok(())
    }

    /// Ends every session of a user (after removal or a password reset).
    pub(super) async fn revoke_user_sessions(
        &self,
        email: &rampart_domain::tenancy::Email,
    ) -> Result<u32, ApiError> {
        let mut revoked = 0;
        let mut cursor = None;
        loop {
            let page = self
                .table
                .query(
                    Query::partition(store_keys::user_sessions_index(email))
                        .on(Index::Gsi1)
                        .sk(SortKey::BeginsWith("SESSION#".into()))
                        .limit(100)
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                self.table.delete(&item.key, None).await?;
                revoked += 1;
            }
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(revoked),
            }
        }
    }
}
