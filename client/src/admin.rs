//! The admin client: topics, cluster description, configs, offsets and consumer groups.
//!
//! Each call is one request (or one per leader for offsets) with the errors of each topic
//! reported per topic, as the Java `Admin` client does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use laminar_kafka_protocol::messages::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig,
};
use laminar_kafka_protocol::messages::messages::delete_topics_request::DeleteTopicState;
use laminar_kafka_protocol::messages::messages::describe_configs_request::DescribeConfigsResource;
use laminar_kafka_protocol::messages::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use laminar_kafka_protocol::messages::messages::{
    ConsumerProtocolAssignment, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    DescribeGroupsRequest, DescribeTransactionsRequest, GroupId, IncrementalAlterConfigsRequest,
    ListGroupsRequest, TopicName, TransactionalId,
};
use laminar_kafka_protocol::messages::protocol::{Decodable, StrBytes};

use crate::cluster::{Cluster, CoordinatorType};
use crate::config::{ClientConfig, IsolationLevel};
use crate::consumer::GroupOffsets;
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::metadata::{BrokerInfo, TopicInfo, TopicState};
use crate::offsets::{ListedOffset, OffsetSpec, TopicPartition, list_offsets};
use crate::stats::{ClientKind, Reporter, Statistics};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Its name.
    pub name: String,
    /// Number of partitions (-1: the broker's `num.partitions`).
    pub partitions: i32,
    /// Replication factor (-1: the broker's `default.replication.factor`).
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy`, `retention.ms`, …).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and `replication_factor` replicas.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication_factor,
            configs: BTreeMap::new(),
        }
    }

    /// Adds a topic config.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// A config entry of a topic or broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The config name.
    pub name: String,
    /// Its value (`None` for sensitive values and unset ones).
    pub value: Option<String>,
    /// Whether it is read-only.
    pub read_only: bool,
    /// Whether the value is sensitive (the broker does not send it).
    pub is_sensitive: bool,
    /// Where the value comes from (Kafka's ConfigSource numbering: 1 dynamic topic, 5 static
    /// broker, 5/6 defaults…).
    pub source: i8,
}

/// What kind of resource a config belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigResource {
    /// A topic.
    Topic,
    /// A broker (by node id as the name).
    Broker,
}

impl ConfigResource {
    /// The resource type code of DescribeConfigs and IncrementalAlterConfigs.
    fn code(self) -> i8 {
        match self {
            ConfigResource::Topic => 2,
            ConfigResource::Broker => 4,
        }
    }
}

/// The cluster as DescribeCluster (or metadata) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: Option<String>,
    /// The controller's node id, if known.
    pub controller: Option<i32>,
    /// The brokers, by node id.
    pub brokers: Vec<BrokerInfo>,
}

/// The admin client.
///
/// ```no_run
/// # async fn example() -> laminar_kafka_client::Result<()> {
/// use laminar_kafka_client::admin::{Admin, NewTopic};
/// use laminar_kafka_client::config::ClientConfig;
///
/// let admin = Admin::new(ClientConfig::new("127.0.0.1:9092")?)?;
/// admin.create_topics(&[NewTopic::new("events", 6, 1)]).await?;
/// assert!(admin.list_topics().await?.contains(&"events".to_owned()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Admin {
    cluster: Cluster,
    /// The statistics task (with `statistics.interval.ms` and a callback) and the handle it
    /// watches: the task ends when the last clone of this client is dropped.
    reporter: Option<Arc<Reporter>>,
    /// What the statistics task and [`crate::stats::all`] watch: alive while a clone is.
    anchor: Arc<AdminAnchor>,
}

#[derive(Debug)]
struct AdminAnchor(Cluster);

impl crate::stats::Snapshot for AdminAnchor {
    fn statistics(&self) -> Statistics {
        admin_statistics(&self.0)
    }
}

fn admin_statistics(cluster: &Cluster) -> Statistics {
    Statistics {
        client_id: cluster.config().common.client_id.clone(),
        kind: ClientKind::Admin,
        time_ms: crate::stats::now_ms(),
        brokers: cluster.broker_statistics(),
        ..Statistics::default()
    }
}

