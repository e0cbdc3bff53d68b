//! `/v1/...`: the portal API, built from the route table. Each route's access
//! level is enforced here, before its handler runs: a session for every
//! non-public route, and for `{tenant}` routes the tenant wall and, for changing
//! routes, the role. Services check again; the wall holds even if one forgot.

use axum::extract::{DefaultBodyLimit, Path, Query, RawPathParams, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use axum::{Extension, Json, Router};
use rampart_domain::Timestamp;
use rampart_domain::applications::{ApplicationSort, SortDirection};
use rampart_domain::ids::{ApplianceId, BackupId, JobId, ScanId, Serial, TenantId};
use rampart_domain::portal_protocol::{
    AppliancePatch, BackupSchedule, JobCancel, LoginRequest, NewJob, NewTenant, NewUser,
    PasswordResetConfirm, PasswordResetRequest, TotpEnrollRequest, TotpRequest,
};
use rampart_domain::profile::{AssignProfile, AssignmentKind, ProfileName, SaveProfile};
use rampart_domain::tenancy::Email;
use rampart_domain::validation::Invalid;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

use super::api_json::{ApiJson, MAX_PORTAL_BODY};
use super::route_table::{Access, PORTAL_ROUTES, RouteSpec};
use crate::error::ApiError;
use crate::portal::{ApplianceQuery, ApplicationQuery, LogOrder, PortalService, Principal};

type Svc = Arc<PortalService>;

pub fn portal_routes(svc: Svc) -> Router {
    let mut router = Router::new();
    for spec in PORTAL_ROUTES {
        let route = handler(spec).route_layer(middleware::from_fn_with_state(
            (svc.clone(), spec.access),
            guard,
        ));
        router = router.route(spec.path, route);
    }
    router
        .layer(DefaultBodyLimit::max(MAX_PORTAL_BODY))
        .with_state(svc)
}

/// The handler of each route of the table. A route without one fails the
/// router's construction (and so every test).
fn handler(spec: &RouteSpec) -> MethodRouter<Svc> {
    match (spec.method, spec.path) {
        ("POST", "/v1/auth/login") => post(login),
        ("POST", "/v1/auth/totp") => post(totp),
        ("POST", "/v1/auth/totp/enroll") => post(totp_enroll),
        ("POST", "/v1/auth/totp/confirm") => post(totp_confirm),
        ("POST", "/v1/auth/password-reset") => post(password_reset),
        ("POST", "/v1/auth/password-reset/confirm") => post(password_reset_confirm),
        ("POST", "/v1/auth/logout") => post(logout),
        ("GET", "/v1/me") => get(me),
        ("GET", "/v1/tenants") => get(list_tenants),
        ("POST", "/v1/tenants") => post(create_tenant),
        ("GET", "/v1/tenants/{tenant}") => get(get_tenant),
        ("GET", "/v1/tenants/{tenant}/users") => get(list_users),
        ("POST", "/v1/tenants/{tenant}/users") => post(add_user),
        ("DELETE", "/v1/tenants/{tenant}/users/{email}") => delete(remove_user),
        ("POST", "/v1/tenants/{tenant}/users/{email}/revoke-sessions") => post(revoke_sessions),
        ("GET", "/v1/tenants/{tenant}/licenses") => get(list_licenses),
        ("GET", "/v1/tenants/{tenant}/appliances") => get(list_appliances),
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}") => get(appliance_detail),
        ("PATCH", "/v1/tenants/{tenant}/appliances/{appliance}") => patch(patch_appliance),
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/cluster") => get(cluster_view),
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/log") => get(appliance_log),
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/log/head") => get(appliance_log_head),
        ("POST", "/v1/tenants/{tenant}/jobs") => post(create_job),
        ("GET", "/v1/tenants/{tenant}/jobs") => get(list_jobs),
        ("GET", "/v1/tenants/{tenant}/jobs/{job}") => get(job),
        ("GET", "/v1/tenants/{tenant}/jobs/{job}/commands") => get(job_commands),
        ("POST", "/v1/tenants/{tenant}/jobs/{job}/cancel") => post(cancel_job),
        ("GET", "/v1/tenants/{tenant}/licenses/{serial}/backups") => get(list_backups),
        ("POST", "/v1/tenants/{tenant}/licenses/{serial}/backups/{backup}/download") => {
            post(download_backup)
        }
        ("DELETE", "/v1/tenants/{tenant}/licenses/{serial}/backups/{backup}") => {
            delete(delete_backup)
        }
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/backup-schedule") => {
            get(backup_schedule)
        }
        ("PUT", "/v1/tenants/{tenant}/appliances/{appliance}/backup-schedule") => {
            put(set_backup_schedule)
        }
        ("POST", "/v1/tenants/{tenant}/appliances/{appliance}/scans") => post(start_scan),
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/scans") => get(list_scans),
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/scans/{scan}") => get(scan),
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/status-history") => {
            get(status_history)
        }
        ("GET", "/v1/tenants/{tenant}/profiles") => get(list_profiles),
        ("GET", "/v1/tenants/{tenant}/profiles/{profile}") => get(profile),
        ("PUT", "/v1/tenants/{tenant}/profiles/{profile}") => put(save_profile),
        ("DELETE", "/v1/tenants/{tenant}/profiles/{profile}") => delete(delete_profile),
        ("GET", "/v1/tenants/{tenant}/profile-assignments") => get(list_assignments),
        ("PUT", "/v1/tenants/{tenant}/profile-assignments/{kind}/{target}") => put(assign_profile),
        ("DELETE", "/v1/tenants/{tenant}/profile-assignments/{kind}/{target}") => {
            delete(unassign_profile)
        }
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/configuration") => {
            get(appliance_configuration)
        }
        ("GET", "/v1/scan-profile") => get(scan_profile),
        ("GET", "/v1/tenants/{tenant}/appliances/{appliance}/applications") => get(applications),
        ("GET", "/v1/tenants/{tenant}/removed-appliances") => get(removed_appliances),
        ("GET", "/v1/firmware") => get(firmware_catalog),
        ("GET", "/v1/openapi.json") => get(super::openapi::openapi_document),
        (method, path) => panic!("route {method} {path} has no handler"),
    }
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::MissingAuth("authorization"))
}

