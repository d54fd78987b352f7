//! InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProducerId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

use super::Ctx;
use crate::state::{Inner, State};
use crate::txn::{self, PendingOffset};

fn code(r: Result<(), ResponseError>) -> i16 {
    r.err().map_or(0, |e| e.code())
}

/// NOT_COORDINATOR when this broker does not coordinate `txn_id`.
fn coordinator(state: &State, ctx: &Ctx, txn_id: &str) -> Result<(), ResponseError> {
    if txn_id.is_empty() {
        return Err(ResponseError::InvalidRequest);
    }
    if state.coordinator_for(txn_id) != ctx.broker {
        return Err(ResponseError::NotCoordinator);
    }
    Ok(())
}

pub(crate) fn init_producer_id(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut state = inner.state();
    let txn_id = req.transactional_id.as_ref().map(|t| t.to_string());
    let result = (|| {
        if let Some(e) = ctx.fail_request() {
            return Err(e);
        }
        if let Some(id) = &txn_id {
            coordinator(&state, ctx, id)?;
        }
        let (pid, epoch) = if ctx.version >= 3 {
            (req.producer_id.0, req.producer_epoch)
        } else {
            (-1, -1)
        };
        txn::init_producer_id(
            &mut state,
            txn_id.as_deref(),
            req.transaction_timeout_ms,
            pid,
            epoch,
        )
    })();
    drop(state);
    inner.notify_appended();
    match result {
        Ok((pid, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch),
        Err(e) => InitProducerIdResponse::default()
            .with_error_code(e.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}

pub(crate) fn add_partitions(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let mut state = inner.state();
    let txn_id = req.v3_and_below_transactional_id.to_string();
    let partitions: Vec<(String, i32)> = req
        .v3_and_below_topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.to_string(), *p)))
        .collect();
    // A scripted failure for one partition fails the others with OPERATION_NOT_ATTEMPTED, as
    // the coordinator does when any partition fails.
    let scripted = partitions
        .iter()
        .find_map(|(t, p)| ctx.fail_partition(t, *p));
    let result = match scripted {
        Some(e) => Err(e),
        None => coordinator(&state, ctx, &txn_id).and_then(|()| {
            txn::add_partitions(
                &mut state,
                &txn_id,
                req.v3_and_below_producer_id.0,
                req.v3_and_below_producer_epoch,
                &partitions,
            )
        }),
    };
    let results = req
        .v3_and_below_topics
        .iter()
        .map(|t| {
            let name = t.name.to_string();
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(
                    t.partitions
                        .iter()
                        .map(|p| {
                            let c = match (result, scripted) {
                                (Ok(()), _) => 0,
                                (Err(e), Some(_)) => match ctx.fail_partition(&name, *p) {
                                    Some(_) => e.code(),
                                    None => ResponseError::OperationNotAttempted.code(),
                                },
                                (Err(e), None) => e.code(),
                            };
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(*p)
                                .with_partition_error_code(c)
                        })
                        .collect(),
                )
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

pub(crate) fn add_offsets(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let mut state = inner.state();
    let txn_id = req.transactional_id.to_string();
    let result = match ctx.fail_request() {
        Some(e) => Err(e),
        None => coordinator(&state, ctx, &txn_id).and_then(|()| {
            txn::add_offsets(
                &mut state,
                &txn_id,
                req.producer_id.0,
                req.producer_epoch,
                &req.group_id,
            )
        }),
    };
    AddOffsetsToTxnResponse::default().with_error_code(code(result))
}

pub(crate) fn end_txn(inner: &Arc<Inner>, ctx: &Ctx, req: EndTxnRequest) -> EndTxnResponse {
    let mut state = inner.state();
    let txn_id = req.transactional_id.to_string();
    let result = match ctx.fail_request() {
        Some(e) => Err(e),
        None => coordinator(&state, ctx, &txn_id).and_then(|()| {
            txn::end_txn(
                &mut state,
                &txn_id,
                req.producer_id.0,
                req.producer_epoch,
                req.committed,
            )
        }),
    };
    drop(state);
    inner.notify_appended();
    EndTxnResponse::default()
        .with_error_code(code(result))
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

pub(crate) fn txn_offset_commit(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let mut state = inner.state();
    let group = req.group_id.to_string();
    let scripted = req.topics.iter().find_map(|t| {
        t.partitions
            .iter()
            .find_map(|p| ctx.fail_partition(&t.name, p.partition_index))
    });
    let result = match scripted {
        Some(e) => Err(e),
        None if state.coordinator_for(&group) != ctx.broker => Err(ResponseError::NotCoordinator),
        None => {
            let offsets = req
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(|p| PendingOffset {
                        group: group.clone(),
                        topic: t.name.to_string(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                    })
                })
                .collect();
            let (generation, member) = if ctx.version >= 3 {
                (req.generation_id, req.member_id.to_string())
            } else {
                (-1, String::new())
            };
            txn::offset_commit(
                &mut state,
                &req.transactional_id,
                req.producer_id.0,
                req.producer_epoch,
                &txn::GroupMember {
                    group: &group,
                    generation,
                    member_id: &member,
                },
                offsets,
            )
        }
    };
    let topics = req
        .topics
        .iter()
        .map(|t| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code(result))
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
