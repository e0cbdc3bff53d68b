//! Password reset (and first password for invited users) by a one-time,
//! expiring link sent through the mailer. The request never reveals whether an
//! address exists.

use rampart_domain::portal_protocol::{PasswordResetConfirm, PasswordResetRequest};
use rampart_domain::tenancy::Email;
use rampart_identity::{check_password_policy, hash_password, new_token, token_id};
use rampart_ports::{Condition, Item, Mail, StoreError, TransactOp, Update};

use super::{PortalService, RESET_LIFETIME};
use crate::error::ApiError;
use crate::records::user::UserRecord;
use crate::store_keys;

impl PortalService {
    /// Always succeeds from the caller's view; a mail goes out only for a real user.
    pub async fn request_password_reset(&self, req: PasswordResetRequest) -> Result<(), ApiError> {
        match self.find_user(&req.email).await? {
            Some(user) => {
                self.send_password_link(&user, "Reset your Rampart password")
                    .await
            }
            None => {
                tracing::info!("password reset requested for an unknown address");
                Ok(())
            }
        }
    }

    /// Stores a one-time token (only its hash) and mails the link.
    pub(super) async fn send_password_link(
        &self,
        user: &UserRecord,
        subject: &str,
    ) -> Result<(), ApiError> {
        let token = new_token();
        let expires = self.clock.now().plus(RESET_LIFETIME);
        let item = Item::new(store_keys::password_reset(&token_id(&token)))
            .with("email", user.email.as_str())
            .with("tenant", user.tenant.as_str())
            .with("ttl", expires.secs());
        self.table.put(item, Some(Condition::NotExists)).await?;
        let link = format!(
            "{}/reset-password#token={token}",
            self.config.public_url.trim_end_matches('/')
        );
        let body = format!(
            "Hello,\n\nset a new password for {} on Rampart with this link, valid for {} minutes and usable once:\n\n{link}\n\nThen sign in with `rampart login` or in the web console.\nIf you did not ask for this, ignore this mail.\n",
            user.email,
            RESET_LIFETIME.as_secs() / 60
        );
        self.mailer
            .send(Mail {
                to: user.email.to_string(),
                subject: subject.into(),
                body,
            })
            .await?;
        tracing::info!(user = %user.email, "password link sent");
        Ok(())
    }

    pub async fn confirm_password_reset(&self, req: PasswordResetConfirm) -> Result<(), ApiError> {
        check_password_policy(&req.password)?;
        if req.token.is_empty() || req.token.len() > 128 {
            return Err(ApiError::SessionExpired);
        }
        let key = store_keys::password_reset(&token_id(&req.token));
        let item = self
            .table
            .get(&key)
            .await?
            .ok_or(ApiError::SessionExpired)?;
        let email = item
            .str("email")
            .and_then(|e| Email::parse(e).ok())
            .ok_or_else(|| ApiError::Unavailable(anyhow::anyhow!("malformed reset item")))?;
        let user = self
            .find_user(&email)
            .await?
            .ok_or(ApiError::SessionExpired)?;
        let hash = hash_password(&req.password)
            .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("hashing: {e}")))?;
        // The token is consumed in the same transaction that sets the password: once only.
        match self
            .table
            .transact(vec![
                TransactOp::Delete(key, Some(Condition::Exists)),
                TransactOp::Update(
                    store_keys::user(&user.tenant, &user.email),
                    Update::new()
                        .set("password_hash", hash)
                        .set("failures", 0i64),
                    Some(Condition::Exists),
                ),
            ])
            .await
        {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled) => return Err(ApiError::SessionExpired),
            Err(e) => return Err(e.into()),
        }
        let revoked = self.revoke_user_sessions(&user.email).await?;
        tracing::info!(user = %user.email, revoked, "password set");
        Ok(())
    }
}
