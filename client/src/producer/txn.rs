//! Transactions: the state machine of a transactional producer and its coordinator requests.
//!
//! ```text
//!  Uninitialized --init--> Ready --begin--> InTransaction --commit--> Committing --> Ready
//!                            ^                   |   \                                ^
//!                            |                   |    `--abort--> Aborting -----------'
//!                            |                   v
//!                            |            AbortableError --abort--> Aborting
//!  any state ----------------+--> FatalError (fenced, unauthorized): only close
//! ```
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

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::cluster::CoordinatorType;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;

/// Where a transactional producer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnState {
    /// `init_transactions` has not completed.
    Uninitialized,
    /// No transaction open.
    Ready,
    /// A transaction is open.
    InTransaction,
    /// EndTxn(commit) in progress.
    Committing,
    /// EndTxn(abort) in progress.
    Aborting,
    /// Something failed inside the transaction: it can only be aborted.
    AbortableError(String),
    /// The producer cannot continue.
    FatalError(String),
}

impl TxnState {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            TxnState::Uninitialized => "uninitialized",
            TxnState::Ready => "ready (no transaction open)",
            TxnState::InTransaction => "open",
            TxnState::Committing => "committing",
            TxnState::Aborting => "aborting",
            TxnState::AbortableError(_) => "failed (abort it)",
            TxnState::FatalError(_) => "fatally failed",
        }
    }
}

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
    state: Mutex<TxnState>,
    /// Partitions that joined the current transaction.
    added: Mutex<HashSet<Tp>>,
    /// Whether the coordinator knows the current transaction started (something was added).
    started: AtomicBool,
    tv2: AtomicBool,
    /// The open transaction was taken over with `resume`: its records were written by another
    /// producer, whose sequences this one does not know, so it can only be committed or
    /// aborted; ending it fences that producer.
    resumed: AtomicBool,
}

impl TxnManager {
    pub(crate) fn new(transactional_id: String, timeout: Duration) -> Self {
        Self {
            transactional_id,
            timeout,
            state: Mutex::new(TxnState::Uninitialized),
            added: Mutex::new(HashSet::new()),
            started: AtomicBool::new(false),
            tv2: AtomicBool::new(false),
            resumed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TxnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn state(&self) -> TxnState {
        self.lock().clone()
    }

    pub(crate) fn uses_v2(&self) -> bool {
        self.tv2.load(Ordering::Acquire)
    }

    fn set(&self, state: TxnState) {
        *self.lock() = state;
    }

    /// Moves to AbortableError unless already failed fatally.
    pub(crate) fn fail_abortable(&self, message: String) {
        let mut s = self.lock();
        if !matches!(*s, TxnState::FatalError(_)) {
            *s = TxnState::AbortableError(message);
        }
    }

    pub(crate) fn fail_fatal(&self, message: String) {
        *self.lock() = TxnState::FatalError(message);
    }

    /// The error a call gets in a failed state, if the state is failed.
    fn failed_error(state: &TxnState) -> Option<Error> {
        match state {
            TxnState::AbortableError(m) => Some(Error::TransactionAbortable {
                message: m.clone(),
                code: None,
            }),
            TxnState::FatalError(m) => Some(Error::ProducerFatal {
                message: m.clone(),
                code: None,
            }),
            _ => None,
        }
    }

    /// `send` is allowed only inside a transaction.
    pub(crate) fn check_send(&self) -> Result<()> {
        let s = self.lock();
        match &*s {
            TxnState::InTransaction if self.resumed.load(Ordering::Acquire) => {
                Err(Error::TransactionState {
                    operation: "send",
                    state: "resumed (a resumed transaction can only be committed or aborted)",
                })
            }
            TxnState::InTransaction => Ok(()),
            other => Err(
                Self::failed_error(other).unwrap_or(Error::TransactionState {
                    operation: "send",
                    state: other.name(),
                }),
            ),
        }
    }

    fn require(&self, operation: &'static str, allowed: &[TxnState]) -> Result<()> {
        let s = self.lock();
        if allowed.contains(&s) {
            return Ok(());
        }
        if operation != "abort_transaction" {
            if let Some(e) = Self::failed_error(&s) {
                return Err(e);
            }
        }
        Err(Error::TransactionState {
            operation,
            state: s.name(),
        })
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
        let deadline = Instant::now() + shared.cluster.config().max_block;
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
        self.require(
            "init_transactions",
            &[TxnState::Uninitialized, TxnState::Ready],
        )?;
        let current = shared.sequences().identity();
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
                if e.is_fatal() {
                    self.fail_fatal(e.to_string());
                }
            })?;
        shared.sequences().set_identity(identity);
        self.tv2.store(tv2, Ordering::Release);
        self.set(TxnState::Ready);
        Ok(())
    }

