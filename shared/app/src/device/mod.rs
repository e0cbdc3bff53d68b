//! The device API's application service: enrollment and check-in.

mod auth;
mod checkin;
mod credential_cache;
mod enroll;

pub use auth::DeviceAuth;

use std::sync::Arc;
use std::time::Duration;

use rampart_ports::{Clock, Table};

use credential_cache::CredentialCache;

#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// The check-in interval handed to appliances.
    pub poll_interval: Duration,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(60),
        }
    }
}

/// Built once per process (per cold start on Lambda) and shared by all requests.
pub struct DeviceService {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    config: DeviceConfig,
    credentials: CredentialCache,
}

impl DeviceService {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, config: DeviceConfig) -> Self {
        Self {
            table,
            clock,
            config,
            credentials: CredentialCache::default(),
        }
    }

    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }
}