/// Authenticates and walls every request by its route's access level.
async fn guard(
    State((svc, access)): State<(Svc, Access)>,
    params: RawPathParams,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if access == Access::Public {
        return Ok(next.run(req).await);
    }
    let who = svc.authenticate(bearer(req.headers())?).await?;
    if matches!(access, Access::TenantRead | Access::TenantChange) {
        let tenant = params
            .iter()
            .find(|(k, _)| *k == "tenant")
            .map(|(_, v)| v)
            .ok_or(ApiError::NotFound)?;
        let tenant = TenantId::parse(tenant).map_err(|_| ApiError::NotFound)?;
        svc.authorize_tenant(&who, &tenant).await?;
    }
    if matches!(access, Access::TenantChange | Access::SessionChange) {
        who.require_change()?;
    }
    req.extensions_mut().insert(who);
    Ok(next.run(req).await)
}

// ---- parameters ------------------------------------------------------------------

fn tenant_param(p: &HashMap<String, String>) -> Result<TenantId, ApiError> {
    p.get("tenant")
        .and_then(|t| TenantId::parse(t).ok())
        .ok_or(ApiError::NotFound)
}

fn appliance_param(p: &HashMap<String, String>) -> Result<ApplianceId, ApiError> {
    p.get("appliance")
        .and_then(|a| ApplianceId::parse(a).ok())
        .ok_or(ApiError::NotFound)
}

type Params = Path<HashMap<String, String>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplianceListParams {
    limit: Option<u32>,
    cursor: Option<String>,
    name: Option<String>,
    cluster: Option<String>,
    tag: Option<String>,
    sort: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogParams {
    limit: Option<u32>,
    cursor: Option<String>,
    order: Option<LogOrder>,
}

fn serial_param(p: &HashMap<String, String>) -> Result<Serial, ApiError> {
    p.get("serial")
        .and_then(|s| Serial::parse(s).ok())
        .ok_or(ApiError::NotFound)
}

fn backup_param(p: &HashMap<String, String>) -> Result<BackupId, ApiError> {
    p.get("backup")
        .and_then(|b| BackupId::parse(b).ok())
        .ok_or(ApiError::NotFound)
}

fn scan_param(p: &HashMap<String, String>) -> Result<ScanId, ApiError> {
    p.get("scan")
        .and_then(|s| ScanId::parse(s).ok())
        .ok_or(ApiError::NotFound)
}

fn job_param(p: &HashMap<String, String>) -> Result<JobId, ApiError> {
    p.get("job")
        .and_then(|j| JobId::parse(j).ok())
        .ok_or(ApiError::NotFound)
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::InvalidField(Invalid::new("query", e.body_text())))
}

