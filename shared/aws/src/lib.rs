//! AWS adapters of the ports: DynamoDB ([`DynamoTable`]), S3 ([`S3Objects`]), SQS
//! ([`SqsQueue`]) and the mailer on SES ([`SesMailer`]); keys kept as SSM
//! SecureString parameters ([`load_key_parameter`]); SDK configuration and resource
//! names for the Lambda functions ([`config`]); and, for tests, the emulator set-up
//! that creates those resources from template.yaml ([`provision`]).

pub mod aws_error;
pub mod config;
pub mod dynamo_expr;
pub mod dynamo_table;
pub mod dynamo_value;
pub mod provision;
pub mod s3_objects;
pub mod secret_parameter;
pub mod ses_mailer;
pub mod sqs_queue;
pub mod template;

pub use config::{
    AwsClients, AwsResources, MissingEnv, QUEUE_NAMES, queue_url_env, s3_client, sdk_config,
};
pub use dynamo_table::DynamoTable;
pub use dynamo_value::Attr;
pub use provision::{Provisioned, ProvisionedQueue, enable_bucket_notifications, provision};
pub use s3_objects::S3Objects;
pub use secret_parameter::load_key_parameter;
pub use ses_mailer::SesMailer;
pub use sqs_queue::SqsQueue;
pub use template::Template;
