//! The firmware catalog (SPEC 9) on both adapter sets: an administrator adds and
//! removes versions; portal users read it; the appliance list and detail derive
//! "update available" and "security update highly recommended" from it (reading it
//! once per request, however many appliances), offer the newer versions as upgrades
//! and a rollback only where the firmware supports it; the status icons of report,
//! VPN and Cloud Shield follow what the appliance reports (SPEC 4.2).

use chrono::NaiveDate;
use rampart_app::ApiError;
use rampart_app::store_keys;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::firmware_catalog::FirmwareRelease;
use rampart_domain::ids::{ApplianceId, TenantId};
use rampart_domain::report::CheckinReport;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_ports::{ReturnItem, Table, Update};
use rampart_tests::device_harness::{Backend, delta};
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::{Value, json};

const TENANT: &str = "100001.sms";

fn release(version: &str, security: bool) -> FirmwareRelease {
    FirmwareRelease {
        version: FirmwareVersion::parse(version).unwrap(),
        released: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
        security,
        notes: None,
    }
}

/// Stores a check-in report on the appliance item, as a check-in would.
async fn reported(app: &PortalApp, id: &ApplianceId, report: Value) {
    let report: CheckinReport = serde_json::from_value(report).unwrap();
    app.counting
        .update(
            &store_keys::appliance(&TenantId::parse(TENANT).unwrap(), id),
            Update::new()
                .set("firmware", report.firmware.to_string())
                .set("report", serde_json::to_string(&report).unwrap()),
            None,
            ReturnItem::None,
        )
        .await
        .unwrap();
}

fn report(firmware: &str, previous: Option<&str>, features: Value) -> Value {
    json!({
        "firmware": firmware, "previous_firmware": previous, "hostname": "fw", "model": "UTM",
        "cpu_percent": 1.0, "memory_percent": 2.0, "disk_percent": 3.0, "uptime_secs": 100,
        "features": features
    })
}

fn row<'a>(list: &'a Value, id: &ApplianceId) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} in {list}"))
}

