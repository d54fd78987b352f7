//! The Kafka wire protocol as laminar-kafka speaks it.
//!
//! Request and response messages are the ones generated from Kafka's own schemas by the
//! [`kafka_protocol`] crate (re-exported as [`messages`]). This crate builds what surrounds them:
//!
//! - [`frame`]: the 4-byte size prefix, request and response headers chosen per API version,
//!   correlation ids, and a maximum frame size checked before anything is allocated;
//! - [`versions`]: picking, per API, the highest version both the broker and we speak;
//! - [`record`]: the record-batch codec (magic 2) — zero-copy decoding over [`bytes::Bytes`],
//!   CRC32C, compression, control records, and the encoder used by produce requests.
//!
//! Nothing here performs I/O: the client crate owns sockets.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod record;
pub mod versions;

pub use error::{Error, Result};

/// The generated Kafka message types, re-exported so that users of this crate and of the client
/// agree on one version of them.
pub use kafka_protocol as messages;
