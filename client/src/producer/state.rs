//! The producer's protocol state as one state machine, without I/O.
//!
//! [`ProducerState`] holds everything the protocol needs to remember between requests: the
//! producer id and epoch with each partition's sequence numbers ([`Sequences`]), whether the
//! epoch must be bumped (KIP-360), the transaction's phase with the partitions that joined it,
//! and why the producer stopped (the one place a fatal cause is kept) or why the transaction
//! must be aborted. Its handlers take one event and return the action the driver performs; they
//! never block, sleep or send, so every transition is tested below without a broker.
//!
//! Events come in three families, each with its handler and its action type:
//!
//! - a batch's attempt failed ([`ProducerState::on_failed`] with the error) → [`BatchAction`]
//!   (retry it, split it, fail it with a typed error); the other fates of a batch (acknowledged,
//!   dropped, split, too large to split) only settle its sequences;
//! - the sender starts a round ([`ProducerState::on_round`], then
//!   [`ProducerState::on_producer_id`] with the answer to InitProducerId) → [`RoundAction`]
//!   (send, wait, ask for a producer id, fail what is queued);
//! - a transactional call of the user ([`ProducerState::on_call`] with a [`Call`]) →
//!   [`CallAction`] or the error the call returns, and the coordinator's answers
//!   ([`ProducerState::on_txn`] with a [`TxnEvent`]) → [`TxnAction`].
//!
//! The driver that does the I/O is the sender task ([`super::sender`]): it reports the batch
//! and round events, and performs the coordinator requests of the transactional calls, which
//! reach it as commands ([`super::txn::TxnCommand`]), feeding their answers back here. The
//! steps without a request (`begin_transaction`, `prepare_transaction`, the `Commit` / `Abort`
//! step before a flush, the abort's unsent batches) are taken on the caller's side, and
//! `identity` / `transaction_state` read the state there: it therefore sits behind the
//! producer's mutex (`Shared::with_state`), and `send` reads only the `send_open` flag
//! published after every step.
//!
//! ```text
//!  Uninitialized --init--> Ready --begin--> InTransaction --commit--> Committing --> Ready
//!                            ^                   |   \                                ^
//!                            |                   |    `--abort--> Aborting -----------'
//!                            |                   v
//!                            |            AbortableError --abort--> Aborting
//!  any state ----------------+--> FatalError (fenced, unauthorized): only close
//! ```

use std::collections::HashSet;
use std::fmt;

use super::accumulator::{ProducerBatch, Tp};
use super::idempotence::{ProducerIdentity, Resolution, Sequences, Stamp};
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;

/// Why the producer stopped, or why the transaction must be aborted: the message of the error
/// that caused it and its Kafka code, kept so that every later call reports the same cause
/// (a caller tells PRODUCER_FENCED from TRANSACTIONAL_ID_AUTHORIZATION_FAILED by the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCause {
    message: String,
    code: Option<KafkaCode>,
}

impl FailureCause {
    pub(crate) fn new(message: impl Into<String>, code: Option<KafkaCode>) -> Self {
        Self {
            message: message.into(),
            code,
        }
    }

    /// The cause `error` describes. A fatal or abortable error gives its own message and code
    /// (not a message wrapped twice).
    pub(crate) fn of(error: &Error) -> Self {
        match error {
            Error::ProducerFatal { message, code }
            | Error::TransactionAbortable { message, code } => Self::new(message.clone(), *code),
            other => Self::new(other.to_string(), other.kafka_code()),
        }
    }

    /// What happened.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The broker's error code that caused it, if a code did.
    pub fn code(&self) -> Option<KafkaCode> {
        self.code
    }

    /// The [`Error::ProducerFatal`] of this cause.
    pub(crate) fn fatal(&self) -> Error {
        Error::ProducerFatal {
            message: self.message.clone(),
            code: self.code,
        }
    }

    /// The [`Error::TransactionAbortable`] of this cause.
    pub(crate) fn abortable(&self) -> Error {
        Error::TransactionAbortable {
            message: self.message.clone(),
            code: self.code,
        }
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

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
    AbortableError(FailureCause),
    /// The producer cannot continue.
    FatalError(FailureCause),
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

/// The transaction's phase; a fatal cause, kept apart, overrides it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Uninitialized,
    Ready,
    InTransaction,
    Committing,
    Aborting,
    Abortable(FailureCause),
}

impl Phase {
    fn public(&self) -> TxnState {
        match self {
            Phase::Uninitialized => TxnState::Uninitialized,
            Phase::Ready => TxnState::Ready,
            Phase::InTransaction => TxnState::InTransaction,
            Phase::Committing => TxnState::Committing,
            Phase::Aborting => TxnState::Aborting,
            Phase::Abortable(c) => TxnState::AbortableError(c.clone()),
        }
    }
}

/// A transactional producer's state besides identity and sequences.
#[derive(Debug)]
struct Txn {
    phase: Phase,
    /// Partitions that joined the current transaction.
    added: HashSet<Tp>,
    /// Whether the coordinator knows the current transaction started (something was added).
    started: bool,
    /// The open transaction was taken over with `resume`: its records were written by another
    /// producer, whose sequences this one does not know, so it can only be committed or
    /// aborted; ending it fences that producer.
    resumed: bool,
    /// Transaction protocol version 2 (KIP-890).
    v2: bool,
}

/// A transactional call of the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// `init_transactions` (also the epoch bump after an abort, and the fencing InitProducerId
    /// after a resumed transaction ended).
    Init,
    /// `begin_transaction`.
    Begin,
    /// `send_offsets_to_transaction`.
    SendOffsets,
    /// `commit_transaction`, before its flush.
    Commit,
    /// `commit_transaction`, after its flush: EndTxn(commit) is due.
    CommitFlushed,
    /// `abort_transaction`, before its flush.
    Abort,
    /// `abort_transaction`, after its flush: EndTxn(abort) is due.
    AbortFlushed,
    /// `prepare_transaction`, after its flush.
    Prepare,
    /// `resume_transaction`.
    Resume,
}

impl Call {
    /// The public method, for [`Error::TransactionState`].
    pub(crate) fn operation(self) -> &'static str {
        match self {
            Call::Init => "init_transactions",
            Call::Begin => "begin_transaction",
            Call::SendOffsets => "send_offsets_to_transaction",
            Call::Commit | Call::CommitFlushed => "commit_transaction",
            Call::Abort | Call::AbortFlushed => "abort_transaction",
            Call::Prepare => "prepare_transaction",
            Call::Resume => "resume_transaction",
        }
    }
}

