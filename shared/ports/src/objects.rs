//! The object store port: whole-object put/get/head/delete/list, reads of an
//! object's first bytes, and presigned URLs that let a client (an appliance) upload
//! or download without passing through the console's API (S3 presigned URLs on AWS;
//! HMAC-signed URLs of the self-hosted server when embedded). A presigned upload is
//! bound to the exact length and SHA-256 of its body.

use async_trait::async_trait;
use bytes::Bytes;
use rampart_domain::Timestamp;
use std::time::Duration;

use crate::StoreError;

/// Longest lifetime a presigned URL may be given.
pub const MAX_PRESIGN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most bytes one [`Objects::read_prefix`] may ask for: enough for any header,
/// small enough that a consumer never pulls a whole backup into memory by mistake.
pub const MAX_READ_PREFIX: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub modified: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPage {
    pub objects: Vec<ObjectMeta>,
    /// Pass back as `after` to continue; None when the listing is complete.
    pub next: Option<String>,
}

/// A request a client can make without credentials until `expires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: String,
    pub url: String,
    /// Headers the client must send exactly as given (they are part of the signature).
    pub headers: Vec<(String, String)>,
    pub expires: Timestamp,
}

#[async_trait]
pub trait Objects: Send + Sync + 'static {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;
    /// At most the first `len` bytes of the object (all of it when it is shorter),
    /// None when it is missing; only those bytes are read from the store. `len`
    /// must be 1..=[`MAX_READ_PREFIX`].
    async fn read_prefix(&self, key: &str, len: u64) -> Result<Option<Bytes>, StoreError>;
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;
    /// Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Objects whose key starts with `prefix`, in key order, after key `after`.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, StoreError>;
    /// A PUT of exactly `content_length` bytes of `application/octet-stream` whose
    /// SHA-256 is `sha256`: the store refuses any other body and then keeps what it
    /// held under `key` before. The client sends the returned headers as given.
    async fn presign_put(
        &self,
        key: &str,
        content_length: u64,
        sha256: &[u8; 32],
        lifetime: Duration,
    ) -> Result<PresignedRequest, StoreError>;
    async fn presign_get(
        &self,
        key: &str,
        lifetime: Duration,
    ) -> Result<PresignedRequest, StoreError>;
}

/// Object keys are relative paths of safe characters: no `..`, no leading `/`,
/// at most 512 bytes. Shared by adapters so that both refuse the same keys.
pub fn validate_object_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && !key.ends_with('/')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'='))
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "object key is not a safe relative path".into(),
        ))
    }
}

pub fn validate_lifetime(lifetime: Duration) -> Result<(), StoreError> {
    if lifetime.is_zero() || lifetime > MAX_PRESIGN_LIFETIME {
        return Err(StoreError::Invalid("presign lifetime out of range".into()));
    }
    Ok(())
}

pub fn validate_read_prefix_len(len: u64) -> Result<(), StoreError> {
    if len == 0 || len > MAX_READ_PREFIX {
        return Err(StoreError::Invalid(format!(
            "prefix read length must be 1..={MAX_READ_PREFIX} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_must_be_safe_relative_paths() {
        for good in ["a", "backups/A1B2/2026-01-01.rbk", "x_y-z.1=2"] {
            assert!(validate_object_key(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/../b", "a/./b", "a b", "a\\b", "ä",
        ] {
            assert!(validate_object_key(bad).is_err(), "{bad}");
        }
        assert!(validate_object_key(&"a".repeat(513)).is_err());
    }

    #[test]
    fn prefix_reads_are_bounded() {
        assert!(validate_read_prefix_len(1).is_ok());
        assert!(validate_read_prefix_len(MAX_READ_PREFIX).is_ok());
        assert!(validate_read_prefix_len(0).is_err());
        assert!(validate_read_prefix_len(MAX_READ_PREFIX + 1).is_err());
    }
}
