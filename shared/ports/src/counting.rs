//! A table wrapper that counts the requests passing through it, so tests and
//! benchmarks can state what an operation costs on a real adapter.

use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::StoreError;
use crate::table::{Condition, Item, Key, Page, Query, ReturnItem, Table, TransactOp, Update};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub gets: u64,
    pub queries: u64,
    pub puts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub transactions: u64,
}

impl RequestCounts {
    pub fn reads(&self) -> u64 {
        self.gets + self.queries
    }
    pub fn writes(&self) -> u64 {
        self.puts + self.updates + self.deletes + self.transactions
    }
    pub fn total(&self) -> u64 {
        self.reads() + self.writes()
    }
}

#[derive(Default)]
struct Counters {
    gets: AtomicU64,
    queries: AtomicU64,
    puts: AtomicU64,
    updates: AtomicU64,
    deletes: AtomicU64,
    transactions: AtomicU64,
}

/// Wraps a table and counts every request made through it.
pub struct CountingTable {
    inner: Arc<dyn Table>,
    counters: Counters,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self {
            inner,
            counters: Counters::default(),
        }
    }

    pub fn counts(&self) -> RequestCounts {
        let c = &self.counters;
        RequestCounts {
            gets: c.gets.load(Ordering::Relaxed),
            queries: c.queries.load(Ordering::Relaxed),
            puts: c.puts.load(Ordering::Relaxed),
            updates: c.updates.load(Ordering::Relaxed),
            deletes: c.deletes.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        bump(&self.counters.gets);
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        bump(&self.counters.puts);
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
        ret: ReturnItem,
    ) -> Result<Option<Item>, StoreError> {
        bump(&self.counters.updates);
        self.inner.update(key, update, condition, ret).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        bump(&self.counters.deletes);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        bump(&self.counters.queries);
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        bump(&self.counters.transactions);
        self.inner.transact(ops).await
    }
}