/// What a transactional call does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallAction {
    /// Nothing more: the call succeeded.
    Done,
    /// Send InitProducerId, with the current identity (v3+ bumps its epoch) if there is one.
    InitProducerId { current: Option<ProducerIdentity> },
    /// Flush (commit), or fail the unsent batches and flush (abort).
    Flush,
    /// Add the group's offsets with this identity (AddOffsetsToTxn first under version 1).
    SendOffsets {
        identity: ProducerIdentity,
        v2: bool,
    },
    /// Send EndTxn with this identity, then report `Ended`.
    EndTxn {
        identity: ProducerIdentity,
        v2: bool,
    },
    /// Nothing reached the coordinator: there is nothing to send; report `Ended` at once.
    NothingToEnd,
    /// The prepared transaction is written under this identity.
    Prepared(ProducerIdentity),
    /// Ask the coordinator whether the prepared transaction is open, then report `Resumed`.
    Resume,
}

/// What the transaction coordinator (or the group coordinator, for offsets) answered.
#[derive(Debug)]
pub(crate) enum TxnEvent<'a> {
    /// InitProducerId succeeded.
    ProducerId {
        identity: ProducerIdentity,
        v2: bool,
    },
    /// InitProducerId failed: only a fatal error changes the state.
    InitFailed(&'a Error),
    /// A transactional request failed for good (AddPartitionsToTxn, AddOffsetsToTxn,
    /// TxnOffsetCommit, EndTxn): the producer stops or the transaction must be aborted.
    RequestFailed(&'a Error),
    /// Partitions joined the transaction (AddPartitionsToTxn, or the first Produce under
    /// version 2).
    PartitionsAdded(&'a [Tp]),
    /// The group joined the transaction (AddOffsetsToTxn, or TxnOffsetCommit under version 2).
    OffsetsAdded,
    /// EndTxn succeeded; version 2 returns the identity to go on with.
    Ended {
        commit: bool,
        next: Option<ProducerIdentity>,
    },
    /// A prepared transaction was taken over.
    Resumed {
        identity: ProducerIdentity,
        v2: bool,
        /// Whether the coordinator may hold it open.
        open: bool,
    },
}

/// What the driver does after a coordinator's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnAction {
    /// Nothing.
    None,
    /// After EndTxn: fence the producer that prepared a resumed transaction (InitProducerId,
    /// whose failure does not undo the end) and/or bump the epoch after an abort that left
    /// sequences unknown (InitProducerId, whose failure the abort returns).
    AfterEnd {
        fence_preparer: bool,
        bump_epoch: bool,
    },
}

/// What the driver does with a batch whose attempt failed.
#[derive(Debug)]
pub(crate) enum BatchAction {
    /// Queue it again after the backoff (or, past its delivery timeout, fail it and report
    /// it dropped).
    Retry {
        error: Error,
        /// Its stamp is resolved: it gets new sequences when it goes again.
        restamp: bool,
        /// The batch's `maybe_written` from now on.
        maybe_written: bool,
        /// Refresh the topic's metadata first.
        refresh_metadata: bool,
    },
    /// Split it in two and queue both halves in its place, then report
    /// [`ProducerState::on_split`] (or [`ProducerState::on_unsplittable`] for a single record).
    Split(Error),
    /// Fail its records with this error (its sequences are settled).
    Fail(Error),
}

/// What the sender does this round.
#[derive(Debug)]
pub(crate) enum RoundAction {
    /// Send what is ready.
    Send,
    /// Send nothing (no producer id yet); look again after the backoff.
    Wait,
    /// Ask for a producer id (InitProducerId without a transactional id), then report the
    /// answer to [`ProducerState::on_producer_id`].
    InitProducerId,
    /// The producer stopped: fail every unsent batch with this error and send nothing.
    FailUnsent(Error),
}

/// The facts about a batch an event needs.
#[derive(Debug, Clone)]
pub(crate) struct BatchRef<'a> {
    pub(crate) tp: &'a Tp,
    pub(crate) stamp: Option<Stamp>,
    /// An earlier attempt may have been written.
    pub(crate) maybe_written: bool,
}

impl<'a> BatchRef<'a> {
    /// What the state needs to know of `batch`.
    pub(crate) fn of(batch: &'a ProducerBatch) -> Self {
        Self {
            tp: &batch.tp,
            stamp: batch.stamp,
            maybe_written: batch.maybe_written,
        }
    }
}

/// The producer's protocol state.
#[derive(Debug)]
pub(crate) struct ProducerState {
    /// `enable.idempotence`.
    idempotent: bool,
    sequences: Sequences,
    /// An error left sequences unknown: bump the epoch (KIP-360).
    needs_bump: bool,
    /// A transactional producer's state.
    txn: Option<Txn>,
    /// Why the producer cannot go on, if it cannot. The only place this is kept.
    fatal: Option<FailureCause>,
}

impl ProducerState {
    pub(crate) fn new(idempotent: bool, transactional: bool) -> Self {
        Self {
            idempotent,
            sequences: Sequences::default(),
            needs_bump: false,
            txn: transactional.then(|| Txn {
                phase: Phase::Uninitialized,
                added: HashSet::new(),
                started: false,
                resumed: false,
                v2: false,
            }),
            fatal: None,
        }
    }

    /// The producer id and epoch in use, if there is one.
    pub(crate) fn identity(&self) -> Option<ProducerIdentity> {
        self.sequences.identity()
    }

    /// Whether transactions use protocol version 2 (KIP-890).
    pub(crate) fn uses_v2(&self) -> bool {
        self.txn.as_ref().is_some_and(|t| t.v2)
    }

    /// The transaction state (transactional producers only).
    pub(crate) fn txn_state(&self) -> Option<TxnState> {
        let txn = self.txn.as_ref()?;
        Some(match &self.fatal {
            Some(cause) => TxnState::FatalError(cause.clone()),
            None => txn.phase.public(),
        })
    }

    /// The error every call gets once the producer stopped.
    pub(crate) fn fatal_error(&self) -> Option<Error> {
        self.fatal.as_ref().map(FailureCause::fatal)
    }

