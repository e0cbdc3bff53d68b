//! License expiry (SPEC 2) on both adapter sets: the maintenance sweep removes, once
//! a day, the appliances whose license expired more than 40 days ago (the appliance,
//! its credential, the license's binding), unless a VPN configuration references
//! them; each removal leaves a record the portal lists. A dry run lists the same set
//! and changes nothing; running again is harmless.

use chrono::Duration as ChronoDuration;
use rampart_app::license_expiry::ExpiryReport;
use rampart_app::records::{license, vpn_reference};
use rampart_app::store_keys;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_ports::{Clock, Item, Table};
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::Value;
use std::time::Duration;

const TENANT: &str = "100001.sms";

fn tenant() -> TenantId {
    TenantId::parse(TENANT).unwrap()
}

/// An enrolled appliance (with a credential) whose license expired `days_ago`.
async fn appliance_expired(app: &PortalApp, serial: &str, days_ago: i64) -> ApplianceId {
    let id = app
        .appliance(TENANT, serial, &format!("fw-{serial}"), None)
        .await;
    let serial = Serial::parse(serial).unwrap();
    let key = store_keys::license(&serial);
    let mut lic = license::from_item(&app.counting.get(&key).await.unwrap().unwrap()).unwrap();
    lic.expires = app.clock.now().utc_date() - ChronoDuration::days(days_ago);
    app.counting
        .put(license::to_item(&lic), None)
        .await
        .unwrap();
    app.counting
        .put(
            Item::new(store_keys::credential(&id)).with("tenant", TENANT),
            None,
        )
        .await
        .unwrap();
    id
}

async fn exists(app: &PortalApp, key: &rampart_ports::Key) -> bool {
    app.counting.get(key).await.unwrap().is_some()
}

async fn bound_to(app: &PortalApp, serial: &str) -> Option<ApplianceId> {
    let key = store_keys::license(&Serial::parse(serial).unwrap());
    license::from_item(&app.counting.get(&key).await.unwrap().unwrap())
        .unwrap()
        .bound_to
}

fn serials(report: &ExpiryReport) -> (Vec<String>, Vec<String>) {
    (
        report
            .removed
            .iter()
            .map(|r| r.serial.to_string())
            .collect(),
        report
            .kept_for_vpn
            .iter()
            .map(|k| k.appliance.serial.to_string())
            .collect(),
    )
}

