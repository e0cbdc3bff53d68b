//! The one error type of the HTTP boundary, and its single mapping to a status
//! and a JSON body with a stable, machine-readable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_domain::device_protocol::{ErrorBody, ErrorDetail};
use rampart_domain::license::EnrollRefusal;
use rampart_domain::status_history::RangeRefusal;
use rampart_domain::validation::Invalid;
use rampart_ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body is not valid JSON for this endpoint: {0}")]
    MalformedBody(String),
    #[error("{0}")]
    InvalidField(Invalid),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("missing or malformed {0} header")]
    MissingAuth(&'static str),
    #[error("request timestamp is outside the accepted clock window")]
    StaleRequest,
    #[error("request was already seen (replay) or is older than the last accepted one")]
    ReplayedRequest,
    #[error("signature does not verify")]
    BadSignature,
    #[error("unknown appliance")]
    UnknownAppliance,
    #[error(transparent)]
    Enroll(#[from] EnrollRefusal),
    #[error("license {0} is already registered")]
    LicenseExists(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("missing or invalid operator token")]
    Unauthorized,
    #[error("e-mail or password is wrong")]
    InvalidCredentials,
    #[error("the code is wrong, expired or already used")]
    InvalidTotp,
    #[error("too many failed attempts: try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: i64 },
    #[error("account locked after repeated failures until {until}")]
    AccountLocked { until: String },
    #[error("sign in again: the session expired or was revoked")]
    SessionExpired,
    #[error("two-factor authentication must be set up first")]
    TotpRequired,
    #[error("not allowed for this user")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    /// The console refuses to queue a command, from what it knows of the appliance
    /// (its last reported authorizations, its firmware).
    #[error("refused by the console ({}): {}", .0.code(), .0)]
    CommandRefused(rampart_domain::jobs::Refusal),
    #[error("unknown command")]
    UnknownCommand,
    /// A report on a command that already finished otherwise.
    #[error("the command has already finished as {0}")]
    CommandFinished(rampart_domain::jobs::CommandState),
    #[error(transparent)]
    IllegalTransition(#[from] rampart_domain::jobs::IllegalTransition),
    #[error("backup password refused: {0}")]
    BackupPassword(rampart_domain::backup::PasswordRefusal),
    #[error("a security scan of this appliance is already queued or running")]
    ScanRunning,
    #[error("too many security scans for this tenant: try again in {retry_after_secs} s")]
    TooManyScans { retry_after_secs: i64 },
    #[error("{0}")]
    HistoryRange(rampart_domain::status_history::RangeRefusal),
    #[error("storage is unavailable, retry later")]
    Unavailable(#[source] anyhow::Error),
}

impl ApiError {
    /// The stable code clients may match on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::InvalidField(_) => "invalid_field",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::MissingAuth(_) => "missing_authentication",
            ApiError::StaleRequest => "stale_request",
            ApiError::ReplayedRequest => "replayed_request",
            ApiError::BadSignature => "bad_signature",
            ApiError::UnknownAppliance => "unknown_appliance",
            ApiError::Enroll(EnrollRefusal::UnknownLicense) => "unknown_license",
            ApiError::Enroll(EnrollRefusal::WrongSecret) => "wrong_license_secret",
            ApiError::Enroll(EnrollRefusal::BoundElsewhere) => "license_bound_elsewhere",
            ApiError::Enroll(EnrollRefusal::Expired(_)) => "license_expired",
            ApiError::Enroll(EnrollRefusal::FirmwareTooOld(_)) => "firmware_too_old",
            ApiError::LicenseExists(_) => "license_exists",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::InvalidTotp => "invalid_totp",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::AccountLocked { .. } => "account_locked",
            ApiError::SessionExpired => "session_expired",
            ApiError::TotpRequired => "totp_required",
            ApiError::Forbidden => "forbidden",
            ApiError::Conflict(_) => "conflict",
            ApiError::CommandRefused(_) => "command_refused",
            ApiError::UnknownCommand => "unknown_command",
            ApiError::CommandFinished(_) => "command_finished",
            ApiError::IllegalTransition(_) => "illegal_transition",
            ApiError::BackupPassword(r) => r.code(),
            ApiError::ScanRunning => "scan_running",
            ApiError::TooManyScans { .. } => "too_many_scans",
            ApiError::HistoryRange(RangeRefusal::Empty) => "empty_range",
            ApiError::HistoryRange(RangeRefusal::BeforeRetention) => "range_before_retention",
            ApiError::HistoryRange(RangeRefusal::Points) => "invalid_points",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidField(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MissingAuth(_)
            | ApiError::StaleRequest
            | ApiError::ReplayedRequest
            | ApiError::BadSignature
            | ApiError::UnknownAppliance
            | ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Enroll(EnrollRefusal::UnknownLicense) | ApiError::NotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::Enroll(EnrollRefusal::WrongSecret)
            | ApiError::Enroll(EnrollRefusal::Expired(_))
            | ApiError::Enroll(EnrollRefusal::FirmwareTooOld(_)) => StatusCode::FORBIDDEN,
            ApiError::Enroll(EnrollRefusal::BoundElsewhere) | ApiError::LicenseExists(_) => {
                StatusCode::CONFLICT
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidCredentials
            | ApiError::InvalidTotp
            | ApiError::SessionExpired
            | ApiError::TotpRequired => StatusCode::UNAUTHORIZED,
            ApiError::TooManyAttempts { .. } | ApiError::AccountLocked { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::Conflict(_)
            | ApiError::CommandRefused(_)
            | ApiError::IllegalTransition(_) => StatusCode::CONFLICT,
            ApiError::UnknownCommand => StatusCode::NOT_FOUND,
            ApiError::CommandFinished(_) => StatusCode::GONE,
            ApiError::BackupPassword(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ScanRunning => StatusCode::CONFLICT,
            ApiError::TooManyScans { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::HistoryRange(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::InvalidField(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // A request the store refuses as malformed, e.g. a forged page cursor.
            StoreError::Invalid(reason) => ApiError::InvalidField(Invalid::new("request", reason)),
            other => ApiError::Unavailable(anyhow::Error::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Unavailable(e) = &self {
            // The cause goes to the log (it never holds secrets: adapters do not
            // put values in errors); the client gets the stable code only.
            tracing::error!(error = format!("{e:#}"), "store request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        };
        (status, axum::Json(body)).into_response()
    }
}
