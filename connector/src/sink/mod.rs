//! The sink operator: Arrow batches written to a Kafka table, at least once or exactly once.
//!
//! A [`KafkaSink`] is opened from a sink [`TableDefinition`] and encodes each batch in the
//! table's format: `key_field` becomes the record key, `timestamp_field` the record timestamp.
//! Without `timestamp_field` a record's timestamp is the time it is written (the producer's
//! create time); the sink does not guess an event time from the rows. With a schema registry,
//! Avro and Protobuf values are registered under `value_subject` and written framed with the
//! schema id.
//!
//! Delivery, by the table's `commit_mode` and [`SinkOptions`]:
//! - `at_least_once`: an idempotent producer; [`checkpoint`](KafkaSink::checkpoint) returns
//!   only once every record written before it is acknowledged. After a failure, the records
//!   since the last checkpoint are written again.
//! - `exactly_once` with the engine's checkpoints (two-phase commit): records go into a
//!   transaction; at a checkpoint barrier the transaction is flushed and left open (its
//!   transactional id, producer id and epoch go into [`SinkState`]), and the next one opens
//!   under another transactional id; when the checkpoint completes, the prepared
//!   transactions commit. On restore the sink first commits the transactions the state names
//!   (a commit that already happened is not an error), then aborts whatever is open under its
//!   other transactional ids, and only then writes. Readers see the rows with
//!   `isolation.level = read_committed`. `transaction.timeout.ms` (60 s unless set in
//!   `client_configs`) must exceed the checkpoint interval plus the longest recovery, or the
//!   coordinator aborts a prepared transaction by itself.
//! - `exactly_once` the Kafka way ([`SinkDelivery::KafkaTransactions`]): for read-process-write
//!   from a Kafka source with no checkpoint store, the caller commits the source's offsets
//!   inside the sink's transaction ([`commit_with_offsets`](KafkaSink::commit_with_offsets),
//!   KIP-447); a restart resumes from the group's committed offsets. Open the sink before the
//!   source: its InitProducerId aborts what a crashed run left open, including offsets that
//!   the source's committed-offset lookup would otherwise wait for.
//!
//! Transactional ids are `{prefix}-{subtask}-{slot}` (two-phase commit) or
//! `{prefix}-{subtask}` (Kafka transactions). The prefix is `transactional.id` from the table's
//! properties if set, otherwise `laminar-{table}`: two pipelines writing the same table at the
//! same time need different prefixes.

mod slots;

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::producer::{
    ConsumerGroupMetadata, DeliveryFuture, PreparedTransaction, Producer, ProducerRecord,
};
use serde::{Deserialize, Serialize};

use crate::client::config_of;
use crate::config::{
    CommitMode, Env, Format, KafkaProperties, SinkConfig, TableDefinition, TableType, Topic,
};
use crate::error::ConnectorError;
use crate::format::{Encoder, FormatError};
#[cfg(feature = "schema-registry")]
use crate::schema_registry::SchemaRegistryClient;
use slots::{SlotAction, Slots};

/// The version [`SinkState::to_json`] writes.
pub const SINK_STATE_VERSION: u32 = 1;

/// How an `exactly_once` sink makes its writes atomic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkDelivery {
    /// Transactions prepared at the engine's checkpoint barriers and committed when the
    /// checkpoint completes (two-phase commit).
    Checkpoints,
    /// Transactions that also commit the source's offsets (KIP-447); no checkpoint store.
    KafkaTransactions,
}

/// How a sink subtask runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SinkOptions {
    /// This subtask's index (part of its transactional ids).
    pub subtask: usize,
    /// Prefix of the transactional ids (default: `transactional.id`, else `laminar-{table}`).
    pub transactional_id_prefix: Option<String>,
    /// How `exactly_once` is achieved.
    pub delivery: SinkDelivery,
    /// Checkpoints that may be taken before earlier ones complete (two-phase commit); the
    /// sink uses `2 × this + 1` transactional ids.
    pub max_pending_checkpoints: usize,
    /// `transaction.timeout.ms` when the table does not set it (the client's default, 60 s,
    /// when `None`).
    pub transaction_timeout: Option<std::time::Duration>,
}

