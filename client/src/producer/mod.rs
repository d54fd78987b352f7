//! The producer: `send` returns a future of the record's partition, offset and timestamp.
//!
//! Records are batched per partition (`accumulator`) and sent by a background task
//! (`sender`) in Produce requests, one per leader broker, with `linger.ms`, `batch.size`,
//! `compression.type`, `acks`, retries bounded by `delivery.timeout.ms`, and back-pressure when
//! `buffer.memory` is taken: `send` then waits, at most `max.block.ms`.
//!
//! Order: records of one partition are written in the order `send` was called for them. With
//! `enable.idempotence` (the default) up to `max.in.flight.requests.per.connection` (at most
//! 5) batches of a partition are in flight at once: the broker accepts each only after the one
//! before it (by sequence number), a batch rejected for that comes back after the earlier one's
//! retry, and a retry is sent again only once no batch before it is in flight. Without
//! idempotence one batch per partition is in flight, so a retry never overtakes a later batch.
//!
//! Transactions (`transactional.id`): the calls that need the transaction or group coordinator
//! (`init_transactions`, `send_offsets_to_transaction`, the end of `commit_transaction` and
//! `abort_transaction`, `resume_transaction`) are commands to the sender task, which runs their
//! requests beside its produce work (`txn`, `sender`).
//!
//! ```no_run
//! # async fn example() -> laminar_kafka_client::Result<()> {
//! use laminar_kafka_client::config::ClientConfig;
//! use laminar_kafka_client::producer::{Producer, ProducerRecord};
//!
//! let producer = Producer::new(ClientConfig::new("127.0.0.1:9092")?)?;
//! let delivery = producer
//!     .send(ProducerRecord::new("events", "hello").with_key("user-1"))
//!     .await?;
//! let metadata = delivery.await?;
//! println!("written at {}-{}@{}", metadata.topic, metadata.partition, metadata.offset);
//! producer.close().await?;
//! # Ok(()) }
//! ```

mod accumulator;
mod delivery;
mod fast_hash;
mod idempotence;
pub mod partitioner;
mod sender;
mod state;
mod txn;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use accumulator::Accumulator;
pub use delivery::DeliveryFuture;
pub use idempotence::ProducerIdentity;
use partitioner::partition_for_key;
use state::{BatchRef, Call, ProducerState};
pub use state::{FailureCause, TxnState};
pub use txn::{ConsumerGroupMetadata, PreparedTransaction};
use txn::{Reply, TxnCommand, TxnManager};

use crate::cluster::Cluster;
use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::stats::{ClientKind, ProducerCounters, Reporter, Statistics};

/// A record to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// The partition; chosen by the partitioner when `None`.
    pub partition: Option<i32>,
    /// The key (also what the partitioner hashes).
    pub key: Option<Bytes>,
    /// The value; `None` is a tombstone on compacted topics.
    pub value: Option<Bytes>,
    /// Headers, in order; keys may repeat.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// The timestamp (ms since the epoch); now when `None`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record with a value and no key.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the partition explicitly.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, key: impl Into<String>, value: Option<Bytes>) -> Self {
        self.headers.push((key.into(), value));
        self
    }

    /// Sets the timestamp.
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    #[inline]
    fn estimated_size(&self) -> usize {
        // Attributes, deltas, lengths: at most 21 bytes of varints beyond the payload.
        21 + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| 10 + k.len() + v.as_ref().map_or(0, Bytes::len))
                .sum::<usize>()
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset, or -1 with `acks=0`.
    pub offset: i64,
    /// The timestamp the broker keeps for it (the record's, or the broker's with
    /// LogAppendTime).
    pub timestamp: i64,
}

