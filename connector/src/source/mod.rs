//! The source operator: a Kafka table read as Arrow batches, with checkpoints.
//!
//! A [`KafkaSource`] is opened from a [`TableDefinition`] (from SQL, a table JSON or a REST
//! body) and an environment for its placeholders; nothing else is needed. Each
//! [`poll`](KafkaSource::poll) returns the records of one fetch as one [`SourceBatch`] per
//! partition, decoded a whole partition batch at a time into the table's schema (raw formats
//! as views over the fetched buffers, the others into column builders).
//!
//! Partitions are owned in one of two ways ([`Partitioning`]):
//! - by the consumer group (`group_id`): members share the topic's partitions and the group
//!   moves them on rebalances; a revocation is handed to the caller
//!   ([`SourceEvent::Revoked`]) so that it can finish what it wrote for those partitions
//!   before they move;
//! - by the engine: subtask `i` of `n` reads the partitions whose stable hash of topic and
//!   partition number falls on `i`, and nobody else does. New partitions and, for a pattern,
//!   new topics are found every `discovery_interval`.
//!
//! Where a partition starts: the checkpoint state given to [`open`](KafkaSource::open) if it
//! has the partition; otherwise the group's committed offset; otherwise the table's `offset`
//! (`earliest`, `latest`, or for `group` the client's `auto.offset.reset`). A partition found
//! after the source started (a topic created later, a partition added) starts at the earliest
//! offset, so that nothing written before it was found is missed.
//!
//! [`checkpoint`](KafkaSource::checkpoint) returns the next offset of every partition (every
//! record returned before it is covered). Once the engine has stored it,
//! [`checkpoint_complete`](KafkaSource::checkpoint_complete) commits those offsets to the group,
//! so that lag tools see progress; the source never commits on its own.

mod state;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use laminar_kafka_client::cluster::Cluster;
use laminar_kafka_client::consumer::{
    Consumer, GroupConsumer, GroupOffsets, Polled, Rebalance, RebalanceEvent, RebalanceEvents,
    SeekTo, Subscription,
};
use laminar_kafka_client::offsets::TopicPartition;
use laminar_kafka_client::producer::ConsumerGroupMetadata;
use tokio::time::Instant;

pub use state::{PartitionOffset, SOURCE_STATE_VERSION, SourceState};

use crate::client::config_of;
use crate::config::{
    BadDataPolicy, Env, Format, SourceOffset, TableDefinition, TableType, Topic, TopicPattern,
};
use crate::error::ConnectorError;
use crate::format::{Decoder, FormatError, RecordMetadata};
use crate::schema::{MetadataColumn, unstructured_schema};
#[cfg(feature = "schema-registry")]
use crate::schema_registry::SchemaRegistryClient;

/// Who decides which partitions a source subtask reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Partitioning {
    /// The consumer group: subtasks (in one process or many) are members of the table's group.
    ConsumerGroup,
    /// The engine: subtask `i` of `n` reads a fixed share of the partitions.
    Subtasks,
}

/// How a source subtask runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourceOptions {
    /// This subtask's index, `0..parallelism`.
    pub subtask: usize,
    /// How many subtasks read the table.
    pub parallelism: usize,
    /// Who assigns partitions.
    pub partitioning: Partitioning,
    /// How often [`Partitioning::Subtasks`] looks for new partitions and matching topics.
    pub discovery_interval: Duration,
}

impl SourceOptions {
    /// Subtask `subtask` of `parallelism`, partitions assigned by the engine.
    pub fn subtask(subtask: usize, parallelism: usize) -> Self {
        Self {
            subtask,
            parallelism,
            partitioning: Partitioning::Subtasks,
            discovery_interval: Duration::from_secs(5),
        }
    }

    /// A member of the table's consumer group.
    pub fn consumer_group() -> Self {
        Self {
            subtask: 0,
            parallelism: 1,
            partitioning: Partitioning::ConsumerGroup,
            discovery_interval: Duration::from_secs(5),
        }
    }

