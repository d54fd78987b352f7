//! Writing records: every record of a list, or numbered values, each delivery awaited.

use laminar_kafka_client::producer::{Producer, ProducerRecord, RecordMetadata};

use crate::WAIT;

/// Sends every record and waits for every delivery, failing the test on the first error.
pub async fn send_all(
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

/// The values `{prefix}-0` … `{prefix}-{n - 1}`, in that order.
pub fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Sends [`values`]`(prefix, n)` to partition 0 of `topic` and waits for every delivery.
pub async fn send_values(producer: &Producer, topic: &str, prefix: &str, n: usize) {
    let mut deliveries = Vec::new();
    for v in values(prefix, n) {
        deliveries.push(
            producer
                .send(ProducerRecord::new(topic, v).with_partition(0))
                .await
                .expect("send"),
        );
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
}
