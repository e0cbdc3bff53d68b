//! The HTTP face of the console: routers that run under `lambda_http` on AWS and
//! directly on a socket self-hosted.

mod admin_routes;
mod api_json;
mod body;
mod device_routes;
pub mod openapi;
mod portal_routes;
pub mod route_table;

pub use admin_routes::{OperatorToken, admin_routes};
pub use device_routes::{PeerAddr, device_routes};
pub use portal_routes::portal_routes;

use axum::Router;
use axum::routing::get;
use std::sync::Arc;

use crate::device::DeviceService;
use crate::error::ApiError;

/// The device API as the `device-api` function serves it.
pub fn device_api(svc: Arc<DeviceService>) -> Router {
    with_json_fallbacks(device_routes(svc).route("/healthz", get(healthz)))
}

/// The portal API as the `portal-api` function serves it.
pub fn portal_api(svc: Arc<crate::portal::PortalService>) -> Router {
    with_json_fallbacks(portal_routes(svc))
}

/// Unknown paths and methods answer with the same JSON errors as everything else.
pub fn with_json_fallbacks(router: Router) -> Router {
    router
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
}

pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}
