//! The envelope's figures: seal and open throughput without the KDF, next to OpenSSL's
//! AES-256-GCM as the ceiling; the KDF's time and memory at the default parameters; and
//! the peak memory of sealing and opening a 200 MiB file.
//!
//! `cargo bench -p rampart-envelope --bench envelope` (about a minute). Memory figures
//! come from child processes (this binary re-run with `--child ...`) so that each one's
//! VmHWM (peak resident set, /proc/self/status) measures only that operation.

use std::io::{self, Read};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rampart_envelope::{
    ChunkSize, DerivedKey, Header, KdfParams, Password, SealOptions, open_file, open_with_key,
    seal_file, seal_with_key, sealed_len,
};

const STREAM_BYTES: u64 = 256 << 20;
const FILE_BYTES: u64 = 200 << 20;
const RUNS: usize = 3;
const KDF_RUNS: usize = 5;
const SERIAL: &str = "RMP-BENCH-000001";

fn password() -> Password {
    Password::from("Bench-Password-1!")
}

/// `remaining` bytes of a repeating 1 MiB buffer, without allocating the stream.
struct Repeat {
    block: Vec<u8>,
    pos: usize,
    remaining: u64,
}

impl Repeat {
    fn new(len: u64) -> Self {
        Self {
            block: (0..1 << 20).map(|i: u32| (i % 251) as u8).collect(),
            pos: 0,
            remaining: len,
        }
    }
}

impl Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(self.block.len() - self.pos)
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos = (self.pos + n) % self.block.len();
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

/// Seal and open throughput (MB/s, median of `RUNS`) at one chunk size, KDF excluded.
fn throughput(chunk_size: u32) -> (f64, f64) {
    let header = Header::new(
        KdfParams::new(KdfParams::MIN_MEMORY_KIB, 1, 1).unwrap(),
        ChunkSize::new(chunk_size).unwrap(),
        0,
        STREAM_BYTES,
    )
    .unwrap();
    let key = DerivedKey::derive(&password(), SERIAL, &header).unwrap();
    let seal_rates = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            seal_with_key(&key, Repeat::new(STREAM_BYTES), io::sink()).unwrap();
            mb_per_s(STREAM_BYTES, started.elapsed())
        })
        .collect();
    let mut sealed = Vec::with_capacity(sealed_len(STREAM_BYTES, chunk_size) as usize);
    seal_with_key(&key, Repeat::new(STREAM_BYTES), &mut sealed).unwrap();
    let open_rates = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            open_with_key(&key, &sealed[..], io::sink()).unwrap();
            mb_per_s(STREAM_BYTES, started.elapsed())
        })
        .collect();
    (median(seal_rates), median(open_rates))
}

/// OpenSSL's AES-256-GCM on 16 KiB blocks (MB/s, one core), if `openssl` is on PATH.
fn openssl_ceiling() -> Option<f64> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-256-gcm",
            "-bytes",
            "16384",
            "-seconds",
            "2",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // The last line: `AES-256-GCM  <1000s of bytes per second>k`.
    let line = text
        .lines()
        .rev()
        .find(|l| l.to_ascii_lowercase().starts_with("aes-256-gcm"))?;
    let kilo: f64 = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(kilo / 1e3)
}

