//! One partition's log in memory: batches as the producer sent them (base offset and leader
//! epoch rewritten, as a broker does), idempotent-producer state, open and aborted transactions.
//!
//! This module owns the offsets and the sequence checks; it knows nothing of sockets, of the
//! script, or of which broker leads the partition.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use laminar_kafka_protocol::record::{ControlBatch, ControlRecordType, RecordBatch};

/// How many batches per producer a broker remembers for duplicate detection.
const PRODUCER_CACHE: usize = 5;

#[derive(Debug, Clone)]
pub(crate) struct StoredBatch {
    pub(crate) base: i64,
    pub(crate) last: i64,
    pub(crate) bytes: Bytes,
    pub(crate) max_timestamp: i64,
}

#[derive(Debug, Clone, Copy)]
struct SeqEntry {
    first: i32,
    last: i32,
    base_offset: i64,
}

#[derive(Debug, Default)]
struct ProducerEntry {
    epoch: i16,
    recent: VecDeque<SeqEntry>,
}

/// A transaction that was aborted on this partition: its first offset and the marker's offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AbortedTxn {
    pub(crate) producer_id: i64,
    pub(crate) first: i64,
    pub(crate) last: i64,
}

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Written at this base offset.
    New(i64),
    /// Already written (a retry): this is where the first copy went.
    Duplicate(i64),
}

#[derive(Debug, Default)]
pub(crate) struct PartitionLog {
    pub(crate) batches: Vec<StoredBatch>,
    pub(crate) next_offset: i64,
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: producer id → first offset.
    ongoing: BTreeMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
}

/// The last sequence number of a batch starting at `first` with `count` records (sequences
/// wrap from `i32::MAX` to 0).
fn last_sequence(first: i32, count: i32) -> i32 {
    ((i64::from(first) + i64::from(count) - 1) % (i64::from(i32::MAX) + 1)) as i32
}

fn next_sequence(last: i32) -> i32 {
    if last == i32::MAX { 0 } else { last + 1 }
}

impl PartitionLog {
    /// The high watermark (every write is acknowledged by all replicas at once in the fake).
    pub(crate) fn high_watermark(&self) -> i64 {
        self.next_offset
    }

    /// The last stable offset: the first offset of the oldest open transaction, or the high
    /// watermark.
    pub(crate) fn last_stable_offset(&self) -> i64 {
        self.ongoing
            .values()
            .copied()
            .min()
            .unwrap_or(self.next_offset)
    }

    /// Appends one batch from a produce request after the idempotence checks a broker makes.
    pub(crate) fn append(
        &mut self,
        batch: &RecordBatch,
        leader_epoch: i32,
    ) -> Result<Appended, ResponseError> {
        let h = batch.header();
        let pid = h.producer_id;
        let checked = pid >= 0 && h.base_sequence >= 0;
        if checked {
            let first = h.base_sequence;
            let last = last_sequence(first, h.record_count);
            match self.producers.get(&pid) {
                Some(e) if h.producer_epoch < e.epoch => {
                    return Err(ResponseError::InvalidProducerEpoch);
                }
                Some(e) if h.producer_epoch == e.epoch => {
                    if let Some(d) = e.recent.iter().find(|s| s.first == first && s.last == last) {
                        return Ok(Appended::Duplicate(d.base_offset));
                    }
                    let expected = e.recent.back().map_or(0, |s| next_sequence(s.last));
                    if first != expected {
                        return Err(ResponseError::OutOfOrderSequenceNumber);
                    }
                }
                // A new producer, or a new epoch: sequences restart at 0.
                _ if first != 0 => return Err(ResponseError::OutOfOrderSequenceNumber),
                _ => {}
            }
        }
        let base = self.next_offset;
        let mut bytes = BytesMut::from(batch.as_bytes().as_ref());
        bytes[0..8].copy_from_slice(&base.to_be_bytes());
        bytes[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
        let last = base + i64::from(h.last_offset_delta);
        self.batches.push(StoredBatch {
            base,
            last,
            bytes: bytes.freeze(),
            max_timestamp: h.max_timestamp,
        });
        self.next_offset = last + 1;
        if checked {
            let e = self.producers.entry(pid).or_default();
            if e.epoch != h.producer_epoch {
                e.epoch = h.producer_epoch;
                e.recent.clear();
            }
            e.recent.push_back(SeqEntry {
                first: h.base_sequence,
                last: last_sequence(h.base_sequence, h.record_count),
                base_offset: base,
            });
            if e.recent.len() > PRODUCER_CACHE {
                e.recent.pop_front();
            }
        }
        if batch.is_transactional() && pid >= 0 {
            self.ongoing.entry(pid).or_insert(base);
        }
        Ok(Appended::New(base))
    }

    /// Writes a COMMIT or ABORT marker for `producer_id`'s transaction, if it wrote here.
    pub(crate) fn write_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        leader_epoch: i32,
        now_ms: i64,
    ) {
        let Some(first) = self.ongoing.remove(&producer_id) else {
            return;
        };
        let offset = self.next_offset;
        let marker = ControlBatch {
            kind: if commit {
                ControlRecordType::Commit
            } else {
                ControlRecordType::Abort
            },
            offset,
            producer_id,
            producer_epoch,
            coordinator_epoch: 0,
            partition_leader_epoch: leader_epoch,
            timestamp: now_ms,
        };
        // A one-record uncompressed batch of fixed fields cannot fail to encode.
        let Ok(bytes) = marker.encode() else {
            return;
        };
        self.batches.push(StoredBatch {
            base: offset,
            last: offset,
            bytes,
            max_timestamp: now_ms,
        });
        self.next_offset = offset + 1;
        if !commit {
            self.aborted.push(AbortedTxn {
                producer_id,
                first,
                last: offset,
            });
        }
    }

