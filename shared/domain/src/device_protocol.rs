//! The device API's wire format, shared by the console and the reference agent:
//! request and response bodies, and how a request is signed.
//!
//! Every device request carries four headers: the appliance id (absent on
//! enrollment), a timestamp in milliseconds, a random nonce and an Ed25519
//! signature over [`signing_payload`]. The console refuses a timestamp outside
//! [`CLOCK_WINDOW`] of its own clock (stale) and one not newer than the last it
//! accepted from that appliance (replay).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::firmware::FirmwareVersion;
use crate::ids::{ApplianceId, BackupId, JobId, Serial};
use crate::jobs::{ApplianceResult, CommandState, Operation, Refusal};
use crate::report::CheckinReport;
use crate::validation::{self, Invalid};

pub const HEADER_APPLIANCE: &str = "x-rampart-appliance";
pub const HEADER_TIMESTAMP: &str = "x-rampart-timestamp";
pub const HEADER_NONCE: &str = "x-rampart-nonce";
pub const HEADER_SIGNATURE: &str = "x-rampart-signature";

pub const ENROLL_PATH: &str = "/v1/device/enroll";
pub const CHECKIN_PATH: &str = "/v1/device/checkin";

/// How far a request's timestamp may be from the console's clock.
pub const CLOCK_WINDOW: Duration = Duration::from_secs(300);
/// Largest device request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub serial: Serial,
    pub license_secret: String,
    /// The appliance's Ed25519 public key, base64 (32 bytes).
    pub public_key: String,
    pub firmware: FirmwareVersion,
    pub hostname: String,
    pub model: String,
}

impl EnrollRequest {
    pub fn validate(&self) -> Result<DevicePublicKey, Invalid> {
        validation::text("hostname", &self.hostname, 253)?;
        validation::text("model", &self.model, 64)?;
        if self.license_secret.is_empty() || self.license_secret.len() > 128 {
            return Err(Invalid::new("license_secret", "1 to 128 characters"));
        }
        DevicePublicKey::parse(&self.public_key)
    }
}

// The license secret must never reach a log through Debug.
impl std::fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollRequest")
            .field("serial", &self.serial)
            .field("license_secret", &"<redacted>")
            .field("public_key", &self.public_key)
            .field("firmware", &self.firmware)
            .field("hostname", &self.hostname)
            .field("model", &self.model)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub appliance_id: ApplianceId,
    pub poll_interval_secs: u64,
    pub server_time_ms: i64,
}

/// A command for the appliance, in the check-in reply. Its id is the job's id (an
/// appliance has at most one command per job).
///
/// `cancel` set means the console asks to cancel a command delivered earlier: the
/// appliance answers [`crate::jobs::ApplianceResult::Canceled`] if it has not run it,
/// or repeats the result it has. `sealed_pin` is the PIN of a PIN-protected operation
/// sealed to the appliance's enrollment key (base64 of the sealed box, see
/// `rampart_identity::device_seal`; the context is [`pin_seal_context`]): only the
/// appliance can open it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingCommand {
    pub command_id: JobId,
    pub operation: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_pin: Option<String>,
    /// The new backup password of a `set_backup_password` command, sealed like the
    /// PIN under [`backup_password_seal_context`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_password: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancel: bool,
}

impl std::fmt::Debug for PendingCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCommand")
            .field("command_id", &self.command_id)
            .field("operation", &self.operation)
            .field("sealed_pin", &self.sealed_pin.as_ref().map(|_| "<sealed>"))
            .field(
                "sealed_password",
                &self.sealed_password.as_ref().map(|_| "<sealed>"),
            )
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// The associated data a PIN is sealed under: binds the sealed PIN to one command of
/// one appliance, so it cannot be replayed with another command.
pub fn pin_seal_context(appliance: &ApplianceId, command: &JobId) -> Vec<u8> {
    format!("rampart-pin-v1\n{appliance}\n{command}").into_bytes()
}

/// The associated data a new backup password is sealed under (one command of one
/// appliance, and never mistaken for a PIN).
pub fn backup_password_seal_context(appliance: &ApplianceId, command: &JobId) -> Vec<u8> {
    format!("rampart-backup-password-v1\n{appliance}\n{command}").into_bytes()
}

// ---- cloud backup (SPEC 6.3) -------------------------------------------------------

/// `POST`: the appliance asks for a presigned upload of one encrypted backup.
pub const BACKUP_UPLOAD_PATH: &str = "/v1/device/backups";

/// `POST`: the appliance asks for a presigned download of one of its license's backups.
pub fn backup_download_path(backup: &BackupId) -> String {
    format!("/v1/device/backups/{backup}/download")
}

/// The largest encrypted backup the console accepts (an appliance configuration is
/// megabytes; this leaves room for large rule sets and certificates).
pub const MAX_BACKUP_BYTES: u64 = 1024 * 1024 * 1024;

