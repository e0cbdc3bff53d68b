//! Checks of template.yaml's values that cfn-lint does not judge (a wrong
//! architecture, an absurd batch size, a queue that redelivers before its consumer
//! can finish), and cfn-lint itself from the emulator venv.

use rampart_aws::Template;
use rampart_aws::template::{Resource, as_u64, get, reference, scalar_text, tag_of, untag};
use rampart_ports::QueueSpec;
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// The queue specs the self-hosted runtime uses; template.yaml must agree.
fn runtime_queues() -> Vec<QueueSpec> {
    rampart_app::queues::all()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

fn template() -> Template {
    Template::load(&repo_root().join("template.yaml")).expect("template.yaml parses")
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(scalar_text)
}

/// A function property, or the Globals default for it.
fn function_prop<'a>(t: &'a Template, f: &Resource<'a>, name: &str) -> Option<&'a Value> {
    f.prop(&[name]).or_else(|| t.global(&["Function", name]))
}

fn functions(t: &Template) -> Vec<Resource<'_>> {
    t.resources_of_type("AWS::Serverless::Function")
}

/// The SQS event sources of a function: (queue logical id, event properties).
fn sqs_events<'a>(f: &Resource<'a>) -> Vec<(&'a str, &'a Value)> {
    let Some(Value::Mapping(events)) = f.prop(&["Events"]) else {
        return Vec::new();
    };
    events
        .values()
        .filter(|e| text(get(e, &["Type"])).as_deref() == Some("SQS"))
        .map(|e| {
            let props = get(e, &["Properties"]).expect("SQS event has Properties");
            let queue = get(props, &["Queue"])
                .and_then(reference)
                .expect("SQS event names its queue with !GetAtt");
            (queue, props)
        })
        .collect()
}

#[test]
fn every_function_is_an_arm64_rust_binary_of_the_workspace() {
    let t = template();
    let fns = functions(&t);
    assert!(!fns.is_empty(), "the template declares functions");
    let root_manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    for f in fns {
        let id = f.id;
        let arch = function_prop(&t, &f, "Architectures").map(untag);
        assert_eq!(
            arch,
            Some(&Value::Sequence(vec![Value::String("arm64".into())])),
            "{id}: Architectures must be [arm64]"
        );
        assert_eq!(
            text(function_prop(&t, &f, "Runtime")).as_deref(),
            Some("provided.al2023"),
            "{id}: Runtime"
        );
        assert_eq!(
            text(function_prop(&t, &f, "Handler")).as_deref(),
            Some("bootstrap"),
            "{id}: Handler"
        );
        assert_eq!(
            text(get(f.entry, &["Metadata", "BuildMethod"])).as_deref(),
            Some("rust-cargolambda"),
            "{id}: Metadata.BuildMethod"
        );
        let binary = text(get(f.entry, &["Metadata", "BuildProperties", "Binary"]))
            .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary"));
        let manifest = repo_root()
            .join("functions")
            .join(&binary)
            .join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|_| panic!("{id}: no crate functions/{binary}"));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{id}: functions/{binary} is not the package {binary}"
        );
        assert!(
            root_manifest.contains(&format!("\"functions/{binary}\"")),
            "{id}: functions/{binary} is not a workspace member"
        );
        let timeout = as_u64(function_prop(&t, &f, "Timeout").expect("Timeout")).unwrap();
        assert!((1..=900).contains(&timeout), "{id}: Timeout {timeout}");
        let memory = as_u64(function_prop(&t, &f, "MemorySize").expect("MemorySize")).unwrap();
        assert!((128..=10240).contains(&memory), "{id}: MemorySize {memory}");
    }
}

#[test]
fn http_functions_fit_the_api_gateway_timeout() {
    let t = template();
    for f in functions(&t) {
        let Some(Value::Mapping(events)) = f.prop(&["Events"]) else {
            continue;
        };
        if events
            .values()
            .any(|e| text(get(e, &["Type"])).as_deref() == Some("HttpApi"))
        {
            let timeout = as_u64(function_prop(&t, &f, "Timeout").unwrap()).unwrap();
            assert!(timeout <= 29, "{}: HTTP API integrations end at 30 s", f.id);
        }
    }
}

