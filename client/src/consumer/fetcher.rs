//! The consumer's background fetcher.
//!
//! One task per consumer. Each round it resolves pending seeks and resets (ListOffsets), then
//! sends one Fetch per leader broker for the partitions that have room (at most one response
//! buffered and one in flight per partition), and applies responses as they arrive. Batches are
//! CRC-checked and decompressed here ([`decode`](super::decode)), off the caller's path. A fetch
//! sent before a seek, or before its partition left and came back, is discarded when it returns
//! (generations). Requests rotate their partitions, go to the replica the leader names
//! ([`replica`](super::replica)), and run in a fetch session per broker
//! ([`session`](super::session)).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use laminar_kafka_protocol::messages::messages::fetch_request::{
    FetchPartition, FetchTopic, ForgottenTopic,
};
use laminar_kafka_protocol::messages::messages::{FetchRequest, TopicName};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use laminar_kafka_protocol::record::DecodeOptions;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::decode::{DecompressBudget, Outcome, partition_data};
use super::replica::{PreferredReplica, read_replica};
use super::session::{FetchSession, Plan, Wanted};
use super::{Consumer, PartitionWatermarks, Shared};
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::offsets::{OffsetSpec, TopicPartition, list_offsets};
use crate::stats::Throttled;
use std::sync::atomic::Ordering;

/// One partition to fetch from its leader or from the replica the leader named.
struct FetchTarget {
    tp: TopicPartition,
    offset: i64,
    generation: u64,
    leader: i32,
    leader_epoch: i32,
    topic_id: Uuid,
}

/// What a fetch response says of one partition.
struct PartitionOutcome {
    tp: TopicPartition,
    generation: u64,
    leader_epoch: i32,
    /// Sent to a follower rather than the leader.
    from_follower: bool,
    outcome: Outcome,
}

struct FetchResult {
    /// The broker the fetch went to.
    node: i32,
    outcomes: Vec<PartitionOutcome>,
    /// Partitions whose request failed as a whole (connection lost, …).
    failed: Option<(Vec<(TopicPartition, u64)>, Error)>,
    /// The fetch session with `node`, handed back for its next fetch.
    session: FetchSession,
}

pub(super) async fn run(shared: Arc<Shared>) {
    let mut in_flight: JoinSet<FetchResult> = JoinSet::new();
    let mut busy_leaders: Vec<i32> = Vec::new();
    // Per broker, the partition that came first in the last fetch request sent to it.
    let mut rotation: HashMap<i32, TopicPartition> = HashMap::new();
    // Per broker, the fetch session (KIP-227); out of the map while a fetch is in flight.
    let mut sessions: HashMap<i32, FetchSession> = HashMap::new();
    loop {
        let notified = shared.wake_fetcher.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if shared.lock().closed {
            return;
        }
        resolve_positions(&shared).await;
        super::validate::validate_positions(&shared).await;
        let next_wake = dispatch(
            &shared,
            &mut in_flight,
            &mut busy_leaders,
            &mut rotation,
            &mut sessions,
        )
        .await;
        let sleep = async {
            match next_wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(mut result) = done {
                    busy_leaders.retain(|l| *l != result.node);
                    sessions.insert(result.node, std::mem::take(&mut result.session));
                    apply(&shared, result).await;
                }
            }
            _ = &mut notified => {}
            _ = sleep => {}
        }
    }
}