    pub(crate) fn begin(&self) -> Result<()> {
        self.require("begin_transaction", &[TxnState::Ready])?;
        self.added.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.started.store(false, Ordering::Release);
        self.resumed.store(false, Ordering::Release);
        self.set(TxnState::InTransaction);
        Ok(())
    }

    /// Partitions among `tps` that have not joined the transaction yet.
    pub(crate) fn missing(&self, tps: &[Tp]) -> Vec<Tp> {
        let added = self.added.lock().unwrap_or_else(|e| e.into_inner());
        let mut missing: Vec<Tp> = tps
            .iter()
            .filter(|tp| !added.contains(*tp))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// Notes partitions as part of the transaction (under version 2 the first Produce does it).
    pub(crate) fn mark_added(&self, tps: &[Tp]) {
        let mut added = self.added.lock().unwrap_or_else(|e| e.into_inner());
        added.extend(tps.iter().cloned());
        self.started.store(true, Ordering::Release);
    }

    /// AddPartitionsToTxn (version 1) for partitions about to be written.
    pub(crate) async fn add_partitions(&self, shared: &Shared, tps: &[Tp]) -> Result<()> {
        if tps.is_empty() {
            return Ok(());
        }
        let identity = shared
            .sequences()
            .identity()
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
        .inspect_err(|e| self.record_failure(e))?;
        self.mark_added(tps);
        Ok(())
    }

    fn record_failure(&self, e: &Error) {
        if e.is_fatal() {
            self.fail_fatal(e.to_string());
        } else {
            self.fail_abortable(e.to_string());
        }
    }

    /// Adds consumed offsets to the transaction (KIP-447 fencing by the group metadata).
    pub(crate) async fn send_offsets(
        &self,
        shared: &Shared,
        offsets: &[((String, i32), i64)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        self.require("send_offsets_to_transaction", &[TxnState::InTransaction])?;
        let identity = shared
            .sequences()
            .identity()
            .unwrap_or(ProducerIdentity::NONE);
        let tid = self.transactional_id.clone();
        if !self.uses_v2() {
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
            .inspect_err(|e| self.record_failure(e))?;
        }
        self.started.store(true, Ordering::Release);
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
        let cap = if self.uses_v2() { i16::MAX } else { 4 };
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
        .inspect_err(|e| self.record_failure(e))
    }

    /// EndTxn. Under version 2 the response carries the identity to continue with.
    pub(crate) async fn end(&self, shared: &Shared, commit: bool) -> Result<()> {
        self.end_txn(shared, commit).await?;
        if self.resumed.swap(false, Ordering::AcqRel) {
            // The producer that prepared the transaction may still be alive: under version 1
            // (or when there was nothing to end) it still has the current epoch, and under
            // version 2 its own EndTxn with the epoch just before the current one reads as a
            // retry, after which it would go on with ours. InitProducerId with the current id
            // and epoch bumps the epoch once more, which fences it; the transaction has
            // ended, so nothing is aborted. A failure here does not undo the commit: a fenced
            // producer is left fatally failed, anything else ready with the epoch it has.
            let _ = self.init(shared).await;
        }
        Ok(())
    }

    /// Sends EndTxn when the transaction started at the coordinator.
    async fn end_txn(&self, shared: &Shared, commit: bool) -> Result<()> {
        if !self.started.load(Ordering::Acquire) {
            // Nothing reached the coordinator: there is nothing to end.
            self.set(TxnState::Ready);
            return Ok(());
        }
        let identity = shared
            .sequences()
            .identity()
            .unwrap_or(ProducerIdentity::NONE);
        let tid = self.transactional_id.clone();
        let cap = if self.uses_v2() { i16::MAX } else { 4 };
        let next = self
            .with_retries(shared, |conn| {
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
            .inspect_err(|e| self.record_failure(e))?;
        if let Some(identity) = next {
            shared.sequences().set_identity(identity);
        }
        self.started.store(false, Ordering::Release);
        self.added.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.set(TxnState::Ready);
        Ok(())
    }

    pub(crate) fn start_commit(&self) -> Result<()> {
        self.require("commit_transaction", &[TxnState::InTransaction])?;
        self.set(TxnState::Committing);
        Ok(())
    }

    pub(crate) fn start_abort(&self) -> Result<()> {
        let s = self.lock().clone();
        match s {
            TxnState::InTransaction | TxnState::AbortableError(_) | TxnState::Aborting => {
                self.set(TxnState::Aborting);
                Ok(())
            }
            TxnState::FatalError(m) => Err(Error::ProducerFatal {
                message: m,
                code: None,
            }),
            other => Err(Error::TransactionState {
                operation: "abort_transaction",
                state: other.name(),
            }),
        }
    }

    pub(crate) fn prepare(&self, shared: &Shared) -> Result<PreparedTransaction> {
        self.require("prepare_transaction", &[TxnState::InTransaction])?;
        let identity = shared
            .sequences()
            .identity()
            .unwrap_or(ProducerIdentity::NONE);
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
        self.require(
            "resume_transaction",
            &[TxnState::Uninitialized, TxnState::Ready],
        )?;
        // Learn the protocol version from the coordinator, as init does.
        let conn = self.coordinator(shared).await?;
        let tv2 = Self::detect_v2(&conn);
        self.tv2.store(tv2, Ordering::Release);
        let open = Self::is_open(&conn, prepared, tv2).await;
        shared.sequences().set_identity(ProducerIdentity {
            id: prepared.producer_id,
            epoch: prepared.producer_epoch,
        });
        self.added.lock().unwrap_or_else(|e| e.into_inner()).clear();
        // An empty prepared transaction never started at the coordinator: EndTxn would
        // answer INVALID_TXN_STATE to commit and abort alike, and the producer could never
        // leave the transaction. There is nothing to end then.
        self.started.store(open, Ordering::Release);
        self.resumed.store(true, Ordering::Release);
        self.set(TxnState::InTransaction);
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
    fn states_allow_only_their_transitions() {
        let m = TxnManager::new("t".to_owned(), Duration::from_secs(60));
        assert!(matches!(
            m.check_send(),
            Err(Error::TransactionState {
                operation: "send",
                ..
            })
        ));
        assert!(m.begin().is_err(), "begin before init");
        m.set(TxnState::Ready);
        m.begin().unwrap();
        m.check_send().unwrap();
        assert!(m.begin().is_err(), "no nested transactions");
        m.fail_abortable("produce failed".to_owned());
        assert!(m.check_send().unwrap_err().is_abortable());
        assert!(m.start_commit().unwrap_err().is_abortable());
        m.start_abort().unwrap();
        assert_eq!(m.state(), TxnState::Aborting);
        m.fail_fatal("fenced".to_owned());
        assert!(m.start_abort().unwrap_err().is_fatal());
        m.fail_abortable("later".to_owned());
        assert!(matches!(m.state(), TxnState::FatalError(_)), "fatal sticks");
    }

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

    #[test]
    fn missing_lists_partitions_not_yet_added() {
        let m = TxnManager::new("t".to_owned(), Duration::from_secs(60));
        let a: Tp = ("x".into(), 0);
        let b: Tp = ("x".into(), 1);
        assert_eq!(
            m.missing(&[a.clone(), b.clone(), a.clone()]),
            vec![a.clone(), b.clone()]
        );
        m.mark_added(std::slice::from_ref(&a));
        assert_eq!(m.missing(&[a, b.clone()]), vec![b]);
    }
}
