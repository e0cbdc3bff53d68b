//! The rotation-sweep benchmark (SPEC 6.4): licenses rotated per second on the
//! embedded store (SQLite table and queue, file objects), the way `rampart serve`
//! runs the daily sweep: one sweep message fans out one message per license on the
//! `rotation` queue, and consumers rotate each license (read its index, plan, delete
//! object then index entry of every backup not kept).
//!
//! Run: `cargo bench -p rampart --bench rotation_sweep` (release build).
//! Knobs (environment): `BENCH_LICENSES` (default 500), `BENCH_BACKUPS` (backups per
//! license, default 30: each license loses 30 - 23 or more), `BENCH_CONSUMERS`
//! (concurrent consumers, default 4).

use anyhow::Context;
use rampart_app::backups::Backups;
use rampart_app::backups::rotation::{RotationMessage, RotationReport};
use rampart_app::records::backup::{self, BackupRecord};
use rampart_domain::Timestamp;
use rampart_domain::ids::{ApplianceId, BackupId, Serial, TenantId};
use rampart_ports::{Item, Objects, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let licenses = knob("BENCH_LICENSES", 500);
    let per_license = knob("BENCH_BACKUPS", 30);
    let consumers = knob("BENCH_CONSUMERS", 4);
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(SystemClock);
    let embedded =
        rampart_local::open_embedded(dir.path(), "http://127.0.0.1:1".into(), clock.clone())?;
    let queue = embedded
        .store
        .queue(rampart_app::queues::spec("rotation").context("rotation queue")?);
    let table = embedded.table.clone();
    let objects: Arc<dyn Objects> = embedded.objects.clone();
    let backups = Arc::new(Backups::new(
        table.clone(),
        objects.clone(),
        clock,
        queue.clone(),
    ));

    let tenant = TenantId::parse("100001.bench")?;
    let start = Timestamp::from_secs(1_767_225_600);
    let seeding = Instant::now();
    for l in 0..licenses {
        let serial = Serial::parse(&format!("BENCH{l:06}"))?;
        for b in 0..per_license {
            let at = start.plus(Duration::from_secs(b as u64 * 20 * 3600));
            let record = BackupRecord {
                tenant: tenant.clone(),
                serial: serial.clone(),
                id: BackupId::new(at.millis(), (l as u32 * 1000 + b as u32).to_be_bytes()),
                appliance: ApplianceId::from_random([1; 16]),
                accepted_at: at,
                size: 64,
                password_generation: 1,
                made_by: "schedule".into(),
                job: None,
            };
            table.put(Item::from(&record), None).await?;
            objects
                .put(&record.object_key(), bytes::Bytes::from(vec![0u8; 64]))
                .await?;
        }
        table
            .put(Item::new(backup::registry_key(&tenant, &serial)), None)
            .await?;
    }
    eprintln!(
        "seeded {licenses} licenses x {per_license} backups in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let began = Instant::now();
    let sweep = serde_json::to_string(&RotationMessage::RotationSweep { after: None })?;
    queue.send(&sweep, Duration::ZERO).await?;
    let mut workers = Vec::new();
    for _ in 0..consumers {
        let queue = queue.clone();
        let backups = backups.clone();
        workers.push(tokio::spawn(async move {
            let (mut rotated, mut deleted) = (0u64, 0u64);
            loop {
                let batch = queue
                    .receive(10, Duration::from_millis(200), Duration::from_secs(360))
                    .await?;
                if batch.is_empty() {
                    return anyhow::Ok((rotated, deleted));
                }
                for m in batch {
                    if let RotationReport::Rotated(r) = backups.rotation_message(&m.body).await? {
                        rotated += 1;
                        deleted += u64::from(r.deleted);
                    }
                    queue.delete(&m.receipt).await?;
                }
            }
        }));
    }
    let (mut rotated, mut deleted) = (0, 0);
    for w in workers {
        let (r, d) = w.await??;
        rotated += r;
        deleted += d;
    }
    let secs = began.elapsed().as_secs_f64();
    anyhow::ensure!(
        rotated == licenses as u64,
        "rotated {rotated} of {licenses}"
    );
    println!(
        "rotation sweep (embedded store, {consumers} consumers): {licenses} licenses in {secs:.2} s \
         = {:.0} licenses/s; {deleted} backups deleted ({:.0}/s)",
        licenses as f64 / secs,
        deleted as f64 / secs
    );
    Ok(())
}
