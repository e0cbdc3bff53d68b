//! Which adapter set the console runs on: the embedded store under a data
//! directory (the default), or the AWS services named by the environment.

use anyhow::Context;
use rampart_ports::{Clock, Objects, Queue, Table};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_local::FsObjects;

#[derive(Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// SQLite and files under --data-dir.
    Embedded,
    /// DynamoDB, S3 and SQS named by RAMPART_TABLE, RAMPART_BUCKET, RAMPART_QUEUE_URL_*.
    Aws,
}

/// The opened stores. `local_objects` is set for the embedded store, whose
/// presigned URLs the self-hosted server itself must serve.
pub struct Stores {
    pub table: Arc<dyn Table>,
    /// Where backups are stored.
    pub objects: Arc<dyn Objects>,
    pub queues: BTreeMap<String, Arc<dyn Queue>>,
    pub local_objects: Option<Arc<FsObjects>>,
}

pub async fn open(
    kind: &StoreKind,
    data_dir: &Path,
    public_url: &str,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Stores> {
    match kind {
        StoreKind::Embedded => {
            let e = rampart_local::open_embedded(data_dir, public_url.to_owned(), clock)
                .with_context(|| format!("opening the embedded store in {}", data_dir.display()))?;
            let queues: BTreeMap<String, Arc<dyn Queue>> = rampart_app::queues::all()
                .into_iter()
                .map(|spec| (spec.name.clone(), e.store.queue(spec)))
                .collect();
            // S3's notification of template.yaml, the embedded way: uploads under
            // backups/ put an object-created event on the backup-ingest queue.
            let ingest = queues
                .get("backup-ingest")
                .cloned()
                .context("the embedded store has no backup-ingest queue")?;
            e.objects
                .notify_created(rampart_app::records::backup::OBJECT_PREFIX, ingest)?;
            Ok(Stores {
                table: e.table,
                objects: e.objects.clone(),
                queues,
                local_objects: Some(e.objects),
            })
        }
        StoreKind::Aws => {
            let clients = rampart_aws::AwsClients::from_env().await;
            let resources = rampart_aws::AwsResources::from_env()?;
            let mut queues = BTreeMap::new();
            for name in resources.queue_urls.keys() {
                queues.insert(name.clone(), resources.queue(&clients, name)?);
            }
            Ok(Stores {
                objects: resources.objects(&clients),
                table: resources.table(&clients, clock),
                queues,
                local_objects: None,
            })
        }
    }
}

pub fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