pub(crate) struct Shared {
    pub(crate) cluster: Cluster,
    pub(crate) acc: Mutex<Accumulator>,
    pub(crate) memory: Semaphore,
    /// Work for the sender.
    pub(crate) wake: Notify,
    /// The sender became idle (nothing queued or in flight).
    pub(crate) idle: Notify,
    pub(crate) flushing: AtomicUsize,
    pub(crate) closing: AtomicBool,
    pub(crate) in_flight: AtomicUsize,
    /// `enable.idempotence`.
    pub(crate) idempotent: bool,
    /// The protocol state: identity, sequences, transaction, fatal cause. Changed only through
    /// [`Shared::with_state`].
    state: Mutex<ProducerState>,
    /// [`ProducerState::send_open`] as of the last change: read on every send without the lock.
    send_open: AtomicBool,
    /// The transaction coordinator's requests (transactional producers only).
    pub(crate) txn: Option<TxnManager>,
    /// Counters for [`Producer::statistics`].
    pub(crate) stats: ProducerCounters,
}

impl crate::stats::Snapshot for Shared {
    fn statistics(&self) -> Statistics {
        Shared::statistics(self)
    }
}

impl Shared {
    #[inline]
    pub(crate) fn acc(&self) -> std::sync::MutexGuard<'_, Accumulator> {
        self.acc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the protocol state (an event and its action), then publishes whether sends
    /// are open. Never called with the accumulator locked, nor awaits inside.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut ProducerState) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let result = f(&mut state);
        self.send_open.store(state.send_open(), Ordering::Release);
        result
    }

    /// Reads the protocol state.
    pub(crate) fn read_state<R>(&self, f: impl FnOnce(&ProducerState) -> R) -> R {
        f(&self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Returns to `buffer.memory` what batches that failed to close held.
    pub(crate) fn give_back_released(&self) {
        let released = self.acc().take_released();
        if released > 0 {
            self.memory.add_permits(released);
        }
    }

    fn statistics(&self) -> Statistics {
        let queued = self.acc().queued();
        let (totals, partitions) = self.stats.snapshot(queued);
        Statistics {
            client_id: self.cluster.config().common.client_id.clone(),
            kind: ClientKind::Producer,
            time_ms: crate::stats::now_ms(),
            brokers: self.cluster.broker_statistics(),
            partitions,
            totals,
        }
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.acc().is_empty()
    }
}

/// `buffer.memory` is taken from the semaphore in chunks of at most this many bytes (one atomic
/// operation per chunk, not per record); the records then draw on the chunk, the producer's
/// credit, under the accumulator's lock.
const CREDIT_CHUNK: usize = 16 * 1024;
/// ... and of at most this share of `buffer.memory`, so that a small buffer is not held in
/// credit.
const CREDIT_SHARE: usize = 64;

/// A record's fields for the append, with its topic, partition (`None`: the sticky
/// partitioner's) and size.
struct RecordFields<'a> {
    topic: &'a crate::metadata::TopicInfo,
    partition: Option<i32>,
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [(&'a str, Option<&'a [u8]>)],
    size: usize,
}

/// An asynchronous, batching producer. Cheap to share behind an `Arc`; `send` takes `&self`.
pub struct Producer {
    shared: Arc<Shared>,
    sender: Mutex<Option<JoinHandle<()>>>,
    /// The transactional calls that make coordinator requests, for the sender task.
    commands: mpsc::UnboundedSender<(TxnCommand, Reply)>,
    reporter: Option<Reporter>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("cluster", &self.shared.cluster)
            .finish_non_exhaustive()
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Some(h) = self.sender.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
    }
}

/// The wall clock in ms since the epoch: read once per record without a timestamp, so kept to
/// the clock read and two integer steps (no 128-bit millisecond count).
#[inline]
fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64)
            .wrapping_mul(1000)
            .wrapping_add(i64::from(d.subsec_millis())),
        Err(_) => 0,
    }
}

impl Producer {
    /// A producer for `config`; starts its sender task on the current tokio runtime.
    pub fn new(config: ClientConfig) -> Result<Self> {
        Self::with_cluster(Cluster::new(config)?)
    }

