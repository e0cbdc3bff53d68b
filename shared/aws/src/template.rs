//! Reading `template.yaml` (SAM/CloudFormation) generically: CloudFormation's
//! short tags (`!Ref`, `!GetAtt`, `!Sub`, ...) parse as tagged YAML values and are
//! kept as such; [`reference`] resolves the ones that name another resource.

use rampart_ports::QueueSpec;
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The tag that carries a queue's logical name (`jobs`, `jobs-dlq`, ...).
pub const QUEUE_NAME_TAG: &str = "rampart:queue";
/// SQS's default visibility timeout, when a queue does not set one.
const DEFAULT_VISIBILITY_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template: {0}")]
    Shape(String),
}

fn shape(msg: impl Into<String>) -> TemplateError {
    TemplateError::Shape(msg.into())
}

/// The repository's template.yaml (this crate lives at shared/aws).
pub fn repo_template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

#[derive(Clone, Debug)]
pub struct Template {
    root: Value,
}

/// One resource of the template.
#[derive(Clone, Copy, Debug)]
pub struct Resource<'a> {
    pub id: &'a str,
    pub ty: &'a str,
    /// The resource's whole entry (Type, Properties, Metadata, DependsOn, ...).
    pub entry: &'a Value,
    /// Its Properties (Null when it has none).
    pub properties: &'a Value,
}

impl<'a> Resource<'a> {
    /// A property by path (`["RedrivePolicy", "maxReceiveCount"]`), seeing through tags.
    pub fn prop(&self, path: &[&str]) -> Option<&'a Value> {
        get(self.properties, path)
    }
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let root: Value = serde_yaml::from_str(text)?;
        if !root.get("Resources").is_some_and(Value::is_mapping) {
            return Err(shape("no Resources section"));
        }
        Ok(Self { root })
    }

    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| TemplateError::Read(path.to_owned(), e))?;
        Self::parse(&text)
    }

    /// The repository's template.yaml.
    pub fn load_repo() -> Result<Self, TemplateError> {
        Self::load(&repo_template_path())
    }

    pub fn root(&self) -> &Value {
        &self.root
    }

    /// A value of the `Globals` section, e.g. `["Function", "Timeout"]`.
    pub fn global(&self, path: &[&str]) -> Option<&Value> {
        get(self.root.get("Globals")?, path)
    }

    pub fn resources(&self) -> Vec<Resource<'_>> {
        let Some(Value::Mapping(m)) = self.root.get("Resources") else {
            return Vec::new();
        };
        m.iter()
            .filter_map(|(k, v)| {
                Some(Resource {
                    id: k.as_str()?,
                    ty: v.get("Type")?.as_str()?,
                    entry: v,
                    properties: v.get("Properties").unwrap_or(&Value::Null),
                })
            })
            .collect()
    }

    pub fn resources_of_type(&self, ty: &str) -> Vec<Resource<'_>> {
        self.resources()
            .into_iter()
            .filter(|r| r.ty == ty)
            .collect()
    }

    pub fn resource(&self, id: &str) -> Option<Resource<'_>> {
        self.resources().into_iter().find(|r| r.id == id)
    }

    /// The single resource of a type; an error when there are none or several.
    pub fn only(&self, ty: &str) -> Result<Resource<'_>, TemplateError> {
        match self.resources_of_type(ty).as_slice() {
            [one] => Ok(*one),
            other => Err(shape(format!("expected one {ty}, found {}", other.len()))),
        }
    }

    /// Every queue with a dead-letter queue, as the queue port describes it.
    pub fn queues(&self) -> Result<Vec<TemplateQueue<'_>>, TemplateError> {
        let mut out = Vec::new();
        for r in self.resources_of_type("AWS::SQS::Queue") {
            let Some(redrive) = r.prop(&["RedrivePolicy"]) else {
                continue;
            };
            let name = queue_name(&r)
                .ok_or_else(|| shape(format!("queue {} has no {QUEUE_NAME_TAG} tag", r.id)))?;
            let dlq_id = get(redrive, &["deadLetterTargetArn"])
                .and_then(reference)
                .ok_or_else(|| shape(format!("queue {} redrives to no queue", r.id)))?;
            let dlq = self
                .resource(dlq_id)
                .filter(|d| d.ty == "AWS::SQS::Queue")
                .ok_or_else(|| shape(format!("queue {}: no dead-letter queue {dlq_id}", r.id)))?;
            let max_receives = get(redrive, &["maxReceiveCount"])
                .and_then(as_u64)
                .ok_or_else(|| shape(format!("queue {}: no maxReceiveCount", r.id)))?;
            let visibility = r
                .prop(&["VisibilityTimeout"])
                .map(|v| {
                    as_u64(v).ok_or_else(|| shape(format!("queue {}: VisibilityTimeout", r.id)))
                })
                .transpose()?
                .unwrap_or(DEFAULT_VISIBILITY_SECS);
            out.push(TemplateQueue {
                resource: r,
                dead_letter: dlq,
                spec: QueueSpec {
                    name: name.to_owned(),
                    visibility_timeout: Duration::from_secs(visibility),
                    max_receives: u32::try_from(max_receives)
                        .map_err(|_| shape(format!("queue {}: maxReceiveCount", r.id)))?,
                },
            });
        }
        Ok(out)
    }

    /// The queue specs (name, visibility, max receives) the template declares.
    pub fn queue_specs(&self) -> Result<Vec<QueueSpec>, TemplateError> {
        Ok(self.queues()?.into_iter().map(|q| q.spec).collect())
    }
}

