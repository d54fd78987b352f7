//! Position validation after a leader change (KIP-320).
//!
//! Each fetch carries the partition's leader epoch from metadata (`CurrentLeaderEpoch`). When
//! metadata shows a newer leader epoch than the one a partition was last fetched under, the
//! position may lie beyond the new leader's log (an unclean election truncated it): before the
//! next fetch, OffsetsForLeaderEpoch asks the leader where the epoch of the last fetched batch
//! ends. An end offset below the fetch position is a truncation: with an `auto.offset.reset`
//! policy the consumer continues at that end offset, the first offset known to diverge (as the
//! Java client does); without one, [`Error::LogTruncation`] until the caller seeks.

use std::collections::BTreeMap;
use std::sync::Arc;

use laminar_kafka_protocol::messages::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use laminar_kafka_protocol::messages::messages::{
    BrokerId, OffsetForLeaderEpochRequest, TopicName,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;

use super::{Consumer, Shared};
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::offsets::TopicPartition;

/// Whether a partition fetched under `fetched_under` (the leader epoch its last fetch carried,
/// -1 if none yet) with the last fetched batch of epoch `last_epoch` must be validated before
/// fetching under metadata's `current` leader epoch.
pub(super) fn needs_validation(fetched_under: i32, last_epoch: Option<i32>, current: i32) -> bool {
    fetched_under >= 0 && current > fetched_under && last_epoch.is_some_and(|e| e >= 0)
}

/// What the leader's answer means for a fetch position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Validated {
    /// The log holds the position: fetch on.
    Valid,
    /// The log was truncated below the position: continue at this offset.
    Truncated(i64),
    /// The log was truncated and there is no reset policy.
    Fail {
        /// The first offset known to diverge.
        end_offset: i64,
    },
}

/// The verdict for `position` given the leader's end offset of the asked epoch (`end_offset`,
/// -1 when the leader does not know the epoch: nothing to compare) and whether a reset policy
/// is set.
pub(super) fn verdict(position: i64, end_offset: i64, has_reset_policy: bool) -> Validated {
    if end_offset < 0 || end_offset >= position {
        Validated::Valid
    } else if has_reset_policy {
        Validated::Truncated(end_offset)
    } else {
        Validated::Fail { end_offset }
    }
}

/// One partition to validate.
struct Check {
    tp: TopicPartition,
    generation: u64,
    position: i64,
    last_epoch: i32,
    current_epoch: i32,
}

/// Validates the positions of partitions whose leader epoch moved on since their last fetch
/// (metadata from the cache only, no refresh here). Partitions waiting for validation are
/// marked so that dispatch leaves them alone.
pub(super) async fn validate_positions(shared: &Arc<Shared>) {
    let mut by_leader: BTreeMap<i32, Vec<Check>> = BTreeMap::new();
    {
        let mut state = shared.lock();
        let now = tokio::time::Instant::now();
        for (tp, p) in state.partitions.iter_mut() {
            if p.validating
                || p.pending.is_some()
                || p.position.is_none()
                || p.retry_at.is_some_and(|t| t > now)
            {
                continue;
            }
            let Some(info) = shared
                .cluster
                .cached_topic(&tp.0)
                .and_then(|t| t.partition(tp.1).cloned())
            else {
                continue;
            };
            if info.leader < 0
                || !needs_validation(p.fetched_under, p.last_epoch, info.leader_epoch)
            {
                continue;
            }
            let Some(last_epoch) = p.last_epoch else {
                continue;
            };
            p.validating = true;
            by_leader.entry(info.leader).or_default().push(Check {
                tp: tp.clone(),
                generation: p.generation,
                position: p.fetch_position,
                last_epoch,
                current_epoch: info.leader_epoch,
            });
        }
    }
    for (leader, checks) in by_leader {
        let answer = end_offsets(shared, leader, &checks).await;
        settle(shared, checks, answer);
    }
}

