//! The status-history benchmark (SPEC 4.3) on the embedded store, the way
//! `rampart serve` runs it:
//! - compaction: `BENCH_APPLIANCES` appliances (default 1,000) each holding a
//!   closed hour of samples (60) on its item, moved into hour items by one
//!   `compact_closed_hours` run (appliances and samples per second);
//! - query: one appliance with 30 days of compacted samples (720 hour items,
//!   43,200 samples), read and downsampled to 200 points, `BENCH_QUERIES` times
//!   (default 20): median and worst latency.
//!
//! Run: `cargo bench -p rampart --bench status_history` (release build).

use anyhow::Context;
use rampart_app::records::appliance::ApplianceRecord;
use rampart_app::records::status_history::{hour_key, hour_merge, pending_write};
use rampart_app::status_history::{StatusCompaction, samples_in};
use rampart_app::store_keys;
use rampart_domain::Timestamp;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::report::CheckinReport;
use rampart_domain::status_history::{HistoryRange, StatusSample, downsample, minute_of};
use rampart_ports::{Item, ReturnItem, SystemClock, Table, Update};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(cpu: f64) -> anyhow::Result<CheckinReport> {
    Ok(serde_json::from_value(serde_json::json!({
        "firmware": "14.0.2", "hostname": "bench", "model": "UTM 320",
        "cpu_percent": cpu, "memory_percent": 45.5, "disk_percent": 30.1, "uptime_secs": 1
    }))?)
}

fn appliance(tenant: &TenantId, n: usize) -> anyhow::Result<ApplianceRecord> {
    let mut random = [0u8; 16];
    random[..8].copy_from_slice(&(n as u64).to_be_bytes());
    Ok(ApplianceRecord {
        id: ApplianceId::from_random(random),
        tenant: tenant.clone(),
        serial: Serial::parse(&format!("HIST{n:06}"))?,
        hostname: format!("fw-{n}"),
        model: "UTM 320".into(),
        firmware: FirmwareVersion::parse("14.0.2")?,
        enrolled_at: Timestamp::from_secs(1_767_225_600),
        last_checkin: None,
        poll_interval_secs: 60,
        pending_commands: 0,
        report: None,
        cluster: None,
        edits: Default::default(),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let appliances = knob("BENCH_APPLIANCES", 1000);
    let queries = knob("BENCH_QUERIES", 20).max(1);
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(SystemClock);
    let embedded =
        rampart_local::open_embedded(dir.path(), "http://127.0.0.1:1".into(), clock.clone())?;
    let table: Arc<dyn Table> = embedded.table.clone();
    let tenant = TenantId::parse("100001.bench")?;
    table
        .put(Item::new(store_keys::tenant_registry(&tenant)), None)
        .await?;

    // The previous clock hour, a sample a minute, on every appliance's item: what
    // an hour of check-ins leaves there.
    let now = Timestamp::now_system();
    let this_hour = Timestamp::from_secs(now.secs() - now.secs().rem_euclid(3600));
    let seeding = Instant::now();
    for n in 0..appliances {
        let record = appliance(&tenant, n)?;
        table
            .put(record.enrollment_item(record.enrolled_at), None)
            .await?;
        let mut update = Update::new();
        for m in 0..60u64 {
            let at = this_hour.minus(Duration::from_secs(3600 - m * 60));
            let (attr, value) = pending_write(&report((n % 100) as f64)?, at);
            update = update.set(&attr, value);
        }
        table
            .update(
                &store_keys::appliance(&tenant, &record.id),
                update,
                None,
                ReturnItem::None,
            )
            .await?;
    }
    println!(
        "seeded {appliances} appliances x 60 samples in {:.2} s",
        seeding.elapsed().as_secs_f64()
    );
    let compaction = StatusCompaction::new(table.clone(), clock.clone());
    let started = Instant::now();
    let done = compaction.compact_closed_hours().await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        done.appliances as usize == appliances && done.samples_moved as usize == appliances * 60,
        "compaction moved {done:?}"
    );
    println!(
        "compaction: {appliances} appliances, {} samples in {secs:.2} s = {:.0} appliances/s, {:.0} samples/s",
        done.samples_moved,
        appliances as f64 / secs,
        f64::from(done.samples_moved) / secs
    );

    // Thirty days of compacted samples for one more appliance.
    let record = appliance(&tenant, appliances)?;
    table
        .put(record.enrollment_item(record.enrolled_at), None)
        .await?;
    let first_hour = minute_of(this_hour) / 60 - 30 * 24;
    for hour in first_hour..first_hour + 30 * 24 {
        let samples: Vec<StatusSample> = (0..60)
            .map(|m| StatusSample {
                minute: hour * 60 + m,
                cpu: ((hour + m) % 100) as f64,
                memory: 45.5,
                disk: 30.1,
            })
            .collect();
        table
            .update(
                &hour_key(&tenant, &record.id, hour),
                hour_merge(hour, &samples),
                None,
                ReturnItem::None,
            )
            .await?;
    }
    let item = table
        .get(&store_keys::appliance(&tenant, &record.id))
        .await?
        .context("the appliance")?;
    let mut took = Vec::with_capacity(queries);
    let mut points = 0;
    for _ in 0..queries {
        let now = Timestamp::now_system();
        let range = HistoryRange::new(
            now.minus(Duration::from_secs(30 * 24 * 3600)),
            now,
            200,
            now,
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let started = Instant::now();
        let samples = samples_in(&*table, &tenant, &item, &record.id, &range).await?;
        points = downsample(&samples, &range).len();
        took.push(started.elapsed());
    }
    took.sort();
    println!(
        "30-day query (720 hour items, downsampled to {points} points): median {:.1} ms, worst {:.1} ms over {queries} runs",
        took[took.len() / 2].as_secs_f64() * 1e3,
        took[took.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}