#[test]
fn every_queue_dead_letters_and_outlasts_its_consumer() {
    let t = template();
    let queues = t.queues().expect("queues read");
    assert!(!queues.is_empty());
    for q in &queues {
        let id = q.resource.id;
        assert!(
            (1..=10).contains(&q.spec.max_receives),
            "{id}: maxReceiveCount {}",
            q.spec.max_receives
        );
        assert_eq!(
            text(q.dead_letter.prop(&["MessageRetentionPeriod"])).as_deref(),
            Some("1209600"),
            "{id}: the dead-letter queue keeps messages 14 days"
        );
        assert_eq!(
            rampart_aws::template::queue_name(&q.dead_letter),
            Some(format!("{}-dlq", q.spec.name).as_str()),
            "{id}: the dead-letter queue is named <name>-dlq"
        );
        for r in [&q.resource, &q.dead_letter] {
            assert_eq!(
                text(r.prop(&["SqsManagedSseEnabled"])).as_deref(),
                Some("true"),
                "{}: encrypted at rest",
                r.id
            );
        }
        for f in functions(&t) {
            for (queue, _) in sqs_events(&f) {
                if queue != id {
                    continue;
                }
                let timeout = as_u64(function_prop(&t, &f, "Timeout").unwrap()).unwrap();
                assert!(
                    q.spec.visibility_timeout.as_secs() >= 6 * timeout,
                    "{id}: VisibilityTimeout must be at least 6x {}'s timeout",
                    f.id
                );
            }
        }
    }
}

#[test]
fn sqs_event_sources_report_partial_failures_in_small_batches() {
    let t = template();
    for f in functions(&t) {
        for (queue, props) in sqs_events(&f) {
            let id = f.id;
            let Some(Value::Sequence(types)) = get(props, &["FunctionResponseTypes"]).map(untag)
            else {
                panic!("{id} <- {queue}: FunctionResponseTypes: [ReportBatchItemFailures]");
            };
            assert!(
                types
                    .iter()
                    .any(|v| v.as_str() == Some("ReportBatchItemFailures")),
                "{id} <- {queue}: ReportBatchItemFailures"
            );
            let batch = get(props, &["BatchSize"]).map(|v| as_u64(v).expect("BatchSize"));
            assert!(
                batch.is_none_or(|b| (1..=10).contains(&b)),
                "{id} <- {queue}: BatchSize {batch:?} not in 1..=10"
            );
        }
    }
}

#[test]
fn queues_match_the_self_hosted_runtime() {
    let mut declared = template().queue_specs().unwrap();
    declared.sort_by(|a, b| a.name.cmp(&b.name));
    let mut runtime = runtime_queues();
    runtime.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(declared, runtime);
}

#[test]
fn the_bucket_is_private_encrypted_and_tls_only() {
    let t = template();
    let b = t.only("AWS::S3::Bucket").unwrap();
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            text(b.prop(&["PublicAccessBlockConfiguration", flag])).as_deref(),
            Some("true"),
            "{flag}"
        );
    }
    let Some(Value::Sequence(sse)) =
        b.prop(&["BucketEncryption", "ServerSideEncryptionConfiguration"])
    else {
        panic!("bucket encryption");
    };
    let algo = text(get(
        &sse[0],
        &["ServerSideEncryptionByDefault", "SSEAlgorithm"],
    ));
    assert!(
        matches!(algo.as_deref(), Some("AES256" | "aws:kms" | "aws:kms:dsse")),
        "{algo:?}"
    );
    let Some(Value::Sequence(rules)) = b.prop(&["LifecycleConfiguration", "Rules"]) else {
        panic!("lifecycle rules");
    };
    assert!(
        rules
            .iter()
            .any(|r| get(r, &["AbortIncompleteMultipartUpload"]).is_some()),
        "incomplete multipart uploads are aborted"
    );

    let policy = t
        .resources_of_type("AWS::S3::BucketPolicy")
        .into_iter()
        .find(|p| p.prop(&["Bucket"]).and_then(reference) == Some(b.id))
        .expect("a policy on the bucket");
    let Some(Value::Sequence(statements)) = policy.prop(&["PolicyDocument", "Statement"]) else {
        panic!("policy statements");
    };
    assert!(
        statements.iter().any(|s| {
            text(get(s, &["Effect"])).as_deref() == Some("Deny")
                && text(get(s, &["Condition", "Bool", "aws:SecureTransport"])).as_deref()
                    == Some("false")
        }),
        "the bucket policy denies requests without TLS"
    );
}

