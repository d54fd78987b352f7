//! The consumer: assigned partitions, positions, and `poll`.
//!
//! A [`Consumer`] reads the partitions it is assigned from the position of each (set by
//! [`Consumer::seek`], or by `auto.offset.reset` when there is none). A background fetcher keeps
//! the next fetch of each partition in flight while the caller processes what `poll` returned,
//! so fetching and processing overlap. Records come out as views into the fetched buffers.
//!
//! Positions are the state an engine checkpoints: [`Consumer::positions`] says where each
//! partition would continue, and `assign` + `seek` on restore puts the consumer back there.
//! Group membership, committed offsets and subscriptions are the [`GroupConsumer`]'s, which
//! drives one of these underneath.
//!
//! ```no_run
//! # async fn example() -> laminar_kafka_client::Result<()> {
//! use std::time::Duration;
//! use laminar_kafka_client::config::ClientConfig;
//! use laminar_kafka_client::consumer::{Consumer, SeekTo};
//!
//! let consumer = Consumer::new(ClientConfig::new("127.0.0.1:9092")?)?;
//! consumer.assign(&[("events".to_owned(), 0)])?;
//! consumer.seek(&("events".to_owned(), 0), SeekTo::Earliest)?;
//! let polled = consumer.poll(Duration::from_secs(1)).await?;
//! for partition in polled.partitions() {
//!     for record in partition {
//!         let record = record?;
//!         println!("{} {:?}", record.offset(), record.value());
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod assignor;
mod decode;
mod fetcher;
pub mod group;
mod records;
mod replica;
mod session;
mod validate;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use group::{
    GroupConsumer, GroupOffsets, PendingCommit, Rebalance, RebalanceEvent, RebalanceEvents,
    Subscription,
};
pub use records::{ConsumedRecord, PartitionRecordIter, PartitionRecords};

use crate::cluster::Cluster;
use crate::config::{ClientConfig, OffsetReset};
use crate::error::{Error, Result};
use crate::offsets::{OffsetSpec, TopicPartition};
use crate::stats::{ClientKind, ConsumerCounters, PartitionStatistics, Reporter, Statistics};

/// Fetched responses a partition may have buffered before the fetcher stops fetching it.
pub(crate) const BUFFERED_PIECES: usize = 2;

/// Where to move a partition's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekTo {
    /// The first offset in the log.
    Earliest,
    /// The end of the log: only records written from now on.
    Latest,
    /// This exact offset.
    Offset(i64),
    /// The first record with a timestamp at or after this time (ms since the epoch), or the
    /// end of the log if there is none.
    Timestamp(i64),
}

/// Offsets the broker reported for a partition in its last fetch response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionWatermarks {
    /// The high watermark (offset of the next record to be committed by all replicas).
    pub high_watermark: i64,
    /// The last stable offset (below it, every transaction is decided).
    pub last_stable_offset: i64,
    /// The first offset in the log.
    pub log_start_offset: i64,
}

/// How far behind the log end a partition's consumer is, from the last fetch response (no
/// extra request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// The offset of the next record `poll` returns, once known.
    pub position: Option<i64>,
    /// The high watermark from the last fetch response.
    pub high_watermark: Option<i64>,
    /// The last stable offset from the last fetch response.
    pub last_stable_offset: Option<i64>,
    /// Records between the position and the end a consumer can read: the last stable offset
    /// under `read_committed`, the high watermark otherwise. `None` until both are known.
    pub lag: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct PartitionState {
    /// Next offset to return to the caller; `None` until a position is set or reset.
    pub(crate) position: Option<i64>,
    /// Next offset to fetch (at or after `position`).
    pub(crate) fetch_position: i64,
    /// A pending seek by time, or a reset.
    pub(crate) pending: Option<OffsetSpec>,
    /// The generation of the fetch in flight for this partition, if any.
    pub(crate) in_flight: Option<u64>,
    pub(crate) buffered: VecDeque<PartitionRecords>,
    /// A number no other state of this consumer has had, taken anew by every seek and every
    /// time the partition is (re)added: a fetch sent before either is discarded when it
    /// returns, even if the partition left and came back meanwhile (a rebalance).
    pub(crate) generation: u64,
    pub(crate) watermarks: Option<PartitionWatermarks>,
    /// Do not fetch before this instant (after an error).
    pub(crate) retry_at: Option<tokio::time::Instant>,
    /// Neither fetched nor returned by `poll` (the caller paused it, or it is changing hands).
    pub(crate) paused: bool,
    /// The replica the leader named for fetches (KIP-392), while the choice holds.
    pub(crate) preferred_replica: Option<replica::PreferredReplica>,
    /// The leader epoch the last fetch was sent under (-1: none since the last seek).
    pub(crate) fetched_under: i32,
    /// The partition leader epoch of the last batch fetched, if any.
    pub(crate) last_epoch: Option<i32>,
    /// An OffsetsForLeaderEpoch request is checking the fetch position (KIP-320).
    pub(crate) validating: bool,
}

