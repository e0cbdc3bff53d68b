//! Contract checks for the object store port, presigned URLs over real HTTP.

use bytes::Bytes;
use std::time::Duration;

use super::{CREATED_EVENTS_PREFIX, ObjectsEnv, unique};
use crate::objects::MAX_READ_PREFIX;
use crate::{CreatedObject, PresignedRequest, StoreError, parse_created_objects};

/// A deterministic upload body (70,000 bytes, a few chunks on the wire) ...
fn patterned_body() -> Vec<u8> {
    (0..70_000u32).map(|i| (i % 251) as u8).collect()
}

/// ... and its SHA-256, as `sha256sum` prints it, so the suite needs no hashing
/// of its own.
const PATTERNED_BODY_SHA256: &str =
    "9dc177c2fde29dea8e7c29f7ddf147b7c449c99d049c62f3aac0a5933ecf76a3";

/// SHA-256 of `evil`, the body of the refused uploads.
const EVIL_SHA256: &str = "b5c1fb2efc6d6b4674c2fdcc48ce01b43a3b7c03763c0c3355de0099ee0f8c73";

fn digest(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digest");
    }
    out
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

async fn send(req: &PresignedRequest, body: Option<Vec<u8>>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("method");
    let mut r = client().request(method, &req.url);
    for (k, v) in &req.headers {
        r = r.header(k, v);
    }
    if let Some(b) = body {
        r = r.body(b);
    }
    r.send().await.expect("request reaches the server")
}

