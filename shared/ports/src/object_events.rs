//! Created-object events in the S3 event notification format, as the backup-ingest
//! consumer reads them from its queue. On AWS, S3 sends them (the bucket's
//! `NotificationConfiguration` in template.yaml); self-hosted, the embedded object
//! store sends the same shape ([`object_created_event`]), so one consumer reads both.
//!
//! Object keys in S3 events are URL-encoded with form encoding (`+` for a space;
//! S3 leaves `/` as it is, moto encodes it as `%2F`): [`parse_created_objects`]
//! returns them decoded.

use rampart_domain::Timestamp;
use serde::Deserialize;

/// Largest notification body accepted (SQS's message limit).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// Most records one notification may carry (S3 sends one per message).
pub const MAX_EVENT_RECORDS: usize = 100;

/// One object that was created (or overwritten), as a notification names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedObject {
    /// The object key, URL-decoded.
    pub key: String,
    pub size: u64,
}

/// A queue message that is not an S3 notification this consumer understands.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("malformed S3 event notification: {0}")]
    Malformed(String),
}

impl EventError {
    /// The stable code for logs and dead-letter triage.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::Malformed(_) => "malformed_event",
        }
    }
}

fn malformed(why: impl Into<String>) -> EventError {
    EventError::Malformed(why.into())
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    /// `s3:TestEvent` in the message S3 sends when notifications are configured.
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_source: String,
    event_name: String,
    s3: Option<Entity>,
}

#[derive(Deserialize)]
struct Entity {
    object: EventObject,
}

#[derive(Deserialize)]
struct EventObject {
    key: String,
    size: Option<u64>,
}

/// The objects an S3 event notification reports as created. Records of other
/// events (`ObjectRemoved:*`, ...) are skipped; S3's `s3:TestEvent` message gives
/// an empty list. Anything else, or a body over the limits, is `malformed_event`.
pub fn parse_created_objects(body: &str) -> Result<Vec<CreatedObject>, EventError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(malformed(format!(
            "body larger than {MAX_EVENT_BYTES} bytes"
        )));
    }
    let n: Notification = serde_json::from_str(body)
        .map_err(|e| malformed(format!("not an S3 notification: {e}")))?;
    let Some(records) = n.records else {
        return match n.event.as_deref() {
            Some("s3:TestEvent") => Ok(Vec::new()),
            _ => Err(malformed("no Records and not an s3:TestEvent")),
        };
    };
    if records.len() > MAX_EVENT_RECORDS {
        return Err(malformed(format!("more than {MAX_EVENT_RECORDS} records")));
    }
    let mut created = Vec::new();
    for r in records {
        if r.event_source != "aws:s3" {
            return Err(malformed("a record's eventSource is not aws:s3"));
        }
        if !r.event_name.starts_with("ObjectCreated:") {
            continue;
        }
        let object =
            r.s3.ok_or_else(|| malformed("an ObjectCreated record has no s3 entity"))?
                .object;
        let size = object
            .size
            .ok_or_else(|| malformed("an ObjectCreated record has no object size"))?;
        let key = form_decode(&object.key)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| malformed("an object key is not a valid URL-encoded key"))?;
        created.push(CreatedObject { key, size });
    }
    Ok(created)
}

/// The notification S3 sends for a `PutObject` of `key` (`size` bytes) into
/// `bucket` at `at`: one `ObjectCreated:Put` record, the key URL-encoded as S3
/// encodes it.
pub fn object_created_event(bucket: &str, key: &str, size: u64, at: Timestamp) -> String {
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "local",
            "eventTime": at.to_rfc3339(),
            "eventName": "ObjectCreated:Put",
            "userIdentity": { "principalId": "rampart" },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "created-objects",
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": { "principalId": "rampart" },
                    "arn": format!("arn:aws:s3:::{bucket}"),
                },
                "object": {
                    "key": form_encode(key),
                    "size": size,
                    "sequencer": format!("{:016X}", at.millis().max(0)),
                },
            },
        }],
    })
    .to_string()
}

