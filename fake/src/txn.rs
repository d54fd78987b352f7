//! The transaction coordinator: one state machine per transactional id.
//!
//! ```text
//! Empty ──AddPartitions/AddOffsets──▶ Ongoing ──EndTxn(commit)──▶ CompleteCommit
//!   ▲                                    │   └──EndTxn(abort)───▶ CompleteAbort
//!   └──────────── InitProducerId (bumps the epoch, aborts Ongoing) ◀──┘
//! ```
//!
//! Markers are written to every partition of the transaction when it ends (the fake has no
//! PrepareCommit phase: EndTxn completes at once). Transaction protocol v1 only (no KIP-890
//! epoch bump per transaction).

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;

use crate::state::{State, now_ms};

/// The largest `transaction.timeout.ms` accepted (the broker's `transaction.max.timeout.ms`).
const MAX_TRANSACTION_TIMEOUT_MS: i32 = 900_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Empty,
    Ongoing,
    CompleteCommit,
    CompleteAbort,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingOffset {
    pub(crate) group: String,
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) metadata: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Txn {
    pub(crate) producer_id: i64,
    pub(crate) epoch: i16,
    pub(crate) phase: Phase,
    pub(crate) partitions: BTreeSet<(String, i32)>,
    pub(crate) groups: BTreeSet<String>,
    pub(crate) pending_offsets: Vec<PendingOffset>,
}

type TxnResult<T> = Result<T, ResponseError>;

/// Checks that `(producer_id, epoch)` is the current producer of `txn_id`.
fn current<'a>(
    state: &'a mut State,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
) -> TxnResult<&'a mut Txn> {
    let txn = state
        .txns
        .get_mut(txn_id)
        .ok_or(ResponseError::InvalidProducerIdMapping)?;
    if txn.producer_id != producer_id {
        return Err(ResponseError::InvalidProducerIdMapping);
    }
    if epoch < txn.epoch {
        return Err(ResponseError::ProducerFenced);
    }
    if epoch > txn.epoch {
        return Err(ResponseError::InvalidProducerEpoch);
    }
    Ok(txn)
}

/// Writes the markers of `txn_id`'s open transaction and completes it.
fn complete(state: &mut State, txn_id: &str, commit: bool) {
    let Some(txn) = state.txns.get_mut(txn_id) else {
        return;
    };
    let partitions = std::mem::take(&mut txn.partitions);
    let offsets = std::mem::take(&mut txn.pending_offsets);
    txn.groups.clear();
    txn.phase = if commit {
        Phase::CompleteCommit
    } else {
        Phase::CompleteAbort
    };
    let (pid, epoch) = (txn.producer_id, txn.epoch);
    let now = now_ms();
    for (topic, p) in partitions {
        if let Some(part) = state.partition_mut(&topic, p) {
            let leader_epoch = part.leader_epoch;
            part.log.write_marker(pid, epoch, commit, leader_epoch, now);
        }
    }
    if commit {
        for o in offsets {
            state
                .offsets
                .entry(o.group)
                .or_default()
                .insert((o.topic, o.partition), (o.offset, o.metadata));
        }
    }
}

/// InitProducerId: a new producer id (idempotent producers), or the transactional id's producer
/// with its epoch bumped, aborting a transaction left open.
pub(crate) fn init_producer_id(
    state: &mut State,
    txn_id: Option<&str>,
    timeout_ms: i32,
    producer_id: i64,
    epoch: i16,
) -> TxnResult<(i64, i16)> {
    let Some(txn_id) = txn_id else {
        if producer_id >= 0 && (0..i16::MAX - 1).contains(&epoch) {
            return Ok((producer_id, epoch + 1));
        }
        return Ok((state.next_producer_id(), 0));
    };
    if timeout_ms <= 0 || timeout_ms > MAX_TRANSACTION_TIMEOUT_MS {
        return Err(ResponseError::InvalidTransactionTimeout);
    }
    let Some(txn) = state.txns.get(txn_id) else {
        let pid = state.next_producer_id();
        state.txns.insert(
            txn_id.to_owned(),
            Txn {
                producer_id: pid,
                epoch: 0,
                phase: Phase::Empty,
                partitions: BTreeSet::new(),
                groups: BTreeSet::new(),
                pending_offsets: Vec::new(),
            },
        );
        return Ok((pid, 0));
    };
    if producer_id >= 0 && (producer_id != txn.producer_id || epoch != txn.epoch) {
        return Err(ResponseError::ProducerFenced);
    }
    let ongoing = txn.phase == Phase::Ongoing;
    let overflow = txn.epoch >= i16::MAX - 1;
    let new_pid = if overflow {
        Some(state.next_producer_id())
    } else {
        None
    };
    let Some(txn) = state.txns.get_mut(txn_id) else {
        return Err(ResponseError::UnknownServerError);
    };
    // Fence the old producer first: the abort markers carry the new epoch.
    txn.epoch = txn.epoch.saturating_add(1);
    if ongoing {
        complete(state, txn_id, false);
    }
    let Some(txn) = state.txns.get_mut(txn_id) else {
        return Err(ResponseError::UnknownServerError);
    };
    if let Some(pid) = new_pid {
        txn.producer_id = pid;
        txn.epoch = 0;
    }
    txn.phase = Phase::Empty;
    Ok((txn.producer_id, txn.epoch))
}

