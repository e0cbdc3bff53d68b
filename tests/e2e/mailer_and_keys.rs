//! The mailer adapters and the key loaders: SES (API v2) and SSM SecureString
//! parameters on the local AWS emulator, the outbox directory on disk.
//!
//! moto 5.2.5 keeps what SES "sent" in its SES backend, and its introspection
//! endpoint `GET /moto-api/data.json` lists every tracked model instance, SES's
//! `Message` (id, source, destinations, subject, body) among them: the SES test
//! reads the message back from there.

use aws_sdk_ssm::types::ParameterType::{SecureString, String as PlainString};
use base64::Engine;
use rampart_aws::{SesMailer, load_key_parameter};
use rampart_local::OutboxMailer;
use rampart_ports::{Mail, Mailer, StoreError};
use rampart_tests::aws_env;

fn mail(to: &str, body: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "Reset your Rampart password".into(),
        body: body.into(),
    }
}

/// SES messages moto holds, from its introspection endpoint.
///
/// The endpoint dumps every model of every service. It checks each attribute can be
/// serialized, then serializes them all in a second pass; a test of another service
/// changing its state in between (DynamoDB items, say) makes that second pass fail
/// with a 500. Such a dump is asked for again, a few times.
pub(crate) async fn moto_sent_messages() -> Vec<serde_json::Value> {
    let url = format!("{}/moto-api/data.json", aws_env::endpoint());
    let mut attempt = 0;
    let data: serde_json::Value = loop {
        attempt += 1;
        match reqwest::get(&url).await.and_then(|r| r.error_for_status()) {
            Ok(r) => break r.json().await.expect("moto's data.json is JSON"),
            Err(e) if attempt < 10 && e.status().is_some_and(|s| s.is_server_error()) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("GET {url}: {e}"),
        }
    };
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn ses_mailer_sends_from_a_verified_identity_through_the_emulator() {
    rampart_tests::logs::init();
    let clients = aws_env::clients().await;
    let prefix = aws_env::unique_prefix();
    let from = format!("no-reply-{prefix}@rampart.example");
    let to = format!("ops-{prefix}@example.com");

    // SES sends only from verified identities; moto enforces that too.
    let unverified = SesMailer::new(clients.ses.clone(), from.clone());
    let err = unverified
        .send(mail(&to, "never sent"))
        .await
        .expect_err("an unverified sender is refused");
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");

    clients
        .ses
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .expect("creating the SES identity on the emulator");
    let mailer = SesMailer::new(clients.ses.clone(), from.clone());
    let body = format!("Open https://console.example/reset#{prefix} within 30 minutes.\nGrüße");
    let id = mailer
        .send_mail(Mail {
            subject: "Passwort zurücksetzen".into(),
            ..mail(&to, &body)
        })
        .await
        .expect("SES SendEmail")
        .expect("SES returns a message id");

    let sent = moto_sent_messages().await;
    let message = sent
        .iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap_or_else(|| panic!("message {id} among moto's sent messages: {sent:?}"));
    assert_eq!(message["source"], from.as_str());
    assert_eq!(
        message["destinations"]["ToAddresses"],
        serde_json::json!([to])
    );
    assert_eq!(message["subject"], "Passwort zurücksetzen");
    assert_eq!(message["body"], body.as_str());

    // A recipient that is no address is refused before any call.
    let err = mailer.send(mail("", "x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn the_totp_key_is_read_from_a_secure_string_parameter() {
    rampart_tests::logs::init();
    let clients = aws_env::clients().await;
    let prefix = aws_env::unique_prefix();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let put = |name: String, value: String, kind: aws_sdk_ssm::types::ParameterType| {
        let ssm = clients.ssm.clone();
        async move {
            ssm.put_parameter()
                .name(name)
                .value(value)
                .r#type(kind)
                .send()
                .await
                .expect("PutParameter on the emulator");
        }
    };
    let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let good = format!("/{prefix}/totp-key");
    put(good.clone(), b64(&key), SecureString).await;
    assert_eq!(load_key_parameter(&clients.ssm, &good).await.unwrap(), key);

    let missing = format!("/{prefix}/missing");
    let err = format!(
        "{:#}",
        load_key_parameter(&clients.ssm, &missing)
            .await
            .unwrap_err()
    );
    assert!(
        err.contains(&missing) && err.contains("does not exist"),
        "{err}"
    );

    let short_value = b64(b"sixteen-byte-key");
    let short = format!("/{prefix}/short");
    put(short.clone(), short_value.clone(), SecureString).await;
    let err = format!(
        "{:#}",
        load_key_parameter(&clients.ssm, &short).await.unwrap_err()
    );
    assert!(
        err.contains(&short) && err.contains("16 bytes, expected 32"),
        "{err}"
    );
    assert!(
        !err.contains(&short_value) && !err.contains("sixteen"),
        "{err}"
    );

    let garbled = format!("/{prefix}/garbled");
    put(garbled.clone(), "not base64: s3cr3t!".into(), SecureString).await;
    let err = format!(
        "{:#}",
        load_key_parameter(&clients.ssm, &garbled)
            .await
            .unwrap_err()
    );
    assert!(err.contains(&garbled) && !err.contains("s3cr3t"), "{err}");

    // A key kept in plain text is refused, whatever it holds.
    let plain = format!("/{prefix}/plain");
    put(plain.clone(), b64(&key), PlainString).await;
    let err = format!(
        "{:#}",
        load_key_parameter(&clients.ssm, &plain).await.unwrap_err()
    );
    assert!(
        err.contains(&plain) && err.contains("not a SecureString"),
        "{err}"
    );
    assert!(!err.contains(&b64(&key)), "{err}");
}

#[tokio::test]
async fn outbox_mailer_writes_a_private_readable_message_file() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox");
    let mailer = OutboxMailer::new(outbox.clone()).with_from("Rampart <rampart@console.example>");
    let body = "Your invitation: https://console.example/invite#abc123";
    mailer
        .send(mail("new-user@example.com", body))
        .await
        .unwrap();
    mailer
        .send(mail("second@example.com", "second"))
        .await
        .unwrap();

    let mut files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|p| {
        p.extension()
            .is_some_and(|e| e == rampart_local::OUTBOX_EXTENSION)
    }));
    let text = std::fs::read_to_string(&files[0]).unwrap();
    for header in [
        "From: Rampart <rampart@console.example>\r\n",
        "To: new-user@example.com\r\n",
        "Subject: Reset your Rampart password\r\n",
        "Date: ",
        "Message-ID: <",
    ] {
        assert!(text.contains(header), "{header:?} in {text}");
    }
    assert!(text.ends_with(&format!("\r\n\r\n{body}\r\n")), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in &files {
            let mode = std::fs::metadata(f).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", f.display());
        }
    }
}
