//! `spawn_portal()`: the portal API over real HTTP on 127.0.0.1, on either adapter
//! set, with a movable clock, an outbox mailer and every table request counted;
//! plus a seeded world of tenants, users and appliances for the wall tests.

use chrono::NaiveDate;
use rampart_app::admin::AdminService;
use rampart_app::backups::Backups;
use rampart_app::device::{DeviceConfig, DeviceService};
use rampart_app::jobs::dispatch::Dispatcher;
use rampart_app::jobs::maintenance::Maintenance;
use rampart_app::portal::{PortalConfig, PortalService};
use rampart_app::records::appliance::ApplianceRecord;
use rampart_app::records::user::UserRecord;
use rampart_app::records::{license, tenant, user};
use rampart_app::store_keys;
use rampart_domain::Timestamp;
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, ClusterId, Serial, TenantId};
use rampart_domain::license::{ClusterMembership, ClusterRole, NewLicense};
use rampart_domain::portal_protocol::{
    LoginChallenge, NextStep, SessionGrant, TenantView, TotpEnrollment,
};
use rampart_domain::tenancy::{Email, Role, TenantKind};
use rampart_identity::TotpSecret;
use rampart_ports::counting::{CountingTable, RequestCounts};
use rampart_ports::{Clock, Item, ManualClock, Objects, Queue, Table};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::device_harness::Backend;

