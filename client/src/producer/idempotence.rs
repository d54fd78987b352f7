//! The idempotent producer's state: producer id, epoch, and a sequence number per partition.
//!
//! The broker keeps, per producer id and epoch, the sequence of the last batches it appended
//! to each partition, and rejects or de-duplicates what does not follow. This module owns that
//! client-side state and the stamping of batches with it:
//!
//! - a batch gets its sequence numbers when it is first sent, and keeps them across retries, so
//!   that a retry of a batch the broker already wrote is recognised as a duplicate;
//! - sequences wrap from `i32::MAX` to 0, as the broker expects;
//! - a batch that certainly did not reach the log (rejected, dropped before it was sent) gives
//!   its sequence numbers back when it was its partition's last;
//! - after an error that leaves the broker's view of the sequence unknown (UNKNOWN_PRODUCER_ID,
//!   OUT_OF_ORDER_SEQUENCE_NUMBER, a batch whose outcome is unknown after its delivery timeout)
//!   the epoch is bumped (KIP-360): each partition starts again at sequence 0 under the new
//!   epoch once its batches of the old epoch are resolved.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use super::accumulator::Tp;

/// Byte offsets of the fields a stamp rewrites in a magic-2 batch.
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const PRODUCER_ID_OFFSET: usize = 43;
const PRODUCER_EPOCH_OFFSET: usize = 51;
const BASE_SEQUENCE_OFFSET: usize = 53;
const RECORD_COUNT_OFFSET: usize = 57;
const HEADER_LEN: usize = 61;
const TRANSACTIONAL: i16 = 1 << 4;

/// A producer id and epoch, as InitProducerId returned them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerIdentity {
    /// The producer id.
    pub id: i64,
    /// The epoch.
    pub epoch: i16,
}

impl ProducerIdentity {
    /// "No producer id": what a non-idempotent producer writes.
    pub const NONE: ProducerIdentity = ProducerIdentity { id: -1, epoch: -1 };
}

/// Identity and per-partition sequences of an idempotent producer.
///
/// Each partition's sequences belong to one producer id and epoch. After a new identity (an
/// epoch bump, KIP-360, or a new producer id) a partition moves to it, and restarts at sequence
/// 0, only once every batch stamped with its old identity is resolved (written, failed, or
/// known to be lost): a batch queued for retry after an unknown outcome keeps its old stamp, so
/// the broker can recognise it as a duplicate, and nothing newer is stamped on its partition
/// until it is resolved. That is what the Java client does (`maybeUpdateProducerIdAndEpoch`).
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    identity: Option<ProducerIdentity>,
    partitions: HashMap<Tp, PartitionSequence>,
}

/// One partition's sequence state.
#[derive(Debug, Clone, Copy)]
struct PartitionSequence {
    /// The identity the partition's sequences belong to.
    identity: ProducerIdentity,
    /// The sequence of the next batch.
    next: i32,
    /// Batches stamped with `identity` and not resolved yet (in flight or queued for retry).
    unresolved: u32,
    /// A batch of `identity` was written. Until then one batch is out at a time: a broker that
    /// knows nothing of the producer on the partition takes any first sequence, so a second
    /// batch overtaking the first on the way would be written before it.
    acked: bool,
}

impl PartitionSequence {
    fn fresh(identity: ProducerIdentity) -> Self {
        Self {
            identity,
            next: 0,
            unresolved: 0,
            acked: false,
        }
    }
}

/// The stamp a batch was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) identity: ProducerIdentity,
    pub(crate) base_sequence: i32,
    /// The number of records (sequence numbers) the stamp covers.
    pub(crate) record_count: i32,
}

/// How a stamped batch left the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// The broker wrote it (or reported it as a duplicate of a batch it wrote).
    Written,
    /// It certainly did not reach the log: its sequence numbers can be given again.
    NotWritten,
    /// It may or may not have been written (timeout, cut connection), or the broker's sequence
    /// state for the partition is not ours (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID).
    Unknown,
}

