//! Creates the template's storage resources on the local AWS emulator (moto), so
//! tests run against exactly the shapes that will be deployed: the table (keys,
//! indexes, billing, TTL), the bucket, and every queue with its dead-letter queue,
//! redrive policy and attributes. Everything is read from template.yaml; nothing
//! here restates a resource's shape.
//!
//! Every physical name starts with a caller-supplied prefix, so concurrent tests
//! each get their own resources on one emulator.

use anyhow::{Context, Result, anyhow, bail, ensure};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use rampart_ports::QueueSpec;
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap};

use crate::config::{AwsClients, AwsResources};
use crate::template::{Resource, Template, get, queue_name, reference, scalar_text, untag};

/// CloudFormation queue properties that are not queue attributes (or that the
/// provisioner sets itself).
const NON_ATTRIBUTE_QUEUE_PROPS: [&str; 6] = [
    "QueueName",
    "Tags",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
];

/// A queue created from the template, with its dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionedQueue {
    /// The template's logical id (e.g. `JobsQueue`).
    pub resource_id: String,
    pub url: String,
    pub arn: String,
    pub dead_letter_url: String,
    pub dead_letter_arn: String,
    /// Visibility and max receives as the template declares them.
    pub spec: QueueSpec,
}

/// What [`provision`] created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provisioned {
    pub prefix: String,
    pub table: String,
    pub bucket: String,
    /// Logical queue name (`jobs`, `backup-ingest`, ...) to the queue.
    pub queues: BTreeMap<String, ProvisionedQueue>,
}

impl Provisioned {
    /// The names as functions receive them (`RAMPART_*` variables).
    pub fn resources(&self) -> AwsResources {
        AwsResources {
            table: self.table.clone(),
            bucket: self.bucket.clone(),
            queue_urls: self
                .queues
                .iter()
                .map(|(n, q)| (n.clone(), q.url.clone()))
                .collect(),
        }
    }

    pub fn queue(&self, name: &str) -> Result<&ProvisionedQueue> {
        self.queues
            .get(name)
            .ok_or_else(|| anyhow!("the template declares no queue {name}"))
    }
}

/// A prefix must make valid names for a bucket (lower case, digits, `-`), a table
/// and queues (at most 80 characters with the longest suffix).
fn check_prefix(prefix: &str) -> Result<()> {
    ensure!(
        (3..=40).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && prefix.as_bytes()[0].is_ascii_alphanumeric(),
        "resource prefix must be 3..=40 of [a-z0-9-], starting with a letter or digit"
    );
    Ok(())
}

/// Creates the template's table, bucket and queues, all named `<prefix>-...`.
pub async fn provision(
    clients: &AwsClients,
    template: &Template,
    prefix: &str,
) -> Result<Provisioned> {
    check_prefix(prefix)?;
    let table = format!("{prefix}-table");
    create_table(clients, &template.only("AWS::DynamoDB::Table")?, &table).await?;
    let bucket = format!("{prefix}-backups");
    template.only("AWS::S3::Bucket")?;
    clients
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .with_context(|| format!("creating bucket {bucket}"))?;
    let mut queues = BTreeMap::new();
    for q in template.queues()? {
        let dlq_name = queue_name(&q.dead_letter)
            .ok_or_else(|| anyhow!("queue {} has no name tag", q.dead_letter.id))?;
        let (dead_letter_url, dead_letter_arn) = create_queue(
            clients,
            &q.dead_letter,
            &format!("{prefix}-{dlq_name}"),
            None,
        )
        .await?;
        let (url, arn) = create_queue(
            clients,
            &q.resource,
            &format!("{prefix}-{}", q.spec.name),
            Some((&dead_letter_arn, q.spec.max_receives)),
        )
        .await?;
        queues.insert(
            q.spec.name.clone(),
            ProvisionedQueue {
                resource_id: q.resource.id.to_owned(),
                url,
                arn,
                dead_letter_url,
                dead_letter_arn,
                spec: q.spec,
            },
        );
    }
    Ok(Provisioned {
        prefix: prefix.to_owned(),
        table,
        bucket,
        queues,
    })
}

/// Sets the bucket's notifications to queues as the template declares them (S3
/// sends an `s3:TestEvent` message to each queue when this is done). Separate from
/// [`provision`] so that tests of the queues themselves see no such message.
pub async fn enable_bucket_notifications(
    clients: &AwsClients,
    template: &Template,
    provisioned: &Provisioned,
) -> Result<()> {
    let bucket = template.only("AWS::S3::Bucket")?;
    let Some(Value::Sequence(configs)) =
        bucket.prop(&["NotificationConfiguration", "QueueConfigurations"])
    else {
        return Ok(());
    };
    let mut out = Vec::new();
    for c in configs {
        let queue_id = get(c, &["Queue"])
            .and_then(reference)
            .ok_or_else(|| anyhow!("bucket notification names no queue resource"))?;
        let queue = provisioned
            .queues
            .values()
            .find(|q| q.resource_id == queue_id)
            .ok_or_else(|| anyhow!("bucket notification to unknown queue {queue_id}"))?;
        let event = get(c, &["Event"])
            .and_then(scalar_text)
            .ok_or_else(|| anyhow!("bucket notification without Event"))?;
        let mut rules = Vec::new();
        if let Some(Value::Sequence(rs)) = get(c, &["Filter", "S3Key", "Rules"]) {
            for r in rs {
                let name = get(r, &["Name"]).and_then(scalar_text).unwrap_or_default();
                let value = get(r, &["Value"]).and_then(scalar_text).unwrap_or_default();
                rules.push(
                    FilterRule::builder()
                        .name(FilterRuleName::from(name.as_str()))
                        .value(value)
                        .build(),
                );
            }
        }
        out.push(
            QueueConfiguration::builder()
                .queue_arn(&queue.arn)
                .events(Event::from(event.as_str()))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                        .build(),
                )
                .build()?,
        );
    }
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(&provisioned.bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .set_queue_configurations(Some(out))
                .build(),
        )
        .send()
        .await
        .context("setting bucket notifications")?;
    Ok(())
}