async fn catalog_drives_flags_and_options(backend: Backend) {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, "viewer@example.test", Role::Viewer).await;
    let (token, _) = app.sign_in("viewer@example.test", None).await;
    let old = app.appliance(TENANT, "F1F1F1F1", "fw-old", None).await; // 14.0.2
    let newest = app.appliance(TENANT, "F2F2F2F2", "fw-newest", None).await;
    let middle = app.appliance(TENANT, "F3F3F3F3", "fw-middle", None).await;
    reported(
        &app,
        &old,
        report(
            "14.0.2",
            Some("14.0.1"),
            json!({"report": true, "vpn": true}),
        ),
    )
    .await;
    reported(
        &app,
        &newest,
        report("14.2.0", None, json!({"cloud_shield": true})),
    )
    .await;
    reported(&app, &middle, report("14.1.0", Some("14.0.2"), json!({}))).await;

    // An empty catalog: nothing to update to.
    let list = app
        .get_ok(&token, &format!("/v1/tenants/{TENANT}/appliances"))
        .await;
    assert_eq!(row(&list, &old)["flags"]["update_available"], false);

    for r in [
        release("14.0.2", false),
        release("14.1.0", true),
        release("14.2.0", false),
    ] {
        app.admin.add_firmware(r).await.unwrap();
    }
    // The same version twice is refused; so are bad notes; nothing changes.
    assert!(matches!(
        app.admin.add_firmware(release("14.1", false)).await,
        Err(ApiError::Conflict(_))
    ));
    let mut bad = release("14.3.0", false);
    bad.notes = Some("x".repeat(300));
    assert!(matches!(
        app.admin.add_firmware(bad).await,
        Err(ApiError::InvalidField(_))
    ));
    assert_eq!(app.admin.firmware_catalog().await.unwrap().len(), 3);

    let before = app.counts();
    let list = app
        .get_ok(&token, &format!("/v1/tenants/{TENANT}/appliances"))
        .await;
    let reads_for_three = delta(before, app.counts()).reads();
    let flags = |id: &ApplianceId| row(&list, id)["flags"].clone();
    assert_eq!(
        flags(&old),
        json!({"report_active": true, "vpn": true, "cloud_shield": false,
               "update_available": true, "security_update_recommended": true})
    );
    assert_eq!(
        flags(&newest),
        json!({"report_active": false, "vpn": false, "cloud_shield": true,
               "update_available": false, "security_update_recommended": false})
    );
    assert_eq!(flags(&middle)["update_available"], true);
    assert_eq!(
        flags(&middle)["security_update_recommended"],
        false,
        "the security release itself is installed"
    );
    // More appliances, the same reads: the catalog is read once per request.
    for (serial, host) in [("F4F4F4F4", "a"), ("F5F5F5F5", "b"), ("F6F6F6F6", "c")] {
        app.appliance(TENANT, serial, host, None).await;
    }
    let before = app.counts();
    let list = app
        .get_ok(&token, &format!("/v1/tenants/{TENANT}/appliances"))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 6);
    assert_eq!(delta(before, app.counts()).reads(), reads_for_three);

    // Detail: upgrades are the newer versions; rollback only from 14.1.0 on, and
    // only with a previous version.
    let detail = |id: ApplianceId| {
        let app = &app;
        let token = &token;
        async move {
            let a = app
                .call(
                    "GET",
                    &format!("/v1/tenants/{TENANT}/appliances/{id}"),
                    Some(token),
                    None,
                )
                .await;
            assert_eq!(a.status, 200, "{}", a.body);
            a.body
        }
    };
    let d = detail(old.clone()).await;
    let upgrades: Vec<&str> = d["firmware_options"]["upgrades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["version"].as_str().unwrap())
        .collect();
    assert_eq!(upgrades, ["14.1.0", "14.2.0"]);
    assert_eq!(d["firmware_options"]["upgrades"][0]["security"], true);
    assert_eq!(
        d["firmware_options"]["rollback_to"],
        Value::Null,
        "14.0.2 cannot roll back"
    );
    assert_eq!(d["flags"]["security_update_recommended"], true);
    let d = detail(middle.clone()).await;
    assert_eq!(d["firmware_options"]["rollback_to"], "14.0.2");
    assert_eq!(d["firmware_options"]["upgrades"][0]["version"], "14.2.0");
    let d = detail(newest.clone()).await;
    assert_eq!(d["firmware_options"]["upgrades"], json!([]));
    assert_eq!(
        d["firmware_options"]["rollback_to"],
        Value::Null,
        "no previous version"
    );

    // Portal users read the catalog, page by page, oldest first.
    let page = app
        .call("GET", "/v1/firmware?limit=2", Some(&token), None)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["items"][0]["version"], "14.0.2");
    assert_eq!(page.body["items"][1]["security"], true);
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let page = app
        .call(
            "GET",
            &format!("/v1/firmware?limit=2&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(page.body["items"][0]["version"], "14.2.0");
    assert_eq!(page.body["next_cursor"], Value::Null);
    assert_eq!(
        app.call("GET", "/v1/firmware", None, None).await.status,
        401
    );
    assert_eq!(
        app.call("GET", "/v1/firmware?limit=0", Some(&token), None)
            .await
            .body["error"]["code"],
        "invalid_field"
    );

    // Removing the security release takes the recommendation away.
    app.admin
        .remove_firmware(FirmwareVersion::parse("14.1.0").unwrap())
        .await
        .unwrap();
    assert!(matches!(
        app.admin
            .remove_firmware(FirmwareVersion::parse("14.1.0").unwrap())
            .await,
        Err(ApiError::NotFound)
    ));
    let d = detail(old).await;
    assert_eq!(d["flags"]["update_available"], true);
    assert_eq!(d["flags"]["security_update_recommended"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_drives_flags_and_options_embedded() {
    catalog_drives_flags_and_options(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_drives_flags_and_options_aws() {
    catalog_drives_flags_and_options(Backend::Aws).await;
}
