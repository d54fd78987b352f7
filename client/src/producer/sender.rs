//! The producer's sender task: drains ready batches, groups them by leader into Produce
//! requests, and settles each batch from the response: success, retry (back to the front of its
//! partition's queue after `retry.backoff.ms`, with a metadata refresh when the error asks for
//! one), or failure (non-retriable error, or `delivery.timeout.ms` passed).
//!
//! It is also where a transactional producer's coordinator requests run: the calls that need
//! one (`init_transactions`, `send_offsets_to_transaction`, the EndTxn of commit and abort,
//! `resume_transaction`) arrive on the command channel as a [`TxnCommand`] with its reply, and
//! each becomes a future ([`txn::perform`]) that the loop polls in the same `select!` as its
//! Produce responses, its wake-ups and its timer. A coordinator that answers slowly or asks
//! for retries therefore never holds Produce back; the answer goes back through the reply once
//! the future completes. The loop ends on `close` only once no such future is left.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use laminar_kafka_protocol::messages::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use laminar_kafka_protocol::messages::messages::{
    ApiKey, InitProducerIdRequest, ProduceRequest, TopicName, TransactionalId,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::Shared;
use super::accumulator::{ProducerBatch, Tp};
use super::idempotence::{ProducerIdentity, Stamp, stamp};
use super::state::{BatchAction, BatchRef, FailureCause, ProducerState, RoundAction};
use super::txn::{self, Reply, TxnCommand};
use crate::config::Acks;
use crate::error::{Error, Result};
use crate::kafka_error::KafkaCode;
use crate::log_targets;
use crate::stats::Throttled;

/// How one batch of a request ended.
enum Settled {
    Ok {
        base_offset: i64,
        log_append_time: Option<i64>,
    },
    Retry(Error),
    Fail(Error),
}

struct RequestResult {
    leader: i32,
    batches: Vec<(ProducerBatch, Settled)>,
}

