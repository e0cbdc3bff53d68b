//! Configuration changes at check-in. The check-in's own write returns the
//! appliance item, whose `config_desired` and `config_withheld` tell [`due`]
//! whether anything is to send; only then is the configuration read
//! ([`at_checkin`]), so an idle check-in stays one write.
//!
//! A section the reported authorizations do not allow is not sent (SPEC 3.3: the
//! console refuses what it already knows is not allowed): it is marked withheld,
//! and sent by the first check-in whose authorizations allow it, whatever version
//! the appliance holds by then.

use rampart_domain::Timestamp;
use rampart_domain::comm_log::{Direction, LogFields, LogStatus, sanitize_info};
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::profile::{
    ConfigurationChange, Section, SectionTransfer, TransferState, section_refusal,
};
use rampart_domain::report::CheckinReport;
use rampart_ports::{Condition, Item, Table, TransactOp};
use std::collections::{BTreeMap, BTreeSet};

use crate::appliance_log::{Appended, append_changing_appliance};
use crate::error::ApiError;
use crate::records::profile::{
    CONFIG_DESIRED, config_from_item, config_key, transfers_update, withheld_from_item,
    withheld_update,
};

/// What a check-in is due: changes after the version it holds, and sections
/// withheld earlier that its authorizations now allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub resend: BTreeSet<Section>,
}

/// Reads only the appliance item the check-in wrote. Pure.
pub fn due(item: &Item, report: &CheckinReport) -> Option<Due> {
    let desired = item
        .i64(CONFIG_DESIRED)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0);
    let resend: BTreeSet<Section> = withheld_from_item(item)
        .into_iter()
        .filter(|s| section_refusal(&report.authorizations, *s).is_none())
        .collect();
    (desired > report.config_version || !resend.is_empty()).then_some(Due { resend })
}

/// Reads the configuration, sends what changed and is allowed, withholds the rest,
/// and logs the transfer with the status of each section.
pub async fn at_checkin(
    table: &dyn Table,
    tenant: &TenantId,
    appliance: &ApplianceId,
    report: &CheckinReport,
    due: &Due,
    now: Timestamp,
) -> Result<Option<ConfigurationChange>, ApiError> {
    let key = config_key(tenant, appliance);
    let Some(item) = table.get(&key).await? else {
        return Ok(None);
    };
    let stored = config_from_item(Some(&item)).map_err(|e| ApiError::Unavailable(e.into()))?;
    let mut change = stored
        .config
        .changes_since(report.config_version, &due.resend);
    let mut sent = Vec::new();
    let mut withheld = BTreeMap::new();
    for s in change.sections() {
        let version = change.section_versions.get(&s).copied().unwrap_or(0);
        match section_refusal(&report.authorizations, s) {
            None => sent.push((s, version)),
            Some(reason) => {
                change.set.remove(s);
                change.removed.retain(|r| *r != s);
                change.section_versions.remove(&s);
                withheld.insert(s, (version, reason));
            }
        }
    }
    if sent.is_empty() && withheld.is_empty() {
        // Nothing to hand over, but the appliance may catch up on the version.
        return Ok((change.version > report.config_version).then_some(change));
    }
    let at = now.to_rfc3339();
    let mut transfers = BTreeMap::new();
    for (s, version) in &sent {
        transfers.insert(
            *s,
            SectionTransfer {
                version: *version,
                state: TransferState::Sent,
                info: None,
                at: at.clone(),
            },
        );
    }
    for (s, (version, reason)) in &withheld {
        transfers.insert(
            *s,
            SectionTransfer {
                version: *version,
                state: TransferState::Withheld,
                info: Some(reason.clone()),
                at: at.clone(),
            },
        );
    }
    let fields = LogFields {
        time: now,
        job: None,
        direction: Direction::ConsoleToAppliance,
        status: if sent.is_empty() {
            LogStatus::Refused
        } else {
            LogStatus::Ok
        },
        info: sanitize_info(&describe(change.version, &sent, &withheld)),
    };
    let sent_sections: BTreeSet<Section> = sent.iter().map(|(s, _)| *s).collect();
    let newly_withheld: BTreeSet<Section> = withheld.keys().copied().collect();
    let appended = append_changing_appliance(
        table,
        tenant,
        appliance,
        fields,
        vec![TransactOp::Update(
            key.clone(),
            transfers_update(&transfers),
            Some(Condition::Exists),
        )],
        |item| {
            let mut w = withheld_from_item(item);
            w.retain(|s| !sent_sections.contains(s));
            w.extend(newly_withheld.iter().copied());
            withheld_update(&w)
        },
        || async { Ok(table.get(&key).await?.is_some()) },
    )
    .await?;
    Ok(match appended {
        Appended::Done => Some(change),
        Appended::NoAppliance | Appended::Refused => None,
    })
}

/// The log line of a transfer: what was sent, what was withheld and why.
fn describe(
    version: u64,
    sent: &[(Section, u64)],
    withheld: &BTreeMap<Section, (u64, String)>,
) -> String {
    let mut parts = Vec::new();
    if !sent.is_empty() {
        let list: Vec<String> = sent.iter().map(|(s, v)| format!("{s} v{v}")).collect();
        parts.push(format!("sent {}", list.join(", ")));
    }
    if !withheld.is_empty() {
        let list: Vec<String> = withheld
            .iter()
            .map(|(s, (v, why))| format!("{s} v{v} ({why})"))
            .collect();
        parts.push(format!("withheld {}", list.join(", ")));
    }
    format!("configuration v{version}: {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::profile::CONFIG_WITHHELD;
    use rampart_ports::{Key, Value};

    fn report(config_version: u64, vpn_allowed: bool) -> CheckinReport {
        let mut r: CheckinReport = serde_json::from_value(serde_json::json!({
            "firmware": "14.1", "hostname": "fw", "model": "UTM",
            "cpu_percent": 1, "memory_percent": 2, "disk_percent": 3, "uptime_secs": 4,
            "authorizations": {"utm_profiles": true}
        }))
        .unwrap();
        r.config_version = config_version;
        r.authorizations.vpn_configuration = vpn_allowed;
        r
    }

    #[test]
    fn due_only_when_behind_or_a_withheld_section_is_now_allowed() {
        let idle = Item::new(Key::new("p", "s"));
        assert_eq!(due(&idle, &report(0, true)), None);
        let behind = idle.clone().with(CONFIG_DESIRED, 3i64);
        assert!(due(&behind, &report(2, true)).is_some());
        assert_eq!(due(&behind, &report(3, true)), None);
        let withheld = behind
            .clone()
            .with(CONFIG_WITHHELD, Value::L(vec![Value::S("vpn".into())]));
        assert_eq!(due(&withheld, &report(3, false)), None, "still not allowed");
        assert_eq!(
            due(&withheld, &report(3, true)),
            Some(Due {
                resend: BTreeSet::from([Section::Vpn])
            })
        );
    }

    #[test]
    fn the_log_line_names_sent_and_withheld_sections() {
        let line = describe(
            4,
            &[(Section::Fail2ban, 4)],
            &BTreeMap::from([(
                Section::Vpn,
                (3, "not authorized: vpn_configuration is off".into()),
            )]),
        );
        assert_eq!(
            line,
            "configuration v4: sent fail2ban v4; withheld vpn v3 (not authorized: vpn_configuration is off)"
        );
    }
}
