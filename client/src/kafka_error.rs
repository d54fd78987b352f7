//! Kafka error codes as data: what each code means for the caller.
//!
//! Every response carries `i16` error codes. This module is the one place that knows whether a
//! code is retriable, asks for fresh metadata, is fatal, or aborts a transaction; the rest of the
//! client asks [`KafkaCode`] instead of matching codes itself. A module that must treat one code
//! apart (DUPLICATE_SEQUENCE_NUMBER means "written before") compares it with the named
//! constant ([`KafkaCode::DUPLICATE_SEQUENCE_NUMBER`]), never with its number.

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

/// Names each code the client acts on, as Kafka spells it (`UNKNOWN_TOPIC_OR_PARTITION`), so
/// that no other module compares numbers.
macro_rules! named_codes {
    ($(($name:ident, $variant:ident, $code:literal)),* $(,)?) => {
        impl KafkaCode {
            $(
                #[doc = concat!("`", stringify!($name), "` (error code ", stringify!($code), ").")]
                pub const $name: KafkaCode = KafkaCode(ResponseError::$variant);
            )*
        }

        /// Every named code with the number Kafka gives it, to check the names against.
        #[cfg(test)]
        const NAMED: &[(KafkaCode, i16)] = &[$((KafkaCode::$name, $code)),*];
    };
}

named_codes! {
    (UNKNOWN_SERVER_ERROR, UnknownServerError, -1),
    (OFFSET_OUT_OF_RANGE, OffsetOutOfRange, 1),
    (UNKNOWN_TOPIC_OR_PARTITION, UnknownTopicOrPartition, 3),
    (LEADER_NOT_AVAILABLE, LeaderNotAvailable, 5),
    (NOT_LEADER_OR_FOLLOWER, NotLeaderOrFollower, 6),
    (REQUEST_TIMED_OUT, RequestTimedOut, 7),
    (REPLICA_NOT_AVAILABLE, ReplicaNotAvailable, 9),
    (MESSAGE_TOO_LARGE, MessageTooLarge, 10),
    (COORDINATOR_LOAD_IN_PROGRESS, CoordinatorLoadInProgress, 14),
    (COORDINATOR_NOT_AVAILABLE, CoordinatorNotAvailable, 15),
    (NOT_COORDINATOR, NotCoordinator, 16),
    (NOT_ENOUGH_REPLICAS, NotEnoughReplicas, 19),
    (NOT_ENOUGH_REPLICAS_AFTER_APPEND, NotEnoughReplicasAfterAppend, 20),
    (ILLEGAL_GENERATION, IllegalGeneration, 22),
    (INCONSISTENT_GROUP_PROTOCOL, InconsistentGroupProtocol, 23),
    (UNKNOWN_MEMBER_ID, UnknownMemberId, 25),
    (REBALANCE_IN_PROGRESS, RebalanceInProgress, 27),
    (TOPIC_AUTHORIZATION_FAILED, TopicAuthorizationFailed, 29),
    (GROUP_AUTHORIZATION_FAILED, GroupAuthorizationFailed, 30),
    (CLUSTER_AUTHORIZATION_FAILED, ClusterAuthorizationFailed, 31),
    (UNSUPPORTED_VERSION, UnsupportedVersion, 35),
    (OUT_OF_ORDER_SEQUENCE_NUMBER, OutOfOrderSequenceNumber, 45),
    (DUPLICATE_SEQUENCE_NUMBER, DuplicateSequenceNumber, 46),
    (INVALID_PRODUCER_EPOCH, InvalidProducerEpoch, 47),
    (INVALID_PRODUCER_ID_MAPPING, InvalidProducerIdMapping, 49),
    (INVALID_TRANSACTION_TIMEOUT, InvalidTransactionTimeout, 50),
    (CONCURRENT_TRANSACTIONS, ConcurrentTransactions, 51),
    (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, TransactionalIdAuthorizationFailed, 53),
    (OPERATION_NOT_ATTEMPTED, OperationNotAttempted, 55),
    (UNKNOWN_PRODUCER_ID, UnknownProducerId, 59),
    (FETCH_SESSION_ID_NOT_FOUND, FetchSessionIdNotFound, 70),
    (INVALID_FETCH_SESSION_EPOCH, InvalidFetchSessionEpoch, 71),
    (FENCED_LEADER_EPOCH, FencedLeaderEpoch, 74),
    (UNKNOWN_LEADER_EPOCH, UnknownLeaderEpoch, 75),
    (MEMBER_ID_REQUIRED, MemberIdRequired, 79),
    (FENCED_INSTANCE_ID, FencedInstanceId, 82),
    (UNSTABLE_OFFSET_COMMIT, UnstableOffsetCommit, 88),
    (PRODUCER_FENCED, ProducerFenced, 90),
    (UNKNOWN_TOPIC_ID, UnknownTopicId, 100),
    (INCONSISTENT_TOPIC_ID, InconsistentTopicId, 103),
    (FENCED_MEMBER_EPOCH, FencedMemberEpoch, 110),
    (UNRELEASED_INSTANCE_ID, UnreleasedInstanceId, 111),
    (STALE_MEMBER_EPOCH, StaleMemberEpoch, 113),
    (TRANSACTION_ABORTABLE, TransactionAbortable, 120),
    (REBOOTSTRAP_REQUIRED, RebootstrapRequired, 129),
}

