//! `laminar-kafka roundtrip`: the project's main job for now — produce keyed records to a fresh
//! topic, read them back from every partition, and check that each arrived once, in order per
//! key, with the partition the Java client would choose for its key.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail, ensure};
use bytes::Bytes;
use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::cluster::Cluster;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::producer::partitioner::partition_for_key;
use laminar_kafka_client::producer::{Producer, ProducerRecord};

use crate::args::RoundtripArgs;

pub(crate) async fn run(mut config: ClientConfig, args: RoundtripArgs) -> Result<()> {
    config.set("compression.type", &args.compression)?;
    let cluster = Cluster::new(config)?;
    let admin = Admin::from_cluster(cluster.clone());
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let topic = format!("laminar-roundtrip-{stamp}");
    admin
        .create_topics(&[NewTopic::new(&topic, args.partitions, 1)])
        .await?;
    println!("created {topic} with {} partitions", args.partitions);

    let producer = Producer::with_cluster(cluster.clone())?;
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(args.count as usize);
    for i in 0..args.count {
        let key = format!("key-{}", i % 97);
        let value = format!("value-{i}");
        deliveries.push(
            producer
                .send(
                    ProducerRecord::new(&topic, value)
                        .with_key(key)
                        .with_header("seq", Some(Bytes::from(i.to_string()))),
                )
                .await?,
        );
    }
    producer.flush().await?;
    let mut written: HashMap<u64, (i32, i64)> = HashMap::new();
    for (i, d) in deliveries.into_iter().enumerate() {
        let md = d.await?;
        written.insert(i as u64, (md.partition, md.offset));
    }
    let produce_secs = started.elapsed().as_secs_f64();
    println!(
        "produced {} records in {:.2}s ({:.0} records/s, {})",
        args.count,
        produce_secs,
        args.count as f64 / produce_secs.max(1e-9),
        args.compression
    );

    let consumer = Consumer::with_cluster(cluster.clone())?;
    let tps: Vec<(String, i32)> = (0..args.partitions).map(|p| (topic.clone(), p)).collect();
    consumer.assign(&tps)?;
    for tp in &tps {
        consumer.seek(tp, SeekTo::Earliest)?;
    }
    let started = Instant::now();
    let mut seen: HashMap<u64, (i32, i64)> = HashMap::new();
    let mut last_seq_per_key: HashMap<String, u64> = HashMap::new();
    while (seen.len() as u64) < args.count {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "read back only {} of {} records within 60s",
                seen.len(),
                args.count
            );
        }
        let polled = consumer.poll(Duration::from_millis(500)).await?;
        for r in polled.iter() {
            let r = r?;
            let key = String::from_utf8_lossy(r.key().unwrap_or_default()).into_owned();
            let value = String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned();
            let seq: u64 = value
                .strip_prefix("value-")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("unexpected value `{value}`"))?;
            let header = r
                .record
                .headers()
                .next()
                .and_then(|h| h.value().map(|v| String::from_utf8_lossy(v).into_owned()));
            ensure!(
                header.as_deref() == Some(seq.to_string().as_str()),
                "record {seq} has header {header:?}"
            );
            let expected_partition = partition_for_key(key.as_bytes(), args.partitions as usize);
            ensure!(
                r.partition == expected_partition,
                "key {key} landed in partition {} instead of {expected_partition}",
                r.partition
            );
            if let Some(prev) = last_seq_per_key.insert(key.clone(), seq) {
                ensure!(prev < seq, "key {key}: record {seq} came after {prev}");
            }
            ensure!(
                seen.insert(seq, (r.partition, r.offset())).is_none(),
                "record {seq} read twice"
            );
        }
    }
    ensure!(
        seen == written,
        "what was read differs from what was acknowledged"
    );
    let consume_secs = started.elapsed().as_secs_f64();
    println!(
        "consumed {} records in {:.2}s ({:.0} records/s); every record once, in order per key",
        seen.len(),
        consume_secs,
        seen.len() as f64 / consume_secs.max(1e-9)
    );
    consumer.close().await;
    producer.close().await?;
    if !args.keep_topic {
        admin.delete_topics(&[&topic]).await?;
        println!("deleted {topic}");
    }
    admin.close().await;
    println!("roundtrip ok");
    Ok(())
}