    /// With another discovery interval.
    pub fn with_discovery_interval(mut self, interval: Duration) -> Self {
        self.discovery_interval = interval;
        self
    }
}

/// The rows of one partition from one poll.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourceBatch {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset after the last record these rows came from: where the partition resumes
    /// once they are processed.
    pub next_offset: i64,
    /// The rows, in the source's [`schema`](KafkaSource::schema).
    pub rows: RecordBatch,
}

/// Partitions the group is taking away; acknowledge once what was written for them is
/// finished (flushed, committed), and the group moves them on.
#[derive(Debug)]
pub struct PartitionsRevoked {
    /// The partitions.
    pub partitions: Vec<TopicPartition>,
    rebalance: Rebalance,
}

impl PartitionsRevoked {
    /// Lets the rebalance go on.
    pub fn acknowledge(self) {
        self.rebalance.done();
    }
}

/// What [`KafkaSource::poll`] returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum SourceEvent {
    /// Rows, one batch per partition that had records.
    Batches(Vec<SourceBatch>),
    /// The group is taking partitions away (consumer-group partitioning only).
    Revoked(PartitionsRevoked),
    /// Nothing arrived within the timeout.
    Idle,
}

/// Counters of one partition, for the page's "Monitoring": records and bytes in, decode
/// errors, and lag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionMetrics {
    /// Records read (including dropped bad records).
    pub records: u64,
    /// Key and value bytes read.
    pub bytes: u64,
    /// Records that did not decode (dropped under `bad_data = drop`).
    pub decode_errors: u64,
    /// The next offset to read, once known.
    pub position: Option<i64>,
    /// Records between the position and the end of the log (the last stable offset under
    /// `read_committed`), from the last fetch.
    pub lag_records: Option<i64>,
    /// The timestamp of the last record read (ms since the epoch).
    pub last_timestamp_ms: Option<i64>,
    /// How far behind in time: 0 when caught up, otherwise now minus the last record's
    /// timestamp.
    pub lag_ms: Option<i64>,
}

// One reader per source, never moved in a hot loop: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Reader {
    Group {
        consumer: GroupConsumer,
        events: RebalanceEvents,
        /// Topics of the first assignment; partitions of other topics without a committed
        /// offset start at the earliest offset.
        first_topics: Option<HashSet<String>>,
    },
    Assigned {
        consumer: Consumer,
        cluster: Cluster,
        offsets: GroupOffsets,
        next_discovery: Instant,
        discovered: bool,
    },
}

/// A Kafka table read as Arrow batches.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use laminar_kafka_connector::config::process_env;
/// use laminar_kafka_connector::sql::parse_create_table;
/// use laminar_kafka_connector::source::{KafkaSource, SourceEvent, SourceOptions};
///
/// let table = parse_create_table(
///     "CREATE TABLE events (id BIGINT, user_id TEXT) WITH (connector = 'kafka', \
///      bootstrap_servers = 'localhost:9092', topic = 'events', type = 'source', \
///      format = 'json', 'source.offset' = 'earliest')",
/// )?;
/// let mut source = KafkaSource::open(&table, &process_env, SourceOptions::subtask(0, 1), None).await?;
/// if let SourceEvent::Batches(batches) = source.poll(Duration::from_secs(1)).await? {
///     for b in batches {
///         println!("{}/{}: {} rows", b.topic, b.partition, b.rows.num_rows());
///     }
/// }
/// let state = source.checkpoint(1); // store it, then:
/// source.checkpoint_complete(1).await?;
/// # Ok(()) }
/// ```
pub struct KafkaSource {
    table: String,
    topic: Topic,
    offset: SourceOffset,
    group_id: String,
    subtask: usize,
    parallelism: usize,
    discovery_interval: Duration,
    decoder: Decoder,
    /// An undeclared JSON table: values are checked to be JSON, then kept as text.
    check_json: bool,
    needs_headers: bool,
    policy: BadDataPolicy,
    #[cfg(feature = "schema-registry")]
    registry: Option<SchemaRegistryClient>,
    reader: Reader,
    restored: HashMap<TopicPartition, i64>,
    checkpoints: BTreeMap<u64, Vec<(TopicPartition, i64)>>,
    metrics: BTreeMap<TopicPartition, PartitionMetrics>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("table", &self.table)
            .field("subtask", &self.subtask)
            .field("parallelism", &self.parallelism)
            .finish_non_exhaustive()
    }
}

