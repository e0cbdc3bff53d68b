//! Scans of listeners this test opens on loopback addresses, with the operator allow
//! list (loopback is special-purpose, so it is refused without it).

use rampart_scanner::{AllowList, PortState, ScanOptions, ScanTarget, scan, scan_ports};
use std::net::{IpAddr, SocketAddr};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Ports nobody listens on: bound to get a free number, then released.
async fn closed_ports(ip: IpAddr, n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap());
    }
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

async fn scan_loopback(ip: IpAddr, listeners: Vec<TcpListener>, allow: &str) {
    assert!(ScanTarget::check(ip, &AllowList::none()).is_err());
    let target = ScanTarget::check(ip, &AllowList::parse(allow).unwrap()).unwrap();
    let open: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let closed = closed_ports(ip, 2).await;
    let mut ports: Vec<(u16, &str)> = open.iter().map(|p| (*p, "test-open")).collect();
    ports.extend(closed.iter().map(|p| (*p, "test-closed")));

    // The first listener checks that a scan connects and closes without sending data.
    let mut listeners = listeners.into_iter();
    let first = listeners.next().unwrap();
    let watcher = tokio::spawn(async move {
        let (mut conn, _) = first.accept().await.unwrap();
        let mut data = Vec::new();
        conn.read_to_end(&mut data).await.unwrap();
        data
    });

    let scan = scan_ports(&target, &ports, &ScanOptions::default())
        .await
        .unwrap();
    let mut expected_open = open.clone();
    expected_open.sort_unstable();
    let mut expected_closed = closed.clone();
    expected_closed.sort_unstable();
    assert_eq!(
        scan.ports_in(PortState::Open).collect::<Vec<_>>(),
        expected_open
    );
    assert_eq!(
        scan.ports_in(PortState::Closed).collect::<Vec<_>>(),
        expected_closed
    );
    assert_eq!(scan.ports_in(PortState::Filtered).count(), 0);
    assert_eq!(watcher.await.unwrap(), Vec::<u8>::new());

    let report = scan.report();
    assert_eq!(report.address, ip);
    assert_eq!(report.open.len(), open.len());
    assert!(report.open.iter().all(|o| o.service == "test-open"));
    assert_eq!((report.closed, report.filtered), (2, 0));
}

#[tokio::test]
async fn finds_open_and_closed_ports_on_ipv4_loopback() {
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap());
    }
    scan_loopback(ip, listeners, "127.0.0.0/8").await;
}

#[tokio::test]
async fn finds_open_and_closed_ports_on_ipv6_loopback() {
    let ip: IpAddr = "::1".parse().unwrap();
    let mut listeners = Vec::new();
    for _ in 0..3 {
        match TcpListener::bind(SocketAddr::new(ip, 0)).await {
            Ok(l) => listeners.push(l),
            Err(e) => {
                // Containers without IPv6 have no ::1 at all.
                eprintln!("no IPv6 loopback here ({e}); the IPv4 test covers loopback");
                return;
            }
        }
    }
    scan_loopback(ip, listeners, "::1/128").await;
}

#[tokio::test]
async fn the_report_of_a_loopback_scan_serializes() {
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = ScanTarget::check(ip, &AllowList::parse("127.0.0.0/8").unwrap()).unwrap();
    let report = scan(&target, &[(port, "test-open")], &ScanOptions::default())
        .await
        .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["address"], "127.0.0.1");
    assert_eq!(json["open"][0]["port"], port);
    assert_eq!(json["open"][0]["service"], "test-open");
    assert!(json["started"].as_i64().unwrap() > 1_600_000_000_000);
}