    /// Whether `send` may queue records without asking [`Self::check_send`]: what the producer
    /// publishes for its lock-free check on every send.
    pub(crate) fn send_open(&self) -> bool {
        self.fatal.is_none()
            && self
                .txn
                .as_ref()
                .is_none_or(|t| t.phase == Phase::InTransaction && !t.resumed)
    }

    /// Whether `send` may queue a record now, and the error it returns if not.
    pub(crate) fn check_send(&self) -> Result<()> {
        if let Some(cause) = &self.fatal {
            return Err(cause.fatal());
        }
        let Some(txn) = &self.txn else {
            return Ok(());
        };
        match &txn.phase {
            Phase::InTransaction if txn.resumed => Err(Error::TransactionState {
                operation: "send",
                state: "resumed (a resumed transaction can only be committed or aborted)",
            }),
            Phase::InTransaction => Ok(()),
            Phase::Abortable(cause) => Err(cause.abortable()),
            other => Err(Error::TransactionState {
                operation: "send",
                state: other.public().name(),
            }),
        }
    }

    /// Assigns `record_count` sequence numbers of `tp` to a batch about to be sent; `None`
    /// when it must wait (see [`Sequences::assign`]).
    pub(crate) fn assign(&mut self, tp: &Tp, record_count: i32) -> Option<Stamp> {
        self.sequences.assign(tp, record_count)
    }

    /// Partitions among `tps` that have not joined the transaction yet (version 1), or none
    /// (version 2: the Produce adds them; they count as added from now on).
    pub(crate) fn partitions_to_add(&mut self, tps: &[Tp]) -> Vec<Tp> {
        let Some(txn) = &mut self.txn else {
            return Vec::new();
        };
        if txn.v2 {
            // Only a Produce starts the transaction: a round with nothing to send does not.
            if !tps.is_empty() {
                txn.added.extend(tps.iter().cloned());
                txn.started = true;
            }
            return Vec::new();
        }
        let mut missing: Vec<Tp> = tps
            .iter()
            .filter(|tp| !txn.added.contains(*tp))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }

    // ---- the sender's round ----

    /// Whether the next round may ask for a producer id (whether it needs to know if records
    /// are queued).
    pub(crate) fn may_need_producer_id(&self) -> bool {
        self.idempotent && (self.sequences.identity().is_none() || self.needs_bump)
    }

    /// The start of a sender round with `has_records` queued: a pending epoch bump of an
    /// idempotent producer happens now; without a producer id nothing goes out.
    pub(crate) fn on_round(&mut self, has_records: bool) -> RoundAction {
        if !self.idempotent {
            return RoundAction::Send;
        }
        if self.needs_bump && self.txn.is_none() {
            // KIP-360: a new epoch at once, even with requests in flight (waiting for none in
            // flight can starve). Each partition moves to it, at sequence 0, once its batches
            // of the old epoch are resolved; until then those keep their stamps.
            match self.sequences.bumped() {
                Some(next) => {
                    tracing::info!(
                        target: log_targets::PRODUCER,
                        producer_id = next.id,
                        epoch = next.epoch,
                        "sequences unknown: epoch bumped"
                    );
                    self.sequences.set_identity(next);
                }
                None => {
                    tracing::info!(
                        target: log_targets::PRODUCER,
                        "sequences unknown and the epoch exhausted: asking for a new producer id"
                    );
                    self.sequences.reset();
                }
            }
            self.needs_bump = false;
        }
        if self.sequences.identity().is_none() {
            if self.txn.is_none() && has_records && self.fatal.is_none() {
                return RoundAction::InitProducerId;
            }
            return match self.fatal_error() {
                Some(e) => RoundAction::FailUnsent(e),
                None => RoundAction::Wait,
            };
        }
        match self.fatal_error() {
            Some(e) => RoundAction::FailUnsent(e),
            None => RoundAction::Send,
        }
    }

    /// The answer to the idempotent producer's InitProducerId.
    pub(crate) fn on_producer_id(
        &mut self,
        answer: std::result::Result<ProducerIdentity, &Error>,
    ) -> RoundAction {
        match answer {
            Ok(identity) => {
                tracing::info!(
                    target: log_targets::PRODUCER,
                    producer_id = identity.id,
                    epoch = identity.epoch,
                    "producer id obtained"
                );
                self.sequences.set_identity(identity);
                match self.fatal_error() {
                    Some(e) => RoundAction::FailUnsent(e),
                    None => RoundAction::Send,
                }
            }
            Err(e) if e.is_fatal() => {
                self.set_fatal(FailureCause::of(e));
                RoundAction::FailUnsent(self.fatal_error().unwrap_or_else(|| e.duplicate()))
            }
            Err(e) => {
                tracing::debug!(
                    target: log_targets::PRODUCER,
                    error = %e,
                    "InitProducerId failed; trying again"
                );
                RoundAction::Wait
            }
        }
    }

    // ---- batches ----

    /// The broker wrote the batch (or reported it a duplicate of a batch it wrote): complete
    /// it.
    pub(crate) fn on_acked(&mut self, batch: BatchRef<'_>) {
        self.resolve(&batch, Resolution::Written);
    }

    /// The batch leaves without another attempt (delivery timeout, a transaction abort,
    /// AddPartitionsToTxn failed, the producer stopped); the driver fails it with its own error.
    pub(crate) fn on_dropped(&mut self, batch: BatchRef<'_>) {
        self.resolve(&batch, Resolution::NotWritten);
    }

    /// The batch was split in `parts` batches that share its sequence range (`batch` is the
    /// first of them).
    pub(crate) fn on_split(&mut self, batch: BatchRef<'_>, parts: u32) {
        if let Some(st) = batch.stamp {
            self.sequences.split(batch.tp, st, parts);
        }
    }

    /// A batch answered MESSAGE_TOO_LARGE holds a single record: it fails with `error`, which
    /// this returns.
    pub(crate) fn on_unsplittable(&mut self, batch: BatchRef<'_>, error: Error) -> Error {
        self.fail_abortable(FailureCause::of(&error));
        self.resolve(&batch, Resolution::NotWritten);
        error
    }