fn str_at<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    get(v, &[key])
        .and_then(|v| untag(v).as_str())
        .ok_or_else(|| anyhow!("missing {key}"))
}

fn seq<'a>(v: Option<&'a Value>, what: &str) -> Result<&'a [Value]> {
    match v {
        Some(Value::Sequence(s)) => Ok(s),
        _ => bail!("table: {what} is not a list"),
    }
}

fn key_schema(v: Option<&Value>) -> Result<Vec<KeySchemaElement>> {
    seq(v, "KeySchema")?
        .iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(str_at(k, "AttributeName")?)
                .key_type(KeyType::from(str_at(k, "KeyType")?))
                .build()?)
        })
        .collect()
}

async fn create_table(clients: &AwsClients, r: &Resource<'_>, name: &str) -> Result<()> {
    let defs = seq(r.prop(&["AttributeDefinitions"]), "AttributeDefinitions")?
        .iter()
        .map(|d| {
            Ok(AttributeDefinition::builder()
                .attribute_name(str_at(d, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(str_at(d, "AttributeType")?))
                .build()?)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut gsis = Vec::new();
    if let Some(v) = r.prop(&["GlobalSecondaryIndexes"]) {
        for g in seq(Some(v), "GlobalSecondaryIndexes")? {
            let projection = get(g, &["Projection", "ProjectionType"])
                .and_then(Value::as_str)
                .unwrap_or("ALL");
            gsis.push(
                GlobalSecondaryIndex::builder()
                    .index_name(str_at(g, "IndexName")?)
                    .set_key_schema(Some(key_schema(get(g, &["KeySchema"]))?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(projection))
                            .build(),
                    )
                    .build()?,
            );
        }
    }
    let billing = r
        .prop(&["BillingMode"])
        .and_then(Value::as_str)
        .unwrap_or("PROVISIONED");
    ensure!(
        billing == "PAY_PER_REQUEST",
        "table: only PAY_PER_REQUEST is provisioned"
    );
    clients
        .dynamodb
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(defs))
        .set_key_schema(Some(key_schema(r.prop(&["KeySchema"]))?))
        .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .with_context(|| format!("creating table {name}"))?;
    if let Some(ttl) = r.prop(&["TimeToLiveSpecification"]) {
        let enabled = matches!(get(ttl, &["Enabled"]), Some(Value::Bool(true)))
            || get(ttl, &["Enabled"]).and_then(scalar_text).as_deref() == Some("true");
        clients
            .dynamodb
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(str_at(ttl, "AttributeName")?)
                    .enabled(enabled)
                    .build()?,
            )
            .send()
            .await
            .with_context(|| format!("enabling TTL on {name}"))?;
    }
    Ok(())
}

/// Creates one queue with the template's attributes; returns its URL and ARN.
async fn create_queue(
    clients: &AwsClients,
    r: &Resource<'_>,
    name: &str,
    redrive: Option<(&str, u32)>,
) -> Result<(String, String)> {
    let mut attrs = HashMap::new();
    if let Value::Mapping(props) = r.properties {
        for (k, v) in props {
            let Some(k) = k.as_str() else { continue };
            if NON_ATTRIBUTE_QUEUE_PROPS.contains(&k) {
                continue;
            }
            let text =
                scalar_text(v).ok_or_else(|| anyhow!("queue {}: {k} is not a scalar", r.id))?;
            attrs.insert(QueueAttributeName::from(k), text);
        }
    }
    if let Some((dlq_arn, max_receives)) = redrive {
        let policy = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receives.to_string(),
        });
        attrs.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let mut req = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attrs));
    if let Some(Value::Sequence(tags)) = r.prop(&["Tags"]) {
        for t in tags {
            if let (Some(k), Some(v)) = (
                get(t, &["Key"]).and_then(scalar_text),
                get(t, &["Value"]).and_then(scalar_text),
            ) {
                req = req.tags(k, v);
            }
        }
    }
    let url = req
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url
        .ok_or_else(|| anyhow!("queue {name} created without a URL"))?;
    let arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("reading the ARN of {name}"))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| anyhow!("queue {name} has no ARN"))?;
    Ok((url, arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_must_make_valid_bucket_names() {
        assert!(check_prefix("t-1a2b").is_ok());
        for bad in [
            "",
            "ab",
            "Upper",
            "-lead",
            "has_underscore",
            &"a".repeat(41),
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
