//! Device credential items: the public key an appliance signs with. The private
//! key never leaves the appliance, so nothing stored here can sign a request.

use rampart_domain::Timestamp;
use rampart_domain::device_protocol::DevicePublicKey;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_ports::{Item, Value};

use super::{MalformedItem, malformed, required};
use crate::store_keys;

const R: &str = "credential";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub appliance: ApplianceId,
    pub tenant: TenantId,
    pub serial: Serial,
    pub public_key: DevicePublicKey,
    pub enrolled_at: Timestamp,
}

impl From<&Credential> for Item {
    fn from(c: &Credential) -> Item {
        Item::new(store_keys::credential(&c.appliance))
            .with("tenant", c.tenant.as_str())
            .with("serial", c.serial.as_str())
            .with("public_key", Value::B(c.public_key.as_bytes().to_vec()))
            .with("enrolled_at", c.enrolled_at.millis())
    }
}

impl TryFrom<&Item> for Credential {
    type Error = MalformedItem;

    fn try_from(item: &Item) -> Result<Self, MalformedItem> {
        let id = item
            .key
            .pk
            .strip_prefix("DEVICE#")
            .ok_or_else(|| malformed(R, "key"))?;
        let key: [u8; 32] = item
            .get("public_key")
            .and_then(Value::as_bytes)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| malformed(R, "public_key"))?;
        Ok(Credential {
            appliance: ApplianceId::parse(id).map_err(|e| malformed(R, e))?,
            tenant: TenantId::parse(required(item, R, "tenant")?).map_err(|e| malformed(R, e))?,
            serial: Serial::parse(required(item, R, "serial")?).map_err(|e| malformed(R, e))?,
            public_key: DevicePublicKey::from_bytes(&key).map_err(|e| malformed(R, e))?,
            enrolled_at: Timestamp::from_millis(
                item.i64("enrolled_at")
                    .ok_or_else(|| malformed(R, "enrolled_at"))?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_an_item() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let c = Credential {
            appliance: ApplianceId::from_random([2; 16]),
            tenant: TenantId::parse("1.sms").unwrap(),
            serial: Serial::parse("AAAA1111").unwrap(),
            public_key: DevicePublicKey::from_bytes(sk.verifying_key().as_bytes()).unwrap(),
            enrolled_at: Timestamp::from_secs(5),
        };
        assert_eq!(Credential::try_from(&Item::from(&c)).unwrap(), c);
    }
}
