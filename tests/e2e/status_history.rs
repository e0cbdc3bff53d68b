//! Status history end to end on both adapter sets (SPEC 4.3), with the console's
//! clock moved by hand: check-ins over days record one sample per minute in
//! their single write; the hourly compaction moves closed hours into hour items;
//! the portal answers any range inside the 30-day window, downsampled into at
//! most `points` buckets with the right averages and maxima; data past the
//! retention disappears by TTL; a compaction run twice or interrupted half-way
//! loses and duplicates nothing.

use async_trait::async_trait;
use chrono::Utc;
use rampart_agent::DeviceClient;
use rampart_app::records::status_history::{hour_prefix, pending_samples};
use rampart_app::status_history::StatusCompaction;
use rampart_app::store_keys;
use rampart_domain::Timestamp;
use rampart_domain::device_protocol::{
    self, CHECKIN_PATH, EnrollRequest, HEADER_APPLIANCE, HEADER_NONCE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, SignedParts,
};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{ApplianceId, Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_domain::status_history::{StatusHistoryView, StatusSample};
use rampart_domain::tenancy::{Role, TenantKind};
use rampart_ports::{
    Clock, Condition, Item, Key, Page, Query, ReturnItem, SortKey, StoreError, Table, TransactOp,
    Update,
};
use rampart_tests::device_harness::{Backend, delta};
use rampart_tests::portal_harness::{PortalApp, spawn_portal};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const TENANT: &str = "100001.sms";
const ADMIN: &str = "admin@example.test";
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(rampart_tests::device_harness::Backend::Embedded).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(rampart_tests::device_harness::Backend::Aws).await;
                }
            )*
        }
    };
}

on_both_backends!(
    check_ins_over_days_are_compacted_and_queried_by_range,
    a_30_day_range_is_downsampled,
    history_is_kept_30_days_then_expires,
    compaction_twice_or_interrupted_loses_and_duplicates_nothing,
);

fn tenant() -> TenantId {
    TenantId::parse(TENANT).unwrap()
}

/// A signed-in administrator and one enrolled appliance that checks in on the
/// console's (manual) clock.
struct Setup {
    app: PortalApp,
    token: String,
    totp: rampart_identity::TotpSecret,
    appliance: ApplianceId,
    key: ed25519_dalek::SigningKey,
    /// Every sample sent, as the console stores it (values in tenths).
    sent: Vec<StatusSample>,
}

async fn setup(backend: Backend) -> Setup {
    let app = spawn_portal(backend).await;
    app.tenant(TENANT, TenantKind::Customer, None).await;
    app.user(TENANT, ADMIN, Role::Administrator).await;
    let (token, totp) = app.sign_in(ADMIN, None).await;
    let (_, secret) = app
        .admin
        .add_license(NewLicense {
            serial: Serial::parse("HIST0001").unwrap(),
            tenant: tenant(),
            product: "UTM".into(),
            expires: (Utc::now() + chrono::Duration::days(400)).date_naive(),
            cluster: None,
        })
        .await
        .unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let client = DeviceClient::new(app.http.clone(), &app.base_url, key.clone());
    let enrolled = client
        .enroll(&EnrollRequest {
            serial: Serial::parse("HIST0001").unwrap(),
            license_secret: secret,
            public_key: client.public_key_base64(),
            firmware: FirmwareVersion::parse("14.2").unwrap(),
            hostname: "fw-hist".into(),
            model: "UTM".into(),
        })
        .await
        .expect("enroll");
    // Start the story 5 minutes into a clock hour, so hours are easy to count.
    let now = app.clock.now().millis();
    let hour_ms = HOUR.as_millis() as i64;
    let next_hour = (now.div_euclid(hour_ms) + 1) * hour_ms;
    app.clock
        .set(Timestamp::from_millis(next_hour + 5 * 60_000));
    Setup {
        app,
        token,
        totp,
        appliance: enrolled.appliance_id,
        key,
        sent: Vec::new(),
    }
}

