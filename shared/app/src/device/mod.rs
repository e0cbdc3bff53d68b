//! The device API's application service: enrollment and check-in.

mod auth;
mod backups;
mod checkin;
mod command_result;
mod config_result;
mod credential_cache;
mod enroll;

pub use auth::DeviceAuth;

use std::sync::Arc;
use std::time::Duration;

use rampart_ports::{Clock, Objects, Table};

use crate::error::ApiError;

use credential_cache::CredentialCache;

#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// The check-in interval handed to appliances.
    pub poll_interval: Duration,
    /// The interval while someone waits on the appliance (a job was queued for it,
    /// or it is being viewed), before jitter of up to half of it.
    pub fast_poll_interval: Duration,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(60),
            fast_poll_interval: Duration::from_secs(5),
        }
    }
}

/// Built once per process (per cold start on Lambda) and shared by all requests.
pub struct DeviceService {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    config: DeviceConfig,
    credentials: CredentialCache,
    /// Where backups are stored (presigned uploads and downloads).
    objects: Option<Arc<dyn Objects>>,
}

impl DeviceService {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, config: DeviceConfig) -> Self {
        Self {
            table,
            clock,
            config,
            credentials: CredentialCache::default(),
            objects: None,
        }
    }

    /// The object store backups go to; without it the backup endpoints answer 503.
    pub fn with_objects(mut self, objects: Arc<dyn Objects>) -> Self {
        self.objects = Some(objects);
        self
    }

    fn objects(&self) -> Result<&dyn Objects, ApiError> {
        self.objects.as_deref().ok_or_else(|| {
            ApiError::Unavailable(anyhow::anyhow!("no object store configured for backups"))
        })
    }

    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }
}