pub struct PortalApp {
    pub base_url: String,
    pub counting: Arc<CountingTable>,
    pub svc: Arc<PortalService>,
    pub clock: ManualClock,
    pub outbox: PathBuf,
    pub http: reqwest::Client,
    /// The queue new jobs are fanned out through.
    pub jobs_queue: Arc<dyn Queue>,
    /// Every queue of the console (jobs, backup-ingest, rotation, scan).
    pub queues: Queues,
    /// Where backups go (file objects served on `base_url`, or S3 of the emulator).
    pub objects: Arc<dyn Objects>,
    /// The backup consumers' code on this store.
    pub backups: Arc<Backups>,
    pub admin: AdminService,
    pub dispatcher: Dispatcher,
    pub maintenance: Maintenance,
    _server: tokio::task::JoinHandle<()>,
    _guards: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl Drop for PortalApp {
    fn drop(&mut self) {
        self._server.abort();
    }
}

/// The queues a console consumes.
#[derive(Clone)]
pub struct Queues {
    pub jobs: Arc<dyn Queue>,
    pub backup_ingest: Arc<dyn Queue>,
    pub rotation: Arc<dyn Queue>,
    pub scan: Arc<dyn Queue>,
}

pub const PASSWORD: &str = "Correct-Horse-42-battery";

pub async fn spawn_portal(backend: Backend) -> PortalApp {
    spawn_portal_polling(backend, Duration::from_secs(60)).await
}

/// As [`spawn_portal`], handing appliances `poll` as their regular interval.
pub async fn spawn_portal_polling(backend: Backend, poll: Duration) -> PortalApp {
    crate::logs::init();
    let clock = ManualClock::at(Timestamp::now_system());
    let shared_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let dir = tempfile::tempdir().expect("temp dir");
    type Guard = Box<dyn std::any::Any + Send + Sync>;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let base_url = format!("http://{addr}");
    let mut objects_router = None;
    let (inner, queues, objects, guard): (Arc<dyn Table>, Queues, Arc<dyn Objects>, Guard) =
        match backend {
            Backend::Embedded => {
                let store = rampart_local::SqliteStore::open(
                    &dir.path().join("rampart.db"),
                    shared_clock.clone(),
                )
                .expect("open store");
                let queue =
                    |name: &str| store.queue(rampart_app::queues::spec(name).expect("queue spec"));
                let queues = Queues {
                    jobs: queue("jobs"),
                    backup_ingest: queue("backup-ingest"),
                    rotation: queue("rotation"),
                    scan: queue("scan"),
                };
                let key = rampart_local::load_or_create_key(&dir.path().join("presign.key"))
                    .expect("presign key");
                let objects = Arc::new(
                    rampart_local::FsObjects::open(
                        dir.path().join("objects"),
                        base_url.clone(),
                        key,
                    )
                    .expect("objects"),
                );
                // As `rampart serve` wires it: uploads under backups/ notify the ingest.
                objects
                    .notify_created(
                        rampart_app::records::backup::OBJECT_PREFIX,
                        queues.backup_ingest.clone(),
                    )
                    .expect("notification target");
                objects_router = Some(rampart_local::objects_router(objects.clone()));
                (Arc::new(store), queues, objects, Box::new(()))
            }
            Backend::Aws => {
                let clients = crate::aws_env::clients().await;
                let p = crate::aws_env::provision(&clients).await;
                rampart_aws::enable_bucket_notifications(&clients, crate::aws_env::template(), &p)
                    .await
                    .expect("bucket notifications");
                let t = rampart_aws::DynamoTable::new(
                    clients.dynamodb.clone(),
                    p.table.clone(),
                    shared_clock.clone(),
                );
                let resources = p.resources();
                let queue = |name: &str| {
                    resources
                        .queue(&clients, name)
                        .expect("the template declares the queue")
                };
                let queues = Queues {
                    jobs: queue("jobs"),
                    backup_ingest: queue("backup-ingest"),
                    rotation: queue("rotation"),
                    scan: queue("scan"),
                };
                let objects = resources.objects(&clients);
                (Arc::new(t), queues, objects, Box::new(p))
            }
        };
    let jobs_queue = queues.jobs.clone();
    let counting = Arc::new(CountingTable::new(inner));
    let outbox = dir.path().join("outbox");
    let svc = Arc::new(
        PortalService::new(
            counting.clone(),
            shared_clock.clone(),
            Arc::new(rampart_local::OutboxMailer::new(outbox.clone())),
            jobs_queue.clone(),
            [7u8; 32],
            PortalConfig::default(),
        )
        .with_objects(objects.clone())
        .with_scan_queue(queues.scan.clone()),
    );
    // The device API on the same store and clock, so appliances can enroll, check
    // in and answer the jobs the portal creates.
    let device = Arc::new(
        DeviceService::new(
            counting.clone(),
            shared_clock.clone(),
            DeviceConfig {
                poll_interval: poll,
                ..DeviceConfig::default()
            },
        )
        .with_objects(objects.clone()),
    );
    let mut router = rampart_app::http::portal_routes(svc.clone())
        .merge(rampart_app::http::device_routes(device));
    if let Some(objects_router) = objects_router {
        router = router.merge(objects_router);
    }
    let router = rampart_app::http::with_json_fallbacks(router);
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    PortalApp {
        base_url,
        backups: Arc::new(Backups::new(
            counting.clone(),
            objects.clone(),
            shared_clock.clone(),
            queues.rotation.clone(),
        )),
        objects,
        queues,
        counting: counting.clone(),
        svc,
        clock,
        outbox,
        http: reqwest::Client::new(),
        jobs_queue,
        admin: AdminService::new(counting.clone(), shared_clock.clone()),
        dispatcher: Dispatcher::new(counting.clone(), shared_clock.clone()),
        maintenance: Maintenance::new(counting.clone(), shared_clock),
        _server: server,
        _guards: vec![guard, Box::new(dir)],
    }
}

/// A response's status and JSON body (`null` when empty).
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

impl PortalApp {
    /// `GET path` as `token`, asserting a 200; the JSON body.
    pub async fn get_ok(&self, token: &str, path: &str) -> serde_json::Value {
        let a = self.call("GET", path, Some(token), None).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.body
    }