#[test]
fn the_table_has_the_single_table_keys_index_and_ttl() {
    let t = template();
    let table = t.only("AWS::DynamoDB::Table").unwrap();
    assert_eq!(
        text(table.prop(&["BillingMode"])).as_deref(),
        Some("PAY_PER_REQUEST")
    );
    let keys = |v: Option<&Value>| -> Vec<(String, String)> {
        let Some(Value::Sequence(ks)) = v else {
            panic!("key schema")
        };
        ks.iter()
            .map(|k| {
                (
                    text(get(k, &["AttributeName"])).unwrap(),
                    text(get(k, &["KeyType"])).unwrap(),
                )
            })
            .collect()
    };
    let pair = |a: &str, b: &str| vec![(a.into(), "HASH".into()), (b.into(), "RANGE".into())];
    assert_eq!(keys(table.prop(&["KeySchema"])), pair("pk", "sk"));
    let Some(Value::Sequence(gsis)) = table.prop(&["GlobalSecondaryIndexes"]) else {
        panic!("indexes")
    };
    let gsi1 = gsis
        .iter()
        .find(|g| text(get(g, &["IndexName"])).as_deref() == Some("gsi1"))
        .expect("index gsi1");
    assert_eq!(keys(get(gsi1, &["KeySchema"])), pair("gsi1pk", "gsi1sk"));
    assert_eq!(
        text(get(gsi1, &["Projection", "ProjectionType"])).as_deref(),
        Some("ALL")
    );
    assert_eq!(
        text(table.prop(&["TimeToLiveSpecification", "AttributeName"])).as_deref(),
        Some("ttl")
    );
    assert_eq!(
        text(table.prop(&["TimeToLiveSpecification", "Enabled"])).as_deref(),
        Some("true")
    );
    assert_eq!(
        text(table.prop(&[
            "PointInTimeRecoverySpecification",
            "PointInTimeRecoveryEnabled"
        ]))
        .as_deref(),
        Some("true")
    );
}

#[test]
fn the_rotation_sweep_runs_daily_into_the_rotation_queue() {
    let sweep = rampart_app::schedules::ROTATION_SWEEP;
    let sweep_cron = format!("cron({} {} * * ? *)", sweep.minute, sweep.hour);
    let t = template();
    let rules = t.resources_of_type("AWS::Events::Rule");
    let rotation = t
        .queues()
        .unwrap()
        .into_iter()
        .find(|q| q.spec.name == "rotation")
        .expect("rotation queue");
    let sweep = rules
        .iter()
        .find(|r| text(r.prop(&["ScheduleExpression"])).as_deref() == Some(sweep_cron.as_str()))
        .expect("a daily rotation schedule");
    let Some(Value::Sequence(targets)) = sweep.prop(&["Targets"]) else {
        panic!("schedule targets")
    };
    assert_eq!(targets.len(), 1);
    assert_eq!(
        get(&targets[0], &["Arn"]).and_then(reference),
        Some(rotation.resource.id)
    );
    let input: serde_json::Value =
        serde_json::from_str(&text(get(&targets[0], &["Input"])).expect("Input")).unwrap();
    // The self-hosted timer sends the same message at the same time.
    let expected: serde_json::Value =
        serde_json::from_str(rampart_app::schedules::ROTATION_SWEEP.message).unwrap();
    assert_eq!(input, expected);
    let allowed = t
        .resources_of_type("AWS::SQS::QueuePolicy")
        .into_iter()
        .any(|p| {
            let Some(Value::Sequence(qs)) = p.prop(&["Queues"]) else {
                return false;
            };
            qs.iter()
                .any(|q| reference(q) == Some(rotation.resource.id))
                && serde_yaml::to_string(p.properties)
                    .unwrap()
                    .contains("events.amazonaws.com")
        });
    assert!(allowed, "EventBridge may send to the rotation queue");
}

#[test]
fn cfn_lint_passes() {
    let root = repo_root();
    let lint = root.join("infra/emulator/.venv/bin/cfn-lint");
    assert!(
        lint.exists(),
        "{} is missing: run infra/emulator/venv (the project's test script does) to install \
         the pinned emulator and linter",
        lint.display()
    );
    let out = std::process::Command::new(&lint)
        .arg("template.yaml")
        .current_dir(&root)
        .output()
        .expect("cfn-lint runs");
    assert!(
        out.status.success(),
        "cfn-lint template.yaml failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The function built from `functions/<binary>`.
fn function_of_binary<'a>(t: &'a Template, binary: &str) -> Resource<'a> {
    functions(t)
        .into_iter()
        .find(|f| {
            text(get(f.entry, &["Metadata", "BuildProperties", "Binary"])).as_deref()
                == Some(binary)
        })
        .unwrap_or_else(|| panic!("a function built from functions/{binary}"))
}

