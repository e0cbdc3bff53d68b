//! The objects port on S3: one bucket, whole-object operations, presigned URLs
//! (SigV4 query signing by the SDK; S3 enforces signature and expiry).

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use rampart_domain::Timestamp;
use rampart_ports::objects::{validate_lifetime, validate_object_key};
use rampart_ports::{ObjectMeta, ObjectPage, Objects, PresignedRequest, StoreError};
use std::time::Duration;

use crate::aws_error::{code_of, unavailable};

/// The only content type objects are stored and uploaded with.
pub const CONTENT_TYPE: &str = "application/octet-stream";
/// S3 lists at most this many keys per request.
const MAX_LIST: u32 = 1000;

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
        lifetime: Duration,
    ) -> Result<PresignedRequest, StoreError> {
        validate_object_key(key)?;
        let length = i64::try_from(content_length)
            .map_err(|_| StoreError::Invalid("content length out of range".into()))?;
        let p = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(length)
            .content_type(CONTENT_TYPE)
            .presigned(presigning(lifetime)?)
            .await
            .map_err(|e| s3_err("PutObject (presign)", e))?;
        Ok(presigned(
            p,
            lifetime,
            &[
                ("content-length", content_length.to_string()),
                ("content-type", CONTENT_TYPE.to_owned()),
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