/// A queue of the template with its dead-letter queue.
#[derive(Clone, Debug)]
pub struct TemplateQueue<'a> {
    pub resource: Resource<'a>,
    pub dead_letter: Resource<'a>,
    pub spec: QueueSpec,
}

/// A queue's logical name, from its `rampart:queue` tag.
pub fn queue_name<'a>(r: &Resource<'a>) -> Option<&'a str> {
    let Some(Value::Sequence(tags)) = get(r.properties, &["Tags"]) else {
        return None;
    };
    tags.iter()
        .find(|t| t.get("Key").and_then(Value::as_str) == Some(QUEUE_NAME_TAG))
        .and_then(|t| t.get("Value")?.as_str())
}

/// `v` without any tags around it.
pub fn untag(mut v: &Value) -> &Value {
    while let Value::Tagged(t) = v {
        v = &t.value;
    }
    v
}

/// A nested value by mapping keys, seeing through tags on the way (the value
/// found keeps its own tag, so that [`reference`] can read it).
pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = v;
    for key in path {
        v = untag(v).get(*key)?;
    }
    Some(v)
}

/// The tag of a tagged value, without its `!` (`Ref`, `GetAtt`, `Sub`, ...).
pub fn tag_of(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => Some(t.tag.to_string().trim_start_matches('!').to_owned()),
        _ => None,
    }
}

/// The logical id a `!Ref X`, `!GetAtt X.Attr`, `{Ref: X}` or `{Fn::GetAtt: [X, Attr]}`
/// names.
pub fn reference(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            match (tag.trim_start_matches('!'), &t.value) {
                ("Ref", Value::String(s)) => Some(s),
                ("GetAtt", Value::String(s)) => s.split('.').next(),
                ("GetAtt", Value::Sequence(parts)) => parts.first()?.as_str(),
                _ => None,
            }
        }
        Value::Mapping(_) => {
            if let Some(s) = v.get("Ref").and_then(Value::as_str) {
                return Some(s);
            }
            match v.get("Fn::GetAtt")? {
                Value::String(s) => s.split('.').next(),
                Value::Sequence(parts) => parts.first()?.as_str(),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A whole number written as a number or a string.
pub fn as_u64(v: &Value) -> Option<u64> {
    match untag(v) {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A scalar as CloudFormation would pass it to a service (numbers and booleans as text).
pub fn scalar_text(v: &Value) -> Option<String> {
    match untag(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt D.Arn
        maxReceiveCount: "4"
      Tags:
        - Key: rampart:queue
          Value: q
  D:
    Type: AWS::SQS::Queue
    Properties:
      Tags: [{Key: rampart:queue, Value: q-dlq}]
  P:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Q]
      Other: {"Fn::GetAtt": [D, Arn]}
      Name: !Sub "${AWS::StackName}-x"
"#;

    #[test]
    fn short_tags_parse_and_references_resolve() {
        let t = Template::parse(T).unwrap();
        let p = t.resource("P").unwrap();
        let Some(Value::Sequence(qs)) = p.prop(&["Queues"]) else {
            panic!()
        };
        assert_eq!(reference(&qs[0]), Some("Q"));
        assert_eq!(reference(p.prop(&["Other"]).unwrap()), Some("D"));
        assert_eq!(tag_of(&p.properties["Name"]).as_deref(), Some("Sub"));
        assert_eq!(reference(&p.properties["Name"]), None);
    }

    #[test]
    fn queues_come_with_their_dead_letter_queue_and_spec() {
        let t = Template::parse(T).unwrap();
        let qs = t.queues().unwrap();
        assert_eq!(qs.len(), 1);
        assert_eq!(qs[0].dead_letter.id, "D");
        assert_eq!(queue_name(&qs[0].dead_letter), Some("q-dlq"));
        assert_eq!(
            qs[0].spec,
            QueueSpec {
                name: "q".into(),
                visibility_timeout: Duration::from_secs(60),
                max_receives: 4
            }
        );
    }

    #[test]
    fn the_repository_template_declares_the_four_queues() {
        let t = Template::load_repo().unwrap();
        let names: Vec<_> = t
            .queue_specs()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        let mut want = crate::config::QUEUE_NAMES.to_vec();
        want.sort();
        assert_eq!(sorted, want);
    }
}
