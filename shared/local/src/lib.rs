//! Embedded adapters for the self-hosted console: the table and durable queues in
//! one SQLite file (`SqliteStore`), objects as files (`FsObjects`) with presigned
//! URLs served by `objects_router`.

mod atomic_file;
mod condition_eval;
mod embedded;
mod fs_objects;
mod index_columns;
mod item_codec;
mod item_query;
mod item_rows;
mod objects_router;
mod outbox_mailer;
mod presign;
mod query_cursor;
mod queue_rows;
mod random_token;
mod signing_key;
mod sqlite_connection;
mod sqlite_queue;
mod sqlite_readers;
mod sqlite_store;
mod sqlite_writer;
mod table_writes;
mod update_apply;
mod write_limits;

pub use embedded::{Embedded, open_embedded};
pub use fs_objects::FsObjects;
pub use objects_router::objects_router;
pub use outbox_mailer::{OUTBOX_EXTENSION, OutboxMailer};
pub use signing_key::load_or_create_key;
pub use sqlite_queue::SqliteQueue;
pub use sqlite_store::SqliteStore;