impl Setup {
    /// A fresh session (moving the clock by days ends the old one). Moves the
    /// clock 31 s, so call it before taking `now`.
    async fn sign_in(&mut self) {
        self.token = self.app.sign_in(ADMIN, Some(&self.totp)).await.0;
    }

    /// One check-in signed at the console's clock, reporting these values;
    /// asserts it cost exactly one table request, a write.
    async fn checkin(&mut self, cpu: f64, memory: f64, disk: f64) {
        let body = serde_json::to_vec(&json!({
            "firmware": "14.2", "hostname": "fw-hist", "model": "UTM",
            "cpu_percent": cpu, "memory_percent": memory, "disk_percent": disk,
            "uptime_secs": 100, "authorizations": {"status": true}
        }))
        .unwrap();
        let ts = self.app.clock.now().millis();
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).unwrap();
        let nonce = hex::encode(nonce);
        let appliance = self.appliance.to_string();
        let sig = device_protocol::sign(
            &self.key,
            &SignedParts {
                method: "POST",
                path: CHECKIN_PATH,
                appliance: Some(&appliance),
                timestamp_ms: ts,
                nonce: &nonce,
                body: &body,
            },
        );
        let before = self.app.counts();
        let resp = self
            .app
            .http
            .post(format!("{}{CHECKIN_PATH}", self.app.base_url))
            .header("content-type", "application/json")
            .header(HEADER_TIMESTAMP, ts.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, sig)
            .header(HEADER_APPLIANCE, appliance)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let d = delta(before, self.app.counts());
        assert_eq!(
            (d.updates, d.total()),
            (1, 1),
            "an idle check-in with history is still one write: {d:?}"
        );
        let minute = self.app.clock.now().millis().div_euclid(60_000);
        self.sent.retain(|s| s.minute != minute);
        self.sent.push(StatusSample {
            minute,
            cpu,
            memory,
            disk,
        });
    }

    async fn history(&self, query: &str) -> rampart_tests::portal_harness::Answer {
        self.app
            .call(
                "GET",
                &format!(
                    "/v1/tenants/{TENANT}/appliances/{}/status-history{query}",
                    self.appliance
                ),
                Some(&self.token),
                None,
            )
            .await
    }

    async fn view(&self, since: Timestamp, until: Timestamp, points: u32) -> StatusHistoryView {
        let a = self
            .history(&format!(
                "?since={}&until={}&points={points}",
                since.to_rfc3339(),
                until.to_rfc3339()
            ))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        serde_json::from_value(a.body).unwrap()
    }

    async fn appliance_item(&self) -> Item {
        self.app
            .counting
            .get(&store_keys::appliance(&tenant(), &self.appliance))
            .await
            .unwrap()
            .unwrap()
    }

    async fn hour_items(&self) -> Vec<Item> {
        self.app
            .counting
            .query(
                Query::partition(store_keys::tenant_partition(&tenant()))
                    .sk(SortKey::BeginsWith(hour_prefix(&self.appliance)))
                    .limit(1000),
            )
            .await
            .unwrap()
            .items
    }

    /// Samples still on the appliance item must all be of the open clock hour.
    async fn assert_only_the_open_hour_is_pending(&self) {
        let open_hour_start = self.app.clock.now().millis().div_euclid(3_600_000) * 60;
        for p in pending_samples(&self.appliance_item().await) {
            assert!(
                p.sample.minute >= open_hour_start,
                "sample of a closed hour left on the appliance: {p:?}"
            );
        }
    }
}

fn ts(minute: i64) -> Timestamp {
    Timestamp::from_millis(minute * 60_000)
}

/// The summary the console must answer for `samples`, computed here on its own.
fn expected_bucket(samples: &[&StatusSample]) -> (u32, [f64; 3], [f64; 3]) {
    let n = samples.len() as f64;
    let avg = |f: fn(&StatusSample) -> f64| samples.iter().map(|s| f(s)).sum::<f64>() / n;
    let max = |f: fn(&StatusSample) -> f64| samples.iter().map(|s| f(s)).fold(f64::MIN, f64::max);
    (
        samples.len() as u32,
        [avg(|s| s.cpu), avg(|s| s.memory), avg(|s| s.disk)],
        [max(|s| s.cpu), max(|s| s.memory), max(|s| s.disk)],
    )
}

