//! The async Kafka client of laminar-kafka, on tokio.
//!
//! It owns sockets and everything stateful above the wire: connections, authentication,
//! metadata, producing, consuming and administration. Message encoding lives in
//! [`laminar_kafka_protocol`].

pub use laminar_kafka_protocol as protocol;

pub mod sasl;