impl SinkOptions {
    /// Subtask `subtask`, two-phase commit at the engine's checkpoints.
    pub fn subtask(subtask: usize) -> Self {
        Self {
            subtask,
            transactional_id_prefix: None,
            delivery: SinkDelivery::Checkpoints,
            max_pending_checkpoints: 3,
            transaction_timeout: None,
        }
    }

    /// With this `transaction.timeout.ms` unless the table sets one: how long a transaction
    /// left open by a crashed writer holds back `read_committed` readers.
    pub fn with_transaction_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.transaction_timeout = Some(timeout);
        self
    }

    /// With Kafka transactions that carry the source's offsets.
    pub fn kafka_transactions(mut self) -> Self {
        self.delivery = SinkDelivery::KafkaTransactions;
        self
    }

    /// With this transactional id prefix.
    pub fn with_transactional_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.transactional_id_prefix = Some(prefix.into());
        self
    }
}

/// A prepared transaction named by a sink checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTransaction {
    /// The pool slot it was written under.
    pub slot: usize,
    /// The checkpoint it belongs to.
    pub checkpoint: u64,
    /// Its transactional id.
    pub transactional_id: String,
    /// The producer id it was written with.
    pub producer_id: i64,
    /// The producer epoch it was written with.
    pub producer_epoch: i16,
}

/// A sink's checkpoint: the prepared transactions to commit on restore.
///
/// ```
/// use laminar_kafka_connector::sink::SinkState;
///
/// let state = SinkState::new("out", 3, Vec::new());
/// assert_eq!(SinkState::from_json("out", &state.to_json())?, state);
/// # Ok::<(), laminar_kafka_connector::ConnectorError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkState {
    /// Format version ([`SINK_STATE_VERSION`]).
    pub version: u32,
    /// The table.
    pub table: String,
    /// The checkpoint.
    pub epoch: u64,
    /// Prepared transactions, oldest first.
    pub pending: Vec<PendingTransaction>,
}

impl SinkState {
    /// A state of the current version.
    pub fn new(table: impl Into<String>, epoch: u64, pending: Vec<PendingTransaction>) -> Self {
        Self {
            version: SINK_STATE_VERSION,
            table: table.into(),
            epoch,
            pending,
        }
    }

    /// The state as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a sink state always serializes")
    }

    /// Reads a state written by [`to_json`](Self::to_json) for table `table`.
    pub fn from_json(table: &str, text: &str) -> Result<Self, ConnectorError> {
        let state: SinkState = serde_json::from_str(text)
            .map_err(|e| ConnectorError::state(table, format!("not a sink state: {e}")))?;
        state.check(table)?;
        Ok(state)
    }

    fn check(&self, table: &str) -> Result<(), ConnectorError> {
        ConnectorError::check_state(table, "sink", self.version, SINK_STATE_VERSION, &self.table)?;
        Ok(())
    }
}

/// Counters of a sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkMetrics {
    /// Records handed to the producer.
    pub records: u64,
    /// Key and value bytes handed to the producer.
    pub bytes: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Transactions aborted.
    pub aborts: u64,
}

struct TwoPhase {
    prefix: String,
    subtask: usize,
    slots: Slots,
    producers: HashMap<usize, Producer>,
    /// What each prepared slot's transaction was written with.
    prepared_ids: HashMap<usize, PreparedTransaction>,
    /// The client properties, for the producers of slots first used later.
    config: KafkaProperties,
}

enum Mode {
    AtLeastOnce {
        producer: Producer,
        deliveries: Vec<DeliveryFuture>,
    },
    TwoPhase(Box<TwoPhase>),
    Kafka {
        producer: Producer,
        written: bool,
    },
}