/// Checks every bucket of `view` against the samples sent in its window.
fn assert_buckets_match(view: &StatusHistoryView, sent: &[StatusSample]) {
    let since = chrono::DateTime::parse_from_rfc3339(&view.since)
        .unwrap()
        .timestamp_millis();
    let until = chrono::DateTime::parse_from_rfc3339(&view.until)
        .unwrap()
        .timestamp_millis();
    let width = view.bucket_secs as i64 * 1000;
    let inside: Vec<&StatusSample> = sent
        .iter()
        .filter(|s| (since..until).contains(&ts(s.minute).millis()))
        .collect();
    let mut non_empty = 0;
    let mut start = since;
    while start < until {
        let bucket: Vec<&StatusSample> = inside
            .iter()
            .copied()
            .filter(|s| (start..start + width).contains(&ts(s.minute).millis()))
            .collect();
        if !bucket.is_empty() {
            let point = &view.points[non_empty];
            assert_eq!(point.start, Timestamp::from_millis(start).to_rfc3339());
            let (n, avg, max) = expected_bucket(&bucket);
            assert_eq!(point.samples, n, "{}", point.start);
            let got_avg = [point.cpu.avg, point.memory.avg, point.disk.avg];
            let got_max = [point.cpu.max, point.memory.max, point.disk.max];
            for i in 0..3 {
                assert!(
                    (got_avg[i] - avg[i]).abs() < 1e-9,
                    "{}: avg {got_avg:?} vs {avg:?}",
                    point.start
                );
            }
            assert_eq!(got_max, max, "{}", point.start);
            non_empty += 1;
        }
        start += width;
    }
    assert_eq!(view.points.len(), non_empty, "no bucket without samples");
}

