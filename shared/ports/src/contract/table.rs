//! Contract checks for the table port.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{TableEnv, unique};
use crate::table::{
    Condition, Index, Item, Key, MAX_TRANSACTION_OPS, Query, ReturnItem, SortKey, TransactOp,
    Update, Value,
};
use crate::{Clock, StoreError, Table};

fn item(pk: &str, sk: &str) -> Item {
    Item::new(Key::new(pk, sk))
}

pub async fn table_put_get_preserves_every_value_type(env: &TableEnv) {
    let pk = unique("types");
    let mut nested = BTreeMap::new();
    nested.insert("inner".to_owned(), Value::N(7));
    nested.insert("text".to_owned(), Value::S("ü → ✓".into()));
    let it = item(&pk, "A")
        .with("s", "hello")
        .with("n", -42i64)
        .with("big", i64::MAX)
        .with("f", Value::F(2.5))
        .with("b", Value::B(vec![0, 1, 2, 255]))
        .with("t", true)
        .with("l", Value::L(vec![Value::N(1), Value::S("two".into())]))
        .with("m", Value::M(nested))
        .with("null", Value::Null);
    env.table.put(it.clone(), None).await.unwrap();
    let got = env.table.get(&it.key).await.unwrap().expect("item stored");
    assert_eq!(got, it);
    assert_eq!(
        env.table.get(&Key::new(&pk, "missing")).await.unwrap(),
        None
    );
}

pub async fn table_conditional_put_refuses_existing_item(env: &TableEnv) {
    let pk = unique("cput");
    let first = item(&pk, "A").with("v", "first");
    env.table
        .put(first.clone(), Some(Condition::NotExists))
        .await
        .unwrap();
    let second = item(&pk, "A").with("v", "second");
    let err = env
        .table
        .put(second, Some(Condition::NotExists))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    assert_eq!(
        env.table.get(&first.key).await.unwrap(),
        Some(first.clone())
    );
    // Exists on a missing item fails too.
    let err = env
        .table
        .put(item(&pk, "B"), Some(Condition::Exists))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    assert_eq!(env.table.get(&Key::new(&pk, "B")).await.unwrap(), None);
}

pub async fn table_conditional_update_that_fails_writes_nothing(env: &TableEnv) {
    let pk = unique("cupd");
    let it = item(&pk, "A").with("version", 2i64).with("name", "kept");
    env.table.put(it.clone(), None).await.unwrap();
    for cond in [
        Condition::eq("version", 1i64),
        Condition::lt("version", 2i64),
        Condition::Gt("version".into(), Value::N(2)),
        Condition::AttrExists("nope".into()),
        Condition::AttrNotExists("name".into()),
        Condition::Ne("name".into(), Value::S("kept".into())),
        Condition::And(vec![Condition::Exists, Condition::eq("name", "other")]),
        Condition::Or(vec![
            Condition::eq("name", "x"),
            Condition::eq("version", 9i64),
        ]),
    ] {
        let err = env
            .table
            .update(
                &it.key,
                Update::new().set("name", "changed").add("version", 1),
                Some(cond.clone()),
                ReturnItem::AllNew,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::ConditionFailed),
            "{cond:?}: {err:?}"
        );
    }
    assert_eq!(env.table.get(&it.key).await.unwrap(), Some(it.clone()));
    // And the same conditions' positive forms succeed.
    env.table
        .update(
            &it.key,
            Update::new().set("name", "changed"),
            Some(Condition::And(vec![
                Condition::eq("version", 2i64),
                Condition::Le("version".into(), Value::N(2)),
                Condition::Ge("version".into(), Value::N(2)),
                Condition::AttrExists("name".into()),
                Condition::AttrNotExists("nope".into()),
                Condition::Or(vec![
                    Condition::eq("name", "x"),
                    Condition::eq("name", "kept"),
                ]),
            ])),
            ReturnItem::None,
        )
        .await
        .unwrap();
    let got = env.table.get(&it.key).await.unwrap().unwrap();
    assert_eq!(got.str("name"), Some("changed"));
}