/// Every statement of a function's inline policy documents.
fn policy_statements<'a>(f: &Resource<'a>) -> Vec<&'a Value> {
    let Some(Value::Sequence(policies)) = f.prop(&["Policies"]).map(untag) else {
        return Vec::new();
    };
    policies
        .iter()
        .filter_map(|p| match get(p, &["Statement"]).map(untag) {
            Some(Value::Sequence(s)) => Some(s.iter()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A statement's `Action` (or `Resource`) as a list, whether written as one or many.
fn one_or_many<'a>(statement: &'a Value, key: &str) -> Vec<&'a Value> {
    match get(statement, &[key]).map(untag) {
        Some(Value::Sequence(v)) => v.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

fn actions(statement: &Value) -> Vec<String> {
    one_or_many(statement, "Action")
        .into_iter()
        .filter_map(scalar_text)
        .collect()
}

/// The text of a `!Sub "..."` (or a plain string).
fn sub_text(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if tag_of(v).as_deref() == Some("Sub") => scalar_text(&t.value),
        _ => scalar_text(v),
    }
}

#[test]
fn the_portal_function_has_the_cpu_for_argon2id() {
    let t = template();
    let portal = function_of_binary(&t, "portal-api");
    let memory = as_u64(function_prop(&t, &portal, "MemorySize").unwrap()).unwrap();
    // DESIGN, field notes: ~360 ms per sign-in at 128 MB, ~25 ms on a full core.
    assert!(memory >= 1024, "{}: MemorySize {memory} < 1024", portal.id);
}

#[test]
fn the_portal_reads_only_its_key_parameter() {
    let t = template();
    let portal = function_of_binary(&t, "portal-api");
    let param = "TotpKeyParameterName";
    let declared = get(t.root(), &["Parameters", param]).expect("the key parameter's name");
    assert_eq!(text(get(declared, &["Type"])).as_deref(), Some("String"));
    assert_eq!(
        text(get(declared, &["Default"])).as_deref(),
        Some("/rampart/totp-key")
    );
    assert_eq!(
        portal
            .prop(&["Environment", "Variables", "RAMPART_TOTP_KEY_PARAMETER"])
            .and_then(reference),
        Some(param),
        "the function reads the parameter the template names"
    );

    let statements = policy_statements(&portal);
    assert!(!statements.is_empty(), "{}: inline policy", portal.id);
    for s in &statements {
        assert_eq!(text(get(s, &["Effect"])).as_deref(), Some("Allow"));
        for a in actions(s) {
            assert!(!a.contains('*'), "{}: wildcard action {a}", portal.id);
        }
    }
    let ssm: Vec<_> = statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("ssm:")))
        .collect();
    assert_eq!(ssm.len(), 1, "one statement grants SSM");
    assert_eq!(actions(ssm[0]), vec!["ssm:GetParameter".to_owned()]);
    let resources: Vec<_> = one_or_many(ssm[0], "Resource")
        .into_iter()
        .map(|r| sub_text(r).expect("an ARN"))
        .collect();
    assert_eq!(
        resources,
        vec![format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{{param}}}"
        )],
        "ssm:GetParameter on the key parameter only"
    );

    // Decryption only through SSM, for that parameter.
    let kms: Vec<_> = statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("kms:")))
        .collect();
    assert_eq!(kms.len(), 1);
    assert_eq!(actions(kms[0]), vec!["kms:Decrypt".to_owned()]);
    let condition = |k: &str| {
        get(kms[0], &["Condition", "StringEquals", k])
            .and_then(sub_text)
            .unwrap_or_else(|| panic!("kms:Decrypt conditioned on {k}"))
    };
    assert_eq!(
        condition("kms:ViaService"),
        "ssm.${AWS::Region}.amazonaws.com"
    );
    assert!(
        condition("kms:EncryptionContext:PARAMETER_ARN")
            .ends_with(&format!(":parameter${{{param}}}"))
    );

    // Mail from the configured sender's identity only.
    let ses: Vec<_> = statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("ses:")))
        .collect();
    assert_eq!(ses.len(), 1);
    assert_eq!(actions(ses[0]), vec!["ses:SendEmail".to_owned()]);
    let identities = serde_yaml::to_string(ses[0]).unwrap();
    assert!(identities.contains(":identity/${MailFrom}"), "{identities}");
    assert!(!identities.contains(":identity/*"), "{identities}");
}

#[test]
fn both_apis_are_routed_on_the_http_api() {
    let t = template();
    let api = t.only("AWS::Serverless::HttpApi").unwrap();
    let routes = |binary: &str| -> Vec<(String, String)> {
        let f = function_of_binary(&t, binary);
        let Some(Value::Mapping(events)) = f.prop(&["Events"]).map(untag) else {
            panic!("{}: events", f.id)
        };
        events
            .values()
            .filter(|e| text(get(e, &["Type"])).as_deref() == Some("HttpApi"))
            .map(|e| {
                assert_eq!(
                    get(e, &["Properties", "ApiId"]).and_then(reference),
                    Some(api.id),
                    "{}: routes on the one HTTP API",
                    f.id
                );
                (
                    text(get(e, &["Properties", "Method"])).expect("Method"),
                    text(get(e, &["Properties", "Path"])).expect("Path"),
                )
            })
            .collect()
    };
    let device = routes("device-api");
    let portal = routes("portal-api");
    assert_eq!(
        device,
        vec![("ANY".to_owned(), "/v1/device/{proxy+}".to_owned())]
    );
    // API Gateway prefers the more specific device route for /v1/device/...
    assert_eq!(portal, vec![("ANY".to_owned(), "/v1/{proxy+}".to_owned())]);
}