    pub fn counts(&self) -> RequestCounts {
        self.counting.counts()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text:?}"))
        };
        Answer { status, body }
    }

    /// Writes a tenant profile (and the reseller link of a customer).
    pub async fn tenant(&self, id: &str, kind: TenantKind, reseller: Option<&str>) {
        let view = TenantView {
            id: TenantId::parse(id).unwrap(),
            name: format!("Tenant {id}"),
            kind,
            reseller: reseller.map(|r| TenantId::parse(r).unwrap()),
        };
        self.counting
            .put(tenant::to_item(&view), None)
            .await
            .unwrap();
        if let Some(r) = &view.reseller {
            self.counting
                .put(Item::new(store_keys::customer_link(r, &view.id)), None)
                .await
                .unwrap();
        }
    }

    /// Writes a user with `PASSWORD` and no TOTP yet.
    pub async fn user(&self, tenant_id: &str, email: &str, role: Role) {
        let record = UserRecord {
            email: Email::parse(email).unwrap(),
            tenant: TenantId::parse(tenant_id).unwrap(),
            role,
            password_hash: Some(rampart_identity::hash_password(PASSWORD).unwrap()),
            totp_sealed: None,
            totp_pending: None,
            totp_last_step: None,
            failures: 0,
            last_failure_secs: 0,
            created_at: self.clock.now(),
        };
        self.counting
            .put(
                Item::new(store_keys::login(&record.email)).with("tenant", tenant_id),
                None,
            )
            .await
            .unwrap();
        self.counting
            .put(user::to_item(&record), None)
            .await
            .unwrap();
    }

    /// Writes a license and an enrolled appliance for it; returns the appliance id.
    pub async fn appliance(
        &self,
        tenant_id: &str,
        serial: &str,
        hostname: &str,
        cluster: Option<(&str, ClusterRole)>,
    ) -> ApplianceId {
        let tenant = TenantId::parse(tenant_id).unwrap();
        let serial = Serial::parse(serial).unwrap();
        let membership = cluster.map(|(id, role)| ClusterMembership {
            id: ClusterId::parse(id).unwrap(),
            role,
        });
        let id = ApplianceId::from_random(rand_bytes());
        let mut lic = NewLicense {
            serial: serial.clone(),
            tenant: tenant.clone(),
            product: "UTM".into(),
            expires: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            cluster: membership.clone(),
        }
        .into_license("secret");
        lic.bound_to = Some(id.clone());
        self.counting
            .put(license::to_item(&lic), None)
            .await
            .unwrap();
        let record = ApplianceRecord {
            id: id.clone(),
            tenant,
            serial,
            hostname: hostname.into(),
            model: "UTM 320".into(),
            firmware: FirmwareVersion::parse("14.0.2").unwrap(),
            enrolled_at: self.clock.now(),
            last_checkin: Some(self.clock.now()),
            poll_interval_secs: 60,
            pending_commands: 0,
            report: None,
            cluster: membership,
            edits: Default::default(),
        };
        self.counting
            .put(record.enrollment_item(self.clock.now()), None)
            .await
            .unwrap();
        // Mark it as having checked in now.
        self.counting
            .update(
                &store_keys::appliance(&record.tenant, &id),
                rampart_ports::Update::new().set("last_checkin", self.clock.now().millis()),
                None,
                rampart_ports::ReturnItem::None,
            )
            .await
            .unwrap();
        id
    }

    /// Signs in with password and TOTP, enrolling TOTP on first use. Returns the
    /// session token and the user's TOTP secret.
    pub async fn sign_in(&self, email: &str, secret: Option<&TotpSecret>) -> (String, TotpSecret) {
        // A new 30 s step, so a code is never a replay of the last sign-in's.
        self.clock.advance(Duration::from_secs(31));
        let a = self
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(serde_json::json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(a.status, 200, "login {email}: {}", a.body);
        let ch: LoginChallenge = serde_json::from_value(a.body).unwrap();
        let now = self.clock.now().secs();
        let (path, secret) = match (ch.next, secret) {
            (NextStep::TotpEnrollment, _) => {
                let e = self
                    .call(
                        "POST",
                        "/v1/auth/totp/enroll",
                        None,
                        Some(serde_json::json!({"challenge": ch.challenge})),
                    )
                    .await;
                assert_eq!(e.status, 200, "{}", e.body);
                let e: TotpEnrollment = serde_json::from_value(e.body).unwrap();
                (
                    "/v1/auth/totp/confirm",
                    TotpSecret::from_base32(&e.secret).unwrap(),
                )
            }
            (NextStep::Totp, Some(s)) => ("/v1/auth/totp", s.clone()),
            (NextStep::Totp, None) => panic!("{email} has TOTP; pass its secret"),
        };
        let code = rampart_identity::code_at(&secret, now);
        let g = self
            .call(
                "POST",
                path,
                None,
                Some(serde_json::json!({"challenge": ch.challenge, "code": code})),
            )
            .await;
        assert_eq!(g.status, 200, "{path} for {email}: {}", g.body);
        let grant: SessionGrant = serde_json::from_value(g.body).unwrap();
        (grant.token, secret)
    }

    /// The token of the newest mail in the outbox's link.
    pub fn last_mailed_token(&self) -> String {
        let mut files: Vec<_> = std::fs::read_dir(&self.outbox)
            .expect("outbox exists")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        let text = std::fs::read_to_string(files.last().expect("a mail was sent")).unwrap();
        let start = text.find("#token=").expect("a link in the mail") + "#token=".len();
        text[start..].split_whitespace().next().unwrap().to_owned()
    }
}

fn rand_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("random source");
    b
}
