//! Per-partition batching: records are appended to an open batch until it is full
//! (`batch.size`) or old enough (`linger.ms`), then closed and queued for the sender.
//!
//! The accumulator owns the batches and their completion handles; it does no I/O. Order within a
//! partition is the order of `append` calls, and a batch that is sent again after a retriable
//! error goes back to the front of its queue, so order survives retries.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use laminar_kafka_protocol::record::{BatchBuilder, Compression, HeaderRef};
use tokio::sync::oneshot;

use super::RecordMetadata;
use crate::error::{Error, Result};

/// A topic and partition, with the topic shared between its batches.
pub(crate) type Tp = (Arc<str>, i32);

/// How to tell one producer of the outcome of its record.
pub(crate) struct Completion {
    pub(crate) tx: oneshot::Sender<Result<RecordMetadata>>,
    pub(crate) timestamp: i64,
}

/// A closed batch, encoded and ready to send (and re-send).
pub(crate) struct ProducerBatch {
    pub(crate) tp: Tp,
    pub(crate) data: Bytes,
    pub(crate) completions: Vec<Completion>,
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
}

impl ProducerBatch {
    /// Completes every record of the batch. `base_offset` -1 means "no offset known"
    /// (acks=0).
    pub(crate) fn succeed(self, base_offset: i64, log_append_time: Option<i64>) {
        for (i, c) in self.completions.into_iter().enumerate() {
            let offset = if base_offset >= 0 {
                base_offset + i as i64
            } else {
                -1
            };
            let _ = c.tx.send(Ok(RecordMetadata {
                topic: self.tp.0.clone(),
                partition: self.tp.1,
                offset,
                timestamp: log_append_time.unwrap_or(c.timestamp),
            }));
        }
    }

    /// Fails every record of the batch with (a copy of) `error`.
    pub(crate) fn fail(self, mut error: impl FnMut() -> Error) {
        for c in self.completions {
            let _ = c.tx.send(Err(error()));
        }
    }
}

struct OpenBatch {
    builder: BatchBuilder,
    completions: Vec<Completion>,
    created: Instant,
    memory: usize,
}

#[derive(Default)]
struct PartitionQueue {
    open: Option<OpenBatch>,
    closed: VecDeque<ProducerBatch>,
    /// A batch of this partition is being sent; the next waits (order).
    in_flight: bool,
}

/// Every partition's batches.
pub(crate) struct Accumulator {
    queues: HashMap<Tp, PartitionQueue>,
    compression: Compression,
    batch_size: usize,
}

impl Accumulator {
    pub(crate) fn new(compression: Compression, batch_size: usize) -> Self {
        Self {
            queues: HashMap::new(),
            compression,
            batch_size,
        }
    }

