//! Enrollment: an appliance proves it holds the license secret and registers the
//! public key it will sign every later request with.

use rampart_domain::Timestamp;
use rampart_domain::backup_schedule::next_run;
use rampart_domain::device_protocol::{EnrollRequest, EnrollResponse};
use rampart_domain::ids::ApplianceId;
use rampart_domain::license::{EnrollRefusal, License};
use rampart_domain::portal_protocol::BackupSchedule;
use rampart_ports::{Condition, Item, StoreError, TransactOp, Update};

use super::{DeviceAuth, DeviceService};
use crate::backups::schedule;
use crate::error::ApiError;
use crate::json_body;
use crate::records::appliance::ApplianceRecord;
use crate::records::backup;
use crate::records::credential::Credential;
use crate::store_keys;

impl DeviceService {
    pub async fn enroll(
        &self,
        auth: &DeviceAuth,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<EnrollResponse, ApiError> {
        let now = self.clock.now();
        auth.check_window(now)?;
        let req: EnrollRequest = json_body::parse(body)?;
        let public_key = req.validate()?;
        // Proof of possession: the request is signed with the key being registered.
        auth.verify(&public_key, method, path, body)?;

        let license = self.load_license(&req).await?;
        license.check_enrollment(&req.license_secret, req.firmware, today(now))?;

        if let Some(bound) = &license.bound_to {
            return self.re_enrollment(bound, &public_key, now).await;
        }

        let id = ApplianceId::from_random(random_bytes());
        let credential = Credential {
            appliance: id.clone(),
            tenant: license.tenant.clone(),
            serial: license.serial.clone(),
            public_key,
            enrolled_at: now,
        };
        let appliance = ApplianceRecord {
            id: id.clone(),
            tenant: license.tenant.clone(),
            serial: license.serial.clone(),
            hostname: req.hostname.clone(),
            model: req.model.clone(),
            firmware: req.firmware,
            enrolled_at: now,
            last_checkin: None,
            poll_interval_secs: self.config.poll_interval.as_secs(),
            pending_commands: 0,
            report: None,
            cluster: license.cluster.clone(),
            edits: Default::default(),
        };
        let first_backup = next_run(&BackupSchedule::default(), 0, now).unwrap_or(now);
        let binding = TransactOp::Update(
            store_keys::license(&license.serial),
            Update::new().set("bound_to", id.as_str()),
            Some(Condition::Exists.and(Condition::AttrNotExists("bound_to".into()))),
        );
        let result = self
            .table
            .transact(vec![
                binding,
                TransactOp::Put(Item::from(&credential), Some(Condition::NotExists)),
                TransactOp::Put(
                    appliance
                        .enrollment_item(auth.timestamp)
                        .with(schedule::DUE_ATTR, first_backup.millis()),
                    Some(Condition::NotExists),
                ),
                // The regular backup (SPEC 6.3), on by default at 07:00; in UTC until
                // the appliance reports its offset (its next run then uses it).
                TransactOp::Put(
                    Item::new(backup::due_key(first_backup, &license.tenant, &id)),
                    None,
                ),
                TransactOp::Put(
                    Item::new(store_keys::tenant_registry(&license.tenant)),
                    None,
                ),
            ])
            .await;
        match result {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled) => {
                // Another enrollment won the race for this license.
                let license = self.load_license(&req).await?;
                return match &license.bound_to {
                    Some(bound) => self.re_enrollment(bound, &public_key, now).await,
                    None => Err(ApiError::Unavailable(anyhow::anyhow!(
                        "enrollment transaction canceled without a binding"
                    ))),
                };
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(appliance = %id, serial = %license.serial, tenant = %license.tenant, "appliance enrolled");
        self.credentials.insert(credential);
        Ok(self.enroll_response(id, now))
    }

    async fn load_license(&self, req: &EnrollRequest) -> Result<License, ApiError> {
        let item = self
            .table
            .get(&store_keys::license(&req.serial))
            .await?
            .ok_or(EnrollRefusal::UnknownLicense)?;
        crate::records::license::from_item(&item).map_err(|e| ApiError::Unavailable(e.into()))
    }

    /// A license already bound: the same appliance retrying (same key) gets its
    /// id back; anyone else is refused.
    async fn re_enrollment(
        &self,
        bound: &ApplianceId,
        key: &rampart_domain::device_protocol::DevicePublicKey,
        now: Timestamp,
    ) -> Result<EnrollResponse, ApiError> {
        let existing = self
            .table
            .get(&store_keys::credential(bound))
            .await?
            .map(|i| Credential::try_from(&i))
            .transpose()
            .map_err(|e| ApiError::Unavailable(e.into()))?;
        match existing {
            Some(c) if &c.public_key == key => Ok(self.enroll_response(c.appliance, now)),
            _ => Err(EnrollRefusal::BoundElsewhere.into()),
        }
    }

    fn enroll_response(&self, id: ApplianceId, now: Timestamp) -> EnrollResponse {
        EnrollResponse {
            appliance_id: id,
            poll_interval_secs: self.config.poll_interval.as_secs(),
            server_time_ms: now.millis(),
        }
    }
}

fn today(now: Timestamp) -> chrono::NaiveDate {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now.millis())
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

fn random_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    b
}
