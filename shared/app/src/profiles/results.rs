//! What an appliance reports about the sections it was sent: stored as each
//! section's transfer status and logged appliance→console. Idempotent: a result
//! already recorded (or about a version no longer current) changes nothing. An
//! applied cloud backup schedule section drives the console's regular backup.

use rampart_domain::Timestamp;
use rampart_domain::backup_schedule::next_run;
use rampart_domain::comm_log::{Direction, LogFields, LogStatus, sanitize_info};
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::portal_protocol::BackupSchedule;
use rampart_domain::profile::{
    ConfigResultRequest, ConfigResultResponse, Section, SectionOutcome, SectionTransfer,
    TransferState,
};
use rampart_ports::{Condition, StoreError, Table, TransactOp};
use std::collections::BTreeMap;

use crate::appliance_log::{Appended, append_changing_appliance};
use crate::backups::schedule::{DUE_ATTR, move_due, schedule_of};
use crate::error::ApiError;
use crate::records::appliance::ApplianceRecord;
use crate::records::profile::{
    StoredConfig, config_from_item, config_key, transfers_update, withheld_from_item,
    withheld_update,
};
use crate::store_keys;

fn state_of(outcome: SectionOutcome) -> TransferState {
    match outcome {
        SectionOutcome::Applied => TransferState::Applied,
        SectionOutcome::Refused => TransferState::Refused,
        SectionOutcome::Failed => TransferState::Failed,
    }
}

/// The transfer statuses `req` changes. Pure.
pub fn changes(
    stored: &StoredConfig,
    req: &ConfigResultRequest,
    now: Timestamp,
) -> BTreeMap<Section, SectionTransfer> {
    let mut out = BTreeMap::new();
    for r in &req.results {
        if stored.config.section_version(r.section) != Some(r.version) {
            continue;
        }
        let state = state_of(r.result);
        let info = r
            .info
            .as_deref()
            .map(sanitize_info)
            .filter(|i| !i.is_empty());
        if stored
            .transfers
            .get(&r.section)
            .is_some_and(|t| t.version == r.version && t.state == state && t.info == info)
        {
            continue;
        }
        out.insert(
            r.section,
            SectionTransfer {
                version: r.version,
                state,
                info,
                at: now.to_rfc3339(),
            },
        );
    }
    out
}

pub async fn record(
    table: &dyn Table,
    tenant: &TenantId,
    appliance: &ApplianceId,
    req: &ConfigResultRequest,
    now: Timestamp,
) -> Result<ConfigResultResponse, ApiError> {
    let key = config_key(tenant, appliance);
    let item = table.get(&key).await?;
    let stored = config_from_item(item.as_ref()).map_err(|e| ApiError::Unavailable(e.into()))?;
    let changed = changes(&stored, req, now);
    let total = req.results.len() as u32;
    if changed.is_empty() || item.is_none() {
        return Ok(ConfigResultResponse {
            recorded: 0,
            ignored: total,
        });
    }
    let status = if changed.values().any(|t| t.state == TransferState::Failed) {
        LogStatus::Error
    } else if changed.values().any(|t| t.state == TransferState::Refused) {
        LogStatus::Refused
    } else {
        LogStatus::Ok
    };
    let parts: Vec<String> = changed
        .iter()
        .map(|(s, t)| {
            let state = t.state.as_str();
            match &t.info {
                Some(info) => format!("{s} v{} {state}: {info}", t.version),
                None => format!("{s} v{} {state}", t.version),
            }
        })
        .collect();
    let fields = LogFields {
        time: now,
        job: None,
        direction: Direction::ApplianceToConsole,
        status,
        info: sanitize_info(&format!(
            "configuration v{}: {}",
            req.config_version,
            parts.join("; ")
        )),
    };
    let appended = append_changing_appliance(
        table,
        tenant,
        appliance,
        fields,
        vec![TransactOp::Update(
            key.clone(),
            transfers_update(&changed),
            Some(Condition::Exists),
        )],
        |item| {
            // A refusal waits for the appliance to allow the section; anything
            // else ends the wait.
            let mut w = withheld_from_item(item);
            for (s, t) in &changed {
                if t.state == TransferState::Refused {
                    w.insert(*s);
                } else {
                    w.remove(s);
                }
            }
            withheld_update(&w)
        },
        || async { Ok(true) },
    )
    .await?;
    if appended == Appended::Done
        && changed
            .get(&Section::CloudBackupSchedule)
            .is_some_and(|t| t.state == TransferState::Applied)
        && let Some(schedule) = stored.config.content.cloud_backup_schedule
    {
        adopt_backup_schedule(table, tenant, appliance, &schedule, now).await?;
    }
    match appended {
        Appended::Done => Ok(ConfigResultResponse {
            recorded: changed.len() as u32,
            ignored: total - changed.len() as u32,
        }),
        Appended::NoAppliance => Err(ApiError::UnknownAppliance),
        Appended::Refused => Err(ApiError::Unavailable(anyhow::anyhow!(
            "the configuration result could not be recorded"
        ))),
    }
}

