//! Fetch (with max bytes, waiting for data, follower fetching and preferred read replicas),
//! ListOffsets and OffsetForLeaderEpoch.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, LeaderIdAndEpoch, PartitionData,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ProducerId,
};
use tokio::time::Instant;

use super::Ctx;
use crate::state::{Inner, Partition, State};

/// The longest a fetch waits for data, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

const READ_COMMITTED: i8 = 1;

/// Checks the client's view of the leader epoch (KIP-320); -1 means "not known".
fn check_epoch(part: &Partition, current_leader_epoch: i32) -> Result<(), ResponseError> {
    if current_leader_epoch < 0 || current_leader_epoch == part.leader_epoch {
        Ok(())
    } else if current_leader_epoch > part.leader_epoch {
        Err(ResponseError::UnknownLeaderEpoch)
    } else {
        Err(ResponseError::FencedLeaderEpoch)
    }
}

/// One pass over the request: the response and how many record bytes it carries.
fn build(state: &State, ctx: &Ctx, req: &FetchRequest) -> (FetchResponse, usize, bool) {
    let mut total = 0usize;
    let response_max = usize::try_from(req.max_bytes).unwrap_or(0);
    let mut urgent = false;
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name = if ctx.version >= 13 {
            state.topic_name(t.topic_id).map(str::to_owned)
        } else {
            Some(t.topic.to_string())
        };
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let mut out = PartitionData::default()
                .with_partition_index(p.partition)
                .with_high_watermark(-1)
                .with_aborted_transactions(None);
            let result = (|| -> Result<(), ResponseError> {
                let name = name.as_deref().ok_or(ResponseError::UnknownTopicId)?;
                if let Some(e) = ctx.fail_partition(name, p.partition) {
                    return Err(e);
                }
                let part = state
                    .partition(name, p.partition)
                    .ok_or(ResponseError::UnknownTopicOrPartition)?;
                out.current_leader = LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(part.leader))
                    .with_leader_epoch(part.leader_epoch);
                let is_leader = part.leader == ctx.broker;
                if !is_leader && (ctx.version < 11 || !part.replicas.contains(&ctx.broker)) {
                    return Err(ResponseError::NotLeaderOrFollower);
                }
                check_epoch(part, p.current_leader_epoch)?;
                let log = &part.log;
                out.high_watermark = log.high_watermark();
                out.last_stable_offset = log.last_stable_offset();
                out.log_start_offset = 0;
                if p.fetch_offset < 0 || p.fetch_offset > log.high_watermark() {
                    return Err(ResponseError::OffsetOutOfRange);
                }
                if is_leader && ctx.version >= 11 {
                    if let Some(r) = part.preferred_read_replica.filter(|r| *r != ctx.broker) {
                        out.preferred_read_replica = BrokerId(r);
                        urgent = true;
                        return Ok(());
                    }
                }
                let upper = if req.isolation_level == READ_COMMITTED {
                    log.last_stable_offset()
                } else {
                    log.high_watermark()
                };
                let partition_max = usize::try_from(p.partition_max_bytes).unwrap_or(0);
                let room = partition_max.min(response_max.saturating_sub(total));
                let records = log.read(p.fetch_offset, upper, room, total == 0);
                total += records.len();
                if req.isolation_level == READ_COMMITTED {
                    let aborted = log
                        .aborted_between(p.fetch_offset, upper)
                        .into_iter()
                        .map(|a| {
                            AbortedTransaction::default()
                                .with_producer_id(ProducerId(a.producer_id))
                                .with_first_offset(a.first)
                        })
                        .collect();
                    out.aborted_transactions = Some(aborted);
                }
                out.records = Some(records);
                Ok(())
            })();
            if let Err(e) = result {
                out.error_code = e.code();
                out.records = Some(bytes::Bytes::new());
                urgent = true;
            }
            partitions.push(out);
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    (
        FetchResponse::default().with_responses(topics),
        total,
        urgent,
    )
}

pub(crate) async fn fetch(inner: &Arc<Inner>, ctx: &Ctx, req: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0).max(1);
    if req.session_id != 0 {
        // No fetch sessions (every response says session 0: none created), so a fetch that
        // names one names a session that does not exist.
        return FetchResponse::default()
            .with_error_code(ResponseError::FetchSessionIdNotFound.code());
    }
    let mut appended = inner.appended.subscribe();
    loop {
        appended.borrow_and_update();
        let (response, bytes, urgent) = build(&inner.state(), ctx, &req);
        if bytes >= min_bytes || urgent || Instant::now() >= deadline {
            return response;
        }
        match tokio::time::timeout_at(deadline, appended.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => return response,
            Err(_) => {
                let (response, _, _) = build(&inner.state(), ctx, &req);
                return response;
            }
        }
    }
}

pub(crate) fn list_offsets(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let state = inner.state();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let name = t.name.to_string();
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let out = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    let result = (|| -> Result<(i64, i64, i32), ResponseError> {
                        if let Some(e) = ctx.fail_partition(&name, p.partition_index) {
                            return Err(e);
                        }
                        let part = state
                            .partition(&name, p.partition_index)
                            .ok_or(ResponseError::UnknownTopicOrPartition)?;
                        if part.leader != ctx.broker {
                            return Err(ResponseError::NotLeaderOrFollower);
                        }
                        check_epoch(part, p.current_leader_epoch)?;
                        let log = &part.log;
                        let latest = if req.isolation_level == READ_COMMITTED {
                            log.last_stable_offset()
                        } else {
                            log.high_watermark()
                        };
                        let (offset, ts) = match p.timestamp {
                            -2 | -4 | -5 => (0, -1),
                            -3 => log
                                .batches
                                .iter()
                                .max_by_key(|b| b.max_timestamp)
                                .map_or((-1, -1), |b| (b.last, b.max_timestamp)),
                            ts if ts < 0 => (latest, -1),
                            ts => log
                                .offset_for_timestamp(ts)
                                .filter(|(o, _)| *o < latest)
                                .unwrap_or((-1, -1)),
                        };
                        Ok((offset, ts, part.leader_epoch))
                    })();
                    match result {
                        Ok((offset, ts, epoch)) => out
                            .with_offset(offset)
                            .with_timestamp(ts)
                            .with_leader_epoch(epoch),
                        Err(e) => out.with_error_code(e.code()),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

pub(crate) fn offset_for_leader_epoch(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let state = inner.state();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let name = t.topic.to_string();
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let out = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    let result = (|| -> Result<(i32, i64), ResponseError> {
                        if let Some(e) = ctx.fail_partition(&name, p.partition) {
                            return Err(e);
                        }
                        let part = state
                            .partition(&name, p.partition)
                            .ok_or(ResponseError::UnknownTopicOrPartition)?;
                        if part.leader != ctx.broker {
                            return Err(ResponseError::NotLeaderOrFollower);
                        }
                        check_epoch(part, p.current_leader_epoch)?;
                        Ok(part.end_offset_for_epoch(p.leader_epoch))
                    })();
                    match result {
                        Ok((epoch, end)) => out.with_leader_epoch(epoch).with_end_offset(end),
                        Err(e) => out.with_error_code(e.code()),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
