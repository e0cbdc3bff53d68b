//! The table port on DynamoDB: one table (`pk` S, `sk` S), one global secondary
//! index `gsi1` on (`gsi1pk`, `gsi1sk`) projecting all attributes, TTL on `ttl`.
//!
//! TTL: DynamoDB deletes expired items late, so reads drop them in code and
//! conditions treat them as absent (see [`crate::dynamo_expr`]). An update (or a
//! transaction's update) must not start from an expired item's attributes: each
//! update is guarded with "not expired"; when that guard is what failed, the
//! expired item is deleted (conditioned on its exact `ttl`) and the write retried.
//!
//! Reads of the table's own key are strongly consistent (a check-in reads what the
//! previous request wrote); index queries are eventually consistent, as DynamoDB
//! allows no other.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem,
    Update as DynamoUpdate,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_ports::table::{
    GSI1_PK, GSI1_SK, TTL_ATTR, validate_item, validate_key, validate_query, validate_transaction,
};
use rampart_ports::{
    Clock, Condition, Cursor, Index, Item, Key, Page, Query, ReturnItem, StoreError, Table,
    TransactOp, Update,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;

use crate::aws_error::{code_of, invalid, unavailable};
use crate::dynamo_expr::{Expr, check_ttl_value, holds_when_absent, validate_update};
use crate::dynamo_value::{item_to_map, key_to_map, map_to_item};

/// The name of the secondary index in the table (template.yaml).
pub const GSI1_INDEX_NAME: &str = "gsi1";

/// How often a write is retried after deleting an expired item in its way.
const EXPIRED_RETRIES: usize = 3;

type AttrMap = HashMap<String, AttributeValue>;

pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoTable {
    pub fn new(client: Client, table_name: String, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table_name,
            clock,
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn now_secs(&self) -> i64 {
        self.clock.now().secs()
    }

    /// The stored item at `key`, expired or not.
    async fn get_raw(&self, key: &Key) -> Result<Option<AttrMap>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_to_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| map_err("GetItem", e))?;
        Ok(out.item)
    }

    /// Deletes the item at `key` if it is expired (still holding the `ttl` seen).
    /// Returns whether an expired item was found.
    async fn purge_expired(&self, key: &Key, now: i64) -> Result<bool, StoreError> {
        let Some(raw) = self.get_raw(key).await? else {
            return Ok(false);
        };
        if is_live(&raw, now) {
            return Ok(false);
        }
        let Some(ttl) = raw.get(TTL_ATTR).cloned() else {
            return Ok(false);
        };
        let mut e = Expr::new();
        let cond = format!("{} = {}", e.name(TTL_ATTR), e.attr(ttl));
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_to_map(key)))
            .condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match res {
            // Changed meanwhile: the retry will see the new item.
            Ok(_) => Ok(true),
            Err(err) if code_of(&err) == Some("ConditionalCheckFailedException") => Ok(true),
            Err(err) => Err(map_err("DeleteItem", err)),
        }
    }

    fn live_item(&self, map: AttrMap, now: i64) -> Result<Option<Item>, StoreError> {
        if is_live(&map, now) {
            map_to_item(map).map(Some)
        } else {
            Ok(None)
        }
    }

    fn transact_item(&self, op: &TransactOp, now: i64) -> Result<TransactWriteItem, StoreError> {
        let built = |e: aws_sdk_dynamodb::error::BuildError| {
            StoreError::Invalid(format!("transaction operation: {e}"))
        };
        let mut e = Expr::new();
        Ok(match op {
            TransactOp::Put(item, cond) => {
                let expr = cond.as_ref().map(|c| e.condition(c, now)).transpose()?;
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item_to_map(item.clone())?))
                            .set_condition_expression(expr)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(built)?,
                    )
                    .build()
            }
            TransactOp::Update(key, update, cond) => {
                let (update_expr, cond_expr) = update_expressions(&mut e, update, cond, now)?;
                TransactWriteItem::builder()
                    .update(
                        DynamoUpdate::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_to_map(key)))
                            .update_expression(update_expr)
                            .condition_expression(cond_expr)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(built)?,
                    )
                    .build()
            }
            TransactOp::Delete(key, cond) => {
                let expr = cond.as_ref().map(|c| e.condition(c, now)).transpose()?;
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_to_map(key)))
                            .set_condition_expression(expr)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(built)?,
                    )
                    .build()
            }
            TransactOp::Check(key, cond) => {
                let expr = e.condition(cond, now)?;
                TransactWriteItem::builder()
                    .condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_to_map(key)))
                            .condition_expression(expr)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(built)?,
                    )
                    .build()
            }
        })
    }
}

