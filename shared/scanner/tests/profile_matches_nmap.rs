//! The shipped "TOP 100 (TCP)" file is what scripts/regenerate-top100 derives from the
//! installed nmap-services: recomputed here independently, in Rust.

use rampart_scanner::Profile;
use rampart_scanner::profile::TOP100_TCP_TSV;

const NMAP_SERVICES: &str = "/usr/share/nmap/nmap-services";

/// Port, service and open-frequency (verbatim) of every TCP entry.
fn tcp_entries(text: &str) -> Vec<(u16, String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (service, port_proto, freq) = (f.first()?, f.get(1)?, f.get(2)?);
            let port = port_proto.strip_suffix("/tcp")?.parse().ok()?;
            Some((port, (*service).to_owned(), (*freq).to_owned()))
        })
        .collect()
}

#[test]
fn recomputing_from_nmap_services_gives_the_shipped_list() {
    let text = std::fs::read_to_string(NMAP_SERVICES).unwrap_or_else(|e| {
        panic!(
            "{NMAP_SERVICES}: {e}. Install the Debian package nmap (apt-get install -y nmap): \
             this test checks the shipped profile against it and does not skip"
        )
    });
    let mut entries = tcp_entries(&text);
    assert!(entries.len() > 1000, "{NMAP_SERVICES} looks truncated");
    let freq = |s: &str| s.parse::<f64>().expect("open-frequency is a number");
    // Highest open-frequency first; equal frequencies by port, lowest first.
    entries.sort_by(|a, b| freq(&b.2).total_cmp(&freq(&a.2)).then(a.0.cmp(&b.0)));
    let expected: Vec<String> = entries
        .iter()
        .take(100)
        .enumerate()
        .map(|(i, (port, service, freq))| format!("{}\t{port}\t{service}\t{freq}", i + 1))
        .collect();
    let shipped: Vec<&str> = TOP100_TCP_TSV
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(
        shipped, expected,
        "data/top100-tcp.tsv differs from {NMAP_SERVICES}: run scripts/regenerate-top100"
    );

    let profile_ports: Vec<(u16, &str)> = Profile::top100_tcp().ports.clone();
    let expected_ports: Vec<(u16, &str)> = entries
        .iter()
        .take(100)
        .map(|(p, s, _)| (*p, s.as_str()))
        .collect();
    assert_eq!(profile_ports, expected_ports);
}
