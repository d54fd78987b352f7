//! Requests written by hand over one `Connection` — topic creation, Metadata, Fetch and Produce
//! at the negotiated versions — and the decoded records the codec tests compare.

use std::time::{Duration, Instant};

use bytes::Bytes;
use laminar_kafka_client::connection::Connection;
use laminar_kafka_protocol::messages::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig,
};
use laminar_kafka_protocol::messages::messages::fetch_request::{FetchPartition, FetchTopic};
use laminar_kafka_protocol::messages::messages::metadata_request::MetadataRequestTopic;
use laminar_kafka_protocol::messages::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use laminar_kafka_protocol::messages::messages::produce_response::PartitionProduceResponse;
use laminar_kafka_protocol::messages::messages::{
    CreateTopicsRequest, FetchRequest, MetadataRequest, ProduceRequest, TopicName,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use laminar_kafka_protocol::record::{DecodeOptions, RecordBatch, batches};
use uuid::Uuid;

use crate::WAIT;

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// Creates topics (one replica each) with a raw CreateTopics request and waits until every
/// partition has a leader.
pub async fn create_topics(conn: &Connection, topics: &[(&str, i32)]) {
    create_topics_with_configs(conn, topics, &[]).await;
}

/// Like [`create_topics`], with topic configs applied to every topic.
pub async fn create_topics_with_configs(
    conn: &Connection,
    topics: &[(&str, i32)],
    configs: &[(&str, &str)],
) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(
            topics
                .iter()
                .map(|(name, partitions)| {
                    CreatableTopic::default()
                        .with_name(topic_name(name))
                        .with_num_partitions(*partitions)
                        .with_replication_factor(1)
                        .with_configs(
                            configs
                                .iter()
                                .map(|(k, v)| {
                                    CreatableTopicConfig::default()
                                        .with_name(StrBytes::from_string((*k).to_owned()))
                                        .with_value(Some(StrBytes::from_string((*v).to_owned())))
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    let response = conn.send(&request).await.expect("CreateTopics");
    for topic in &response.topics {
        assert_eq!(
            topic.error_code, 0,
            "creating topic {}: {:?}",
            topic.name.0, topic.error_message
        );
    }
    for (name, partitions) in topics {
        wait_for_leaders(conn, name, *partitions).await;
    }
}

/// The topic's metadata, once every one of its `partitions` partitions has a leader.
pub async fn wait_for_leaders(conn: &Connection, topic: &str, partitions: i32) -> Uuid {
    let deadline = Instant::now() + WAIT;
    loop {
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name(topic))),
            ]));
        let response = conn.send(&request).await.expect("Metadata");
        if let Some(t) = response.topics.first() {
            let ready = t.error_code == 0
                && t.partitions.len() == partitions as usize
                && t.partitions
                    .iter()
                    .all(|p| p.error_code == 0 && p.leader_id.0 >= 0);
            if ready {
                return t.topic_id;
            }
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} has no leader for all {partitions} partitions after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The topic id of an existing topic.
pub async fn topic_id(conn: &Connection, topic: &str) -> Uuid {
    let request = MetadataRequest::default()
        .with_allow_auto_topic_creation(false)
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic_name(topic))),
        ]));
    let response = conn.send(&request).await.expect("Metadata");
    let t = response.topics.first().expect("the topic in the response");
    assert_eq!(t.error_code, 0, "metadata of {topic}");
    t.topic_id
}

