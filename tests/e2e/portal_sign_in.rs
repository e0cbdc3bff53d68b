//! Portal sign-in end to end over HTTP: mandatory TOTP with enrollment, codes
//! accepted once (also those of an independent generator, oathtool), throttling
//! and lockout, session expiry and sign-out, password reset and invitations.
//! (That no secret reaches a log is checked on the real binary, cli/tests/secrets_in_logs.rs.)

use rampart_domain::tenancy::{Role, TenantKind};
use rampart_identity::TotpSecret;
use rampart_tests::device_harness::Backend;
use rampart_tests::portal_harness::{PASSWORD, PortalApp, spawn_portal};
use serde_json::json;
use std::time::Duration;

const R: &str = "100000.sms";

async fn app_with_user(backend: Backend) -> PortalApp {
    let app = spawn_portal(backend).await;
    app.tenant(R, TenantKind::Reseller, None).await;
    app.user(R, "admin@reseller.test", Role::Administrator)
        .await;
    app
}

async fn login(
    app: &PortalApp,
    email: &str,
    password: &str,
) -> rampart_tests::portal_harness::Answer {
    app.call(
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sign_in_enrolls_totp_then_codes_are_required_and_used_once() {
    let app = app_with_user(Backend::Embedded).await;
    let a = login(&app, "admin@reseller.test", PASSWORD).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["next"], "totp_enrollment");
    let challenge = a.body["challenge"].as_str().unwrap().to_owned();

    // The challenge is no session.
    let me = app.call("GET", "/v1/me", Some(&challenge), None).await;
    assert_eq!(
        (me.status, me.body["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
    // Nor can the TOTP step be skipped.
    let skip = app
        .call(
            "POST",
            "/v1/auth/totp",
            None,
            Some(json!({"challenge": challenge, "code": "123456"})),
        )
        .await;
    assert_eq!(
        (skip.status, skip.body["error"]["code"].as_str()),
        (401, Some("totp_required"))
    );

    let e = app
        .call(
            "POST",
            "/v1/auth/totp/enroll",
            None,
            Some(json!({"challenge": challenge})),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    let uri = e.body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Rampart:admin%40reseller.test?"),
        "{uri}"
    );
    assert!(e.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = TotpSecret::from_base32(e.body["secret"].as_str().unwrap()).unwrap();

    let wrong = app
        .call(
            "POST",
            "/v1/auth/totp/confirm",
            None,
            Some(json!({"challenge": challenge, "code": "000000"})),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.body["error"]["code"].as_str()),
        (401, Some("invalid_totp"))
    );
    let now = app.clock_secs();
    let code = rampart_identity::code_at(&secret, now);
    let ok = app
        .call(
            "POST",
            "/v1/auth/totp/confirm",
            None,
            Some(json!({"challenge": challenge, "code": code})),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let token = ok.body["token"].as_str().unwrap().to_owned();
    let me = app.call("GET", "/v1/me", Some(&token), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "admin@reseller.test");
    assert_eq!(me.body["tenant_kind"], "reseller");
    assert_eq!(me.body["role"], "administrator");
    // The challenge was consumed.
    let again = app
        .call(
            "POST",
            "/v1/auth/totp/confirm",
            None,
            Some(json!({"challenge": challenge, "code": code})),
        )
        .await;
    assert_eq!(again.status, 401);

    // Next sign-in: TOTP is required, the enrolled secret is never shown again,
    // and the code already used is refused within its window.
    let a = login(&app, "admin@reseller.test", PASSWORD).await;
    assert_eq!(a.body["next"], "totp");
    let challenge = a.body["challenge"].as_str().unwrap().to_owned();
    let e = app
        .call(
            "POST",
            "/v1/auth/totp/enroll",
            None,
            Some(json!({"challenge": challenge})),
        )
        .await;
    assert_eq!(
        (e.status, e.body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let replay = app
        .call(
            "POST",
            "/v1/auth/totp",
            None,
            Some(json!({"challenge": challenge, "code": code})),
        )
        .await;
    assert_eq!(
        (replay.status, replay.body["error"]["code"].as_str()),
        (401, Some("invalid_totp"))
    );
    app.clock.advance(Duration::from_secs(30));
    let fresh = rampart_identity::code_at(&secret, app.clock_secs());
    let ok = app
        .call(
            "POST",
            "/v1/auth/totp",
            None,
            Some(json!({"challenge": challenge, "code": fresh})),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oathtool_codes_are_accepted_once() {
    let app = app_with_user(Backend::Embedded).await;
    let (_, secret) = app.sign_in("admin@reseller.test", None).await;
    let oathtool = |at: i64| {
        let out = std::process::Command::new("oathtool")
            .args(["--totp", "-b", &secret.to_base32(), "-N", &format!("@{at}")])
            .output()
            .expect("oathtool is installed (Debian package oathtool; the test script installs it)");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    app.clock.advance(Duration::from_secs(60));
    let a = login(&app, "admin@reseller.test", PASSWORD).await;
    let challenge = a.body["challenge"].as_str().unwrap().to_owned();
    let code = oathtool(app.clock_secs());
    let ok = app
        .call(
            "POST",
            "/v1/auth/totp",
            None,
            Some(json!({"challenge": challenge, "code": code})),
        )
        .await;
    assert_eq!(ok.status, 200, "oathtool's code accepted: {}", ok.body);

    let a = login(&app, "admin@reseller.test", PASSWORD).await;
    let challenge = a.body["challenge"].as_str().unwrap().to_owned();
    let replay = app
        .call(
            "POST",
            "/v1/auth/totp",
            None,
            Some(json!({"challenge": challenge, "code": code})),
        )
        .await;
    assert_eq!(
        (replay.status, replay.body["error"]["code"].as_str()),
        (401, Some("invalid_totp"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_throttled_then_lock_the_account() {
    let app = app_with_user(Backend::Embedded).await;
    // Unknown addresses answer exactly like wrong passwords.
    let unknown = login(&app, "nobody@reseller.test", PASSWORD).await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );

    // Three failures are free; after the fourth, the next try must wait.
    for _ in 0..4 {
        let a = login(&app, "admin@reseller.test", "wrong-password").await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (401, Some("invalid_credentials"))
        );
    }
    // Too soon, even with the right password.
    let a = login(&app, "admin@reseller.test", PASSWORD).await;
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str()),
        (429, Some("too_many_attempts")),
        "{}",
        a.body
    );
    // Keep failing, each time after the (growing) delay has passed, until the lock.
    let mut locked = None;
    for _ in 0..20 {
        app.clock.advance(Duration::from_secs(70));
        let a = login(&app, "admin@reseller.test", "wrong-password").await;
        if a.status == 429 {
            locked = Some(a);
            break;
        }
        assert_eq!(a.status, 401, "{}", a.body);
    }
    let locked = locked.expect("the account locks");
    assert_eq!(
        locked.body["error"]["code"], "account_locked",
        "{}",
        locked.body
    );
    assert!(
        locked.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("until")
    );
    let still = login(&app, "admin@reseller.test", PASSWORD).await;
    assert_eq!(
        still.body["error"]["code"], "account_locked",
        "the right password does not unlock"
    );
    app.clock.advance(Duration::from_secs(16 * 60));
    // After the lock, the old failures are forgotten: one typo does not lock again.
    let typo = login(&app, "admin@reseller.test", "wrong-password").await;
    assert_eq!(
        (typo.status, typo.body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let ok = login(&app, "admin@reseller.test", PASSWORD).await;
    assert_eq!(ok.status, 200, "unlocked after the lock time: {}", ok.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_idle_or_old_and_sign_out_revokes() {
    let app = app_with_user(Backend::Embedded).await;
    let (token, secret) = app.sign_in("admin@reseller.test", None).await;
    app.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        app.call("GET", "/v1/me", Some(&token), None).await.status,
        200,
        "used within 30 min"
    );
    app.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        app.call("GET", "/v1/me", Some(&token), None).await.status,
        200,
        "the use above renewed it"
    );
    app.clock.advance(Duration::from_secs(31 * 60));
    let idle = app.call("GET", "/v1/me", Some(&token), None).await;
    assert_eq!(
        (idle.status, idle.body["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );

    // Absolute lifetime: kept busy, it still ends after 12 hours.
    let (token, secret) = app.sign_in("admin@reseller.test", Some(&secret)).await;
    for _ in 0..(12 * 3) {
        app.clock.advance(Duration::from_secs(20 * 60));
        let _ = app.call("GET", "/v1/me", Some(&token), None).await;
    }
    let old = app.call("GET", "/v1/me", Some(&token), None).await;
    assert_eq!(old.status, 401, "ended by its absolute lifetime");

    let (token, _) = app.sign_in("admin@reseller.test", Some(&secret)).await;
    assert_eq!(
        app.call("POST", "/v1/auth/logout", Some(&token), None)
            .await
            .status,
        204
    );
    assert_eq!(
        app.call("GET", "/v1/me", Some(&token), None).await.status,
        401,
        "signed out"
    );
    let none = app.call("GET", "/v1/me", None, None).await;
    assert_eq!(
        (none.status, none.body["error"]["code"].as_str()),
        (401, Some("missing_authentication"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_links_work_once_and_reveal_no_addresses() {
    let app = app_with_user(Backend::Embedded).await;
    let (token, _) = app.sign_in("admin@reseller.test", None).await;
    let unknown = app
        .call(
            "POST",
            "/v1/auth/password-reset",
            None,
            Some(json!({"email": "nobody@reseller.test"})),
        )
        .await;
    assert_eq!(unknown.status, 202);
    assert!(
        std::fs::read_dir(&app.outbox)
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no mail for an unknown address"
    );
    let known = app
        .call(
            "POST",
            "/v1/auth/password-reset",
            None,
            Some(json!({"email": "admin@reseller.test"})),
        )
        .await;
    assert_eq!(
        (known.status, &known.body),
        (202, &unknown.body),
        "same answer either way"
    );
    let reset = app.last_mailed_token();

    let weak = app
        .call(
            "POST",
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": reset, "password": "short"})),
        )
        .await;
    assert_eq!(
        (weak.status, weak.body["error"]["code"].as_str()),
        (422, Some("invalid_field"))
    );
    let new_password = "Another-Long-Passw0rd";
    let ok = app
        .call(
            "POST",
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": reset, "password": new_password})),
        )
        .await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    let again = app
        .call(
            "POST",
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": reset, "password": new_password})),
        )
        .await;
    assert_eq!(again.status, 401, "a link works once");
    assert_eq!(
        app.call("GET", "/v1/me", Some(&token), None).await.status,
        401,
        "old sessions revoked"
    );
    assert_eq!(
        login(&app, "admin@reseller.test", PASSWORD).await.status,
        401,
        "old password gone"
    );
    assert_eq!(
        login(&app, "admin@reseller.test", new_password)
            .await
            .status,
        200
    );
}

trait ClockSecs {
    fn clock_secs(&self) -> i64;
}

impl ClockSecs for PortalApp {
    fn clock_secs(&self) -> i64 {
        use rampart_ports::Clock;
        self.clock.now().secs()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invited_users_set_a_password_from_the_mail_and_removal_revokes_them() {
    let app = app_with_user(Backend::Embedded).await;
    let (admin, _) = app.sign_in("admin@reseller.test", None).await;
    let add = app
        .call(
            "POST",
            "/v1/tenants/100000.sms/users",
            Some(&admin),
            Some(json!({"email": "Viewer@Reseller.test", "role": "viewer"})),
        )
        .await;
    assert_eq!(add.status, 201, "{}", add.body);
    assert_eq!(add.body["email"], "viewer@reseller.test");
    assert_eq!(add.body["totp_enabled"], false);
    let dup = app
        .call(
            "POST",
            "/v1/tenants/100000.sms/users",
            Some(&admin),
            Some(json!({"email": "viewer@reseller.test", "role": "viewer"})),
        )
        .await;
    assert_eq!(dup.status, 409);

    // No password yet: sign-in fails until the mailed link is used.
    assert_eq!(
        login(&app, "viewer@reseller.test", PASSWORD).await.status,
        401
    );
    let link = app.last_mailed_token();
    let set = app
        .call(
            "POST",
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": link, "password": PASSWORD})),
        )
        .await;
    assert_eq!(set.status, 204, "{}", set.body);
    let (viewer, secret) = app.sign_in("viewer@reseller.test", None).await;
    let users = app
        .call("GET", "/v1/tenants/100000.sms/users", Some(&viewer), None)
        .await;
    assert_eq!(users.body["items"].as_array().unwrap().len(), 2);
    let forbidden = app
        .call(
            "DELETE",
            "/v1/tenants/100000.sms/users/admin@reseller.test",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(forbidden.status, 403);

    // An administrator ends the viewer's sessions; the viewer signs in again.
    let revoked = app
        .call(
            "POST",
            "/v1/tenants/100000.sms/users/viewer@reseller.test/revoke-sessions",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (revoked.status, revoked.body["revoked"].as_u64()),
        (200, Some(1)),
        "{}",
        revoked.body
    );
    assert_eq!(
        app.call("GET", "/v1/me", Some(&viewer), None).await.status,
        401,
        "revoked"
    );
    let (viewer, _) = app.sign_in("viewer@reseller.test", Some(&secret)).await;

    let removed = app
        .call(
            "DELETE",
            "/v1/tenants/100000.sms/users/viewer@reseller.test",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert_eq!(
        app.call("GET", "/v1/me", Some(&viewer), None).await.status,
        401,
        "its sessions end"
    );
    assert_eq!(
        login(&app, "viewer@reseller.test", PASSWORD).await.status,
        401
    );
    let again = app
        .call(
            "DELETE",
            "/v1/tenants/100000.sms/users/viewer@reseller.test",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(again.status, 404);
}
