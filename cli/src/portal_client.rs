//! A typed client for the portal API: one method per route, the wire types from
//! `rampart_domain::portal_protocol`, and every error body mapped to
//! [`PortalError::Api`] with its HTTP status and error code.

use rampart_domain::applications::{ApplicationSort, ApplicationView, SortDirection};
use rampart_domain::comm_log::LogEntry;
use rampart_domain::device_protocol::ErrorBody;
use rampart_domain::firmware_catalog::FirmwareRelease;
use rampart_domain::ids::{ApplianceId, BackupId, JobId, Serial, TenantId};
use rampart_domain::portal_protocol::{
    ApplianceDetail, AppliancePatch, ApplianceSummary, BackupDownload, BackupSchedule,
    BackupScheduleView, BackupView, ClusterView, CommandView, JobCancel, JobView, LicenseView,
    ListPage, LogHeadView, LoginChallenge, LoginRequest, Me, NewJob, NewTenant, NewUser,
    RemovedAppliance, SessionGrant, TenantView, TotpEnrollRequest, TotpEnrollment, TotpRequest,
    UserView,
};
use rampart_domain::profile::{
    AssignProfile, AssignmentKind, AssignmentView, ConfigurationView, ProfileName, ProfileSummary,
    ProfileView, SaveProfile,
};
use rampart_domain::tenancy::Email;
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

/// What went wrong talking to the portal.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The server answered with an error status (and, usually, an error body).
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The server could not be reached, or the exchange broke off.
    #[error("cannot reach {url}: {detail}")]
    Transport { url: String, detail: String },
    /// The server answered success with a body this client does not understand.
    #[error("unexpected answer from {url} (HTTP {status}): {detail}")]
    Decode {
        url: String,
        status: u16,
        detail: String,
    },
    /// The base URL is not an http(s) URL.
    #[error("not a server URL: {0}")]
    BadUrl(String),
}