/// Retriable although the protocol table of the generated messages did not always say so (the
/// leader-epoch and topic-id codes of KIP-320 and KIP-516, and CONCURRENT_TRANSACTIONS, which
/// Kafka's own client now treats as retriable).
const ALSO_RETRIABLE: &[KafkaCode] = &[
    // A produce under transaction protocol v2 adds its partition itself and gets this while
    // the previous transaction's markers are being written; the Java client retries it too.
    KafkaCode::CONCURRENT_TRANSACTIONS,
    KafkaCode::FENCED_LEADER_EPOCH,
    KafkaCode::UNKNOWN_LEADER_EPOCH,
    KafkaCode::UNKNOWN_TOPIC_ID,
    KafkaCode::INCONSISTENT_TOPIC_ID,
];

/// Codes after which the client's view of the cluster is stale: refresh metadata, then retry.
const METADATA_CODES: &[KafkaCode] = &[
    KafkaCode::UNKNOWN_TOPIC_OR_PARTITION,
    KafkaCode::LEADER_NOT_AVAILABLE,
    KafkaCode::NOT_LEADER_OR_FOLLOWER,
    KafkaCode::REPLICA_NOT_AVAILABLE,
    KafkaCode::FENCED_LEADER_EPOCH,
    KafkaCode::UNKNOWN_LEADER_EPOCH,
    KafkaCode::UNKNOWN_TOPIC_ID,
    KafkaCode::INCONSISTENT_TOPIC_ID,
    KafkaCode::REBOOTSTRAP_REQUIRED,
];

/// The coordinator is elsewhere (or nowhere yet): look it up again.
const COORDINATOR_MOVED_CODES: &[KafkaCode] = &[
    KafkaCode::COORDINATOR_NOT_AVAILABLE,
    KafkaCode::NOT_COORDINATOR,
];

/// The coordinator moved or is still loading its state.
const COORDINATOR_CODES: &[KafkaCode] = &[
    KafkaCode::COORDINATOR_LOAD_IN_PROGRESS,
    KafkaCode::COORDINATOR_NOT_AVAILABLE,
    KafkaCode::NOT_COORDINATOR,
];

/// The group membership a request claimed is gone or outdated.
const STALE_MEMBERSHIP_CODES: &[KafkaCode] = &[
    KafkaCode::ILLEGAL_GENERATION,
    KafkaCode::UNKNOWN_MEMBER_ID,
    KafkaCode::REBALANCE_IN_PROGRESS,
    KafkaCode::FENCED_INSTANCE_ID,
    KafkaCode::FENCED_MEMBER_EPOCH,
    KafkaCode::STALE_MEMBER_EPOCH,
];

