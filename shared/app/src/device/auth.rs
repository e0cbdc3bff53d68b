//! The signature headers of a device request, and the checks that need no store.

use axum::http::HeaderMap;
use rampart_domain::Timestamp;
use rampart_domain::device_protocol::{
    CLOCK_WINDOW, DevicePublicKey, HEADER_APPLIANCE, HEADER_NONCE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, SignedParts, valid_nonce,
};

use crate::error::ApiError;

/// The authentication headers of one device request, syntactically valid.
#[derive(Clone, Debug)]
pub struct DeviceAuth {
    pub appliance: Option<String>,
    pub timestamp: Timestamp,
    pub nonce: String,
    pub signature: String,
    /// The address the request came from, as the HTTP layer saw it (the socket's
    /// peer self-hosted, API Gateway's `sourceIp` on AWS), canonical (an IPv4-mapped
    /// IPv6 address becomes the IPv4 address). Never taken from a header the
    /// client controls (`X-Forwarded-For`).
    pub peer: Option<std::net::IpAddr>,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::MissingAuth(name)),
    }
}

impl DeviceAuth {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let appliance = header(headers, HEADER_APPLIANCE)?.map(str::to_owned);
        if appliance.as_ref().is_some_and(|a| a.len() > 64) {
            return Err(ApiError::MissingAuth(HEADER_APPLIANCE));
        }
        let timestamp = header(headers, HEADER_TIMESTAMP)?
            .filter(|t| t.len() <= 20)
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or(ApiError::MissingAuth(HEADER_TIMESTAMP))?;
        let nonce = header(headers, HEADER_NONCE)?
            .filter(|n| valid_nonce(n))
            .ok_or(ApiError::MissingAuth(HEADER_NONCE))?
            .to_owned();
        let signature = header(headers, HEADER_SIGNATURE)?
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or(ApiError::MissingAuth(HEADER_SIGNATURE))?
            .to_owned();
        Ok(Self {
            appliance,
            timestamp: Timestamp::from_millis(timestamp),
            nonce,
            signature,
            peer: None,
        })
    }

    /// The same headers, with the address the request came from.
    pub fn from_peer(mut self, peer: Option<std::net::IpAddr>) -> Self {
        self.peer = peer.map(|p| p.to_canonical());
        self
    }

    /// Refuses a request whose clock is too far from ours either way.
    pub fn check_window(&self, now: Timestamp) -> Result<(), ApiError> {
        if self.timestamp.distance(now) > CLOCK_WINDOW {
            return Err(ApiError::StaleRequest);
        }
        Ok(())
    }

    pub fn verify(
        &self,
        key: &DevicePublicKey,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let parts = SignedParts {
            method,
            path,
            appliance: self.appliance.as_deref(),
            timestamp_ms: self.timestamp.millis(),
            nonce: &self.nonce,
            body,
        };
        if key.verify(&parts, &self.signature) {
            Ok(())
        } else {
            Err(ApiError::BadSignature)
        }
    }
}
