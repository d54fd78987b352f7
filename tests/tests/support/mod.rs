//! Helpers of the codec and client broker tests: client configurations per security setup, raw
//! requests over one `Connection` (topic creation, Fetch, Produce by hand), decoded-record
//! comparisons, the Java console tools and kcat with the options these tests need, a
//! fault-injecting TCP proxy, and the lock that keeps the broker-restart test apart from the rest.
//!
//! Each test binary uses a part of these helpers.
#![allow(dead_code)]

pub(crate) mod proxy;

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::connection::{Connection, ConnectionConfig};
use laminar_kafka_client::consumer::{Consumer, Polled, SeekTo};
use laminar_kafka_client::producer::{Producer, ProducerRecord, RecordMetadata};
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
use laminar_kafka_tests::{Broker, HOW_TO_START, Output, Security, run};
use uuid::Uuid;

/// How long the raw helpers wait for the broker before failing the test.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// The harness broker. Also takes the shared side of the restart lock for the rest of the
/// process, so that the broker-restart test (which takes it exclusively) never stops the broker
/// under a running test binary.
pub(crate) fn broker() -> &'static Broker {
    let broker = Broker::from_env();
    hold_shared_restart_lock();
    broker
}

/// `target/kafka-run/.restart.lock`: the directory above the broker's run directory
/// (`KAFKA_RUN_DIR`), or the repository's `target/kafka-run` when that is not set.
pub(crate) fn restart_lock_path() -> PathBuf {
    let run_root = std::env::var_os("KAFKA_RUN_DIR")
        .map(PathBuf::from)
        .and_then(|dir| dir.parent().map(PathBuf::from))
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("kafka-run")
        });
    run_root.join(".restart.lock")
}

fn open_restart_lock() -> File {
    let path = restart_lock_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the restart lock {}: {e}", path.display()))
}

// `File::lock*` are newer than the workspace's rust-version; this crate is test-only and never
// published, and the machines that run it have a current toolchain.
#[allow(clippy::incompatible_msrv)]
fn hold_shared_restart_lock() {
    static SHARED: OnceLock<File> = OnceLock::new();
    SHARED.get_or_init(|| {
        let file = open_restart_lock();
        file.lock_shared()
            .unwrap_or_else(|e| panic!("cannot take the restart lock shared: {e}"));
        file
    });
}

/// Takes the restart lock exclusively: returns once no other test binary holds it shared, and
/// keeps the others out until the returned file is dropped.
#[allow(clippy::incompatible_msrv)]
pub(crate) fn exclusive_restart_lock() -> File {
    let file = open_restart_lock();
    file.lock()
        .unwrap_or_else(|e| panic!("cannot take the restart lock exclusively: {e}"));
    file
}

/// Runs blocking work (a JVM tool, kcat) from an async test without stalling the runtime's
/// other tasks.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A client configuration for one of the harness' security setups, plus extra properties.
pub(crate) fn client_config(
    broker: &Broker,
    security: Security,
    extra: &[(&str, &str)],
) -> ClientConfig {
    let listener = security.listener();
    let mut config = ClientConfig::new(broker.bootstrap(listener)).expect("bootstrap address");
    config
        .set("security.protocol", listener.protocol())
        .expect("security.protocol");
    if listener.is_tls() {
        config
            .set("ssl.ca.location", &broker.ca_file.display().to_string())
            .expect("ssl.ca.location");
    }
    if security == Security::SslClientCert {
        config
            .set(
                "ssl.certificate.location",
                &broker.client_cert_file.display().to_string(),
            )
            .expect("ssl.certificate.location");
        config
            .set(
                "ssl.key.location",
                &broker.client_key_file.display().to_string(),
            )
            .expect("ssl.key.location");
    }
    if let Some(mechanism) = security.mechanism() {
        config
            .set("sasl.mechanism", mechanism.name())
            .expect("sasl.mechanism");
        config
            .set("sasl.username", &broker.username)
            .expect("sasl.username");
        config
            .set("sasl.password", broker.password())
            .expect("sasl.password");
    }
    for (name, value) in extra {
        config
            .set(name, value)
            .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
    }
    config
}

/// A PLAINTEXT client configuration with extra properties.
pub(crate) fn plaintext_config(broker: &Broker, extra: &[(&str, &str)]) -> ClientConfig {
    client_config(broker, Security::Plaintext, extra)
}

