//! Opening the one SQLite file: pragmas for durability and concurrency, and the schema.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// How long a connection waits on another's lock before failing (another process
/// on the same file, or a checkpoint).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection; every query shape and hot statement fits.
const STATEMENT_CACHE: usize = 128;

/// Keys are BLOBs so that comparisons are plain byte order and a prefix range can
/// use an upper bound that is not valid UTF-8. `attrs` holds the whole item
/// (see item_codec); `ttl`, `gsi1pk`, `gsi1sk` are copies for indexing.
/// Queue times are epoch milliseconds of the system clock.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    attrs BLOB NOT NULL,
    ttl INTEGER,
    gsi1pk BLOB,
    gsi1sk BLOB,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk)
    WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;

CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at, seq);
";

/// The writer connection: creates the file and schema, switches to WAL.
pub(crate) fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    // WAL lets readers run beside the writer; FULL syncs the WAL on every commit,
    // so a write is durable when the call that made it returns.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// A read-only connection for gets and queries; opened after the writer made the schema.
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}
