//! Behaviour of the SQLite table beyond the shared contract suite: group commit
//! isolation, index ties, durability across reopen, TTL edge cases.

use rampart_domain::Timestamp;
use rampart_local::SqliteStore;
use rampart_ports::table::{
    Condition, Index, Item, Key, Query, ReturnItem, SortKey, Table, Update, Value,
};
use rampart_ports::{ManualClock, StoreError};
use std::sync::Arc;
use std::time::Duration;

fn open(dir: &tempfile::TempDir) -> (SqliteStore, ManualClock) {
    let clock = ManualClock::at(Timestamp::from_secs(1_000_000));
    let store = SqliteStore::open(&dir.path().join("t.db"), Arc::new(clock.clone())).unwrap();
    (store, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_condition_in_a_batch_fails_only_its_own_operation() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir);
    // Every key is created twice at once: the writes land in shared batches, and in
    // each pair exactly one must win without affecting the others.
    let mut tasks = Vec::new();
    for round in 0..2 {
        for i in 0..200 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let item = Item::new(Key::new("P", format!("k{i:03}"))).with("round", round);
                store.put(item, Some(Condition::NotExists)).await
            }));
        }
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::ConditionFailed) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok, refused), (200, 200));
    let page = store
        .query(Query::partition("P").limit(1000))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 200);
    assert!(page.next.is_none());
}

#[tokio::test]
async fn gsi1_pages_through_ties_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir);
    // Seven items share one gsi1sk: the cursor must tell them apart.
    let mut want = Vec::new();
    for i in 0..7 {
        let key = Key::new(format!("A#{i}"), "META");
        store
            .put(
                Item::new(key.clone())
                    .with("gsi1pk", "T")
                    .with("gsi1sk", "same"),
                None,
            )
            .await
            .unwrap();
        want.push(key);
    }
    store
        .put(
            Item::new(Key::new("A#x", "META"))
                .with("gsi1pk", "T")
                .with("gsi1sk", Value::N(1)),
            None,
        )
        .await
        .unwrap();
    for forward in [true, false] {
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let mut q = Query::partition("T").on(Index::Gsi1).limit(3).after(cursor);
            if !forward {
                q = q.backward();
            }
            let page = store.query(q).await.unwrap();
            got.extend(page.items.into_iter().map(|i| i.key));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        let mut expected = want.clone();
        if !forward {
            expected.reverse();
        }
        assert_eq!(got, expected, "forward={forward}");
    }
    // An index cursor is refused by a primary-key query.
    let cursor = store
        .query(Query::partition("T").on(Index::Gsi1).limit(1))
        .await
        .unwrap()
        .next;
    assert!(cursor.is_some());
    let err = store.query(Query::partition("T").after(cursor)).await;
    assert!(matches!(err, Err(StoreError::Invalid(_))), "{err:?}");
}

#[tokio::test]
async fn writes_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _) = open(&dir);
        store
            .put(Item::new(Key::new("P", "S")).with("f", Value::F(1.0)), None)
            .await
            .unwrap();
    }
    let (store, _) = open(&dir);
    let got = store.get(&Key::new("P", "S")).await.unwrap().unwrap();
    assert_eq!(got.get("f"), Some(&Value::F(1.0)));
}

#[tokio::test]
async fn updates_over_expired_items_start_from_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clock) = open(&dir);
    let key = Key::new("P", "S");
    let now = 1_000_000;
    store
        .put(
            Item::new(key.clone())
                .with("ttl", now + 10)
                .with("old", true),
            None,
        )
        .await
        .unwrap();
    // A non-numeric ttl never expires; a float one does.
    store
        .put(Item::new(Key::new("P", "str")).with("ttl", "soon"), None)
        .await
        .unwrap();
    store
        .put(
            Item::new(Key::new("P", "float")).with("ttl", Value::F((now + 5) as f64)),
            None,
        )
        .await
        .unwrap();
    clock.advance(Duration::from_secs(10));
    let old = store
        .update(&key, Update::new().add("n", 1), None, ReturnItem::AllOld)
        .await
        .unwrap();
    assert_eq!(old, None);
    let got = store.get(&key).await.unwrap().unwrap();
    assert_eq!(got, Item::new(key).with("n", 1i64));
    assert!(store.get(&Key::new("P", "str")).await.unwrap().is_some());
    assert!(store.get(&Key::new("P", "float")).await.unwrap().is_none());
    // Only the expired float-ttl row is left to purge (the other was rewritten).
    assert_eq!(store.purge_expired(100).await.unwrap(), 1);
    assert_eq!(store.purge_expired(100).await.unwrap(), 0);
    assert_eq!(
        store
            .query(Query::partition("P"))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test]
async fn invalid_updates_and_transactions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(&dir);
    let key = Key::new("P", "S");
    for u in [
        Update::new().set("sk", "x"),
        Update::new().set("a", 1i64).add("a", 1),
    ] {
        let err = store.update(&key, u, None, ReturnItem::None).await;
        assert!(matches!(err, Err(StoreError::Invalid(_))), "{err:?}");
    }
    store
        .put(Item::new(key.clone()).with("s", "text"), None)
        .await
        .unwrap();
    let err = store
        .update(&key, Update::new().add("s", 1), None, ReturnItem::None)
        .await;
    assert!(matches!(err, Err(StoreError::Invalid(_))), "{err:?}");
    let err = store
        .transact(vec![
            rampart_ports::TransactOp::Delete(key.clone(), None),
            rampart_ports::TransactOp::Check(key.clone(), Condition::Exists),
        ])
        .await;
    assert!(matches!(err, Err(StoreError::Invalid(_))), "{err:?}");
    let big = Item::new(Key::new("P", "big")).with("b", Value::B(vec![0; 500 * 1024]));
    assert!(matches!(
        store.put(big, None).await,
        Err(StoreError::Invalid(_))
    ));
    let err = store
        .query(Query::partition("P").sk(SortKey::Between("b".into(), "a".into())))
        .await;
    assert!(matches!(err, Err(StoreError::Invalid(_))), "{err:?}");
}
