//! Per-partition batching: records are appended to an open batch until it is full
//! (`batch.size`) or old enough (`linger.ms`), then closed and queued for the sender.
//!
//! The accumulator owns the batches and their completion handles; it does no I/O. Order within a
//! partition is the order of `append` calls. Up to `max_in_flight` batches of a partition are
//! out at once (one without idempotence); a batch that is sent again after a retriable error
//! goes back to its place in its queue, and goes out again only once no batch before it is in
//! flight, so order survives retries.
//!
//! Hot path: `append` looks the partition up by `&str` (no allocation once the partition has a
//! queue), encodes the record into the open batch, and hands back a future that shares the
//! batch's result (no allocation per record).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use laminar_kafka_protocol::record::{
    BatchBuilder, Compression, DecodeOptions, HeaderRef, RecordBatch,
};

use super::delivery::{Completer, DeliveryFuture, ErrorFactory};
use super::fast_hash::FastMap;
use super::partitioner::StickyPartitioner;
use crate::error::{Error, Result};
use crate::metadata::TopicInfo;

/// A topic and partition, with the topic shared between its batches.
pub(crate) type Tp = (Arc<str>, i32);

/// A closed batch, encoded and ready to send (and re-send).
pub(crate) struct ProducerBatch {
    pub(crate) tp: Tp,
    pub(crate) data: Bytes,
    pub(crate) completer: Completer,
    pub(crate) created: Instant,
    pub(crate) attempts: u32,
    /// Not to be sent again before this instant (retry backoff).
    pub(crate) retry_at: Option<Instant>,
    /// The last error that made it retry, for the delivery-timeout message.
    pub(crate) last_error: Option<String>,
    /// Producer id, epoch and sequence the batch was stamped with (idempotence).
    pub(crate) stamp: Option<super::idempotence::Stamp>,
    /// Bytes of `buffer.memory` this batch holds until it completes.
    pub(crate) memory: usize,
    /// An attempt ended without knowing whether the broker wrote the batch (timeout, cut
    /// connection, REQUEST_TIMED_OUT): its sequences cannot be given back.
    pub(crate) maybe_written: bool,
    /// The batch's place in its partition (the halves of a split batch share it): a batch that
    /// comes back for a retry goes back to this place.
    pub(crate) order: u64,
}

impl ProducerBatch {
    /// Completes every record of the batch. `base_offset` -1 means "no offset known"
    /// (acks=0, or a duplicate of a batch written before).
    pub(crate) fn succeed(self, base_offset: i64, log_append_time: Option<i64>) {
        self.completer.succeed(base_offset, log_append_time);
    }

    /// Fails every record of the batch with copies of `error`.
    pub(crate) fn fail_with(self, error: Error) {
        let make: ErrorFactory = Arc::new(move || error.duplicate());
        self.completer.fail(make);
    }

    /// The number of records in the batch.
    pub(crate) fn record_count(&self) -> i32 {
        super::idempotence::record_count(&self.data)
    }

    /// Splits the batch in two of half the records each, as the Java client does after
    /// MESSAGE_TOO_LARGE: same codec, same producer id, epoch and sequence range (the first
    /// half starts at the batch's base sequence, the second where the first ends), same
    /// creation time (the delivery timeout still counts from it). The records' futures move
    /// to the half that holds them. A batch of one record (or one that does not decode) comes
    /// back unchanged, without a second half.
    pub(crate) fn split(self) -> (ProducerBatch, Option<ProducerBatch>) {
        match self.split_data() {
            Some((head_data, tail_data, at)) => {
                let total = self.record_count().max(1) as usize;
                let head_memory = self.memory * at as usize / total;
                let stamps = self.stamp.map(|st| {
                    (
                        super::idempotence::Stamp {
                            record_count: at as i32,
                            ..st
                        },
                        super::idempotence::Stamp {
                            base_sequence: super::idempotence::wrapping_add(
                                st.base_sequence,
                                at as i32,
                            ),
                            record_count: st.record_count - at as i32,
                            ..st
                        },
                    )
                });
                let half = |data: Bytes, memory: usize, stamp| ProducerBatch {
                    tp: self.tp.clone(),
                    data,
                    completer: Completer::new(self.tp.0.clone(), self.tp.1),
                    created: self.created,
                    attempts: self.attempts,
                    retry_at: None,
                    last_error: self.last_error.clone(),
                    stamp,
                    memory,
                    maybe_written: false,
                    order: self.order,
                };
                let head = half(head_data, head_memory, stamps.map(|s| s.0));
                let tail = half(tail_data, self.memory - head_memory, stamps.map(|s| s.1));
                self.completer.split(at, &head.completer, &tail.completer);
                (head, Some(tail))
            }
            None => (self, None),
        }
    }

