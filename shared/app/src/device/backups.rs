//! `POST /v1/device/backups` and `POST /v1/device/backups/{id}/download`: the
//! appliance's way to its license's backups (SPEC 6.3). The console never sees a
//! backup's bytes: it grants a short-lived presigned request bound to the exact size
//! and SHA-256, and the object-created event brings the upload to the ingest.

use rampart_domain::device_protocol::{
    BACKUP_URL_LIFETIME, BackupDownloadResponse, BackupUploadRequest, BackupUploadResponse,
    PresignedHttp,
};
use rampart_domain::ids::BackupId;
use rampart_domain::jobs::Operation;
use rampart_ports::{Condition, Item, PresignedRequest};
use std::time::Duration;

use super::{DeviceAuth, DeviceService};
use crate::error::ApiError;
use crate::json_body;
use crate::records::backup::{self, BackupRecord, MADE_BY_APPLIANCE, UploadGrant};
use crate::records::command::CommandRecord;
use crate::records::job::JobRecord;
use crate::store_keys;

/// A grant outlives its URL by a day, so a late object-created event still finds it.
const GRANT_KEPT: Duration = Duration::from_secs(24 * 3600);

pub(crate) fn presigned_http(p: PresignedRequest) -> PresignedHttp {
    PresignedHttp {
        method: p.method,
        url: p.url,
        headers: p.headers,
        expires_ms: p.expires.millis(),
    }
}

impl DeviceService {
    pub async fn grant_backup_upload(
        &self,
        auth: &DeviceAuth,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<BackupUploadResponse, ApiError> {
        let now = self.clock.now();
        let (appliance, credential) = self.authenticate(auth, method, path, body, now).await?;
        let objects = self.objects()?;
        let req: BackupUploadRequest = json_body::parse(body)?;
        let sha256 = req.validate()?;
        // A backup made for a job names the job's author; the command must be this
        // appliance's open backup command.
        let made_by = match &req.command_id {
            None => MADE_BY_APPLIANCE.to_owned(),
            Some(job) => {
                let key = store_keys::command(&credential.tenant, job, &appliance);
                let cmd = self
                    .table
                    .get(&key)
                    .await?
                    .ok_or(ApiError::UnknownCommand)?;
                let cmd =
                    CommandRecord::try_from(&cmd).map_err(|e| ApiError::Unavailable(e.into()))?;
                if cmd.operation != Operation::Backup {
                    return Err(ApiError::Conflict(format!("command {job} is not a backup")));
                }
                if !cmd.is_open() {
                    return Err(ApiError::CommandFinished(cmd.status.state));
                }
                let job_item = self
                    .table
                    .get(&store_keys::job(&credential.tenant, job))
                    .await?
                    .ok_or(ApiError::UnknownCommand)?;
                JobRecord::try_from(&job_item)
                    .map_err(|e| ApiError::Unavailable(e.into()))?
                    .created_by
            }
        };
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).map_err(|e| ApiError::Unavailable(anyhow::anyhow!("{e}")))?;
        let id = BackupId::new(now.millis(), random);
        let grant = UploadGrant {
            tenant: credential.tenant.clone(),
            serial: credential.serial.clone(),
            id: id.clone(),
            appliance: appliance.clone(),
            size: req.size,
            sha256,
            password_generation: req.password_generation,
            made_by,
            job: req.command_id.clone(),
            expires: now.plus(BACKUP_URL_LIFETIME).plus(GRANT_KEPT),
        };
        self.table
            .put(Item::from(&grant), Some(Condition::NotExists))
            .await?;
        let key = backup::object_key(&credential.tenant, &credential.serial, &id);
        let upload = objects
            .presign_put(&key, req.size, &sha256, BACKUP_URL_LIFETIME)
            .await?;
        tracing::info!(appliance = %appliance, backup = %id, size = req.size, "backup upload granted");
        Ok(BackupUploadResponse {
            backup_id: id,
            upload: presigned_http(upload),
        })
    }

    pub async fn grant_backup_download(
        &self,
        auth: &DeviceAuth,
        method: &str,
        path: &str,
        body: &[u8],
        backup: &str,
    ) -> Result<BackupDownloadResponse, ApiError> {
        let now = self.clock.now();
        let (_, credential) = self.authenticate(auth, method, path, body, now).await?;
        let objects = self.objects()?;
        let id = BackupId::parse(backup).map_err(|_| ApiError::NotFound)?;
        // Only backups of the appliance's own license are reachable: the key names it.
        let item = self
            .table
            .get(&backup::backup_key(
                &credential.tenant,
                &credential.serial,
                &id,
            ))
            .await?
            .ok_or(ApiError::NotFound)?;
        let record = BackupRecord::try_from(&item).map_err(|e| ApiError::Unavailable(e.into()))?;
        let download = objects
            .presign_get(&record.object_key(), BACKUP_URL_LIFETIME)
            .await?;
        Ok(BackupDownloadResponse {
            backup_id: id,
            size: record.size,
            password_generation: record.password_generation,
            download: presigned_http(download),
        })
    }
}
