//! The OpenAPI 3.1 document (`docs/openapi.json`) against the code: its paths are
//! exactly the route table's, its security follows each route's access level, its
//! references resolve, and real values of the wire types validate against its
//! schemas (JSON Schema draft 2020-12, which OpenAPI 3.1 uses).

use axum::response::IntoResponse;
use rampart_app::ApiError;
use rampart_app::http::route_table::{Access, DEVICE_ROUTES, PORTAL_ROUTES, RouteSpec};
use rampart_domain::Timestamp;
use rampart_domain::backup::{BackupPassword, CharClass, PasswordRefusal};
use rampart_domain::cluster::ClusterState;
use rampart_domain::comm_log::{self, ChainHead, Direction, LogEntry, LogFields, LogStatus};
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::device_protocol::{
    BACKUP_URL_LIFETIME, BackupDownloadResponse, BackupUploadRequest, BackupUploadResponse,
    CheckinResponse, CommandResultRequest, CommandResultResponse, EnrollRequest, EnrollResponse,
    ErrorBody, ErrorDetail, MAX_BACKUP_BYTES, PendingCommand, PresignedHttp,
};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::firmware_catalog::{FirmwareOptions, FirmwareRelease};
use rampart_domain::ids::{ApplianceId, BackupId, ClusterId, JobId, Serial, TenantId};
use rampart_domain::jobs::{
    AppAction, ApplianceResult, Authorization, CommandState, EventKind, IllegalTransition,
    IllegalWhy, JobCounts, JobTarget, Operation, Refusal,
};
use rampart_domain::license::EnrollRefusal;
use rampart_domain::portal_protocol::{
    ApplianceDetail, ApplianceFlags, AppliancePatch, ApplianceSummary, BackupDownload,
    BackupSchedule, BackupScheduleView, BackupView, ClusterPartner, ClusterView, CommandView,
    JobCancel, JobView, LicenseView, ListPage, Location, LogHeadView, LoginChallenge, LoginRequest,
    Me, NewJob, NewTenant, NewUser, NextStep, PasswordResetConfirm, PasswordResetRequest,
    PasswordText, PinText, RemovedAppliance, SessionGrant, TenantView, TotpEnrollRequest,
    TotpEnrollment, TotpRequest, UserView,
};
use rampart_domain::report::{AppState, CheckinReport, ClusterSync, Interface};
use rampart_domain::tenancy::{Email, Role, TenantKind};
use rampart_domain::validation::Invalid;
use rampart_ports::{Objects, PresignedRequest};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

fn document_text() -> String {
    let path = repo_root().join("docs/openapi.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn document() -> Value {
    serde_json::from_str(&document_text()).expect("docs/openapi.json is valid JSON")
}

/// Every operation of the document: (METHOD, path, operation object).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    let mut ops = Vec::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for (key, op) in item {
            if HTTP_METHODS.contains(&key.as_str()) {
                ops.push((key.to_uppercase(), path.clone(), op));
            }
        }
    }
    ops
}

fn all_routes() -> Vec<RouteSpec> {
    PORTAL_ROUTES.iter().chain(DEVICE_ROUTES).copied().collect()
}

/// Follows a local `$ref` (`#/...`) to what it points at.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// A parameter object, or the one its `$ref` names.
fn parameter<'a>(doc: &'a Value, p: &'a Value) -> &'a Value {
    match p.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(doc, r).unwrap_or_else(|| panic!("unresolved parameter {r}")),
        None => p,
    }
}

fn collect_refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "$ref" {
                    if let Some(r) = child.as_str() {
                        out.push((at.clone(), r));
                    }
                } else {
                    collect_refs(child, format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(doc["paths"].is_object() && doc["components"]["schemas"].is_object());
    let bearer = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
}

#[test]
fn the_paths_are_exactly_the_route_table() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut expected: BTreeSet<(String, String)> = all_routes()
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    expected.insert(("GET".into(), "/healthz".into()));
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/openapi.json disagrees with the route table:\n  missing from the document: {missing:?}\n  not in the route table: {extra:?}"
    );
}

#[test]
fn every_operation_is_complete() {
    let doc = document();
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let name = format!("{method} {path}");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no operationId"));
        assert!(
            ids.insert(id.to_owned()),
            "{name}: operationId {id} is used twice"
        );
        assert!(op["summary"].is_string(), "{name}: no summary");
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no responses"));
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{name}: no success response"
        );
        // Every error response carries the ErrorBody.
        for (status, resp) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let resp = match resp.get("$ref").and_then(Value::as_str) {
                    Some(r) => resolve(&doc, r).expect("response reference resolves"),
                    None => resp,
                };
                assert_eq!(
                    resp["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{name}: response {status} is not an ErrorBody"
                );
            }
        }
        // A body-taking operation documents its body and the body errors (a body
        // that is only signed, never read, cannot be malformed or invalid).
        if let Some(body) = op.get("requestBody") {
            let schema = body["content"]["application/json"]["schema"]["$ref"].as_str();
            assert!(schema.is_some(), "{name}: request body without a schema");
            let read = schema != Some("#/components/schemas/SignedEmptyBody");
            let statuses: &[&str] = if read {
                &["400", "413", "415", "422"]
            } else {
                &["413", "415"]
            };
            for &status in statuses {
                assert!(
                    responses.contains_key(status),
                    "{name}: no {status} response"
                );
            }
        }
        // Every `{param}` of the path is a documented path parameter.
        let params: Vec<&Value> = op["parameters"]
            .as_array()
            .map(|ps| ps.iter().map(|p| parameter(&doc, p)).collect())
            .unwrap_or_default();
        for segment in path.split('/') {
            if let Some(p) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    params
                        .iter()
                        .any(|q| q["in"] == "path" && q["name"] == p && q["required"] == true),
                    "{name}: path parameter {p} undocumented"
                );
            }
        }
    }
}

#[test]
fn security_follows_each_routes_access() {
    let doc = document();
    let ops = operations(&doc);
    let op_of = |r: &RouteSpec| {
        ops.iter()
            .find(|(m, p, _)| m == r.method && p == r.path)
            .map(|(_, _, op)| *op)
            .unwrap_or_else(|| panic!("{} {} not documented", r.method, r.path))
    };
    let mut wrong = Vec::new();
    for r in PORTAL_ROUTES {
        let op = op_of(r);
        let name = format!("{} {}", r.method, r.path);
        let security = op.get("security");
        let ok = if r.access == Access::Public {
            security == Some(&json!([]))
        } else {
            security
                .and_then(Value::as_array)
                .is_some_and(|s| s.contains(&json!({"bearerAuth": []})))
        };
        if !ok {
            wrong.push(format!("{name} ({:?}): security {security:?}", r.access));
        }
        if r.access != Access::Public && op.pointer("/responses/401").is_none() {
            wrong.push(format!("{name}: no 401 response"));
        }
        let admin = matches!(r.access, Access::TenantChange | Access::SessionChange);
        let description = op["description"].as_str().unwrap_or_default();
        if admin && !description.contains("**administrator**") {
            wrong.push(format!(
                "{name}: description does not say an administrator is needed"
            ));
        }
        if admin && op.pointer("/responses/403").is_none() {
            wrong.push(format!("{name}: no 403 response"));
        }
    }
    // The device API authenticates by signature: no session, the signed headers.
    for r in DEVICE_ROUTES {
        let op = op_of(r);
        let name = format!("{} {}", r.method, r.path);
        if op.get("security") != Some(&json!([])) {
            wrong.push(format!("{name}: a device route must not ask for a session"));
        }
        let headers: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| parameter(&doc, p))
            .filter(|p| p["in"] == "header" && p["required"] == true)
            .filter_map(|p| p["name"].as_str())
            .collect();
        let mut needed = vec![
            "x-rampart-timestamp",
            "x-rampart-nonce",
            "x-rampart-signature",
        ];
        if r.path != rampart_domain::device_protocol::ENROLL_PATH {
            needed.push("x-rampart-appliance");
        }
        for h in needed {
            if !headers.contains(h) {
                wrong.push(format!("{name}: signature header {h} not documented"));
            }
        }
    }
    let healthz = &doc["paths"]["/healthz"]["get"];
    if healthz.get("security") != Some(&json!([])) {
        wrong.push("GET /healthz: must be public".into());
    }
    assert!(
        wrong.is_empty(),
        "security problems:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn every_reference_resolves_and_every_schema_is_used() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, String::new(), &mut refs);
    assert!(!refs.is_empty());
    let unresolved: Vec<String> = refs
        .iter()
        .filter(|(_, r)| !r.starts_with("#/") || resolve(&doc, r).is_none())
        .map(|(at, r)| format!("{at}: {r}"))
        .collect();
    assert!(
        unresolved.is_empty(),
        "unresolved $refs:\n  {}",
        unresolved.join("\n  ")
    );
    let used: BTreeSet<&str> = refs
        .iter()
        .filter_map(|(_, r)| r.strip_prefix("#/components/schemas/"))
        .collect();
    let unused: Vec<&String> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .filter(|k| !used.contains(k.as_str()))
        .collect();
    assert!(unused.is_empty(), "schemas nothing refers to: {unused:?}");
}

