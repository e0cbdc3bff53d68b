//! Reading and writing single item rows: the live-item lookup every condition and
//! get goes through, and the row write that keeps the index columns in step.

use rampart_ports::StoreError;
use rampart_ports::table::{Attrs, Key};
use rusqlite::{Connection, OptionalExtension, params};

use crate::index_columns::{index_columns, is_live};
use crate::item_codec::{decode_attrs, encode_attrs};
use crate::write_limits::check_written_attrs;

pub(crate) fn sql_error(e: rusqlite::Error) -> StoreError {
    StoreError::unavailable(e)
}

/// The item's attributes if it exists and has not expired at `now_secs`.
pub(crate) fn load_live(
    conn: &Connection,
    key: &Key,
    now_secs: i64,
) -> Result<Option<Attrs>, StoreError> {
    let row = conn
        .prepare_cached("SELECT attrs, ttl FROM items WHERE pk = ?1 AND sk = ?2")
        .map_err(sql_error)?
        .query_row(params![key.pk.as_bytes(), key.sk.as_bytes()], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .optional()
        .map_err(sql_error)?;
    match row {
        Some((attrs, ttl)) if is_live(ttl, now_secs) => Ok(Some(decode_attrs(&attrs)?)),
        _ => Ok(None),
    }
}

/// Writes the whole item, replacing whatever row (live or expired) had its key.
pub(crate) fn store_item(conn: &Connection, key: &Key, attrs: &Attrs) -> Result<(), StoreError> {
    let encoded = encode_attrs(attrs);
    check_written_attrs(attrs, encoded.len() + key.pk.len() + key.sk.len())?;
    let cols = index_columns(attrs);
    let (gsi1pk, gsi1sk) = match &cols.gsi1 {
        Some((p, s)) => (Some(p.as_bytes()), Some(s.as_bytes())),
        None => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO items (pk, sk, attrs, ttl, gsi1pk, gsi1sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pk, sk) DO UPDATE SET attrs = excluded.attrs, ttl = excluded.ttl,
             gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk",
    )
    .map_err(sql_error)?
    .execute(params![
        key.pk.as_bytes(),
        key.sk.as_bytes(),
        encoded,
        cols.ttl,
        gsi1pk,
        gsi1sk
    ])
    .map_err(sql_error)?;
    Ok(())
}

pub(crate) fn delete_row(conn: &Connection, key: &Key) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .map_err(sql_error)?
        .execute(params![key.pk.as_bytes(), key.sk.as_bytes()])
        .map_err(sql_error)?;
    Ok(())
}

/// Physically removes up to `max` rows expired at `now_secs` (reads already treat
/// them as absent; this only reclaims space). Returns how many were removed.
pub(crate) fn delete_expired(
    conn: &Connection,
    now_secs: i64,
    max: u32,
) -> Result<u64, StoreError> {
    let removed = conn
        .prepare_cached(
            "DELETE FROM items WHERE (pk, sk) IN
                 (SELECT pk, sk FROM items WHERE ttl <= ?1 LIMIT ?2)",
        )
        .map_err(sql_error)?
        .execute(params![now_secs, max])
        .map_err(sql_error)?;
    Ok(removed as u64)
}
