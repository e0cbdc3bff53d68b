//! The check-in benchmark: idle check-ins per second on the self-hosted console,
//! driven over HTTP with freshly signed requests, against the same server's
//! `GET /healthz` ceiling; and the store requests one idle check-in costs.
//!
//! Run: `cargo bench -p rampart --bench checkin` (release build).
//! Knobs (environment): `BENCH_SECS` (measured seconds, default 10),
//! `BENCH_WARMUP_SECS` (default 2), `BENCH_CONNECTIONS` (default 64),
//! `BENCH_APPLIANCES` (default 200), `BENCH_CLIENT_THREADS` (default 2),
//! `BENCH_SERVER_THREADS` (default 2), `BENCH_SKIP_WRK=1`.
//! With `AWS_ENDPOINT_URL` set (the local emulator, `source <(infra/emulator/start)`)
//! the store-request count also runs on the DynamoDB adapter.
//!
//! The client and the server run in this one process, each on its own runtime,
//! and share the machine's cores: every figure is "server + load generator on
//! the same box". Each check-in is signed when it is sent (fresh timestamp,
//! nonce and Ed25519 signature); each appliance belongs to one connection, so
//! its requests are sequential and its timestamps increase.

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use rampart::backend::StoreKind;
use rampart::serve::{self, ServeConfig};
use rampart_agent::fleet::FleetLicense;
use rampart_agent::state::StateFile;
use rampart_agent::{Agent, AgentConfig};
use rampart_app::admin::AdminService;
use rampart_app::device::{DeviceAuth, DeviceConfig, DeviceService};
use rampart_domain::Timestamp;
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::device_protocol::{
    CHECKIN_PATH, DevicePublicKey, ENROLL_PATH, EnrollRequest, HEADER_APPLIANCE, HEADER_NONCE,
    HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedParts,
};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_ports::counting::{CountingTable, RequestCounts};
use rampart_ports::{Clock, SystemClock, Table};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const TENANT: &str = "100001.bench";
const FIRMWARE: &str = "14.0.2";
/// Targets from the issue.
const TARGET_RPS: f64 = 5_000.0;
const TARGET_P99_MS: f64 = 20.0;

struct Settings {
    secs: u64,
    warmup_secs: u64,
    connections: usize,
    appliances: usize,
    client_threads: usize,
    server_threads: usize,
    skip_wrk: bool,
}

fn env_num(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v} is not a whole number")),
        _ => Ok(default),
    }
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        let s = Self {
            secs: env_num("BENCH_SECS", 10)?.max(1),
            warmup_secs: env_num("BENCH_WARMUP_SECS", 2)?,
            connections: usize::try_from(env_num("BENCH_CONNECTIONS", 64)?.max(1))?,
            appliances: usize::try_from(env_num("BENCH_APPLIANCES", 200)?.max(1))?,
            client_threads: usize::try_from(env_num("BENCH_CLIENT_THREADS", 2)?.max(1))?,
            server_threads: usize::try_from(env_num("BENCH_SERVER_THREADS", 2)?.max(1))?,
            skip_wrk: std::env::var("BENCH_SKIP_WRK").is_ok_and(|v| v == "1"),
        };
        if s.appliances < s.connections {
            bail!(
                "BENCH_APPLIANCES ({}) must be at least BENCH_CONNECTIONS ({}): each connection \
                 needs appliances of its own, or their timestamps would race",
                s.appliances,
                s.connections
            );
        }
        Ok(s)
    }
}

// ---------------------------------------------------------------------------
// CPU accounting from /proc (Linux): which threads spent the cores.

/// CPU nanoseconds per thread group of this process, plus the machine's busy share.
#[derive(Clone, Default)]
struct CpuSnapshot {
    by_group: BTreeMap<&'static str, u64>,
    machine_busy: u64,
    machine_total: u64,
}

fn thread_group(comm: &str) -> &'static str {
    if comm.starts_with("rampart-srv") {
        "server runtime (axum, device service, signature check)"
    } else if comm.starts_with("rampart-sqlite") {
        "SQLite writer thread (group commit)"
    } else if comm.starts_with("bench-client") {
        "load generator (reqwest, signing)"
    } else {
        "other threads of this process"
    }
}