// ---- the schemas against real values -------------------------------------------

/// Checks values against the component schemas of the document.
struct Schemas {
    components: Value,
}

impl Schemas {
    fn load() -> Self {
        Self {
            components: document()["components"].clone(),
        }
    }

    fn validator(&self, name: &str) -> jsonschema::Validator {
        assert!(
            self.components["schemas"].get(name).is_some(),
            "no schema {name} in the document"
        );
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.components,
            "$ref": format!("#/components/schemas/{name}"),
        });
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"))
    }

    fn errors(&self, name: &str, value: &Value) -> Vec<String> {
        self.validator(name)
            .iter_errors(value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    }

    /// Panics unless `value` validates against schema `name`.
    fn check_json(&self, name: &str, value: &Value) {
        let errors = self.errors(name, value);
        assert!(
            errors.is_empty(),
            "{name} does not match its schema:\n  {}\nvalue: {value:#}",
            errors.join("\n  ")
        );
    }

    /// Panics if `value` validates against schema `name`.
    fn refuses(&self, name: &str, value: &Value) {
        assert!(
            !self.errors(name, value).is_empty(),
            "{name} accepted a value it should refuse: {value}"
        );
    }
}

fn tenant() -> TenantId {
    TenantId::parse("123456.sms").unwrap()
}

fn customer() -> TenantId {
    TenantId::parse("777.cust").unwrap()
}

fn email() -> Email {
    Email::parse("Admin@Example.com").unwrap()
}

fn appliance_id() -> ApplianceId {
    ApplianceId::from_random([0xab; 16])
}

fn license(cluster: bool) -> LicenseView {
    LicenseView {
        serial: Serial::parse("A1B2C3D4").unwrap(),
        tenant: customer(),
        product: "UTM 160".into(),
        expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 31)
            .unwrap()
            .to_string(),
        cluster_id: cluster.then(|| ClusterId::parse("abcdef0123").unwrap()),
        cluster_role: cluster.then(|| "master".into()),
        appliance_id: cluster.then(appliance_id),
    }
}

fn summary(seen: bool) -> ApplianceSummary {
    ApplianceSummary {
        id: appliance_id(),
        tenant: customer(),
        name: "Berlin office".into(),
        serial: Serial::parse("A1B2C3D4").unwrap(),
        model: "UTM 160".into(),
        firmware: FirmwareVersion::parse("14.0").unwrap().to_string(),
        status: if seen {
            ConnectionStatus::Connected
        } else {
            ConnectionStatus::Disconnected
        },
        last_checkin: seen.then(|| "2025-11-25T12:00:00.123Z".into()),
        cluster: seen.then(|| "abcd".into()),
        tags: if seen {
            vec!["berlin".into(), "hq".into()]
        } else {
            vec![]
        },
        flags: ApplianceFlags {
            report_active: false,
            vpn: true,
            cloud_shield: false,
            update_available: seen,
            security_update_recommended: false,
        },
    }
}

fn detail(full: bool) -> ApplianceDetail {
    let applications = if full {
        BTreeMap::from([
            ("http_proxy".to_owned(), AppState::Up),
            ("ips".to_owned(), AppState::Down),
            ("vpn".to_owned(), AppState::NotApplicable),
        ])
    } else {
        BTreeMap::new()
    };
    ApplianceDetail {
        summary: summary(full),
        hostname: "fw1.example.com".into(),
        previous_firmware: full.then(|| "12.5.1".into()),
        cpu_percent: full.then_some(12.5),
        memory_percent: full.then_some(40.0),
        disk_percent: full.then_some(3.0),
        uptime_secs: full.then_some(86_400),
        interfaces: if full {
            vec![
                Interface {
                    name: "eth0".into(),
                    addresses: vec![
                        "203.0.113.7".parse().unwrap(),
                        "2001:db8::1".parse().unwrap(),
                    ],
                    public: true,
                },
                Interface {
                    name: "eth1".into(),
                    addresses: vec![],
                    public: false,
                },
            ]
        } else {
            vec![]
        },
        applications,
        license: license(full),
        company: "Customer Ltd".into(),
        location: full.then(|| Location {
            latitude: 52.52,
            longitude: 13.405,
            label: Some("Berlin".into()),
        }),
        inventory: if full {
            BTreeMap::from([("rack".to_owned(), "B4".to_owned())])
        } else {
            BTreeMap::new()
        },
        enrolled_at: "2025-01-02T03:04:05.000Z".into(),
        firmware_options: if full {
            FirmwareOptions {
                upgrades: vec![release("14.1.0", true, Some("fixes CVE-2026-0001"))],
                rollback_to: Some(FirmwareVersion::new(14, 0, 2)),
            }
        } else {
            FirmwareOptions::default()
        },
    }
}

fn release(version: &str, security: bool, notes: Option<&str>) -> FirmwareRelease {
    FirmwareRelease {
        version: FirmwareVersion::parse(version).unwrap(),
        released: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        security,
        notes: notes.map(str::to_owned),
    }
}

fn report_json() -> Value {
    json!({
        "firmware": "14.0.2", "previous_firmware": "12.5", "hostname": "fw1", "model": "UTM 160",
        "cpu_percent": 12.5, "memory_percent": 40, "disk_percent": 3, "uptime_secs": 100,
        "interfaces": [
            {"name": "eth0", "addresses": ["203.0.113.7", "2001:db8::7"], "public": true},
            {"name": "eth1"}
        ],
        "applications": {"http_proxy": "UP", "ips": "N/A", "av": "DOWN"},
        "authorizations": {"status": true, "cloud_backup": true, "profile_sections": {"fail2ban": true}},
        "privacy_accepted": true, "console_activated": true,
        "cluster_sync": "syncing", "config_version": 7
    })
}

/// The JSON body an error answers with, as the console sends it.
async fn error_body(e: ApiError) -> Value {
    let response = e.into_response();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("error body");
    serde_json::from_slice(&bytes).expect("error body is JSON")
}

#[test]
fn portal_answers_match_their_schemas() {
    let s = Schemas::load();
    s.check_json(
        "Me",
        &json!(Me {
            email: email(),
            tenant: tenant(),
            tenant_kind: TenantKind::Reseller,
            role: Role::Administrator,
        }),
    );
    let reseller = TenantView {
        id: tenant(),
        name: "Reseller GmbH".into(),
        kind: TenantKind::Reseller,
        reseller: None,
    };
    let customer_view = TenantView {
        id: customer(),
        name: "Customer Ltd".into(),
        kind: TenantKind::Customer,
        reseller: Some(tenant()),
    };
    s.check_json("TenantView", &json!(reseller));
    s.check_json("TenantView", &json!(customer_view));
    s.check_json(
        "TenantPage",
        &json!(ListPage {
            items: vec![reseller, customer_view],
            next_cursor: Some("abc".into()),
        }),
    );
    let user = UserView {
        email: email(),
        tenant: customer(),
        role: Role::Viewer,
        totp_enabled: false,
    };
    s.check_json("UserView", &json!(user));
    s.check_json(
        "UserPage",
        &json!(ListPage {
            items: vec![user],
            next_cursor: None,
        }),
    );
    s.check_json("LicenseView", &json!(license(true)));
    s.check_json("LicenseView", &json!(license(false)));
    s.check_json(
        "LicensePage",
        &json!(ListPage {
            items: vec![license(true), license(false)],
            next_cursor: None,
        }),
    );
    s.check_json("ApplianceSummary", &json!(summary(true)));
    s.check_json("ApplianceSummary", &json!(summary(false)));
    s.check_json(
        "AppliancePage",
        &json!(ListPage {
            items: vec![summary(true), summary(false)],
            next_cursor: Some("next".into()),
        }),
    );
    s.check_json("ApplianceDetail", &json!(detail(true)));
    s.check_json("ApplianceDetail", &json!(detail(false)));
    s.check_json(
        "ClusterView",
        &json!(ClusterView {
            cluster_id: ClusterId::parse("abcdef0123").unwrap(),
            role: "master".into(),
            state: ClusterState::SyncFailed,
            sync: Some(ClusterSync::Synced),
            partner: Some(ClusterPartner {
                serial: Serial::parse("A1B2C3D4-SPARE").unwrap(),
                role: "spare".into(),
                appliance_id: Some(appliance_id()),
                status: Some(ConnectionStatus::Connected),
                firmware: Some("14.0.2".into()),
                sync: Some(ClusterSync::Failed),
                link: Some(format!(
                    "/tenants/{}/appliances/{}",
                    customer(),
                    appliance_id()
                )),
            }),
        }),
    );
    s.check_json(
        "ClusterView",
        &json!(ClusterView {
            cluster_id: ClusterId::parse("abcd").unwrap(),
            role: "master".into(),
            state: ClusterState::Incomplete,
            sync: None,
            partner: Some(ClusterPartner {
                serial: Serial::parse("ZZZZ9999").unwrap(),
                role: "spare".into(),
                appliance_id: None,
                status: None,
                firmware: None,
                sync: None,
                link: None,
            }),
        }),
    );
    s.check_json(
        "FirmwarePage",
        &json!(ListPage {
            items: vec![
                release("14.0.2", false, None),
                release("14.1", true, Some("fix"))
            ],
            next_cursor: Some("c".into()),
        }),
    );
    s.check_json(
        "ApplicationPage",
        &json!(ListPage {
            items: rampart_domain::applications::sorted_applications(
                &detail(true).applications,
                rampart_domain::applications::ApplicationSort::State,
                rampart_domain::applications::SortDirection::Desc,
            ),
            next_cursor: None,
        }),
    );
    s.check_json(
        "RemovedAppliancePage",
        &json!(ListPage {
            items: vec![RemovedAppliance {
                tenant: customer(),
                serial: Serial::parse("A1B2C3D4").unwrap(),
                appliance: appliance_id(),
                hostname: "fw-old".into(),
                license_expired: "2026-01-01".into(),
                removed_at: "2026-02-11T00:00:00.000Z".into(),
                reason: rampart_domain::license_expiry::removal_reason(
                    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                    chrono::NaiveDate::from_ymd_opt(2026, 2, 11).unwrap(),
                ),
            }],
            next_cursor: None,
        }),
    );
    for next in [NextStep::Totp, NextStep::TotpEnrollment] {
        s.check_json(
            "LoginChallenge",
            &json!(LoginChallenge {
                challenge: "c-123".into(),
                next,
                expires_at: "2025-11-25T12:05:00.000Z".into(),
            }),
        );
    }
    s.check_json(
        "SessionGrant",
        &json!(SessionGrant {
            token: "t-secret".into(),
            expires_at: "2025-11-26T00:00:00.000Z".into(),
            idle_timeout_secs: 1800,
        }),
    );
    s.check_json(
        "TotpEnrollment",
        &json!(TotpEnrollment {
            otpauth_uri: "otpauth://totp/Rampart:admin%40example.com?secret=JBSWY3DPEHPK3PXP"
                .into(),
            secret: "JBSWY3DPEHPK3PXP".into(),
            qr_svg: "<svg/>".into(),
        }),
    );
}

