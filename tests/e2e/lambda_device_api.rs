//! The device-api Lambda handler fed real API Gateway HTTP API (payload 2.0)
//! events, through the same adapter `lambda_http::run` uses, with the AWS
//! adapters on the local AWS emulator.

use base64::Engine;
use chrono::{Duration as ChronoDuration, Utc};
use rampart_app::admin::AdminService;
use rampart_app::device::DeviceConfig;
use rampart_domain::device_protocol::{
    self, CHECKIN_PATH, ENROLL_PATH, EnrollRequest, HEADER_APPLIANCE, HEADER_NONCE,
    HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedParts,
};
use rampart_domain::firmware::FirmwareVersion;
use rampart_domain::ids::{Serial, TenantId};
use rampart_domain::license::NewLicense;
use rampart_ports::SystemClock;
use rampart_tests::api_gateway::{http_api_event, invoke};
use rampart_tests::aws_env;
use std::sync::Arc;
use std::time::Duration;

/// An API Gateway HTTP API v2 event for the device API's route.
fn event(
    method: &str,
    path: &str,
    headers: serde_json::Value,
    body: &[u8],
    base64: bool,
) -> serde_json::Value {
    http_api_event(
        "ANY /v1/device/{proxy+}",
        method,
        path,
        headers,
        body,
        base64,
    )
}

fn signed(
    key: &ed25519_dalek::SigningKey,
    appliance: Option<&str>,
    path: &str,
    body: &[u8],
) -> serde_json::Value {
    let ts = rampart_domain::Timestamp::now_system().millis();
    let nonce = format!("{:032x}", ts as u128 ^ 0x5a5a);
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
    let mut h = serde_json::json!({
        "content-type": "application/json",
        HEADER_TIMESTAMP: ts.to_string(),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sig,
    });
    if let Some(a) = appliance {
        h[HEADER_APPLIANCE] = serde_json::json!(a);
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_api_handler_serves_api_gateway_events_on_the_emulator() {
    rampart_tests::logs::init();
    let clients = aws_env::clients().await;
    let provisioned = aws_env::provision(&clients).await;
    let resources = provisioned.resources();
    let router = device_api::router(
        &resources,
        &clients,
        Arc::new(SystemClock),
        DeviceConfig {
            poll_interval: Duration::from_secs(45),
            ..DeviceConfig::default()
        },
    );

    let admin = AdminService::new(
        resources.table(&clients, Arc::new(SystemClock)),
        Arc::new(SystemClock),
    );
    let (_, secret) = admin
        .add_license(NewLicense {
            serial: Serial::parse("L4MBDA01").unwrap(),
            tenant: TenantId::parse("654321.sms").unwrap(),
            product: "UTM".into(),
            expires: (Utc::now() + ChronoDuration::days(30)).date_naive(),
            cluster: None,
        })
        .await
        .unwrap();

    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let enroll = serde_json::to_vec(&EnrollRequest {
        serial: Serial::parse("L4MBDA01").unwrap(),
        license_secret: secret,
        public_key: base64::engine::general_purpose::STANDARD
            .encode(key.verifying_key().as_bytes()),
        firmware: FirmwareVersion::parse("14.0").unwrap(),
        hostname: "lambda-fw".into(),
        model: "UTM 525".into(),
    })
    .unwrap();
    let (status, body) = invoke(
        &router,
        event(
            "POST",
            ENROLL_PATH,
            signed(&key, None, ENROLL_PATH, &enroll),
            &enroll,
            false,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["poll_interval_secs"], 45);
    let id = body["appliance_id"].as_str().unwrap().to_owned();

    // API Gateway may hand the body over base64-encoded.
    let checkin = serde_json::to_vec(&serde_json::json!({
        "firmware": "14.0", "hostname": "lambda-fw", "model": "UTM 525",
        "cpu_percent": 3.5, "memory_percent": 20, "disk_percent": 10, "uptime_secs": 60
    }))
    .unwrap();
    for base64 in [false, true] {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let (status, body) = invoke(
            &router,
            event(
                "POST",
                CHECKIN_PATH,
                signed(&key, Some(&id), CHECKIN_PATH, &checkin),
                &checkin,
                base64,
            ),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["commands"], serde_json::json!([]));
    }
    let fleet = admin.fleet().await.unwrap();
    assert_eq!(fleet.len(), 1);
    assert_eq!(fleet[0].cpu_percent, Some(3.5));
    // The check-in recorded where it came from: API Gateway's sourceIp.
    let item = resources
        .table(&clients, Arc::new(SystemClock))
        .get(&rampart_app::store_keys::appliance(
            &TenantId::parse("654321.sms").unwrap(),
            &rampart_domain::ids::ApplianceId::parse(&id).unwrap(),
        ))
        .await
        .unwrap()
        .expect("the appliance item");
    let seen: Vec<String> = rampart_app::records::appliance::seen_from(&item)
        .into_iter()
        .map(|(a, _)| a.to_string())
        .collect();
    assert_eq!(seen, vec!["203.0.113.9".to_owned()]);

    // Bad input through the same path: JSON errors with stable codes.
    let (status, body) = invoke(
        &router,
        event(
            "POST",
            CHECKIN_PATH,
            signed(&key, Some(&id), CHECKIN_PATH, b"{]"),
            b"{]",
            false,
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("malformed_body"))
    );
    let (status, body) = invoke(
        &router,
        event(
            "POST",
            CHECKIN_PATH,
            serde_json::json!({"content-type": "application/json"}),
            &checkin,
            false,
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("missing_authentication"))
    );
    let (status, body) = invoke(
        &router,
        event(
            "GET",
            "/v1/device/unknown",
            serde_json::json!({}),
            b"",
            false,
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}