/// The logical id of the queue with that `rampart:queue` name.
fn queue_id<'a>(t: &'a Template, name: &str) -> &'a str {
    t.queues()
        .unwrap()
        .into_iter()
        .find(|q| q.spec.name == name)
        .unwrap_or_else(|| panic!("a queue named {name}"))
        .resource
        .id
}

/// The function's events of one type: (event name, properties).
fn events_of_type<'a>(f: &Resource<'a>, ty: &str) -> Vec<(String, &'a Value)> {
    let Some(Value::Mapping(events)) = f.prop(&["Events"]).map(untag) else {
        return Vec::new();
    };
    events
        .iter()
        .filter(|(_, e)| text(get(e, &["Type"])).as_deref() == Some(ty))
        .map(|(name, e)| {
            (
                scalar_text(name).unwrap_or_default(),
                get(e, &["Properties"]).expect("event Properties"),
            )
        })
        .collect()
}

/// The function is given the table's name and exactly the item-level DynamoDB
/// actions the application uses, on the table and its indexes: no Scan, no batch
/// calls, no table management, no wildcard.
fn assert_table_access(t: &Template, f: &Resource<'_>) {
    let id = f.id;
    let table = t.only("AWS::DynamoDB::Table").unwrap();
    assert_eq!(
        f.prop(&["Environment", "Variables", rampart_aws::config::TABLE_ENV])
            .and_then(reference),
        Some(table.id),
        "{id}: {} names the table",
        rampart_aws::config::TABLE_ENV
    );
    let statements = policy_statements(f);
    let dynamo: Vec<_> = statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("dynamodb:")))
        .collect();
    assert_eq!(dynamo.len(), 1, "{id}: one statement grants DynamoDB");
    assert_eq!(text(get(dynamo[0], &["Effect"])).as_deref(), Some("Allow"));
    let mut granted = actions(dynamo[0]);
    granted.sort();
    let mut expected: Vec<String> = [
        "ConditionCheckItem",
        "DeleteItem",
        "GetItem",
        "PutItem",
        "Query",
        "UpdateItem",
    ]
    .iter()
    .map(|a| format!("dynamodb:{a}"))
    .collect();
    expected.sort();
    assert_eq!(granted, expected, "{id}: DynamoDB actions");
    let resources = one_or_many(dynamo[0], "Resource");
    assert!(
        resources.iter().any(|r| reference(r) == Some(table.id)),
        "{id}: granted on the table"
    );
    for r in resources {
        let arn = sub_text(r).unwrap_or_default();
        assert!(
            reference(r) == Some(table.id) || arn == format!("${{{}.Arn}}/index/*", table.id),
            "{id}: DynamoDB granted on {r:?}, not only the table and its indexes"
        );
    }
    for s in &statements {
        for a in actions(s) {
            assert!(!a.contains('*'), "{id}: wildcard action {a}");
        }
    }
}

#[test]
fn the_dispatch_function_consumes_the_jobs_queue_with_partial_failures() {
    let t = template();
    let f = function_of_binary(&t, "dispatch");
    let jobs = queue_id(&t, "jobs");
    let sources = sqs_events(&f);
    assert_eq!(sources.len(), 1, "{}: one SQS event source", f.id);
    let (queue, props) = sources[0];
    assert_eq!(queue, jobs, "{}: consumes the jobs queue", f.id);
    let Some(Value::Sequence(types)) = get(props, &["FunctionResponseTypes"]).map(untag) else {
        panic!("{}: FunctionResponseTypes", f.id);
    };
    assert_eq!(
        types.iter().map(scalar_text).collect::<Vec<_>>(),
        vec![Some("ReportBatchItemFailures".to_owned())]
    );
    let batch = as_u64(get(props, &["BatchSize"]).expect("an explicit BatchSize")).unwrap();
    assert!((1..=10).contains(&batch), "BatchSize {batch}");

    // The queue redelivers only after 6x the function's timeout, in the template
    // and in the self-hosted runtime's spec alike.
    let timeout = as_u64(function_prop(&t, &f, "Timeout").unwrap()).unwrap();
    let declared = t
        .queues()
        .unwrap()
        .into_iter()
        .find(|q| q.spec.name == "jobs")
        .unwrap()
        .spec
        .visibility_timeout;
    assert!(
        declared.as_secs() >= 6 * timeout,
        "jobs VisibilityTimeout {declared:?} < 6x {timeout} s"
    );
    assert_eq!(
        Some(declared),
        rampart_app::queues::spec("jobs").map(|s| s.visibility_timeout)
    );
    // One message is at most TARGETS_PER_MESSAGE appliances.
    assert_eq!(rampart_app::jobs::dispatch::TARGETS_PER_MESSAGE, 50);
    assert_table_access(&t, &f);
    assert!(
        f.prop(&["Environment", "Variables", "RAMPART_QUEUE_URL_JOBS"])
            .is_none(),
        "the dispatch function sends nothing to the queue it consumes"
    );
}

