//! Portal users. The password is kept as an Argon2id hash, the TOTP secret sealed
//! with AES-256-GCM under the configured key; neither is ever returned.

use rampart_domain::Timestamp;
use rampart_domain::ids::TenantId;
use rampart_domain::tenancy::{Email, Role};
use rampart_ports::{Item, Value};

use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "user";

#[derive(Clone, PartialEq)]
pub struct UserRecord {
    pub email: Email,
    pub tenant: TenantId,
    pub role: Role,
    /// PHC string; None until the user has set a password.
    pub password_hash: Option<String>,
    pub totp_sealed: Option<Vec<u8>>,
    /// A secret offered during enrollment, not yet confirmed by a code.
    pub totp_pending: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub failures: u32,
    pub last_failure_secs: i64,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("email", &self.email)
            .field("tenant", &self.tenant)
            .field("role", &self.role)
            .field("totp_enabled", &self.totp_sealed.is_some())
            .finish_non_exhaustive()
    }
}

pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::Administrator => "administrator",
        Role::Viewer => "viewer",
    }
}

pub fn parse_role(s: &str) -> Option<Role> {
    match s {
        "administrator" => Some(Role::Administrator),
        "viewer" => Some(Role::Viewer),
        _ => None,
    }
}

pub fn to_item(u: &UserRecord) -> Item {
    let mut item = Item::new(store_keys::user(&u.tenant, &u.email))
        .with("role", role_str(u.role))
        .with("failures", i64::from(u.failures))
        .with("last_failure", u.last_failure_secs)
        .with("created_at", u.created_at.millis());
    if let Some(h) = &u.password_hash {
        item = item.with("password_hash", h.as_str());
    }
    if let Some(s) = &u.totp_sealed {
        item = item.with("totp_sealed", Value::B(s.clone()));
    }
    if let Some(s) = &u.totp_pending {
        item = item.with("totp_pending", Value::B(s.clone()));
    }
    if let Some(step) = u.totp_last_step {
        item = item.with("totp_last_step", step);
    }
    item
}

pub fn from_item(item: &Item) -> Result<UserRecord, MalformedItem> {
    let tenant = item
        .key
        .pk
        .strip_prefix("TENANT#")
        .ok_or_else(|| malformed(R, "key"))?;
    let email = item
        .key
        .sk
        .strip_prefix(store_keys::USER_PREFIX)
        .ok_or_else(|| malformed(R, "key"))?;
    Ok(UserRecord {
        email: Email::parse(email).map_err(|e| malformed(R, e))?,
        tenant: TenantId::parse(tenant).map_err(|e| malformed(R, e))?,
        role: parse_role(required(item, R, "role")?).ok_or_else(|| malformed(R, "role"))?,
        password_hash: item.str("password_hash").map(str::to_owned),
        totp_sealed: item
            .get("totp_sealed")
            .and_then(Value::as_bytes)
            .map(<[u8]>::to_vec),
        totp_pending: item
            .get("totp_pending")
            .and_then(Value::as_bytes)
            .map(<[u8]>::to_vec),
        totp_last_step: item.i64("totp_last_step"),
        failures: u32::try_from(item.i64("failures").unwrap_or(0)).unwrap_or(u32::MAX),
        last_failure_secs: item.i64("last_failure").unwrap_or(0),
        created_at: Timestamp::from_millis(item.i64("created_at").unwrap_or(0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_secrets_from_debug() {
        let u = UserRecord {
            email: Email::parse("a@example.com").unwrap(),
            tenant: TenantId::parse("1.sms").unwrap(),
            role: Role::Viewer,
            password_hash: Some("$argon2id$secret-hash".into()),
            totp_sealed: Some(vec![1, 2, 3]),
            totp_pending: None,
            totp_last_step: Some(42),
            failures: 2,
            last_failure_secs: 100,
            created_at: Timestamp::from_secs(5),
        };
        assert_eq!(from_item(&to_item(&u)).unwrap(), u);
        assert!(!format!("{u:?}").contains("argon2"));
    }
}
