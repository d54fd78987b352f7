//! Our producer and consumer against the Java client and librdkafka (kcat):
//! - what our producer writes, keyed, with every codec, the Java console consumer and kcat read
//!   identically, in the partition the Java producer chooses for the same key;
//! - what the Java console producer and kcat (with Java's murmur2 partitioner) write, keyed,
//!   our consumer reads exactly, each record in the partition murmur2 gives.

use laminar_kafka_tests as support;

use std::collections::BTreeSet;

use laminar_kafka_client::producer::partitioner::partition_for_key;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_protocol::record::Compression;
use laminar_kafka_tests::unique_topic;
use support::{
    blocking, broker, connect_plaintext, consume_exactly, consumer_from_beginning, create_topics,
    decode_records, fetch_batches, plaintext_config, send_all, text,
};

const PARTITIONS: i32 = 5;
const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn key_of(i: usize) -> String {
    format!("user-{i}-{}", text(i as u64, 6).replace(' ', "_"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_keyed_records_are_read_by_java_and_kcat_in_the_java_partition() {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let ours = unique_topic("interop-ours");
    let java = unique_topic("interop-java-partitions");
    create_topics(&conn, &[(&ours, PARTITIONS), (&java, PARTITIONS)]).await;

    // One producer per codec, 40 keyed records each.
    let mut sent: Vec<(String, String, i32)> = Vec::new();
    for (c, codec) in CODECS.iter().enumerate() {
        let producer = Producer::new(plaintext_config(
            broker,
            &[("compression.type", codec.name())],
        ))
        .unwrap();
        let records: Vec<(String, String)> = (0..40)
            .map(|i| {
                (
                    key_of(c * 40 + i),
                    format!("{codec} {i} {}", text(i as u64, 30)),
                )
            })
            .collect();
        let delivered = send_all(
            &producer,
            records
                .iter()
                .map(|(k, v)| ProducerRecord::new(ours.clone(), v.clone()).with_key(k.clone())),
        )
        .await;
        producer.close().await.unwrap();
        for ((k, v), m) in records.into_iter().zip(delivered) {
            sent.push((k, v, m.partition));
        }
    }
    // Every codec made it to the log as written.
    let mut codecs_seen = BTreeSet::new();
    for p in 0..PARTITIONS {
        let count = sent.iter().filter(|s| s.2 == p).count();
        for batch in fetch_batches(&conn, &ours, p, count).await {
            codecs_seen.insert(batch.compression().id());
        }
    }
    assert_eq!(codecs_seen, (0..5).collect::<BTreeSet<i16>>());

    // The Java producer's partition for each key, from the same keys written by it.
    let input: String = sent.iter().map(|(k, _, _)| format!("{k}\tx\n")).collect();
    blocking(|| {
        support::java_console_produce(broker, &java, &input, &[], &[("parse.key", "true")])
    });
    let java_lines = blocking(|| {
        support::java_console_consume(
            broker,
            &java,
            sent.len(),
            &[
                ("print.key", "true"),
                ("print.partition", "true"),
                ("print.value", "false"),
            ],
        )
    });
    let mut java_partitions: Vec<(String, i32)> = java_lines
        .iter()
        .map(|line| {
            let (partition, key) = line.split_once('\t').expect("Partition:N<TAB>key");
            let partition = partition.strip_prefix("Partition:").expect("Partition:N");
            (key.to_owned(), partition.parse().unwrap())
        })
        .collect();
    java_partitions.sort();
    let mut our_partitions: Vec<(String, i32)> =
        sent.iter().map(|(k, _, p)| (k.clone(), *p)).collect();
    our_partitions.sort();
    assert_eq!(
        our_partitions, java_partitions,
        "ours and the Java producer's partitions"
    );

    // The Java console consumer and kcat read what we wrote.
    let mut want: Vec<String> = sent
        .iter()
        .map(|(k, v, p)| format!("{p}\t{k}\t{v}"))
        .collect();
    want.sort();
    let mut java_read: Vec<String> = blocking(|| {
        support::java_console_consume(
            broker,
            &ours,
            sent.len(),
            &[("print.key", "true"), ("print.partition", "true")],
        )
    })
    .into_iter()
    .map(|line| {
        line.strip_prefix("Partition:")
            .expect("Partition:N")
            .to_owned()
    })
    .collect();
    java_read.sort();
    assert_eq!(java_read, want, "the Java console consumer's view");
    // `-c`: wait for every record (with `-e`, kcat may see a stale end of partition and stop
    // early); the helper's deadline bounds the wait.
    let count = sent.len().to_string();
    let output = blocking(|| {
        support::kcat(
            broker,
            &[
                "-C",
                "-t",
                &ours,
                "-o",
                "beginning",
                "-c",
                &count,
                "-q",
                "-f",
                "%p\t%k\t%s\n",
            ],
            None,
        )
    });
    let mut kcat_read: Vec<String> = output.stdout.lines().map(str::to_owned).collect();
    kcat_read.sort();
    assert_eq!(kcat_read, want, "kcat's view");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_and_kcat_keyed_records_are_read_exactly_in_the_murmur2_partition() {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let from_java = unique_topic("interop-from-java");
    let from_kcat = unique_topic("interop-from-kcat");
    create_topics(&conn, &[(&from_java, PARTITIONS), (&from_kcat, PARTITIONS)]).await;

    let records: Vec<(String, String)> = (0..150)
        .map(|i| {
            (
                key_of(1000 + i),
                format!("value {i} {}", text(i as u64 + 5, 25)),
            )
        })
        .collect();
    let java_input: String = records.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
    blocking(|| {
        support::java_console_produce(
            broker,
            &from_java,
            &java_input,
            &[("compression.type", "lz4")],
            &[("parse.key", "true")],
        )
    });
    let kcat_input: String = records.iter().map(|(k, v)| format!("{k}|{v}\n")).collect();
    blocking(|| {
        support::kcat(
            broker,
            &[
                "-P",
                "-t",
                &from_kcat,
                "-K",
                "|",
                "-z",
                "zstd",
                "-X",
                "partitioner=murmur2_random",
            ],
            Some(kcat_input.as_bytes()),
        )
    });

    for topic in [&from_java, &from_kcat] {
        let consumer = consumer_from_beginning(plaintext_config(broker, &[]), topic, PARTITIONS);
        let consumed = consume_exactly(&consumer, records.len()).await;
        // Per partition, the order of writing is kept.
        for p in 0..PARTITIONS {
            let got: Vec<(&[u8], &[u8])> = consumed
                .iter()
                .filter(|c| c.partition == p)
                .map(|c| {
                    (
                        c.rec.key.as_deref().unwrap(),
                        c.rec.value.as_deref().unwrap(),
                    )
                })
                .collect();
            let want: Vec<(&[u8], &[u8])> = records
                .iter()
                .filter(|(k, _)| partition_for_key(k.as_bytes(), PARTITIONS as usize) == p)
                .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
                .collect();
            assert_eq!(got, want, "{topic} partition {p}");
        }
        // And the raw batches carry the codec the tool was asked for.
        let codec = if topic == &from_java {
            Compression::Lz4
        } else {
            Compression::Zstd
        };
        let count = consumed.iter().filter(|c| c.partition == 0).count();
        let batches = fetch_batches(&conn, topic, 0, count).await;
        assert!(batches.iter().all(|b| b.compression() == codec), "{topic}");
        assert_eq!(decode_records(&batches).len(), count);
    }
}
