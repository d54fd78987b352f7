//! Record batches (magic 2): the 61-byte header, CRC-32C, and splitting a `records` field into
//! batches.
//!
//! Owns the batch framing and header fields. It does not parse records (that is
//! [`view`](super::view)) and does not decompress them until asked ([`RecordBatch::records`]).

use bytes::Bytes;

use super::compression::{self, Compression};
use super::error::{RecordError, Result, truncated};
use super::view::Records;

/// Bytes before a batch's `length` field counts: baseOffset (8) and length (4).
pub const LOG_OVERHEAD: usize = 12;
/// Size of a magic-2 batch header, from baseOffset through recordCount.
pub const BATCH_HEADER_LEN: usize = 61;
/// The smallest valid value of a batch's `length` field (a header with no records).
pub const MIN_BATCH_LENGTH: usize = BATCH_HEADER_LEN - LOG_OVERHEAD;
/// Offset of the magic byte in a batch (the same in every message format).
pub(crate) const MAGIC_OFFSET: usize = 16;
/// Offset of the CRC field.
pub(crate) const CRC_OFFSET: usize = 17;
/// Start of the CRC-32C-covered range: the attributes.
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;
/// The only message format this codec reads and writes.
pub const MAGIC: i8 = 2;
/// The default limit on the decompressed size of one batch: 256 MiB.
///
/// The broker's `message.max.bytes` (1 MiB by default) bounds a compressed batch; Kafka itself sets
/// no limit on the decompressed size. A batch of highly compressible records can legitimately
/// expand a hundredfold, so the default leaves room for that while keeping a hostile or corrupt
/// batch from exhausting memory. Consumers that know their data can set a tighter limit.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 256 * 1024 * 1024;

/// How batches are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Verify each batch's CRC-32C before returning it (on by default, like the Java client's
    /// `check.crcs`).
    pub verify_crc: bool,
    /// The most bytes one batch may decompress to; more is [`RecordError::DecompressedTooLarge`]
    /// and nothing beyond the limit is allocated.
    pub max_decompressed_size: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            verify_crc: true,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
        }
    }
}

impl DecodeOptions {
    /// Sets whether CRCs are verified.
    pub fn with_verify_crc(mut self, verify: bool) -> Self {
        self.verify_crc = verify;
        self
    }

    /// Sets the decompressed-size limit.
    pub fn with_max_decompressed_size(mut self, limit: usize) -> Self {
        self.max_decompressed_size = limit;
        self
    }
}

/// What a record's timestamp means (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker when appending; every record's timestamp is the batch's max timestamp.
    LogAppendTime,
}

/// The batch attributes field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Attributes(pub i16);

impl Attributes {
    /// Bit 3: log-append time.
    pub const TIMESTAMP_TYPE: i16 = 1 << 3;
    /// Bit 4: part of a transaction.
    pub const TRANSACTIONAL: i16 = 1 << 4;
    /// Bit 5: holds control records.
    pub const CONTROL: i16 = 1 << 5;
    /// Bit 6: the base timestamp is a delete horizon (set by log compaction).
    pub const DELETE_HORIZON: i16 = 1 << 6;

    /// The compression codec (bits 0–2); codes 5–7 are [`RecordError::UnknownCompression`].
    pub fn compression(self) -> Result<Compression> {
        Compression::from_attributes(self.0)
    }

    /// The timestamp type (bit 3).
    pub fn timestamp_type(self) -> TimestampType {
        if self.0 & Self::TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch is transactional (bit 4).
    pub fn is_transactional(self) -> bool {
        self.0 & Self::TRANSACTIONAL != 0
    }

    /// Whether the batch holds control records (bit 5).
    pub fn is_control(self) -> bool {
        self.0 & Self::CONTROL != 0
    }

    /// Whether the base timestamp holds a delete horizon (bit 6).
    pub fn has_delete_horizon(self) -> bool {
        self.0 & Self::DELETE_HORIZON != 0
    }
}

/// The fields of a magic-2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record (the batch's records carry deltas from it).
    pub base_offset: i64,
    /// Bytes after the length field: `12 + length` is the whole batch.
    pub length: i32,
    /// Leader epoch of the partition when the batch was appended (-1 from producers).
    pub partition_leader_epoch: i32,
    /// Message format; always 2 here.
    pub magic: i8,
    /// CRC-32C of attributes through the end of the batch.
    pub crc: u32,
    /// Codec, timestamp type and flags.
    pub attributes: Attributes,
    /// Offset delta of the last record, kept even when compaction removed it.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon when that attribute is set).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Parses the 61-byte header at the start of `b` (no CRC check, no length check).
    pub fn parse(b: &[u8]) -> Result<Self> {
        let Some(h) = b.first_chunk::<BATCH_HEADER_LEN>() else {
            return Err(truncated("batch header", BATCH_HEADER_LEN, b.len()));
        };
        let i64_at = |o: usize| i64::from_be_bytes(h[o..o + 8].try_into().unwrap_or([0; 8]));
        let i32_at = |o: usize| i32::from_be_bytes(h[o..o + 4].try_into().unwrap_or([0; 4]));
        let i16_at = |o: usize| i16::from_be_bytes([h[o], h[o + 1]]);
        Ok(Self {
            base_offset: i64_at(0),
            length: i32_at(8),
            partition_leader_epoch: i32_at(12),
            magic: h[16] as i8,
            crc: i32_at(17) as u32,
            attributes: Attributes(i16_at(21)),
            last_offset_delta: i32_at(23),
            base_timestamp: i64_at(27),
            max_timestamp: i64_at(35),
            producer_id: i64_at(43),
            producer_epoch: i16_at(51),
            base_sequence: i32_at(53),
            record_count: i32_at(57),
        })
    }