/// How long a presigned backup upload or download stays valid.
pub const BACKUP_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// `POST /v1/device/backups`: the exact size and SHA-256 of the encrypted file, both
/// bound into the presigned upload (storage refuses any other body), the password
/// generation that sealed it, and the backup command it answers (none for a backup
/// the appliance makes on its own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupUploadRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<JobId>,
    pub size: u64,
    /// Lower-case hex, 64 digits.
    pub sha256: String,
    pub password_generation: u32,
}

impl BackupUploadRequest {
    /// The checksum's bytes once size and checksum are in range.
    pub fn validate(&self) -> Result<[u8; 32], Invalid> {
        if self.size == 0 || self.size > MAX_BACKUP_BYTES {
            return Err(Invalid::new(
                "size",
                format!("1 to {MAX_BACKUP_BYTES} bytes"),
            ));
        }
        if self.password_generation == 0 {
            return Err(Invalid::new("password_generation", "counts from 1"));
        }
        let bad = || Invalid::new("sha256", "64 lower-case hex digits");
        if self.sha256.len() != 64 || self.sha256.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        hex::decode(&self.sha256)
            .map_err(|_| bad())?
            .try_into()
            .map_err(|_| bad())
    }
}

/// A request the appliance makes straight to storage, exactly as given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedHttp {
    pub method: String,
    pub url: String,
    /// Headers to send exactly as given (they are part of the signature).
    pub headers: Vec<(String, String)>,
    pub expires_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupUploadResponse {
    pub backup_id: BackupId,
    pub upload: PresignedHttp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupDownloadResponse {
    pub backup_id: BackupId,
    pub size: u64,
    pub password_generation: u32,
    pub download: PresignedHttp,
}

/// Where an appliance reports the result of a command.
pub fn command_result_path(command: &JobId) -> String {
    format!("/v1/device/commands/{command}/result")
}

/// The result kinds of `POST /v1/device/commands/{id}/result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    Succeeded,
    Failed,
    Rejected,
    Canceled,
}

/// `POST /v1/device/commands/{id}/result`: `reason` is required with `rejected`
/// and refused otherwise; `info` is free text for the communication log (the error
/// of a failure), at most [`crate::comm_log::MAX_INFO_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandResultRequest {
    pub result: ResultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Refusal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

impl CommandResultRequest {
    pub fn new(result: &ApplianceResult, info: Option<String>) -> Self {
        let (result, reason) = match result {
            ApplianceResult::Succeeded => (ResultKind::Succeeded, None),
            ApplianceResult::Failed => (ResultKind::Failed, None),
            ApplianceResult::Canceled => (ResultKind::Canceled, None),
            ApplianceResult::Rejected(r) => (ResultKind::Rejected, Some(r.clone())),
        };
        Self {
            result,
            reason,
            info,
        }
    }

    /// The result it reports, once its fields agree and `info` fits.
    pub fn to_result(&self) -> Result<ApplianceResult, Invalid> {
        if let Some(info) = &self.info {
            crate::comm_log::check_info(info)?;
        }
        match (self.result, &self.reason) {
            (ResultKind::Rejected, Some(r)) => Ok(ApplianceResult::Rejected(r.clone())),
            (ResultKind::Rejected, None) => {
                Err(Invalid::new("reason", "a rejected result needs its reason"))
            }
            (_, Some(_)) => Err(Invalid::new(
                "reason",
                "only a rejected result has a reason",
            )),
            (ResultKind::Succeeded, None) => Ok(ApplianceResult::Succeeded),
            (ResultKind::Failed, None) => Ok(ApplianceResult::Failed),
            (ResultKind::Canceled, None) => Ok(ApplianceResult::Canceled),
        }
    }
}

/// The answer to a result: the command's state afterwards. `awaiting_checkin` is
/// set when a success of a reboot, rollback or update was noted but only the next
/// check-in can prove it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResultResponse {
    pub command_id: JobId,
    pub state: CommandState,
    pub awaiting_checkin: bool,
}

pub type CheckinRequest = CheckinReport;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinResponse {
    pub commands: Vec<PendingCommand>,
    pub poll_interval_secs: u64,
    pub server_time_ms: i64,
    /// Configuration changes since the version the appliance reported (SPEC 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<crate::profile::ConfigurationChange>,
}

/// `POST`: the appliance reports what became of the sections of a configuration
/// change ([`crate::profile::ConfigResultRequest`]).
pub const CONFIG_RESULT_PATH: &str = "/v1/device/configuration/result";

/// The stable JSON error body of both APIs: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// An appliance's Ed25519 public key as registered at enrollment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevicePublicKey(VerifyingKey);

impl DevicePublicKey {
    pub fn parse(b64: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("public_key", "base64 of a 32-byte Ed25519 public key");
        if b64.len() > 64 {
            return Err(bad());
        }
        let bytes: [u8; 32] = B64
            .decode(b64)
            .map_err(|_| bad())?
            .try_into()
            .map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        if key.is_weak() {
            return Err(bad());
        }
        Ok(Self(key))
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Invalid> {
        Self::parse(&B64.encode(bytes))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0.as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Checks `signature` (base64) over the request's signing payload.
    pub fn verify(&self, parts: &SignedParts<'_>, signature_b64: &str) -> bool {
        let Ok(raw) = B64.decode(signature_b64) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&raw) else {
            return false;
        };
        self.0.verify_strict(&signing_payload(parts), &sig).is_ok()
    }
}

/// The parts of a request that its signature covers.
#[derive(Clone, Copy, Debug)]
pub struct SignedParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub appliance: Option<&'a str>,
    pub timestamp_ms: i64,
    pub nonce: &'a str,
    pub body: &'a [u8],
}

