//! The whole embedded adapter set on one data directory, as the self-hosted
//! binary opens it.

use rampart_ports::{Clock, Table};
use std::path::Path;
use std::sync::Arc;

use crate::fs_objects::FsObjects;
use crate::signing_key::load_or_create_key;
use crate::sqlite_store::SqliteStore;

pub struct Embedded {
    pub table: Arc<dyn Table>,
    /// The same store as `table`; open queues with `store.queue(spec)`.
    pub store: SqliteStore,
    /// Self-hosted has no S3 notifications: at start-up, before serving, point
    /// `objects.notify_created("backups/", <backup-ingest queue>)` where
    /// template.yaml's bucket notification points on AWS.
    pub objects: Arc<FsObjects>,
}

/// `<data_dir>/rampart.db` (table and queues), `<data_dir>/objects/`,
/// `<data_dir>/secrets/presign.key`.
pub fn open_embedded(
    data_dir: &Path,
    public_base_url: String,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Embedded> {
    std::fs::create_dir_all(data_dir)?;
    let store = SqliteStore::open(&data_dir.join("rampart.db"), clock)?;
    let key = load_or_create_key(&data_dir.join("secrets").join("presign.key"))?;
    let objects = Arc::new(FsObjects::open(
        data_dir.join("objects"),
        public_base_url,
        key,
    )?);
    Ok(Embedded {
        table: Arc::new(store.clone()),
        store,
        objects,
    })
}