/// A field of /proc/self/status in KiB (VmHWM: peak resident set; VmRSS: current).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs this binary as `--child <args>` and parses its `key=value` report line.
fn child(args: &[&str]) -> Vec<(String, f64)> {
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn get(report: &[(String, f64)], key: &str) -> f64 {
    report
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
        .unwrap()
}

/// The child side: one measured operation, reported on stdout as `key=value` pairs.
fn run_child(args: &[String]) {
    let before = status_kib("VmHWM");
    let started = Instant::now();
    let mut extra = String::new();
    match args {
        [what] if what == "kdf" => {
            let header = Header::new(KdfParams::default(), ChunkSize::DEFAULT, 0, 0).unwrap();
            let times: Vec<f64> = (0..KDF_RUNS)
                .map(|_| {
                    let t = Instant::now();
                    DerivedKey::derive(&password(), SERIAL, &header).unwrap();
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            extra = format!("median_ms={}", median(times));
        }
        [what, kdf, input, output] if what == "seal-file" => {
            let mut options = SealOptions::new(1);
            if kdf == "min" {
                options.kdf = KdfParams::new(KdfParams::MIN_MEMORY_KIB, 1, 1).unwrap();
            }
            seal_file(
                &password(),
                SERIAL,
                options,
                Path::new(input),
                Path::new(output),
            )
            .unwrap();
        }
        [what, input, output] if what == "open-file" => {
            open_file(&password(), SERIAL, Path::new(input), Path::new(output)).unwrap();
        }
        _ => panic!("unknown child arguments {args:?}"),
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "hwm_before_kib={before} hwm_after_kib={} elapsed_ms={elapsed_ms} {extra}",
        status_kib("VmHWM")
    );
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        run_child(&args[at + 1..]);
        return;
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "rampart-envelope bench on {} ({cores} cores)\n",
        cpu_model()
    );

    println!(
        "## Throughput, KDF excluded ({} MiB streamed, median of {RUNS}; MB = 10^6 bytes)\n",
        STREAM_BYTES >> 20
    );
    println!("| chunk size | seal MB/s | open MB/s |");
    println!("|---|---|---|");
    for chunk in [16 << 10, 64 << 10, 1 << 20] {
        let (seal, open) = throughput(chunk);
        let label = if chunk == ChunkSize::DEFAULT.get() {
            format!("{} KiB (default)", chunk >> 10)
        } else {
            format!("{} KiB", chunk >> 10)
        };
        println!("| {label} | {seal:.0} | {open:.0} |");
    }
    match openssl_ceiling() {
        Some(rate) => println!(
            "| ceiling: `openssl speed -evp aes-256-gcm`, 16384-byte blocks | {rate:.0} | {rate:.0} |"
        ),
        None => println!("| ceiling: openssl not on PATH | - | - |"),
    }

    let kdf = child(&["kdf"]);
    let d = KdfParams::default();
    println!(
        "\n## KDF at default parameters (Argon2id m = {} MiB, t = {}, p = {}; one thread)\n",
        d.memory_kib() >> 10,
        d.iterations(),
        d.parallelism()
    );
    println!("| median of {KDF_RUNS} | peak RSS growth |");
    println!("|---|---|");
    println!(
        "| {:.0} ms | {:.1} MiB |",
        get(&kdf, "median_ms"),
        mib(get(&kdf, "hwm_after_kib") - get(&kdf, "hwm_before_kib"))
    );

    let dir = tempfile::tempdir().unwrap();
    let (plain, sealed, restored) = (
        dir.path().join("config.bin"),
        dir.path().join("backup.rbk"),
        dir.path().join("restored.bin"),
    );
    io::copy(
        &mut Repeat::new(FILE_BYTES),
        &mut std::fs::File::create(&plain).unwrap(),
    )
    .unwrap();
    let (p, s, r) = (
        plain.to_str().unwrap(),
        sealed.to_str().unwrap(),
        restored.to_str().unwrap(),
    );
    println!(
        "\n## Peak memory of whole-file operations on {} MiB (fresh child process each, VmHWM)\n",
        FILE_BYTES >> 20
    );
    println!("| operation | peak RSS | growth during the call | time |");
    println!("|---|---|---|---|");
    for (label, args) in [
        (
            "`seal_file`, default KDF (64 MiB)",
            vec!["seal-file", "default", p, s],
        ),
        ("`open_file`, default KDF (64 MiB)", vec!["open-file", s, r]),
        ("`seal_file`, KDF m = 8 MiB", vec!["seal-file", "min", p, s]),
        ("`open_file`, KDF m = 8 MiB", vec!["open-file", s, r]),
    ] {
        let report = child(&args);
        println!(
            "| {label} | {:.1} MiB | {:.1} MiB | {:.0} ms |",
            mib(get(&report, "hwm_after_kib")),
            mib(get(&report, "hwm_after_kib") - get(&report, "hwm_before_kib")),
            get(&report, "elapsed_ms"),
        );
    }
    let restored_len = std::fs::metadata(&restored).unwrap().len();
    assert_eq!(restored_len, FILE_BYTES, "the restored file is complete");
}
