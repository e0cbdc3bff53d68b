//! `rampart serve --demo`: a demo tenant with licenses, and simulated appliances
//! in the same process, so a new user sees a fleet checking in at once.

use anyhow::Context;
use chrono::{Duration as ChronoDuration, Utc};
use rampart_agent::fleet::{self, FleetLicense};
use rampart_app::ApiError;
use rampart_app::admin::AdminService;
use rampart_domain::backup::BackupPassword;
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::firmware_catalog::FirmwareRelease;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::serve::RunningServer;

pub const DEMO_TENANT: &str = "100001.sms";
pub const DEMO_RESELLER: &str = "100000.sms";
pub const DEMO_ADMIN: &str = "admin@demo.example";

/// Bootstraps a demo reseller owning the demo tenant, once. The administrator's
/// initial password goes to a 0600 file in the data dir, never to the log.
async fn demo_portal(server: &RunningServer, dir: &Path) -> anyhow::Result<()> {
    let reseller = TenantId::parse(DEMO_RESELLER)?;
    let admin = rampart_domain::tenancy::Email::parse(DEMO_ADMIN)?;
    let done = match server
        .portal
        .bootstrap(reseller.clone(), "Demo Reseller".into(), admin.clone())
        .await
    {
        Ok(done) => done,
        Err(rampart_app::ApiError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!("{e}")).context("bootstrapping the demo reseller"),
    };
    std::fs::create_dir_all(dir)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(dir.join("admin-password.txt"))?
        .write_all(done.initial_password.as_bytes())?;
    let as_admin = rampart_app::portal::Principal {
        email: admin,
        tenant: reseller,
        tenant_kind: rampart_domain::tenancy::TenantKind::Reseller,
        role: rampart_domain::tenancy::Role::Administrator,
        session_id: String::new(),
    };
    server
        .portal
        .create_customer(
            &as_admin,
            rampart_domain::portal_protocol::NewTenant {
                id: TenantId::parse(DEMO_TENANT)?,
                name: "Demo Customer".into(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("creating the demo customer")?;
    Ok(())
}

/// Registers the demo licenses once; their secrets are kept in the data dir
/// (mode 0600) so the demo fleet can re-enroll after a restart with a fresh dir.
async fn demo_licenses(
    admin: &AdminService,
    dir: &Path,
    count: usize,
) -> anyhow::Result<Vec<FleetLicense>> {
    let file = dir.join("licenses.txt");
    let mut out = match std::fs::read_to_string(&file) {
        Ok(text) => fleet::parse_licenses(&text)?,
        Err(_) => Vec::new(),
    };
    if out.len() >= count {
        out.truncate(count);
        return Ok(out);
    }
    std::fs::create_dir_all(dir)?;
    let tenant = TenantId::parse(DEMO_TENANT)?;
    let expires = (Utc::now() + ChronoDuration::days(365)).date_naive();
    for i in out.len() + 1..=count {
        let serial = Serial::parse(&format!("DEMO{i:04}"))?;
        let new = NewLicense {
            serial: serial.clone(),
            tenant: tenant.clone(),
            product: "UTM demo".into(),
            expires,
            cluster: None,
        };
        match admin.add_license(new).await {
            Ok((_, secret)) => out.push(FleetLicense { serial, secret }),
            Err(e) => return Err(anyhow::anyhow!("{e}")).context("registering demo licenses"),
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&file)?;
    writeln!(f, "# demo licenses: SERIAL SECRET")?;
    for l in &out {
        writeln!(f, "{} {}", l.serial, l.secret)?;
    }
    Ok(out)
}

/// The PIN set on every demo appliance (SPEC 3.4): made once, kept in a 0600 file
/// beside the admin password so PIN-protected jobs can be tried.
fn demo_pin(dir: &Path) -> anyhow::Result<rampart_identity::pin::Pin> {
    let file = dir.join("pin.txt");
    if let Ok(text) = std::fs::read_to_string(&file) {
        return rampart_identity::pin::Pin::parse(text.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()));
    }
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pin = format!("{:06}", u32::from_le_bytes(random) % 1_000_000);
    std::fs::create_dir_all(dir)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(&file)?.write_all(pin.as_bytes())?;
    rampart_identity::pin::Pin::parse(&pin).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The cloud-backup password of every demo appliance (SPEC 6.1): made once, kept in a
/// 0600 file beside the PIN so a downloaded backup can be opened with
/// `rampart backup decrypt`. The appliances take it as generation 1.
fn demo_backup_password(dir: &Path) -> anyhow::Result<BackupPassword> {
    let file = dir.join("backup-password.txt");
    if let Ok(text) = std::fs::read_to_string(&file) {
        return BackupPassword::parse(text.trim_end_matches(['\r', '\n']).to_owned())
            .map_err(|e| anyhow::anyhow!("{}: the password is refused: {e}", file.display()));
    }
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Upper and lower case, digits and a special character: every class, whatever
    // the random part holds.
    let password = format!(
        "Demo-{}-Backup{}",
        hex::encode(&random[..6]),
        random[6] % 10
    );
    std::fs::create_dir_all(dir)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(&file)?.write_all(password.as_bytes())?;
    BackupPassword::parse(password).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A small firmware catalog, so the demo fleet (on 14.0.2) shows "update available"
/// and "security update highly recommended" (SPEC 9). Versions already there stay.
async fn demo_firmware_catalog(table: &dyn rampart_ports::Table) -> anyhow::Result<()> {
    let releases = [
        ("14.0.2", "2026-03-02", false, "The demo fleet's firmware"),
        ("14.0.3", "2026-06-15", true, "Security fixes"),
        ("14.1.0", "2026-10-05", false, "Rollback support"),
    ];
    for (version, released, security, notes) in releases {
        let release = FirmwareRelease {
            version: FirmwareVersion::parse(version)?,
            released: chrono::NaiveDate::parse_from_str(released, "%Y-%m-%d")?,
            security,
            notes: Some(notes.to_owned()),
        };
        match rampart_app::firmware_catalog::add_release(table, release).await {
            Ok(()) | Err(ApiError::Conflict(_)) => {}
            Err(e) => return Err(anyhow::anyhow!("{e}")).context("seeding the firmware catalog"),
        }
    }
    Ok(())
}

/// Seeds the demo and starts its fleet inside the server's process.
pub async fn start(
    server: &mut RunningServer,
    data_dir: &Path,
    appliances: usize,
) -> anyhow::Result<()> {
    let dir = data_dir.join("demo");
    demo_portal(server, &dir).await?;
    let licenses = demo_licenses(&server.admin, &dir, appliances).await?;
    demo_firmware_catalog(&*server.table).await?;
    let firmware = FirmwareVersion::parse("14.0.2")?;
    // Backups use SPEC 6.2's default KDF (64 MiB, 3 passes, 4 lanes), as a real
    // appliance would.
    let options = rampart_agent::AgentOptions::from_env()
        .with_pin(demo_pin(&dir)?)
        .with_backup_password(demo_backup_password(&dir)?);
    let handles = fleet::spawn_fleet_with(
        &server.base_url,
        licenses,
        &dir.join("agents"),
        firmware,
        &options,
    )?;
    for h in handles {
        server.adopt(tokio::spawn(async move {
            if let Ok(Err(e)) = h.await {
                tracing::error!(error = format!("{e:#}"), "demo appliance stopped");
            }
        }));
    }
    let admin = server.admin.clone();
    server.adopt(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            match admin.fleet().await {
                Ok(rows) => {
                    let connected = rows
                        .iter()
                        .filter(|r| r.status == ConnectionStatus::Connected)
                        .count();
                    tracing::info!(
                        connected,
                        disconnected = rows.len() - connected,
                        "fleet status"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "fleet status unavailable"),
            }
        }
    }));
    tracing::info!(
        appliances,
        status = %format!("{}/v1/admin/appliances", server.base_url),
        token_file = %data_dir.join("secrets/operator.token").display(),
        "demo fleet started"
    );
    tracing::info!(
        "portal: rampart login --server {} --email {DEMO_ADMIN} --password-file {}",
        server.base_url,
        dir.join("admin-password.txt").display()
    );
    tracing::info!(
        "the demo appliances' PIN is in {}",
        dir.join("pin.txt").display()
    );
    tracing::info!(
        "the demo appliances' backup password is in {}",
        dir.join("backup-password.txt").display()
    );
    Ok(())
}
