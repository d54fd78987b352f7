//! Helpers of the connector's broker tests: fresh topics, numbered input records, reading a
//! topic back to its end, and the engine driver in a child process.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_tests::{Broker, unique_topic};

/// A record read back: partition, offset, key, value.
pub(crate) type Read = (i32, i64, Option<Vec<u8>>, Vec<u8>);

pub(crate) fn bootstrap() -> String {
    Broker::from_env().plaintext.clone()
}

pub(crate) fn client_config(extra: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new(&bootstrap()).expect("config");
    c.set("max.block.ms", "20000").unwrap();
    for (k, v) in extra {
        c.set(k, v).unwrap();
    }
    c
}

/// A fresh topic with `partitions` partitions.
pub(crate) async fn topic(prefix: &str, partitions: i32) -> String {
    let name = unique_topic(prefix);
    create(&name, partitions).await;
    name
}

pub(crate) async fn create(name: &str, partitions: i32) {
    let admin = Admin::new(client_config(&[])).unwrap();
    admin
        .create_topics(&[NewTopic::new(name, partitions, 1)])
        .await
        .expect("create topic");
    admin.close().await;
}

/// Writes `values` (with optional keys), value i to partition i % partitions.
pub(crate) async fn produce(
    topic: &str,
    partitions: i32,
    values: impl IntoIterator<Item = (Option<String>, String)>,
) {
    let producer = Producer::new(client_config(&[("linger.ms", "5")])).unwrap();
    let mut deliveries = Vec::new();
    for (i, (key, value)) in values.into_iter().enumerate() {
        let mut record = ProducerRecord::new(topic, value).with_partition(i as i32 % partitions);
        if let Some(k) = key {
            record = record.with_key(k);
        }
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer.close().await.expect("producer closes");
}

/// Every record of `topic` up to its current end (the last stable offset with
/// `read_committed`), read with a plain consumer.
pub(crate) async fn read_all(topic: &str, partitions: i32, read_committed: bool) -> Vec<Read> {
    let isolation = if read_committed {
        "read_committed"
    } else {
        "read_uncommitted"
    };
    let consumer = Consumer::new(client_config(&[
        ("isolation.level", isolation),
        ("fetch.max.wait.ms", "50"),
    ]))
    .unwrap();
    let tps: Vec<(String, i32)> = (0..partitions).map(|p| (topic.to_owned(), p)).collect();
    consumer.assign(&tps).unwrap();
    for tp in &tps {
        consumer.seek(tp, SeekTo::Earliest).unwrap();
    }
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_polls = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "reading {topic} back took over 60 s"
        );
        let polled = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        for part in polled.partitions() {
            for r in part.iter() {
                let r = r.expect("record");
                out.push((
                    part.partition(),
                    r.offset(),
                    r.key().map(<[u8]>::to_vec),
                    r.value().unwrap_or_default().to_vec(),
                ));
            }
        }
        let lag = consumer.lag();
        let caught_up = lag.len() == tps.len() && lag.values().all(|l| l.lag == Some(0));
        if polled.is_empty() && caught_up {
            quiet_polls += 1;
            if quiet_polls >= 2 {
                break;
            }
        }
    }
    consumer.close().await;
    out
}

/// Starts the engine driver (see `src/bin/engine_driver.rs`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_driver(
    input: &str,
    output: &str,
    group: &str,
    mode: &str,
    parallelism: usize,
    state_dir: &Path,
    interval_ms: u64,
    exit_when_idle_ms: u64,
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_engine_driver"))
        .args([
            bootstrap().as_str(),
            input,
            output,
            group,
            mode,
            &parallelism.to_string(),
            state_dir.to_str().unwrap(),
            &interval_ms.to_string(),
            &exit_when_idle_ms.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn engine_driver")
}

/// Waits for a child to exit within `timeout`, killing it if it does not.
pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the driver did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