/// Applies pending seeks by time and resets; partitions without any position get
/// `auto.offset.reset`.
async fn resolve_positions(shared: &Arc<Shared>) {
    let reset = Consumer::reset_policy(shared.cluster.config());
    let mut wanted: Vec<(TopicPartition, OffsetSpec, u64)> = Vec::new();
    {
        let mut state = shared.lock();
        let mut errors = Vec::new();
        for (tp, p) in state.partitions.iter_mut() {
            if p.retry_at.is_some_and(|t| t > tokio::time::Instant::now()) {
                continue;
            }
            let spec = match (p.pending, p.position) {
                (Some(spec), _) => spec,
                (None, Some(_)) => continue,
                (None, None) => match reset {
                    Some(spec) => {
                        p.pending = Some(spec);
                        spec
                    }
                    None => {
                        errors.push(Error::InvalidProperty {
                            name: "auto.offset.reset".to_owned(),
                            reason: format!(
                                "partition {}-{} has no position and auto.offset.reset is none",
                                tp.0, tp.1
                            ),
                        });
                        p.retry_at = Some(
                            tokio::time::Instant::now()
                                + shared.cluster.config().common.retry_backoff_max,
                        );
                        continue;
                    }
                },
            };
            wanted.push((tp.clone(), spec, p.generation));
        }
        let had_errors = !errors.is_empty();
        state.errors.extend(errors);
        if had_errors {
            shared.data_ready.notify_waiters();
        }
    }
    if wanted.is_empty() {
        return;
    }
    let isolation = shared.cluster.config().consumer.isolation_level;
    let query: Vec<(TopicPartition, OffsetSpec)> =
        wanted.iter().map(|(tp, s, _)| (tp.clone(), *s)).collect();
    let mut result = list_offsets(&shared.cluster, isolation, &query).await;
    // A timestamp with no record at or after it means "the end of the log".
    if let Ok(found) = &result {
        let missing: Vec<(TopicPartition, OffsetSpec)> = query
            .iter()
            .filter(|(tp, s)| {
                matches!(s, OffsetSpec::Timestamp(_)) && found.get(tp).is_none_or(|o| o.offset < 0)
            })
            .map(|(tp, _)| (tp.clone(), OffsetSpec::Latest))
            .collect();
        if !missing.is_empty() {
            match list_offsets(&shared.cluster, isolation, &missing).await {
                Ok(latest) => {
                    if let Ok(found) = result.as_mut() {
                        found.extend(latest);
                    }
                }
                Err(e) => result = Err(e),
            }
        }
    }
    let mut state = shared.lock();
    match result {
        Ok(found) => {
            for (tp, spec, generation) in wanted {
                let Some(p) = state.partitions.get_mut(&tp) else {
                    continue;
                };
                if p.generation != generation {
                    continue; // seeked again meanwhile
                }
                if let Some(o) = found.get(&tp).filter(|o| o.offset >= 0) {
                    tracing::debug!(
                        target: log_targets::CONSUMER,
                        topic = tp.0.as_str(),
                        partition = tp.1,
                        to = ?spec,
                        offset = o.offset,
                        "position set by offset lookup"
                    );
                    p.position = Some(o.offset);
                    p.fetch_position = o.offset;
                    p.pending = None;
                    p.buffered.clear();
                    p.fetched_under = -1;
                    p.last_epoch = None;
                }
            }
        }
        Err(e) => {
            let backoff = shared.cluster.config().common.retry_backoff;
            tracing::debug!(
                target: log_targets::CONSUMER,
                partitions = wanted.len(),
                error = %e,
                "offset lookup failed; retrying after the backoff"
            );
            for (tp, _, _) in &wanted {
                if let Some(p) = state.partitions.get_mut(tp) {
                    p.retry_at = Some(tokio::time::Instant::now() + backoff);
                }
            }
            state.errors.push_back(e);
            drop(state);
            shared.data_ready.notify_waiters();
        }
    }
}

