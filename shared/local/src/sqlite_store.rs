//! `SqliteStore`: the embedded table (and the home of the durable queues), one
//! SQLite file. Writes go through the group-commit writer thread; gets and
//! queries through a small pool of read-only connections.

use async_trait::async_trait;
use rampart_ports::table::{
    self, Condition, Item, Key, Page, Query, ReturnItem, Table, TransactOp, Update,
};
use rampart_ports::{Clock, StoreError};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

use crate::item_query::run_query;
use crate::item_rows::{delete_expired, load_live};
use crate::sqlite_connection::open_writer;
use crate::sqlite_readers::Readers;
use crate::sqlite_writer::Writer;
use crate::table_writes;
use crate::update_apply::validate_update;

/// Read connections beyond this add nothing on the small hosts this runs on.
const MAX_READERS: usize = 4;

/// The embedded store. Cheap to clone; every clone shares the same file, writer
/// thread and readers, which stop when the last clone (and queue) is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) inner: Arc<StoreInner>,
}

pub(crate) struct StoreInner {
    pub(crate) writer: Writer,
    pub(crate) readers: Readers,
    clock: Arc<dyn Clock>,
    /// One wake-up signal per queue name, shared by every handle on that queue so
    /// a send wakes receivers long-polling in this process.
    queue_signals: Mutex<HashMap<String, Arc<Notify>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`. `clock` decides
    /// item expiry (TTL); queues use the system clock (see `sqlite_queue`).
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let writer_conn = open_writer(path)?;
        let writer = Writer::start(writer_conn)?;
        let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
        let readers = Readers::start(path, parallelism.clamp(2, MAX_READERS))?;
        Ok(Self {
            inner: Arc::new(StoreInner {
                writer,
                readers,
                clock,
                queue_signals: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn now_secs(&self) -> i64 {
        self.inner.clock.now().secs()
    }

    /// Removes up to `max` expired items for good, as DynamoDB's TTL sweeper does
    /// eventually; for the self-hosted maintenance timer. Reads never depend on it.
    pub async fn purge_expired(&self, max: u32) -> Result<u64, StoreError> {
        let clock = Arc::clone(&self.inner.clock);
        self.inner
            .writer
            .write(move |conn| delete_expired(conn, clock.now().secs(), max))
            .await
    }

    pub(crate) fn queue_signal(&self, name: &str) -> Arc<Notify> {
        let mut signals = self
            .inner
            .queue_signals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(signals.entry(name.to_owned()).or_default())
    }
}

fn validate_update_call(key: &Key, update: &Update) -> Result<(), StoreError> {
    table::validate_key(key)?;
    validate_update(update)
}

#[async_trait]
impl Table for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        table::validate_key(key)?;
        let now = self.now_secs();
        let key = key.clone();
        self.inner
            .readers
            .read(move |conn| Ok(load_live(conn, &key, now)?.map(|attrs| Item { key, attrs })))
            .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        table::validate_item(&item)?;
        let clock = Arc::clone(&self.inner.clock);
        self.inner
            .writer
            .write(move |conn| {
                table_writes::put(conn, &item, condition.as_ref(), clock.now().secs())
            })
            .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
        ret: ReturnItem,
    ) -> Result<Option<Item>, StoreError> {
        validate_update_call(key, &update)?;
        let clock = Arc::clone(&self.inner.clock);
        let key = key.clone();
        self.inner
            .writer
            .write(move |conn| {
                let now = clock.now().secs();
                table_writes::update(conn, &key, &update, condition.as_ref(), ret, now)
            })
            .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        table::validate_key(key)?;
        let clock = Arc::clone(&self.inner.clock);
        let key = key.clone();
        self.inner
            .writer
            .write(move |conn| {
                table_writes::delete(conn, &key, condition.as_ref(), clock.now().secs())
            })
            .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        table::validate_query(&query)?;
        let now = self.now_secs();
        self.inner
            .readers
            .read(move |conn| run_query(conn, &query, now))
            .await
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        table::validate_transaction(&ops)?;
        let mut keys = HashSet::new();
        for op in &ops {
            let key = match op {
                TransactOp::Put(item, _) => {
                    table::validate_item(item)?;
                    &item.key
                }
                TransactOp::Update(key, update, _) => {
                    validate_update_call(key, update)?;
                    key
                }
                TransactOp::Delete(key, _) | TransactOp::Check(key, _) => {
                    table::validate_key(key)?;
                    key
                }
            };
            // DynamoDB refuses two operations on one item in a transaction.
            if !keys.insert(key.clone()) {
                return Err(StoreError::Invalid(
                    "a transaction names the same item twice".into(),
                ));
            }
        }
        let clock = Arc::clone(&self.inner.clock);
        self.inner
            .writer
            .write(move |conn| table_writes::transact(conn, &ops, clock.now().secs()))
            .await
    }
}
