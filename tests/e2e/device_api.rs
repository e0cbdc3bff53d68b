//! The device API end to end over HTTP, each check on both adapter sets: the
//! embedded SQLite store and DynamoDB on the local AWS emulator.

use rampart_agent::{AgentError, DeviceClient};
use rampart_domain::connection::ConnectionStatus;
use rampart_domain::device_protocol::{
    self, CHECKIN_PATH, ENROLL_PATH, EnrollRequest, HEADER_APPLIANCE, HEADER_NONCE,
    HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedParts,
};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::Serial;
use rampart_domain::report::CheckinReport;
use rampart_tests::device_harness::{Backend, DeviceApp, delta, spawn_device_api};

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
    enrolls_then_checks_in_and_shows_connected,
    idle_checkin_costs_exactly_one_table_write,
    enrollment_refusals_each_have_their_own_code,
    replayed_and_stale_requests_are_refused,
    bad_input_gets_json_errors_and_writes_nothing,
    old_firmware_is_refused_at_checkin,
);

fn report(firmware: &str) -> CheckinReport {
    serde_json::from_value(serde_json::json!({
        "firmware": firmware, "hostname": "fw-test", "model": "UTM 320",
        "cpu_percent": 12.5, "memory_percent": 40, "disk_percent": 3, "uptime_secs": 100,
        "interfaces": [{"name": "eth0", "addresses": ["203.0.113.7"], "public": true}],
        "applications": {"http_proxy": "UP"},
        "authorizations": {"status": true}
    }))
    .unwrap()
}

fn enroll_request(client: &DeviceClient, serial: &str, secret: &str, fw: &str) -> EnrollRequest {
    EnrollRequest {
        serial: Serial::parse(serial).unwrap(),
        license_secret: secret.to_owned(),
        public_key: client.public_key_base64(),
        firmware: FirmwareVersion::parse(fw).unwrap(),
        hostname: "fw-test".into(),
        model: "UTM 320".into(),
    }
}

/// A license, an enrolled client for it, and the client's appliance id.
async fn enrolled(app: &DeviceApp, serial: &str, seed: u8) -> DeviceClient {
    let secret = app.license(serial, false).await;
    let mut client = app.client(seed);
    let resp = client
        .enroll(&enroll_request(&client, serial, &secret, "14.0.2"))
        .await
        .expect("enrolled");
    assert_eq!(resp.poll_interval_secs, app.poll_interval.as_secs());
    client.set_appliance(resp.appliance_id.as_str());
    client
}

fn code(e: AgentError) -> (u16, String) {
    match e {
        AgentError::Refused { status, code, .. } => (status, code),
        other => panic!("expected a refusal, got {other}"),
    }
}

async fn enrolls_then_checks_in_and_shows_connected(backend: Backend) {
    let app = spawn_device_api(backend).await;
    let client = enrolled(&app, "A1B2C3D4", 1).await;
    let fleet = app.admin.fleet().await.unwrap();
    assert_eq!(fleet.len(), 1);
    assert_eq!(
        fleet[0].status,
        ConnectionStatus::Disconnected,
        "no check-in yet"
    );

    let resp = client.checkin(&report("14.0.2")).await.expect("check-in");
    assert!(resp.commands.is_empty());
    assert_eq!(resp.poll_interval_secs, 30);
    let fleet = app.admin.fleet().await.unwrap();
    assert_eq!(fleet[0].status, ConnectionStatus::Connected);
    assert_eq!(fleet[0].hostname, "fw-test");
    assert_eq!(fleet[0].cpu_percent, Some(12.5));
    assert_eq!(fleet[0].serial.as_str(), "A1B2C3D4");
}

async fn idle_checkin_costs_exactly_one_table_write(backend: Backend) {
    let app = spawn_device_api(backend).await;
    let client = enrolled(&app, "A1B2C3D4", 1).await;
    // Enrollment warmed this process's credential cache.
    let before = app.counts();
    for _ in 0..5 {
        client.checkin(&report("14.0.2")).await.expect("check-in");
    }
    let d = delta(before, app.counts());
    assert_eq!(
        (d.updates, d.total()),
        (5, 5),
        "one write per idle check-in: {d:?}"
    );

    // A cold process (fresh cache) pays one credential read, once.
    let cold = rampart_tests::device_harness::ColdProcess::start(&app).await;
    let mut cold_client = DeviceClient::new(
        app.http.clone(),
        &cold.base_url,
        ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
    );
    cold_client.set_appliance(client_appliance(&app).await.as_str());
    cold_client
        .checkin(&report("14.0.2"))
        .await
        .expect("cold check-in");
    cold_client
        .checkin(&report("14.0.2"))
        .await
        .expect("warm check-in");
    let c = cold.counts();
    assert_eq!((c.gets, c.updates, c.total()), (1, 2, 3), "{c:?}");
}