#[test]
fn the_maintenance_function_sweeps_on_the_sweep_period() {
    let t = template();
    let f = function_of_binary(&t, "maintenance");
    let every = rampart_app::jobs::maintenance::SWEEP_EVERY.as_secs();
    assert_eq!(every % 60, 0, "EventBridge rates are whole minutes");
    let minutes = every / 60;
    let expected = if minutes == 1 {
        "rate(1 minute)".to_owned()
    } else {
        format!("rate({minutes} minutes)")
    };
    let schedules = events_of_type(&f, "Schedule");
    assert_eq!(schedules.len(), 1, "{}: one Schedule event", f.id);
    let props = schedules[0].1;
    assert_eq!(
        text(get(props, &["Schedule"])).as_deref(),
        Some(expected.as_str()),
        "{}: the schedule matches SWEEP_EVERY",
        f.id
    );
    assert_ne!(
        text(get(props, &["Enabled"])).as_deref(),
        Some("false"),
        "{}: the schedule is enabled",
        f.id
    );
    let timeout = as_u64(function_prop(&t, &f, "Timeout").unwrap()).unwrap();
    assert!(
        timeout < every,
        "{}: Timeout {timeout} s should end before the next sweep starts",
        f.id
    );
    assert!(sqs_events(&f).is_empty());
    assert_table_access(&t, &f);
}

#[test]
fn the_portal_sends_jobs_and_scans_to_their_queues_only() {
    let t = template();
    let portal = function_of_binary(&t, "portal-api");
    let jobs = queue_id(&t, "jobs");
    let scan = queue_id(&t, "scan");
    assert_eq!(
        queue_url_env_of(&portal, "jobs"),
        Some(jobs),
        "the portal is given the jobs queue's URL"
    );
    assert_eq!(
        queue_url_env_of(&portal, "scan"),
        Some(scan),
        "the portal is given the scan queue's URL"
    );
    // SQS only through the SQSSendMessagePolicy entries, on exactly these queues.
    assert_eq!(send_policy_queues(&portal), vec![jobs, scan]);
    assert_table_access(&t, &portal);
}

#[test]
fn the_security_scan_function_fits_a_full_scan_outside_the_request_path() {
    let t = template();
    let f = function_of_binary(&t, "security-scan");
    assert_consumes(&t, &f, "scan");
    assert_table_access(&t, &f);
    // One scan per invocation, with the whole time-out to itself: a full TOP 100
    // scan (100 ports at once, 3 attempts of at most 3 s each) of a few addresses
    // takes well under it; the queue redelivers after 6x (900 s).
    let events = sqs_events(&f);
    assert_eq!(as_u64(get(events[0].1, &["BatchSize"]).unwrap()), Some(1));
    let timeout = as_u64(function_prop(&t, &f, "Timeout").unwrap()).unwrap();
    assert_eq!(timeout, 150);
    let options = rampart_scanner::ScanOptions::default();
    let worst_per_address = options.max_timeout.as_secs() * u64::from(options.attempts);
    assert!(
        worst_per_address * 4 < timeout,
        "four public addresses fit the time-out"
    );
    // A modest, reserved concurrency: never more scans at once than this.
    let reserved = as_u64(
        f.prop(&["ReservedConcurrentExecutions"])
            .expect("ReservedConcurrentExecutions"),
    )
    .unwrap();
    assert!(
        (1..=20).contains(&reserved),
        "ReservedConcurrentExecutions {reserved}"
    );
    // It sends nothing, and scans only what the operator allows: none in production.
    assert!(send_policy_queues(&f).is_empty(), "{}", f.id);
    assert_eq!(
        f.prop(&["Environment", "Variables", rampart_app::scans::ALLOW_ENV])
            .and_then(scalar_text)
            .as_deref(),
        Some("")
    );
}

