//! "Once per period" for scheduled work that every maintenance sweep may try (the
//! hourly status-history compaction, the daily license-expiry run): the first
//! sweep of a period claims it on a marker item with a conditional write, so of
//! concurrent sweeps one wins; later sweeps of the period cost one read.

use rampart_ports::{Condition, Key, ReturnItem, StoreError, Table, Update};

use crate::error::ApiError;

/// Whether this caller claimed `period` (a number that grows with time, such as an
/// epoch hour or day) on the marker `key`, whose attribute `attr` holds the last
/// period claimed.
pub async fn claim(
    table: &dyn Table,
    key: &Key,
    attr: &str,
    period: i64,
) -> Result<bool, ApiError> {
    let last = table.get(key).await?;
    if last.and_then(|m| m.i64(attr)).is_some_and(|p| p >= period) {
        return Ok(false);
    }
    let unclaimed = Condition::Or(vec![Condition::NotExists, Condition::lt(attr, period)]);
    match table
        .update(
            key,
            Update::new().set(attr, period),
            Some(unclaimed),
            ReturnItem::None,
        )
        .await
    {
        Ok(_) => Ok(true),
        // Another sweep claimed it meanwhile.
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
