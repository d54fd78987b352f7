//! The errors of the fake cluster's control API.
//!
//! Errors that a *client* causes (a malformed frame, an unknown API) never surface here: the fake
//! closes that connection, as a broker does, and records a [`ProtocolViolation`](crate::ProtocolViolation)
//! that a test can inspect.

use laminar_kafka_protocol::record::RecordError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong when starting or steering a fake cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A broker's listener could not be bound on 127.0.0.1.
    #[error("broker {broker}: cannot listen on 127.0.0.1: {source}")]
    Bind {
        /// The broker's node id.
        broker: i32,
        /// The socket error.
        source: std::io::Error,
    },
    /// The cluster was configured in a way that cannot work.
    #[error("invalid fake cluster configuration: {reason}")]
    InvalidConfig {
        /// Why.
        reason: String,
    },
    /// The topic does not exist.
    #[error("unknown topic `{topic}`")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// The topic exists but not this partition.
    #[error("unknown partition {topic}-{partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// No broker has this node id.
    #[error("unknown broker {broker}")]
    UnknownBroker {
        /// The node id.
        broker: i32,
    },
    /// A topic of that name already exists.
    #[error("topic `{topic}` already exists")]
    TopicExists {
        /// The topic.
        topic: String,
    },
    /// A batch in a partition's log could not be decoded (only when reading the log back).
    #[error("{topic}-{partition}, batch at offset {offset}: {source}")]
    Record {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Base offset of the batch.
        offset: i64,
        /// The decoding error.
        source: RecordError,
    },
}