/// Arrow batches written to a Kafka table.
///
/// ```no_run
/// # async fn example(batch: arrow_array::RecordBatch) -> Result<(), Box<dyn std::error::Error>> {
/// use laminar_kafka_connector::config::process_env;
/// use laminar_kafka_connector::sink::{KafkaSink, SinkOptions};
/// use laminar_kafka_connector::sql::parse_create_table;
///
/// let table = parse_create_table(
///     "CREATE TABLE out (id BIGINT, result TEXT) WITH (connector = 'kafka', \
///      bootstrap_servers = 'localhost:9092', topic = 'processed', type = 'sink', \
///      format = 'json', 'sink.commit_mode' = 'exactly_once', 'sink.key_field' = 'id')",
/// )?;
/// let mut sink = KafkaSink::open(&table, &process_env, SinkOptions::subtask(0), None).await?;
/// sink.write(&batch).await?;
/// let state = sink.checkpoint(1).await?; // store it with the source's, then:
/// sink.checkpoint_complete(1).await?;
/// # Ok(()) }
/// ```
pub struct KafkaSink {
    table: String,
    topic: String,
    format: Format,
    sink: SinkConfig,
    // Read only to encode Avro or Protobuf through the registry.
    #[cfg_attr(
        not(all(
            feature = "schema-registry",
            any(feature = "avro", feature = "protobuf")
        )),
        allow(dead_code)
    )]
    value_subject: String,
    #[cfg(feature = "schema-registry")]
    #[cfg_attr(not(any(feature = "avro", feature = "protobuf")), allow(dead_code))]
    registry: Option<SchemaRegistryClient>,
    encoder: Option<Encoder>,
    mode: Mode,
    metrics: SinkMetrics,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("table", &self.table)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// After a recovered commit failed: success if the coordinator says the transaction is
/// committed (or committing), otherwise the error, saying the records are lost when the
/// coordinator aborted it.
async fn confirm_committed(
    table: &str,
    config: &KafkaProperties,
    pending: &PendingTransaction,
    error: laminar_kafka_client::Error,
) -> Result<(), ConnectorError> {
    let admin = laminar_kafka_client::admin::Admin::new(config_of(table, config, &[])?)
        .map_err(|e| ConnectorError::client(table, e))?;
    let described = admin.describe_transaction(&pending.transactional_id).await;
    admin.close().await;
    match described {
        Ok(d) if matches!(d.state.as_str(), "CompleteCommit" | "PrepareCommit") => Ok(()),
        Ok(d) => Err(ConnectorError::Transaction {
            table: table.to_owned(),
            transactional_id: pending.transactional_id.clone(),
            checkpoint: pending.checkpoint,
            reason: format!(
                "its commit failed ({error}) and the coordinator reports it `{}`: if it was \
                 aborted, transaction.timeout.ms ran out before recovery and its records are lost",
                d.state
            ),
        }),
        Err(_) => Err(ConnectorError::client(table, error)),
    }
}

