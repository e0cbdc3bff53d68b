//! `spawn_device_api()`: the device API router served over real HTTP on
//! 127.0.0.1, on either adapter set, with every table request counted.

use chrono::{Duration as ChronoDuration, Utc};
use rampart_agent::DeviceClient;
use rampart_app::admin::AdminService;
use rampart_app::device::{DeviceConfig, DeviceService};
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_ports::counting::{CountingTable, RequestCounts};
use rampart_ports::{Clock, SystemClock, Table};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Embedded,
    Aws,
}

pub struct DeviceApp {
    pub base_url: String,
    pub counting: Arc<CountingTable>,
    /// The uncounted table, for a second "cold" process on the same store.
    pub inner: Arc<dyn Table>,
    pub admin: AdminService,
    pub http: reqwest::Client,
    pub poll_interval: Duration,
    _server: AbortOnDrop,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub const TENANT: &str = "123456.sms";

async fn table_for(backend: Backend) -> (Arc<dyn Table>, Box<dyn std::any::Any + Send + Sync>) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match backend {
        Backend::Embedded => {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = rampart_local::SqliteStore::open(&dir.path().join("rampart.db"), clock)
                .expect("open store");
            (Arc::new(store), Box::new(dir))
        }
        Backend::Aws => {
            let clients = crate::aws_env::clients().await;
            let p = crate::aws_env::provision(&clients).await;
            let table =
                rampart_aws::DynamoTable::new(clients.dynamodb.clone(), p.table.clone(), clock);
            (Arc::new(table), Box::new(p))
        }
    }
}

/// Starts a device API on a fresh store of the given backend.
pub async fn spawn_device_api(backend: Backend) -> DeviceApp {
    crate::logs::init();
    let (inner, guard) = table_for(backend).await;
    let counting = Arc::new(CountingTable::new(inner.clone()));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let poll_interval = Duration::from_secs(30);
    let svc = Arc::new(DeviceService::new(
        counting.clone(),
        clock.clone(),
        DeviceConfig {
            poll_interval,
            ..DeviceConfig::default()
        },
    ));
    let (base_url, server) = serve(rampart_app::http::device_api(svc)).await;
    DeviceApp {
        base_url,
        admin: AdminService::new(inner.clone(), clock),
        counting,
        inner,
        http: reqwest::Client::new(),
        poll_interval,
        _server: server,
        _guard: guard,
    }
}

impl DeviceApp {
    /// Registers a license valid for a year (or already expired when `expired`)
    /// and returns its secret.
    pub async fn license(&self, serial: &str, expired: bool) -> String {
        let days = if expired { -2 } else { 365 };
        let (_, secret) = self
            .admin
            .add_license(NewLicense {
                serial: Serial::parse(serial).unwrap(),
                tenant: TenantId::parse(TENANT).unwrap(),
                product: "UTM".into(),
                expires: (Utc::now() + ChronoDuration::days(days)).date_naive(),
                cluster: None,
            })
            .await
            .expect("license registered");
        secret
    }

    pub fn client(&self, seed: u8) -> DeviceClient {
        DeviceClient::new(
            self.http.clone(),
            &self.base_url,
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
        )
    }

    pub fn counts(&self) -> RequestCounts {
        self.counting.counts()
    }
}

/// Counts between two snapshots.
pub fn delta(before: RequestCounts, after: RequestCounts) -> RequestCounts {
    RequestCounts {
        gets: after.gets - before.gets,
        queries: after.queries - before.queries,
        puts: after.puts - before.puts,
        updates: after.updates - before.updates,
        deletes: after.deletes - before.deletes,
        transactions: after.transactions - before.transactions,
    }
}

/// A second device API over the same store as an app, with a cold credential
/// cache and its own request counter: what a fresh Lambda instance sees.
pub struct ColdProcess {
    pub base_url: String,
    counting: Arc<CountingTable>,
    _server: AbortOnDrop,
}

impl ColdProcess {
    pub async fn start(app: &DeviceApp) -> Self {
        let counting = Arc::new(CountingTable::new(app.inner.clone()));
        let svc = Arc::new(DeviceService::new(
            counting.clone(),
            Arc::new(SystemClock),
            DeviceConfig {
                poll_interval: app.poll_interval,
                ..DeviceConfig::default()
            },
        ));
        let (base_url, server) = serve(rampart_app::http::device_api(svc)).await;
        Self {
            base_url,
            counting,
            _server: server,
        }
    }

    pub fn counts(&self) -> RequestCounts {
        self.counting.counts()
    }
}

async fn serve(router: axum::Router) -> (String, AbortOnDrop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    (format!("http://{addr}"), AbortOnDrop(server))
}