/// A transactional call's coordinator exchange, answering its caller when it completes.
type TxnWork = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Polls every coordinator exchange under way; ready once at least one completed (and was
/// removed).
fn poll_txn_work(work: &mut Vec<TxnWork>, cx: &mut Context<'_>) -> Poll<()> {
    let before = work.len();
    work.retain_mut(|f| f.as_mut().poll(cx).is_pending());
    if work.len() < before {
        Poll::Ready(())
    } else {
        Poll::Pending
    }
}

pub(super) async fn run(
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<(TxnCommand, Reply)>,
) {
    let mut commands_open = true;
    // The transactional calls' coordinator exchanges under way (rarely more than one).
    let mut txn_work: Vec<TxnWork> = Vec::new();
    let mut requests: JoinSet<RequestResult> = JoinSet::new();
    let mut in_flight_per_leader: HashMap<i32, usize> = HashMap::new();
    // Per leader, the signal that the last request spawned for it is queued on its connection.
    let mut turns: HashMap<i32, oneshot::Receiver<()>> = HashMap::new();
    let mut held_back: Vec<ProducerBatch> = Vec::new();
    loop {
        let notified = shared.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();

        let config = shared.cluster.config();
        let closing = shared.closing.load(Ordering::Acquire);
        let force = closing || shared.flushing.load(Ordering::Acquire) > 0;
        let now = Instant::now();

        // Batches whose delivery timeout has passed while waiting.
        let expired = shared.acc().expire(now, config.producer.delivery_timeout);
        for b in expired {
            // Not in flight: its partition's in-flight flag is not ours to clear.
            tracing::debug!(
                target: log_targets::PRODUCER,
                topic = %b.tp.0,
                partition = b.tp.1,
                last_error = b.last_error.as_deref().unwrap_or("none"),
                "batch expired before it was sent (delivery.timeout.ms)"
            );
            release(&shared, &b);
            shared.with_state(|s| s.on_dropped(BatchRef::of(&b)));
            shared.stats.failed(b.record_count());
            let error = Error::DeliveryTimeout {
                topic: b.tp.0.to_string(),
                partition: b.tp.1,
                timeout: config.producer.delivery_timeout,
                last_error: b.last_error.clone(),
            };
            b.fail_with(error);
        }

        // A pending epoch bump, a producer id to ask for, a stopped producer.
        let has_records =
            shared.read_state(ProducerState::may_need_producer_id) && !shared.acc().is_empty();
        let mut round = shared.with_state(|s| s.on_round(has_records));
        if let RoundAction::InitProducerId = round {
            let answer = init_idempotent(&shared).await;
            round = shared.with_state(|s| s.on_producer_id(answer.as_ref().copied()));
        }
        let can_send = match round {
            RoundAction::Send => true,
            RoundAction::Wait | RoundAction::InitProducerId => false,
            RoundAction::FailUnsent(e) => {
                fail_unsent(&shared, &e);
                false
            }
        };

        // Metadata older than metadata.max.age.ms is refreshed here, off the send path.
        if !shared.cluster.metadata_is_fresh() {
            let topics = shared.acc().topic_names();
            let refs: Vec<&str> = topics.iter().map(|t| &**t).collect();
            let _ = shared.cluster.refresh_if_stale(&refs).await;
        }

        let (mut ready, mut next_due) = if can_send {
            shared.acc().drain_ready(now, config.producer.linger, force)
        } else {
            let soon = now + config.common.retry_backoff;
            (Vec::new(), Some(soon))
        };
        shared.give_back_released();
        // Batches held back from earlier rounds go first: they came before, partition by
        // partition.
        if !held_back.is_empty() {
            held_back.append(&mut ready);
            ready = std::mem::take(&mut held_back);
        }

        if let Some(txn) = shared.txn.as_ref().filter(|_| !ready.is_empty()) {
            let tps: Vec<Tp> = ready.iter().map(|b| b.tp.clone()).collect();
            // Under version 2 the Produce adds the partitions: none is missing.
            let missing = shared.with_state(|s| s.partitions_to_add(&tps));
            if let Err(e) = txn.add_partitions(&shared, &missing).await {
                let error = txn_failure(e.is_fatal(), &e);
                for b in ready.drain(..) {
                    // Not sent: batches stamped before (retries) give their sequences back.
                    finish_failed(&shared, b, Some(error.duplicate()));
                }
            }
        }

        if shared.idempotent && !ready.is_empty() {
            let transactional = shared.txn.is_some();
            let (stamped, waiting) =
                shared.with_state(|s| stamp_ready(|tp, n| s.assign(tp, n), ready, transactional));
            ready = stamped;
            if !waiting.is_empty() {
                let soon = now + config.common.retry_backoff;
                next_due = Some(next_due.map_or(soon, |n| n.min(soon)));
                // Back to their places; a completion (or the timer) brings them out again.
                let mut acc = shared.acc();
                for b in waiting {
                    acc.requeue(b);
                }
            }
        }

        // Group by leader; batches without a leader wait for fresh metadata.
        let mut by_leader: BTreeMap<i32, Vec<ProducerBatch>> = BTreeMap::new();
        let mut no_leader: Vec<String> = Vec::new();
        // One snapshot for the pass, released before any await (a refresh would otherwise have
        // to copy the cache this pass no longer needs).
        let metadata = shared.cluster.metadata();
        for batch in ready {
            let leader = metadata.leader(&batch.tp.0, batch.tp.1).map(|(l, _)| l);
            match leader {
                Some(l) => by_leader.entry(l).or_default().push(batch),
                None => {
                    tracing::debug!(
                        target: log_targets::PRODUCER,
                        topic = %batch.tp.0,
                        partition = batch.tp.1,
                        "no leader known: retrying the batch after a metadata refresh"
                    );
                    no_leader.push(batch.tp.0.to_string());
                    retry_later(&shared, batch, "no leader known".to_owned());
                }
            }
        }
        drop(metadata);
        if !no_leader.is_empty() {
            no_leader.sort();
            no_leader.dedup();
            let topics: Vec<&str> = no_leader.iter().map(String::as_str).collect();
            let _ = shared.cluster.refresh_metadata(&topics).await;
            let soon = Instant::now() + config.common.retry_backoff;
            next_due = Some(next_due.map_or(soon, |n| n.min(soon)));
        }

        for (leader, mut batches) in by_leader {
            while !batches.is_empty() {
                let in_flight = in_flight_per_leader.entry(leader).or_default();
                if *in_flight >= config.producer.max_in_flight_per_connection {
                    held_back.append(&mut batches);
                    break;
                }
                // Fill one request up to max.request.size (at least one batch), with one
                // batch per partition: a partition's next batch goes in the next request.
                let mut size = 0;
                let mut chunk = Vec::new();
                let mut rest = Vec::new();
                for b in batches.drain(..) {
                    let fits =
                        chunk.is_empty() || size + b.data.len() <= config.producer.max_request_size;
                    if fits
                        && rest.is_empty()
                        && !chunk.iter().any(|c: &ProducerBatch| c.tp == b.tp)
                    {
                        size += b.data.len();
                        chunk.push(b);
                    } else {
                        rest.push(b);
                    }
                }
                batches = rest;
                *in_flight += 1;
                shared.in_flight.fetch_add(1, Ordering::AcqRel);
                let (done, next) = oneshot::channel();
                let turn = Turn {
                    previous: turns.insert(leader, next),
                    done: Some(done),
                };
                requests.spawn(send_request(shared.clone(), leader, chunk, turn));
            }
        }

        if requests.is_empty() && held_back.is_empty() && shared.acc().is_empty() {
            shared.idle.notify_waiters();
            if closing && txn_work.is_empty() {
                return;
            }
        }

        let sleep = async {
            match next_due {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(done) = requests.join_next(), if !requests.is_empty() => {
                if let Ok(result) = done {
                    if let Some(n) = in_flight_per_leader.get_mut(&result.leader) {
                        *n = n.saturating_sub(1);
                    }
                    settle(&shared, result).await;
                    shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                }
            }
            () = std::future::poll_fn(|cx| poll_txn_work(&mut txn_work, cx)),
                if !txn_work.is_empty() => {}
            command = commands.recv(), if commands_open => match command {
                Some((command, reply)) => {
                    let shared = shared.clone();
                    txn_work.push(Box::pin(async move {
                        // The caller may have gone: the state changed all the same.
                        let _ = reply.send(txn::perform(shared, command).await);
                    }));
                }
                None => commands_open = false,
            },
            _ = &mut notified => {}
            _ = sleep => {}
        }
    }
}

/// Stamps the batches that have no stamp yet with the next sequences of their partitions.
/// A batch that already has one keeps it, whatever the current epoch: it may have been written
/// (a retry after a timeout or a cut connection), and only the same producer id, epoch and
/// sequence let the broker recognise it as a duplicate. Returns the batches to send and those
/// that must wait (their partition still has batches of an older epoch to resolve).
pub(super) fn stamp_ready(
    mut assign: impl FnMut(&Tp, i32) -> Option<Stamp>,
    ready: Vec<ProducerBatch>,
    transactional: bool,
) -> (Vec<ProducerBatch>, Vec<ProducerBatch>) {
    let mut send = Vec::with_capacity(ready.len());
    let mut waiting = Vec::new();
    for mut b in ready {
        if b.stamp.is_none() {
            match assign(&b.tp, b.record_count()) {
                Some(st) => {
                    b.data = stamp(std::mem::take(&mut b.data), st, transactional);
                    b.stamp = Some(st);
                }
                None => {
                    waiting.push(b);
                    continue;
                }
            }
        }
        send.push(b);
    }
    (send, waiting)
}

/// The error a record of a transactional producer gets for `cause`, keeping its Kafka code.
fn txn_failure(fatal: bool, cause: &Error) -> Error {
    let cause = FailureCause::of(cause);
    if fatal {
        cause.fatal()
    } else {
        cause.abortable()
    }
}

/// Fails every batch not yet sent with `error` (the producer stopped).
fn fail_unsent(shared: &Shared, error: &Error) {
    let unsent = shared.acc().take_unsent();
    shared.give_back_released();
    for b in unsent {
        release(shared, &b);
        shared.with_state(|s| s.on_dropped(BatchRef::of(&b)));
        shared.stats.failed(b.record_count());
        b.fail_with(error.duplicate());
    }
}

/// InitProducerId for an idempotent producer without a transactional id.
async fn init_idempotent(shared: &Shared) -> Result<ProducerIdentity> {
    let conn = shared.cluster.any_connection().await?;
    let version = conn
        .versions()
        .version(ApiKey::InitProducerId)
        .map_err(|source| Error::Protocol {
            broker: conn.broker().to_owned(),
            source,
        })?;
    let response = conn
        .send_at(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(-1),
            version,
        )
        .await?;
    match KafkaCode::check(response.error_code) {
        Ok(()) => Ok(ProducerIdentity {
            id: response.producer_id.0,
            epoch: response.producer_epoch,
        }),
        // CLUSTER_AUTHORIZATION_FAILED / TRANSACTIONAL_ID_AUTHORIZATION_FAILED: no way on.
        Err(code) if code.denies_producer_id() => Err(Error::ProducerFatal {
            message: format!("InitProducerId: {code}"),
            code: Some(code),
        }),
        Err(code) => Err(Error::Broker {
            api: "InitProducerId",
            code,
            context: None,
            message: None,
        }),
    }
}

fn release(shared: &Shared, batch: &ProducerBatch) {
    shared.memory.add_permits(batch.memory);
}

/// Fails a batch that was taken for sending: its memory, its partition's turn and its
/// sequences go back (a batch that may have been written asks for an epoch bump instead).
fn finish_failed(shared: &Shared, batch: ProducerBatch, error: Option<Error>) {
    shared.with_state(|s| s.on_dropped(BatchRef::of(&batch)));
    fail_settled(shared, batch, error);
}

/// Fails a batch taken for sending whose sequences the state already settled.
fn fail_settled(shared: &Shared, batch: ProducerBatch, error: Option<Error>) {
    release(shared, &batch);
    shared.acc().done(&batch.tp, batch.order);
    let error = error.unwrap_or_else(|| Error::DeliveryTimeout {
        topic: batch.tp.0.to_string(),
        partition: batch.tp.1,
        timeout: shared.cluster.config().producer.delivery_timeout,
        last_error: batch.last_error.clone(),
    });
    shared.stats.failed(batch.record_count());
    batch.fail_with(error);
}

fn retry_later(shared: &Shared, mut batch: ProducerBatch, reason: String) {
    let config = shared.cluster.config();
    if batch.created.elapsed() >= config.producer.delivery_timeout {
        batch.last_error = Some(reason);
        finish_failed(shared, batch, None);
        return;
    }
    batch.attempts += 1;
    shared.stats.retried(batch.record_count());
    batch.retry_at = Some(Instant::now() + config.common.retry_backoff);
    batch.last_error = Some(reason);
    shared.acc().requeue(batch);
}

async fn settle(shared: &Arc<Shared>, result: RequestResult) {
    let mut refresh: Vec<String> = Vec::new();
    for (mut batch, settled) in result.batches {
        let (error, retriable) = match settled {
            Settled::Ok {
                base_offset,
                log_append_time,
            } => {
                release(shared, &batch);
                shared.with_state(|s| s.on_acked(BatchRef::of(&batch)));
                shared.acc().done(&batch.tp, batch.order);
                shared.stats.acked(batch.record_count());
                batch.succeed(base_offset, log_append_time);
                continue;
            }
            Settled::Retry(e) => (e, true),
            Settled::Fail(e) => (e, false),
        };
        let earlier_unresolved = error.kafka_code()
            == Some(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            && shared.acc().has_earlier(&batch.tp, batch.order);
        let action = shared.with_state(|s| {
            s.on_failed(BatchRef::of(&batch), error, retriable, earlier_unresolved)
        });
        match action {
            BatchAction::Retry {
                error,
                restamp,
                maybe_written,
                refresh_metadata,
            } => {
                if refresh_metadata {
                    refresh.push(batch.tp.0.to_string());
                }
                if restamp {
                    batch.stamp = None;
                }
                batch.maybe_written = maybe_written;
                retry_later(shared, batch, error.to_string());
            }
            BatchAction::Split(error) => match batch.split() {
                (head, Some(tail)) => {
                    shared.with_state(|s| s.on_split(BatchRef::of(&head), 2));
                    let mut acc = shared.acc();
                    acc.requeue(tail);
                    acc.requeue(head);
                }
                (batch, None) => {
                    let error =
                        shared.with_state(|s| s.on_unsplittable(BatchRef::of(&batch), error));
                    fail_settled(shared, batch, Some(error));
                }
            },
            BatchAction::Fail(error) => fail_settled(shared, batch, Some(error)),
        }
    }
    if !refresh.is_empty() {
        refresh.sort();
        refresh.dedup();
        let topics: Vec<&str> = refresh.iter().map(String::as_str).collect();
        let _ = shared.cluster.refresh_metadata(&topics).await;
    }
    shared.wake.notify_one();
}

/// A request's turn on its leader's connection: it waits until the request spawned before it
/// for the same leader is queued, and lets the next one go once it is queued itself (or has
/// failed: dropping it does too). Several batches of a partition are in flight at once, so
/// they must reach the broker in the order they were stamped; tasks alone start in any order.
struct Turn {
    previous: Option<oneshot::Receiver<()>>,
    done: Option<oneshot::Sender<()>>,
}

impl Turn {
    async fn wait(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = previous.await;
        }
    }

    fn pass(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

async fn send_request(
    shared: Arc<Shared>,
    leader: i32,
    batches: Vec<ProducerBatch>,
    mut turn: Turn,
) -> RequestResult {
    match try_send(&shared, leader, &batches, &mut turn).await {
        Ok(outcomes) => {
            let mut by_tp: HashMap<Tp, Settled> = outcomes;
            let batches = batches
                .into_iter()
                .map(|b| {
                    let s = by_tp.remove(&b.tp).unwrap_or_else(|| {
                        Settled::Retry(Error::ConnectionClosed {
                            broker: format!("broker {leader}"),
                            reason: Some("the response did not mention the partition".to_owned()),
                        })
                    });
                    (b, s)
                })
                .collect();
            RequestResult { leader, batches }
        }
        Err(e) => {
            let retriable = e.is_retriable();
            let msg = e.to_string();
            let mut first = Some(e);
            let batches = batches
                .into_iter()
                .map(|b| {
                    let err = first.take().unwrap_or_else(|| Error::ConnectionClosed {
                        broker: format!("broker {leader}"),
                        reason: Some(msg.clone()),
                    });
                    let s = if retriable {
                        Settled::Retry(err)
                    } else {
                        Settled::Fail(err)
                    };
                    (b, s)
                })
                .collect();
            RequestResult { leader, batches }
        }
    }
}

async fn try_send(
    shared: &Arc<Shared>,
    leader: i32,
    batches: &[ProducerBatch],
    turn: &mut Turn,
) -> Result<HashMap<Tp, Settled>> {
    let config = shared.cluster.config();
    turn.wait().await;
    let conn = shared.cluster.connect_to_node(leader).await?;
    // A transactional producer without transaction version 2 must not send the Produce
    // versions that add partitions implicitly.
    let cap = match &shared.txn {
        Some(_) if !shared.read_state(|s| s.uses_v2()) => 11,
        _ => i16::MAX,
    };
    let version = conn
        .versions()
        .version_at_most(ApiKey::Produce, cap)
        .map_err(|source| Error::Protocol {
            broker: conn.broker().to_owned(),
            source,
        })?;
    let metadata = shared.cluster.metadata();
    let mut topics: BTreeMap<&str, (Uuid, Vec<PartitionProduceData>)> = BTreeMap::new();
    for b in batches {
        let id = metadata
            .known_topic(&b.tp.0)
            .map(|t| t.id)
            .unwrap_or_default();
        topics.entry(&b.tp.0).or_insert((id, Vec::new())).1.push(
            PartitionProduceData::default()
                .with_index(b.tp.1)
                .with_records(Some(b.data.clone())),
        );
    }
    drop(metadata); // not held while the request is in flight
    let names_by_id: HashMap<Uuid, &str> = topics.iter().map(|(n, (id, _))| (*id, *n)).collect();
    let request = ProduceRequest::default()
        .with_transactional_id(
            shared
                .txn
                .as_ref()
                .map(|t| TransactionalId(StrBytes::from_string(t.transactional_id.clone()))),
        )
        .with_acks(config.producer.acks.as_i16())
        .with_timeout_ms(
            config
                .common
                .request_timeout
                .as_millis()
                .min(i32::MAX as u128) as i32,
        )
        .with_topic_data(
            topics
                .into_iter()
                .map(|(name, (id, partitions))| {
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string(name.to_owned())))
                        .with_topic_id(id)
                        .with_partition_data(partitions)
                })
                .collect(),
        );
    shared.stats.request(
        batches
            .iter()
            .map(|b| (&b.tp.0, b.tp.1, b.record_count(), b.data.len())),
    );
    if config.producer.acks == Acks::None {
        conn.send_no_response(&request, version).await?;
        return Ok(batches
            .iter()
            .map(|b| {
                (
                    b.tp.clone(),
                    Settled::Ok {
                        base_offset: -1,
                        log_append_time: None,
                    },
                )
            })
            .collect());
    }
    // The request is queued on the connection by the first poll of its send (unless the
    // connection makes it wait): the next request to this leader may go after that.
    let send = conn.send_at(&request, version);
    tokio::pin!(send);
    let first = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
    turn.pass();
    let response = match first {
        Poll::Ready(response) => response?,
        Poll::Pending => send.await?,
    };
    conn.record_throttle(Throttled::Produce, response.throttle_time_ms);
    let mut out = HashMap::new();
    for t in response.responses {
        let name: Arc<str> = if version >= 13 {
            match names_by_id.get(&t.topic_id) {
                Some(n) => (*n).into(),
                None => continue,
            }
        } else {
            t.name.0.as_str().into()
        };
        for p in t.partition_responses {
            let tp: Tp = (name.clone(), p.index);
            let settled = match KafkaCode::check(p.error_code) {
                // DUPLICATE_SEQUENCE_NUMBER: written before; the offset is not known.
                Err(KafkaCode::DUPLICATE_SEQUENCE_NUMBER) => Settled::Ok {
                    base_offset: -1,
                    log_append_time: None,
                },
                Ok(()) => Settled::Ok {
                    base_offset: p.base_offset,
                    log_append_time: (p.log_append_time_ms >= 0).then_some(p.log_append_time_ms),
                },
                Err(code) => {
                    let mut message = p.error_message.as_ref().map(|m| m.to_string());
                    if message.is_none() {
                        message = p
                            .record_errors
                            .first()
                            .and_then(|e| e.batch_index_error_message.as_ref())
                            .map(|m| m.to_string());
                    }
                    let e = Error::Broker {
                        api: "Produce",
                        code,
                        context: Some(format!("{}-{}", tp.0, tp.1)),
                        message,
                    };
                    if code.is_retriable() {
                        Settled::Retry(e)
                    } else {
                        Settled::Fail(e)
                    }
                }
            };
            out.insert(tp, settled);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::accumulator::Accumulator;
    use super::super::idempotence::{Resolution, Sequences};
    use super::*;
    use laminar_kafka_protocol::record::{Compression, DecodeOptions, RecordBatch};
    use std::time::Duration;

    fn batch(acc: &mut Accumulator, partition: i32, records: usize) -> ProducerBatch {
        for i in 0..records {
            acc.append("t", partition, i as i64, None, Some(b"v"), &[], 1)
                .unwrap();
        }
        let (ready, _) = acc.drain_ready(Instant::now(), Duration::ZERO, true);
        let mut ready: Vec<_> = ready.into_iter().filter(|b| b.tp.1 == partition).collect();
        assert_eq!(ready.len(), 1);
        ready.remove(0)
    }

    fn header(b: &ProducerBatch) -> (i64, i16, i32) {
        let d = RecordBatch::decode(b.data.clone(), &DecodeOptions::default()).unwrap();
        (d.producer_id(), d.producer_epoch(), d.base_sequence())
    }

    /// The batch after stamping, and whether it must wait.
    fn one(seq: &mut Sequences, b: ProducerBatch) -> (ProducerBatch, bool) {
        let (mut send, mut waiting) = stamp_ready(|tp, n| seq.assign(tp, n), vec![b], false);
        match send.pop() {
            Some(b) => (b, false),
            None => (waiting.remove(0), true),
        }
    }

    #[test]
    fn a_batch_retried_after_an_unknown_outcome_keeps_its_epoch_across_a_bump() {
        let mut acc = Accumulator::new(Compression::None, 1 << 20);
        let mut seq = Sequences::default();
        seq.set_identity(ProducerIdentity { id: 5, epoch: 0 });
        let a = one(&mut seq, batch(&mut acc, 0, 3)).0;
        let b = one(&mut seq, batch(&mut acc, 1, 2)).0;
        assert_eq!((header(&a), header(&b)), ((5, 0, 0), (5, 0, 0)));
        // `a`'s connection was cut (queued for retry); `b` expired after it was sent: its
        // outcome is unknown, so the epoch is bumped.
        let mut a = a;
        a.maybe_written = true;
        acc.done(&b.tp, b.order);
        assert!(seq.resolve(&b.tp, b.stamp.unwrap(), Resolution::Unknown));
        let bumped = seq.bumped().unwrap();
        seq.set_identity(bumped);
        // The retry goes out exactly as it went before: if the broker wrote it, it answers
        // DUPLICATE_SEQUENCE_NUMBER instead of writing the records twice.
        let a = one(&mut seq, a).0;
        assert_eq!(header(&a), (5, 0, 0), "the retry keeps epoch 0, sequence 0");
        // `b`'s partition moves to the new epoch at once; `a`'s waits for `a`.
        let b2 = one(&mut seq, batch(&mut acc, 1, 1)).0;
        assert_eq!(header(&b2), (5, 1, 0));
        acc.done(&a.tp, a.order);
        let (a2, waits) = one(&mut seq, batch(&mut acc, 0, 1));
        assert!(waits, "waits for the old epoch's batch");
        assert!(a2.stamp.is_none());
        assert!(!seq.resolve(&a.tp, a.stamp.unwrap(), Resolution::Written));
        let a2 = one(&mut seq, a2).0;
        assert_eq!(header(&a2), (5, 1, 0));
    }
}
