//! Decoding one partition of a fetch response: complete batches from the fetch position, CRC
//! checked and decompressed within the response's budget, with aborted transactions dropped
//! under read_committed. No I/O and no consumer state here; the fetcher applies the outcome.

use bytes::Bytes;
use laminar_kafka_protocol::record::{
    Compression, ControlRecord, ControlRecordType, DEFAULT_MAX_DECOMPRESSED_SIZE, DecodeOptions,
    RecordError, batches,
};

use super::PartitionWatermarks;
use super::records::{FetchedBatch, PartitionRecords};
use crate::error::Error;
use crate::offsets::TopicPartition;

/// What one partition of a fetch response means for its state.
pub(super) enum Outcome {
    Data {
        records: Option<PartitionRecords>,
        next_fetch: i64,
        watermarks: PartitionWatermarks,
        /// The replica the leader names for the next fetches (KIP-392), -1 for none.
        preferred_read_replica: i32,
        /// The partition leader epoch of the last batch passed (KIP-320), if any.
        last_epoch: Option<i32>,
    },
    OutOfRange,
    Retry,
    Fail(Error),
    /// Not in the response (an incremental fetch lists only partitions with news).
    Unchanged,
}

/// The read_committed filter: which producers' transactional batches belong to aborted
/// transactions at this point of the log. Follows the Java client: the broker's list of aborted
/// transactions (producer id, first offset) is sorted by first offset here (not every broker
/// sends it sorted); an entry becomes active once a batch of that producer reaches its first
/// offset, and the producer's ABORT marker ends it.
#[derive(Debug, Default)]
pub(super) struct AbortedFilter {
    /// (first offset, producer id), sorted by first offset, not yet active.
    pending: Vec<(i64, i64)>,
    next: usize,
    active: std::collections::HashSet<i64>,
}

impl AbortedFilter {
    pub(super) fn new(mut aborted: Vec<(i64, i64)>) -> Self {
        aborted.sort_unstable();
        Self {
            pending: aborted,
            next: 0,
            active: Default::default(),
        }
    }

    /// Whether a batch of `producer_id` ending at `last_offset` is to be skipped. Call for
    /// every batch in log order. `abort_marker` says whether it is a control batch holding an
    /// ABORT marker.
    pub(super) fn skip(
        &mut self,
        producer_id: i64,
        last_offset: i64,
        transactional: bool,
        control: bool,
        abort_marker: bool,
    ) -> bool {
        if producer_id < 0 {
            return false;
        }
        while let Some(&(first, pid)) = self.pending.get(self.next) {
            if first > last_offset {
                break;
            }
            self.active.insert(pid);
            self.next += 1;
        }
        if control {
            if abort_marker {
                self.active.remove(&producer_id);
            }
            return false;
        }
        transactional && self.active.contains(&producer_id)
    }
}

/// The decompressed bytes one fetch response may produce, over all its partitions: each batch
/// is bounded by the decode options (256 MiB), and the whole response by this. Batches past
/// the limit are left for a later fetch once earlier ones were returned; only a response whose
/// first batch is already over the limit is an error.
#[derive(Debug)]
pub(super) struct DecompressBudget {
    limit: usize,
    used: usize,
    /// Some records of this response are returned: going over the limit defers the rest.
    delivered: bool,
    /// The limit was reached: the remaining partitions wait for the next fetch.
    exhausted: bool,
}

impl DecompressBudget {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            used: 0,
            delivered: false,
            exhausted: false,
        }
    }

    /// The limit for a response of at most `fetch.max.bytes`: four times that, and at least
    /// one batch's limit (256 MiB), so that any batch one fetch may carry can be returned.
    pub(super) fn limit_for(fetch_max_bytes: i32) -> usize {
        usize::try_from(fetch_max_bytes)
            .unwrap_or(0)
            .saturating_mul(4)
            .max(DEFAULT_MAX_DECOMPRESSED_SIZE)
    }

    fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }
}

