//! The first reseller administrator of a fresh install.

use rampart_domain::Timestamp;
use rampart_domain::ids::TenantId;
use rampart_domain::portal_protocol::TenantView;
use rampart_domain::tenancy::{Email, Role, TenantKind};
use rampart_identity::{check_password_policy, hash_password};
use rampart_ports::{Condition, Item, StoreError, Table, TransactOp};

use super::PortalService;
use crate::error::ApiError;
use crate::records::tenant;
use crate::records::user::{self, UserRecord};
use crate::store_keys;

/// What bootstrap created; the password is shown once to the operator.
pub struct Bootstrapped {
    pub tenant: TenantId,
    pub email: Email,
    pub initial_password: String,
}

fn initial_password() -> String {
    // 20 characters from four classes, so the policy always holds.
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"-_.!%+",
    ];
    let mut raw = [0u8; 20];
    getrandom::fill(&mut raw).expect("the OS random source is available");
    raw.iter()
        .enumerate()
        .map(|(i, b)| {
            let set = SETS[i % 4];
            set[*b as usize % set.len()] as char
        })
        .collect()
}

impl PortalService {
    /// Creates the reseller tenant and its administrator, once per install.
    pub async fn bootstrap(
        &self,
        tenant_id: TenantId,
        name: String,
        email: Email,
    ) -> Result<Bootstrapped, ApiError> {
        bootstrap(
            self.table.as_ref(),
            self.clock.now(),
            tenant_id,
            name,
            email,
        )
        .await
    }
}

/// The same on the store alone: it needs neither mail nor the TOTP key, so an
/// operator can run it against either deployment's table.
pub async fn bootstrap(
    table: &dyn Table,
    now: Timestamp,
    tenant_id: TenantId,
    name: String,
    email: Email,
) -> Result<Bootstrapped, ApiError> {
    rampart_domain::validation::text("name", &name, 128)?;
    let password = initial_password();
    check_password_policy(&password)?;
    let hash = hash_password(&password)
        .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("hashing: {e}")))?;
    let profile = TenantView {
        id: tenant_id.clone(),
        name,
        kind: TenantKind::Reseller,
        reseller: None,
    };
    let admin = UserRecord {
        email: email.clone(),
        tenant: tenant_id.clone(),
        role: Role::Administrator,
        password_hash: Some(hash),
        totp_sealed: None,
        totp_pending: None,
        totp_last_step: None,
        failures: 0,
        last_failure_secs: 0,
        created_at: now,
    };
    match table
        .transact(vec![
            TransactOp::Put(
                Item::new(store_keys::bootstrap_marker()).with("tenant", tenant_id.as_str()),
                Some(Condition::NotExists),
            ),
            TransactOp::Put(tenant::to_item(&profile), Some(Condition::NotExists)),
            TransactOp::Put(Item::new(store_keys::tenant_registry(&tenant_id)), None),
            TransactOp::Put(
                Item::new(store_keys::login(&email)).with("tenant", tenant_id.as_str()),
                Some(Condition::NotExists),
            ),
            TransactOp::Put(user::to_item(&admin), Some(Condition::NotExists)),
        ])
        .await
    {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled) => {
            return Err(ApiError::Conflict(
                "this install is already bootstrapped".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(tenant = %tenant_id, user = %email, "bootstrapped the first reseller administrator");
    Ok(Bootstrapped {
        tenant: tenant_id,
        email,
        initial_password: password,
    })
}