async fn check_ins_over_days_are_compacted_and_queried_by_range(backend: Backend) {
    let mut s = setup(backend).await;
    let start = s.app.clock.now();
    // Three days, a check-in every 30 minutes, the maintenance sweep every time
    // (it compacts once per clock hour).
    for i in 0..(3 * 48) {
        let cpu = f64::from(i % 97) + 0.5;
        s.checkin(cpu, 40.0 + f64::from(i % 7), 12.3).await;
        // Two check-ins within one minute: the later one stands.
        if i == 10 {
            s.app.clock.advance(Duration::from_secs(20));
            s.checkin(99.9, 1.0, 1.0).await;
        }
        s.app.clock.advance(30 * MINUTE);
        s.app.maintenance.sweep().await.unwrap();
    }
    s.assert_only_the_open_hour_is_pending().await;
    s.sign_in().await;
    // One hour item per closed hour that had check-ins.
    let hours = s.hour_items().await;
    assert_eq!(hours.len(), 72, "{:?}", hours.first().map(|h| &h.key));

    // A range at full resolution: every sample, exactly as sent.
    let now = s.app.clock.now();
    let view = s.view(start.minus(HOUR), now, 2000).await;
    assert_eq!(view.points.len(), s.sent.len());
    assert_buckets_match(&view, &s.sent);
    // Downsampled: three days in three buckets.
    let view = s.view(start, start.plus(3 * DAY), 3).await;
    assert_eq!(view.bucket_secs, DAY.as_secs());
    assert_eq!(view.points.len(), 3);
    assert_buckets_match(&view, &s.sent);
    // An inner range reads only what is inside it.
    let view = s
        .view(start.plus(DAY + 7 * MINUTE), start.plus(DAY + 5 * HOUR), 7)
        .await;
    assert!(view.points.len() <= 7);
    assert_buckets_match(&view, &s.sent);
    // The default: the last 24 hours.
    let a = s.history("").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let view: StatusHistoryView = serde_json::from_value(a.body).unwrap();
    assert!(view.points.len() <= 200 && !view.points.is_empty());
    assert_buckets_match(&view, &s.sent);

    // Bad ranges: a clear JSON error with its own code, nothing written.
    let before = s.app.counts();
    let old = now.minus(31 * DAY).to_rfc3339();
    for (query, status, code) in [
        (format!("?since={old}"), 422, "range_before_retention"),
        (
            format!("?since={}&until={}", now.to_rfc3339(), now.to_rfc3339()),
            422,
            "empty_range",
        ),
        ("?points=0".to_owned(), 422, "invalid_points"),
        ("?points=2001".to_owned(), 422, "invalid_points"),
        ("?points=many".to_owned(), 422, "invalid_field"),
        ("?since=yesterday".to_owned(), 422, "invalid_field"),
        (format!("?since={}", "9".repeat(100)), 422, "invalid_field"),
        ("?colour=red".to_owned(), 422, "invalid_field"),
    ] {
        let a = s.history(&query).await;
        assert_eq!(a.status, status, "{query}: {}", a.body);
        assert_eq!(a.body["error"]["code"], code, "{query}: {}", a.body);
    }
    let unknown = ApplianceId::from_random([9; 16]);
    let a = s
        .app
        .call(
            "GET",
            &format!("/v1/tenants/{TENANT}/appliances/{unknown}/status-history"),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(
        (a.status, &a.body["error"]["code"]),
        (404, &json!("not_found"))
    );
    assert_eq!(delta(before, s.app.counts()).writes(), 0);
}

async fn a_30_day_range_is_downsampled(backend: Backend) {
    let mut s = setup(backend).await;
    // 30 days, a check-in every 3 hours at varying minutes and values.
    for i in 0..(30 * 8) {
        s.checkin(
            f64::from((i * 37) % 1000) / 10.0,
            f64::from((i * 11) % 100),
            50.0 + f64::from(i % 3),
        )
        .await;
        s.app
            .clock
            .advance(3 * HOUR - Duration::from_secs(60 * (i % 5) as u64));
        s.app.maintenance.sweep().await.unwrap();
    }
    s.assert_only_the_open_hour_is_pending().await;
    s.sign_in().await;
    let now = s.app.clock.now();
    for points in [30, 100, 7] {
        let view = s.view(now.minus(30 * DAY), now, points).await;
        assert!(
            view.points.len() <= points as usize && view.points.len() >= points as usize / 2,
            "{points}: {}",
            view.points.len()
        );
        assert_buckets_match(&view, &s.sent);
        let counted: u32 = view.points.iter().map(|p| p.samples).sum();
        let inside = s
            .sent
            .iter()
            .filter(|x| ts(x.minute) >= now.minus(30 * DAY))
            .count();
        assert_eq!(counted as usize, inside);
    }
}

async fn history_is_kept_30_days_then_expires(backend: Backend) {
    let mut s = setup(backend).await;
    let first = s.app.clock.now();
    s.checkin(10.0, 20.0, 30.0).await;
    s.app.clock.advance(2 * HOUR);
    assert_eq!(
        s.app
            .maintenance
            .sweep()
            .await
            .unwrap()
            .status_history
            .samples_moved,
        1
    );
    assert_eq!(s.hour_items().await.len(), 1);

    // Just inside the window 30 days on: still there.
    s.app.clock.set(first.plus(30 * DAY).minus(2 * MINUTE));
    s.sign_in().await;
    let now = s.app.clock.now();
    let view = s.view(now.minus(30 * DAY), now, 10).await;
    assert_eq!(view.points.len(), 1);
    assert_eq!(view.points[0].cpu.max, 10.0);

    // Past the retention and a day's margin: the hour item has expired (TTL),
    // whether or not the store has deleted it yet.
    s.app.clock.set(first.plus(32 * DAY));
    s.sign_in().await;
    assert!(s.hour_items().await.is_empty(), "expired by TTL");
    let now = s.app.clock.now();
    let view = s.view(now.minus(30 * DAY), now, 10).await;
    assert!(view.points.is_empty());
    // New samples start a new history.
    s.checkin(1.0, 2.0, 3.0).await;
    s.app.clock.advance(MINUTE);
    let view = s.view(now.minus(30 * DAY), s.app.clock.now(), 10).await;
    assert_eq!(view.points.len(), 1);
    assert_eq!(view.points[0].disk.avg, 3.0);
}

/// A table that fails every write after the first `writes_allowed` (a
/// compaction cut short by a crash or a Lambda timeout).
struct StopsWriting {
    inner: Arc<dyn Table>,
    writes_allowed: AtomicUsize,
}

impl StopsWriting {
    fn write(&self) -> Result<(), StoreError> {
        let left = self.writes_allowed.load(Ordering::SeqCst);
        if left == 0 {
            return Err(StoreError::Unavailable("interrupted".into()));
        }
        self.writes_allowed.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}

#[async_trait]
impl Table for StopsWriting {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.write()?;
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
        ret: ReturnItem,
    ) -> Result<Option<Item>, StoreError> {
        self.write()?;
        self.inner.update(key, update, condition, ret).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), StoreError> {
        self.write()?;
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.write()?;
        self.inner.transact(ops).await
    }
}

async fn compaction_twice_or_interrupted_loses_and_duplicates_nothing(backend: Backend) {
    let mut s = setup(backend).await;
    let start = s.app.clock.now();
    let clock: Arc<dyn Clock> = Arc::new(s.app.clock.clone());
    // Three hours of check-ins every 10 minutes, no sweep yet.
    for i in 0..18 {
        s.checkin(f64::from(i), 50.0, 60.0).await;
        s.app.clock.advance(10 * MINUTE);
    }
    assert_eq!(pending_samples(&s.appliance_item().await).len(), 18);
    s.sign_in().await;

    // Interrupted after each possible number of writes: the first hour item,
    // the second, the third, then the removal from the appliance item.
    for allowed in 0..4 {
        let cut = StatusCompaction::new(
            Arc::new(StopsWriting {
                inner: s.app.counting.clone(),
                writes_allowed: AtomicUsize::new(allowed),
            }),
            clock.clone(),
        );
        assert!(cut.compact_closed_hours().await.is_err(), "{allowed}");
        let now = s.app.clock.now();
        let view = s.view(start, now, 2000).await;
        assert_eq!(view.points.len(), 18, "after an interruption at {allowed}");
        assert_buckets_match(&view, &s.sent);
    }

    // The hourly guard: the first sweep of the hour compacts, the next does not.
    let first = s.app.maintenance.sweep().await.unwrap().status_history;
    assert!(first.ran);
    assert_eq!((first.appliances, first.samples_moved), (1, 18));
    let second = s.app.maintenance.sweep().await.unwrap().status_history;
    assert!(!second.ran, "{second:?}");
    // Run again regardless: nothing left to move, nothing changes.
    let again = StatusCompaction::new(s.app.counting.clone(), clock.clone())
        .compact_closed_hours()
        .await
        .unwrap();
    assert_eq!(again.samples_moved, 0);
    s.assert_only_the_open_hour_is_pending().await;
    assert_eq!(s.hour_items().await.len(), 3);
    let view = s.view(start, s.app.clock.now(), 2000).await;
    assert_eq!(view.points.len(), 18);
    assert!(view.points.iter().all(|p| p.samples == 1));
    assert_buckets_match(&view, &s.sent);

    // A closed hour compacted while a check-in lands in the open hour: the new
    // sample stays on the appliance item and is read from there.
    s.checkin(77.0, 7.0, 7.0).await;
    s.app.clock.advance(HOUR);
    s.app.maintenance.sweep().await.unwrap();
    s.sign_in().await;
    let view = s.view(start, s.app.clock.now(), 2000).await;
    assert_eq!(view.points.len(), 19);
    assert_buckets_match(&view, &s.sent);
}
