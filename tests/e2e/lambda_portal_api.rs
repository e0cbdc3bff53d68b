//! The portal-api Lambda handler fed real API Gateway HTTP API (payload 2.0)
//! events, through the same adapter `lambda_http::run` uses, on the local AWS
//! emulator: DynamoDB for the store, the TOTP key from an SSM SecureString
//! parameter, mail through SES.

use base64::Engine;
use portal_api::PortalSettings;
use rampart_app::portal::PortalService;
use rampart_domain::ids::TenantId;
use rampart_domain::tenancy::Email;
use rampart_ports::SystemClock;
use rampart_tests::api_gateway::{http_api_event, invoke};
use rampart_tests::aws_env;
use std::sync::Arc;

use crate::mailer_and_keys::moto_sent_messages;

/// An API Gateway HTTP API v2 event for the portal's catch-all route.
fn event(method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    http_api_event(
        "ANY /v1/{proxy+}",
        method,
        path,
        serde_json::json!({"content-type": "application/json", "user-agent": "rampart-cli"}),
        body.as_bytes(),
        false,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_api_handler_serves_api_gateway_events_on_the_emulator() {
    rampart_tests::logs::init();
    let clients = aws_env::clients().await;
    let provisioned = aws_env::provision(&clients).await;
    let resources = provisioned.resources();
    let prefix = aws_env::unique_prefix();

    // What the operator sets up before deploying: the key parameter and a
    // verified sender.
    let key = [0x5c_u8; 32];
    let settings = PortalSettings {
        totp_key_parameter: format!("/{prefix}/totp-key"),
        mail_from: format!("no-reply-{prefix}@rampart.example"),
        public_url: "https://console.example/".into(),
    };
    clients
        .ssm
        .put_parameter()
        .name(&settings.totp_key_parameter)
        .value(base64::engine::general_purpose::STANDARD.encode(key))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("PutParameter on the emulator");
    clients
        .ses
        .create_email_identity()
        .email_identity(&settings.mail_from)
        .send()
        .await
        .expect("CreateEmailIdentity on the emulator");

    // The function's cold start: key from SSM, router on DynamoDB and SES.
    let router = portal_api::router(&resources, &clients, Arc::new(SystemClock), &settings)
        .await
        .expect("the portal router builds");

    // The first administrator, as `rampart admin` would create it.
    let admin_email = format!("admin-{prefix}@example.com");
    let svc = PortalService::new(
        resources.table(&clients, Arc::new(SystemClock)),
        Arc::new(SystemClock),
        Arc::new(rampart_aws::SesMailer::new(
            clients.ses.clone(),
            settings.mail_from.clone(),
        )),
        resources
            .queue(&clients, "jobs")
            .expect("the template declares the jobs queue"),
        key,
        settings.portal_config(),
    );
    let boot = svc
        .bootstrap(
            TenantId::parse("100001.sms").unwrap(),
            "Lambda Reseller".into(),
            Email::parse(&admin_email).unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("bootstrap: {e}"));

    // A wrong password, and an unknown address: the same 401 JSON error.
    for (email, password) in [
        (admin_email.as_str(), "Wrong-password-123!"),
        ("nobody@example.com", boot.initial_password.as_str()),
    ] {
        let (status, body) = invoke(
            &router,
            event(
                "POST",
                "/v1/auth/login",
                Some(serde_json::json!({"email": email, "password": password})),
            ),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("invalid_credentials")),
            "{body}"
        );
    }

    // The right password leads to the mandatory TOTP enrollment.
    let (status, body) = invoke(
        &router,
        event(
            "POST",
            "/v1/auth/login",
            Some(serde_json::json!({"email": admin_email, "password": boot.initial_password})),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["next"], "totp_enrollment");
    assert!(body["challenge"].as_str().is_some_and(|c| !c.is_empty()));

    // No session, no data.
    let (status, body) = invoke(&router, event("GET", "/v1/me", None)).await;
    assert_eq!(status, 401, "{body}");

    // A password reset mails a link to the public URL through SES.
    let (status, body) = invoke(
        &router,
        event(
            "POST",
            "/v1/auth/password-reset",
            Some(serde_json::json!({"email": admin_email})),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let sent = moto_sent_messages().await;
    let mail = sent
        .iter()
        .find(|m| m["destinations"]["ToAddresses"] == serde_json::json!([admin_email]))
        .unwrap_or_else(|| panic!("a mail to {admin_email} among {sent:?}"));
    assert_eq!(mail["source"], settings.mail_from.as_str());
    assert!(
        mail["body"]
            .as_str()
            .is_some_and(|b| b.contains("https://console.example/reset-password#token=")),
        "{mail}"
    );

    let (status, body) = invoke(&router, event("GET", "/v1/nothing-here", None)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}