fn topic_error(
    api: &'static str,
    topic: &str,
    code: KafkaCode,
    message: Option<&StrBytes>,
) -> Error {
    Error::Broker {
        api,
        code,
        context: Some(format!("topic `{topic}`")),
        message: message.map(|m| m.to_string()),
    }
}

/// `result`, with a debug event when it is an error.
fn logged<T>(operation: &'static str, result: Result<T>) -> Result<T> {
    if let Err(e) = &result {
        tracing::debug!(
            target: log_targets::ADMIN,
            operation,
            error = %e,
            "admin request failed"
        );
    }
    result
}

impl Admin {
    /// An admin client for `config`.
    pub fn new(config: ClientConfig) -> Result<Self> {
        Ok(Self::from_cluster(Cluster::new(config)?))
    }

    /// An admin client sharing an existing cluster handle.
    pub fn from_cluster(cluster: Cluster) -> Self {
        let anchor = Arc::new(AdminAnchor(cluster.clone()));
        crate::stats::register(Arc::downgrade(&anchor) as _);
        let reporter = Reporter::start(&cluster.config().common, Arc::downgrade(&anchor), |a| {
            admin_statistics(&a.0)
        })
        .map(Arc::new);
        Self {
            cluster,
            reporter,
            anchor,
        }
    }

    /// A statistics snapshot: the brokers this client talked to (requests, latency, bytes,
    /// connections). See [`crate::stats`].
    ///
    /// ```no_run
    /// # async fn example() -> laminar_kafka_client::Result<()> {
    /// use laminar_kafka_client::admin::Admin;
    /// use laminar_kafka_client::config::ClientConfig;
    ///
    /// let admin = Admin::new(ClientConfig::new("127.0.0.1:9092")?)?;
    /// admin.list_topics().await?;
    /// assert!(admin.statistics().brokers.iter().any(|b| b.request_total > 0));
    /// # Ok(()) }
    /// ```
    pub fn statistics(&self) -> Statistics {
        admin_statistics(&self.anchor.0)
    }

    /// The cluster handle.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Creates topics and waits until the controller accepted them. The first topic that
    /// failed is the error (TOPIC_ALREADY_EXISTS, INVALID_REPLICATION_FACTOR, …).
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<()> {
        let results = self.create_topics_each(topics).await?;
        for (_, r) in results {
            r?;
        }
        Ok(())
    }

