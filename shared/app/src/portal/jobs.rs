//! Jobs in the portal (SPEC 4.4, 5): create one for an appliance, a list or a tag,
//! follow it, cancel it. Creating a job stores it and puts its fan-out on the `jobs`
//! queue; the `dispatch` function makes the commands.
//!
//! The PIN of a PIN-protected job is sealed here, at once, to each appliance's
//! enrollment key; only the sealed form goes into the queue and the store.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_domain::Timestamp;
use rampart_domain::backup::BackupPassword;
use rampart_domain::device_protocol::{backup_password_seal_context, pin_seal_context};
use rampart_domain::ids::{ApplianceId, JobId, TenantId};
use rampart_domain::jobs::{CommandEvent, CommandState, JobCounts, JobTarget, Operation};
use rampart_domain::portal_protocol::{CommandView, JobCancel, JobView, ListPage, NewJob};
use rampart_domain::validation::Invalid;
use rampart_identity::device_seal::seal_to_device;
use rampart_identity::pin::Pin;
use rampart_ports::{Query, SortKey};
use std::collections::BTreeSet;

use super::access::Principal;
use super::{PortalService, malformed, page_limit, page_of};
use crate::all_pages::all_items;
use crate::error::ApiError;
use crate::jobs::command_writer::{Written, write_transition};
use crate::jobs::dispatch::DispatchTarget;
use crate::jobs::submit::{pickup_expected_by, submit_job};
use crate::records::appliance::ApplianceRecord;
use crate::records::backup::{self as backup_records, BackupRecord};
use crate::records::command::CommandRecord;
use crate::records::credential::Credential;
use crate::records::job::JobRecord;
use crate::store_keys;

