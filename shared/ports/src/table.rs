//! The table port: a key-value item store with a partition key and a sort key,
//! conditional writes, range queries with pagination, small transactions, one
//! secondary index and TTL. It is shaped after DynamoDB's single-table design so
//! that the DynamoDB adapter is a direct translation; the embedded adapter
//! implements the same semantics on SQLite.
//!
//! Reserved attribute names: `pk`, `sk` (the key, never in `attrs`), `gsi1pk` and
//! `gsi1sk` (the secondary index `Index::Gsi1`; an item is in the index only when it
//! has both, as strings) and `ttl` (expiry, whole seconds since the epoch as `N`).
//!
//! TTL semantics, identical on every adapter: an item whose `ttl` is at or before the
//! adapter clock's now is treated as absent by every read (get, query, conditions).
//! `Condition::NotExists` holds for it and a put over it replaces it entirely.

use async_trait::async_trait;
use std::collections::BTreeMap;

use crate::StoreError;

/// Most operations a transaction may hold (DynamoDB allows 100; we stay small).
pub const MAX_TRANSACTION_OPS: usize = 25;
/// Largest page a query may ask for.
pub const MAX_QUERY_LIMIT: u32 = 1000;
/// Attribute names the port reserves (see module docs).
pub const RESERVED_ATTRS: [&str; 5] = ["pk", "sk", "gsi1pk", "gsi1sk", "ttl"];
pub const TTL_ATTR: &str = "ttl";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";

/// An attribute value. Numbers are integers (`N`) or floats (`F`); an adapter that
/// stores numbers as decimals returns `N` for whole numbers, so readers of floats
/// should accept both (see [`Value::as_f64`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    S(String),
    N(i64),
    F(f64),
    B(Vec<u8>),
    Bool(bool),
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
    Null,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::N(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F(f) => Some(*f),
            Value::N(n) => Some(*n as f64),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::B(b) => Some(b),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::N(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// The primary key of an item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

pub type Attrs = BTreeMap<String, Value>;

/// An item: its key and its other attributes (which never contain `pk` or `sk`).
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub key: Key,
    pub attrs: Attrs,
}

impl Item {
    pub fn new(key: Key) -> Self {
        Self {
            key,
            attrs: Attrs::new(),
        }
    }

    /// Builder-style attribute setter.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.to_owned(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }
    pub fn i64(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }
}

/// A condition on the item a write targets. Comparisons against a missing attribute
/// are false, as in DynamoDB. Every condition except `NotExists` also requires the
/// item to exist (and not be expired).
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The item exists.
    Exists,
    /// The item does not exist (or has expired).
    NotExists,
    AttrExists(String),
    AttrNotExists(String),
    Eq(String, Value),
    Ne(String, Value),
    Lt(String, Value),
    Le(String, Value),
    Gt(String, Value),
    Ge(String, Value),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    pub fn eq(attr: &str, v: impl Into<Value>) -> Self {
        Self::Eq(attr.to_owned(), v.into())
    }
    pub fn lt(attr: &str, v: impl Into<Value>) -> Self {
        Self::Lt(attr.to_owned(), v.into())
    }
    pub fn and(self, other: Condition) -> Self {
        match self {
            Condition::And(mut v) => {
                v.push(other);
                Condition::And(v)
            }
            c => Condition::And(vec![c, other]),
        }
    }
}

/// Changes to an item's attributes. An update of a missing item creates it (with
/// the key and the set/added attributes), as DynamoDB's UpdateItem does; use
/// `Condition::Exists` to forbid that.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    pub remove: Vec<String>,
    /// Atomic increments of numeric attributes (a missing attribute counts as 0).
    pub add: Vec<(String, i64)>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set.push((name.to_owned(), v.into()));
        self
    }
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_owned());
        self
    }
    pub fn add(mut self, name: &str, by: i64) -> Self {
        self.add.push((name.to_owned(), by));
        self
    }
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty() && self.add.is_empty()
    }
}

/// What an update returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnItem {
    None,
    /// The whole item as it is after the update.
    AllNew,
    /// The whole item as it was before (None if it did not exist).
    AllOld,
}

/// Which index a query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    /// The table's own key.
    Primary,
    /// The secondary index on (`gsi1pk`, `gsi1sk`).
    Gsi1,
}

/// A condition on the sort key of a query (string comparison, byte order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    All,
    BeginsWith(String),
    /// Inclusive on both ends.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

/// An opaque position in a query's results; only the adapter that made it reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(pub String);

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: SortKey,
    /// Most items the page may hold (1..=MAX_QUERY_LIMIT). A page may hold fewer
    /// (even none, because of TTL filtering) and still have a `next` cursor.
    pub limit: u32,
    /// Ascending sort-key order when true.
    pub forward: bool,
    pub cursor: Option<Cursor>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Primary,
            pk: pk.into(),
            sk: SortKey::All,
            limit: 100,
            forward: true,
            cursor: None,
        }
    }
    pub fn on(mut self, index: Index) -> Self {
        self.index = index;
        self
    }
    pub fn sk(mut self, sk: SortKey) -> Self {
        self.sk = sk;
        self
    }
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Where the next page starts; None when there is nothing more.
    pub next: Option<Cursor>,
}

/// One operation of a transaction. All hold or none is written.
#[derive(Clone, Debug, PartialEq)]
pub enum TransactOp {
    Put(Item, Option<Condition>),
    Update(Key, Update, Option<Condition>),
    Delete(Key, Option<Condition>),
    /// A condition on an item that the transaction does not write.
    Check(Key, Condition),
}

/// The item store. Every method is one request to the backing store: the
/// check-in write budget is counted in calls to this trait.
#[async_trait]
pub trait Table: Send + Sync + 'static {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError>;
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
        ret: ReturnItem,
    ) -> Result<Option<Item>, StoreError>;
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError>;
    async fn query(&self, query: Query) -> Result<Page, StoreError>;
    /// Fails whole with `TransactionCanceled` when any condition does not hold.
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError>;
}

/// Checks shared by every adapter before it touches the store.
pub fn validate_item(item: &Item) -> Result<(), StoreError> {
    validate_key(&item.key)?;
    for name in item.attrs.keys() {
        if name == "pk" || name == "sk" {
            return Err(StoreError::Invalid(format!("attribute {name} is the key")));
        }
    }
    Ok(())
}

pub fn validate_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid("empty key".into()));
    }
    if key.pk.len() > 1024 || key.sk.len() > 1024 {
        return Err(StoreError::Invalid("key longer than 1024 bytes".into()));
    }
    Ok(())
}

pub fn validate_query(q: &Query) -> Result<(), StoreError> {
    if q.limit == 0 || q.limit > MAX_QUERY_LIMIT {
        return Err(StoreError::Invalid(format!(
            "query limit must be 1..={MAX_QUERY_LIMIT}"
        )));
    }
    if q.pk.is_empty() {
        return Err(StoreError::Invalid("empty partition key".into()));
    }
    Ok(())
}

pub fn validate_transaction(ops: &[TransactOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1..={MAX_TRANSACTION_OPS} operations"
        )));
    }
    Ok(())
}