async fn client_appliance(app: &DeviceApp) -> rampart_domain::ids::ApplianceId {
    app.admin.fleet().await.unwrap()[0].appliance_id.clone()
}

async fn enrollment_refusals_each_have_their_own_code(backend: Backend) {
    let app = spawn_device_api(backend).await;
    let good = app.license("A1B2C3D4", false).await;
    let expired = app.license("E1E2E3E4", true).await;
    let client = app.client(1);
    let before = app.counts();
    let cases = [
        (
            enroll_request(&client, "Z9Z9Z9Z9", &good, "14.0"),
            404,
            "unknown_license",
        ),
        (
            enroll_request(&client, "A1B2C3D4", "not-the-secret", "14.0"),
            403,
            "wrong_license_secret",
        ),
        (
            enroll_request(&client, "E1E2E3E4", &expired, "14.0"),
            403,
            "license_expired",
        ),
        (
            enroll_request(&client, "A1B2C3D4", &good, "12.1.9"),
            403,
            "firmware_too_old",
        ),
    ];
    for (req, status, want) in cases {
        let got = code(client.enroll(&req).await.unwrap_err());
        assert_eq!(got, (status, want.to_owned()));
    }
    assert_eq!(
        delta(before, app.counts()).writes(),
        0,
        "refusals write nothing"
    );

    // The license binds to the first appliance; the same key may retry, another may not.
    let first = client
        .enroll(&enroll_request(&client, "A1B2C3D4", &good, "12.2"))
        .await
        .expect("enrolls at the minimum firmware");
    let again = client
        .enroll(&enroll_request(&client, "A1B2C3D4", &good, "12.2"))
        .await
        .expect("same appliance may retry");
    assert_eq!(first.appliance_id, again.appliance_id);
    let other = app.client(2);
    let got = code(
        other
            .enroll(&enroll_request(&other, "A1B2C3D4", &good, "14.0"))
            .await
            .unwrap_err(),
    );
    assert_eq!(got, (409, "license_bound_elsewhere".to_owned()));
    assert_eq!(app.admin.fleet().await.unwrap().len(), 1);
}

/// Sends raw bytes with hand-made signature headers.
async fn raw_post(
    app: &DeviceApp,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut rb = app.http.post(format!("{}{path}", app.base_url));
    for (k, v) in headers {
        rb = rb.header(*k, v);
    }
    let resp = rb.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is JSON: {text:?}"));
    (status, json)
}

fn signed_headers(
    key: &ed25519_dalek::SigningKey,
    appliance: Option<&str>,
    path: &str,
    ts: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let nonce = format!("{:032x}", ts as u128 * 7919);
    let sig = device_protocol::sign(
        key,
        &SignedParts {
            method: "POST",
            path,
            appliance,
            timestamp_ms: ts,
            nonce: &nonce,
            body,
        },
    );
    let mut h = vec![
        ("content-type", "application/json".to_owned()),
        (HEADER_TIMESTAMP, ts.to_string()),
        (HEADER_NONCE, nonce),
        (HEADER_SIGNATURE, sig),
    ];
    if let Some(a) = appliance {
        h.push((HEADER_APPLIANCE, a.to_owned()));
    }
    h
}

fn now_ms() -> i64 {
    rampart_domain::Timestamp::now_system().millis()
}

async fn replayed_and_stale_requests_are_refused(backend: Backend) {
    let app = spawn_device_api(backend).await;
    let _client = enrolled(&app, "A1B2C3D4", 1).await;
    let id = client_appliance(&app).await;
    let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let body = serde_json::to_vec(&report("14.0.2")).unwrap();

    let ts = now_ms() + 5;
    let headers = signed_headers(&key, Some(id.as_str()), CHECKIN_PATH, ts, &body);
    let (status, _) = raw_post(&app, CHECKIN_PATH, &headers, body.clone()).await;
    assert_eq!(status, 200);
    let seen = app.admin.fleet().await.unwrap()[0].last_checkin.clone();

    // The very same request again, and an older one signed properly.
    let (status, json) = raw_post(&app, CHECKIN_PATH, &headers, body.clone()).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (401, Some("replayed_request"))
    );
    let older = signed_headers(&key, Some(id.as_str()), CHECKIN_PATH, ts - 1000, &body);
    let (status, json) = raw_post(&app, CHECKIN_PATH, &older, body.clone()).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (401, Some("replayed_request"))
    );

    // Outside the clock window either way.
    for skew in [-6 * 60_000, 6 * 60_000] {
        let stale = signed_headers(
            &key,
            Some(id.as_str()),
            CHECKIN_PATH,
            now_ms() + skew,
            &body,
        );
        let (status, json) = raw_post(&app, CHECKIN_PATH, &stale, body.clone()).await;
        assert_eq!(
            (status, json["error"]["code"].as_str()),
            (401, Some("stale_request"))
        );
    }
    assert_eq!(
        app.admin.fleet().await.unwrap()[0].last_checkin,
        seen,
        "nothing was written"
    );
}