impl PartitionState {
    fn new(position: Option<i64>, paused: bool, generation: u64) -> Self {
        Self {
            position,
            fetch_position: position.unwrap_or(-1),
            pending: None,
            in_flight: None,
            buffered: VecDeque::new(),
            generation,
            watermarks: None,
            retry_at: None,
            paused,
            preferred_replica: None,
            fetched_under: -1,
            last_epoch: None,
            validating: false,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) partitions: BTreeMap<TopicPartition, PartitionState>,
    pub(crate) errors: VecDeque<Error>,
    pub(crate) closed: bool,
    /// The last generation handed out (see [`PartitionState::generation`]).
    pub(crate) last_generation: u64,
    /// Where the next `poll` starts draining (an index into `partitions`), so that a backlog
    /// on one partition does not starve the others.
    pub(crate) poll_start: usize,
}

impl State {
    /// A generation never used before by this consumer.
    pub(crate) fn next_generation(&mut self) -> u64 {
        self.last_generation += 1;
        self.last_generation
    }
}

pub(crate) struct Shared {
    pub(crate) cluster: Cluster,
    pub(crate) state: Mutex<State>,
    pub(crate) data_ready: Notify,
    pub(crate) wake_fetcher: Notify,
    /// Counters for [`Consumer::statistics`].
    pub(crate) stats: ConsumerCounters,
}

impl crate::stats::Snapshot for Shared {
    fn statistics(&self) -> Statistics {
        Shared::statistics(self)
    }
}

impl Shared {
    fn new(cluster: Cluster) -> Self {
        Self {
            cluster,
            state: Mutex::new(State::default()),
            data_ready: Notify::new(),
            wake_fetcher: Notify::new(),
            stats: ConsumerCounters::default(),
        }
    }

    fn lag(&self) -> BTreeMap<TopicPartition, PartitionLag> {
        let read_committed = self.cluster.config().consumer.isolation_level
            == crate::config::IsolationLevel::ReadCommitted;
        let state = self.lock();
        state
            .partitions
            .iter()
            .map(|(tp, p)| {
                let position = p.position.filter(|_| p.pending.is_none());
                let w = p.watermarks;
                let end = w.map(|w| {
                    if read_committed {
                        w.last_stable_offset
                    } else {
                        w.high_watermark
                    }
                });
                let lag = match (position, end) {
                    (Some(pos), Some(end)) if end >= 0 => Some((end - pos).max(0)),
                    _ => None,
                };
                (
                    tp.clone(),
                    PartitionLag {
                        position,
                        high_watermark: w.map(|w| w.high_watermark),
                        last_stable_offset: w.map(|w| w.last_stable_offset),
                        lag,
                    },
                )
            })
            .collect()
    }