impl PortalError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            PortalError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The error code of an API error, e.g. `too_many_attempts`.
    pub fn code(&self) -> Option<&str> {
        match self {
            PortalError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Query parameters of `GET /v1/tenants/{t}/appliances`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplianceQuery {
    pub name: Option<String>,
    pub cluster: Option<String>,
    pub tag: Option<String>,
    /// `name` or `-name`.
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The order of `GET .../appliances/{a}/log`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogOrder {
    /// Newest first (the server's default).
    #[default]
    Newest,
    /// Oldest first, as a chain verifier wants the entries.
    Oldest,
}

impl LogOrder {
    pub fn wire(self) -> &'static str {
        match self {
            LogOrder::Newest => "newest",
            LogOrder::Oldest => "oldest",
        }
    }
}

/// `limit` and `cursor` of a list request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Clone)]
pub struct PortalClient {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl fmt::Debug for PortalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortalClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Parses and normalises a server base URL (http or https, no query).
pub fn parse_server_url(s: &str) -> Result<Url, PortalError> {
    let mut url = Url::parse(s.trim()).map_err(|e| PortalError::BadUrl(format!("{s}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(PortalError::BadUrl(format!(
            "{s}: give an http:// or https:// URL"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(PortalError::BadUrl(format!("{s}: no query or fragment")));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

impl PortalClient {
    /// A client for the server at `base`, signed in when `token` is given.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, PortalError> {
        let base = parse_server_url(base)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("rampart-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| PortalError::Transport {
                url: base.to_string(),
                detail: e.to_string(),
            })?;
        Ok(Self { http, base, token })
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The URL of `segments` under the base, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("checked in parse_server_url: an http(s) URL has a path");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let req = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send(
        &self,
        req: RequestBuilder,
    ) -> Result<(StatusCode, String, Vec<u8>), PortalError> {
        let req = req.build().map_err(|e| PortalError::Transport {
            url: self.base_url().to_owned(),
            detail: e.to_string(),
        })?;
        let url = req.url().to_string();
        let resp = self
            .http
            .execute(req)
            .await
            .map_err(|e| PortalError::Transport {
                url: url.clone(),
                detail: describe(&e),
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| PortalError::Transport {
            url: url.clone(),
            detail: describe(&e),
        })?;
        if status.is_success() {
            Ok((status, url, body.to_vec()))
        } else {
            Err(api_error(status, &body))
        }
    }

    async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, PortalError> {
        let (status, url, body) = self.send(req).await?;
        serde_json::from_slice(&body).map_err(|e| PortalError::Decode {
            url,
            status: status.as_u16(),
            detail: e.to_string(),
        })
    }

    async fn empty(&self, req: RequestBuilder) -> Result<(), PortalError> {
        self.send(req).await.map(|_| ())
    }

    // ---- sign-in ---------------------------------------------------------------

    /// `POST /v1/auth/login`.
    pub async fn login(
        &self,
        email: &Email,
        password: &str,
    ) -> Result<LoginChallenge, PortalError> {
        let body = LoginRequest {
            email: email.clone(),
            password: password.to_owned(),
        };
        let url = self.url(&["v1", "auth", "login"]);
        self.json(self.request(Method::POST, url).json(&body)).await
    }

    /// `POST /v1/auth/totp`.
    pub async fn totp(&self, challenge: &str, code: &str) -> Result<SessionGrant, PortalError> {
        let body = TotpRequest {
            challenge: challenge.to_owned(),
            code: code.to_owned(),
        };
        let url = self.url(&["v1", "auth", "totp"]);
        self.json(self.request(Method::POST, url).json(&body)).await
    }

    /// `POST /v1/auth/totp/enroll`.
    pub async fn totp_enroll(&self, challenge: &str) -> Result<TotpEnrollment, PortalError> {
        let body = TotpEnrollRequest {
            challenge: challenge.to_owned(),
        };
        let url = self.url(&["v1", "auth", "totp", "enroll"]);
        self.json(self.request(Method::POST, url).json(&body)).await
    }

    /// `POST /v1/auth/totp/confirm`.
    pub async fn totp_confirm(
        &self,
        challenge: &str,
        code: &str,
    ) -> Result<SessionGrant, PortalError> {
        let body = TotpRequest {
            challenge: challenge.to_owned(),
            code: code.to_owned(),
        };
        let url = self.url(&["v1", "auth", "totp", "confirm"]);
        self.json(self.request(Method::POST, url).json(&body)).await
    }

    /// `POST /v1/auth/logout`.
    pub async fn logout(&self) -> Result<(), PortalError> {
        let url = self.url(&["v1", "auth", "logout"]);
        self.empty(self.request(Method::POST, url)).await
    }

    /// `GET /v1/me`.
    pub async fn me(&self) -> Result<Me, PortalError> {
        let url = self.url(&["v1", "me"]);
        self.json(self.request(Method::GET, url)).await
    }

    // ---- tenants and users -----------------------------------------------------

    /// `GET /v1/tenants`.
    pub async fn tenants(&self, cursor: Option<&str>) -> Result<ListPage<TenantView>, PortalError> {
        let mut url = self.url(&["v1", "tenants"]);
        add_cursor(&mut url, cursor);
        self.json(self.request(Method::GET, url)).await
    }

    /// `POST /v1/tenants`.
    pub async fn create_tenant(&self, new: &NewTenant) -> Result<TenantView, PortalError> {
        let url = self.url(&["v1", "tenants"]);
        self.json(self.request(Method::POST, url).json(new)).await
    }

    /// `GET /v1/tenants/{tenant}/users`.
    pub async fn users(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
    ) -> Result<ListPage<UserView>, PortalError> {
        let mut url = self.url(&["v1", "tenants", tenant.as_str(), "users"]);
        add_cursor(&mut url, cursor);
        self.json(self.request(Method::GET, url)).await
    }

    /// `POST /v1/tenants/{tenant}/users`.
    pub async fn add_user(
        &self,
        tenant: &TenantId,
        new: &NewUser,
    ) -> Result<UserView, PortalError> {
        let url = self.url(&["v1", "tenants", tenant.as_str(), "users"]);
        self.json(self.request(Method::POST, url).json(new)).await
    }

    /// `DELETE /v1/tenants/{tenant}/users/{email}`.
    pub async fn remove_user(&self, tenant: &TenantId, email: &Email) -> Result<(), PortalError> {
        let url = self.url(&["v1", "tenants", tenant.as_str(), "users", email.as_str()]);
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// `POST /v1/tenants/{tenant}/users/{email}/revoke-sessions`: how many ended.
    pub async fn revoke_sessions(
        &self,
        tenant: &TenantId,
        email: &Email,
    ) -> Result<u64, PortalError> {
        let url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "users",
            email.as_str(),
            "revoke-sessions",
        ]);
        let answer: serde_json::Value = self.json(self.request(Method::POST, url)).await?;
        Ok(answer["revoked"].as_u64().unwrap_or(0))
    }

    /// `GET /v1/tenants/{tenant}/licenses`.
    pub async fn licenses(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
    ) -> Result<ListPage<LicenseView>, PortalError> {
        let mut url = self.url(&["v1", "tenants", tenant.as_str(), "licenses"]);
        add_cursor(&mut url, cursor);
        self.json(self.request(Method::GET, url)).await
    }

    // ---- appliances --------------------------------------------------------------

    /// `GET /v1/tenants/{tenant}/appliances`.
    pub async fn appliances(
        &self,
        tenant: &TenantId,
        q: &ApplianceQuery,
    ) -> Result<ListPage<ApplianceSummary>, PortalError> {
        let url = self.appliances_url(tenant, q);
        self.json(self.request(Method::GET, url)).await
    }

    /// The URL [`Self::appliances`] requests (exposed for tests).
    pub fn appliances_url(&self, tenant: &TenantId, q: &ApplianceQuery) -> Url {
        let mut url = self.url(&["v1", "tenants", tenant.as_str(), "appliances"]);
        let limit = q.limit.map(|l| l.to_string());
        let pairs = [
            ("name", q.name.as_deref()),
            ("cluster", q.cluster.as_deref()),
            ("tag", q.tag.as_deref()),
            ("sort", q.sort.as_deref()),
            ("limit", limit.as_deref()),
            ("cursor", q.cursor.as_deref()),
        ];
        if pairs.iter().any(|(_, v)| v.is_some()) {
            let mut qp = url.query_pairs_mut();
            for (k, v) in pairs {
                if let Some(v) = v {
                    qp.append_pair(k, v);
                }
            }
        }
        url
    }

    /// `GET /v1/tenants/{tenant}/appliances/{id}`.
    pub async fn appliance(
        &self,
        tenant: &TenantId,
        id: &ApplianceId,
    ) -> Result<ApplianceDetail, PortalError> {
        let url = self.url(&["v1", "tenants", tenant.as_str(), "appliances", id.as_str()]);
        self.json(self.request(Method::GET, url)).await
    }

    /// `PATCH /v1/tenants/{tenant}/appliances/{id}`.
    pub async fn patch_appliance(
        &self,
        tenant: &TenantId,
        id: &ApplianceId,
        patch: &AppliancePatch,
    ) -> Result<ApplianceDetail, PortalError> {
        let url = self.url(&["v1", "tenants", tenant.as_str(), "appliances", id.as_str()]);
        self.json(self.request(Method::PATCH, url).json(patch))
            .await
    }

    /// `GET /v1/tenants/{tenant}/appliances/{id}/cluster`.
    pub async fn cluster(
        &self,
        tenant: &TenantId,
        id: &ApplianceId,
    ) -> Result<ClusterView, PortalError> {
        let url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "appliances",
            id.as_str(),
            "cluster",
        ]);
        self.json(self.request(Method::GET, url)).await
    }

    /// `GET /v1/tenants/{tenant}/appliances/{id}/applications`: one page.
    pub async fn applications(
        &self,
        tenant: &TenantId,
        id: &ApplianceId,
        sort: ApplicationSort,
        order: SortDirection,
        cursor: Option<&str>,
    ) -> Result<ListPage<ApplicationView>, PortalError> {
        let mut url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "appliances",
            id.as_str(),
            "applications",
        ]);
        {
            let mut qp = url.query_pairs_mut();
            qp.append_pair("sort", wire_str(&sort).as_str());
            qp.append_pair("order", wire_str(&order).as_str());
            if let Some(c) = cursor {
                qp.append_pair("cursor", c);
            }
        }
        self.json(self.request(Method::GET, url)).await
    }

    /// `GET /v1/firmware`: one page of the firmware catalog.
    pub async fn firmware_catalog(
        &self,
        cursor: Option<&str>,
    ) -> Result<ListPage<FirmwareRelease>, PortalError> {
        let mut url = self.url(&["v1", "firmware"]);
        if let Some(c) = cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        self.json(self.request(Method::GET, url)).await
    }

    /// `GET /v1/tenants/{tenant}/removed-appliances`: one page.
    pub async fn removed_appliances(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
    ) -> Result<ListPage<RemovedAppliance>, PortalError> {
        let mut url = self.url(&["v1", "tenants", tenant.as_str(), "removed-appliances"]);
        if let Some(c) = cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        self.json(self.request(Method::GET, url)).await
    }
}

/// A unit enum's wire name (its serde string).
fn wire_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl PortalClient {
    // ---- jobs ----------------------------------------------------------------------

    /// `POST /v1/tenants/{tenant}/jobs`.
    pub async fn create_job(
        &self,
        tenant: &TenantId,
        job: &NewJob,
    ) -> Result<JobView, PortalError> {
        let url = self.url(&["v1", "tenants", tenant.as_str(), "jobs"]);
        self.json(self.request(Method::POST, url).json(job)).await
    }

    /// `GET /v1/tenants/{tenant}/jobs`, newest first.
    pub async fn jobs(
        &self,
        tenant: &TenantId,
        page: &PageQuery,
    ) -> Result<ListPage<JobView>, PortalError> {
        let url = self.jobs_url(tenant, page);
        self.json(self.request(Method::GET, url)).await
    }

    /// The URL [`Self::jobs`] requests (exposed for tests).
    pub fn jobs_url(&self, tenant: &TenantId, page: &PageQuery) -> Url {
        let mut url = self.url(&["v1", "tenants", tenant.as_str(), "jobs"]);
        add_page(&mut url, page, None);
        url
    }

    /// `GET /v1/tenants/{tenant}/jobs/{job}`.
    pub async fn job(&self, tenant: &TenantId, job: &JobId) -> Result<JobView, PortalError> {
        let url = self.url(&["v1", "tenants", tenant.as_str(), "jobs", job.as_str()]);
        self.json(self.request(Method::GET, url)).await
    }

    /// `GET /v1/tenants/{tenant}/jobs/{job}/commands`.
    pub async fn job_commands(
        &self,
        tenant: &TenantId,
        job: &JobId,
        page: &PageQuery,
    ) -> Result<ListPage<CommandView>, PortalError> {
        let mut url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "jobs",
            job.as_str(),
            "commands",
        ]);
        add_page(&mut url, page, None);
        self.json(self.request(Method::GET, url)).await
    }

    /// `POST /v1/tenants/{tenant}/jobs/{job}/cancel`.
    pub async fn cancel_job(
        &self,
        tenant: &TenantId,
        job: &JobId,
        cancel: &JobCancel,
    ) -> Result<JobView, PortalError> {
        let url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "jobs",
            job.as_str(),
            "cancel",
        ]);
        self.json(self.request(Method::POST, url).json(cancel))
            .await
    }

    // ---- communication log -----------------------------------------------------------

    /// `GET /v1/tenants/{tenant}/appliances/{appliance}/log`.
    pub async fn appliance_log(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
        page: &PageQuery,
        order: LogOrder,
    ) -> Result<ListPage<LogEntry>, PortalError> {
        let url = self.appliance_log_url(tenant, appliance, page, order);
        self.json(self.request(Method::GET, url)).await
    }

    /// The URL [`Self::appliance_log`] requests (exposed for tests). The default
    /// order (newest first) is not spelled out.
    pub fn appliance_log_url(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
        page: &PageQuery,
        order: LogOrder,
    ) -> Url {
        let mut url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "appliances",
            appliance.as_str(),
            "log",
        ]);
        let order = (order != LogOrder::Newest).then(|| order.wire());
        add_page(&mut url, page, order);
        url
    }

    /// `GET /v1/tenants/{tenant}/appliances/{appliance}/log/head`.
    pub async fn log_head(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
    ) -> Result<LogHeadView, PortalError> {
        let url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "appliances",
            appliance.as_str(),
            "log",
            "head",
        ]);
        self.json(self.request(Method::GET, url)).await
    }
}