fn check_limit(limit: Option<u32>) -> Result<Option<u32>, ApiError> {
    match limit {
        Some(l) if !(1..=crate::portal::MAX_PAGE).contains(&l) => {
            Err(Invalid::new("limit", format!("1 to {}", crate::portal::MAX_PAGE)).into())
        }
        other => Ok(other),
    }
}

// ---- sign-in ---------------------------------------------------------------------

async fn login(
    State(svc): State<Svc>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(svc.login(req).await?).into_response())
}

async fn totp(
    State(svc): State<Svc>,
    ApiJson(req): ApiJson<TotpRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(svc.verify_totp(req).await?).into_response())
}

async fn totp_enroll(
    State(svc): State<Svc>,
    ApiJson(req): ApiJson<TotpEnrollRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(svc.enroll_totp(req).await?).into_response())
}

async fn totp_confirm(
    State(svc): State<Svc>,
    ApiJson(req): ApiJson<TotpRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(svc.confirm_totp(req).await?).into_response())
}

async fn password_reset(
    State(svc): State<Svc>,
    ApiJson(req): ApiJson<PasswordResetRequest>,
) -> Result<Response, ApiError> {
    svc.request_password_reset(req).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "status": "accepted" })),
    )
        .into_response())
}

async fn password_reset_confirm(
    State(svc): State<Svc>,
    ApiJson(req): ApiJson<PasswordResetConfirm>,
) -> Result<Response, ApiError> {
    svc.confirm_password_reset(req).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn logout(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    svc.sign_out(&who).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn me(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    Ok(Json(svc.me(&who).await).into_response())
}

// ---- tenants and users -----------------------------------------------------------

async fn list_tenants(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    Ok(Json(
        svc.list_tenants(&who, check_limit(q.limit)?, q.cursor)
            .await?,
    )
    .into_response())
}

async fn create_tenant(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    ApiJson(new): ApiJson<NewTenant>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc.create_customer(&who, new).await?),
    )
        .into_response())
}

async fn get_tenant(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    Ok(Json(svc.get_tenant(&who, &tenant_param(&p)?).await?).into_response())
}

async fn list_users(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .list_users(&who, &tenant_param(&p)?, check_limit(q.limit)?, q.cursor)
        .await?;
    Ok(Json(page).into_response())
}

