//! Kafka error codes as data: what each code means for the caller.
//!
//! Every response carries `i16` error codes. This module is the one place that knows whether a
//! code is retriable, asks for fresh metadata, is fatal, or aborts a transaction; the rest of the
//! client asks [`KafkaCode`] instead of matching codes itself.

use std::fmt;

use laminar_kafka_protocol::messages::error::ResponseError;

/// A non-zero error code returned by a broker.
///
/// ```
/// use laminar_kafka_client::kafka_error::KafkaCode;
///
/// let code = KafkaCode::from_code(6).expect("6 is an error");
/// assert_eq!(code.name(), "NotLeaderOrFollower");
/// assert!(code.is_retriable() && code.needs_metadata_refresh());
/// assert!(KafkaCode::from_code(0).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KafkaCode(ResponseError);

/// Codes after which the client's view of the cluster is stale: refresh metadata, then retry.
const METADATA_CODES: &[i16] = &[
    3,   // UNKNOWN_TOPIC_OR_PARTITION
    5,   // LEADER_NOT_AVAILABLE
    6,   // NOT_LEADER_OR_FOLLOWER
    9,   // REPLICA_NOT_AVAILABLE
    74,  // FENCED_LEADER_EPOCH
    75,  // UNKNOWN_LEADER_EPOCH
    100, // UNKNOWN_TOPIC_ID
    103, // INCONSISTENT_TOPIC_ID
    129, // REBOOTSTRAP_REQUIRED
];

impl KafkaCode {
    /// The error for `code`, or `None` for 0 (no error).
    pub fn from_code(code: i16) -> Option<Self> {
        ResponseError::try_from_code(code).map(Self)
    }

    /// `Ok(())` for 0, the error otherwise.
    pub fn check(code: i16) -> Result<(), Self> {
        match Self::from_code(code) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The numeric code.
    pub fn code(&self) -> i16 {
        self.0.code()
    }

    /// The code's name as Kafka spells it in CamelCase (`NotLeaderOrFollower`), or `Unknown`.
    pub fn name(&self) -> &'static str {
        match self.0 {
            ResponseError::Unknown(_) => "Unknown",
            other => name_of(other),
        }
    }

    /// Whether Kafka declares the error retriable (the same request may succeed later).
    pub fn is_retriable(&self) -> bool {
        self.0.is_retriable() || matches!(self.code(), 74 | 75 | 100 | 103)
    }

    /// Whether the client should refresh its metadata before retrying.
    pub fn needs_metadata_refresh(&self) -> bool {
        METADATA_CODES.contains(&self.code())
    }

    /// Whether the client should look up the group or transaction coordinator again.
    pub fn needs_coordinator_refresh(&self) -> bool {
        matches!(self.code(), 15 | 16) // COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
    }

    /// The underlying generated error value.
    pub fn as_response_error(&self) -> ResponseError {
        self.0
    }
}

fn name_of(e: ResponseError) -> &'static str {
    // `ResponseError`'s Display writes the variant name; keep a static copy per code.
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static NAMES: OnceLock<HashMap<i16, &'static str>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        (-1i16..=200)
            .filter_map(|c| ResponseError::try_from_code(c).map(|e| (c, e)))
            .filter(|(_, e)| !matches!(e, ResponseError::Unknown(_)))
            .map(|(c, e)| (c, &*Box::leak(e.to_string().into_boxed_str())))
            .collect()
    });
    names.get(&e.code()).copied().unwrap_or("Unknown")
}

impl fmt::Debug for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.code())
    }
}

impl fmt::Display for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error code {})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_kafka() {
        let nl = KafkaCode::from_code(6).unwrap();
        assert!(nl.is_retriable() && nl.needs_metadata_refresh());
        let oor = KafkaCode::from_code(1).unwrap();
        assert_eq!(oor.name(), "OffsetOutOfRange");
        assert!(!oor.is_retriable() && !oor.needs_metadata_refresh());
        let not_enough = KafkaCode::from_code(19).unwrap();
        assert!(not_enough.is_retriable() && !not_enough.needs_metadata_refresh());
        let fenced = KafkaCode::from_code(74).unwrap();
        assert!(fenced.is_retriable() && fenced.needs_metadata_refresh());
        assert!(
            KafkaCode::from_code(16)
                .unwrap()
                .needs_coordinator_refresh()
        );
        assert_eq!(KafkaCode::check(0), Ok(()));
    }

    #[test]
    fn unknown_codes_are_kept_and_not_retriable() {
        let weird = KafkaCode::from_code(9999).unwrap();
        assert_eq!(weird.code(), 9999);
        assert_eq!(weird.name(), "Unknown");
        assert!(!weird.is_retriable());
        assert_eq!(weird.to_string(), "Unknown (error code 9999)");
    }
}
