//! Tenant profiles.

use rampart_domain::ids::TenantId;
use rampart_domain::portal_protocol::TenantView;
use rampart_domain::tenancy::TenantKind;
use rampart_ports::Item;

use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "tenant";

pub fn to_item(t: &TenantView) -> Item {
    let mut item = Item::new(store_keys::tenant_profile(&t.id))
        .with("name", t.name.as_str())
        .with(
            "kind",
            match t.kind {
                TenantKind::Reseller => "reseller",
                TenantKind::Customer => "customer",
            },
        );
    if let Some(r) = &t.reseller {
        item = item.with("reseller", r.as_str());
    }
    item
}

pub fn from_item(item: &Item) -> Result<TenantView, MalformedItem> {
    let id = item
        .key
        .pk
        .strip_prefix("TENANT#")
        .ok_or_else(|| malformed(R, "key"))?;
    Ok(TenantView {
        id: TenantId::parse(id).map_err(|e| malformed(R, e))?,
        name: required(item, R, "name")?.to_owned(),
        kind: match required(item, R, "kind")? {
            "reseller" => TenantKind::Reseller,
            "customer" => TenantKind::Customer,
            other => return Err(malformed(R, format!("kind {other}"))),
        },
        reseller: item
            .str("reseller")
            .map(TenantId::parse)
            .transpose()
            .map_err(|e| malformed(R, e))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = TenantView {
            id: TenantId::parse("100001.sms").unwrap(),
            name: "Example GmbH".into(),
            kind: TenantKind::Customer,
            reseller: Some(TenantId::parse("100000.sms").unwrap()),
        };
        assert_eq!(from_item(&to_item(&t)).unwrap(), t);
    }
}