impl PortalClient {
    // ---- cloud backups -----------------------------------------------------------------

    /// `GET /v1/tenants/{tenant}/licenses/{serial}/backups`, newest first.
    pub async fn backups(
        &self,
        tenant: &TenantId,
        serial: &Serial,
        page: &PageQuery,
    ) -> Result<ListPage<BackupView>, PortalError> {
        let url = self.backups_url(tenant, serial, page);
        self.json(self.request(Method::GET, url)).await
    }

    /// The URL [`Self::backups`] requests (exposed for tests).
    pub fn backups_url(&self, tenant: &TenantId, serial: &Serial, page: &PageQuery) -> Url {
        let mut url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "licenses",
            serial.as_str(),
            "backups",
        ]);
        add_page(&mut url, page, None);
        url
    }

    /// `POST /v1/tenants/{tenant}/licenses/{serial}/backups/{backup}/download`: a
    /// presigned GET URL of the (still encrypted) file.
    pub async fn backup_download(
        &self,
        tenant: &TenantId,
        serial: &Serial,
        backup: &BackupId,
    ) -> Result<BackupDownload, PortalError> {
        let url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "licenses",
            serial.as_str(),
            "backups",
            backup.as_str(),
            "download",
        ]);
        let body = serde_json::json!({});
        self.json(self.request(Method::POST, url).json(&body)).await
    }

    /// `DELETE /v1/tenants/{tenant}/licenses/{serial}/backups/{backup}`.
    pub async fn delete_backup(
        &self,
        tenant: &TenantId,
        serial: &Serial,
        backup: &BackupId,
    ) -> Result<(), PortalError> {
        let url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "licenses",
            serial.as_str(),
            "backups",
            backup.as_str(),
        ]);
        self.empty(self.request(Method::DELETE, url)).await
    }

    fn backup_schedule_url(&self, tenant: &TenantId, appliance: &ApplianceId) -> Url {
        self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "appliances",
            appliance.as_str(),
            "backup-schedule",
        ])
    }

    /// `GET /v1/tenants/{tenant}/appliances/{id}/backup-schedule`.
    pub async fn backup_schedule(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
    ) -> Result<BackupScheduleView, PortalError> {
        let url = self.backup_schedule_url(tenant, appliance);
        self.json(self.request(Method::GET, url)).await
    }

    /// `PUT /v1/tenants/{tenant}/appliances/{id}/backup-schedule`.
    pub async fn set_backup_schedule(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
        schedule: &BackupSchedule,
    ) -> Result<BackupScheduleView, PortalError> {
        let url = self.backup_schedule_url(tenant, appliance);
        self.json(self.request(Method::PUT, url).json(schedule))
            .await
    }
}