#[test]
fn portal_requests_match_their_schemas() {
    let s = Schemas::load();
    s.check_json(
        "LoginRequest",
        &json!(LoginRequest {
            email: email(),
            password: "correct horse".into(),
        }),
    );
    let totp = TotpRequest {
        challenge: "c".into(),
        code: "123456".into(),
    };
    s.check_json("TotpRequest", &json!(totp));
    s.check_json(
        "TotpEnrollRequest",
        &json!(TotpEnrollRequest {
            challenge: "c".into(),
        }),
    );
    s.check_json(
        "PasswordResetRequest",
        &json!(PasswordResetRequest { email: email() }),
    );
    s.check_json(
        "PasswordResetConfirm",
        &json!(PasswordResetConfirm {
            token: "tok".into(),
            password: "new password".into(),
        }),
    );
    s.check_json(
        "NewTenant",
        &json!(NewTenant {
            id: customer(),
            name: "Customer Ltd".into(),
        }),
    );
    s.check_json(
        "NewUser",
        &json!(NewUser {
            email: email(),
            role: Role::Administrator,
        }),
    );
    // Patches as clients send them, each accepted by the server's own type.
    for patch in [
        json!({}),
        json!({"name": "Berlin"}),
        json!({"tags": ["a", "b"], "inventory": {"rack": "B4"}}),
        json!({"location": {"latitude": 1.5, "longitude": -2.25}}),
        json!({"location": {"latitude": 1.5, "longitude": -2.25, "label": "HQ"}}),
        json!({"location": null}),
    ] {
        serde_json::from_value::<AppliancePatch>(patch.clone())
            .unwrap_or_else(|e| panic!("{patch} is not an AppliancePatch: {e}"));
        s.check_json("AppliancePatch", &patch);
    }
    s.check_json(
        "AppliancePatch",
        &json!(AppliancePatch {
            name: Some("x".into()),
            tags: Some(vec!["t".into()]),
            location: Some(Some(Location::default())),
            inventory: Some(BTreeMap::new()),
        }),
    );
    // What the server refuses, the schema refuses too.
    s.refuses("AppliancePatch", &json!({"surprise": 1}));
    s.refuses("LoginRequest", &json!({"email": "a@example.com"}));
    s.refuses(
        "NewUser",
        &json!({"email": "a@example.com", "role": "owner"}),
    );
    s.refuses("NewTenant", &json!({"id": "not a tenant", "name": "x"}));
    // Formats are checked too.
    s.refuses(
        "LoginChallenge",
        &json!({"challenge": "c", "next": "totp", "expires_at": "tomorrow"}),
    );
    s.refuses("PasswordResetRequest", &json!({"email": "not an address"}));
}

