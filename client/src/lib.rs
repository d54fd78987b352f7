//! The async Kafka client of laminar-kafka, on tokio.
//!
//! It owns sockets and everything stateful above the wire: connections, authentication,
//! metadata, producing, consuming and administration. Message encoding lives in
//! [`laminar_kafka_protocol`].

pub mod admin;
#[cfg(feature = "aws-msk-iam")]
pub mod aws;
pub mod backoff;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod kafka_error;
pub mod log_targets;
pub mod metadata;
pub mod offsets;
pub mod producer;
pub mod sasl;
pub mod secret;
pub mod security;
pub mod stats;
#[cfg(feature = "tls")]
pub mod tls;

pub use error::{Error, Result};
pub use laminar_kafka_protocol as protocol;