impl PortalClient {
    // ---- security scans ----------------------------------------------------------------

    fn scans_url(&self, tenant: &TenantId, appliance: &ApplianceId) -> Url {
        self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "appliances",
            appliance.as_str(),
            "scans",
        ])
    }

    /// `POST /v1/tenants/{tenant}/appliances/{id}/scans`: the scan, queued.
    pub async fn start_scan(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
    ) -> Result<rampart_domain::portal_protocol::ScanView, PortalError> {
        let url = self.scans_url(tenant, appliance);
        self.json(self.request(Method::POST, url)).await
    }

    /// `GET /v1/tenants/{tenant}/appliances/{id}/scans`, newest first.
    pub async fn scans(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
        page: &PageQuery,
    ) -> Result<ListPage<rampart_domain::portal_protocol::ScanView>, PortalError> {
        let mut url = self.scans_url(tenant, appliance);
        add_page(&mut url, page, None);
        self.json(self.request(Method::GET, url)).await
    }

    /// `GET /v1/tenants/{tenant}/appliances/{id}/scans/{scan}`.
    pub async fn scan(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
        scan: &rampart_domain::ids::ScanId,
    ) -> Result<rampart_domain::portal_protocol::ScanView, PortalError> {
        let mut url = self.scans_url(tenant, appliance);
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .push(scan.as_str());
        self.json(self.request(Method::GET, url)).await
    }

    /// `GET /v1/scan-profile`.
    pub async fn scan_profile(
        &self,
    ) -> Result<rampart_domain::portal_protocol::ScanProfileView, PortalError> {
        let url = self.url(&["v1", "scan-profile"]);
        self.json(self.request(Method::GET, url)).await
    }

    /// `GET /v1/tenants/{tenant}/appliances/{appliance}/status-history`.
    pub async fn status_history(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
        q: &HistoryQuery,
    ) -> Result<rampart_domain::status_history::StatusHistoryView, PortalError> {
        let url = self.status_history_url(tenant, appliance, q);
        self.json(self.request(Method::GET, url)).await
    }

    /// The URL [`Self::status_history`] requests (exposed for tests).
    pub fn status_history_url(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
        q: &HistoryQuery,
    ) -> Url {
        let mut url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "appliances",
            appliance.as_str(),
            "status-history",
        ]);
        let points = q.points.map(|p| p.to_string());
        let pairs = [
            ("since", q.since.as_deref()),
            ("until", q.until.as_deref()),
            ("points", points.as_deref()),
        ];
        if pairs.iter().any(|(_, v)| v.is_some()) {
            let mut qp = url.query_pairs_mut();
            for (k, v) in pairs {
                if let Some(v) = v {
                    qp.append_pair(k, v);
                }
            }
        }
        url
    }
}