/// Sends a fetch to every leader that has fetchable partitions and no fetch in flight.
/// Returns when the fetcher must look again even if nothing wakes it (a backoff ending).
async fn dispatch(
    shared: &Arc<Shared>,
    in_flight: &mut JoinSet<FetchResult>,
    busy_leaders: &mut Vec<i32>,
    rotation: &mut HashMap<i32, TopicPartition>,
    sessions: &mut HashMap<i32, FetchSession>,
) -> Option<tokio::time::Instant> {
    let now = tokio::time::Instant::now();
    let mut next_wake: Option<tokio::time::Instant> = None;
    #[allow(clippy::type_complexity)]
    let candidates: Vec<(TopicPartition, i64, u64, Option<PreferredReplica>)> = {
        let state = shared.lock();
        state
            .partitions
            .iter()
            .filter(|(_, p)| {
                if let Some(at) = p.retry_at.filter(|t| *t > now) {
                    next_wake = Some(next_wake.map_or(at, |w| w.min(at)));
                    return false;
                }
                !p.paused
                    && !p.validating
                    && p.pending.is_none()
                    && p.position.is_some()
                    && p.in_flight.is_none()
                    && p.buffered.len() < super::BUFFERED_PIECES
            })
            .map(|(tp, p)| {
                (
                    tp.clone(),
                    p.fetch_position,
                    p.generation,
                    p.preferred_replica,
                )
            })
            .collect()
    };
    if candidates.is_empty() {
        return next_wake;
    }
    let mut by_leader: BTreeMap<i32, Vec<FetchTarget>> = BTreeMap::new();
    for (tp, offset, generation, preferred) in candidates {
        let topic = match shared.cluster.topic(&tp.0).await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(
                    target: log_targets::CONSUMER,
                    topic = tp.0.as_str(),
                    error = %e,
                    "no metadata for a fetched topic"
                );
                let mut state = shared.lock();
                if let Some(p) = state.partitions.get_mut(&tp) {
                    p.retry_at = Some(now + shared.cluster.config().common.retry_backoff_max);
                }
                state.errors.push_back(e);
                drop(state);
                shared.data_ready.notify_waiters();
                continue;
            }
        };
        match topic.partition(tp.1) {
            Some(info) if info.leader >= 0 && validation_due(shared, &tp, info.leader_epoch) => {
                // The leader changed since the last fetch: validate first (next round).
                next_wake = Some(now);
            }
            Some(info) if info.leader >= 0 => {
                let node = read_replica(preferred.as_ref(), info, now);
                by_leader.entry(node).or_default().push(FetchTarget {
                    tp,
                    offset,
                    generation,
                    leader: info.leader,
                    leader_epoch: info.leader_epoch,
                    topic_id: topic.id,
                });
            }
            _ => {
                let _ = shared.cluster.refresh_metadata(&[tp.0.as_str()]).await;
                let mut state = shared.lock();
                if let Some(p) = state.partitions.get_mut(&tp) {
                    p.retry_at = Some(now + shared.cluster.config().common.retry_backoff);
                }
            }
        }
    }
    for (leader, mut parts) in by_leader {
        if busy_leaders.contains(&leader) {
            continue;
        }
        rotate_after(&mut parts, rotation.get(&leader));
        if let Some(first) = parts.first() {
            rotation.insert(leader, first.tp.clone());
        }
        {
            let mut state = shared.lock();
            for target in &parts {
                if let Some(p) = state.partitions.get_mut(&target.tp) {
                    p.in_flight = Some(target.generation);
                    if leader == target.leader {
                        p.preferred_replica = None; // expired, or its leader is gone
                    }
                }
            }
        }
        busy_leaders.push(leader);
        let session = sessions.remove(&leader).unwrap_or_default();
        in_flight.spawn(fetch_from(shared.clone(), leader, parts, session));
    }
    next_wake
}

/// Whether `tp` must have its position validated (KIP-320) before a fetch under `epoch`.
fn validation_due(shared: &Arc<Shared>, tp: &TopicPartition, epoch: i32) -> bool {
    let state = shared.lock();
    state
        .partitions
        .get(tp)
        .is_some_and(|p| super::validate::needs_validation(p.fetched_under, p.last_epoch, epoch))
}

/// Rotates `parts` (sorted by partition) to start after `last_first`, the partition that came
/// first in the previous request to the same broker. The broker fills a response in request
/// order up to `fetch.max.bytes`, and only the first partition with data may return a batch
/// larger than `max.partition.fetch.bytes`: without rotation a backlog on the first partition
/// starves the others, and a large batch behind it stays partial forever (Java and librdkafka
/// rotate too).
fn rotate_after(parts: &mut [FetchTarget], last_first: Option<&TopicPartition>) {
    let Some(last) = last_first else { return };
    let start = parts.partition_point(|t| t.tp <= *last);
    if start < parts.len() {
        parts.rotate_left(start);
    }
}

/// The topics of a fetch request, in the order of `parts` (a topic's partitions together,
/// where its first partition stands).
fn request_topics(parts: &[&FetchTarget], partition_max_bytes: i32) -> Vec<FetchTopic> {
    let mut topics: Vec<FetchTopic> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for t in parts {
        let partition = FetchPartition::default()
            .with_partition(t.tp.1)
            .with_current_leader_epoch(t.leader_epoch)
            .with_fetch_offset(t.offset)
            .with_partition_max_bytes(partition_max_bytes);
        match names.iter().position(|n| *n == t.tp.0) {
            Some(i) => topics[i].partitions.push(partition),
            None => {
                names.push(t.tp.0.as_str());
                topics.push(
                    FetchTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(t.tp.0.clone())))
                        .with_topic_id(t.topic_id)
                        .with_partitions(vec![partition]),
                );
            }
        }
    }
    topics
}