/// The queues a function may send to, by the logical ids its
/// `SQSSendMessagePolicy` entries name; inline statements grant no SQS besides.
fn send_policy_queues<'a>(f: &Resource<'a>) -> Vec<&'a str> {
    let Some(Value::Sequence(policies)) = f.prop(&["Policies"]).map(untag) else {
        return Vec::new();
    };
    assert!(
        policy_statements(f)
            .iter()
            .all(|s| actions(s).iter().all(|a| !a.starts_with("sqs:"))),
        "{}: SQS only through SQSSendMessagePolicy",
        f.id
    );
    policies
        .iter()
        .filter_map(|p| get(p, &["SQSSendMessagePolicy", "QueueName"]))
        .map(|name| {
            assert_eq!(
                tag_of(name).as_deref(),
                Some("GetAtt"),
                "{}: QueueName is !GetAtt <queue>.QueueName",
                f.id
            );
            assert!(
                scalar_text(untag(name)).is_some_and(|s| s.ends_with(".QueueName")),
                "{}: QueueName {name:?}",
                f.id
            );
            reference(name).expect("a queue reference")
        })
        .collect()
}

/// The S3 actions a function's inline statements grant, each with the resources
/// it is granted on (`!Sub` text, or `!GetAtt X.Arn` as `${X.Arn}`).
fn s3_grants(f: &Resource<'_>) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut grants = std::collections::BTreeMap::<String, Vec<String>>::new();
    for s in policy_statements(f) {
        let s3: Vec<String> = actions(s)
            .into_iter()
            .filter(|a| a.starts_with("s3:"))
            .collect();
        if s3.is_empty() {
            continue;
        }
        assert_eq!(text(get(s, &["Effect"])).as_deref(), Some("Allow"));
        assert!(get(s, &["Condition"]).is_none(), "{}: {s:?}", f.id);
        // Each resource with its tag (`one_or_many` drops a lone resource's tag).
        let resources: Vec<&Value> = match get(s, &["Resource"]) {
            Some(r) => match untag(r) {
                Value::Sequence(v) => v.iter().collect(),
                _ => vec![r],
            },
            None => Vec::new(),
        };
        let resources: Vec<String> = resources
            .into_iter()
            .map(|r| match tag_of(r).as_deref() {
                Some("GetAtt") => format!("${{{}}}", scalar_text(untag(r)).unwrap()),
                _ => sub_text(r).unwrap_or_else(|| panic!("{}: resource {r:?}", f.id)),
            })
            .collect();
        for a in s3 {
            grants.entry(a).or_default().extend(resources.clone());
        }
    }
    grants
}

/// A function consuming `queue` as the template's queue-consuming functions must:
/// one SQS event source, partial batch failures, an explicit small batch, and a
/// queue that redelivers only after 6x the function's timeout, as declared in the
/// template and in the self-hosted runtime's spec alike.
fn assert_consumes(t: &Template, f: &Resource<'_>, queue: &str) {
    let id = f.id;
    let sources = sqs_events(f);
    assert_eq!(sources.len(), 1, "{id}: one SQS event source");
    let (source, props) = sources[0];
    assert_eq!(
        source,
        queue_id(t, queue),
        "{id}: consumes the {queue} queue"
    );
    let Some(Value::Sequence(types)) = get(props, &["FunctionResponseTypes"]).map(untag) else {
        panic!("{id}: FunctionResponseTypes");
    };
    assert_eq!(
        types.iter().map(scalar_text).collect::<Vec<_>>(),
        vec![Some("ReportBatchItemFailures".to_owned())],
        "{id}: partial batch failures"
    );
    let batch = as_u64(get(props, &["BatchSize"]).expect("an explicit BatchSize")).unwrap();
    assert!((1..=10).contains(&batch), "{id}: BatchSize {batch}");
    assert!(
        get(props, &["Enabled"]).and_then(scalar_text).as_deref() != Some("false"),
        "{id}: the event source is enabled"
    );
    let timeout = as_u64(function_prop(t, f, "Timeout").unwrap()).unwrap();
    let declared = t
        .queues()
        .unwrap()
        .into_iter()
        .find(|q| q.spec.name == queue)
        .unwrap()
        .spec
        .visibility_timeout;
    assert!(
        declared.as_secs() >= 6 * timeout,
        "{queue} VisibilityTimeout {declared:?} < 6x {id}'s Timeout {timeout} s"
    );
    assert_eq!(
        Some(declared),
        rampart_app::queues::spec(queue).map(|s| s.visibility_timeout),
        "{queue}: the self-hosted runtime's visibility timeout"
    );
}

/// The function is given the backup bucket's name.
fn assert_bucket_env(t: &Template, f: &Resource<'_>) {
    let bucket = t.only("AWS::S3::Bucket").unwrap();
    assert_eq!(
        f.prop(&["Environment", "Variables", rampart_aws::config::BUCKET_ENV])
            .and_then(reference),
        Some(bucket.id),
        "{}: {} names the bucket",
        f.id,
        rampart_aws::config::BUCKET_ENV
    );
}

/// The function is given the URL of the queue of that logical name.
fn queue_url_env_of<'a>(f: &Resource<'a>, queue: &str) -> Option<&'a str> {
    f.prop(&[
        "Environment",
        "Variables",
        &rampart_aws::config::queue_url_env(queue),
    ])
    .and_then(reference)
}

