//! The self-hosted server's end of presigned URLs: `PUT` and `GET` on
//! `/v1/objects/{key}` with the query a `FsObjects` presign produced. Refusals are
//! JSON with stable codes; a refused upload never touches the stored object, and an
//! upload never holds more than its declared length (+1 byte to detect excess).
//! An upload is hashed while it streams to disk and committed only when its length
//! and SHA-256 are the ones the URL was signed for; once committed, it is announced
//! to the created-object queue (`FsObjects::notify_created`), and if that fails the
//! client gets 503 `notification_failed` and repeats the (idempotent) upload.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use rampart_domain::Timestamp;
use rampart_ports::objects::validate_object_key;
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::atomic_file::PendingFile;
use crate::fs_objects::{FsObjects, OCTET_STREAM};
use crate::presign::{Grant, UploadBinding};

/// Chunk size for streaming a download from disk.
const READ_CHUNK: usize = 64 * 1024;

pub fn objects_router(objects: Arc<FsObjects>) -> Router {
    Router::new()
        .route("/v1/objects/{*key}", put(upload).get(download))
        .with_state(objects)
}

/// Why a request was refused; each maps to one stable error code.
enum Refusal {
    PresignInvalid,
    PresignExpired,
    LengthMismatch,
    ChecksumMismatch,
    UnsupportedMediaType,
    NotFound,
    NotificationFailed,
    Internal,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Refusal::PresignInvalid => (
                StatusCode::FORBIDDEN,
                "presign_invalid",
                "the URL's signature is missing or does not match",
            ),
            Refusal::PresignExpired => (
                StatusCode::FORBIDDEN,
                "presign_expired",
                "the URL has expired",
            ),
            Refusal::LengthMismatch => (
                StatusCode::BAD_REQUEST,
                "length_mismatch",
                "the body length differs from the length the URL was signed for",
            ),
            Refusal::ChecksumMismatch => (
                StatusCode::BAD_REQUEST,
                "checksum_mismatch",
                "the body's SHA-256 differs from the checksum the URL was signed for",
            ),
            Refusal::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/octet-stream",
            ),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such object"),
            Refusal::NotificationFailed => (
                StatusCode::SERVICE_UNAVAILABLE,
                "notification_failed",
                "the object was stored but its arrival could not be announced; repeat the upload",
            ),
            Refusal::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the object store failed",
            ),
        };
        let body = serde_json::json!({ "error": { "code": code, "message": message } });
        (status, axum::Json(body)).into_response()
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "{what}");
    Refusal::Internal
}

struct SignedQuery {
    expires: i64,
    len: Option<u64>,
    sha256: Option<[u8; 32]>,
    sig: String,
}

fn parse_sha256(hex_digest: &str) -> Option<[u8; 32]> {
    hex::decode(hex_digest).ok()?.try_into().ok()
}

fn parse_query(raw: Option<&str>) -> Option<SignedQuery> {
    let (mut expires, mut len, mut sha256, mut sig) = (None, None, None, None);
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        // A repeated parameter is ambiguous: refuse rather than pick one.
        let slot_taken = match name.as_ref() {
            "expires" => expires.replace(value.parse::<i64>().ok()?).is_some(),
            "len" => len.replace(value.parse::<u64>().ok()?).is_some(),
            "sha256" => sha256.replace(parse_sha256(&value)?).is_some(),
            "sig" => sig.replace(value.into_owned()).is_some(),
            _ => false,
        };
        if slot_taken {
            return None;
        }
    }
    Some(SignedQuery {
        expires: expires?,
        len,
        sha256,
        sig: sig?,
    })
}

/// Checks the URL: a valid key, a signature over exactly this grant, not expired.
/// For an upload, returns the body the URL admits.
fn authorize(
    objects: &FsObjects,
    method: &str,
    key: &str,
    query: Option<&str>,
) -> Result<Option<UploadBinding>, Refusal> {
    let q = parse_query(query).ok_or(Refusal::PresignInvalid)?;
    let upload = match (q.len, q.sha256) {
        (Some(len), Some(sha256)) => Some(UploadBinding { len, sha256 }),
        (None, None) => None,
        // Half an upload binding was never signed.
        _ => return Err(Refusal::PresignInvalid),
    };
    if validate_object_key(key).is_err() || (method == "PUT") != upload.is_some() {
        return Err(Refusal::PresignInvalid);
    }
    let grant = Grant {
        method,
        key,
        expires: q.expires,
        upload,
    };
    if !objects.verify(&grant, &q.sig) {
        return Err(Refusal::PresignInvalid);
    }
    if Timestamp::now_system().secs() >= q.expires {
        return Err(Refusal::PresignExpired);
    }
    Ok(upload)
}

fn is_octet_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(OCTET_STREAM))
}

