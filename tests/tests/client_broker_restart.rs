//! The broker restarts in the middle of a long acks=all produce: every record whose delivery
//! future resolved Ok is in the log afterwards, and every other record failed with a typed
//! delivery timeout — no future hangs.
//!
//! This test stops and starts the shared harness broker, so it runs alone: it takes
//! `target/kafka-run/.restart.lock` exclusively, which every other test binary of the codec and
//! client suites takes shared for its whole run (see `support::broker`). It waits until they are
//! done, and they wait until it is.

use laminar_kafka_tests as support;

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use laminar_kafka_client::Error;
use laminar_kafka_client::admin::Admin;
use laminar_kafka_client::config::IsolationLevel;
use laminar_kafka_client::offsets::OffsetSpec;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_tests::{Broker, run, unique_topic};
use support::{consumed_records, consumer_from_beginning, plaintext_config};

const RECORDS: usize = 200_000;
const PARTITIONS: i32 = 3;

fn harness(broker: &Broker, command: &str) -> Result<(), String> {
    let mut cmd = Command::new(&broker.harness);
    cmd.arg(command);
    run(cmd, None, Duration::from_secs(180), &[])
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Starts the broker again if the test ends (or panics) while it is stopped.
struct RestartGuard<'a> {
    broker: &'a Broker,
}

impl Drop for RestartGuard<'_> {
    fn drop(&mut self) {
        if harness(self.broker, "status").is_err()
            && let Err(e) = harness(self.broker, "start")
        {
            eprintln!("could not start the broker again: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_a_broker_restart_and_no_delivery_hangs() {
    let _exclusive = support::exclusive_restart_lock();
    // Not `support::broker()`: that takes the lock shared, which would wait for ourselves.
    let broker = Broker::from_env();
    let _guard = RestartGuard { broker };
    let topic = unique_topic("restart");
    let admin = Admin::new(plaintext_config(broker, &[])).unwrap();
    admin
        .create_topics(&[laminar_kafka_client::admin::NewTopic::new(
            topic.clone(),
            PARTITIONS,
            1,
        )])
        .await
        .expect("create the topic");

    let delivery_timeout = Duration::from_secs(60);
    let producer = Arc::new(
        Producer::new(plaintext_config(
            broker,
            &[
                ("acks", "all"),
                ("linger.ms", "5"),
                (
                    "delivery.timeout.ms",
                    &delivery_timeout.as_millis().to_string(),
                ),
                ("request.timeout.ms", "5000"),
                ("max.block.ms", "120000"),
                ("reconnect.backoff.max.ms", "500"),
                ("retry.backoff.max.ms", "500"),
                ("socket.connection.setup.timeout.ms", "2000"),
            ],
        ))
        .unwrap(),
    );

    let sent = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicBool::new(false));
    // Stop once 30 000 records are on their way, start again at once.
    let restart = {
        let sent = sent.clone();
        let stopped = stopped.clone();
        let broker = broker.clone();
        tokio::task::spawn_blocking(move || {
            while sent.load(Ordering::Acquire) < 30_000 {
                std::thread::sleep(Duration::from_millis(10));
            }
            harness(&broker, "stop").expect("stop the broker");
            stopped.store(true, Ordering::Release);
            let started = Instant::now();
            harness(&broker, "start").expect("start the broker again");
            started.elapsed()
        })
    };

    // The first half paced over a few seconds, the second half only once the broker is down,
    // so that records are sent before, during and after the restart.
    let mut futures = Vec::with_capacity(RECORDS);
    for seq in 0..RECORDS {
        if seq == RECORDS / 2 {
            while !stopped.load(Ordering::Acquire) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if seq % 2000 == 0 && seq < RECORDS / 2 {
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        let record = ProducerRecord::new(topic.clone(), format!("{seq:08}"))
            .with_partition(seq as i32 % PARTITIONS);
        let future = producer
            .send(record)
            .await
            .unwrap_or_else(|e| panic!("send {seq}: {e}"));
        futures.push(future);
        sent.fetch_add(1, Ordering::AcqRel);
    }
    let start_took = restart.await.expect("restart task");
    eprintln!("the broker took {start_took:?} to start again");

    // Every future resolves within the delivery timeout (plus slack), Ok or a typed timeout.
    let deadline = tokio::time::Instant::now() + delivery_timeout + Duration::from_secs(30);
    let mut delivered: HashSet<usize> = HashSet::new();
    let mut timed_out = 0usize;
    let mut other_errors: Vec<String> = Vec::new();
    for (seq, future) in futures.into_iter().enumerate() {
        match tokio::time::timeout_at(deadline, future).await {
            Err(_) => panic!("record {seq} neither delivered nor failed in time"),
            Ok(Ok(metadata)) => {
                assert_eq!(metadata.partition, seq as i32 % PARTITIONS);
                assert!(metadata.offset >= 0);
                delivered.insert(seq);
            }
            Ok(Err(Error::DeliveryTimeout { .. })) => timed_out += 1,
            Ok(Err(e)) => {
                if other_errors.len() < 10 {
                    other_errors.push(format!("record {seq}: {e}"));
                }
            }
        }
    }
    eprintln!(
        "{} delivered, {timed_out} timed out, {} other errors",
        delivered.len(),
        RECORDS - delivered.len() - timed_out
    );
    assert!(
        other_errors.is_empty(),
        "failed deliveries must be delivery timeouts: {other_errors:#?}"
    );
    producer.close().await.expect("close");

    // Read everything back, up to the log end of each partition.
    let wanted: Vec<((String, i32), OffsetSpec)> = (0..PARTITIONS)
        .map(|p| ((topic.clone(), p), OffsetSpec::Latest))
        .collect();
    let ends = admin
        .list_offsets(&wanted, IsolationLevel::ReadUncommitted)
        .await
        .expect("log end offsets");
    let total: i64 = ends.values().map(|o| o.offset).sum();
    let consumer = consumer_from_beginning(plaintext_config(broker, &[]), &topic, PARTITIONS);
    let mut in_log: HashSet<usize> = HashSet::new();
    let mut read = 0i64;
    let read_deadline = Instant::now() + Duration::from_secs(60);
    while read < total {
        assert!(
            Instant::now() < read_deadline,
            "read {read} of {total} records"
        );
        let polled = consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll");
        for c in consumed_records(&polled) {
            read += 1;
            let value = c.rec.value.expect("value");
            let seq: usize = std::str::from_utf8(&value).unwrap().parse().unwrap();
            assert_eq!(c.partition, seq as i32 % PARTITIONS, "record {seq}");
            in_log.insert(seq);
        }
    }
    let missing: Vec<usize> = delivered.difference(&in_log).copied().take(20).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged records are not in the log, e.g. {missing:?}",
        delivered.difference(&in_log).count()
    );
    eprintln!(
        "{read} records in the log for {} distinct sequence numbers",
        in_log.len()
    );
}
