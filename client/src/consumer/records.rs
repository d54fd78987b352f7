//! What `poll` returns: fetched batches per partition, read as zero-copy record views.
//!
//! A [`PartitionRecords`] keeps the batches of one fetch response, ready to read (their bytes
//! are slices of the response frame, or one decompressed buffer per compressed batch; the
//! fetcher decompressed them before `poll` saw them), and the offset range the caller is
//! entitled to: records below the position it fetched from (a batch may start earlier) and
//! records beyond this poll's share are skipped; control records are never returned.

use std::sync::Arc;

use bytes::Bytes;
use laminar_kafka_protocol::record::{Record, RecordError, RecordIter, Records};

/// One data batch of a fetch, decoded and (if it was compressed) decompressed.
#[derive(Debug, Clone)]
pub(crate) struct FetchedBatch {
    pub(crate) base_offset: i64,
    pub(crate) next_offset: i64,
    pub(crate) records: Records,
}

/// The records of one partition returned by one poll.
#[derive(Debug, Clone)]
pub struct PartitionRecords {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) batches: Vec<FetchedBatch>,
    /// First offset to return.
    pub(crate) from: i64,
    /// First offset not to return.
    pub(crate) until: i64,
}

impl PartitionRecords {
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The offset the consumer's position moves to once these records are consumed.
    pub fn next_offset(&self) -> i64 {
        self.until
    }

    /// The data records, in offset order. A record that cannot be parsed ends the iteration
    /// with its error.
    pub fn iter(&self) -> PartitionRecordIter<'_> {
        PartitionRecordIter {
            owner: self,
            batch: 0,
            current: None,
            failed: false,
        }
    }

    /// An upper bound of the records in range (exact unless compaction removed some).
    pub fn len_hint(&self) -> usize {
        usize::try_from(self.until - self.from).unwrap_or(0)
    }
}

impl<'a> IntoIterator for &'a PartitionRecords {
    type Item = Result<ConsumedRecord<'a>, RecordError>;
    type IntoIter = PartitionRecordIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the data records of a [`PartitionRecords`].
#[derive(Debug)]
pub struct PartitionRecordIter<'a> {
    owner: &'a PartitionRecords,
    batch: usize,
    current: Option<RecordIter<'a>>,
    failed: bool,
}

/// One consumed record: where it came from, and a view of its bytes.
#[derive(Debug, Clone, Copy)]
pub struct ConsumedRecord<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The record (offset, timestamp, key, value, headers).
    pub record: Record<'a>,
}

impl<'a> ConsumedRecord<'a> {
    /// The record's offset.
    pub fn offset(&self) -> i64 {
        self.record.offset()
    }

    /// The key bytes, if any (a view, no copy).
    pub fn key(&self) -> Option<&'a [u8]> {
        self.record.key()
    }

    /// The value bytes, if any (a view, no copy).
    pub fn value(&self) -> Option<&'a [u8]> {
        self.record.value()
    }

    /// The value as a `Bytes` slice of the fetched buffer (no copy; one reference count).
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.record.value_bytes()
    }

    /// The record's timestamp (ms since the epoch).
    pub fn timestamp(&self) -> i64 {
        self.record.timestamp()
    }
}

impl<'a> Iterator for PartitionRecordIter<'a> {
    type Item = Result<ConsumedRecord<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let owner = self.owner;
        loop {
            if let Some(it) = self.current.as_mut() {
                match it.next() {
                    Some(Ok(record)) => {
                        let offset = record.offset();
                        if offset < owner.from {
                            continue;
                        }
                        if offset >= owner.until {
                            self.current = None;
                            self.batch = owner.batches.len();
                            return None;
                        }
                        return Some(Ok(ConsumedRecord {
                            topic: &owner.topic,
                            partition: owner.partition,
                            record,
                        }));
                    }
                    Some(Err(e)) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                    None => self.current = None,
                }
            }
            let batch = owner.batches.get(self.batch)?;
            self.batch += 1;
            if batch.next_offset <= owner.from || batch.base_offset >= owner.until {
                continue;
            }
            self.current = Some(batch.records.iter());
        }
    }
}