    fn statistics(&self) -> Statistics {
        let partitions: Vec<PartitionStatistics> = self
            .lag()
            .into_iter()
            .map(|((topic, partition), l)| PartitionStatistics {
                topic,
                partition,
                position: l.position,
                high_watermark: l.high_watermark,
                records_lag: l.lag,
                ..PartitionStatistics::default()
            })
            .collect();
        Statistics {
            client_id: self.cluster.config().common.client_id.clone(),
            kind: ClientKind::Consumer,
            time_ms: crate::stats::now_ms(),
            brokers: self.cluster.broker_statistics(),
            totals: self.stats.totals(&partitions),
            partitions,
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What one `poll` returned.
#[derive(Debug, Default)]
pub struct Polled {
    parts: Vec<PartitionRecords>,
}

impl Polled {
    /// The records, grouped by partition.
    pub fn partitions(&self) -> &[PartitionRecords] {
        &self.parts
    }

    /// Whether nothing was returned.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Every record, partition by partition.
    pub fn iter(
        &self,
    ) -> impl Iterator<
        Item = std::result::Result<ConsumedRecord<'_>, laminar_kafka_protocol::record::RecordError>,
    > {
        self.parts.iter().flat_map(|p| p.iter())
    }
}

/// A consumer of assigned partitions.
pub struct Consumer {
    shared: Arc<Shared>,
    max_poll_records: usize,
    fetcher: JoinHandle<()>,
    reporter: Option<Reporter>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("cluster", &self.shared.cluster)
            .finish_non_exhaustive()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.fetcher.abort();
    }
}

impl Consumer {
    /// A consumer for `config`. It starts its fetcher at once (on the current tokio runtime);
    /// nothing is fetched until partitions are assigned.
    pub fn new(config: ClientConfig) -> Result<Self> {
        Self::with_cluster(Cluster::new(config)?)
    }

    /// A consumer on an existing cluster handle.
    pub fn with_cluster(cluster: Cluster) -> Result<Self> {
        let max_poll_records = cluster.config().consumer.max_poll_records;
        let shared = Arc::new(Shared::new(cluster));
        let fetcher = tokio::spawn(fetcher::run(shared.clone()));
        crate::stats::register(Arc::downgrade(&shared) as _);
        let reporter = Reporter::start(
            &shared.cluster.config().common,
            Arc::downgrade(&shared),
            Shared::statistics,
        );
        Ok(Self {
            shared,
            max_poll_records,
            fetcher,
            reporter,
        })
    }

    /// A consumer whose fetcher never runs: tests drive the fetcher's steps by hand.
    #[cfg(test)]
    pub(crate) fn idle(config: ClientConfig) -> Self {
        let cluster = Cluster::new(config).expect("a valid test configuration");
        Self {
            max_poll_records: cluster.config().consumer.max_poll_records,
            shared: Arc::new(Shared::new(cluster)),
            fetcher: tokio::spawn(async {}),
            reporter: None,
        }
    }

    /// Replaces the assignment. Partitions that stay keep their positions; new ones start from
    /// `auto.offset.reset` unless a `seek` follows.
    pub fn assign(&self, partitions: &[TopicPartition]) -> Result<()> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        state.partitions.retain(|tp, _| partitions.contains(tp));
        for tp in partitions {
            if !state.partitions.contains_key(tp) {
                let generation = state.next_generation();
                state
                    .partitions
                    .insert(tp.clone(), PartitionState::new(None, false, generation));
            }
        }
        drop(state);
        self.shared.wake_fetcher.notify_one();
        Ok(())
    }

    /// Adds partitions, keeping those already assigned: each starts at the given position, or
    /// from `auto.offset.reset` when it has none.
    pub(crate) fn add_partitions(
        &self,
        partitions: &[(TopicPartition, Option<i64>)],
        paused: bool,
    ) -> Result<()> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        for (tp, position) in partitions {
            if !state.partitions.contains_key(tp) {
                let generation = state.next_generation();
                let p = PartitionState::new(position.filter(|o| *o >= 0), paused, generation);
                state.partitions.insert(tp.clone(), p);
            }
        }
        drop(state);
        self.shared.wake_fetcher.notify_one();
        Ok(())
    }

    /// Removes partitions (their buffered records and positions go with them).
    pub(crate) fn remove_partitions(&self, partitions: &[TopicPartition]) {
        let mut state = self.shared.lock();
        for tp in partitions {
            state.partitions.remove(tp);
        }
    }

    /// Stops fetching these partitions and returning their records; positions stay where
    /// they are. Partitions not assigned are ignored.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        self.set_paused(partitions, true);
    }

    /// Undoes [`pause`](Self::pause).
    pub fn resume(&self, partitions: &[TopicPartition]) {
        self.set_paused(partitions, false);
        self.shared.wake_fetcher.notify_one();
    }

    fn set_paused(&self, partitions: &[TopicPartition], paused: bool) {
        let mut state = self.shared.lock();
        for tp in partitions {
            if let Some(p) = state.partitions.get_mut(tp) {
                p.paused = paused;
            }
        }
    }