#[tokio::test]
async fn device_messages_and_errors_match_their_schemas() {
    let s = Schemas::load();
    // The check-in report as an appliance sends it, and as the console re-serializes it.
    let raw = report_json();
    let report: CheckinReport = serde_json::from_value(raw.clone()).expect("a valid report");
    report.validate().expect("a plausible report");
    s.check_json("CheckinReport", &raw);
    s.check_json("CheckinReport", &json!(report));
    let minimal = json!({
        "firmware": "12.2", "hostname": "h", "model": "m",
        "cpu_percent": 0, "memory_percent": 100, "disk_percent": 0.5, "uptime_secs": 0
    });
    serde_json::from_value::<CheckinReport>(minimal.clone()).expect("a minimal report");
    s.check_json("CheckinReport", &minimal);
    let mut sideways = raw.clone();
    sideways["applications"]["x"] = json!("SIDEWAYS");
    s.refuses("CheckinReport", &sideways);
    let mut surprise = raw.clone();
    surprise["surprise"] = json!(1);
    s.refuses("CheckinReport", &surprise);
    // The time zone and backup password generation, at their limits.
    for (offset, generation) in [
        (json!(60), 2),
        (json!(-720), 0),
        (json!(840), u32::MAX),
        (json!(null), 1),
    ] {
        let mut with_backup = raw.clone();
        with_backup["utc_offset_minutes"] = offset;
        with_backup["backup_password_generation"] = json!(generation);
        let report: CheckinReport =
            serde_json::from_value(with_backup.clone()).expect("a report with backup fields");
        report.validate().expect("a plausible report");
        assert_eq!(report.backup_password_generation, generation);
        s.check_json("CheckinReport", &with_backup);
        s.check_json("CheckinReport", &json!(report));
    }
    for (offset, generation) in [(json!(841), json!(1)), (json!(-721), json!(1))] {
        let mut bad = raw.clone();
        bad["utc_offset_minutes"] = offset;
        bad["backup_password_generation"] = generation;
        let report: CheckinReport = serde_json::from_value(bad.clone()).expect("parses");
        assert!(report.validate().is_err(), "the console accepts {bad}");
        s.refuses("CheckinReport", &bad);
    }
    for (offset, generation) in [
        (json!(60), json!(-1)),
        (json!(60), json!(u64::from(u32::MAX) + 1)),
        (json!(60.5), json!(1)),
        (json!("+01:00"), json!(1)),
    ] {
        let mut bad = raw.clone();
        bad["utc_offset_minutes"] = offset;
        bad["backup_password_generation"] = generation;
        assert!(
            serde_json::from_value::<CheckinReport>(bad.clone()).is_err(),
            "the console reads {bad}"
        );
        s.refuses("CheckinReport", &bad);
    }

    let enroll: EnrollRequest = serde_json::from_value(json!({
        "serial": "A1B2C3D4", "license_secret": "0123456789abcdef0123456789abcdef",
        "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        "firmware": "14.0", "hostname": "fw1", "model": "UTM 160"
    }))
    .expect("an enrollment request");
    s.check_json("EnrollRequest", &json!(enroll));
    s.check_json(
        "EnrollResponse",
        &json!(EnrollResponse {
            appliance_id: appliance_id(),
            poll_interval_secs: 60,
            server_time_ms: 1_764_072_000_000,
        }),
    );
    s.check_json(
        "CheckinResponse",
        &json!(CheckinResponse {
            commands: vec![],
            poll_interval_secs: 60,
            server_time_ms: 1_764_072_000_000,
            configuration: None,
        }),
    );
    s.check_json(
        "CheckinResponse",
        &json!(CheckinResponse {
            commands: vec![
                PendingCommand {
                    command_id: job_id(1),
                    operation: Operation::Reboot,
                    sealed_pin: Some("c2VhbGVkIGJveA==".into()),
                    sealed_password: None,
                    cancel: false,
                },
                PendingCommand {
                    command_id: job_id(2),
                    operation: update_to("14.1", 1_764_072_000_000),
                    sealed_pin: None,
                    sealed_password: None,
                    cancel: true,
                },
                PendingCommand {
                    command_id: job_id(3),
                    operation: Operation::SetBackupPassword { generation: 1 },
                    sealed_pin: None,
                    sealed_password: Some("c2VhbGVkIHBhc3N3b3Jk".into()),
                    cancel: false,
                },
            ],
            poll_interval_secs: 30,
            server_time_ms: 0,
            configuration: None,
        }),
    );
    // Every operation as a pending command, as the appliance parses it.
    for operation in sample_operations() {
        let pending = PendingCommand {
            command_id: job_id(3),
            sealed_pin: operation.needs_pin().then(|| "c2VhbGVk".into()),
            sealed_password: operation
                .carries_sealed_password()
                .then(|| "c2VhbGVkIHB3".into()),
            operation,
            cancel: false,
        };
        let v = json!(pending);
        assert_eq!(
            serde_json::from_value::<PendingCommand>(v.clone()).unwrap(),
            pending
        );
        s.check_json("PendingCommand", &v);
    }
    s.refuses(
        "PendingCommand",
        &json!({"command_id": "cmd_1", "operation": "reboot"}),
    );
    s.refuses(
        "PendingCommand",
        &json!({"command_id": job_id(1), "operation": {"type": "explode"}}),
    );
    s.refuses(
        "PendingCommand",
        &json!({"command_id": job_id(1), "operation": {"type": "set_backup_password", "generation": 1},
                "sealed_password": ""}),
    );

    // Results as the appliance reports them, and the console's answer.
    let results = [
        ApplianceResult::Succeeded,
        ApplianceResult::Failed,
        ApplianceResult::Canceled,
        ApplianceResult::Rejected(Refusal::WrongPin { attempts_left: 2 }),
        ApplianceResult::Rejected(Refusal::PinBlocked),
        ApplianceResult::Rejected(Refusal::NotAuthorized {
            authorization: Authorization::PinProtectedActions,
        }),
    ];
    for (i, result) in results.iter().enumerate() {
        let info = (i % 2 == 1).then(|| "disk full".to_owned());
        let request = CommandResultRequest::new(result, info);
        let v = json!(request);
        let back: CommandResultRequest = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(&back.to_result().unwrap(), result);
        s.check_json("CommandResultRequest", &v);
    }
    // What the console refuses as a result, the schema refuses too.
    for bad in [
        json!({"result": "rejected"}),
        json!({"result": "succeeded", "reason": {"code": "pin_blocked"}}),
        json!({"result": "exploded"}),
        json!({"result": "failed", "info": "x".repeat(1001)}),
        json!({"result": "failed", "surprise": 1}),
        json!({"result": "rejected", "reason": {"code": "wrong_pin"}}),
    ] {
        let parsed = serde_json::from_value::<CommandResultRequest>(bad.clone())
            .ok()
            .map(|r| r.to_result());
        assert!(!matches!(parsed, Some(Ok(_))), "the console accepts {bad}");
        s.refuses("CommandResultRequest", &bad);
    }
    for (state, awaiting_checkin) in [
        (CommandState::Sent, true),
        (CommandState::Succeeded, false),
        (CommandState::Rejected, false),
        (CommandState::Canceled, false),
    ] {
        s.check_json(
            "CommandResultResponse",
            &json!(CommandResultResponse {
                command_id: job_id(1),
                state,
                awaiting_checkin,
            }),
        );
    }
    s.check_json("HealthStatus", &rampart_app::http::healthz().await.0);

    // Error bodies exactly as the console answers them.
    let errors = [
        ApiError::MalformedBody("expected value".into()),
        ApiError::InvalidField(Invalid::new("hostname", "must not be empty")),
        ApiError::PayloadTooLarge { limit: 65536 },
        ApiError::UnsupportedMediaType,
        ApiError::MissingAuth("x-rampart-nonce"),
        ApiError::StaleRequest,
        ApiError::ReplayedRequest,
        ApiError::BadSignature,
        ApiError::UnknownAppliance,
        ApiError::Enroll(EnrollRefusal::UnknownLicense),
        ApiError::Enroll(EnrollRefusal::WrongSecret),
        ApiError::Enroll(EnrollRefusal::BoundElsewhere),
        ApiError::Enroll(EnrollRefusal::Expired(
            chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        )),
        ApiError::Enroll(EnrollRefusal::FirmwareTooOld(FirmwareVersion::new(
            11, 0, 0,
        ))),
        ApiError::LicenseExists("A1B2C3D4".into()),
        ApiError::NotFound,
        ApiError::MethodNotAllowed,
        ApiError::Unauthorized,
        ApiError::Unavailable(anyhow::anyhow!("store down")),
        ApiError::CommandRefused(Refusal::NotAuthorized {
            authorization: Authorization::OneTimeUpdate,
        }),
        ApiError::CommandRefused(Refusal::FirmwareTooOld {
            required: FirmwareVersion::new(14, 1, 0),
        }),
        ApiError::UnknownCommand,
        ApiError::CommandFinished(CommandState::TimedOut),
        ApiError::IllegalTransition(IllegalTransition {
            from: CommandState::Queued,
            event: EventKind::Succeeded,
            why: IllegalWhy::NotInThisState,
        }),
        ApiError::BackupPassword(PasswordRefusal::TooShort { got: 3 }),
        ApiError::BackupPassword(PasswordRefusal::TooLong { got: 129 }),
        ApiError::BackupPassword(PasswordRefusal::ControlCharacters),
        ApiError::BackupPassword(PasswordRefusal::TooFewClasses {
            has: vec![CharClass::Lower, CharClass::Digit],
            missing: vec![CharClass::Upper, CharClass::Special],
        }),
        ApiError::Conflict("command job_1 is not a backup".into()),
    ];
    for e in errors {
        let body = error_body(e).await;
        serde_json::from_value::<ErrorBody>(body.clone()).expect("an ErrorBody");
        s.check_json("ErrorBody", &body);
    }
    s.check_json(
        "ErrorBody",
        &json!(ErrorBody {
            error: ErrorDetail {
                code: "conflict".into(),
                message: "tenant 1.ab already exists".into(),
            },
        }),
    );
    s.refuses(
        "ErrorBody",
        &json!({"error": {"code": "no_such_code", "message": "x"}}),
    );
}

fn job_id(n: u8) -> JobId {
    JobId::new(1_764_072_000_000 + i64::from(n), [0xde, 0xad, 0xbe, n])
}

fn update_to(version: &str, not_before_ms: i64) -> Operation {
    Operation::FirmwareUpdate {
        version: FirmwareVersion::parse(version).unwrap(),
        not_before: Timestamp::from_millis(not_before_ms),
    }
}

fn backup_id(n: u8) -> BackupId {
    BackupId::new(1_764_072_000_000 + i64::from(n), [0xba, 0xc0, 0x0f, n])
}

/// One of every operation.
fn sample_operations() -> Vec<Operation> {
    let mut ops = vec![
        Operation::Reboot,
        Operation::Shutdown,
        Operation::FactoryReset,
        Operation::Rollback,
        update_to("14.1.2", 1_764_072_000_000),
        Operation::Backup,
        Operation::SetBackupPassword { generation: 3 },
        Operation::RestoreBackup {
            backup: backup_id(1),
            taken_at: Timestamp::from_millis(1_764_072_000_001),
        },
    ];
    for action in [AppAction::Start, AppAction::Stop, AppAction::Restart] {
        ops.push(Operation::Application {
            name: "http_proxy".into(),
            action,
        });
    }
    ops
}

/// One of every refusal.
fn refusals() -> Vec<Refusal> {
    vec![
        Refusal::NotAuthorized {
            authorization: Authorization::PinProtectedActions,
        },
        Refusal::NotAuthorized {
            authorization: Authorization::VpnConfiguration,
        },
        Refusal::FirmwareTooOld {
            required: FirmwareVersion::new(14, 1, 0),
        },
        Refusal::NothingToRollBack,
        Refusal::WrongPin { attempts_left: 4 },
        Refusal::PinBlocked,
        Refusal::Unsupported,
        Refusal::ApplianceGone,
        Refusal::NotAnUpdate {
            installed: FirmwareVersion::new(14, 2, 0),
        },
        Refusal::UnknownApplication {
            name: "mail_relay".into(),
        },
    ]
}

fn targets() -> Vec<JobTarget> {
    vec![
        JobTarget::Appliance(appliance_id()),
        JobTarget::list(vec![appliance_id(), ApplianceId::from_random([1; 16])]).unwrap(),
        JobTarget::tag("berlin").unwrap(),
    ]
}

