//! Client statistics against the broker: the producer's record counts, queue depth and batch
//! averages, the consumer's positions, lag and consumed totals, the per-broker numbers (bytes,
//! requests, latency, connections) and the periodic callback of `statistics.interval.ms`.

use laminar_kafka_tests as support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use laminar_kafka_client::admin::Admin;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_client::stats::{BrokerStatistics, ClientKind, Statistics};
use support::{broker, consume_exactly, consumer_from_beginning, plaintext_config, send_all};

/// The one broker of the harness as the snapshot names it (by node id, not the bootstrap
/// address).
fn known_broker(stats: &Statistics) -> &BrokerStatistics {
    stats
        .brokers
        .iter()
        .find(|b| b.node_id >= 0)
        .unwrap_or_else(|| panic!("no known broker in {:?}", stats.brokers))
}

fn assert_broker_traffic(b: &BrokerStatistics) {
    assert!(b.request_total >= 1, "{b:?}");
    assert!(b.outgoing_byte_total > 0, "{b:?}");
    assert!(b.incoming_byte_total > 0, "{b:?}");
    assert!(b.connection_creation_total >= 1, "{b:?}");
    assert!(b.request_latency_avg > 0.0, "{b:?}");
    assert!(b.request_latency_max >= b.request_latency_avg, "{b:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_counts_records_sent_and_acknowledged_per_broker_and_partition() {
    const N: usize = 300;
    let broker = broker();
    let topic = support::topic("stats-produce", 2).await;
    let producer = Producer::new(plaintext_config(broker, &[("client.id", "stats-producer")]))
        .expect("producer");
    send_all(
        &producer,
        (0..N).map(|i| {
            ProducerRecord::new(topic.clone(), format!("v{i}")).with_partition((i % 2) as i32)
        }),
    )
    .await;

    let stats = producer.statistics();
    assert_eq!(stats.kind, ClientKind::Producer);
    assert_eq!(stats.client_id, "stats-producer");
    assert_eq!(stats.totals.record_send_total, N as u64, "{stats:?}");
    assert_eq!(stats.totals.record_ack_total, N as u64, "{stats:?}");
    assert_eq!(stats.totals.record_error_total, 0);
    assert_eq!(stats.totals.record_retry_total, 0);
    assert!(stats.totals.records_per_request_avg >= 1.0, "{stats:?}");
    assert!(stats.totals.batch_size_avg > 0.0, "{stats:?}");
    let b = known_broker(&stats);
    assert_broker_traffic(b);
    assert_eq!(b.requests_in_flight, 0, "every delivery is settled: {b:?}");
    assert!(b.produce_throttle_time_avg >= 0.0);
    assert_eq!(stats.partitions.len(), 2, "{:?}", stats.partitions);
    let mut per_batch_records = 0.0;
    for p in &stats.partitions {
        assert_eq!(p.topic, topic);
        assert_eq!(p.queued_records, Some(0), "{p:?}");
        let avg = p.records_per_batch_avg.expect("records per batch");
        assert!(avg >= 1.0 && avg <= (N / 2) as f64, "{p:?}");
        assert!(p.batch_size_avg.expect("batch size") > 0.0, "{p:?}");
        per_batch_records += avg;
    }
    assert!(per_batch_records > 0.0);

    // The Java client's names are the JSON keys.
    let json = serde_json::to_value(&stats).expect("JSON");
    assert_eq!(json["totals"]["record-send-total"], N as u64);
    assert_eq!(json["type"], "producer");
    let first = &json["brokers"][0];
    for key in [
        "request-latency-avg",
        "request-latency-max",
        "outgoing-byte-total",
        "incoming-byte-total",
        "connection-creation-total",
        "connection-close-total",
        "requests-in-flight",
    ] {
        assert!(first.get(key).is_some(), "{key} missing from {first}");
    }

    producer.close().await.expect("close");
    let closed = producer.statistics();
    assert!(
        closed.brokers.iter().any(|b| b.connection_close_total >= 1),
        "{:?}",
        closed.brokers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_records_show_until_a_flush_sends_them() {
    const N: usize = 25;
    let broker = broker();
    let topic = support::topic("stats-queue", 1).await;
    let producer = Producer::new(plaintext_config(
        broker,
        &[("linger.ms", "60000"), ("batch.size", "1000000")],
    ))
    .expect("producer");
    let mut deliveries = Vec::new();
    for i in 0..N {
        deliveries.push(
            producer
                .send(ProducerRecord::new(topic.clone(), format!("queued-{i}")).with_partition(0))
                .await
                .expect("send"),
        );
    }
    let stats = producer.statistics();
    let p = stats
        .partitions
        .iter()
        .find(|p| p.topic == topic && p.partition == 0)
        .unwrap_or_else(|| panic!("no partition 0 in {:?}", stats.partitions));
    assert_eq!(p.queued_records, Some(N as u64), "{p:?}");
    assert!(p.queued_bytes.unwrap_or(0) > 0, "{p:?}");
    assert_eq!(stats.totals.record_send_total, 0, "lingering: {stats:?}");

    producer.flush().await.expect("flush");
    for d in deliveries {
        d.await.expect("delivered");
    }
    let stats = producer.statistics();
    let p = &stats.partitions[0];
    assert_eq!(p.queued_records, Some(0), "{p:?}");
    assert_eq!(p.queued_bytes, Some(0), "{p:?}");
    assert_eq!(p.records_per_batch_avg, Some(N as f64), "one batch: {p:?}");
    assert_eq!(stats.totals.record_ack_total, N as u64);
    producer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_reports_position_high_watermark_and_lag() {
    const N: usize = 60;
    const FIRST_POLL: usize = 20;
    let broker = broker();
    let topic = support::topic("stats-consume", 1).await;
    let producer = Producer::new(plaintext_config(broker, &[])).expect("producer");
    send_all(
        &producer,
        (0..N).map(|i| ProducerRecord::new(topic.clone(), format!("c{i}")).with_partition(0)),
    )
    .await;
    producer.close().await.expect("close");

    let consumer = consumer_from_beginning(
        plaintext_config(broker, &[("max.poll.records", &FIRST_POLL.to_string())]),
        &topic,
        1,
    );
    let first = consume_exactly(&consumer, FIRST_POLL).await;
    assert_eq!(first.len(), FIRST_POLL);
    let stats = consumer.statistics();
    assert_eq!(stats.kind, ClientKind::Consumer);
    assert_eq!(stats.partitions.len(), 1, "{:?}", stats.partitions);
    let p = &stats.partitions[0];
    assert_eq!(p.position, Some(FIRST_POLL as i64), "{p:?}");
    assert_eq!(p.high_watermark, Some(N as i64), "{p:?}");
    assert_eq!(
        p.records_lag,
        Some((N - FIRST_POLL) as i64),
        "the unread records: {p:?}"
    );
    assert_eq!(stats.totals.records_lag_max, (N - FIRST_POLL) as i64);
    assert_eq!(stats.totals.records_consumed_total, FIRST_POLL as u64);
    assert!(stats.totals.bytes_consumed_total > 0, "{stats:?}");
    assert_eq!(
        stats.totals.rebalance_total, 0,
        "assigned, not a group member"
    );

    consume_exactly(&consumer, N - FIRST_POLL).await;
    let stats = consumer.statistics();
    let p = &stats.partitions[0];
    assert_eq!(p.position, Some(N as i64), "{p:?}");
    assert_eq!(p.records_lag, Some(0), "read to the end: {p:?}");
    assert_eq!(stats.totals.records_lag_max, 0);
    assert_eq!(stats.totals.records_consumed_total, N as u64);
    let b = known_broker(&stats);
    assert_broker_traffic(b);
    assert!(b.fetch_throttle_time_max >= 0.0);
    let json = serde_json::to_value(&stats).expect("JSON");
    assert_eq!(json["partitions"][0]["records-lag"], 0);
    assert_eq!(json["totals"]["records-consumed-total"], N as u64);
    consumer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_client_reports_its_requests() {
    let broker = broker();
    let admin = Admin::new(plaintext_config(broker, &[])).expect("admin");
    admin.list_topics().await.expect("list topics");
    let stats = admin.statistics();
    assert_eq!(stats.kind, ClientKind::Admin);
    assert!(
        stats.brokers.iter().any(|b| b.request_total >= 1
            && b.outgoing_byte_total > 0
            && b.connection_creation_total >= 1),
        "{:?}",
        stats.brokers
    );
    admin.close().await;
}

type Seen = Arc<Mutex<Vec<Statistics>>>;

fn collecting(
    broker: &'static support::Broker,
    interval_ms: u64,
) -> (laminar_kafka_client::config::ClientConfig, Seen) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let mut config =
        plaintext_config(broker, &[]).with_statistics_callback(Arc::new(move |s: &Statistics| {
            sink.lock().unwrap().push(s.clone())
        }));
    config
        .set("statistics.interval.ms", &interval_ms.to_string())
        .expect("statistics.interval.ms");
    (config, seen)
}

fn count(seen: &Seen) -> usize {
    seen.lock().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_runs_every_interval_and_stops_with_the_client() {
    const INTERVAL: Duration = Duration::from_millis(300);
    const N: usize = 10;
    let broker = broker();
    let topic = support::topic("stats-callback", 1).await;
    let (config, seen) = collecting(broker, INTERVAL.as_millis() as u64);
    let producer = Producer::new(config.clone()).expect("producer");
    send_all(
        &producer,
        (0..N).map(|i| ProducerRecord::new(topic.clone(), format!("cb{i}"))),
    )
    .await;
    let before = count(&seen);
    tokio::time::sleep(INTERVAL * 3).await;
    let calls = count(&seen) - before;
    assert!(calls >= 2, "{calls} calls within 3 intervals");
    {
        let seen = seen.lock().unwrap();
        let last = seen.last().expect("a snapshot");
        assert_eq!(last.kind, ClientKind::Producer);
        assert_eq!(last.totals.record_ack_total, N as u64, "{last:?}");
        assert!(!last.brokers.is_empty());
    }

    drop(producer);
    // A call under way when the producer was dropped may still finish.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = count(&seen);
    tokio::time::sleep(INTERVAL * 3).await;
    assert_eq!(
        count(&seen),
        after_drop,
        "called after the producer was dropped"
    );

    // The consumer's callback, stopped by close.
    let consumer = consumer_from_beginning(config, &topic, 1);
    consume_exactly(&consumer, N).await;
    tokio::time::sleep(INTERVAL * 3).await;
    let consumer_calls: Vec<Statistics> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.kind == ClientKind::Consumer)
        .cloned()
        .collect();
    assert!(
        consumer_calls.len() >= 2,
        "{} consumer calls",
        consumer_calls.len()
    );
    let last = consumer_calls.last().expect("a consumer snapshot");
    assert_eq!(last.totals.records_consumed_total, N as u64, "{last:?}");
    assert_eq!(last.partitions[0].records_lag, Some(0), "{last:?}");
    consumer.close().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_close = count(&seen);
    tokio::time::sleep(INTERVAL * 3).await;
    assert_eq!(
        count(&seen),
        after_close,
        "called after the consumer was closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_of_zero_never_calls_back() {
    let broker = broker();
    let (config, seen) = collecting(broker, 0);
    let admin = Admin::new(config).expect("admin");
    admin.list_topics().await.expect("list topics");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&seen), 0);
    assert!(
        admin
            .statistics()
            .brokers
            .iter()
            .any(|b| b.request_total >= 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_live_client_is_in_the_process_wide_list() {
    let broker = broker();
    let admin = Admin::new(plaintext_config(
        broker,
        &[("client.id", "stats-listed-admin")],
    ))
    .expect("admin");
    admin.list_topics().await.expect("list topics");
    let listed = |id: &str| {
        laminar_kafka_client::stats::all()
            .into_iter()
            .filter(|s| s.client_id == id)
            .count()
    };
    assert_eq!(listed("stats-listed-admin"), 1);
    let listed_stats = laminar_kafka_client::stats::all()
        .into_iter()
        .find(|s| s.client_id == "stats-listed-admin")
        .expect("listed");
    assert!(listed_stats.brokers.iter().any(|b| b.request_total >= 1));
    drop(admin);
    assert_eq!(
        listed("stats-listed-admin"),
        0,
        "a dropped client is not listed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_refuses_counts_as_an_error() {
    let broker = broker();
    let topic = support::create_topic("stats-refused", 1, &[("max.message.bytes", "200")]).await;
    let producer = Producer::new(plaintext_config(broker, &[])).expect("producer");
    let delivery = producer
        .send(ProducerRecord::new(topic.clone(), vec![b'x'; 2000]).with_partition(0))
        .await
        .expect("queued");
    let outcome = tokio::time::timeout(support::WAIT, delivery)
        .await
        .expect("settled in time");
    assert!(
        outcome.is_err(),
        "the broker refuses a record over max.message.bytes"
    );
    let stats = producer.statistics();
    assert_eq!(stats.totals.record_error_total, 1, "{stats:?}");
    assert_eq!(stats.totals.record_ack_total, 0, "{stats:?}");
    assert!(stats.totals.record_send_total >= 1, "{stats:?}");
    assert_eq!(stats.partitions[0].queued_records, Some(0));
    producer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_counts_its_rebalances() {
    use laminar_kafka_client::consumer::group::{GroupConsumer, Subscription};
    const N: usize = 8;
    broker();
    let topic = support::topic("stats-group", 2).await;
    support::group::produce(&topic, 2, "g", N).await;
    let group = support::unique_topic("stats-group");
    let member = GroupConsumer::new(support::group::config(
        &group,
        &[("auto.offset.reset", "earliest")],
    ))
    .expect("member");
    member
        .subscribe(Subscription::topics([topic.clone()]))
        .expect("subscribe");
    let deadline = tokio::time::Instant::now() + support::WAIT;
    let mut read = 0;
    while read < N {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{read} of {N} records"
        );
        read += member
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
            .iter()
            .count();
    }
    let stats = member.statistics();
    assert_eq!(stats.kind, ClientKind::Consumer);
    assert!(stats.totals.rebalance_total >= 1, "{stats:?}");
    assert_eq!(stats.totals.records_consumed_total, N as u64, "{stats:?}");
    assert_eq!(stats.partitions.len(), 2, "{:?}", stats.partitions);
    member.close().await;
}
