//! What tests can observe: the requests each broker received, protocol violations, and the
//! records of a partition's log.

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;

/// One request a broker received (recorded before the script decides what to do with it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// The node id of the broker that received it.
    pub broker: i32,
    /// Its API.
    pub api: ApiKey,
    /// The version it was sent at.
    pub version: i16,
    /// The topic-partitions it names (Produce, Fetch, ListOffsets, OffsetCommit,
    /// TxnOffsetCommit, AddPartitionsToTxn, OffsetFetch, OffsetForLeaderEpoch; an incremental
    /// Fetch also names the partitions of its session); empty for others.
    pub partitions: Vec<(String, i32)>,
    /// The group ids, transactional ids and coordinator keys it names (see
    /// [`RuleBuilder::key`](crate::RuleBuilder::key)).
    pub keys: Vec<String>,
    /// The client id from the request header.
    pub client_id: Option<String>,
}

impl ReceivedRequest {
    /// Whether the request names `topic`-`partition`.
    pub fn names(&self, topic: &str, partition: i32) -> bool {
        self.partitions
            .iter()
            .any(|(t, p)| t == topic && *p == partition)
    }
}

/// A connection the fake closed because the client broke the protocol (a malformed frame, an
/// unknown API or version, a body that does not decode), or because the fake could not encode
/// its answer. A correct client against a correct fake produces none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolViolation {
    /// The broker whose connection it was.
    pub broker: i32,
    /// What was wrong.
    pub reason: String,
}

/// One data record of a partition's log, as [`FakeCluster::records`](crate::FakeCluster::records)
/// reads it back (control records are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedRecord {
    /// Its offset.
    pub offset: i64,
    /// Its key.
    pub key: Option<Bytes>,
    /// Its value.
    pub value: Option<Bytes>,
    /// Its timestamp.
    pub timestamp: i64,
    /// The producer id of its batch (-1 without idempotence).
    pub producer_id: i64,
    /// Whether it was written in a transaction.
    pub transactional: bool,
    /// Whether its transaction was aborted (a read_committed consumer never sees it).
    pub aborted: bool,
    /// Whether its transaction is still open.
    pub pending: bool,
}
