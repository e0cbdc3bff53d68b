//! `rampart agent`: one appliance, or a fleet of simulated ones.

use anyhow::Context;
use rampart_agent::fleet;
use rampart_agent::run::{Agent, AgentConfig};
use rampart_agent::state::StateFile;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::Serial;
use std::path::{Path, PathBuf};

/// The license secret comes from a file or the environment, never from the
/// command line (where `ps` would show it).
pub fn read_secret(secret_file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(p) = secret_file {
        let s = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        return Ok(s.trim().to_owned());
    }
    std::env::var("RAMPART_LICENSE_SECRET")
        .map(|s| s.trim().to_owned())
        .context("give the license secret with --secret-file or RAMPART_LICENSE_SECRET")
}

pub async fn run_one(
    server: &str,
    serial: &str,
    secret: String,
    state_file: Option<PathBuf>,
    firmware: &str,
) -> anyhow::Result<()> {
    let serial = Serial::parse(serial)?;
    let state_file = state_file.unwrap_or_else(|| PathBuf::from(format!("agent-{serial}.json")));
    let config = AgentConfig {
        server: server.to_owned(),
        serial,
        license_secret: secret,
        state_file: StateFile::new(state_file),
        firmware: FirmwareVersion::parse(firmware)?,
    };
    Agent::open(config, fleet::http_client())?.run().await
}

pub async fn run_fleet(
    server: &str,
    count: usize,
    licenses_file: &Path,
    state_dir: &Path,
    firmware: &str,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(licenses_file)
        .with_context(|| format!("reading {}", licenses_file.display()))?;
    let licenses = fleet::parse_licenses(&text)?;
    anyhow::ensure!(
        licenses.len() >= count,
        "{} holds {} licenses, the fleet needs {count}",
        licenses_file.display(),
        licenses.len()
    );
    let handles = fleet::spawn_fleet(
        server,
        licenses.into_iter().take(count).collect(),
        state_dir,
        FirmwareVersion::parse(firmware)?,
    )?;
    tracing::info!(count, "fleet started");
    let mut failed = 0;
    for h in handles {
        if let Ok(Err(e)) = h.await {
            failed += 1;
            tracing::error!(error = format!("{e:#}"), "appliance stopped");
        }
    }
    anyhow::bail!("all {count} appliances stopped ({failed} with errors)")
}
