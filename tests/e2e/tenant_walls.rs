//! Tenants are walls. Walks every route of the portal route table (the router is
//! built from the same table, so a new route is covered here automatically) and
//! calls it as users who must not reach the target tenant (404, no existence
//! leak) and as viewers on changing routes (403), checking that nothing is
//! written; on both adapter sets. Plus the appliance views themselves.

use rampart_app::http::route_table::{Access, PORTAL_ROUTES, RouteSpec};
use rampart_app::records::job::JobRecord;
use rampart_app::records::profile;
use rampart_domain::Timestamp;
use rampart_domain::ids::{JobId, TenantId};
use rampart_domain::jobs::{AppAction, JobTarget, Operation};
use rampart_domain::license::ClusterRole;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_ports::{Item, Table};
use rampart_tests::device_harness::{Backend, delta};
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::{Value, json};

const RESELLER: &str = "100000.sms";
const CUSTOMER: &str = "100001.sms"; // the target: a customer of RESELLER
const SIBLING: &str = "100002.sms"; // another customer of RESELLER
const OTHER_RESELLER: &str = "200000.sms";
const OTHER_CUSTOMER: &str = "200001.sms";
const JOB: &str = "job_1700000000000deadbeef";
const BACKUP: &str = "bk_1700000000000abcdef01";
const SCAN: &str = "scan_1700000000000abcdef01";
const PROFILE: &str = "Office";

struct World {
    app: PortalApp,
    appliance: String,
    tokens: std::collections::HashMap<&'static str, String>,
}

async fn world(backend: Backend) -> World {
    let app = spawn_portal(backend).await;
    app.tenant(RESELLER, TenantKind::Reseller, None).await;
    app.tenant(CUSTOMER, TenantKind::Customer, Some(RESELLER))
        .await;
    app.tenant(SIBLING, TenantKind::Customer, Some(RESELLER))
        .await;
    app.tenant(OTHER_RESELLER, TenantKind::Reseller, None).await;
    app.tenant(OTHER_CUSTOMER, TenantKind::Customer, Some(OTHER_RESELLER))
        .await;
    let users: [(&str, &str, Role); 7] = [
        ("reseller-admin", RESELLER, Role::Administrator),
        ("reseller-viewer", RESELLER, Role::Viewer),
        ("customer-admin", CUSTOMER, Role::Administrator),
        ("customer-viewer", CUSTOMER, Role::Viewer),
        ("sibling-admin", SIBLING, Role::Administrator),
        ("other-reseller-admin", OTHER_RESELLER, Role::Administrator),
        ("other-customer-admin", OTHER_CUSTOMER, Role::Administrator),
    ];
    let mut tokens = std::collections::HashMap::new();
    for (name, tenant, role) in users {
        let email = format!("{name}@example.test");
        app.user(tenant, &email, role).await;
        let (token, _) = app.sign_in(&email, None).await;
        tokens.insert(name, token);
    }
    // Use every session once now, so that none is due for its last-seen refresh
    // (a session write) while the walls are walked: then any write is a breach.
    for token in tokens.values() {
        assert_eq!(
            app.call("GET", "/v1/me", Some(token), None).await.status,
            200
        );
    }
    let appliance = app
        .appliance(
            CUSTOMER,
            "C1C2C3C4",
            "fw-customer",
            Some(("cafe0001", ClusterRole::Master)),
        )
        .await;
    app.appliance(
        CUSTOMER,
        "C1C2C3C4-SPARE",
        "fw-customer-spare",
        Some(("cafe0001", ClusterRole::Spare)),
    )
    .await;
    app.appliance(SIBLING, "S1S2S3S4", "fw-sibling", None).await;
    app.appliance(OTHER_CUSTOMER, "O1O2O3O4", "fw-other", None)
        .await;
    // A job of the target tenant, for the job routes.
    let job = JobRecord {
        id: JobId::parse(JOB).unwrap(),
        tenant: TenantId::parse(CUSTOMER).unwrap(),
        operation: Operation::Application {
            name: "ips".into(),
            action: AppAction::Restart,
        },
        target: JobTarget::Appliance(appliance.clone()),
        appliances: vec![appliance.clone()],
        created_at: Timestamp::from_millis(1_700_000_000_000),
        created_by: "customer-admin@example.test".into(),
        pickup_expected_by: None,
        finished_at: None,
    };
    app.counting.put(Item::from(&job), None).await.unwrap();
    // A backup of the target tenant's license, for the backup routes.
    let backup = rampart_app::records::backup::BackupRecord {
        tenant: TenantId::parse(CUSTOMER).unwrap(),
        serial: rampart_domain::ids::Serial::parse("C1C2C3C4").unwrap(),
        id: rampart_domain::ids::BackupId::parse(BACKUP).unwrap(),
        appliance: appliance.clone(),
        accepted_at: Timestamp::from_millis(1_700_000_000_000),
        size: 4,
        password_generation: 1,
        made_by: "schedule".into(),
        job: None,
    };
    app.counting.put(Item::from(&backup), None).await.unwrap();
    app.objects
        .put(&backup.object_key(), bytes::Bytes::from_static(b"data"))
        .await
        .unwrap();
    // A finished scan of the target tenant's appliance, for the scan routes.
    let scan = rampart_app::records::scan::ScanRecord {
        tenant: TenantId::parse(CUSTOMER).unwrap(),
        appliance: appliance.clone(),
        id: rampart_domain::ids::ScanId::parse(SCAN).unwrap(),
        profile: "TOP 100 (TCP)".into(),
        state: rampart_domain::portal_protocol::ScanState::Finished,
        requested_by: "customer-admin@example.test".into(),
        requested_at: Timestamp::from_millis(1_700_000_000_000),
        started_at: Some(Timestamp::from_millis(1_700_000_000_100)),
        finished_at: Some(Timestamp::from_millis(1_700_000_001_000)),
        results: Vec::new(),
        error: None,
    };
    app.counting.put(Item::from(&scan), None).await.unwrap();
    // A configuration profile of the target tenant, for the profile routes.
    let tenant = TenantId::parse(CUSTOMER).unwrap();
    let office = rampart_domain::profile::ProfileView {
        name: rampart_domain::profile::ProfileName::parse(PROFILE).unwrap(),
        version: 1,
        sections: serde_json::from_value(json!({"cloud_shield": {"enabled": true}})).unwrap(),
        updated_at: Timestamp::from_millis(1_700_000_000_000).to_rfc3339(),
        updated_by: "customer-admin@example.test".into(),
    };
    for key in [
        profile::head_key(&tenant, &office.name),
        profile::version_key(&tenant, &office.name, 1),
    ] {
        app.counting
            .put(
                profile::profile_item(key, &office, Timestamp::from_millis(1_700_000_000_000)),
                None,
            )
            .await
            .unwrap();
    }
    World {
        app,
        appliance: appliance.to_string(),
        tokens,
    }
}

