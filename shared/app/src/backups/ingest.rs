//! `backup-ingest`: an object-created event (S3's notification on AWS, the same
//! message from the embedded object store self-hosted) makes the console check the
//! uploaded envelope's header against the grant it issued, index the backup and
//! rotate that license. What fails the checks is deleted and the refusal goes into
//! the appliance's communication log. An event delivered twice indexes once.

use rampart_domain::comm_log::{Direction, LogFields, LogStatus, sanitize_info};
use rampart_domain::ids::{BackupId, Serial};
use rampart_envelope::{HEADER_LEN, Header};
use rampart_ports::object_events::parse_created_objects;
use rampart_ports::{Condition, Item, TransactOp};
use serde::Serialize;

use super::{BackupJobError, Backups, MAX_PLAINTEXT_BYTES};
use crate::appliance_log::{Appended, append_with};
use crate::error::ApiError;
use crate::records::backup::{self, BackupRecord, UploadGrant};

/// What became of one created object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Ingested {
    /// Indexed now; rotation then deleted `rotated_out` older backups.
    Indexed { backup: BackupId, rotated_out: u32 },
    /// Already indexed by an earlier delivery.
    Duplicate { backup: BackupId },
    /// Deleted: it failed a check (`code` says which).
    Refused { key: String, code: String },
    /// Gone before the ingest saw it (deleted, or a redelivery after a refusal).
    Missing { key: String },
}

/// Why an upload is refused; each has a stable code for the communication log.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("no upload was granted for this object")]
    NoGrant,
    #[error("the object is {actual} bytes, the grant was for {granted}")]
    SizeMismatch { granted: u64, actual: u64 },
    #[error("envelope header refused ({code}): {error}", code = .0.code(), error = .0)]
    Envelope(rampart_envelope::EnvelopeError),
    #[error("made with password generation {header}, the upload was granted for {granted}")]
    GenerationMismatch { granted: u32, header: u32 },
    #[error("the object vanished while it was checked")]
    Vanished,
}

impl Refusal {
    fn code(&self) -> &'static str {
        match self {
            Refusal::NoGrant => "no_upload_grant",
            Refusal::SizeMismatch { .. } => "size_mismatch",
            Refusal::Envelope(e) => e.code(),
            Refusal::GenerationMismatch { .. } => "password_generation_mismatch",
            Refusal::Vanished => "object_vanished",
        }
    }
}

impl Backups {
    /// Handles one message of the `backup-ingest` queue (S3's `s3:TestEvent` is
    /// accepted and dropped).
    pub async fn ingest(&self, body: &str) -> Result<Vec<Ingested>, BackupJobError> {
        let created =
            parse_created_objects(body).map_err(|e| BackupJobError::Malformed(e.to_string()))?;
        let mut out = Vec::with_capacity(created.len());
        for object in created {
            out.push(self.ingest_object(&object.key).await?);
        }
        Ok(out)
    }

    async fn ingest_object(&self, key: &str) -> Result<Ingested, BackupJobError> {
        let Some((tenant, serial, id)) = backup::parse_object_key(key) else {
            // Not an object the console grants: nothing may stay that it cannot index.
            tracing::warn!(key, "object of unknown shape under backups/; deleting it");
            self.objects.delete(key).await?;
            return Ok(Ingested::Refused {
                key: key.to_owned(),
                code: "unknown_object".into(),
            });
        };
        let backup_key = backup::backup_key(&tenant, &serial, &id);
        if self.table.get(&backup_key).await?.is_some() {
            // Redelivered: the index exists. Rotation is idempotent; run it again in
            // case the earlier delivery stopped before it.
            self.rotate_license(&tenant, &serial).await?;
            return Ok(Ingested::Duplicate { backup: id });
        }
        let Some(meta) = self.objects.head(key).await? else {
            return Ok(Ingested::Missing {
                key: key.to_owned(),
            });
        };
        let grant = match self.table.get(&backup::grant_key(&tenant, &id)).await? {
            Some(item) => {
                Some(UploadGrant::try_from(&item).map_err(|e| ApiError::Unavailable(e.into()))?)
            }
            None => None,
        };
        let checked = match &grant {
            None => Err(Refusal::NoGrant),
            Some(g) => self.check(key, g, meta.size).await?,
        };
        match (checked, grant) {
            (Ok(()), Some(grant)) => self.index(grant, &serial).await,
            (Err(refusal), grant) => {
                self.refuse(key, grant.as_ref(), &refusal).await?;
                Ok(Ingested::Refused {
                    key: key.to_owned(),
                    code: refusal.code().to_owned(),
                })
            }
            (Ok(()), None) => unreachable!("checked without a grant"),
        }
    }

