//! Record batches (magic 2): decoding, encoding, compression and control records.
//!
//! # Decoding
//!
//! - [`batches(records, options)`](batches) splits a fetch response partition's `records`
//!   bytes into [`RecordBatch`]es, lazily, stopping quietly at a partial batch at the end
//!   ([`Batches::partial_tail`] tells). Each batch's CRC-32C is verified as it is reached
//!   (unless [`DecodeOptions::verify_crc`] is off). [`RecordBatch::decode`] reads exactly one
//!   batch (a produce request's).
//! - A [`RecordBatch`] exposes its header (offsets, producer id/epoch/sequence, flags) without
//!   touching the records. [`RecordBatch::next_offset`] (`base_offset + last_offset_delta + 1`)
//!   is where the next fetch continues, also for empty batches. A batch may start below the
//!   fetch offset: compare [`Record::offset`] with it and skip the records below.
//! - [`RecordBatch::records`] decompresses if needed (into one buffer, bounded by
//!   [`DecodeOptions::max_decompressed_size`]) and returns [`Records`]; [`Records::iter`] yields
//!   [`Record`] views lazily. A record's key, value and headers are `&[u8]` slices of that buffer;
//!   [`Record::key_bytes`]/[`Record::value_bytes`] give `Bytes` sharing it. Nothing is allocated
//!   per record. LZ4 and zstd batches decompress into a buffer from a small process-wide pool,
//!   which goes back to the pool once the last view of it is dropped, so that decoding batch
//!   after batch does not allocate (nor page-fault) a fresh buffer each time.
//! - Control batches ([`RecordBatch::is_control`]) hold control records:
//!   [`ControlRecord::parse`] reads ABORT/COMMIT markers and exposes other types as
//!   [`ControlRecordType::Unknown`].
//!
//! ```
//! use laminar_kafka_protocol::record::{BatchBuilder, Compression, DecodeOptions, batches};
//!
//! # let mut b = BatchBuilder::new(Compression::None);
//! # b.append(10, Some(b"k"), Some(b"v"), &[("h", None), ("h", Some(b"2"))])?;
//! # let fetched_records = b.finish()?;
//! let fetch_offset = 0;
//! for batch in batches(fetched_records, DecodeOptions::default()) {
//!     let batch = batch?;
//!     if batch.is_control() {
//!         continue; // advance past markers (read_committed filtering uses them)
//!     }
//!     for record in &batch.records()? {
//!         let record = record?;
//!         if record.offset() < fetch_offset {
//!             continue;
//!         }
//!         let headers: Vec<_> = record.headers().map(|h| h.key_str()).collect::<Result<_, _>>()?;
//!         assert_eq!(headers, ["h", "h"]); // repeated keys are kept, in order
//!         assert_eq!(record.value(), Some(&b"v"[..]));
//!     }
//! }
//! # Ok::<(), laminar_kafka_protocol::record::RecordError>(())
//! ```
//!
//! # Encoding
//!
//! [`BatchBuilder`] appends records (timestamp, optional key and value, headers), then
//! [`BatchBuilder::finish`]/[`BatchBuilder::finish_into`] write the batch: deltas, lengths,
//! max timestamp, compression (once, of the whole record area) and CRC. Producer id, epoch, base
//! sequence and the transactional flag are set on the builder; it keeps its buffers between
//! batches. [`ControlBatch`] encodes commit/abort markers.
//!
//! # Errors
//!
//! Bad input is a typed [`RecordError`], never a panic: truncation, CRC mismatch, bad lengths,
//! varint overflow, record counts that disagree with the data, unknown or compiled-out codecs,
//! decompression beyond the limit, and magic 0/1 message sets (which Kafka 4 removed).

mod batch;
mod builder;
mod compression;
mod control;
mod error;
#[cfg(any(feature = "compression-lz4", feature = "compression-zstd"))]
mod pool;
mod varint;
mod view;

pub use batch::{
    Attributes, BATCH_HEADER_LEN, BatchHeader, Batches, DEFAULT_MAX_DECOMPRESSED_SIZE,
    DecodeOptions, LOG_OVERHEAD, MAGIC, MIN_BATCH_LENGTH, RecordBatch, TimestampType, batches,
};
pub use builder::{BatchBuilder, ControlBatch, HeaderRef};
pub use compression::Compression;
pub use control::{ControlRecord, ControlRecordType};
pub use error::RecordError;
pub use view::{Header, Headers, Record, RecordIter, Records};
