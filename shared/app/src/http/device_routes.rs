//! `/v1/device/...`: enrollment and check-in.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::post;
use axum::{Json, Router};
use rampart_domain::device_protocol::{
    CHECKIN_PATH, CheckinResponse, ENROLL_PATH, EnrollResponse, MAX_BODY_BYTES,
};
use std::sync::Arc;

use super::body::json_bytes;
use crate::device::{DeviceAuth, DeviceService};
use crate::error::ApiError;

pub fn device_routes(svc: Arc<DeviceService>) -> axum::Router {
    Router::new()
        .route(ENROLL_PATH, post(enroll))
        .route(CHECKIN_PATH, post(checkin))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(svc)
}

async fn enroll(
    State(svc): State<Arc<DeviceService>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let body = json_bytes(&headers, body, MAX_BODY_BYTES)?;
    let auth = DeviceAuth::from_headers(&headers)?;
    let result = svc.enroll(&auth, method.as_str(), uri.path(), &body).await;
    if let Err(e) = &result {
        tracing::info!(code = e.code(), "enrollment refused");
    }
    result.map(Json)
}

async fn checkin(
    State(svc): State<Arc<DeviceService>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CheckinResponse>, ApiError> {
    let body = json_bytes(&headers, body, MAX_BODY_BYTES)?;
    let auth = DeviceAuth::from_headers(&headers)?;
    let result = svc.checkin(&auth, method.as_str(), uri.path(), &body).await;
    if let Err(e) = &result {
        tracing::info!(
            code = e.code(),
            appliance = auth.appliance.as_deref().unwrap_or("-"),
            "check-in refused"
        );
    }
    result.map(Json)
}
