//! Record batches (magic 2): decoding, encoding, compression and control records.

mod error;

pub use error::RecordError;
