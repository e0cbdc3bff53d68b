//! Sign-in: the password step yields a short-lived challenge; the TOTP step (or,
//! for a user without TOTP, enrollment confirmed by a first code) yields a session.
//! Failed passwords and codes count against the same per-user throttle.

use rampart_domain::Timestamp;
use rampart_domain::ids::TenantId;
use rampart_domain::portal_protocol::{
    LoginChallenge, LoginRequest, NextStep, SessionGrant, TotpEnrollRequest, TotpEnrollment,
    TotpRequest,
};
use rampart_domain::tenancy::{Email, TenantKind};
use rampart_identity::throttle::{self, FailureState};
use rampart_identity::{TotpSecret, dummy_verify, otpauth_uri, verify_password};
use rampart_ports::{Condition, ReturnItem, StoreError, Update, Value};

use super::{CHALLENGE_LIFETIME, PortalService, malformed};
use crate::error::ApiError;
use crate::records::session::{SessionRecord, Stage};
use crate::records::user::UserRecord;
use crate::records::{tenant, user};
use crate::store_keys;

/// The issuer shown in authenticator apps.
const ISSUER: &str = "Rampart";

/// Binds a sealed TOTP secret to its user: copied to another user it will not open.
fn totp_aad(email: &Email) -> Vec<u8> {
    format!("rampart-totp:{email}").into_bytes()
}

impl PortalService {
    pub async fn login(&self, req: LoginRequest) -> Result<LoginChallenge, ApiError> {
        let Some(user) = self.find_user(&req.email).await? else {
            // Spend the time a real check costs, so timing does not reveal the address.
            dummy_verify();
            return Err(ApiError::InvalidCredentials);
        };
        self.check_throttle(&user)?;
        let ok = req.password.len() <= 1024
            && match &user.password_hash {
                Some(phc) => verify_password(phc, &req.password),
                None => {
                    dummy_verify();
                    false
                }
            };
        if !ok {
            self.record_failure(&user).await?;
            tracing::info!(user = %user.email, "sign-in refused: wrong password");
            return Err(ApiError::InvalidCredentials);
        }
        let kind = self.tenant_kind(&user.tenant).await?;
        let (token, record) = self
            .open_session(&user, kind, Stage::Challenge, CHALLENGE_LIFETIME)
            .await?;
        Ok(LoginChallenge {
            challenge: token,
            next: if user.totp_sealed.is_some() {
                NextStep::Totp
            } else {
                NextStep::TotpEnrollment
            },
            expires_at: record.expires_at.to_rfc3339(),
        })
    }

    pub async fn verify_totp(&self, req: TotpRequest) -> Result<SessionGrant, ApiError> {
        let (challenge, user) = self.challenge_user(&req.challenge).await?;
        self.check_throttle(&user)?;
        let sealed = user.totp_sealed.as_ref().ok_or(ApiError::TotpRequired)?;
        let secret = self.open_totp(&user.email, sealed)?;
        let now = self.clock.now().secs();
        let step = match rampart_identity::verify(&secret, &req.code, now, user.totp_last_step) {
            Ok(step) => step,
            Err(_) => {
                self.record_failure(&user).await?;
                tracing::info!(user = %user.email, "sign-in refused: wrong TOTP code");
                return Err(ApiError::InvalidTotp);
            }
        };
        // A code is accepted once only, even by two concurrent requests.
        let accepted = Condition::Or(vec![
            Condition::AttrNotExists("totp_last_step".into()),
            Condition::lt("totp_last_step", step),
        ]);
        self.update_user(
            &user,
            Update::new()
                .set("totp_last_step", step)
                .set("failures", 0i64),
            Condition::Exists.and(accepted),
            ApiError::InvalidTotp,
        )
        .await?;
        self.finish_sign_in(&challenge, &user).await
    }

