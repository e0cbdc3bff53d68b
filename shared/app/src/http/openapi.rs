//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the portal and device
//! APIs, kept in the repository (`docs/openapi.json`) and compiled in. The e2e
//! test `openapi` checks it against the route table and the wire types.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The document, byte for byte as in `docs/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../../../docs/openapi.json");

/// Answers the document as `application/json`.
pub async fn openapi_document() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON,
    )
        .into_response()
}
