//! Transactions: the coordinator requests of a transactional producer. The transaction's
//! state lives in the producer's state machine ([`super::state`]); this module asks it what
//! each call may do, performs the requests, and reports their answers to it.
//!
//! Transaction protocol version 2 (KIP-890) is used when the cluster's finalized
//! `transaction.version` is at least 2: partitions join the transaction with the first Produce
//! (v12+), the group with the first TxnOffsetCommit (v5+), and every EndTxn (v5) bumps the epoch
//! and returns the producer id and epoch to use next. Otherwise (version 1) partitions are added
//! with AddPartitionsToTxn, the group with AddOffsetsToTxn, and the Produce, TxnOffsetCommit and
//! EndTxn versions are held below the ones that mean version 2.
//!
//! For a checkpointing engine, a transaction can be left open after `flush`
//! ([`PreparedTransaction`]) and finished by another process that resumes it from the producer
//! id and epoch alone (two-phase commit): the coordinator only checks the id and epoch.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use laminar_kafka_protocol::messages::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use laminar_kafka_protocol::messages::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use laminar_kafka_protocol::messages::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, ApiKey, DescribeTransactionsRequest,
    EndTxnRequest, GroupId, InitProducerIdRequest, ProducerId, TopicName, TransactionalId,
    TxnOffsetCommitRequest,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;

use super::Shared;
use super::accumulator::Tp;
use super::idempotence::ProducerIdentity;
use super::state::{Call, CallAction, TxnAction, TxnEvent};
use crate::cluster::CoordinatorType;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;

/// The consumer group whose offsets a transaction commits, with the member's identity so that a
/// zombie member of an older generation is fenced (KIP-447).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// The group id.
    pub group_id: String,
    /// The generation the member belongs to (-1: no fencing).
    pub generation_id: i32,
    /// The member id ("" : no fencing).
    pub member_id: String,
    /// The static member id, if any.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata of a group used without membership (assigned partitions): no fencing by
    /// generation.
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// An open transaction whose records are all written (after `flush`), described by what another
/// process needs to commit or abort it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedTransaction {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id the transaction was written with.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
}

