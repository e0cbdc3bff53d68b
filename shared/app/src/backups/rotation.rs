//! Rotation (SPEC 6.4) on the store: the pure plan of `rampart_domain::backup` run
//! over one license's index, then every backup it does not keep is deleted, object
//! first and index entry second. A failure half-way leaves an index entry whose
//! object is already gone; the next run deletes it (deleting a missing object is no
//! error), so a rerun converges and nothing that should stay is touched.
//!
//! The daily sweep walks the registry of licenses with backups one page per
//! message: it sends one `rotate-license` message per license and a continuation
//! for the next page, so a sweep over many licenses runs in parallel, resumes where
//! it stopped and may repeat itself harmlessly.

use rampart_domain::backup::{BackupPoint, RotationPolicy, plan};
use rampart_domain::ids::{Serial, TenantId};
use rampart_ports::{Cursor, Query};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::{BackupJobError, Backups};
use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::records::backup::{self, BackupRecord};
use crate::store_keys;

/// Licenses per sweep message.
pub const LICENSES_PER_PAGE: u32 = 100;

/// A message of the `rotation` queue. The daily schedule sends
/// `{"kind":"rotation-sweep"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RotationMessage {
    RotationSweep {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<String>,
    },
    RotateLicense {
        tenant: TenantId,
        serial: Serial,
    },
}

/// What one rotation of one license did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Rotated {
    pub kept: u32,
    pub deleted: u32,
}

/// What one message did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationReport {
    /// A page of the sweep: this many licenses sent on, and whether a next page was.
    Swept {
        licenses: u32,
        continued: bool,
    },
    Rotated(Rotated),
}

/// Largest rotation message (a page cursor and a few names).
const MAX_MESSAGE_BYTES: usize = 4096;

impl Backups {
    /// Handles one message of the `rotation` queue.
    pub async fn rotation_message(&self, body: &str) -> Result<RotationReport, BackupJobError> {
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(BackupJobError::Malformed("message too large".into()));
        }
        let msg: RotationMessage =
            serde_json::from_str(body).map_err(|e| BackupJobError::Malformed(e.to_string()))?;
        match msg {
            RotationMessage::RotationSweep { after } => self.sweep_page(after).await,
            RotationMessage::RotateLicense { tenant, serial } => Ok(RotationReport::Rotated(
                self.rotate_license(&tenant, &serial).await?,
            )),
        }
    }

    async fn sweep_page(&self, after: Option<String>) -> Result<RotationReport, BackupJobError> {
        let page = self
            .table
            .query(
                Query::partition(backup::REGISTRY_PARTITION)
                    .limit(LICENSES_PER_PAGE)
                    .after(after.map(Cursor)),
            )
            .await?;
        let mut licenses = 0;
        for item in &page.items {
            let Some((tenant, serial)) = backup::parse_registry_sort(&item.key.sk) else {
                tracing::warn!(sk = %item.key.sk, "malformed backup registry entry skipped");
                continue;
            };
            let msg = RotationMessage::RotateLicense { tenant, serial };
            self.send(&msg).await?;
            licenses += 1;
        }
        let continued = page.next.is_some();
        if let Some(next) = page.next {
            self.send(&RotationMessage::RotationSweep {
                after: Some(next.0),
            })
            .await?;
        }
        tracing::info!(licenses, continued, "rotation sweep page sent");
        Ok(RotationReport::Swept {
            licenses,
            continued,
        })
    }

    async fn send(&self, msg: &RotationMessage) -> Result<(), BackupJobError> {
        let body = serde_json::to_string(msg).map_err(|e| ApiError::Unavailable(e.into()))?;
        self.rotation_queue.send(&body, Duration::ZERO).await?;
        Ok(())
    }

    /// Rotates one license's backups by [`RotationPolicy::SPEC`].
    pub async fn rotate_license(
        &self,
        tenant: &TenantId,
        serial: &Serial,
    ) -> Result<Rotated, BackupJobError> {
        let items = all_items(
            &*self.table,
            Query::partition(store_keys::tenant_partition(tenant)).sk(
                rampart_ports::SortKey::BeginsWith(backup::license_prefix(serial)),
            ),
        )
        .await?;
        let records = items
            .iter()
            .map(BackupRecord::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::Unavailable(e.into()))?;
        let points: Vec<BackupPoint<_>> = records
            .iter()
            .map(|r| BackupPoint {
                id: r.id.clone(),
                accepted: r.accepted_at,
            })
            .collect();
        let decisions = plan(&RotationPolicy::SPEC, &points);
        let mut rotated = Rotated::default();
        for d in decisions {
            if d.is_kept() {
                rotated.kept += 1;
                continue;
            }
            let Some(record) = records.iter().find(|r| r.id == d.id) else {
                continue;
            };
            self.objects.delete(&record.object_key()).await?;
            self.table.delete(&record.key(), None).await?;
            rotated.deleted += 1;
            tracing::info!(backup = %record.id, serial = %serial, "backup rotated out");
        }
        Ok(rotated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedules_message_is_a_sweep_from_the_start() {
        let msg: RotationMessage =
            serde_json::from_str(crate::schedules::ROTATION_SWEEP.message).unwrap();
        assert_eq!(msg, RotationMessage::RotationSweep { after: None });
        let license = RotationMessage::RotateLicense {
            tenant: TenantId::parse("100001.sms").unwrap(),
            serial: Serial::parse("A1B2C3D4").unwrap(),
        };
        let json = serde_json::to_string(&license).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"rotate-license","tenant":"100001.sms","serial":"A1B2C3D4"}"#
        );
        assert_eq!(
            serde_json::from_str::<RotationMessage>(&json).unwrap(),
            license
        );
        assert!(serde_json::from_str::<RotationMessage>(r#"{"kind":"explode"}"#).is_err());
    }
}
