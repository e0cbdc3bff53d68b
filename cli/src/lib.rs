//! `rampart`: the self-hosted console, the reference appliance and the
//! administrator's tool, as a library so tests can start each in-process.

pub mod admin_cmd;
pub mod agent_cmd;
pub mod backend;
pub mod backup_cmd;
pub mod demo;
pub mod fleet_cmd;
pub mod history_cmd;
pub mod jobs_cmd;
pub mod list_pages;
pub mod log_cmd;
pub mod logging;
pub mod portal_client;
pub mod portal_cmd;
pub mod portal_setup;
pub mod profile_cmd;
pub mod runtime;
pub mod scan_cmd;
pub mod serve;
pub mod session_file;
pub mod status_chart;