async fn add_user(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<Response, ApiError> {
    let user = svc.add_user(&who, &tenant_param(&p)?, new).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn remove_user(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let email = p
        .get("email")
        .and_then(|e| Email::parse(e).ok())
        .ok_or(ApiError::NotFound)?;
    svc.remove_user(&who, &tenant_param(&p)?, &email).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn revoke_sessions(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let email = p
        .get("email")
        .and_then(|e| Email::parse(e).ok())
        .ok_or(ApiError::NotFound)?;
    let revoked = svc
        .revoke_sessions(&who, &tenant_param(&p)?, &email)
        .await?;
    Ok(Json(serde_json::json!({ "revoked": revoked })).into_response())
}

async fn list_licenses(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .list_licenses(&who, &tenant_param(&p)?, check_limit(q.limit)?, q.cursor)
        .await?;
    Ok(Json(page).into_response())
}

// ---- appliances ------------------------------------------------------------------

async fn list_appliances(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ApplianceListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let descending = match q.sort.as_deref() {
        None | Some("name") => false,
        Some("-name") => true,
        Some(_) => return Err(Invalid::new("sort", "name or -name").into()),
    };
    for (field, v) in [("name", &q.name), ("cluster", &q.cluster), ("tag", &q.tag)] {
        if v.as_ref().is_some_and(|v| v.chars().count() > 64) {
            return Err(Invalid::new(field, "at most 64 characters").into());
        }
    }
    let query = ApplianceQuery {
        name: q.name,
        cluster: q.cluster,
        tag: q.tag,
        descending,
        limit: check_limit(q.limit)?,
        cursor: q.cursor,
    };
    Ok(Json(svc.list_appliances(&who, &tenant_param(&p)?, query).await?).into_response())
}

async fn appliance_detail(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let detail = svc
        .appliance_detail(&who, &tenant_param(&p)?, &appliance_param(&p)?)
        .await?;
    Ok(Json(detail).into_response())
}

async fn patch_appliance(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    ApiJson(change): ApiJson<AppliancePatch>,
) -> Result<Response, ApiError> {
    let detail = svc
        .patch_appliance(&who, &tenant_param(&p)?, &appliance_param(&p)?, change)
        .await?;
    Ok(Json(detail).into_response())
}

async fn cluster_view(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let view = svc
        .cluster_view(&who, &tenant_param(&p)?, &appliance_param(&p)?)
        .await?;
    Ok(Json(view).into_response())
}

// ---- communication log -----------------------------------------------------------

async fn appliance_log(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<LogParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .appliance_log(
            &who,
            &tenant_param(&p)?,
            &appliance_param(&p)?,
            q.order.unwrap_or_default(),
            check_limit(q.limit)?,
            q.cursor,
        )
        .await?;
    Ok(Json(page).into_response())
}

async fn appliance_log_head(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let head = svc
        .appliance_log_head(&who, &tenant_param(&p)?, &appliance_param(&p)?)
        .await?;
    Ok(Json(head).into_response())
}

// ---- jobs ------------------------------------------------------------------------

async fn create_job(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    ApiJson(new): ApiJson<NewJob>,
) -> Result<Response, ApiError> {
    let job = svc.create_job(&who, &tenant_param(&p)?, new).await?;
    Ok((StatusCode::CREATED, Json(job)).into_response())
}

async fn list_jobs(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .list_jobs(&who, &tenant_param(&p)?, check_limit(q.limit)?, q.cursor)
        .await?;
    Ok(Json(page).into_response())
}

async fn job(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let job = svc.job(&who, &tenant_param(&p)?, &job_param(&p)?).await?;
    Ok(Json(job).into_response())
}

async fn job_commands(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .job_command_page(
            &who,
            &tenant_param(&p)?,
            &job_param(&p)?,
            check_limit(q.limit)?,
            q.cursor,
        )
        .await?;
    Ok(Json(page).into_response())
}

async fn cancel_job(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    ApiJson(which): ApiJson<JobCancel>,
) -> Result<Response, ApiError> {
    let job = svc
        .cancel_job(&who, &tenant_param(&p)?, &job_param(&p)?, which)
        .await?;
    Ok(Json(job).into_response())
}

// ---- cloud backups ---------------------------------------------------------------

async fn list_backups(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .list_backups(
            &who,
            &tenant_param(&p)?,
            &serial_param(&p)?,
            check_limit(q.limit)?,
            q.cursor,
        )
        .await?;
    Ok(Json(page).into_response())
}

async fn download_backup(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let download = svc
        .download_backup(
            &who,
            &tenant_param(&p)?,
            &serial_param(&p)?,
            &backup_param(&p)?,
        )
        .await?;
    Ok(Json(download).into_response())
}

async fn delete_backup(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    svc.delete_backup(
        &who,
        &tenant_param(&p)?,
        &serial_param(&p)?,
        &backup_param(&p)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn backup_schedule(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let view = svc
        .backup_schedule(&who, &tenant_param(&p)?, &appliance_param(&p)?)
        .await?;
    Ok(Json(view).into_response())
}

async fn set_backup_schedule(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    ApiJson(schedule): ApiJson<BackupSchedule>,
) -> Result<Response, ApiError> {
    let view = svc
        .set_backup_schedule(&who, &tenant_param(&p)?, &appliance_param(&p)?, schedule)
        .await?;
    Ok(Json(view).into_response())
}

// ---- security scans --------------------------------------------------------------

async fn start_scan(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let scan = svc
        .start_scan(&who, &tenant_param(&p)?, &appliance_param(&p)?)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(scan)).into_response())
}

async fn list_scans(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .list_scans(
            &who,
            &tenant_param(&p)?,
            &appliance_param(&p)?,
            check_limit(q.limit)?,
            q.cursor,
        )
        .await?;
    Ok(Json(page).into_response())
}

async fn scan(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let view = svc
        .scan(
            &who,
            &tenant_param(&p)?,
            &appliance_param(&p)?,
            &scan_param(&p)?,
        )
        .await?;
    Ok(Json(view).into_response())
}

async fn scan_profile() -> Result<Response, ApiError> {
    Ok(Json(crate::portal::scan_profile()).into_response())
}

// ---- status history --------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    since: Option<String>,
    until: Option<String>,
    points: Option<u32>,
}

fn time_param(field: &'static str, v: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let invalid = || Invalid::new(field, "an RFC 3339 time, e.g. 2026-12-01T00:00:00Z");
    if v.len() > 64 {
        return Err(invalid().into());
    }
    let t = chrono::DateTime::parse_from_rfc3339(v).map_err(|_| invalid())?;
    Ok(Some(Timestamp::from_millis(t.timestamp_millis())))
}

async fn status_history(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<HistoryParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let view = svc
        .status_history(
            &who,
            &tenant_param(&p)?,
            &appliance_param(&p)?,
            time_param("since", q.since.as_deref())?,
            time_param("until", q.until.as_deref())?,
            q.points,
        )
        .await?;
    Ok(Json(view).into_response())
}

// ---- applications, firmware catalog, removals ------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationParams {
    limit: Option<u32>,
    cursor: Option<String>,
    sort: Option<ApplicationSort>,
    order: Option<SortDirection>,
}

async fn applications(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ApplicationParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .applications(
            &who,
            &tenant_param(&p)?,
            &appliance_param(&p)?,
            ApplicationQuery {
                sort: q.sort.unwrap_or_default(),
                direction: q.order.unwrap_or_default(),
                limit: check_limit(q.limit)?,
                cursor: q.cursor,
            },
        )
        .await?;
    Ok(Json(page).into_response())
}

async fn removed_appliances(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .removed_appliances(&who, &tenant_param(&p)?, check_limit(q.limit)?, q.cursor)
        .await?;
    Ok(Json(page).into_response())
}

async fn firmware_catalog(
    State(svc): State<Svc>,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .firmware_catalog(check_limit(q.limit)?, q.cursor)
        .await?;
    Ok(Json(page).into_response())
}

// ---- configuration profiles ------------------------------------------------------

fn profile_param(p: &HashMap<String, String>) -> Result<ProfileName, ApiError> {
    p.get("profile")
        .and_then(|n| ProfileName::parse(n).ok())
        .ok_or(ApiError::NotFound)
}

/// `{kind}/{target}` of an assignment: `appliance/<id>` or `tag/<tag>`.
fn assignment_param(p: &HashMap<String, String>) -> Result<(AssignmentKind, String), ApiError> {
    let kind = p
        .get("kind")
        .and_then(|k| AssignmentKind::parse(k))
        .ok_or(ApiError::NotFound)?;
    let target = p.get("target").cloned().ok_or(ApiError::NotFound)?;
    Ok((kind, target))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileParams {
    version: Option<u64>,
}

async fn list_profiles(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .list_profiles(&who, &tenant_param(&p)?, check_limit(q.limit)?, q.cursor)
        .await?;
    Ok(Json(page).into_response())
}

async fn profile(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ProfileParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let view = svc
        .config_profile(&who, &tenant_param(&p)?, &profile_param(&p)?, q.version)
        .await?;
    Ok(Json(view).into_response())
}

async fn save_profile(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    ApiJson(save): ApiJson<SaveProfile>,
) -> Result<Response, ApiError> {
    let (created, view) = svc
        .save_profile(&who, &tenant_param(&p)?, &profile_param(&p)?, save)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

async fn delete_profile(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    svc.delete_profile(&who, &tenant_param(&p)?, &profile_param(&p)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_assignments(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    q: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let page = svc
        .list_assignments(&who, &tenant_param(&p)?, check_limit(q.limit)?, q.cursor)
        .await?;
    Ok(Json(page).into_response())
}

async fn assign_profile(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
    ApiJson(assign): ApiJson<AssignProfile>,
) -> Result<Response, ApiError> {
    let (kind, target) = assignment_param(&p)?;
    let view = svc
        .assign_profile(&who, &tenant_param(&p)?, kind, &target, assign)
        .await?;
    Ok(Json(view).into_response())
}

async fn unassign_profile(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let (kind, target) = assignment_param(&p)?;
    svc.unassign_profile(&who, &tenant_param(&p)?, kind, &target)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn appliance_configuration(
    State(svc): State<Svc>,
    Extension(who): Extension<Principal>,
    Path(p): Params,
) -> Result<Response, ApiError> {
    let view = svc
        .appliance_configuration(&who, &tenant_param(&p)?, &appliance_param(&p)?)
        .await?;
    Ok(Json(view).into_response())
}
