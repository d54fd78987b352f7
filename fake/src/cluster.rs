//! The public handle: start a cluster, steer it, and observe it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use laminar_kafka_protocol::frame::DEFAULT_MAX_FRAME_SIZE;
use laminar_kafka_protocol::record::{DecodeOptions, RecordBatch};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::observe::{LoggedRecord, ProtocolViolation, ReceivedRequest};
use crate::script::{Rule, RuleId, Script};
use crate::state::{BrokerInfo, Config, Inner, State, lock};

/// How a [`FakeCluster`] starts. Obtain with [`FakeCluster::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is awaited"]
pub struct Builder {
    brokers: usize,
    racks: Option<Vec<Option<String>>>,
    topics: Vec<(String, i32)>,
    config: Config,
}

impl Builder {
    /// Number of brokers, node ids `0..n` (default 1). Each listens on its own port.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }

    /// The rack of each broker, by node id (default: `rack-<id>`).
    pub fn racks<S: Into<String>>(mut self, racks: impl IntoIterator<Item = Option<S>>) -> Self {
        self.racks = Some(racks.into_iter().map(|r| r.map(Into::into)).collect());
        self
    }

    /// A topic that exists from the start, its partitions spread over the brokers.
    pub fn topic(mut self, name: impl Into<String>, partitions: i32) -> Self {
        self.topics.push((name.into(), partitions));
        self
    }

    /// Whether Metadata creates topics it is asked about (default true, as a broker's
    /// `auto.create.topics.enable`).
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.config.auto_create_topics = on;
        self
    }

    /// Partitions of topics created without a count (default 1).
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.config.default_partitions = n;
        self
    }

    /// Replicas per partition for topics created by the fake (default: every broker, at most 3).
    pub fn replication_factor(mut self, n: usize) -> Self {
        self.config.replication_factor = n;
        self
    }

    /// The largest batch a produce request may carry (`max.message.bytes`, default 1 MiB);
    /// larger ones get MESSAGE_TOO_LARGE.
    pub fn max_message_bytes(mut self, n: usize) -> Self {
        self.config.max_message_bytes = n;
        self
    }

    /// The largest request frame accepted (default 100 MiB); a larger size prefix closes the
    /// connection before anything is allocated for it.
    pub fn max_frame_size(mut self, n: usize) -> Self {
        self.config.max_frame_size = n;
        self
    }

    /// Whether brokers open fetch sessions (KIP-227) when asked (default true). Off, every
    /// fetch that asks for a session is answered with session id 0: none created.
    pub fn fetch_sessions(mut self, on: bool) -> Self {
        self.config.fetch_sessions = on;
        self
    }

    /// `group.initial.rebalance.delay.ms` (default 0).
    pub fn initial_rebalance_delay(mut self, delay: Duration) -> Self {
        self.config.initial_rebalance_delay = delay;
        self
    }

    /// Binds every broker on 127.0.0.1 (ephemeral ports) and starts serving, on the current
    /// tokio runtime.
    pub async fn start(self) -> Result<FakeCluster> {
        if self.brokers == 0 {
            return Err(Error::InvalidConfig {
                reason: "a cluster needs at least one broker".to_owned(),
            });
        }
        if self.config.default_partitions <= 0 {
            return Err(Error::InvalidConfig {
                reason: "default_partitions must be positive".to_owned(),
            });
        }
        let mut listeners = Vec::with_capacity(self.brokers);
        let mut brokers = Vec::with_capacity(self.brokers);
        for i in 0..self.brokers {
            let id = i as i32;
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|source| Error::Bind { broker: id, source })?;
            let port = listener
                .local_addr()
                .map_err(|source| Error::Bind { broker: id, source })?
                .port();
            let rack = match &self.racks {
                Some(r) => r.get(i).cloned().flatten(),
                None => Some(format!("rack-{id}")),
            };
            brokers.push(BrokerInfo { id, port, rack });
            listeners.push((id, listener));
        }
        let mut state = State::new(self.config, brokers);
        for (name, partitions) in &self.topics {
            if *partitions <= 0 {
                return Err(Error::InvalidConfig {
                    reason: format!("topic `{name}` needs at least one partition"),
                });
            }
            let a = state.default_assignment(*partitions, state.config.replication_factor);
            state.add_topic(name, a);
        }
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            script: Mutex::new(Script::default()),
            requests: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            appended: watch::channel(0).0,
            shutdown: watch::channel(false).0,
        });
        let mut tasks = Vec::new();
        for (id, listener) in listeners {
            tasks.push(tokio::spawn(crate::server::serve(
                inner.clone(),
                id,
                listener,
            )));
        }
        tasks.push(tokio::spawn(ticker(inner.clone())));
        Ok(FakeCluster { inner, tasks })
    }
}