/// One raw connection to the PLAINTEXT listener.
pub(crate) async fn connect_plaintext(broker: &Broker) -> Connection {
    Connection::connect(&broker.plaintext, &ConnectionConfig::default())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to {}: {e}; {HOW_TO_START}",
                broker.plaintext
            )
        })
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// Creates topics (one replica each) with a raw CreateTopics request and waits until every
/// partition has a leader.
pub(crate) async fn create_topics(conn: &Connection, topics: &[(&str, i32)]) {
    create_topics_with_configs(conn, topics, &[]).await;
}

/// Like [`create_topics`], with topic configs applied to every topic.
pub(crate) async fn create_topics_with_configs(
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
pub(crate) async fn wait_for_leaders(conn: &Connection, topic: &str, partitions: i32) -> Uuid {
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
pub(crate) async fn topic_id(conn: &Connection, topic: &str) -> Uuid {
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
pub(crate) async fn fetch_batches(
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
pub(crate) struct Rec {
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
    pub(crate) timestamp: i64,
}

impl Rec {
    /// A record with a key and a value and no headers, timestamp 0 (for comparisons that ignore
    /// it).
    pub(crate) fn kv(key: Option<&[u8]>, value: Option<&[u8]>) -> Self {
        Rec {
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            headers: Vec::new(),
            timestamp: 0,
        }
    }
}

/// The data records of fetched batches, with their offsets, decoded by the codec under test.
pub(crate) fn decode_records(batches: &[RecordBatch]) -> Vec<(i64, Rec)> {
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
pub(crate) async fn produce_raw(
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

/// The Java console tools' flags: the names of Kafka 4.2+ (KIP-1147), or the older ones.
pub(crate) struct JavaFlags {
    pub(crate) client_property: &'static str,
    pub(crate) reader_property: &'static str,
    pub(crate) formatter_property: &'static str,
}

pub(crate) fn java_flags(broker: &Broker, producer: bool) -> JavaFlags {
    if broker.version_at_least(4, 2) {
        JavaFlags {
            client_property: "--command-property",
            reader_property: "--reader-property",
            formatter_property: "--formatter-property",
        }
    } else {
        JavaFlags {
            client_property: if producer {
                "--producer-property"
            } else {
                "--consumer-property"
            },
            reader_property: "--property",
            formatter_property: "--property",
        }
    }
}

/// Runs the Java console producer against the PLAINTEXT listener, one record per input line.
/// `client` are producer configs, `reader` the line reader's properties (`parse.key`, …).
pub(crate) fn java_console_produce(
    broker: &Broker,
    topic: &str,
    input: &str,
    client: &[(&str, &str)],
    reader: &[(&str, &str)],
) -> Output {
    let flags = java_flags(broker, true);
    let mut args: Vec<String> = vec![
        "--bootstrap-server".into(),
        broker.plaintext.clone(),
        "--topic".into(),
        topic.into(),
    ];
    let client_defaults = [
        ("delivery.timeout.ms", "50000"),
        ("request.timeout.ms", "30000"),
    ];
    for (k, v) in client_defaults.iter().chain(client) {
        args.push(flags.client_property.into());
        args.push(format!("{k}={v}"));
        // The console producer sets compression.type from its own option (default `none`)
        // after the client properties, so a codec must be given there too.
        if *k == "compression.type" {
            args.push("--compression-codec".into());
            args.push((*v).into());
        }
    }
    for (k, v) in reader {
        args.push(flags.reader_property.into());
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = broker
        .run_tool(
            "console-producer",
            &args,
            Some(input.as_bytes()),
            Duration::from_secs(90),
        )
        .unwrap_or_else(|e| panic!("Java console producer: {e}"));
    assert!(
        !output.stderr.contains("ERROR"),
        "Java console producer reported errors: {}",
        output.stderr
    );
    output
}

/// Runs the Java console consumer from the beginning of `topic` (every partition) until `count`
/// records came, with formatter properties, and returns its output lines.
pub(crate) fn java_console_consume(
    broker: &Broker,
    topic: &str,
    count: usize,
    formatter: &[(&str, &str)],
) -> Vec<String> {
    let flags = java_flags(broker, false);
    let count_text = count.to_string();
    let mut args: Vec<String> = vec![
        "--bootstrap-server".into(),
        broker.plaintext.clone(),
        "--topic".into(),
        topic.into(),
        "--from-beginning".into(),
        "--max-messages".into(),
        count_text,
        // Generous: on a loaded 2-core machine the JVM's start and the group join alone have
        // taken over 40 s. A missing record still fails the test, only later.
        "--timeout-ms".into(),
        "90000".into(),
    ];
    for (k, v) in formatter {
        args.push(flags.formatter_property.into());
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = broker
        .run_tool("console-consumer", &args, None, Duration::from_secs(150))
        .unwrap_or_else(|e| panic!("Java console consumer: {e}"));
    let lines: Vec<String> = output.stdout.lines().map(str::to_owned).collect();
    assert_eq!(
        lines.len(),
        count,
        "Java console consumer printed {} lines instead of {count}; stderr: {}",
        lines.len(),
        output.stderr
    );
    lines
}

/// Runs kcat against the PLAINTEXT listener with `args`, feeding `stdin`.
pub(crate) fn kcat(broker: &Broker, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new("kcat");
    command.args(["-b", &broker.plaintext]).args(args);
    let output = run(command, stdin, Duration::from_secs(120), &[])
        .unwrap_or_else(|e| panic!("kcat {args:?}: {e}"));
    assert!(
        !output.stderr.contains("ERROR") && !output.stderr.contains("Delivery failed"),
        "kcat {args:?} reported errors: {}",
        output.stderr
    );
    output
}

/// A deterministic string of printable characters (ASCII letters, digits, spaces and a few
/// multi-byte UTF-8 characters), never containing a tab, newline, `|` or `:`.
pub(crate) fn text(seed: u64, len: usize) -> String {
    const ALPHABET: &[&str] = &[
        "a", "b", "c", "d", "e", "f", "g", "h", "k", "m", "n", "p", "q", "r", "s", "t", "w", "x",
        "y", "z", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", " ", "é", "✓", "ß", "日",
    ];
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::new();
    while out.chars().count() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
    }
    out
}

/// A record our consumer returned, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Consumed {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) rec: Rec,
}

/// Polls until `count` records came (failing the test on a poll error or after `WAIT`), and
/// returns them in the order `poll` gave them.
pub(crate) async fn consume_exactly(consumer: &Consumer, count: usize) -> Vec<Consumed> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records consumed within {WAIT:?}",
            out.len()
        );
        let polled = consumer
            .poll(Duration::from_millis(500))
            .await
            .unwrap_or_else(|e| panic!("poll: {e}"));
        out.extend(consumed_records(&polled));
    }
    assert_eq!(out.len(), count, "more records than produced");
    out
}

/// The records of one poll, owned.
pub(crate) fn consumed_records(polled: &Polled) -> Vec<Consumed> {
    polled
        .iter()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("malformed record: {e}"));
            Consumed {
                partition: r.partition,
                offset: r.offset(),
                rec: Rec {
                    key: r.key().map(<[u8]>::to_vec),
                    value: r.value().map(<[u8]>::to_vec),
                    headers: r
                        .record
                        .headers()
                        .map(|h| {
                            (
                                String::from_utf8(h.key().to_vec()).expect("UTF-8 header key"),
                                h.value().map(<[u8]>::to_vec),
                            )
                        })
                        .collect(),
                    timestamp: r.timestamp(),
                },
            }
        })
        .collect()
}