/// The concrete path of a route aimed at the target tenant's objects.
fn path(spec: &RouteSpec, w: &World) -> String {
    spec.path
        .replace("{tenant}", CUSTOMER)
        .replace("{appliance}", &w.appliance)
        .replace("{email}", "customer-viewer@example.test")
        .replace("{job}", JOB)
        .replace("{serial}", "C1C2C3C4")
        .replace("{backup}", BACKUP)
        .replace("{scan}", SCAN)
        .replace("{profile}", PROFILE)
        .replace("{kind}", "appliance")
        .replace("{target}", &w.appliance)
}

/// A valid body for each changing route. A new changing route fails here until
/// the test knows how to call it.
fn body(spec: &RouteSpec) -> Option<Value> {
    match (spec.method, spec.path) {
        ("GET", _) | ("DELETE", _) => None,
        ("POST", "/v1/auth/logout") => None,
        ("POST", "/v1/tenants/{tenant}/users/{email}/revoke-sessions") => None,
        ("POST", "/v1/tenants") => Some(json!({"id": "100009.sms", "name": "New customer"})),
        ("POST", "/v1/tenants/{tenant}/users") => {
            Some(json!({"email": "new@example.test", "role": "viewer"}))
        }
        ("PATCH", "/v1/tenants/{tenant}/appliances/{appliance}") => {
            Some(json!({"name": "renamed", "tags": ["x"]}))
        }
        ("POST", "/v1/tenants/{tenant}/jobs") => Some(json!({
            "target": {"tag": "x"},
            "operation": {"type": "application", "name": "ips", "action": "restart"}
        })),
        ("POST", "/v1/tenants/{tenant}/jobs/{job}/cancel") => Some(json!({})),
        ("POST", "/v1/tenants/{tenant}/licenses/{serial}/backups/{backup}/download") => None,
        ("PUT", "/v1/tenants/{tenant}/appliances/{appliance}/backup-schedule") => {
            Some(json!({"enabled": true, "hour": 6, "minute": 30}))
        }
        ("POST", "/v1/tenants/{tenant}/appliances/{appliance}/scans") => None,
        ("PUT", "/v1/tenants/{tenant}/profiles/{profile}") => {
            Some(json!({"sections": {"cloud_shield": {"enabled": false}}}))
        }
        ("PUT", "/v1/tenants/{tenant}/profile-assignments/{kind}/{target}") => {
            Some(json!({"profile": PROFILE}))
        }
        (m, p) => panic!("tenant-wall test: give {m} {p} a body"),
    }
}