/// Applies the leader's answers.
fn settle(shared: &Arc<Shared>, checks: Vec<Check>, answer: Result<Vec<(TopicPartition, i64)>>) {
    let config = shared.cluster.config();
    let has_policy = Consumer::reset_policy(config).is_some();
    let mut state = shared.lock();
    let mut errors = Vec::new();
    let answers = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(
                target: log_targets::CONSUMER,
                partitions = checks.len(),
                error = %e,
                "position validation (KIP-320) failed; retrying after the backoff"
            );
            for c in &checks {
                if let Some(p) = state.partitions.get_mut(&c.tp) {
                    p.validating = false;
                    p.retry_at = Some(tokio::time::Instant::now() + config.common.retry_backoff);
                }
            }
            if !e.is_retriable() {
                state.errors.push_back(e);
                drop(state);
                shared.data_ready.notify_waiters();
            }
            return;
        }
    };
    for c in checks {
        let fresh = state.next_generation();
        let Some(p) = state.partitions.get_mut(&c.tp) else {
            continue;
        };
        p.validating = false;
        if p.generation != c.generation {
            continue; // seeked meanwhile: nothing to validate
        }
        let Some(&(_, end_offset)) = answers.iter().find(|(tp, _)| *tp == c.tp) else {
            p.retry_at = Some(tokio::time::Instant::now() + config.common.retry_backoff);
            continue;
        };
        match verdict(c.position, end_offset, has_policy) {
            Validated::Valid => p.fetched_under = c.current_epoch,
            Validated::Truncated(to) => {
                // Records below `to` are the leader's; those at or after it diverged. Continue
                // from `to`, or from the position if the caller has not reached `to` yet
                // (fetched records past it are dropped, and fetches in flight too).
                let at = p.position.map_or(to, |pos| pos.min(to));
                tracing::info!(
                    target: log_targets::CONSUMER,
                    topic = c.tp.0.as_str(),
                    partition = c.tp.1,
                    fetch_position = c.position,
                    end_offset = to,
                    new_position = at,
                    leader_epoch = c.current_epoch,
                    "log truncated (KIP-320): the position moves back"
                );
                p.generation = fresh;
                p.position = Some(at);
                p.fetch_position = at;
                p.buffered.clear();
                p.last_epoch = None;
                p.fetched_under = c.current_epoch;
            }
            Validated::Fail { end_offset } => {
                tracing::info!(
                    target: log_targets::CONSUMER,
                    topic = c.tp.0.as_str(),
                    partition = c.tp.1,
                    fetch_position = c.position,
                    end_offset,
                    "log truncated (KIP-320) and auto.offset.reset is none"
                );
                p.retry_at = Some(tokio::time::Instant::now() + config.common.retry_backoff_max);
                errors.push(Error::LogTruncation {
                    topic: c.tp.0.clone(),
                    partition: c.tp.1,
                    offset: c.position,
                    end_offset,
                });
            }
        }
    }
    let notify = !errors.is_empty();
    state.errors.extend(errors);
    drop(state);
    if notify {
        shared.data_ready.notify_waiters();
    }
}