/// A coordinator's error code, the API that answered it, and its message.
type CodeError = (KafkaCode, &'static str, Option<String>);

pub(crate) struct TxnManager {
    pub(crate) transactional_id: String,
    timeout: Duration,
}

/// A transactional request failed for good: the producer stops or the transaction must abort.
fn record_failure(shared: &Shared, e: &Error) {
    shared.with_state(|s| s.on_txn(TxnEvent::RequestFailed(e)));
}

/// The error for an action the state machine does not give for `call` (never expected).
fn unexpected(call: Call) -> Error {
    Error::TransactionState {
        operation: call.operation(),
        state: "in an unexpected state",
    }
}

impl TxnManager {
    pub(crate) fn new(transactional_id: String, timeout: Duration) -> Self {
        Self {
            transactional_id,
            timeout,
        }
    }

    async fn coordinator(&self, shared: &Shared) -> Result<Connection> {
        shared
            .cluster
            .coordinator(CoordinatorType::Transaction, &self.transactional_id)
            .await
    }

    /// Whether the cluster's transaction protocol is version 2 (KIP-890), from a
    /// coordinator's ApiVersions.
    fn detect_v2(conn: &Connection) -> bool {
        let v = conn.versions();
        v.finalized_feature("transaction.version")
            .is_some_and(|f| f.max >= 2)
            && v.version(ApiKey::Produce).is_ok_and(|p| p >= 12)
            && v.version(ApiKey::EndTxn).is_ok_and(|p| p >= 5)
            && v.version(ApiKey::TxnOffsetCommit).is_ok_and(|p| p >= 5)
    }

    /// The error a coordinator's `code` ends a transactional call with: fatal or abortable as
    /// the code says, keeping the code so that a caller can tell a fenced producer from a
    /// refused one.
    fn txn_error(api: &'static str, code: KafkaCode, message: Option<String>) -> Error {
        let message = Error::Broker {
            api,
            code,
            context: None,
            message,
        }
        .to_string();
        if code.is_fatal() {
            Error::ProducerFatal {
                message,
                code: Some(code),
            }
        } else {
            Error::TransactionAbortable {
                message,
                code: Some(code),
            }
        }
    }

    /// Runs `attempt` against the transaction coordinator until it succeeds, fails for good,
    /// or `max.block.ms` passes; see [`Self::with_retries_at`].
    async fn with_retries<T, F, Fut>(&self, shared: &Shared, attempt: F) -> Result<T>
    where
        F: FnMut(Connection) -> Fut,
        Fut: std::future::Future<Output = Result<std::result::Result<T, CodeError>>>,
    {
        let tid = self.transactional_id.clone();
        self.with_retries_at(shared, CoordinatorType::Transaction, &tid, attempt)
            .await
    }

    /// Runs `attempt` against the coordinator of `key` until it succeeds, fails for good, or
    /// `max.block.ms` passes. Transient coordinator errors (COORDINATOR_LOAD_IN_PROGRESS,
    /// COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS, other retriable
    /// codes), a failed coordinator lookup and a lost connection are retried after a backoff,
    /// each time with a fresh FindCoordinator (the coordinator may have moved).
    async fn with_retries_at<T, F, Fut>(
        &self,
        shared: &Shared,
        kind: CoordinatorType,
        key: &str,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut(Connection) -> Fut,
        Fut: std::future::Future<Output = Result<std::result::Result<T, CodeError>>>,
    {
        let deadline = Instant::now() + shared.cluster.config().producer.max_block;
        let mut backoff = shared.cluster.retry_backoff();
        loop {
            let outcome = match shared.cluster.coordinator(kind, key).await {
                Ok(conn) => attempt(conn).await,
                Err(e) => Err(e),
            };
            let retry_error = match outcome {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err((code, api, message))) => {
                    if !code.is_retriable_in_transaction() {
                        return Err(Self::txn_error(api, code, message));
                    }
                    Error::Broker {
                        api,
                        code,
                        context: Some(format!("transactional id `{}`", self.transactional_id)),
                        message,
                    }
                }
                Err(e) if e.is_retriable() => e,
                Err(e) => return Err(e),
            };
            if Instant::now() >= deadline {
                return Err(retry_error);
            }
            // CONCURRENT_TRANSACTIONS clears within a few ms; the others need the backoff.
            let delay = if retry_error.kafka_code() == Some(KafkaCode::CONCURRENT_TRANSACTIONS) {
                Duration::from_millis(20)
            } else {
                backoff.next_delay()
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// InitProducerId: fences older producers with the same transactional id and completes or
    /// aborts what they left open; with a current identity (v3+) it bumps its epoch instead.
    pub(crate) async fn init(&self, shared: &Shared) -> Result<()> {
        let CallAction::InitProducerId { current } =
            shared.with_state(|s| s.on_call(Call::Init))?
        else {
            return Err(unexpected(Call::Init));
        };
        let timeout_ms = i32::try_from(self.timeout.as_millis()).unwrap_or(i32::MAX);
        let tid = self.transactional_id.clone();
        let (identity, tv2) = self
            .with_retries(shared, |conn| {
                let tid = tid.clone();
                async move {
                    let version =
                        conn.versions()
                            .version(ApiKey::InitProducerId)
                            .map_err(|source| Error::Protocol {
                                broker: conn.broker().to_owned(),
                                source,
                            })?;
                    let (pid, epoch) = match current {
                        Some(c) if version >= 3 => (c.id, c.epoch),
                        _ => (-1, -1),
                    };
                    let request = InitProducerIdRequest::default()
                        .with_transactional_id(Some(TransactionalId(StrBytes::from_string(tid))))
                        .with_transaction_timeout_ms(timeout_ms)
                        .with_producer_id(ProducerId(pid))
                        .with_producer_epoch(epoch);
                    let response = conn.send_at(&request, version).await?;
                    Ok(match KafkaCode::check(response.error_code) {
                        Ok(()) => {
                            let tv2 = Self::detect_v2(&conn);
                            Ok((
                                ProducerIdentity {
                                    id: response.producer_id.0,
                                    epoch: response.producer_epoch,
                                },
                                tv2,
                            ))
                        }
                        Err(code) => Err((code, "InitProducerId", None)),
                    })
                }
            })
            .await
            .inspect_err(|e| {
                shared.with_state(|s| s.on_txn(TxnEvent::InitFailed(e)));
            })?;
        shared.with_state(|s| s.on_txn(TxnEvent::ProducerId { identity, v2: tv2 }));
        Ok(())
    }

    /// AddPartitionsToTxn (version 1) for partitions about to be written.
    pub(crate) async fn add_partitions(&self, shared: &Shared, tps: &[Tp]) -> Result<()> {
        if tps.is_empty() {
            return Ok(());
        }
        let identity = shared
            .read_state(|s| s.identity())
            .unwrap_or(ProducerIdentity::NONE);
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in tps {
            topics.entry(t).or_default().push(*p);
        }
        let tid = self.transactional_id.clone();
        let topics: Vec<AddPartitionsToTxnTopic> = topics
            .into_iter()
            .map(|(t, ps)| {
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(StrBytes::from_string(t.to_owned())))
                    .with_partitions(ps)
            })
            .collect();
        self.with_retries(shared, |conn| {
            let tid = tid.clone();
            let topics = topics.clone();
            async move {
                let version = conn
                    .versions()
                    .version_at_most(ApiKey::AddPartitionsToTxn, 3)
                    .map_err(|source| Error::Protocol {
                        broker: conn.broker().to_owned(),
                        source,
                    })?;
                let request = AddPartitionsToTxnRequest::default()
                    .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_string(tid)))
                    .with_v3_and_below_producer_id(ProducerId(identity.id))
                    .with_v3_and_below_producer_epoch(identity.epoch)
                    .with_v3_and_below_topics(topics);
                let response = conn.send_at(&request, version).await?;
                if let Err(code) = KafkaCode::check(response.error_code) {
                    return Ok(Err((code, "AddPartitionsToTxn", None)));
                }
                // The worst partition error decides: fatal over abortable over retriable.
                let mut worst: Option<KafkaCode> = None;
                for t in &response.results_by_topic_v3_and_below {
                    for p in &t.results_by_partition {
                        if let Some(code) = KafkaCode::from_code(p.partition_error_code) {
                            // OPERATION_NOT_ATTEMPTED only says another partition failed.
                            if code == KafkaCode::OPERATION_NOT_ATTEMPTED {
                                continue;
                            }
                            let rank = |c: KafkaCode| {
                                if c.is_fatal() {
                                    2
                                } else if c.is_retriable_in_transaction() {
                                    0
                                } else {
                                    1
                                }
                            };
                            if worst.is_none_or(|w| rank(code) > rank(w)) {
                                worst = Some(code);
                            }
                        }
                    }
                }
                Ok(match worst {
                    None => Ok(()),
                    Some(code) => Err((code, "AddPartitionsToTxn", None)),
                })
            }
        })
        .await
        .inspect_err(|e| record_failure(shared, e))?;
        shared.with_state(|s| s.on_txn(TxnEvent::PartitionsAdded(tps)));
        Ok(())
    }

    /// Adds consumed offsets to the transaction (KIP-447 fencing by the group metadata).
    pub(crate) async fn send_offsets(
        &self,
        shared: &Shared,
        offsets: &[((String, i32), i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let CallAction::SendOffsets { identity, v2 } =
            shared.with_state(|s| s.on_call(Call::SendOffsets))?
        else {
            return Err(unexpected(Call::SendOffsets));
        };
        let tid = self.transactional_id.clone();
        if !v2 {
            let gid = group.group_id.clone();
            let tid = tid.clone();
            self.with_retries(shared, |conn| {
                let request = AddOffsetsToTxnRequest::default()
                    .with_transactional_id(TransactionalId(StrBytes::from_string(tid.clone())))
                    .with_producer_id(ProducerId(identity.id))
                    .with_producer_epoch(identity.epoch)
                    .with_group_id(GroupId(StrBytes::from_string(gid.clone())));
                async move {
                    let response = conn.send(&request).await?;
                    Ok(KafkaCode::check(response.error_code)
                        .map_err(|code| (code, "AddOffsetsToTxn", None)))
                }
            })
            .await
            .inspect_err(|e| record_failure(shared, e))?;
        }
        shared.with_state(|s| s.on_txn(TxnEvent::OffsetsAdded));
        let mut topics: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
        for ((t, p), offset) in offsets {
            topics.entry(t).or_default().push(
                TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(*p)
                    .with_committed_offset(*offset)
                    .with_committed_leader_epoch(-1),
            );
        }
        let request = TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(tid)))
            .with_group_id(GroupId(StrBytes::from_string(group.group_id.clone())))
            .with_producer_id(ProducerId(identity.id))
            .with_producer_epoch(identity.epoch)
            .with_generation_id(group.generation_id)
            .with_member_id(StrBytes::from_string(group.member_id.clone()))
            .with_group_instance_id(group.group_instance_id.clone().map(StrBytes::from_string))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        TxnOffsetCommitRequestTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_owned())))
                            .with_partitions(ps)
                    })
                    .collect(),
            );
        let cap = if v2 { i16::MAX } else { 4 };
        // Fenced group members (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID)
        // make the transaction abortable, not the producer dead.
        self.with_retries_at(shared, CoordinatorType::Group, &group.group_id, |conn| {
            let request = request.clone();
            async move {
                let version = conn
                    .versions()
                    .version_at_most(ApiKey::TxnOffsetCommit, cap)
                    .map_err(|source| Error::Protocol {
                        broker: conn.broker().to_owned(),
                        source,
                    })?;
                let response = conn.send_at(&request, version).await?;
                let failure = response
                    .topics
                    .iter()
                    .flat_map(|t| t.partitions.iter())
                    .find_map(|p| KafkaCode::from_code(p.error_code));
                Ok(match failure {
                    None => Ok(()),
                    Some(code) => Err((code, "TxnOffsetCommit", None)),
                })
            }
        })
        .await
        .inspect_err(|e| record_failure(shared, e))
    }

    /// Ends the flushed transaction: EndTxn (under version 2 its response carries the identity
    /// to continue with), then what the state asks for after it.
    pub(crate) async fn end(&self, shared: &Shared, commit: bool) -> Result<()> {
        let call = if commit {
            Call::CommitFlushed
        } else {
            Call::AbortFlushed
        };
        let next = match shared.with_state(|s| s.on_call(call))? {
            CallAction::NothingToEnd => None,
            CallAction::EndTxn { identity, v2 } => {
                self.end_txn(shared, commit, identity, v2).await?
            }
            _ => return Err(unexpected(call)),
        };
        let TxnAction::AfterEnd {
            fence_preparer,
            bump_epoch,
        } = shared.with_state(|s| s.on_txn(TxnEvent::Ended { commit, next }))
        else {
            return Ok(());
        };
        if fence_preparer {
            // The producer that prepared the transaction may still be alive: under version 1
            // (or when there was nothing to end) it still has the current epoch, and under
            // version 2 its own EndTxn with the epoch just before the current one reads as a
            // retry, after which it would go on with ours. InitProducerId with the current id
            // and epoch bumps the epoch once more, which fences it; the transaction has
            // ended, so nothing is aborted. A failure here does not undo the commit: a fenced
            // producer is left fatally failed, anything else ready with the epoch it has.
            let _ = self.init(shared).await;
        }
        if bump_epoch {
            // Sequences are unknown after the failure: bump the epoch (InitProducerId with the
            // current id and epoch, KIP-360).
            self.init(shared).await?;
        }
        Ok(())
    }

    /// Sends EndTxn; returns the identity a version-2 coordinator gives to go on with.
    async fn end_txn(
        &self,
        shared: &Shared,
        commit: bool,
        identity: ProducerIdentity,
        v2: bool,
    ) -> Result<Option<ProducerIdentity>> {
        let tid = self.transactional_id.clone();
        let cap = if v2 { i16::MAX } else { 4 };
        self.with_retries(shared, |conn| {
            let tid = tid.clone();
            async move {
                let version = conn
                    .versions()
                    .version_at_most(ApiKey::EndTxn, cap)
                    .map_err(|source| Error::Protocol {
                        broker: conn.broker().to_owned(),
                        source,
                    })?;
                let request = EndTxnRequest::default()
                    .with_transactional_id(TransactionalId(StrBytes::from_string(tid)))
                    .with_producer_id(ProducerId(identity.id))
                    .with_producer_epoch(identity.epoch)
                    .with_committed(commit);
                let response = conn.send_at(&request, version).await?;
                Ok(match KafkaCode::check(response.error_code) {
                    Ok(()) => Ok((version >= 5 && response.producer_id.0 >= 0).then_some(
                        ProducerIdentity {
                            id: response.producer_id.0,
                            epoch: response.producer_epoch,
                        },
                    )),
                    Err(code) => Err((code, "EndTxn", None)),
                })
            }
        })
        .await
        .inspect_err(|e| record_failure(shared, e))
    }

    pub(crate) fn prepare(&self, shared: &Shared) -> Result<PreparedTransaction> {
        let CallAction::Prepared(identity) = shared.with_state(|s| s.on_call(Call::Prepare))?
        else {
            return Err(unexpected(Call::Prepare));
        };
        Ok(PreparedTransaction {
            transactional_id: self.transactional_id.clone(),
            producer_id: identity.id,
            producer_epoch: identity.epoch,
        })
    }

    /// Takes over a prepared transaction: no InitProducerId (which would abort it).
    pub(crate) async fn resume(
        &self,
        shared: &Shared,
        prepared: &PreparedTransaction,
    ) -> Result<()> {
        if prepared.transactional_id != self.transactional_id {
            return Err(Error::InvalidProperty {
                name: "transactional.id".to_owned(),
                reason: format!(
                    "the prepared transaction belongs to `{}`, this producer is `{}`",
                    prepared.transactional_id, self.transactional_id
                ),
            });
        }
        shared.with_state(|s| s.on_call(Call::Resume))?;
        // Learn the protocol version from the coordinator, as init does.
        let conn = self.coordinator(shared).await?;
        let v2 = Self::detect_v2(&conn);
        let open = Self::is_open(&conn, prepared, v2).await;
        let identity = ProducerIdentity {
            id: prepared.producer_id,
            epoch: prepared.producer_epoch,
        };
        shared.with_state(|s| s.on_txn(TxnEvent::Resumed { identity, v2, open }));
        Ok(())
    }

    /// Whether the coordinator may hold the prepared transaction open (DescribeTransactions).
    /// `false` only when it certainly does not: the id's producer has no transaction at all
    /// (`Empty`), or, under version 2, the last one completed at the prepared epoch itself
    /// (every EndTxn bumps the epoch, so the prepared transaction never started). When the
    /// coordinator cannot tell, `true`: EndTxn decides.
    async fn is_open(conn: &Connection, prepared: &PreparedTransaction, tv2: bool) -> bool {
        let Ok(version) = conn.versions().version(ApiKey::DescribeTransactions) else {
            return true;
        };
        let request =
            DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(
                StrBytes::from_string(prepared.transactional_id.clone()),
            )]);
        let Ok(response) = conn.send_at(&request, version).await else {
            return true;
        };
        let Some(state) = response.transaction_states.first() else {
            return true;
        };
        if state.error_code != 0 || state.producer_id.0 != prepared.producer_id {
            return true;
        }
        match state.transaction_state.as_str() {
            "Empty" => false,
            "CompleteCommit" | "CompleteAbort" => {
                !(tv2 && state.producer_epoch == prepared.producer_epoch)
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_classified() {
        let fenced = KafkaCode::PRODUCER_FENCED;
        assert!(fenced.is_fatal());
        assert!(TxnManager::txn_error("EndTxn", fenced, None).is_fatal());
        let concurrent = KafkaCode::CONCURRENT_TRANSACTIONS;
        assert!(concurrent.is_retriable_in_transaction() && !concurrent.is_fatal());
        let topic_auth = KafkaCode::TOPIC_AUTHORIZATION_FAILED;
        assert!(TxnManager::txn_error("AddPartitionsToTxn", topic_auth, None).is_abortable());
    }

    #[test]
    fn a_fenced_producer_is_told_apart_from_a_refused_one() {
        let fenced = TxnManager::txn_error("EndTxn", KafkaCode::PRODUCER_FENCED, None);
        let refused = TxnManager::txn_error(
            "InitProducerId",
            KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            None,
        );
        assert!(fenced.is_fatal() && refused.is_fatal());
        assert_eq!(fenced.kafka_code(), Some(KafkaCode::PRODUCER_FENCED));
        assert_eq!(
            refused.kafka_code(),
            Some(KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        );
        let aborted = TxnManager::txn_error("TxnOffsetCommit", KafkaCode::ILLEGAL_GENERATION, None);
        assert!(aborted.is_abortable());
        assert_eq!(aborted.kafka_code(), Some(KafkaCode::ILLEGAL_GENERATION));
    }
}
