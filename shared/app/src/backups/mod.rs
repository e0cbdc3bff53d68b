//! Cloud backup on the console side (SPEC 6): the ingest of uploaded objects
//! ([`ingest`]), rotation per license and the daily sweep ([`rotation`]), and the
//! regular-backup schedule ([`schedule`]). The console never decrypts a backup; it
//! checks the envelope's header, indexes, rotates and hands out presigned URLs.

pub mod ingest;
pub mod rotation;
pub mod schedule;

use rampart_ports::{Clock, Objects, Queue, Table};
use std::sync::Arc;

use crate::error::ApiError;

/// The largest configuration an envelope may hold (the console checks the header's
/// plaintext length against it).
pub const MAX_PLAINTEXT_BYTES: u64 = rampart_domain::device_protocol::MAX_BACKUP_BYTES;

/// Why a backup queue message could not be handled (the message is retried, and
/// dead-lettered after `queues::MAX_RECEIVES`).
#[derive(Debug, thiserror::Error)]
pub enum BackupJobError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] ApiError),
}

impl From<rampart_ports::StoreError> for BackupJobError {
    fn from(e: rampart_ports::StoreError) -> Self {
        Self::Store(e.into())
    }
}

impl BackupJobError {
    /// The `error_type` for Lambda's diagnostics.
    pub fn error_type(&self) -> &'static str {
        match self {
            BackupJobError::Malformed(_) => "MalformedMessage",
            BackupJobError::Store(_) => "StoreUnavailable",
        }
    }
}

/// The ports the backup consumers work on, built once per process.
pub struct Backups {
    pub(crate) table: Arc<dyn Table>,
    pub(crate) objects: Arc<dyn Objects>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Where the sweep fans out one message per license (the `rotation` queue).
    pub(crate) rotation_queue: Arc<dyn Queue>,
}

impl Backups {
    pub fn new(
        table: Arc<dyn Table>,
        objects: Arc<dyn Objects>,
        clock: Arc<dyn Clock>,
        rotation_queue: Arc<dyn Queue>,
    ) -> Self {
        Self {
            table,
            objects,
            clock,
            rotation_queue,
        }
    }
}
