//! Presigned URLs of the self-hosted server: HMAC-SHA256 over the method, object
//! key, expiry and (for uploads) the exact length and SHA-256 of the body, so a URL
//! grants one operation on one object until it expires, and an upload URL only for
//! those bytes.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The server's signing key. Never printed: `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct PresignKey([u8; 32]);

impl std::fmt::Debug for PresignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresignKey(..)")
    }
}

/// What a presigned URL allows.
pub(crate) struct Grant<'a> {
    pub method: &'a str,
    pub key: &'a str,
    pub expires: i64,
    /// The exact body, for uploads.
    pub upload: Option<UploadBinding>,
}

/// The body an upload URL admits: exactly `len` bytes whose SHA-256 is `sha256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UploadBinding {
    pub len: u64,
    pub sha256: [u8; 32],
}

impl PresignKey {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    pub(crate) fn sign(&self, grant: &Grant<'_>) -> String {
        hex::encode(self.mac(grant))
    }

    /// Constant-time check of a hex signature from a URL.
    pub(crate) fn verify(&self, grant: &Grant<'_>, sig_hex: &str) -> bool {
        let Ok(sig) = hex::decode(sig_hex) else {
            return false;
        };
        let expected = self.mac(grant);
        sig.len() == expected.len() && bool::from(expected.ct_eq(sig.as_slice()))
    }

    fn mac(&self, grant: &Grant<'_>) -> [u8; 32] {
        // A download's message is unchanged from before uploads carried a checksum
        // (its URLs stay valid); an upload's has one field more.
        let body = grant.upload.map_or_else(
            || "-".to_owned(),
            |u| format!("{}\n{}", u.len, hex::encode(u.sha256)),
        );
        // Newline-separated: no field may contain a newline (keys and methods
        // cannot), so distinct grants never produce the same message.
        let message = format!(
            "rampart-presign-v1\n{}\n{}\n{}\n{}",
            grant.method, grant.key, grant.expires, body
        );
        let mut mac =
            HmacSha256::new_from_slice(&self.0).expect("HMAC accepts a key of any length");
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(upload: Option<UploadBinding>) -> Grant<'static> {
        Grant {
            method: "PUT",
            key: "a/b",
            expires: 100,
            upload,
        }
    }

    fn upload(len: u64, sha256: [u8; 32]) -> Option<UploadBinding> {
        Some(UploadBinding { len, sha256 })
    }

    #[test]
    fn every_field_is_signed() {
        let k = PresignKey::new([7; 32]);
        let sig = k.sign(&grant(upload(5, [1; 32])));
        assert!(k.verify(&grant(upload(5, [1; 32])), &sig));
        assert!(!k.verify(&grant(upload(6, [1; 32])), &sig));
        let mut other_sha = [1; 32];
        other_sha[31] = 2;
        assert!(!k.verify(&grant(upload(5, other_sha)), &sig));
        assert!(!k.verify(&grant(None), &sig));
        let other = Grant {
            method: "GET",
            ..grant(upload(5, [1; 32]))
        };
        assert!(!k.verify(&other, &sig));
        let other = Grant {
            expires: 101,
            ..grant(upload(5, [1; 32]))
        };
        assert!(!k.verify(&other, &sig));
        let other = Grant {
            key: "a/c",
            ..grant(upload(5, [1; 32]))
        };
        assert!(!k.verify(&other, &sig));
        assert!(!k.verify(&grant(upload(5, [1; 32])), "zz"));
        assert!(!k.verify(&grant(upload(5, [1; 32])), &sig[..10]));
        assert!(!PresignKey::new([8; 32]).verify(&grant(upload(5, [1; 32])), &sig));
        assert_eq!(format!("{k:?}"), "PresignKey(..)");
    }
}
