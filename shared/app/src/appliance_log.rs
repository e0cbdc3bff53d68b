//! Appends one entry to an appliance's communication log outside a command's
//! transition (a backup accepted or refused by the ingest), in one transaction with
//! the writes it records, so the entry exists exactly when they happened.

use rampart_domain::comm_log::{LogFields, append_after};
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_ports::{StoreError, Table, TransactOp, Update};

use crate::error::ApiError;
use crate::records::comm_log::{head_condition, head_from_item, head_update, to_item};
use crate::store_keys;

/// Two writers appending to one appliance's log at once: the loser retries.
const ATTEMPTS: usize = 8;

/// What became of an append.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// The entry and `with` were written.
    Done,
    /// The appliance is gone: nothing was written.
    NoAppliance,
    /// A condition of `with` failed (e.g. the record already exists): nothing
    /// was written.
    Refused,
}

/// Writes `with` and the log entry in one transaction. `with_holds` tells, after a
/// canceled transaction, whether the conditions of `with` still hold (then the
/// log head moved and the append is retried).
pub async fn append_with<F, Fut>(
    table: &dyn Table,
    tenant: &TenantId,
    appliance: &ApplianceId,
    fields: LogFields,
    with: Vec<TransactOp>,
    with_holds: F,
) -> Result<Appended, ApiError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, ApiError>>,
{
    append_changing_appliance(
        table,
        tenant,
        appliance,
        fields,
        with,
        |_| Update::new(),
        with_holds,
    )
    .await
}

/// As [`append_with`], and changes the appliance item itself in the same
/// transaction: `change` derives the attribute changes from the item as read (the
/// log head already updates that item, and a transaction touches an item once).
pub async fn append_changing_appliance<C, F, Fut>(
    table: &dyn Table,
    tenant: &TenantId,
    appliance: &ApplianceId,
    fields: LogFields,
    with: Vec<TransactOp>,
    change: C,
    with_holds: F,
) -> Result<Appended, ApiError>
where
    C: Fn(&rampart_ports::Item) -> Update,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, ApiError>>,
{
    let key = store_keys::appliance(tenant, appliance);
    for _ in 0..ATTEMPTS {
        let Some(item) = table.get(&key).await? else {
            return Ok(Appended::NoAppliance);
        };
        let head = head_from_item(&item).map_err(|e| ApiError::Unavailable(e.into()))?;
        let entry = append_after(head, appliance, fields.clone())?;
        let mut ops = with.clone();
        ops.push(TransactOp::Put(
            to_item(tenant, &entry),
            Some(rampart_ports::Condition::NotExists),
        ));
        let mut update = head_update(entry.head());
        let extra = change(&item);
        update.set.extend(extra.set);
        update.remove.extend(extra.remove);
        update.add.extend(extra.add);
        ops.push(TransactOp::Update(
            key.clone(),
            update,
            Some(head_condition(head)),
        ));
        match table.transact(ops).await {
            Ok(()) => return Ok(Appended::Done),
            Err(StoreError::TransactionCanceled | StoreError::ConditionFailed) => {
                if !with_holds().await? {
                    return Ok(Appended::Refused);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable(anyhow::anyhow!(
        "the appliance's log kept changing while appending to it"
    )))
}
