//! Group commit: one thread owns the only writing connection, drains whatever
//! write operations are pending and applies them in one transaction, one fsync
//! for the lot. Each operation runs inside its own SAVEPOINT, so a failed
//! condition (or any error) in one undoes only that operation and the others in
//! the batch still commit; every caller gets its own result after the commit.

use rampart_ports::StoreError;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Most operations one transaction holds, so one slow batch cannot starve callers.
const MAX_BATCH: usize = 512;

/// A write operation waiting for the writer thread.
trait Job: Send {
    /// Runs the operation; true when it succeeded and its changes should be kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Delivers the result once the batch's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), &str>);
}

struct TypedJob<T, F> {
    op: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        // A bug in one operation must not take the writer (and every later write) down.
        let result = catch_unwind(AssertUnwindSafe(|| op(conn)))
            .unwrap_or_else(|_| Err(StoreError::unavailable_msg("write operation panicked")));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), &str>) {
        let result = match (commit, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::unavailable_msg("write operation did not run")),
            (Err(msg), _) => Err(StoreError::unavailable_msg(format!("commit failed: {msg}"))),
        };
        // The caller may have given up (dropped its future); nothing to do then.
        let _ = self.reply.send(result);
    }
}

/// Handle to the writer thread. Cloning shares the thread; it stops when the
/// last handle is dropped.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("rampart-sqlite-writer".into())
            .spawn(move || run_writer(conn, rx))?;
        Ok(Self { jobs })
    }

    /// Runs `op` on the writer connection inside the next batch's transaction.
    /// An `Err` from `op` rolls back only what `op` did.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = TypedJob {
            op: Some(op),
            result: None,
            reply,
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| StoreError::unavailable_msg("sqlite writer stopped"))?;
        rx.await
            .map_err(|_| StoreError::unavailable_msg("sqlite writer stopped"))?
    }
}

fn run_writer(conn: Connection, rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = apply_batch(&conn, &mut batch);
        let commit = commit.as_ref().map(|_| ()).map_err(|e| e.as_str());
        if let Err(msg) = commit {
            tracing::error!(error = msg, ops = batch.len(), "sqlite batch failed");
        }
        for job in batch.drain(..) {
            job.finish(commit);
        }
    }
}

fn apply_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), String> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| e.to_string())?;
    let applied = batch
        .iter_mut()
        .try_for_each(|job| apply_one(conn, job.as_mut()));
    let committed = applied.and_then(|()| conn.execute_batch("COMMIT"));
    committed.map_err(|e| {
        // Leave the connection usable for the next batch.
        let _ = conn.execute_batch("ROLLBACK");
        e.to_string()
    })
}

fn apply_one(conn: &Connection, job: &mut dyn Job) -> rusqlite::Result<()> {
    conn.execute_batch("SAVEPOINT op")?;
    if job.run(conn) {
        conn.execute_batch("RELEASE op")
    } else {
        conn.execute_batch("ROLLBACK TO op; RELEASE op")
    }
}
