//! Security scan on the console side (SPEC 7): a scan requested in the portal
//! (`PortalService::start_scan`) goes through the `scan` queue to the `security-scan` consumer
//! ([`consumer`]), which scans each public interface's address that the console
//! has seen the appliance come from, through the scanner's target policy. What
//! the policy refuses (every special-purpose range unless the operator allows
//! it) is recorded with the reason and never scanned.

pub mod consumer;

use rampart_ports::{Clock, Table};
use rampart_scanner::{AllowList, AllowListError, ScanOptions};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use crate::error::ApiError;

/// The operator's allow-list of special-purpose ranges that may be scanned anyway
/// (test set-ups), as CIDRs separated by commas. Empty or unset: none.
pub const ALLOW_ENV: &str = "RAMPART_SCAN_ALLOW";

/// Scans a tenant may request per clock hour.
pub const SCANS_PER_HOUR: i64 = 20;

/// How long an appliance's scan lock holds if its scan never finishes (the message
/// dead-lettered): then a new scan may be requested.
pub const LOCK_LIFETIME: Duration = Duration::from_secs(3600);

/// Only addresses a check-in came from within this long count as observed.
pub const SEEN_WITHIN: Duration = Duration::from_secs(30 * 24 * 3600);

/// The `scan` queue's message: which scan to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanMessage {
    pub tenant: rampart_domain::ids::TenantId,
    pub appliance: rampart_domain::ids::ApplianceId,
    pub scan: rampart_domain::ids::ScanId,
}

/// The allow-list from `RAMPART_SCAN_ALLOW` (none when unset).
pub fn allow_list_from_env() -> Result<AllowList, AllowListError> {
    match std::env::var(ALLOW_ENV) {
        Ok(v) if !v.trim().is_empty() => AllowList::parse(&v),
        _ => Ok(AllowList::none()),
    }
}

/// Why a scan queue message could not be handled (the message is retried, and
/// dead-lettered after `queues::MAX_RECEIVES`).
#[derive(Debug, thiserror::Error)]
pub enum ScanJobError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] ApiError),
    /// This machine could not scan (out of sockets, ...): retried later.
    #[error("scan could not run here: {0}")]
    Local(String),
}

impl From<rampart_ports::StoreError> for ScanJobError {
    fn from(e: rampart_ports::StoreError) -> Self {
        Self::Store(e.into())
    }
}

impl ScanJobError {
    /// The `error_type` for Lambda's diagnostics.
    pub fn error_type(&self) -> &'static str {
        match self {
            ScanJobError::Malformed(_) => "MalformedMessage",
            ScanJobError::Store(_) => "StoreUnavailable",
            ScanJobError::Local(_) => "LocalNetworkError",
        }
    }
}

/// The `security-scan` consumer's ports and policy, built once per process.
pub struct Scans {
    pub(crate) table: Arc<dyn Table>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) allow: AllowList,
    pub(crate) options: ScanOptions,
}

impl Scans {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, allow: AllowList) -> Self {
        Self {
            table,
            clock,
            allow,
            options: ScanOptions::default(),
        }
    }

    /// Other scan settings (tests use short time-outs on loopback).
    pub fn with_options(mut self, options: ScanOptions) -> Self {
        self.options = options;
        self
    }

    pub fn allow_list(&self) -> &AllowList {
        &self.allow
    }
}
