//! Behaviour of the SQLite queue beyond the shared contract suite: stale receipts,
//! early wake-up of long polls, durability, dead letters across handles.

use rampart_local::SqliteStore;
use rampart_ports::{QueueSpec, StoreError, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn spec(name: &str, max_receives: u32) -> QueueSpec {
    QueueSpec {
        name: name.into(),
        visibility_timeout: Duration::from_secs(30),
        max_receives,
    }
}

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("q.db"), Arc::new(SystemClock)).unwrap()
}

#[tokio::test]
async fn a_stale_receipt_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir).queue(spec("jobs", 5));
    q.send("m", Duration::ZERO).await.unwrap();
    let first = q.receive(1, Duration::ZERO, Duration::ZERO).await.unwrap();
    let second = q
        .receive(1, Duration::ZERO, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(second[0].receive_count, 2);
    assert_ne!(first[0].receipt, second[0].receipt);
    q.delete(&first[0].receipt).await.unwrap();
    // Still there: the stale receipt matched nothing.
    let store = open(&dir);
    let handle = store.sqlite_queue(spec("jobs", 5));
    assert_eq!(handle.len().await.unwrap(), 1);
    q.delete(&second[0].receipt).await.unwrap();
    assert!(handle.is_empty().await.unwrap());
    let err = q.delete("not-a-receipt").await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_wakes_a_long_poll_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let receiver = store.queue(spec("wake", 5));
    let sender = store.queue(spec("wake", 5));
    let start = Instant::now();
    let poll = tokio::spawn(async move {
        receiver
            .receive(10, Duration::from_secs(10), Duration::from_secs(30))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    sender.send("hello", Duration::ZERO).await.unwrap();
    let got = poll.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_long_poll_returns_a_delayed_message_when_it_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir).queue(spec("later", 5));
    q.send("m", Duration::from_secs(1)).await.unwrap();
    let start = Instant::now();
    let got = q
        .receive(1, Duration::from_secs(5), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test]
async fn messages_survive_reopening_and_dead_letter_across_handles() {
    let dir = tempfile::tempdir().unwrap();
    {
        let q = open(&dir).queue(spec("ingest", 1));
        q.send("poison", Duration::ZERO).await.unwrap();
        let got = q.receive(1, Duration::ZERO, Duration::ZERO).await.unwrap();
        assert_eq!(got[0].receive_count, 1);
    }
    let store = open(&dir);
    let q = store.queue(spec("ingest", 1));
    assert!(
        q.receive(10, Duration::ZERO, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    let dlq = store.queue(spec("ingest-dlq", 1));
    let dead = dlq
        .receive(10, Duration::ZERO, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(dead[0].receive_count, 1);
}

#[tokio::test]
async fn receive_limits_are_sqs_limits() {
    let dir = tempfile::tempdir().unwrap();
    let q = open(&dir).queue(spec("limits", 5));
    for (max, wait) in [(0, 0), (11, 0), (1, 21)] {
        let err = q
            .receive(max, Duration::from_secs(wait), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
}