impl KafkaSink {
    /// Opens the sink of `definition` (a sink table), filling placeholders from `env`. With
    /// `state` (two-phase commit), the transactions it names are committed and every other
    /// transaction of the sink's ids is aborted before this returns.
    pub async fn open(
        definition: &TableDefinition,
        env: &Env<'_>,
        options: SinkOptions,
        state: Option<SinkState>,
    ) -> Result<Self, ConnectorError> {
        let table = definition.name.clone();
        let TableType::Sink(sink) = &definition.table.kind else {
            return Err(ConnectorError::usage(
                &table,
                "a source table cannot be written: its type has `offset`, not `commit_mode`",
            ));
        };
        let Topic::Name(topic) = &definition.table.topic else {
            return Err(ConnectorError::usage(
                &table,
                "a sink writes one topic, not a pattern",
            ));
        };
        if let Some(s) = &state {
            s.check(&table)?;
        }
        let resolved = definition.resolve(env)?;
        #[cfg(feature = "schema-registry")]
        let registry = match (
            &resolved.schema_registry,
            definition.format.needs_schema_registry(),
        ) {
            (Some(r), true) => Some(SchemaRegistryClient::from_config(r).map_err(|e| {
                ConnectorError::Registry {
                    table: table.clone(),
                    message: e.to_string(),
                }
            })?),
            _ => None,
        };
        let prefix = options
            .transactional_id_prefix
            .clone()
            .or_else(|| {
                resolved
                    .properties
                    .get("transactional.id")
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("laminar-{table}"));
        let mut config = KafkaProperties::new();
        for (k, v) in resolved.properties.iter() {
            if k != "transactional.id" {
                config.set(k, v);
            }
        }
        if !config.contains_key("transaction.timeout.ms") {
            if let Some(timeout) = options.transaction_timeout {
                config.set("transaction.timeout.ms", timeout.as_millis().to_string());
            }
        }
        let client = |e| ConnectorError::client(&table, e);
        let mode = match (sink.commit_mode, options.delivery) {
            (CommitMode::AtLeastOnce, _) => Mode::AtLeastOnce {
                producer: make_producer(&table, &config, None)?,
                deliveries: Vec::new(),
            },
            (CommitMode::ExactlyOnce, SinkDelivery::KafkaTransactions) => {
                let id = format!("{prefix}-{}", options.subtask);
                let producer = make_producer(&table, &config, Some(&id))?;
                producer.init_transactions().await.map_err(client)?;
                producer.begin_transaction().map_err(client)?;
                Mode::Kafka {
                    producer,
                    written: false,
                }
            }
            (CommitMode::ExactlyOnce, SinkDelivery::Checkpoints) => Mode::TwoPhase(Box::new(
                recover(&table, &config, prefix, &options, state).await?,
            )),
        };
        let mut this = KafkaSink {
            table: table.clone(),
            topic: topic.clone(),
            format: definition.format,
            sink: sink.clone(),
            value_subject: definition.table.value_subject(topic),
            #[cfg(feature = "schema-registry")]
            registry,
            encoder: None,
            mode,
            metrics: SinkMetrics::default(),
        };
        if let Some(schema) = &definition.schema {
            this.encoder = Some(this.encoder_for(schema.clone()).await?);
        }
        Ok(this)
    }

    async fn encoder_for(&self, schema: SchemaRef) -> Result<Encoder, ConnectorError> {
        let format_err = |e: FormatError| ConnectorError::format(&self.table, e);
        match self.format {
            #[cfg(all(feature = "schema-registry", feature = "avro"))]
            Format::Avro if self.registry.is_some() => {
                let registry = self.registry.as_ref().expect("checked");
                Encoder::avro_registered(
                    schema,
                    &self.sink,
                    registry,
                    &self.value_subject,
                    &record_name(&self.topic),
                )
                .await
                .map_err(format_err)
            }
            #[cfg(all(feature = "schema-registry", feature = "protobuf"))]
            Format::Protobuf if self.registry.is_some() => {
                let registry = self.registry.as_ref().expect("checked");
                Encoder::protobuf_registered(
                    schema,
                    &self.sink,
                    registry,
                    &self.value_subject,
                    &record_name(&self.topic),
                )
                .await
                .map_err(format_err)
            }
            format => Encoder::new(schema, format, &self.sink).map_err(format_err),
        }
    }

    /// Writes the rows of `batch`. Records are sent in the background; the returned future
    /// resolves once they are queued (it waits only when `buffer.memory` is full).
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.encoder.is_none() {
            self.encoder = Some(self.encoder_for(batch.schema()).await?);
        }
        let encoder = self.encoder.as_mut().expect("set above");
        let records = encoder
            .encode(batch)
            .map_err(|e| ConnectorError::format(&self.table, e))?;
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        let producer = match &mut self.mode {
            Mode::AtLeastOnce { producer, .. } => &*producer,
            Mode::TwoPhase(tp) => {
                tp.slots.wrote();
                &tp.producers[&tp.slots.current()]
            }
            Mode::Kafka { producer, written } => {
                *written = true;
                &*producer
            }
        };
        let mut futures = Vec::with_capacity(records.len());
        for r in records {
            self.metrics.records += 1;
            self.metrics.bytes += (r.key.as_ref().map_or(0, |k| k.len())
                + r.value.as_ref().map_or(0, |v| v.len())) as u64;
            let record = ProducerRecord {
                topic: self.topic.clone(),
                partition: None,
                key: r.key,
                value: r.value,
                headers: r.headers,
                timestamp: r.timestamp,
            };
            futures.push(producer.send(record).await.map_err(client)?);
        }
        if let Mode::AtLeastOnce { deliveries, .. } = &mut self.mode {
            deliveries.extend(futures);
        }
        Ok(())
    }