fn cpu_snapshot() -> Option<CpuSnapshot> {
    let mut snap = CpuSnapshot::default();
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = entry.ok()?.path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        let Ok(sched) = std::fs::read_to_string(dir.join("schedstat")) else {
            continue;
        };
        let ns: u64 = sched.split_whitespace().next()?.parse().ok()?;
        *snap.by_group.entry(thread_group(comm.trim())).or_default() += ns;
    }
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
    snap.machine_total = cpu.iter().take(8).sum();
    snap.machine_busy = snap.machine_total.saturating_sub(idle);
    Some(snap)
}

struct CpuUse {
    /// (group, CPU microseconds per completed request)
    per_request_us: Vec<(&'static str, f64)>,
    /// Share of all cores busy during the run (whole machine, every process).
    machine_busy: f64,
    /// Share of all cores used by other processes (a concurrent build skews the
    /// figures); assumes the usual USER_HZ of 100 for /proc/stat.
    others: f64,
}

/// /proc/stat counts in USER_HZ ticks, 100 per second on Linux.
const NS_PER_TICK: f64 = 1e7;

fn cpu_delta(a: &Option<CpuSnapshot>, b: &Option<CpuSnapshot>, requests: u64) -> Option<CpuUse> {
    let (a, b) = (a.as_ref()?, b.as_ref()?);
    let per_request_us = b
        .by_group
        .iter()
        .map(|(g, ns)| {
            let d = ns.saturating_sub(a.by_group.get(g).copied().unwrap_or(0));
            (*g, d as f64 / 1000.0 / requests.max(1) as f64)
        })
        .collect();
    let total = b.machine_total.saturating_sub(a.machine_total).max(1);
    let busy = b.machine_busy.saturating_sub(a.machine_busy);
    let sum = |s: &CpuSnapshot| s.by_group.values().sum::<u64>();
    let ours_ticks = sum(b).saturating_sub(sum(a)) as f64 / NS_PER_TICK;
    Some(CpuUse {
        per_request_us,
        machine_busy: busy as f64 / total as f64,
        others: ((busy as f64 - ours_ticks) / total as f64).max(0.0),
    })
}

// ---------------------------------------------------------------------------
// Load generation.

/// What a connection sends next.
trait Load: Send + 'static {
    fn next_request(&mut self) -> anyhow::Result<reqwest::RequestBuilder>;
}

/// Idle check-ins of this connection's own appliances, round-robin; each is
/// reported, serialized and signed when it is sent.
struct CheckinLoad {
    agents: Vec<Agent>,
    next: usize,
}

impl Load for CheckinLoad {
    fn next_request(&mut self) -> anyhow::Result<reqwest::RequestBuilder> {
        let i = self.next % self.agents.len();
        self.next += 1;
        let agent = &mut self.agents[i];
        let report = agent.appliance.report(Timestamp::now_system().millis());
        let body = serde_json::to_vec(&report)?;
        Ok(agent.client.signed_request(CHECKIN_PATH, body))
    }
}

struct HealthLoad {
    http: reqwest::Client,
    url: String,
}

impl Load for HealthLoad {
    fn next_request(&mut self) -> anyhow::Result<reqwest::RequestBuilder> {
        Ok(self.http.get(&self.url))
    }
}

struct WorkerResult {
    hist: Histogram<u64>,
    measured: u64,
    non_2xx: u64,
    transport_errors: u64,
    first_error: Option<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// One connection: requests back to back until `end`; latencies of requests
/// started after `measure_from` are recorded. Latency is from handing the
/// (already signed) request to the client until the whole response body is read.
async fn worker<L: Load>(mut load: L, measure_from: Instant, end: Instant) -> WorkerResult {
    let mut r = WorkerResult {
        hist: histogram(),
        measured: 0,
        non_2xx: 0,
        transport_errors: 0,
        first_error: None,
    };
    loop {
        let begun = Instant::now();
        if begun >= end {
            break;
        }
        let request = match load.next_request() {
            Ok(rb) => rb,
            Err(e) => {
                r.transport_errors += 1;
                r.first_error
                    .get_or_insert_with(|| format!("building request: {e:#}"));
                continue;
            }
        };
        let sent = Instant::now();
        let outcome = match request.send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(_) if status.is_success() => Ok(()),
                    Ok(body) => Err((
                        true,
                        format!(
                            "{status}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        ),
                    )),
                    Err(e) => Err((false, format!("reading body: {e}"))),
                }
            }
            Err(e) => Err((false, format!("{e}"))),
        };
        let latency = sent.elapsed();
        match outcome {
            Ok(()) => {
                if begun >= measure_from {
                    let us = u64::try_from(latency.as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1);
                    r.hist.saturating_record(us);
                    r.measured += 1;
                }
            }
            Err((is_status, msg)) => {
                if is_status {
                    r.non_2xx += 1;
                } else {
                    r.transport_errors += 1;
                }
                r.first_error.get_or_insert(msg);
            }
        }
    }
    r
}