fn job_view(operation: Operation, target: JobTarget, finished: bool) -> JobView {
    use CommandState as S;
    let counts = if finished {
        JobCounts::of([
            S::Succeeded,
            S::Failed,
            S::Rejected,
            S::TimedOut,
            S::Canceled,
        ])
    } else {
        JobCounts::of([S::Queued, S::Queued, S::Sent, S::Succeeded])
    };
    JobView {
        id: job_id(7),
        tenant: customer(),
        operation,
        target,
        created_at: Timestamp::from_millis(1_764_072_000_007).to_rfc3339(),
        created_by: email().to_string(),
        appliances: counts.total(),
        counts,
        pickup_expected_by: (!finished).then(|| "2025-11-25T12:01:30.000Z".into()),
        finished,
    }
}

fn command_view(state: CommandState, reason: Option<Refusal>, by_console: bool) -> CommandView {
    let at = |ms: i64| Timestamp::from_millis(1_764_072_000_000 + ms).to_rfc3339();
    CommandView {
        job: job_id(7),
        appliance: appliance_id(),
        state,
        reason,
        refused_by_console: by_console,
        cancel_requested: state == CommandState::Sent,
        created_at: at(0),
        not_before: (state == CommandState::Queued).then(|| at(3_600_000)),
        collect_by: at(86_400_000),
        sent_at: (state != CommandState::Queued && !by_console).then(|| at(60_000)),
        finished_at: state.is_terminal().then(|| at(120_000)),
        info: (state == CommandState::Failed).then(|| "disk full".into()),
    }
}

/// A real chain of `n` log entries of one appliance.
fn log_chain(n: u64) -> Vec<LogEntry> {
    let mut chain: Vec<LogEntry> = Vec::new();
    for i in 0..n {
        let fields = LogFields {
            time: Timestamp::from_millis(1_764_072_000_000 + i64::try_from(i).unwrap() * 1000),
            job: (i % 3 != 2).then(|| job_id(7).to_string()),
            direction: if i % 2 == 0 {
                Direction::ConsoleToAppliance
            } else {
                Direction::ApplianceToConsole
            },
            status: LogStatus::ALL[usize::try_from(i).unwrap() % LogStatus::ALL.len()],
            info: if i == 0 {
                String::new()
            } else {
                format!("exchange {i}: wrong PIN, 4 attempts left")
            },
        };
        let next = comm_log::append(chain.last(), &appliance_id(), fields).unwrap();
        chain.push(next);
    }
    chain
}

#[test]
fn job_and_log_answers_match_their_schemas() {
    let s = Schemas::load();
    let mut jobs = Vec::new();
    for (i, operation) in sample_operations().into_iter().enumerate() {
        let target = targets()[i % 3].clone();
        for finished in [false, true] {
            let v = job_view(operation.clone(), target.clone(), finished);
            s.check_json("JobView", &json!(v));
            jobs.push(v);
        }
    }
    s.check_json(
        "JobPage",
        &json!(ListPage {
            items: jobs,
            next_cursor: Some("next".into()),
        }),
    );
    s.check_json("JobCounts", &json!(JobCounts::default()));

    let mut commands = vec![
        command_view(CommandState::Queued, None, false),
        command_view(CommandState::Sent, None, false),
        command_view(CommandState::Succeeded, None, false),
        command_view(CommandState::Failed, None, false),
        command_view(CommandState::TimedOut, None, false),
        command_view(CommandState::Canceled, None, false),
    ];
    for r in refusals() {
        commands.push(command_view(CommandState::Rejected, Some(r.clone()), false));
        commands.push(command_view(CommandState::Rejected, Some(r), true));
    }
    for c in &commands {
        s.check_json("CommandView", &json!(c));
    }
    s.check_json(
        "CommandPage",
        &json!(ListPage {
            items: commands,
            next_cursor: None,
        }),
    );
    for r in refusals() {
        s.check_json("Refusal", &json!(r));
    }
    s.refuses("Refusal", &json!({"code": "wrong_pin"}));
    s.refuses("Refusal", &json!({"code": "pin_blocked", "pin": "123456"}));
    s.refuses(
        "Refusal",
        &json!({"code": "not_authorized", "authorization": "everything"}),
    );

    let chain = log_chain(7);
    comm_log::verify_chain(&chain).expect("a valid chain");
    for e in &chain {
        s.check_json("LogEntry", &json!(e));
    }
    let head = chain.last().unwrap().head();
    s.check_json(
        "LogPage",
        &json!(ListPage {
            items: chain.iter().rev().cloned().collect::<Vec<_>>(),
            next_cursor: Some("c".into()),
        }),
    );
    for head in [head, ChainHead::GENESIS] {
        s.check_json(
            "LogHeadView",
            &json!(LogHeadView {
                appliance: appliance_id(),
                head,
            }),
        );
    }
    let mut bad = json!(chain[1]);
    bad["hash"] = json!("XYZ");
    s.refuses("LogEntry", &bad);
    let mut bad = json!(chain[1]);
    bad["direction"] = json!("sideways");
    s.refuses("LogEntry", &bad);
    let mut bad = json!(chain[1]);
    bad["time"] = json!("2025-11-25T12:00:00Z");
    s.refuses("LogEntry", &bad);
}

#[test]
fn job_requests_match_their_schemas() {
    let s = Schemas::load();
    for (i, operation) in sample_operations().into_iter().enumerate() {
        let job = NewJob {
            target: targets()[i % 3].clone(),
            pin: operation.needs_pin().then(|| PinText::new("123456")),
            backup_password: operation
                .carries_sealed_password()
                .then(|| PasswordText::new("Correct horse 7")),
            operation,
        };
        let v = json!(job);
        let back: NewJob = serde_json::from_value(v.clone()).expect("the console reads it");
        assert_eq!(back.operation, job.operation);
        s.check_json("NewJob", &v);
    }
    // As a client writes them by hand.
    for ok in [
        json!({"target": {"appliance": appliance_id()}, "operation": {"type": "reboot"}, "pin": "000000"}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "firmware_update", "version": "14.2", "not_before": 0}}),
        json!({"target": {"list": [appliance_id(), appliance_id()]},
               "operation": {"type": "application", "name": "ips", "action": "stop"}}),
        // The backup operations; the console fills in what a client leaves out.
        json!({"target": {"tag": "hq"}, "operation": {"type": "backup"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "set_backup_password"},
               "backup_password": "Tr0ub4dor&3"}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "set_backup_password", "generation": 0},
               "backup_password": "Ärger über Öl 2025"}),
        json!({"target": {"appliance": appliance_id()},
               "operation": {"type": "restore_backup", "backup": backup_id(2)}, "pin": "123456"}),
        json!({"target": {"appliance": appliance_id()},
               "operation": {"type": "restore_backup", "backup": backup_id(2), "taken_at": 1_764_072_000_002_i64},
               "pin": "123456"}),
    ] {
        serde_json::from_value::<NewJob>(ok.clone())
            .unwrap_or_else(|e| panic!("{ok} is not a NewJob: {e}"));
        s.check_json("NewJob", &ok);
    }
    // What the console cannot read, the schema refuses too.
    for bad in [
        json!({"target": {"list": []}, "operation": {"type": "reboot"}}),
        json!({"target": {"tag": ""}, "operation": {"type": "reboot"}}),
        json!({"target": {"everything": true}, "operation": {"type": "reboot"}}),
        json!({"target": {"appliance": "ap_nope"}, "operation": {"type": "reboot"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "explode"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "firmware_update", "version": "14.2"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "application", "name": "ips", "action": "pause"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "reboot"}, "surprise": 1}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "restore_backup"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "restore_backup", "backup": "1764072000123deadbeef"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "restore_backup", "backup": "job_1764072000123deadbeef"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "restore_backup", "backup": "bk_1764072000123DEADBEEF"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "restore_backup", "backup": backup_id(2), "taken_at": "yesterday"}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "set_backup_password", "generation": -1}}),
        json!({"target": {"tag": "hq"}, "operation": {"type": "backup"}, "backup_password": 12_345_678}),
    ] {
        assert!(
            serde_json::from_value::<NewJob>(bad.clone()).is_err(),
            "the console reads {bad}"
        );
        s.refuses("NewJob", &bad);
    }
    // A PIN is six digits.
    for pin in ["12345", "1234567", "12345a", ""] {
        s.refuses(
            "NewJob",
            &json!({"target": {"tag": "hq"}, "operation": {"type": "reboot"}, "pin": pin}),
        );
    }
    // A backup password the policy refuses for its length or characters, the schema
    // refuses too (the character classes only the console counts).
    let too_long = "Aa1!".repeat(32) + "x";
    for (password, code) in [
        ("Ab1!xyz", "password_too_short"),
        ("", "password_too_short"),
        (too_long.as_str(), "password_too_long"),
        ("Passw0rd!\n", "password_control_characters"),
        ("Pass\tw0rd!", "password_control_characters"),
        ("Passw0rd!\u{7f}", "password_control_characters"),
        ("Passw0rd!\u{85}", "password_control_characters"),
    ] {
        let refusal = BackupPassword::parse(password.to_owned()).expect_err(password);
        assert_eq!(refusal.code(), code, "{password:?}");
        s.refuses(
            "NewJob",
            &json!({"target": {"tag": "hq"}, "operation": {"type": "set_backup_password"},
                    "backup_password": password}),
        );
    }
    let longest = "Aa1!".repeat(32);
    for password in [
        "Tr0ub4dor&3",
        "Ärger über Öl 2025",
        "Correct horse battery 9",
        longest.as_str(),
    ] {
        BackupPassword::parse(password.to_owned()).expect(password);
        s.check_json(
            "NewJob",
            &json!({"target": {"tag": "hq"}, "operation": {"type": "set_backup_password"},
                    "backup_password": password}),
        );
    }

    s.check_json("JobCancel", &json!(JobCancel::default()));
    s.check_json(
        "JobCancel",
        &json!(JobCancel {
            appliances: Some(vec![appliance_id()]),
        }),
    );
    for ok in [json!({}), json!({"appliances": [appliance_id()]})] {
        serde_json::from_value::<JobCancel>(ok.clone()).unwrap();
        s.check_json("JobCancel", &ok);
    }
    let bad = json!({"appliance": appliance_id()});
    assert!(serde_json::from_value::<JobCancel>(bad.clone()).is_err());
    s.refuses("JobCancel", &bad);
}

