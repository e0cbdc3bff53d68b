//! Cloud backups in the portal (SPEC 6.3): a license's backups listed newest first,
//! downloaded through a presigned URL (still encrypted), deleted; an appliance's
//! regular-backup schedule read and changed. Making, restoring and the password are
//! jobs (`backup`, `restore_backup`, `set_backup_password`). Every key names the
//! tenant, so another tenant's license finds nothing.

use rampart_domain::backup_schedule::next_run;
use rampart_domain::device_protocol::BACKUP_URL_LIFETIME;
use rampart_domain::ids::{ApplianceId, BackupId, Serial, TenantId};
use rampart_domain::jobs::{Authorization, Refusal};
use rampart_domain::portal_protocol::{
    BackupDownload, BackupSchedule, BackupScheduleView, BackupView, ListPage,
};
use rampart_ports::{Cursor, Objects, Query, SortKey};

use super::access::Principal;
use super::{PortalService, malformed, page_limit, page_of};
use crate::backups::schedule::{DUE_ATTR, move_due, schedule_of};
use crate::error::ApiError;
use crate::records::appliance::ApplianceRecord;
use crate::records::backup::{self, BackupRecord};
use crate::store_keys;

impl PortalService {
    fn objects(&self) -> Result<&dyn Objects, ApiError> {
        self.objects.as_deref().ok_or_else(|| {
            ApiError::Unavailable(anyhow::anyhow!("no object store configured for backups"))
        })
    }

    pub async fn list_backups(
        &self,
        who: &Principal,
        tenant: &TenantId,
        serial: &Serial,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<BackupView>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        // A serial of another tenant finds nothing: the partition is this tenant's.
        // Backup ids start with their grant time: backward is newest first.
        let query = Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(backup::license_prefix(serial)))
            .limit(page_limit(limit))
            .backward()
            .after(cursor.map(Cursor));
        page_of(&*self.table, query, |item| {
            BackupRecord::try_from(item).map(|b| b.view())
        })
        .await
    }

    async fn backup_record(
        &self,
        tenant: &TenantId,
        serial: &Serial,
        id: &BackupId,
    ) -> Result<BackupRecord, ApiError> {
        let item = self
            .table
            .get(&backup::backup_key(tenant, serial, id))
            .await?
            .ok_or(ApiError::NotFound)?;
        BackupRecord::try_from(&item).map_err(malformed)
    }

    pub async fn download_backup(
        &self,
        who: &Principal,
        tenant: &TenantId,
        serial: &Serial,
        id: &BackupId,
    ) -> Result<BackupDownload, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let record = self.backup_record(tenant, serial, id).await?;
        let p = self
            .objects()?
            .presign_get(&record.object_key(), BACKUP_URL_LIFETIME)
            .await?;
        tracing::info!(backup = %id, user = %who.email, "backup download granted");
        Ok(BackupDownload {
            backup_id: record.id,
            size: record.size,
            url: p.url,
            expires_at: p.expires.to_rfc3339(),
        })
    }

    /// Deletes one backup: the object, then its index entry (a retry after a failure
    /// in between finds the entry and finishes).
    pub async fn delete_backup(
        &self,
        who: &Principal,
        tenant: &TenantId,
        serial: &Serial,
        id: &BackupId,
    ) -> Result<(), ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        let record = self.backup_record(tenant, serial, id).await?;
        self.objects()?.delete(&record.object_key()).await?;
        self.table.delete(&record.key(), None).await?;
        tracing::info!(backup = %id, user = %who.email, "backup deleted");
        Ok(())
    }

    pub async fn backup_schedule(
        &self,
        who: &Principal,
        tenant: &TenantId,
        appliance: &ApplianceId,
    ) -> Result<BackupScheduleView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let item = self
            .table
            .get(&store_keys::appliance(tenant, appliance))
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(schedule_view(&item))
    }

    /// Changes the schedule; refused (409) when the appliance's last report does not
    /// allow cloud-backup changes.
    pub async fn set_backup_schedule(
        &self,
        who: &Principal,
        tenant: &TenantId,
        appliance: &ApplianceId,
        schedule: BackupSchedule,
    ) -> Result<BackupScheduleView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        schedule.validate()?;
        // One read serves the authorization, the offset and the current due time.
        let key = store_keys::appliance(tenant, appliance);
        let item = self.table.get(&key).await?.ok_or(ApiError::NotFound)?;
        let record = ApplianceRecord::try_from(&item).map_err(malformed)?;
        if let Some(report) = &record.report
            && !report.authorizations.cloud_backup
        {
            return Err(ApiError::CommandRefused(Refusal::NotAuthorized {
                authorization: Authorization::CloudBackup,
            }));
        }
        let offset = record
            .report
            .as_ref()
            .and_then(|r| r.utc_offset_minutes)
            .unwrap_or(0);
        let old = item
            .i64(DUE_ATTR)
            .map(rampart_domain::Timestamp::from_millis);
        let new = next_run(&schedule, offset, self.clock.now());
        match self
            .table
            .transact(move_due(tenant, appliance, old, new, &schedule))
            .await
        {
            Ok(()) => {}
            Err(rampart_ports::StoreError::TransactionCanceled) => {
                return Err(ApiError::Conflict(
                    "the schedule changed meanwhile; read it again".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(BackupScheduleView {
            schedule,
            utc_offset_minutes: offset,
            next_run: new.map(|t| t.to_rfc3339()),
        })
    }
}

fn schedule_view(item: &rampart_ports::Item) -> BackupScheduleView {
    let schedule = schedule_of(item);
    let offset = ApplianceRecord::try_from(item)
        .ok()
        .and_then(|r| r.report)
        .and_then(|r| r.utc_offset_minutes)
        .unwrap_or(0);
    BackupScheduleView {
        schedule,
        utc_offset_minutes: offset,
        next_run: item
            .i64(DUE_ATTR)
            .filter(|_| schedule.enabled)
            .map(|t| rampart_domain::Timestamp::from_millis(t).to_rfc3339()),
    }
}