    /// Creates topics and returns each topic's own outcome.
    pub async fn create_topics_each(
        &self,
        topics: &[NewTopic],
    ) -> Result<Vec<(String, Result<()>)>> {
        logged(
            "create_topics_each",
            async {
                let request = CreateTopicsRequest::default()
                    .with_timeout_ms(self.cluster.request_timeout().as_millis() as i32)
                    .with_topics(
                        topics
                            .iter()
                            .map(|t| {
                                CreatableTopic::default()
                                    .with_name(TopicName(StrBytes::from_string(t.name.clone())))
                                    .with_num_partitions(t.partitions)
                                    .with_replication_factor(t.replication_factor)
                                    .with_configs(
                                        t.configs
                                            .iter()
                                            .map(|(k, v)| {
                                                CreatableTopicConfig::default()
                                                    .with_name(StrBytes::from_string(k.clone()))
                                                    .with_value(Some(StrBytes::from_string(
                                                        v.clone(),
                                                    )))
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    );
                let conn = self.cluster.any_connection().await?;
                let response = conn.send(&request).await?;
                let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
                let out = response
                    .topics
                    .iter()
                    .map(|r| {
                        let name = r.name.0.to_string();
                        let outcome = KafkaCode::check(r.error_code).map_err(|code| {
                            topic_error("CreateTopics", &name, code, r.error_message.as_ref())
                        });
                        let outcome = logged("create_topics", outcome);
                        (name, outcome)
                    })
                    .collect();
                // Make the new topics visible to this client at once.
                let _ = self.cluster.refresh_metadata(&names).await;
                Ok(out)
            }
            .await,
        )
    }

    /// Deletes topics by name. The first topic that failed is the error.
    pub async fn delete_topics(&self, names: &[&str]) -> Result<()> {
        logged(
            "delete_topics",
            async {
                let conn = self.cluster.any_connection().await?;
                let request = DeleteTopicsRequest::default()
                    .with_timeout_ms(self.cluster.request_timeout().as_millis() as i32)
                    .with_topic_names(
                        names
                            .iter()
                            .map(|n| TopicName(StrBytes::from_string((*n).to_owned())))
                            .collect(),
                    )
                    .with_topics(
                        names
                            .iter()
                            .map(|n| {
                                DeleteTopicState::default().with_name(Some(TopicName(
                                    StrBytes::from_string((*n).to_owned()),
                                )))
                            })
                            .collect(),
                    );
                let response = conn.send(&request).await?;
                for r in &response.responses {
                    let name = r.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
                    KafkaCode::check(r.error_code).map_err(|code| {
                        topic_error("DeleteTopics", &name, code, r.error_message.as_ref())
                    })?;
                }
                // The broker may still list the topics for a moment: forget them rather than refresh.
                self.cluster.forget_topics(names);
                Ok(())
            }
            .await,
        )
    }

    /// Names of all topics, internal ones excluded, sorted.
    pub async fn list_topics(&self) -> Result<Vec<String>> {
        logged(
            "list_topics",
            async {
                self.cluster.refresh_metadata(&[]).await?;
                let md = self.cluster.metadata();
                let mut names: Vec<String> = md
                    .topic_names()
                    .filter(|n| md.known_topic(n).is_some_and(|t| !t.is_internal))
                    .map(str::to_owned)
                    .collect();
                names.sort();
                Ok(names)
            }
            .await,
        )
    }

    /// The cluster id, controller and brokers.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        logged(
            "describe_cluster",
            async {
                self.cluster.refresh_metadata(&[]).await?;
                let md = self.cluster.metadata();
                let mut brokers: Vec<BrokerInfo> = md.brokers().cloned().collect();
                brokers.sort_by_key(|b| b.id);
                Ok(ClusterDescription {
                    cluster_id: md.cluster_id().map(str::to_owned),
                    controller: md.controller(),
                    brokers,
                })
            }
            .await,
        )
    }

    /// Partitions, leaders, replicas and ISR of each topic.
    pub async fn describe_topics(&self, names: &[&str]) -> Result<Vec<Arc<TopicInfo>>> {
        logged(
            "describe_topics",
            async {
                self.cluster.refresh_metadata(names).await?;
                let md = self.cluster.metadata();
                names
                    .iter()
                    .map(|n| match md.topic(n) {
                        Some(TopicState::Known(t)) => Ok(t.clone()),
                        Some(TopicState::Error(code)) => {
                            Err(topic_error("Metadata", n, *code, None))
                        }
                        None => Err(topic_error(
                            "Metadata",
                            n,
                            KafkaCode::UNKNOWN_TOPIC_OR_PARTITION,
                            None,
                        )),
                    })
                    .collect()
            }
            .await,
        )
    }

    /// The configs of a topic or broker.
    pub async fn describe_configs(
        &self,
        resource: ConfigResource,
        name: &str,
    ) -> Result<Vec<ConfigEntry>> {
        logged(
            "describe_configs",
            async {
                let request = DescribeConfigsRequest::default().with_resources(vec![
                    DescribeConfigsResource::default()
                        .with_resource_type(match resource {
                            ConfigResource::Topic => 2,
                            ConfigResource::Broker => 4,
                        })
                        .with_resource_name(StrBytes::from_string(name.to_owned()))
                        .with_configuration_keys(None),
                ]);
                let conn = match resource {
                    ConfigResource::Broker => match name.parse::<i32>() {
                        Ok(id) => self.cluster.connect_to_node(id).await?,
                        Err(_) => {
                            return Err(Error::InvalidProperty {
                                name: "broker".to_owned(),
                                reason: format!("`{name}` is not a broker node id"),
                            });
                        }
                    },
                    ConfigResource::Topic => self.cluster.any_connection().await?,
                };
                let response = conn.send(&request).await?;
                let result = response.results.into_iter().next().ok_or(Error::Broker {
                    api: "DescribeConfigs",
                    code: KafkaCode::UNKNOWN_SERVER_ERROR,
                    context: Some(name.to_owned()),
                    message: Some("the response had no result".to_owned()),
                })?;
                KafkaCode::check(result.error_code).map_err(|code| {
                    topic_error("DescribeConfigs", name, code, result.error_message.as_ref())
                })?;
                let mut entries: Vec<ConfigEntry> = result
                    .configs
                    .into_iter()
                    .map(|c| ConfigEntry {
                        name: c.name.to_string(),
                        value: c.value.map(|v| v.to_string()),
                        read_only: c.read_only,
                        is_sensitive: c.is_sensitive,
                        source: c.config_source,
                    })
                    .collect();
                entries.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(entries)
            }
            .await,
        )
    }

    /// Offsets by time for many partitions.
    pub async fn list_offsets(
        &self,
        wanted: &[(TopicPartition, OffsetSpec)],
        isolation: IsolationLevel,
    ) -> Result<HashMap<TopicPartition, ListedOffset>> {
        logged(
            "list_offsets",
            async { list_offsets(&self.cluster, isolation, wanted).await }.await,
        )
    }

    /// A transaction as its coordinator knows it (DescribeTransactions, KIP-664): its state
    /// (`Empty`, `Ongoing`, `PrepareCommit`, `CompleteCommit`, `PrepareAbort`,
    /// `CompleteAbort`, …) and the producer id and epoch it has now.
    pub async fn describe_transaction(
        &self,
        transactional_id: &str,
    ) -> Result<TransactionDescription> {
        logged(
            "describe_transaction",
            async {
                let conn = self
                    .cluster
                    .coordinator(CoordinatorType::Transaction, transactional_id)
                    .await?;
                let request = DescribeTransactionsRequest::default().with_transactional_ids(vec![
                    TransactionalId(StrBytes::from_string(transactional_id.to_owned())),
                ]);
                let response = conn.send(&request).await?;
                let context = || Some(format!("transactional id `{transactional_id}`"));
                let Some(state) = response.transaction_states.into_iter().next() else {
                    return Err(Error::Broker {
                        api: "DescribeTransactions",
                        code: KafkaCode::UNKNOWN_SERVER_ERROR,
                        context: context(),
                        message: Some("the response describes no transaction".to_owned()),
                    });
                };
                KafkaCode::check(state.error_code).map_err(|code| Error::Broker {
                    api: "DescribeTransactions",
                    code,
                    context: context(),
                    message: None,
                })?;
                Ok(TransactionDescription {
                    transactional_id: transactional_id.to_owned(),
                    state: state.transaction_state.to_string(),
                    producer_id: state.producer_id.0,
                    producer_epoch: state.producer_epoch,
                })
            }
            .await,
        )
    }

    /// Sets (`Some`) or deletes (`None`, back to the default) configs of a topic or broker with
    /// IncrementalAlterConfigs (KIP-339); configs not named keep their values.
    pub async fn alter_configs(
        &self,
        resource: ConfigResource,
        name: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<()> {
        logged(
            "alter_configs",
            async {
                let configs = changes
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(StrBytes::from_string(k.clone()))
                            // 0 SET, 1 DELETE.
                            .with_config_operation(if v.is_some() { 0 } else { 1 })
                            .with_value(v.clone().map(StrBytes::from_string))
                    })
                    .collect();
                let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
                    AlterConfigsResource::default()
                        .with_resource_type(resource.code())
                        .with_resource_name(StrBytes::from_string(name.to_owned()))
                        .with_configs(configs),
                ]);
                let conn = self.resource_connection(resource, name).await?;
                let response = conn.send(&request).await?;
                for r in response.responses {
                    KafkaCode::check(r.error_code).map_err(|code| {
                        topic_error(
                            "IncrementalAlterConfigs",
                            name,
                            code,
                            r.error_message.as_ref(),
                        )
                    })?;
                }
                Ok(())
            }
            .await,
        )
    }