struct RunStats {
    name: String,
    rps: f64,
    measured: u64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    non_2xx: u64,
    transport_errors: u64,
    first_error: Option<String>,
    cpu: Option<CpuUse>,
}

fn run_load<L: Load>(
    rt: &Runtime,
    name: &str,
    loads: Vec<L>,
    s: &Settings,
) -> anyhow::Result<RunStats> {
    let connections = loads.len();
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(s.warmup_secs);
    let end = measure_from + Duration::from_secs(s.secs);
    eprintln!(
        "[bench] {name}: {connections} connections, {} s warm-up + {} s measured ...",
        s.warmup_secs, s.secs
    );
    let handles: Vec<_> = loads
        .into_iter()
        .map(|l| rt.spawn(worker(l, measure_from, end)))
        .collect();
    std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
    let cpu_before = cpu_snapshot();
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let cpu_after = cpu_snapshot();
    let mut hist = histogram();
    let (mut measured, mut non_2xx, mut transport_errors, mut first_error) = (0, 0, 0, None);
    for h in handles {
        let r = rt.block_on(h).context("load worker panicked")?;
        hist.add(&r.hist).context("merging histograms")?;
        measured += r.measured;
        non_2xx += r.non_2xx;
        transport_errors += r.transport_errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(RunStats {
        name: name.to_owned(),
        rps: measured as f64 / s.secs as f64,
        measured,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: hist.max() as f64 / 1000.0,
        non_2xx,
        transport_errors,
        first_error,
        cpu: cpu_delta(&cpu_before, &cpu_after, measured),
    })
}

fn print_run(r: &RunStats) {
    println!("\n== {} ==", r.name);
    println!(
        "  {:.0} requests/s ({} measured)   p50 {:.2} ms   p99 {:.2} ms   p99.9 {:.2} ms   max {:.2} ms",
        r.rps, r.measured, r.p50_ms, r.p99_ms, r.p999_ms, r.max_ms
    );
    println!(
        "  non-2xx: {}   transport errors: {}",
        r.non_2xx, r.transport_errors
    );
    if let Some(e) = &r.first_error {
        println!("  first error: {e}");
    }
    if let Some(cpu) = &r.cpu {
        println!(
            "  machine CPU busy: {:.0}% of all cores, of which other processes {:.0}%{}",
            cpu.machine_busy * 100.0,
            cpu.others * 100.0,
            if cpu.others > 0.1 {
                " (something else is running: figures are low)"
            } else {
                ""
            }
        );
        println!("  CPU per request by thread group of this process:");
        let total: f64 = cpu.per_request_us.iter().map(|(_, us)| us).sum();
        for (g, us) in cpu.per_request_us.iter().filter(|(_, us)| *us > 0.05) {
            println!("    {us:>7.1} µs  {g}");
        }
        println!("    {total:>7.1} µs  total in this process");
    }
}

// ---------------------------------------------------------------------------
// Set-up: licenses and enrolled appliances.

async fn register_licenses(
    admin: &AdminService,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<FleetLicense>> {
    let tenant = TenantId::parse(TENANT)?;
    let expires = (chrono::Utc::now() + chrono::Duration::days(365)).date_naive();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let serial = Serial::parse(&format!("{prefix}{i:05}"))?;
        let (_, secret) = admin
            .add_license(NewLicense {
                serial: serial.clone(),
                tenant: tenant.clone(),
                product: "UTM bench".into(),
                expires,
                cluster: None,
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("registering a license")?;
        out.push(FleetLicense { serial, secret });
    }
    Ok(out)
}

fn open_agents(
    server: &str,
    licenses: Vec<FleetLicense>,
    state_dir: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<Vec<Agent>> {
    let firmware = FirmwareVersion::parse(FIRMWARE)?;
    licenses
        .into_iter()
        .map(|lic| {
            Agent::open(
                AgentConfig {
                    server: server.to_owned(),
                    state_file: StateFile::new(state_dir.join(format!("{}.json", lic.serial))),
                    serial: lic.serial,
                    license_secret: lic.secret,
                    firmware,
                },
                http.clone(),
            )
        })
        .collect()
}

/// Enrolls every agent over HTTP, `parallel` at a time.
async fn enroll_over_http(agents: Vec<Agent>, parallel: usize) -> anyhow::Result<Vec<Agent>> {
    let mut out = Vec::with_capacity(agents.len());
    let mut pending = agents.into_iter();
    loop {
        let mut set = tokio::task::JoinSet::new();
        for mut a in pending.by_ref().take(parallel) {
            set.spawn(async move { a.enroll().await.map(|()| a) });
        }
        if set.is_empty() {
            return Ok(out);
        }
        while let Some(r) = set.join_next().await {
            out.push(
                r.context("enrollment task panicked")?
                    .context("enrolling over HTTP")?,
            );
        }
    }
}

fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()?)
}

// ---------------------------------------------------------------------------
// wrk: an independent load generator's ceiling on /healthz.

struct WrkSummary {
    rps: Option<f64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    non_2xx: u64,
}

fn wrk_ms(v: &str) -> Option<f64> {
    let (num, factor) = if let Some(x) = v.strip_suffix("us") {
        (x, 0.001)
    } else if let Some(x) = v.strip_suffix("ms") {
        (x, 1.0)
    } else if let Some(x) = v.strip_suffix('s') {
        (x, 1000.0)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

fn run_wrk(addr: &str, s: &Settings) -> Option<WrkSummary> {
    if s.skip_wrk {
        println!("\n== wrk ==\n  skipped (BENCH_SKIP_WRK=1)");
        return None;
    }
    let args = [
        "-t2".to_owned(),
        format!("-c{}", s.connections),
        format!("-d{}s", s.secs),
        "--latency".to_owned(),
        format!("http://{addr}/healthz"),
    ];
    eprintln!("[bench] wrk {} ...", args.join(" "));
    let out = match std::process::Command::new("wrk").args(&args).output() {
        Ok(o) => o,
        Err(e) => {
            println!(
                "\n== wrk ==\n  wrk is not installed ({e}); skipping the independent ceiling \
                 (Debian: apt-get install -y wrk)"
            );
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("\n== wrk {} ==", args.join(" "));
    for line in text.lines() {
        println!("  {line}");
    }
    if !out.status.success() {
        println!("  wrk failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let mut sum = WrkSummary {
        rps: None,
        p50_ms: None,
        p99_ms: None,
        non_2xx: 0,
    };
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => sum.rps = v.parse().ok(),
            (Some("50%"), Some(v)) => sum.p50_ms = wrk_ms(v),
            (Some("99%"), Some(v)) => sum.p99_ms = wrk_ms(v),
            (Some("Non-2xx"), _) => {
                sum.non_2xx = line
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
            }
            _ => {}
        }
    }
    Some(sum)
}

// ---------------------------------------------------------------------------
// Store requests per idle check-in, on the service directly (serve::start does
// not take an injected table), plus what the service costs without HTTP.

struct StoreCount {
    adapter: &'static str,
    enroll: RequestCounts,
    cold: RequestCounts,
    warm: RequestCounts,
    warm_checkins: u64,
    cold_checkins: u64,
}

fn per(c: RequestCounts, n: u64) -> String {
    let n = n.max(1) as f64;
    format!(
        "{:.2} (gets {:.2}, queries {:.2}, puts {:.2}, updates {:.2}, deletes {:.2}, transactions {:.2})",
        c.total() as f64 / n,
        c.gets as f64 / n,
        c.queries as f64 / n,
        c.puts as f64 / n,
        c.updates as f64 / n,
        c.deletes as f64 / n,
        c.transactions as f64 / n
    )
}

fn minus(a: RequestCounts, b: RequestCounts) -> RequestCounts {
    RequestCounts {
        gets: a.gets - b.gets,
        queries: a.queries - b.queries,
        puts: a.puts - b.puts,
        updates: a.updates - b.updates,
        deletes: a.deletes - b.deletes,
        transactions: a.transactions - b.transactions,
    }
}

/// The request a `DeviceClient` would send, turned into what the service takes.
fn signed_call(agent: &Agent, path: &str, body: Vec<u8>) -> anyhow::Result<(DeviceAuth, Vec<u8>)> {
    let req = agent.client.signed_request(path, body).build()?;
    let auth = DeviceAuth::from_headers(req.headers()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = req
        .body()
        .and_then(reqwest::Body::as_bytes)
        .unwrap_or_default()
        .to_vec();
    Ok((auth, body))
}

async fn direct_enroll(svc: &DeviceService, agent: &mut Agent) -> anyhow::Result<()> {
    let req = EnrollRequest {
        serial: agent.config.serial.clone(),
        license_secret: agent.config.license_secret.clone(),
        public_key: agent.client.public_key_base64(),
        firmware: agent.config.firmware,
        hostname: agent.appliance.hostname.clone(),
        model: agent.appliance.model.clone(),
    };
    let (auth, body) = signed_call(agent, ENROLL_PATH, serde_json::to_vec(&req)?)?;
    let resp = svc
        .enroll(&auth, "POST", ENROLL_PATH, &body)
        .await
        .map_err(|e| anyhow::anyhow!("enroll: {e}"))?;
    agent.client.set_appliance(resp.appliance_id.as_str());
    agent.state.appliance_id = Some(resp.appliance_id);
    Ok(())
}

async fn direct_checkin(svc: &DeviceService, agent: &mut Agent) -> anyhow::Result<()> {
    let report = agent.appliance.report(Timestamp::now_system().millis());
    let (auth, body) = signed_call(agent, CHECKIN_PATH, serde_json::to_vec(&report)?)?;
    svc.checkin(&auth, "POST", CHECKIN_PATH, &body)
        .await
        .map_err(|e| anyhow::anyhow!("check-in: {e}"))?;
    Ok(())
}

/// Counts store requests: enrollment, the first check-in of a fresh process
/// (credential cache cold) and later idle check-ins (cache warm).
async fn count_store_requests(
    adapter: &'static str,
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    state_dir: &Path,
    appliances: usize,
    rounds: usize,
) -> anyhow::Result<(StoreCount, Vec<Agent>, Arc<DeviceService>)> {
    let counting = Arc::new(CountingTable::new(table));
    let as_table: Arc<dyn Table> = counting.clone();
    let admin = AdminService::new(as_table.clone(), clock.clone());
    let licenses = register_licenses(&admin, "COUNT", appliances).await?;
    let http = http_client(1)?;
    let mut agents = open_agents("http://127.0.0.1:9", licenses, state_dir, &http)?;

    let enrolling = DeviceService::new(as_table.clone(), clock.clone(), DeviceConfig::default());
    let c0 = counting.counts();
    for a in &mut agents {
        direct_enroll(&enrolling, a).await?;
    }
    let c1 = counting.counts();
    // A fresh service over the same table: a restarted process (or a new Lambda).
    let svc = Arc::new(DeviceService::new(as_table, clock, DeviceConfig::default()));
    for a in &mut agents {
        direct_checkin(&svc, a).await?;
    }
    let c2 = counting.counts();
    for _ in 0..rounds {
        for a in &mut agents {
            direct_checkin(&svc, a).await?;
        }
    }
    let c3 = counting.counts();
    let n = appliances as u64;
    Ok((
        StoreCount {
            adapter,
            enroll: minus(c1, c0),
            cold: minus(c2, c1),
            warm: minus(c3, c2),
            cold_checkins: n,
            warm_checkins: n * rounds as u64,
        },
        agents,
        svc,
    ))
}

fn print_count(c: &StoreCount) {
    println!("\n== store requests, {} adapter ==", c.adapter);
    println!(
        "  enrollment:                          {} per appliance",
        per(c.enroll, c.cold_checkins)
    );
    println!(
        "  first check-in after a restart:      {} per check-in",
        per(c.cold, c.cold_checkins)
    );
    println!(
        "  idle check-in, warm ({} measured): {} per check-in",
        c.warm_checkins,
        per(c.warm, c.warm_checkins)
    );
}

/// Check-ins per second through `DeviceService::checkin` with no HTTP at all
/// (still signing each request on the client side).
fn in_process_ceiling(
    rt: &Runtime,
    svc: Arc<DeviceService>,
    agents: Vec<Agent>,
    tasks: usize,
    secs: u64,
) -> anyhow::Result<(f64, Option<CpuUse>)> {
    let tasks = tasks.min(agents.len()).max(1);
    let mut groups: Vec<Vec<Agent>> = (0..tasks).map(|_| Vec::new()).collect();
    for (i, a) in agents.into_iter().enumerate() {
        groups[i % tasks].push(a);
    }
    let end = Instant::now() + Duration::from_secs(secs);
    let before = cpu_snapshot();
    let handles: Vec<_> = groups
        .into_iter()
        .map(|mut group| {
            let svc = svc.clone();
            rt.spawn(async move {
                let mut n = 0u64;
                let mut i = 0usize;
                while Instant::now() < end {
                    let k = i % group.len();
                    i += 1;
                    direct_checkin(&svc, &mut group[k]).await?;
                    n += 1;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += rt.block_on(h)??;
    }
    let after = cpu_snapshot();
    Ok((
        total as f64 / secs as f64,
        cpu_delta(&before, &after, total),
    ))
}

/// Client-side signing and server-side verification, one core, per request.
fn crypto_costs(agent: &Agent) -> anyhow::Result<(f64, f64)> {
    let body = serde_json::to_vec(&agent.appliance.hostname)?;
    let n = 2_000u32;
    let t = Instant::now();
    let mut last = None;
    for _ in 0..n {
        last = Some(
            agent
                .client
                .signed_request(CHECKIN_PATH, body.clone())
                .build()?,
        );
    }
    let sign_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let req = last.context("no request built")?;
    let h = |name: &str| -> anyhow::Result<String> {
        Ok(req
            .headers()
            .get(name)
            .with_context(|| format!("missing {name}"))?
            .to_str()?
            .to_owned())
    };
    let (appliance, ts, nonce, sig) = (
        h(HEADER_APPLIANCE)?,
        h(HEADER_TIMESTAMP)?.parse::<i64>()?,
        h(HEADER_NONCE)?,
        h(HEADER_SIGNATURE)?,
    );
    let key = DevicePublicKey::parse(&agent.client.public_key_base64())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let parts = SignedParts {
        method: "POST",
        path: CHECKIN_PATH,
        appliance: Some(&appliance),
        timestamp_ms: ts,
        nonce: &nonce,
        body: &body,
    };
    let t = Instant::now();
    for _ in 0..n {
        if !key.verify(&parts, &sig) {
            bail!("signature did not verify");
        }
    }
    let verify_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    Ok((sign_us, verify_us))
}

async fn aws_table(clock: Arc<dyn Clock>) -> anyhow::Result<Option<Arc<dyn Table>>> {
    if std::env::var("AWS_ENDPOINT_URL").map_or(true, |v| v.is_empty()) {
        return Ok(None);
    }
    let clients = rampart_aws::AwsClients::from_env().await;
    let template = rampart_aws::Template::load_repo()?;
    let prefix = format!("bench-{}", std::process::id());
    let provisioned = rampart_aws::provision(&clients, &template, &prefix)
        .await
        .context("provisioning the template on the emulator")?;
    Ok(Some(provisioned.resources().table(&clients, clock)))
}

// ---------------------------------------------------------------------------

fn main() -> anyhow::Result<()> {
    let s = Settings::from_env()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(s.server_threads)
        .thread_name("rampart-srv")
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(s.client_threads)
        .thread_name("bench-client")
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    println!("# Rampart check-in benchmark");
    println!(
        "machine: {cores} cores, shared by the server ({} runtime threads + the SQLite writer) \
         and the load generator ({} runtime threads) in this one process",
        s.server_threads, s.client_threads
    );
    println!(
        "load: {} appliances over {} connections, {} s warm-up, {} s measured; every check-in \
         is signed on the client when sent (Ed25519, fresh timestamp and nonce)",
        s.appliances, s.connections, s.warmup_secs, s.secs
    );

    // The console, as `rampart serve` runs it, on the embedded store.
    let server = server_rt.block_on(serve::start(
        ServeConfig {
            listen: "127.0.0.1:0".parse()?,
            data_dir: dir.path().join("data"),
            store: StoreKind::Embedded,
            public_url: None,
            poll_interval: Duration::from_secs(60),
            maintenance_every: rampart_app::jobs::maintenance::SWEEP_EVERY,
        },
        clock.clone(),
    ))?;
    let addr = server.addr.to_string();
    println!(
        "server: {} (embedded SQLite store in a fresh temp dir)",
        server.base_url
    );

    let t = Instant::now();
    let licenses = server_rt.block_on(register_licenses(&server.admin, "BENCH", s.appliances))?;
    let http = http_client(s.connections)?;
    let agents = open_agents(
        &server.base_url,
        licenses,
        &dir.path().join("agents"),
        &http,
    )?;
    let agents = client_rt.block_on(enroll_over_http(agents, 16))?;
    eprintln!(
        "[bench] {} licenses registered and appliances enrolled over HTTP in {:.1} s",
        agents.len(),
        t.elapsed().as_secs_f64()
    );

    // Each connection owns its appliances (round-robin), so per appliance the
    // requests are sequential and the timestamps increase.
    let mut groups: Vec<Vec<Agent>> = (0..s.connections).map(|_| Vec::new()).collect();
    for (i, a) in agents.into_iter().enumerate() {
        groups[i % s.connections].push(a);
    }
    let checkin_loads: Vec<CheckinLoad> = groups
        .into_iter()
        .map(|agents| CheckinLoad { agents, next: 0 })
        .collect();
    let checkin = run_load(
        &client_rt,
        "idle check-ins (POST /v1/device/checkin)",
        checkin_loads,
        &s,
    )?;
    print_run(&checkin);
    // The check-ins were real: every appliance shows a fresh last check-in.
    let fleet = server_rt
        .block_on(server.admin.fleet())
        .map_err(|e| anyhow::anyhow!("fleet view: {e}"))?;
    let connected = fleet
        .iter()
        .filter(|r| r.status == ConnectionStatus::Connected && r.last_checkin.is_some())
        .count();
    println!(
        "  fleet view after the run: {connected}/{} appliances connected with a last check-in",
        fleet.len()
    );
    let fleet_ok = connected == s.appliances;

    let health_loads: Vec<HealthLoad> = (0..s.connections)
        .map(|_| HealthLoad {
            http: http.clone(),
            url: format!("{}/healthz", server.base_url),
        })
        .collect();
    let health = run_load(&client_rt, "GET /healthz (same client)", health_loads, &s)?;
    print_run(&health);

    let wrk = run_wrk(&addr, &s);
    server_rt.block_on(server.shutdown());

    // Store requests per idle check-in, and the service without HTTP.
    let count_dir = dir.path().join("count");
    let embedded =
        rampart_local::open_embedded(&count_dir, "http://127.0.0.1:9".into(), clock.clone())?;
    let (embedded_count, count_agents, svc) = client_rt.block_on(count_store_requests(
        "embedded (SQLite)",
        embedded.table.clone(),
        clock.clone(),
        &count_dir.join("agents"),
        50,
        20,
    ))?;
    print_count(&embedded_count);
    let mut counts = vec![embedded_count];
    match client_rt.block_on(aws_table(clock.clone())) {
        Ok(Some(table)) => {
            let r = client_rt.block_on(count_store_requests(
                "AWS (DynamoDB, local emulator)",
                table,
                clock.clone(),
                &dir.path().join("count-aws"),
                10,
                5,
            ))?;
            print_count(&r.0);
            counts.push(r.0);
        }
        Ok(None) => println!(
            "\n== store requests, AWS adapter ==\n  skipped: AWS_ENDPOINT_URL is not set \
             (run under `source <(infra/emulator/start)` to count on DynamoDB too)"
        ),
        Err(e) => println!("\n== store requests, AWS adapter ==\n  failed: {e:#}"),
    }

    let (sign_us, verify_us) = crypto_costs(&count_agents[0])?;
    println!("\n== per-request crypto, one core ==");
    println!("  client: build + sign one request  {sign_us:.1} µs");
    println!("  server: verify one signature      {verify_us:.1} µs");

    let (direct_rps, direct_cpu) =
        in_process_ceiling(&client_rt, svc, count_agents, s.connections, 3)?;
    println!(
        "\n== diagnostic: DeviceService::checkin in-process, no HTTP (signing included), 3 s \
         (diagnostic only; varies between runs) =="
    );
    println!("  {direct_rps:.0} check-ins/s");
    if let Some(cpu) = &direct_cpu {
        // Here the load generator's runtime threads also run the service.
        for (g, us) in &cpu.per_request_us {
            let g = if g.starts_with("load generator") {
                "signing client + DeviceService (same runtime here)"
            } else {
                g
            };
            if *us > 0.05 {
                println!("    {us:>7.1} µs  {g}");
            }
        }
    }

    // The table for the README.
    let ceiling_own = checkin.rps / health.rps.max(1.0);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\nCheck-in benchmark: `cargo bench -p rampart --bench checkin`, {cores}-core machine, \
         server and load generator sharing it; {} appliances over {} connections, {} s measured \
         after {} s warm-up; each check-in freshly signed (Ed25519).\n",
        s.appliances, s.connections, s.secs, s.warmup_secs
    );
    let _ = writeln!(md, "| Load | Requests/s | p50 | p99 | p99.9 | non-2xx |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    for r in [&checkin, &health] {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            r.name,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.non_2xx + r.transport_errors
        );
    }
    if let Some(w) = &wrk {
        let f = |x: Option<f64>, unit: &str| x.map_or("?".to_owned(), |v| format!("{v:.2}{unit}"));
        let _ = writeln!(
            md,
            "| GET /healthz (wrk -t2 -c{}) | {} | {} | {} | – | {} |",
            s.connections,
            w.rps.map_or("?".to_owned(), |v| format!("{v:.0}")),
            f(w.p50_ms, " ms"),
            f(w.p99_ms, " ms"),
            w.non_2xx
        );
    }
    let _ = write!(
        md,
        "\nIdle check-ins reach **{:.0}%** of the same client's `/healthz` ceiling",
        ceiling_own * 100.0
    );
    if let Some(w_rps) = wrk.as_ref().and_then(|w| w.rps) {
        let _ = write!(md, " and **{:.0}%** of wrk's", checkin.rps / w_rps * 100.0);
    }
    let _ = writeln!(md, ".\n");
    let _ = writeln!(
        md,
        "| Adapter | Store requests per idle check-in (warm) | First check-in after restart | Enrollment |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for c in &counts {
        let n = |x: RequestCounts, k: u64| format!("{:.2}", x.total() as f64 / k.max(1) as f64);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            c.adapter,
            n(c.warm, c.warm_checkins),
            n(c.cold, c.cold_checkins),
            n(c.enroll, c.cold_checkins)
        );
    }
    println!("{md}");

    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "targets: ≥ {TARGET_RPS:.0} idle check-ins/s: {}; p99 < {TARGET_P99_MS:.0} ms: {}; \
         1 store request per idle check-in: {}",
        verdict(checkin.rps >= TARGET_RPS),
        verdict(checkin.p99_ms < TARGET_P99_MS),
        verdict(counts.iter().all(|c| c.warm.total() == c.warm_checkins))
    );

    let failures: u64 = [&checkin, &health]
        .iter()
        .map(|r| r.non_2xx + r.transport_errors)
        .sum::<u64>()
        + wrk.as_ref().map_or(0, |w| w.non_2xx);
    if !fleet_ok {
        eprintln!("FAILED: not every appliance shows a check-in in the fleet view");
        std::process::exit(1);
    }
    if failures > 0 {
        eprintln!("FAILED: {failures} requests did not succeed");
        std::process::exit(1);
    }
    Ok(())
}