/// The update expression and its condition: the caller's condition (if any) and
/// "the item is absent or not expired", so an update never builds on an expired item.
/// An empty update expression is sent as none: UpdateItem then changes nothing
/// but still creates a missing item, as the port says.
pub(crate) fn update_expressions(
    e: &mut Expr,
    update: &Update,
    cond: &Option<Condition>,
    now: i64,
) -> Result<(String, String), StoreError> {
    let update_expr = e.update(update)?;
    let pk = e.name("pk");
    let ttl = e.name(TTL_ATTR);
    let now_v = e.attr(AttributeValue::N(now.to_string()));
    let not_expired =
        format!("(attribute_not_exists({pk}) OR attribute_not_exists({ttl}) OR {ttl} > {now_v})");
    let cond_expr = match cond {
        Some(c) => format!("{} AND {not_expired}", e.condition(c, now)?),
        None => not_expired,
    };
    Ok((update_expr, cond_expr))
}

/// Whether a stored item is live at `now` (whole seconds): no `ttl`, or one after now.
fn is_live(map: &AttrMap, now: i64) -> bool {
    match map.get(TTL_ATTR) {
        Some(AttributeValue::N(n)) => match n.parse::<i64>() {
            Ok(ttl) => ttl > now,
            Err(_) => n.parse::<f64>().map(|t| t > now as f64).unwrap_or(true),
        },
        _ => true,
    }
}

fn map_err<E, R>(operation: &'static str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match code_of(&e) {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("TransactionCanceledException") => StoreError::TransactionCanceled,
        Some("ValidationException") => invalid("DynamoDB", operation, &e),
        _ => unavailable("DynamoDB", operation, e),
    }
}

fn return_value(ret: ReturnItem) -> ReturnValue {
    match ret {
        ReturnItem::None => ReturnValue::None,
        ReturnItem::AllNew => ReturnValue::AllNew,
        ReturnItem::AllOld => ReturnValue::AllOld,
    }
}

fn check_item(item: &Item) -> Result<(), StoreError> {
    validate_item(item)?;
    if let Some(v) = item.attrs.get(TTL_ATTR) {
        check_ttl_value(TTL_ATTR, v)?;
    }
    Ok(())
}

/// The key attributes a cursor of `index` holds.
fn cursor_names(index: Index) -> &'static [&'static str] {
    match index {
        Index::Primary => &["pk", "sk"],
        Index::Gsi1 => &["pk", "sk", GSI1_PK, GSI1_SK],
    }
}

/// A cursor is base64url(JSON object of the LastEvaluatedKey's string attributes).
fn encode_cursor(key: &AttrMap) -> Result<Cursor, StoreError> {
    let mut strings = BTreeMap::new();
    for (name, v) in key {
        match v {
            AttributeValue::S(s) => {
                strings.insert(name.as_str(), s.as_str());
            }
            _ => {
                return Err(StoreError::Corrupt(
                    "non-string key in a query position".into(),
                ));
            }
        }
    }
    let json = serde_json::to_vec(&strings)
        .map_err(|_| StoreError::Corrupt("query position does not encode".into()))?;
    Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
}

