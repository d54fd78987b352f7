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
use crate::session::{Sessions, Wanted};
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

/// One partition's answer and how many record bytes it carries; `urgent` when it must be
/// answered at once (an error, or a pointer to another replica).
fn build_partition(
    state: &State,
    ctx: &Ctx,
    w: &Wanted,
    isolation_level: i8,
    room: usize,
    first: bool,
) -> (PartitionData, bool) {
    let mut out = PartitionData::default()
        .with_partition_index(w.partition)
        .with_high_watermark(-1)
        .with_aborted_transactions(None);
    let mut urgent = false;
    let result = (|| -> Result<(), ResponseError> {
        let name = w.name.as_deref().ok_or(ResponseError::UnknownTopicId)?;
        if let Some(e) = ctx.fail_partition(name, w.partition) {
            return Err(e);
        }
        let part = state
            .partition(name, w.partition)
            .ok_or(ResponseError::UnknownTopicOrPartition)?;
        out.current_leader = LeaderIdAndEpoch::default()
            .with_leader_id(BrokerId(part.leader))
            .with_leader_epoch(part.leader_epoch);
        let is_leader = part.leader == ctx.broker;
        if !is_leader && (ctx.version < 11 || !part.replicas.contains(&ctx.broker)) {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        check_epoch(part, w.current_leader_epoch)?;
        let log = &part.log;
        out.high_watermark = log.high_watermark();
        out.last_stable_offset = log.last_stable_offset();
        out.log_start_offset = 0;
        if w.fetch_offset < 0 || w.fetch_offset > log.high_watermark() {
            return Err(ResponseError::OffsetOutOfRange);
        }
        if is_leader && ctx.version >= 11 {
            if let Some(r) = part.preferred_read_replica.filter(|r| *r != ctx.broker) {
                out.preferred_read_replica = BrokerId(r);
                urgent = true;
                return Ok(());
            }
        }
        let upper = if isolation_level == READ_COMMITTED {
            log.last_stable_offset()
        } else {
            log.high_watermark()
        };
        let partition_max = usize::try_from(w.max_bytes).unwrap_or(0);
        let records = log.read(w.fetch_offset, upper, partition_max.min(room), first);
        if isolation_level == READ_COMMITTED {
            let aborted = log
                .aborted_between(w.fetch_offset, upper)
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
    (out, urgent)
}

fn record_bytes(p: &PartitionData) -> usize {
    p.records.as_ref().map_or(0, |r| r.len())
}

/// One pass over the partitions: each one's answer (`None`: left out of an incremental
/// response, nothing new), the record bytes, and whether to answer at once.
fn build(
    state: &State,
    ctx: &Ctx,
    wanted: &[Wanted],
    last: Option<&[(i64, i64)]>,
    req: &FetchRequest,
) -> (Vec<Option<PartitionData>>, usize, bool) {
    let mut total = 0usize;
    let response_max = usize::try_from(req.max_bytes).unwrap_or(0);
    let mut urgent = false;
    let mut out = Vec::with_capacity(wanted.len());
    for (i, w) in wanted.iter().enumerate() {
        let room = response_max.saturating_sub(total);
        let (p, u) = build_partition(state, ctx, w, req.isolation_level, room, total == 0);
        let news = match last.and_then(|l| l.get(i)) {
            None => true,
            Some((hw, lso)) => {
                u || record_bytes(&p) > 0 || p.high_watermark != *hw || p.last_stable_offset != *lso
            }
        };
        if news {
            urgent |= u;
            total += record_bytes(&p);
            out.push(Some(p));
        } else {
            out.push(None);
        }
    }
    (out, total, urgent)
}

/// Groups the answers by topic, in the order asked.
fn response(
    wanted: &[Wanted],
    parts: Vec<Option<PartitionData>>,
    session_id: i32,
) -> FetchResponse {
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for (w, p) in wanted.iter().zip(parts) {
        let Some(p) = p else { continue };
        match topics.last_mut() {
            Some(t) if t.topic == w.topic && t.topic_id == w.topic_id => t.partitions.push(p),
            _ => topics.push(
                FetchableTopicResponse::default()
                    .with_topic(w.topic.clone())
                    .with_topic_id(w.topic_id)
                    .with_partitions(vec![p]),
            ),
        }
    }
    FetchResponse::default()
        .with_session_id(session_id)
        .with_responses(topics)
}

fn session_error(error: ResponseError) -> FetchResponse {
    FetchResponse::default().with_error_code(error.code())
}

/// The partitions a request names, with topic names resolved.
fn wanted_in(state: &State, ctx: &Ctx, req: &FetchRequest) -> Vec<Wanted> {
    req.topics
        .iter()
        .flat_map(|t| {
            let name = if ctx.version >= 13 {
                state.topic_name(t.topic_id).map(str::to_owned)
            } else {
                Some(t.topic.to_string())
            };
            t.partitions.iter().map(move |p| Wanted {
                topic: t.topic.clone(),
                topic_id: t.topic_id,
                name: name.clone(),
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                current_leader_epoch: p.current_leader_epoch,
            })
        })
        .collect()
}

/// What the fetch works on: its partitions, the session (0: none), and for an incremental
/// fetch what the session's last response said about each partition.
type Plan = (Vec<Wanted>, i32, Option<Vec<(i64, i64)>>);

/// Opens, continues or closes the request's fetch session (KIP-227).
fn plan(state: &mut State, ctx: &Ctx, req: &FetchRequest) -> Result<Plan, ResponseError> {
    let wanted = wanted_in(state, ctx, req);
    let (id, epoch) = (req.session_id, req.session_epoch);
    if ctx.version < 7 || (id == 0 && epoch == -1) {
        return Ok((wanted, 0, None));
    }
    if epoch == -1 {
        // Closes the session; a full fetch without one.
        state.sessions.by_id.remove(&id);
        return Ok((wanted, 0, None));
    }
    if epoch == 0 {
        if id != 0 {
            state.sessions.by_id.remove(&id);
        }
        let new = if state.config.fetch_sessions {
            state.sessions.open(ctx.broker, &wanted).unwrap_or(0)
        } else {
            0
        };
        return Ok((wanted, new, None));
    }
    let forgotten: Vec<_> = req
        .forgotten_topics_data
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.topic.clone(), t.topic_id, *p))
        })
        .collect();
    let session = state
        .sessions
        .by_id
        .get_mut(&id)
        .filter(|s| s.broker == ctx.broker)
        .ok_or(ResponseError::FetchSessionIdNotFound)?;
    if session.next_epoch != epoch {
        return Err(ResponseError::InvalidFetchSessionEpoch);
    }
    session.next_epoch = crate::session::next_epoch(epoch);
    Sessions::update(session, wanted, &forgotten);
    let all = session
        .partitions
        .iter()
        .map(|p| p.wanted.clone())
        .collect();
    let last = session
        .partitions
        .iter()
        .map(|p| (p.last_high_watermark, p.last_stable_offset))
        .collect();
    Ok((all, id, Some(last)))
}