/// Sends every record and waits for every delivery, failing the test on the first error.
pub(crate) async fn send_all(
    producer: &Producer,
    records: impl IntoIterator<Item = ProducerRecord>,
) -> Vec<RecordMetadata> {
    let mut futures = Vec::new();
    for record in records {
        futures.push(
            producer
                .send(record)
                .await
                .unwrap_or_else(|e| panic!("send: {e}")),
        );
    }
    let mut out = Vec::with_capacity(futures.len());
    for (i, future) in futures.into_iter().enumerate() {
        let metadata = tokio::time::timeout(WAIT * 2, future)
            .await
            .unwrap_or_else(|_| panic!("record {i} was not delivered within {:?}", WAIT * 2))
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
        out.push(metadata);
    }
    out
}

/// A consumer of every partition of `topic` from the beginning.
pub(crate) fn consumer_from_beginning(
    config: ClientConfig,
    topic: &str,
    partitions: i32,
) -> Consumer {
    let consumer = Consumer::new(config).expect("consumer");
    let assignment: Vec<(String, i32)> = (0..partitions).map(|p| (topic.to_owned(), p)).collect();
    consumer.assign(&assignment).expect("assign");
    for tp in &assignment {
        consumer.seek(tp, SeekTo::Earliest).expect("seek");
    }
    consumer
}
