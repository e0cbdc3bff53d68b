//! The portal service as the self-hosted console builds it: mail goes to an
//! outbox directory, the TOTP key lives in a 0600 key file, both under the data dir.

use rampart_app::portal::{PortalConfig, PortalService};
use rampart_ports::{Clock, Objects, Queue, Table};
use std::path::Path;
use std::sync::Arc;

pub fn self_hosted_portal(
    table: Arc<dyn Table>,
    objects: Arc<dyn Objects>,
    clock: Arc<dyn Clock>,
    jobs_queue: Arc<dyn Queue>,
    scan_queue: Option<Arc<dyn Queue>>,
    data_dir: &Path,
    public_url: &str,
) -> anyhow::Result<Arc<PortalService>> {
    let totp_key = rampart_local::load_or_create_key(&data_dir.join("secrets").join("totp.key"))?;
    let mailer =
        rampart_local::OutboxMailer::new(data_dir.join("outbox")).with_clock(clock.clone());
    let portal = PortalService::new(
        table,
        clock,
        Arc::new(mailer),
        jobs_queue,
        totp_key,
        PortalConfig {
            public_url: public_url.to_owned(),
            ..PortalConfig::default()
        },
    )
    .with_objects(objects);
    Ok(Arc::new(match scan_queue {
        Some(q) => portal.with_scan_queue(q),
        None => portal,
    }))
}
