//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch (classic groups).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse,
};

use super::Ctx;
use crate::group::{JoinRequest, Outcome, join_error, sync_error};
use crate::state::{Inner, State};

fn coordinator_error(state: &State, ctx: &Ctx, group: &str) -> Option<ResponseError> {
    ctx.fail_request()
        .or_else(|| coordinator_check(state, ctx, group))
}

/// Whether this broker coordinates `group` (no scripted failure considered).
fn coordinator_check(state: &State, ctx: &Ctx, group: &str) -> Option<ResponseError> {
    if group.is_empty() {
        return Some(ResponseError::InvalidGroupId);
    }
    (state.coordinator_for(group) != ctx.broker).then_some(ResponseError::NotCoordinator)
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

pub(crate) async fn join_group(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let group_id = req.group_id.to_string();
    let outcome = {
        let mut state = inner.state();
        if let Some(e) = coordinator_error(&state, ctx, &group_id) {
            return join_error(e, &req.member_id);
        }
        let delay = state.config.initial_rebalance_delay;
        let rebalance_timeout = if ctx.version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        };
        let join = JoinRequest {
            version: ctx.version,
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
            client_id: ctx.client_id.clone(),
            protocol_type: req.protocol_type.to_string(),
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.to_string(), p.metadata.clone()))
                .collect(),
            session_timeout: ms(req.session_timeout_ms),
            rebalance_timeout: ms(rebalance_timeout),
        };
        state
            .groups
            .entry(group_id)
            .or_default()
            .join(join, Instant::now(), delay)
    };
    match outcome {
        Outcome::Now(r) => r,
        Outcome::Wait(rx) => rx
            .await
            .unwrap_or_else(|_| join_error(ResponseError::UnknownMemberId, &req.member_id)),
    }
}

pub(crate) async fn sync_group(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let group_id = req.group_id.to_string();
    let outcome = {
        let mut state = inner.state();
        if let Some(e) = coordinator_error(&state, ctx, &group_id) {
            return sync_error(e);
        }
        let Some(group) = state.groups.get_mut(&group_id) else {
            return sync_error(ResponseError::UnknownMemberId);
        };
        let assignments = req
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect();
        group.sync(
            &req.member_id,
            req.generation_id,
            assignments,
            Instant::now(),
        )
    };
    match outcome {
        Outcome::Now(r) => r,
        Outcome::Wait(rx) => rx
            .await
            .unwrap_or_else(|_| sync_error(ResponseError::RebalanceInProgress)),
    }
}

pub(crate) fn heartbeat(inner: &Arc<Inner>, ctx: &Ctx, req: HeartbeatRequest) -> HeartbeatResponse {
    let mut state = inner.state();
    let group_id = req.group_id.to_string();
    let result = match coordinator_error(&state, ctx, &group_id) {
        Some(e) => Err(e),
        None => match state.groups.get_mut(&group_id) {
            Some(g) => g.heartbeat(&req.member_id, req.generation_id, Instant::now()),
            None => Err(ResponseError::UnknownMemberId),
        },
    };
    HeartbeatResponse::default().with_error_code(result.err().map_or(0, |e| e.code()))
}

