//! The self-hosted stand-ins for AWS's event plumbing: timers for EventBridge
//! schedules, and tasks that consume queues the way Lambda's SQS event source does
//! (a failed message is left for redelivery and dead-lettered after max receives).

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use rampart_app::backups::Backups;
use rampart_app::jobs::dispatch::Dispatcher;
use rampart_app::jobs::maintenance::Maintenance;
use rampart_app::schedules::DailySchedule;
use rampart_domain::Timestamp;
use rampart_ports::{Queue, QueueSpec};
use std::sync::Arc;
use std::time::Duration;

/// The next time at or after `now` (exclusive) the schedule fires.
pub fn next_run(schedule: &DailySchedule, now: Timestamp) -> Timestamp {
    let now_dt: DateTime<Utc> = Utc
        .timestamp_millis_opt(now.millis())
        .single()
        .unwrap_or_default();
    let today = now_dt
        .date_naive()
        .and_hms_opt(schedule.hour, schedule.minute, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now_dt);
    let next = if today > now_dt {
        today
    } else {
        today + ChronoDuration::days(1)
    };
    Timestamp::from_millis(next.timestamp_millis())
}

/// Fires the schedule for as long as the process runs.
pub fn spawn_schedule(
    schedule: DailySchedule,
    queue: Arc<dyn Queue>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = Timestamp::now_system();
            let wait = next_run(&schedule, now).distance(now);
            tokio::time::sleep(wait).await;
            match queue.send(schedule.message, Duration::ZERO).await {
                Ok(()) => tracing::info!(schedule = schedule.name, "schedule fired"),
                Err(e) => {
                    tracing::error!(schedule = schedule.name, error = %e, "schedule could not enqueue")
                }
            }
        }
    })
}

/// A queue consumer: the same handler code a Lambda SQS function calls.
#[async_trait]
pub trait MessageHandler: Send + Sync + 'static {
    async fn handle(&self, body: &str) -> anyhow::Result<()>;
}

/// The `jobs` queue's handler: the same [`Dispatcher`] the `dispatch` Lambda calls.
pub struct DispatchHandler(pub Dispatcher);

#[async_trait]
impl MessageHandler for DispatchHandler {
    async fn handle(&self, body: &str) -> anyhow::Result<()> {
        match self.0.handle(body).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let error_type = e.error_type();
                Err(anyhow::Error::new(e).context(error_type))
            }
        }
    }
}

/// The `backup-ingest` queue's handler: the same code the `backup-ingest` Lambda calls.
pub struct IngestHandler(pub Arc<Backups>);

#[async_trait]
impl MessageHandler for IngestHandler {
    async fn handle(&self, body: &str) -> anyhow::Result<()> {
        match self.0.ingest(body).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let error_type = e.error_type();
                Err(anyhow::Error::new(e).context(error_type))
            }
        }
    }
}

/// The `rotation` queue's handler: the same code the `rotation` Lambda calls.
pub struct RotationHandler(pub Arc<Backups>);

#[async_trait]
impl MessageHandler for RotationHandler {
    async fn handle(&self, body: &str) -> anyhow::Result<()> {
        match self.0.rotation_message(body).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let error_type = e.error_type();
                Err(anyhow::Error::new(e).context(error_type))
            }
        }
    }
}

/// The `scan` queue's handler: the same code the `security-scan` Lambda calls.
pub struct ScanHandler(pub Arc<rampart_app::scans::Scans>);

#[async_trait]
impl MessageHandler for ScanHandler {
    async fn handle(&self, body: &str) -> anyhow::Result<()> {
        match self.0.run(body).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let error_type = e.error_type();
                Err(anyhow::Error::new(e).context(error_type))
            }
        }
    }
}

/// Runs `task` at once and then every `every` for as long as the process runs,
/// the self-hosted stand-in for an EventBridge rate schedule invoking a function.
/// Runs never overlap; a failed run is logged and the next comes at its time.
pub fn spawn_every<F, Fut>(
    name: &'static str,
    every: Duration,
    task: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = task().await {
                tracing::error!(
                    task = name,
                    error = format!("{e:#}"),
                    "periodic task failed"
                );
            }
        }
    })
}

/// The maintenance sweep every `every` (`SWEEP_EVERY` unless configured).
pub fn spawn_maintenance(
    maintenance: Arc<Maintenance>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    spawn_every("maintenance", every, move || {
        let maintenance = maintenance.clone();
        async move {
            maintenance
                .sweep()
                .await
                .map(|_| ())
                .map_err(|e| anyhow::Error::new(e).context("maintenance sweep"))
        }
    })
}

/// Receives and handles messages until the process ends. A message is deleted
/// only after its handler succeeded.
pub fn spawn_consumer(
    spec: QueueSpec,
    queue: Arc<dyn Queue>,
    handler: Arc<dyn MessageHandler>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let batch = match queue
                .receive(10, Duration::from_secs(10), spec.visibility_timeout)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(queue = %spec.name, error = %e, "receive failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for m in batch {
                match handler.handle(&m.body).await {
                    Ok(()) => {
                        if let Err(e) = queue.delete(&m.receipt).await {
                            tracing::error!(queue = %spec.name, error = %e, "delete failed");
                        }
                    }
                    Err(e) => tracing::warn!(
                        queue = %spec.name,
                        message = %m.id,
                        receive_count = m.receive_count,
                        error = format!("{e:#}"),
                        "message failed; left for redelivery"
                    ),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_app::schedules::ROTATION_SWEEP;

    fn at(s: &str) -> Timestamp {
        Timestamp::from_millis(DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis())
    }

    #[test]
    fn next_run_is_later_today_or_tomorrow() {
        assert_eq!(
            next_run(&ROTATION_SWEEP, at("2026-11-25T01:00:00Z")),
            at("2026-11-25T03:30:00Z")
        );
        assert_eq!(
            next_run(&ROTATION_SWEEP, at("2026-11-25T03:30:00Z")),
            at("2026-11-26T03:30:00Z")
        );
        assert_eq!(
            next_run(&ROTATION_SWEEP, at("2026-12-31T23:59:59Z")),
            at("2027-01-01T03:30:00Z")
        );
    }
}