    /// Appends one record to its partition's open batch, closing the batch first if the record
    /// would make it exceed `batch.size` (a record larger than `batch.size` gets a batch of its
    /// own).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &mut self,
        tp: &Tp,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
        memory: usize,
        tx: oneshot::Sender<Result<RecordMetadata>>,
    ) -> Result<()> {
        let compression = self.compression;
        let batch_size = self.batch_size;
        let q = self.queues.entry(tp.clone()).or_default();
        if let Some(open) = &q.open {
            let size = open.builder.uncompressed_size();
            if size > 0 && size + memory > batch_size {
                Self::close_open(tp, q)?;
            }
        }
        let open = q.open.get_or_insert_with(|| OpenBatch {
            builder: BatchBuilder::new(compression),
            completions: Vec::new(),
            created: Instant::now(),
            memory: 0,
        });
        open.builder
            .append(timestamp, key, value, headers)
            .map_err(|e| Error::Protocol {
                broker: format!("partition {}-{}", tp.0, tp.1),
                source: e.into(),
            })?;
        open.completions.push(Completion { tx, timestamp });
        open.memory += memory;
        if open.builder.uncompressed_size() >= batch_size {
            Self::close_open(tp, q)?;
        }
        Ok(())
    }

    fn close_open(tp: &Tp, q: &mut PartitionQueue) -> Result<()> {
        let Some(mut open) = q.open.take() else {
            return Ok(());
        };
        match open.builder.finish() {
            Ok(data) => {
                q.closed.push_back(ProducerBatch {
                    tp: tp.clone(),
                    data,
                    completions: open.completions,
                    created: open.created,
                    attempts: 0,
                    retry_at: None,
                    last_error: None,
                    stamp: None,
                    memory: open.memory,
                });
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                for c in open.completions {
                    let _ = c.tx.send(Err(Error::InvalidProperty {
                        name: "record".to_owned(),
                        reason: msg.clone(),
                    }));
                }
                Err(Error::InvalidProperty {
                    name: "record".to_owned(),
                    reason: msg,
                })
            }
        }
    }

    /// Takes, for each partition with nothing in flight, its next batch if one is ready:
    /// closed already, or open and older than `linger` (or `force`: flush and close).
    /// Marks those partitions in flight. Returns the batches and the earliest instant at which
    /// an open batch will become ready.
    pub(crate) fn drain_ready(
        &mut self,
        now: Instant,
        linger: std::time::Duration,
        force: bool,
    ) -> (Vec<ProducerBatch>, Option<Instant>) {
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        for (tp, q) in self.queues.iter_mut() {
            if q.in_flight {
                continue;
            }
            if q.closed.is_empty() {
                if let Some(open) = &q.open {
                    let due = open.created + linger;
                    if force || due <= now {
                        let _ = Self::close_open(tp, q);
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
            if let Some(batch) = q.closed.pop_front() {
                q.in_flight = true;
                ready.push(batch);
            }
        }
        (ready, next)
    }

    /// A batch came back for another try: it goes to the front of its queue.
    pub(crate) fn requeue(&mut self, batch: ProducerBatch) {
        let q = self.queues.entry(batch.tp.clone()).or_default();
        q.in_flight = false;
        q.closed.push_front(batch);
    }

    /// The partition's in-flight batch completed (either way).
    pub(crate) fn done(&mut self, tp: &Tp) {
        if let Some(q) = self.queues.get_mut(tp) {
            q.in_flight = false;
        }
    }

    /// Whether any record is waiting or in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.queues
            .values()
            .all(|q| q.open.is_none() && q.closed.is_empty() && !q.in_flight)
    }

    /// Takes every batch, open or closed, not in flight and created more than `timeout` ago:
    /// their delivery timeout has passed. Returns them with the memory they held.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        timeout: std::time::Duration,
    ) -> Vec<ProducerBatch> {
        let mut expired = Vec::new();
        for (tp, q) in self.queues.iter_mut() {
            if q.open.as_ref().is_some_and(|o| o.created + timeout <= now) {
                let _ = Self::close_open(tp, q);
            }
            while q.closed.front().is_some_and(|b| b.created + timeout <= now) {
                if let Some(b) = q.closed.pop_front() {
                    expired.push(b);
                }
            }
        }
        expired
    }
}

impl Accumulator {
    /// Takes every batch not in flight, open or closed (a transaction abort fails them).
    pub(crate) fn take_unsent(&mut self) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        for (tp, q) in self.queues.iter_mut() {
            let _ = Self::close_open(tp, q);
            out.extend(q.closed.drain(..));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use laminar_kafka_protocol::record::{DecodeOptions, RecordBatch};
    use std::time::Duration;

    fn tp() -> Tp {
        ("t".into(), 0)
    }

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
    fn batches_close_at_batch_size_and_keep_order() {
        let batch_size = 200;
        let mut acc = Accumulator::new(Compression::None, batch_size);
        for i in 0..10u8 {
            let (tx, _rx) = oneshot::channel();
            acc.append(
                &tp(),
                1000 + i64::from(i),
                None,
                Some(&[i; 50]),
                &[],
                60,
                tx,
            )
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
            acc.done(&batch.tp);
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
        let (tx, _rx) = oneshot::channel();
        acc.append(&tp(), 1, None, Some(b"a"), &[], 10, tx).unwrap();
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
        let (tx, _rx2) = oneshot::channel();
        acc.append(&tp(), 2, None, Some(b"b"), &[], 10, tx).unwrap();
        acc.requeue(batch);
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        assert_eq!(ready[0].completions.len(), 1);
        assert_eq!(
            ready[0].completions[0].timestamp, 1,
            "the retried batch goes first"
        );
    }

    #[tokio::test]
    async fn completions_carry_offsets_in_order() {
        let mut acc = Accumulator::new(Compression::None, 1 << 20);
        let mut rxs = Vec::new();
        for i in 0..3 {
            let (tx, rx) = oneshot::channel();
            acc.append(&tp(), 100 + i, None, Some(b"x"), &[], 1, tx)
                .unwrap();
            rxs.push(rx);
        }
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        ready.into_iter().next().unwrap().succeed(40, None);
        for (i, rx) in rxs.into_iter().enumerate() {
            let md = rx.await.unwrap().unwrap();
            assert_eq!(md.offset, 40 + i as i64);
            assert_eq!(md.timestamp, 100 + i as i64);
        }
    }
}