/// What is signed: a domain tag, the method, path, appliance id, timestamp,
/// nonce and the SHA-256 of the body, one per line.
pub fn signing_payload(p: &SignedParts<'_>) -> Vec<u8> {
    let body_hash = hex::encode(Sha256::digest(p.body));
    format!(
        "rampart-device-v1\n{}\n{}\n{}\n{}\n{}\n{}",
        p.method,
        p.path,
        p.appliance.unwrap_or("-"),
        p.timestamp_ms,
        p.nonce,
        body_hash
    )
    .into_bytes()
}

/// The appliance side: signs a request with the appliance's private key.
pub fn sign(key: &SigningKey, parts: &SignedParts<'_>) -> String {
    B64.encode(key.sign(&signing_payload(parts)).to_bytes())
}

/// A nonce is 16 to 64 characters of hex; it makes each signature unique.
pub fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(body: &[u8]) -> SignedParts<'_> {
        SignedParts {
            method: "POST",
            path: CHECKIN_PATH,
            appliance: Some("ap_00"),
            timestamp_ms: 1_700_000_000_000,
            nonce: "00112233445566778899aabbccddeeff",
            body,
        }
    }

    #[test]
    fn signatures_verify_and_cover_every_part() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let pk = DevicePublicKey::from_bytes(sk.verifying_key().as_bytes()).unwrap();
        let sig = sign(&sk, &parts(b"{}"));
        assert!(pk.verify(&parts(b"{}"), &sig));
        assert!(!pk.verify(&parts(b"{ }"), &sig));
        let mut p = parts(b"{}");
        p.timestamp_ms += 1;
        assert!(!pk.verify(&p, &sig));
        let mut p = parts(b"{}");
        p.appliance = Some("ap_01");
        assert!(!pk.verify(&p, &sig));
        let mut p = parts(b"{}");
        p.path = ENROLL_PATH;
        assert!(!pk.verify(&p, &sig));
        assert!(!pk.verify(&parts(b"{}"), "not base64!"));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(!pk.verify(&parts(b"{}"), &sign(&other, &parts(b"{}"))));
    }

    #[test]
    fn public_keys_are_validated() {
        assert!(DevicePublicKey::parse("AAAA").is_err());
        assert!(
            DevicePublicKey::parse(&B64.encode([0u8; 32])).is_err(),
            "weak key"
        );
        let sk = SigningKey::from_bytes(&[9; 32]);
        let b64 = B64.encode(sk.verifying_key().as_bytes());
        assert_eq!(DevicePublicKey::parse(&b64).unwrap().to_base64(), b64);
    }

    #[test]
    fn debug_output_hides_the_license_secret() {
        let req: EnrollRequest = serde_json::from_value(serde_json::json!({
            "serial": "A1B2C3D4", "license_secret": "hunter2-secret", "public_key": "x",
            "firmware": "14.0", "hostname": "h", "model": "m"
        }))
        .unwrap();
        assert!(!format!("{req:?}").contains("hunter2"));
    }

    #[test]
    fn backup_upload_requests_are_bounded() {
        let ok = BackupUploadRequest {
            command_id: None,
            size: 1000,
            sha256: "ab".repeat(32),
            password_generation: 1,
        };
        assert_eq!(ok.validate().unwrap(), [0xab; 32]);
        let bad = [
            BackupUploadRequest {
                size: 0,
                ..ok.clone()
            },
            BackupUploadRequest {
                size: MAX_BACKUP_BYTES + 1,
                ..ok.clone()
            },
            BackupUploadRequest {
                sha256: "AB".repeat(32),
                ..ok.clone()
            },
            BackupUploadRequest {
                sha256: "ab".repeat(31),
                ..ok.clone()
            },
            BackupUploadRequest {
                sha256: "zz".repeat(32),
                ..ok.clone()
            },
            BackupUploadRequest {
                password_generation: 0,
                ..ok.clone()
            },
        ];
        for b in bad {
            assert!(b.validate().is_err(), "{b:?}");
        }
        let pin = pin_seal_context(&ApplianceId::from_random([1; 16]), &JobId::new(1, [0; 4]));
        let pw = backup_password_seal_context(
            &ApplianceId::from_random([1; 16]),
            &JobId::new(1, [0; 4]),
        );
        assert_ne!(pin, pw, "a sealed PIN never opens as a password");
    }

    #[test]
    fn nonces() {
        assert!(valid_nonce("00112233445566778899aabbccddeeff"));
        assert!(!valid_nonce("short"));
        assert!(!valid_nonce(&"z".repeat(32)));
    }
}
