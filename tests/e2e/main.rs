//! All workspace-level tests, compiled into one binary.

mod contract_aws;
mod contract_embedded;
mod device_api;
mod lambda_device_api;
mod runtime;
mod serve;
mod template;
