//! Throughput of a group member against the assigned-partition consumer it drives, in the same
//! run over the same records: membership must not cost the hot path. Prints records/s of both
//! (from assign/subscribe to the last record, so the group's join is included) and their ratio.

use std::time::{Duration, Instant};

use laminar_kafka_client::consumer::{Consumer, GroupConsumer, SeekTo, Subscription};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_tests::group::*;
use laminar_kafka_tests::unique_topic;

const N: usize = 600_000;
const PARTITIONS: i32 = 6;

async fn fill(topic: &str) {
    let producer = Producer::new(producer_config()).unwrap();
    let value = vec![b'x'; 100];
    let mut deliveries = Vec::with_capacity(N);
    for i in 0..N {
        let record =
            ProducerRecord::new(topic, value.clone()).with_partition(i as i32 % PARTITIONS);
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer.close().await.expect("producer closes");
}

/// Records per second from `start` (before assigning or subscribing) to the last record.
fn rate(n: usize, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

async fn assigned_rate(topic: &str) -> f64 {
    let start = Instant::now();
    let assigned = Consumer::new(config(&unique_topic("unused"), &EXTRA)).unwrap();
    let tps: Vec<Tp> = (0..PARTITIONS).map(|p| (topic.to_owned(), p)).collect();
    assigned.assign(&tps).unwrap();
    for tp in &tps {
        assigned.seek(tp, SeekTo::Earliest).unwrap();
    }
    let mut n = 0;
    while n < N {
        n += assigned
            .poll(Duration::from_secs(10))
            .await
            .unwrap()
            .iter()
            .count();
    }
    let r = rate(n, start);
    assigned.close().await;
    r
}

/// The rate, and how long the first records took (the join).
async fn group_rate(topic: &str) -> (f64, Duration) {
    let started = Instant::now();
    let member = GroupConsumer::new(config(&unique_topic("g"), &EXTRA)).unwrap();
    member.subscribe(Subscription::topics([topic])).unwrap();
    let (mut n, mut joined) = (0, None);
    while n < N {
        let polled = member.poll(Duration::from_secs(10)).await.unwrap();
        if !polled.is_empty() {
            joined.get_or_insert_with(|| started.elapsed());
        }
        n += polled.iter().count();
    }
    let r = rate(n, started);
    member.close().await;
    (r, joined.unwrap_or_default())
}

const EXTRA: [(&str, &str); 2] = [("max.poll.records", "2000"), ("fetch.max.wait.ms", "100")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_consumes_as_fast_as_the_assigned_partition_consumer() {
    let topic = topic("grp-throughput", PARTITIONS).await;
    fill(&topic).await;
    // Alternate and keep the best of three of each: the machine is shared.
    let (mut best_assigned, mut best_group, mut join) = (0f64, 0f64, Duration::ZERO);
    for _ in 0..3 {
        best_assigned = best_assigned.max(assigned_rate(&topic).await);
        let (g, j) = group_rate(&topic).await;
        if g > best_group {
            (best_group, join) = (g, j);
        }
    }
    let ratio = best_group / best_assigned;
    eprintln!(
        "{N} records: assigned {best_assigned:.0}/s, group {best_group:.0}/s (ratio {ratio:.2}); \
         first group record {join:?} after subscribe"
    );
    assert!(ratio > 0.5, "the group member is {ratio:.2}× as fast");
}
