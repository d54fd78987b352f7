//! What the consumer-group tests share: configurations with short timeouts, producing numbered
//! records, and members that poll in the background and record what they read and which
//! rebalance events they saw. The group tests take all of it with `use
//! laminar_kafka_tests::group::*;`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::connection::{Connection, ConnectionConfig};
use laminar_kafka_client::consumer::{GroupConsumer, RebalanceEvent, Subscription};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_client::protocol::messages::messages::ApiKey;
use tokio::task::JoinHandle;

use crate::Broker;
pub use crate::topics::{create, topic};

/// The configuration the group tests' producers and admin clients take.
pub fn producer_config() -> ClientConfig {
    crate::plain(&[])
}

/// A topic and partition.
pub type Tp = (String, i32);

/// A member configuration: the broker's smallest session timeout, fast heartbeats and
/// metadata refreshes, reading from the start.
pub fn config(group: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let broker = Broker::from_env();
    let mut c = ClientConfig::new(&broker.plaintext).expect("config");
    for (k, v) in [
        ("group.id", group),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("auto.offset.reset", "earliest"),
        ("metadata.max.age.ms", "1000"),
        ("fetch.max.wait.ms", "100"),
        ("max.block.ms", "20000"),
    ] {
        c.set(k, v).unwrap();
    }
    for (k, v) in extra {
        c.set(k, v).unwrap();
    }
    c
}

/// Writes `n` records `{prefix}-{i}`, record i to partition i % partitions.
pub async fn produce(topic: &str, partitions: i32, prefix: &str, n: usize) {
    let producer = Producer::new(producer_config()).unwrap();
    let mut deliveries = Vec::new();
    for i in 0..n {
        let record = ProducerRecord::new(topic, format!("{prefix}-{i}"))
            .with_partition(i as i32 % partitions);
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer.close().await.expect("producer closes");
}

/// What a background member saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// (topic, partition, offset, value) in the order read.
    pub records: Vec<(String, i32, i64, String)>,
    /// The rebalance events, in order.
    pub events: Vec<RebalanceEvent>,
}

/// A member polling in the background: it commits after every poll and on every revocation.
pub struct Member {
    /// The member's consumer.
    pub consumer: Arc<GroupConsumer>,
    /// What it saw so far.
    pub seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl Member {
    /// A member that checkpoints at once when partitions are revoked.
    pub fn start(config: ClientConfig, subscription: Subscription) -> Member {
        Self::start_with(config, subscription, Duration::ZERO)
    }

    /// A member that takes `revoke_delay` to checkpoint when partitions are revoked.
    pub fn start_with(
        config: ClientConfig,
        subscription: Subscription,
        revoke_delay: Duration,
    ) -> Member {
        let consumer = Arc::new(GroupConsumer::new(config).expect("group consumer"));
        let mut events = consumer.rebalance_events().unwrap();
        consumer.subscribe(subscription).unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let task = {
            let consumer = consumer.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        ev = events.recv() => {
                            let Some(ev) = ev else { return };
                            if let RebalanceEvent::Revoked(_) = ev.event() {
                                tokio::time::sleep(revoke_delay).await;
                                let _ = consumer.commit_sync().await;
                            }
                            seen.lock().unwrap().events.push(ev.event().clone());
                            ev.done();
                        }
                        polled = consumer.poll(Duration::from_millis(200)) => {
                            let Ok(polled) = polled else {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                continue;
                            };
                            if polled.is_empty() {
                                continue;
                            }
                            {
                                let mut s = seen.lock().unwrap();
                                for part in polled.partitions() {
                                    for r in part.iter() {
                                        let r = r.expect("record");
                                        s.records.push((
                                            part.topic().to_owned(),
                                            part.partition(),
                                            r.offset(),
                                            String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned(),
                                        ));
                                    }
                                }
                            }
                            let _ = consumer.commit_async().await;
                        }
                    }
                }
            })
        };
        Member {
            consumer,
            seen,
            task,
        }
    }

    /// The partitions the member owns now.
    pub fn assignment(&self) -> BTreeSet<Tp> {
        self.consumer.assignment().into_iter().collect()
    }

    /// The values the member read, in the order read.
    pub fn values(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .records
            .iter()
            .map(|r| r.3.clone())
            .collect()
    }

    /// Leaves the group and stops.
    pub async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
        self.consumer.close().await;
    }

    /// Stops without leaving, as a crash would.
    pub fn kill(self) {
        self.task.abort();
    }
}

/// Polls `cond` every 100 ms until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the members' assignments split `all` exactly: each partition owned once.
pub fn is_partition_of(assignments: &[BTreeSet<Tp>], all: &BTreeSet<Tp>) -> bool {
    let mut union = BTreeSet::new();
    for a in assignments {
        for tp in a {
            if !union.insert(tp.clone()) {
                return false;
            }
        }
    }
    &union == all
}

/// Every partition of `topic`, which has `n`.
pub fn all_partitions(topic: &str, n: i32) -> BTreeSet<Tp> {
    (0..n).map(|p| (topic.to_owned(), p)).collect()
}

/// The values [`produce`] writes, as a set.
pub fn values(prefix: &str, n: usize) -> BTreeSet<String> {
    crate::values(prefix, n).into_iter().collect()
}

/// How many records each value was read, over every member.
pub fn read_counts(members: &[&Member]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for m in members {
        for v in m.values() {
            *counts.entry(v).or_default() += 1;
        }
    }
    counts
}

/// Whether the broker runs the consumer protocol of KIP-848, from its ApiVersions answer: it
/// lists ConsumerGroupHeartbeat and has finalized `group.version` 1 or more (Kafka 4.0 on). A
/// 3.7–3.9 broker lists the API as a preview but answers it UNSUPPORTED_VERSION unless its
/// configuration turns the protocol on, which the harness does not.
pub async fn broker_runs_the_consumer_protocol() -> bool {
    let broker = Broker::from_env();
    let config = ClientConfig::new(&broker.plaintext).expect("config");
    let conn = Connection::connect(
        &broker.plaintext,
        &ConnectionConfig::from_client_config(&config).expect("connection config"),
    )
    .await
    .expect("connect to the broker");
    let versions = conn.versions();
    let runs = versions
        .broker_range(ApiKey::ConsumerGroupHeartbeat)
        .is_some()
        && versions
            .finalized_feature("group.version")
            .is_some_and(|level| level.max >= 1);
    conn.close();
    runs
}
