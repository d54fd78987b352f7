//! Errors of the record-batch codec.
//!
//! Every way a batch can be malformed has its own variant, so that a consumer can tell corruption
//! (a CRC mismatch) from a broker speaking an older format (magic 0/1) or a payload that would
//! decompress to more than the caller allows.

use super::compression::Compression;

/// What can be wrong with a record batch, while decoding or encoding it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The buffer ended inside a batch or record.
    #[error("record data truncated: needed {needed} bytes at {what}, {available} available")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },

    /// The batch uses a message format other than magic 2 (Kafka 4 removed magic 0 and 1).
    #[error("unsupported message format (magic {magic})")]
    UnsupportedMagic {
        /// The magic byte found.
        magic: i8,
    },

    /// The CRC-32C stored in the batch header does not match the batch's bytes.
    #[error(
        "record batch at offset {base_offset}: CRC-32C mismatch, expected {expected:#010x}, computed {actual:#010x}"
    )]
    CrcMismatch {
        /// The batch's base offset (as written; it is outside the checksummed range).
        base_offset: i64,
        /// The CRC stored in the header.
        expected: u32,
        /// The CRC computed over the bytes.
        actual: u32,
    },

    /// A length field is negative (other than the -1 that means null) or larger than its
    /// container.
    #[error("invalid {what} length {length}")]
    InvalidLength {
        /// Which length field.
        what: &'static str,
        /// The value it holds.
        length: i64,
    },

    /// A varint ran past its maximum size (5 bytes for 32 bits, 10 for 64).
    #[error("varint too long at {what}")]
    VarintOverflow {
        /// Which field was being read.
        what: &'static str,
    },

    /// The records ended before the count in the batch header was reached.
    #[error("batch announces {expected} records but its data holds only {found}")]
    RecordCountMismatch {
        /// The count in the batch header.
        expected: i32,
        /// Records read before the data ran out.
        found: u32,
    },

    /// Bytes remain after the last record the header announced.
    #[error("{remaining} bytes left over after the {count} records the batch announces")]
    TrailingBytes {
        /// The count in the batch header.
        count: i32,
        /// The bytes left over.
        remaining: usize,
    },

    /// A record's fields do not add up to its length prefix.
    #[error(
        "record at offset delta {offset_delta} declares {declared} bytes but its fields use {used}"
    )]
    RecordLengthMismatch {
        /// The record's offset delta.
        offset_delta: i32,
        /// The length prefix.
        declared: usize,
        /// The bytes its fields actually take.
        used: usize,
    },

    /// The batch attributes name a compression codec Kafka does not define (5, 6 or 7).
    #[error("unknown compression codec {codec}")]
    UnknownCompression {
        /// The codec number from the attributes.
        codec: u8,
    },

    /// The batch uses a codec whose support was compiled out of this build.
    #[error("{codec} compression is not available: enable the `compression-{feature}` feature")]
    CompressionUnavailable {
        /// The codec.
        codec: Compression,
        /// The cargo feature that enables it.
        feature: &'static str,
    },

    /// Decompressing the batch would produce more bytes than the configured limit; decompression
    /// stopped at the limit.
    #[error("{codec} batch decompresses to more than the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The codec.
        codec: Compression,
        /// The limit from the decode options.
        limit: usize,
    },

    /// The compressed payload is corrupt or uses a framing feature we do not read.
    #[error("cannot decompress {codec} batch: {reason}")]
    Decompress {
        /// The codec.
        codec: Compression,
        /// What the decompressor reported.
        reason: String,
    },

    /// The compressor failed.
    #[error("cannot compress {codec} batch: {reason}")]
    Compress {
        /// The codec.
        codec: Compression,
        /// What the compressor reported.
        reason: String,
    },

    /// A control record's key or value is malformed.
    #[error("invalid control record: {reason}")]
    InvalidControlRecord {
        /// What is wrong.
        reason: &'static str,
    },

    /// A header key is not UTF-8 (keys are strings in Kafka's schema).
    #[error("header key is not valid UTF-8: {0}")]
    InvalidHeaderKey(#[from] std::str::Utf8Error),

    /// A batch being built exceeds what the format can express.
    #[error("batch too large: {reason}")]
    BatchTooLarge {
        /// Which limit was crossed.
        reason: &'static str,
    },

    /// A batch with no records was about to be built; Kafka rejects those in produce requests.
    #[error("cannot build a batch without records")]
    EmptyBatch,
}

/// `Result` with [`RecordError`] as its error.
pub(crate) type Result<T, E = RecordError> = std::result::Result<T, E>;

/// The error for reading `needed` bytes at `what` when `available` remain. Out of line: the hot
/// path only pays for the branch.
#[cold]
#[inline(never)]
pub(crate) fn truncated(what: &'static str, needed: usize, available: usize) -> RecordError {
    RecordError::Truncated {
        what,
        needed,
        available,
    }
}