/// Headers, body, and the status and error code the console must answer with.
type BadRequest = (Vec<(&'static str, String)>, Vec<u8>, u16, &'static str);

async fn bad_input_gets_json_errors_and_writes_nothing(backend: Backend) {
    let app = spawn_device_api(backend).await;
    let _client = enrolled(&app, "A1B2C3D4", 1).await;
    let id = client_appliance(&app).await;
    let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let good = serde_json::to_vec(&report("14.0.2")).unwrap();
    let before = app.counts();
    let signed =
        |body: &[u8]| signed_headers(&key, Some(id.as_str()), CHECKIN_PATH, now_ms(), body);

    let mut with_unknown = serde_json::to_value(report("14.0.2")).unwrap();
    with_unknown["surprise"] = serde_json::json!(true);
    let unknown = serde_json::to_vec(&with_unknown).unwrap();
    let mut hot = serde_json::to_value(report("14.0.2")).unwrap();
    hot["cpu_percent"] = serde_json::json!(150);
    let hot = serde_json::to_vec(&hot).unwrap();
    let huge = vec![b' '; 70 * 1024];
    let malformed = b"{\"firmware\": ".to_vec();

    let mut cases: Vec<BadRequest> = vec![
        (signed(&malformed), malformed.clone(), 400, "malformed_body"),
        (signed(&unknown), unknown.clone(), 400, "malformed_body"),
        (signed(&hot), hot.clone(), 422, "invalid_field"),
        (signed(&huge), huge.clone(), 413, "payload_too_large"),
        (
            vec![("content-type", "application/json".into())],
            good.clone(),
            401,
            "missing_authentication",
        ),
    ];
    // Wrong content type.
    let mut h = signed(&good);
    h[0].1 = "text/plain".into();
    cases.push((h, good.clone(), 415, "unsupported_media_type"));
    // Signature by another key, and over other bytes.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    cases.push((
        signed_headers(&other, Some(id.as_str()), CHECKIN_PATH, now_ms(), &good),
        good.clone(),
        401,
        "bad_signature",
    ));
    cases.push((signed(b"{}"), good.clone(), 401, "bad_signature"));
    // An appliance id that does not exist, or is not an id at all.
    for bogus in ["ap_00000000000000000000000000000000", "../../etc"] {
        cases.push((
            signed_headers(&key, Some(bogus), CHECKIN_PATH, now_ms(), &good),
            good.clone(),
            401,
            "unknown_appliance",
        ));
    }
    for (headers, body, status, want) in cases {
        let (got_status, json) = raw_post(&app, CHECKIN_PATH, &headers, body).await;
        assert_eq!(
            (got_status, json["error"]["code"].as_str()),
            (status, Some(want)),
            "{json}"
        );
        assert!(json["error"]["message"].is_string());
    }
    // Enrollment with a malformed key.
    let mut enroll =
        serde_json::to_value(enroll_request(&app.client(3), "A1B2C3D4", "x", "14.0")).unwrap();
    enroll["public_key"] = serde_json::json!("AAAA");
    let body = serde_json::to_vec(&enroll).unwrap();
    let (status, json) = raw_post(
        &app,
        ENROLL_PATH,
        &signed_headers(&key, None, ENROLL_PATH, now_ms(), &body),
        body,
    )
    .await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (422, Some("invalid_field"))
    );

    // Unknown routes and methods answer JSON too.
    let resp = app
        .http
        .get(format!("{}{CHECKIN_PATH}", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let json: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["code"], "method_not_allowed");
    let resp = app
        .http
        .get(format!("{}/v1/device/nope", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let json: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["code"], "not_found");

    assert_eq!(
        delta(before, app.counts()).writes(),
        0,
        "bad input writes nothing"
    );
}

async fn old_firmware_is_refused_at_checkin(backend: Backend) {
    let app = spawn_device_api(backend).await;
    let client = enrolled(&app, "A1B2C3D4", 1).await;
    let before = app.counts();
    let got = code(client.checkin(&report("12.1.9")).await.unwrap_err());
    assert_eq!(got, (403, "firmware_too_old".to_owned()));
    assert_eq!(delta(before, app.counts()).writes(), 0);
    client
        .checkin(&report("12.2"))
        .await
        .expect("12.2 is the minimum");
}