    /// The consumer groups every broker knows (ListGroups), sorted by id.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        logged(
            "list_groups",
            async {
                self.cluster.refresh_metadata(&[]).await?;
                let ids: Vec<i32> = self.cluster.metadata().brokers().map(|b| b.id).collect();
                let mut groups = Vec::new();
                for id in ids {
                    let conn = self.cluster.connect_to_node(id).await?;
                    let response = conn.send(&ListGroupsRequest::default()).await?;
                    KafkaCode::check(response.error_code).map_err(|code| Error::Broker {
                        api: "ListGroups",
                        code,
                        context: Some(format!("broker {id}")),
                        message: None,
                    })?;
                    groups.extend(response.groups.into_iter().map(|g| GroupListing {
                        group_id: g.group_id.0.to_string(),
                        protocol_type: g.protocol_type.to_string(),
                        state: g.group_state.to_string(),
                        group_type: g.group_type.to_string(),
                    }));
                }
                groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
                groups.dedup_by(|a, b| a.group_id == b.group_id);
                Ok(groups)
            }
            .await,
        )
    }

    /// A classic group as its coordinator describes it (DescribeGroups): state, protocol and
    /// members with the partitions assigned to each (decoded when the group is a consumer
    /// group). A group nobody knows is an error with `GROUP_ID_NOT_FOUND` from Kafka 4 brokers,
    /// and state `Dead` with no members from older ones.
    pub async fn describe_group(&self, group_id: &str) -> Result<GroupDescription> {
        logged(
            "describe_group",
            async {
                let conn = self
                    .cluster
                    .coordinator(CoordinatorType::Group, group_id)
                    .await?;
                let request = DescribeGroupsRequest::default()
                    .with_groups(vec![GroupId(StrBytes::from_string(group_id.to_owned()))]);
                let response = conn.send(&request).await?;
                let context = || Some(format!("group `{group_id}`"));
                let Some(group) = response.groups.into_iter().next() else {
                    return Err(Error::Broker {
                        api: "DescribeGroups",
                        code: KafkaCode::UNKNOWN_SERVER_ERROR,
                        context: context(),
                        message: Some("the response describes no group".to_owned()),
                    });
                };
                KafkaCode::check(group.error_code).map_err(|code| Error::Broker {
                    api: "DescribeGroups",
                    code,
                    context: context(),
                    message: group.error_message.as_ref().map(|m| m.to_string()),
                })?;
                let consumer = group.protocol_type.as_str() == "consumer";
                let members = group
                    .members
                    .into_iter()
                    .map(|m| GroupMember {
                        member_id: m.member_id.to_string(),
                        group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                        client_id: m.client_id.to_string(),
                        client_host: m.client_host.to_string(),
                        assignment: if consumer {
                            decode_assignment(m.member_assignment)
                        } else {
                            Vec::new()
                        },
                    })
                    .collect();
                Ok(GroupDescription {
                    group_id: group_id.to_owned(),
                    state: group.group_state.to_string(),
                    protocol_type: group.protocol_type.to_string(),
                    protocol: group.protocol_data.to_string(),
                    members,
                })
            }
            .await,
        )
    }

    /// The offsets group `group_id` committed, for every partition of every topic in the
    /// cluster that has one (OffsetFetch through the group's coordinator).
    pub async fn group_offsets(&self, group_id: &str) -> Result<BTreeMap<TopicPartition, i64>> {
        logged(
            "group_offsets",
            async {
                self.cluster.refresh_metadata(&[]).await?;
                let partitions: Vec<TopicPartition> = {
                    let md = self.cluster.metadata();
                    let mut names: Vec<String> = md.topic_names().map(str::to_owned).collect();
                    names.sort();
                    names
                        .into_iter()
                        .filter_map(|n| match md.topic(&n) {
                            Some(TopicState::Known(t)) if !t.is_internal => Some(
                                t.partitions
                                    .iter()
                                    .map(|p| (n.clone(), p.partition))
                                    .collect::<Vec<_>>(),
                            ),
                            _ => None,
                        })
                        .flatten()
                        .collect()
                };
                if partitions.is_empty() {
                    return Ok(BTreeMap::new());
                }
                let offsets = GroupOffsets::new(self.cluster.clone(), group_id)?;
                Ok(offsets.committed(&partitions).await?.into_iter().collect())
            }
            .await,
        )
    }

    /// Commits `offsets` for group `group_id` as a member-less ("simple") consumer: the
    /// coordinator refuses while the group has active members, as the Java tool does.
    pub async fn alter_group_offsets(
        &self,
        group_id: &str,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<()> {
        logged(
            "alter_group_offsets",
            async {
                GroupOffsets::new(self.cluster.clone(), group_id)?
                    .commit(offsets)
                    .await
            }
            .await,
        )
    }

    async fn resource_connection(
        &self,
        resource: ConfigResource,
        name: &str,
    ) -> Result<crate::connection::Connection> {
        match resource {
            ConfigResource::Broker => match name.parse::<i32>() {
                Ok(id) => self.cluster.connect_to_node(id).await,
                Err(_) => Err(Error::InvalidProperty {
                    name: "broker".to_owned(),
                    reason: format!("`{name}` is not a broker node id"),
                }),
            },
            ConfigResource::Topic => self.cluster.any_connection().await,
        }
    }

    /// Closes the admin client's connections.
    pub async fn close(&self) {
        if let Some(r) = &self.reporter {
            r.stop();
        }
        self.cluster.close().await;
    }
}

