//! The portal API's application service: sign-in with mandatory TOTP, sessions,
//! tenants and users, and the appliance views. Every tenant-owned read or write
//! goes through a key under the tenant's partition, after [`access`] decided the
//! caller may see that tenant.

pub mod access;
mod appliances;
mod applications;
mod backups;
mod bootstrap;
mod comm_log;
mod firmware;
mod jobs;
mod licenses;
mod password_reset;
mod profiles;
mod removed_appliances;
mod scans;
mod sessions;
mod sign_in;
mod status_history;
mod tenants;
mod users;

pub use access::Principal;
pub use appliances::ApplianceQuery;
pub use applications::ApplicationQuery;
pub use bootstrap::{Bootstrapped, bootstrap};
pub use comm_log::LogOrder;
pub use scans::scan_profile;

use rampart_identity::SecretKey;
use rampart_ports::{Clock, Mailer, Objects, Queue, Table};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct PortalConfig {
    /// Base URL of the portal, for links in mails.
    pub public_url: String,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: Duration,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
        }
    }
}

/// How long the password step's challenge waits for the TOTP step.
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How long a mailed password link stays valid.
pub const RESET_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Largest page a list returns.
pub const MAX_PAGE: u32 = 200;
pub const DEFAULT_PAGE: u32 = 50;

pub struct PortalService {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    mailer: Arc<dyn Mailer>,
    /// Where new jobs go to be fanned out (the `jobs` queue).
    jobs_queue: Arc<dyn Queue>,
    totp_key: SecretKey,
    config: PortalConfig,
    /// Where backups are stored (downloads, deletes).
    objects: Option<Arc<dyn Objects>>,
    /// Where requested security scans go (the `scan` queue).
    scan_queue: Option<Arc<dyn Queue>>,
}

impl PortalService {
    pub fn new(
        table: Arc<dyn Table>,
        clock: Arc<dyn Clock>,
        mailer: Arc<dyn Mailer>,
        jobs_queue: Arc<dyn Queue>,
        totp_key: [u8; 32],
        config: PortalConfig,
    ) -> Self {
        Self {
            table,
            clock,
            mailer,
            jobs_queue,
            totp_key: SecretKey::from_bytes(totp_key),
            config,
            objects: None,
            scan_queue: None,
        }
    }

    /// The object store backups live in; without it the backup routes answer 503.
    pub fn with_objects(mut self, objects: Arc<dyn Objects>) -> Self {
        self.objects = Some(objects);
        self
    }

    /// The queue security scans go through; without it starting a scan answers 503.
    pub fn with_scan_queue(mut self, queue: Arc<dyn Queue>) -> Self {
        self.scan_queue = Some(queue);
        self
    }

    pub fn config(&self) -> &PortalConfig {
        &self.config
    }
}

fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

fn malformed(e: crate::records::MalformedItem) -> crate::ApiError {
    crate::ApiError::Unavailable(e.into())
}

/// One page of a query, each item mapped to its view.
async fn page_of<T>(
    table: &dyn Table,
    query: rampart_ports::Query,
    view: impl Fn(&rampart_ports::Item) -> Result<T, crate::records::MalformedItem>,
) -> Result<rampart_domain::portal_protocol::ListPage<T>, crate::ApiError> {
    let page = table.query(query).await?;
    let items = page
        .items
        .iter()
        .map(view)
        .collect::<Result<_, _>>()
        .map_err(malformed)?;
    Ok(rampart_domain::portal_protocol::ListPage {
        items,
        next_cursor: page.next.map(|c| c.0),
    })
}