fn decode_cursor(cursor: &Cursor, q: &Query) -> Result<AttrMap, StoreError> {
    let bad = || StoreError::Invalid("malformed cursor".into());
    let json = URL_SAFE_NO_PAD.decode(&cursor.0).map_err(|_| bad())?;
    let strings: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| bad())?;
    let names = cursor_names(q.index);
    if strings.len() != names.len() || !names.iter().all(|n| strings.contains_key(*n)) {
        return Err(bad());
    }
    let partition = match q.index {
        Index::Primary => "pk",
        Index::Gsi1 => GSI1_PK,
    };
    if strings[partition] != q.pk {
        return Err(StoreError::Invalid(
            "cursor belongs to another query".into(),
        ));
    }
    Ok(strings
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let now = self.now_secs();
        match self.get_raw(key).await? {
            Some(map) => self.live_item(map, now),
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        check_item(&item)?;
        let now = self.now_secs();
        let mut e = Expr::new();
        let cond = condition
            .as_ref()
            .map(|c| e.condition(c, now))
            .transpose()?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_map(item)?))
            .set_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(|e| map_err("PutItem", e))?;
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
        ret: ReturnItem,
    ) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        validate_update(&update)?;
        for attempt in 0..=EXPIRED_RETRIES {
            let now = self.now_secs();
            let mut e = Expr::new();
            let (update_expr, cond_expr) = update_expressions(&mut e, &update, &condition, now)?;
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_to_map(key)))
                .set_update_expression((!update_expr.is_empty()).then_some(update_expr))
                .condition_expression(cond_expr)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .return_values(return_value(ret))
                .send()
                .await;
            match res {
                Ok(out) => {
                    return match (ret, out.attributes) {
                        (ReturnItem::None, _) | (_, None) => Ok(None),
                        (_, Some(map)) if map.is_empty() => Ok(None),
                        (_, Some(map)) => self.live_item(map, now),
                    };
                }
                Err(err) if code_of(&err) == Some("ConditionalCheckFailedException") => {
                    let absent_ok = condition.as_ref().is_none_or(holds_when_absent);
                    if absent_ok
                        && attempt < EXPIRED_RETRIES
                        && self.purge_expired(key, now).await?
                    {
                        continue;
                    }
                    return Err(StoreError::ConditionFailed);
                }
                Err(err) => return Err(map_err("UpdateItem", err)),
            }
        }
        Err(StoreError::ConditionFailed)
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        validate_key(key)?;
        let now = self.now_secs();
        let mut e = Expr::new();
        let cond = condition
            .as_ref()
            .map(|c| e.condition(c, now))
            .transpose()?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_to_map(key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(|e| map_err("DeleteItem", e))?;
        Ok(())
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        validate_query(&q)?;
        let start = q
            .cursor
            .as_ref()
            .map(|c| decode_cursor(c, &q))
            .transpose()?;
        let now = self.now_secs();
        let mut e = Expr::new();
        let key_cond = e.key_condition(q.index, &q.pk, &q.sk);
        let limit =
            i32::try_from(q.limit).map_err(|_| StoreError::Invalid("query limit".into()))?;
        let req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(key_cond)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .limit(limit)
            .scan_index_forward(q.forward)
            .set_exclusive_start_key(start);
        let req = match q.index {
            Index::Primary => req.consistent_read(true),
            Index::Gsi1 => req.index_name(GSI1_INDEX_NAME),
        };
        let out = req.send().await.map_err(|e| map_err("Query", e))?;
        let mut items = Vec::new();
        for map in out.items.unwrap_or_default() {
            if let Some(item) = self.live_item(map, now)? {
                items.push(item);
            }
        }
        let next = match out.last_evaluated_key {
            Some(k) if !k.is_empty() => Some(encode_cursor(&k)?),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let mut keys = HashSet::new();
        for op in &ops {
            let key = match op {
                TransactOp::Put(item, _) => {
                    check_item(item)?;
                    &item.key
                }
                TransactOp::Update(key, update, _) => {
                    validate_key(key)?;
                    validate_update(update)?;
                    if update.is_empty() {
                        return Err(StoreError::Invalid(
                            "an update in a transaction must change something".into(),
                        ));
                    }
                    key
                }
                TransactOp::Delete(key, _) | TransactOp::Check(key, _) => {
                    validate_key(key)?;
                    key
                }
            };
            if !keys.insert(key.clone()) {
                return Err(StoreError::Invalid(
                    "a transaction touches each item at most once".into(),
                ));
            }
        }
        for attempt in 0..=EXPIRED_RETRIES {
            let now = self.now_secs();
            let items = ops
                .iter()
                .map(|op| self.transact_item(op, now))
                .collect::<Result<Vec<_>, _>>()?;
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match res {
                Ok(_) => return Ok(()),
                Err(err) if code_of(&err) == Some("TransactionCanceledException") => {
                    if attempt == EXPIRED_RETRIES {
                        break;
                    }
                    // An update's "not expired" guard may be what failed.
                    let mut purged = false;
                    for op in &ops {
                        if let TransactOp::Update(key, _, cond) = op
                            && cond.as_ref().is_none_or(holds_when_absent)
                        {
                            purged |= self.purge_expired(key, now).await?;
                        }
                    }
                    if !purged {
                        break;
                    }
                }
                Err(err) => return Err(map_err("TransactWriteItems", err)),
            }
        }
        Err(StoreError::TransactionCanceled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_foreign_input() {
        let q = Query::partition("p");
        let key = key_to_map(&Key::new("p", "s1"));
        let c = encode_cursor(&key).unwrap();
        assert_eq!(decode_cursor(&c, &q).unwrap(), key);
        assert!(decode_cursor(&Cursor("!!".into()), &q).is_err());
        assert!(decode_cursor(&c, &Query::partition("other")).is_err());
        assert!(decode_cursor(&c, &Query::partition("p").on(Index::Gsi1)).is_err());
    }

    #[test]
    fn ttl_at_or_before_now_is_expired() {
        let with_ttl =
            |t: &str| HashMap::from([(TTL_ATTR.to_owned(), AttributeValue::N(t.into()))]);
        assert!(is_live(&with_ttl("101"), 100));
        assert!(!is_live(&with_ttl("100"), 100));
        assert!(!is_live(&with_ttl("99"), 100));
        assert!(is_live(&HashMap::new(), 100));
    }
}
