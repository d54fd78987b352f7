//! Fetch sessions (KIP-227): the consumer's incremental fetches against the fake's session
//! cache, and a session lost by eviction or a scripted FETCH_SESSION_ID_NOT_FOUND.

mod support;

use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_fake::{ApiKey, FakeCluster, ResponseError, Rule};
use support::{
    assert_no_violations, config, consume_exactly, consumer_from_beginning, send_all, values,
};

async fn produce(producer: &Producer, prefix: &str, n: usize) {
    send_all(
        producer,
        values(prefix, n)
            .into_iter()
            .enumerate()
            .map(|(i, v)| ProducerRecord::new("sessions", v).with_partition((i % 3) as i32)),
    )
    .await;
}

/// Per partition, the offsets consumed are 0, 1, 2, … with nothing skipped or repeated.
fn assert_consecutive(consumed: &[support::Consumed], per_partition: i64) {
    for p in 0..3 {
        let offsets: Vec<i64> = consumed.iter().filter(|c| c.0 == p).map(|c| c.1).collect();
        assert_eq!(
            offsets,
            (0..per_partition).collect::<Vec<_>>(),
            "partition {p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_sessions_cost_nothing_but_a_full_fetch() {
    let cluster = FakeCluster::builder()
        .topic("sessions", 3)
        .start()
        .await
        .unwrap();
    let producer = Producer::new(config(&cluster, &[])).unwrap();
    produce(&producer, "a", 30).await;
    let consumer = consumer_from_beginning(config(&cluster, &[]), "sessions", 3);
    let mut consumed = consume_exactly(&consumer, 30).await;
    assert!(
        cluster.fetch_session_count() >= 1,
        "the consumer opened a session"
    );

    // The broker evicts its sessions: the next incremental fetch is refused, and the consumer
    // starts over with a full fetch.
    cluster.evict_fetch_sessions();
    produce(&producer, "b", 30).await;
    consumed.extend(consume_exactly(&consumer, 30).await);

    // A scripted refusal of the session.
    let refused = cluster.script(
        Rule::on(ApiKey::Fetch)
            .once()
            .fail(ResponseError::FetchSessionIdNotFound),
    );
    // A fetch waiting for data when the rule was added may still be served: wait for the
    // refusal before writing more.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while cluster.rule_hits(refused) == 0 {
        assert!(std::time::Instant::now() < deadline, "no fetch came");
        let polled = consumer
            .poll(std::time::Duration::from_millis(50))
            .await
            .unwrap();
        assert!(polled.is_empty(), "nothing new was written yet");
    }
    produce(&producer, "c", 30).await;
    consumed.extend(consume_exactly(&consumer, 30).await);
    assert_consecutive(&consumed, 30);
    consumer.close().await;
    producer.close().await.unwrap();
    assert_no_violations(&cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_without_sessions_is_fetched_in_full() {
    let cluster = FakeCluster::builder()
        .topic("sessions", 3)
        .fetch_sessions(false)
        .start()
        .await
        .unwrap();
    let producer = Producer::new(config(&cluster, &[])).unwrap();
    produce(&producer, "a", 60).await;
    let consumer = consumer_from_beginning(config(&cluster, &[]), "sessions", 3);
    let consumed = consume_exactly(&consumer, 60).await;
    assert_consecutive(&consumed, 20);
    assert_eq!(cluster.fetch_session_count(), 0);
    consumer.close().await;
    producer.close().await.unwrap();
    assert_no_violations(&cluster);
}
