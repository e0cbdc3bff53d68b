//! Many simulated appliances in one process, sharing one HTTP connection pool.

use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::Serial;
use std::path::Path;
use std::time::Duration;

use crate::options::AgentOptions;
use crate::run::{Agent, AgentConfig};
use crate::state::StateFile;

/// A license an appliance of the fleet enrolls with.
#[derive(Clone)]
pub struct FleetLicense {
    pub serial: Serial,
    pub secret: String,
}

/// Reads `SERIAL SECRET` lines (what `rampart admin license add` prints).
pub fn parse_licenses(text: &str) -> anyhow::Result<Vec<FleetLicense>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let serial = parts.next().unwrap_or_default();
            let secret = parts
                .next()
                .ok_or_else(|| anyhow::anyhow!("license line without a secret for {serial}"))?;
            Ok(FleetLicense {
                serial: Serial::parse(serial)?,
                secret: secret.to_owned(),
            })
        })
        .collect()
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(64)
        .build()
        .expect("HTTP client builds")
}

/// Starts one agent task per license with the default options
/// ([`AgentOptions::from_env`]); the handles end only on fatal errors or a shutdown
/// command.
pub fn spawn_fleet(
    server: &str,
    licenses: Vec<FleetLicense>,
    state_dir: &Path,
    firmware: FirmwareVersion,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<anyhow::Result<()>>>> {
    spawn_fleet_with(
        server,
        licenses,
        state_dir,
        firmware,
        &AgentOptions::from_env(),
    )
}

/// Starts one agent task per license, every appliance with the same `options` (PIN,
/// denied authorizations, retry limit, initial backup password, time zone, backup
/// settings). Each keeps `<serial>.json` in `state_dir`, its restored configurations
/// in `<serial>.configs/`; their backups share a few KDF slots per process.
pub fn spawn_fleet_with(
    server: &str,
    licenses: Vec<FleetLicense>,
    state_dir: &Path,
    firmware: FirmwareVersion,
    options: &AgentOptions,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<anyhow::Result<()>>>> {
    let http = http_client();
    let mut handles = Vec::new();
    for (i, lic) in licenses.into_iter().enumerate() {
        let config = AgentConfig {
            server: server.to_owned(),
            state_file: StateFile::new(state_dir.join(format!("{}.json", lic.serial))),
            serial: lic.serial,
            license_secret: lic.secret,
            firmware,
        };
        let agent = Agent::open_with(config, options.clone(), http.clone())?;
        // Spread the first check-ins so a fleet does not arrive as one burst.
        let stagger = Duration::from_millis((i as u64 * 37) % 1000);
        handles.push(tokio::spawn(async move {
            tokio::time::sleep(stagger).await;
            agent.run().await
        }));
    }
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_license_lines() {
        let l = parse_licenses("# demo\nA1B2C3D4 abc\n\nB1B2C3D4  def \n").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].serial.as_str(), "B1B2C3D4");
        assert_eq!(l[1].secret, "def");
        assert!(parse_licenses("A1B2C3D4").is_err());
        assert!(parse_licenses("bad x").is_err());
    }
}
