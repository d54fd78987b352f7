//! ApiVersions, Metadata, CreateTopics and FindCoordinator.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, CreateTopicsRequest, CreateTopicsResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{Ctx, advertised};
use crate::state::{Inner, State, valid_topic_name};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Every API the fake serves, with its version range.
pub(crate) fn api_version_list() -> Vec<ApiVersion> {
    // API keys have gaps (keys of removed APIs): look at every key up to the highest in use.
    (0..1000)
        .filter_map(|k| ApiKey::try_from(k).ok().map(|a| (k, a)))
        .filter_map(|(k, api)| {
            advertised(api).map(|(min, max)| {
                ApiVersion::default()
                    .with_api_key(k)
                    .with_min_version(min)
                    .with_max_version(max)
            })
        })
        .collect()
}

pub(crate) fn api_versions(ctx: &Ctx) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ctx.fail_request().map_or(0, |e| e.code()))
        .with_api_keys(api_version_list())
}

fn topic_metadata(state: &State, name: &str) -> MetadataResponseTopic {
    let Some(topic) = state.topics.get(name) else {
        return MetadataResponseTopic::default()
            .with_name(Some(TopicName(s(name))))
            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
    };
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
            MetadataResponsePartition::default()
                .with_partition_index(i as i32)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(ids(&p.replicas))
                .with_isr_nodes(ids(&p.replicas))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(s(name))))
        .with_topic_id(topic.id)
        .with_partitions(partitions)
}

pub(crate) fn metadata(inner: &Arc<Inner>, ctx: &Ctx, req: MetadataRequest) -> MetadataResponse {
    let mut state = inner.state();
    let brokers = state
        .brokers
        .iter()
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(s("127.0.0.1"))
                .with_port(i32::from(b.port))
                .with_rack(b.rack.as_deref().map(s))
        })
        .collect();
    // v0 lists every topic for an empty list; v1+ for a null one.
    let names: Vec<String> = match &req.topics {
        Some(t) if !t.is_empty() || ctx.version > 0 => t
            .iter()
            .map(|t| match &t.name {
                Some(n) => n.to_string(),
                None => state.topic_name(t.topic_id).unwrap_or_default().to_owned(),
            })
            .collect(),
        _ => state.topics.keys().cloned().collect(),
    };
    let auto = req.allow_auto_topic_creation || ctx.version < 4;
    let mut topics = Vec::with_capacity(names.len());
    for name in names {
        if let Some(e) = ctx.fail_partition(&name, -1) {
            topics.push(
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(s(&name))))
                    .with_error_code(e.code()),
            );
            continue;
        }
        if auto {
            state.auto_create(&name);
        }
        topics.push(topic_metadata(&state, &name));
    }
    let controller = state.brokers[0].id;
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(s(&state.config.cluster_id)))
        .with_controller_id(BrokerId(controller))
        .with_topics(topics)
}

pub(crate) fn create_topics(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut state = inner.state();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let name = t.name.to_string();
        let result = CreatableTopicResult::default().with_name(t.name.clone());
        let error = if let Some(e) = ctx.fail_request() {
            Some(e)
        } else if !valid_topic_name(&name) {
            Some(ResponseError::InvalidTopicException)
        } else if state.topics.contains_key(&name) {
            Some(ResponseError::TopicAlreadyExists)
        } else {
            None
        };
        if let Some(e) = error {
            results.push(result.with_error_code(e.code()));
            continue;
        }
        let assignment: Vec<Vec<i32>> = if t.assignments.is_empty() {
            let n = if t.num_partitions > 0 {
                t.num_partitions
            } else {
                state.config.default_partitions
            };
            let rf = if t.replication_factor > 0 {
                t.replication_factor as usize
            } else {
                state.config.replication_factor
            };
            if n > 100_000 {
                results.push(result.with_error_code(ResponseError::InvalidPartitions.code()));
                continue;
            }
            state.default_assignment(n, rf)
        } else {
            let mut a: Vec<_> = t.assignments.iter().collect();
            a.sort_by_key(|a| a.partition_index);
            let ok = a.iter().enumerate().all(|(i, a)| {
                a.partition_index == i as i32
                    && !a.broker_ids.is_empty()
                    && a.broker_ids.iter().all(|b| state.broker(b.0).is_some())
            });
            if !ok {
                results
                    .push(result.with_error_code(ResponseError::InvalidReplicaAssignment.code()));
                continue;
            }
            a.iter()
                .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
                .collect()
        };
        let partitions = assignment.len() as i32;
        let rf = assignment.first().map_or(0, |r| r.len()) as i16;
        if req.validate_only {
            results.push(
                result
                    .with_num_partitions(partitions)
                    .with_replication_factor(rf),
            );
            continue;
        }
        let id = state.add_topic(&name, assignment).id;
        results.push(
            result
                .with_topic_id(id)
                .with_num_partitions(partitions)
                .with_replication_factor(rf),
        );
    }
    drop(state);
    inner.notify_appended();
    CreateTopicsResponse::default().with_topics(results)
}

pub(crate) fn find_coordinator(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let state = inner.state();
    let lookup = |key: &str| -> (i16, i32, u16) {
        if let Some(e) = ctx.fail_request() {
            return (e.code(), -1, 0);
        }
        if req.key_type > 1 {
            return (ResponseError::InvalidRequest.code(), -1, 0);
        }
        let id = state.coordinator_for(key);
        let port = state.broker(id).map_or(0, |b| b.port);
        (0, id, port)
    };
    if ctx.version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let (code, id, port) = lookup(k);
                Coordinator::default()
                    .with_key(k.clone())
                    .with_error_code(code)
                    .with_node_id(BrokerId(id))
                    .with_host(s(if code == 0 { "127.0.0.1" } else { "" }))
                    .with_port(i32::from(port))
            })
            .collect();
        FindCoordinatorResponse::default().with_coordinators(coordinators)
    } else {
        let (code, id, port) = lookup(&req.key);
        FindCoordinatorResponse::default()
            .with_error_code(code)
            .with_node_id(BrokerId(id))
            .with_host(s(if code == 0 { "127.0.0.1" } else { "" }))
            .with_port(i32::from(port))
    }
}
