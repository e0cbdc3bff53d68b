//! Clusters (SPEC 4.5) on both adapter sets: a master and a spare license with the
//! same cluster id are partners. The tile shows the cluster id's first 4 hex digits;
//! the cluster view shows the cluster id, its state, the partner's serial, status,
//! firmware and sync state, and a link that leads to the partner's detail. A
//! cluster whose spare never enrolled is incomplete; a partner that stopped checking
//! in shows as disconnected.

use chrono::NaiveDate;
use rampart_app::records::license;
use rampart_app::store_keys;
use rampart_domain::ids::{ApplianceId, ClusterId, Serial, TenantId};
use rampart_domain::license::{ClusterMembership, ClusterRole, NewLicense};
use rampart_domain::report::CheckinReport;
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_ports::{Clock, ReturnItem, Table, Update};
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::{Value, json};
use std::time::Duration;

const TENANT: &str = "100001.sms";

async fn reported(app: &PortalApp, id: &ApplianceId, firmware: &str, sync: &str) {
    let report: CheckinReport = serde_json::from_value(json!({
        "firmware": firmware, "hostname": "fw", "model": "UTM",
        "cpu_percent": 1.0, "memory_percent": 2.0, "disk_percent": 3.0, "uptime_secs": 100,
        "cluster_sync": sync
    }))
    .unwrap();
    app.counting
        .update(
            &store_keys::appliance(&TenantId::parse(TENANT).unwrap(), id),
            Update::new()
                .set("firmware", firmware)
                .set("report", serde_json::to_string(&report).unwrap())
                .set("last_checkin", app.clock.now().millis()),
            None,
            ReturnItem::None,
        )
        .await
        .unwrap();
}

async fn master_and_spare_are_partners(backend: Backend) {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, "viewer@example.test", Role::Viewer).await;
    let (token, _) = app.sign_in("viewer@example.test", None).await;
    let master = app
        .appliance(
            TENANT,
            "C1C1C1C1",
            "fw-master",
            Some(("beef0042aa", ClusterRole::Master)),
        )
        .await;
    let spare = app
        .appliance(
            TENANT,
            "C1C1C1C1-SPARE",
            "fw-spare",
            Some(("beef0042aa", ClusterRole::Spare)),
        )
        .await;
    reported(&app, &master, "14.1.0", "synced").await;
    reported(&app, &spare, "14.0.2", "syncing").await;

    // The tile: the cluster id's first 4 hex digits, and the cluster filter finds both.
    let list = app
        .get_ok(
            &token,
            &format!("/v1/tenants/{TENANT}/appliances?cluster=beef"),
        )
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert!(items.iter().all(|i| i["cluster"] == "beef"), "{list}");

    let base = format!("/v1/tenants/{TENANT}/appliances");
    let view = app
        .get_ok(&token, &format!("{base}/{master}/cluster"))
        .await;
    assert_eq!(view["cluster_id"], "beef0042aa");
    assert_eq!(view["role"], "master");
    assert_eq!(view["sync"], "synced");
    assert_eq!(view["state"], "syncing", "the spare still syncs: {view}");
    let p = &view["partner"];
    assert_eq!(p["serial"], "C1C1C1C1-SPARE");
    assert_eq!(p["role"], "spare");
    assert_eq!(p["appliance_id"], spare.as_str());
    assert_eq!(p["status"], "Connected");
    assert_eq!(p["firmware"], "14.0.2");
    assert_eq!(p["sync"], "syncing");
    // The link leads to the partner.
    let partner = app.get_ok(&token, p["link"].as_str().unwrap()).await;
    assert_eq!(partner["id"], spare.as_str());
    assert_eq!(partner["serial"], "C1C1C1C1-SPARE");

    // And from the spare's side, the master is the partner.
    reported(&app, &spare, "14.1.0", "synced").await;
    let view = app.get_ok(&token, &format!("{base}/{spare}/cluster")).await;
    assert_eq!(view["role"], "spare");
    assert_eq!(view["state"], "synced");
    assert_eq!(view["partner"]["serial"], "C1C1C1C1");
    assert_eq!(view["partner"]["firmware"], "14.1.0");
    assert_eq!(view["partner"]["link"], format!("{base}/{master}"));

    // The master stops checking in: from the spare, the partner is disconnected.
    app.clock.advance(Duration::from_secs(10 * 60));
    reported(&app, &spare, "14.1.0", "synced").await;
    let view = app.get_ok(&token, &format!("{base}/{spare}/cluster")).await;
    assert_eq!(view["state"], "partner_disconnected");
    assert_eq!(view["partner"]["status"], "Disconnected");

    // A cluster whose spare license exists but never enrolled is incomplete.
    let lonely = app
        .appliance(
            TENANT,
            "D1D1D1D1",
            "fw-lonely",
            Some(("cafe0101", ClusterRole::Master)),
        )
        .await;
    let spare_license = NewLicense {
        serial: Serial::parse("D1D1D1D1-SPARE").unwrap(),
        tenant: TenantId::parse(TENANT).unwrap(),
        product: "UTM".into(),
        expires: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
        cluster: Some(ClusterMembership {
            id: ClusterId::parse("cafe0101").unwrap(),
            role: ClusterRole::Spare,
        }),
    }
    .into_license("secret");
    app.counting
        .put(license::to_item(&spare_license), None)
        .await
        .unwrap();
    let view = app
        .get_ok(&token, &format!("{base}/{lonely}/cluster"))
        .await;
    assert_eq!(view["state"], "incomplete");
    assert_eq!(view["partner"]["serial"], "D1D1D1D1-SPARE");
    assert_eq!(view["partner"]["appliance_id"], Value::Null);
    assert_eq!(view["partner"]["link"], Value::Null);

    // An appliance outside any cluster has no cluster view.
    let single = app.appliance(TENANT, "E1E1E1E1", "fw-single", None).await;
    let a = app
        .call(
            "GET",
            &format!("{base}/{single}/cluster"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_and_spare_are_partners_embedded() {
    master_and_spare_are_partners(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_and_spare_are_partners_aws() {
    master_and_spare_are_partners(Backend::Aws).await;
}
