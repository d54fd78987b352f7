//! Produce: leadership, size, CRC and idempotence checks, then the append.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use laminar_kafka_protocol::record::{DecodeOptions, RecordBatch};

use super::Ctx;
use crate::log::Appended;
use crate::state::{Inner, State};
use crate::txn;

fn append_one(
    state: &mut State,
    ctx: &Ctx,
    txn_id: Option<&str>,
    topic: &str,
    partition: i32,
    records: Option<bytes::Bytes>,
) -> Result<i64, ResponseError> {
    if let Some(e) = ctx.fail_partition(topic, partition) {
        return Err(e);
    }
    let max_message_bytes = state.config.max_message_bytes;
    let part = state
        .partition(topic, partition)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    if part.leader != ctx.broker {
        return Err(ResponseError::NotLeaderOrFollower);
    }
    let records = records.unwrap_or_default();
    if records.len() > max_message_bytes {
        return Err(ResponseError::MessageTooLarge);
    }
    let batch = RecordBatch::decode(records, &DecodeOptions::default())
        .map_err(|_| ResponseError::CorruptMessage)?;
    if batch.is_control() {
        return Err(ResponseError::InvalidRecord);
    }
    match (batch.is_transactional(), txn_id) {
        (true, Some(id)) => txn::check_produce(
            state,
            id,
            batch.producer_id(),
            batch.producer_epoch(),
            topic,
            partition,
        )?,
        (true, None) => return Err(ResponseError::TransactionalIdAuthorizationFailed),
        (false, _) => {}
    }
    let part = state
        .partition_mut(topic, partition)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    let epoch = part.leader_epoch;
    match part.log.append(&batch, epoch)? {
        Appended::New(base) | Appended::Duplicate(base) => Ok(base),
    }
}

pub(crate) fn produce(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = req.acks;
    let txn_id = req.transactional_id.as_ref().map(|t| t.to_string());
    let mut state = inner.state();
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let mut endpoints = Vec::new();
    for t in req.topic_data {
        let name = if t.name.is_empty() {
            state.topic_name(t.topic_id).map(str::to_owned)
        } else {
            Some(t.name.to_string())
        };
        let mut partitions = Vec::with_capacity(t.partition_data.len());
        for p in t.partition_data {
            let mut r = PartitionProduceResponse::default()
                .with_index(p.index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(0);
            let result = match &name {
                None => Err(ResponseError::UnknownTopicId),
                Some(n) => append_one(&mut state, ctx, txn_id.as_deref(), n, p.index, p.records),
            };
            match result {
                Ok(base) => r.base_offset = base,
                Err(e) => {
                    r.error_code = e.code();
                    if e == ResponseError::NotLeaderOrFollower {
                        if let Some(part) =
                            name.as_deref().and_then(|n| state.partition(n, p.index))
                        {
                            r.current_leader = LeaderIdAndEpoch::default()
                                .with_leader_id(BrokerId(part.leader))
                                .with_leader_epoch(part.leader_epoch);
                            if let Some(b) = state.broker(part.leader) {
                                endpoints.push(
                                    NodeEndpoint::default()
                                        .with_node_id(BrokerId(b.id))
                                        .with_host(StrBytes::from_static_str("127.0.0.1"))
                                        .with_port(i32::from(b.port))
                                        .with_rack(b.rack.clone().map(StrBytes::from_string)),
                                );
                            }
                        }
                    }
                }
            }
            partitions.push(r);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(t.name)
                .with_topic_id(t.topic_id)
                .with_partition_responses(partitions),
        );
    }
    drop(state);
    inner.notify_appended();
    endpoints.sort_by_key(|e| e.node_id.0);
    endpoints.dedup_by_key(|e| e.node_id.0);
    (acks != 0).then(|| {
        ProduceResponse::default()
            .with_responses(responses)
            .with_node_endpoints(endpoints)
    })
}
