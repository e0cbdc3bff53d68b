//! `/v1/device/...`: enrollment, check-in, command and configuration results.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::Extensions;
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::post;
use axum::{Json, Router};
use rampart_domain::device_protocol::{
    BACKUP_UPLOAD_PATH, BackupDownloadResponse, BackupUploadResponse, CHECKIN_PATH,
    CONFIG_RESULT_PATH, CheckinResponse, CommandResultResponse, ENROLL_PATH, EnrollResponse,
    MAX_BODY_BYTES,
};
use rampart_domain::profile::ConfigResultResponse;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::body::json_bytes;
use crate::device::{DeviceAuth, DeviceService};
use crate::error::ApiError;

/// The address a request came from, put in the request's extensions by a host
/// that knows it otherwise than from the socket (on AWS, API Gateway's `sourceIp`).
/// Self-hosted, the router is served with `ConnectInfo<SocketAddr>` instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub IpAddr);

/// The peer address: the host's `PeerAddr` if it set one, else the socket's.
fn peer_addr(extensions: &Extensions) -> Option<IpAddr> {
    extensions.get::<PeerAddr>().map(|p| p.0).or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    })
}

pub fn device_routes(svc: Arc<DeviceService>) -> axum::Router {
    Router::new()
        .route(ENROLL_PATH, post(enroll))
        .route(CHECKIN_PATH, post(checkin))
        .route("/v1/device/commands/{command}/result", post(command_result))
        .route(CONFIG_RESULT_PATH, post(config_result))
        .route(BACKUP_UPLOAD_PATH, post(backup_upload))
        .route(
            "/v1/device/backups/{backup}/download",
            post(backup_download),
        )
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
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CheckinResponse>, ApiError> {
    let body = json_bytes(&headers, body, MAX_BODY_BYTES)?;
    let peer = peer_addr(&extensions);
    let auth = DeviceAuth::from_headers(&headers)?.from_peer(peer);
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

async fn command_result(
    State(svc): State<Arc<DeviceService>>,
    Path(command): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CommandResultResponse>, ApiError> {
    let body = json_bytes(&headers, body, MAX_BODY_BYTES)?;
    let auth = DeviceAuth::from_headers(&headers)?;
    let result = svc
        .command_result(&auth, method.as_str(), uri.path(), &body, &command)
        .await;
    if let Err(e) = &result {
        tracing::info!(
            code = e.code(),
            appliance = auth.appliance.as_deref().unwrap_or("-"),
            "command result refused"
        );
    }
    result.map(Json)
}

async fn config_result(
    State(svc): State<Arc<DeviceService>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ConfigResultResponse>, ApiError> {
    let body = json_bytes(&headers, body, MAX_BODY_BYTES)?;
    let auth = DeviceAuth::from_headers(&headers)?;
    let result = svc
        .config_result(&auth, method.as_str(), uri.path(), &body)
        .await;
    if let Err(e) = &result {
        tracing::info!(
            code = e.code(),
            appliance = auth.appliance.as_deref().unwrap_or("-"),
            "configuration result refused"
        );
    }
    result.map(Json)
}

async fn backup_upload(
    State(svc): State<Arc<DeviceService>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BackupUploadResponse>, ApiError> {
    let body = json_bytes(&headers, body, MAX_BODY_BYTES)?;
    let auth = DeviceAuth::from_headers(&headers)?;
    let result = svc
        .grant_backup_upload(&auth, method.as_str(), uri.path(), &body)
        .await;
    if let Err(e) = &result {
        tracing::info!(
            code = e.code(),
            appliance = auth.appliance.as_deref().unwrap_or("-"),
            "backup upload refused"
        );
    }
    result.map(Json)
}

async fn backup_download(
    State(svc): State<Arc<DeviceService>>,
    Path(backup): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BackupDownloadResponse>, ApiError> {
    let body = json_bytes(&headers, body, MAX_BODY_BYTES)?;
    let auth = DeviceAuth::from_headers(&headers)?;
    let result = svc
        .grant_backup_download(&auth, method.as_str(), uri.path(), &body, &backup)
        .await;
    if let Err(e) = &result {
        tracing::info!(
            code = e.code(),
            appliance = auth.appliance.as_deref().unwrap_or("-"),
            "backup download refused"
        );
    }
    result.map(Json)
}
