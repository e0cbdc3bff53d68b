//! `/v1/admin/...`: the operator's view of the self-hosted console, behind a
//! bearer token kept in the data directory. (Tenant users get the portal API.)

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::get;
use axum::{Json, Router};
use rampart_domain::validation::Invalid;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

use crate::admin::{AdminService, ApplianceStatus};
use crate::error::ApiError;

/// The operator token, kept only as its SHA-256 so it cannot leak from memory dumps
/// of the comparison path or from Debug output.
#[derive(Clone)]
pub struct OperatorToken([u8; 32]);

impl OperatorToken {
    pub fn new(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    fn accepts(&self, presented: &str) -> bool {
        let h: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&h).into()
    }
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(..)")
    }
}

#[derive(Clone)]
struct AdminState {
    admin: Arc<AdminService>,
    token: OperatorToken,
}

pub fn admin_routes(admin: Arc<AdminService>, token: OperatorToken) -> Router {
    Router::new()
        .route("/v1/admin/appliances", get(appliances))
        .with_state(AdminState { admin, token })
}

#[derive(serde::Serialize)]
struct ApplianceList {
    items: Vec<ApplianceStatus>,
    next_cursor: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<u32>,
    /// The id of the last appliance of the previous page.
    cursor: Option<String>,
}

async fn appliances(
    State(st): State<AdminState>,
    headers: HeaderMap,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Json<ApplianceList>, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    if !st.token.accepts(presented) {
        return Err(ApiError::Unauthorized);
    }
    let Query(page) =
        page.map_err(|e| ApiError::InvalidField(Invalid::new("query", e.body_text())))?;
    let limit = page.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Invalid::new("limit", "1 to 1000").into());
    }
    // The fleet comes in tenant order, then appliance id: a stable order to page through.
    let fleet = st.admin.fleet().await?;
    let start = match &page.cursor {
        None => 0,
        Some(c) => {
            fleet
                .iter()
                .position(|r| r.appliance_id.as_str() == c)
                .ok_or_else(|| Invalid::new("cursor", "not a cursor this list returned"))?
                + 1
        }
    };
    let end = (start + limit as usize).min(fleet.len());
    let next_cursor = (end < fleet.len()).then(|| fleet[end - 1].appliance_id.to_string());
    Ok(Json(ApplianceList {
        items: fleet[start..end].to_vec(),
        next_cursor,
    }))
}