/// Expires group sessions and completes rebalances whose deadline passed.
async fn ticker(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    let mut every = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = every.tick() => {
                let now = Instant::now();
                for g in inner.state().groups.values_mut() {
                    g.tick(now);
                }
            }
        }
    }
}

/// An in-process Kafka cluster that speaks the wire protocol on 127.0.0.1, keeps its logs in
/// memory, and can be scripted. Dropping it stops every broker and closes every connection.
///
/// ```
/// use laminar_kafka_fake::{ApiKey, FakeCluster, ResponseError, Rule};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cluster = FakeCluster::builder().brokers(3).topic("orders", 6).start().await?;
/// assert_eq!(cluster.bootstrap_servers().split(',').count(), 3);
/// assert_eq!(cluster.leader("orders", 4)?, (1, 0)); // partition 4 starts on broker 4 mod 3
///
/// // Script: the next produce to orders-0 fails; then move orders-0 to broker 2.
/// let rule = cluster.script(
///     Rule::on(ApiKey::Produce).partition("orders", 0).once().fail(ResponseError::NotLeaderOrFollower),
/// );
/// assert_eq!(cluster.rule_hits(rule), 0);
/// assert_eq!(cluster.move_leader("orders", 0, 2)?, 1); // the new leader epoch
/// cluster.set_preferred_read_replica("orders", 1, Some(2))?;
/// assert!(cluster.requests().is_empty());
/// # Ok::<(), laminar_kafka_fake::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct FakeCluster {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        let _ = self.inner.shutdown.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeCluster {
    /// A builder with one broker, no topics, auto-creation on.
    pub fn builder() -> Builder {
        Builder {
            brokers: 1,
            racks: None,
            topics: Vec::new(),
            config: Config {
                cluster_id: "laminar-fake-cluster".to_owned(),
                auto_create_topics: true,
                default_partitions: 1,
                replication_factor: 3,
                max_message_bytes: 1024 * 1024,
                initial_rebalance_delay: Duration::ZERO,
                max_frame_size: DEFAULT_MAX_FRAME_SIZE,
                fetch_sessions: true,
            },
        }
    }

    /// A one-broker cluster with the defaults.
    pub async fn start() -> Result<Self> {
        Self::builder().start().await
    }

    /// `host:port` of every broker, comma-separated: a `bootstrap.servers` value.
    pub fn bootstrap_servers(&self) -> String {
        let state = self.inner.state();
        state
            .brokers
            .iter()
            .map(|b| format!("127.0.0.1:{}", b.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The address of broker `node_id`.
    pub fn broker_address(&self, node_id: i32) -> Result<SocketAddr> {
        let state = self.inner.state();
        let b = state
            .broker(node_id)
            .ok_or(Error::UnknownBroker { broker: node_id })?;
        Ok(SocketAddr::from(([127, 0, 0, 1], b.port)))
    }

    /// The node ids of the brokers.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.inner.state().brokers.iter().map(|b| b.id).collect()
    }

    /// Creates a topic with `partitions` partitions spread over the brokers.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        let mut state = self.inner.state();
        if partitions <= 0 {
            return Err(Error::InvalidConfig {
                reason: format!("topic `{name}` needs at least one partition"),
            });
        }
        let a = state.default_assignment(partitions, state.config.replication_factor);
        self.create_topic_with_locked(&mut state, name, a)
    }

    /// Creates a topic with explicit replica lists, one per partition; the first replica of
    /// each list leads.
    pub fn create_topic_with_replicas(&self, name: &str, replicas: Vec<Vec<i32>>) -> Result<()> {
        let mut state = self.inner.state();
        self.create_topic_with_locked(&mut state, name, replicas)
    }

    fn create_topic_with_locked(
        &self,
        state: &mut State,
        name: &str,
        replicas: Vec<Vec<i32>>,
    ) -> Result<()> {
        if state.topics.contains_key(name) {
            return Err(Error::TopicExists {
                topic: name.to_owned(),
            });
        }
        if !crate::state::valid_topic_name(name) || replicas.is_empty() {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "cannot create topic `{name}` with {} partitions",
                    replicas.len()
                ),
            });
        }
        for r in replicas.iter().flatten() {
            if state.broker(*r).is_none() {
                return Err(Error::UnknownBroker { broker: *r });
            }
        }
        if replicas.iter().any(Vec::is_empty) {
            return Err(Error::InvalidConfig {
                reason: "every partition needs at least one replica".to_owned(),
            });
        }
        state.add_topic(name, replicas);
        Ok(())
    }

    fn with_partition<T>(
        &self,
        topic: &str,
        partition: i32,
        f: impl FnOnce(&mut crate::state::Partition, &State) -> Result<T>,
    ) -> Result<T> {
        let mut state = self.inner.state();
        if !state.topics.contains_key(topic) {
            return Err(Error::UnknownTopic {
                topic: topic.to_owned(),
            });
        }
        // Take the partition out for the closure, which may look at the rest of the state.
        let idx = usize::try_from(partition).ok();
        let mut part = match idx.and_then(|i| {
            let t = state.topics.get_mut(topic)?;
            (i < t.partitions.len()).then(|| {
                std::mem::replace(&mut t.partitions[i], crate::state::Partition::new(vec![0]))
            })
        }) {
            Some(p) => p,
            None => {
                return Err(Error::UnknownPartition {
                    topic: topic.to_owned(),
                    partition,
                });
            }
        };
        let result = f(&mut part, &state);
        if let (Some(i), Some(t)) = (idx, state.topics.get_mut(topic)) {
            t.partitions[i] = part;
        }
        result
    }

    /// The leader of a partition and its leader epoch.
    pub fn leader(&self, topic: &str, partition: i32) -> Result<(i32, i32)> {
        self.with_partition(topic, partition, |p, _| Ok((p.leader, p.leader_epoch)))
    }

    /// Moves the leadership of a partition to `broker` (added to the replicas if it was not
    /// one) and bumps the leader epoch, which is returned. Clients that send to the old leader
    /// get NOT_LEADER_OR_FOLLOWER and must refresh their metadata.
    pub fn move_leader(&self, topic: &str, partition: i32, broker: i32) -> Result<i32> {
        self.with_partition(topic, partition, |p, state| {
            if state.broker(broker).is_none() {
                return Err(Error::UnknownBroker { broker });
            }
            if !p.replicas.contains(&broker) {
                p.replicas.push(broker);
            }
            p.leader = broker;
            p.leader_epoch += 1;
            p.epoch_starts.push((p.leader_epoch, p.log.next_offset));
            Ok(p.leader_epoch)
        })
    }

    /// Sets the replica that the leader points consumers to (KIP-392): while set, the leader
    /// answers Fetch v11+ for this partition with no records and `PreferredReadReplica` =
    /// `replica`; the replica itself serves fetches as a follower. `None` stops it.
    pub fn set_preferred_read_replica(
        &self,
        topic: &str,
        partition: i32,
        replica: Option<i32>,
    ) -> Result<()> {
        self.with_partition(topic, partition, |p, state| {
            if let Some(r) = replica {
                if state.broker(r).is_none() {
                    return Err(Error::UnknownBroker { broker: r });
                }
                if !p.replicas.contains(&r) {
                    p.replicas.push(r);
                }
            }
            p.preferred_read_replica = replica;
            Ok(())
        })
    }

    /// The high watermark of a partition (its log end: every write is replicated at once).
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Result<i64> {
        self.with_partition(topic, partition, |p, _| Ok(p.log.high_watermark()))
    }

    /// Reads a partition's data records back (control records left out), with whether each
    /// belongs to an aborted or open transaction.
    pub fn records(&self, topic: &str, partition: i32) -> Result<Vec<LoggedRecord>> {
        self.with_partition(topic, partition, |p, _| {
            let mut out = Vec::new();
            for b in &p.log.batches {
                let err = |source| Error::Record {
                    topic: topic.to_owned(),
                    partition,
                    offset: b.base,
                    source,
                };
                let batch =
                    RecordBatch::decode(b.bytes.clone(), &DecodeOptions::default()).map_err(err)?;
                if batch.is_control() {
                    continue;
                }
                let pid = batch.producer_id();
                let txn = batch.is_transactional();
                for r in batch.records().map_err(err)?.iter() {
                    let r = r.map_err(err)?;
                    let offset = r.offset();
                    out.push(LoggedRecord {
                        offset,
                        key: r.key_bytes(),
                        value: r.value_bytes(),
                        timestamp: r.timestamp(),
                        producer_id: pid,
                        transactional: txn,
                        aborted: txn && p.log.is_aborted(pid, offset),
                        pending: txn && p.log.is_pending(pid, offset),
                    });
                }
            }
            Ok(out)
        })
    }

    /// The offset `group` committed for a partition, if any.
    pub fn committed_offset(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        let state = self.inner.state();
        state
            .offsets
            .get(group)?
            .get(&(topic.to_owned(), partition))
            .map(|c| c.0)
    }

    /// The broker that coordinates a group or transactional id.
    pub fn coordinator(&self, key: &str) -> i32 {
        self.inner.state().coordinator_for(key)
    }

    /// How many fetch sessions (KIP-227) the brokers hold.
    pub fn fetch_session_count(&self) -> usize {
        self.inner.state().sessions.by_id.len()
    }

    /// Forgets every fetch session, as a broker evicting its cache does: the next
    /// incremental fetch of each is answered FETCH_SESSION_ID_NOT_FOUND.
    pub fn evict_fetch_sessions(&self) {
        self.inner.state().sessions.by_id.clear();
    }

    /// Adds a rule to the script (after the existing ones).
    pub fn script(&self, rule: Rule) -> RuleId {
        lock(&self.inner.script).add(rule)
    }

    /// Removes a rule; false if it was not there.
    pub fn unscript(&self, id: RuleId) -> bool {
        lock(&self.inner.script).remove(id)
    }

    /// Removes every rule.
    pub fn clear_script(&self) {
        lock(&self.inner.script).clear();
    }

    /// How many requests a rule has acted on (0 for a removed rule).
    pub fn rule_hits(&self, id: RuleId) -> u32 {
        lock(&self.inner.script).hits(id).unwrap_or(0)
    }

    /// Every request received so far, in arrival order (per broker).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// How many requests of `api` broker `node_id` received.
    pub fn request_count(&self, node_id: i32, api: ApiKey) -> usize {
        lock(&self.inner.requests)
            .iter()
            .filter(|r| r.broker == node_id && r.api == api)
            .count()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.inner.requests).clear();
    }

    /// Connections closed because of malformed or unsupported requests.
    pub fn protocol_violations(&self) -> Vec<ProtocolViolation> {
        lock(&self.inner.violations).clone()
    }
}