async fn upload(
    State(objects): State<Arc<FsObjects>>,
    key: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(Path(key)) = key else {
        return Refusal::PresignInvalid.into_response();
    };
    let upload = match authorize(&objects, "PUT", &key, query.as_deref()) {
        Ok(Some(upload)) => upload,
        Ok(None) => return Refusal::PresignInvalid.into_response(),
        Err(refusal) => return refusal.into_response(),
    };
    let len = upload.len;
    if !is_octet_stream(&headers) {
        return Refusal::UnsupportedMediaType.into_response();
    }
    // A declared length that differs is refused before reading anything.
    if let Some(declared) = headers.get(header::CONTENT_LENGTH)
        && declared.to_str().ok().and_then(|v| v.parse::<u64>().ok()) != Some(len)
    {
        return Refusal::LengthMismatch.into_response();
    }
    let pending = match receive_body(objects.object_path(&key), upload, body).await {
        Ok(pending) => pending,
        Err(refusal) => return refusal.into_response(),
    };
    match tokio::task::spawn_blocking(move || pending.commit()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return internal("storing upload failed", e).into_response(),
        Err(e) => return internal("storing upload failed", e).into_response(),
    }
    match objects.announce_created(&key, len).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "announcing an upload failed");
            Refusal::NotificationFailed.into_response()
        }
    }
}

/// Streams the body into a temp file beside the object, hashing it on the way.
/// The file (not yet committed) when exactly `upload.len` bytes arrived with the
/// SHA-256 `upload.sha256`; otherwise the refusal, the temp file gone and the object
/// untouched.
async fn receive_body(
    target: std::path::PathBuf,
    upload: UploadBinding,
    body: Body,
) -> Result<PendingFile, Refusal> {
    let len = upload.len;
    let (chunks, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    // File writes are blocking: one blocking task per upload takes the chunks and
    // hashes them (off the async workers too).
    let writer =
        tokio::task::spawn_blocking(move || -> std::io::Result<(PendingFile, [u8; 32])> {
            let mut pending = PendingFile::create(&target)?;
            let mut hasher = Sha256::new();
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                pending.write(&chunk)?;
            }
            Ok((pending, hasher.finalize().into()))
        });
    let limit = usize::try_from(len.saturating_add(1)).unwrap_or(usize::MAX);
    let mut body = Limited::new(body, limit);
    let mut received: u64 = 0;
    let mut length_ok = true;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            // Over the limit, or the client went away: either way not `len` bytes.
            length_ok = false;
            break;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > len {
            length_ok = false;
            break;
        }
        if chunks.send(data).await.is_err() {
            // The writer stopped early: its error is reported below.
            break;
        }
    }
    drop(chunks);
    let (pending, sha256) = match writer.await {
        Ok(Ok(written)) => written,
        Ok(Err(e)) => return Err(internal("writing upload failed", e)),
        Err(e) => return Err(internal("writing upload failed", e)),
    };
    let refusal = if !length_ok || received != len {
        Refusal::LengthMismatch
    } else if sha256 != upload.sha256 {
        Refusal::ChecksumMismatch
    } else {
        return Ok(pending);
    };
    // Removing the temp file is a blocking unlink; keep it off the runtime.
    let _ = tokio::task::spawn_blocking(move || drop(pending)).await;
    Err(refusal)
}

