//! Size and shape limits on written items, DynamoDB's where it has them, so a write
//! that the AWS adapter would refuse is refused here too (and nothing is stored that
//! could not be read back).

use rampart_ports::StoreError;
use rampart_ports::table::{Attrs, Value};

/// DynamoDB's item size limit.
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB allows 32 levels of nesting.
const MAX_NESTING: usize = 32;

pub(crate) fn check_written_attrs(attrs: &Attrs, encoded_len: usize) -> Result<(), StoreError> {
    if encoded_len > MAX_ITEM_BYTES {
        return Err(StoreError::Invalid("item larger than 400 KiB".into()));
    }
    if attrs.values().any(|v| depth(v) > MAX_NESTING) {
        return Err(StoreError::Invalid(
            "item nested more than 32 levels".into(),
        ));
    }
    Ok(())
}

fn depth(v: &Value) -> usize {
    match v {
        Value::L(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::M(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