    /// A batch's attempt failed with `error` (`retriable` as the request's outcome says).
    /// `earlier_unresolved`: a batch of the partition before this one is in flight or queued
    /// with its sequences (needed for OUT_OF_ORDER_SEQUENCE_NUMBER only).
    pub(crate) fn on_failed(
        &mut self,
        mut batch: BatchRef<'_>,
        error: Error,
        retriable: bool,
        earlier_unresolved: bool,
    ) -> BatchAction {
        let code = error.kafka_code();
        if self.idempotent && code.is_some_and(|c| c.loses_sequence_state()) {
            if code == Some(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER) && earlier_unresolved {
                // OUT_OF_ORDER_SEQUENCE_NUMBER behind an earlier batch of the partition that
                // is not written yet (in flight, or back for a retry): not a gap of ours.
                // Retry with the same sequences, after that batch.
                log_retry(batch.tp, &error);
                return BatchAction::Retry {
                    error,
                    restamp: false,
                    maybe_written: batch.maybe_written,
                    refresh_metadata: false,
                };
            }
            // OUT_OF_ORDER_SEQUENCE_NUMBER for the batch next in line, or UNKNOWN_PRODUCER_ID:
            // the broker's sequence state is not ours. Idempotent: new epoch, then retry under
            // it (the broker did not write this batch). Transactional: the transaction must
            // abort (the abort bumps the epoch). A batch stamped before the last bump only
            // goes under the new epoch.
            let current = self.sequences.identity();
            let stale = batch.stamp.is_some_and(|st| Some(st.identity) != current);
            if stale {
                if let Some(st) = batch.stamp {
                    self.sequences.resolve(batch.tp, st, Resolution::Written);
                }
            } else {
                self.resolve(&batch, Resolution::Unknown);
                self.needs_bump = true;
            }
            // Resolved: the batch goes again under a new stamp, or fails.
            batch.stamp = None;
            return if self.txn.is_none() {
                log_retry(batch.tp, &error);
                BatchAction::Retry {
                    error,
                    restamp: true,
                    maybe_written: false,
                    refresh_metadata: false,
                }
            } else {
                let cause = FailureCause::of(&error);
                self.fail_abortable(cause.clone());
                BatchAction::Fail(cause.abortable())
            };
        }
        if code.is_some_and(|c| c.is_producer_fenced()) {
            // INVALID_PRODUCER_EPOCH / PRODUCER_FENCED: a newer producer took over.
            let cause = FailureCause::of(&error);
            self.set_fatal(cause.clone());
            self.resolve(&batch, Resolution::NotWritten);
            return BatchAction::Fail(cause.fatal());
        }
        if !retriable && code == Some(KafkaCode::MESSAGE_TOO_LARGE) {
            // Nothing was written; split the batch in two and send both halves, first to
            // last, in the batch's place (as the Java client does). A single record too large
            // fails (`Unsplittable`).
            return BatchAction::Split(error);
        }
        let maybe_written = batch.maybe_written || outcome_may_be_written(&error);
        if retriable {
            log_retry(batch.tp, &error);
            return BatchAction::Retry {
                refresh_metadata: code.is_none_or(|c| c.needs_metadata_refresh()),
                error,
                restamp: false,
                maybe_written,
            };
        }
        self.fail_abortable(FailureCause::of(&error));
        batch.maybe_written = maybe_written;
        self.resolve(&batch, Resolution::NotWritten);
        BatchAction::Fail(error)
    }

    /// Settles a stamped batch's sequences as it leaves the producer (a batch that may have
    /// been written is never "not written"); asks for an epoch bump when its partition's
    /// sequences are no longer known.
    fn resolve(&mut self, batch: &BatchRef<'_>, how: Resolution) {
        let Some(stamp) = batch.stamp else {
            return;
        };
        let how = match how {
            Resolution::NotWritten if batch.maybe_written => Resolution::Unknown,
            other => other,
        };
        if self.sequences.resolve(batch.tp, stamp, how) && self.idempotent {
            // A batch may or may not have been written: sequences are no longer known.
            self.needs_bump = true;
            // A cause already known (with its code) says more than this one.
            if !matches!(
                self.txn.as_ref().map(|t| &t.phase),
                Some(Phase::Abortable(_))
            ) {
                self.fail_abortable(FailureCause::new("a batch's outcome is unknown", None));
            }
        }
    }

    /// The transaction (if any) can only be aborted now, unless the producer stopped. The
    /// latest cause is the one reported.
    fn fail_abortable(&mut self, cause: FailureCause) {
        if self.fatal.is_some() {
            return;
        }
        if let Some(txn) = &mut self.txn {
            tracing::debug!(
                target: log_targets::TXN,
                from = txn.phase.public().name(),
                cause = %cause,
                code = ?cause.code(),
                "transaction must be aborted"
            );
            txn.phase = Phase::Abortable(cause);
        }
    }

    /// The producer cannot go on. The first cause stays.
    fn set_fatal(&mut self, cause: FailureCause) {
        if self.fatal.is_some() {
            return;
        }
        tracing::warn!(
            target: log_targets::PRODUCER,
            cause = %cause,
            code = ?cause.code(),
            "the producer stopped (fenced or not authorized); close it"
        );
        self.fatal = Some(cause);
    }

    fn set_phase(&mut self, phase: Phase) {
        if let Some(txn) = &mut self.txn {
            if txn.phase != phase {
                tracing::debug!(
                    target: log_targets::TXN,
                    from = txn.phase.public().name(),
                    to = phase.public().name(),
                    "transaction state"
                );
                txn.phase = phase;
            }
        }
    }

    // ---- transactional calls ----

    /// The error `call` gets in the current state, unless `allowed` accepts the phase.
    fn require(&self, call: Call, allowed: impl Fn(&Phase) -> bool) -> Result<&Txn> {
        let Some(txn) = &self.txn else {
            return Err(Error::TransactionState {
                operation: call.operation(),
                state: "not transactional (no transactional.id)",
            });
        };
        if let Some(cause) = &self.fatal {
            return Err(cause.fatal());
        }
        if allowed(&txn.phase) {
            return Ok(txn);
        }
        match &txn.phase {
            Phase::Abortable(cause) if !matches!(call, Call::Abort | Call::AbortFlushed) => {
                Err(cause.abortable())
            }
            other => Err(Error::TransactionState {
                operation: call.operation(),
                state: other.public().name(),
            }),
        }
    }