/// Fetches one partition from offset 0 with raw Fetch requests at the negotiated version (topic
/// ids from v13) until at least `min_records` data records came, and returns every batch (data
/// and control) in order. Batches are decoded by the codec under test, CRC checked.
pub async fn fetch_batches(
    conn: &Connection,
    topic: &str,
    partition: i32,
    min_records: usize,
) -> Vec<RecordBatch> {
    let version = conn
        .versions()
        .version_for::<FetchRequest>()
        .expect("a Fetch version both sides speak");
    let id = topic_id(conn, topic).await;
    let deadline = Instant::now() + WAIT;
    let mut offset = 0i64;
    let mut records = 0usize;
    let mut out = Vec::new();
    while records < min_records {
        assert!(
            Instant::now() < deadline,
            "{topic}-{partition}: only {records} of {min_records} records fetched within {WAIT:?}"
        );
        let request = FetchRequest::default()
            .with_max_wait_ms(200)
            .with_min_bytes(1)
            .with_max_bytes(64 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(topic_name(topic))
                    .with_topic_id(id)
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(16 << 20),
                    ]),
            ]);
        let response = conn.send_at(&request, version).await.expect("Fetch");
        assert_eq!(response.error_code, 0, "Fetch v{version} of {topic}");
        let data = response
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == partition)
            .expect("the partition in the Fetch response");
        assert_eq!(
            data.error_code, 0,
            "Fetch v{version} of {topic}-{partition}"
        );
        for batch in batches(data.records.unwrap_or_default(), DecodeOptions::default()) {
            let batch = batch.unwrap_or_else(|e| panic!("{topic}-{partition}: {e}"));
            if batch.next_offset() <= offset {
                continue;
            }
            offset = batch.next_offset();
            if !batch.is_control() {
                records += batch.record_count() as usize;
            }
            out.push(batch);
        }
    }
    out
}

/// A record as the tests compare it: everything a producer chose, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    /// The key.
    pub key: Option<Vec<u8>>,
    /// The value.
    pub value: Option<Vec<u8>>,
    /// The headers, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// The timestamp, in milliseconds.
    pub timestamp: i64,
}

impl Rec {
    /// A record with a key and a value and no headers, timestamp 0 (for comparisons that ignore
    /// it).
    pub fn kv(key: Option<&[u8]>, value: Option<&[u8]>) -> Self {
        Rec {
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            headers: Vec::new(),
            timestamp: 0,
        }
    }
}

/// The data records of fetched batches, with their offsets, decoded by the codec under test.
pub fn decode_records(batches: &[RecordBatch]) -> Vec<(i64, Rec)> {
    let mut out = Vec::new();
    for batch in batches.iter().filter(|b| !b.is_control()) {
        let records = batch
            .records()
            .unwrap_or_else(|e| panic!("batch at {}: {e}", batch.base_offset()));
        for record in &records {
            let record = record.unwrap_or_else(|e| panic!("batch at {}: {e}", batch.base_offset()));
            out.push((
                record.offset(),
                Rec {
                    key: record.key().map(<[u8]>::to_vec),
                    value: record.value().map(<[u8]>::to_vec),
                    headers: record
                        .headers()
                        .map(|h| {
                            (
                                String::from_utf8(h.key().to_vec()).expect("UTF-8 header key"),
                                h.value().map(<[u8]>::to_vec),
                            )
                        })
                        .collect(),
                    timestamp: record.timestamp(),
                },
            ));
        }
    }
    out
}

/// Sends one batch to a partition with a raw Produce request at the negotiated version and
/// returns the partition's response.
pub async fn produce_raw(
    conn: &Connection,
    topic: &str,
    partition: i32,
    batch: Bytes,
    acks: i16,
) -> PartitionProduceResponse {
    let version = conn
        .versions()
        .version_for::<ProduceRequest>()
        .expect("a Produce version both sides speak");
    let id = topic_id(conn, topic).await;
    let request = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_topic_id(id)
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(batch)),
                ]),
        ]);
    let deadline = Instant::now() + WAIT;
    loop {
        let response = conn.send_at(&request, version).await.expect("Produce");
        let result = response
            .responses
            .into_iter()
            .flat_map(|t| t.partition_responses)
            .find(|p| p.index == partition)
            .expect("the partition in the Produce response");
        // A topic created a moment ago may not have its leader ready yet on the broker:
        // UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER are retried.
        if !matches!(result.error_code, 3 | 5 | 6) || Instant::now() >= deadline {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
