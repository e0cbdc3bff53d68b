//! The device-api function: the same router the self-hosted console serves, over
//! the AWS adapters. Built once per cold start.

use anyhow::Context;
use rampart_app::device::{DeviceConfig, DeviceService};
use rampart_aws::{AwsClients, AwsResources};
use rampart_ports::Clock;
use std::sync::Arc;
use std::time::Duration;

/// Seconds between check-ins handed to appliances (`RAMPART_POLL_INTERVAL_SECS`).
pub fn config_from_env() -> anyhow::Result<DeviceConfig> {
    let poll = match std::env::var("RAMPART_POLL_INTERVAL_SECS") {
        Ok(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=86_400).contains(s))
            .context("RAMPART_POLL_INTERVAL_SECS must be 1..=86400")?,
        Err(_) => DeviceConfig::default().poll_interval.as_secs(),
    };
    Ok(DeviceConfig {
        poll_interval: Duration::from_secs(poll),
        ..DeviceConfig::default()
    })
}

pub fn router(
    resources: &AwsResources,
    clients: &AwsClients,
    clock: Arc<dyn Clock>,
    config: DeviceConfig,
) -> axum::Router {
    let table = resources.table(clients, clock.clone());
    rampart_app::http::device_api(Arc::new(DeviceService::new(table, clock, config)))
}