/// An applied cloud backup schedule section becomes the appliance's regular-backup
/// schedule (as if set by `PUT .../backup-schedule`), its next run moved to match.
/// A removed section leaves the schedule as it was.
async fn adopt_backup_schedule(
    table: &dyn Table,
    tenant: &TenantId,
    appliance: &ApplianceId,
    schedule: &BackupSchedule,
    now: Timestamp,
) -> Result<(), ApiError> {
    let key = store_keys::appliance(tenant, appliance);
    for _ in 0..ATTEMPTS {
        let Some(item) = table.get(&key).await? else {
            return Ok(());
        };
        if &schedule_of(&item) == schedule {
            return Ok(());
        }
        let offset = ApplianceRecord::try_from(&item)
            .ok()
            .and_then(|r| r.report)
            .and_then(|r| r.utc_offset_minutes)
            .unwrap_or(0);
        let old = item.i64(DUE_ATTR).map(Timestamp::from_millis);
        let new = next_run(schedule, offset, now);
        match table
            .transact(move_due(tenant, appliance, old, new, schedule))
            .await
        {
            Ok(()) => return Ok(()),
            Err(StoreError::TransactionCanceled | StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable(anyhow::anyhow!(
        "the backup schedule kept changing while adopting the profile's"
    )))
}

/// Writers moving one appliance's backup schedule at once: the loser reads again.
const ATTEMPTS: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_domain::profile::{EffectiveConfig, ProfileName, SectionOrigin, SectionResult};

    #[test]
    fn only_new_results_about_current_versions_count() {
        let mut stored = StoredConfig {
            config: EffectiveConfig {
                version: 3,
                origins: BTreeMap::from([(
                    Section::Fail2ban,
                    SectionOrigin {
                        version: 3,
                        profile: ProfileName::parse("p").unwrap(),
                        profile_version: 2,
                        via: "appliance".into(),
                    },
                )]),
                removed: BTreeMap::from([(Section::Vpn, 2)]),
                ..EffectiveConfig::default()
            },
            ..StoredConfig::default()
        };
        let r = |section, version, result| SectionResult {
            section,
            version,
            result,
            info: None,
        };
        let req = ConfigResultRequest {
            config_version: 3,
            results: vec![
                r(Section::Fail2ban, 3, SectionOutcome::Applied),
                r(Section::Vpn, 1, SectionOutcome::Applied),
            ],
        };
        let now = Timestamp::from_secs(100);
        let first = changes(&stored, &req, now);
        assert_eq!(
            first.keys().copied().collect::<Vec<_>>(),
            vec![Section::Fail2ban]
        );
        stored.transfers = first;
        assert!(
            changes(&stored, &req, now).is_empty(),
            "a repeat changes nothing"
        );
    }
}
