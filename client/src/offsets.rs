//! Offset lookups by time (ListOffsets): earliest, latest, by timestamp.
//!
//! Used by the admin client and by the consumer's `seek`/`auto.offset.reset`. Requests go to each
//! partition's leader, grouped per broker; a partition whose leader moved is retried after a
//! metadata refresh, within the request timeout.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use laminar_kafka_protocol::messages::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsTopic,
};
use laminar_kafka_protocol::messages::messages::{BrokerId, ListOffsetsRequest, TopicName};
use laminar_kafka_protocol::messages::protocol::StrBytes;

use crate::cluster::Cluster;
use crate::config::IsolationLevel;
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The first offset still in the log.
    Earliest,
    /// The offset the next record will get (the high watermark, or the last stable offset under
    /// `read_committed`).
    Latest,
    /// The first offset whose record timestamp is at or after this time (ms since the epoch);
    /// the log end if there is none.
    Timestamp(i64),
    /// The offset of the record with the largest timestamp (KIP-734).
    MaxTimestamp,
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// An offset found by [`list_offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset (-1 when a timestamp lookup found nothing and the broker said so).
    pub offset: i64,
    /// The timestamp of that record, or -1.
    pub timestamp: i64,
    /// The leader epoch of that record, or -1.
    pub leader_epoch: i32,
}

/// A topic and partition.
pub type TopicPartition = (String, i32);

/// Looks up offsets for many partitions at once.
pub async fn list_offsets(
    cluster: &Cluster,
    isolation: IsolationLevel,
    wanted: &[(TopicPartition, OffsetSpec)],
) -> Result<HashMap<TopicPartition, ListedOffset>> {
    let deadline = Instant::now() + cluster.request_timeout();
    let mut remaining: Vec<(TopicPartition, OffsetSpec)> = wanted.to_vec();
    let mut found = HashMap::new();
    let mut backoff = cluster.retry_backoff();
    loop {
        // Group by leader.
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, OffsetSpec, i32)>> = BTreeMap::new();
        let mut retry = Vec::new();
        let mut last_err: Option<Error> = None;
        for (tp, spec) in remaining.drain(..) {
            let topic = cluster.topic(&tp.0).await?;
            let Some(p) = topic.partition(tp.1) else {
                return Err(Error::Broker {
                    api: "ListOffsets",
                    code: KafkaCode::UNKNOWN_TOPIC_OR_PARTITION,
                    context: Some(format!("{}-{}", tp.0, tp.1)),
                    message: Some(format!(
                        "the topic has {} partitions",
                        topic.partitions.len()
                    )),
                });
            };
            if p.leader < 0 {
                retry.push((tp, spec));
                continue;
            }
            by_leader
                .entry(p.leader)
                .or_default()
                .push((tp, spec, p.leader_epoch));
        }
        for (leader, parts) in by_leader {
            let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
            for ((t, p), spec, epoch) in &parts {
                topics.entry(t.as_str()).or_default().push(
                    ListOffsetsPartition::default()
                        .with_partition_index(*p)
                        .with_current_leader_epoch(*epoch)
                        .with_timestamp(spec.wire()),
                );
            }
            let request = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(isolation.as_i8())
                .with_timeout_ms(cluster.request_timeout().as_millis() as i32)
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(t, ps)| {
                            ListOffsetsTopic::default()
                                .with_name(TopicName(StrBytes::from_string(t.to_owned())))
                                .with_partitions(ps)
                        })
                        .collect(),
                );
            let response = match cluster.connect_to_node(leader).await {
                Ok(conn) => conn.send(&request).await,
                Err(e) => Err(e),
            };
            let response = match response {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    last_err = Some(e);
                    retry.extend(parts.into_iter().map(|(tp, s, _)| (tp, s)));
                    continue;
                }
                Err(e) => return Err(e),
            };
            for t in response.topics {
                let name = t.name.0.to_string();
                for p in t.partitions {
                    let tp = (name.clone(), p.partition_index);
                    let Some(spec) = parts.iter().find(|(w, _, _)| *w == tp).map(|(_, s, _)| *s)
                    else {
                        continue;
                    };
                    match KafkaCode::check(p.error_code) {
                        Ok(()) => {
                            found.insert(
                                tp,
                                ListedOffset {
                                    offset: p.offset,
                                    timestamp: p.timestamp,
                                    leader_epoch: p.leader_epoch,
                                },
                            );
                        }
                        Err(code) if code.is_retriable() => {
                            last_err = Some(Error::Broker {
                                api: "ListOffsets",
                                code,
                                context: Some(format!("{}-{}", tp.0, tp.1)),
                                message: None,
                            });
                            retry.push((tp, spec));
                        }
                        Err(code) => {
                            return Err(Error::Broker {
                                api: "ListOffsets",
                                code,
                                context: Some(format!("{}-{}", tp.0, tp.1)),
                                message: None,
                            });
                        }
                    }
                }
            }
        }
        if retry.is_empty() {
            return Ok(found);
        }
        if Instant::now() >= deadline {
            return Err(last_err.unwrap_or(Error::Broker {
                api: "ListOffsets",
                code: KafkaCode::LEADER_NOT_AVAILABLE,
                context: Some(format!("{}-{}", retry[0].0.0, retry[0].0.1)),
                message: None,
            }));
        }
        tokio::time::sleep(backoff.next_delay()).await;
        let topics: Vec<&str> = retry.iter().map(|((t, _), _)| t.as_str()).collect();
        cluster.refresh_metadata(&topics).await?;
        remaining = retry;
    }
}
