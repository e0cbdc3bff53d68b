//! `rampart appliances apps|cluster|removed|firmware`: an appliance's applications,
//! its cluster, the tenant's appliances removed for an expired license, and the
//! firmware catalog, through the portal API.

use rampart_domain::applications::{ApplicationSort, ApplicationView, SortDirection};
use rampart_domain::firmware_catalog::FirmwareRelease;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::portal_protocol::{ClusterView, RemovedAppliance};
use std::io::Write;

use crate::list_pages::every_page;
use crate::portal_client::PortalClient;
use crate::portal_cmd::{
    SignedIn, dash, indent, render_table, wire_name, write_fields, write_json,
};

pub async fn applications(
    s: &SignedIn,
    tenant: &TenantId,
    id: &ApplianceId,
    sort: ApplicationSort,
    order: SortDirection,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let client: &PortalClient = &s.client;
    let rows = every_page(|c| async move {
        client
            .applications(tenant, id, sort, order, c.as_deref())
            .await
    })
    .await?;
    if json {
        return write_json(out, &rows);
    }
    print_applications(&rows, out)
}

pub fn print_applications(rows: &[ApplicationView], out: &mut impl Write) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "No applications reported.")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|a| vec![a.name.clone(), wire_name(&a.state)])
        .collect();
    write!(out, "{}", render_table(&["NAME", "STATE"], &cells))?;
    Ok(())
}

pub async fn removed(
    s: &SignedIn,
    tenant: &TenantId,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let client: &PortalClient = &s.client;
    let rows = every_page(|c| async move { client.removed_appliances(tenant, c.as_deref()).await })
        .await?;
    if json {
        return write_json(out, &rows);
    }
    print_removed(&rows, out)
}

pub fn print_removed(rows: &[RemovedAppliance], out: &mut impl Write) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "No appliances removed.")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.tenant.to_string(),
                r.serial.to_string(),
                r.appliance.to_string(),
                dash(
                    Some(&r.hostname)
                        .filter(|h| !h.is_empty())
                        .map(|h| h.as_str()),
                ),
                r.removed_at.clone(),
                r.reason.clone(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(
            &["TENANT", "SERIAL", "APPLIANCE", "NAME", "REMOVED", "WHY"],
            &cells
        )
    )?;
    Ok(())
}

pub async fn firmware(s: &SignedIn, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let client: &PortalClient = &s.client;
    let rows = every_page(|c| async move { client.firmware_catalog(c.as_deref()).await }).await?;
    if json {
        return write_json(out, &rows);
    }
    print_firmware(&rows, out)
}

pub fn print_firmware(rows: &[FirmwareRelease], out: &mut impl Write) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "The firmware catalog is empty.")?;
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.version.to_string(),
                r.released.to_string(),
                if r.security { "yes" } else { "no" }.to_owned(),
                dash(r.notes.as_deref()),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["VERSION", "RELEASED", "SECURITY", "NOTES"], &cells)
    )?;
    Ok(())
}

/// The cluster of SPEC 4.5: id, state, this side's role and sync, and the partner
/// (serial, role, status, firmware, sync, link).
pub fn print_cluster(c: &ClusterView, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "Cluster {}:", c.cluster_id)?;
    let mut rows = vec![
        ("State", wire_name(&c.state)),
        ("Role", c.role.clone()),
        ("Sync", c.sync.as_ref().map_or("-".to_owned(), wire_name)),
    ];
    match &c.partner {
        Some(p) => {
            rows.push(("Partner", format!("{} ({})", p.serial, p.role)));
            rows.push((
                "Partner appliance",
                p.appliance_id
                    .as_ref()
                    .map_or("not enrolled".to_owned(), |id| id.to_string()),
            ));
            rows.push((
                "Partner status",
                p.status.as_ref().map_or("-".to_owned(), wire_name),
            ));
            rows.push(("Partner firmware", dash(p.firmware.as_deref())));
            rows.push((
                "Partner sync",
                p.sync.as_ref().map_or("-".to_owned(), wire_name),
            ));
            rows.push(("Partner link", dash(p.link.as_deref())));
        }
        None => rows.push(("Partner", "-".to_owned())),
    }
    let mut buf = Vec::new();
    write_fields(&mut buf, &rows)?;
    write!(out, "{}", indent(&String::from_utf8_lossy(&buf)))?;
    Ok(())
}