    /// The paused partitions.
    pub fn paused(&self) -> Vec<TopicPartition> {
        let state = self.shared.lock();
        state
            .partitions
            .iter()
            .filter(|(_, p)| p.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Position, watermarks and lag of every assigned partition: a snapshot built from the
    /// last fetch responses, without a request.
    pub fn lag(&self) -> BTreeMap<TopicPartition, PartitionLag> {
        self.shared.lag()
    }

    /// A statistics snapshot: brokers, every assigned partition's position, high watermark
    /// and lag, and totals (records and bytes consumed, `records-lag-max`, rebalances). See
    /// [`crate::stats`].
    ///
    /// ```no_run
    /// # async fn example() -> laminar_kafka_client::Result<()> {
    /// use std::time::Duration;
    /// use laminar_kafka_client::config::ClientConfig;
    /// use laminar_kafka_client::consumer::Consumer;
    ///
    /// let consumer = Consumer::new(ClientConfig::new("127.0.0.1:9092")?)?;
    /// consumer.assign(&[("events".to_owned(), 0)])?;
    /// consumer.poll(Duration::from_secs(1)).await?;
    /// println!("lag {}", consumer.statistics().totals.records_lag_max);
    /// # Ok(()) }
    /// ```
    pub fn statistics(&self) -> Statistics {
        self.shared.statistics()
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared.lock().partitions.keys().cloned().collect()
    }

    /// Moves a partition's position. Records fetched before the seek are discarded.
    pub fn seek(&self, tp: &TopicPartition, to: SeekTo) -> Result<()> {
        let mut state = self.shared.lock();
        let generation = state.next_generation();
        let Some(p) = state.partitions.get_mut(tp) else {
            return Err(Error::InvalidProperty {
                name: "seek".to_owned(),
                reason: format!("partition {}-{} is not assigned", tp.0, tp.1),
            });
        };
        p.generation = generation;
        p.buffered.clear();
        p.fetched_under = -1;
        p.last_epoch = None;
        p.retry_at = None;
        match to {
            SeekTo::Offset(o) if o >= 0 => {
                p.position = Some(o);
                p.fetch_position = o;
                p.pending = None;
            }
            SeekTo::Offset(o) => {
                return Err(Error::InvalidProperty {
                    name: "seek".to_owned(),
                    reason: format!("offset {o} is negative"),
                });
            }
            SeekTo::Earliest => p.pending = Some(OffsetSpec::Earliest),
            SeekTo::Latest => p.pending = Some(OffsetSpec::Latest),
            SeekTo::Timestamp(t) => p.pending = Some(OffsetSpec::Timestamp(t)),
        }
        drop(state);
        self.shared.wake_fetcher.notify_one();
        Ok(())
    }

    /// The offset of the next record `poll` would return for a partition, once known.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.shared
            .lock()
            .partitions
            .get(tp)
            .and_then(|p| p.pending.is_none().then_some(p.position).flatten())
    }

    /// Every known position: what an engine checkpoints.
    pub fn positions(&self) -> HashMap<TopicPartition, i64> {
        self.shared
            .lock()
            .partitions
            .iter()
            .filter_map(|(tp, p)| {
                p.position
                    .filter(|_| p.pending.is_none())
                    .map(|o| (tp.clone(), o))
            })
            .collect()
    }

    /// The watermarks of a partition from its last fetch response (no extra request).
    pub fn watermarks(&self, tp: &TopicPartition) -> Option<PartitionWatermarks> {
        self.shared
            .lock()
            .partitions
            .get(tp)
            .and_then(|p| p.watermarks)
    }

    /// Waits up to `timeout` for records and returns what is there (possibly nothing). At most
    /// `max.poll.records` records are returned; the positions move past them.
    ///
    /// An error of a partition (unknown topic, authorization, `auto.offset.reset=none` with no
    /// position…) is returned once, then fetching of that partition is retried.
    pub async fn poll(&self, timeout: Duration) -> Result<Polled> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.data_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(result) = self.take(self.max_poll_records) {
                return result;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(Polled::default());
            }
        }
    }

    fn take(&self, max_records: usize) -> Option<Result<Polled>> {
        let mut guard = self.shared.lock();
        if let Some(e) = guard.errors.pop_front() {
            return Some(Err(e));
        }
        if guard.closed {
            return Some(Err(Error::Closed));
        }
        let state = &mut *guard;
        let mut budget = max_records;
        let mut parts = Vec::new();
        let mut room = false;
        // Start after the partition that was served last, wrapping around, so that a backlog
        // on one partition does not starve the others.
        let start = state.poll_start.min(state.partitions.len());
        let mut last_served = None;
        for (i, p) in state.partitions.values_mut().enumerate().skip(start) {
            if budget == 0 {
                break;
            }
            if drain(p, &mut budget, &mut parts, &mut room) {
                last_served = Some(i);
            }
        }
        for (i, p) in state.partitions.values_mut().enumerate().take(start) {
            if budget == 0 {
                break;
            }
            if drain(p, &mut budget, &mut parts, &mut room) {
                last_served = Some(i);
            }
        }
        let records: usize = parts.iter().map(PartitionRecords::len_hint).sum();
        self.shared
            .stats
            .records_consumed
            .fetch_add(records as u64, std::sync::atomic::Ordering::Relaxed);
        if let Some(i) = last_served {
            state.poll_start = i + 1;
        }
        drop(guard);
        if room {
            // Room in a buffer: the fetcher may send the next fetch. Only then: a wake-up per
            // poll would cost a thread switch and a pass over the partitions each time.
            self.shared.wake_fetcher.notify_one();
        }
        (!parts.is_empty()).then_some(Ok(Polled { parts }))
    }

    /// Stops fetching; later calls return [`Error::Closed`].
    pub async fn close(&self) {
        self.shared.lock().closed = true;
        if let Some(r) = &self.reporter {
            r.stop();
        }
        self.shared.wake_fetcher.notify_one();
        self.fetcher.abort();
        self.shared.cluster.close().await;
    }

    pub(crate) fn reset_policy(config: &ClientConfig) -> Option<OffsetSpec> {
        match config.consumer.auto_offset_reset {
            OffsetReset::Earliest => Some(OffsetSpec::Earliest),
            OffsetReset::Latest => Some(OffsetSpec::Latest),
            OffsetReset::None => None,
        }
    }
}

