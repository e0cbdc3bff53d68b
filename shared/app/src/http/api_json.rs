//! A JSON body extractor whose every refusal is one of our JSON errors
//! (size limit, content type, malformed or unknown fields), never axum's text.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::body::json_bytes;
use crate::error::ApiError;
use crate::json_body;

/// Largest portal request body (the router's body limit is set to this too).
pub const MAX_PORTAL_BODY: usize = 64 * 1024;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await;
        let bytes = json_bytes(&headers, body, MAX_PORTAL_BODY)?;
        Ok(ApiJson(json_body::parse(&bytes)?))
    }
}