    /// Offset of the last record: `base_offset + last_offset_delta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// The offset after this batch, where the next fetch continues:
    /// `base_offset + last_offset_delta + 1`, even when compaction left the batch empty.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }
}

/// One magic-2 batch: its verified header and its wire bytes. Records are decoded lazily by
/// [`RecordBatch::records`].
#[derive(Debug, Clone)]
pub struct RecordBatch {
    bytes: Bytes,
    header: BatchHeader,
    compression: Compression,
    max_decompressed_size: usize,
}

/// Checks the framing of the batch at the start of `buf`: returns its total size, or `None` if
/// `buf` holds only part of it.
fn frame_len(buf: &[u8]) -> Result<Option<usize>> {
    let Some(prefix) = buf.get(..LOG_OVERHEAD) else {
        return Ok(None);
    };
    let length = i32::from_be_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
    if length < 0 {
        return Err(RecordError::InvalidLength {
            what: "batch",
            length: i64::from(length),
        });
    }
    if let Some(&magic) = buf.get(MAGIC_OFFSET) {
        if magic as i8 != MAGIC && (length as usize) > MAGIC_OFFSET - LOG_OVERHEAD {
            return Err(RecordError::UnsupportedMagic { magic: magic as i8 });
        }
    }
    if (length as usize) < MIN_BATCH_LENGTH {
        return Err(RecordError::InvalidLength {
            what: "batch",
            length: i64::from(length),
        });
    }
    let total = LOG_OVERHEAD + length as usize;
    Ok((buf.len() >= total).then_some(total))
}

impl RecordBatch {
    /// Decodes exactly one batch from `bytes` (as in a produce request's `records` field):
    /// a partial batch is [`RecordError::Truncated`] and bytes after it are
    /// [`RecordError::TrailingBytes`].
    pub fn decode(bytes: Bytes, options: &DecodeOptions) -> Result<Self> {
        let Some(total) = frame_len(&bytes)? else {
            let needed = match bytes.get(8..12) {
                Some(l) => LOG_OVERHEAD + i32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize,
                None => LOG_OVERHEAD,
            };
            return Err(truncated("record batch", needed, bytes.len()));
        };
        if total != bytes.len() {
            return Err(RecordError::TrailingBytes {
                count: 1,
                remaining: bytes.len() - total,
            });
        }
        Self::from_frame(bytes, options)
    }

    /// Builds a batch from exactly its bytes, whose framing `frame_len` has checked.
    fn from_frame(bytes: Bytes, options: &DecodeOptions) -> Result<Self> {
        let header = BatchHeader::parse(&bytes)?;
        if options.verify_crc {
            let actual = crc32c::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
            if actual != header.crc {
                return Err(RecordError::CrcMismatch {
                    base_offset: header.base_offset,
                    expected: header.crc,
                    actual,
                });
            }
        }
        let compression = header.attributes.compression()?;
        if header.record_count < 0 {
            return Err(RecordError::InvalidLength {
                what: "record count",
                length: i64::from(header.record_count),
            });
        }
        Ok(Self {
            bytes,
            header,
            compression,
            max_decompressed_size: options.max_decompressed_size,
        })
    }

    /// The header fields.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The whole batch as it was on the wire (12 + length bytes).
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The batch's compression codec.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    /// Offset of the last record (`base_offset + last_offset_delta`).
    pub fn last_offset(&self) -> i64 {
        self.header.last_offset()
    }

