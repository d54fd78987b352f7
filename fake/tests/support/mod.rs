//! Helpers shared by the tests that drive laminar-kafka's client against the fake cluster.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{Consumer, Polled, SeekTo};
use laminar_kafka_client::producer::{Producer, ProducerRecord, RecordMetadata};
use laminar_kafka_fake::FakeCluster;

/// How long a test waits for an expected event before it fails.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// A client configuration for `cluster` with short backoffs, plus `extra` properties.
pub(crate) fn config(cluster: &FakeCluster, extra: &[(&str, &str)]) -> ClientConfig {
    let servers = cluster.bootstrap_servers();
    let mut props: Vec<(&str, &str)> = vec![
        ("bootstrap.servers", servers.as_str()),
        ("client.id", "fake-test"),
        ("retry.backoff.ms", "20"),
        ("reconnect.backoff.ms", "20"),
        ("reconnect.backoff.max.ms", "200"),
        ("request.timeout.ms", "5000"),
    ];
    props.extend_from_slice(extra);
    ClientConfig::from_properties(props).expect("valid client configuration")
}

/// Sends every record, then waits for every delivery; panics on the first error.
pub(crate) async fn send_all(
    producer: &Producer,
    records: impl IntoIterator<Item = ProducerRecord>,
) -> Vec<RecordMetadata> {
    let mut futures = Vec::new();
    for r in records {
        futures.push(producer.send(r).await.expect("send"));
    }
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(
            tokio::time::timeout(WAIT, f)
                .await
                .expect("delivery within the deadline")
                .expect("delivered"),
        );
    }
    out
}

/// One consumed record, owned: (partition, offset, value).
pub(crate) type Consumed = (i32, i64, Vec<u8>);

/// The records of one poll, owned.
pub(crate) fn owned(polled: &Polled) -> Vec<Consumed> {
    polled
        .iter()
        .map(|r| {
            let r = r.expect("well-formed record");
            (
                r.partition,
                r.offset(),
                r.value().unwrap_or_default().to_vec(),
            )
        })
        .collect()
}

/// A consumer assigned every partition of `topic`, from the beginning.
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

/// Polls until `count` records arrived (more is a failure), within [`WAIT`].
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
            .poll(Duration::from_millis(200))
            .await
            .unwrap_or_else(|e| panic!("poll: {e}"));
        out.extend(owned(&polled));
    }
    assert_eq!(out.len(), count, "more records than produced");
    out
}

/// Polls for `period` and returns whatever arrived (to check that nothing more comes).
pub(crate) async fn consume_for(consumer: &Consumer, period: Duration) -> Vec<Consumed> {
    let deadline = Instant::now() + period;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let polled = consumer
            .poll(Duration::from_millis(100))
            .await
            .unwrap_or_else(|e| panic!("poll: {e}"));
        out.extend(owned(&polled));
    }
    out
}

/// Values `prefix-0` … `prefix-(n-1)`.
pub(crate) fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Asserts that the fake closed no connection for a protocol violation.
pub(crate) fn assert_no_violations(cluster: &FakeCluster) {
    let v = cluster.protocol_violations();
    assert!(v.is_empty(), "protocol violations: {v:?}");
}
