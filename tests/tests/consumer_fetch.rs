//! The consumer's fetcher against the broker: fairness between partitions (a backlog on one
//! partition neither starves the others nor keeps a large batch behind it partial forever).

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_tests::unique_topic;
use support::{
    WAIT, broker, connect_plaintext, consumed_records, consumer_from_beginning, create_topics,
    plaintext_config, send_all,
};

async fn fresh_topic(prefix: &str, partitions: i32) -> String {
    let conn = connect_plaintext(broker()).await;
    let topic = unique_topic(prefix);
    create_topics(&conn, &[(&topic, partitions)]).await;
    topic
}

/// Partition 0 holds a backlog of small records; partition 1 one record larger than
/// `max.partition.fetch.bytes`. The broker returns a batch over that limit only for the first
/// partition with data in a response, so without rotation partition 1 gets a partial batch
/// (nothing) in every response until partition 0 is drained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_behind_a_backlog_is_not_starved() {
    const BACKLOG: usize = 4_000;
    const PARTITION_MAX: usize = 64 * 1024;
    let broker = broker();
    let topic = fresh_topic("consumer-fetch-rotation", 2).await;
    let producer = Producer::new(plaintext_config(broker, &[("linger.ms", "5")])).unwrap();
    let small = Bytes::from(vec![b's'; 1_000]);
    let large = Bytes::from(vec![b'L'; PARTITION_MAX * 4]);
    send_all(
        &producer,
        std::iter::once(ProducerRecord::new(topic.clone(), large.clone()).with_partition(1)).chain(
            (0..BACKLOG)
                .map(|_| ProducerRecord::new(topic.clone(), small.clone()).with_partition(0)),
        ),
    )
    .await;
    producer.close().await.unwrap();

    let consumer = consumer_from_beginning(
        plaintext_config(
            broker,
            &[("max.partition.fetch.bytes", &PARTITION_MAX.to_string())],
        ),
        &topic,
        2,
    );
    let deadline = Instant::now() + WAIT;
    let mut backlog_read = 0usize;
    let large_at = loop {
        assert!(
            Instant::now() < deadline,
            "the large record never came ({backlog_read} of the backlog read)"
        );
        let polled = consumer.poll(Duration::from_millis(500)).await.unwrap();
        let records = consumed_records(&polled);
        if let Some(r) = records.iter().find(|r| r.partition == 1) {
            assert_eq!(r.rec.value.as_deref(), Some(&large[..]));
            break backlog_read;
        }
        backlog_read += records.len();
    };
    assert!(
        large_at < BACKLOG / 8,
        "the large record came only after {large_at} of {BACKLOG} backlog records"
    );
    consumer.close().await;
}
