//! The table's write operations as they run on the writer connection: read the
//! live item, check the condition against it, write. Runs inside the writer's
//! per-operation savepoint, so an error here leaves nothing behind.

use rampart_ports::StoreError;
use rampart_ports::table::{Attrs, Condition, Item, Key, ReturnItem, TransactOp, Update};
use rusqlite::Connection;

use crate::condition_eval::holds;
use crate::item_rows::{delete_row, load_live, store_item};
use crate::update_apply::apply_update;

fn check(condition: Option<&Condition>, live: Option<&Attrs>) -> Result<(), StoreError> {
    match condition {
        Some(c) if !holds(c, live) => Err(StoreError::ConditionFailed),
        _ => Ok(()),
    }
}

pub(crate) fn put(
    conn: &Connection,
    item: &Item,
    condition: Option<&Condition>,
    now_secs: i64,
) -> Result<(), StoreError> {
    if let Some(c) = condition {
        check(Some(c), load_live(conn, &item.key, now_secs)?.as_ref())?;
    }
    store_item(conn, &item.key, &item.attrs)
}

pub(crate) fn update(
    conn: &Connection,
    key: &Key,
    update: &Update,
    condition: Option<&Condition>,
    ret: ReturnItem,
    now_secs: i64,
) -> Result<Option<Item>, StoreError> {
    // An expired item is absent: the update starts from nothing.
    let old = load_live(conn, key, now_secs)?;
    check(condition, old.as_ref())?;
    let mut attrs = old.clone().unwrap_or_default();
    apply_update(&mut attrs, update)?;
    store_item(conn, key, &attrs)?;
    Ok(match ret {
        ReturnItem::None => None,
        ReturnItem::AllNew => Some(Item {
            key: key.clone(),
            attrs,
        }),
        ReturnItem::AllOld => old.map(|attrs| Item {
            key: key.clone(),
            attrs,
        }),
    })
}

pub(crate) fn delete(
    conn: &Connection,
    key: &Key,
    condition: Option<&Condition>,
    now_secs: i64,
) -> Result<(), StoreError> {
    if let Some(c) = condition {
        check(Some(c), load_live(conn, key, now_secs)?.as_ref())?;
    }
    delete_row(conn, key)
}

/// All or nothing: the first failed condition cancels the whole transaction, and
/// the writer's savepoint undoes the operations already applied.
pub(crate) fn transact(
    conn: &Connection,
    ops: &[TransactOp],
    now_secs: i64,
) -> Result<(), StoreError> {
    let canceled = |e: StoreError| match e {
        StoreError::ConditionFailed => StoreError::TransactionCanceled,
        other => other,
    };
    for op in ops {
        match op {
            TransactOp::Put(item, c) => put(conn, item, c.as_ref(), now_secs),
            TransactOp::Update(key, u, c) => {
                update(conn, key, u, c.as_ref(), ReturnItem::None, now_secs).map(|_| ())
            }
            TransactOp::Delete(key, c) => delete(conn, key, c.as_ref(), now_secs),
            TransactOp::Check(key, c) => check(Some(c), load_live(conn, key, now_secs)?.as_ref()),
        }
        .map_err(canceled)?;
    }
    Ok(())
}
