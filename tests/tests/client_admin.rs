//! The admin client against the broker: create (with configs), describe configs, list,
//! describe (partitions and leaders), delete, and the error for a topic that already exists.

use laminar_kafka_tests as support;

use std::time::{Duration, Instant};

use laminar_kafka_client::Error;
use laminar_kafka_client::admin::{Admin, ConfigResource, NewTopic};
use laminar_kafka_client::config::IsolationLevel;
use laminar_kafka_client::offsets::OffsetSpec;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_protocol::messages::messages::delete_topics_request::DeleteTopicState;
use laminar_kafka_protocol::messages::messages::{DeleteTopicsRequest, TopicName};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use laminar_kafka_tests::unique_topic;
use support::{broker, connect_plaintext, plaintext_config, send_all};

fn config_value(
    entries: &[laminar_kafka_client::admin::ConfigEntry],
    name: &str,
) -> Option<String> {
    entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no config entry {name}"))
        .value
        .clone()
}

async fn wait_until_described(admin: &Admin, topics: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(error) = admin.describe_topics(topics).await {
        assert_eq!(error.kafka_code().map(|c| c.code()), Some(3), "{error}");
        assert!(
            Instant::now() < deadline,
            "{topics:?} not served after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_lifecycle_create_describe_list_delete() {
    let broker = broker();
    let admin = Admin::new(plaintext_config(broker, &[])).unwrap();
    let compacted = unique_topic("admin-compacted");
    let plain = unique_topic("admin-plain");
    admin
        .create_topics(&[
            NewTopic::new(compacted.clone(), 4, 1)
                .with_config("cleanup.policy", "compact")
                .with_config("retention.ms", "3600000"),
            NewTopic::new(plain.clone(), 2, 1),
        ])
        .await
        .expect("create");

    // CreateTopics returns once the controller accepted the topics; the broker serves them a
    // moment later.
    wait_until_described(&admin, &[&compacted, &plain]).await;

    let configs = admin
        .describe_configs(ConfigResource::Topic, &compacted)
        .await
        .expect("describe_configs");
    assert_eq!(
        config_value(&configs, "cleanup.policy").as_deref(),
        Some("compact")
    );
    assert_eq!(
        config_value(&configs, "retention.ms").as_deref(),
        Some("3600000")
    );
    let plain_configs = admin
        .describe_configs(ConfigResource::Topic, &plain)
        .await
        .unwrap();
    assert_eq!(
        config_value(&plain_configs, "cleanup.policy").as_deref(),
        Some("delete")
    );
    let node = admin.describe_cluster().await.unwrap().brokers[0].id;
    let broker_configs = admin
        .describe_configs(ConfigResource::Broker, &node.to_string())
        .await
        .expect("broker configs");
    assert!(broker_configs.iter().any(|e| e.name == "listeners"));

    let topics = admin.list_topics().await.expect("list");
    assert!(
        topics.contains(&compacted) && topics.contains(&plain),
        "{topics:?}"
    );
    assert!(
        !topics.iter().any(|t| t.starts_with("__")),
        "internal topics listed: {topics:?}"
    );

    let described = admin
        .describe_topics(&[&compacted, &plain])
        .await
        .expect("describe");
    assert_eq!(described.len(), 2);
    assert_eq!(described[0].name, compacted);
    assert_eq!(described[0].partitions.len(), 4);
    assert_eq!(described[1].partitions.len(), 2);
    for topic in &described {
        assert!(!topic.id.is_nil(), "a topic id");
        let mut indices: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
        indices.sort();
        assert_eq!(
            indices,
            (0..topic.partitions.len() as i32).collect::<Vec<_>>()
        );
        for p in &topic.partitions {
            assert_eq!(p.leader, node, "{}-{}", topic.name, p.partition);
            assert_eq!(p.replicas, vec![node]);
            assert_eq!(p.isr, vec![node]);
            assert!(p.error.is_none());
        }
    }

    admin
        .delete_topics(&[&compacted, &plain])
        .await
        .expect("delete");
    // Deletion completes asynchronously on the controller: describe until both are gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    for topic in [&compacted, &plain] {
        loop {
            match admin.describe_topics(&[topic]).await {
                Err(error) => {
                    assert_eq!(error.kafka_code().map(|c| c.code()), Some(3), "{error}");
                    break;
                }
                Ok(_) => assert!(Instant::now() < deadline, "{topic} still described"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let topics = admin.list_topics().await.unwrap();
    assert!(
        !topics.contains(&compacted) && !topics.contains(&plain),
        "{topics:?}"
    );
}

/// A topic deleted by another client disappears from `list_topics` (a full metadata refresh
/// replaces the topic list; it must not keep topics the broker no longer reports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_topics_forgets_topics_deleted_elsewhere() {
    let broker = broker();
    let admin = Admin::new(plaintext_config(broker, &[])).unwrap();
    let topic = unique_topic("admin-deleted-elsewhere");
    admin
        .create_topics(&[NewTopic::new(topic.clone(), 1, 1)])
        .await
        .unwrap();
    wait_until_described(&admin, &[&topic]).await;
    assert!(admin.list_topics().await.unwrap().contains(&topic));

    let conn = connect_plaintext(broker).await;
    let request = DeleteTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topic_names(vec![TopicName(StrBytes::from_string(topic.clone()))])
        .with_topics(vec![
            DeleteTopicState::default()
                .with_name(Some(TopicName(StrBytes::from_string(topic.clone())))),
        ]);
    let response = conn.send(&request).await.expect("DeleteTopics");
    assert_eq!(response.responses[0].error_code, 0);
    // Wait until the broker's own metadata no longer has it.
    let other = Admin::new(plaintext_config(broker, &[])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while other.describe_topics(&[&topic]).await.is_ok() {
        assert!(Instant::now() < deadline, "{topic} not deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let topics = admin.list_topics().await.unwrap();
    assert!(
        !topics.contains(&topic),
        "list_topics still lists {topic}, deleted by another client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_an_existing_topic_is_topic_already_exists() {
    let broker = broker();
    let admin = Admin::new(plaintext_config(broker, &[])).unwrap();
    let topic = unique_topic("admin-exists");
    admin
        .create_topics(&[NewTopic::new(topic.clone(), 1, 1)])
        .await
        .unwrap();
    wait_until_described(&admin, &[&topic]).await;
    let error = admin
        .create_topics(&[NewTopic::new(topic.clone(), 3, 1)])
        .await
        .expect_err("the topic exists");
    match &error {
        Error::Broker {
            api, code, context, ..
        } => {
            assert_eq!(*api, "CreateTopics");
            assert_eq!(code.code(), 36, "{error}");
            assert_eq!(code.name(), "TopicAlreadyExists");
            assert!(
                context.as_deref().unwrap_or_default().contains(&topic),
                "{error}"
            );
        }
        other => panic!("expected TopicAlreadyExists, got {other:?}"),
    }
    // The existing topic is untouched.
    let described = admin.describe_topics(&[&topic]).await.unwrap();
    assert_eq!(described[0].partitions.len(), 1);

    // Each topic of a request gets its own outcome.
    let fresh = unique_topic("admin-fresh");
    let outcomes = admin
        .create_topics_each(&[
            NewTopic::new(topic.clone(), 1, 1),
            NewTopic::new(fresh.clone(), 1, 1),
        ])
        .await
        .unwrap();
    for (name, outcome) in outcomes {
        if name == topic {
            assert_eq!(
                outcome.unwrap_err().kafka_code().map(|c| c.code()),
                Some(36)
            );
        } else {
            assert_eq!(name, fresh);
            outcome.expect("the new topic is created");
        }
    }
    // An invalid config value is refused with the broker's reason.
    let error = admin
        .create_topics(&[NewTopic::new(unique_topic("admin-bad"), 1, 1)
            .with_config("cleanup.policy", "sometimes")])
        .await
        .expect_err("invalid config");
    assert_eq!(
        error.kafka_code().map(|c| c.code()),
        Some(40),
        "INVALID_CONFIG: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_earliest_latest_and_by_time() {
    let broker = broker();
    let admin = Admin::new(plaintext_config(broker, &[])).unwrap();
    let topic = unique_topic("admin-offsets");
    admin
        .create_topics(&[NewTopic::new(topic.clone(), 1, 1)])
        .await
        .unwrap();
    wait_until_described(&admin, &[&topic]).await;
    let producer = Producer::new(plaintext_config(broker, &[])).unwrap();
    let base = 1_700_000_000_000i64;
    send_all(
        &producer,
        (0..10).map(|i| {
            ProducerRecord::new(topic.clone(), format!("v{i}")).with_timestamp(base + i * 100)
        }),
    )
    .await;
    producer.close().await.unwrap();
    let tp = (topic.clone(), 0);
    let found = admin
        .list_offsets(
            &[(tp.clone(), OffsetSpec::Earliest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(found[&tp].offset, 0);
    for (spec, offset) in [
        (OffsetSpec::Latest, 10),
        (OffsetSpec::Timestamp(base + 250), 3),
        (OffsetSpec::Timestamp(base), 0),
        (OffsetSpec::MaxTimestamp, 9),
    ] {
        let found = admin
            .list_offsets(&[(tp.clone(), spec)], IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert_eq!(found[&tp].offset, offset, "{spec:?}");
    }
    let found = admin
        .list_offsets(
            &[(tp.clone(), OffsetSpec::Timestamp(base + 250))],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(found[&tp].timestamp, base + 300);
}
