//! Fresh embedded adapters (SQLite table and queues, file objects) on a temp dir,
//! for the contract suite.

use rampart_domain::Timestamp;
use rampart_local::{FsObjects, SqliteStore, objects_router};
use rampart_ports::contract::{CREATED_EVENTS_PREFIX, ObjectsEnv, QueueEnv, TableEnv};
use rampart_ports::{ManualClock, QueueSpec, SystemClock};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// A fixed, realistic start time, so TTL checks do not depend on the host clock.
const START: Timestamp = Timestamp::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z

fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("rampart-contract-")
        .tempdir()
        .expect("temp dir")
}

pub async fn table_env() -> TableEnv {
    let dir = temp_dir();
    let clock = ManualClock::at(START);
    let store = SqliteStore::open(&dir.path().join("rampart.db"), Arc::new(clock.clone()))
        .expect("open sqlite store");
    TableEnv {
        table: Arc::new(store),
        clock,
        guard: Box::new(dir),
    }
}

pub async fn queue_env() -> QueueEnv {
    let dir = temp_dir();
    let store = SqliteStore::open(&dir.path().join("rampart.db"), Arc::new(SystemClock))
        .expect("open sqlite store");
    let spec = QueueSpec {
        name: "contract".into(),
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let dead_letters = store.queue(QueueSpec {
        name: format!("{}-dlq", spec.name),
        ..spec.clone()
    });
    QueueEnv {
        queue: store.queue(spec.clone()),
        dead_letters,
        spec,
        guard: Box::new(dir),
    }
}

/// Stops the HTTP server when the env is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn objects_env() -> ObjectsEnv {
    let dir = temp_dir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind objects server");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    let key = rampart_local::load_or_create_key(&dir.path().join("secrets/presign.key"))
        .expect("signing key");
    let objects = Arc::new(
        FsObjects::open(dir.path().join("objects"), base, key).expect("open file objects"),
    );
    // Created backups go to the backup-ingest queue, as the self-hosted runtime wires it.
    let store = SqliteStore::open(&dir.path().join("rampart.db"), Arc::new(SystemClock))
        .expect("open sqlite store");
    let created_events =
        store.queue(rampart_app::queues::spec("backup-ingest").expect("backup-ingest queue"));
    objects
        .notify_created(CREATED_EVENTS_PREFIX, Arc::clone(&created_events))
        .expect("notification target");
    let app = objects_router(Arc::clone(&objects));
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("objects server");
    });
    ObjectsEnv {
        objects,
        enforces_presign: true,
        verifies_upload_checksum: true,
        created_events,
        guard: Box::new((AbortOnDrop(server), dir)),
    }
}
