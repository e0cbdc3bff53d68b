//! Contract checks for the object store port, presigned URLs over real HTTP.

use bytes::Bytes;
use std::time::Duration;

use super::{ObjectsEnv, unique};
use crate::PresignedRequest;
use crate::StoreError;

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
    let body: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let put = env
        .objects
        .presign_put(&key, body.len() as u64, Duration::from_secs(300))
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
    let put = env
        .objects
        .presign_put(&key, 4, Duration::from_secs(300))
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
        .presign_put(&key, 4, Duration::from_secs(1))
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
