//! Producer and consumer semantics against the broker: partitioning by key, acks levels,
//! compression, headers and timestamps, flush and close, back-pressure; seeks (earliest, latest,
//! offset, time), `max.poll.records`, `auto.offset.reset`, positions and watermarks.

use laminar_kafka_tests as support;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use laminar_kafka_client::Error;
use laminar_kafka_client::admin::Admin;
use laminar_kafka_client::config::IsolationLevel;
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::offsets::OffsetSpec;
use laminar_kafka_client::producer::partitioner::partition_for_key;
use laminar_kafka_client::producer::{DeliveryFuture, Producer, ProducerRecord, RecordMetadata};
use laminar_kafka_protocol::record::Compression;
use laminar_kafka_tests::unique_topic;
use support::{
    Rec, broker, connect_plaintext, consume_exactly, consumed_records, consumer_from_beginning,
    create_topics, create_topics_with_configs, decode_records, fetch_batches, plaintext_config,
    send_all,
};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

async fn fresh_topic(prefix: &str, partitions: i32) -> String {
    let conn = connect_plaintext(broker()).await;
    let topic = unique_topic(prefix);
    create_topics(&conn, &[(&topic, partitions)]).await;
    topic
}

/// The outcome of a delivery future if it has resolved, without waiting. A future that
/// returned its outcome must not be polled again.
async fn outcome_now(
    future: &mut DeliveryFuture,
) -> Option<laminar_kafka_client::Result<RecordMetadata>> {
    // `timeout` polls the future once before it looks at the (already expired) deadline.
    tokio::time::timeout(Duration::ZERO, future).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_land_in_the_murmur2_partition() {
    const PARTITIONS: i32 = 7;
    let broker = broker();
    let topic = fresh_topic("client-keyed", PARTITIONS).await;
    let producer = Producer::new(plaintext_config(broker, &[])).unwrap();
    let keys: Vec<String> = (0..300).map(|i| format!("user-{i}-{}", i * 7919)).collect();
    let delivered = send_all(
        &producer,
        keys.iter()
            .map(|k| ProducerRecord::new(topic.clone(), k.clone()).with_key(k.clone())),
    )
    .await;
    let mut per_partition = vec![0usize; PARTITIONS as usize];
    for (key, metadata) in keys.iter().zip(&delivered) {
        let expected = partition_for_key(key.as_bytes(), PARTITIONS as usize);
        assert_eq!(metadata.partition, expected, "{key}");
        per_partition[expected as usize] += 1;
    }
    assert!(per_partition.iter().all(|n| *n > 0), "{per_partition:?}");
    producer.close().await.unwrap();

    let consumer = consumer_from_beginning(plaintext_config(broker, &[]), &topic, PARTITIONS);
    let consumed = consume_exactly(&consumer, keys.len()).await;
    for c in &consumed {
        let key = c.rec.key.as_deref().expect("key");
        assert_eq!(c.partition, partition_for_key(key, PARTITIONS as usize));
        assert_eq!(c.rec.value.as_deref(), Some(key), "value is the key");
    }
    // Per partition, records come in the order they were sent, at consecutive offsets.
    let mut next: HashMap<i32, i64> = HashMap::new();
    for c in &consumed {
        let expected = next.entry(c.partition).or_insert(0);
        assert_eq!(c.offset, *expected, "partition {}", c.partition);
        *expected += 1;
    }
}

/// Waits until partition 0's leader answers a ListOffsets request for it.
async fn leader_answers(topic: &str) {
    let admin = Admin::new(plaintext_config(broker(), &[])).unwrap();
    let wanted = [((topic.to_owned(), 0), OffsetSpec::Latest)];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match admin
            .list_offsets(&wanted, IsolationLevel::ReadUncommitted)
            .await
        {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!("{topic}-0 has no leader: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn acks_round_trip(acks: &str) {
    let broker = broker();
    let topic = fresh_topic(&format!("client-acks-{acks}"), 1).await;
    let mut props = vec![("acks", acks)];
    if acks != "all" {
        props.push(("enable.idempotence", "false"));
    }
    if acks == "0" {
        // Nobody hears of a write refused under acks=0 (the broker only closes the connection),
        // so wait until the new partition's leader answers before writing to it.
        leader_answers(&topic).await;
    }
    let producer = Producer::new(plaintext_config(broker, &props)).unwrap();
    let values: Vec<String> = (0..200).map(|i| format!("acks={acks} #{i}")).collect();
    let delivered = send_all(
        &producer,
        values
            .iter()
            .map(|v| ProducerRecord::new(topic.clone(), v.clone())),
    )
    .await;
    for (i, metadata) in delivered.iter().enumerate() {
        assert_eq!(metadata.partition, 0);
        if acks == "0" {
            assert_eq!(metadata.offset, -1, "acks=0 has no offset");
        } else {
            assert_eq!(metadata.offset, i as i64, "acks={acks}");
        }
    }
    producer.close().await.unwrap();
    let consumer = consumer_from_beginning(plaintext_config(broker, &[]), &topic, 1);
    let consumed = consume_exactly(&consumer, values.len()).await;
    let got: Vec<&[u8]> = consumed
        .iter()
        .map(|c| c.rec.value.as_deref().unwrap())
        .collect();
    let want: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_0_delivers_without_offsets() {
    acks_round_trip("0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_1_delivers_with_offsets() {
    acks_round_trip("1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_delivers_with_offsets() {
    acks_round_trip("all").await;
}

/// Every batch the producer writes carries the configured codec (checked on the raw fetched
/// batches), and our consumer reads the records back identically.
async fn compression_round_trip(codec: Compression) {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let topic = unique_topic(&format!("client-compression-{codec}"));
    create_topics(&conn, &[(&topic, 2)]).await;
    let producer = Producer::new(plaintext_config(
        broker,
        &[("compression.type", codec.name()), ("batch.size", "4096")],
    ))
    .unwrap();
    let records: Vec<ProducerRecord> = (0..400)
        .map(|i| {
            ProducerRecord::new(
                topic.clone(),
                format!("{codec} value {i} {}", "abc".repeat(i % 50)),
            )
            .with_key(format!("key-{}", i % 13))
            .with_header("i", Some(Bytes::from(i.to_string())))
        })
        .collect();
    send_all(&producer, records.clone()).await;
    producer.close().await.unwrap();

    let mut fetched: Vec<Rec> = Vec::new();
    for partition in 0..2 {
        let expected = records
            .iter()
            .filter(|r| partition_for_key(r.key.as_deref().unwrap(), 2) == partition)
            .count();
        let batches = fetch_batches(&conn, &topic, partition, expected).await;
        assert!(batches.len() > 1, "batch.size 4096 makes several batches");
        for batch in &batches {
            assert_eq!(batch.compression(), codec, "partition {partition}");
        }
        fetched.extend(decode_records(&batches).into_iter().map(|(_, r)| r));
    }
    assert_eq!(fetched.len(), records.len());

    let consumer = consumer_from_beginning(plaintext_config(broker, &[]), &topic, 2);
    let consumed = consume_exactly(&consumer, records.len()).await;
    let mut by_value: HashMap<Vec<u8>, Rec> = consumed
        .into_iter()
        .map(|c| (c.rec.value.clone().unwrap(), c.rec))
        .collect();
    for r in &records {
        let got = by_value
            .remove(r.value.as_deref().unwrap())
            .expect("every record consumed");
        assert_eq!(got.key.as_deref(), r.key.as_deref());
        assert_eq!(got.headers.len(), 1);
        assert_eq!(got.headers[0].1.as_deref(), r.headers[0].1.as_deref());
    }
}

mod compression {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn none() {
        compression_round_trip(Compression::None).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gzip() {
        compression_round_trip(Compression::Gzip).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snappy() {
        compression_round_trip(Compression::Snappy).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lz4() {
        compression_round_trip(Compression::Lz4).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn zstd() {
        compression_round_trip(Compression::Zstd).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_explicit_timestamps_round_trip() {
    let broker = broker();
    let topic = fresh_topic("client-headers", 1).await;
    let producer = Producer::new(plaintext_config(broker, &[])).unwrap();
    let base = 1_650_000_000_000i64;
    let records: Vec<ProducerRecord> = (0..50i64)
        .map(|i| {
            let mut r = ProducerRecord::new(topic.clone(), format!("v{i}"))
                .with_timestamp(base + i * 1000 - (i % 4) * 2500);
            if i % 3 != 0 {
                r = r.with_key(format!("k{i}"));
            }
            if i % 5 != 0 {
                r = r
                    .with_header("trace", Some(Bytes::from(format!("t{i}"))))
                    .with_header("trace", Some(Bytes::from_static(b"again")))
                    .with_header("none", None)
                    .with_header("empty", Some(Bytes::new()));
            }
            r
        })
        .collect();
    let delivered = send_all(&producer, records.clone()).await;
    for (r, m) in records.iter().zip(&delivered) {
        assert_eq!(
            Some(m.timestamp),
            r.timestamp,
            "CreateTime topics keep the producer's time"
        );
    }
    producer.close().await.unwrap();
    let consumer = consumer_from_beginning(plaintext_config(broker, &[]), &topic, 1);
    let consumed = consume_exactly(&consumer, records.len()).await;
    for (r, c) in records.iter().zip(&consumed) {
        let want = Rec {
            key: r.key.as_ref().map(|k| k.to_vec()),
            value: r.value.as_ref().map(|v| v.to_vec()),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|v| v.to_vec())))
                .collect(),
            timestamp: r.timestamp.unwrap(),
        };
        assert_eq!(c.rec, want);
    }
}

/// On a LogAppendTime topic the broker's time replaces the producer's, in the delivery report
/// and in what consumers read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_append_time_topics_report_the_broker_time() {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let topic = unique_topic("client-log-append-time");
    create_topics_with_configs(
        &conn,
        &[(&topic, 1)],
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let producer = Producer::new(plaintext_config(broker, &[])).unwrap();
    let before = now_ms();
    let delivered = send_all(
        &producer,
        (0..5)
            .map(|i| ProducerRecord::new(topic.clone(), format!("v{i}")).with_timestamp(1_000 + i)),
    )
    .await;
    let after = now_ms();
    for m in &delivered {
        assert!(
            (before..=after).contains(&m.timestamp),
            "{} not in {before}..={after}",
            m.timestamp
        );
    }
    producer.close().await.unwrap();
    let consumer = consumer_from_beginning(plaintext_config(broker, &[]), &topic, 1);
    for (c, m) in consume_exactly(&consumer, 5).await.iter().zip(&delivered) {
        assert_eq!(c.rec.timestamp, m.timestamp);
    }
}

/// With a long linger nothing is sent on its own; `flush` sends at once and returns only when
/// every future has resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_sends_at_once_and_completes_every_future() {
    let broker = broker();
    let topic = fresh_topic("client-flush", 3).await;
    let producer = Producer::new(plaintext_config(
        broker,
        &[("linger.ms", "60000"), ("batch.size", "1000000")],
    ))
    .unwrap();
    let mut futures = Vec::new();
    for i in 0..500 {
        let record = ProducerRecord::new(topic.clone(), format!("v{i}")).with_key(format!("k{i}"));
        futures.push(producer.send(record).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        outcome_now(&mut futures[0]).await.is_none(),
        "linger.ms=60000 must hold the records"
    );
    let started = Instant::now();
    producer.flush().await.expect("flush");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "flush waited for linger.ms: {:?}",
        started.elapsed()
    );
    let mut offsets: HashMap<i32, Vec<i64>> = HashMap::new();
    for (i, future) in futures.iter_mut().enumerate() {
        let m = outcome_now(future)
            .await
            .unwrap_or_else(|| panic!("record {i} unresolved after flush"))
            .expect("delivered");
        offsets.entry(m.partition).or_default().push(m.offset);
    }
    for (partition, offsets) in offsets {
        let want: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(offsets, want, "partition {partition}");
    }
}

/// `close` delivers what was sent before it; `send` afterwards is `Error::Closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delivers_pending_records_then_send_fails_with_closed() {
    let broker = broker();
    let topic = fresh_topic("client-close", 1).await;
    let producer = Producer::new(plaintext_config(broker, &[("linger.ms", "60000")])).unwrap();
    let mut futures = Vec::new();
    for i in 0..20 {
        futures.push(
            producer
                .send(ProducerRecord::new(topic.clone(), format!("v{i}")))
                .await
                .unwrap(),
        );
    }
    tokio::time::timeout(Duration::from_secs(20), producer.close())
        .await
        .expect("close must not wait for linger.ms")
        .expect("close");
    for (i, future) in futures.into_iter().enumerate() {
        assert_eq!(
            future.await.expect("delivered before close").offset,
            i as i64
        );
    }
    let error = producer
        .send(ProducerRecord::new(topic.clone(), "late"))
        .await
        .expect_err("send after close");
    assert!(matches!(error, Error::Closed), "{error:?}");
}

/// `buffer.memory` held by records waiting out a long linger: the next `send` waits
/// `max.block.ms` for room and then fails with `Error::MaxBlock` (deterministic: nothing can be
/// sent while linger.ms has not passed and batch.size is not reached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_buffer_memory_blocks_send_for_max_block_then_fails() {
    let broker = broker();
    let topic = fresh_topic("client-max-block", 1).await;
    let max_block = Duration::from_millis(400);
    let producer = Producer::new(plaintext_config(
        broker,
        &[
            ("buffer.memory", "2048"),
            ("batch.size", "1000000"),
            ("linger.ms", "60000"),
            ("max.block.ms", &max_block.as_millis().to_string()),
        ],
    ))
    .unwrap();
    let value = Bytes::from(vec![b'x'; 300]);
    let mut accepted = Vec::new();
    let error = loop {
        let started = Instant::now();
        match producer
            .send(ProducerRecord::new(topic.clone(), value.clone()))
            .await
        {
            Ok(future) => {
                accepted.push(future);
                assert!(
                    accepted.len() <= 2048 / 300,
                    "buffer.memory 2048 took {} records",
                    accepted.len()
                );
            }
            Err(error) => {
                let elapsed = started.elapsed();
                assert!(
                    elapsed >= max_block && elapsed < max_block + Duration::from_secs(2),
                    "blocked {elapsed:?} with max.block.ms {max_block:?}"
                );
                break error;
            }
        }
    };
    assert!(!accepted.is_empty());
    match &error {
        Error::MaxBlock { timeout, reason } => {
            assert_eq!(*timeout, max_block);
            assert!(reason.contains("buffer.memory"), "{reason}");
        }
        other => panic!("expected MaxBlock, got {other:?}"),
    }
    // The records that got in are still delivered.
    producer.flush().await.unwrap();
    for future in accepted {
        future.await.expect("delivered after flush");
    }
}

/// 100 records with timestamps `base + 10·i` in one partition.
async fn topic_with_timestamps(prefix: &str) -> (String, i64) {
    let broker = broker();
    let topic = fresh_topic(prefix, 1).await;
    let base = now_ms() - 3_600_000;
    let producer = Producer::new(plaintext_config(broker, &[])).unwrap();
    send_all(
        &producer,
        (0..100).map(|i| {
            ProducerRecord::new(topic.clone(), format!("v{i}")).with_timestamp(base + 10 * i)
        }),
    )
    .await;
    producer.close().await.unwrap();
    (topic, base)
}

async fn first_offset_after_seek(consumer: &Consumer, tp: &(String, i32), to: SeekTo) -> i64 {
    consumer.seek(tp, to).unwrap();
    let first = consume_exactly(consumer, 1).await;
    first[0].offset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeks_to_earliest_offset_timestamp_and_latest() {
    let broker = broker();
    let (topic, base) = topic_with_timestamps("client-seek").await;
    let consumer = Consumer::new(plaintext_config(broker, &[("max.poll.records", "1")])).unwrap();
    let tp = (topic.clone(), 0);
    consumer.assign(std::slice::from_ref(&tp)).unwrap();

    assert_eq!(
        first_offset_after_seek(&consumer, &tp, SeekTo::Earliest).await,
        0
    );
    assert_eq!(
        first_offset_after_seek(&consumer, &tp, SeekTo::Offset(42)).await,
        42
    );
    // The first record at or after base+555 is #56 (base+560); an exact match is itself.
    assert_eq!(
        first_offset_after_seek(&consumer, &tp, SeekTo::Timestamp(base + 555)).await,
        56
    );
    assert_eq!(
        first_offset_after_seek(&consumer, &tp, SeekTo::Timestamp(base + 300)).await,
        30
    );
    assert_eq!(
        first_offset_after_seek(&consumer, &tp, SeekTo::Offset(7)).await,
        7
    );

    // Latest, and a timestamp after every record: nothing until a new record comes.
    for to in [SeekTo::Latest, SeekTo::Timestamp(base + 10_000)] {
        consumer.seek(&tp, to).unwrap();
        let polled = consumer.poll(Duration::from_millis(800)).await.unwrap();
        assert!(polled.is_empty(), "{to:?} returned old records");
        assert_eq!(consumer.position(&tp), Some(100), "{to:?}");
    }
    let producer = Producer::new(plaintext_config(broker, &[])).unwrap();
    send_all(&producer, [ProducerRecord::new(topic.clone(), "new")]).await;
    let next = consume_exactly(&consumer, 1).await;
    assert_eq!(
        (next[0].offset, next[0].rec.value.as_deref()),
        (100, Some(&b"new"[..]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_poll_records_bounds_every_poll() {
    let broker = broker();
    let (topic, _) = topic_with_timestamps("client-max-poll").await;
    let consumer = consumer_from_beginning(
        plaintext_config(broker, &[("max.poll.records", "7")]),
        &topic,
        1,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut offsets = Vec::new();
    let mut full_polls = 0;
    while offsets.len() < 100 {
        assert!(Instant::now() < deadline, "only {} records", offsets.len());
        let polled = consumer.poll(Duration::from_millis(500)).await.unwrap();
        let records = consumed_records(&polled);
        assert!(
            records.len() <= 7,
            "a poll returned {} records",
            records.len()
        );
        if records.len() == 7 {
            full_polls += 1;
        }
        offsets.extend(records.iter().map(|r| r.offset));
    }
    assert_eq!(offsets, (0..100).collect::<Vec<i64>>());
    assert!(full_polls >= 10, "only {full_polls} polls were full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_offset_reset_earliest_latest_and_none() {
    let broker = broker();
    let (topic, _) = topic_with_timestamps("client-reset").await;
    let tp = (topic.clone(), 0);

    let earliest = Consumer::new(plaintext_config(
        broker,
        &[("auto.offset.reset", "earliest")],
    ))
    .unwrap();
    earliest.assign(std::slice::from_ref(&tp)).unwrap();
    assert_eq!(consume_exactly(&earliest, 100).await[0].offset, 0);

    let latest =
        Consumer::new(plaintext_config(broker, &[("auto.offset.reset", "latest")])).unwrap();
    latest.assign(std::slice::from_ref(&tp)).unwrap();
    let polled = latest.poll(Duration::from_millis(800)).await.unwrap();
    assert!(polled.is_empty(), "latest returned old records");
    assert_eq!(latest.position(&tp), Some(100));
    let producer = Producer::new(plaintext_config(broker, &[])).unwrap();
    send_all(&producer, [ProducerRecord::new(topic.clone(), "after")]).await;
    let got = consume_exactly(&latest, 1).await;
    assert_eq!(got[0].offset, 100);

    let none = Consumer::new(plaintext_config(broker, &[("auto.offset.reset", "none")])).unwrap();
    none.assign(std::slice::from_ref(&tp)).unwrap();
    let error = none
        .poll(Duration::from_secs(5))
        .await
        .expect_err("no position and auto.offset.reset=none");
    assert!(error.to_string().contains("auto.offset.reset"), "{error}");
    assert_eq!(none.position(&tp), None);
    // An explicit seek gives it a position.
    none.seek(&tp, SeekTo::Offset(99)).unwrap();
    assert_eq!(consume_exactly(&none, 2).await[0].offset, 99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_the_next_offsets_and_watermarks_the_log_end() {
    let broker = broker();
    let topic = fresh_topic("client-positions", 2).await;
    let producer = Producer::new(plaintext_config(broker, &[])).unwrap();
    let delivered = send_all(
        &producer,
        (0..30).map(|i| ProducerRecord::new(topic.clone(), format!("v{i}")).with_partition(i % 2)),
    )
    .await;
    producer.close().await.unwrap();
    let counts = [15i64, 15];
    assert_eq!(delivered.iter().filter(|m| m.partition == 0).count(), 15);

    let consumer = consumer_from_beginning(plaintext_config(broker, &[]), &topic, 2);
    consume_exactly(&consumer, 30).await;
    let positions = consumer.positions();
    for p in 0..2 {
        let tp = (topic.clone(), p);
        assert_eq!(
            positions.get(&tp),
            Some(&counts[p as usize]),
            "position of {p}"
        );
        assert_eq!(consumer.position(&tp), Some(counts[p as usize]));
        let watermarks = consumer.watermarks(&tp).expect("watermarks after a fetch");
        assert_eq!(
            watermarks.high_watermark, counts[p as usize],
            "high watermark of {p}"
        );
        assert_eq!(watermarks.last_stable_offset, counts[p as usize]);
        assert_eq!(watermarks.log_start_offset, 0);
    }
}