    /// A transactional call of the user: the error it returns in this state, or what to do.
    pub(crate) fn on_call(&mut self, call: Call) -> Result<CallAction> {
        let identity = self.identity().unwrap_or(ProducerIdentity::NONE);
        match call {
            Call::Init => {
                self.require(call, |p| matches!(p, Phase::Uninitialized | Phase::Ready))?;
                Ok(CallAction::InitProducerId {
                    current: self.identity(),
                })
            }
            Call::Resume => {
                self.require(call, |p| matches!(p, Phase::Uninitialized | Phase::Ready))?;
                Ok(CallAction::Resume)
            }
            Call::Begin => {
                self.require(call, |p| *p == Phase::Ready)?;
                if let Some(txn) = &mut self.txn {
                    txn.added.clear();
                    txn.started = false;
                    txn.resumed = false;
                }
                self.set_phase(Phase::InTransaction);
                Ok(CallAction::Done)
            }
            Call::SendOffsets => {
                let v2 = self.require(call, |p| *p == Phase::InTransaction)?.v2;
                Ok(CallAction::SendOffsets { identity, v2 })
            }
            Call::Prepare => {
                self.require(call, |p| *p == Phase::InTransaction)?;
                Ok(CallAction::Prepared(identity))
            }
            Call::Commit => {
                self.require(call, |p| *p == Phase::InTransaction)?;
                self.set_phase(Phase::Committing);
                Ok(CallAction::Flush)
            }
            Call::Abort => {
                self.require(call, |p| {
                    matches!(
                        p,
                        Phase::InTransaction | Phase::Abortable(_) | Phase::Aborting
                    )
                })?;
                self.set_phase(Phase::Aborting);
                Ok(CallAction::Flush)
            }
            Call::CommitFlushed | Call::AbortFlushed => {
                // A record failed during the flush: the commit cannot go on.
                let txn = self.require(call, |_| true)?;
                if call == Call::CommitFlushed {
                    if let Phase::Abortable(cause) = &txn.phase {
                        return Err(cause.abortable());
                    }
                }
                if !txn.started {
                    return Ok(CallAction::NothingToEnd);
                }
                Ok(CallAction::EndTxn {
                    identity,
                    v2: txn.v2,
                })
            }
        }
    }

    /// What the coordinator answered.
    pub(crate) fn on_txn(&mut self, event: TxnEvent<'_>) -> TxnAction {
        match event {
            TxnEvent::ProducerId { identity, v2 } => {
                if self.identity().is_some_and(|c| c.id == identity.id) {
                    tracing::info!(
                        target: log_targets::TXN,
                        producer_id = identity.id,
                        epoch = identity.epoch,
                        "epoch bumped by InitProducerId"
                    );
                } else {
                    tracing::info!(
                        target: log_targets::TXN,
                        producer_id = identity.id,
                        epoch = identity.epoch,
                        transaction_v2 = v2,
                        "producer id obtained"
                    );
                }
                self.sequences.set_identity(identity);
                if let Some(txn) = &mut self.txn {
                    txn.v2 = v2;
                }
                self.set_phase(Phase::Ready);
                TxnAction::None
            }
            TxnEvent::InitFailed(e) => {
                if e.is_fatal() {
                    self.set_fatal(FailureCause::of(e));
                }
                TxnAction::None
            }
            TxnEvent::RequestFailed(e) => {
                if e.is_fatal() {
                    self.set_fatal(FailureCause::of(e));
                } else {
                    self.fail_abortable(FailureCause::of(e));
                }
                TxnAction::None
            }
            TxnEvent::PartitionsAdded(tps) => {
                if let Some(txn) = &mut self.txn {
                    txn.added.extend(tps.iter().cloned());
                    txn.started = true;
                }
                TxnAction::None
            }
            TxnEvent::OffsetsAdded => {
                if let Some(txn) = &mut self.txn {
                    txn.started = true;
                }
                TxnAction::None
            }
            TxnEvent::Ended { commit, next } => {
                if let Some(identity) = next {
                    if self.identity() != Some(identity) {
                        tracing::info!(
                            target: log_targets::TXN,
                            producer_id = identity.id,
                            epoch = identity.epoch,
                            "epoch bumped by EndTxn"
                        );
                    }
                    self.sequences.set_identity(identity);
                }
                let mut fence_preparer = false;
                let v2 = self.uses_v2();
                if let Some(txn) = &mut self.txn {
                    txn.started = false;
                    txn.added.clear();
                    fence_preparer = std::mem::take(&mut txn.resumed);
                }
                self.set_phase(Phase::Ready);
                // Sequences are unknown after a failure: bump the epoch (InitProducerId with
                // the current id and epoch, KIP-360); under version 2 EndTxn did.
                let bump_epoch = !commit && std::mem::take(&mut self.needs_bump) && !v2;
                TxnAction::AfterEnd {
                    fence_preparer,
                    bump_epoch,
                }
            }
            TxnEvent::Resumed { identity, v2, open } => {
                self.sequences.set_identity(identity);
                if let Some(txn) = &mut self.txn {
                    txn.v2 = v2;
                    txn.added.clear();
                    // An empty prepared transaction never started at the coordinator: EndTxn
                    // would answer INVALID_TXN_STATE to commit and abort alike, and the
                    // producer could never leave the transaction. There is nothing to end then.
                    txn.started = open;
                    txn.resumed = true;
                }
                self.set_phase(Phase::InTransaction);
                TxnAction::None
            }
        }
    }
}

fn log_retry(tp: &Tp, error: &Error) {
    tracing::debug!(
        target: log_targets::PRODUCER,
        topic = %tp.0,
        partition = tp.1,
        error = %error,
        "retrying a batch"
    );
}