    /// A producer on an existing cluster handle.
    pub fn with_cluster(cluster: Cluster) -> Result<Self> {
        let config = cluster.config();
        let txn = config
            .producer
            .transactional_id
            .clone()
            .map(|id| TxnManager::new(id, config.producer.transaction_timeout));
        let state = ProducerState::new(config.producer.enable_idempotence, txn.is_some());
        let shared = Arc::new(Shared {
            idempotent: config.producer.enable_idempotence,
            send_open: AtomicBool::new(state.send_open()),
            state: Mutex::new(state),
            txn,
            // With idempotence up to max.in.flight.requests.per.connection (at most 5) batches
            // of a partition are in flight, the broker keeping their order by sequence;
            // without it one, so that a retry cannot overtake a later batch.
            acc: Mutex::new(
                Accumulator::new(config.producer.compression, config.producer.batch_size)
                    .with_max_in_flight(if config.producer.enable_idempotence {
                        config.producer.max_in_flight_per_connection
                    } else {
                        1
                    }),
            ),
            memory: Semaphore::new(config.producer.buffer_memory),
            cluster,
            wake: Notify::new(),
            idle: Notify::new(),
            flushing: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            stats: ProducerCounters::default(),
        });
        let (commands, command_rx) = mpsc::unbounded_channel();
        let sender = tokio::spawn(sender::run(shared.clone(), command_rx));
        crate::stats::register(Arc::downgrade(&shared) as _);
        let reporter = Reporter::start(
            &shared.cluster.config().common,
            Arc::downgrade(&shared),
            Shared::statistics,
        );
        Ok(Self {
            shared,
            sender: Mutex::new(Some(sender)),
            commands,
            reporter,
        })
    }

    /// A statistics snapshot: brokers, partitions (queued records and bytes, batch averages)
    /// and totals (records sent, acknowledged, failed, retried). See [`crate::stats`].
    ///
    /// ```no_run
    /// # async fn example() -> laminar_kafka_client::Result<()> {
    /// use laminar_kafka_client::config::ClientConfig;
    /// use laminar_kafka_client::producer::{Producer, ProducerRecord};
    ///
    /// let producer = Producer::new(ClientConfig::new("127.0.0.1:9092")?)?;
    /// producer.send(ProducerRecord::new("events", "hello")).await?.await?;
    /// let stats = producer.statistics();
    /// assert_eq!(stats.totals.record_ack_total, 1);
    /// # Ok(()) }
    /// ```
    pub fn statistics(&self) -> Statistics {
        self.shared.statistics()
    }

    /// The cluster handle.
    pub fn cluster(&self) -> &Cluster {
        &self.shared.cluster
    }