    /// Batches from the one holding `offset`, below `upper`, at most `max_bytes` (the first
    /// batch whole when `whole_first` even if larger; otherwise a partial batch is returned,
    /// as a broker does).
    pub(crate) fn read(
        &self,
        offset: i64,
        upper: i64,
        max_bytes: usize,
        whole_first: bool,
    ) -> Bytes {
        let start = self.batches.partition_point(|b| b.last < offset);
        let mut out = BytesMut::new();
        for b in self.batches[start..].iter().take_while(|b| b.base < upper) {
            let len = b.bytes.len();
            if out.len() + len > max_bytes {
                if out.is_empty() {
                    if whole_first {
                        out.extend_from_slice(&b.bytes);
                    } else {
                        out.extend_from_slice(&b.bytes[..max_bytes.min(len)]);
                    }
                }
                break;
            }
            out.extend_from_slice(&b.bytes);
        }
        out.freeze()
    }

    /// Whether the record at `offset` written by `producer_id` belongs to an aborted
    /// transaction.
    pub(crate) fn is_aborted(&self, producer_id: i64, offset: i64) -> bool {
        self.aborted
            .iter()
            .any(|a| a.producer_id == producer_id && a.first <= offset && offset <= a.last)
    }

    /// Whether the record at `offset` written by `producer_id` belongs to an open transaction.
    pub(crate) fn is_pending(&self, producer_id: i64, offset: i64) -> bool {
        self.ongoing
            .get(&producer_id)
            .is_some_and(|first| *first <= offset)
    }

    /// Aborted transactions that overlap `[from, upper)`.
    pub(crate) fn aborted_between(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last >= from && a.first < upper)
            .copied()
            .collect()
    }

    /// The offset of the first batch whose max timestamp is at least `ts` (approximates the
    /// record-level lookup by batch, then by record).
    pub(crate) fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        let b = self.batches.iter().find(|b| b.max_timestamp >= ts)?;
        let decoded = RecordBatch::decode(b.bytes.clone(), &Default::default()).ok()?;
        if decoded.is_control() {
            return Some((b.base, b.max_timestamp));
        }
        let records = decoded.records().ok()?;
        for r in records.iter() {
            let r = r.ok()?;
            if r.timestamp() >= ts {
                return Some((r.offset(), r.timestamp()));
            }
        }
        Some((b.base, b.max_timestamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use laminar_kafka_protocol::record::{BatchBuilder, Compression, DecodeOptions};

    fn batch(pid: i64, epoch: i16, seq: i32, n: usize, txn: bool) -> RecordBatch {
        let mut b = BatchBuilder::new(Compression::None);
        b.set_producer(pid, epoch, seq).set_transactional(txn);
        for i in 0..n {
            b.append(1000 + i as i64, None, Some(b"v"), &[]).unwrap();
        }
        RecordBatch::decode(b.finish().unwrap(), &DecodeOptions::default()).unwrap()
    }

    #[test]
    fn sequences_are_checked_like_a_broker() {
        let mut log = PartitionLog::default();
        assert_eq!(
            log.append(&batch(7, 0, 0, 3, false), 0),
            Ok(Appended::New(0))
        );
        assert_eq!(
            log.append(&batch(7, 0, 0, 3, false), 0),
            Ok(Appended::Duplicate(0))
        );
        assert_eq!(
            log.append(&batch(7, 0, 5, 1, false), 0),
            Err(ResponseError::OutOfOrderSequenceNumber)
        );
        assert_eq!(
            log.append(&batch(7, 0, 3, 2, false), 0),
            Ok(Appended::New(3))
        );
        assert_eq!(
            log.append(&batch(7, 1, 4, 1, false), 0),
            Err(ResponseError::OutOfOrderSequenceNumber),
            "a new epoch starts at 0"
        );
        assert_eq!(
            log.append(&batch(7, 1, 0, 1, false), 0),
            Ok(Appended::New(5))
        );
        assert_eq!(
            log.append(&batch(7, 0, 5, 1, false), 0),
            Err(ResponseError::InvalidProducerEpoch)
        );
        assert_eq!(
            log.append(&batch(-1, -1, -1, 2, false), 0),
            Ok(Appended::New(6))
        );
        assert_eq!(log.high_watermark(), 8);
    }

    #[test]
    fn transactions_hold_back_the_lso_and_aborts_are_listed() {
        let mut log = PartitionLog::default();
        log.append(&batch(1, 0, 0, 2, true), 0).unwrap();
        assert_eq!(log.last_stable_offset(), 0);
        log.write_marker(1, 0, false, 0, 5);
        assert_eq!(log.last_stable_offset(), 3);
        let aborted = log.aborted_between(0, 3);
        assert_eq!((aborted[0].first, aborted[0].last), (0, 2));
        assert!(log.aborted_between(3, 3).is_empty());
    }

    #[test]
    fn reads_respect_max_bytes() {
        let mut log = PartitionLog::default();
        for _ in 0..3 {
            log.append(&batch(-1, -1, -1, 1, false), 0).unwrap();
        }
        let one = log.batches[0].bytes.len();
        assert_eq!(log.read(0, 3, one * 2, false).len(), one * 2);
        assert_eq!(log.read(1, 3, 10, true).len(), one, "the first batch whole");
        assert_eq!(log.read(1, 3, 10, false).len(), 10, "a partial batch");
        assert_eq!(
            log.read(2, 2, 1000, true).len(),
            0,
            "nothing at or above upper"
        );
    }
}