    /// The two halves' encoded batches and the index of the first record of the second.
    fn split_data(&self) -> Option<(Bytes, Bytes, u32)> {
        let decoded = RecordBatch::decode(self.data.clone(), &DecodeOptions::default()).ok()?;
        let count = decoded.record_count();
        if count < 2 {
            return None;
        }
        let at = count / 2;
        let compression = decoded.compression();
        let mut halves = [
            BatchBuilder::new(compression),
            BatchBuilder::new(compression),
        ];
        if let Some(st) = self.stamp {
            let tail_base = super::idempotence::wrapping_add(st.base_sequence, at as i32);
            halves[0].set_producer(st.identity.id, st.identity.epoch, st.base_sequence);
            halves[1].set_producer(st.identity.id, st.identity.epoch, tail_base);
        }
        for h in &mut halves {
            h.set_transactional(decoded.is_transactional());
        }
        let records = decoded.records().ok()?;
        let mut headers: Vec<HeaderRef<'_>> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let r = r.ok()?;
            headers.clear();
            for h in r.headers() {
                headers.push((h.key_str().ok()?, h.value()));
            }
            let builder = &mut halves[usize::from(i as u32 >= at)];
            builder
                .append(r.timestamp(), r.key(), r.value(), &headers)
                .ok()?;
        }
        let [mut head, mut tail] = halves;
        Some((head.finish().ok()?, tail.finish().ok()?, at))
    }
}

struct OpenBatch {
    builder: BatchBuilder,
    completer: Completer,
    records: u32,
    created: Instant,
    memory: usize,
}

#[derive(Default)]
struct PartitionQueue {
    open: Option<OpenBatch>,
    closed: VecDeque<ProducerBatch>,
    /// The `order` of each batch of this partition being sent.
    in_flight: Vec<u64>,
    /// The `order` of the next batch to close.
    next_order: u64,
}

impl PartitionQueue {
    fn end_flight(&mut self, order: u64) {
        if let Some(i) = self.in_flight.iter().position(|o| *o == order) {
            self.in_flight.swap_remove(i);
        }
    }
}

/// Every topic's partition queues, by name. The topic of the last lookup is kept out of the
/// map, so that a run of records to one topic finds its queues by one comparison of names
/// rather than a hash lookup each.
#[derive(Default)]
struct Topics {
    map: FastMap<Arc<str>, Vec<PartitionQueue>>,
    last: Option<(Arc<str>, Vec<PartitionQueue>)>,
}

impl Topics {
    /// The queues of `topic`, now the last topic looked up; `None` if it has none.
    #[inline]
    fn get_mut(&mut self, topic: &str) -> Option<(&Arc<str>, &mut Vec<PartitionQueue>)> {
        if self.last.as_ref().is_none_or(|(name, _)| **name != *topic) {
            let found = self.map.remove_entry(topic)?;
            if let Some((name, queues)) = self.last.replace(found) {
                self.map.insert(name, queues);
            }
        }
        self.last.as_mut().map(|(name, queues)| (&*name, queues))
    }

    /// The queues of `topic`, created (empty) if it has none.
    fn get_or_insert(&mut self, topic: &str) -> (&Arc<str>, &mut Vec<PartitionQueue>) {
        if self.get_mut(topic).is_none() {
            if let Some((name, queues)) = self.last.replace((Arc::from(topic), Vec::new())) {
                self.map.insert(name, queues);
            }
        }
        let (name, queues) = self
            .last
            .get_or_insert_with(|| (Arc::from(topic), Vec::new()));
        (&*name, queues)
    }

    fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Vec<PartitionQueue>)> {
        self.map
            .iter()
            .chain(self.last.iter().map(|(name, queues)| (name, queues)))
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (&Arc<str>, &mut Vec<PartitionQueue>)> {
        self.map
            .iter_mut()
            .chain(self.last.iter_mut().map(|(name, queues)| (&*name, queues)))
    }
}