fn backup_view(for_job: bool) -> BackupView {
    BackupView {
        id: backup_id(4),
        serial: Serial::parse("A1B2C3D4").unwrap(),
        appliance: appliance_id(),
        accepted_at: Timestamp::from_millis(1_764_072_000_123).to_rfc3339(),
        size: 4_200_000,
        password_generation: 2,
        made_by: if for_job {
            email().to_string()
        } else {
            "appliance".into()
        },
        job: for_job.then(|| job_id(7)),
    }
}

/// What the device API hands out for a presigned request (as its own helper does).
fn presigned_http(p: PresignedRequest) -> PresignedHttp {
    PresignedHttp {
        method: p.method,
        url: p.url,
        headers: p.headers,
        expires_ms: p.expires.millis(),
    }
}

/// Real presigned uploads and downloads of both object stores (the file store
/// self-hosted, S3 on AWS; presigning needs no network).
async fn presigned_pairs(dir: &Path) -> Vec<(PresignedRequest, PresignedRequest)> {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let files = rampart_local::FsObjects::open(
        dir.join("objects"),
        "http://127.0.0.1:8080/".into(),
        [7; 32],
    )
    .expect("a file object store");
    let s3 = rampart_aws::S3Objects::new(
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("eu-central-1"))
                .credentials_provider(Credentials::new(
                    "AKIDEXAMPLE",
                    "secret",
                    None,
                    None,
                    "test",
                ))
                .build(),
        ),
        "rampart-backups".into(),
    );
    let key = format!("backups/{}/A1B2C3D4/{}", customer(), backup_id(4));
    let stores: [&dyn Objects; 2] = [&files, &s3];
    let mut pairs = Vec::new();
    for store in stores {
        let put = store
            .presign_put(&key, 4_200_000, &[0xab; 32], BACKUP_URL_LIFETIME)
            .await
            .expect("a presigned upload");
        let get = store
            .presign_get(&key, BACKUP_URL_LIFETIME)
            .await
            .expect("a presigned download");
        pairs.push((put, get));
    }
    pairs
}

#[tokio::test]
async fn backup_messages_match_their_schemas() {
    let s = Schemas::load();
    let dir = tempfile::tempdir().unwrap();

    // Ids.
    for n in [0, 1, 0xff] {
        s.check_json("BackupId", &json!(backup_id(n)));
    }
    s.check_json("BackupId", &json!(BackupId::new(0, [0; 4])));
    for bad in [
        "1764072000123deadbeef",
        "job_1764072000123deadbeef",
        "bk_1764072000123deadbee",
        "bk_1764072000123DEADBEEF",
        "bk_17640720001234deadbeef",
        "bk_../x",
        "",
    ] {
        assert!(BackupId::parse(bad).is_err(), "the console reads {bad}");
        s.refuses("BackupId", &json!(bad));
    }

    // The portal's answers.
    for for_job in [true, false] {
        s.check_json("BackupView", &json!(backup_view(for_job)));
    }
    s.check_json(
        "BackupPage",
        &json!(ListPage {
            items: vec![backup_view(true), backup_view(false)],
            next_cursor: Some("next".into()),
        }),
    );
    s.check_json(
        "BackupPage",
        &json!(ListPage::<BackupView> {
            items: vec![],
            next_cursor: None,
        }),
    );
    let mut bad = json!(backup_view(true));
    bad["id"] = json!("1764072000123deadbeef");
    s.refuses("BackupView", &bad);
    let mut bad = json!(backup_view(true));
    bad["job"] = json!("bk_1764072000123deadbeef");
    s.refuses("BackupView", &bad);
    let mut bad = json!(backup_view(false));
    bad.as_object_mut().unwrap().remove("job");
    s.refuses("BackupView", &bad);

    for (put, get) in presigned_pairs(dir.path()).await {
        assert_eq!((put.method.as_str(), get.method.as_str()), ("PUT", "GET"));
        let download = BackupDownload {
            backup_id: backup_id(4),
            size: 4_200_000,
            url: get.url.clone(),
            expires_at: get.expires.to_rfc3339(),
        };
        s.check_json("BackupDownload", &json!(download));

        // The device API's answers, as the appliance parses them.
        let upload = BackupUploadResponse {
            backup_id: backup_id(4),
            upload: presigned_http(put),
        };
        let v = json!(upload);
        assert_eq!(
            serde_json::from_value::<BackupUploadResponse>(v.clone()).unwrap(),
            upload
        );
        s.check_json("BackupUploadResponse", &v);
        s.check_json("PresignedHttp", &v["upload"]);
        let download = BackupDownloadResponse {
            backup_id: backup_id(4),
            size: 4_200_000,
            password_generation: 2,
            download: presigned_http(get),
        };
        let v = json!(download);
        assert_eq!(
            serde_json::from_value::<BackupDownloadResponse>(v.clone()).unwrap(),
            download
        );
        s.check_json("BackupDownloadResponse", &v);
    }
    let presigned = PresignedHttp {
        method: "PUT".into(),
        url: "https://bucket.s3.eu-central-1.amazonaws.com/backups/k?X-Amz-Signature=ab".into(),
        headers: vec![
            ("content-length".into(), "1000".into()),
            (
                "x-amz-checksum-sha256".into(),
                "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=".into(),
            ),
        ],
        expires_ms: 1_764_072_900_000,
    };
    s.check_json("PresignedHttp", &json!(presigned));
    s.refuses(
        "BackupDownload",
        &json!({"backup_id": backup_id(4), "size": 1, "url": "https://x.example/b", "expires_at": "soon"}),
    );
    s.refuses(
        "BackupUploadResponse",
        &json!({"backup_id": "1764072000123deadbeef", "upload": presigned}),
    );
    // What the appliance cannot read as a presigned request, the schema refuses too.
    for headers in [
        json!({"content-length": "1000"}),
        json!([["content-length", "1000", "extra"]]),
        json!([["content-length"]]),
        json!([["content-length", 1000]]),
    ] {
        let mut bad = json!(presigned);
        bad["headers"] = headers;
        assert!(
            serde_json::from_value::<PresignedHttp>(bad.clone()).is_err(),
            "the appliance reads {bad}"
        );
        s.refuses("PresignedHttp", &bad);
    }

    // Upload requests as the appliance sends them.
    let upload = BackupUploadRequest {
        command_id: Some(job_id(7)),
        size: 4_200_000,
        sha256: "ab".repeat(32),
        password_generation: 2,
    };
    for req in [
        upload.clone(),
        BackupUploadRequest {
            command_id: None,
            size: 1,
            password_generation: u32::MAX,
            ..upload.clone()
        },
        BackupUploadRequest {
            size: MAX_BACKUP_BYTES,
            ..upload.clone()
        },
    ] {
        req.validate().expect("a valid upload request");
        let v = json!(req);
        assert_eq!(
            serde_json::from_value::<BackupUploadRequest>(v.clone()).unwrap(),
            req
        );
        s.check_json("BackupUploadRequest", &v);
    }
    // What the console refuses, the schema refuses too.
    for bad in [
        BackupUploadRequest {
            size: 0,
            ..upload.clone()
        },
        BackupUploadRequest {
            size: MAX_BACKUP_BYTES + 1,
            ..upload.clone()
        },
        BackupUploadRequest {
            sha256: "AB".repeat(32),
            ..upload.clone()
        },
        BackupUploadRequest {
            sha256: "ab".repeat(31),
            ..upload.clone()
        },
        BackupUploadRequest {
            sha256: "zz".repeat(32),
            ..upload.clone()
        },
        BackupUploadRequest {
            password_generation: 0,
            ..upload.clone()
        },
    ] {
        assert!(bad.validate().is_err(), "the console accepts {bad:?}");
        s.refuses("BackupUploadRequest", &json!(bad));
    }
    for bad in [
        json!({"size": 1, "sha256": "ab".repeat(32)}),
        json!({"size": 1, "sha256": "ab".repeat(32), "password_generation": 1, "surprise": 1}),
        json!({"command_id": "cmd_1", "size": 1, "sha256": "ab".repeat(32), "password_generation": 1}),
        json!({"size": -1, "sha256": "ab".repeat(32), "password_generation": 1}),
    ] {
        assert!(
            serde_json::from_value::<BackupUploadRequest>(bad.clone()).is_err(),
            "the console reads {bad}"
        );
        s.refuses("BackupUploadRequest", &bad);
    }
    // The download request's body: signed, not read.
    s.check_json("SignedEmptyBody", &json!({}));
    s.refuses("SignedEmptyBody", &json!({"backup": backup_id(4)}));

    // Schedules, as a client sends them and as the console answers.
    for schedule in [
        BackupSchedule::default(),
        BackupSchedule {
            enabled: false,
            hour: 23,
            minute: 59,
        },
        BackupSchedule {
            enabled: true,
            hour: 0,
            minute: 0,
        },
    ] {
        schedule.validate().expect("a valid schedule");
        let v = json!(schedule);
        assert_eq!(
            serde_json::from_value::<BackupSchedule>(v.clone()).unwrap(),
            schedule
        );
        s.check_json("BackupSchedule", &v);
        for (offset, next_run) in [
            (
                60,
                schedule
                    .enabled
                    .then(|| "2025-11-26T06:00:00.000Z".to_owned()),
            ),
            (-720, None),
            (840, Some("2025-11-25T17:00:00.000Z".to_owned())),
        ] {
            s.check_json(
                "BackupScheduleView",
                &json!(BackupScheduleView {
                    schedule,
                    utc_offset_minutes: offset,
                    next_run,
                }),
            );
        }
    }
    // Hour 24 and minute 60 parse, but the console refuses them (422); the schema
    // refuses them outright.
    for bad in [
        json!({"enabled": true, "hour": 24, "minute": 0}),
        json!({"enabled": true, "hour": 7, "minute": 60}),
    ] {
        let parsed: BackupSchedule = serde_json::from_value(bad.clone()).expect("parses");
        assert!(parsed.validate().is_err(), "the console accepts {bad}");
        s.refuses("BackupSchedule", &bad);
    }
    for bad in [
        json!({"hour": 7, "minute": 0}),
        json!({"enabled": true, "hour": -1, "minute": 0}),
        json!({"enabled": "yes", "hour": 7, "minute": 0}),
        json!({"enabled": true, "hour": 7, "minute": 0, "second": 0}),
    ] {
        assert!(
            serde_json::from_value::<BackupSchedule>(bad.clone()).is_err(),
            "the console reads {bad}"
        );
        s.refuses("BackupSchedule", &bad);
    }
    s.refuses(
        "BackupScheduleView",
        &json!({"schedule": BackupSchedule::default(), "utc_offset_minutes": 900, "next_run": null}),
    );
    s.refuses(
        "BackupScheduleView",
        &json!({"schedule": BackupSchedule::default(), "utc_offset_minutes": 0, "next_run": "at seven"}),
    );
}

