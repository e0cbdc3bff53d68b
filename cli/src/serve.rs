//! `rampart serve`: every function of the console in one process on one port.

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use rampart_app::admin::AdminService;
use rampart_app::backups::Backups;
use rampart_app::device::{DeviceConfig, DeviceService};
use rampart_app::http::{
    OperatorToken, admin_routes, device_routes, healthz, portal_routes, with_json_fallbacks,
};
use rampart_app::jobs::dispatch::Dispatcher;
use rampart_app::jobs::maintenance::Maintenance;
use rampart_app::portal::PortalService;
use rampart_app::scans::Scans;
use rampart_ports::{Clock, Queue, Table};
use rampart_scanner::AllowList;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{self, StoreKind};
use crate::runtime;

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub store: StoreKind,
    /// The address appliances reach this server at (for presigned URLs).
    pub public_url: Option<String>,
    pub poll_interval: Duration,
    /// How often the maintenance sweep runs (command time-outs, finished jobs):
    /// [`SWEEP_EVERY`](rampart_app::jobs::maintenance::SWEEP_EVERY) in production,
    /// as EventBridge runs the `maintenance` function on AWS.
    pub maintenance_every: Duration,
}

/// A started console. Dropping it does not stop it; call `shutdown`.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub base_url: String,
    pub table: Arc<dyn Table>,
    pub admin: Arc<AdminService>,
    pub device: Arc<DeviceService>,
    pub portal: Arc<PortalService>,
    /// The queue new jobs are fanned out through (consumed in-process).
    pub jobs_queue: Arc<dyn Queue>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops background tasks, then lets open requests finish and closes every
    /// connection (so clients see the restart), waiting at most 10 s.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = self.stop.send(());
        if tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .is_err()
        {
            tracing::warn!("connections still open after 10 s; stopping anyway");
        }
    }

    /// Adds a task that ends with the server.
    pub fn adopt(&mut self, task: tokio::task::JoinHandle<()>) {
        self.tasks.push(task);
    }
}

/// The operator's bearer token for `/v1/admin`, created on first start.
pub fn load_or_create_operator_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("secrets").join("operator.token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        return Ok(t.trim().to_owned());
    }
    std::fs::create_dir_all(path.parent().unwrap_or(data_dir))?;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    let token = hex::encode(b);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(&path)
        .and_then(|mut f| f.write_all(token.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// As [`start_with`], with the scan allow-list from `RAMPART_SCAN_ALLOW` (none
/// when unset).
pub async fn start(config: ServeConfig, clock: Arc<dyn Clock>) -> anyhow::Result<RunningServer> {
    let allow = rampart_app::scans::allow_list_from_env()
        .with_context(|| rampart_app::scans::ALLOW_ENV.to_owned())?;
    start_with(config, clock, allow).await
}

/// Starts the console; `scan_allow` lists the special-purpose ranges the security
/// scan may target anyway (test set-ups; `--scan-allow`).
pub async fn start_with(
    config: ServeConfig,
    clock: Arc<dyn Clock>,
    scan_allow: AllowList,
) -> anyhow::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;

    let stores = backend::open(&config.store, &config.data_dir, &base_url, clock.clone()).await?;
    let device = Arc::new(
        DeviceService::new(
            stores.table.clone(),
            clock.clone(),
            DeviceConfig {
                poll_interval: config.poll_interval,
                ..DeviceConfig::default()
            },
        )
        .with_objects(stores.objects.clone()),
    );
    let admin = Arc::new(AdminService::new(stores.table.clone(), clock.clone()));
    let token = OperatorToken::new(&load_or_create_operator_token(&config.data_dir)?);
    let jobs_queue = stores
        .queues
        .get("jobs")
        .cloned()
        .context("the store has no jobs queue")?;
    let portal = crate::portal_setup::self_hosted_portal(
        stores.table.clone(),
        stores.objects.clone(),
        clock.clone(),
        jobs_queue.clone(),
        stores.queues.get("scan").cloned(),
        &config.data_dir,
        &base_url,
    )?;

    let mut router = Router::new()
        .merge(device_routes(device.clone()))
        .merge(admin_routes(admin.clone(), token))
        .merge(portal_routes(portal.clone()))
        .route("/healthz", get(healthz));
    if let Some(objects) = &stores.local_objects {
        router = router.merge(rampart_local::objects_router(objects.clone()));
    }
    let router = with_json_fallbacks(router);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let graceful = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = graceful.await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    let mut tasks = Vec::new();
    // Schedules fire into the same queues EventBridge targets on AWS.
    for schedule in rampart_app::schedules::ALL {
        if let Some(q) = stores.queues.get(schedule.queue) {
            tasks.push(runtime::spawn_schedule(schedule, q.clone()));
        }
    }
    // The `dispatch` function: the jobs queue's consumer, on the same code.
    if let Some(spec) = rampart_app::queues::spec("jobs") {
        let handler =
            runtime::DispatchHandler(Dispatcher::new(stores.table.clone(), clock.clone()));
        tasks.push(runtime::spawn_consumer(
            spec,
            jobs_queue.clone(),
            Arc::new(handler),
        ));
    }
    // The `backup-ingest` and `rotation` functions: consumers of their queues.
    let queue = |name: &str| {
        stores
            .queues
            .get(name)
            .cloned()
            .with_context(|| format!("the store has no {name} queue"))
    };
    let backups = Arc::new(Backups::new(
        stores.table.clone(),
        stores.objects.clone(),
        clock.clone(),
        queue("rotation")?,
    ));
    for (name, handler) in [
        (
            "backup-ingest",
            Arc::new(runtime::IngestHandler(backups.clone())) as Arc<dyn runtime::MessageHandler>,
        ),
        (
            "rotation",
            Arc::new(runtime::RotationHandler(backups.clone())),
        ),
    ] {
        let spec = rampart_app::queues::spec(name).context("queue spec")?;
        tasks.push(runtime::spawn_consumer(spec, queue(name)?, handler));
    }
    // The `security-scan` function: the scan queue's consumer.
    let scans = Arc::new(Scans::new(stores.table.clone(), clock.clone(), scan_allow));
    tasks.push(runtime::spawn_consumer(
        rampart_app::queues::spec("scan").context("queue spec")?,
        queue("scan")?,
        Arc::new(runtime::ScanHandler(scans)),
    ));
    // The `maintenance` function: EventBridge's rate schedule becomes a timer.
    tasks.push(runtime::spawn_maintenance(
        Arc::new(
            Maintenance::new(stores.table.clone(), clock.clone())
                .with_scheduled_backups(jobs_queue.clone()),
        ),
        config.maintenance_every,
    ));
    tracing::info!(%addr, store = ?config.store, data_dir = %config.data_dir.display(), "console listening");
    Ok(RunningServer {
        addr,
        base_url,
        table: stores.table,
        admin,
        device,
        portal,
        jobs_queue,
        stop,
        server,
        tasks,
    })
}