/// What the sender needs to know after an `append`.
pub(crate) struct Appended {
    /// The record's future.
    pub(crate) delivery: DeliveryFuture,
    /// A batch was opened (its linger starts) or closed (ready now): wake the sender.
    pub(crate) wake_sender: bool,
}

/// Every partition's batches.
pub(crate) struct Accumulator {
    topics: Topics,
    compression: Compression,
    batch_size: usize,
    /// `buffer.memory` bytes of batches that failed to close, for the producer to give back.
    released: usize,
    /// How many batches of one partition may be in flight at once.
    max_in_flight: usize,
    /// Builders of batches that closed, for the next batches: a builder keeps its record
    /// buffer, its compressed buffer and its compressor's tables, so a new batch neither
    /// grows a buffer from empty (page faults on every batch) nor sets up a compressor.
    spare: Vec<BatchBuilder>,
    /// The partitioner of unkeyed records, under the same lock as the batches (one lock per
    /// `send`).
    sticky: StickyPartitioner,
    /// Bytes of `buffer.memory` taken from the semaphore and not yet used by a record.
    credit: usize,
}

/// Builders kept for reuse: enough for the batches that close between two sender rounds,
/// few enough that a producer with many partitions keeps little memory beyond its open batches.
const SPARE_BUILDERS: usize = 4;

impl Accumulator {
    pub(crate) fn new(compression: Compression, batch_size: usize) -> Self {
        Self {
            topics: Topics::default(),
            compression,
            batch_size,
            released: 0,
            max_in_flight: 1,
            spare: Vec::new(),
            sticky: StickyPartitioner::new(batch_size),
            credit: 0,
        }
    }

