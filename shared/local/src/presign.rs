//! Presigned URLs of the self-hosted server: HMAC-SHA256 over the method, object
//! key, expiry and (for uploads) the exact length, so a URL grants one operation on
//! one object until it expires, and an upload URL only for that many bytes.

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
    /// Exact body length, for uploads.
    pub len: Option<u64>,
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
        let len = grant.len.map_or_else(|| "-".to_owned(), |l| l.to_string());
        // Newline-separated: no field may contain a newline (keys and methods
        // cannot), so distinct grants never produce the same message.
        let message = format!(
            "rampart-presign-v1\n{}\n{}\n{}\n{}",
            grant.method, grant.key, grant.expires, len
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

    fn grant(len: Option<u64>) -> Grant<'static> {
        Grant {
            method: "PUT",
            key: "a/b",
            expires: 100,
            len,
        }
    }

    #[test]
    fn every_field_is_signed() {
        let k = PresignKey::new([7; 32]);
        let sig = k.sign(&grant(Some(5)));
        assert!(k.verify(&grant(Some(5)), &sig));
        assert!(!k.verify(&grant(Some(6)), &sig));
        assert!(!k.verify(&grant(None), &sig));
        let other = Grant {
            method: "GET",
            ..grant(Some(5))
        };
        assert!(!k.verify(&other, &sig));
        let other = Grant {
            expires: 101,
            ..grant(Some(5))
        };
        assert!(!k.verify(&other, &sig));
        assert!(!k.verify(&grant(Some(5)), "zz"));
        assert!(!k.verify(&grant(Some(5)), &sig[..10]));
        assert!(!PresignKey::new([8; 32]).verify(&grant(Some(5)), &sig));
        assert_eq!(format!("{k:?}"), "PresignKey(..)");
    }
}
