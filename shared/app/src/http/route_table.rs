//! Every route of the portal API in one table. The router is built from it, the
//! tenant-wall test walks it, and the OpenAPI test compares the document to it, so
//! a new route cannot escape any of the three.

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No session (sign-in steps, password reset, the API document).
    Public,
    /// Any signed-in user; the handler scopes everything to the user's own tenant.
    Session,
    /// A signed-in user who can see `{tenant}` (own tenant, or a reseller's customer).
    TenantRead,
    /// As `TenantRead`, and the user's role may change things.
    TenantChange,
    /// Signed in, and an administrator of the caller's own tenant.
    SessionChange,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    /// axum path syntax, `{name}` for parameters.
    pub path: &'static str,
    pub access: Access,
}

const fn route(method: &'static str, path: &'static str, access: Access) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
    }
}

pub const PORTAL_ROUTES: &[RouteSpec] = &[
    route("POST", "/v1/auth/login", Access::Public),
    route("POST", "/v1/auth/totp", Access::Public),
    route("POST", "/v1/auth/totp/enroll", Access::Public),
    route("POST", "/v1/auth/totp/confirm", Access::Public),
    route("POST", "/v1/auth/password-reset", Access::Public),
    route("POST", "/v1/auth/password-reset/confirm", Access::Public),
    route("POST", "/v1/auth/logout", Access::Session),
    route("GET", "/v1/me", Access::Session),
    route("GET", "/v1/tenants", Access::Session),
    route("POST", "/v1/tenants", Access::SessionChange),
    route("GET", "/v1/tenants/{tenant}", Access::TenantRead),
    route("GET", "/v1/tenants/{tenant}/users", Access::TenantRead),
    route("POST", "/v1/tenants/{tenant}/users", Access::TenantChange),
    route(
        "DELETE",
        "/v1/tenants/{tenant}/users/{email}",
        Access::TenantChange,
    ),
    route(
        "POST",
        "/v1/tenants/{tenant}/users/{email}/revoke-sessions",
        Access::TenantChange,
    ),
    route("GET", "/v1/tenants/{tenant}/licenses", Access::TenantRead),
    route("GET", "/v1/tenants/{tenant}/appliances", Access::TenantRead),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}",
        Access::TenantRead,
    ),
    route(
        "PATCH",
        "/v1/tenants/{tenant}/appliances/{appliance}",
        Access::TenantChange,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/cluster",
        Access::TenantRead,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/log",
        Access::TenantRead,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/log/head",
        Access::TenantRead,
    ),
    route("POST", "/v1/tenants/{tenant}/jobs", Access::TenantChange),
    route("GET", "/v1/tenants/{tenant}/jobs", Access::TenantRead),
    route("GET", "/v1/tenants/{tenant}/jobs/{job}", Access::TenantRead),
    route(
        "GET",
        "/v1/tenants/{tenant}/jobs/{job}/commands",
        Access::TenantRead,
    ),
    route(
        "POST",
        "/v1/tenants/{tenant}/jobs/{job}/cancel",
        Access::TenantChange,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/licenses/{serial}/backups",
        Access::TenantRead,
    ),
    route(
        "POST",
        "/v1/tenants/{tenant}/licenses/{serial}/backups/{backup}/download",
        Access::TenantRead,
    ),
    route(
        "DELETE",
        "/v1/tenants/{tenant}/licenses/{serial}/backups/{backup}",
        Access::TenantChange,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/backup-schedule",
        Access::TenantRead,
    ),
    route(
        "PUT",
        "/v1/tenants/{tenant}/appliances/{appliance}/backup-schedule",
        Access::TenantChange,
    ),
    route(
        "POST",
        "/v1/tenants/{tenant}/appliances/{appliance}/scans",
        Access::TenantChange,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/scans",
        Access::TenantRead,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/scans/{scan}",
        Access::TenantRead,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/status-history",
        Access::TenantRead,
    ),
    route("GET", "/v1/tenants/{tenant}/profiles", Access::TenantRead),
    route(
        "GET",
        "/v1/tenants/{tenant}/profiles/{profile}",
        Access::TenantRead,
    ),
    route(
        "PUT",
        "/v1/tenants/{tenant}/profiles/{profile}",
        Access::TenantChange,
    ),
    route(
        "DELETE",
        "/v1/tenants/{tenant}/profiles/{profile}",
        Access::TenantChange,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/profile-assignments",
        Access::TenantRead,
    ),
    route(
        "PUT",
        "/v1/tenants/{tenant}/profile-assignments/{kind}/{target}",
        Access::TenantChange,
    ),
    route(
        "DELETE",
        "/v1/tenants/{tenant}/profile-assignments/{kind}/{target}",
        Access::TenantChange,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/configuration",
        Access::TenantRead,
    ),
    route("GET", "/v1/scan-profile", Access::Session),
    route(
        "GET",
        "/v1/tenants/{tenant}/appliances/{appliance}/applications",
        Access::TenantRead,
    ),
    route(
        "GET",
        "/v1/tenants/{tenant}/removed-appliances",
        Access::TenantRead,
    ),
    route("GET", "/v1/firmware", Access::Session),
    route("GET", "/v1/openapi.json", Access::Public),
];

/// The device API's routes, for the OpenAPI check (they authenticate by signature).
pub const DEVICE_ROUTES: &[RouteSpec] = &[
    route("POST", "/v1/device/enroll", Access::Public),
    route("POST", "/v1/device/checkin", Access::Public),
    route(
        "POST",
        "/v1/device/commands/{command}/result",
        Access::Public,
    ),
    route("POST", "/v1/device/configuration/result", Access::Public),
    route("POST", "/v1/device/backups", Access::Public),
    route(
        "POST",
        "/v1/device/backups/{backup}/download",
        Access::Public,
    ),
];