async fn fetch_from(
    shared: Arc<Shared>,
    node: i32,
    parts: Vec<FetchTarget>,
    mut session: FetchSession,
) -> FetchResult {
    match fetch_once(&shared, node, &parts, &mut session).await {
        Ok(outcomes) => FetchResult {
            node,
            outcomes,
            failed: None,
            session,
        },
        Err(e) => {
            session.close();
            FetchResult {
                node,
                outcomes: Vec::new(),
                failed: Some((
                    parts.iter().map(|t| (t.tp.clone(), t.generation)).collect(),
                    e,
                )),
                session,
            }
        }
    }
}

/// The forgotten partitions of a session fetch, by topic.
fn forgotten_topics(plan: &Plan) -> Vec<ForgottenTopic> {
    let mut topics: Vec<ForgottenTopic> = Vec::new();
    for ((topic, partition), id) in &plan.forget {
        match topics
            .iter_mut()
            .find(|t| t.topic_id == *id && t.topic.0.as_str() == topic.as_str())
        {
            Some(t) => t.partitions.push(*partition),
            None => topics.push(
                ForgottenTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                    .with_topic_id(*id)
                    .with_partitions(vec![*partition]),
            ),
        }
    }
    topics
}

async fn fetch_once(
    shared: &Arc<Shared>,
    leader: i32,
    parts: &[FetchTarget],
    session: &mut FetchSession,
) -> Result<Vec<PartitionOutcome>> {
    let config = shared.cluster.config();
    let conn = shared.cluster.connect_to_node(leader).await?;
    let version = conn
        .versions()
        .version_for::<FetchRequest>()
        .map_err(|source| Error::Protocol {
            broker: conn.broker().to_owned(),
            source,
        })?;
    let use_ids = version >= 13;
    let wanted: Vec<Wanted<'_>> = parts
        .iter()
        .map(|t| Wanted {
            tp: &t.tp,
            topic_id: t.topic_id,
            offset: t.offset,
            leader_epoch: t.leader_epoch,
        })
        .collect();
    let plan = session.plan(&wanted, version >= 7);
    let to_send: Vec<&FetchTarget> = plan.send.iter().map(|&i| &parts[i]).collect();
    let mut request = FetchRequest::default()
        .with_max_wait_ms(config.consumer.fetch_max_wait.as_millis() as i32)
        .with_min_bytes(config.consumer.fetch_min_bytes)
        .with_max_bytes(config.consumer.fetch_max_bytes)
        .with_isolation_level(config.consumer.isolation_level.as_i8())
        .with_rack_id(StrBytes::from_string(
            config.common.client_rack.clone().unwrap_or_default(),
        ))
        .with_topics(request_topics(
            &to_send,
            config.consumer.max_partition_fetch_bytes,
        ));
    if version >= 7 {
        request = request
            .with_session_id(plan.session_id)
            .with_session_epoch(plan.session_epoch)
            .with_forgotten_topics_data(forgotten_topics(&plan));
    }
    let response = conn.send_at(&request, version).await?;
    conn.record_throttle(Throttled::Fetch, response.throttle_time_ms);
    if let Some(code) = KafkaCode::from_code(response.error_code) {
        tracing::debug!(
            target: log_targets::CONSUMER,
            broker = leader,
            code = %code,
            "fetch failed as a whole; the fetch session is closed"
        );
        session.close();
        if code.invalidates_fetch_session() {
            // The broker lost or refused the session: the next fetch is a full one, at once.
            return Ok(unchanged(parts, leader));
        }
        return Err(Error::Broker {
            api: "Fetch",
            code,
            context: Some(format!("broker {leader}")),
            message: None,
        });
    }
    session.answered(&plan, &wanted, response.session_id);
    let names_by_id: HashMap<Uuid, &str> = parts
        .iter()
        .map(|t| (t.topic_id, t.tp.0.as_str()))
        .collect();
    let decode = DecodeOptions::default().with_verify_crc(config.consumer.check_crcs);
    let read_committed =
        config.consumer.isolation_level == crate::config::IsolationLevel::ReadCommitted;
    let mut budget =
        DecompressBudget::new(DecompressBudget::limit_for(config.consumer.fetch_max_bytes));
    let mut outcomes = Vec::new();
    for t in response.responses {
        let name: String = if use_ids {
            match names_by_id.get(&t.topic_id) {
                Some(n) => (*n).to_owned(),
                None => continue,
            }
        } else {
            t.topic.0.to_string()
        };
        for pd in t.partitions {
            let tp = (name.clone(), pd.partition_index);
            let Some(target) = parts.iter().find(|t| t.tp == tp) else {
                continue;
            };
            let offset = &target.offset;
            if let Some(records) = &pd.records {
                shared
                    .stats
                    .bytes_consumed
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
            }
            let aborted: Option<Vec<(i64, i64)>> = read_committed.then(|| {
                pd.aborted_transactions
                    .iter()
                    .flatten()
                    .map(|a| (a.first_offset, a.producer_id.0))
                    .collect()
            });
            let outcome = match KafkaCode::check(pd.error_code) {
                Ok(()) => partition_data(
                    &tp,
                    *offset,
                    pd.records.unwrap_or_default(),
                    decode,
                    PartitionWatermarks {
                        high_watermark: pd.high_watermark,
                        last_stable_offset: pd.last_stable_offset,
                        log_start_offset: pd.log_start_offset,
                    },
                    aborted,
                    pd.preferred_read_replica.0,
                    &mut budget,
                ),
                Err(KafkaCode::OFFSET_OUT_OF_RANGE) => Outcome::OutOfRange,
                Err(code) => {
                    let e = Error::Broker {
                        api: "Fetch",
                        code,
                        context: Some(format!("{}-{}", tp.0, tp.1)),
                        message: None,
                    };
                    tracing::debug!(
                        target: log_targets::CONSUMER,
                        topic = tp.0.as_str(),
                        partition = tp.1,
                        broker = leader,
                        code = %code,
                        "fetch error for a partition"
                    );
                    if code.is_retriable() || code.needs_metadata_refresh() {
                        Outcome::Retry
                    } else {
                        Outcome::Fail(e)
                    }
                }
            };
            outcomes.push(PartitionOutcome {
                tp,
                generation: target.generation,
                leader_epoch: target.leader_epoch,
                from_follower: target.leader != leader,
                outcome,
            });
        }
    }
    if outcomes.len() < parts.len() {
        for t in parts {
            if !outcomes.iter().any(|o| o.tp == t.tp) {
                outcomes.push(unchanged_one(t, leader));
            }
        }
    }
    Ok(outcomes)
}

