//! Leadership changes: a scripted NOT_LEADER_OR_FOLLOWER, then a real move of the leader to
//! another broker with a new leader epoch. The client refreshes its metadata and goes on.

mod support;

use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_fake::{ApiKey, FakeCluster, ResponseError, Rule};
use support::{
    assert_no_violations, config, consume_exactly, consumer_from_beginning, send_all, values,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_and_consumer_follow_the_leader_to_another_broker() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("moving", 1)
        .start()
        .await
        .unwrap();
    assert_eq!(cluster.leader("moving", 0).unwrap(), (0, 0));
    let not_leader = cluster.script(
        Rule::on(ApiKey::Produce)
            .partition("moving", 0)
            .once()
            .fail(ResponseError::NotLeaderOrFollower),
    );
    let producer = Producer::new(config(&cluster, &[("linger.ms", "2")])).unwrap();
    let first = values("before", 100);
    send_all(
        &producer,
        first
            .iter()
            .map(|v| ProducerRecord::new("moving", v.clone())),
    )
    .await;
    assert_eq!(cluster.rule_hits(not_leader), 1);

    // The consumer reads the first half from broker 0.
    let consumer = consumer_from_beginning(config(&cluster, &[]), "moving", 1);
    consume_exactly(&consumer, 100).await;

    assert_eq!(cluster.move_leader("moving", 0, 2).unwrap(), 1);
    cluster.clear_requests();
    let second = values("after", 100);
    let delivered = send_all(
        &producer,
        second
            .iter()
            .map(|v| ProducerRecord::new("moving", v.clone())),
    )
    .await;
    assert_eq!(delivered.first().unwrap().offset, 100);
    producer.close().await.unwrap();
    assert!(
        cluster
            .requests()
            .iter()
            .any(|r| r.broker == 2 && r.api == ApiKey::Produce && r.names("moving", 0)),
        "the producer found the new leader"
    );

    let consumed = consume_exactly(&consumer, 100).await;
    let got: Vec<Vec<u8>> = consumed.into_iter().map(|c| c.2).collect();
    let want: Vec<Vec<u8>> = second.iter().map(|v| v.clone().into_bytes()).collect();
    assert_eq!(got, want);
    assert!(
        cluster.request_count(2, ApiKey::Fetch) > 0,
        "the consumer fetched from the new leader"
    );
    consumer.close().await;

    let log = cluster.records("moving", 0).unwrap();
    assert_eq!(log.len(), 200, "nothing written twice");
    assert_no_violations(&cluster);
}
