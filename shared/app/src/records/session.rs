//! Sessions and sign-in challenges. Only the SHA-256 of the bearer token is a key;
//! the token itself is never stored.

use rampart_domain::Timestamp;
use rampart_domain::ids::TenantId;
use rampart_domain::tenancy::{Email, Role, TenantKind};
use rampart_ports::Item;

use super::user::{parse_role, role_str};
use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "session";

/// A password-checked challenge awaiting its TOTP step, or a full session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Challenge,
    Session,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_id: String,
    pub stage: Stage,
    pub email: Email,
    pub tenant: TenantId,
    pub tenant_kind: TenantKind,
    pub role: Role,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    /// Absolute end; also the item's TTL.
    pub expires_at: Timestamp,
}

pub fn to_item(s: &SessionRecord) -> Item {
    Item::new(store_keys::session(&s.token_id))
        .with(
            "stage",
            match s.stage {
                Stage::Challenge => "challenge",
                Stage::Session => "session",
            },
        )
        .with("email", s.email.as_str())
        .with("tenant", s.tenant.as_str())
        .with(
            "tenant_kind",
            match s.tenant_kind {
                TenantKind::Reseller => "reseller",
                TenantKind::Customer => "customer",
            },
        )
        .with("role", role_str(s.role))
        .with("created_at", s.created_at.millis())
        .with("last_seen", s.last_seen.millis())
        .with("expires_at", s.expires_at.millis())
        .with("ttl", s.expires_at.secs() + 1)
        .with("gsi1pk", store_keys::user_sessions_index(&s.email))
        .with("gsi1sk", format!("SESSION#{}", s.token_id))
}

pub fn from_item(item: &Item) -> Result<SessionRecord, MalformedItem> {
    let token_id = item
        .key
        .pk
        .strip_prefix("SESSION#")
        .ok_or_else(|| malformed(R, "key"))?;
    let ms = |n: &str| {
        item.i64(n)
            .map(Timestamp::from_millis)
            .ok_or_else(|| malformed(R, n))
    };
    Ok(SessionRecord {
        token_id: token_id.to_owned(),
        stage: match required(item, R, "stage")? {
            "challenge" => Stage::Challenge,
            "session" => Stage::Session,
            other => return Err(malformed(R, format!("stage {other}"))),
        },
        email: Email::parse(required(item, R, "email")?).map_err(|e| malformed(R, e))?,
        tenant: TenantId::parse(required(item, R, "tenant")?).map_err(|e| malformed(R, e))?,
        tenant_kind: match required(item, R, "tenant_kind")? {
            "reseller" => TenantKind::Reseller,
            _ => TenantKind::Customer,
        },
        role: parse_role(required(item, R, "role")?).ok_or_else(|| malformed(R, "role"))?,
        created_at: ms("created_at")?,
        last_seen: ms("last_seen")?,
        expires_at: ms("expires_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = SessionRecord {
            token_id: "ab".repeat(32),
            stage: Stage::Session,
            email: Email::parse("a@example.com").unwrap(),
            tenant: TenantId::parse("1.sms").unwrap(),
            tenant_kind: TenantKind::Reseller,
            role: Role::Administrator,
            created_at: Timestamp::from_secs(1),
            last_seen: Timestamp::from_secs(2),
            expires_at: Timestamp::from_secs(3),
        };
        assert_eq!(from_item(&to_item(&s)).unwrap(), s);
    }
}