async fn call(w: &World, who: &str, spec: &RouteSpec) -> rampart_tests::portal_harness::Answer {
    w.app
        .call(
            spec.method,
            &path(spec, w),
            Some(&w.tokens[who]),
            body(spec),
        )
        .await
}

async fn list(w: &World, token: &str, q: &str) -> rampart_tests::portal_harness::Answer {
    w.app
        .call(
            "GET",
            &format!("/v1/tenants/{CUSTOMER}/appliances{q}"),
            Some(token),
            None,
        )
        .await
}

async fn walls_hold(backend: Backend) {
    let w = world(backend).await;
    let mut checked = 0;
    for spec in PORTAL_ROUTES {
        match spec.access {
            Access::Public | Access::Session => continue,
            Access::SessionChange => {
                // Scoped to the caller's own tenant: viewers and non-resellers may not.
                for who in ["reseller-viewer", "customer-viewer", "customer-admin"] {
                    let before = w.app.counts();
                    let a = call(&w, who, spec).await;
                    assert_eq!(
                        a.status, 403,
                        "{who} {} {}: {}",
                        spec.method, spec.path, a.body
                    );
                    assert_eq!(a.body["error"]["code"], "forbidden");
                    assert_eq!(
                        delta(before, w.app.counts()).writes(),
                        0,
                        "{who} {}",
                        spec.path
                    );
                }
                checked += 1;
            }
            Access::TenantRead | Access::TenantChange => {
                for who in [
                    "sibling-admin",
                    "other-reseller-admin",
                    "other-customer-admin",
                ] {
                    let before = w.app.counts();
                    let a = call(&w, who, spec).await;
                    assert_eq!(
                        a.status, 404,
                        "{who} {} {}: {}",
                        spec.method, spec.path, a.body
                    );
                    assert_eq!(a.body["error"]["code"], "not_found");
                    assert_eq!(
                        delta(before, w.app.counts()).writes(),
                        0,
                        "{who} wrote through {}",
                        spec.path
                    );
                }
                if spec.access == Access::TenantChange {
                    for who in ["customer-viewer", "reseller-viewer"] {
                        let before = w.app.counts();
                        let a = call(&w, who, spec).await;
                        assert_eq!(
                            a.status, 403,
                            "{who} {} {}: {}",
                            spec.method, spec.path, a.body
                        );
                        assert_eq!(
                            delta(before, w.app.counts()).writes(),
                            0,
                            "{who} wrote through {}",
                            spec.path
                        );
                    }
                } else {
                    // The walls do not hide what may be seen: own tenant and the reseller.
                    for who in ["customer-viewer", "reseller-viewer"] {
                        let a = call(&w, who, spec).await;
                        assert_eq!(
                            a.status, 200,
                            "{who} {} {}: {}",
                            spec.method, spec.path, a.body
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 10,
        "the route table was walked ({checked} routes)"
    );
    // Status history is read under the path's tenant only: the target's
    // appliance id under the sibling's own tenant finds nothing.
    let a = w
        .app
        .call(
            "GET",
            &format!(
                "/v1/tenants/{SIBLING}/appliances/{}/status-history",
                w.appliance
            ),
            Some(&w.tokens["sibling-admin"]),
            None,
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "not_found");

    // Lists never include another tenant.
    let a = w
        .app
        .call(
            "GET",
            "/v1/tenants",
            Some(&w.tokens["other-reseller-admin"]),
            None,
        )
        .await;
    let ids: Vec<&str> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [OTHER_RESELLER, OTHER_CUSTOMER]);
    let a = w
        .app
        .call(
            "GET",
            "/v1/tenants",
            Some(&w.tokens["customer-admin"]),
            None,
        )
        .await;
    let ids: Vec<&str> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [CUSTOMER]);
    let a = w
        .app
        .call(
            "GET",
            "/v1/tenants",
            Some(&w.tokens["reseller-viewer"]),
            None,
        )
        .await;
    assert_eq!(
        a.body["items"].as_array().unwrap().len(),
        3,
        "reseller sees itself and its two customers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_walls_hold_on_every_route_embedded() {
    walls_hold(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_walls_hold_on_every_route_aws() {
    walls_hold(Backend::Aws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appliance_list_filters_sorts_pages_and_edits() {
    let w = world(Backend::Embedded).await;
    let admin = &w.tokens["reseller-admin"];
    for (serial, host) in [
        ("AAAA0001", "alpha"),
        ("AAAA0002", "bravo"),
        ("AAAA0003", "charlie"),
    ] {
        w.app.appliance(CUSTOMER, serial, host, None).await;
    }
    let names = |a: &rampart_tests::portal_harness::Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = list(&w, admin, "").await;
    assert_eq!(
        names(&all),
        [
            "alpha",
            "bravo",
            "charlie",
            "fw-customer",
            "fw-customer-spare"
        ]
    );
    assert_eq!(all.body["items"][3]["status"], "Connected");
    assert_eq!(all.body["items"][3]["cluster"], "cafe");
    assert_eq!(all.body["items"][3]["flags"]["vpn"], false);
    assert_eq!(
        names(&list(&w, admin, "?sort=-name").await),
        [
            "fw-customer-spare",
            "fw-customer",
            "charlie",
            "bravo",
            "alpha"
        ]
    );
    assert_eq!(
        names(&list(&w, admin, "?name=CUSTOMER").await),
        ["fw-customer", "fw-customer-spare"]
    );
    assert_eq!(
        names(&list(&w, admin, "?cluster=caf").await),
        ["fw-customer", "fw-customer-spare"]
    );

    // Pages of two, ascending and descending, cover everything once.
    for (sort, want) in [
        ("name", names(&all)),
        ("-name", names(&list(&w, admin, "?sort=-name").await)),
    ] {
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("?sort={sort}&limit=2&cursor={c}"),
                None => format!("?sort={sort}&limit=2"),
            };
            let page = list(&w, admin, &q).await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(page.body["items"].as_array().unwrap().len() <= 2);
            got.extend(names(&page));
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(got, want);
    }
    for bad in [
        "?sort=size",
        "?limit=0",
        "?limit=201",
        "?cursor=garbage",
        "?surprise=1",
    ] {
        let a = list(&w, admin, bad).await;
        assert_eq!(a.status, 422, "{bad}: {}", a.body);
    }

    // Edit name, tags, location and inventory; the tag filter sees it.
    let path = format!("/v1/tenants/{CUSTOMER}/appliances/{}", w.appliance);
    let patch = json!({"name": "HQ firewall", "tags": ["hq", "berlin"],
        "location": {"latitude": 52.52, "longitude": 13.405, "label": "Berlin"},
        "inventory": {"asset": "A-17", "sim_contract": "none"}});
    let a = w
        .app
        .call(
            "PATCH",
            &path,
            Some(&w.tokens["customer-admin"]),
            Some(patch),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"], "HQ firewall");
    assert_eq!(a.body["tags"], json!(["berlin", "hq"]));
    assert_eq!(a.body["location"]["label"], "Berlin");
    assert_eq!(a.body["inventory"]["asset"], "A-17");
    assert_eq!(a.body["company"], format!("Tenant {CUSTOMER}"));
    assert_eq!(a.body["license"]["serial"], "C1C2C3C4");
    assert_eq!(names(&list(&w, admin, "?tag=hq").await), ["HQ firewall"]);
    let bad = w
        .app
        .call(
            "PATCH",
            &path,
            Some(&w.tokens["customer-admin"]),
            Some(json!({"location": {"latitude": 91, "longitude": 0}})),
        )
        .await;
    assert_eq!(bad.status, 422);
    let clear = w
        .app
        .call(
            "PATCH",
            &path,
            Some(&w.tokens["customer-admin"]),
            Some(json!({"location": null})),
        )
        .await;
    assert_eq!(clear.body["location"], Value::Null);
    assert_eq!(
        clear.body["name"], "HQ firewall",
        "fields not given are kept"
    );

    // The cluster view links the partners both ways.
    let c = w
        .app
        .call(
            "GET",
            &format!("{path}/cluster"),
            Some(&w.tokens["customer-viewer"]),
            None,
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["cluster_id"], "cafe0001");
    assert_eq!(c.body["role"], "master");
    assert_eq!(c.body["partner"]["serial"], "C1C2C3C4-SPARE");
    assert_eq!(c.body["partner"]["role"], "spare");
    let partner_link = c.body["partner"]["link"].as_str().unwrap().to_owned();
    let back = w
        .app
        .call(
            "GET",
            &format!("{partner_link}/cluster"),
            Some(&w.tokens["customer-viewer"]),
            None,
        )
        .await;
    assert_eq!(back.body["partner"]["serial"], "C1C2C3C4");
    assert_eq!(back.body["partner"]["link"], path);
}