pub async fn objects_put_get_head_list_delete(env: &ObjectsEnv) {
    let prefix = unique("objs");
    let o = &env.objects;
    for i in 0..5 {
        o.put(
            &format!("{prefix}/k{i}"),
            Bytes::from(vec![i as u8; 10 + i]),
        )
        .await
        .unwrap();
    }
    o.put(&format!("{prefix}-sibling/x"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    let got = o.get(&format!("{prefix}/k3")).await.unwrap().unwrap();
    assert_eq!(got.as_ref(), &[3u8; 13][..]);
    let head = o.head(&format!("{prefix}/k4")).await.unwrap().unwrap();
    assert_eq!(
        (head.key.as_str(), head.size),
        (format!("{prefix}/k4").as_str(), 14)
    );
    assert_eq!(o.get(&format!("{prefix}/none")).await.unwrap(), None);
    assert_eq!(o.head(&format!("{prefix}/none")).await.unwrap(), None);

    // Listing pages through the prefix in key order.
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = o
            .list(&format!("{prefix}/"), after.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.objects.len() <= 2);
        keys.extend(page.objects.into_iter().map(|m| m.key));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let want: Vec<String> = (0..5).map(|i| format!("{prefix}/k{i}")).collect();
    assert_eq!(keys, want);

    // Overwrite replaces, delete removes, deleting again is fine.
    o.put(&want[0], Bytes::from_static(b"new")).await.unwrap();
    assert_eq!(o.get(&want[0]).await.unwrap().unwrap().as_ref(), b"new");
    o.delete(&want[0]).await.unwrap();
    o.delete(&want[0]).await.unwrap();
    assert_eq!(o.get(&want[0]).await.unwrap(), None);

    let err = o
        .put("../escape", Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

pub async fn objects_presigned_round_trip_over_http(env: &ObjectsEnv) {
    let key = format!("{}/backup.bin", unique("presign"));
    let body = patterned_body();
    let put = env
        .objects
        .presign_put(
            &key,
            body.len() as u64,
            &digest(PATTERNED_BODY_SHA256),
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    assert_eq!(put.method, "PUT");
    let resp = send(&put, Some(body.clone())).await;
    assert!(resp.status().is_success(), "upload: {}", resp.status());
    assert_eq!(
        env.objects.get(&key).await.unwrap().unwrap().as_ref(),
        &body[..]
    );

    let get = env
        .objects
        .presign_get(&key, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(get.method, "GET");
    let resp = send(&get, None).await;
    assert!(resp.status().is_success(), "download: {}", resp.status());
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &body[..]);
}

pub async fn objects_refuse_expired_or_tampered_presigned_urls(env: &ObjectsEnv) {
    if !env.enforces_presign {
        // The local AWS emulator (moto) accepts any presigned URL; S3 itself
        // enforces signatures and expiry. The embedded run covers this check.
        eprintln!("skipped: this backend's emulator does not verify presigned URLs");
        return;
    }
    let key = format!("{}/target.bin", unique("tamper"));
    env.objects
        .put(&key, Bytes::from_static(b"original"))
        .await
        .unwrap();

    // Tampered signature, tampered key, tampered length.
    let evil = digest(EVIL_SHA256);
    let put = env
        .objects
        .presign_put(&key, 4, &evil, Duration::from_secs(300))
        .await
        .unwrap();
    let mut bad_sig = put.clone();
    let last = bad_sig.url.pop().expect("url");
    bad_sig.url.push(if last == '0' { '1' } else { '0' });
    let mut other_key = put.clone();
    other_key.url = other_key.url.replace("target.bin", "other.bin");
    for req in [&bad_sig, &other_key] {
        let resp = send(req, Some(b"evil".to_vec())).await;
        assert!(
            resp.status().is_client_error(),
            "accepted {}: {}",
            req.url,
            resp.status()
        );
    }
    let resp = send(&put, Some(b"evil!".to_vec())).await;
    assert!(
        resp.status().is_client_error(),
        "wrong length accepted: {}",
        resp.status()
    );

    // Expired.
    let short = env
        .objects
        .presign_put(&key, 4, &evil, Duration::from_secs(1))
        .await
        .unwrap();
    let short_get = env
        .objects
        .presign_get(&key, Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let resp = send(&short, Some(b"evil".to_vec())).await;
    assert!(
        resp.status().is_client_error(),
        "expired upload: {}",
        resp.status()
    );
    let resp = send(&short_get, None).await;
    assert!(
        resp.status().is_client_error(),
        "expired download: {}",
        resp.status()
    );
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert!(body["error"]["code"].is_string(), "{body}");

    assert_eq!(
        env.objects.get(&key).await.unwrap().unwrap().as_ref(),
        b"original",
        "refused uploads leave the object unchanged"
    );
}

pub async fn objects_presigned_upload_is_bound_to_its_checksum(env: &ObjectsEnv) {
    let key = format!("{}/bound.bin", unique("checksum"));
    let body = patterned_body();
    let sha256 = digest(PATTERNED_BODY_SHA256);
    let len = body.len() as u64;
    let put = env
        .objects
        .presign_put(&key, len, &sha256, Duration::from_secs(300))
        .await
        .unwrap();
    let resp = send(&put, Some(body.clone())).await;
    assert!(resp.status().is_success(), "upload: {}", resp.status());
    assert_eq!(
        env.objects.get(&key).await.unwrap().unwrap().as_ref(),
        &body[..]
    );

    if !env.verifies_upload_checksum {
        // moto does not verify x-amz-checksum-sha256 on a presigned PUT (it stores
        // the body and the claimed checksum as sent); S3 itself does, with 400
        // BadDigest. The embedded run covers this refusal.
        eprintln!("skipped: this backend's emulator does not verify upload checksums");
        return;
    }
    // A different body of the same length: refused, and the earlier object stays.
    let mut wrong = body.clone();
    wrong[len as usize / 2] ^= 0xff;
    let again = env
        .objects
        .presign_put(&key, len, &sha256, Duration::from_secs(300))
        .await
        .unwrap();
    let resp = send(&again, Some(wrong.clone())).await;
    assert!(
        resp.status().is_client_error(),
        "wrong body accepted: {}",
        resp.status()
    );
    assert_eq!(
        env.objects.get(&key).await.unwrap().unwrap().as_ref(),
        &body[..],
        "a refused upload leaves the earlier object unchanged"
    );
    // Under a new key: refused, nothing stored.
    let fresh = format!("{}/fresh.bin", unique("checksum"));
    let put = env
        .objects
        .presign_put(&fresh, len, &sha256, Duration::from_secs(300))
        .await
        .unwrap();
    let resp = send(&put, Some(wrong)).await;
    assert!(
        resp.status().is_client_error(),
        "wrong body accepted: {}",
        resp.status()
    );
    assert_eq!(env.objects.head(&fresh).await.unwrap(), None);
}

pub async fn objects_read_prefix_reads_only_the_first_bytes(env: &ObjectsEnv) {
    let prefix = unique("prefix");
    let o = &env.objects;
    let long = format!("{prefix}/long.bin");
    let body = Bytes::from(patterned_body());
    o.put(&long, body.clone()).await.unwrap();
    for n in [1u64, 100, 65_536, 69_999, 70_000] {
        let got = o
            .read_prefix(&long, n)
            .await
            .unwrap()
            .expect("object exists");
        assert_eq!(got.as_ref(), &body[..n as usize], "first {n} bytes");
    }
    // Asking for more than the object holds gives the whole object.
    for n in [70_001, MAX_READ_PREFIX] {
        let got = o
            .read_prefix(&long, n)
            .await
            .unwrap()
            .expect("object exists");
        assert_eq!(got, body, "first {n} bytes of a shorter object");
    }
    let short = format!("{prefix}/short.bin");
    o.put(&short, Bytes::from_static(b"abc")).await.unwrap();
    assert_eq!(
        o.read_prefix(&short, 64).await.unwrap().unwrap().as_ref(),
        b"abc"
    );
    let empty = format!("{prefix}/empty.bin");
    o.put(&empty, Bytes::new()).await.unwrap();
    assert_eq!(
        o.read_prefix(&empty, 64).await.unwrap().unwrap().as_ref(),
        b""
    );
    assert_eq!(
        o.read_prefix(&format!("{prefix}/none"), 64).await.unwrap(),
        None
    );
    for (key, n) in [
        (long.as_str(), 0),
        (long.as_str(), MAX_READ_PREFIX + 1),
        ("../escape", 64),
    ] {
        let err = o.read_prefix(key, n).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{key} {n}: {err:?}");
    }
}

pub async fn objects_created_under_backups_are_announced(env: &ObjectsEnv) {
    let id = unique("events");
    let o = &env.objects;
    let put_key = format!("{CREATED_EVENTS_PREFIX}{id}/put.rbk");
    let upload_key = format!("{CREATED_EVENTS_PREFIX}{id}/upload.rbk");
    o.put(&format!("elsewhere/{id}/x.rbk"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    o.put(&put_key, Bytes::from_static(b"header+body"))
        .await
        .unwrap();
    let body = patterned_body();
    let put = o
        .presign_put(
            &upload_key,
            body.len() as u64,
            &digest(PATTERNED_BODY_SHA256),
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    let resp = send(&put, Some(body)).await;
    assert!(resp.status().is_success(), "upload: {}", resp.status());

    let mut want = vec![
        CreatedObject {
            key: put_key,
            size: 11,
        },
        CreatedObject {
            key: upload_key,
            size: 70_000,
        },
    ];
    want.sort_by(|a, b| a.key.cmp(&b.key));
    let mut seen: Vec<CreatedObject> = Vec::new();
    let mut raw = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // Until both arrived, then one more empty wait to catch anything extra.
    let mut quiet_rounds = 0;
    while tokio::time::Instant::now() < deadline && quiet_rounds < 1 {
        let messages = env
            .created_events
            .receive(10, Duration::from_secs(1), Duration::from_secs(30))
            .await
            .unwrap();
        if messages.is_empty() && want.iter().all(|w| seen.contains(w)) {
            quiet_rounds += 1;
        }
        for m in messages {
            // S3's s3:TestEvent (sent when notifications are configured) parses
            // to no objects and is dropped like any other message.
            let created = parse_created_objects(&m.body)
                .unwrap_or_else(|e| panic!("{e} ({}): {}", e.code(), m.body));
            env.created_events.delete(&m.receipt).await.unwrap();
            seen.extend(created);
            raw.push(m.body);
        }
    }
    seen.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(seen, want, "messages: {raw:#?}");
}
