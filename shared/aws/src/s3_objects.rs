//! The objects port on S3: one bucket, whole-object operations, ranged reads of an
//! object's first bytes, presigned URLs (SigV4 query signing by the SDK; S3
//! enforces signature and expiry, and checks an upload's body against the
//! `x-amz-checksum-sha256` it was presigned with).

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use rampart_domain::Timestamp;
use rampart_ports::objects::{validate_lifetime, validate_object_key, validate_read_prefix_len};
use rampart_ports::{ObjectMeta, ObjectPage, Objects, PresignedRequest, StoreError};
use std::time::Duration;

use crate::aws_error::{code_of, unavailable};

/// The only content type objects are stored and uploaded with.
pub const CONTENT_TYPE: &str = "application/octet-stream";
/// S3 lists at most this many keys per request.
const MAX_LIST: u32 = 1000;
/// The header binding an upload to its body's SHA-256 (base64 of the digest).
pub const CHECKSUM_SHA256_HEADER: &str = "x-amz-checksum-sha256";

pub struct S3Objects {
    client: Client,
    bucket: String,
}

impl S3Objects {
    pub fn new(client: Client, bucket: String) -> Self {
        Self { client, bucket }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn s3_err<E, R>(operation: &'static str, e: SdkError<E, R>) -> StoreError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    unavailable("S3", operation, e)
}

fn presigning(lifetime: Duration) -> Result<PresigningConfig, StoreError> {
    validate_lifetime(lifetime)?;
    PresigningConfig::expires_in(lifetime)
        .map_err(|_| StoreError::Invalid("presign lifetime out of range".into()))
}

fn presigned(
    p: aws_sdk_s3::presigning::PresignedRequest,
    lifetime: Duration,
    must_send: &[(&str, String)],
) -> PresignedRequest {
    let mut headers: Vec<(String, String)> = p
        .headers()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    for (name, value) in must_send {
        if !headers.iter().any(|(k, _)| k == name) {
            headers.push(((*name).to_owned(), value.clone()));
        }
    }
    headers.sort();
    PresignedRequest {
        method: p.method().to_owned(),
        url: p.uri().to_owned(),
        headers,
        expires: Timestamp::now_system().plus(lifetime),
    }
}

#[async_trait]
impl Objects for S3Objects {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        validate_object_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(CONTENT_TYPE)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| s3_err("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        validate_object_key(key)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(s3_err("GetObject", e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::unavailable_msg(format!("S3 GetObject body: {e}")))?;
        Ok(Some(body.into_bytes()))
    }

    async fn read_prefix(&self, key: &str, len: u64) -> Result<Option<Bytes>, StoreError> {
        validate_object_key(key)?;
        validate_read_prefix_len(len)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", len - 1))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            // The only unsatisfiable range starting at 0 is one on an empty object.
            Err(e) if code_of(&e) == Some("InvalidRange") => return Ok(Some(Bytes::new())),
            Err(e) => return Err(s3_err("GetObject (range)", e)),
        };
        // Read no further than `len`, even from a server that ignored the range.
        let limit = usize::try_from(len).unwrap_or(usize::MAX);
        let mut body = out.body;
        let mut buf = Vec::with_capacity(limit.min(64 * 1024));
        while buf.len() < limit {
            match body.next().await {
                Some(Ok(chunk)) => {
                    let take = chunk.len().min(limit - buf.len());
                    buf.extend_from_slice(&chunk[..take]);
                }
                Some(Err(e)) => {
                    return Err(StoreError::unavailable_msg(format!(
                        "S3 GetObject (range) body: {e}"
                    )));
                }
                None => break,
            }
        }
        Ok(Some(Bytes::from(buf)))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        validate_object_key(key)?;
        let out = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => return Err(s3_err("HeadObject", e)),
        };
        Ok(Some(ObjectMeta {
            key: key.to_owned(),
            size: out
                .content_length
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            modified: out
                .last_modified
                .and_then(|t| t.to_millis().ok())
                .map(Timestamp::from_millis)
                .unwrap_or(Timestamp::from_millis(0)),
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_object_key(key)?;
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("NoSuchKey") => Ok(()),
            Err(e) => Err(s3_err("DeleteObject", e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, StoreError> {
        if limit == 0 {
            return Err(StoreError::Invalid("list limit must be at least 1".into()));
        }
        let max_keys = i32::try_from(limit.min(MAX_LIST)).unwrap_or(1000);
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(after.map(str::to_owned))
            .max_keys(max_keys)
            .send()
            .await
            .map_err(|e| s3_err("ListObjectsV2", e))?;
        let objects: Vec<ObjectMeta> = out
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| {
                Some(ObjectMeta {
                    key: o.key?,
                    size: o.size.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    modified: o
                        .last_modified
                        .and_then(|t| t.to_millis().ok())
                        .map(Timestamp::from_millis)
                        .unwrap_or(Timestamp::from_millis(0)),
                })
            })
            .collect();
        let next = if out.is_truncated.unwrap_or(false) {
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        Ok(ObjectPage { objects, next })
    }

    async fn presign_put(
        &self,
        key: &str,
        content_length: u64,
        sha256: &[u8; 32],
        lifetime: Duration,
    ) -> Result<PresignedRequest, StoreError> {
        validate_object_key(key)?;
        let length = i64::try_from(content_length)
            .map_err(|_| StoreError::Invalid("content length out of range".into()))?;
        let checksum = BASE64.encode(sha256);
        // The checksum header is signed with the URL; S3 refuses a body whose
        // SHA-256 differs (400 BadDigest) and then keeps the earlier object. No
        // `x-amz-sdk-checksum-algorithm`: S3 takes the algorithm from the header.
        let p = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(length)
            .content_type(CONTENT_TYPE)
            .checksum_sha256(&checksum)
            .presigned(presigning(lifetime)?)
            .await
            .map_err(|e| s3_err("PutObject (presign)", e))?;
        Ok(presigned(
            p,
            lifetime,
            &[
                ("content-length", content_length.to_string()),
                ("content-type", CONTENT_TYPE.to_owned()),
                (CHECKSUM_SHA256_HEADER, checksum),
            ],
        ))
    }

    async fn presign_get(
        &self,
        key: &str,
        lifetime: Duration,
    ) -> Result<PresignedRequest, StoreError> {
        validate_object_key(key)?;
        let p = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(lifetime)?)
            .await
            .map_err(|e| s3_err("GetObject (presign)", e))?;
        Ok(presigned(p, lifetime, &[]))
    }
}
