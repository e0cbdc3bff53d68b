//! All workspace-level tests, compiled into one binary.

mod backup_schedule;
mod backups;
mod contract_aws;
mod contract_embedded;
mod device_api;
mod fleet_jobs;
mod jobs;
mod lambda_backups;
mod lambda_device_api;
mod lambda_dispatch;
mod lambda_maintenance;
mod lambda_portal_api;
mod lambda_security_scan;
mod mailer_and_keys;
mod openapi;
mod portal_sign_in;
mod profiles;
mod runtime;
mod scans;
mod serve;
mod serve_scans;
mod template;
mod tenant_walls;
