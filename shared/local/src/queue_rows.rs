//! The queue's operations on the `queue_messages` table, run on the writer
//! connection. Times are epoch milliseconds.

use rampart_ports::StoreError;
use rampart_ports::queue::ReceivedMessage;
use rusqlite::{Connection, OptionalExtension, params};

use crate::item_rows::sql_error;
use crate::random_token::random_hex;

pub(crate) struct ReceiveOutcome {
    pub messages: Vec<ReceivedMessage>,
    /// Messages moved to the dead-letter queue by this receive.
    pub dead_lettered: usize,
    /// When the next message of this queue becomes visible, if one is waiting.
    pub next_visible_at: Option<i64>,
}

pub(crate) struct ReceiveParams<'a> {
    pub queue: &'a str,
    pub dead_letter_queue: &'a str,
    pub max: usize,
    pub max_receives: u32,
    pub visibility_ms: i64,
    pub now_ms: i64,
}

pub(crate) fn insert_message(
    conn: &Connection,
    queue: &str,
    body: &str,
    visible_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO queue_messages (queue, id, body, visible_at, receive_count, receipt)
         VALUES (?1, ?2, ?3, ?4, 0, NULL)",
    )
    .map_err(sql_error)?
    .execute(params![queue, random_hex(16), body, visible_at])
    .map_err(sql_error)?;
    Ok(())
}

/// Delivers up to `max` visible messages. A message already received
/// `max_receives` times goes to the dead-letter queue instead (SQS's redrive:
/// the move happens on the receive attempt after the last allowed one).
pub(crate) fn receive_messages(
    conn: &Connection,
    p: &ReceiveParams<'_>,
) -> Result<ReceiveOutcome, StoreError> {
    let mut messages = Vec::new();
    let mut dead_lettered = 0;
    loop {
        let wanted = p.max - messages.len();
        let candidates = visible_messages(conn, p.queue, p.now_ms, wanted)?;
        if candidates.is_empty() {
            break;
        }
        for (seq, id, body, count) in candidates {
            if count >= i64::from(p.max_receives) {
                move_to_dead_letters(conn, seq, p.dead_letter_queue, p.now_ms)?;
                dead_lettered += 1;
            } else {
                // A fresh receipt per delivery: an older receipt of this message
                // matches nothing from now on, so its delete is a no-op.
                let receipt = format!("{seq}.{}", random_hex(16));
                conn.prepare_cached(
                    "UPDATE queue_messages
                     SET receive_count = receive_count + 1, receipt = ?1, visible_at = ?2
                     WHERE seq = ?3",
                )
                .map_err(sql_error)?
                .execute(params![
                    receipt,
                    p.now_ms.saturating_add(p.visibility_ms),
                    seq
                ])
                .map_err(sql_error)?;
                messages.push(ReceivedMessage {
                    id,
                    body,
                    receipt,
                    receive_count: u32::try_from(count + 1).unwrap_or(u32::MAX),
                });
            }
        }
        if messages.len() == p.max {
            break;
        }
    }
    let next_visible_at = conn
        .prepare_cached(
            "SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1 AND visible_at > ?2",
        )
        .map_err(sql_error)?
        .query_row(params![p.queue, p.now_ms], |r| r.get::<_, Option<i64>>(0))
        .map_err(sql_error)?;
    Ok(ReceiveOutcome {
        messages,
        dead_lettered,
        next_visible_at,
    })
}

type Candidate = (i64, String, String, i64);

fn visible_messages(
    conn: &Connection,
    queue: &str,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<Candidate>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, id, body, receive_count FROM queue_messages
             WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![queue, now_ms, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(sql_error)?;
    rows.collect::<Result<_, _>>().map_err(sql_error)
}

/// The message keeps its id and body and starts over in the dead-letter queue,
/// visible at once, with no receipt and no receives there yet.
fn move_to_dead_letters(
    conn: &Connection,
    seq: i64,
    dead_letter_queue: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE queue_messages SET queue = ?1, receive_count = 0, receipt = NULL, visible_at = ?2
         WHERE seq = ?3",
    )
    .map_err(sql_error)?
    .execute(params![dead_letter_queue, now_ms, seq])
    .map_err(sql_error)?;
    Ok(())
}

/// Deletes the message this receipt was issued for, if the receipt is still its
/// latest. Returns whether a message was deleted.
pub(crate) fn delete_by_receipt(
    conn: &Connection,
    queue: &str,
    receipt: &str,
) -> Result<bool, StoreError> {
    let seq = parse_receipt(receipt)?;
    let deleted = conn
        .prepare_cached("DELETE FROM queue_messages WHERE seq = ?1 AND queue = ?2 AND receipt = ?3")
        .map_err(sql_error)?
        .execute(params![seq, queue, receipt])
        .map_err(sql_error)?;
    Ok(deleted > 0)
}

fn parse_receipt(receipt: &str) -> Result<i64, StoreError> {
    receipt
        .split_once('.')
        .filter(|(_, token)| token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|(seq, _)| seq.parse::<i64>().ok())
        .ok_or_else(|| StoreError::Invalid("malformed receipt".into()))
}

/// Messages currently in `queue` (visible or not); used by tests and health checks.
pub(crate) fn count_messages(conn: &Connection, queue: &str) -> Result<u64, StoreError> {
    conn.prepare_cached("SELECT COUNT(*) FROM queue_messages WHERE queue = ?1")
        .map_err(sql_error)?
        .query_row(params![queue], |r| r.get::<_, i64>(0))
        .optional()
        .map_err(sql_error)
        .map(|n| n.unwrap_or(0).max(0) as u64)
}
