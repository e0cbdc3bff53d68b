//! Lambda entry point: clients, the TOTP key and the router are built once per
//! cold start, then every API Gateway event goes through the shared router.

use rampart_aws::{AwsClients, AwsResources};
use rampart_ports::SystemClock;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let clients = AwsClients::from_env().await;
    let resources = AwsResources::from_env()?;
    let settings = portal_api::PortalSettings::from_env()?;
    let router = portal_api::router(&resources, &clients, Arc::new(SystemClock), &settings).await?;
    lambda_http::run(router).await
}
