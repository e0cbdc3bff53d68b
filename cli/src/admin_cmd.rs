//! `rampart admin ...`: operator commands that work on the store directly (the
//! embedded data dir, or the AWS resources named by the environment).

use chrono::NaiveDate;
use rampart_app::admin::{AdminService, ApplianceStatus};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::firmware_catalog::FirmwareRelease;
use rampart_domain::ids::{ClusterId, Serial, TenantId};
use rampart_domain::license::{ClusterMembership, ClusterRole, NewLicense};
use std::io::Write;

#[derive(Clone, Debug, clap::ValueEnum)]
pub enum Role {
    Master,
    Spare,
}

pub struct LicenseArgs {
    pub serial: String,
    pub tenant: String,
    pub product: String,
    pub expires: String,
    pub cluster_id: Option<String>,
    pub role: Option<Role>,
}

pub fn parse_new_license(a: &LicenseArgs) -> anyhow::Result<NewLicense> {
    let cluster = match (&a.cluster_id, &a.role) {
        (Some(id), role) => Some(ClusterMembership {
            id: ClusterId::parse(id)?,
            role: match role {
                Some(Role::Spare) => ClusterRole::Spare,
                _ => ClusterRole::Master,
            },
        }),
        (None, Some(_)) => anyhow::bail!("--role needs --cluster-id"),
        (None, None) => None,
    };
    Ok(NewLicense {
        serial: Serial::parse(&a.serial)?,
        tenant: TenantId::parse(&a.tenant)?,
        product: a.product.clone(),
        expires: NaiveDate::parse_from_str(&a.expires, "%Y-%m-%d")
            .map_err(|_| anyhow::anyhow!("--expires: a date like 2027-12-31"))?,
        cluster,
    })
}

/// Registers licenses and prints `SERIAL SECRET` lines (or JSON), the only time
/// the secrets are shown.
pub async fn add_licenses(
    admin: &AdminService,
    licenses: Vec<NewLicense>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for new in licenses {
        let (license, secret) = admin
            .add_license(new)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        rows.push((license, secret));
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(l, s)| {
                serde_json::json!({
                    "serial": l.serial, "tenant": l.tenant, "expires": l.expires.to_string(),
                    "license_secret": s,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for (l, s) in &rows {
            writeln!(out, "{} {}", l.serial, s)?;
        }
    }
    Ok(())
}

pub fn print_appliances(
    rows: &[ApplianceStatus],
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(rows)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<14} {:<16} {:<22} {:<9} {:<13} {:>5} {:>5} {:>5}  LAST CHECK-IN",
        "TENANT", "SERIAL", "HOSTNAME", "FIRMWARE", "STATUS", "CPU%", "MEM%", "DISK%"
    )?;
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.0}"));
    for r in rows {
        writeln!(
            out,
            "{:<14} {:<16} {:<22} {:<9} {:<13} {:>5} {:>5} {:>5}  {}",
            r.tenant.as_str(),
            r.serial.as_str(),
            r.hostname,
            r.firmware,
            format!("{:?}", r.status),
            pct(r.cpu_percent),
            pct(r.memory_percent),
            pct(r.disk_percent),
            r.last_checkin.as_deref().unwrap_or("never"),
        )?;
    }
    Ok(())
}

/// Creates the first reseller administrator and prints, once, how to sign in.
pub async fn bootstrap(
    table: &dyn rampart_ports::Table,
    tenant: &str,
    name: &str,
    email: &str,
    server: &str,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let tenant = TenantId::parse(tenant)?;
    let email = rampart_domain::tenancy::Email::parse(email)?;
    let now = rampart_domain::Timestamp::now_system();
    let done = rampart_app::portal::bootstrap(table, now, tenant, name.to_owned(), email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if json {
        let v = serde_json::json!({
            "tenant": done.tenant, "email": done.email, "initial_password": done.initial_password,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(
            out,
            "Reseller {} and its administrator {} are created.",
            done.tenant, done.email
        )?;
        writeln!(
            out,
            "Initial password (shown only now): {}",
            done.initial_password
        )?;
        writeln!(
            out,
            "Finish sign-in, which sets up two-factor authentication (TOTP):"
        )?;
        writeln!(
            out,
            "  rampart login --server {server} --email {}",
            done.email
        )?;
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum FirmwareCommand {
    /// Add a version to the catalog.
    Add {
        /// The version, e.g. 14.1.2.
        version: String,
        /// Release day, YYYY-MM-DD.
        #[arg(long)]
        released: String,
        /// The release fixes security problems: older appliances get "security
        /// update highly recommended".
        #[arg(long)]
        security: bool,
        /// A short note (up to 256 characters).
        #[arg(long)]
        notes: Option<String>,
    },
    /// List the catalog, oldest version first.
    List,
    /// Remove a version from the catalog.
    Remove { version: String },
}

pub async fn firmware(
    admin: &AdminService,
    command: FirmwareCommand,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let parse_version = |v: &str| {
        FirmwareVersion::parse(v).map_err(|e| anyhow::anyhow!("version {v:?}: {}", e.reason))
    };
    match command {
        FirmwareCommand::Add {
            version,
            released,
            security,
            notes,
        } => {
            let release = FirmwareRelease {
                version: parse_version(&version)?,
                released: NaiveDate::parse_from_str(&released, "%Y-%m-%d")
                    .map_err(|_| anyhow::anyhow!("--released: a date like 2026-11-30"))?,
                security,
                notes,
            };
            admin
                .add_firmware(release.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&release)?)?;
            } else {
                writeln!(out, "Added firmware {} to the catalog.", release.version)?;
            }
            Ok(())
        }
        FirmwareCommand::List => {
            let rows = admin
                .firmware_catalog()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
                Ok(())
            } else {
                crate::fleet_cmd::print_firmware(&rows, out)
            }
        }
        FirmwareCommand::Remove { version } => {
            let v = parse_version(&version)?;
            admin.remove_firmware(v).await.map_err(|e| match e {
                rampart_app::ApiError::NotFound => {
                    anyhow::anyhow!("firmware {v} is not in the catalog")
                }
                e => anyhow::anyhow!("{e}"),
            })?;
            if json {
                writeln!(out, "{}", serde_json::json!({"removed": v.to_string()}))?;
            } else {
                writeln!(out, "Removed firmware {v} from the catalog.")?;
            }
            Ok(())
        }
    }
}

pub async fn expire(
    admin: &AdminService,
    dry_run: bool,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let report = admin
        .expire_licenses(dry_run)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    let verb = if dry_run { "Would remove" } else { "Removed" };
    writeln!(out, "{verb} {} appliance(s):", report.removed.len())?;
    for r in &report.removed {
        writeln!(
            out,
            "  {} {} ({}): {}",
            r.tenant.as_str(),
            r.serial.as_str(),
            r.appliance.as_str(),
            r.reason
        )?;
    }
    writeln!(
        out,
        "Kept {} because a VPN configuration references them:",
        report.kept_for_vpn.len()
    )?;
    for k in &report.kept_for_vpn {
        writeln!(
            out,
            "  {} {} ({}): {}; referenced by {}",
            k.appliance.tenant.as_str(),
            k.appliance.serial.as_str(),
            k.appliance.appliance.as_str(),
            k.appliance.reason,
            k.profiles.join(", ")
        )?;
    }
    Ok(())
}

pub async fn removed(admin: &AdminService, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let rows = admin
        .removed_appliances()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let views: Vec<_> = rows.iter().map(|r| r.view()).collect();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&views)?)?;
        Ok(())
    } else {
        crate::fleet_cmd::print_removed(&views, out)
    }
}
