//! The maintenance function: on EventBridge's schedule (every minute), one sweep of
//! [`Maintenance`], the same the self-hosted console runs on a timer: commands not
//! collected or not answered in time time out, and jobs whose commands have all
//! finished are marked finished. The sweep's report is the function's result.
//!
//! Given the jobs queue (`RAMPART_QUEUE_URL_JOBS`), the sweep also creates the
//! regular backup jobs that are due and sends them to the dispatch function.
//!
//! A sweep that fails is not retried by hand: its work is idempotent and the next
//! scheduled run a minute later picks up where it stopped.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use rampart_app::error::ApiError;
use rampart_app::jobs::maintenance::{Maintenance, SweepReport};
use rampart_aws::config::{MissingEnv, TABLE_ENV, queue_url_env};
use rampart_aws::{AwsClients, AwsResources};
use rampart_ports::Clock;
use std::sync::Arc;

/// The queue the scheduled backup jobs go to (the dispatch function's).
pub const JOBS_QUEUE: &str = "jobs";

/// What the function builds once per cold start and shares across invocations.
pub struct MaintenanceState {
    maintenance: Maintenance,
}

impl MaintenanceState {
    pub fn new(maintenance: Maintenance) -> Self {
        Self { maintenance }
    }

    /// The sweep on the DynamoDB table named by `RAMPART_TABLE`, with the regular
    /// backups when `RAMPART_QUEUE_URL_JOBS` names the jobs queue.
    pub fn from_env(clients: &AwsClients, clock: Arc<dyn Clock>) -> Result<Self, MissingEnv> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let table = var(TABLE_ENV).ok_or_else(|| MissingEnv(TABLE_ENV.to_owned()))?;
        let queue_urls = var(&queue_url_env(JOBS_QUEUE))
            .map(|url| (JOBS_QUEUE.to_owned(), url))
            .into_iter()
            .collect();
        let resources = AwsResources {
            table,
            queue_urls,
            ..AwsResources::default()
        };
        if !resources.queue_urls.contains_key(JOBS_QUEUE) {
            tracing::warn!(
                "{} is not set: the sweep makes no scheduled backups",
                queue_url_env(JOBS_QUEUE)
            );
        }
        Ok(Self::on_resources(&resources, clients, clock))
    }

    /// The sweep on the table of `resources`, and the regular backups if they
    /// include the jobs queue (the bucket is not used).
    pub fn on_resources(
        resources: &AwsResources,
        clients: &AwsClients,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let table = resources.table(clients, clock.clone());
        let maintenance = Maintenance::new(table, clock);
        Self::new(match resources.queue(clients, JOBS_QUEUE) {
            Ok(jobs) => maintenance.with_scheduled_backups(jobs),
            Err(_) => maintenance,
        })
    }

    /// The sweep on the table of `resources`, without the regular backups (the
    /// bucket and queues are not used).
    pub fn on_table(resources: &AwsResources, clients: &AwsClients, clock: Arc<dyn Clock>) -> Self {
        let table = resources.table(clients, clock.clone());
        Self::new(Maintenance::new(table, clock))
    }
}

/// A sweep that could not finish, as Lambda reports it.
#[derive(Debug)]
pub struct SweepFailed(pub ApiError);

impl std::fmt::Display for SweepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "maintenance sweep failed: {}", self.0)?;
        let mut source = std::error::Error::source(&self.0);
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

impl std::error::Error for SweepFailed {}

impl SweepFailed {
    /// The `errorType` Lambda records (and metric filters can match).
    pub fn error_type(&self) -> &'static str {
        match self.0 {
            ApiError::Unavailable(_) => "StoreUnavailable",
            _ => "SweepFailed",
        }
    }
}

impl From<SweepFailed> for Diagnostic {
    fn from(e: SweepFailed) -> Self {
        Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// The Lambda handler: one sweep per scheduled event.
pub async fn function_handler(
    state: &MaintenanceState,
    event: LambdaEvent<EventBridgeEvent>,
) -> Result<SweepReport, SweepFailed> {
    handle_event(state, event.payload).await
}

/// One sweep; the event only says when the schedule fired.
pub async fn handle_event(
    state: &MaintenanceState,
    event: EventBridgeEvent,
) -> Result<SweepReport, SweepFailed> {
    match state.maintenance.sweep().await {
        Ok(report) => {
            tracing::info!(
                scheduled_at = ?event.time,
                open_jobs = report.open_jobs,
                timed_out = report.timed_out,
                jobs_finished = report.jobs_finished,
                "maintenance sweep done"
            );
            Ok(report)
        }
        Err(e) => {
            let e = SweepFailed(e);
            tracing::error!(error_type = e.error_type(), error = %e, "maintenance sweep failed");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_a_diagnostic_with_a_meaningful_type() {
        let d = Diagnostic::from(SweepFailed(ApiError::Unavailable(anyhow::anyhow!(
            "throttled"
        ))));
        assert_eq!(d.error_type, "StoreUnavailable");
        assert_eq!(
            d.error_message,
            "maintenance sweep failed: storage is unavailable, retry later: throttled"
        );
        let d = Diagnostic::from(SweepFailed(ApiError::Conflict("x".into())));
        assert_eq!(d.error_type, "SweepFailed");
    }

    #[test]
    fn a_real_scheduled_event_deserializes() {
        let event: EventBridgeEvent = serde_json::from_value(serde_json::json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-01-01T00:01:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/maintenance"],
            "detail": {}
        }))
        .unwrap();
        assert_eq!(event.detail_type, "Scheduled Event");
    }
}
