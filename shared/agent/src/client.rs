//! Signed requests to the device API.

use ed25519_dalek::SigningKey;
use rampart_domain::device_protocol::{
    self, CHECKIN_PATH, CheckinRequest, CheckinResponse, ENROLL_PATH, EnrollRequest,
    EnrollResponse, ErrorBody, HEADER_APPLIANCE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    SignedParts,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicI64, Ordering};

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

/// One appliance's connection to the console.
pub struct DeviceClient {
    http: reqwest::Client,
    base: String,
    key: SigningKey,
    appliance: Option<String>,
    last_ts: AtomicI64,
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
            last_ts: AtomicI64::new(0),
        }
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
