//! Committed offsets of a group: OffsetCommit and OffsetFetch through the group coordinator.
//!
//! Retriable trouble (the coordinator moving or loading, a lost connection) is retried until
//! the caller's deadline, looking the coordinator up again where the error asks for it. Errors
//! that say the member is not who it claims to be any more (a rebalance, an illegal
//! generation, a stale epoch) are returned at once: the caller decides.

use std::collections::{BTreeMap, HashMap};

use laminar_kafka_protocol::messages::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use laminar_kafka_protocol::messages::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use laminar_kafka_protocol::messages::messages::{
    GroupId, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use tokio::time::Instant;

use super::link::CoordinatorLink;
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::offsets::TopicPartition;

/// Who commits: the generation (classic) or member epoch (consumer protocol), member id and
/// instance id the coordinator checks. `-1` and an empty id commit without a membership check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committer {
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Whether an OffsetCommit/OffsetFetch error is worth retrying after a pause: retriable, and
/// not a membership that is gone or outdated (that needs a rejoin or a new epoch first).
fn retry_after(code: KafkaCode) -> bool {
    code.is_retriable() && !code.is_stale_membership()
}

/// Commits `offsets` for the group as `who`, retrying retriable errors until `deadline`.
pub(crate) async fn commit(
    link: &CoordinatorLink,
    who: &Committer,
    offsets: &BTreeMap<TopicPartition, i64>,
    deadline: Instant,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for ((t, p), o) in offsets {
        by_topic.entry(t).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(*p)
                .with_committed_offset(*o)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(Some(StrBytes::default())),
        );
    }
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(link.group_id())))
        .with_generation_id_or_member_epoch(who.generation)
        .with_member_id(s(&who.member_id))
        .with_group_instance_id(who.instance_id.as_deref().map(s))
        .with_retention_time_ms(-1)
        .with_topics(
            by_topic
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(TopicName(s(t)))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let mut backoff = link.cluster().retry_backoff();
    loop {
        let outcome = async {
            let conn = link.connection().await?;
            let response = link.send(&conn, &request).await?;
            let mut first: Option<(KafkaCode, String)> = None;
            for t in &response.topics {
                for p in &t.partitions {
                    if let Err(code) = KafkaCode::check(p.error_code) {
                        first.get_or_insert((code, format!("{}-{}", t.name.0, p.partition_index)));
                    }
                }
            }
            Ok::<_, Error>(first)
        }
        .await;
        let err = match outcome {
            Ok(None) => return Ok(()),
            Ok(Some((code, context))) => {
                if code.needs_coordinator_refresh() {
                    link.invalidate();
                }
                Error::Broker {
                    api: "OffsetCommit",
                    code,
                    context: Some(format!("group `{}` {context}", link.group_id())),
                    message: None,
                }
            }
            Err(e) => e,
        };
        let retriable = match err.kafka_code() {
            Some(code) => retry_after(code),
            None => err.is_retriable(),
        };
        if !retriable || Instant::now() >= deadline {
            return Err(err);
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// The committed offsets of `partitions` (those without one are absent), waiting for pending
/// transactional commits to settle (`require_stable`).
pub(crate) async fn fetch(
    link: &CoordinatorLink,
    partitions: &[TopicPartition],
    deadline: Instant,
) -> Result<HashMap<TopicPartition, i64>> {
    if partitions.is_empty() {
        return Ok(HashMap::new());
    }
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        by_topic.entry(t).or_default().push(*p);
    }
    let mut backoff = link.cluster().retry_backoff();
    loop {
        let outcome = async {
            let conn = link.connection().await?;
            let version = CoordinatorLink::version_of::<OffsetFetchRequest>(&conn)?;
            let request = if version >= 8 {
                OffsetFetchRequest::default()
                    .with_require_stable(true)
                    .with_groups(vec![
                        OffsetFetchRequestGroup::default()
                            .with_group_id(GroupId(s(link.group_id())))
                            .with_member_epoch(-1)
                            .with_topics(Some(
                                by_topic
                                    .iter()
                                    .map(|(t, ps)| {
                                        OffsetFetchRequestTopics::default()
                                            .with_name(TopicName(s(t)))
                                            .with_partition_indexes(ps.clone())
                                    })
                                    .collect(),
                            )),
                    ])
            } else {
                OffsetFetchRequest::default()
                    .with_group_id(GroupId(s(link.group_id())))
                    .with_require_stable(version >= 7)
                    .with_topics(Some(
                        by_topic
                            .iter()
                            .map(|(t, ps)| {
                                OffsetFetchRequestTopic::default()
                                    .with_name(TopicName(s(t)))
                                    .with_partition_indexes(ps.clone())
                            })
                            .collect(),
                    ))
            };
            let response = link.send_at(&conn, &request, version).await?;
            let mut found = HashMap::new();
            let mut first_error: Option<(KafkaCode, String)> = None;
            let mut note = |code: i16, context: String| {
                if let Err(code) = KafkaCode::check(code) {
                    first_error.get_or_insert((code, context));
                }
            };
            if version >= 8 {
                for g in &response.groups {
                    note(g.error_code, String::new());
                    for t in &g.topics {
                        for p in &t.partitions {
                            note(p.error_code, format!(" {}-{}", t.name.0, p.partition_index));
                            if p.error_code == 0 && p.committed_offset >= 0 {
                                found.insert(
                                    (t.name.0.to_string(), p.partition_index),
                                    p.committed_offset,
                                );
                            }
                        }
                    }
                }
            } else {
                note(response.error_code, String::new());
                for t in &response.topics {
                    for p in &t.partitions {
                        note(p.error_code, format!(" {}-{}", t.name.0, p.partition_index));
                        if p.error_code == 0 && p.committed_offset >= 0 {
                            found.insert(
                                (t.name.0.to_string(), p.partition_index),
                                p.committed_offset,
                            );
                        }
                    }
                }
            }
            match first_error {
                None => Ok(found),
                Some((code, context)) => {
                    if code.needs_coordinator_refresh() {
                        link.invalidate();
                    }
                    Err(Error::Broker {
                        api: "OffsetFetch",
                        code,
                        context: Some(format!("group `{}`{context}", link.group_id())),
                        message: None,
                    })
                }
            }
        }
        .await;
        let err = match outcome {
            Ok(found) => return Ok(found),
            Err(e) => e,
        };
        // UNSTABLE_OFFSET_COMMIT (a transaction is being decided) is retriable too.
        let retriable = match err.kafka_code() {
            Some(code) => retry_after(code) || code == KafkaCode::UNSTABLE_OFFSET_COMMIT,
            None => err.is_retriable(),
        };
        if !retriable || Instant::now() >= deadline {
            return Err(err);
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_errors_are_not_retried_blindly() {
        for code in [
            KafkaCode::ILLEGAL_GENERATION,
            KafkaCode::UNKNOWN_MEMBER_ID,
            KafkaCode::REBALANCE_IN_PROGRESS,
            KafkaCode::FENCED_INSTANCE_ID,
            KafkaCode::FENCED_MEMBER_EPOCH,
            KafkaCode::STALE_MEMBER_EPOCH,
        ] {
            assert!(code.is_stale_membership(), "{code}");
            assert!(!retry_after(code), "{code}");
        }
        for code in [
            KafkaCode::COORDINATOR_LOAD_IN_PROGRESS,
            KafkaCode::COORDINATOR_NOT_AVAILABLE,
            KafkaCode::NOT_COORDINATOR,
        ] {
            assert!(retry_after(code), "{code}");
        }
    }
}
