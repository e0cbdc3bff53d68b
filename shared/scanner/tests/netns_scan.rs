//! Scans of a real host in its own network namespace, where some ports are open, some
//! reject (TCP reset or ICMP), some drop every packet and some drop every other SYN.
//! Traffic only ever goes to the namespace's own 198.18.0.0/15 address.

#[path = "support/netns_host.rs"]
mod netns_host;

use netns_host::{ALLOW, HostSetup, NetnsHost};
use rampart_scanner::{AllowList, PortState, Profile, ScanOptions, ScanTarget, scan_ports};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

fn target(host: &NetnsHost) -> ScanTarget {
    let addr = IpAddr::V4(host.addr);
    let refusal = ScanTarget::check(addr, &AllowList::none()).unwrap_err();
    assert_eq!(refusal.range.name, "Benchmarking");
    ScanTarget::check(addr, &AllowList::parse(ALLOW).unwrap()).unwrap()
}

fn set(ports: &[u16]) -> BTreeSet<u16> {
    ports.iter().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_closed_and_filtered_are_told_apart() {
    let setup = HostSetup {
        open: vec![22, 80, 443, 8080, 40001],
        reject_reset: vec![21, 25, 40002],
        reject_icmp: vec![23, 40004],
        drop: vec![110, 139, 445, 3389, 40003],
        drop_every_other_syn: vec![],
    };
    let host = NetnsHost::start(&setup);
    let mut ports = Profile::top100_tcp().ports.clone();
    ports.extend([
        (40001, "test-open"),
        (40002, "test-reset"),
        (40003, "test-drop"),
        (40004, "test-icmp"),
    ]);
    let options = ScanOptions::default();
    let scan = scan_ports(&target(&host), &ports, &options).await.unwrap();

    assert_eq!(scan.ports.len(), 104);
    let open: BTreeSet<u16> = scan.ports_in(PortState::Open).collect();
    let filtered: BTreeSet<u16> = scan.ports_in(PortState::Filtered).collect();
    let closed: BTreeSet<u16> = scan.ports_in(PortState::Closed).collect();
    assert_eq!(open, set(&setup.open));
    assert_eq!(filtered, &set(&setup.drop) | &set(&setup.reject_icmp));
    let expected_closed: BTreeSet<u16> = ports
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !open.contains(p) && !filtered.contains(p))
        .collect();
    assert_eq!(closed, expected_closed);
    assert!(set(&setup.reject_reset).is_subset(&closed));

    // Silence is retried until the attempts run out. (Answered ports usually take one
    // attempt, but a loaded machine may see an answer after the time-out: not asserted.)
    for p in scan.ports.iter().filter(|p| setup.drop.contains(&p.port)) {
        assert_eq!(p.attempts, options.attempts, "port {}", p.port);
    }

    let report = scan.report();
    assert_eq!(report.address, IpAddr::V4(host.addr));
    let open_services: Vec<(u16, &str)> = report
        .open
        .iter()
        .map(|o| (o.port, o.service.as_str()))
        .collect();
    assert_eq!(
        open_services,
        [
            (22, "ssh"),
            (80, "http"),
            (443, "https"),
            (8080, "http-proxy"),
            (40001, "test-open")
        ]
    );
    assert_eq!(report.filtered, 7);
    assert_eq!(report.closed, 104 - 5 - 7);
    assert!(report.finished >= report.started);
}

#[tokio::test]
async fn a_lost_syn_does_not_hide_an_open_port() {
    let setup = HostSetup {
        open: vec![9090],
        drop_every_other_syn: vec![8080],
        ..HostSetup::default()
    };
    let host = NetnsHost::start(&setup);
    let target = target(&host);
    // Time-outs under the kernel's own 1 s SYN retransmission, so every SYN on the
    // wire is one of ours and the drop pattern stays exact; and long enough that a
    // busy test machine still sees the second SYN answered in time.
    let options = ScanOptions {
        attempts: 2,
        initial_timeout: Duration::from_millis(500),
        min_timeout: Duration::from_millis(250),
        max_timeout: Duration::from_millis(500),
        ..ScanOptions::default()
    };
    let ports = [
        (8080, "http-proxy"),
        (9090, "test-open"),
        (9091, "test-closed"),
    ];

    // The first SYN to 8080 is dropped, the retransmission gets through.
    let scan = scan_ports(&target, &ports, &options).await.unwrap();
    let p8080 = &scan.ports[0];
    assert_eq!(
        (p8080.port, p8080.state, p8080.attempts),
        (8080, PortState::Open, 2)
    );
    assert_eq!(
        scan.ports_in(PortState::Open).collect::<Vec<_>>(),
        [8080, 9090]
    );
    assert_eq!(scan.ports_in(PortState::Closed).collect::<Vec<_>>(), [9091]);

    // Without retransmission the third SYN (dropped too) would hide the port: the
    // retry above is what found it.
    let once = ScanOptions {
        attempts: 1,
        ..options
    };
    let scan = scan_ports(&target, &[(8080, "http-proxy")], &once)
        .await
        .unwrap();
    assert_eq!(scan.ports[0].state, PortState::Filtered);
}
