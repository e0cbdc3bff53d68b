//! SDK configuration, clients and resource names, built once per cold start.
//!
//! The SDK's standard chain reads region and credentials from the environment (or
//! the Lambda role) and honours `AWS_ENDPOINT_URL`, which points every client at
//! the local emulator in tests.

use aws_config::{BehaviorVersion, SdkConfig};
use rampart_ports::{Clock, Objects, Queue, Table};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{DynamoTable, S3Objects, SqsQueue};

/// The logical names of the queues (template.yaml tags each queue with one).
pub const QUEUE_NAMES: [&str; 4] = ["jobs", "backup-ingest", "rotation", "scan"];
pub const TABLE_ENV: &str = "RAMPART_TABLE";
pub const BUCKET_ENV: &str = "RAMPART_BUCKET";

/// Loads the standard SDK configuration (environment, profile, Lambda role).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An S3 client; path-style addressing when an endpoint override (an emulator)
/// is set, since emulators do not serve bucket subdomains.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() {
        b = b.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// The service clients. Cheap to clone (they share connections); building one
/// makes no request.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// SES API v2, for the mailer.
    pub ses: aws_sdk_sesv2::Client,
    /// SSM Parameter Store, for keys kept as SecureString parameters.
    pub ssm: aws_sdk_ssm::Client,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: s3_client(config),
            sqs: aws_sdk_sqs::Client::new(config),
            ses: aws_sdk_sesv2::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
        }
    }

    /// [`sdk_config`] and the clients on it.
    pub async fn from_env() -> Self {
        Self::new(&sdk_config().await)
    }
}

/// A required environment variable was not set.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct MissingEnv(pub String);

/// The names of the deployed resources, as the template passes them to functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsResources {
    pub table: String,
    pub bucket: String,
    /// Logical queue name (`jobs`, ...) to queue URL; only the queues the function
    /// was given.
    pub queue_urls: BTreeMap<String, String>,
}

/// `RAMPART_QUEUE_URL_<NAME>`: the logical name upper-cased, `-` as `_`.
pub fn queue_url_env(name: &str) -> String {
    format!(
        "RAMPART_QUEUE_URL_{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

impl AwsResources {
    /// Reads `RAMPART_TABLE`, `RAMPART_BUCKET` and any `RAMPART_QUEUE_URL_<NAME>`.
    pub fn from_env() -> Result<Self, MissingEnv> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingEnv> {
        let required = |k: &str| lookup(k).ok_or_else(|| MissingEnv(k.to_owned()));
        let queue_urls = QUEUE_NAMES
            .iter()
            .filter_map(|n| lookup(&queue_url_env(n)).map(|url| ((*n).to_owned(), url)))
            .collect();
        Ok(Self {
            table: required(TABLE_ENV)?,
            bucket: required(BUCKET_ENV)?,
            queue_urls,
        })
    }

    /// The environment variables that describe these resources (for the template's
    /// functions, and for tests that run a handler against the emulator).
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            (TABLE_ENV.to_owned(), self.table.clone()),
            (BUCKET_ENV.to_owned(), self.bucket.clone()),
        ];
        v.extend(
            self.queue_urls
                .iter()
                .map(|(n, url)| (queue_url_env(n), url.clone())),
        );
        v
    }

    pub fn table(&self, clients: &AwsClients, clock: Arc<dyn Clock>) -> Arc<dyn Table> {
        Arc::new(DynamoTable::new(
            clients.dynamodb.clone(),
            self.table.clone(),
            clock,
        ))
    }

    pub fn objects(&self, clients: &AwsClients) -> Arc<dyn Objects> {
        Arc::new(S3Objects::new(clients.s3.clone(), self.bucket.clone()))
    }

    /// The queue of that logical name, if this function was given its URL.
    pub fn queue(&self, clients: &AwsClients, name: &str) -> Result<Arc<dyn Queue>, MissingEnv> {
        let url = self
            .queue_urls
            .get(name)
            .ok_or_else(|| MissingEnv(queue_url_env(name)))?;
        Ok(Arc::new(SqsQueue::new(clients.sqs.clone(), url.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn queue_env_names_follow_the_logical_names() {
        assert_eq!(
            queue_url_env("backup-ingest"),
            "RAMPART_QUEUE_URL_BACKUP_INGEST"
        );
        assert_eq!(queue_url_env("jobs"), "RAMPART_QUEUE_URL_JOBS");
    }

    #[test]
    fn resources_read_table_bucket_and_present_queues() {
        let env = HashMap::from([
            ("RAMPART_TABLE", "t"),
            ("RAMPART_BUCKET", "b"),
            ("RAMPART_QUEUE_URL_SCAN", "http://q/scan"),
        ]);
        let r = AwsResources::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(r.table, "t");
        assert_eq!(r.queue_urls.len(), 1);
        assert_eq!(r.queue_urls["scan"], "http://q/scan");
        let round = AwsResources::from_lookup(|k| {
            r.env_vars()
                .into_iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v)
        })
        .unwrap();
        assert_eq!(round, r);
        let err = AwsResources::from_lookup(|_| None).unwrap_err();
        assert_eq!(err.0, "RAMPART_TABLE");
    }
}