impl PortalService {
    pub async fn create_job(
        &self,
        who: &Principal,
        tenant: &TenantId,
        new: NewJob,
    ) -> Result<JobView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        let now = self.clock.now();
        let pin = match (new.operation.needs_pin(), &new.pin) {
            (true, None) => return Err(Invalid::new("pin", "this operation needs the PIN").into()),
            (false, Some(_)) => {
                return Err(Invalid::new("pin", "this operation takes no PIN").into());
            }
            (true, Some(p)) => {
                Some(Pin::parse(p.expose()).map_err(|_| Invalid::new("pin", "exactly 6 digits"))?)
            }
            (false, None) => None,
        };
        let password = match (
            new.operation.carries_sealed_password(),
            &new.backup_password,
        ) {
            (true, None) => {
                return Err(Invalid::new(
                    "backup_password",
                    "this operation needs the new password",
                )
                .into());
            }
            (false, Some(_)) => {
                return Err(
                    Invalid::new("backup_password", "this operation takes no password").into(),
                );
            }
            (true, Some(p)) => Some(
                BackupPassword::parse(p.expose().to_owned()).map_err(ApiError::BackupPassword)?,
            ),
            (false, None) => None,
        };
        let appliances = self.resolve_target(tenant, &new.target).await?;
        let mut operation = new.operation;
        self.fill_console_fields(tenant, &appliances, &mut operation)
            .await?;
        operation.validate(now)?;
        // One appliance: the console refuses at once what it knows the appliance
        // would refuse (SPEC 3.3). For many, dispatch records each refusal.
        if let [only] = appliances.as_slice()
            && let Some(report) = &only.report
        {
            operation
                .check_allowed(
                    &report.authorizations,
                    report.firmware,
                    report.previous_firmware,
                )
                .and_then(|()| operation.check_application(&report.applications))
                .map_err(ApiError::CommandRefused)?;
        }
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).map_err(|e| ApiError::Unavailable(anyhow::anyhow!("{e}")))?;
        let id = JobId::new(now.millis(), random);
        let mut targets = Vec::with_capacity(appliances.len());
        for a in &appliances {
            // A command carries at most one sealed secret: its PIN or its password.
            let sealed_pin = match (&pin, &password) {
                (Some(pin), _) => Some(
                    self.seal_for(&a.id, pin.as_bytes(), &pin_seal_context(&a.id, &id))
                        .await?,
                ),
                (None, Some(pw)) => Some(
                    self.seal_for(
                        &a.id,
                        pw.expose().as_bytes(),
                        &backup_password_seal_context(&a.id, &id),
                    )
                    .await?,
                ),
                (None, None) => None,
            };
            targets.push(DispatchTarget {
                appliance: a.id.clone(),
                sealed_pin,
            });
        }
        let job = JobRecord {
            id: id.clone(),
            tenant: tenant.clone(),
            operation,
            target: new.target,
            appliances: appliances.iter().map(|a| a.id.clone()).collect(),
            created_at: now,
            created_by: who.email.to_string(),
            pickup_expected_by: pickup_expected_by(&appliances, now),
            finished_at: None,
        };
        submit_job(&*self.table, &*self.jobs_queue, &job, &targets).await?;
        Ok(job_view(&job, &[], now))
    }

    async fn resolve_target(
        &self,
        tenant: &TenantId,
        target: &JobTarget,
    ) -> Result<Vec<ApplianceRecord>, ApiError> {
        match target {
            JobTarget::Appliance(id) => Ok(vec![self.appliance_record(tenant, id).await?]),
            JobTarget::List(ids) => {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    match self.appliance_record(tenant, id).await {
                        Ok(r) => out.push(r),
                        Err(ApiError::NotFound) => {
                            return Err(Invalid::new(
                                "list",
                                format!("{id} is not an appliance of this tenant"),
                            )
                            .into());
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            }
            JobTarget::Tag(_) => {
                let all = self.tenant_appliances(tenant).await?;
                let ids = target.resolve(|tag| {
                    all.iter()
                        .filter(|a| a.edits.tags.iter().any(|t| t == tag))
                        .map(|a| a.id.clone())
                        .collect()
                })?;
                let wanted: BTreeSet<&ApplianceId> = ids.iter().collect();
                Ok(all.into_iter().filter(|a| wanted.contains(&a.id)).collect())
            }
        }
    }

    /// A secret sealed to one appliance's enrollment key under `context` (which binds
    /// it to this appliance and command).
    async fn seal_for(
        &self,
        appliance: &ApplianceId,
        secret: &[u8],
        context: &[u8],
    ) -> Result<String, ApiError> {
        let item = self
            .table
            .get(&store_keys::credential(appliance))
            .await?
            .ok_or(ApiError::NotFound)?;
        let credential = Credential::try_from(&item).map_err(malformed)?;
        let sealed = seal_to_device(credential.public_key.as_bytes(), secret, context)
            .map_err(|e| ApiError::Unavailable(anyhow::anyhow!("sealing for {appliance}: {e}")))?;
        Ok(B64.encode(sealed))
    }

    /// Fields the console assigns: the next backup password generation (one more
    /// than the highest any target reports), and a restore's backup time from the
    /// index (the backup must belong to the one target's license).
    async fn fill_console_fields(
        &self,
        tenant: &TenantId,
        appliances: &[ApplianceRecord],
        operation: &mut Operation,
    ) -> Result<(), ApiError> {
        match operation {
            Operation::SetBackupPassword { generation } => {
                let highest = appliances
                    .iter()
                    .filter_map(|a| a.report.as_ref())
                    .map(|r| r.backup_password_generation)
                    .max()
                    .unwrap_or(0);
                *generation = highest.saturating_add(1);
            }
            Operation::RestoreBackup { backup, taken_at } => {
                let [only] = appliances else {
                    return Err(Invalid::new("target", "a restore targets one appliance").into());
                };
                let item = self
                    .table
                    .get(&backup_records::backup_key(tenant, &only.serial, backup))
                    .await?
                    .ok_or_else(|| {
                        Invalid::new("backup", "no such backup of this appliance's license")
                    })?;
                *taken_at = BackupRecord::try_from(&item)
                    .map_err(malformed)?
                    .accepted_at;
            }
            _ => {}
        }
        Ok(())
    }

    async fn job_record(&self, tenant: &TenantId, job: &JobId) -> Result<JobRecord, ApiError> {
        let item = self
            .table
            .get(&store_keys::job(tenant, job))
            .await?
            .ok_or(ApiError::NotFound)?;
        JobRecord::try_from(&item).map_err(malformed)
    }

    async fn job_commands(&self, job: &JobRecord) -> Result<Vec<CommandRecord>, ApiError> {
        let items = all_items(
            &*self.table,
            Query::partition(store_keys::tenant_partition(&job.tenant))
                .sk(SortKey::BeginsWith(store_keys::command_prefix(&job.id))),
        )
        .await?;
        items
            .iter()
            .map(|i| CommandRecord::try_from(i).map_err(malformed))
            .collect()
    }

    pub async fn job(
        &self,
        who: &Principal,
        tenant: &TenantId,
        job: &JobId,
    ) -> Result<JobView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let record = self.job_record(tenant, job).await?;
        let commands = self.job_commands(&record).await?;
        Ok(job_view(&record, &commands, self.clock.now()))
    }

    /// A page of the tenant's jobs, newest first.
    pub async fn list_jobs(
        &self,
        who: &Principal,
        tenant: &TenantId,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<JobView>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        let query = Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(store_keys::JOB_PREFIX.into()))
            .limit(page_limit(limit))
            .backward()
            .after(cursor.map(rampart_ports::Cursor));
        let page = page_of(&*self.table, query, |i| JobRecord::try_from(i)).await?;
        let now = self.clock.now();
        let mut items = Vec::with_capacity(page.items.len());
        for record in &page.items {
            let commands = self.job_commands(record).await?;
            items.push(job_view(record, &commands, now));
        }
        Ok(ListPage {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// A page of one job's commands, in appliance order.
    pub async fn job_command_page(
        &self,
        who: &Principal,
        tenant: &TenantId,
        job: &JobId,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<ListPage<CommandView>, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        self.job_record(tenant, job).await?;
        let query = Query::partition(store_keys::tenant_partition(tenant))
            .sk(SortKey::BeginsWith(store_keys::command_prefix(job)))
            .limit(page_limit(limit))
            .after(cursor.map(rampart_ports::Cursor));
        page_of(&*self.table, query, |item| {
            CommandRecord::try_from(item).map(|c| command_view(&c))
        })
        .await
    }

    /// Cancels a job's queued commands and asks the appliances to cancel its sent
    /// ones; finished commands stay as they are.
    pub async fn cancel_job(
        &self,
        who: &Principal,
        tenant: &TenantId,
        job: &JobId,
        which: JobCancel,
    ) -> Result<JobView, ApiError> {
        self.authorize_tenant(who, tenant).await?;
        who.require_change()?;
        let record = self.job_record(tenant, job).await?;
        if let Some(only) = &which.appliances {
            if only.len() > rampart_domain::jobs::MAX_TARGETS {
                return Err(Invalid::new("appliances", "too many").into());
            }
            if let Some(stranger) = only.iter().find(|a| !record.appliances.contains(a)) {
                return Err(Invalid::new(
                    "appliances",
                    format!("{stranger} is not part of this job"),
                )
                .into());
            }
        }
        for _round in 0..3 {
            let mut stale = false;
            for cmd in self.job_commands(&record).await? {
                if !cmd.is_open()
                    || which
                        .appliances
                        .as_ref()
                        .is_some_and(|only| !only.contains(&cmd.appliance))
                {
                    continue;
                }
                let event = match cmd.status.state {
                    CommandState::Queued => CommandEvent::Canceled,
                    _ if cmd.status.cancel_requested => continue,
                    _ => CommandEvent::CancelRequested,
                };
                let now = self.clock.now();
                let mut next = cmd.clone();
                next.status = cmd.status.apply(&event, now)?;
                if write_transition(&*self.table, &cmd, &next, None, None).await? == Written::Stale
                {
                    stale = true;
                }
            }
            if !stale {
                break;
            }
        }
        tracing::info!(job = %job, by = %who.email, "job cancel");
        let commands = self.job_commands(&record).await?;
        Ok(job_view(&record, &commands, self.clock.now()))
    }
}

fn job_view(job: &JobRecord, commands: &[CommandRecord], now: Timestamp) -> JobView {
    let counts = JobCounts::of(commands.iter().map(|c| c.status.state));
    let all_created = commands.len() >= job.appliances.len();
    let finished =
        job.finished_at.is_some() || (all_created && commands.iter().all(|c| !c.is_open()));
    let waiting = !all_created || counts.get(CommandState::Queued) > 0;
    JobView {
        id: job.id.clone(),
        tenant: job.tenant.clone(),
        operation: job.operation.clone(),
        target: job.target.clone(),
        created_at: job.created_at.to_rfc3339(),
        created_by: job.created_by.clone(),
        appliances: job.appliances.len() as u64,
        counts,
        pickup_expected_by: job
            .pickup_expected_by
            .filter(|_| waiting && !finished)
            .map(|t| t.max(now).to_rfc3339()),
        finished,
    }
}

fn command_view(c: &CommandRecord) -> CommandView {
    CommandView {
        job: c.job.clone(),
        appliance: c.appliance.clone(),
        state: c.status.state,
        reason: c.status.reason.clone(),
        refused_by_console: c.refused_by_console,
        cancel_requested: c.status.cancel_requested,
        created_at: c.status.created_at.to_rfc3339(),
        not_before: c.deadlines.not_before.map(Timestamp::to_rfc3339),
        collect_by: c.deadlines.collect_by.to_rfc3339(),
        sent_at: c.status.sent_at.map(Timestamp::to_rfc3339),
        finished_at: c.status.finished_at.map(Timestamp::to_rfc3339),
        info: c.info.clone(),
    }
}
