//! Rampart's scan of the "TOP 100 (TCP)" ports next to nmap's connect scan of the same
//! ports (`nmap -sT -T4 -Pn -n -p <ports>`), against a namespace host where most ports
//! drop packets: 90 drop, 5 reject with a reset, 5 are open. Both must find the same
//! open ports; the figures are the median wall time of several runs each.
//!
//! Run as root: `cargo bench -p rampart-scanner --bench scan_vs_nmap`. Needs the
//! Debian packages nmap, iproute2, nftables and python3.

#[path = "../tests/support/netns_host.rs"]
mod netns_host;

use netns_host::{ALLOW, HostSetup, NetnsHost};
use rampart_scanner::{AllowList, PortState, Profile, ScanOptions, ScanTarget, scan_ports};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 5;
const OPEN: [u16; 5] = [22, 80, 443, 3306, 8080];
const REJECT: [u16; 5] = [21, 23, 25, 110, 143];

struct Run {
    wall: Duration,
    open: BTreeSet<u16>,
    closed: usize,
    filtered: usize,
}

fn main() {
    netns_host::require("nmap", "--version", "nmap");
    let profile = Profile::top100_tcp();
    let ports: Vec<u16> = profile.port_numbers().collect();
    let setup = HostSetup {
        open: OPEN.to_vec(),
        reject_reset: REJECT.to_vec(),
        drop: ports
            .iter()
            .copied()
            .filter(|p| !OPEN.contains(p) && !REJECT.contains(p))
            .collect(),
        ..HostSetup::default()
    };
    assert_eq!(setup.drop.len(), 90);
    let host = NetnsHost::start(&setup);
    let addr = IpAddr::V4(host.addr);
    let target = ScanTarget::check(addr, &AllowList::parse(ALLOW).unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = ScanOptions::default();

    let rampart = || {
        let t = Instant::now();
        let scan = runtime
            .block_on(scan_ports(&target, &profile.ports, &options))
            .expect("the scan runs");
        Run {
            wall: t.elapsed(),
            open: scan.ports_in(PortState::Open).collect(),
            closed: scan.ports_in(PortState::Closed).count(),
            filtered: scan.ports_in(PortState::Filtered).count(),
        }
    };
    let port_list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let port_list = port_list.join(",");
    let nmap = || {
        let t = Instant::now();
        let out = Command::new("nmap")
            .args(["-sT", "-T4", "-Pn", "-n", "-p", &port_list, "-oG", "-"])
            .arg(addr.to_string())
            .output()
            .expect("nmap runs");
        let wall = t.elapsed();
        assert!(
            out.status.success(),
            "nmap: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut run = parse_grepable(&String::from_utf8_lossy(&out.stdout));
        run.wall = wall;
        run
    };

    // One unmeasured run each: ARP, page cache, nmap's data files.
    let _ = rampart();
    let _ = nmap();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    // Interleaved, so a disturbance on the machine hits both alike.
    for _ in 0..RUNS {
        ours.push(rampart());
        theirs.push(nmap());
    }

    let expected_open: BTreeSet<u16> = OPEN.into_iter().collect();
    for run in &ours {
        assert_eq!(run.open, expected_open, "Rampart's open ports");
        assert_eq!(
            (run.closed, run.filtered),
            (5, 90),
            "Rampart's closed and filtered"
        );
    }
    for run in &theirs {
        assert_eq!(run.open, expected_open, "nmap's open ports");
    }

    let ours_median = median(ours.iter().map(|r| r.wall));
    let theirs_median = median(theirs.iter().map(|r| r.wall));
    let list = |s: &BTreeSet<u16>| s.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    println!(
        "scan of {addr}, {} ports: 5 open, 5 reject, 90 drop; {RUNS} runs each",
        ports.len()
    );
    println!(
        "{:<38} {:>9} {:>9} {:>9}  open / closed / filtered",
        "", "median s", "min s", "max s"
    );
    for (name, runs, median) in [
        ("Rampart (default options)", &ours, ours_median),
        ("nmap -sT -T4 -Pn -n (process)", &theirs, theirs_median),
    ] {
        let min = runs.iter().map(|r| r.wall).min().unwrap_or_default();
        let max = runs.iter().map(|r| r.wall).max().unwrap_or_default();
        let last = &runs[runs.len() - 1];
        println!(
            "{name:<38} {:>9.3} {:>9.3} {:>9.3}  {} / {} / {}",
            median.as_secs_f64(),
            min.as_secs_f64(),
            max.as_secs_f64(),
            list(&last.open),
            last.closed,
            last.filtered
        );
    }
    println!(
        "same open ports: yes ({}); Rampart {:.1}x nmap's speed",
        list(&expected_open),
        theirs_median.as_secs_f64() / ours_median.as_secs_f64()
    );
}

/// Reads nmap's `-oG` line: `Host: ... Ports: 22/open/tcp//ssh///, ... Ignored State:
/// filtered (90)`.
fn parse_grepable(text: &str) -> Run {
    let mut run = Run {
        wall: Duration::ZERO,
        open: BTreeSet::new(),
        closed: 0,
        filtered: 0,
    };
    let line = text
        .lines()
        .find(|l| l.starts_with("Host:") && l.contains("Ports:"))
        .unwrap_or_else(|| panic!("no ports in nmap's output:\n{text}"));
    for field in line.split('\t') {
        if let Some(ports) = field.strip_prefix("Ports: ") {
            for entry in ports.split(", ") {
                let mut parts = entry.split('/');
                let port: u16 = parts
                    .next()
                    .and_then(|p| p.trim().parse().ok())
                    .expect("port");
                match parts.next() {
                    Some("open") => {
                        run.open.insert(port);
                    }
                    Some("closed") => run.closed += 1,
                    _ => run.filtered += 1,
                }
            }
        } else if let Some(ignored) = field.strip_prefix("Ignored State: ") {
            // e.g. "filtered (90)"
            let (state, count) = ignored.split_once(" (").expect("state (count)");
            let count: usize = count.trim_end_matches(')').parse().expect("count");
            match state {
                "closed" => run.closed += count,
                _ => run.filtered += count,
            }
        }
    }
    run
}

fn median(times: impl Iterator<Item = Duration>) -> Duration {
    let mut v: Vec<Duration> = times.collect();
    v.sort_unstable();
    v[v.len() / 2]
}