pub(crate) async fn fetch(inner: &Arc<Inner>, ctx: &Ctx, req: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0).max(1);
    if let Some(
        e @ (ResponseError::FetchSessionIdNotFound | ResponseError::InvalidFetchSessionEpoch),
    ) = ctx.fail_request()
    {
        // A scripted session error: the broker forgot the session.
        inner.state().sessions.by_id.remove(&req.session_id);
        return session_error(e);
    }
    let (wanted, session_id, last) = match plan(&mut inner.state(), ctx, &req) {
        Ok(p) => p,
        Err(e) => return session_error(e),
    };
    let mut appended = inner.appended.subscribe();
    let parts = loop {
        appended.borrow_and_update();
        let (parts, bytes, urgent) = build(&inner.state(), ctx, &wanted, last.as_deref(), &req);
        if bytes >= min_bytes || urgent || Instant::now() >= deadline {
            break parts;
        }
        match tokio::time::timeout_at(deadline, appended.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => break parts,
            Err(_) => {
                break build(&inner.state(), ctx, &wanted, last.as_deref(), &req).0;
            }
        }
    };
    if session_id != 0 {
        // Remember what this response told the client, for the next incremental fetch.
        if let Some(s) = inner.state().sessions.by_id.get_mut(&session_id) {
            for (sp, p) in s.partitions.iter_mut().zip(&parts) {
                if let Some(p) = p {
                    sp.last_high_watermark = p.high_watermark;
                    sp.last_stable_offset = p.last_stable_offset;
                }
            }
        }
    }
    response(&wanted, parts, session_id)
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
