//! Errors of the record-batch codec.

/// What can be wrong with a record batch.
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
}
