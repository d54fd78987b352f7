//! librdkafka's side of the benchmark, through the `rdkafka` crate's lowest-overhead API:
//! `BaseProducer` with a delivery callback that counts acknowledgements (no future per record),
//! and `BaseConsumer` with a manual assignment (no group).
//!
//! Runs inside a child process of the harness so that its CPU time is measured alone.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::ChildReport;
use crate::workload::{Codec, Workload};

/// Serve delivery callbacks after this many sends, so the acknowledgement queue stays short.
const POLL_EVERY: u64 = 1024;
/// A consumer that gets nothing for this long gives up.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// Counts acknowledged and failed records.
#[derive(Default)]
struct Deliveries {
    acked: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
                if first.is_none() {
                    *first = Some(e.to_string());
                }
            }
        }
    }
}

fn config(
    bootstrap: &str,
    props: Vec<(String, String)>,
    extra: &[(String, String)],
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    for (k, v) in props.into_iter().chain(extra.iter().cloned()) {
        c.set(k, v);
    }
    c
}

/// Produces `workload.records` unkeyed records to `topic` and waits for every acknowledgement.
pub(crate) fn produce(
    bootstrap: &str,
    topic: &str,
    codec: Codec,
    workload: &Workload,
    extra: &[(String, String)],
) -> Result<ChildReport> {
    let producer: BaseProducer<Deliveries> = config(
        bootstrap,
        workload.librdkafka_producer_properties(codec),
        extra,
    )
    .create_with_context(Deliveries::default())
    .context("librdkafka producer")?;
    let value = workload.payload();
    let start = Instant::now();
    for i in 0..workload.records {
        let mut record = BaseRecord::<'_, (), [u8]>::to(topic).payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The queue is full (queue.buffering.max.kbytes): wait for acknowledgements.
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => bail!("send: {e}"),
            }
        }
        if i % POLL_EVERY == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300)).context("flush")?;
    let seconds = start.elapsed().as_secs_f64();
    let context = producer.context();
    let acked = context.acked.load(Ordering::Relaxed);
    let failed = context.failed.load(Ordering::Relaxed);
    if failed > 0 || acked != workload.records {
        let first = context
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        bail!(
            "{acked} of {} records acknowledged, {failed} failed (first error: {})",
            workload.records,
            first.as_deref().unwrap_or("none")
        );
    }
    Ok(ChildReport {
        records: acked,
        bytes: acked * workload.record_size as u64,
        seconds,
    })
}

/// Reads `workload.records` records of `topic` from the beginning of every partition.
pub(crate) fn consume(
    bootstrap: &str,
    topic: &str,
    workload: &Workload,
    extra: &[(String, String)],
    group: bool,
) -> Result<ChildReport> {
    let mut props = workload.librdkafka_consumer_properties();
    // librdkafka refuses `assign` without a group id, though it joins no group for it (nothing
    // subscribes and nothing commits); with `group`, a fresh group is joined for real.
    props.push((
        "group.id".to_owned(),
        format!("{topic}-librdkafka-{}", std::process::id()),
    ));
    if group {
        props.push(("auto.offset.reset".to_owned(), "earliest".to_owned()));
        props.push(("enable.auto.commit".to_owned(), "false".to_owned()));
    }
    let config = config(bootstrap, props, extra);
    let consumer: BaseConsumer = config.create().context("librdkafka consumer")?;
    let start = Instant::now();
    if group {
        consumer.subscribe(&[topic]).context("subscribe")?;
    } else {
        let mut assignment = TopicPartitionList::new();
        for p in 0..workload.partitions {
            assignment
                .add_partition_offset(topic, p, Offset::Beginning)
                .context("assignment")?;
        }
        consumer.assign(&assignment).context("assign")?;
    }
    let mut records = 0u64;
    let mut bytes = 0u64;
    let mut last_data = Instant::now();
    while records < workload.records {
        match consumer.poll(Duration::from_secs(1)) {
            Some(Ok(message)) => {
                records += 1;
                bytes += message.payload().map_or(0, |v| v.len() as u64);
                last_data = Instant::now();
            }
            Some(Err(e)) => bail!("poll: {e}"),
            None => {
                if last_data.elapsed() > IDLE_LIMIT {
                    bail!(
                        "only {records} of {} records after {IDLE_LIMIT:?} without data",
                        workload.records
                    );
                }
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(ChildReport {
        records,
        bytes,
        seconds,
    })
}
