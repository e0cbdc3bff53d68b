//! Every write that creates a command or moves it along, in one transaction with
//! what must change beside it: the appliance's count of open commands (which lets an
//! idle check-in learn from its own write that there is nothing to do) and the
//! appliance's communication log with its chain head.

use rampart_domain::Timestamp;
use rampart_domain::comm_log::{ChainHead, LogFields, append_after};
use rampart_ports::{Condition, Item, StoreError, Table, TransactOp, Update, Value};

use crate::error::ApiError;
use crate::records::comm_log::{HEAD_HASH_ATTR, HEAD_SEQ_ATTR, head_from_item, to_item};
use crate::records::command::{self, CommandRecord};
use crate::store_keys;

/// Head races (two writers appending to one appliance's log at once) are retried
/// this many times before giving up with 503.
const ATTEMPTS: usize = 8;

/// What became of a transition.
#[derive(Debug, PartialEq)]
pub enum Written {
    /// Stored; the appliance's log now ends at `head` (None: the appliance is gone,
    /// so the command was written without a log entry).
    Done { head: Option<ChainHead> },
    /// The command changed since it was read; nothing was written. Read it again
    /// and decide anew.
    Stale,
}

/// The appliance-item half of a transaction: count, log head, fast polling.
struct ApplianceChange {
    update: Update,
    condition: Condition,
    entry: Option<Item>,
    head: ChainHead,
}

fn appliance_change(
    cmd: &CommandRecord,
    head: ChainHead,
    pending_delta: i64,
    log: Option<&LogFields>,
) -> Result<ApplianceChange, ApiError> {
    let mut update = Update::new();
    let mut condition = Condition::Exists;
    if pending_delta != 0 {
        update = update.add("pending_commands", pending_delta);
    }
    let mut new_head = head;
    let mut entry = None;
    if let Some(fields) = log {
        let e = append_after(head, &cmd.appliance, fields.clone())?;
        new_head = e.head();
        entry = Some(to_item(&cmd.tenant, &e));
        update = update
            .set(
                HEAD_SEQ_ATTR,
                i64::try_from(new_head.seq).unwrap_or(i64::MAX),
            )
            .set(HEAD_HASH_ATTR, Value::B(new_head.hash.to_vec()));
        condition = crate::records::comm_log::head_condition(head);
    }
    Ok(ApplianceChange {
        update,
        condition,
        entry,
        head: new_head,
    })
}

async fn current_head(
    table: &dyn Table,
    cmd: &CommandRecord,
) -> Result<Option<ChainHead>, ApiError> {
    let key = store_keys::appliance(&cmd.tenant, &cmd.appliance);
    match table.get(&key).await? {
        None => Ok(None),
        Some(item) => head_from_item(&item)
            .map(Some)
            .map_err(|e| ApiError::Unavailable(e.into())),
    }
}

/// Writes `next` over `current` (read from the store at `current.status.version`),
/// appending `log` to the appliance's log. `head` is the log head if the caller
/// already knows it (from the check-in's own write), saving a read.
pub async fn write_transition(
    table: &dyn Table,
    current: &CommandRecord,
    next: &CommandRecord,
    log: Option<LogFields>,
    mut head: Option<ChainHead>,
) -> Result<Written, ApiError> {
    let finishing = current.is_open() && !next.is_open();
    let (cmd_update, cmd_condition) = command::transition(current, next);
    for _ in 0..ATTEMPTS {
        let known = match head {
            Some(h) => Some(h),
            None => current_head(table, current).await?,
        };
        let mut ops = vec![TransactOp::Update(
            current.key(),
            cmd_update.clone(),
            Some(cmd_condition.clone()),
        )];
        let mut new_head = None;
        if let Some(h) = known {
            let change =
                appliance_change(current, h, if finishing { -1 } else { 0 }, log.as_ref())?;
            if let Some(entry) = change.entry {
                ops.push(TransactOp::Put(entry, Some(Condition::NotExists)));
            }
            if !change.update.is_empty() {
                ops.push(TransactOp::Update(
                    store_keys::appliance(&current.tenant, &current.appliance),
                    change.update,
                    Some(change.condition),
                ));
            }
            new_head = Some(change.head);
        }
        match table.transact(ops).await {
            Ok(()) => return Ok(Written::Done { head: new_head }),
            Err(StoreError::TransactionCanceled | StoreError::ConditionFailed) => {
                let stored = table.get(&current.key()).await?;
                let still = stored
                    .as_ref()
                    .and_then(|i| i.i64("version"))
                    .is_some_and(|v| v == current.status.version as i64);
                if !still {
                    return Ok(Written::Stale);
                }
                // The command is as read: the appliance's log head moved (or the
                // appliance went away). Read it again and retry.
                head = None;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable(anyhow::anyhow!(
        "the appliance's log kept changing while writing a command transition"
    )))
}

/// Creates a queued command (or a console refusal) unless the job already has one
/// for this appliance: a queue message delivered twice creates nothing the second
/// time. A queued command counts as open on the appliance item and asks for fast
/// polling until `fast_poll_until`. Returns false when it already existed.
pub async fn create_command(
    table: &dyn Table,
    cmd: &CommandRecord,
    fast_poll_until: Timestamp,
) -> Result<bool, ApiError> {
    let put = TransactOp::Put(Item::from(cmd), Some(Condition::NotExists));
    let ops = if cmd.is_open() {
        vec![
            put,
            TransactOp::Update(
                store_keys::appliance(&cmd.tenant, &cmd.appliance),
                Update::new().add("pending_commands", 1).set(
                    crate::records::appliance::FAST_POLL_UNTIL,
                    fast_poll_until.millis(),
                ),
                Some(Condition::Exists),
            ),
        ]
    } else {
        vec![put]
    };
    match table.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionCanceled | StoreError::ConditionFailed) => {
            if table.get(&cmd.key()).await?.is_some() {
                return Ok(false);
            }
            // The appliance item is gone: record the command as refused so the
            // job's count of commands still adds up.
            let gone = CommandRecord::refused(
                cmd.tenant.clone(),
                cmd.job.clone(),
                cmd.appliance.clone(),
                cmd.operation.clone(),
                rampart_domain::jobs::Refusal::ApplianceGone,
                cmd.status.created_at,
            );
            match table
                .put(Item::from(&gone), Some(Condition::NotExists))
                .await
            {
                Ok(()) => Ok(true),
                Err(StoreError::ConditionFailed) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}