/// The range of a status-history request (RFC 3339 times; the console's
/// defaults when left out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    pub since: Option<String>,
    pub until: Option<String>,
    pub points: Option<u32>,
}

impl PortalClient {
    // ---- configuration profiles --------------------------------------------------------

    fn profile_url(&self, tenant: &TenantId, name: &ProfileName) -> Url {
        self.url(&["v1", "tenants", tenant.as_str(), "profiles", name.as_str()])
    }

    /// `GET /v1/tenants/{tenant}/profiles`.
    pub async fn profiles(
        &self,
        tenant: &TenantId,
        page: &PageQuery,
    ) -> Result<ListPage<ProfileSummary>, PortalError> {
        let mut url = self.url(&["v1", "tenants", tenant.as_str(), "profiles"]);
        add_page(&mut url, page, None);
        self.json(self.request(Method::GET, url)).await
    }

    /// `GET /v1/tenants/{tenant}/profiles/{profile}[?version=N]`.
    pub async fn profile(
        &self,
        tenant: &TenantId,
        name: &ProfileName,
        version: Option<u64>,
    ) -> Result<ProfileView, PortalError> {
        let mut url = self.profile_url(tenant, name);
        if let Some(v) = version {
            url.query_pairs_mut().append_pair("version", &v.to_string());
        }
        self.json(self.request(Method::GET, url)).await
    }

