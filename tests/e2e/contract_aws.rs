//! The adapter contract suite against the AWS adapters on the local AWS emulator
//! (moto server), each check on resources provisioned fresh from template.yaml.
//! Needs `AWS_ENDPOINT_URL`: run through the test script or after
//! `source <(infra/emulator/start)`.

use rampart_tests::aws_env::{objects_env, queue_env, table_env};

rampart_ports::contract_tests!(table: table_env, queue: queue_env, objects: objects_env);

/// Behaviour of the AWS adapters and the emulator set-up beyond the shared
/// contract: the paths that exist only because DynamoDB deletes expired items
/// late, and the resources' shapes as provisioned from the template.
mod aws_specific {
    use rampart_aws::{DynamoTable, S3Objects, SqsQueue, enable_bucket_notifications};
    use rampart_ports::{
        Condition, Item, Key, ManualClock, Objects, Queue, ReturnItem, StoreError, Table,
        TransactOp, Update, Value,
    };
    use rampart_tests::aws_env::{clients, provision, template};
    use std::sync::Arc;
    use std::time::Duration;

    async fn table() -> (DynamoTable, ManualClock) {
        let c = clients().await;
        let p = provision(&c).await;
        let clock = ManualClock::at(rampart_domain::Timestamp::from_secs(1_767_225_600));
        (
            DynamoTable::new(c.dynamodb.clone(), p.table.clone(), Arc::new(clock.clone())),
            clock,
        )
    }

    fn clock_secs(c: &ManualClock) -> i64 {
        use rampart_ports::Clock;
        c.now().secs()
    }

    #[tokio::test]
    async fn an_update_over_an_expired_item_starts_from_nothing() {
        let (t, clock) = table().await;
        let now = clock_secs(&clock);
        let key = Key::new("p", "expiring");
        let old = Item::new(key.clone())
            .with("ttl", now + 10)
            .with("stale", "x")
            .with("n", 41);
        t.put(old, None).await.unwrap();
        clock.advance(Duration::from_secs(60));
        let before = t
            .update(&key, Update::new().add("n", 1), None, ReturnItem::AllOld)
            .await
            .unwrap();
        assert_eq!(before, None, "the expired item was absent");
        let item = t.get(&key).await.unwrap().expect("created");
        assert_eq!(item, Item::new(key.clone()).with("n", 1));

        // The same inside a transaction.
        let key2 = Key::new("p", "expiring-2");
        t.put(
            Item::new(key2.clone())
                .with("ttl", clock_secs(&clock) + 5)
                .with("stale", true),
            None,
        )
        .await
        .unwrap();
        clock.advance(Duration::from_secs(60));
        t.transact(vec![
            TransactOp::Update(
                key2.clone(),
                Update::new().set("fresh", 1),
                Some(Condition::NotExists),
            ),
            TransactOp::Put(Item::new(Key::new("p", "other")), None),
        ])
        .await
        .unwrap();
        assert_eq!(
            t.get(&key2).await.unwrap(),
            Some(Item::new(key2).with("fresh", 1))
        );
    }