impl Sequences {
    pub(crate) fn identity(&self) -> Option<ProducerIdentity> {
        self.identity
    }

    /// Takes a new identity (from InitProducerId, EndTxn v5, or a bump). Each partition restarts
    /// at 0 under it once its batches of the old identity are resolved.
    pub(crate) fn set_identity(&mut self, identity: ProducerIdentity) {
        self.identity = Some(identity);
        // Partitions with nothing unresolved need no memory of the old identity.
        self.partitions.retain(|_, p| p.unresolved > 0);
    }

    /// The local epoch bump of KIP-360: the same producer id with the next epoch, when the
    /// epoch has room; `None` when a new producer id must be asked for.
    pub(crate) fn bumped(&self) -> Option<ProducerIdentity> {
        let current = self.identity?;
        (current.epoch < i16::MAX - 1).then_some(ProducerIdentity {
            id: current.id,
            epoch: current.epoch + 1,
        })
    }

    /// Forgets the identity, so that the next batch waits for InitProducerId.
    pub(crate) fn reset(&mut self) {
        self.identity = None;
        self.partitions.retain(|_, p| p.unresolved > 0);
    }

    /// Assigns `record_count` sequence numbers of `tp` to a batch. `None` when there is no
    /// identity yet, when the partition still has batches of an older identity to resolve, or
    /// when its first batch under the identity is not acknowledged yet (the batch waits).
    pub(crate) fn assign(&mut self, tp: &Tp, record_count: i32) -> Option<Stamp> {
        let identity = self.identity?;
        let p = match self.partitions.get_mut(tp) {
            Some(p) => p,
            None => self
                .partitions
                .entry(tp.clone())
                .or_insert(PartitionSequence::fresh(identity)),
        };
        if p.identity != identity {
            if p.unresolved > 0 {
                return None;
            }
            *p = PartitionSequence::fresh(identity);
        }
        if p.unresolved > 0 && !p.acked {
            return None;
        }
        let base_sequence = p.next;
        p.next = wrapping_add(base_sequence, record_count);
        p.unresolved += 1;
        Some(Stamp {
            identity,
            base_sequence,
            record_count,
        })
    }

    /// A stamped batch was split in `parts` batches that keep its sequence range between them
    /// (MESSAGE_TOO_LARGE): `parts - 1` more batches to resolve.
    pub(crate) fn split(&mut self, tp: &Tp, stamp: Stamp, parts: u32) {
        if let Some(p) = self.partitions.get_mut(tp) {
            if p.identity == stamp.identity {
                p.unresolved += parts.saturating_sub(1);
            }
        }
    }

    /// A stamped batch is resolved. Returns `true` when the partition's sequences are no longer
    /// known (its outcome is unknown, or a batch that did not reach the log leaves a gap before
    /// later batches): the epoch must be bumped. A batch that did not reach the log and was
    /// the partition's last gives its sequence numbers back.
    pub(crate) fn resolve(&mut self, tp: &Tp, stamp: Stamp, how: Resolution) -> bool {
        let Some(p) = self
            .partitions
            .get_mut(tp)
            .filter(|p| p.identity == stamp.identity)
        else {
            // Of an identity already left behind: nothing of ours depends on it.
            return false;
        };
        p.unresolved = p.unresolved.saturating_sub(1);
        match how {
            Resolution::Written => {
                p.acked = true;
                false
            }
            Resolution::Unknown => true,
            Resolution::NotWritten => {
                if p.next == wrapping_add(stamp.base_sequence, stamp.record_count) {
                    p.next = stamp.base_sequence;
                    false
                } else {
                    true
                }
            }
        }
    }
}

/// `a + b` wrapping from `i32::MAX` to 0 (not to `i32::MIN`), as Kafka's sequences do.
pub(crate) fn wrapping_add(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    (sum % (i64::from(i32::MAX) + 1)) as i32
}

