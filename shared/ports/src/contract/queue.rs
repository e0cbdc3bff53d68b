//! Contract checks for the queue port. They use real time (short visibility
//! timeouts and delays), because SQS knows no other clock.

use std::time::Duration;

use super::{QueueEnv, unique};
use crate::StoreError;
use crate::queue::{MAX_MESSAGE_BYTES, ReceivedMessage};

const NO_WAIT: Duration = Duration::ZERO;
const SHORT: Duration = Duration::from_secs(1);

async fn receive_one(env: &QueueEnv, visibility: Duration) -> Option<ReceivedMessage> {
    let mut got = env
        .queue
        .receive(1, Duration::from_secs(2), visibility)
        .await
        .unwrap();
    assert!(got.len() <= 1);
    got.pop()
}

async fn drain_ids(env: &QueueEnv) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let got = env
            .queue
            .receive(10, Duration::from_secs(1), Duration::from_secs(30))
            .await
            .unwrap();
        if got.is_empty() {
            return bodies;
        }
        for m in got {
            env.queue.delete(&m.receipt).await.unwrap();
            bodies.push(m.body);
        }
    }
}

pub async fn queue_send_receive_delete(env: &QueueEnv) {
    let bodies: Vec<String> = (0..3).map(|i| format!("{}-{i}", unique("msg"))).collect();
    for b in &bodies {
        env.queue.send(b, NO_WAIT).await.unwrap();
    }
    let mut got = drain_ids(env).await;
    got.sort();
    let mut want = bodies.clone();
    want.sort();
    assert_eq!(got, want);
    // Deleted messages never come back, and deleting twice is harmless.
    let body = unique("once");
    env.queue.send(&body, NO_WAIT).await.unwrap();
    let m = receive_one(env, SHORT).await.expect("message delivered");
    assert_eq!(m.body, body);
    assert_eq!(m.receive_count, 1);
    env.queue.delete(&m.receipt).await.unwrap();
    env.queue.delete(&m.receipt).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = env.queue.receive(10, NO_WAIT, SHORT).await.unwrap();
    assert!(again.is_empty(), "deleted message redelivered: {again:?}");
}

pub async fn queue_redelivers_after_visibility_timeout(env: &QueueEnv) {
    let body = unique("redeliver");
    env.queue.send(&body, NO_WAIT).await.unwrap();
    let first = receive_one(env, SHORT).await.expect("delivered");
    assert_eq!(
        (first.body.as_str(), first.receive_count),
        (body.as_str(), 1)
    );
    // Invisible while the visibility timeout runs.
    let hidden = env.queue.receive(10, NO_WAIT, SHORT).await.unwrap();
    assert!(hidden.is_empty(), "visible during its visibility timeout");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let second = receive_one(env, Duration::from_secs(30))
        .await
        .expect("redelivered");
    assert_eq!(second.id, first.id);
    assert_eq!(second.body, body);
    assert_eq!(second.receive_count, 2);
    env.queue.delete(&second.receipt).await.unwrap();
}

pub async fn queue_delays_messages(env: &QueueEnv) {
    let body = unique("delayed");
    env.queue.send(&body, Duration::from_secs(2)).await.unwrap();
    let early = env.queue.receive(10, NO_WAIT, SHORT).await.unwrap();
    assert!(early.is_empty(), "delayed message delivered early");
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let m = receive_one(env, SHORT)
        .await
        .expect("delivered after its delay");
    assert_eq!(m.body, body);
    env.queue.delete(&m.receipt).await.unwrap();
}

pub async fn queue_dead_letters_after_max_receives(env: &QueueEnv) {
    let body = unique("poison");
    env.queue.send(&body, NO_WAIT).await.unwrap();
    for n in 1..=env.spec.max_receives {
        let m = receive_one(env, SHORT)
            .await
            .unwrap_or_else(|| panic!("receive {n} of {}", env.spec.max_receives));
        assert_eq!(m.receive_count, n);
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    // The next receive moves it to the dead-letter queue instead of delivering it.
    let after = env
        .queue
        .receive(10, Duration::from_secs(1), SHORT)
        .await
        .unwrap();
    assert!(after.is_empty(), "delivered past max receives: {after:?}");
    let mut dead = Vec::new();
    for _ in 0..5 {
        dead = env
            .dead_letters
            .receive(10, Duration::from_secs(1), Duration::from_secs(30))
            .await
            .unwrap();
        if !dead.is_empty() {
            break;
        }
    }
    assert_eq!(dead.len(), 1, "one message dead-lettered");
    assert_eq!(dead[0].body, body);
    env.dead_letters.delete(&dead[0].receipt).await.unwrap();
}

pub async fn queue_refuses_invalid_messages(env: &QueueEnv) {
    let err = env.queue.send("", NO_WAIT).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let big = "x".repeat(MAX_MESSAGE_BYTES + 1);
    let err = env.queue.send(&big, NO_WAIT).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let err = env
        .queue
        .send("late", Duration::from_secs(901))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    // The largest allowed message goes through whole.
    let max = "y".repeat(MAX_MESSAGE_BYTES);
    env.queue.send(&max, NO_WAIT).await.unwrap();
    let m = receive_one(env, SHORT).await.expect("delivered");
    assert_eq!(m.body.len(), MAX_MESSAGE_BYTES);
    env.queue.delete(&m.receipt).await.unwrap();
}