pub(crate) fn leave_group(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let mut state = inner.state();
    let group_id = req.group_id.to_string();
    if let Some(e) = coordinator_error(&state, ctx, &group_id) {
        return LeaveGroupResponse::default().with_error_code(e.code());
    }
    let now = Instant::now();
    let group = state.groups.get_mut(&group_id);
    if ctx.version < 3 {
        let code = match group {
            Some(g) => g.leave(&req.member_id, now).err().map_or(0, |e| e.code()),
            None => ResponseError::UnknownMemberId.code(),
        };
        return LeaveGroupResponse::default().with_error_code(code);
    }
    let Some(g) = group else {
        return LeaveGroupResponse::default()
            .with_error_code(ResponseError::UnknownMemberId.code());
    };
    let members = req
        .members
        .iter()
        .map(|m| {
            let id = if m.member_id.is_empty() {
                m.group_instance_id
                    .as_ref()
                    .and_then(|inst| {
                        g.members
                            .iter()
                            .find(|(_, mm)| mm.instance_id.as_deref() == Some(inst.as_str()))
                            .map(|(k, _)| k.clone())
                    })
                    .unwrap_or_default()
            } else {
                m.member_id.to_string()
            };
            MemberResponse::default()
                .with_member_id(m.member_id.clone())
                .with_group_instance_id(m.group_instance_id.clone())
                .with_error_code(g.leave(&id, now).err().map_or(0, |e| e.code()))
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}

pub(crate) fn offset_commit(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let mut state = inner.state();
    let group_id = req.group_id.to_string();
    let mut group_error = coordinator_check(&state, ctx, &group_id);
    if group_error.is_none() {
        if let Some(g) = state.groups.get(&group_id) {
            group_error = g
                .check_commit(&req.member_id, req.generation_id_or_member_epoch)
                .err();
        } else if req.generation_id_or_member_epoch >= 0 {
            group_error = Some(ResponseError::IllegalGeneration);
        }
    }
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name = t.name.to_string();
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let error = ctx
                .fail_partition(&name, p.partition_index)
                .or(group_error)
                .or_else(|| {
                    state
                        .partition(&name, p.partition_index)
                        .is_none()
                        .then_some(ResponseError::UnknownTopicOrPartition)
                });
            if error.is_none() {
                state.offsets.entry(group_id.clone()).or_default().insert(
                    (name.clone(), p.partition_index),
                    (
                        p.committed_offset,
                        p.committed_metadata.as_ref().map(|m| m.to_string()),
                    ),
                );
            }
            partitions.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(error.map_or(0, |e| e.code())),
            );
        }
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    OffsetCommitResponse::default().with_topics(topics)
}

/// One topic's committed offsets: (partition, offset, metadata).
type TopicOffsets = (String, Vec<(i32, i64, Option<String>)>);

/// The committed offsets of `group` for the listed (or all) partitions.
fn committed(
    state: &State,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<TopicOffsets> {
    let offsets = state.offsets.get(group);
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(t, ps)| {
                let parts = ps
                    .into_iter()
                    .map(|p| {
                        let c = offsets.and_then(|o| o.get(&(t.clone(), p)));
                        (p, c.map_or(-1, |c| c.0), c.and_then(|c| c.1.clone()))
                    })
                    .collect();
                (t, parts)
            })
            .collect(),
        None => {
            let mut out: Vec<TopicOffsets> = Vec::new();
            for ((t, p), (o, m)) in offsets.into_iter().flatten() {
                match out.last_mut() {
                    Some((lt, v)) if lt == t => v.push((*p, *o, m.clone())),
                    _ => out.push((t.clone(), vec![(*p, *o, m.clone())])),
                }
            }
            out
        }
    }
}

fn open_txn_offsets(state: &State, group: &str) -> bool {
    state
        .txns
        .values()
        .any(|t| t.pending_offsets.iter().any(|o| o.group == group))
}

pub(crate) fn offset_fetch(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let state = inner.state();
    let s = |v: &str| kafka_protocol::protocol::StrBytes::from_string(v.to_owned());
    if ctx.version >= 8 {
        let groups = req
            .groups
            .iter()
            .map(|g| {
                let group_id = g.group_id.to_string();
                let mut out = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
                if let Some(e) = coordinator_error(&state, ctx, &group_id) {
                    return out.with_error_code(e.code());
                }
                let unstable = req.require_stable && open_txn_offsets(&state, &group_id);
                let asked = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                out.topics = committed(&state, &group_id, asked)
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(kafka_protocol::messages::TopicName(s(&t)))
                            .with_partitions(
                                ps.into_iter()
                                    .map(|(p, o, m)| {
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(o)
                                            .with_committed_leader_epoch(-1)
                                            .with_metadata(m.map(|m| s(&m)))
                                            .with_error_code(if unstable {
                                                ResponseError::UnstableOffsetCommit.code()
                                            } else {
                                                0
                                            })
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                out
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let group_id = req.group_id.to_string();
    if let Some(e) = coordinator_error(&state, ctx, &group_id) {
        return OffsetFetchResponse::default().with_error_code(e.code());
    }
    let unstable = req.require_stable && open_txn_offsets(&state, &group_id);
    let asked = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
            .collect()
    });
    let topics = committed(&state, &group_id, asked)
        .into_iter()
        .map(|(t, ps)| {
            OffsetFetchResponseTopic::default()
                .with_name(kafka_protocol::messages::TopicName(s(&t)))
                .with_partitions(
                    ps.into_iter()
                        .map(|(p, o, m)| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(o)
                                .with_committed_leader_epoch(-1)
                                .with_metadata(m.map(|m| s(&m)))
                                .with_error_code(if unstable {
                                    ResponseError::UnstableOffsetCommit.code()
                                } else {
                                    0
                                })
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