async fn download(
    State(objects): State<Arc<FsObjects>>,
    key: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(Path(key)) = key else {
        return Refusal::PresignInvalid.into_response();
    };
    if let Err(refusal) = authorize(&objects, "GET", &key, query.as_deref()) {
        return refusal.into_response();
    }
    let file = match tokio::fs::File::open(objects.object_path(&key)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Refusal::NotFound.into_response();
        }
        Err(e) => return internal("opening object failed", e).into_response(),
    };
    let size = match file.metadata().await {
        Ok(m) => m.len(),
        Err(e) => return internal("reading object metadata failed", e).into_response(),
    };
    let stream = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; READ_CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use rampart_ports::Objects;
    use std::time::Duration;
    use tower::ServiceExt;

    const KEY: [u8; 32] = [3; 32];

    fn setup() -> (tempfile::TempDir, Arc<FsObjects>, Router) {
        let tmp = tempfile::tempdir().unwrap();
        let objects =
            Arc::new(FsObjects::open(tmp.path().join("o"), "http://h".into(), KEY).unwrap());
        let router = objects_router(Arc::clone(&objects));
        (tmp, objects, router)
    }

    /// A URL signed for an arbitrary grant (e.g. one already expired).
    fn signed_path(method: &str, key: &str, expires: i64, upload: Option<&[u8]>) -> String {
        let upload = upload.map(|body| UploadBinding {
            len: body.len() as u64,
            sha256: Sha256::digest(body).into(),
        });
        let sig = crate::presign::PresignKey::new(KEY).sign(&Grant {
            method,
            key,
            expires,
            upload,
        });
        let upload = upload
            .map(|u| format!("&len={}&sha256={}", u.len, hex::encode(u.sha256)))
            .unwrap_or_default();
        format!("/v1/objects/{key}?expires={expires}{upload}&sig={sig}")
    }

    fn path_of(url: &str) -> String {
        url.strip_prefix("http://h").unwrap().to_owned()
    }

    fn put_req(path: &str, content_type: Option<&str>, body: &'static [u8]) -> Request<Body> {
        let mut b = Request::put(path);
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::from(body)).unwrap()
    }

    async fn code(router: &Router, req: Request<Body>) -> (StatusCode, String) {
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        (status, code)
    }

    #[tokio::test]
    async fn refusals_have_stable_codes_and_leave_the_object_unchanged() {
        let (_tmp, objects, router) = setup();
        objects
            .put("a/obj", Bytes::from_static(b"original"))
            .await
            .unwrap();
        let future = Timestamp::now_system().secs() + 300;
        let good = signed_path("PUT", "a/obj", future, Some(b"good"));
        let good_sha = hex::encode(Sha256::digest(b"good"));
        let evil_sha = hex::encode(Sha256::digest(b"evil"));
        let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
            (
                put_req(&good.replace("sig=", "sig=00"), Some(OCTET_STREAM), b"evil"),
                StatusCode::FORBIDDEN,
                "presign_invalid",
            ),
            (
                put_req(
                    &good.replace(&good_sha, &evil_sha),
                    Some(OCTET_STREAM),
                    b"evil",
                ),
                StatusCode::FORBIDDEN,
                "presign_invalid",
            ),
            (
                put_req(
                    &good.replace(&format!("&sha256={good_sha}"), ""),
                    Some(OCTET_STREAM),
                    b"evil",
                ),
                StatusCode::FORBIDDEN,
                "presign_invalid",
            ),
            (
                put_req(
                    &good.replace(&good_sha, &good_sha[..62]),
                    Some(OCTET_STREAM),
                    b"evil",
                ),
                StatusCode::FORBIDDEN,
                "presign_invalid",
            ),
            (
                put_req(
                    &good.replace("len=4", "len=5"),
                    Some(OCTET_STREAM),
                    b"evil!",
                ),
                StatusCode::FORBIDDEN,
                "presign_invalid",
            ),
            (
                put_req("/v1/objects/a/obj", Some(OCTET_STREAM), b"evil"),
                StatusCode::FORBIDDEN,
                "presign_invalid",
            ),
            (
                put_req(
                    &signed_path("GET", "a/obj", future, None),
                    Some(OCTET_STREAM),
                    b"evil",
                ),
                StatusCode::FORBIDDEN,
                "presign_invalid",
            ),
            (
                put_req(
                    &signed_path("PUT", "a/obj", future - 400, Some(b"evil")),
                    Some(OCTET_STREAM),
                    b"evil",
                ),
                StatusCode::FORBIDDEN,
                "presign_expired",
            ),
            (
                put_req(&good, None, b"evil"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                put_req(&good, Some("application/x-www-form-urlencoded"), b"evil"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                put_req(&good, Some(OCTET_STREAM), b"evi"),
                StatusCode::BAD_REQUEST,
                "length_mismatch",
            ),
            (
                put_req(&good, Some(OCTET_STREAM), b"evil!"),
                StatusCode::BAD_REQUEST,
                "length_mismatch",
            ),
            (
                put_req(&good, Some(OCTET_STREAM), b"evil"),
                StatusCode::BAD_REQUEST,
                "checksum_mismatch",
            ),
        ];
        for (req, status, want) in cases {
            let uri = req.uri().to_string();
            assert_eq!(code(&router, req).await, (status, want.to_owned()), "{uri}");
        }
        // A streamed body (no Content-Length) that runs past the length is cut off.
        let chunks = futures::stream::iter(
            [b"ev".as_slice(), b"il", b"!!"].map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        );
        let req = Request::put(&good)
            .header(header::CONTENT_TYPE, OCTET_STREAM)
            .body(Body::from_stream(chunks))
            .unwrap();
        assert_eq!(
            code(&router, req).await,
            (StatusCode::BAD_REQUEST, "length_mismatch".to_owned())
        );
        // The checksum covers the whole stream, across chunks.
        let req = streamed_put(&good, &[b"go", b"oD"]);
        assert_eq!(
            code(&router, req).await,
            (StatusCode::BAD_REQUEST, "checksum_mismatch".to_owned())
        );
        assert_eq!(objects.get("a/obj").await.unwrap().unwrap(), "original");
        // No temp files are left behind by the refusals.
        assert_eq!(objects.list("", None, 10).await.unwrap().objects.len(), 1);
        let dir = std::fs::read_dir(objects.object_path("a/obj").parent().unwrap()).unwrap();
        assert_eq!(dir.count(), 1);

        // The untampered URL works, with a parameterised content type too, and
        // streamed in chunks.
        let req = put_req(&good, Some("Application/Octet-Stream; x=y"), b"good");
        assert_eq!(code(&router, req).await.0, StatusCode::OK);
        assert_eq!(objects.get("a/obj").await.unwrap().unwrap(), "good");
        objects.delete("a/obj").await.unwrap();
        let req = streamed_put(&good, &[b"g", b"oo", b"d"]);
        assert_eq!(code(&router, req).await.0, StatusCode::OK);
        assert_eq!(objects.get("a/obj").await.unwrap().unwrap(), "good");
    }

    fn streamed_put(path: &str, chunks: &[&'static [u8]]) -> Request<Body> {
        let chunks: Vec<_> = chunks
            .iter()
            .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c)))
            .collect();
        Request::put(path)
            .header(header::CONTENT_TYPE, OCTET_STREAM)
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .unwrap()
    }

    #[tokio::test]
    async fn committed_uploads_under_the_prefix_are_announced() {
        use crate::fs_objects::tests::RecordingQueue;
        let (_tmp, objects, router) = setup();
        let queue = Arc::new(RecordingQueue::default());
        objects.notify_created("backups/", queue.clone()).unwrap();
        let future = Timestamp::now_system().secs() + 300;
        let backup = signed_path("PUT", "backups/A1/1.rbk", future, Some(b"backup"));
        let other = signed_path("PUT", "other/1.rbk", future, Some(b"other"));

        let req = put_req(&other, Some(OCTET_STREAM), b"other");
        assert_eq!(code(&router, req).await.0, StatusCode::OK);
        let req = put_req(&backup, Some(OCTET_STREAM), b"bad!!!");
        assert_eq!(code(&router, req).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(queue.created(), [], "refused uploads are not announced");
        let req = put_req(&backup, Some(OCTET_STREAM), b"backup");
        assert_eq!(code(&router, req).await.0, StatusCode::OK);
        assert_eq!(queue.created(), [("backups/A1/1.rbk".to_owned(), 6)]);

        // The queue is down: the upload is stored, but the client is told to retry,
        // and the retry (same URL, same bytes) is announced.
        let key = "backups/A1/2.rbk";
        let path = signed_path("PUT", key, future, Some(b"second"));
        queue.fail(true);
        let req = put_req(&path, Some(OCTET_STREAM), b"second");
        assert_eq!(
            code(&router, req).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "notification_failed".to_owned()
            )
        );
        assert_eq!(objects.get(key).await.unwrap().unwrap(), "second");
        queue.fail(false);
        let req = put_req(&path, Some(OCTET_STREAM), b"second");
        assert_eq!(code(&router, req).await.0, StatusCode::OK);
        assert_eq!(queue.created()[1], (key.to_owned(), 6));
        assert_eq!(queue.created().len(), 2);
    }

    #[tokio::test]
    async fn downloads_check_the_url_and_report_missing_objects() {
        let (_tmp, objects, router) = setup();
        objects
            .put("k", Bytes::from_static(b"content"))
            .await
            .unwrap();
        let get = objects
            .presign_get("k", Duration::from_secs(60))
            .await
            .unwrap();
        let resp = router
            .clone()
            .oneshot(Request::get(path_of(&get.url)).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_LENGTH],
            HeaderValue::from(7u64)
        );
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "content");

        let missing = objects
            .presign_get("nope", Duration::from_secs(60))
            .await
            .unwrap();
        let req = Request::get(path_of(&missing.url))
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            code(&router, req).await,
            (StatusCode::NOT_FOUND, "not_found".to_owned())
        );
        let expired = signed_path("GET", "k", Timestamp::now_system().secs() - 1, None);
        let req = Request::get(expired).body(Body::empty()).unwrap();
        assert_eq!(
            code(&router, req).await,
            (StatusCode::FORBIDDEN, "presign_expired".to_owned())
        );
        let req = Request::get(path_of(&get.url).replace("/k?", "/other?"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            code(&router, req).await,
            (StatusCode::FORBIDDEN, "presign_invalid".to_owned())
        );
        // A download URL with an upload checksum added was never signed.
        let req = Request::get(format!("{}&sha256={}", path_of(&get.url), "00".repeat(32)))
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            code(&router, req).await,
            (StatusCode::FORBIDDEN, "presign_invalid".to_owned())
        );
        let req = Request::get("/v1/objects/k?expires=x&sig=y")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            code(&router, req).await,
            (StatusCode::FORBIDDEN, "presign_invalid".to_owned())
        );
    }
}
