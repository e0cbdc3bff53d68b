//! Queries on the primary key or GSI1 as one SQL statement: key range, TTL filter
//! and cursor all in the WHERE clause, so every page is full when enough items
//! remain, and one row past the limit tells whether there is a next page.

use rampart_ports::StoreError;
use rampart_ports::table::{Index, Item, Key, Page, Query, SortKey};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use crate::item_codec::decode_attrs;
use crate::item_rows::sql_error;
use crate::query_cursor::{Position, decode_cursor, encode_cursor};

pub(crate) fn run_query(conn: &Connection, q: &Query, now_secs: i64) -> Result<Page, StoreError> {
    let position = q
        .cursor
        .as_ref()
        .map(|c| decode_cursor(c, q.index, &q.pk))
        .transpose()?;
    let (key_col, sort_col, select) = match q.index {
        Index::Primary => ("pk", "sk", "SELECT pk, sk, attrs, NULL FROM items"),
        Index::Gsi1 => (
            "gsi1pk",
            "gsi1sk",
            "SELECT pk, sk, attrs, gsi1sk FROM items",
        ),
    };
    let mut sql = format!("{select} WHERE {key_col} = ?");
    let mut args = vec![blob(&q.pk)];
    sort_key_bounds(&q.sk, sort_col, &mut sql, &mut args)?;
    let (after, dir) = if q.forward {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    match position {
        Some(Position::Primary { sk }) => {
            sql.push_str(&format!(" AND sk {after} ?"));
            args.push(blob(&sk));
        }
        Some(Position::Gsi1 { gsi1sk, pk, sk }) => {
            sql.push_str(&format!(" AND (gsi1sk, pk, sk) {after} (?, ?, ?)"));
            args.extend([blob(&gsi1sk), blob(&pk), blob(&sk)]);
        }
        None => {}
    }
    sql.push_str(" AND (ttl IS NULL OR ttl > ?)");
    args.push(SqlValue::Integer(now_secs));
    let order = match q.index {
        Index::Primary => format!(" ORDER BY sk {dir}"),
        // Items sharing a gsi1sk come in primary-key order, so the cursor is exact.
        Index::Gsi1 => format!(" ORDER BY gsi1sk {dir}, pk {dir}, sk {dir}"),
    };
    sql.push_str(&order);
    sql.push_str(" LIMIT ?");
    let limit = q.limit as usize;
    args.push(SqlValue::Integer(i64::from(q.limit) + 1));

    let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(args))
        .map_err(sql_error)?;
    let mut items = Vec::with_capacity(limit.min(64));
    let mut last_gsi1sk = None;
    let mut more = false;
    while let Some(row) = rows.next().map_err(sql_error)? {
        if items.len() == limit {
            more = true;
            break;
        }
        let pk = text(row.get::<_, Vec<u8>>(0).map_err(sql_error)?)?;
        let sk = text(row.get::<_, Vec<u8>>(1).map_err(sql_error)?)?;
        let attrs = decode_attrs(&row.get::<_, Vec<u8>>(2).map_err(sql_error)?)?;
        last_gsi1sk = row
            .get::<_, Option<Vec<u8>>>(3)
            .map_err(sql_error)?
            .map(text)
            .transpose()?;
        items.push(Item {
            key: Key { pk, sk },
            attrs,
        });
    }
    let next = match (more, items.last()) {
        (true, Some(last)) => {
            let position = match q.index {
                Index::Primary => Position::Primary {
                    sk: last.key.sk.clone(),
                },
                Index::Gsi1 => Position::Gsi1 {
                    gsi1sk: last_gsi1sk.unwrap_or_default(),
                    pk: last.key.pk.clone(),
                    sk: last.key.sk.clone(),
                },
            };
            Some(encode_cursor(&q.pk, &position))
        }
        _ => None,
    };
    Ok(Page { items, next })
}

fn sort_key_bounds(
    sk: &SortKey,
    col: &str,
    sql: &mut String,
    args: &mut Vec<SqlValue>,
) -> Result<(), StoreError> {
    let mut bound = |op: &str, v: &[u8]| {
        sql.push_str(&format!(" AND {col} {op} ?"));
        args.push(SqlValue::Blob(v.to_vec()));
    };
    match sk {
        SortKey::All => {}
        SortKey::BeginsWith(prefix) => {
            bound(">=", prefix.as_bytes());
            if let Some(end) = prefix_end(prefix.as_bytes()) {
                bound("<", &end);
            }
        }
        SortKey::Between(lo, hi) => {
            // DynamoDB refuses an inverted range; so do we.
            if lo.as_bytes() > hi.as_bytes() {
                return Err(StoreError::Invalid("Between bounds are inverted".into()));
            }
            bound(">=", lo.as_bytes());
            bound("<=", hi.as_bytes());
        }
        SortKey::Lt(v) => bound("<", v.as_bytes()),
        SortKey::Le(v) => bound("<=", v.as_bytes()),
        SortKey::Gt(v) => bound(">", v.as_bytes()),
        SortKey::Ge(v) => bound(">=", v.as_bytes()),
    }
    Ok(())
}

/// The smallest byte string greater than every string starting with `prefix`
/// (None when no such bound exists, i.e. the prefix is empty or all 0xFF).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn blob(s: &str) -> SqlValue {
    SqlValue::Blob(s.as_bytes().to_vec())
}

fn text(bytes: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|_| StoreError::Corrupt("key is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_next_byte_string() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xFF]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xFF]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