/// Decodes the batches of one partition: complete batches at or after `fetch_offset`, CRC
/// checked and decompressed within `budget`; under read_committed (`aborted` is `Some`),
/// batches of aborted transactions are dropped.
#[allow(clippy::too_many_arguments)]
pub(super) fn partition_data(
    tp: &TopicPartition,
    fetch_offset: i64,
    records: Bytes,
    decode: DecodeOptions,
    watermarks: PartitionWatermarks,
    aborted: Option<Vec<(i64, i64)>>,
    preferred_read_replica: i32,
    budget: &mut DecompressBudget,
) -> Outcome {
    let mut fetched = Vec::new();
    let mut next = fetch_offset;
    if budget.exhausted {
        return Outcome::Data {
            records: None,
            next_fetch: next,
            watermarks,
            preferred_read_replica,
            last_epoch: None,
        };
    }
    let mut last_epoch = None;
    let mut filter = aborted.map(AbortedFilter::new);
    let decode = decode
        .with_max_decompressed_size(decode.max_decompressed_size.min(budget.remaining()).max(1));
    for batch in batches(records, decode) {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Fail(Error::Protocol {
                    broker: format!("partition {}-{}", tp.0, tp.1),
                    source: e.into(),
                });
            }
        };
        if let Some(filter) = filter.as_mut() {
            let abort_marker = batch.is_control()
                && batch.records().ok().is_some_and(|r| {
                    r.iter().next().and_then(|r| r.ok()).is_some_and(|r| {
                        ControlRecord::parse(&r).is_ok_and(|c| c.kind == ControlRecordType::Abort)
                    })
                });
            let skip = filter.skip(
                batch.producer_id(),
                batch.last_offset(),
                batch.is_transactional(),
                batch.is_control(),
                abort_marker,
            );
            if skip {
                if batch.next_offset() > next {
                    next = batch.next_offset();
                    last_epoch = Some(batch.partition_leader_epoch());
                }
                continue;
            }
        }
        if batch.next_offset() <= next {
            continue; // entirely before what we asked for
        }
        if batch.is_control() || batch.is_empty() {
            next = batch.next_offset();
            last_epoch = Some(batch.partition_leader_epoch());
            continue;
        }
        let over = match batch.records() {
            Ok(records) => {
                let size = if batch.compression() == Compression::None {
                    0 // a view into the response, which fetch.max.bytes bounds
                } else {
                    records.data_len()
                };
                let over = size > budget.remaining();
                if !over {
                    budget.used += size;
                    fetched.push(FetchedBatch {
                        base_offset: batch.base_offset(),
                        next_offset: batch.next_offset(),
                        records,
                    });
                    next = batch.next_offset();
                    last_epoch = Some(batch.partition_leader_epoch());
                }
                over
            }
            Err(RecordError::DecompressedTooLarge { .. }) => true,
            Err(e) => {
                return Outcome::Fail(Error::Protocol {
                    broker: format!("partition {}-{}", tp.0, tp.1),
                    source: e.into(),
                });
            }
        };
        if over {
            if !budget.delivered && fetched.is_empty() {
                return Outcome::Fail(Error::FetchDecompressedTooLarge {
                    topic: tp.0.clone(),
                    partition: tp.1,
                    offset: batch.base_offset(),
                    limit: budget.limit,
                });
            }
            // Returned so far is kept; this batch and the rest wait for the next fetch.
            budget.exhausted = true;
            break;
        }
    }
    if !fetched.is_empty() {
        budget.delivered = true;
    }
    let records = (next > fetch_offset).then(|| PartitionRecords {
        topic: tp.0.as_str().into(),
        partition: tp.1,
        batches: fetched,
        from: fetch_offset,
        until: next,
    });
    Outcome::Data {
        records,
        next_fetch: next,
        watermarks,
        preferred_read_replica,
        last_epoch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An LZ4 batch at `base` of `count` records of 1,000 identical bytes each: about 1 KB
    /// on the wire per 100 KB decompressed.
    #[cfg(feature = "compression-lz4")]
    fn compressible_batch(base: i64, count: usize) -> Bytes {
        use laminar_kafka_protocol::record::BatchBuilder;
        let mut builder = BatchBuilder::new(Compression::Lz4);
        builder.set_base_offset(base);
        for _ in 0..count {
            builder
                .append(0, None, Some(&[b'a'; 1_000]), &[])
                .expect("append");
        }
        builder.finish().expect("batch")
    }

    #[cfg(feature = "compression-lz4")]
    fn decode(
        tp: &TopicPartition,
        offset: i64,
        wire: Bytes,
        budget: &mut DecompressBudget,
    ) -> Outcome {
        partition_data(
            tp,
            offset,
            wire,
            DecodeOptions::default(),
            PartitionWatermarks::default(),
            None,
            -1,
            budget,
        )
    }

    #[cfg(feature = "compression-lz4")]
    fn returned(outcome: &Outcome) -> (Option<(i64, i64)>, i64) {
        match outcome {
            Outcome::Data {
                records,
                next_fetch,
                ..
            } => (records.as_ref().map(|r| (r.from, r.until)), *next_fetch),
            Outcome::OutOfRange => panic!("out of range"),
            Outcome::Retry => panic!("retry"),
            Outcome::Unchanged => panic!("unchanged"),
            Outcome::Fail(e) => panic!("failed: {e}"),
        }
    }

    #[cfg(feature = "compression-lz4")]
    #[test]
    fn a_response_decompresses_within_one_budget_and_defers_the_rest() {
        let (p0, p1) = (("t".to_owned(), 0), ("t".to_owned(), 1));
        // Each batch: 100 records, about 100 KB decompressed; the response may give 250 KB.
        let mut wire = compressible_batch(0, 100).to_vec();
        wire.extend_from_slice(&compressible_batch(100, 100));
        wire.extend_from_slice(&compressible_batch(200, 100));
        assert!(wire.len() < 10_000, "the wire bytes are small");
        let mut budget = DecompressBudget::new(250_000);
        let first = decode(&p0, 0, wire.into(), &mut budget);
        assert_eq!(
            returned(&first),
            (Some((0, 200)), 200),
            "two batches fit, the third waits for the next fetch"
        );
        let second = decode(&p1, 0, compressible_batch(0, 100), &mut budget);
        assert_eq!(
            returned(&second),
            (None, 0),
            "the next partition waits too, at its position"
        );
        assert!(budget.used <= 250_000);
    }

    #[cfg(feature = "compression-lz4")]
    #[test]
    fn a_first_batch_over_the_budget_is_a_typed_error() {
        let tp = ("t".to_owned(), 3);
        let mut budget = DecompressBudget::new(50_000);
        match decode(&tp, 7, compressible_batch(7, 100), &mut budget) {
            Outcome::Fail(Error::FetchDecompressedTooLarge {
                topic,
                partition,
                offset,
                limit,
            }) => assert_eq!(
                (topic.as_str(), partition, offset, limit),
                ("t", 3, 7, 50_000)
            ),
            other => panic!(
                "expected FetchDecompressedTooLarge, got {:?}",
                returned(&other)
            ),
        }
    }

    #[test]
    fn the_response_budget_is_at_least_one_batch_limit() {
        assert_eq!(
            DecompressBudget::limit_for(50 * 1024 * 1024),
            DEFAULT_MAX_DECOMPRESSED_SIZE
        );
        assert_eq!(DecompressBudget::limit_for(i32::MAX), 4 * i32::MAX as usize);
        assert_eq!(
            DecompressBudget::limit_for(-1),
            DEFAULT_MAX_DECOMPRESSED_SIZE
        );
    }

    #[test]
    fn aborted_transactions_are_skipped_until_their_abort_marker() {
        // Producer 7 aborted a transaction starting at offset 10; producer 8 committed one.
        let mut f = AbortedFilter::new(vec![(10, 7)]);
        assert!(!f.skip(7, 5, true, false, false), "before its first offset");
        assert!(
            f.skip(7, 12, true, false, false),
            "inside the aborted transaction"
        );
        assert!(
            !f.skip(8, 14, true, false, false),
            "another producer's transaction"
        );
        assert!(
            !f.skip(7, 15, false, true, true),
            "the ABORT marker itself is not data"
        );
        assert!(
            !f.skip(7, 20, true, false, false),
            "a later transaction of the same producer"
        );
        assert!(
            !f.skip(-1, 30, false, false, false),
            "non-transactional data"
        );
    }

    #[test]
    fn an_unsorted_aborted_list_is_sorted_first() {
        let mut f = AbortedFilter::new(vec![(50, 2), (10, 1)]);
        assert!(f.skip(1, 11, true, false, false));
        assert!(
            !f.skip(2, 12, true, false, false),
            "producer 2's abort starts at 50"
        );
        assert!(f.skip(2, 55, true, false, false));
    }

    #[test]
    fn an_aborted_transaction_with_no_batches_here_drops_nothing_committed() {
        // Listed as aborted from offset 0, but this partition only has producer 3's commit.
        let mut f = AbortedFilter::new(vec![(0, 9)]);
        assert!(!f.skip(3, 4, true, false, false));
    }
}
