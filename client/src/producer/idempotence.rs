//! The idempotent producer's state: producer id, epoch, and a sequence number per partition.
//!
//! The broker keeps, per producer id and epoch, the sequence of the last batches it appended
//! to each partition, and rejects or de-duplicates what does not follow. This module owns that
//! client-side state and the stamping of batches with it:
//!
//! - a batch gets its sequence numbers when it is first sent, and keeps them across retries, so
//!   that a retry of a batch the broker already wrote is recognised as a duplicate;
//! - sequences wrap from `i32::MAX` to 0, as the broker expects;
//! - after an error that leaves the broker's view of the sequence unknown (UNKNOWN_PRODUCER_ID,
//!   OUT_OF_ORDER_SEQUENCE_NUMBER, a batch whose outcome is unknown after its delivery timeout)
//!   the epoch is bumped (KIP-360): every partition starts again at sequence 0 under the new
//!   epoch, and batches still queued are stamped again before they are sent.

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
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    identity: Option<ProducerIdentity>,
    next: HashMap<Tp, i32>,
}

/// The stamp a batch was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) identity: ProducerIdentity,
    pub(crate) base_sequence: i32,
}

impl Sequences {
    pub(crate) fn identity(&self) -> Option<ProducerIdentity> {
        self.identity
    }

    /// Takes a new identity (from InitProducerId, or a bump): every partition starts at 0.
    pub(crate) fn set_identity(&mut self, identity: ProducerIdentity) {
        self.identity = Some(identity);
        self.next.clear();
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
        self.next.clear();
    }

    /// Assigns `record_count` sequence numbers of `tp` to a batch.
    pub(crate) fn assign(&mut self, tp: &Tp, record_count: i32) -> Option<Stamp> {
        let identity = self.identity?;
        let next = self.next.entry(tp.clone()).or_insert(0);
        let base_sequence = *next;
        *next = wrapping_add(base_sequence, record_count);
        Some(Stamp {
            identity,
            base_sequence,
        })
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

    #[test]
    fn each_partition_counts_from_zero_and_a_new_identity_restarts() {
        let mut s = Sequences::default();
        let a: Tp = ("t".into(), 0);
        let b: Tp = ("t".into(), 1);
        assert!(s.assign(&a, 3).is_none(), "no identity yet");
        s.set_identity(ProducerIdentity { id: 9, epoch: 0 });
        assert_eq!(s.assign(&a, 3).unwrap().base_sequence, 0);
        assert_eq!(s.assign(&a, 2).unwrap().base_sequence, 3);
        assert_eq!(s.assign(&b, 1).unwrap().base_sequence, 0);
        let bumped = s.bumped().unwrap();
        assert_eq!(bumped, ProducerIdentity { id: 9, epoch: 1 });
        s.set_identity(bumped);
        let stamp = s.assign(&a, 1).unwrap();
        assert_eq!((stamp.identity.epoch, stamp.base_sequence), (1, 0));
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
            },
            false,
        );
        let batch = RecordBatch::decode(unstamped, &DecodeOptions::default()).unwrap();
        assert!(!batch.is_transactional());
        assert_eq!(batch.producer_id(), -1);
        assert_eq!(batch.records().unwrap().iter().count(), 2);
    }
}