/// A transaction as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionDescription {
    /// The transactional id.
    pub transactional_id: String,
    /// The coordinator's state name (`Ongoing`, `CompleteCommit`, `CompleteAbort`, …).
    pub state: String,
    /// The producer id in use.
    pub producer_id: i64,
    /// The producer epoch in use.
    pub producer_epoch: i16,
}

/// Decodes a consumer group member's assignment (the consumer protocol's bytes: a version,
/// then the partitions); bytes that do not decode give no partitions rather than an error.
fn decode_assignment(bytes: bytes::Bytes) -> Vec<TopicPartition> {
    let mut buf = bytes;
    if buf.len() < 2 {
        return Vec::new();
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    let mut body = buf.split_off(2);
    match ConsumerProtocolAssignment::decode(&mut body, version.clamp(0, 3)) {
        Ok(a) => a
            .assigned_partitions
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic.0.to_string();
                t.partitions.into_iter().map(move |p| (topic.clone(), p))
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// `consumer` for consumer groups, empty for groups that only commit offsets.
    pub protocol_type: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, … (empty from brokers before KIP-518).
    pub state: String,
    /// `classic` or `consumer` (KIP-848), empty from brokers before KIP-848.
    pub group_type: String,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// `Stable`, `Empty`, `Dead`, …
    pub state: String,
    /// `consumer` for consumer groups.
    pub protocol_type: String,
    /// The assignor the group chose (`range`, `cooperative-sticky`, …).
    pub protocol: String,
    /// The members.
    pub members: Vec<GroupMember>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupMember {
    /// The member id the coordinator gave.
    pub member_id: String,
    /// The static membership id (KIP-345), if any.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The address the member connected from.
    pub client_host: String,
    /// The partitions assigned to it.
    pub assignment: Vec<TopicPartition>,
}

#[cfg(test)]
mod tests {
    use laminar_kafka_protocol::messages::messages::consumer_protocol_assignment::TopicPartition as Assigned;
    use laminar_kafka_protocol::messages::protocol::Encodable;

    use super::*;

    #[test]
    fn member_assignment_decodes_to_partitions_and_garbage_to_none() {
        let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
            Assigned::default()
                .with_topic(TopicName(StrBytes::from_static_str("events")))
                .with_partitions(vec![0, 2]),
        ]);
        let mut buf = bytes::BytesMut::new();
        buf.extend_from_slice(&1i16.to_be_bytes());
        assignment.encode(&mut buf, 1).unwrap();
        assert_eq!(
            decode_assignment(buf.freeze()),
            vec![("events".to_owned(), 0), ("events".to_owned(), 2)]
        );
        assert!(decode_assignment(bytes::Bytes::from_static(&[0, 1, 0xff])).is_empty());
        assert!(decode_assignment(bytes::Bytes::new()).is_empty());
    }
}
