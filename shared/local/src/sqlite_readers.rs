//! A few read-only connections, each on its own long-lived thread, serving gets and
//! queries beside the writer (WAL readers never block it). Long-lived threads
//! avoid a thread hand-off per call and keep each connection's statement cache warm.

use rampart_ports::StoreError;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::oneshot;

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

#[derive(Clone)]
pub(crate) struct Readers {
    jobs: mpsc::Sender<ReadJob>,
}

impl Readers {
    pub(crate) fn start(path: &Path, count: usize) -> anyhow::Result<Self> {
        let (jobs, rx) = mpsc::channel::<ReadJob>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..count.max(1) {
            let conn = crate::sqlite_connection::open_reader(path)?;
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("rampart-sqlite-reader-{i}"))
                .spawn(move || run_reader(conn, &rx))?;
        }
        Ok(Self { jobs })
    }

    pub(crate) async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = reply.send(op(conn));
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::unavailable_msg("sqlite readers stopped"))?;
        rx.await
            .map_err(|_| StoreError::unavailable_msg("sqlite read failed"))?
    }
}

fn run_reader(conn: Connection, rx: &Mutex<mpsc::Receiver<ReadJob>>) {
    loop {
        // Hold the lock only to take one job, so the readers share the queue.
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            // A bug in one read must not take this connection's thread down.
            Ok(job) => {
                let _ = catch_unwind(AssertUnwindSafe(|| job(&conn)));
            }
            Err(_) => return,
        }
    }
}