    /// A checkpoint barrier. At least once: waits until every record written so far is
    /// acknowledged. Two-phase commit: flushes the open transaction and leaves it open
    /// (prepared), opening the next one; the returned state names every prepared transaction.
    pub async fn checkpoint(&mut self, epoch: u64) -> Result<SinkState, ConnectorError> {
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        match &mut self.mode {
            Mode::AtLeastOnce {
                producer,
                deliveries,
            } => {
                producer.flush().await.map_err(client)?;
                for d in deliveries.drain(..) {
                    d.await.map_err(client)?;
                }
                Ok(SinkState::new(table.clone(), epoch, Vec::new()))
            }
            Mode::Kafka { .. } => Err(ConnectorError::usage(
                &table,
                "a sink on Kafka transactions commits with commit_with_offsets, not checkpoints",
            )),
            Mode::TwoPhase(tp) => {
                let current = tp.slots.current();
                let had_records = tp.slots.has_written();
                let prepared = if had_records {
                    Some(
                        tp.producers[&current]
                            .prepare_transaction()
                            .await
                            .map_err(client)?,
                    )
                } else {
                    None
                };
                match tp.slots.barrier(epoch) {
                    SlotAction::KeepOpen => {}
                    SlotAction::Switch { next } => {
                        if !tp.producers.contains_key(&next) {
                            let id = format!("{}-{}-{next}", tp.prefix, tp.subtask);
                            let producer = make_producer(&table, &tp.config, Some(&id))?;
                            producer.init_transactions().await.map_err(client)?;
                            tp.producers.insert(next, producer);
                        }
                        tp.producers[&next].begin_transaction().map_err(client)?;
                    }
                    SlotAction::Exhausted => {
                        return Err(ConnectorError::usage(
                            &table,
                            format!(
                                "{} checkpoints are pending: complete them before taking more",
                                tp.slots.prepared().len()
                            ),
                        ));
                    }
                    SlotAction::Commit(_) => unreachable!("a barrier commits nothing"),
                }
                if let Some(p) = prepared {
                    tp.prepared_ids.insert(current, p);
                }
                Ok(SinkState::new(
                    table.clone(),
                    epoch,
                    tp.slots
                        .prepared()
                        .iter()
                        .map(|p| {
                            let t = &tp.prepared_ids[&p.slot];
                            PendingTransaction {
                                slot: p.slot,
                                checkpoint: p.epoch,
                                transactional_id: t.transactional_id.clone(),
                                producer_id: t.producer_id,
                                producer_epoch: t.producer_epoch,
                            }
                        })
                        .collect(),
                ))
            }
        }
    }

    /// Checkpoint `epoch` is stored: the transactions prepared up to it commit.
    pub async fn checkpoint_complete(&mut self, epoch: u64) -> Result<(), ConnectorError> {
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        let Mode::TwoPhase(tp) = &mut self.mode else {
            return Ok(());
        };
        if let SlotAction::Commit(slots) = tp.slots.complete(epoch) {
            for slot in slots {
                tp.producers[&slot]
                    .commit_transaction()
                    .await
                    .map_err(client)?;
                tp.prepared_ids.remove(&slot);
                self.metrics.commits += 1;
            }
        }
        Ok(())
    }

