//! Building magic-2 batches for produce requests (and control batches for tests and tools).
//!
//! Owns record encoding: offset and timestamp deltas, varint lengths, the batch header, the
//! compression of the record area (once per batch) and the CRC. A [`BatchBuilder`] keeps its
//! buffers and compressor state between batches, so a producer that reuses one builder does not
//! allocate per batch once the buffers have grown.

use bytes::{Bytes, BytesMut};

use super::batch::{
    ATTRIBUTES_OFFSET, Attributes, BATCH_HEADER_LEN, CRC_OFFSET, LOG_OVERHEAD, MAGIC,
};
use super::compression::{Compression, Compressor};
use super::control::{ControlRecordType, control_key, marker_value};
use super::error::{RecordError, Result};
use super::varint::{put_varint, varint_len, varlong_len, write_varint_at, write_varlong_at};

/// A header to write: a string key and a nullable value.
pub type HeaderRef<'a> = (&'a str, Option<&'a [u8]>);

/// Builds one batch at a time; reusable after [`finish`](Self::finish).
///
/// ```
/// use laminar_kafka_protocol::record::{BatchBuilder, Compression, DecodeOptions, RecordBatch};
///
/// // Codecs are cargo features (all on by default).
/// let codec = if Compression::Lz4.is_available() { Compression::Lz4 } else { Compression::None };
/// let mut builder = BatchBuilder::new(codec);
/// builder.set_producer(4000, 0, 17);
/// builder.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[("trace", Some(b"ab"))])?;
/// builder.append(1_700_000_000_005, None, None, &[])?;
/// let bytes = builder.finish()?;
///
/// let batch = RecordBatch::decode(bytes, &DecodeOptions::default())?;
/// assert_eq!(batch.base_sequence(), 17);
/// assert_eq!(batch.max_timestamp(), 1_700_000_000_005);
/// let records = batch.records()?;
/// let first = records.iter().next().unwrap()?;
/// assert_eq!(first.value(), Some(&b"value"[..]));
/// assert_eq!(first.headers().next().unwrap().key_str()?, "trace");
/// # Ok::<(), laminar_kafka_protocol::record::RecordError>(())
/// ```
#[derive(Debug)]
pub struct BatchBuilder {
    compression: Compression,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    /// Room for the batch header, then the uncompressed records.
    records: Vec<u8>,
    /// The compressed batch, reused between batches.
    scratch: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    compressor: Compressor,
}

/// The largest record area a batch can hold: its length field is an int32.
const MAX_RECORDS_LEN: usize = i32::MAX as usize - (BATCH_HEADER_LEN - LOG_OVERHEAD);

impl BatchBuilder {
    /// An empty builder: base offset 0, no producer id/epoch/sequence (-1), not transactional,
    /// partition leader epoch -1.
    pub fn new(compression: Compression) -> Self {
        Self {
            compression,
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            records: vec![0; BATCH_HEADER_LEN],
            scratch: Vec::new(),
            count: 0,
            base_timestamp: 0,
            max_timestamp: -1,
            compressor: Compressor::default(),
        }
    }

    /// Sets the codec for the next batch.
    pub fn set_compression(&mut self, compression: Compression) -> &mut Self {
        self.compression = compression;
        self
    }

    /// Sets the base offset (0 in produce requests; the broker assigns offsets).
    pub fn set_base_offset(&mut self, base_offset: i64) -> &mut Self {
        self.base_offset = base_offset;
        self
    }

    /// Sets the partition leader epoch (-1 in produce requests).
    pub fn set_partition_leader_epoch(&mut self, epoch: i32) -> &mut Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Sets the idempotent producer's id, epoch and the sequence of the batch's first record.
    pub fn set_producer(&mut self, id: i64, epoch: i16, base_sequence: i32) -> &mut Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch transactional.
    pub fn set_transactional(&mut self, transactional: bool) -> &mut Self {
        self.transactional = transactional;
        self
    }

    /// The number of records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was appended yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The batch's size so far before compression, header included: what a producer compares
    /// with `batch.size`.
    pub fn uncompressed_size(&self) -> usize {
        self.records.len()
    }

    /// The size `append` would add for a record, before compression.
    pub fn record_size(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
    ) -> usize {
        let body = self.body_len(timestamp, key, value, headers);
        varint_len(body as i32) + body
    }

