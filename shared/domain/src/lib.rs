//! Rampart's domain: validated values and the rules of the product, with no I/O.

pub mod applications;
pub mod backup;
pub mod backup_schedule;
pub mod cluster;
pub mod comm_log;
pub mod connection;
pub mod device_protocol;
pub mod firmware;
pub mod firmware_catalog;
pub mod ids;
pub mod jobs;
pub mod license;
pub mod license_expiry;
pub mod portal_protocol;
pub mod profile;
pub mod report;
pub mod status_history;
pub mod tenancy;
pub mod time;
pub mod validation;

pub use time::Timestamp;
