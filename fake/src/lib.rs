//! A fake Kafka cluster in your process, for tests: it speaks the Kafka wire protocol over TCP
//! on 127.0.0.1, keeps its logs in memory, and can be scripted to fail in the ways real
//! clusters fail — an error for the next produce to one partition, a dropped or late response,
//! a leader that moves, a follower that consumers should read from.
//!
//! Any Kafka client can talk to it: give it [`FakeCluster::bootstrap_servers`]. It serves
//! ApiVersions, Metadata (with topic auto-creation), CreateTopics, Produce (with the idempotent
//! producer's sequence checks: duplicates are acknowledged with their first offset, gaps get
//! OUT_OF_ORDER_SEQUENCE_NUMBER), Fetch (max bytes, waiting for data, `read_committed` with
//! aborted transactions, follower fetching and preferred read replicas), ListOffsets,
//! OffsetForLeaderEpoch, InitProducerId, FindCoordinator, the classic group protocol (JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch) and transactions
//! (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn with control records, TxnOffsetCommit).
//!
//! ```
//! use std::time::Duration;
//! use laminar_kafka_fake::{ApiKey, FakeCluster, ResponseError, Rule};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cluster = FakeCluster::builder().brokers(2).topic("events", 2).start().await?;
//! let servers = cluster.bootstrap_servers(); // hand this to the client under test
//!
//! // The next produce to events-1 fails as if the leader had moved, and every fetch from
//! // broker 1 is answered 100 ms late.
//! cluster.script(Rule::on(ApiKey::Produce).partition("events", 1).once().fail(ResponseError::NotLeaderOrFollower));
//! cluster.script(Rule::on(ApiKey::Fetch).broker(1).delay(Duration::from_millis(100)));
//!
//! // ... run the client, then look at what the brokers saw and what the logs hold:
//! let fetches_from_1 = cluster.request_count(1, ApiKey::Fetch);
//! let records = cluster.records("events", 0)?;
//! # let _ = (servers, fetches_from_1, records);
//! # Ok::<(), laminar_kafka_fake::Error>(())
//! # }).unwrap();
//! ```
//!
//! Fetch sessions (KIP-227) are kept per broker, with incremental fetches and responses that
//! carry only partitions with news; [`FakeCluster::evict_fetch_sessions`] forgets them.
//!
//! What it does not do: authentication (PLAINTEXT only), the KIP-848 group protocol, transaction protocol v2 (KIP-890), compaction and retention. Writes are
//! replicated to every replica at once, so the high watermark is the log end.
#![forbid(unsafe_code)]

mod api;
mod cluster;
mod error;
mod group;
mod log;
mod observe;
mod script;
mod server;
mod session;
mod state;
mod txn;

pub use cluster::{Builder, FakeCluster};
pub use error::{Error, Result};
pub use observe::{LoggedRecord, ProtocolViolation, ReceivedRequest};
pub use script::{Action, Rule, RuleBuilder, RuleId};

/// Kafka's error codes (re-exported from `kafka-protocol`), for [`RuleBuilder::fail`].
pub use kafka_protocol::error::ResponseError;
/// Kafka's API keys (re-exported from `kafka-protocol`), to name the API a [`Rule`] applies to.
pub use kafka_protocol::messages::ApiKey;

/// The README's example, compiled and run as a doctest so that it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