#[test]
fn the_backup_functions_consume_their_queues_with_partial_failures() {
    let t = template();
    let rotation = queue_id(&t, "rotation");
    for (binary, queue) in [("backup-ingest", "backup-ingest"), ("rotation", "rotation")] {
        let f = function_of_binary(&t, binary);
        assert_consumes(&t, &f, queue);
        assert_table_access(&t, &f);
        assert_bucket_env(&t, &f);
        // Both build the backup services, which take the rotation queue; the
        // rotation sweep fans out into it.
        assert_eq!(queue_url_env_of(&f, "rotation"), Some(rotation), "{}", f.id);
        assert_eq!(send_policy_queues(&f), vec![rotation], "{}", f.id);
    }
    // The functions' own timeouts, as the queues' 6x was sized for.
    let timeout = |binary: &str| {
        let f = function_of_binary(&t, binary);
        as_u64(function_prop(&t, &f, "Timeout").unwrap()).unwrap()
    };
    assert_eq!(timeout("backup-ingest"), 30);
    assert_eq!(timeout("rotation"), 60);
}

#[test]
fn created_backups_notify_the_backup_ingest_queue() {
    let t = template();
    let bucket = t.only("AWS::S3::Bucket").unwrap();
    let ingest = function_of_binary(&t, "backup-ingest");
    let (consumed, _) = sqs_events(&ingest)[0];
    let Some(Value::Sequence(configs)) =
        bucket.prop(&["NotificationConfiguration", "QueueConfigurations"])
    else {
        panic!("the bucket notifies a queue");
    };
    assert_eq!(configs.len(), 1);
    let c = &configs[0];
    assert_eq!(
        get(c, &["Queue"]).and_then(reference),
        Some(consumed),
        "the queue the ingest function consumes"
    );
    assert_eq!(
        text(get(c, &["Event"])).as_deref(),
        Some("s3:ObjectCreated:*")
    );
    let Some(Value::Sequence(rules)) = get(c, &["Filter", "S3Key", "Rules"]) else {
        panic!("a key filter");
    };
    let prefix: Vec<_> = rules
        .iter()
        .filter(|r| text(get(r, &["Name"])).as_deref() == Some("prefix"))
        .filter_map(|r| text(get(r, &["Value"])))
        .collect();
    assert_eq!(
        prefix,
        vec![rampart_app::records::backup::OBJECT_PREFIX.to_owned()]
    );
}

#[test]
fn bucket_access_is_what_each_function_does_with_backups() {
    let t = template();
    let bucket = t.only("AWS::S3::Bucket").unwrap().id;
    let backups = format!("${{{bucket}.Arn}}/backups/*");
    let whole = format!("${{{bucket}.Arn}}");
    let grants = |binary: &str| s3_grants(&function_of_binary(&t, binary));
    let expect = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(a, r)| (format!("s3:{a}"), vec![(*r).to_owned()]))
            .collect()
    };
    // Presigned upload and download URLs carry the device API's permission.
    assert_eq!(
        grants("device-api"),
        expect(&[("GetObject", &backups), ("PutObject", &backups)])
    );
    // Presigned downloads, and a user's backup deletion.
    assert_eq!(
        grants("portal-api"),
        expect(&[("DeleteObject", &backups), ("GetObject", &backups)])
    );
    // Head and header read, deletion of refused and rotated-out objects; ListBucket
    // so that a missing object is a 404, not a 403.
    assert_eq!(
        grants("backup-ingest"),
        expect(&[
            ("DeleteObject", &backups),
            ("GetObject", &backups),
            ("ListBucket", &whole)
        ])
    );
    assert_eq!(grants("rotation"), expect(&[("DeleteObject", &backups)]));
    for binary in ["dispatch", "maintenance"] {
        assert!(grants(binary).is_empty(), "{binary}: no bucket access");
    }
    for binary in ["device-api", "portal-api", "backup-ingest", "rotation"] {
        assert_bucket_env(&t, &function_of_binary(&t, binary));
    }
}

#[test]
fn the_maintenance_function_sends_scheduled_backup_jobs_to_the_jobs_queue() {
    let t = template();
    let f = function_of_binary(&t, "maintenance");
    let jobs = queue_id(&t, "jobs");
    assert_eq!(
        queue_url_env_of(&f, "jobs"),
        Some(jobs),
        "{}: given the jobs queue's URL",
        f.id
    );
    assert_eq!(send_policy_queues(&f), vec![jobs]);
    // The dispatch function consumes it.
    let dispatch = function_of_binary(&t, "dispatch");
    assert_eq!(sqs_events(&dispatch)[0].0, jobs);
}