/// FNV-1a of the topic name: stable across builds and processes, unlike the std hasher.
fn topic_hash(topic: &str) -> u64 {
    topic.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Whether subtask `subtask` of `parallelism` reads `partition` of `topic`.
pub fn owns_partition(topic: &str, partition: i32, subtask: usize, parallelism: usize) -> bool {
    let n = parallelism.max(1) as u64;
    (topic_hash(topic).wrapping_add(partition.max(0) as u64)) % n == subtask as u64
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl KafkaSource {
    /// Opens the source of `definition` (a source table), filling placeholders from `env`,
    /// and resuming from `state` when given. Connects and subscribes (or assigns) before it
    /// returns.
    pub async fn open(
        definition: &TableDefinition,
        env: &Env<'_>,
        options: SourceOptions,
        state: Option<SourceState>,
    ) -> Result<Self, ConnectorError> {
        let table = definition.name.clone();
        let TableType::Source(source) = &definition.table.kind else {
            return Err(ConnectorError::usage(
                &table,
                "a sink table cannot be read: its type has `commit_mode`, not `offset`",
            ));
        };
        if options.parallelism == 0 || options.subtask >= options.parallelism {
            return Err(ConnectorError::usage(
                &table,
                format!(
                    "subtask {} of {} does not exist",
                    options.subtask, options.parallelism
                ),
            ));
        }
        let restored = match &state {
            Some(s) => {
                s.check(&table)?;
                s.offsets
                    .iter()
                    .map(|p| ((p.topic.clone(), p.partition), p.offset))
                    .collect()
            }
            None => HashMap::new(),
        };
        let resolved = definition.resolve(env)?;
        let (schema, decode_as, check_json) = match &definition.schema {
            Some(schema) => (schema.clone(), definition.format, false),
            None => {
                let as_format = match definition.format {
                    Format::Json | Format::RawString => Format::RawString,
                    _ => Format::RawBytes,
                };
                (
                    unstructured_schema(definition.format),
                    as_format,
                    definition.format == Format::Json,
                )
            }
        };
        let needs_headers = schema
            .fields()
            .iter()
            .any(|f| MetadataColumn::of(f) == Some(MetadataColumn::Headers));
        let decoder = Decoder::new(schema, decode_as, definition.table.bad_data)
            .map_err(|e| ConnectorError::format(&table, e))?;
        #[cfg(feature = "schema-registry")]
        let registry = match (&resolved.schema_registry, decode_as.needs_schema_registry()) {
            (Some(r), true) => Some(SchemaRegistryClient::from_config(r).map_err(|e| {
                ConnectorError::Registry {
                    table: table.clone(),
                    message: e.to_string(),
                }
            })?),
            _ => None,
        };
        let config = config_of(
            &table,
            &resolved.properties,
            &[("enable.auto.commit", "false")],
        )?;
        let group_id = resolved.group_id.clone().unwrap_or_default();
        let client = |e| ConnectorError::client(&table, e);
        let reader = match options.partitioning {
            Partitioning::ConsumerGroup => {
                let consumer = GroupConsumer::new(config).map_err(client)?;
                let events = consumer.rebalance_events().map_err(client)?;
                let subscription = match &definition.table.topic {
                    Topic::Name(name) => Subscription::topics([name.clone()]),
                    Topic::Pattern(p) => Subscription::pattern(p.as_str()).map_err(client)?,
                };
                consumer.subscribe(subscription).map_err(client)?;
                Reader::Group {
                    consumer,
                    events,
                    first_topics: None,
                }
            }
            Partitioning::Subtasks => {
                let cluster = Cluster::new(config).map_err(client)?;
                let consumer = Consumer::with_cluster(cluster.clone()).map_err(client)?;
                let offsets =
                    GroupOffsets::new(cluster.clone(), group_id.clone()).map_err(client)?;
                Reader::Assigned {
                    consumer,
                    cluster,
                    offsets,
                    next_discovery: Instant::now(),
                    discovered: false,
                }
            }
        };
        let mut this = KafkaSource {
            table,
            topic: definition.table.topic.clone(),
            offset: source.offset,
            group_id,
            subtask: options.subtask,
            parallelism: options.parallelism,
            discovery_interval: options.discovery_interval,
            decoder,
            check_json,
            needs_headers,
            policy: definition.table.bad_data,
            #[cfg(feature = "schema-registry")]
            registry,
            reader,
            restored,
            checkpoints: BTreeMap::new(),
            metrics: BTreeMap::new(),
        };
        if let Reader::Assigned { .. } = this.reader {
            this.discover().await?;
        }
        Ok(this)
    }

    /// The schema of the rows: the declared columns, or for a table declared without any
    /// [`unstructured_schema`]. With `debezium_json` the change-op column is added.
    pub fn schema(&self) -> &SchemaRef {
        self.decoder.schema()
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The consumer group the source commits to.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The partitions this subtask reads now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        match &self.reader {
            Reader::Group { consumer, .. } => consumer.assignment(),
            Reader::Assigned { consumer, .. } => consumer.assignment(),
        }
    }

    /// The next offset of every partition with a known position: every record returned by
    /// `poll` so far is before it.
    pub fn positions(&self) -> HashMap<TopicPartition, i64> {
        match &self.reader {
            Reader::Group { consumer, .. } => consumer.positions(),
            Reader::Assigned { consumer, .. } => consumer.positions(),
        }
    }

    /// What a transactional sink needs to commit this source's offsets in its transaction
    /// (KIP-447): the group member's identity, or the bare group without membership for
    /// engine-assigned partitions.
    pub fn group_metadata(&self) -> ConsumerGroupMetadata {
        match &self.reader {
            Reader::Group { consumer, .. } => consumer.group_metadata(),
            Reader::Assigned { .. } => ConsumerGroupMetadata::new(self.group_id.clone()),
        }
    }

    /// Looks for partitions of this subtask (engine partitioning): new topics matching the
    /// pattern, partitions added to known topics.
    async fn discover(&mut self) -> Result<(), ConnectorError> {
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        let Reader::Assigned {
            consumer,
            cluster,
            offsets,
            next_discovery,
            discovered,
        } = &mut self.reader
        else {
            return Ok(());
        };
        *next_discovery = Instant::now() + self.discovery_interval;
        let mut mine: Vec<TopicPartition> = Vec::new();
        match &self.topic {
            Topic::Name(name) => {
                cluster
                    .refresh_metadata(&[name.as_str()])
                    .await
                    .map_err(client)?;
                let info = cluster.topic(name).await.map_err(client)?;
                mine.extend(
                    info.partitions
                        .iter()
                        .map(|p| p.partition)
                        .filter(|p| owns_partition(name, *p, self.subtask, self.parallelism))
                        .map(|p| (name.clone(), p)),
                );
            }
            Topic::Pattern(pattern) => {
                cluster.refresh_metadata(&[]).await.map_err(client)?;
                let md = cluster.metadata();
                let mut names: Vec<&str> =
                    md.topic_names().filter(|n| matching(pattern, n)).collect();
                names.sort_unstable();
                for name in names {
                    if let Some(info) = md.known_topic(name).filter(|t| !t.is_internal) {
                        mine.extend(
                            info.partitions
                                .iter()
                                .map(|p| p.partition)
                                .filter(|p| {
                                    owns_partition(name, *p, self.subtask, self.parallelism)
                                })
                                .map(|p| (name.to_owned(), p)),
                        );
                    }
                }
            }
        }
        let current: HashSet<TopicPartition> = consumer.assignment().into_iter().collect();
        let new: Vec<TopicPartition> = mine
            .iter()
            .filter(|tp| !current.contains(*tp))
            .cloned()
            .collect();
        if new.is_empty() {
            *discovered = true;
            return Ok(());
        }
        let unrestored: Vec<TopicPartition> = new
            .iter()
            .filter(|tp| !self.restored.contains_key(*tp))
            .cloned()
            .collect();
        let committed = if unrestored.is_empty() {
            HashMap::new()
        } else {
            offsets.committed(&unrestored).await.map_err(client)?
        };
        let mut all = current.into_iter().collect::<Vec<_>>();
        all.extend(new.iter().cloned());
        consumer.assign(&all).map_err(client)?;
        for tp in &new {
            let to = if let Some(o) = self.restored.get(tp) {
                Some(SeekTo::Offset(*o))
            } else if let Some(o) = committed.get(tp) {
                Some(SeekTo::Offset(*o))
            } else if *discovered {
                Some(SeekTo::Earliest)
            } else {
                match self.offset {
                    SourceOffset::Earliest => Some(SeekTo::Earliest),
                    SourceOffset::Latest => Some(SeekTo::Latest),
                    SourceOffset::Group => None,
                }
            };
            if let Some(to) = to {
                consumer.seek(tp, to).map_err(client)?;
            }
            self.metrics.entry(tp.clone()).or_default();
        }
        *discovered = true;
        Ok(())
    }

    /// Positions partitions the group just assigned: the checkpoint's offset when the state
    /// has one, the earliest offset for partitions of topics found after the first
    /// assignment that have no committed offset.
    async fn on_assigned(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectorError> {
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        let Reader::Group {
            consumer,
            first_topics,
            ..
        } = &mut self.reader
        else {
            return Ok(());
        };
        let later: Vec<TopicPartition> = match first_topics {
            None => {
                *first_topics = Some(partitions.iter().map(|(t, _)| t.clone()).collect());
                Vec::new()
            }
            Some(first) => partitions
                .iter()
                .filter(|(t, _)| !first.contains(t) && matches!(self.topic, Topic::Pattern(_)))
                .filter(|tp| !self.restored.contains_key(*tp))
                .cloned()
                .collect(),
        };
        for tp in partitions {
            if let Some(o) = self.restored.get(tp) {
                consumer.seek(tp, SeekTo::Offset(*o)).map_err(client)?;
            }
            self.metrics.entry(tp.clone()).or_default();
        }
        if !later.is_empty() {
            let committed = consumer.committed(&later).await.map_err(client)?;
            for tp in later.iter().filter(|tp| !committed.contains_key(*tp)) {
                consumer.seek(tp, SeekTo::Earliest).map_err(client)?;
            }
        }
        Ok(())
    }

    /// Waits up to `timeout` for records and returns them decoded, one batch per partition.
    /// Under `bad_data = fail` a record that does not decode is an error naming its topic,
    /// partition and offset; under `drop` it is skipped and counted.
    ///
    /// Cancel-safe only between calls: a poll that is dropped midway may lose the records it
    /// had taken (their positions already moved); restore from a checkpoint after that.
    pub async fn poll(&mut self, timeout: Duration) -> Result<SourceEvent, ConnectorError> {
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        let polled = loop {
            match &mut self.reader {
                Reader::Group {
                    consumer, events, ..
                } => {
                    // A rebalance first: its partitions must not be read past.
                    if let Ok(Some(rebalance)) =
                        tokio::time::timeout(Duration::ZERO, events.recv()).await
                    {
                        match rebalance.event().clone() {
                            RebalanceEvent::Assigned(parts) => {
                                self.on_assigned(&parts).await?;
                                rebalance.done();
                                continue;
                            }
                            RebalanceEvent::Revoked(parts) => {
                                return Ok(SourceEvent::Revoked(PartitionsRevoked {
                                    partitions: parts,
                                    rebalance,
                                }));
                            }
                            RebalanceEvent::Lost(parts) => {
                                for tp in &parts {
                                    self.metrics.remove(tp);
                                }
                                rebalance.done();
                                continue;
                            }
                            _ => {
                                rebalance.done();
                                continue;
                            }
                        }
                    }
                    break consumer.poll(timeout).await.map_err(client)?;
                }
                Reader::Assigned {
                    consumer,
                    next_discovery,
                    ..
                } => {
                    if Instant::now() >= *next_discovery {
                        self.discover().await?;
                        continue;
                    }
                    break consumer.poll(timeout).await.map_err(client)?;
                }
            }
        };
        if polled.is_empty() {
            return Ok(SourceEvent::Idle);
        }
        self.decode(&polled).await.map(SourceEvent::Batches)
    }

    async fn decode(&mut self, polled: &Polled) -> Result<Vec<SourceBatch>, ConnectorError> {
        let mut out = Vec::with_capacity(polled.partitions().len());
        for part in polled.partitions() {
            let topic = part.topic();
            let partition = part.partition();
            let mut headers: Vec<(&str, Option<&[u8]>)> = Vec::new();
            let dropped_before = self.decoder.dropped();
            let mut own_drops = 0u64;
            let mut records = 0u64;
            let mut bytes = 0u64;
            let mut last_ts = None;
            for record in part.iter() {
                let record = record.map_err(|e| {
                    ConnectorError::format(
                        &self.table,
                        FormatError::BadRecord {
                            topic: topic.to_owned(),
                            partition,
                            offset: part.next_offset(),
                            reason: format!("the fetched batch is corrupt: {e}"),
                        },
                    )
                })?;
                let offset = record.offset();
                let value = record.value();
                let key = record.key();
                records += 1;
                bytes += (value.map_or(0, <[u8]>::len) + key.map_or(0, <[u8]>::len)) as u64;
                last_ts = Some(record.timestamp());
                let mut bad: Option<String> = None;
                headers.clear();
                if self.needs_headers {
                    for h in record.record.headers() {
                        match h.key_str() {
                            Ok(k) => headers.push((k, h.value())),
                            Err(_) => {
                                bad = Some("a header key is not valid UTF-8".to_owned());
                                break;
                            }
                        }
                    }
                }
                if bad.is_none()
                    && self.check_json
                    && value.is_some_and(|v| {
                        serde_json::from_slice::<serde::de::IgnoredAny>(v).is_err()
                    })
                {
                    bad = Some("the value is not JSON".to_owned());
                }
                if let Some(reason) = bad {
                    match self.policy {
                        BadDataPolicy::Drop => {
                            own_drops += 1;
                            continue;
                        }
                        BadDataPolicy::Fail => {
                            return Err(ConnectorError::format(
                                &self.table,
                                FormatError::BadRecord {
                                    topic: topic.to_owned(),
                                    partition,
                                    offset,
                                    reason,
                                },
                            ));
                        }
                    }
                }
                #[cfg(feature = "schema-registry")]
                if let Some(id) = self.decoder.missing_schema(value) {
                    let Some(registry) = &self.registry else {
                        return Err(ConnectorError::Registry {
                            table: self.table.clone(),
                            message: format!(
                                "record at {topic}/{partition}@{offset} names schema {id}, \
                                 and the profile has no schema registry"
                            ),
                        });
                    };
                    self.decoder
                        .load_schema(registry, id)
                        .await
                        .map_err(|e| ConnectorError::format(&self.table, e))?;
                }
                let meta = RecordMetadata {
                    topic,
                    partition,
                    offset,
                    timestamp_ms: record.timestamp(),
                    key,
                    headers: &headers,
                };
                self.decoder
                    .decode(value, &meta)
                    .map_err(|e| ConnectorError::format(&self.table, e))?;
            }
            let rows = self
                .decoder
                .flush()
                .map_err(|e| ConnectorError::format(&self.table, e))?;
            let m = self
                .metrics
                .entry((topic.to_owned(), partition))
                .or_default();
            m.records += records;
            m.bytes += bytes;
            m.decode_errors += own_drops + (self.decoder.dropped() - dropped_before);
            if last_ts.is_some() {
                m.last_timestamp_ms = last_ts;
            }
            if rows.num_rows() > 0 {
                out.push(SourceBatch {
                    topic: Arc::from(topic),
                    partition,
                    next_offset: part.next_offset(),
                    rows,
                });
            }
        }
        Ok(out)
    }

    /// Takes checkpoint `epoch`: the next offset of every partition with a known position.
    /// Every record returned by `poll` before this call is before those offsets.
    pub fn checkpoint(&mut self, epoch: u64) -> SourceState {
        let mut offsets: Vec<(TopicPartition, i64)> = self.positions().into_iter().collect();
        offsets.sort();
        self.checkpoints.insert(epoch, offsets.clone());
        SourceState::new(
            self.table.clone(),
            epoch,
            offsets
                .into_iter()
                .map(|((topic, partition), offset)| PartitionOffset {
                    topic,
                    partition,
                    offset,
                })
                .collect(),
        )
    }

    /// Checkpoint `epoch` is stored: commits its offsets to the group (those of partitions
    /// still read), so that lag tools see progress. Earlier checkpoints not completed are
    /// dropped. A failed commit only delays what lag tools see: the checkpoint stays complete.
    pub async fn checkpoint_complete(&mut self, epoch: u64) -> Result<(), ConnectorError> {
        let Some(offsets) = self.checkpoints.remove(&epoch) else {
            return Err(ConnectorError::usage(
                &self.table,
                format!("checkpoint {epoch} was not taken by this source"),
            ));
        };
        self.checkpoints.retain(|e, _| *e > epoch);
        let assigned: HashSet<TopicPartition> = self.assignment().into_iter().collect();
        let offsets: Vec<(TopicPartition, i64)> = offsets
            .into_iter()
            .filter(|(tp, _)| assigned.contains(tp))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        let result = match &self.reader {
            Reader::Group { consumer, .. } => consumer.commit_offsets_sync(&offsets).await,
            Reader::Assigned {
                offsets: committer, ..
            } => committer.commit(&offsets).await,
        };
        result.map_err(|e| ConnectorError::client(&self.table, e))
    }

    /// Per-partition counters and lag, as of the last fetch.
    pub fn metrics(&self) -> BTreeMap<TopicPartition, PartitionMetrics> {
        let lag = match &self.reader {
            Reader::Group { consumer, .. } => consumer.lag(),
            Reader::Assigned { consumer, .. } => consumer.lag(),
        };
        let now = now_ms();
        let mut out = self.metrics.clone();
        for (tp, l) in lag {
            let m = out.entry(tp).or_default();
            m.position = l.position;
            m.lag_records = l.lag;
            m.lag_ms = match (l.lag, m.last_timestamp_ms) {
                (Some(0), _) => Some(0),
                (Some(_), Some(ts)) => Some((now - ts).max(0)),
                _ => None,
            };
        }
        out
    }

    /// Leaves the group (consumer-group partitioning) and closes the connections.
    pub async fn close(self) {
        match self.reader {
            Reader::Group {
                consumer, events, ..
            } => {
                // The stream is dropped first so that the leave's revocation needs no answer.
                drop(events);
                consumer.close().await;
            }
            Reader::Assigned { consumer, .. } => consumer.close().await,
        }
    }
}

fn matching(pattern: &TopicPattern, topic: &str) -> bool {
    !topic.starts_with("__") && pattern.matches(topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_has_exactly_one_subtask() {
        for n in 1..7 {
            for topic in ["events", "events-1", "orders", ""] {
                for p in 0..24 {
                    let owners = (0..n).filter(|i| owns_partition(topic, p, *i, n)).count();
                    assert_eq!(owners, 1, "{topic}/{p} with {n} subtasks");
                }
            }
        }
        // Partitions of one topic spread over the subtasks.
        let spread: HashSet<usize> = (0..6)
            .map(|p| (0..3).find(|i| owns_partition("t", p, *i, 3)).unwrap())
            .collect();
        assert_eq!(spread.len(), 3);
    }

    #[test]
    fn the_topic_hash_is_stable() {
        // FNV-1a test vectors: the assignment must not change between builds.
        assert_eq!(topic_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(topic_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
