//! A test host in a network namespace of its own, reached over a veth pair: some ports
//! open (a Python listener inside the namespace), some rejected with a TCP reset or an
//! ICMP error, some dropping every packet, and some dropping every other SYN (nftables
//! inside the namespace). Shared by the tests and the benchmark.
//!
//! Addresses come from 198.18.0.0/15 (benchmarking, RFC 2544): never routed on the
//! Internet, so the scans these set-ups permit can reach nobody else. They are
//! special-purpose, so scanning them also exercises the operator allow list.
//!
//! Needs root (CAP_NET_ADMIN) and the Debian packages iproute2, nftables and python3;
//! a missing tool fails the caller with the package to install, never a skip.

#![allow(dead_code)] // the tests and the bench use different parts

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The allow list a scan of a namespace host needs.
pub const ALLOW: &str = "198.18.0.0/15";

/// What the host does with each port; ports listed nowhere are closed (the kernel
/// answers with a reset).
#[derive(Clone, Debug, Default)]
pub struct HostSetup {
    /// A listener accepts (and closes) connections.
    pub open: Vec<u16>,
    /// `reject with tcp reset`: closed, as a firewall says it.
    pub reject_reset: Vec<u16>,
    /// `reject with icmpx admin-prohibited`: filtered, with an answer.
    pub reject_icmp: Vec<u16>,
    /// Every packet dropped: filtered, without an answer.
    pub drop: Vec<u16>,
    /// Open, but every other SYN (the 1st, 3rd, ...) is dropped: a lossy path.
    pub drop_every_other_syn: Vec<u16>,
}

pub struct NetnsHost {
    namespace: String,
    host_link: String,
    /// The address of the host's side of the veth pair.
    pub host_addr: Ipv4Addr,
    /// The namespace host's address: the scan target.
    pub addr: Ipv4Addr,
    listener: Option<Child>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl NetnsHost {
    /// Builds the host; panics (after cleaning up what was built) if anything fails.
    pub fn start(setup: &HostSetup) -> NetnsHost {
        require("ip", "-V", "iproute2");
        require("nft", "--version", "nftables");
        require("python3", "--version", "python3");

        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // A /30 of 198.18.0.0/15 (32,768 of them) chosen from the pid and a counter,
        // so parallel tests and concurrent runs do not collide.
        let slot = (pid.wrapping_mul(16).wrapping_add(n)) % 32_768;
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + slot * 4;
        let mut host = NetnsHost {
            namespace: format!("rampart-scan-{pid}-{n}"),
            // Interface names: at most 15 characters.
            host_link: format!("rsh{pid}x{n}"),
            host_addr: Ipv4Addr::from(base + 1),
            addr: Ipv4Addr::from(base + 2),
            listener: None,
        };
        let ns_link = format!("rsn{pid}x{n}");
        let ns = host.namespace.clone();

        run("ip", &["netns", "add", &ns], None);
        // From here on, Drop removes the namespace (and the veth pair with it).
        run(
            "ip",
            &[
                "link",
                "add",
                &host.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &ns_link,
            ],
            None,
        );
        run("ip", &["link", "set", &ns_link, "netns", &ns], None);
        let host_cidr = format!("{}/30", host.host_addr);
        let ns_cidr = format!("{}/30", host.addr);
        run(
            "ip",
            &["addr", "add", &host_cidr, "dev", &host.host_link],
            None,
        );
        run("ip", &["link", "set", &host.host_link, "up"], None);
        run(
            "ip",
            &["-n", &ns, "addr", "add", &ns_cidr, "dev", &ns_link],
            None,
        );
        run("ip", &["-n", &ns, "link", "set", &ns_link, "up"], None);
        run("ip", &["-n", &ns, "link", "set", "lo", "up"], None);
        run(
            "ip",
            &["netns", "exec", &ns, "nft", "-f", "-"],
            Some(&ruleset(setup)),
        );

        let mut listening: Vec<u16> = setup.open.clone();
        listening.extend(&setup.drop_every_other_syn);
        if !listening.is_empty() {
            host.listener = Some(start_listener(&ns, &listening));
        }
        host
    }
}

impl Drop for NetnsHost {
    fn drop(&mut self) {
        if let Some(mut child) = self.listener.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Deleting the namespace destroys its end of the veth pair, and so the pair.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .stderr(Stdio::null())
            .status();
    }
}

fn ruleset(setup: &HostSetup) -> String {
    let set = |ports: &[u16]| {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        format!("{{ {} }}", list.join(", "))
    };
    let mut rules = Vec::new();
    if !setup.drop.is_empty() {
        rules.push(format!("tcp dport {} drop", set(&setup.drop)));
    }
    if !setup.reject_reset.is_empty() {
        rules.push(format!(
            "tcp dport {} reject with tcp reset",
            set(&setup.reject_reset)
        ));
    }
    if !setup.reject_icmp.is_empty() {
        rules.push(format!(
            "tcp dport {} reject with icmpx type admin-prohibited",
            set(&setup.reject_icmp)
        ));
    }
    for port in &setup.drop_every_other_syn {
        // One counter per port, starting at 0: the 1st, 3rd, ... SYN is dropped, so the
        // outcome does not depend on chance.
        rules.push(format!(
            "tcp dport {port} tcp flags & (syn | ack) == syn numgen inc mod 2 == 0 drop"
        ));
    }
    format!(
        "table inet rampart_scan_test {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    {}\n  }}\n}}\n",
        rules.join("\n    ")
    )
}

/// Accepts and closes at once on every port, on all addresses of the namespace.
const LISTENER: &str = r#"
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        try:
            conn, _ = key.fileobj.accept()
            conn.close()
        except (BlockingIOError, ConnectionError):
            pass
"#;

fn start_listener(ns: &str, ports: &[u16]) -> Child {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "python3", "-c", LISTENER]);
    cmd.args(ports.iter().map(u16::to_string));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the listener in {ns}: {e}"));
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    let _ = BufReader::new(stdout).read_line(&mut line);
    if line.trim() != "ready" {
        let _ = child.kill();
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        let _ = child.wait();
        panic!("the listener in {ns} did not start: {err}");
    }
    child
}

/// Fails with the Debian package to install when a tool is missing.
pub fn require(tool: &str, version_flag: &str, package: &str) {
    let found = Command::new(tool)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{tool}` is not installed: install the Debian package {package} \
         (apt-get install -y {package}); this test needs it and does not skip"
    );
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{program} {}: {e}", args.join(" ")));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing to {program}: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{program} {}: {e}", args.join(" ")));
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let hint =
            if stderr.contains("Operation not permitted") || stderr.contains("Permission denied") {
                " (network namespaces need root or CAP_NET_ADMIN)"
            } else {
                ""
            };
        panic!(
            "{program} {} failed{hint}: {}\n{}",
            args.join(" "),
            out.status,
            stderr.trim()
        );
    }
}