pub async fn table_optimistic_versioning_lets_one_writer_win(env: &TableEnv) {
    // Rounds of racing writers: a store whose condition check and write are two
    // unlocked steps lets two win now and then, rarely in any single round.
    for _ in 0..32 {
        one_writer_wins_a_race(env).await;
    }
}

async fn one_writer_wins_a_race(env: &TableEnv) {
    let pk = unique("occ");
    let key = Key::new(&pk, "A");
    env.table
        .put(
            Item::new(key.clone()).with("version", 1i64),
            Some(Condition::NotExists),
        )
        .await
        .unwrap();
    // Sixteen writers all read version 1 and try to move it to 2.
    let mut tasks = Vec::new();
    for w in 0..16i64 {
        let table = env.table.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            table
                .update(
                    &key,
                    Update::new().set("writer", w).add("version", 1),
                    Some(Condition::eq("version", 1i64)),
                    ReturnItem::AllNew,
                )
                .await
        }));
    }
    let mut winners = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Some(new)) => {
                winners += 1;
                assert_eq!(new.i64("version"), Some(2));
            }
            Ok(None) => panic!("AllNew returns the item"),
            Err(StoreError::ConditionFailed) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners, 1, "exactly one writer wins");
    let got = env.table.get(&key).await.unwrap().unwrap();
    assert_eq!(got.i64("version"), Some(2));
}

pub async fn table_racing_transactions_let_one_win(env: &TableEnv) {
    for _ in 0..32 {
        one_transaction_wins_a_race(env).await;
    }
}

/// Racing transactions that each check one guard and write their own item: one
/// commits whole, every other writes nothing.
async fn one_transaction_wins_a_race(env: &TableEnv) {
    let pk = unique("txrace");
    let guard = Key::new(&pk, "guard");
    env.table
        .put(Item::new(guard.clone()).with("open", true), None)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..16i64 {
        let table = env.table.clone();
        let (pk, guard) = (pk.clone(), guard.clone());
        tasks.push(tokio::spawn(async move {
            table
                .transact(vec![
                    TransactOp::Update(
                        guard,
                        Update::new().set("open", false).set("winner", w),
                        Some(Condition::eq("open", true)),
                    ),
                    TransactOp::Put(item(&pk, &format!("w{w}")), Some(Condition::NotExists)),
                ])
                .await
        }));
    }
    let mut winners = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => winners += 1,
            Err(StoreError::TransactionCanceled) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners, 1, "exactly one transaction commits");
    let page = env
        .table
        .query(Query::partition(&pk).sk(SortKey::BeginsWith("w".into())))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "only the winner's item was written");
    let winner = env.table.get(&guard).await.unwrap().unwrap().i64("winner");
    assert_eq!(
        page.items[0].key.sk,
        format!("w{}", winner.expect("the winner is recorded"))
    );
}

/// A transaction that fails leaves the table as other writers made it meanwhile:
/// it undoes nothing but its own (never applied) writes. A store that rolls back
/// by restoring a copy of the table taken at the start loses those writes, the
/// more likely the larger the table; hence the filler.
pub async fn table_failed_transactions_keep_concurrent_writes(env: &TableEnv) {
    let pk = unique("txkeep");
    let guard = Key::new(&pk, "guard");
    env.table
        .put(Item::new(guard.clone()).with("open", false), None)
        .await
        .unwrap();
    put_concurrently(&env.table, &pk, "filler", 8, 50).await;

    const WRITERS: usize = 4;
    const WRITES: usize = 40;
    let writes = tokio::spawn({
        let (table, pk) = (env.table.clone(), pk.clone());
        async move { put_concurrently(&table, &pk, "w", WRITERS, WRITES).await }
    });
    let mut failers = Vec::new();
    for f in 0..2 {
        let (table, pk, guard) = (env.table.clone(), pk.clone(), guard.clone());
        failers.push(tokio::spawn(async move {
            for i in 0..30 {
                let err = table
                    .transact(vec![
                        TransactOp::Put(item(&pk, &format!("f#{f}-{i:03}")), None),
                        TransactOp::Check(guard.clone(), Condition::eq("open", true)),
                    ])
                    .await
                    .unwrap_err();
                assert!(matches!(err, StoreError::TransactionCanceled), "{err:?}");
            }
        }));
    }
    writes.await.unwrap();
    for f in failers {
        f.await.unwrap();
    }
    let (written, _) = collect(
        env,
        Query::partition(&pk).sk(SortKey::BeginsWith("w#".into())),
    )
    .await;
    assert_eq!(
        written.len(),
        WRITERS * WRITES,
        "every concurrent write stays"
    );
    let (failed, _) = collect(
        env,
        Query::partition(&pk).sk(SortKey::BeginsWith("f#".into())),
    )
    .await;
    assert!(failed.is_empty(), "no failed transaction wrote: {failed:?}");
}