/// Form encoding as S3 applies it to keys in events: unreserved characters and `/`
/// stay, a space becomes `+`, every other byte `%XX`.
fn form_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes form encoding (`+` is a space, `%XX` a byte); None for a broken escape
/// or bytes that are not UTF-8.
fn form_decode(encoded: &str) -> Option<String> {
    fn hex(d: u8) -> Option<u8> {
        char::from(d)
            .to_digit(16)
            .and_then(|v| u8::try_from(v).ok())
    }
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(*bytes.get(i + 1)?)?;
                let lo = hex(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The S3 event sample of the AWS documentation ("Event message structure"),
    /// as aws_lambda_events carries it in its fixtures (example-s3-event.json).
    const AWS_DOCS_SAMPLE: &str = r#"{
      "Records": [
        {
          "eventVersion": "2.0",
          "eventSource": "aws:s3",
          "awsRegion": "us-east-1",
          "eventTime": "1970-01-01T00:00:00.123Z",
          "eventName": "ObjectCreated:Put",
          "userIdentity": { "principalId": "EXAMPLE" },
          "requestParameters": { "sourceIPAddress": "127.0.0.1" },
          "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
          },
          "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "testConfigRule",
            "bucket": {
              "name": "sourcebucket",
              "ownerIdentity": { "principalId": "EXAMPLE" },
              "arn": "arn:aws:s3:::mybucket"
            },
            "object": {
              "key": "Happy%20Face.jpg",
              "size": 1024,
              "versionId": "version",
              "eTag": "d41d8cd98f00b204e9800998ecf8427e",
              "sequencer": "Happy Sequencer"
            }
          }
        }
      ]
    }"#;

    /// What moto (5.2.5) sent to the queue for a presigned PUT: fewer fields than
    /// S3, and `/` in the key encoded too.
    const MOTO_SAMPLE: &str = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-12-02T00:01:25.712Z", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "M2mFhQo9kkg49rWOQlufqc73y86AFV63UgsIweN8XFfp3MKtum", "bucket": {"name": "sc-2099-169684709-0-backups", "arn": "arn:aws:s3:::sc-2099-169684709-0-backups"}, "object": {"key": "backups%2Fx%2Fprobe.rbk", "size": 4, "eTag": "755f85c2723bb39381c7379a604160d8"}}}]}"#;

    /// moto's test event, which lacks S3's RequestId and HostId.
    const MOTO_TEST_EVENT: &str = r#"{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-12-02T00:01:25.660Z", "Bucket": "sc-2099-169684709-0-backups"}"#;

    /// The message S3 sends to the queue when notifications are configured (S3
    /// docs, "Event message structure"; moto sends the same).
    const TEST_EVENT: &str = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"amzn-s3-demo-bucket","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;

    fn one(key: &str, size: u64) -> Vec<CreatedObject> {
        vec![CreatedObject {
            key: key.to_owned(),
            size,
        }]
    }

    #[test]
    fn reads_the_aws_documentation_sample() {
        assert_eq!(
            parse_created_objects(AWS_DOCS_SAMPLE).unwrap(),
            one("Happy Face.jpg", 1024)
        );
    }

    #[test]
    fn reads_what_moto_sends() {
        assert_eq!(
            parse_created_objects(MOTO_SAMPLE).unwrap(),
            one("backups/x/probe.rbk", 4)
        );
    }

    #[test]
    fn the_test_event_carries_no_objects() {
        assert_eq!(parse_created_objects(TEST_EVENT).unwrap(), vec![]);
        assert_eq!(parse_created_objects(MOTO_TEST_EVENT).unwrap(), vec![]);
    }

    #[test]
    fn keys_are_form_decoded() {
        for (encoded, key) in [
            ("backups/A1B2/x.rbk", "backups/A1B2/x.rbk"),
            ("backups%2FA1B2%2Fx.rbk", "backups/A1B2/x.rbk"),
            ("red+flower.jpg", "red flower.jpg"),
            ("a%3Db%2bc", "a=b+c"),
            ("caf%C3%A9", "café"),
        ] {
            let body = AWS_DOCS_SAMPLE.replace("Happy%20Face.jpg", encoded);
            assert_eq!(parse_created_objects(&body).unwrap(), one(key, 1024));
        }
    }

    #[test]
    fn other_events_are_skipped() {
        let removed = AWS_DOCS_SAMPLE
            .replace("ObjectCreated:Put", "ObjectRemoved:Delete")
            .replace("\"size\": 1024,", "");
        assert_eq!(parse_created_objects(&removed).unwrap(), vec![]);
        let multipart =
            AWS_DOCS_SAMPLE.replace("ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload");
        assert_eq!(
            parse_created_objects(&multipart).unwrap(),
            one("Happy Face.jpg", 1024)
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        let many = format!(
            r#"{{"Records":[{}]}}"#,
            vec![r#"{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete"}"#; 101].join(",")
        );
        let huge = format!(
            r#"{{"Records":[],"pad":"{}"}}"#,
            "x".repeat(MAX_EVENT_BYTES)
        );
        for body in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"Event":"s3:ObjectCreated:Put"}"#,
            r#"{"Records":{}}"#,
            &AWS_DOCS_SAMPLE.replace("aws:s3", "aws:sqs"),
            &AWS_DOCS_SAMPLE.replace("\"size\": 1024,", ""),
            &AWS_DOCS_SAMPLE.replace("1024", "-1"),
            &AWS_DOCS_SAMPLE.replace("Happy%20Face.jpg", "bad%zzescape"),
            &AWS_DOCS_SAMPLE.replace("Happy%20Face.jpg", "cut%4"),
            &AWS_DOCS_SAMPLE.replace("Happy%20Face.jpg", "not-utf8%FF"),
            &AWS_DOCS_SAMPLE.replace("Happy%20Face.jpg", ""),
            &many,
            &huge,
        ] {
            let err = parse_created_objects(body).unwrap_err();
            assert_eq!(err.code(), "malformed_event", "{body:.80}");
        }
    }

    #[test]
    fn the_generated_event_has_the_s3_shape_and_reads_back() {
        let at = Timestamp::from_secs(1_767_225_600);
        for key in ["backups/A1B2C3D4/2026-01-01.rbk", "a=b", "x y/z"] {
            let body = object_created_event("bkt", key, 70_000, at);
            assert_eq!(parse_created_objects(&body).unwrap(), one(key, 70_000));
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let r = &v["Records"][0];
            assert_eq!(r["eventSource"], "aws:s3");
            assert_eq!(r["eventName"], "ObjectCreated:Put");
            assert_eq!(r["eventTime"], "2026-01-01T00:00:00.000Z");
            assert_eq!(r["s3"]["bucket"]["name"], "bkt");
            assert_eq!(r["s3"]["object"]["size"], 70_000);
        }
        let v: serde_json::Value =
            serde_json::from_str(&object_created_event("b", "x y/a=b", 1, at)).unwrap();
        assert_eq!(v["Records"][0]["s3"]["object"]["key"], "x+y/a%3Db");
    }
}