/// A transactional producer cannot go on after these: fenced by a newer instance, not
/// authorized, or configured beyond what the broker accepts.
const FATAL_CODES: &[KafkaCode] = &[
    KafkaCode::INVALID_PRODUCER_EPOCH,
    KafkaCode::PRODUCER_FENCED,
    KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    KafkaCode::CLUSTER_AUTHORIZATION_FAILED,
    KafkaCode::INVALID_TRANSACTION_TIMEOUT,
    KafkaCode::UNSUPPORTED_VERSION,
    KafkaCode::INVALID_PRODUCER_ID_MAPPING,
];

/// A newer producer with the same identity took over.
const FENCED_PRODUCER_CODES: &[KafkaCode] = &[
    KafkaCode::INVALID_PRODUCER_EPOCH,
    KafkaCode::PRODUCER_FENCED,
];

/// The broker gives this client no producer id at all.
const PRODUCER_ID_DENIED_CODES: &[KafkaCode] = &[
    KafkaCode::CLUSTER_AUTHORIZATION_FAILED,
    KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
];

/// Retried by the transaction coordinator's calls besides what Kafka declares retriable.
const TXN_RETRIABLE_CODES: &[KafkaCode] = &[
    KafkaCode::CONCURRENT_TRANSACTIONS,
    KafkaCode::COORDINATOR_LOAD_IN_PROGRESS,
    KafkaCode::COORDINATOR_NOT_AVAILABLE,
    KafkaCode::NOT_COORDINATOR,
    KafkaCode::REQUEST_TIMED_OUT,
];

/// The broker's idempotence state for the producer is not the client's.
const SEQUENCE_STATE_CODES: &[KafkaCode] = &[
    KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
    KafkaCode::UNKNOWN_PRODUCER_ID,
];

/// A Produce answer the leader may give after appending the batch.
const MAYBE_WRITTEN_CODES: &[KafkaCode] = &[
    KafkaCode::REQUEST_TIMED_OUT,
    KafkaCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
];