    /// The object against its grant and the envelope header's own rules.
    async fn check(
        &self,
        key: &str,
        grant: &UploadGrant,
        size: u64,
    ) -> Result<Result<(), Refusal>, BackupJobError> {
        if size != grant.size {
            return Ok(Err(Refusal::SizeMismatch {
                granted: grant.size,
                actual: size,
            }));
        }
        let Some(prefix) = self.objects.read_prefix(key, HEADER_LEN as u64).await? else {
            return Ok(Err(Refusal::Vanished));
        };
        let header = match Header::parse(&prefix) {
            Ok(h) => h,
            Err(e) => return Ok(Err(Refusal::Envelope(e))),
        };
        if let Err(e) = header.validate_for_ingest(size, MAX_PLAINTEXT_BYTES) {
            return Ok(Err(Refusal::Envelope(e)));
        }
        if header.password_generation() != grant.password_generation {
            return Ok(Err(Refusal::GenerationMismatch {
                granted: grant.password_generation,
                header: header.password_generation(),
            }));
        }
        Ok(Ok(()))
    }

    /// Indexes the backup with its log entry in one transaction, then rotates.
    async fn index(&self, grant: UploadGrant, serial: &Serial) -> Result<Ingested, BackupJobError> {
        let now = self.clock.now();
        let record = BackupRecord {
            tenant: grant.tenant.clone(),
            serial: serial.clone(),
            id: grant.id.clone(),
            appliance: grant.appliance.clone(),
            accepted_at: now,
            size: grant.size,
            password_generation: grant.password_generation,
            made_by: grant.made_by.clone(),
            job: grant.job.clone(),
        };
        let writes = vec![
            TransactOp::Put(Item::from(&record), Some(Condition::NotExists)),
            TransactOp::Put(
                Item::new(backup::registry_key(&record.tenant, serial)),
                None,
            ),
        ];
        let fields = LogFields {
            time: now,
            job: grant.job.as_ref().map(|j| j.to_string()),
            direction: Direction::ApplianceToConsole,
            status: LogStatus::Ok,
            info: format!(
                "backup {} accepted: {} bytes, password generation {}",
                record.id, record.size, record.password_generation
            ),
        };
        let table = self.table.clone();
        let key = record.key();
        let appended = append_with(
            &*self.table,
            &record.tenant,
            &record.appliance,
            fields,
            writes.clone(),
            || {
                let table = table.clone();
                let key = key.clone();
                async move { Ok(table.get(&key).await?.is_none()) }
            },
        )
        .await?;
        match appended {
            Appended::Done => {}
            Appended::Refused => {
                return Ok(Ingested::Duplicate { backup: record.id });
            }
            // The appliance was removed meanwhile; the backup still belongs to the
            // license and is kept (without a log to write to).
            Appended::NoAppliance => match self.table.transact(writes).await {
                Ok(()) => {}
                Err(rampart_ports::StoreError::TransactionCanceled) => {
                    return Ok(Ingested::Duplicate { backup: record.id });
                }
                Err(e) => return Err(e.into()),
            },
        }
        tracing::info!(backup = %record.id, serial = %serial, size = record.size, "backup indexed");
        let rotated = self.rotate_license(&record.tenant, serial).await?;
        Ok(Ingested::Indexed {
            backup: record.id,
            rotated_out: rotated.deleted,
        })
    }

    /// Deletes a refused object and says why in the appliance's log.
    async fn refuse(
        &self,
        key: &str,
        grant: Option<&UploadGrant>,
        refusal: &Refusal,
    ) -> Result<(), BackupJobError> {
        tracing::warn!(
            key,
            code = refusal.code(),
            "backup upload refused; deleting it"
        );
        self.objects.delete(key).await?;
        let Some(grant) = grant else {
            return Ok(());
        };
        let fields = LogFields {
            time: self.clock.now(),
            job: grant.job.as_ref().map(|j| j.to_string()),
            direction: Direction::ApplianceToConsole,
            status: LogStatus::Error,
            info: sanitize_info(&format!(
                "backup {} refused ({}): {refusal}",
                grant.id,
                refusal.code()
            )),
        };
        // Dropping the grant with the entry makes a redelivery find nothing to log
        // twice (it then sees no object, or no grant).
        let grant_key = backup::grant_key(&grant.tenant, &grant.id);
        let table = self.table.clone();
        let check_key = grant_key.clone();
        append_with(
            &*self.table,
            &grant.tenant,
            &grant.appliance,
            fields,
            vec![TransactOp::Delete(grant_key, Some(Condition::Exists))],
            || {
                let table = table.clone();
                let key = check_key.clone();
                async move { Ok(table.get(&key).await?.is_some()) }
            },
        )
        .await?;
        Ok(())
    }
}
