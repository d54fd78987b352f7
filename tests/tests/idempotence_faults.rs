//! The idempotent producer under connection faults: a proxy in front of the broker cuts every
//! connection at random moments during a long produce of numbered records. Afterwards every
//! acknowledged record is in the log exactly once, and each partition holds its records in the
//! order they were sent. The moments come from the test's seed (`LAMINAR_TEST_SEED` replays a
//! run; see `laminar_kafka_tests::rng`).
//!
//! The harness' PROXIED listener advertises the proxy's address, so after bootstrap the client
//! still reaches the broker only through the proxy.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_tests::proxy::Proxy;
use laminar_kafka_tests::{Broker, test_seed, unique_topic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_connection_cuts_exactly_once_and_in_order() {
    // When the connections are cut; printed, and again on failure.
    let seed = test_seed("acknowledged_records_survive_connection_cuts_exactly_once_and_in_order");
    let broker = Broker::from_env();
    let topic = unique_topic("idem-faults");
    let partitions = 3;
    Admin::new(ClientConfig::new(&broker.plaintext).unwrap())
        .unwrap()
        .create_topics(&[NewTopic::new(&topic, partitions, 1)])
        .await
        .unwrap();

    let proxy = Arc::new(Proxy::listen(&broker.proxied, &broker.proxied_target).await);
    let cutting = Arc::new(AtomicBool::new(true));
    let cutter = {
        let (proxy, cutting) = (proxy.clone(), cutting.clone());
        let mut rng = seed.rng();
        tokio::spawn(async move {
            while cutting.load(Ordering::Relaxed) {
                // Long enough for requests to get through between cuts; the produce goes on
                // until there were five of them.
                let pause = 50 + rng.next_u64() % 250;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                proxy.cut_all();
            }
        })
    };

    let producer = Producer::new(
        ClientConfig::from_properties([
            ("bootstrap.servers", broker.proxied.as_str()),
            ("linger.ms", "2"),
            ("batch.size", "4096"),
            ("request.timeout.ms", "3000"),
            ("delivery.timeout.ms", "60000"),
            ("retry.backoff.ms", "20"),
            ("reconnect.backoff.ms", "20"),
            ("max.block.ms", "30000"),
        ])
        .unwrap(),
    )
    .unwrap();
    // At least this many records, and more while the proxy has not yet cut five times, so that
    // the faults happen during the produce however fast it runs (bounded by a deadline).
    let at_least = 40_000u64;
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(at_least as usize);
    let mut total = 0u64;
    while total < at_least || (proxy.cuts() < 5 && started.elapsed() < Duration::from_secs(60)) {
        let i = total;
        total += 1;
        let partition = (i % partitions as u64) as i32;
        deliveries.push((
            i,
            producer
                .send(
                    ProducerRecord::new(&topic, format!("{i:08}"))
                        .with_partition(partition)
                        .with_key(format!("k{i}")),
                )
                .await
                .expect("send"),
        ));
    }
    let mut acked = HashSet::new();
    let mut failed = 0;
    for (i, d) in deliveries {
        match d.await {
            Ok(_) => {
                acked.insert(i);
            }
            Err(_) => failed += 1,
        }
    }
    cutting.store(false, Ordering::Relaxed);
    cutter.await.unwrap();
    let cuts = proxy.cuts();
    producer.close().await.unwrap();
    assert!(
        cuts >= 5,
        "the proxy cut the connections only {cuts} times in {:?}",
        started.elapsed()
    );
    assert!(
        acked.len() as u64 > total * 9 / 10,
        "most records are acknowledged: {} of {total} ({failed} failed)",
        acked.len()
    );

    // Read everything back directly from the broker.
    let consumer = Consumer::new(ClientConfig::new(&broker.plaintext).unwrap()).unwrap();
    let tps: Vec<(String, i32)> = (0..partitions).map(|p| (topic.clone(), p)).collect();
    consumer.assign(&tps).unwrap();
    for tp in &tps {
        consumer.seek(tp, SeekTo::Earliest).unwrap();
    }
    let mut per_partition: BTreeMap<i32, Vec<u64>> = BTreeMap::new();
    let mut idle = Instant::now();
    while idle.elapsed() < Duration::from_secs(3) {
        for r in consumer
            .poll(Duration::from_millis(300))
            .await
            .unwrap()
            .iter()
        {
            let r = r.unwrap();
            let seq: u64 = std::str::from_utf8(r.value().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            per_partition.entry(r.partition).or_default().push(seq);
            idle = Instant::now();
        }
    }
    let mut seen = HashSet::new();
    for (p, seqs) in &per_partition {
        for w in seqs.windows(2) {
            assert!(
                w[0] < w[1],
                "partition {p}: {} was written after {}",
                w[1],
                w[0]
            );
        }
        for s in seqs {
            assert!(seen.insert(*s), "record {s} is in the log twice");
            assert_eq!(
                (*s % partitions as u64) as i32,
                *p,
                "record {s} in partition {p}"
            );
        }
    }
    let missing: Vec<&u64> = acked.iter().filter(|s| !seen.contains(s)).take(5).collect();
    assert!(
        missing.is_empty(),
        "acknowledged records missing from the log: {missing:?}"
    );
    eprintln!(
        "{} records, {} acknowledged, {failed} failed, {cuts} cuts, {:?}",
        total,
        acked.len(),
        started.elapsed()
    );
}
