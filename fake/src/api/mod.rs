//! Request handlers, one module per area: `meta` (ApiVersions, Metadata, CreateTopics,
//! FindCoordinator), `produce`, `fetch` (Fetch, ListOffsets, OffsetForLeaderEpoch), `group`
//! and `txn`. Each handler turns a decoded request into a response; none touches sockets.

mod fetch;
mod group;
pub(crate) mod meta;
mod produce;
mod txn;

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use kafka_protocol::protocol::Message;

pub(crate) use meta::api_version_list;

use crate::state::{Inner, State};

/// The context of one request: who received it, at which version, and a scripted failure.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) broker: i32,
    pub(crate) version: i16,
    pub(crate) client_id: String,
    pub(crate) fail: Option<(ResponseError, Option<(String, i32)>)>,
}

impl Ctx {
    /// The scripted error for `topic`-`partition`, if any.
    pub(crate) fn fail_partition(&self, topic: &str, partition: i32) -> Option<ResponseError> {
        match &self.fail {
            Some((e, None)) => Some(*e),
            Some((e, Some((t, p)))) if t == topic && *p == partition => Some(*e),
            _ => None,
        }
    }

    /// The scripted error for a request without partitions.
    pub(crate) fn fail_request(&self) -> Option<ResponseError> {
        self.fail.as_ref().map(|(e, _)| *e)
    }
}

/// The versions the fake serves of each API it implements.
pub(crate) fn advertised(api: ApiKey) -> Option<(i16, i16)> {
    use kafka_protocol::messages as m;
    macro_rules! range {
        ($t:ty) => {
            (<$t as Message>::VERSIONS.min, <$t as Message>::VERSIONS.max)
        };
    }
    Some(match api {
        ApiKey::ApiVersions => range!(m::ApiVersionsRequest),
        ApiKey::Metadata => range!(m::MetadataRequest),
        ApiKey::CreateTopics => range!(m::CreateTopicsRequest),
        ApiKey::FindCoordinator => (
            0,
            <m::FindCoordinatorRequest as Message>::VERSIONS.max.min(5),
        ),
        ApiKey::Produce => range!(m::ProduceRequest),
        ApiKey::Fetch => range!(m::FetchRequest),
        ApiKey::ListOffsets => range!(m::ListOffsetsRequest),
        ApiKey::OffsetForLeaderEpoch => range!(m::OffsetForLeaderEpochRequest),
        ApiKey::JoinGroup => range!(m::JoinGroupRequest),
        ApiKey::SyncGroup => range!(m::SyncGroupRequest),
        ApiKey::Heartbeat => range!(m::HeartbeatRequest),
        ApiKey::LeaveGroup => range!(m::LeaveGroupRequest),
        ApiKey::OffsetCommit => range!(m::OffsetCommitRequest),
        ApiKey::OffsetFetch => range!(m::OffsetFetchRequest),
        ApiKey::InitProducerId => (
            0,
            <m::InitProducerIdRequest as Message>::VERSIONS.max.min(5),
        ),
        ApiKey::AddPartitionsToTxn => (0, 3),
        ApiKey::AddOffsetsToTxn => range!(m::AddOffsetsToTxnRequest),
        // Transaction protocol v2 (KIP-890: EndTxn v5, TxnOffsetCommit v5) is not implemented.
        ApiKey::EndTxn => (0, 4),
        ApiKey::TxnOffsetCommit => (0, 4),
        _ => return None,
    })
}

/// The topic-partitions a request names, for the script and the request log.
pub(crate) fn request_partitions(req: &RequestKind, state: &State) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let name = |n: &str, id: uuid::Uuid| -> String {
        if n.is_empty() {
            state.topic_name(id).unwrap_or_default().to_owned()
        } else {
            n.to_owned()
        }
    };
    match req {
        RequestKind::Produce(r) => {
            for t in &r.topic_data {
                let n = name(&t.name, t.topic_id);
                out.extend(t.partition_data.iter().map(|p| (n.clone(), p.index)));
            }
        }
        RequestKind::Fetch(r) => {
            for t in &r.topics {
                let n = name(&t.topic, t.topic_id);
                out.extend(t.partitions.iter().map(|p| (n.clone(), p.partition)));
            }
            // An incremental fetch also fetches the partitions its session holds.
            if r.session_id != 0 && r.session_epoch > 0 {
                if let Some(s) = state.sessions.by_id.get(&r.session_id) {
                    for p in &s.partitions {
                        let tp = (name(&p.wanted.topic, p.wanted.topic_id), p.wanted.partition);
                        if !out.contains(&tp) {
                            out.push(tp);
                        }
                    }
                }
            }
        }
        RequestKind::ListOffsets(r) => {
            for t in &r.topics {
                out.extend(
                    t.partitions
                        .iter()
                        .map(|p| (t.name.to_string(), p.partition_index)),
                );
            }
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            for t in &r.topics {
                out.extend(
                    t.partitions
                        .iter()
                        .map(|p| (t.topic.to_string(), p.partition)),
                );
            }
        }
        RequestKind::OffsetCommit(r) => {
            for t in &r.topics {
                let n = name(&t.name, t.topic_id);
                out.extend(t.partitions.iter().map(|p| (n.clone(), p.partition_index)));
            }
        }
        RequestKind::TxnOffsetCommit(r) => {
            for t in &r.topics {
                out.extend(
                    t.partitions
                        .iter()
                        .map(|p| (t.name.to_string(), p.partition_index)),
                );
            }
        }
        RequestKind::AddPartitionsToTxn(r) => {
            for t in &r.v3_and_below_topics {
                out.extend(t.partitions.iter().map(|p| (t.name.to_string(), *p)));
            }
        }
        RequestKind::OffsetFetch(r) => {
            for t in r.topics.iter().flatten() {
                out.extend(t.partition_indexes.iter().map(|p| (t.name.to_string(), *p)));
            }
            for g in &r.groups {
                for t in g.topics.iter().flatten() {
                    out.extend(t.partition_indexes.iter().map(|p| (t.name.to_string(), *p)));
                }
            }
        }
        RequestKind::Metadata(r) => {
            for t in r.topics.iter().flatten() {
                if let Some(n) = &t.name {
                    out.push((n.to_string(), -1));
                }
            }
        }
        _ => {}
    }
    out
}

