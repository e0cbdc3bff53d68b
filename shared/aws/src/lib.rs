//! AWS adapters of the storage ports: DynamoDB ([`DynamoTable`]), S3
//! ([`S3Objects`]) and SQS ([`SqsQueue`]); SDK configuration and resource names
//! for the Lambda functions ([`config`]); and, for tests, the emulator set-up that
//! creates those resources from template.yaml ([`provision`]).

pub mod aws_error;
pub mod config;
pub mod dynamo_expr;
pub mod dynamo_table;
pub mod dynamo_value;
pub mod provision;
pub mod s3_objects;
pub mod sqs_queue;
pub mod template;

pub use config::{
    AwsClients, AwsResources, MissingEnv, QUEUE_NAMES, queue_url_env, s3_client, sdk_config,
};
pub use dynamo_table::DynamoTable;
pub use dynamo_value::Attr;
pub use provision::{Provisioned, ProvisionedQueue, enable_bucket_notifications, provision};
pub use s3_objects::S3Objects;
pub use sqs_queue::SqsQueue;
pub use template::Template;