/// The broker lost or refused the incremental fetch session.
const FETCH_SESSION_CODES: &[KafkaCode] = &[
    KafkaCode::FETCH_SESSION_ID_NOT_FOUND,
    KafkaCode::INVALID_FETCH_SESSION_EPOCH,
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
        self.0.is_retriable() || ALSO_RETRIABLE.contains(self)
    }

    /// Whether the client should refresh its metadata before retrying.
    pub fn needs_metadata_refresh(&self) -> bool {
        METADATA_CODES.contains(self)
    }

    /// Whether the client should look up the group or transaction coordinator again
    /// (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR).
    pub fn needs_coordinator_refresh(&self) -> bool {
        COORDINATOR_MOVED_CODES.contains(self)
    }

    /// Whether the coordinator moved, is not available, or is still loading
    /// (COORDINATOR_LOAD_IN_PROGRESS besides [`Self::needs_coordinator_refresh`]).
    pub fn is_coordinator_error(&self) -> bool {
        COORDINATOR_CODES.contains(self)
    }

    /// Whether the group membership the request claimed is gone or outdated (ILLEGAL_GENERATION,
    /// UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID, FENCED_MEMBER_EPOCH,
    /// STALE_MEMBER_EPOCH): retrying the same request cannot help until the member rejoins or
    /// learns its new epoch.
    pub fn is_stale_membership(&self) -> bool {
        STALE_MEMBERSHIP_CODES.contains(self)
    }

    /// Whether a transactional producer must stop (fenced, not authorized, or configured beyond
    /// what the broker accepts): INVALID_PRODUCER_EPOCH, PRODUCER_FENCED,
    /// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
    /// INVALID_TRANSACTION_TIMEOUT, UNSUPPORTED_VERSION, INVALID_PRODUCER_ID_MAPPING.
    pub fn is_fatal(&self) -> bool {
        FATAL_CODES.contains(self)
    }

    /// Whether a transaction coordinator's answer asks for the same call again, perhaps at
    /// a coordinator found anew: CONCURRENT_TRANSACTIONS, the coordinator errors,
    /// REQUEST_TIMED_OUT, and every retriable code.
    pub fn is_retriable_in_transaction(&self) -> bool {
        TXN_RETRIABLE_CODES.contains(self) || self.is_retriable()
    }

    /// Whether the error, met inside a transaction, leaves it unable to commit while the
    /// producer may go on: abort the transaction, then start a new one. That is every code
    /// neither fatal nor retried in a transaction.
    pub fn is_abortable(&self) -> bool {
        !self.is_fatal() && !self.is_retriable_in_transaction()
    }

    /// Whether a newer producer with the same identity took over (INVALID_PRODUCER_EPOCH,
    /// PRODUCER_FENCED): the producer must stop, idempotent or transactional.
    pub fn is_producer_fenced(&self) -> bool {
        FENCED_PRODUCER_CODES.contains(self)
    }

    /// Whether InitProducerId was refused for good (CLUSTER_AUTHORIZATION_FAILED,
    /// TRANSACTIONAL_ID_AUTHORIZATION_FAILED): an idempotent producer cannot get an id.
    pub(crate) fn denies_producer_id(&self) -> bool {
        PRODUCER_ID_DENIED_CODES.contains(self)
    }

    /// Whether the broker's sequence state for the producer is not the client's
    /// (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID).
    pub(crate) fn loses_sequence_state(&self) -> bool {
        SEQUENCE_STATE_CODES.contains(self)
    }

    /// Whether a Produce answered with this code may still have been written by the leader
    /// (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND); other codes reject the batch
    /// before the log.
    pub(crate) fn may_have_been_written(&self) -> bool {
        MAYBE_WRITTEN_CODES.contains(self)
    }

    /// Whether the broker lost or refused the incremental fetch session
    /// (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH): fetch in full at once.
    pub(crate) fn invalidates_fetch_session(&self) -> bool {
        FETCH_SESSION_CODES.contains(self)
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
        let nl = KafkaCode::NOT_LEADER_OR_FOLLOWER;
        assert!(nl.is_retriable() && nl.needs_metadata_refresh());
        let oor = KafkaCode::OFFSET_OUT_OF_RANGE;
        assert_eq!(oor.name(), "OffsetOutOfRange");
        assert!(!oor.is_retriable() && !oor.needs_metadata_refresh());
        let not_enough = KafkaCode::NOT_ENOUGH_REPLICAS;
        assert!(not_enough.is_retriable() && !not_enough.needs_metadata_refresh());
        let fenced = KafkaCode::FENCED_LEADER_EPOCH;
        assert!(fenced.is_retriable() && fenced.needs_metadata_refresh());
        assert!(KafkaCode::NOT_COORDINATOR.needs_coordinator_refresh());
        assert_eq!(KafkaCode::check(0), Ok(()));
    }

    #[test]
    fn every_name_is_the_code_kafka_gives_it() {
        for &(code, number) in NAMED {
            assert_eq!(code.code(), number, "{code:?}");
            assert_eq!(KafkaCode::from_code(number), Some(code));
        }
        assert_eq!(
            KafkaCode::PRODUCER_FENCED.name(),
            "ProducerFenced",
            "the name follows the code"
        );
    }

    /// Every class the client acts on, code by code, so that a change to the table shows here.
    #[test]
    fn the_codes_the_client_acts_on_are_classified_as_intended() {
        use KafkaCode as K;
        // (code, retriable, refresh metadata, retried in a transaction, abortable, fatal)
        let table: &[(KafkaCode, bool, bool, bool, bool, bool)] = &[
            (K::UNKNOWN_SERVER_ERROR, false, false, false, true, false),
            (K::OFFSET_OUT_OF_RANGE, false, false, false, true, false),
            (
                K::UNKNOWN_TOPIC_OR_PARTITION,
                true,
                true,
                true,
                false,
                false,
            ),
            (K::LEADER_NOT_AVAILABLE, true, true, true, false, false),
            (K::NOT_LEADER_OR_FOLLOWER, true, true, true, false, false),
            (K::REQUEST_TIMED_OUT, true, false, true, false, false),
            (K::REPLICA_NOT_AVAILABLE, true, true, true, false, false),
            (K::MESSAGE_TOO_LARGE, false, false, false, true, false),
            (
                K::COORDINATOR_LOAD_IN_PROGRESS,
                true,
                false,
                true,
                false,
                false,
            ),
            (
                K::COORDINATOR_NOT_AVAILABLE,
                true,
                false,
                true,
                false,
                false,
            ),
            (K::NOT_COORDINATOR, true, false, true, false, false),
            (
                K::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                true,
                false,
                true,
                false,
                false,
            ),
            (K::ILLEGAL_GENERATION, false, false, false, true, false),
            (K::UNKNOWN_MEMBER_ID, false, false, false, true, false),
            (K::REBALANCE_IN_PROGRESS, false, false, false, true, false),
            (
                K::TOPIC_AUTHORIZATION_FAILED,
                false,
                false,
                false,
                true,
                false,
            ),
            (
                K::GROUP_AUTHORIZATION_FAILED,
                false,
                false,
                false,
                true,
                false,
            ),
            (
                K::CLUSTER_AUTHORIZATION_FAILED,
                false,
                false,
                false,
                false,
                true,
            ),
            (K::UNSUPPORTED_VERSION, false, false, false, false, true),
            (
                K::OUT_OF_ORDER_SEQUENCE_NUMBER,
                false,
                false,
                false,
                true,
                false,
            ),
            (
                K::DUPLICATE_SEQUENCE_NUMBER,
                false,
                false,
                false,
                true,
                false,
            ),
            (K::INVALID_PRODUCER_EPOCH, false, false, false, false, true),
            (
                K::INVALID_PRODUCER_ID_MAPPING,
                false,
                false,
                false,
                false,
                true,
            ),
            (
                K::INVALID_TRANSACTION_TIMEOUT,
                false,
                false,
                false,
                false,
                true,
            ),
            (K::CONCURRENT_TRANSACTIONS, true, false, true, false, false),
            (
                K::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                false,
                false,
                false,
                false,
                true,
            ),
            (K::UNKNOWN_PRODUCER_ID, false, false, false, true, false),
            (
                K::FETCH_SESSION_ID_NOT_FOUND,
                true,
                false,
                true,
                false,
                false,
            ),
            (
                K::INVALID_FETCH_SESSION_EPOCH,
                true,
                false,
                true,
                false,
                false,
            ),
            (K::FENCED_LEADER_EPOCH, true, true, true, false, false),
            (K::UNKNOWN_LEADER_EPOCH, true, true, true, false, false),
            (K::FENCED_INSTANCE_ID, false, false, false, true, false),
            (K::UNSTABLE_OFFSET_COMMIT, true, false, true, false, false),
            (K::PRODUCER_FENCED, false, false, false, false, true),
            (K::UNKNOWN_TOPIC_ID, true, true, true, false, false),
            (K::INCONSISTENT_TOPIC_ID, true, true, true, false, false),
            (K::FENCED_MEMBER_EPOCH, false, false, false, true, false),
            (K::STALE_MEMBER_EPOCH, false, false, false, true, false),
            (K::TRANSACTION_ABORTABLE, false, false, false, true, false),
            (K::REBOOTSTRAP_REQUIRED, false, true, false, true, false),
        ];
        for &(code, retriable, refresh, txn_retriable, abortable, fatal) in table {
            assert_eq!(code.is_retriable(), retriable, "{code:?} retriable");
            assert_eq!(code.needs_metadata_refresh(), refresh, "{code:?} refresh");
            assert_eq!(
                code.is_retriable_in_transaction(),
                txn_retriable,
                "{code:?} retried in a transaction"
            );
            assert_eq!(code.is_abortable(), abortable, "{code:?} abortable");
            assert_eq!(code.is_fatal(), fatal, "{code:?} fatal");
            let classes = [txn_retriable, abortable, fatal];
            assert_eq!(
                classes.iter().filter(|&&c| c).count(),
                1,
                "{code:?} is exactly one of retried, abortable, fatal in a transaction"
            );
        }
    }

    #[test]
    fn coordinator_and_membership_codes() {
        use KafkaCode as K;
        for code in [K::COORDINATOR_NOT_AVAILABLE, K::NOT_COORDINATOR] {
            assert!(code.needs_coordinator_refresh() && code.is_coordinator_error());
        }
        let loading = K::COORDINATOR_LOAD_IN_PROGRESS;
        assert!(loading.is_coordinator_error() && !loading.needs_coordinator_refresh());
        for code in [
            K::ILLEGAL_GENERATION,
            K::UNKNOWN_MEMBER_ID,
            K::REBALANCE_IN_PROGRESS,
            K::FENCED_INSTANCE_ID,
            K::FENCED_MEMBER_EPOCH,
            K::STALE_MEMBER_EPOCH,
        ] {
            assert!(code.is_stale_membership(), "{code:?}");
            assert!(!code.is_coordinator_error() && !code.is_fatal(), "{code:?}");
        }
        for code in [
            K::MEMBER_ID_REQUIRED,
            K::NOT_COORDINATOR,
            K::UNRELEASED_INSTANCE_ID,
        ] {
            assert!(!code.is_stale_membership(), "{code:?}");
        }
    }

    #[test]
    fn producer_codes() {
        use KafkaCode as K;
        for code in [K::INVALID_PRODUCER_EPOCH, K::PRODUCER_FENCED] {
            assert!(code.is_producer_fenced() && code.is_fatal(), "{code:?}");
        }
        for code in [
            K::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            K::CLUSTER_AUTHORIZATION_FAILED,
        ] {
            assert!(
                code.denies_producer_id() && !code.is_producer_fenced(),
                "{code:?}"
            );
        }
        assert!(!K::TOPIC_AUTHORIZATION_FAILED.denies_producer_id());
        for code in [K::OUT_OF_ORDER_SEQUENCE_NUMBER, K::UNKNOWN_PRODUCER_ID] {
            assert!(code.loses_sequence_state(), "{code:?}");
        }
        assert!(!K::DUPLICATE_SEQUENCE_NUMBER.loses_sequence_state());
        for code in [K::REQUEST_TIMED_OUT, K::NOT_ENOUGH_REPLICAS_AFTER_APPEND] {
            assert!(code.may_have_been_written(), "{code:?}");
        }
        for code in [
            K::NOT_LEADER_OR_FOLLOWER,
            K::MESSAGE_TOO_LARGE,
            K::NOT_ENOUGH_REPLICAS,
        ] {
            assert!(!code.may_have_been_written(), "{code:?}");
        }
        for code in [
            K::FETCH_SESSION_ID_NOT_FOUND,
            K::INVALID_FETCH_SESSION_EPOCH,
        ] {
            assert!(code.invalidates_fetch_session(), "{code:?}");
        }
        assert!(!K::OFFSET_OUT_OF_RANGE.invalidates_fetch_session());
    }

    #[test]
    fn named_codes_match_as_patterns() {
        let verdict = |code: i16| match KafkaCode::check(code) {
            Ok(()) => "ok",
            Err(KafkaCode::DUPLICATE_SEQUENCE_NUMBER) => "written before",
            Err(_) => "failed",
        };
        assert_eq!(verdict(0), "ok");
        assert_eq!(verdict(46), "written before");
        assert_eq!(verdict(45), "failed");
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
