//! The indexed columns derived from an item's reserved attributes, so TTL filtering
//! and the secondary index run in SQL instead of decoding every row.

use rampart_ports::table::{Attrs, GSI1_PK, GSI1_SK, TTL_ATTR, Value};

pub(crate) struct IndexColumns {
    /// Expiry in whole epoch seconds; None when the item never expires.
    pub ttl: Option<i64>,
    /// Both set, or neither: an item is in GSI1 only with both as strings.
    pub gsi1: Option<(String, String)>,
}

pub(crate) fn index_columns(attrs: &Attrs) -> IndexColumns {
    // A non-numeric ttl is ignored, as DynamoDB's TTL ignores it.
    let ttl = match attrs.get(TTL_ATTR) {
        Some(Value::N(n)) => Some(*n),
        Some(Value::F(f)) if f.is_finite() => Some(f.floor() as i64),
        _ => None,
    };
    let gsi1 = match (attrs.get(GSI1_PK), attrs.get(GSI1_SK)) {
        (Some(Value::S(p)), Some(Value::S(s))) => Some((p.clone(), s.clone())),
        _ => None,
    };
    IndexColumns { ttl, gsi1 }
}

/// Whether an item with this expiry is live at `now_secs` (expired when ttl <= now).
pub(crate) fn is_live(ttl: Option<i64>, now_secs: i64) -> bool {
    ttl.is_none_or(|t| t > now_secs)
}