    /// `PUT /v1/tenants/{tenant}/profiles/{profile}`: the saved version.
    pub async fn save_profile(
        &self,
        tenant: &TenantId,
        name: &ProfileName,
        save: &SaveProfile,
    ) -> Result<ProfileView, PortalError> {
        let url = self.profile_url(tenant, name);
        self.json(self.request(Method::PUT, url).json(save)).await
    }

    /// `DELETE /v1/tenants/{tenant}/profiles/{profile}`.
    pub async fn delete_profile(
        &self,
        tenant: &TenantId,
        name: &ProfileName,
    ) -> Result<(), PortalError> {
        let url = self.profile_url(tenant, name);
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// `GET /v1/tenants/{tenant}/profile-assignments`.
    pub async fn profile_assignments(
        &self,
        tenant: &TenantId,
        page: &PageQuery,
    ) -> Result<ListPage<AssignmentView>, PortalError> {
        let mut url = self.url(&["v1", "tenants", tenant.as_str(), "profile-assignments"]);
        add_page(&mut url, page, None);
        self.json(self.request(Method::GET, url)).await
    }

    fn assignment_url(&self, tenant: &TenantId, kind: AssignmentKind, target: &str) -> Url {
        self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "profile-assignments",
            kind.as_str(),
            target,
        ])
    }

    /// `PUT /v1/tenants/{tenant}/profile-assignments/{kind}/{target}`.
    pub async fn assign_profile(
        &self,
        tenant: &TenantId,
        kind: AssignmentKind,
        target: &str,
        profile: &ProfileName,
    ) -> Result<AssignmentView, PortalError> {
        let url = self.assignment_url(tenant, kind, target);
        let body = AssignProfile {
            profile: profile.clone(),
        };
        self.json(self.request(Method::PUT, url).json(&body)).await
    }

    /// `DELETE /v1/tenants/{tenant}/profile-assignments/{kind}/{target}`.
    pub async fn unassign_profile(
        &self,
        tenant: &TenantId,
        kind: AssignmentKind,
        target: &str,
    ) -> Result<(), PortalError> {
        let url = self.assignment_url(tenant, kind, target);
        self.empty(self.request(Method::DELETE, url)).await
    }

    /// `GET /v1/tenants/{tenant}/appliances/{id}/configuration`.
    pub async fn appliance_configuration(
        &self,
        tenant: &TenantId,
        appliance: &ApplianceId,
    ) -> Result<ConfigurationView, PortalError> {
        let url = self.url(&[
            "v1",
            "tenants",
            tenant.as_str(),
            "appliances",
            appliance.as_str(),
            "configuration",
        ]);
        self.json(self.request(Method::GET, url)).await
    }
}