/// `tasks` tasks each putting `each` items `<prefix>#<task>-<n>` one after another.
async fn put_concurrently(
    table: &Arc<dyn Table>,
    pk: &str,
    prefix: &str,
    tasks: usize,
    each: usize,
) {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (table, pk, prefix) = (table.clone(), pk.to_owned(), prefix.to_owned());
        handles.push(tokio::spawn(async move {
            for n in 0..each {
                table
                    .put(item(&pk, &format!("{prefix}#{t}-{n:03}")), None)
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
}

pub async fn table_update_semantics(env: &TableEnv) {
    let pk = unique("upd");
    let key = Key::new(&pk, "A");
    // An update of a missing item creates it, unless conditioned on existence.
    let err = env
        .table
        .update(
            &key,
            Update::new().set("a", "x"),
            Some(Condition::Exists),
            ReturnItem::None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    assert_eq!(env.table.get(&key).await.unwrap(), None);
    let old = env
        .table
        .update(
            &key,
            Update::new().set("a", "x").add("n", 5),
            None,
            ReturnItem::AllOld,
        )
        .await
        .unwrap();
    assert_eq!(old, None, "AllOld of a created item is None");
    let new = env
        .table
        .update(
            &key,
            Update::new().add("n", -2).remove("a").set("b", true),
            None,
            ReturnItem::AllNew,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new, Item::new(key.clone()).with("n", 3i64).with("b", true));
    let old = env
        .table
        .update(
            &key,
            Update::new().set("n", 10i64),
            None,
            ReturnItem::AllOld,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.i64("n"), Some(3));
    let none = env
        .table
        .update(&key, Update::new().set("c", "y"), None, ReturnItem::None)
        .await
        .unwrap();
    assert_eq!(none, None);
    assert_eq!(
        env.table.get(&key).await.unwrap().unwrap().i64("n"),
        Some(10)
    );
}

pub async fn table_conditional_delete(env: &TableEnv) {
    let pk = unique("del");
    let key = Key::new(&pk, "A");
    env.table
        .put(Item::new(key.clone()).with("state", "queued"), None)
        .await
        .unwrap();
    let err = env
        .table
        .delete(&key, Some(Condition::eq("state", "sent")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    assert!(env.table.get(&key).await.unwrap().is_some());
    env.table
        .delete(&key, Some(Condition::eq("state", "queued")))
        .await
        .unwrap();
    assert_eq!(env.table.get(&key).await.unwrap(), None);
    // Deleting a missing item without a condition is fine; with Exists it is not.
    env.table.delete(&key, None).await.unwrap();
    let err = env
        .table
        .delete(&key, Some(Condition::Exists))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
}

async fn collect(env: &TableEnv, q: Query) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut pages = 0;
    let mut cursor = None;
    let limit = q.limit as usize;
    loop {
        let page = env
            .table
            .query(q.clone().after(cursor.take()))
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= limit, "page larger than its limit");
        out.extend(page.items.into_iter().map(|i| i.key.sk));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 1000, "pagination does not end");
    }
    (out, pages)
}

pub async fn table_query_prefix_and_range_paginates(env: &TableEnv) {
    let pk = unique("q");
    let other = unique("q-other");
    for i in 0..25 {
        env.table
            .put(item(&pk, &format!("item#{i:02}")).with("i", i as i64), None)
            .await
            .unwrap();
    }
    for s in ["alpha", "other#1", "zulu"] {
        env.table.put(item(&pk, s), None).await.unwrap();
    }
    env.table.put(item(&other, "item#00"), None).await.unwrap();

    let expected: Vec<String> = (0..25).map(|i| format!("item#{i:02}")).collect();
    let (got, pages) = collect(
        env,
        Query::partition(&pk)
            .sk(SortKey::BeginsWith("item#".into()))
            .limit(7),
    )
    .await;
    assert_eq!(got, expected);
    assert!(
        pages >= 4,
        "25 items at 7 a page take at least 4 pages, got {pages}"
    );

    let (got, _) = collect(
        env,
        Query::partition(&pk)
            .sk(SortKey::BeginsWith("item#".into()))
            .limit(10)
            .backward(),
    )
    .await;
    let mut rev = expected.clone();
    rev.reverse();
    assert_eq!(got, rev);

    let (got, _) = collect(
        env,
        Query::partition(&pk)
            .sk(SortKey::Between("item#05".into(), "item#09".into()))
            .limit(2),
    )
    .await;
    assert_eq!(got, expected[5..=9].to_vec());

    let (got, _) = collect(env, Query::partition(&pk).sk(SortKey::Gt("item#22".into()))).await;
    assert_eq!(got, vec!["item#23", "item#24", "other#1", "zulu"]);
    let (got, _) = collect(env, Query::partition(&pk).sk(SortKey::Le("item#01".into()))).await;
    assert_eq!(got, vec!["alpha", "item#00", "item#01"]);
    let (got, _) = collect(env, Query::partition(&pk).sk(SortKey::Lt("item#00".into()))).await;
    assert_eq!(got, vec!["alpha"]);
    let (got, _) = collect(env, Query::partition(&pk).sk(SortKey::Ge("other#1".into()))).await;
    assert_eq!(got, vec!["other#1", "zulu"]);
    let (got, _) = collect(env, Query::partition(&pk).limit(1000)).await;
    assert_eq!(got.len(), 28);
    let (got, _) = collect(env, Query::partition(unique("empty"))).await;
    assert!(got.is_empty());
}

pub async fn table_query_secondary_index_paginates(env: &TableEnv) {
    let tenant = unique("tenant");
    for i in 0..12 {
        env.table
            .put(
                item(&unique("ap"), "META")
                    .with("gsi1pk", tenant.as_str())
                    .with("gsi1sk", format!("APPLIANCE#{i:02}")),
                None,
            )
            .await
            .unwrap();
    }
    // Not in the index: only one of the two index attributes.
    env.table
        .put(
            item(&unique("ap"), "META").with("gsi1pk", tenant.as_str()),
            None,
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = env
            .table
            .query(
                Query::partition(&tenant)
                    .on(Index::Gsi1)
                    .sk(SortKey::BeginsWith("APPLIANCE#".into()))
                    .limit(5)
                    .after(cursor.take()),
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 5);
        for it in page.items {
            assert_eq!(it.key.sk, "META");
            seen.push(it.str("gsi1sk").unwrap().to_owned());
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("APPLIANCE#{i:02}")).collect();
    assert_eq!(seen, expected);
}

pub async fn table_transaction_fails_whole(env: &TableEnv) {
    let pk = unique("tx");
    let guard = Key::new(&pk, "guard");
    env.table
        .put(Item::new(guard.clone()).with("open", false), None)
        .await
        .unwrap();
    let existing = Key::new(&pk, "existing");
    env.table
        .put(Item::new(existing.clone()).with("n", 1i64), None)
        .await
        .unwrap();

    // The last operation's condition fails: nothing of the transaction is written.
    let err = env
        .table
        .transact(vec![
            TransactOp::Put(item(&pk, "new").with("x", 1i64), Some(Condition::NotExists)),
            TransactOp::Update(existing.clone(), Update::new().add("n", 1), None),
            TransactOp::Delete(Key::new(&pk, "missing"), None),
            TransactOp::Check(guard.clone(), Condition::eq("open", true)),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TransactionCanceled), "{err:?}");
    assert_eq!(env.table.get(&Key::new(&pk, "new")).await.unwrap(), None);
    assert_eq!(
        env.table.get(&existing).await.unwrap().unwrap().i64("n"),
        Some(1)
    );

    // With the guard open, all of it is written.
    env.table
        .update(
            &guard,
            Update::new().set("open", true),
            None,
            ReturnItem::None,
        )
        .await
        .unwrap();
    env.table
        .transact(vec![
            TransactOp::Put(item(&pk, "new").with("x", 1i64), Some(Condition::NotExists)),
            TransactOp::Update(
                existing.clone(),
                Update::new().add("n", 1),
                Some(Condition::Exists),
            ),
            TransactOp::Delete(guard.clone(), Some(Condition::eq("open", true))),
        ])
        .await
        .unwrap();
    assert!(
        env.table
            .get(&Key::new(&pk, "new"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        env.table.get(&existing).await.unwrap().unwrap().i64("n"),
        Some(2)
    );
    assert_eq!(env.table.get(&guard).await.unwrap(), None);
}

pub async fn table_ttl_hides_expired_items(env: &TableEnv) {
    let pk = unique("ttl");
    let now = env.clock.now().secs();
    let short = Key::new(&pk, "short");
    let long = Key::new(&pk, "long");
    let forever = Key::new(&pk, "forever");
    env.table
        .put(
            Item::new(short.clone())
                .with("ttl", now + 60)
                .with("v", "old"),
            None,
        )
        .await
        .unwrap();
    env.table
        .put(Item::new(long.clone()).with("ttl", now + 3600), None)
        .await
        .unwrap();
    env.table
        .put(Item::new(forever.clone()), None)
        .await
        .unwrap();
    assert!(env.table.get(&short).await.unwrap().is_some());

    env.clock.advance(Duration::from_secs(120));
    assert_eq!(
        env.table.get(&short).await.unwrap(),
        None,
        "expired item is absent"
    );
    assert!(env.table.get(&long).await.unwrap().is_some());
    let page = env.table.query(Query::partition(&pk)).await.unwrap();
    let keys: Vec<_> = page.items.iter().map(|i| i.key.sk.as_str()).collect();
    assert_eq!(keys, vec!["forever", "long"]);

    // Conditions see it as absent too.
    let err = env
        .table
        .update(
            &short,
            Update::new().set("v", "x"),
            Some(Condition::Exists),
            ReturnItem::None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    env.table
        .put(
            Item::new(short.clone()).with("v", "new"),
            Some(Condition::NotExists),
        )
        .await
        .unwrap();
    assert_eq!(
        env.table.get(&short).await.unwrap(),
        Some(Item::new(short.clone()).with("v", "new"))
    );
}

pub async fn table_refuses_invalid_requests(env: &TableEnv) {
    let pk = unique("bad");
    let err = env
        .table
        .query(Query::partition(&pk).limit(0))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = env
        .table
        .put(item(&pk, "A").with("pk", "sneaky"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = env.table.put(item(&pk, ""), None).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let ops: Vec<_> = (0..=MAX_TRANSACTION_OPS)
        .map(|i| TransactOp::Put(item(&pk, &format!("t{i}")), None))
        .collect();
    let err = env.table.transact(ops).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(
        env.table
            .query(Query::partition(&pk))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let err = env
        .table
        .query(Query::partition(&pk).after(Some(crate::table::Cursor("%%%not-a-cursor".into()))))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}