fn unchanged_one(t: &FetchTarget, node: i32) -> PartitionOutcome {
    PartitionOutcome {
        tp: t.tp.clone(),
        generation: t.generation,
        leader_epoch: t.leader_epoch,
        from_follower: t.leader != node,
        outcome: Outcome::Unchanged,
    }
}

/// Every partition of a fetch that brought nothing.
fn unchanged(parts: &[FetchTarget], node: i32) -> Vec<PartitionOutcome> {
    parts.iter().map(|t| unchanged_one(t, node)).collect()
}

async fn apply(shared: &Arc<Shared>, result: FetchResult) {
    let backoff = shared.cluster.config().common.retry_backoff;
    let metadata_max_age = shared.cluster.config().common.metadata_max_age;
    let mut refresh: Vec<String> = Vec::new();
    let mut data = false;
    {
        let mut state = shared.lock();
        if let Some((parts, e)) = result.failed {
            tracing::debug!(
                target: log_targets::CONSUMER,
                broker = result.node,
                partitions = parts.len(),
                error = %e,
                retriable = e.is_retriable(),
                "fetch failed; retrying after the backoff"
            );
            for (tp, generation) in &parts {
                if let Some(p) = state.partitions.get_mut(tp) {
                    if p.in_flight == Some(*generation) {
                        p.in_flight = None;
                    }
                    if p.generation == *generation {
                        p.retry_at = Some(tokio::time::Instant::now() + backoff);
                        p.preferred_replica = None; // back to the leader
                    }
                }
                refresh.push(tp.0.clone());
            }
            // Connection trouble is retried quietly; anything else is the caller's to see.
            if !e.is_retriable() {
                state.errors.push_back(e);
                data = true;
            }
        }
        for PartitionOutcome {
            tp,
            generation,
            leader_epoch,
            from_follower,
            outcome,
        } in result.outcomes
        {
            let Some(p) = state.partitions.get_mut(&tp) else {
                continue;
            };
            if p.in_flight == Some(generation) {
                p.in_flight = None;
            }
            if p.generation != generation {
                continue; // sent before a seek, or before the partition left and came back
            }
            match outcome {
                Outcome::Data {
                    records,
                    next_fetch,
                    watermarks,
                    preferred_read_replica,
                    last_epoch,
                } => {
                    p.fetched_under = leader_epoch;
                    if last_epoch.is_some() {
                        p.last_epoch = last_epoch;
                    }
                    if let Some(named) = PreferredReplica::named(
                        preferred_read_replica,
                        leader_epoch,
                        metadata_max_age,
                        tokio::time::Instant::now(),
                    ) {
                        p.preferred_replica = Some(named);
                    }
                    p.watermarks = Some(watermarks);
                    p.fetch_position = next_fetch;
                    if let Some(r) = records {
                        p.buffered.push_back(r);
                        data = true;
                    }
                }
                // A follower may not have the offset yet: ask the leader before resetting
                // (as the Java client does).
                Outcome::OutOfRange if from_follower => {
                    p.preferred_replica = None;
                }
                Outcome::OutOfRange => match Consumer::reset_policy(shared.cluster.config()) {
                    Some(spec) => {
                        tracing::info!(
                            target: log_targets::CONSUMER,
                            topic = tp.0.as_str(),
                            partition = tp.1,
                            offset = p.fetch_position,
                            reset_to = ?spec,
                            "offset out of range; resetting by auto.offset.reset"
                        );
                        p.pending = Some(spec);
                    }
                    None => {
                        p.retry_at = Some(tokio::time::Instant::now() + backoff);
                        let position = p.fetch_position;
                        tracing::info!(
                            target: log_targets::CONSUMER,
                            topic = tp.0.as_str(),
                            partition = tp.1,
                            offset = position,
                            "offset out of range and auto.offset.reset is none"
                        );
                        state.errors.push_back(Error::Broker {
                            api: "Fetch",
                            code: KafkaCode::OFFSET_OUT_OF_RANGE,
                            context: Some(format!(
                                "{}-{} at offset {position} (auto.offset.reset is none)",
                                tp.0, tp.1
                            )),
                            message: None,
                        });
                        data = true;
                    }
                },
                Outcome::Retry => {
                    tracing::debug!(
                        target: log_targets::CONSUMER,
                        topic = tp.0.as_str(),
                        partition = tp.1,
                        retry_in_ms = backoff.as_millis() as u64,
                        "fetch retried after a metadata refresh"
                    );
                    p.retry_at = Some(tokio::time::Instant::now() + backoff);
                    p.preferred_replica = None;
                    refresh.push(tp.0.clone());
                }
                Outcome::Unchanged => {}
                Outcome::Fail(e) => {
                    p.preferred_replica = None;
                    p.retry_at = Some(
                        tokio::time::Instant::now()
                            + shared.cluster.config().common.retry_backoff_max,
                    );
                    state.errors.push_back(e);
                    data = true;
                }
            }
        }
    }
    if data {
        shared.data_ready.notify_waiters();
    }
    if !refresh.is_empty() {
        refresh.sort();
        refresh.dedup();
        let topics: Vec<&str> = refresh.iter().map(String::as_str).collect();
        let _ = shared.cluster.refresh_metadata(&topics).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use crate::consumer::{PartitionRecords, SeekTo};

    fn test_consumer() -> Consumer {
        Consumer::idle(ClientConfig::new("127.0.0.1:1").expect("config"))
    }

    fn records(tp: &TopicPartition, from: i64, until: i64) -> PartitionRecords {
        PartitionRecords {
            topic: tp.0.as_str().into(),
            partition: tp.1,
            batches: Vec::new(),
            from,
            until,
        }
    }

    /// What the fetcher's dispatch does for one partition: marks its fetch in flight and
    /// returns the generation the fetch carries.
    fn send_fetch(consumer: &Consumer, tp: &TopicPartition) -> u64 {
        let mut state = consumer.shared.lock();
        let p = state.partitions.get_mut(tp).expect("assigned");
        p.in_flight = Some(p.generation);
        p.generation
    }

    fn data(tp: &TopicPartition, generation: u64, from: i64, until: i64) -> FetchResult {
        FetchResult {
            node: 1,
            outcomes: vec![PartitionOutcome {
                tp: tp.clone(),
                generation,
                leader_epoch: 0,
                from_follower: false,
                outcome: Outcome::Data {
                    records: Some(records(tp, from, until)),
                    next_fetch: until,
                    watermarks: PartitionWatermarks::default(),
                    preferred_read_replica: -1,
                    last_epoch: None,
                },
            }],
            failed: None,
            session: FetchSession::default(),
        }
    }

    fn target(topic: &str, partition: i32) -> FetchTarget {
        FetchTarget {
            tp: (topic.to_owned(), partition),
            offset: 0,
            generation: 1,
            leader: 1,
            leader_epoch: 0,
            topic_id: Uuid::nil(),
        }
    }

    fn order(parts: &[FetchTarget]) -> Vec<(String, i32)> {
        parts.iter().map(|t| t.tp.clone()).collect()
    }

    #[test]
    fn every_partition_comes_first_in_turn() {
        let all = || vec![target("a", 0), target("a", 1), target("b", 0)];
        let mut last: Option<TopicPartition> = None;
        let mut firsts = Vec::new();
        for _ in 0..4 {
            let mut parts = all();
            rotate_after(&mut parts, last.as_ref());
            last = Some(parts[0].tp.clone());
            firsts.push(parts[0].tp.clone());
            assert_eq!(parts.len(), 3);
        }
        let tp = |t: &str, p| (t.to_owned(), p);
        assert_eq!(firsts, vec![tp("a", 0), tp("a", 1), tp("b", 0), tp("a", 0)]);
        // A partition missing from this request (its buffer is full) does not stop the turn.
        let mut parts = vec![target("a", 0), target("b", 0)];
        rotate_after(&mut parts, Some(&tp("a", 0)));
        assert_eq!(order(&parts), vec![tp("b", 0), tp("a", 0)]);
    }

    #[test]
    fn request_topics_keep_the_rotated_order() {
        let mut parts = vec![target("a", 0), target("a", 1), target("b", 0)];
        rotate_after(&mut parts, Some(&("a".to_owned(), 0)));
        let refs: Vec<&FetchTarget> = parts.iter().collect();
        let topics = request_topics(&refs, 100);
        let listed: Vec<(String, Vec<i32>)> = topics
            .iter()
            .map(|t| {
                (
                    t.topic.0.to_string(),
                    t.partitions.iter().map(|p| p.partition).collect(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            vec![("a".to_owned(), vec![1, 0]), ("b".to_owned(), vec![0])]
        );
        assert!(
            topics[0]
                .partitions
                .iter()
                .all(|p| p.partition_max_bytes == 100)
        );
    }

    #[tokio::test]
    async fn a_fetch_from_before_a_rebalance_is_dropped_when_the_partition_comes_back() {
        let consumer = test_consumer();
        let tp = ("t".to_owned(), 0);
        // Owned at position 10; a fetch from 10 goes out.
        consumer
            .add_partitions(&[(tp.clone(), Some(10))], false)
            .unwrap();
        let old = send_fetch(&consumer, &tp);
        // A rebalance takes the partition away and gives it back, committed at 5.
        consumer.remove_partitions(std::slice::from_ref(&tp));
        consumer
            .add_partitions(&[(tp.clone(), Some(5))], false)
            .unwrap();
        // The old fetch (records 10..20) lands now.
        apply(&consumer.shared, data(&tp, old, 10, 20)).await;
        {
            let state = consumer.shared.lock();
            let p = &state.partitions[&tp];
            assert_eq!(
                p.position,
                Some(5),
                "the committed offset stays the position"
            );
            assert_eq!(
                p.fetch_position, 5,
                "the next fetch starts at the committed offset"
            );
            assert!(p.buffered.is_empty(), "records 10..20 are not returned");
        }
        // A fetch of the new assignment is applied as usual.
        let new = send_fetch(&consumer, &tp);
        assert_ne!(new, old);
        apply(&consumer.shared, data(&tp, new, 5, 8)).await;
        let state = consumer.shared.lock();
        let p = &state.partitions[&tp];
        assert_eq!(
            (p.fetch_position, p.buffered.len(), p.in_flight),
            (8, 1, None)
        );
    }

    fn outcome(tp: &TopicPartition, generation: u64, node: i32, outcome: Outcome) -> FetchResult {
        FetchResult {
            node,
            outcomes: vec![PartitionOutcome {
                tp: tp.clone(),
                generation,
                leader_epoch: 4,
                from_follower: node != 1,
                outcome,
            }],
            failed: None,
            session: FetchSession::default(),
        }
    }

    fn empty_data(at: i64, preferred_read_replica: i32) -> Outcome {
        Outcome::Data {
            records: None,
            next_fetch: at,
            watermarks: PartitionWatermarks::default(),
            preferred_read_replica,
            last_epoch: None,
        }
    }

    fn preferred(consumer: &Consumer, tp: &TopicPartition) -> Option<i32> {
        consumer.shared.lock().partitions[tp]
            .preferred_replica
            .map(|r| r.node)
    }

    #[tokio::test]
    async fn the_replica_the_leader_names_is_kept_until_a_fetch_from_it_fails() {
        let consumer = test_consumer();
        let tp = ("t".to_owned(), 0);
        consumer
            .add_partitions(&[(tp.clone(), Some(10))], false)
            .unwrap();
        // The leader (1) answers with no records and names replica 2.
        let g = send_fetch(&consumer, &tp);
        apply(&consumer.shared, outcome(&tp, g, 1, empty_data(10, 2))).await;
        assert_eq!(preferred(&consumer, &tp), Some(2));
        {
            let state = consumer.shared.lock();
            let p = &state.partitions[&tp];
            let r = p.preferred_replica.expect("named");
            assert_eq!(r.leader_epoch, 4, "tied to the leader epoch of the fetch");
            let info = crate::metadata::PartitionInfo {
                partition: 0,
                leader: 1,
                leader_epoch: 4,
                replicas: vec![1, 2],
                isr: vec![1, 2],
                offline_replicas: Vec::new(),
                error: None,
            };
            assert_eq!(
                read_replica(
                    p.preferred_replica.as_ref(),
                    &info,
                    tokio::time::Instant::now()
                ),
                2,
                "the next fetch goes to replica 2"
            );
        }
        // Replica 2 answers with data and names nobody: the choice holds.
        let g = send_fetch(&consumer, &tp);
        apply(&consumer.shared, outcome(&tp, g, 2, empty_data(15, -1))).await;
        assert_eq!(preferred(&consumer, &tp), Some(2));
        // Replica 2 is behind: OFFSET_OUT_OF_RANGE goes back to the leader, no reset.
        let g = send_fetch(&consumer, &tp);
        apply(&consumer.shared, outcome(&tp, g, 2, Outcome::OutOfRange)).await;
        {
            let state = consumer.shared.lock();
            let p = &state.partitions[&tp];
            assert_eq!(p.preferred_replica, None);
            assert_eq!(p.pending, None, "the position is not reset");
            assert_eq!(p.fetch_position, 15);
        }
        // Named again, then a fetch from it fails with an error: back to the leader.
        let g = send_fetch(&consumer, &tp);
        apply(&consumer.shared, outcome(&tp, g, 1, empty_data(15, 2))).await;
        assert_eq!(preferred(&consumer, &tp), Some(2));
        let g = send_fetch(&consumer, &tp);
        let fail = Outcome::Fail(Error::UnknownBroker { node_id: 2 });
        apply(&consumer.shared, outcome(&tp, g, 2, fail)).await;
        assert_eq!(preferred(&consumer, &tp), None);
    }

    #[tokio::test]
    async fn a_fetch_from_before_a_seek_is_dropped_and_frees_the_partition() {
        let consumer = test_consumer();
        let tp = ("t".to_owned(), 0);
        consumer
            .add_partitions(&[(tp.clone(), Some(10))], false)
            .unwrap();
        let old = send_fetch(&consumer, &tp);
        consumer.seek(&tp, SeekTo::Offset(3)).unwrap();
        apply(&consumer.shared, data(&tp, old, 10, 20)).await;
        let state = consumer.shared.lock();
        let p = &state.partitions[&tp];
        assert_eq!((p.position, p.fetch_position), (Some(3), 3));
        assert!(p.buffered.is_empty());
        assert_eq!(p.in_flight, None, "the next fetch may go out");
    }
}
