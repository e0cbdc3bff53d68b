//! Signed requests to the device API.

use ed25519_dalek::SigningKey;
use rampart_domain::device_protocol::{
    self, BACKUP_UPLOAD_PATH, BackupDownloadResponse, BackupUploadRequest, BackupUploadResponse,
    CHECKIN_PATH, CheckinRequest, CheckinResponse, CommandResultRequest, CommandResultResponse,
    ENROLL_PATH, EnrollRequest, EnrollResponse, ErrorBody, HEADER_APPLIANCE, HEADER_NONCE,
    HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedParts,
};
use rampart_domain::ids::{BackupId, JobId};
use rampart_domain::profile::{ConfigResultRequest, ConfigResultResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::executor::{Delivery, Reporter};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The console answered with an error; `code` is its stable error code.
    #[error("console refused ({status}): {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("console unreachable: {0}")]
    Transport(#[from] reqwest::Error),
}

impl AgentError {
    pub fn code(&self) -> Option<&str> {
        match self {
            AgentError::Refused { code, .. } => Some(code),
            AgentError::Transport(_) => None,
        }
    }
}

/// Whether a report's answer settles it: taken, refused for good (404
/// `unknown_command`, 409 `illegal_transition`, 410 `command_finished`, 400/422: the
/// same report will never be taken), or worth sending again (network errors, 5xx,
/// 401/429 and the like).
pub fn delivery_of(answer: &Result<CommandResultResponse, AgentError>) -> Delivery {
    match answer {
        Ok(_) => Delivery::Delivered,
        Err(AgentError::Refused {
            status: 400 | 404 | 409 | 410 | 422,
            ..
        }) => Delivery::Final,
        Err(_) => Delivery::Retry,
    }
}

impl Reporter for DeviceClient {
    async fn report(&self, command: &JobId, result: &CommandResultRequest) -> Delivery {
        let answer = self.report_result(command, result).await;
        let delivery = delivery_of(&answer);
        match (&answer, delivery) {
            (Ok(resp), _) => tracing::info!(
                command = %command,
                result = ?result.result,
                state = %resp.state,
                awaiting_checkin = resp.awaiting_checkin,
                "result reported"
            ),
            (Err(e), Delivery::Final) => {
                tracing::warn!(command = %command, error = %e, "result refused for good; not reporting it again");
            }
            (Err(e), _) => {
                tracing::warn!(command = %command, error = %e, "could not report a result; retrying after the next check-in");
            }
        }
        delivery
    }
}

/// One appliance's connection to the console. Clones share the timestamp counter, so
/// a clone (a backup running beside the check-ins) still signs strictly increasing
/// timestamps.
#[derive(Clone)]
pub struct DeviceClient {
    http: reqwest::Client,
    base: String,
    key: SigningKey,
    appliance: Option<String>,
    last_ts: Arc<AtomicI64>,
}

fn now_ms() -> i64 {
    rampart_domain::Timestamp::now_system().millis()
}

impl DeviceClient {
    pub fn new(http: reqwest::Client, base: &str, key: SigningKey) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
            appliance: None,
            last_ts: Arc::new(AtomicI64::new(0)),
        }
    }

    /// The HTTP client (also for presigned requests straight to storage).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn set_appliance(&mut self, id: &str) {
        self.appliance = Some(id.to_owned());
    }

    pub fn public_key_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    /// Strictly increasing timestamps: the console refuses one not newer than
    /// the last it accepted.
    fn next_timestamp(&self) -> i64 {
        let now = now_ms();
        let prev = self
            .last_ts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(now.max(last + 1))
            })
            .unwrap_or(0);
        now.max(prev + 1)
    }

    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, AgentError> {
        self.post(ENROLL_PATH, req).await
    }

    pub async fn checkin(&self, report: &CheckinRequest) -> Result<CheckinResponse, AgentError> {
        self.post(CHECKIN_PATH, report).await
    }

    /// Reports a command's result (`POST /v1/device/commands/{id}/result`), signed
    /// like a check-in.
    pub async fn report_result(
        &self,
        command: &JobId,
        result: &CommandResultRequest,
    ) -> Result<CommandResultResponse, AgentError> {
        self.post(&device_protocol::command_result_path(command), result)
            .await
    }

    /// Reports what became of the sections of a configuration change (`POST
    /// /v1/device/configuration/result`).
    pub async fn report_config_result(
        &self,
        req: &ConfigResultRequest,
    ) -> Result<ConfigResultResponse, AgentError> {
        self.post(device_protocol::CONFIG_RESULT_PATH, req).await
    }

    /// Asks for a presigned upload of one encrypted backup (`POST /v1/device/backups`).
    pub async fn request_backup_upload(
        &self,
        req: &BackupUploadRequest,
    ) -> Result<BackupUploadResponse, AgentError> {
        self.post(BACKUP_UPLOAD_PATH, req).await
    }

    /// Asks for a presigned download of one of its license's backups (`POST
    /// /v1/device/backups/{id}/download`, body `{}`).
    pub async fn request_backup_download(
        &self,
        backup: &BackupId,
    ) -> Result<BackupDownloadResponse, AgentError> {
        self.post(
            &device_protocol::backup_download_path(backup),
            &serde_json::json!({}),
        )
        .await
    }

    /// Builds the signed request without sending it (used by load generators).
    pub fn signed_request(&self, path: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        let ts = self.next_timestamp();
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let nonce = hex::encode(nonce);
        let sig = device_protocol::sign(
            &self.key,
            &SignedParts {
                method: "POST",
                path,
                appliance: self.appliance.as_deref(),
                timestamp_ms: ts,
                nonce: &nonce,
                body: &body,
            },
        );
        let mut rb = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .header(HEADER_TIMESTAMP, ts.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, sig);
        if let Some(a) = &self.appliance {
            rb = rb.header(HEADER_APPLIANCE, a);
        }
        rb.body(body)
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, AgentError> {
        let raw = serde_json::to_vec(body).expect("request bodies serialize");
        let resp = self.signed_request(path, raw).send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.json::<R>().await?);
        }
        let text = resp.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(e) => AgentError::Refused {
                status: status.as_u16(),
                code: e.error.code,
                message: e.error.message,
            },
            Err(_) => AgentError::Refused {
                status: status.as_u16(),
                code: "unexpected_response".into(),
                message: text.chars().take(200).collect(),
            },
        })
    }
}
