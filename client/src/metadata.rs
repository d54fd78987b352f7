//! The client's view of the cluster: brokers, topics, partitions, leaders and leader epochs.
//!
//! A [`MetadataCache`] is updated from Metadata responses and read by the producer, consumer and
//! admin client. It never goes back in time for a partition: a response that carries an older
//! leader epoch than the cache has (a lagging broker's view) leaves that partition alone
//! (KIP-320). This module does no I/O; the cluster refreshes it and hands readers an
//! `Arc<MetadataCache>` snapshot, copying the cache only when it changes while a reader still
//! holds the previous snapshot (topic infos are shared `Arc`s, so a copy is the two maps).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use laminar_kafka_protocol::messages::messages::MetadataResponse;
use uuid::Uuid;

use crate::kafka_error::KafkaCode;
use crate::log_targets;

/// A broker as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The broker's node id.
    pub id: i32,
    /// `host:port` to connect to.
    pub address: String,
    /// Its rack, if configured.
    pub rack: Option<String>,
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition number.
    pub partition: i32,
    /// The leader's node id, or -1 while there is none.
    pub leader: i32,
    /// The leader epoch, or -1 if the broker does not report it.
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Replicas that are offline.
    pub offline_replicas: Vec<i32>,
    /// The partition-level error the broker reported (e.g. LEADER_NOT_AVAILABLE), if any.
    pub error: Option<KafkaCode>,
}

/// A topic and its partitions, ordered by partition number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic name.
    pub name: String,
    /// The topic id (all zero on brokers that do not report ids).
    pub id: Uuid,
    /// Whether it is an internal topic (`__consumer_offsets`, …).
    pub is_internal: bool,
    /// Its partitions, index = partition number.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// The partition `p`, if it exists.
    pub fn partition(&self, p: i32) -> Option<&PartitionInfo> {
        usize::try_from(p).ok().and_then(|i| self.partitions.get(i))
    }
}

/// The outcome for one topic in a metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicState {
    /// The topic exists; here is what the broker knows of it.
    Known(Arc<TopicInfo>),
    /// The broker answered with an error for it (UNKNOWN_TOPIC_OR_PARTITION, authorization…).
    Error(KafkaCode),
}

/// Brokers and topics as last seen.
#[derive(Debug, Clone, Default)]
pub struct MetadataCache {
    cluster_id: Option<String>,
    controller: Option<i32>,
    brokers: HashMap<i32, BrokerInfo>,
    topics: HashMap<String, TopicState>,
    updated: Option<Instant>,
}

/// Events for the brokers that joined or left the cluster, or moved to another address.
fn log_broker_changes(before: &HashMap<i32, BrokerInfo>, after: &HashMap<i32, BrokerInfo>) {
    for (id, b) in after {
        match before.get(id) {
            None => tracing::info!(
                target: log_targets::METADATA,
                broker_id = id,
                address = b.address.as_str(),
                "broker added"
            ),
            Some(old) if old.address != b.address => tracing::info!(
                target: log_targets::METADATA,
                broker_id = id,
                old_address = old.address.as_str(),
                address = b.address.as_str(),
                "broker moved to another address"
            ),
            Some(_) => {}
        }
    }
    for (id, b) in before {
        if !after.contains_key(id) {
            tracing::info!(
                target: log_targets::METADATA,
                broker_id = id,
                address = b.address.as_str(),
                "broker removed"
            );
        }
    }
}