/// Adds `limit`, `cursor` and `order` (when given) as query parameters.
fn add_page(url: &mut Url, page: &PageQuery, order: Option<&str>) {
    let limit = page.limit.map(|l| l.to_string());
    let pairs = [
        ("limit", limit.as_deref()),
        ("cursor", page.cursor.as_deref()),
        ("order", order),
    ];
    if pairs.iter().any(|(_, v)| v.is_some()) {
        let mut qp = url.query_pairs_mut();
        for (k, v) in pairs {
            if let Some(v) = v {
                qp.append_pair(k, v);
            }
        }
    }
}

fn add_cursor(url: &mut Url, cursor: Option<&str>) {
    if let Some(c) = cursor {
        url.query_pairs_mut().append_pair("cursor", c);
    }
}

/// Maps an error answer to [`PortalError::Api`], using the `{"error":{code,message}}`
/// body when there is one.
pub fn api_error(status: StatusCode, body: &[u8]) -> PortalError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => PortalError::Api {
            status: status.as_u16(),
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() || text.len() > 200 || text.starts_with('<') {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text.to_owned()
            };
            PortalError::Api {
                status: status.as_u16(),
                code: format!("http_{}", status.as_u16()),
                message,
            }
        }
    }
}

/// reqwest's error with its causes (the top one alone says little).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}
