//! The self-hosted queue consumer on the embedded durable queue: a failed
//! message is redelivered, a message that keeps failing is dead-lettered.

use async_trait::async_trait;
use rampart::runtime::{MessageHandler, spawn_consumer};
use rampart_local::SqliteStore;
use rampart_ports::{QueueSpec, SystemClock};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Fails each message body the number of times it names before succeeding.
#[derive(Default)]
struct Flaky {
    attempts: Mutex<HashMap<String, u32>>,
    done: Mutex<Vec<String>>,
}

#[async_trait]
impl MessageHandler for Flaky {
    async fn handle(&self, body: &str) -> anyhow::Result<()> {
        let fail_times: u32 = body.split(':').nth(1).unwrap_or("0").parse()?;
        let n = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(body.to_owned()).or_default();
            *n += 1;
            *n
        };
        if n <= fail_times {
            anyhow::bail!("attempt {n} fails on purpose");
        }
        self.done.lock().unwrap().push(body.to_owned());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_retries_then_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rampart.db"), Arc::new(SystemClock)).unwrap();
    let spec = QueueSpec {
        name: "work".into(),
        visibility_timeout: Duration::from_secs(1),
        max_receives: 3,
    };
    let queue = store.queue(spec.clone());
    let dlq = store.queue(QueueSpec {
        name: "work-dlq".into(),
        ..spec.clone()
    });
    let handler = Arc::new(Flaky::default());
    let task = spawn_consumer(spec, queue.clone(), handler.clone());

    for body in ["ok:0", "flaky:2", "poison:99"] {
        queue.send(body, Duration::ZERO).await.unwrap();
    }
    let mut dead = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        dead.extend(
            dlq.receive(10, Duration::ZERO, Duration::from_secs(30))
                .await
                .unwrap(),
        );
        if !dead.is_empty() && handler.done.lock().unwrap().len() == 2 {
            break;
        }
    }
    task.abort();
    let mut done = handler.done.lock().unwrap().clone();
    done.sort();
    assert_eq!(
        done,
        vec!["flaky:2", "ok:0"],
        "handled once each, the flaky one after retries"
    );
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison:99");
    assert_eq!(
        handler.attempts.lock().unwrap()["poison:99"],
        3,
        "tried max_receives times"
    );
}