    pub async fn enroll_totp(&self, req: TotpEnrollRequest) -> Result<TotpEnrollment, ApiError> {
        let (_, user) = self.challenge_user(&req.challenge).await?;
        if user.totp_sealed.is_some() {
            return Err(ApiError::Conflict(
                "two-factor authentication is already set up".into(),
            ));
        }
        let secret = TotpSecret::generate();
        let sealed =
            rampart_identity::seal(&self.totp_key, secret.as_bytes(), &totp_aad(&user.email));
        self.update_user(
            &user,
            Update::new().set("totp_pending", Value::B(sealed)),
            Condition::Exists.and(Condition::AttrNotExists("totp_sealed".into())),
            ApiError::Conflict("two-factor authentication is already set up".into()),
        )
        .await?;
        let uri = otpauth_uri(&secret, ISSUER, user.email.as_str());
        let qr_svg = rampart_identity::qr::qr_svg(&uri)
            .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("QR code: {e}")))?;
        Ok(TotpEnrollment {
            otpauth_uri: uri,
            secret: secret.to_base32(),
            qr_svg,
        })
    }

    pub async fn confirm_totp(&self, req: TotpRequest) -> Result<SessionGrant, ApiError> {
        let (challenge, user) = self.challenge_user(&req.challenge).await?;
        if user.totp_sealed.is_some() {
            return Err(ApiError::Conflict(
                "two-factor authentication is already set up".into(),
            ));
        }
        let pending = user
            .totp_pending
            .clone()
            .ok_or_else(|| ApiError::Conflict("start the enrollment first".into()))?;
        self.check_throttle(&user)?;
        let secret = self.open_totp(&user.email, &pending)?;
        let step = match rampart_identity::verify(&secret, &req.code, self.clock.now().secs(), None)
        {
            Ok(step) => step,
            Err(_) => {
                self.record_failure(&user).await?;
                return Err(ApiError::InvalidTotp);
            }
        };
        self.update_user(
            &user,
            Update::new()
                .set("totp_sealed", Value::B(pending.clone()))
                .set("totp_last_step", step)
                .set("failures", 0i64)
                .remove("totp_pending"),
            Condition::Exists
                .and(Condition::Eq("totp_pending".into(), Value::B(pending)))
                .and(Condition::AttrNotExists("totp_sealed".into())),
            ApiError::Conflict("the enrollment changed meanwhile; start again".into()),
        )
        .await?;
        tracing::info!(user = %user.email, "two-factor authentication enrolled");
        self.finish_sign_in(&challenge, &user).await
    }

    /// Consumes the challenge (once) and opens the session.
    async fn finish_sign_in(
        &self,
        challenge: &SessionRecord,
        user: &UserRecord,
    ) -> Result<SessionGrant, ApiError> {
        match self
            .table
            .delete(
                &store_keys::session(&challenge.token_id),
                Some(Condition::Exists),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => return Err(ApiError::SessionExpired),
            Err(e) => return Err(e.into()),
        }
        let lifetime = self.config.session_absolute;
        let (token, record) = self
            .open_session(user, challenge.tenant_kind, Stage::Session, lifetime)
            .await?;
        tracing::info!(user = %user.email, tenant = %user.tenant, "signed in");
        Ok(self.grant(token, &record))
    }

    async fn challenge_user(
        &self,
        challenge: &str,
    ) -> Result<(SessionRecord, UserRecord), ApiError> {
        let record = self.load_session(challenge, Stage::Challenge).await?;
        let user = self
            .load_user(&record.tenant, &record.email)
            .await?
            .ok_or(ApiError::SessionExpired)?;
        Ok((record, user))
    }

    fn open_totp(&self, email: &Email, sealed: &[u8]) -> Result<TotpSecret, ApiError> {
        rampart_identity::open(&self.totp_key, sealed, &totp_aad(email))
            .ok()
            .and_then(|raw| TotpSecret::from_bytes(&raw).ok())
            .ok_or_else(|| {
                ApiError::Unavailable(anyhow::anyhow!(
                    "a stored TOTP secret does not open with the configured key"
                ))
            })
    }

    pub(super) async fn find_user(&self, email: &Email) -> Result<Option<UserRecord>, ApiError> {
        let Some(login) = self.table.get(&store_keys::login(email)).await? else {
            return Ok(None);
        };
        let tenant = login
            .str("tenant")
            .and_then(|t| TenantId::parse(t).ok())
            .ok_or_else(|| ApiError::Unavailable(anyhow::anyhow!("malformed login item")))?;
        self.load_user(&tenant, email).await
    }

    pub(super) async fn load_user(
        &self,
        tenant: &TenantId,
        email: &Email,
    ) -> Result<Option<UserRecord>, ApiError> {
        self.table
            .get(&store_keys::user(tenant, email))
            .await?
            .map(|i| user::from_item(&i))
            .transpose()
            .map_err(malformed)
    }

    pub(super) async fn tenant_kind(&self, id: &TenantId) -> Result<TenantKind, ApiError> {
        Ok(
            match self.table.get(&store_keys::tenant_profile(id)).await? {
                Some(item) => tenant::from_item(&item).map_err(malformed)?.kind,
                None => TenantKind::Customer,
            },
        )
    }

    fn check_throttle(&self, user: &UserRecord) -> Result<(), ApiError> {
        let state = FailureState {
            failures: user.failures,
            last_failure_secs: user.last_failure_secs,
        };
        let now = self.clock.now().secs();
        if let Some(until) = throttle::locked_until(state).filter(|u| *u > now) {
            return Err(ApiError::AccountLocked {
                until: Timestamp::from_secs(until).to_rfc3339(),
            });
        }
        if let Some(at) = throttle::next_allowed_at(state).filter(|a| *a > now) {
            return Err(ApiError::TooManyAttempts {
                retry_after_secs: at - now,
            });
        }
        Ok(())
    }

    async fn record_failure(&self, user: &UserRecord) -> Result<(), ApiError> {
        let now = self.clock.now().secs();
        let old = FailureState {
            failures: user.failures,
            last_failure_secs: user.last_failure_secs,
        };
        let key = store_keys::user(&user.tenant, &user.email);
        let counted = |update: Update, condition: Condition| {
            self.table
                .update(&key, update, Some(condition), ReturnItem::None)
        };
        if throttle::record_failure(old, now).failures == 1 && old.failures > 0 {
            // A fresh run after a quiet spell (the throttle forgets old failures):
            // restart the count, unless a parallel failure already moved it on.
            match counted(
                Update::new().set("failures", 1i64).set("last_failure", now),
                Condition::Exists.and(Condition::eq("last_failure", old.last_failure_secs)),
            )
            .await
            {
                Ok(_) => return Ok(()),
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Within a run, count atomically so that parallel guesses all count.
        counted(
            Update::new().add("failures", 1).set("last_failure", now),
            Condition::Exists,
        )
        .await?;
        Ok(())
    }

    async fn update_user(
        &self,
        user: &UserRecord,
        update: Update,
        condition: Condition,
        on_condition: ApiError,
    ) -> Result<(), ApiError> {
        match self
            .table
            .update(
                &store_keys::user(&user.tenant, &user.email),
                update,
                Some(condition),
                ReturnItem::None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::ConditionFailed) => Err(on_condition),
            Err(e) => Err(e.into()),
        }
    }
}