/// Asks `leader` where the epochs of `checks` end.
async fn end_offsets(
    shared: &Arc<Shared>,
    leader: i32,
    checks: &[Check],
) -> Result<Vec<(TopicPartition, i64)>> {
    let conn = shared.cluster.connect_to_node(leader).await?;
    // A broker without OffsetsForLeaderEpoch v3 (the first a consumer may use) cannot
    // validate: the position stands, as in the Java client.
    let version = match conn.versions().version_for::<OffsetForLeaderEpochRequest>() {
        Ok(v) if v >= 3 => v,
        _ => return Ok(checks.iter().map(|c| (c.tp.clone(), -1)).collect()),
    };
    let mut topics: Vec<OffsetForLeaderTopic> = Vec::new();
    for c in checks {
        let partition = OffsetForLeaderPartition::default()
            .with_partition(c.tp.1)
            .with_current_leader_epoch(c.current_epoch)
            .with_leader_epoch(c.last_epoch);
        match topics.iter_mut().find(|t| t.topic.0.as_str() == c.tp.0) {
            Some(t) => t.partitions.push(partition),
            None => topics.push(
                OffsetForLeaderTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(c.tp.0.clone())))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1)) // a consumer, not a follower
        .with_topics(topics);
    let response = conn.send_at(&request, version).await?;
    let mut out = Vec::new();
    let mut refresh = false;
    for t in response.topics {
        for p in t.partitions {
            let tp = (t.topic.0.to_string(), p.partition);
            match KafkaCode::check(p.error_code) {
                Ok(()) => out.push((tp, p.end_offset)),
                Err(code) if code.is_retriable() || code.needs_metadata_refresh() => {
                    refresh |= code.needs_metadata_refresh();
                }
                Err(code) => {
                    return Err(Error::Broker {
                        api: "OffsetForLeaderEpoch",
                        code,
                        context: Some(format!("{}-{}", tp.0, tp.1)),
                        message: None,
                    });
                }
            }
        }
    }
    if refresh {
        let names: Vec<&str> = checks.iter().map(|c| c.tp.0.as_str()).collect();
        let _ = shared.cluster.refresh_metadata(&names).await;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use crate::consumer::PartitionRecords;

    /// A partition at position 100 with records 100..120 buffered, fetched under leader
    /// epoch 4, now validated under epoch 5 with the leader's answer `end_offset`.
    fn settled(reset: &str, end_offset: i64) -> (Consumer, TopicPartition, u64) {
        let mut config = ClientConfig::new("127.0.0.1:1").expect("config");
        config
            .set("auto.offset.reset", reset)
            .expect("auto.offset.reset");
        let consumer = Consumer::idle(config);
        let tp = ("t".to_owned(), 0);
        consumer
            .add_partitions(&[(tp.clone(), Some(100))], false)
            .unwrap();
        let generation = {
            let mut state = consumer.shared.lock();
            let p = state.partitions.get_mut(&tp).unwrap();
            p.buffered.push_back(PartitionRecords {
                topic: "t".into(),
                partition: 0,
                batches: Vec::new(),
                from: 100,
                until: 120,
            });
            p.fetch_position = 120;
            p.fetched_under = 4;
            p.last_epoch = Some(4);
            p.validating = true;
            p.generation
        };
        let check = Check {
            tp: tp.clone(),
            generation,
            position: 120,
            last_epoch: 4,
            current_epoch: 5,
        };
        settle(
            &consumer.shared,
            vec![check],
            Ok(vec![(tp.clone(), end_offset)]),
        );
        (consumer, tp, generation)
    }

    #[tokio::test]
    async fn a_valid_position_fetches_on_under_the_new_epoch() {
        let (consumer, tp, generation) = settled("earliest", 120);
        let state = consumer.shared.lock();
        let p = &state.partitions[&tp];
        assert_eq!(
            (p.position, p.fetch_position, p.buffered.len()),
            (Some(100), 120, 1)
        );
        assert_eq!(
            (p.fetched_under, p.generation, p.validating),
            (5, generation, false)
        );
    }

    #[tokio::test]
    async fn a_truncation_continues_at_the_divergence_point() {
        // The leader's log of epoch 4 ends at 110: records 110..120 fetched here diverged.
        let (consumer, tp, generation) = settled("earliest", 110);
        let state = consumer.shared.lock();
        let p = &state.partitions[&tp];
        assert_eq!(
            (p.position, p.fetch_position, p.buffered.len()),
            (Some(100), 100, 0),
            "refetch from the position: 100..110 are the leader's, the rest comes anew"
        );
        assert_ne!(p.generation, generation, "fetches in flight are dropped");
        assert!(state.errors.is_empty());
        drop(state);
        // Below the position: the caller already saw diverged records, continue at 80.
        let (consumer, tp, _) = settled("latest", 80);
        let state = consumer.shared.lock();
        let p = &state.partitions[&tp];
        assert_eq!((p.position, p.fetch_position), (Some(80), 80));
    }

    #[tokio::test]
    async fn a_truncation_without_a_reset_policy_is_a_typed_error() {
        let (consumer, tp, _) = settled("none", 110);
        let mut state = consumer.shared.lock();
        match state.errors.pop_front() {
            Some(Error::LogTruncation {
                topic,
                partition,
                offset,
                end_offset,
            }) => assert_eq!(
                (topic.as_str(), partition, offset, end_offset),
                ("t", 0, 120, 110)
            ),
            other => panic!("expected LogTruncation, got {other:?}"),
        }
        let p = &state.partitions[&tp];
        assert_eq!(
            p.fetch_position, 120,
            "nothing moves until the caller seeks"
        );
        assert!(p.retry_at.is_some());
    }

    #[test]
    fn a_newer_leader_epoch_asks_for_validation_once_something_was_fetched() {
        assert!(needs_validation(4, Some(4), 5), "a new leader");
        assert!(!needs_validation(5, Some(4), 5), "same leader");
        assert!(
            !needs_validation(-1, Some(4), 5),
            "never fetched since the seek"
        );
        assert!(
            !needs_validation(4, None, 5),
            "no batch fetched: no epoch to ask for"
        );
        assert!(
            !needs_validation(4, Some(-1), 5),
            "batches without a leader epoch"
        );
        assert!(
            !needs_validation(4, Some(4), -1),
            "a broker without leader epochs"
        );
    }

    #[test]
    fn an_end_offset_below_the_position_is_a_truncation() {
        assert_eq!(verdict(100, 100, true), Validated::Valid);
        assert_eq!(verdict(100, 250, false), Validated::Valid);
        assert_eq!(
            verdict(100, -1, false),
            Validated::Valid,
            "epoch unknown to the leader"
        );
        assert_eq!(verdict(100, 80, true), Validated::Truncated(80));
        assert_eq!(verdict(100, 80, false), Validated::Fail { end_offset: 80 });
    }
}