/// Whether the broker may have written a batch whose attempt ended with `e`: no answer (a cut
/// connection, a timeout), or REQUEST_TIMED_OUT / NOT_ENOUGH_REPLICAS_AFTER_APPEND (written by
/// the leader, not replicated in time). Other broker errors reject the batch before the log.
pub(crate) fn outcome_may_be_written(e: &Error) -> bool {
    match e.kafka_code() {
        Some(code) => code.may_have_been_written(),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_targets::events_of;

    const ID: ProducerIdentity = ProducerIdentity { id: 5, epoch: 0 };

    fn tp(p: i32) -> Tp {
        ("t".into(), p)
    }

    fn produce_error(code: KafkaCode) -> Error {
        Error::Broker {
            api: "Produce",
            code,
            context: Some("t-0".to_owned()),
            message: None,
        }
    }

    fn batch(tp: &Tp, stamp: Option<Stamp>) -> BatchRef<'_> {
        BatchRef {
            tp,
            stamp,
            maybe_written: false,
        }
    }

    fn idempotent() -> ProducerState {
        let mut s = ProducerState::new(true, false);
        assert!(matches!(s.on_round(true), RoundAction::InitProducerId));
        assert!(matches!(s.on_producer_id(Ok(ID)), RoundAction::Send));
        s
    }

    /// A transactional producer with a transaction open and `tps` added (version 1).
    fn in_transaction(tps: &[Tp]) -> ProducerState {
        let mut s = ProducerState::new(true, true);
        s.on_call(Call::Init).unwrap();
        s.on_txn(TxnEvent::ProducerId {
            identity: ID,
            v2: false,
        });
        s.on_call(Call::Begin).unwrap();
        let missing = s.partitions_to_add(tps);
        if !missing.is_empty() {
            s.on_txn(TxnEvent::PartitionsAdded(&missing));
        }
        s
    }

    #[test]
    fn states_allow_only_their_transitions() {
        let mut s = ProducerState::new(true, true);
        assert!(!s.send_open());
        assert!(matches!(
            s.check_send(),
            Err(Error::TransactionState {
                operation: "send",
                ..
            })
        ));
        assert!(s.on_call(Call::Begin).is_err(), "begin before init");
        assert_eq!(
            s.on_call(Call::Init).unwrap(),
            CallAction::InitProducerId { current: None }
        );
        s.on_txn(TxnEvent::ProducerId {
            identity: ID,
            v2: false,
        });
        assert_eq!(s.txn_state(), Some(TxnState::Ready));
        assert_eq!(s.on_call(Call::Begin).unwrap(), CallAction::Done);
        assert!(s.send_open());
        s.check_send().unwrap();
        assert!(s.on_call(Call::Begin).is_err(), "no nested transactions");

        // A record fails: the transaction can only be aborted, and every call says why,
        // with the broker's code.
        let a = tp(0);
        let action = s.on_failed(
            batch(&a, None),
            produce_error(KafkaCode::TOPIC_AUTHORIZATION_FAILED),
            false,
            false,
        );
        assert!(matches!(action, BatchAction::Fail(_)));
        assert!(!s.send_open());
        for e in [
            s.check_send().unwrap_err(),
            s.on_call(Call::Commit).unwrap_err(),
            s.on_call(Call::SendOffsets).unwrap_err(),
        ] {
            assert!(e.is_abortable(), "{e}");
            assert_eq!(e.kafka_code(), Some(KafkaCode::TOPIC_AUTHORIZATION_FAILED));
        }
        assert_eq!(s.on_call(Call::Abort).unwrap(), CallAction::Flush);
        assert_eq!(s.txn_state(), Some(TxnState::Aborting));

        // Fenced: fatal for good, whatever comes later.
        let action = s.on_failed(
            batch(&a, None),
            produce_error(KafkaCode::PRODUCER_FENCED),
            true,
            false,
        );
        let BatchAction::Fail(e) = action else {
            panic!("a fenced batch fails: {action:?}");
        };
        assert!(e.is_fatal());
        assert_eq!(e.kafka_code(), Some(KafkaCode::PRODUCER_FENCED));
        s.on_txn(TxnEvent::RequestFailed(&Error::TransactionAbortable {
            message: "later".to_owned(),
            code: Some(KafkaCode::ILLEGAL_GENERATION),
        }));
        let Some(TxnState::FatalError(cause)) = s.txn_state() else {
            panic!("fatal sticks: {:?}", s.txn_state());
        };
        assert_eq!(cause.code(), Some(KafkaCode::PRODUCER_FENCED));
        for call in [Call::Abort, Call::AbortFlushed, Call::Begin, Call::Init] {
            let e = s.on_call(call).unwrap_err();
            assert!(e.is_fatal(), "{call:?}: {e}");
            assert_eq!(e.kafka_code(), Some(KafkaCode::PRODUCER_FENCED), "{call:?}");
        }
        assert_eq!(
            s.check_send().unwrap_err().kafka_code(),
            Some(KafkaCode::PRODUCER_FENCED)
        );
    }

    #[test]
    fn a_refused_producer_id_is_told_apart_from_a_fenced_producer_on_every_later_call() {
        let mut s = ProducerState::new(true, false);
        assert!(s.send_open());
        assert!(
            matches!(s.on_round(false), RoundAction::Wait),
            "nothing to send"
        );
        assert!(matches!(s.on_round(true), RoundAction::InitProducerId));
        let refused = Error::ProducerFatal {
            message: "InitProducerId: ClusterAuthorizationFailed".to_owned(),
            code: Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED),
        };
        let RoundAction::FailUnsent(e) = s.on_producer_id(Err(&refused)) else {
            panic!("the queued records fail");
        };
        assert_eq!(
            e.kafka_code(),
            Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
        );
        assert_eq!(
            e.to_string(),
            refused.to_string(),
            "the message is not wrapped twice"
        );
        assert!(!s.send_open());
        for _ in 0..2 {
            let RoundAction::FailUnsent(e) = s.on_round(true) else {
                panic!("a stopped producer sends nothing");
            };
            assert_eq!(
                e.kafka_code(),
                Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
            );
            let e = s.check_send().unwrap_err();
            assert!(e.is_fatal());
            assert_eq!(
                e.kafka_code(),
                Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
            );
        }
        // A transient failure only waits.
        let mut s = ProducerState::new(true, false);
        let busy = produce_error(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS);
        assert!(matches!(s.on_producer_id(Err(&busy)), RoundAction::Wait));
        assert!(s.send_open());
    }

    #[test]
    fn a_lost_sequence_state_bumps_the_epoch_and_the_batch_goes_again_restamped() {
        let mut s = idempotent();
        let a = tp(0);
        let stamp = s.assign(&a, 3).unwrap();
        let action = s.on_failed(
            batch(&a, Some(stamp)),
            produce_error(KafkaCode::UNKNOWN_PRODUCER_ID),
            false,
            false,
        );
        let BatchAction::Retry {
            error,
            restamp,
            maybe_written,
            refresh_metadata,
        } = action
        else {
            panic!("an idempotent producer retries: {action:?}");
        };
        assert_eq!(error.kafka_code(), Some(KafkaCode::UNKNOWN_PRODUCER_ID));
        assert!(restamp && !maybe_written && !refresh_metadata);
        assert_eq!(s.identity(), Some(ID), "bumped at the next round");
        assert!(matches!(s.on_round(true), RoundAction::Send));
        assert_eq!(s.identity(), Some(ProducerIdentity { id: 5, epoch: 1 }));
        let again = s.assign(&a, 3).unwrap();
        assert_eq!((again.identity.epoch, again.base_sequence), (1, 0));
    }

    #[test]
    fn out_of_order_behind_an_earlier_batch_retries_with_the_same_sequences() {
        let mut s = idempotent();
        let a = tp(0);
        let first = s.assign(&a, 1).unwrap();
        s.on_acked(batch(&a, Some(first)));
        let _earlier = s.assign(&a, 2).unwrap();
        let later = s.assign(&a, 2).unwrap();
        let action = s.on_failed(
            batch(&a, Some(later)),
            produce_error(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
            false,
            true,
        );
        assert!(matches!(action, BatchAction::Retry { restamp: false, .. }));
        assert!(matches!(s.on_round(true), RoundAction::Send));
        assert_eq!(s.identity(), Some(ID), "no bump");
    }

    #[test]
    fn a_transaction_that_lost_sequences_fails_abortably_and_its_abort_bumps_the_epoch() {
        let a = tp(0);
        for v2 in [false, true] {
            let mut s = in_transaction(std::slice::from_ref(&a));
            if let Some(t) = &mut s.txn {
                t.v2 = v2;
            }
            let stamp = s.assign(&a, 2).unwrap();
            let action = s.on_failed(
                batch(&a, Some(stamp)),
                produce_error(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
                false,
                false,
            );
            let BatchAction::Fail(e) = action else {
                panic!("a transactional batch fails: {action:?}");
            };
            assert!(e.is_abortable());
            assert_eq!(
                e.kafka_code(),
                Some(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            );
            let Some(TxnState::AbortableError(cause)) = s.txn_state() else {
                panic!("abortable: {:?}", s.txn_state());
            };
            assert_eq!(cause.code(), Some(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
            assert!(
                matches!(s.on_round(true), RoundAction::Send),
                "a transactional producer bumps only through its abort"
            );
            assert_eq!(s.on_call(Call::Abort).unwrap(), CallAction::Flush);
            assert_eq!(
                s.on_call(Call::AbortFlushed).unwrap(),
                CallAction::EndTxn { identity: ID, v2 }
            );
            assert_eq!(
                s.on_txn(TxnEvent::Ended {
                    commit: false,
                    next: None
                }),
                TxnAction::AfterEnd {
                    fence_preparer: false,
                    bump_epoch: !v2,
                },
                "version 2's EndTxn bumps the epoch itself"
            );
            assert_eq!(s.txn_state(), Some(TxnState::Ready));
            assert_eq!(
                s.on_call(Call::Init).unwrap(),
                CallAction::InitProducerId { current: Some(ID) },
                "InitProducerId with the current identity bumps its epoch"
            );
        }
    }

    #[test]
    fn retriable_errors_retry_and_remember_a_possible_write() {
        let mut s = idempotent();
        let a = tp(0);
        let stamp = s.assign(&a, 1).unwrap();
        let action = s.on_failed(
            batch(&a, Some(stamp)),
            produce_error(KafkaCode::NOT_LEADER_OR_FOLLOWER),
            true,
            false,
        );
        assert!(matches!(
            action,
            BatchAction::Retry {
                restamp: false,
                maybe_written: false,
                refresh_metadata: true,
                ..
            }
        ));
        let action = s.on_failed(
            batch(&a, Some(stamp)),
            produce_error(KafkaCode::REQUEST_TIMED_OUT),
            true,
            false,
        );
        assert!(matches!(
            action,
            BatchAction::Retry {
                maybe_written: true,
                refresh_metadata: false,
                ..
            }
        ));
        // It expires: it may have been written, so its sequences are unknown now.
        s.on_dropped(BatchRef {
            tp: &a,
            stamp: Some(stamp),
            maybe_written: true,
        });
        assert!(matches!(s.on_round(true), RoundAction::Send));
        assert_eq!(s.identity().map(|i| i.epoch), Some(1), "bumped");
    }

    #[test]
    fn a_rejected_batch_gives_its_sequences_back_without_a_bump() {
        let mut s = idempotent();
        let a = tp(0);
        let first = s.assign(&a, 4).unwrap();
        s.on_acked(batch(&a, Some(first)));
        let rejected = s.assign(&a, 3).unwrap();
        let action = s.on_failed(
            batch(&a, Some(rejected)),
            produce_error(KafkaCode::MESSAGE_TOO_LARGE),
            false,
            false,
        );
        let BatchAction::Split(e) = action else {
            panic!("a batch too large is split: {action:?}");
        };
        let e = s.on_unsplittable(batch(&a, Some(rejected)), e);
        assert_eq!(e.kafka_code(), Some(KafkaCode::MESSAGE_TOO_LARGE));
        assert!(matches!(s.on_round(true), RoundAction::Send));
        assert_eq!(s.identity(), Some(ID), "no bump");
        assert_eq!(s.assign(&a, 1).unwrap().base_sequence, 4);
    }

    #[test]
    fn a_record_failing_during_the_commit_flush_fails_the_commit_with_its_code() {
        let a = tp(0);
        let mut s = in_transaction(std::slice::from_ref(&a));
        assert_eq!(s.on_call(Call::Commit).unwrap(), CallAction::Flush);
        assert_eq!(s.txn_state(), Some(TxnState::Committing));
        s.on_failed(
            batch(&a, None),
            produce_error(KafkaCode::UNKNOWN_SERVER_ERROR),
            false,
            false,
        );
        let e = s.on_call(Call::CommitFlushed).unwrap_err();
        assert!(e.is_abortable());
        assert_eq!(e.kafka_code(), Some(KafkaCode::UNKNOWN_SERVER_ERROR));
        assert_eq!(s.on_call(Call::Abort).unwrap(), CallAction::Flush);
    }

    #[test]
    fn a_resumed_transaction_takes_no_records_and_its_end_fences_the_preparer() {
        for open in [true, false] {
            let mut s = ProducerState::new(true, true);
            assert_eq!(s.on_call(Call::Resume).unwrap(), CallAction::Resume);
            s.on_txn(TxnEvent::Resumed {
                identity: ID,
                v2: false,
                open,
            });
            assert_eq!(s.identity(), Some(ID));
            assert!(!s.send_open());
            assert!(matches!(
                s.check_send(),
                Err(Error::TransactionState {
                    operation: "send",
                    ..
                })
            ));
            assert_eq!(s.on_call(Call::Commit).unwrap(), CallAction::Flush);
            let want = if open {
                CallAction::EndTxn {
                    identity: ID,
                    v2: false,
                }
            } else {
                CallAction::NothingToEnd
            };
            assert_eq!(s.on_call(Call::CommitFlushed).unwrap(), want);
            assert_eq!(
                s.on_txn(TxnEvent::Ended {
                    commit: true,
                    next: None
                }),
                TxnAction::AfterEnd {
                    fence_preparer: true,
                    bump_epoch: false
                }
            );
            assert_eq!(s.txn_state(), Some(TxnState::Ready));
            s.on_call(Call::Begin).unwrap();
            assert!(s.send_open(), "a new transaction takes records");
        }
    }

    #[test]
    fn partitions_to_add_lists_those_not_yet_in_the_transaction() {
        let (a, b) = (tp(0), tp(1));
        let mut s = in_transaction(&[]);
        assert_eq!(
            s.partitions_to_add(&[a.clone(), b.clone(), a.clone()]),
            vec![a.clone(), b.clone()]
        );
        s.on_txn(TxnEvent::PartitionsAdded(std::slice::from_ref(&a)));
        assert_eq!(
            s.partitions_to_add(&[a.clone(), b.clone()]),
            vec![b.clone()]
        );
        // Version 2: the Produce adds them.
        if let Some(t) = &mut s.txn {
            t.v2 = true;
        }
        assert!(s.partitions_to_add(&[]).is_empty());
        assert!(s.partitions_to_add(&[b]).is_empty());
        assert_eq!(
            s.on_call(Call::CommitFlushed).unwrap(),
            CallAction::EndTxn {
                identity: ID,
                v2: true
            }
        );
    }

    #[test]
    fn under_version_2_a_round_with_nothing_to_send_starts_no_transaction() {
        let mut s = in_transaction(&[]);
        if let Some(t) = &mut s.txn {
            t.v2 = true;
        }
        // The sender's rounds before the commit found nothing to send.
        assert!(s.partitions_to_add(&[]).is_empty());
        s.on_call(Call::Commit).unwrap();
        assert_eq!(
            s.on_call(Call::CommitFlushed).unwrap(),
            CallAction::NothingToEnd,
            "nothing reached a broker: no EndTxn"
        );
    }

    #[test]
    fn an_empty_transaction_ends_without_a_request() {
        let mut s = in_transaction(&[]);
        s.on_call(Call::Commit).unwrap();
        assert_eq!(
            s.on_call(Call::CommitFlushed).unwrap(),
            CallAction::NothingToEnd
        );
        s.on_txn(TxnEvent::Ended {
            commit: true,
            next: None,
        });
        assert_eq!(s.txn_state(), Some(TxnState::Ready));
    }

    #[test]
    fn a_non_transactional_producer_refuses_transactional_calls() {
        let mut s = idempotent();
        let e = s.on_call(Call::Begin).unwrap_err();
        assert!(matches!(
            e,
            Error::TransactionState {
                operation: "begin_transaction",
                ..
            }
        ));
        assert_eq!(s.txn_state(), None);
    }

    #[test]
    fn only_answers_that_may_follow_a_write_count_as_unknown() {
        assert!(outcome_may_be_written(&Error::ConnectionClosed {
            broker: "b".to_owned(),
            reason: None,
        }));
        assert!(outcome_may_be_written(&produce_error(
            KafkaCode::REQUEST_TIMED_OUT
        )));
        assert!(outcome_may_be_written(&produce_error(
            KafkaCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        )));
        assert!(!outcome_may_be_written(&produce_error(
            KafkaCode::NOT_LEADER_OR_FOLLOWER
        )));
        assert!(!outcome_may_be_written(&produce_error(
            KafkaCode::MESSAGE_TOO_LARGE
        )));
    }

    fn has(events: &[String], prefix: &str, parts: &[&str]) -> bool {
        events
            .iter()
            .any(|e| e.starts_with(prefix) && parts.iter().all(|p| e.contains(p)))
    }

    #[test]
    fn producer_ids_retries_epoch_bumps_and_fencing_are_events() {
        let mut s = ProducerState::new(true, false);
        let a = tp(3);
        let events = events_of(|| {
            s.on_producer_id(Ok(ID));
        });
        assert!(
            has(
                &events,
                "INFO laminar_kafka::producer",
                &["producer id obtained", "producer_id=5", "epoch=0"]
            ),
            "{events:?}"
        );
        let stamp = s.assign(&a, 1);
        let events = events_of(|| {
            s.on_failed(
                batch(&a, stamp),
                produce_error(KafkaCode::NOT_LEADER_OR_FOLLOWER),
                true,
                false,
            );
        });
        assert!(
            has(
                &events,
                "DEBUG laminar_kafka::producer",
                &["retrying a batch", "partition=3", "NotLeaderOrFollower"]
            ),
            "{events:?}"
        );
        let events = events_of(|| {
            s.on_failed(
                batch(&a, stamp),
                produce_error(KafkaCode::UNKNOWN_PRODUCER_ID),
                false,
                false,
            );
            s.on_round(true);
        });
        assert!(
            has(
                &events,
                "INFO laminar_kafka::producer",
                &["epoch bumped", "epoch=1"]
            ),
            "{events:?}"
        );
        let events = events_of(|| {
            s.on_failed(
                batch(&a, None),
                produce_error(KafkaCode::PRODUCER_FENCED),
                false,
                false,
            );
        });
        assert!(
            has(
                &events,
                "WARN laminar_kafka::producer",
                &["the producer stopped", "ProducerFenced"]
            ),
            "{events:?}"
        );

        let mut t = ProducerState::new(true, true);
        t.on_txn(TxnEvent::ProducerId {
            identity: ID,
            v2: false,
        });
        let events = events_of(|| {
            t.on_call(Call::Begin).unwrap();
        });
        assert!(
            has(
                &events,
                "DEBUG laminar_kafka::txn",
                &["transaction state", "open"]
            ),
            "{events:?}"
        );
    }
}
