//! Rampart's domain: validated values and the rules of the product, with no I/O.

pub mod backup;
pub mod backup_schedule;
pub mod comm_log;
pub mod connection;
pub mod device_protocol;
pub mod firmware;
pub mod ids;
pub mod jobs;
pub mod license;
pub mod portal_protocol;
pub mod profile;
pub mod report;
pub mod tenancy;
pub mod time;
pub mod validation;

pub use time::Timestamp;
