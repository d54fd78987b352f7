//! The client crate's error type.
//!
//! Context travels with the error: which broker, which API, which topic and partition. Secrets
//! never do.

use std::time::Duration;

use crate::kafka_error::KafkaCode;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration property is unknown; the nearest known one is suggested.
    #[error("unknown configuration property `{name}`{}", suggestion_text(.suggestion))]
    UnknownProperty {
        /// The property as given.
        name: String,
        /// The closest known property, if one is close.
        suggestion: Option<&'static str>,
    },

    /// A configuration property has a value of the wrong type or out of range.
    #[error("invalid value for `{name}`: {reason}")]
    InvalidProperty {
        /// The property.
        name: String,
        /// What is wrong (never the value of a secret).
        reason: String,
    },

    /// The TCP connection to a broker could not be made.
    #[error("cannot connect to {broker}: {source}")]
    Connect {
        /// The broker address.
        broker: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The TCP connection (and handshake) did not complete in time.
    #[error("connecting to {broker} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The broker address.
        broker: String,
        /// The time allowed.
        timeout: Duration,
    },

    /// Reading or writing an established connection failed.
    #[error("I/O error on the connection to {broker}: {source}")]
    Io {
        /// The broker address.
        broker: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The connection closed while requests were waiting for their responses.
    #[error("the connection to {broker} closed{}", reason_text(.reason))]
    ConnectionClosed {
        /// The broker address.
        broker: String,
        /// Why, when known.
        reason: Option<String>,
    },

    /// A request got no response in time; the connection was closed, as the Java client does.
    #[error("{api} request to {broker} timed out after {timeout:?}")]
    RequestTimeout {
        /// The broker address.
        broker: String,
        /// The API of the request.
        api: &'static str,
        /// The time allowed.
        timeout: Duration,
    },

    /// TLS could not be set up (bad CA or key file) or its handshake failed.
    #[cfg(feature = "tls")]
    #[error("TLS with {broker}: {source}")]
    Tls {
        /// The broker address, or `(configuration)` when loading files failed.
        broker: String,
        /// What went wrong.
        source: crate::tls::TlsError,
    },

    /// SASL authentication failed (wrong credentials, unsupported mechanism, a broker that
    /// failed the mechanism's checks).
    #[error("SASL authentication with {broker}: {source}")]
    Sasl {
        /// The broker address.
        broker: String,
        /// What went wrong.
        source: crate::sasl::SaslError,
    },

    /// Bytes from the broker could not be framed or decoded, or no common API version exists.
    #[error("{broker}: {source}")]
    Protocol {
        /// The broker address.
        broker: String,
        /// The protocol error.
        source: laminar_kafka_protocol::Error,
    },

    /// A fetched record could not be parsed (its batch passed the CRC check).
    #[error("malformed record: {0}")]
    Record(#[from] laminar_kafka_protocol::record::RecordError),

    /// A broker answered with an error code.
    #[error("{api} failed{}: {code}{}", context_text(.context), message_text(.message))]
    Broker {
        /// The API that failed.
        api: &'static str,
        /// The Kafka error code.
        code: KafkaCode,
        /// Topic, partition or other context, if any.
        context: Option<String>,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },

    /// A record was not acknowledged within `delivery.timeout.ms`.
    #[error("record for {topic}-{partition} not delivered within {timeout:?}{}", reason_text(.last_error))]
    DeliveryTimeout {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// `delivery.timeout.ms`.
        timeout: Duration,
        /// The last error that made it retry.
        last_error: Option<String>,
    },

    /// A record is larger than `max.request.size` (or `buffer.memory`) allows.
    #[error("record of {size} bytes exceeds {limit_name} ({limit} bytes)")]
    RecordTooLarge {
        /// The record's encoded size.
        size: usize,
        /// The limit's property name.
        limit_name: &'static str,
        /// The limit.
        limit: usize,
    },

    /// `send` could not get buffer space or metadata within `max.block.ms`.
    #[error("send blocked for longer than max.block.ms ({timeout:?}): {reason}")]
    MaxBlock {
        /// `max.block.ms`.
        timeout: Duration,
        /// What it waited for.
        reason: String,
    },

    /// The producer cannot go on: fenced by a newer instance with the same `transactional.id`,
    /// not authorized, or its transactional state is lost. Close it (and create a new one).
    #[error("fatal producer error: {message}; close this producer")]
    ProducerFatal {
        /// What happened.
        message: String,
        /// The broker's error code that made the producer stop (PRODUCER_FENCED,
        /// TRANSACTIONAL_ID_AUTHORIZATION_FAILED…), on the error that reports it and on every
        /// later call that repeats that the producer stopped; `None` when no code caused it.
        code: Option<KafkaCode>,
    },

    /// The current transaction cannot commit: abort it, then a new one may start.
    #[error("the transaction must be aborted: {message}")]
    TransactionAbortable {
        /// What happened.
        message: String,
        /// The broker's error code that failed the transaction, on the error that reports it
        /// and on every later call that repeats the failure until the abort; `None` when no code
        /// caused it (a batch whose outcome is unknown, records dropped by the abort).
        code: Option<KafkaCode>,
    },

    /// A transactional call came in a state that does not allow it (e.g. `send` before
    /// `begin_transaction`).
    #[error("{operation} is not allowed while the transaction is {state}")]
    TransactionState {
        /// The call.
        operation: &'static str,
        /// The state the producer was in.
        state: &'static str,
    },

    /// The batches of one fetch response would decompress to more than the consumer allows
    /// for a whole response, before any of them could be returned (a hostile or corrupt
    /// broker's compression bomb).
    #[error(
        "fetch of {topic}-{partition} at offset {offset}: batches decompress to more than {limit} bytes"
    )]
    FetchDecompressedTooLarge {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The base offset of the batch that went over the limit.
        offset: i64,
        /// The limit for one fetch response, in decompressed bytes.
        limit: usize,
    },

    /// The partition's log was truncated below the consumer's position after a leader change
    /// (KIP-320) and `auto.offset.reset` is `none`: seek to go on.
    #[error(
        "the log of {topic}-{partition} was truncated: position {offset}, but the leader's log diverges from offset {end_offset}"
    )]
    LogTruncation {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The consumer's fetch position.
        offset: i64,
        /// The first offset known to diverge (the leader's end offset of the last fetched epoch).
        end_offset: i64,
    },

    /// The broker lacks what a feature the caller asked for needs: an API it does not offer (or
    /// offers at too old a version), or a protocol its configuration leaves off. Returned at the
    /// first call that needs the feature, never retried: change the configuration or upgrade the
    /// broker.
    #[error("{feature} is not supported by the broker at {broker}: {detail}")]
    UnsupportedByBroker {
        /// The feature, as the user asked for it (`group.protocol=consumer (KIP-848)`).
        feature: &'static str,
        /// The broker address.
        broker: String,
        /// What is missing (the API and the broker version that brings it, or the broker's
        /// answer) and what to do instead.
        detail: String,
    },

    /// Metadata names no broker with this node id.
    #[error("broker {node_id} is not in the cluster metadata")]
    UnknownBroker {
        /// The node id asked for.
        node_id: i32,
    },

    /// The client was closed.
    #[error("the client is closed")]
    Closed,
}