    /// Queues a record and returns the future of its delivery.
    ///
    /// Waits (at most `max.block.ms`) for the topic's metadata and for `buffer.memory`. A topic
    /// the broker still does not know after `max.block.ms` is an
    /// [`Error::Broker`] with UNKNOWN_TOPIC_OR_PARTITION (this client never creates topics by
    /// producing to them). The record is on its way once this returns; dropping the returned
    /// future does not cancel it.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        // Hot path: one atomic load; the state's lock only when sends are not open (a stopped
        // producer, no transaction open).
        if !self.shared.send_open.load(Ordering::Acquire) {
            self.shared.read_state(ProducerState::check_send)?;
        }
        let config = self.shared.cluster.config();
        let max_block = config.producer.max_block;
        // The clock is read only when this call may have to wait.
        let deadline = || tokio::time::Instant::now() + max_block;
        let size = record.estimated_size();
        if size > config.producer.max_request_size {
            return Err(Error::RecordTooLarge {
                size,
                limit_name: "max.request.size",
                limit: config.producer.max_request_size,
            });
        }
        if size > config.producer.buffer_memory {
            return Err(Error::RecordTooLarge {
                size,
                limit_name: "buffer.memory",
                limit: config.producer.buffer_memory,
            });
        }
        // Hot path: the cached topic, no clock, no backoff (the sender refreshes metadata that
        // grew older than metadata.max.age.ms).
        let topic = match self
            .shared
            .cluster
            .cached_topic(&record.topic)
            .filter(|t| !t.partitions.is_empty())
        {
            Some(t) => t,
            // Boxed, as the wait for memory below: the waits' states stay out of `send`'s own
            // future, which every record's call builds and moves.
            None => Box::pin(self.topic_metadata(&record.topic, deadline())).await?,
        };
        let num_partitions = topic.partitions.len();
        // Unkeyed records get their sticky partition under the accumulator's lock, below.
        let partition = match (record.partition, &record.key) {
            (Some(p), _) => {
                if p < 0 || p as usize >= num_partitions {
                    return Err(Error::Broker {
                        api: "Produce",
                        code: KafkaCode::UNKNOWN_TOPIC_OR_PARTITION,
                        context: Some(format!("{}-{p}", record.topic)),
                        message: Some(format!("the topic has {num_partitions} partitions")),
                    });
                }
                Some(p)
            }
            (None, Some(key)) => Some(partition_for_key(key, num_partitions)),
            (None, None) => None,
        };
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let headers: Vec<(&str, Option<&[u8]>)> = record
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let fields = RecordFields {
            topic: &topic,
            partition,
            timestamp,
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &headers,
            size,
        };
        // Hot path, one lock: `buffer.memory` from the credit, the sticky partition, the append.
        let credit = {
            let mut acc = self.shared.acc();
            if acc.take_credit(size) {
                return self.append_locked(acc, &fields);
            }
            // Not enough: the credit goes back, so that a wait for memory waits for nothing
            // this producer holds.
            acc.take_all_credit()
        };
        if credit > 0 {
            self.shared.memory.add_permits(credit);
        }
        let extra = self.acquire_memory(size, deadline).await?;
        let mut acc = self.shared.acc();
        acc.add_credit(extra);
        self.append_locked(acc, &fields)
    }

    /// Takes `size` bytes of `buffer.memory` from the semaphore (waiting at most
    /// `max.block.ms`), and when they are there, a chunk more for the credit of the next
    /// records; returns the size of that chunk (0 when it was not taken).
    async fn acquire_memory(
        &self,
        size: usize,
        deadline: impl FnOnce() -> tokio::time::Instant,
    ) -> Result<usize> {
        let config = self.shared.cluster.config();
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        let chunk = (config.producer.buffer_memory / CREDIT_SHARE).min(CREDIT_CHUNK);
        let with_chunk = u32::try_from(size + chunk).unwrap_or(u32::MAX);
        match self.shared.memory.try_acquire_many(with_chunk) {
            Ok(permit) => {
                permit.forget();
                return Ok(chunk);
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(Error::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        match self.shared.memory.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(Error::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                // Boxed, as the wait for metadata: the waits' states stay out of `send`'s own
                // future, which every record's call builds and moves.
                match Box::pin(tokio::time::timeout_at(
                    deadline(),
                    self.shared.memory.acquire_many(permits),
                ))
                .await
                {
                    Ok(Ok(permit)) => permit.forget(),
                    Ok(Err(_)) => return Err(Error::Closed),
                    Err(_) => {
                        return Err(Error::MaxBlock {
                            timeout: config.producer.max_block,
                            reason: format!(
                                "buffer.memory ({} bytes) stayed full",
                                config.producer.buffer_memory
                            ),
                        });
                    }
                }
            }
        }
        Ok(0)
    }

    /// Appends a record whose `buffer.memory` is taken, under the accumulator's lock (the sticky
    /// partition is chosen there), and wakes the sender when a batch opened or closed.
    fn append_locked(
        &self,
        mut acc: std::sync::MutexGuard<'_, Accumulator>,
        r: &RecordFields<'_>,
    ) -> Result<DeliveryFuture> {
        let partition = match r.partition {
            Some(p) => p,
            None => acc.sticky_partition(r.size, r.topic),
        };
        let appended = acc.append(
            &r.topic.name,
            partition,
            r.timestamp,
            r.key,
            r.value,
            r.headers,
            r.size,
        );
        // What batches that failed to close released, read under the same lock.
        let released = acc.take_released();
        drop(acc);
        if released > 0 {
            self.shared.memory.add_permits(released);
        }
        match appended {
            Ok(appended) => {
                if appended.wake_sender {
                    self.shared.wake.notify_one();
                }
                Ok(appended.delivery)
            }
            Err(e) => {
                self.shared.memory.add_permits(r.size);
                Err(e)
            }
        }
    }

    async fn topic_metadata(
        &self,
        topic: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Arc<crate::metadata::TopicInfo>> {
        let mut backoff = self.shared.cluster.retry_backoff();
        let mut last: Option<Error> = None;
        loop {
            // Every attempt (a metadata request, perhaps a connection first) is bounded by
            // what is left of max.block.ms.
            match tokio::time::timeout_at(deadline, self.shared.cluster.topic(topic)).await {
                Ok(Ok(t)) if !t.partitions.is_empty() => return Ok(t),
                Ok(Ok(_)) => {}
                // Like the Java client, wait up to max.block.ms for a topic the broker does
                // not know yet (it may just have been created), then report it as unknown.
                Ok(Err(e))
                    if e.is_retriable()
                        || e.kafka_code() == Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION) =>
                {
                    last = Some(e);
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {}
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(last.unwrap_or_else(|| Error::MaxBlock {
                    timeout: self.shared.cluster.config().producer.max_block,
                    reason: format!("no usable metadata for topic `{topic}`"),
                }));
            }
            tokio::time::sleep(backoff.next_delay().min(deadline - now)).await;
        }
    }

    /// Sends everything queued now, without waiting for `linger.ms`, and waits until every
    /// record sent before this call is acknowledged or has failed.
    pub async fn flush(&self) -> Result<()> {
        self.shared.flushing.fetch_add(1, Ordering::AcqRel);
        let result = async {
            loop {
                let idle = self.shared.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if self.shared.is_idle() {
                    return Ok(());
                }
                if self
                    .sender
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .is_none_or(|h| h.is_finished())
                {
                    return Err(Error::Closed);
                }
                self.shared.wake.notify_one();
                // Wake up now and then in case an idle notification raced with us.
                let _ = tokio::time::timeout(Duration::from_millis(100), idle).await;
            }
        }
        .await;
        self.shared.flushing.fetch_sub(1, Ordering::AcqRel);
        result
    }

    fn txn(&self, operation: &'static str) -> Result<&TxnManager> {
        self.shared.txn.as_ref().ok_or(Error::TransactionState {
            operation,
            state: "not transactional (no transactional.id)",
        })
    }

    /// Hands `command` to the sender task, which performs its coordinator requests, and waits
    /// for its answer. A stopped sender answers [`Error::Closed`].
    async fn command(&self, command: TxnCommand) -> Result<()> {
        self.txn(command.operation())?;
        let (reply, answer) = oneshot::channel();
        self.commands
            .send((command, reply))
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// The producer id and epoch in use, once the idempotent or transactional producer has
    /// one.
    pub fn identity(&self) -> Option<ProducerIdentity> {
        self.shared.read_state(ProducerState::identity)
    }

    /// The transaction state (transactional producers only). A failed state carries its
    /// cause with the broker's error code.
    pub fn transaction_state(&self) -> Option<TxnState> {
        self.shared.read_state(ProducerState::txn_state)
    }

    /// Whether transactions use protocol version 2 (KIP-890) with this cluster; known after
    /// `init_transactions`.
    pub fn uses_transaction_v2(&self) -> bool {
        self.shared.read_state(ProducerState::uses_v2)
    }

    /// Registers the `transactional.id` with its coordinator: fences any older producer with
    /// the same id and completes or aborts the transaction it left open. Call once, before the
    /// first transaction. Blocks at most `max.block.ms`.
    pub async fn init_transactions(&self) -> Result<()> {
        self.command(TxnCommand::Init).await
    }

    /// Opens a transaction: records sent until commit or abort belong to it.
    pub fn begin_transaction(&self) -> Result<()> {
        self.shared.with_state(|s| s.on_call(Call::Begin)).map(drop)
    }

    /// Adds consumed offsets (the next offset to read, per partition) to the transaction, so
    /// that they commit with its records. `group` identifies the consumer group member; a member
    /// of an older generation is fenced (KIP-447).
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &[((String, i32), i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        self.txn("send_offsets_to_transaction")?;
        self.command(TxnCommand::SendOffsets {
            offsets: offsets.to_vec(),
            group: group.clone(),
        })
        .await
    }

    /// Flushes and commits the transaction. An [`Error::TransactionAbortable`] means a record
    /// failed: call [`abort_transaction`](Self::abort_transaction).
    pub async fn commit_transaction(&self) -> Result<()> {
        self.txn("commit_transaction")?;
        self.shared.with_state(|s| s.on_call(Call::Commit))?;
        self.flush().await?;
        self.command(TxnCommand::End { commit: true }).await
    }

    /// Aborts the transaction: records not yet sent fail with [`Error::TransactionAbortable`],
    /// records already written are discarded for `read_committed` readers.
    pub async fn abort_transaction(&self) -> Result<()> {
        self.txn("abort_transaction")?;
        self.shared.with_state(|s| s.on_call(Call::Abort))?;
        let unsent = self.shared.acc().take_unsent();
        self.shared.give_back_released();
        for b in unsent {
            self.shared.memory.add_permits(b.memory);
            // Never sent in this attempt: sequences go back (or the epoch is bumped for a
            // retry that may have been written).
            self.shared.with_state(|s| s.on_dropped(BatchRef::of(&b)));
            b.fail_with(Error::TransactionAbortable {
                message: "the transaction was aborted".to_owned(),
                code: None,
            });
        }
        self.flush().await?;
        // EndTxn, then InitProducerId when sequences are unknown after a failure (KIP-360).
        self.command(TxnCommand::End { commit: false }).await
    }

    /// Flushes and leaves the transaction open, returning what another process needs to commit
    /// or abort it with [`resume_transaction`](Self::resume_transaction) (the first phase of a
    /// two-phase commit). The transaction must end before `transaction.timeout.ms`, or the
    /// coordinator aborts it.
    pub async fn prepare_transaction(&self) -> Result<PreparedTransaction> {
        let txn = self.txn("prepare_transaction")?;
        self.flush().await?;
        txn.prepare(&self.shared)
    }

    /// Takes over a prepared transaction of the same `transactional.id` (instead of
    /// `init_transactions`, which would abort it); `commit_transaction` or `abort_transaction`
    /// then finishes it. A resumed transaction takes no records (`send` fails with
    /// [`Error::TransactionState`]): the producer that wrote it holds its sequence numbers.
    /// Ending it fences that producer (InitProducerId bumps the epoch once the transaction
    /// has ended), and leaves this producer ready for new transactions. An empty prepared transaction (nothing was written) ends
    /// without a request.
    pub async fn resume_transaction(&self, prepared: &PreparedTransaction) -> Result<()> {
        self.command(TxnCommand::Resume(prepared.clone())).await
    }

    /// Flushes, then stops the sender. Records sent before `close` are delivered (or fail by
    /// their delivery timeout); `send` afterwards fails with [`Error::Closed`].
    pub async fn close(&self) -> Result<()> {
        let flushed = self.flush().await;
        self.shared.closing.store(true, Ordering::Release);
        if let Some(r) = &self.reporter {
            r.stop();
        }
        self.shared.wake.notify_one();
        let handle = self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.await;
        }
        self.shared.cluster.close().await;
        flushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_send_future_stays_small() {
        // Every record builds and moves one: the waits for metadata and memory are boxed.
        let producer = Producer::new(ClientConfig::new("127.0.0.1:1").unwrap()).unwrap();
        let send = producer.send(ProducerRecord::new("t", "v"));
        let size = std::mem::size_of_val(&send);
        assert!(size <= 512, "send's future is {size} bytes");
        drop(send);
    }
}