/// Moves up to `budget` records of `p`'s buffer into `parts`; says whether it moved any. Sets
/// `room` if the buffer went below what the fetcher fills up to ([`BUFFERED_PIECES`]).
fn drain(
    p: &mut PartitionState,
    budget: &mut usize,
    parts: &mut Vec<PartitionRecords>,
    room: &mut bool,
) -> bool {
    if p.paused {
        return false;
    }
    let mut moved = false;
    while *budget > 0 {
        let Some(front) = p.buffered.front_mut() else {
            break;
        };
        let n = front.len_hint();
        let piece = if n <= *budget {
            match p.buffered.pop_front() {
                Some(piece) => {
                    *room |= p.buffered.len() < BUFFERED_PIECES;
                    piece
                }
                None => break,
            }
        } else {
            split_front(front, front.from + *budget as i64)
        };
        *budget = budget.saturating_sub(piece.len_hint().max(1));
        p.position = Some(piece.next_offset());
        parts.push(piece);
        moved = true;
    }
    moved
}

/// Splits `front` at offset `at` (within its range): returns the records before `at`, and
/// leaves `front` with the rest. Batches wholly before `at` move to the returned part; a batch
/// across `at` goes to both, and the part left in `front` starts at its record `at` when the
/// batch holds one record per offset (no compaction gaps), so that the next poll does not read
/// the records before `at` again only to skip them.
fn split_front(front: &mut PartitionRecords, at: i64) -> PartitionRecords {
    let whole = front
        .batches
        .iter()
        .take_while(|b| b.next_offset <= at)
        .count();
    let mut batches: Vec<records::FetchedBatch> = front.batches.drain(..whole).collect();
    if let Some(b) = front.batches.first_mut().filter(|b| b.base_offset < at) {
        batches.push(b.clone());
        let contiguous = i64::try_from(b.records.len()).ok() == Some(b.next_offset - b.base_offset);
        let rest = usize::try_from(at - b.base_offset)
            .ok()
            .filter(|_| contiguous)
            .and_then(|n| b.records.skip(n))
            // The record found there must be the one at `at`: a batch whose offset deltas do
            // not count up one by one (malformed, though its count matches) keeps all its
            // records, and the iteration skips by offset as for a compacted batch.
            .filter(|rest| rest.iter().next().and_then(|r| r.ok()).map(|r| r.offset()) == Some(at));
        if let Some(rest) = rest {
            b.records = rest;
            b.base_offset = at;
        }
    }
    let head = PartitionRecords {
        topic: front.topic.clone(),
        partition: front.partition,
        batches,
        from: front.from,
        until: at,
    };
    front.from = at;
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlog(tp: &TopicPartition, from: i64, until: i64) -> PartitionRecords {
        PartitionRecords {
            topic: tp.0.as_str().into(),
            partition: tp.1,
            batches: Vec::new(),
            from,
            until,
        }
    }

    #[tokio::test]
    async fn poll_takes_turns_between_partitions_with_backlogs() {
        let consumer = Consumer::idle(ClientConfig::new("127.0.0.1:1").expect("config"));
        let (p0, p1, p2) = (
            ("t".to_owned(), 0),
            ("t".to_owned(), 1),
            ("t".to_owned(), 2),
        );
        consumer
            .add_partitions(
                &[
                    (p0.clone(), Some(0)),
                    (p1.clone(), Some(0)),
                    (p2.clone(), Some(0)),
                ],
                false,
            )
            .unwrap();
        {
            let mut state = consumer.shared.lock();
            for tp in [&p0, &p1] {
                let p = state.partitions.get_mut(tp).unwrap();
                p.buffered.push_back(backlog(tp, 0, 1_000));
            }
            let p = state.partitions.get_mut(&p2).unwrap();
            p.buffered.push_back(backlog(&p2, 0, 30));
        }
        let mut served = Vec::new();
        for _ in 0..4 {
            let polled = consumer.take(100).expect("records").expect("no error");
            served.push(
                polled
                    .partitions()
                    .iter()
                    .map(|r| (r.partition(), r.len_hint()))
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(
            served,
            vec![
                vec![(0, 100)],
                vec![(1, 100)],
                vec![(2, 30), (0, 70)],
                vec![(1, 100)],
            ]
        );
        assert_eq!(consumer.position(&p0), Some(170));
        assert_eq!(consumer.position(&p1), Some(200));
        assert_eq!(consumer.position(&p2), Some(30));
    }

    /// A partition's buffer of real batches: offsets `base..base + count` each, one record per
    /// offset, every value naming its offset.
    fn batches_of(tp: &TopicPartition, bases: &[i64], count: i64) -> PartitionRecords {
        use laminar_kafka_protocol::record::{BatchBuilder, Compression, DecodeOptions, batches};
        let batches = bases
            .iter()
            .map(|&base| {
                let mut b = BatchBuilder::new(Compression::None);
                b.set_base_offset(base);
                for o in base..base + count {
                    b.append(0, None, Some(o.to_string().as_bytes()), &[])
                        .expect("append");
                }
                let batch = batches(b.finish().expect("batch"), DecodeOptions::default())
                    .next()
                    .expect("a batch")
                    .expect("valid");
                records::FetchedBatch {
                    base_offset: batch.base_offset(),
                    next_offset: batch.next_offset(),
                    records: batch.records().expect("records"),
                }
            })
            .collect();
        PartitionRecords {
            topic: tp.0.as_str().into(),
            partition: tp.1,
            batches,
            from: bases[0],
            until: bases[bases.len() - 1] + count,
        }
    }

    #[tokio::test]
    async fn polls_split_batches_and_return_every_record_once_in_order() {
        let consumer = Consumer::idle(ClientConfig::new("127.0.0.1:1").expect("config"));
        let tp = ("t".to_owned(), 0);
        consumer
            .add_partitions(&[(tp.clone(), Some(3))], false)
            .unwrap();
        {
            let mut state = consumer.shared.lock();
            let p = state.partitions.get_mut(&tp).unwrap();
            // Three batches of 10 records; the fetch position was 3, inside the first.
            let mut piece = batches_of(&tp, &[0, 10, 20], 10);
            piece.from = 3;
            p.buffered.push_back(piece);
        }
        let mut seen = Vec::new();
        while let Some(polled) = consumer.take(4) {
            let polled = polled.expect("no error");
            let mut n = 0;
            for r in polled.iter() {
                let r = r.expect("valid");
                let value = std::str::from_utf8(r.value().expect("a value")).expect("utf-8");
                assert_eq!(value, r.offset().to_string());
                seen.push(r.offset());
                n += 1;
            }
            assert!(n <= 4, "at most max.poll.records");
            // The buffer keeps only what is still to come, from its first record on.
            let state = consumer.shared.lock();
            if let Some(front) = state.partitions[&tp].buffered.front() {
                let first = &front.batches[0];
                assert!(first.base_offset <= front.from && front.from < first.next_offset);
                let offset = first
                    .records
                    .iter()
                    .next()
                    .expect("a record")
                    .expect("valid");
                assert_eq!(offset.offset(), first.base_offset.max(3));
            }
        }
        assert_eq!(seen, (3..30).collect::<Vec<_>>());
        assert_eq!(consumer.position(&tp), Some(30));
    }
}