    /// Where the next fetch continues: `last_offset() + 1`.
    pub fn next_offset(&self) -> i64 {
        self.header.next_offset()
    }

    /// The number of records the header announces.
    pub fn record_count(&self) -> u32 {
        self.header.record_count as u32
    }

    /// Whether the batch holds no records (log compaction can leave such batches).
    pub fn is_empty(&self) -> bool {
        self.header.record_count == 0
    }

    /// The timestamp type.
    pub fn timestamp_type(&self) -> TimestampType {
        self.header.attributes.timestamp_type()
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.header.attributes.is_transactional()
    }

    /// Whether the batch holds control records (transaction markers): consumers skip its
    /// records but advance past them.
    pub fn is_control(&self) -> bool {
        self.header.attributes.is_control()
    }

    /// The delete horizon set by log compaction, if any (it is stored in the base timestamp).
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        self.header
            .attributes
            .has_delete_horizon()
            .then_some(self.header.base_timestamp)
    }

    /// The producer id (-1 if none).
    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }

    /// The producer epoch (-1 if none).
    pub fn producer_epoch(&self) -> i16 {
        self.header.producer_epoch
    }

    /// The base sequence (-1 if none).
    pub fn base_sequence(&self) -> i32 {
        self.header.base_sequence
    }

    /// The partition leader epoch (-1 from producers).
    pub fn partition_leader_epoch(&self) -> i32 {
        self.header.partition_leader_epoch
    }

    /// The largest timestamp in the batch.
    pub fn max_timestamp(&self) -> i64 {
        self.header.max_timestamp
    }

    /// The records, decompressing them first if the batch is compressed (into one buffer, at most
    /// the decode options' limit; for LZ4 and zstd, a pooled one that returns to the pool when
    /// the last view of the records is dropped). Iterate them with [`Records::iter`].
    pub fn records(&self) -> Result<Records> {
        let header = &self.header;
        if self.compression == Compression::None {
            return Ok(Records::new(self.bytes.clone(), BATCH_HEADER_LEN, header));
        }
        let payload = &self.bytes[BATCH_HEADER_LEN..];
        let data =
            compression::decompress_bytes(self.compression, payload, self.max_decompressed_size)?;
        Ok(Records::new(data, 0, header))
    }
}

/// Splits a `records` field (a fetch response partition's, or a log segment's) into batches,
/// lazily: each call to `next` frames, checks and returns one batch.
///
/// Iteration stops quietly at a partial batch at the end (the broker cuts responses at
/// `max.bytes`); [`Batches::partial_tail`] says whether that happened. The first error ends the
/// iteration.
///
/// ```
/// use laminar_kafka_protocol::record::{BatchBuilder, Compression, DecodeOptions, batches};
///
/// let mut builder = BatchBuilder::new(Compression::None);
/// builder.append(1_700_000_000_000, Some(b"k"), Some(b"v"), &[])?;
/// let batch = builder.finish()?;
/// // Add the first 20 bytes of a second batch, as a fetch response cut at max.bytes would.
/// let mut wire = batch.to_vec();
/// wire.extend_from_slice(&batch[..20]);
///
/// let mut iter = batches(wire.into(), DecodeOptions::default());
/// let first = iter.next().expect("one whole batch")?;
/// assert_eq!(first.next_offset(), 1);
/// assert!(iter.next().is_none());
/// assert_eq!(iter.partial_tail(), 20);
/// # Ok::<(), laminar_kafka_protocol::record::RecordError>(())
/// ```
pub fn batches(records: Bytes, options: DecodeOptions) -> Batches {
    Batches {
        buf: records,
        pos: 0,
        options,
        done: false,
    }
}

/// The iterator returned by [`batches`].
#[derive(Debug, Clone)]
pub struct Batches {
    buf: Bytes,
    pos: usize,
    options: DecodeOptions,
    done: bool,
}

impl Batches {
    /// Bytes left at the end that do not form a whole batch (0 until iteration reaches the end,
    /// or when the data ended on a batch boundary).
    pub fn partial_tail(&self) -> usize {
        if self.done {
            self.buf.len() - self.pos
        } else {
            0
        }
    }

    /// The position of the next batch in the `records` bytes.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for Batches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = &self.buf[self.pos..];
        match frame_len(rest) {
            Ok(Some(total)) => {
                let frame = self.buf.slice(self.pos..self.pos + total);
                match RecordBatch::from_frame(frame, &self.options) {
                    Ok(batch) => {
                        self.pos += total;
                        Some(Ok(batch))
                    }
                    Err(e) => {
                        self.done = true;
                        Some(Err(e))
                    }
                }
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Batches {}