fn suggestion_text(s: &Option<&'static str>) -> String {
    s.map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

fn reason_text(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!(": {s}")).unwrap_or_default()
}

fn context_text(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!(" for {s}")).unwrap_or_default()
}

fn message_text(s: &Option<String>) -> String {
    s.as_ref()
        .filter(|m| !m.is_empty())
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

impl Error {
    /// Whether retrying the operation (possibly on a new connection) may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::ConnectTimeout { .. }
            | Error::Io { .. }
            | Error::ConnectionClosed { .. }
            | Error::RequestTimeout { .. } => true,
            Error::Broker { code, .. } => code.is_retriable(),
            _ => false,
        }
    }

    /// Whether the producer must be closed (see [`Error::ProducerFatal`]).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::ProducerFatal { .. })
    }

    /// Whether the current transaction must be aborted (see [`Error::TransactionAbortable`]).
    pub fn is_abortable(&self) -> bool {
        matches!(self, Error::TransactionAbortable { .. })
    }

    /// A copy of this error for another record of the same failed batch. Variants that hold
    /// non-cloneable sources (I/O, TLS, SASL, protocol) keep their kind and message.
    pub fn duplicate(&self) -> Error {
        match self {
            Error::UnknownProperty { name, suggestion } => Error::UnknownProperty {
                name: name.clone(),
                suggestion: *suggestion,
            },
            Error::InvalidProperty { name, reason } => Error::InvalidProperty {
                name: name.clone(),
                reason: reason.clone(),
            },
            Error::Connect { broker, source } => Error::Connect {
                broker: broker.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::ConnectTimeout { broker, timeout } => Error::ConnectTimeout {
                broker: broker.clone(),
                timeout: *timeout,
            },
            Error::Io { broker, source } => Error::Io {
                broker: broker.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::ConnectionClosed { broker, reason } => Error::ConnectionClosed {
                broker: broker.clone(),
                reason: reason.clone(),
            },
            Error::RequestTimeout {
                broker,
                api,
                timeout,
            } => Error::RequestTimeout {
                broker: broker.clone(),
                api,
                timeout: *timeout,
            },
            Error::Broker {
                api,
                code,
                context,
                message,
            } => Error::Broker {
                api,
                code: *code,
                context: context.clone(),
                message: message.clone(),
            },
            Error::DeliveryTimeout {
                topic,
                partition,
                timeout,
                last_error,
            } => Error::DeliveryTimeout {
                topic: topic.clone(),
                partition: *partition,
                timeout: *timeout,
                last_error: last_error.clone(),
            },
            Error::RecordTooLarge {
                size,
                limit_name,
                limit,
            } => Error::RecordTooLarge {
                size: *size,
                limit_name,
                limit: *limit,
            },
            Error::MaxBlock { timeout, reason } => Error::MaxBlock {
                timeout: *timeout,
                reason: reason.clone(),
            },
            Error::ProducerFatal { message, code } => Error::ProducerFatal {
                message: message.clone(),
                code: *code,
            },
            Error::TransactionAbortable { message, code } => Error::TransactionAbortable {
                message: message.clone(),
                code: *code,
            },
            Error::TransactionState { operation, state } => {
                Error::TransactionState { operation, state }
            }
            Error::UnsupportedByBroker {
                feature,
                broker,
                detail,
            } => Error::UnsupportedByBroker {
                feature,
                broker: broker.clone(),
                detail: detail.clone(),
            },
            Error::UnknownBroker { node_id } => Error::UnknownBroker { node_id: *node_id },
            Error::Closed => Error::Closed,
            other => Error::ConnectionClosed {
                broker: String::new(),
                reason: Some(other.to_string()),
            },
        }
    }

    /// The Kafka error code, if the broker returned one: of a failed request, or the one that
    /// made the producer stop or the transaction fail (PRODUCER_FENCED and an authorization
    /// failure are both fatal; this tells them apart).
    pub fn kafka_code(&self) -> Option<KafkaCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            Error::ProducerFatal { code, .. } | Error::TransactionAbortable { code, .. } => *code,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_and_abortable_errors_keep_their_kafka_code() {
        let fenced = Error::ProducerFatal {
            message: "fenced".to_owned(),
            code: Some(KafkaCode::PRODUCER_FENCED),
        };
        let refused = Error::ProducerFatal {
            message: "refused".to_owned(),
            code: Some(KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        };
        assert!(fenced.is_fatal() && refused.is_fatal());
        assert_eq!(fenced.kafka_code(), Some(KafkaCode::PRODUCER_FENCED));
        assert_ne!(fenced.kafka_code(), refused.kafka_code());
        assert_eq!(
            fenced.duplicate().kafka_code(),
            Some(KafkaCode::PRODUCER_FENCED),
            "a copy for another record keeps the code"
        );

        let abortable = Error::TransactionAbortable {
            message: "out of order".to_owned(),
            code: Some(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        };
        assert!(abortable.is_abortable() && !abortable.is_retriable());
        assert_eq!(
            abortable.duplicate().kafka_code(),
            Some(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        let repeated = Error::TransactionAbortable {
            message: "the transaction was aborted".to_owned(),
            code: None,
        };
        assert_eq!(repeated.kafka_code(), None);
        assert_eq!(
            fenced.to_string(),
            "fatal producer error: fenced; close this producer",
            "the code does not change the message"
        );
    }
}