/// The string literals the match arms of `fn code(&self)` in `source` answer with,
/// and the arms that answer something else (a delegation to another `code()`).
fn codes_in(source: &str, end_marker: &str) -> (BTreeSet<String>, Vec<String>) {
    let body = source
        .split("pub fn code(&self)")
        .nth(1)
        .and_then(|rest| rest.split(end_marker).next())
        .expect("a `pub fn code(&self)`");
    let mut codes = BTreeSet::new();
    let mut other = Vec::new();
    for line in body.lines().filter(|l| l.contains("=>")) {
        match line.split_once("=> \"") {
            Some((_, r)) => {
                codes.insert(r.split('"').next().unwrap_or_default().to_owned());
            }
            None => other.push(line.trim().to_owned()),
        }
    }
    (codes, other)
}

/// Every code `ApiError::code` can answer (read from error.rs, so a new code
/// cannot be forgotten; the backup password refusals from their own `code()` in the
/// password policy) is in the document's `ErrorCode` enum, and the enum holds no
/// code the console never sends.
#[test]
fn the_error_code_enum_is_error_rs() {
    let doc = document();
    let documented: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum")
        .iter()
        .map(|c| c.as_str().expect("codes are strings"))
        .collect();
    let read = |path: &str| {
        std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let (mut in_code, delegated) =
        codes_in(&read("shared/app/src/error.rs"), "pub fn status(&self)");
    assert!(in_code.len() >= 18, "found only {in_code:?} in error.rs");
    // The one arm that hands over to another type's codes: the password policy's.
    assert!(
        delegated.len() == 1 && delegated[0].starts_with("ApiError::BackupPassword("),
        "ApiError::code answers codes this test cannot read: {delegated:?}"
    );
    let (password_codes, other) = codes_in(
        &read("shared/domain/src/backup/password_policy.rs"),
        "impl From<PasswordRefusal>",
    );
    assert!(other.is_empty(), "PasswordRefusal::code: {other:?}");
    assert_eq!(password_codes.len(), 4, "{password_codes:?}");
    in_code.extend(password_codes);
    let in_code: BTreeSet<&str> = in_code.iter().map(String::as_str).collect();
    let missing: Vec<_> = in_code.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&in_code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "ErrorCode enum disagrees with ApiError::code:\n  missing: {missing:?}\n  never sent: {extra:?}"
    );
}

#[tokio::test]
async fn the_served_document_is_the_file() {
    assert_eq!(
        rampart_app::http::openapi::OPENAPI_JSON,
        document_text(),
        "the compiled-in document differs from docs/openapi.json"
    );
    let response = rampart_app::http::openapi::openapi_document().await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[axum::http::header::CONTENT_TYPE],
        "application/json"
    );
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    assert_eq!(bytes, document_text().as_bytes());
}

fn scan_view(
    state: rampart_domain::portal_protocol::ScanState,
) -> rampart_domain::portal_protocol::ScanView {
    use rampart_domain::portal_protocol::{
        ScanOpenPort, ScanOutcome, ScanResultView, ScanState, ScanView,
    };
    let done = state.is_done();
    let at = |ms: i64| Timestamp::from_millis(ms).to_rfc3339();
    ScanView {
        id: rampart_domain::ids::ScanId::new(1_764_072_000_123, [0xde, 0xad, 0xbe, 0xef]),
        appliance: appliance_id(),
        profile: rampart_scanner::Profile::top100_tcp().name.to_owned(),
        state,
        requested_by: email().to_string(),
        requested_at: at(1_764_072_000_123),
        started_at: (state != ScanState::Queued).then(|| at(1_764_072_001_000)),
        finished_at: done.then(|| at(1_764_072_009_000)),
        results: if state == ScanState::Finished {
            vec![
                ScanResultView {
                    interface: "wan0".into(),
                    address: Some("203.0.113.7".into()),
                    outcome: ScanOutcome::Scanned,
                    reason: None,
                    started_at: Some(at(1_764_072_001_000)),
                    finished_at: Some(at(1_764_072_009_000)),
                    open: vec![ScanOpenPort {
                        port: 443,
                        service: "https".into(),
                    }],
                    closed: 97,
                    filtered: 2,
                },
                ScanResultView {
                    interface: "wan1".into(),
                    address: Some("10.0.0.1".into()),
                    outcome: ScanOutcome::Refused,
                    reason: Some("special_purpose_address: 10.0.0.1 is in 10.0.0.0/8".into()),
                    started_at: None,
                    finished_at: None,
                    open: Vec::new(),
                    closed: 0,
                    filtered: 0,
                },
                ScanResultView {
                    interface: "wan2".into(),
                    address: None,
                    outcome: ScanOutcome::NotObserved,
                    reason: Some("no_address: the interface reported no address".into()),
                    started_at: None,
                    finished_at: None,
                    open: Vec::new(),
                    closed: 0,
                    filtered: 0,
                },
            ]
        } else {
            Vec::new()
        },
        error: (state == ScanState::Failed).then(|| "no_report: no interfaces reported".into()),
    }
}

