//! `rampart profiles ...`: configuration profiles (SPEC 8) through the portal API.
//!
//! `list`, `show` (any version), `save` from a JSON or YAML file of sections (a new
//! version when the profile exists), `delete`, `assign`/`unassign` to an appliance
//! or a tag, `assignments`, and `status APPLIANCE`: the appliance's effective
//! configuration with each section's transfer status. Tables by default, `--json`
//! for the wire types. Exit codes as in [`crate::portal_cmd::EXIT_CODES`].

use crate::list_pages::write_page;
use crate::portal_client::PageQuery;
use crate::portal_cmd::{
    PortalOpts, dash, parse_appliance_id, parse_tenant, render_table, signed_in, write_fields,
    write_json,
};
use anyhow::Context;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::profile::{
    AssignmentKind, AssignmentView, ConfigurationView, ProfileName, ProfileSections,
    ProfileSummary, ProfileView, SaveProfile, SectionTransfer,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest profile file read (a profile's sections are a few KiB at most).
const MAX_FILE_BYTES: u64 = 256 * 1024;

pub fn parse_profile_name(s: &str) -> Result<ProfileName, String> {
    ProfileName::parse(s).map_err(|e| e.to_string())
}

/// An appliance or a tag, as `assign` and `unassign` take them.
#[derive(clap::Args, Clone, Debug)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// Assign to this appliance (its own profile wins over its tags' profiles).
    #[arg(long, value_parser = parse_appliance_id)]
    appliance: Option<ApplianceId>,
    /// Assign to every appliance with this tag.
    #[arg(long)]
    tag: Option<String>,
}

impl Target {
    fn parts(&self) -> (AssignmentKind, String) {
        match (&self.appliance, &self.tag) {
            (Some(a), _) => (AssignmentKind::Appliance, a.to_string()),
            (None, Some(t)) => (AssignmentKind::Tag, t.clone()),
            (None, None) => unreachable!("clap requires one of --appliance and --tag"),
        }
    }
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum ProfilesCommand {
    /// The tenant's profiles: newest version and sections of each.
    List {
        /// The tenant [default: your own].
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One profile with its sections (the newest version, or --version).
    Show {
        #[arg(value_parser = parse_profile_name)]
        name: ProfileName,
        #[arg(long)]
        version: Option<u64>,
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Create a profile, or save its next version, from a JSON or YAML file of
    /// sections (e.g. `fail2ban: {enabled: true, max_retries: 5, ban_time_secs: 600}`).
    Save {
        #[arg(value_parser = parse_profile_name)]
        name: ProfileName,
        /// The sections file (.json, or YAML otherwise).
        file: PathBuf,
        /// Refuse unless the profile is at this version (0: must be new).
        #[arg(long)]
        expected_version: Option<u64>,
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Delete a profile with all its versions (refused while assigned).
    Delete {
        #[arg(value_parser = parse_profile_name)]
        name: ProfileName,
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Assign a profile to an appliance or a tag (replacing what it had).
    Assign {
        #[arg(value_parser = parse_profile_name)]
        name: ProfileName,
        #[command(flatten)]
        target: Target,
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Remove the profile assignment of an appliance or a tag.
    Unassign {
        #[command(flatten)]
        target: Target,
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
    /// Which profile each appliance and tag has.
    Assignments {
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// An appliance's effective configuration and the transfer status of each
    /// section.
    Status {
        #[arg(value_parser = parse_appliance_id)]
        appliance: ApplianceId,
        #[arg(long, value_parser = parse_tenant)]
        tenant: Option<TenantId>,
    },
}

/// Reads a sections file: JSON when it ends in `.json`, YAML otherwise.
pub fn read_sections(path: &Path) -> anyhow::Result<ProfileSections> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= MAX_FILE_BYTES,
        "{}: larger than {MAX_FILE_BYTES} bytes",
        path.display()
    );
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let sections: ProfileSections = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid sections", path.display()))?
    } else {
        serde_yaml::from_str(&text)
            .with_context(|| format!("{}: not valid sections", path.display()))?
    };
    sections
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(!sections.is_empty(), "{}: no section", path.display());
    Ok(sections)
}

pub async fn profiles(
    opts: &PortalOpts,
    command: ProfilesCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let s = signed_in(opts)?;
    match command {
        ProfilesCommand::List {
            tenant,
            limit,
            cursor,
        } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let page = s
                .client
                .profiles(&tenant, &PageQuery { limit, cursor })
                .await?;
            write_page(out, opts.json, &page, print_profiles, "more profiles:")
        }
        ProfilesCommand::Show {
            name,
            version,
            tenant,
        } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let p = s.client.profile(&tenant, &name, version).await?;
            if opts.json {
                write_json(out, &p)
            } else {
                print_profile(&p, out)
            }
        }
        ProfilesCommand::Save {
            name,
            file,
            expected_version,
            tenant,
        } => {
            let sections = read_sections(&file)?;
            let tenant = s.tenant_or_own(tenant).await?;
            let p = s
                .client
                .save_profile(
                    &tenant,
                    &name,
                    &SaveProfile {
                        sections,
                        expected_version,
                    },
                )
                .await?;
            if opts.json {
                write_json(out, &p)
            } else {
                writeln!(out, "Saved {} version {}.", p.name, p.version)?;
                Ok(())
            }
        }
        ProfilesCommand::Delete { name, tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            s.client.delete_profile(&tenant, &name).await?;
            if opts.json {
                write_json(out, &serde_json::json!({"deleted": name}))
            } else {
                writeln!(out, "Deleted {name}.")?;
                Ok(())
            }
        }
        ProfilesCommand::Assign {
            name,
            target,
            tenant,
        } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let (kind, target) = target.parts();
            let a = s
                .client
                .assign_profile(&tenant, kind, &target, &name)
                .await?;
            if opts.json {
                write_json(out, &a)
            } else {
                writeln!(
                    out,
                    "Assigned {} to {} {}.",
                    a.profile,
                    kind.as_str(),
                    a.target
                )?;
                Ok(())
            }
        }
        ProfilesCommand::Unassign { target, tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let (kind, target) = target.parts();
            s.client.unassign_profile(&tenant, kind, &target).await?;
            if opts.json {
                write_json(
                    out,
                    &serde_json::json!({"unassigned": {"kind": kind, "target": target}}),
                )
            } else {
                writeln!(out, "Unassigned {} {target}.", kind.as_str())?;
                Ok(())
            }
        }
        ProfilesCommand::Assignments {
            tenant,
            limit,
            cursor,
        } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let page = s
                .client
                .profile_assignments(&tenant, &PageQuery { limit, cursor })
                .await?;
            write_page(
                out,
                opts.json,
                &page,
                print_assignments,
                "more assignments:",
            )
        }
        ProfilesCommand::Status { appliance, tenant } => {
            let tenant = s.tenant_or_own(tenant).await?;
            let view = s
                .client
                .appliance_configuration(&tenant, &appliance)
                .await?;
            if opts.json {
                write_json(out, &view)
            } else {
                print_status(&view, out)
            }
        }
    }
}

pub fn print_profiles(items: &[ProfileSummary], out: &mut impl Write) -> anyhow::Result<()> {
    if items.is_empty() {
        writeln!(out, "No profiles.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|p| {
            let sections: Vec<&str> = p.sections.iter().map(|s| s.as_str()).collect();
            vec![
                p.name.to_string(),
                p.version.to_string(),
                sections.join(","),
                p.updated_at.clone(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["NAME", "VERSION", "SECTIONS", "UPDATED"], &rows)
    )?;
    Ok(())
}

pub fn print_profile(p: &ProfileView, out: &mut impl Write) -> anyhow::Result<()> {
    write_fields(
        out,
        &[
            ("Profile", p.name.to_string()),
            ("Version", p.version.to_string()),
            ("Updated", format!("{} by {}", p.updated_at, p.updated_by)),
        ],
    )?;
    for section in p.sections.present() {
        let content = p
            .sections
            .section_json(section)
            .map(|v| v.to_string())
            .unwrap_or_default();
        writeln!(out, "  {section}: {content}")?;
    }
    Ok(())
}

pub fn print_assignments(items: &[AssignmentView], out: &mut impl Write) -> anyhow::Result<()> {
    if items.is_empty() {
        writeln!(out, "No assignments.")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|a| {
            vec![
                a.kind.as_str().to_owned(),
                a.target.clone(),
                a.profile.to_string(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render_table(&["KIND", "TARGET", "PROFILE"], &rows)
    )?;
    Ok(())
}

fn transfer_cells(t: Option<&SectionTransfer>) -> (String, String) {
    match t {
        None => ("pending".into(), "-".into()),
        Some(t) => (t.state.as_str().to_owned(), dash(t.info.as_deref())),
    }
}

pub fn print_status(v: &ConfigurationView, out: &mut impl Write) -> anyhow::Result<()> {
    let withheld: Vec<&str> = v.withheld.iter().map(|s| s.as_str()).collect();
    write_fields(
        out,
        &[
            ("Appliance", v.appliance.to_string()),
            (
                "Version",
                format!("{} (the appliance holds {})", v.version, v.held_version),
            ),
            (
                "Withheld",
                if withheld.is_empty() {
                    "-".into()
                } else {
                    withheld.join(", ")
                },
            ),
        ],
    )?;
    if v.sections.is_empty() && v.removed.is_empty() {
        writeln!(out, "No configuration assigned.")?;
        return Ok(());
    }
    let mut rows: Vec<Vec<String>> = v
        .sections
        .iter()
        .map(|s| {
            let (state, info) = transfer_cells(s.transfer.as_ref());
            vec![
                s.section.to_string(),
                s.version.to_string(),
                format!("{} v{}", s.profile, s.profile_version),
                s.via.clone(),
                state,
                info,
            ]
        })
        .collect();
    rows.extend(v.removed.iter().map(|r| {
        let (state, info) = transfer_cells(r.transfer.as_ref());
        vec![
            r.section.to_string(),
            r.version.to_string(),
            "(removed)".into(),
            "-".into(),
            state,
            info,
        ]
    }));
    write!(
        out,
        "{}",
        render_table(
            &["SECTION", "VERSION", "PROFILE", "VIA", "TRANSFER", "INFO"],
            &rows
        )
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_files_are_read_as_json_or_yaml_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("branch.yaml");
        std::fs::write(
            &yaml,
            "fail2ban: {enabled: true, max_retries: 5, ban_time_secs: 600}\ncloud_shield:\n  enabled: true\n",
        )
        .unwrap();
        let s = read_sections(&yaml).unwrap();
        assert_eq!(s.present().len(), 2);
        let json = dir.path().join("branch.json");
        std::fs::write(&json, r#"{"cloud_shield": {"enabled": false}}"#).unwrap();
        assert!(!read_sections(&json).unwrap().cloud_shield_active());
        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            "fail2ban: {enabled: true, max_retries: 0, ban_time_secs: 600}\n",
        )
        .unwrap();
        assert!(
            read_sections(&bad)
                .unwrap_err()
                .to_string()
                .contains("max_retries")
        );
        std::fs::write(&bad, "firewall: {}\n").unwrap();
        assert!(read_sections(&bad).is_err());
    }
}