/// AddPartitionsToTxn for one transaction: the error for every partition (all or none added).
pub(crate) fn add_partitions(
    state: &mut State,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    partitions: &[(String, i32)],
) -> TxnResult<()> {
    if let Some((t, p)) = partitions
        .iter()
        .find(|(t, p)| state.partition(t, *p).is_none())
    {
        let _ = (t, p);
        return Err(ResponseError::UnknownTopicOrPartition);
    }
    let txn = current(state, txn_id, producer_id, epoch)?;
    txn.partitions.extend(partitions.iter().cloned());
    txn.phase = Phase::Ongoing;
    Ok(())
}

/// AddOffsetsToTxn: the group's offsets will commit with the transaction.
pub(crate) fn add_offsets(
    state: &mut State,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    group: &str,
) -> TxnResult<()> {
    let txn = current(state, txn_id, producer_id, epoch)?;
    txn.groups.insert(group.to_owned());
    txn.phase = Phase::Ongoing;
    Ok(())
}

/// EndTxn: writes the markers and completes the transaction. A repeated EndTxn with the same
/// outcome is a retry and succeeds.
pub(crate) fn end_txn(
    state: &mut State,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    commit: bool,
) -> TxnResult<()> {
    let txn = current(state, txn_id, producer_id, epoch)?;
    match (txn.phase, commit) {
        (Phase::Ongoing, _) => {
            complete(state, txn_id, commit);
            Ok(())
        }
        (Phase::CompleteCommit, true) | (Phase::CompleteAbort, false) => Ok(()),
        _ => Err(ResponseError::InvalidTxnState),
    }
}

/// Checks a transactional produce: the producer is current and added the partition.
pub(crate) fn check_produce(
    state: &State,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    topic: &str,
    partition: i32,
) -> TxnResult<()> {
    let txn = state
        .txns
        .get(txn_id)
        .ok_or(ResponseError::InvalidProducerIdMapping)?;
    if txn.producer_id != producer_id {
        return Err(ResponseError::InvalidProducerIdMapping);
    }
    if epoch < txn.epoch {
        return Err(ResponseError::InvalidProducerEpoch);
    }
    if txn.phase != Phase::Ongoing || !txn.partitions.contains(&(topic.to_owned(), partition)) {
        return Err(ResponseError::InvalidTxnState);
    }
    Ok(())
}

/// The group member a TxnOffsetCommit speaks for (KIP-447): generation -1 and an empty member
/// id when the producer is not fenced by group membership.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupMember<'a> {
    pub(crate) group: &'a str,
    pub(crate) generation: i32,
    pub(crate) member_id: &'a str,
}

/// TxnOffsetCommit: records offsets to commit with the transaction, after checking the
/// producer, that the group was added, and the member's generation (KIP-447).
pub(crate) fn offset_commit(
    state: &mut State,
    txn_id: &str,
    producer_id: i64,
    epoch: i16,
    member: &GroupMember<'_>,
    offsets: Vec<PendingOffset>,
) -> TxnResult<()> {
    let GroupMember {
        group,
        generation,
        member_id,
    } = *member;
    if let Some(g) = state.groups.get(group) {
        if generation >= 0 || !member_id.is_empty() {
            if !member_id.is_empty() && !g.members.contains_key(member_id) {
                return Err(ResponseError::UnknownMemberId);
            }
            if generation >= 0 && generation != g.generation {
                return Err(ResponseError::IllegalGeneration);
            }
        }
    }
    let txn = current(state, txn_id, producer_id, epoch)?;
    if !txn.groups.contains(group) {
        return Err(ResponseError::InvalidTxnState);
    }
    txn.pending_offsets.extend(offsets);
    Ok(())
}