/// The group ids, transactional ids and coordinator keys a request names, for the script.
pub(crate) fn request_keys(req: &RequestKind) -> Vec<String> {
    let s = |v: &str| v.to_owned();
    match req {
        RequestKind::FindCoordinator(r) => {
            let mut keys: Vec<String> = r.coordinator_keys.iter().map(|k| s(k)).collect();
            if !r.key.is_empty() {
                keys.push(s(&r.key));
            }
            keys
        }
        RequestKind::JoinGroup(r) => vec![s(&r.group_id)],
        RequestKind::SyncGroup(r) => vec![s(&r.group_id)],
        RequestKind::Heartbeat(r) => vec![s(&r.group_id)],
        RequestKind::LeaveGroup(r) => vec![s(&r.group_id)],
        RequestKind::OffsetCommit(r) => vec![s(&r.group_id)],
        RequestKind::OffsetFetch(r) => {
            let mut keys: Vec<String> = r.groups.iter().map(|g| s(&g.group_id)).collect();
            if !r.group_id.is_empty() {
                keys.push(s(&r.group_id));
            }
            keys
        }
        RequestKind::InitProducerId(r) => r.transactional_id.iter().map(|t| s(t)).collect(),
        RequestKind::AddPartitionsToTxn(r) => vec![s(&r.v3_and_below_transactional_id)],
        RequestKind::AddOffsetsToTxn(r) => vec![s(&r.transactional_id), s(&r.group_id)],
        RequestKind::EndTxn(r) => vec![s(&r.transactional_id)],
        RequestKind::TxnOffsetCommit(r) => vec![s(&r.transactional_id), s(&r.group_id)],
        _ => Vec::new(),
    }
}

/// Serves one request. `None`: no response is sent (Produce with acks=0).
pub(crate) async fn handle(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: RequestKind,
) -> Option<ResponseKind> {
    Some(match req {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(meta::api_versions(ctx)),
        RequestKind::Metadata(r) => ResponseKind::Metadata(meta::metadata(inner, ctx, r)),
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(meta::create_topics(inner, ctx, r))
        }
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(meta::find_coordinator(inner, ctx, r))
        }
        RequestKind::Produce(r) => ResponseKind::Produce(produce::produce(inner, ctx, r)?),
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::fetch(inner, ctx, r).await),
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(fetch::list_offsets(inner, ctx, r))
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(fetch::offset_for_leader_epoch(inner, ctx, r))
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(group::join_group(inner, ctx, r).await)
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(group::sync_group(inner, ctx, r).await)
        }
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(group::heartbeat(inner, ctx, r)),
        RequestKind::LeaveGroup(r) => ResponseKind::LeaveGroup(group::leave_group(inner, ctx, r)),
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(group::offset_commit(inner, ctx, r))
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(group::offset_fetch(inner, ctx, r))
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(txn::init_producer_id(inner, ctx, r))
        }
        RequestKind::AddPartitionsToTxn(r) => {
            ResponseKind::AddPartitionsToTxn(txn::add_partitions(inner, ctx, r))
        }
        RequestKind::AddOffsetsToTxn(r) => {
            ResponseKind::AddOffsetsToTxn(txn::add_offsets(inner, ctx, r))
        }
        RequestKind::EndTxn(r) => ResponseKind::EndTxn(txn::end_txn(inner, ctx, r)),
        RequestKind::TxnOffsetCommit(r) => {
            ResponseKind::TxnOffsetCommit(txn::txn_offset_commit(inner, ctx, r))
        }
        // `advertised` lets nothing else through.
        _ => return None,
    })
}
