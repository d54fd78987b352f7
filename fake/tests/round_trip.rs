//! Produce and consume through the fake cluster with laminar-kafka's client.

mod support;

use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_fake::{ApiKey, FakeCluster};
use support::{
    assert_no_violations, config, consume_exactly, consumer_from_beginning, send_all, values,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produced_records_are_consumed_in_order_at_consecutive_offsets() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("round-trip", 3)
        .start()
        .await
        .unwrap();
    let producer = Producer::new(config(&cluster, &[("linger.ms", "5")])).unwrap();
    let vals = values("v", 300);
    let delivered = send_all(
        &producer,
        vals.iter().enumerate().map(|(i, v)| {
            ProducerRecord::new("round-trip", v.clone()).with_partition((i % 3) as i32)
        }),
    )
    .await;
    for (i, m) in delivered.iter().enumerate() {
        assert_eq!(m.partition, (i % 3) as i32);
        assert_eq!(m.offset, (i / 3) as i64);
    }
    producer.close().await.unwrap();
    for p in 0..3 {
        let log = cluster.records("round-trip", p).unwrap();
        assert_eq!(log.len(), 100);
        let (leader, _) = cluster.leader("round-trip", p).unwrap();
        assert!(
            cluster.requests().iter().any(|r| r.broker == leader
                && r.api == ApiKey::Produce
                && r.names("round-trip", p))
        );
    }

    let consumer = consumer_from_beginning(config(&cluster, &[]), "round-trip", 3);
    let consumed = consume_exactly(&consumer, 300).await;
    for p in 0..3 {
        let got: Vec<(i64, Vec<u8>)> = consumed
            .iter()
            .filter(|c| c.0 == p)
            .map(|c| (c.1, c.2.clone()))
            .collect();
        let want: Vec<(i64, Vec<u8>)> = (0..100)
            .map(|k| (k as i64, vals[k * 3 + p as usize].clone().into_bytes()))
            .collect();
        assert_eq!(got, want, "partition {p}");
    }
    consumer.close().await;
    assert_no_violations(&cluster);
}