async fn expired_appliances_go_unless_a_vpn_needs_them(backend: Backend) {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, "viewer@example.test", Role::Viewer).await;
    let (token, _) = app.sign_in("viewer@example.test", None).await;
    let gone = appliance_expired(&app, "X1X1X1X1", 41).await;
    let recent = appliance_expired(&app, "X2X2X2X2", 39).await;
    let vpn_peer = appliance_expired(&app, "X3X3X3X3", 100).await;
    let valid = appliance_expired(&app, "X4X4X4X4", -300).await;
    // The registry of tenants the sweep walks (licenses registered by `admin` write it).
    app.counting
        .put(Item::new(store_keys::tenant_registry(&tenant())), None)
        .await
        .unwrap();
    // A profile's VPN section names X3X3X3X3 as a peer.
    app.counting
        .put(
            vpn_reference::to_item(&tenant(), &Serial::parse("X3X3X3X3").unwrap(), "branch-vpn"),
            None,
        )
        .await
        .unwrap();

    // A dry run lists what would go and what stays, and changes nothing.
    let dry = app.admin.expire_licenses(true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(
        serials(&dry),
        (vec!["X1X1X1X1".to_owned()], vec!["X3X3X3X3".to_owned()])
    );
    assert_eq!(dry.kept_for_vpn[0].profiles, ["branch-vpn"]);
    assert!(exists(&app, &store_keys::appliance(&tenant(), &gone)).await);
    assert_eq!(bound_to(&app, "X1X1X1X1").await, Some(gone.clone()));

    // The maintenance sweep does it for real, once that day.
    let swept = app.maintenance.sweep().await.unwrap();
    assert_eq!((swept.expired_removed, swept.expired_kept_for_vpn), (1, 1));
    assert!(!exists(&app, &store_keys::appliance(&tenant(), &gone)).await);
    assert!(!exists(&app, &store_keys::credential(&gone)).await);
    assert_eq!(
        bound_to(&app, "X1X1X1X1").await,
        None,
        "the license is unbound"
    );
    for (serial, id) in [
        ("X2X2X2X2", &recent),
        ("X3X3X3X3", &vpn_peer),
        ("X4X4X4X4", &valid),
    ] {
        assert!(
            exists(&app, &store_keys::appliance(&tenant(), id)).await,
            "{serial}"
        );
        assert!(exists(&app, &store_keys::credential(id)).await, "{serial}");
        assert_eq!(bound_to(&app, serial).await.as_ref(), Some(id), "{serial}");
    }

    // What the portal shows: the removal record, the unbound license, the list.
    let removed = app
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/removed-appliances"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let items = removed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", removed.body);
    assert_eq!(items[0]["serial"], "X1X1X1X1");
    assert_eq!(items[0]["appliance"], gone.as_str());
    assert_eq!(items[0]["hostname"], "fw-X1X1X1X1");
    assert!(
        items[0]["reason"].as_str().unwrap().contains("41 days ago"),
        "{}",
        items[0]
    );
    let licenses = app
        .get_ok(&token, &format!("/v1/tenants/{TENANT}/licenses"))
        .await;
    let lic = licenses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["serial"] == "X1X1X1X1")
        .unwrap();
    assert_eq!(lic["appliance_id"], Value::Null);
    let list = app
        .get_ok(&token, &format!("/v1/tenants/{TENANT}/appliances"))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);

    // The same day again: the sweep does not run it twice; an operator run finds
    // nothing more to remove and keeps the VPN peer.
    let swept = app.maintenance.sweep().await.unwrap();
    assert_eq!((swept.expired_removed, swept.expired_kept_for_vpn), (0, 0));
    let again = app.admin.expire_licenses(false).await.unwrap();
    assert_eq!(serials(&again), (vec![], vec!["X3X3X3X3".to_owned()]));
    assert_eq!(app.admin.removed_appliances().await.unwrap().len(), 1);

    // Two days on, the one that had expired 39 days ago is past 40: the next day's
    // sweep removes it.
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    let swept = app.maintenance.sweep().await.unwrap();
    assert_eq!((swept.expired_removed, swept.expired_kept_for_vpn), (1, 1));
    assert!(!exists(&app, &store_keys::appliance(&tenant(), &recent)).await);
    assert!(exists(&app, &store_keys::appliance(&tenant(), &vpn_peer)).await);
    assert_eq!(app.admin.removed_appliances().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_appliances_go_unless_a_vpn_needs_them_embedded() {
    expired_appliances_go_unless_a_vpn_needs_them(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_appliances_go_unless_a_vpn_needs_them_aws() {
    expired_appliances_go_unless_a_vpn_needs_them(Backend::Aws).await;
}

/// The VPN reference as profiles make it: a profile saved through the portal whose
/// VPN section names the expired appliance keeps it; once a new version of the
/// profile no longer names it, the next operator run removes it, with its
/// materialized configuration and its own profile assignment.
async fn a_vpn_profile_keeps_an_expired_peer_until_it_no_longer_names_it(backend: Backend) {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, "admin@example.test", Role::Administrator)
        .await;
    let (token, _) = app.sign_in("admin@example.test", None).await;
    app.counting
        .put(Item::new(store_keys::tenant_registry(&tenant())), None)
        .await
        .unwrap();
    let peer = appliance_expired(&app, "PEER7777", 60).await;
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (app, token) = (&app, token.clone());
        async move { app.call(method, &path, Some(&token), body).await }
    };
    let vpn = serde_json::json!({"vpn": {"connections": [
        {"name": "to-peer", "peer": "PEER7777", "enabled": true}
    ]}});
    let saved = call(
        "PUT",
        format!("/v1/tenants/{TENANT}/profiles/Hub"),
        Some(serde_json::json!({ "sections": vpn })),
    )
    .await;
    assert_eq!(saved.status, 201, "{}", saved.body);
    // The profile also serves the peer itself: it has a configuration of its own.
    let assigned = call(
        "PUT",
        format!("/v1/tenants/{TENANT}/profile-assignments/appliance/{peer}"),
        Some(serde_json::json!({"profile": "Hub"})),
    )
    .await;
    assert!(assigned.status < 300, "{}", assigned.body);
    let config_key = rampart_app::records::profile::config_key(&tenant(), &peer);
    let assignment_key = rampart_app::records::profile::assignment_key(
        &tenant(),
        rampart_domain::profile::AssignmentKind::Appliance,
        peer.as_str(),
    );
    assert!(exists(&app, &config_key).await);
    assert!(exists(&app, &assignment_key).await);

    let kept = app.admin.expire_licenses(false).await.unwrap();
    assert_eq!(serials(&kept), (vec![], vec!["PEER7777".to_owned()]));
    assert_eq!(kept.kept_for_vpn[0].profiles, ["Hub"]);
    assert!(exists(&app, &store_keys::appliance(&tenant(), &peer)).await);

    // A new version without the VPN section: nothing references the peer any more.
    let saved = call(
        "PUT",
        format!("/v1/tenants/{TENANT}/profiles/Hub"),
        Some(serde_json::json!({
            "sections": {"fail2ban": {"enabled": true, "max_retries": 5, "ban_time_secs": 600}},
            "expected_version": 1
        })),
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let dry = app.admin.expire_licenses(true).await.unwrap();
    assert_eq!(serials(&dry), (vec!["PEER7777".to_owned()], vec![]));
    assert!(exists(&app, &store_keys::appliance(&tenant(), &peer)).await);

    let gone = app.admin.expire_licenses(false).await.unwrap();
    assert_eq!(serials(&gone), (vec!["PEER7777".to_owned()], vec![]));
    for key in [
        store_keys::appliance(&tenant(), &peer),
        store_keys::credential(&peer),
        config_key,
        assignment_key,
    ] {
        assert!(
            !exists(&app, &key).await,
            "{key:?} is gone with the appliance"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpn_profile_keeps_an_expired_peer_embedded() {
    a_vpn_profile_keeps_an_expired_peer_until_it_no_longer_names_it(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpn_profile_keeps_an_expired_peer_aws() {
    a_vpn_profile_keeps_an_expired_peer_until_it_no_longer_names_it(Backend::Aws).await;
}