impl MetadataCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a Metadata response for *all* topics: topics the broker no longer lists (deleted
    /// elsewhere) are forgotten, the others are merged as by [`update`](Self::update).
    pub fn replace_all(&mut self, response: &MetadataResponse) {
        let listed: std::collections::HashSet<String> = response
            .topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
            .collect();
        self.topics.retain(|name, _| listed.contains(name));
        self.update(response);
    }

    /// Merges a Metadata response. Brokers are replaced wholesale (the response lists them
    /// all); topics named in the response are updated, others are kept.
    pub fn update(&mut self, response: &MetadataResponse) {
        self.cluster_id = response.cluster_id.as_ref().map(|c| c.to_string());
        self.controller = (response.controller_id.0 >= 0).then_some(response.controller_id.0);
        if !response.brokers.is_empty() {
            let before = std::mem::take(&mut self.brokers);
            self.brokers = response
                .brokers
                .iter()
                .map(|b| {
                    let address = if b.host.contains(':') {
                        format!("[{}]:{}", b.host, b.port) // IPv6 literal
                    } else {
                        format!("{}:{}", b.host, b.port)
                    };
                    (
                        b.node_id.0,
                        BrokerInfo {
                            id: b.node_id.0,
                            address,
                            rack: b.rack.as_ref().map(|r| r.to_string()),
                        },
                    )
                })
                .collect();
            // The first response is the cluster's discovery, not a change.
            if !before.is_empty() {
                log_broker_changes(&before, &self.brokers);
            }
        }
        for t in &response.topics {
            let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            if let Some(code) = KafkaCode::from_code(t.error_code) {
                // A transient leader election keeps the old view; a real error replaces it.
                if code == KafkaCode::LEADER_NOT_AVAILABLE
                    && matches!(self.topics.get(&name), Some(TopicState::Known(_)))
                {
                    continue;
                }
                self.topics.insert(name, TopicState::Error(code));
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                    error: KafkaCode::from_code(p.error_code),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            // Partitions must be numbered 0..n; a gap means a malformed response.
            if partitions
                .iter()
                .enumerate()
                .any(|(i, p)| p.partition != i as i32)
            {
                continue;
            }
            if let Some(TopicState::Known(old)) = self.topics.get(&name) {
                if old.id == t.topic_id {
                    for p in partitions.iter_mut() {
                        if let Some(prev) = old.partition(p.partition) {
                            if p.leader_epoch >= 0 && p.leader_epoch < prev.leader_epoch {
                                *p = prev.clone(); // stale view: keep what we know
                            } else if p.leader != prev.leader {
                                tracing::info!(
                                    target: log_targets::METADATA,
                                    topic = name.as_str(),
                                    partition = p.partition,
                                    old_leader = prev.leader,
                                    new_leader = p.leader,
                                    leader_epoch = p.leader_epoch,
                                    "leader moved: {}-{} {} -> {}",
                                    name,
                                    p.partition,
                                    prev.leader,
                                    p.leader
                                );
                            }
                        }
                    }
                }
            }
            self.topics.insert(
                name.clone(),
                TopicState::Known(Arc::new(TopicInfo {
                    name,
                    id: t.topic_id,
                    is_internal: t.is_internal,
                    partitions,
                })),
            );
        }
        self.updated = Some(Instant::now());
    }

    /// A broker by node id.
    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&id)
    }

    /// Every known broker.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerInfo> {
        self.brokers.values()
    }

    /// The cluster id, if the broker reported one.
    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// The active controller's node id, if known.
    pub fn controller(&self) -> Option<i32> {
        self.controller
    }

    /// What the cache knows of a topic.
    pub fn topic(&self, name: &str) -> Option<&TopicState> {
        self.topics.get(name)
    }

    /// A topic that exists, if the cache has it.
    pub fn known_topic(&self, name: &str) -> Option<Arc<TopicInfo>> {
        match self.topics.get(name) {
            Some(TopicState::Known(t)) => Some(t.clone()),
            _ => None,
        }
    }

    /// Names of every topic the cache knows to exist.
    pub fn topic_names(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().filter_map(|(n, s)| match s {
            TopicState::Known(_) => Some(n.as_str()),
            TopicState::Error(_) => None,
        })
    }

    /// Forgets a topic (after it was deleted, or to force a lookup).
    pub fn forget(&mut self, name: &str) {
        self.topics.remove(name);
    }

    /// When the cache was last updated.
    pub fn updated_at(&self) -> Option<Instant> {
        self.updated
    }

    /// The leader of a partition and its epoch, if there is one right now.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
        let t = self.known_topic(topic)?;
        let p = t.partition(partition)?;
        (p.leader >= 0).then_some((p.leader, p.leader_epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_targets::events_of;
    use laminar_kafka_protocol::messages::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use laminar_kafka_protocol::messages::messages::{BrokerId, TopicName};
    use laminar_kafka_protocol::messages::protocol::StrBytes;

    fn response(topic: &str, id: Uuid, leaders: &[(i32, i32)]) -> MetadataResponse {
        MetadataResponse::default()
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(9092),
            ])
            .with_controller_id(BrokerId(1))
            .with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(topic.to_owned()))))
                    .with_topic_id(id)
                    .with_partitions(
                        leaders
                            .iter()
                            .enumerate()
                            .map(|(i, (leader, epoch))| {
                                MetadataResponsePartition::default()
                                    .with_partition_index(i as i32)
                                    .with_leader_id(BrokerId(*leader))
                                    .with_leader_epoch(*epoch)
                            })
                            .collect(),
                    ),
            ])
    }

    fn with_brokers(response: MetadataResponse, ids: &[i32]) -> MetadataResponse {
        response.with_brokers(
            ids.iter()
                .map(|&id| {
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(id))
                        .with_host(StrBytes::from_static_str("127.0.0.1"))
                        .with_port(9090 + id)
                })
                .collect(),
        )
    }

    #[test]
    fn leader_moves_and_broker_changes_are_info_events() {
        let mut cache = MetadataCache::new();
        let id = Uuid::from_u128(7);
        // The first response is discovery: no event.
        let first = events_of(|| cache.update(&with_brokers(response("t", id, &[(1, 3)]), &[1])));
        assert_eq!(first, Vec::<String>::new());

        let moved = events_of(|| {
            cache.update(&with_brokers(response("t", id, &[(2, 4)]), &[1, 2]));
        });
        assert!(
            moved
                .iter()
                .any(|e| e.starts_with("INFO laminar_kafka::metadata")
                    && e.contains("broker added")
                    && e.contains("broker_id=2")),
            "{moved:?}"
        );
        assert!(
            moved
                .iter()
                .any(|e| e.starts_with("INFO laminar_kafka::metadata")
                    && e.contains("leader moved: t-0 1 -> 2")
                    && e.contains("old_leader=1 new_leader=2 leader_epoch=4")),
            "{moved:?}"
        );

        // A lagging broker's older view changes nothing, and says nothing of leaders.
        let stale = events_of(|| {
            cache.update(&with_brokers(response("t", id, &[(1, 3)]), &[1, 2]));
        });
        assert_eq!(stale, Vec::<String>::new());

        let removed = events_of(|| {
            cache.update(&with_brokers(response("t", id, &[(2, 4)]), &[2]));
        });
        assert!(
            removed.len() == 1
                && removed[0].contains("broker removed")
                && removed[0].contains("broker_id=1"),
            "{removed:?}"
        );
    }

    #[test]
    fn keeps_partitions_leaders_and_brokers() {
        let mut cache = MetadataCache::new();
        let id = Uuid::from_u128(7);
        cache.update(&response("t", id, &[(1, 3), (1, 4)]));
        assert_eq!(cache.broker(1).unwrap().address, "127.0.0.1:9092");
        assert_eq!(cache.leader("t", 1), Some((1, 4)));
        assert_eq!(cache.known_topic("t").unwrap().id, id);
        assert_eq!(cache.leader("t", 2), None);
        assert_eq!(cache.controller(), Some(1));
    }

    #[test]
    fn an_older_leader_epoch_does_not_overwrite_a_newer_one() {
        let mut cache = MetadataCache::new();
        let id = Uuid::from_u128(7);
        cache.update(&response("t", id, &[(1, 5)]));
        cache.update(&response("t", id, &[(2, 4)]));
        assert_eq!(cache.leader("t", 0), Some((1, 5)));
        cache.update(&response("t", id, &[(2, 6)]));
        assert_eq!(cache.leader("t", 0), Some((2, 6)));
        // A recreated topic (new id) starts over, whatever its epochs.
        cache.update(&response("t", Uuid::from_u128(8), &[(1, 0)]));
        assert_eq!(cache.leader("t", 0), Some((1, 0)));
    }

    #[test]
    fn topic_errors_are_kept_as_errors() {
        let mut cache = MetadataCache::new();
        let mut r = response("missing", Uuid::nil(), &[]);
        r.topics[0].error_code = 3;
        cache.update(&r);
        match cache.topic("missing") {
            Some(TopicState::Error(code)) => assert_eq!(code.name(), "UnknownTopicOrPartition"),
            other => panic!("{other:?}"),
        }
        assert!(cache.known_topic("missing").is_none());
    }

    #[test]
    fn a_full_refresh_forgets_deleted_topics() {
        let mut cache = MetadataCache::new();
        cache.update(&response("gone", Uuid::from_u128(1), &[(1, 0)]));
        cache.update(&response("kept", Uuid::from_u128(2), &[(1, 0)]));
        // A partial response (one topic asked for) keeps the others...
        cache.update(&response("kept", Uuid::from_u128(2), &[(1, 1)]));
        assert!(cache.known_topic("gone").is_some());
        // ...a response for all topics does not.
        cache.replace_all(&response("kept", Uuid::from_u128(2), &[(1, 1)]));
        assert!(cache.topic("gone").is_none());
        assert_eq!(cache.topic_names().collect::<Vec<_>>(), vec!["kept"]);
    }

    #[test]
    fn a_partition_gap_is_ignored_as_malformed() {
        let mut cache = MetadataCache::new();
        let mut r = response("t", Uuid::from_u128(1), &[(1, 0), (1, 0)]);
        r.topics[0].partitions[1].partition_index = 5;
        cache.update(&r);
        assert!(cache.topic("t").is_none());
    }
}
