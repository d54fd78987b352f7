//! laminar-kafka-client's side of the benchmark: produce and consume the workload.
//!
//! Runs inside a child process of the harness so that its CPU time is measured alone.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::group::{GroupConsumer, Subscription};
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::producer::{DeliveryFuture, Producer, ProducerRecord};

/// The consumer a run measures: assigned partitions, or a group member.
enum Either {
    Assigned(Consumer),
    Group(GroupConsumer),
}

use super::ChildReport;
use crate::workload::{Codec, Workload};

/// Delivery futures kept before the oldest is awaited. Larger than what `buffer.memory` lets
/// queue (32 MiB of ~120-byte records is ~280,000), so `send` back-pressure, not this window,
/// is what paces the loop.
const WINDOW: usize = 1_000_000;

/// A consumer that gets nothing for this long gives up.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

fn config(
    bootstrap: &str,
    props: Vec<(String, String)>,
    extra: &[(String, String)],
) -> Result<ClientConfig> {
    let mut all = vec![("bootstrap.servers".to_owned(), bootstrap.to_owned())];
    all.extend(props);
    all.extend(extra.iter().cloned());
    ClientConfig::from_properties(all).context("client configuration")
}

/// Produces `workload.records` unkeyed records to `topic` and waits for every acknowledgement.
pub(crate) async fn produce(
    bootstrap: &str,
    topic: &str,
    codec: Codec,
    workload: &Workload,
    extra: &[(String, String)],
) -> Result<ChildReport> {
    let producer = Producer::new(config(
        bootstrap,
        workload.java_producer_properties(codec),
        extra,
    )?)?;
    let value = Bytes::from(workload.payload());
    let topic = topic.to_owned();
    let mut pending: VecDeque<DeliveryFuture> =
        VecDeque::with_capacity(WINDOW.min(workload.records as usize));
    let mut acked = 0u64;
    let start = Instant::now();
    for _ in 0..workload.records {
        let delivery = producer
            .send(ProducerRecord::new(topic.clone(), value.clone()))
            .await
            .context("send")?;
        pending.push_back(delivery);
        if pending.len() >= WINDOW {
            if let Some(oldest) = pending.pop_front() {
                oldest.await.context("delivery")?;
                acked += 1;
            }
        }
    }
    while let Some(d) = pending.pop_front() {
        d.await.context("delivery")?;
        acked += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    producer.close().await.context("close")?;
    Ok(ChildReport {
        records: acked,
        bytes: acked * workload.record_size as u64,
        seconds,
    })
}

/// Reads `workload.records` records of `topic` from the beginning of every partition.
pub(crate) async fn consume(
    bootstrap: &str,
    topic: &str,
    workload: &Workload,
    extra: &[(String, String)],
    group: bool,
) -> Result<ChildReport> {
    let mut props = workload.java_consumer_properties();
    if group {
        props.push((
            "group.id".to_owned(),
            format!("{topic}-ours-{}", std::process::id()),
        ));
        props.push(("auto.offset.reset".to_owned(), "earliest".to_owned()));
        props.push(("enable.auto.commit".to_owned(), "false".to_owned()));
    }
    let config = config(bootstrap, props, extra)?;
    let start = Instant::now();
    let consumer = if group {
        // A member of a fresh group: the join and assignment count in the time.
        let member = GroupConsumer::new(config)?;
        member.subscribe(Subscription::topics([topic]))?;
        Either::Group(member)
    } else {
        let consumer = Consumer::new(config)?;
        let partitions: Vec<(String, i32)> = (0..workload.partitions)
            .map(|p| (topic.to_owned(), p))
            .collect();
        consumer.assign(&partitions)?;
        for tp in &partitions {
            consumer.seek(tp, SeekTo::Earliest)?;
        }
        Either::Assigned(consumer)
    };
    let mut records = 0u64;
    let mut bytes = 0u64;
    let mut last_data = Instant::now();
    while records < workload.records {
        let polled = match &consumer {
            Either::Assigned(c) => c.poll(Duration::from_secs(1)).await?,
            Either::Group(g) => g.poll(Duration::from_secs(1)).await?,
        };
        if polled.is_empty() {
            if last_data.elapsed() > IDLE_LIMIT {
                bail!(
                    "only {records} of {} records after {IDLE_LIMIT:?} without data",
                    workload.records
                );
            }
            continue;
        }
        last_data = Instant::now();
        for record in polled.iter() {
            let record = record.context("record")?;
            records += 1;
            bytes += record.value().map_or(0, |v| v.len() as u64);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    match consumer {
        Either::Assigned(c) => c.close().await,
        Either::Group(g) => g.close().await,
    }
    if records != workload.records {
        bail!("read {records} records, expected {}", workload.records);
    }
    Ok(ChildReport {
        records,
        bytes,
        seconds,
    })
}
