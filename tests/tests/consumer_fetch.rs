//! The consumer's fetcher against the broker: fairness between partitions (a backlog on one
//! partition neither starves the others nor keeps a large batch behind it partial forever).

use laminar_kafka_tests as support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use laminar_kafka_protocol::record::{BatchBuilder, Compression};
use laminar_kafka_tests::unique_topic;
use support::{
    WAIT, broker, connect_plaintext, consumed_records, consumer_from_beginning, create_topics,
    plaintext_config, produce_raw,
};

/// One uncompressed batch of these values.
fn batch(values: &[&[u8]]) -> Bytes {
    let mut builder = BatchBuilder::new(Compression::None);
    for v in values {
        builder.append(0, None, Some(v), &[]).expect("append");
    }
    builder.finish().expect("batch")
}

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
    // Raw produce requests: the test depends on the consumer alone.
    let conn = connect_plaintext(broker).await;
    let large = vec![b'L'; PARTITION_MAX * 4];
    let produced = produce_raw(&conn, &topic, 1, batch(&[&large[..]]), -1).await;
    assert_eq!(produced.error_code, 0, "producing the large record");
    let small = [b's'; 1_000];
    for _ in 0..BACKLOG / 50 {
        let produced = produce_raw(&conn, &topic, 0, batch(&[&small[..]; 50]), -1).await;
        assert_eq!(produced.error_code, 0, "producing the backlog");
    }

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

/// Fetch sessions (KIP-227): after the first full fetch, a fetch lists only partitions whose
/// position changed and the broker answers only partitions with news. Records written in waves
/// to one partition at a time, to partitions left idle for several fetches, and to a partition
/// paused (forgotten by the session) and resumed, all arrive, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_fetches_deliver_every_partition_once_in_order() {
    let broker = broker();
    let topic = fresh_topic("consumer-fetch-session", 3).await;
    let conn = connect_plaintext(broker).await;
    let consumer = consumer_from_beginning(
        plaintext_config(broker, &[("fetch.max.wait.ms", "50")]),
        &topic,
        3,
    );
    let mut next = [0i64; 3];
    let mut wave = |partition: i32, count: usize| {
        let values: Vec<Vec<u8>> = (0..count)
            .map(|i| format!("{partition}-{}", next[partition as usize] + i as i64).into_bytes())
            .collect();
        next[partition as usize] += count as i64;
        values
    };
    let rounds: [(i32, usize); 6] = [(0, 30), (2, 10), (2, 10), (1, 5), (0, 1), (1, 40)];
    let mut expected = [0i64; 3];
    for (i, (partition, count)) in rounds.into_iter().enumerate() {
        if i == 3 {
            // Partition 1 leaves the session while paused, and comes back.
            let tp = (topic.clone(), 1);
            consumer.pause(std::slice::from_ref(&tp));
            let _ = consumer.poll(Duration::from_millis(200)).await.unwrap();
            consumer.resume(std::slice::from_ref(&tp));
        }
        let values = wave(partition, count);
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let produced = produce_raw(&conn, &topic, partition, batch(&refs), -1).await;
        assert_eq!(produced.error_code, 0);
        let deadline = Instant::now() + WAIT;
        let mut got = 0;
        while got < count {
            assert!(
                Instant::now() < deadline,
                "round {i}: {got} of {count} records of partition {partition}"
            );
            let polled = consumer.poll(Duration::from_millis(500)).await.unwrap();
            for r in consumed_records(&polled) {
                assert_eq!(
                    r.partition, partition,
                    "round {i}: a record of another partition"
                );
                let p = r.partition as usize;
                assert_eq!(r.offset, expected[p], "offsets in order, none twice");
                let want = format!("{}-{}", r.partition, r.offset).into_bytes();
                assert_eq!(r.rec.value.as_deref(), Some(&want[..]));
                expected[p] += 1;
                got += 1;
            }
        }
    }
    assert_eq!(expected, next);
    consumer.close().await;
}