/// The number of records a batch announces.
pub(crate) fn record_count(batch: &[u8]) -> i32 {
    batch
        .get(RECORD_COUNT_OFFSET..RECORD_COUNT_OFFSET + 4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// Writes producer id, epoch, base sequence and the transactional flag into an encoded batch
/// and recomputes its CRC. Reuses the buffer when nothing else holds it.
pub(crate) fn stamp(batch: Bytes, stamp: Stamp, transactional: bool) -> Bytes {
    if batch.len() < HEADER_LEN {
        return batch; // not a batch we built; the broker will say what is wrong
    }
    let mut buf: BytesMut = batch
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
    buf[PRODUCER_ID_OFFSET..PRODUCER_ID_OFFSET + 8]
        .copy_from_slice(&stamp.identity.id.to_be_bytes());
    buf[PRODUCER_EPOCH_OFFSET..PRODUCER_EPOCH_OFFSET + 2]
        .copy_from_slice(&stamp.identity.epoch.to_be_bytes());
    buf[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4]
        .copy_from_slice(&stamp.base_sequence.to_be_bytes());
    let mut attributes = i16::from_be_bytes([buf[ATTRIBUTES_OFFSET], buf[ATTRIBUTES_OFFSET + 1]]);
    if transactional {
        attributes |= TRANSACTIONAL;
    } else {
        attributes &= !TRANSACTIONAL;
    }
    buf[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    let crc = crc32c::crc32c(&buf[ATTRIBUTES_OFFSET..]);
    buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use laminar_kafka_protocol::record::{BatchBuilder, Compression, DecodeOptions, RecordBatch};

    #[test]
    fn sequences_wrap_to_zero_not_negative() {
        assert_eq!(wrapping_add(i32::MAX, 1), 0);
        assert_eq!(wrapping_add(i32::MAX - 2, 5), 2);
        assert_eq!(wrapping_add(7, 3), 10);
    }

    fn tp(p: i32) -> Tp {
        ("t".into(), p)
    }

    #[test]
    fn each_partition_counts_from_zero_and_a_new_identity_restarts() {
        let mut s = Sequences::default();
        let (a, b) = (tp(0), tp(1));
        assert!(s.assign(&a, 3).is_none(), "no identity yet");
        s.set_identity(ProducerIdentity { id: 9, epoch: 0 });
        let first = s.assign(&a, 1).unwrap();
        assert!(
            s.assign(&a, 3).is_none(),
            "one batch at a time until the partition's first is written"
        );
        assert!(!s.resolve(&a, first, Resolution::Written));
        let a0 = s.assign(&a, 3).unwrap();
        let a1 = s.assign(&a, 2).unwrap();
        assert_eq!((a0.base_sequence, a1.base_sequence), (1, 4));
        let b0 = s.assign(&b, 1).unwrap();
        assert_eq!(b0.base_sequence, 0);
        assert!(!s.resolve(&b, b0, Resolution::Written));
        let bumped = s.bumped().unwrap();
        assert_eq!(bumped, ProducerIdentity { id: 9, epoch: 1 });
        s.set_identity(bumped);
        // `b` has nothing unresolved: it moves to the new epoch at once.
        let b1 = s.assign(&b, 1).unwrap();
        assert_eq!((b1.identity.epoch, b1.base_sequence), (1, 0));
        // `a` still has two batches of epoch 0 to resolve.
        assert!(s.assign(&a, 1).is_none());
        assert!(!s.resolve(&a, a0, Resolution::Written));
        assert!(s.assign(&a, 1).is_none());
        assert!(!s.resolve(&a, a1, Resolution::Written));
        let a2 = s.assign(&a, 1).unwrap();
        assert_eq!((a2.identity.epoch, a2.base_sequence), (1, 0));
        assert!(
            s.assign(&a, 1).is_none(),
            "the new epoch starts one at a time"
        );
        s.set_identity(ProducerIdentity {
            id: 9,
            epoch: i16::MAX - 1,
        });
        assert!(
            s.bumped().is_none(),
            "epoch exhausted: a new producer id is needed"
        );
    }

    #[test]
    fn a_batch_that_never_reached_the_log_gives_its_sequences_back() {
        let mut s = Sequences::default();
        let a = tp(0);
        s.set_identity(ProducerIdentity { id: 1, epoch: 0 });
        let first = s.assign(&a, 4).unwrap();
        assert!(!s.resolve(&a, first, Resolution::Written));
        // Failed AddPartitionsToTxn, a rejected batch, a batch dropped by an abort: the next
        // batch takes the same sequence, or the broker answers OUT_OF_ORDER_SEQUENCE_NUMBER.
        let lost = s.assign(&a, 3).unwrap();
        assert_eq!(lost.base_sequence, 4);
        assert!(
            !s.resolve(&a, lost, Resolution::NotWritten),
            "no bump needed"
        );
        assert_eq!(s.assign(&a, 2).unwrap().base_sequence, 4);
    }

    #[test]
    fn a_gap_before_later_batches_or_an_unknown_outcome_asks_for_a_bump() {
        let mut s = Sequences::default();
        let a = tp(0);
        s.set_identity(ProducerIdentity { id: 1, epoch: 0 });
        let zero = s.assign(&a, 1).unwrap();
        s.resolve(&a, zero, Resolution::Written);
        let first = s.assign(&a, 2).unwrap();
        let second = s.assign(&a, 2).unwrap();
        assert!(
            s.resolve(&a, first, Resolution::NotWritten),
            "the second batch's sequences follow a gap now"
        );
        assert!(s.resolve(&a, second, Resolution::Unknown));
        // A stamp of an identity already left behind changes nothing.
        s.set_identity(ProducerIdentity { id: 1, epoch: 1 });
        assert!(!s.resolve(&a, first, Resolution::Unknown));
    }

    #[test]
    fn a_split_batch_keeps_its_range_and_resolves_part_by_part() {
        let mut s = Sequences::default();
        let a = tp(0);
        s.set_identity(ProducerIdentity { id: 1, epoch: 0 });
        let whole = s.assign(&a, 10).unwrap();
        s.split(&a, whole, 2);
        s.set_identity(ProducerIdentity { id: 1, epoch: 1 });
        let head = Stamp {
            record_count: 5,
            ..whole
        };
        let tail = Stamp {
            base_sequence: 5,
            record_count: 5,
            ..whole
        };
        assert!(!s.resolve(&a, head, Resolution::Written));
        assert!(s.assign(&a, 1).is_none(), "the tail is not resolved yet");
        assert!(!s.resolve(&a, tail, Resolution::Written));
        assert_eq!(s.assign(&a, 1).unwrap().identity.epoch, 1);
    }

    #[test]
    fn stamping_rewrites_the_header_with_a_valid_crc() {
        let mut builder = BatchBuilder::new(Compression::Lz4);
        builder.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        builder.append(2, None, Some(b"w"), &[]).unwrap();
        let data = builder.finish().unwrap();
        assert_eq!(record_count(&data), 2);
        let stamped = stamp(
            data,
            Stamp {
                identity: ProducerIdentity { id: 4242, epoch: 7 },
                base_sequence: 100,
                record_count: 2,
            },
            true,
        );
        let batch = RecordBatch::decode(stamped.clone(), &DecodeOptions::default())
            .expect("the CRC must verify after stamping");
        assert_eq!(batch.producer_id(), 4242);
        assert_eq!(batch.producer_epoch(), 7);
        assert_eq!(batch.base_sequence(), 100);
        assert!(batch.is_transactional());
        let unstamped = stamp(
            stamped,
            Stamp {
                identity: ProducerIdentity::NONE,
                base_sequence: -1,
                record_count: 2,
            },
            false,
        );
        let batch = RecordBatch::decode(unstamped, &DecodeOptions::default()).unwrap();
        assert!(!batch.is_transactional());
        assert_eq!(batch.producer_id(), -1);
        assert_eq!(batch.records().unwrap().iter().count(), 2);
    }
}