#[tokio::test]
async fn scan_messages_match_their_schemas() {
    use rampart_domain::portal_protocol::{ListPage, ScanState};
    let s = Schemas::load();
    for state in [
        ScanState::Queued,
        ScanState::Running,
        ScanState::Finished,
        ScanState::Failed,
    ] {
        s.check_json("ScanView", &json!(scan_view(state)));
    }
    s.check_json(
        "ScanPage",
        &json!(ListPage {
            items: vec![scan_view(ScanState::Finished), scan_view(ScanState::Queued)],
            next_cursor: Some("abc".into()),
        }),
    );
    s.check_json(
        "ScanProfileView",
        &json!(rampart_app::portal::scan_profile()),
    );
    for bad in [
        "scan_1764072000123deadbee",
        "bk_1764072000123deadbeef",
        "scan_../x",
    ] {
        assert!(
            rampart_domain::ids::ScanId::parse(bad).is_err(),
            "the console reads {bad}"
        );
        s.refuses("ScanId", &json!(bad));
    }
    for e in [
        ApiError::ScanRunning,
        ApiError::TooManyScans {
            retry_after_secs: 60,
        },
    ] {
        s.check_json("ErrorBody", &error_body(e).await);
    }
}

#[tokio::test]
async fn status_history_matches_its_schema() {
    use rampart_domain::status_history::{
        HistoryRange, RangeRefusal, StatusHistoryView, StatusSample, downsample,
    };
    let s = Schemas::load();
    let now = Timestamp::from_millis(1_764_072_000_000);
    let samples: Vec<StatusSample> = (0..120)
        .map(|m| {
            StatusSample::at(
                now.minus(std::time::Duration::from_secs(60 * m)),
                f64::from(m as u32 % 101),
                100.0,
                0.0,
            )
        })
        .collect();
    for points in [1, 7, 2000] {
        let range = HistoryRange::new(
            now.minus(std::time::Duration::from_secs(3 * 3600)),
            now,
            points,
            now,
        )
        .unwrap();
        let view = StatusHistoryView {
            since: range.since().to_rfc3339(),
            until: range.until().to_rfc3339(),
            bucket_secs: (range.bucket_width_ms() / 1000) as u64,
            points: downsample(&samples, &range),
        };
        assert!(!view.points.is_empty());
        s.check_json("StatusHistoryView", &json!(view));
    }
    s.refuses(
        "StatusHistoryView",
        &json!({"since": "x", "until": "y", "bucket_secs": 60, "points": [{}]}),
    );
    for e in [
        RangeRefusal::Empty,
        RangeRefusal::BeforeRetention,
        RangeRefusal::Points,
    ] {
        s.check_json("ErrorBody", &error_body(ApiError::HistoryRange(e)).await);
    }
}

// ---- configuration profiles ----------------------------------------------------

fn every_section() -> rampart_domain::profile::ProfileSections {
    serde_json::from_value(json!({
        "update_schedule": {"weekday": "sunday", "hour": 3, "minute": 30},
        "cloud_backup_schedule": {"enabled": true, "hour": 7, "minute": 0},
        "administration_access": {"networks": ["198.51.100.0/24", "2001:db8::/32", "192.0.2.7"]},
        "data_protection": {"anonymize_reports": true, "log_retention_days": 30},
        "fail2ban": {"enabled": true, "max_retries": 5, "ban_time_secs": 600},
        "cloud_shield": {"enabled": false},
        "vpn": {"connections": [{"name": "hq", "peer": "A1B2C3D4", "enabled": true}]}
    }))
    .expect("every section parses")
}

#[test]
fn profile_messages_match_their_schemas() {
    use rampart_domain::profile::{
        Assigned, AssignmentKind, AssignmentView, ConfigResultRequest, ConfigResultResponse,
        ConfigurationView, EffectiveConfig, EffectiveSectionView, ProfileName, ProfileSummary,
        ProfileView, RemovedSectionView, SaveProfile, Section, SectionOutcome, SectionResult,
        SectionTransfer, TransferState, merge_assignments,
    };
    let s = Schemas::load();
    let sections = every_section();
    sections.validate().expect("valid sections");
    let name = ProfileName::parse("Branch offices v2").unwrap();
    let view = ProfileView {
        name: name.clone(),
        version: 3,
        sections: sections.clone(),
        updated_at: Timestamp::from_millis(1_764_072_000_000).to_rfc3339(),
        updated_by: "admin@example.com".into(),
    };
    s.check_json("ProfileView", &json!(view));
    s.check_json(
        "ProfilePage",
        &json!(ListPage {
            items: vec![ProfileSummary {
                name: name.clone(),
                version: 3,
                sections: sections.present(),
                updated_at: view.updated_at.clone(),
            }],
            next_cursor: Some("abc".into()),
        }),
    );
    for save in [
        SaveProfile {
            sections: sections.clone(),
            expected_version: Some(2),
        },
        SaveProfile {
            sections: serde_json::from_value(json!({"cloud_shield": {"enabled": true}})).unwrap(),
            expected_version: None,
        },
    ] {
        s.check_json("SaveProfile", &json!(save));
    }
    let assignment = AssignmentView {
        kind: AssignmentKind::Tag,
        target: "berlin".into(),
        profile: name.clone(),
    };
    s.check_json(
        "AssignmentPage",
        &json!(ListPage {
            items: vec![assignment],
            next_cursor: None,
        }),
    );
    s.check_json("AssignProfile", &json!({"profile": "Branch offices v2"}));

    // A configuration as the console materializes and delivers it.
    let assigned = Assigned {
        profile: &name,
        version: 3,
        sections: &sections,
        via: "appliance".into(),
    };
    let (content, origins) = merge_assignments(Some(&assigned), &[]);
    let config = EffectiveConfig::default().next(&content, &origins).unwrap();
    let change = config.changes_since(0, &BTreeSet::new());
    assert_eq!(change.sections().len(), 7);
    s.check_json("ConfigurationChange", &json!(change));
    s.check_json(
        "CheckinResponse",
        &json!(CheckinResponse {
            commands: vec![],
            poll_interval_secs: 60,
            server_time_ms: 1_764_072_000_000,
            configuration: Some(change),
        }),
    );
    let removed = config
        .next(&Default::default(), &BTreeMap::new())
        .unwrap()
        .changes_since(1, &BTreeSet::new());
    assert_eq!(removed.removed.len(), 7);
    s.check_json("ConfigurationChange", &json!(removed));

    let transfer = |state, info: Option<&str>| SectionTransfer {
        version: 1,
        state,
        info: info.map(str::to_owned),
        at: Timestamp::from_millis(1_764_072_000_000).to_rfc3339(),
    };
    let view = ConfigurationView {
        appliance: appliance_id(),
        version: 1,
        held_version: 0,
        sections: config
            .origins
            .iter()
            .map(|(section, o)| EffectiveSectionView {
                section: *section,
                version: o.version,
                profile: o.profile.clone(),
                profile_version: o.profile_version,
                via: o.via.clone(),
                content: config.content.section_json(*section).unwrap(),
                transfer: match section {
                    Section::Vpn => Some(transfer(
                        TransferState::Withheld,
                        Some("not authorized: vpn_configuration is off"),
                    )),
                    Section::Fail2ban => Some(transfer(TransferState::Applied, None)),
                    _ => None,
                },
            })
            .collect(),
        removed: vec![RemovedSectionView {
            section: Section::DataProtection,
            version: 1,
            transfer: Some(transfer(TransferState::Sent, None)),
        }],
        withheld: vec![Section::Vpn],
    };
    s.check_json("ConfigurationView", &json!(view));

    let results = ConfigResultRequest {
        config_version: 1,
        results: vec![
            SectionResult {
                section: Section::Fail2ban,
                version: 1,
                result: SectionOutcome::Applied,
                info: None,
            },
            SectionResult {
                section: Section::CloudShield,
                version: 1,
                result: SectionOutcome::Refused,
                info: Some("not authorized: cloud_shield is off".into()),
            },
        ],
    };
    results.validate().expect("valid results");
    s.check_json("ConfigResultRequest", &json!(results));
    s.check_json(
        "ConfigResultResponse",
        &json!(ConfigResultResponse {
            recorded: 1,
            ignored: 1,
        }),
    );

    // What the console refuses, the document refuses too.
    for bad in [
        json!({"sections": {"firewall": {}}}),
        json!({"sections": {"fail2ban": {"enabled": true}}}),
        json!({"sections": {"cloud_shield": {"enabled": true}}, "surprise": 1}),
    ] {
        assert!(
            serde_json::from_value::<SaveProfile>(bad.clone()).is_err(),
            "{bad}"
        );
        s.refuses("SaveProfile", &bad);
    }
    for bad in ["a#b", " lead", ""] {
        assert!(ProfileName::parse(bad).is_err());
        s.refuses("ProfileName", &json!(bad));
    }
    let empty = json!({"config_version": 1, "results": []});
    let parsed: ConfigResultRequest = serde_json::from_value(empty.clone()).unwrap();
    assert!(parsed.validate().is_err());
    s.refuses("ConfigResultRequest", &empty);
}
