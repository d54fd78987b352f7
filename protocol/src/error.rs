//! The protocol crate's error type.
//!
//! Every way bytes from the network can be wrong has its own variant, so that a caller can tell a
//! broker that speaks a different dialect (no version overlap) from a corrupt or hostile stream
//! (bad length, bad CRC) without parsing messages.

use crate::record::RecordError;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while framing, negotiating or decoding Kafka protocol data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame's size prefix is negative.
    #[error("frame size {size} is negative")]
    NegativeFrameSize {
        /// The size the prefix announced.
        size: i32,
    },

    /// A frame's size prefix exceeds the configured maximum; nothing was allocated for it.
    #[error("frame of {size} bytes exceeds the maximum frame size of {max} bytes")]
    FrameTooLarge {
        /// The size the prefix announced.
        size: usize,
        /// The configured maximum.
        max: usize,
    },

    /// A frame ended before its header was complete.
    #[error("frame of {len} bytes is too short for a {what}")]
    ShortFrame {
        /// What was being read.
        what: &'static str,
        /// The frame's length.
        len: usize,
    },

    /// A response arrived with a correlation id that no request is waiting for.
    #[error("response correlation id {got} does not match the expected {expected}")]
    CorrelationMismatch {
        /// The id the caller was waiting for.
        expected: i32,
        /// The id the response carried.
        got: i32,
    },

    /// The generated codec could not encode a message (a field out of range for the version).
    #[error("cannot encode {api} v{version}: {reason}")]
    Encode {
        /// The API being encoded.
        api: &'static str,
        /// The version it was encoded at.
        version: i16,
        /// The codec's explanation.
        reason: String,
    },

    /// A message body could not be decoded at the version it was sent with.
    #[error("cannot decode {api} v{version}: {reason}")]
    Decode {
        /// The API being decoded.
        api: &'static str,
        /// The version it was decoded at.
        version: i16,
        /// The codec's explanation.
        reason: String,
    },

    /// An array or string inside a message announces more elements than the frame could hold.
    #[error(
        "{api} v{version}: a length field announces {count} items but only {remaining} bytes remain"
    )]
    HostileLength {
        /// The API being decoded.
        api: &'static str,
        /// The version it was decoded at.
        version: i16,
        /// The announced number of items.
        count: u64,
        /// The bytes left in the frame at that point.
        remaining: usize,
    },

    /// The broker and this client have no version of an API in common.
    #[error(
        "no common version for {api}: the broker speaks v{broker_min}..=v{broker_max}, \
         this client v{client_min}..=v{client_max}"
    )]
    NoCommonVersion {
        /// The API's name.
        api: &'static str,
        /// Lowest version the broker speaks.
        broker_min: i16,
        /// Highest version the broker speaks.
        broker_max: i16,
        /// Lowest version this client speaks.
        client_min: i16,
        /// Highest version this client speaks.
        client_max: i16,
    },

    /// The broker does not offer an API at all.
    #[error("the broker does not support {api}")]
    UnsupportedApi {
        /// The API's name.
        api: &'static str,
    },

    /// A record batch could not be encoded or decoded.
    #[error(transparent)]
    Record(#[from] RecordError),
}