    #[inline(always)]
    fn body_len(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
    ) -> usize {
        let ts_delta = if self.count == 0 {
            0
        } else {
            timestamp.wrapping_sub(self.base_timestamp)
        };
        let bytes_len = |b: Option<&[u8]>| match b {
            Some(b) => varint_len(b.len() as i32) + b.len(),
            None => 1,
        };
        let mut n = 1 // attributes
            + varlong_len(ts_delta)
            + varint_len(self.count)
            + bytes_len(key)
            + bytes_len(value)
            + varint_len(headers.len() as i32);
        for (k, v) in headers {
            n += varint_len(k.len() as i32) + k.len() + bytes_len(*v);
        }
        n
    }

    /// Appends a record. The first record's timestamp becomes the batch's base timestamp; the
    /// offset delta is the record's position in the batch.
    #[inline]
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[HeaderRef<'_>],
    ) -> Result<()> {
        if self.count == i32::MAX {
            return Err(RecordError::BatchTooLarge {
                reason: "more than 2^31-1 records",
            });
        }
        let too_big = |_| RecordError::BatchTooLarge {
            reason: "a field longer than 2 GiB",
        };
        // Every length must fit the varint's i32; the batch's length field bounds the total.
        if let Some(k) = key {
            i32::try_from(k.len()).map_err(too_big)?;
        }
        if let Some(v) = value {
            i32::try_from(v.len()).map_err(too_big)?;
        }
        i32::try_from(headers.len()).map_err(too_big)?;
        for (k, v) in headers {
            i32::try_from(k.len()).map_err(too_big)?;
            if let Some(v) = v {
                i32::try_from(v.len()).map_err(too_big)?;
            }
        }
        let body = self.body_len(timestamp, key, value, headers);
        if body > MAX_RECORDS_LEN
            || self.records.len() - BATCH_HEADER_LEN + body + 5 > MAX_RECORDS_LEN
        {
            return Err(RecordError::BatchTooLarge {
                reason: "record data beyond the 2 GiB batch length",
            });
        }
        if self.count == 0 {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        } else if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        let ts_delta = timestamp.wrapping_sub(self.base_timestamp);
        let out = &mut self.records;
        out.reserve(body + 5);
        // The fixed fields up to the key, assembled on the stack and appended at once.
        let mut head = [0u8; 5 + 1 + 10 + 5 + 5];
        let mut n = write_varint_at(&mut head, 0, body as i32);
        head[n] = 0; // attributes
        n = write_varlong_at(&mut head, n + 1, ts_delta);
        n = write_varint_at(&mut head, n, self.count);
        n = write_varint_at(&mut head, n, key.map_or(-1, |k| k.len() as i32));
        out.extend_from_slice(&head[..n]);
        if let Some(k) = key {
            out.extend_from_slice(k);
        }
        let mut mid = [0u8; 5];
        let n = write_varint_at(&mut mid, 0, value.map_or(-1, |v| v.len() as i32));
        out.extend_from_slice(&mid[..n]);
        if let Some(v) = value {
            out.extend_from_slice(v);
        }
        put_varint(out, headers.len() as i32);
        for (k, v) in headers {
            put_varint(out, k.len() as i32);
            out.extend_from_slice(k.as_bytes());
            put_bytes(out, *v);
        }
        self.count += 1;
        Ok(())
    }

