//! Mapping of AWS SDK errors to [`StoreError`], shared by the adapters.
//!
//! Messages carry the operation and the service's error code and message, never
//! the request (so never an item, object or message body).

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rampart_ports::StoreError;
use std::fmt::Debug;

/// A failed AWS call: what was attempted and what the service (or the
/// connection) said.
#[derive(Debug, thiserror::Error)]
#[error("{service} {operation} failed: {detail}")]
pub struct AwsCallError {
    pub service: &'static str,
    pub operation: &'static str,
    pub code: Option<String>,
    pub detail: String,
}

/// The error code the service returned, if the call got that far.
pub(crate) fn code_of<E, R>(e: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    e.code()
}

/// `Unavailable` with the call's context.
pub(crate) fn unavailable<E, R>(
    service: &'static str,
    operation: &'static str,
    e: SdkError<E, R>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    StoreError::unavailable(call_error(service, operation, &e))
}

pub(crate) fn call_error<E, R>(
    service: &'static str,
    operation: &'static str,
    e: &SdkError<E, R>,
) -> AwsCallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    AwsCallError {
        service,
        operation,
        code: e.code().map(str::to_owned),
        detail: DisplayErrorContext(e).to_string(),
    }
}

/// `Invalid` for a request the service refused as malformed (not retryable).
pub(crate) fn invalid<E, R>(
    service: &'static str,
    operation: &'static str,
    e: &SdkError<E, R>,
) -> StoreError
where
    E: ProvideErrorMetadata,
{
    StoreError::Invalid(format!(
        "{service} {operation} refused the request: {}",
        e.message().unwrap_or("no message")
    ))
}
