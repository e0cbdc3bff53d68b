//! Lambda entry point: clients and the scan service are built once per cold start,
//! then every SQS batch of the `scan` queue goes through the shared handler.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rampart_aws::AwsClients;
use rampart_ports::SystemClock;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let clients = AwsClients::from_env().await;
    let state = security_scan::ScanState::from_env(&clients, Arc::new(SystemClock))?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        security_scan::function_handler(state, event).await
    }))
    .await
}
