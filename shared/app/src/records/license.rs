//! License items.

use chrono::NaiveDate;
use rampart_domain::ids::{ApplianceId, ClusterId, Serial, TenantId};
use rampart_domain::license::{ClusterMembership, ClusterRole, License, SecretHash};
use rampart_ports::{Index, Item, Query, SortKey, Table, Value};

use super::{MalformedItem, malformed, required};
use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::store_keys;

const R: &str = "license";

/// License → item (an orphan-rule-free stand-in for `From`).
pub fn to_item(l: &License) -> Item {
    {
        let mut item = Item::new(store_keys::license(&l.serial))
            .with("tenant", l.tenant.as_str())
            .with("product", l.product.as_str())
            .with("expires", l.expires.format("%Y-%m-%d").to_string())
            .with("secret_hash", Value::B(l.secret_hash.0.to_vec()))
            .with("gsi1pk", store_keys::tenant_licenses_index(&l.tenant))
            .with("gsi1sk", store_keys::license_index_sort(&l.serial));
        if let Some(c) = &l.cluster {
            item = item.with("cluster_id", c.id.as_str()).with(
                "cluster_role",
                match c.role {
                    ClusterRole::Master => "master",
                    ClusterRole::Spare => "spare",
                },
            );
        }
        if let Some(id) = &l.bound_to {
            item = item.with("bound_to", id.as_str());
        }
        item
    }
}

/// Item → license.
pub fn from_item(item: &Item) -> Result<License, MalformedItem> {
    {
        let serial_str = item
            .key
            .pk
            .strip_prefix("LICENSE#")
            .ok_or_else(|| malformed(R, "key"))?;
        let serial = Serial::parse(serial_str).map_err(|e| malformed(R, e))?;
        let tenant = TenantId::parse(required(item, R, "tenant")?).map_err(|e| malformed(R, e))?;
        let expires = NaiveDate::parse_from_str(required(item, R, "expires")?, "%Y-%m-%d")
            .map_err(|e| malformed(R, e))?;
        let hash: [u8; 32] = item
            .get("secret_hash")
            .and_then(Value::as_bytes)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| malformed(R, "secret_hash"))?;
        let cluster = match (item.str("cluster_id"), item.str("cluster_role")) {
            (Some(id), Some(role)) => Some(ClusterMembership {
                id: ClusterId::parse(id).map_err(|e| malformed(R, e))?,
                role: match role {
                    "master" => ClusterRole::Master,
                    "spare" => ClusterRole::Spare,
                    other => return Err(malformed(R, format!("cluster_role {other}"))),
                },
            }),
            (None, None) => None,
            _ => return Err(malformed(R, "cluster_id without cluster_role")),
        };
        let bound_to = item
            .str("bound_to")
            .map(ApplianceId::parse)
            .transpose()
            .map_err(|e| malformed(R, e))?;
        Ok(License {
            serial,
            tenant,
            product: required(item, R, "product")?.to_owned(),
            expires,
            cluster,
            secret_hash: SecretHash(hash),
            bound_to,
        })
    }
}

/// Every license of a tenant (through its `gsi1` index), oldest serial first.
pub async fn tenant_licenses(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<License>, ApiError> {
    let items = all_items(
        table,
        Query::partition(store_keys::tenant_licenses_index(tenant))
            .on(Index::Gsi1)
            .sk(SortKey::BeginsWith("LICENSE#".into())),
    )
    .await?;
    items
        .iter()
        .map(|i| from_item(i).map_err(|e| ApiError::Unavailable(e.into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::license::NewLicense;

    #[test]
    fn round_trips_through_an_item() {
        let mut l = NewLicense {
            serial: Serial::parse("A1B2C3D4-SPARE").unwrap(),
            tenant: TenantId::parse("123456.sms").unwrap(),
            product: "UTM 320".into(),
            expires: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
            cluster: Some(ClusterMembership {
                id: ClusterId::parse("beef0123").unwrap(),
                role: ClusterRole::Spare,
            }),
        }
        .into_license("secret");
        assert_eq!(from_item(&to_item(&l)).unwrap(), l);
        l.bound_to = Some(ApplianceId::from_random([1; 16]));
        l.cluster = None;
        assert_eq!(from_item(&to_item(&l)).unwrap(), l);
    }

    #[test]
    fn refuses_malformed_items() {
        let item = Item::new(rampart_ports::Key::new("LICENSE#A1B2C3D4", "LICENSE"));
        assert!(from_item(&item).is_err());
    }
}