    /// Lets up to `n` batches of one partition be in flight at once (1 keeps order without
    /// idempotence; with it, up to 5: the broker orders them by sequence).
    pub(crate) fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.clamp(1, 5);
        self
    }

    /// Takes `size` bytes of `buffer.memory` from the credit (bytes taken from the semaphore
    /// ahead of the records that use them), if it holds that many.
    #[inline]
    pub(crate) fn take_credit(&mut self, size: usize) -> bool {
        match self.credit.checked_sub(size) {
            Some(left) => {
                self.credit = left;
                true
            }
            None => false,
        }
    }

    /// Adds bytes taken from the semaphore to the credit.
    pub(crate) fn add_credit(&mut self, n: usize) {
        self.credit += n;
    }

    /// Empties the credit, for the caller to give back to the semaphore.
    pub(crate) fn take_all_credit(&mut self) -> usize {
        std::mem::take(&mut self.credit)
    }

    /// The partition for the next unkeyed record of `size` bytes of `topic` (the uniform
    /// sticky partitioner).
    #[inline]
    pub(crate) fn sticky_partition(&mut self, size: usize, topic: &TopicInfo) -> i32 {
        self.sticky.partition(size, topic)
    }

    /// Takes the `buffer.memory` bytes of batches that failed while closing (their records
    /// failed with them): the caller returns them to the semaphore.
    pub(crate) fn take_released(&mut self) -> usize {
        std::mem::take(&mut self.released)
    }

    fn queue(&mut self, topic: &str, partition: i32) -> (Arc<str>, &mut PartitionQueue) {
        let idx = usize::try_from(partition).unwrap_or(0);
        let (name, queues) = self.topics.get_or_insert(topic);
        let name = name.clone();
        if queues.len() <= idx {
            queues.resize_with(idx + 1, PartitionQueue::default);
        }
        (name, &mut queues[idx])
    }

    /// The queue of a partition for the hot path: a comparison of names when the topic is the
    /// last one's, else one hash lookup; nothing is created.
    #[inline]
    fn queue_fast(&mut self, topic: &str, partition: i32) -> Option<&mut PartitionQueue> {
        let idx = usize::try_from(partition).ok()?;
        self.topics.get_mut(topic)?.1.get_mut(idx)
    }

    /// Appends one record to its partition's open batch, closing the batch first if the record
    /// would make it exceed `batch.size` (a record larger than `batch.size` gets a batch of its
    /// own).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &mut self,
        topic: &str,
        partition: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
        memory: usize,
    ) -> Result<Appended> {
        let compression = self.compression;
        let batch_size = self.batch_size;
        // Fast path: an open batch with room (one hash lookup, no clock, no allocation).
        if let Some(open) = self
            .queue_fast(topic, partition)
            .and_then(|q| q.open.as_mut())
            .filter(|o| o.builder.uncompressed_size() + memory <= batch_size)
        {
            open.builder
                .append(timestamp, key, value, headers)
                .map_err(|e| Error::Protocol {
                    broker: format!("partition {topic}-{partition}"),
                    source: e.into(),
                })?;
            let delivery = DeliveryFuture {
                result: open.completer.result(),
                index: open.records,
                timestamp,
            };
            open.records += 1;
            open.memory += memory;
            return Ok(Appended {
                delivery,
                wake_sender: false,
            });
        }
        self.queue(topic, partition);
        let Self {
            topics,
            spare,
            released: total_released,
            ..
        } = self;
        let Some((name, queues)) = topics.get_mut(topic) else {
            return Err(Error::Closed); // created just above
        };
        let tp: Tp = (name.clone(), partition);
        let Some(q) = queues.get_mut(usize::try_from(partition).unwrap_or(0)) else {
            return Err(Error::Closed); // created just above
        };
        let mut wake_sender = false;
        let mut released = 0;
        if let Some(open) = &q.open {
            let size = open.builder.uncompressed_size();
            if size > 0 && size + memory > batch_size {
                released += Self::close_open(&tp, q, spare);
                wake_sender = true;
            }
        }
        if q.open.is_none() {
            let builder = match spare.pop() {
                Some(mut b) => {
                    b.set_compression(compression);
                    b
                }
                None => BatchBuilder::new(compression),
            };
            q.open = Some(OpenBatch {
                builder,
                completer: Completer::new(tp.0.clone(), partition),
                records: 0,
                created: Instant::now(),
                memory: 0,
            });
            wake_sender = true;
        }
        let Some(open) = q.open.as_mut() else {
            *total_released += released;
            return Err(Error::Closed);
        };
        if let Err(e) = open.builder.append(timestamp, key, value, headers) {
            *total_released += released;
            return Err(Error::Protocol {
                broker: format!("partition {}-{}", tp.0, tp.1),
                source: e.into(),
            });
        }
        let delivery = DeliveryFuture {
            result: open.completer.result(),
            index: open.records,
            timestamp,
        };
        open.records += 1;
        open.memory += memory;
        if open.builder.uncompressed_size() >= batch_size {
            released += Self::close_open(&tp, q, spare);
            wake_sender = true;
        }
        *total_released += released;
        Ok(Appended {
            delivery,
            wake_sender,
        })
    }

    /// Closes the partition's open batch. Returns the `buffer.memory` bytes to give back when
    /// the batch could not be finished (its records fail).
    /// A builder that finished goes to `spare`, for the next batch.
    #[must_use]
    fn close_open(tp: &Tp, q: &mut PartitionQueue, spare: &mut Vec<BatchBuilder>) -> usize {
        let Some(mut open) = q.open.take() else {
            return 0;
        };
        match open.builder.finish() {
            Ok(data) => {
                if spare.len() < SPARE_BUILDERS {
                    spare.push(open.builder);
                }
                let order = q.next_order;
                q.next_order += 1;
                q.closed.push_back(ProducerBatch {
                    tp: tp.clone(),
                    data,
                    completer: open.completer,
                    created: open.created,
                    attempts: 0,
                    retry_at: None,
                    last_error: None,
                    stamp: None,
                    memory: open.memory,
                    maybe_written: false,
                    order,
                });
            }
            Err(e) => {
                let msg = e.to_string();
                open.completer
                    .fail(Arc::new(move || Error::InvalidProperty {
                        name: "record".to_owned(),
                        reason: msg.clone(),
                    }));
                return open.memory;
            }
        }
        0
    }

    fn each_queue(topics: &mut Topics) -> impl Iterator<Item = (Tp, &mut PartitionQueue)> {
        topics.iter_mut().flat_map(|(name, queues)| {
            queues
                .iter_mut()
                .enumerate()
                .map(move |(p, q)| ((name.clone(), p as i32), q))
        })
    }

    /// Takes, for each partition with fewer than its maximum of batches in flight, its next
    /// batch if one is ready: closed already, or open and older than `linger` (or `force`:
    /// flush and close). A batch coming back for a retry goes only once no batch before it is
    /// in flight, so that retries keep the partition's order. Returns the batches and the earliest instant at which
    /// an open batch (or a batch waiting out its retry backoff) will become ready.
    pub(crate) fn drain_ready(
        &mut self,
        now: Instant,
        linger: std::time::Duration,
        force: bool,
    ) -> (Vec<ProducerBatch>, Option<Instant>) {
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        let mut released = 0;
        let max_in_flight = self.max_in_flight;
        for (tp, q) in Self::each_queue(&mut self.topics) {
            if q.in_flight.len() >= max_in_flight {
                continue;
            }
            if q.closed.is_empty() {
                if let Some(open) = &q.open {
                    let due = open.created + linger;
                    if force || due <= now {
                        released += Self::close_open(&tp, q, &mut self.spare);
                    } else {
                        next = Some(next.map_or(due, |n| n.min(due)));
                    }
                }
            }
            if let Some(at) = q
                .closed
                .front()
                .and_then(|b| b.retry_at)
                .filter(|at| *at > now)
            {
                next = Some(next.map_or(at, |n| n.min(at)));
                continue;
            }
            if q.closed
                .front()
                .is_some_and(|b| b.stamp.is_some() && q.in_flight.iter().any(|o| *o <= b.order))
            {
                continue; // a retry waits for the batches before it
            }
            if let Some(batch) = q.closed.pop_front() {
                q.in_flight.push(batch.order);
                ready.push(batch);
            }
        }
        self.released += released;
        (ready, next)
    }

    /// A batch came back for another try: it goes back to its place in its queue, before
    /// every batch that came after it (and before a batch of its own place: the second half of
    /// a split goes back first, then the first).
    pub(crate) fn requeue(&mut self, batch: ProducerBatch) {
        let (_, q) = self.queue(&batch.tp.0, batch.tp.1);
        q.end_flight(batch.order);
        let at = q
            .closed
            .iter()
            .position(|b| b.order >= batch.order)
            .unwrap_or(q.closed.len());
        q.closed.insert(at, batch);
    }

    /// A batch of the partition completed (either way).
    pub(crate) fn done(&mut self, tp: &Tp, order: u64) {
        let (_, q) = self.queue(&tp.0, tp.1);
        q.end_flight(order);
    }

    /// Whether a batch of the partition sent before the one of `order` is still unresolved
    /// (in flight or queued for a retry with its sequences): an OUT_OF_ORDER_SEQUENCE_NUMBER
    /// for this one then only says that the earlier one is not written yet.
    pub(crate) fn has_earlier(&mut self, tp: &Tp, order: u64) -> bool {
        let (_, q) = self.queue(&tp.0, tp.1);
        let in_flight_before = q.in_flight.iter().filter(|o| **o < order).count();
        in_flight_before > 0
            || q.closed
                .iter()
                .any(|b| b.stamp.is_some() && b.order < order)
    }

    /// The topics this producer writes to.
    pub(crate) fn topic_names(&self) -> Vec<Arc<str>> {
        self.topics.iter().map(|(name, _)| name.clone()).collect()
    }

    /// Records and bytes waiting to be sent (open and closed batches), per partition: for
    /// statistics snapshots, never on the hot path.
    pub(crate) fn queued(&self) -> Vec<(Tp, u64, u64)> {
        let mut out = Vec::new();
        for (name, queues) in self.topics.iter() {
            for (p, q) in queues.iter().enumerate() {
                let (mut records, mut bytes) = (0u64, 0u64);
                if let Some(open) = &q.open {
                    records += u64::from(open.records);
                    bytes += open.builder.uncompressed_size() as u64;
                }
                for b in &q.closed {
                    records += b.record_count().max(0) as u64;
                    bytes += b.data.len() as u64;
                }
                if records > 0 || bytes > 0 {
                    out.push(((name.clone(), p as i32), records, bytes));
                }
            }
        }
        out
    }

    /// Whether any record is waiting or in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.topics
            .iter()
            .flat_map(|(_, queues)| queues)
            .all(|q| q.open.is_none() && q.closed.is_empty() && q.in_flight.is_empty())
    }

    /// Takes every batch, open or closed, not in flight and created more than `timeout` ago:
    /// their delivery timeout has passed.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        timeout: std::time::Duration,
    ) -> Vec<ProducerBatch> {
        let mut expired = Vec::new();
        let mut released = 0;
        for (tp, q) in Self::each_queue(&mut self.topics) {
            if q.open.as_ref().is_some_and(|o| o.created + timeout <= now) {
                released += Self::close_open(&tp, q, &mut self.spare);
            }
            while q.closed.front().is_some_and(|b| b.created + timeout <= now) {
                if let Some(b) = q.closed.pop_front() {
                    expired.push(b);
                }
            }
        }
        self.released += released;
        expired
    }

    /// Takes every batch not in flight, open or closed (a transaction abort fails them).
    pub(crate) fn take_unsent(&mut self) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        let mut released = 0;
        for (tp, q) in Self::each_queue(&mut self.topics) {
            released += Self::close_open(&tp, q, &mut self.spare);
            out.extend(q.closed.drain(..));
        }
        self.released += released;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn values(batch: &ProducerBatch) -> Vec<u8> {
        let decoded = RecordBatch::decode(batch.data.clone(), &DecodeOptions::default()).unwrap();
        decoded
            .records()
            .unwrap()
            .iter()
            .map(|r| r.unwrap().value().unwrap()[0])
            .collect()
    }

    #[test]
    fn credit_is_drawn_only_when_it_covers_the_record_and_empties_at_once() {
        let mut acc = Accumulator::new(Compression::None, 1 << 20);
        assert!(!acc.take_credit(1), "no credit at first");
        assert!(acc.take_credit(0));
        acc.add_credit(300);
        assert!(acc.take_credit(120));
        assert!(acc.take_credit(120));
        assert!(
            !acc.take_credit(120),
            "60 left: not enough, and nothing taken"
        );
        assert_eq!(acc.take_all_credit(), 60);
        assert_eq!(acc.take_all_credit(), 0);
    }

    #[test]
    fn interleaved_topics_and_reused_builders_keep_every_batch_whole() {
        // Three topics in turn (the last-topic slot moves on every append), LZ4 batches that
        // close at batch.size: each closed batch's builder serves a later batch.
        let mut acc = Accumulator::new(Compression::Lz4, 300);
        let topics = ["a", "b", "c"];
        for i in 0..60u8 {
            for t in topics {
                acc.append(t, i32::from(i % 2), 1, None, Some(&[i; 30]), &[], 60)
                    .unwrap();
            }
        }
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        let mut per_tp: std::collections::BTreeMap<(String, i32), Vec<u8>> = Default::default();
        let mut drained = ready;
        loop {
            for b in &drained {
                per_tp
                    .entry((b.tp.0.to_string(), b.tp.1))
                    .or_default()
                    .extend(values(b));
                acc.done(&b.tp, b.order);
            }
            let (more, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
            if more.is_empty() {
                break;
            }
            drained = more;
        }
        assert!(!acc.spare.is_empty(), "closed batches leave their builders");
        assert!(acc.spare.len() <= SPARE_BUILDERS);
        assert_eq!(per_tp.len(), 6);
        for ((t, p), got) in per_tp {
            let want: Vec<u8> = (0..60u8).filter(|i| i32::from(i % 2) == p).collect();
            assert_eq!(got, want, "{t}-{p}");
        }
        let mut names: Vec<String> = acc.topic_names().iter().map(|n| n.to_string()).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(acc.is_empty());
    }

    #[test]
    fn batches_close_at_batch_size_and_keep_order() {
        let batch_size = 200;
        let mut acc = Accumulator::new(Compression::None, batch_size);
        for i in 0..10u8 {
            acc.append("t", 0, 1000 + i64::from(i), None, Some(&[i; 50]), &[], 60)
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut batches = 0;
        loop {
            let (ready, _) = acc.drain_ready(Instant::now(), Duration::from_secs(60), true);
            assert!(ready.len() <= 1, "one batch per partition at a time");
            let Some(batch) = ready.into_iter().next() else {
                break;
            };
            assert!(batch.data.len() <= batch_size, "{} bytes", batch.data.len());
            // Nothing more of this partition while its batch is in flight.
            assert!(
                acc.drain_ready(Instant::now(), Duration::ZERO, true)
                    .0
                    .is_empty()
            );
            seen.extend(values(&batch));
            batches += 1;
            acc.done(&batch.tp, batch.order);
            batch.succeed(0, None);
        }
        assert_eq!(
            seen,
            (0..10).collect::<Vec<u8>>(),
            "every record once, in order"
        );
        assert!(
            batches >= 3,
            "200-byte batches cannot hold ten 50-byte records in {batches}"
        );
        assert!(acc.is_empty());
    }

    #[test]
    fn linger_holds_an_open_batch_until_due_and_requeue_goes_first() {
        let mut acc = Accumulator::new(Compression::None, 1 << 20);
        let first = acc.append("t", 0, 1, None, Some(b"a"), &[], 10).unwrap();
        assert!(first.wake_sender, "a new batch starts its linger");
        let now = Instant::now();
        let (ready, next) = acc.drain_ready(now, Duration::from_millis(500), false);
        assert!(ready.is_empty());
        assert!(next.is_some());
        let (ready, _) = acc.drain_ready(
            now + Duration::from_secs(1),
            Duration::from_millis(500),
            false,
        );
        assert_eq!(ready.len(), 1);
        let batch = ready.into_iter().next().unwrap();
        let second = acc.append("t", 0, 2, None, Some(b"b"), &[], 10).unwrap();
        assert!(second.wake_sender);
        let again = acc.append("t", 0, 3, None, Some(b"c"), &[], 10).unwrap();
        assert!(
            !again.wake_sender,
            "appending to an open batch needs no wake-up"
        );
        acc.requeue(batch);
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        assert_eq!(
            values(&ready[0]),
            vec![b'a'],
            "the retried batch goes first"
        );
    }

    #[tokio::test]
    async fn completions_carry_offsets_in_order() {
        let mut acc = Accumulator::new(Compression::None, 1 << 20);
        let mut futures = Vec::new();
        for i in 0..3 {
            futures.push(
                acc.append("t", 0, 100 + i, None, Some(b"x"), &[], 1)
                    .unwrap()
                    .delivery,
            );
        }
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        ready.into_iter().next().unwrap().succeed(40, None);
        for (i, f) in futures.into_iter().enumerate() {
            let md = f.await.unwrap();
            assert_eq!(md.offset, 40 + i as i64);
            assert_eq!(md.timestamp, 100 + i as i64);
        }
    }

    #[tokio::test]
    async fn a_dropped_accumulator_fails_its_records_as_closed() {
        let mut acc = Accumulator::new(Compression::None, 1 << 20);
        let f = acc
            .append("t", 3, 1, None, Some(b"x"), &[], 1)
            .unwrap()
            .delivery;
        drop(acc);
        assert!(matches!(f.await, Err(Error::Closed)));
    }

    #[test]
    fn a_batch_that_fails_to_close_gives_its_memory_back() {
        let mut acc = Accumulator::new(Compression::None, 1 << 20);
        acc.append("t", 0, 1, None, Some(b"x"), &[], 40).unwrap();
        // A builder that cannot finish (here: empty) while its records hold 40 bytes.
        let (_, q) = acc.queue("t", 0);
        if let Some(open) = q.open.as_mut() {
            open.builder = BatchBuilder::new(Compression::None);
        }
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        assert!(ready.is_empty());
        assert_eq!(acc.take_released(), 40, "the failed batch's buffer.memory");
        assert_eq!(acc.take_released(), 0);
        assert!(acc.is_empty());
    }

    #[tokio::test]
    async fn a_split_batch_keeps_order_sequences_and_memory() {
        let mut acc = Accumulator::new(Compression::Lz4, 1 << 20);
        let futures: Vec<_> = (0..5u8)
            .map(|i| {
                acc.append(
                    "t",
                    0,
                    100 + i64::from(i),
                    None,
                    Some(&[i]),
                    &[("h", Some(b"v"))],
                    10,
                )
                .unwrap()
                .delivery
            })
            .collect();
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        let mut batch = ready.into_iter().next().unwrap();
        let identity = super::super::idempotence::ProducerIdentity { id: 7, epoch: 3 };
        let stamp = super::super::idempotence::Stamp {
            identity,
            base_sequence: 40,
            record_count: 5,
        };
        batch.data = super::super::idempotence::stamp(batch.data, stamp, true);
        batch.stamp = Some(stamp);
        let (head, tail) = batch.split();
        let tail = tail.unwrap();
        assert_eq!((values(&head), values(&tail)), (vec![0, 1], vec![2, 3, 4]));
        assert_eq!((head.memory, tail.memory), (20, 30));
        for (half, base, count) in [(&head, 40, 2), (&tail, 42, 3)] {
            let decoded =
                RecordBatch::decode(half.data.clone(), &DecodeOptions::default()).unwrap();
            assert_eq!(decoded.base_sequence(), base);
            assert_eq!(decoded.producer_id(), 7);
            assert_eq!(decoded.producer_epoch(), 3);
            assert!(decoded.is_transactional());
            assert_eq!(decoded.compression(), Compression::Lz4);
            assert_eq!(
                half.stamp.map(|s| (s.base_sequence, s.record_count)),
                Some((base, count))
            );
            let r = decoded.records().unwrap();
            let first = r.iter().next().unwrap().unwrap();
            assert_eq!(first.headers().next().unwrap().key(), b"h");
        }
        let (tail_head, tail_tail) = tail.split();
        let tail_tail = tail_tail.unwrap();
        let (single, none) = tail_head.split();
        assert!(none.is_none());
        assert_eq!(values(&single), vec![2], "one record cannot be split");
        head.succeed(10, None);
        single.succeed(20, None);
        tail_tail.succeed(30, None);
        let mut got = Vec::new();
        for f in futures {
            let md = f.await.unwrap();
            got.push((md.offset, md.timestamp));
        }
        assert_eq!(
            got,
            vec![(10, 100), (11, 101), (20, 102), (30, 103), (31, 104)]
        );
    }

    #[test]
    fn up_to_five_batches_of_a_partition_fly_and_retries_keep_their_place() {
        let stamp = |seq: i32| {
            Some(super::super::idempotence::Stamp {
                identity: super::super::idempotence::ProducerIdentity { id: 1, epoch: 0 },
                base_sequence: seq,
                record_count: 1,
            })
        };
        let mut acc = Accumulator::new(Compression::None, 1).with_max_in_flight(5);
        for i in 0..7u8 {
            // batch.size 1: every record closes its own batch.
            acc.append("t", 0, 1, None, Some(&[i]), &[], 1).unwrap();
        }
        let mut flying = Vec::new();
        loop {
            let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
            if ready.is_empty() {
                break;
            }
            assert_eq!(ready.len(), 1, "one batch of a partition per drain");
            flying.extend(ready);
        }
        let sent: Vec<u8> = flying.iter().flat_map(values).collect();
        assert_eq!(sent, vec![0, 1, 2, 3, 4], "five in flight, in order");
        for (i, b) in flying.iter_mut().enumerate() {
            b.stamp = stamp(i as i32);
        }
        // Batch 1's connection is cut and batch 2 is rejected behind it: both come back, in
        // their order whatever the order of the answers.
        let mut flying = flying.into_iter();
        let b0 = flying.next().unwrap();
        let b1 = flying.next().unwrap();
        let b2 = flying.next().unwrap();
        assert!(acc.has_earlier(&b2.tp, b2.order));
        assert!(!acc.has_earlier(&b0.tp, b0.order));
        acc.requeue(b2);
        acc.requeue(b1);
        // A retry waits while a batch before it (b0) is in flight.
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        assert!(ready.is_empty(), "b1 waits for b0");
        acc.done(&b0.tp, b0.order);
        let mut order = Vec::new();
        let rest: Vec<ProducerBatch> = flying.collect();
        for b in &rest {
            acc.done(&b.tp, b.order);
        }
        loop {
            let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
            let Some(b) = ready.into_iter().next() else {
                break;
            };
            order.extend(values(&b));
            acc.done(&b.tp, b.order);
        }
        assert_eq!(
            order,
            vec![1, 2, 5, 6],
            "retries first, in order, then the rest"
        );
        assert!(acc.is_empty());
    }

    #[test]
    fn without_idempotence_one_batch_of_a_partition_flies() {
        let mut acc = Accumulator::new(Compression::None, 1);
        for i in 0..3u8 {
            acc.append("t", 0, 1, None, Some(&[i]), &[], 1).unwrap();
        }
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        assert_eq!(ready.len(), 1);
        let (more, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        assert!(more.is_empty());
    }
}
