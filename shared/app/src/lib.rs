//! Rampart's application layer: services over the ports, and the HTTP routers of
//! the device API (and, later, the portal API). The same code runs in the Lambda
//! functions and in the self-hosted binary.

pub mod admin;
pub mod all_pages;
pub mod appliance_log;
pub mod backups;
pub mod device;
pub mod error;
pub mod firmware_catalog;
pub mod http;
pub mod jobs;
pub mod json_body;
pub mod license_expiry;
pub mod period_claim;
pub mod portal;
pub mod profiles;
pub mod queues;
pub mod records;
pub mod scans;
pub mod schedules;
pub mod status_history;
pub mod store_keys;

pub use error::ApiError;