    #[tokio::test]
    async fn conditions_compose_and_ne_needs_the_attribute() {
        let (t, _) = table().await;
        let key = Key::new("p", "c");
        let either = Condition::Or(vec![Condition::NotExists, Condition::eq("v", 1)]);
        t.put(Item::new(key.clone()).with("v", 1), Some(either.clone()))
            .await
            .unwrap();
        t.put(Item::new(key.clone()).with("v", 2), Some(either.clone()))
            .await
            .unwrap();
        let err = t
            .put(Item::new(key.clone()).with("v", 3), Some(either))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
        let err = t
            .delete(&key, Some(Condition::Ne("missing".into(), Value::N(1))))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
        t.delete(&key, Some(Condition::Ne("v".into(), Value::N(1))))
            .await
            .unwrap();
        assert_eq!(t.get(&key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_presigned_upload_names_the_headers_it_binds() {
        let c = clients().await;
        let p = provision(&c).await;
        let o = S3Objects::new(c.s3.clone(), p.bucket.clone());
        let req = o
            .presign_put(
                "backups/A1B2C3D4/x.rbk",
                1234,
                &[0xab; 32],
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert!(
            req.headers
                .contains(&("content-length".into(), "1234".into())),
            "{:?}",
            req.headers
        );
        assert!(
            req.headers
                .contains(&("content-type".into(), "application/octet-stream".into())),
            "{:?}",
            req.headers
        );
        // base64 of the 32 bytes 0xab.
        let checksum = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=";
        assert!(
            req.headers
                .contains(&("x-amz-checksum-sha256".into(), checksum.into())),
            "{:?}",
            req.headers
        );
        assert!(req.url.contains("X-Amz-Signature="), "not a presigned URL");
        // The checksum is signed with the URL, so a client cannot drop or change it.
        let signed = req
            .url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
            .expect("signed headers");
        assert!(
            signed.split("%3B").any(|h| h == "x-amz-checksum-sha256"),
            "{signed}"
        );
    }

    #[tokio::test]
    async fn provisioned_queues_have_the_template_shapes() {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let c = clients().await;
        let p = provision(&c).await;
        let specs = template().queue_specs().unwrap();
        assert_eq!(p.queues.len(), specs.len());
        for spec in specs {
            let q = p.queue(&spec.name).unwrap();
            let attrs = c
                .sqs
                .get_queue_attributes()
                .queue_url(&q.url)
                .attribute_names(A::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap();
            assert_eq!(
                attrs[&A::VisibilityTimeout],
                spec.visibility_timeout.as_secs().to_string()
            );
            let redrive: serde_json::Value =
                serde_json::from_str(&attrs[&A::RedrivePolicy]).unwrap();
            assert_eq!(redrive["deadLetterTargetArn"], q.dead_letter_arn.as_str());
            assert_eq!(
                redrive["maxReceiveCount"].to_string().trim_matches('"'),
                spec.max_receives.to_string()
            );
            let dlq = c
                .sqs
                .get_queue_attributes()
                .queue_url(&q.dead_letter_url)
                .attribute_names(A::MessageRetentionPeriod)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap();
            assert_eq!(dlq[&A::MessageRetentionPeriod], "1209600");
        }
        let table = c
            .dynamodb
            .describe_table()
            .table_name(&p.table)
            .send()
            .await
            .unwrap();
        let gsis = table.table.unwrap().global_secondary_indexes.unwrap();
        assert_eq!(gsis[0].index_name(), Some("gsi1"));
        let ttl = c
            .dynamodb
            .describe_time_to_live()
            .table_name(&p.table)
            .send()
            .await
            .unwrap();
        assert_eq!(
            ttl.time_to_live_description.unwrap().attribute_name(),
            Some("ttl")
        );
    }

    #[tokio::test]
    async fn uploads_under_backups_notify_the_ingest_queue() {
        let c = clients().await;
        let p = provision(&c).await;
        enable_bucket_notifications(&c, template(), &p)
            .await
            .unwrap();
        let o = S3Objects::new(c.s3.clone(), p.bucket.clone());
        o.put("elsewhere/x", bytes::Bytes::from_static(b"x"))
            .await
            .unwrap();
        o.put("backups/A1B2C3D4/1.rbk", bytes::Bytes::from_static(b"x"))
            .await
            .unwrap();
        let q = SqsQueue::new(c.sqs.clone(), p.queue("backup-ingest").unwrap().url.clone());
        let mut bodies = Vec::new();
        for _ in 0..5 {
            for m in q
                .receive(10, Duration::from_secs(1), Duration::from_secs(30))
                .await
                .unwrap()
            {
                q.delete(&m.receipt).await.unwrap();
                bodies.push(m.body);
            }
        }
        let created: Vec<_> = bodies
            .iter()
            .filter(|b| b.contains("ObjectCreated"))
            .collect();
        assert_eq!(created.len(), 1, "{bodies:?}");
        // Keys in S3 notifications are URL-encoded; moto encodes `/` as well
        // (the ingest consumer must percent-decode the key).
        assert!(
            created[0].contains("backups%2FA1B2C3D4%2F1.rbk")
                || created[0].contains("backups/A1B2C3D4/1.rbk"),
            "{}",
            created[0]
        );
        assert!(bodies.iter().all(|b| !b.contains("elsewhere")));
    }
}