    /// The header for a payload of `payload_len` bytes, CRC left zero.
    fn header(&self, payload_len: usize) -> Result<[u8; BATCH_HEADER_LEN]> {
        if payload_len > MAX_RECORDS_LEN {
            return Err(RecordError::BatchTooLarge {
                reason: "compressed record data beyond the 2 GiB batch length",
            });
        }
        let mut attributes = self.compression.id();
        if self.transactional {
            attributes |= Attributes::TRANSACTIONAL;
        }
        if self.control {
            attributes |= Attributes::CONTROL;
        }
        let length = (BATCH_HEADER_LEN - LOG_OVERHEAD + payload_len) as i32;
        let mut h = [0u8; BATCH_HEADER_LEN];
        h[0..8].copy_from_slice(&self.base_offset.to_be_bytes());
        h[8..12].copy_from_slice(&length.to_be_bytes());
        h[12..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        h[16] = MAGIC as u8;
        h[21..23].copy_from_slice(&attributes.to_be_bytes());
        h[23..27].copy_from_slice(&(self.count - 1).to_be_bytes()); // last offset delta
        h[27..35].copy_from_slice(&self.base_timestamp.to_be_bytes());
        h[35..43].copy_from_slice(&self.max_timestamp.to_be_bytes());
        h[43..51].copy_from_slice(&self.producer_id.to_be_bytes());
        h[51..53].copy_from_slice(&self.producer_epoch.to_be_bytes());
        h[53..57].copy_from_slice(&self.base_sequence.to_be_bytes());
        h[57..61].copy_from_slice(&self.count.to_be_bytes());
        Ok(h)
    }

    /// Compresses the records into `self.scratch` (header first) and completes the batch there.
    fn build_compressed(&mut self) -> Result<()> {
        self.scratch.clear();
        self.scratch.extend_from_slice(&[0; BATCH_HEADER_LEN]);
        self.compressor.compress(
            self.compression,
            &self.records[BATCH_HEADER_LEN..],
            &mut self.scratch,
        )?;
        let header = self.header(self.scratch.len() - BATCH_HEADER_LEN)?;
        self.scratch[..BATCH_HEADER_LEN].copy_from_slice(&header);
        seal(&mut self.scratch);
        Ok(())
    }

    fn reset(&mut self) {
        self.records.truncate(BATCH_HEADER_LEN);
        self.count = 0;
        self.max_timestamp = -1;
    }

    /// Writes the batch onto the end of `dst` and resets the builder for the next batch (codec
    /// and producer fields are kept). Returns the batch's size in bytes.
    pub fn finish_into(&mut self, dst: &mut BytesMut) -> Result<usize> {
        if self.count == 0 {
            return Err(RecordError::EmptyBatch);
        }
        let batch: &[u8] = if self.compression == Compression::None {
            let header = self.header(self.records.len() - BATCH_HEADER_LEN)?;
            self.records[..BATCH_HEADER_LEN].copy_from_slice(&header);
            seal(&mut self.records);
            &self.records
        } else {
            self.build_compressed()?;
            &self.scratch
        };
        dst.extend_from_slice(batch);
        let n = batch.len();
        self.reset();
        Ok(n)
    }

    /// Builds the batch into a new buffer and resets the builder. An uncompressed batch is
    /// handed over without a copy (the records were written after room for its header).
    pub fn finish(&mut self) -> Result<Bytes> {
        if self.count == 0 {
            return Err(RecordError::EmptyBatch);
        }
        let out = if self.compression == Compression::None {
            let header = self.header(self.records.len() - BATCH_HEADER_LEN)?;
            self.records[..BATCH_HEADER_LEN].copy_from_slice(&header);
            seal(&mut self.records);
            // The next batch is likely as large as this one.
            let mut next = Vec::with_capacity(self.records.capacity());
            next.extend_from_slice(&[0; BATCH_HEADER_LEN]);
            std::mem::replace(&mut self.records, next)
        } else {
            self.build_compressed()?;
            self.scratch.clone()
        };
        self.reset();
        Ok(Bytes::from(out))
    }
}

/// Fills in the CRC of the complete batch in `batch`.
fn seal(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

#[inline(always)]
fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
        None => put_varint(out, -1),
    }
}

/// The fields of a control batch holding one transaction marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlBatch {
    /// COMMIT or ABORT.
    pub kind: ControlRecordType,
    /// Offset of the marker.
    pub offset: i64,
    /// The transactional producer.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The transaction coordinator's epoch.
    pub coordinator_epoch: i32,
    /// Partition leader epoch.
    pub partition_leader_epoch: i32,
    /// The marker's timestamp.
    pub timestamp: i64,
}

impl ControlBatch {
    /// Encodes the marker as the broker writes it: a transactional control batch with one record
    /// (key: version 0 and type; value: version 0 and coordinator epoch), uncompressed.
    pub fn encode(&self) -> Result<Bytes> {
        let mut b = BatchBuilder::new(Compression::None);
        b.set_base_offset(self.offset)
            .set_partition_leader_epoch(self.partition_leader_epoch)
            .set_producer(self.producer_id, self.producer_epoch, -1)
            .set_transactional(true);
        b.control = true;
        b.append(
            self.timestamp,
            Some(&control_key(self.kind)),
            Some(&marker_value(self.coordinator_epoch)),
            &[],
        )?;
        b.finish()
    }
}
