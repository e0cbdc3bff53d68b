//! `rampart admin firmware|expire|removed` on an embedded data dir, and the tables
//! of `rampart appliances apps|cluster|removed|firmware` and the list's icons.

use rampart::fleet_cmd::{print_applications, print_cluster, print_firmware};
use rampart::portal_cmd::icons;
use rampart_domain::applications::{ApplicationSort, SortDirection, sorted_applications};
use rampart_domain::cluster::ClusterState;
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::ids::{ApplianceId, ClusterId, Serial};
use rampart_domain::portal_protocol::{ApplianceFlags, ClusterPartner, ClusterView};
use rampart_domain::report::{AppState, ClusterSync};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Output};

fn admin(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("rampart runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn firmware_catalog_is_kept_by_the_administrator() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let add = |args: &[&str]| admin(d, &[&["firmware", "add"], args].concat());
    let o = add(&[
        "14.1.0",
        "--released",
        "2026-10-01",
        "--security",
        "--notes",
        "CVE fix",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o).trim(), "Added firmware 14.1.0 to the catalog.");
    assert!(
        add(&["14.0.2", "--released", "2026-06-01"])
            .status
            .success()
    );

    // Refused: the same version again, a bad version, a bad date, bad notes.
    let o = add(&["14.1", "--released", "2026-10-01"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("already in the catalog"), "{}", err(&o));
    assert!(err(&add(&["14.x", "--released", "2026-10-01"])).contains("version"));
    assert!(err(&add(&["14.3", "--released", "01.10.2026"])).contains("--released"));
    assert!(
        err(&add(&[
            "14.3",
            "--released",
            "2026-10-01",
            "--notes",
            "a\nb"
        ]))
        .contains("notes")
    );

    let o = admin(d, &["firmware", "list"]);
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("VERSION"), "{text}");
    assert!(
        lines[1].starts_with("14.0.2") && lines[1].contains("no"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("14.1.0") && lines[2].contains("yes") && lines[2].contains("CVE fix")
    );

    let o = admin(d, &["--json", "firmware", "list"]);
    let v: Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v[1]["version"], "14.1.0");
    assert_eq!(v[1]["security"], true);
    assert_eq!(v[1]["released"], "2026-10-01");

    assert!(admin(d, &["firmware", "remove", "14.0.2"]).status.success());
    let o = admin(d, &["firmware", "remove", "14.0.2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("not in the catalog"), "{}", err(&o));
    let v: Value = serde_json::from_str(&out(&admin(d, &["--json", "firmware", "list"]))).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn expire_dry_run_and_removed_on_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let o = admin(dir.path(), &["--json", "expire", "--dry-run"]);
    assert!(o.status.success(), "{}", err(&o));
    let v: Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["removed"], serde_json::json!([]));
    assert_eq!(v["kept_for_vpn"], serde_json::json!([]));
    let o = admin(dir.path(), &["expire", "--dry-run"]);
    assert!(
        out(&o).starts_with("Would remove 0 appliance(s):"),
        "{}",
        out(&o)
    );
    let o = admin(dir.path(), &["removed"]);
    assert_eq!(out(&o).trim(), "No appliances removed.");
}

#[test]
fn applications_print_in_the_order_asked() {
    let reported = BTreeMap::from([
        ("ips".to_owned(), AppState::Down),
        ("http_proxy".to_owned(), AppState::Up),
        ("mail".to_owned(), AppState::NotApplicable),
    ]);
    let rows = sorted_applications(&reported, ApplicationSort::State, SortDirection::Desc);
    let mut buf = Vec::new();
    print_applications(&rows, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let firsts: Vec<(&str, &str)> = text
        .lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    assert_eq!(
        firsts,
        [
            ("NAME", "STATE"),
            ("mail", "N/A"),
            ("ips", "DOWN"),
            ("http_proxy", "UP")
        ]
    );
    let mut buf = Vec::new();
    print_applications(&[], &mut buf).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "No applications reported.\n"
    );
}

#[test]
fn cluster_shows_state_partner_and_link() {
    let partner = ApplianceId::from_random([7; 16]);
    let view = ClusterView {
        cluster_id: ClusterId::parse("beef0042").unwrap(),
        role: "master".into(),
        state: ClusterState::PartnerDisconnected,
        sync: Some(ClusterSync::Synced),
        partner: Some(ClusterPartner {
            serial: Serial::parse("A1B2C3D4-SPARE").unwrap(),
            role: "spare".into(),
            appliance_id: Some(partner.clone()),
            status: Some(ConnectionStatus::Disconnected),
            firmware: Some("14.1.0".into()),
            sync: Some(ClusterSync::Failed),
            link: Some(format!("/v1/tenants/1.sms/appliances/{partner}")),
        }),
    };
    let mut buf = Vec::new();
    print_cluster(&view, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    for expected in [
        "Cluster beef0042:",
        "State:",
        "partner_disconnected",
        "A1B2C3D4-SPARE (spare)",
        "Partner status:",
        "Disconnected",
        "Partner firmware:",
        "14.1.0",
        "failed",
        &format!("/v1/tenants/1.sms/appliances/{partner}"),
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
}

#[test]
fn icons_are_letters_when_on_and_dots_when_greyed() {
    let mut f = ApplianceFlags {
        report_active: true,
        vpn: false,
        cloud_shield: true,
        update_available: true,
        security_update_recommended: false,
    };
    assert_eq!(icons(&f), "R.CU.");
    f.security_update_recommended = true;
    f.report_active = false;
    assert_eq!(icons(&f), "..CU!");
    let mut buf = Vec::new();
    print_firmware(&[], &mut buf).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "The firmware catalog is empty.\n"
    );
}