    /// Kafka transactions: commits the open transaction together with the source's
    /// `offsets` (next offset per partition) for `group`, and opens the next one. A member of
    /// an older group generation is fenced by the broker (KIP-447).
    pub async fn commit_with_offsets(
        &mut self,
        offsets: &[((String, i32), i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<(), ConnectorError> {
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        let Mode::Kafka { producer, written } = &mut self.mode else {
            return Err(ConnectorError::usage(
                &table,
                "commit_with_offsets needs an exactly_once sink on Kafka transactions",
            ));
        };
        if !offsets.is_empty() {
            producer
                .send_offsets_to_transaction(offsets, group)
                .await
                .map_err(client)?;
        } else if !*written {
            return Ok(());
        }
        producer.commit_transaction().await.map_err(client)?;
        self.metrics.commits += 1;
        *written = false;
        producer.begin_transaction().map_err(client)
    }

    /// Kafka transactions: aborts the open transaction (after a failure, or when partitions
    /// are revoked without a commit) and opens the next one.
    pub async fn abort(&mut self) -> Result<(), ConnectorError> {
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        if let Mode::Kafka { producer, written } = &mut self.mode {
            producer.abort_transaction().await.map_err(client)?;
            self.metrics.aborts += 1;
            *written = false;
            producer.begin_transaction().map_err(client)?;
        }
        Ok(())
    }

    /// Counters so far.
    pub fn metrics(&self) -> SinkMetrics {
        self.metrics.clone()
    }

    /// The transactional ids this sink writes with (none at least once).
    pub fn transactional_ids(&self) -> Vec<String> {
        match &self.mode {
            Mode::AtLeastOnce { .. } => Vec::new(),
            Mode::Kafka { .. } => Vec::new(),
            Mode::TwoPhase(tp) => (0..tp.slots.capacity())
                .map(|s| format!("{}-{}-{s}", tp.prefix, tp.subtask))
                .collect(),
        }
    }

    /// Stops: at least once, flushes and waits for every record; exactly once, aborts the
    /// open transaction (prepared ones stay for their checkpoint to commit on restore).
    pub async fn close(self) -> Result<(), ConnectorError> {
        let table = self.table.clone();
        let client = |e| ConnectorError::client(&table, e);
        match self.mode {
            Mode::AtLeastOnce {
                producer,
                deliveries,
            } => {
                producer.flush().await.map_err(client)?;
                for d in deliveries {
                    d.await.map_err(client)?;
                }
                producer.close().await.map_err(client)
            }
            Mode::Kafka { producer, .. } => {
                let _ = producer.abort_transaction().await;
                producer.close().await.map_err(client)
            }
            Mode::TwoPhase(tp) => {
                let current = tp.slots.current();
                if tp.slots.has_written() {
                    let _ = tp.producers[&current].abort_transaction().await;
                }
                for (_, p) in tp.producers {
                    let _ = p.close().await;
                }
                Ok(())
            }
        }
    }
}

fn make_producer(
    table: &str,
    config: &KafkaProperties,
    transactional_id: Option<&str>,
) -> Result<Producer, ConnectorError> {
    let overrides: Vec<(&str, &str)> = match transactional_id {
        Some(id) => vec![("transactional.id", id)],
        None => Vec::new(),
    };
    let config: ClientConfig = config_of(table, config, &overrides)?;
    Producer::new(config).map_err(|e| ConnectorError::client(table, e))
}

/// Commits the transactions `state` names, aborts whatever is open on the other slots, and
/// opens the first transaction.
async fn recover(
    table: &str,
    config: &KafkaProperties,
    prefix: String,
    options: &SinkOptions,
    state: Option<SinkState>,
) -> Result<TwoPhase, ConnectorError> {
    let client = |e| ConnectorError::client(table, e);
    let pending = state.map(|s| s.pending).unwrap_or_default();
    let restored: Vec<usize> = pending.iter().map(|p| p.slot).collect();
    let slots = Slots::new(options.max_pending_checkpoints, &restored);
    let id_of = |slot: usize| format!("{prefix}-{}-{slot}", options.subtask);
    for p in &pending {
        if p.transactional_id != id_of(p.slot) {
            return Err(ConnectorError::state(
                table,
                format!(
                    "transaction `{}` is not this sink subtask's (expected `{}`)",
                    p.transactional_id,
                    id_of(p.slot)
                ),
            ));
        }
        let producer = make_producer(table, config, Some(&p.transactional_id))?;
        producer
            .resume_transaction(&PreparedTransaction {
                transactional_id: p.transactional_id.clone(),
                producer_id: p.producer_id,
                producer_epoch: p.producer_epoch,
            })
            .await
            .map_err(client)?;
        let committed = producer.commit_transaction().await;
        let _ = producer.close().await;
        if let Err(e) = committed {
            // Under transaction protocol v2 every EndTxn bumps the epoch, so a repeated commit
            // of a transaction that already committed is refused as fenced (v1 answers it with
            // success). With the slot rule nothing else wrote on this id since the checkpoint,
            // so the coordinator's own record says which it was.
            confirm_committed(table, config, p, e).await?;
        }
    }
    let mut producers = HashMap::new();
    for slot in (0..slots.capacity()).filter(|s| !restored.contains(s)) {
        // InitProducerId aborts what a crashed run left open under this id, and fences it.
        // The restored slots are left alone: a restore of the same checkpoint must find their
        // transactions as committed as this one left them. They are initialized when they
        // are next used.
        let producer = make_producer(table, config, Some(&id_of(slot)))?;
        producer.init_transactions().await.map_err(client)?;
        producers.insert(slot, producer);
    }
    let first = slots.current();
    producers[&first].begin_transaction().map_err(client)?;
    Ok(TwoPhase {
        prefix,
        subtask: options.subtask,
        slots,
        producers,
        prepared_ids: HashMap::new(),
        config: config.clone(),
    })
}

/// An Avro record or Protobuf message name derived from a topic name.
#[cfg_attr(
    not(all(
        feature = "schema-registry",
        any(feature = "avro", feature = "protobuf")
    )),
    allow(dead_code)
)]
fn record_name(topic: &str) -> String {
    let mut name: String = topic
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, 'T');
    }
    name
}
