//! The classic group protocol against the fake coordinator: join, sync, consume, commit, and a
//! second member that starts from the committed offsets.

mod support;

use std::time::{Duration, Instant};

use laminar_kafka_client::consumer::{GroupConsumer, Subscription};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_fake::{ApiKey, FakeCluster};
use support::{WAIT, assert_no_violations, config, owned, send_all, values};

async fn poll_until(consumer: &GroupConsumer, count: usize) -> Vec<support::Consumed> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records",
            out.len()
        );
        let polled = consumer.poll(Duration::from_millis(200)).await.unwrap();
        out.extend(owned(&polled));
    }
    assert_eq!(out.len(), count);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joins_consumes_and_commits_and_the_next_starts_there() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("grp", 2)
        .start()
        .await
        .unwrap();
    let producer = Producer::new(config(&cluster, &[])).unwrap();
    let vals = values("g", 40);
    send_all(
        &producer,
        vals.iter()
            .enumerate()
            .map(|(i, v)| ProducerRecord::new("grp", v.clone()).with_partition((i % 2) as i32)),
    )
    .await;

    let group_config = |cluster: &FakeCluster| {
        config(
            cluster,
            &[
                ("group.id", "fake-group"),
                ("auto.offset.reset", "earliest"),
                ("enable.auto.commit", "false"),
                ("heartbeat.interval.ms", "100"),
            ],
        )
    };
    let member = GroupConsumer::new(group_config(&cluster)).unwrap();
    member.subscribe(Subscription::topics(["grp"])).unwrap();
    let consumed = poll_until(&member, 40).await;
    for p in 0..2 {
        let offsets: Vec<i64> = consumed.iter().filter(|c| c.0 == p).map(|c| c.1).collect();
        assert_eq!(offsets, (0..20).collect::<Vec<_>>(), "partition {p}");
    }
    member.commit_sync().await.unwrap();
    assert_eq!(cluster.committed_offset("fake-group", "grp", 0), Some(20));
    assert_eq!(cluster.committed_offset("fake-group", "grp", 1), Some(20));
    let coordinator = cluster.coordinator("fake-group");
    assert!(cluster.request_count(coordinator, ApiKey::JoinGroup) >= 1);
    assert!(cluster.request_count(coordinator, ApiKey::SyncGroup) >= 1);
    member.close().await;

    let more = values("more", 6);
    send_all(
        &producer,
        more.iter()
            .enumerate()
            .map(|(i, v)| ProducerRecord::new("grp", v.clone()).with_partition((i % 2) as i32)),
    )
    .await;
    producer.close().await.unwrap();
    let next = GroupConsumer::new(group_config(&cluster)).unwrap();
    next.subscribe(Subscription::topics(["grp"])).unwrap();
    let got = poll_until(&next, 6).await;
    assert!(
        got.iter().all(|c| c.1 >= 20),
        "starts at the committed offsets: {got:?}"
    );
    next.close().await;
    assert_no_violations(&cluster);
}
