//! Lambda entry point: clients and the sweep are built once per cold start, then
//! every scheduled EventBridge event runs one sweep.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rampart_aws::AwsClients;
use rampart_ports::SystemClock;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let clients = AwsClients::from_env().await;
    let state = maintenance::MaintenanceState::from_env(&clients, Arc::new(SystemClock))?;
    let state = &state;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            maintenance::function_handler(state, event).await
        },
    ))
    .await
}
