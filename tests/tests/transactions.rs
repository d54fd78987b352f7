//! Idempotent and transactional producing, and read_committed consuming, against the harness
//! broker — with the Java client on the other side where it matters.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use laminar_kafka_client::cluster::CoordinatorType;
use laminar_kafka_client::producer::{ConsumerGroupMetadata, Producer, ProducerRecord, TxnState};
use laminar_kafka_client::protocol::messages::messages::offset_fetch_request::OffsetFetchRequestTopic;
use laminar_kafka_client::protocol::messages::messages::{GroupId, OffsetFetchRequest, TopicName};
use laminar_kafka_client::protocol::messages::protocol::StrBytes;
use laminar_kafka_tests::{
    Broker, RestoreTransactionVersion, plain, read_all, send_values, set_transaction_version,
    topic, tv_lock, unique_topic, values,
};

#[tokio::test]
async fn aborted_transaction_is_invisible_to_read_committed_and_committed_ones_are_seen() {
    let _tv = tv_lock().read().await;
    let topic = topic("txn-basic", 1).await;
    let producer = Producer::new(plain(&[("transactional.id", &unique_topic("tid"))])).unwrap();
    producer.init_transactions().await.unwrap();
    assert!(producer.identity().is_some());
    if Broker::from_env().version_at_least(4, 0) {
        assert!(
            producer.uses_transaction_v2(),
            "Kafka 4 clusters finalize transaction.version 2"
        );
    }
    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "first", 10).await;
    producer.commit_transaction().await.unwrap();
    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "aborted", 10).await;
    producer.abort_transaction().await.unwrap();
    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "third", 5).await;
    producer.commit_transaction().await.unwrap();
    assert_eq!(producer.transaction_state(), Some(TxnState::Ready));
    producer.close().await.unwrap();

    let committed = read_all(&topic, 1, "read_committed").await;
    let mut expected = values("first", 10);
    expected.extend(values("third", 5));
    assert_eq!(committed, expected);
    let everything = read_all(&topic, 1, "read_uncommitted").await;
    assert_eq!(
        everything.len(),
        25,
        "read_uncommitted sees the aborted records too"
    );

    // The Java client's read_committed consumer agrees.
    let java = java_consume(&topic, "read_committed", expected.len());
    assert_eq!(java, expected);
}

#[tokio::test]
async fn send_outside_a_transaction_is_a_state_error() {
    let _tv = tv_lock().read().await;
    let producer = Producer::new(plain(&[("transactional.id", &unique_topic("tid"))])).unwrap();
    let err = producer
        .send(ProducerRecord::new("whatever", "x"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not allowed"),
        "send before init_transactions: {err}"
    );
    producer.init_transactions().await.unwrap();
    let err = producer.commit_transaction().await.unwrap_err();
    assert!(err.to_string().contains("commit_transaction"), "{err}");
}

#[tokio::test]
async fn zombie_producer_is_fenced_and_its_later_writes_are_invisible() {
    let _tv = tv_lock().read().await;
    let topic = topic("txn-zombie", 1).await;
    let tid = unique_topic("tid-zombie");
    let old = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
    old.init_transactions().await.unwrap();
    old.begin_transaction().unwrap();
    send_values(&old, &topic, "before", 3).await;

    let new = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
    new.init_transactions().await.unwrap();
    assert!(new.identity().unwrap().epoch > old.identity().unwrap().epoch);

    // The old producer's next operation fails with a fencing error.
    let sent = old
        .send(ProducerRecord::new(&topic, "after").with_partition(0))
        .await;
    let outcome = match sent {
        Ok(delivery) => match delivery.await {
            Ok(_) => old.commit_transaction().await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let err = outcome.expect_err("the zombie must not commit");
    assert!(err.is_fatal() || err.is_abortable(), "{err}");
    assert!(
        err.to_string().contains("Fenced") || err.to_string().contains("InvalidProducerEpoch"),
        "{err}"
    );
    let commit = old.commit_transaction().await;
    assert!(commit.is_err(), "no commit after being fenced");

    new.begin_transaction().unwrap();
    send_values(&new, &topic, "new", 4).await;
    new.commit_transaction().await.unwrap();
    assert_eq!(
        read_all(&topic, 1, "read_committed").await,
        values("new", 4)
    );
}

fn cargo_bin(name: &str) -> PathBuf {
    match name {
        "txn_writer" => PathBuf::from(env!("CARGO_BIN_EXE_txn_writer")),
        other => panic!("unknown binary {other}"),
    }
}

#[tokio::test]
async fn transaction_of_a_killed_process_is_aborted_by_the_next_init() {
    let _tv = tv_lock().read().await;
    let broker = Broker::from_env();
    let topic = topic("txn-killed", 1).await;
    let tid = unique_topic("tid-killed");
    let mut child = Command::new(cargo_bin("txn_writer"))
        .args([&broker.plaintext, &topic, &tid, "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn txn_writer");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "flushed",
        "the writer flushed its open transaction"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The records are in the log, in an open transaction.
    assert_eq!(read_all(&topic, 1, "read_uncommitted").await.len(), 20);

    let next = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
    next.init_transactions().await.unwrap();
    next.begin_transaction().unwrap();
    send_values(&next, &topic, "next", 2).await;
    next.commit_transaction().await.unwrap();
    assert_eq!(
        read_all(&topic, 1, "read_committed").await,
        values("next", 2)
    );
}

#[tokio::test]
async fn prepared_transaction_is_committed_or_aborted_by_another_producer() {
    let _tv = tv_lock().read().await;
    let topic = topic("txn-2pc", 1).await;
    for commit in [true, false] {
        let tid = unique_topic("tid-2pc");
        let first = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
        first.init_transactions().await.unwrap();
        first.begin_transaction().unwrap();
        let prefix = if commit {
            "prepared-commit"
        } else {
            "prepared-abort"
        };
        send_values(&first, &topic, prefix, 6).await;
        let prepared = first.prepare_transaction().await.unwrap();
        assert_eq!(prepared.transactional_id, tid);
        // The first process "dies" here without ending the transaction.
        drop(first);

        let second = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
        second.resume_transaction(&prepared).await.unwrap();
        if commit {
            second.commit_transaction().await.unwrap();
        } else {
            second.abort_transaction().await.unwrap();
        }
    }
    assert_eq!(
        read_all(&topic, 1, "read_committed").await,
        values("prepared-commit", 6),
        "the resumed commit is visible, the resumed abort is not"
    );
}

async fn committed_offset(group: &str, topic: &str, partition: i32) -> i64 {
    let cluster = laminar_kafka_client::cluster::Cluster::new(plain(&[])).unwrap();
    let conn = cluster
        .coordinator(CoordinatorType::Group, group)
        .await
        .unwrap();
    let version = conn
        .versions()
        .version_for::<OffsetFetchRequest>()
        .unwrap()
        .min(7);
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_require_stable(true)
        .with_topics(Some(vec![
            OffsetFetchRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_indexes(vec![partition]),
        ]));
    // The coordinator writes the transaction's markers after EndTxn answers: until they are
    // in, a stable read says UNSTABLE_OFFSET_COMMIT (88) and is retried, as consumers do.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = conn.send_at(&request, version).await.unwrap();
        let p = &response.topics[0].partitions[0];
        if p.error_code == 88 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(p.error_code, 0, "OffsetFetch error for {topic}-{partition}");
        return p.committed_offset;
    }
}

#[tokio::test]
async fn offsets_sent_to_a_transaction_commit_with_it() {
    let _tv = tv_lock().read().await;
    let input = topic("txn-in", 1).await;
    let output = topic("txn-out", 1).await;
    let group = unique_topic("group");
    let untransactional = Producer::new(plain(&[])).unwrap();
    send_values(&untransactional, &input, "in", 8).await;
    untransactional.close().await.unwrap();

    let producer = Producer::new(plain(&[("transactional.id", &unique_topic("tid-rpw"))])).unwrap();
    producer.init_transactions().await.unwrap();
    let group_meta = ConsumerGroupMetadata::new(&group);

    // Aborted: neither the output nor the offset stays.
    producer.begin_transaction().unwrap();
    send_values(&producer, &output, "aborted", 3).await;
    producer
        .send_offsets_to_transaction(&[((input.clone(), 0), 3)], &group_meta)
        .await
        .unwrap();
    producer.abort_transaction().await.unwrap();
    assert_eq!(committed_offset(&group, &input, 0).await, -1);

    producer.begin_transaction().unwrap();
    send_values(&producer, &output, "out", 8).await;
    producer
        .send_offsets_to_transaction(&[((input.clone(), 0), 8)], &group_meta)
        .await
        .unwrap();
    producer.commit_transaction().await.unwrap();
    assert_eq!(committed_offset(&group, &input, 0).await, 8);
    assert_eq!(
        read_all(&output, 1, "read_committed").await,
        values("out", 8)
    );
}

/// The Java client's transactional producer, compiled once per test run.
fn java_txn_producer() -> &'static PathBuf {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let broker = Broker::from_env();
        let out = std::env::temp_dir().join(format!("laminar-java-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("java/TxnProducer.java");
        let status = Command::new("javac")
            .arg("-cp")
            .arg(format!("{}/*", broker.libs.display()))
            .arg("-d")
            .arg(&out)
            .arg(&source)
            .status()
            .expect("javac (Java 17 is part of the harness' requirements)");
        assert!(status.success(), "javac failed for {}", source.display());
        out
    })
}

fn java_consume(topic: &str, isolation: &str, count: usize) -> Vec<String> {
    let broker = Broker::from_env();
    let output = broker
        .run_tool(
            "console-consumer",
            &[
                "--bootstrap-server",
                &broker.plaintext,
                "--topic",
                topic,
                "--from-beginning",
                "--consumer-property",
                &format!("isolation.level={isolation}"),
                "--max-messages",
                &count.to_string(),
                "--timeout-ms",
                "10000",
            ],
            None,
            Duration::from_secs(60),
        )
        .expect("console consumer");
    // Kafka 4.x prints a deprecation notice for `--consumer-property` on stdout.
    output
        .stdout
        .lines()
        .filter(|l| !l.contains("is deprecated"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn read_committed_consumer_skips_what_the_java_producer_aborted() {
    let _tv = tv_lock().read().await;
    let broker = Broker::from_env();
    let topic = topic("txn-java", 1).await;
    let classes = java_txn_producer();
    let status = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{}/*", classes.display(), broker.libs.display()))
        .arg("TxnProducer")
        .args([
            broker.plaintext.as_str(),
            topic.as_str(),
            &unique_topic("tid-java"),
            "commit:j1:7",
            "abort:ja:5",
            "commit:j2:3",
            "abort:jb:4",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("java");
    assert!(status.success());
    let mut expected = values("j1", 7);
    expected.extend(values("j2", 3));
    assert_eq!(read_all(&topic, 1, "read_committed").await, expected);
    assert_eq!(read_all(&topic, 1, "read_uncommitted").await.len(), 19);
}

#[tokio::test]
async fn idempotent_producer_gets_an_id_and_writes_in_order() {
    let _tv = tv_lock().read().await;
    let topic = topic("idem", 3).await;
    let producer = Producer::new(plain(&[("linger.ms", "1")])).unwrap();
    let mut deliveries = BTreeMap::new();
    for i in 0..3000 {
        let d = producer
            .send(ProducerRecord::new(&topic, format!("v-{i}")).with_key(format!("k{}", i % 7)))
            .await
            .unwrap();
        deliveries.insert(i, d);
    }
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for (_, d) in deliveries {
        let md = d.await.unwrap();
        if let Some(prev) = last.insert(md.partition, md.offset) {
            assert!(md.offset > prev, "offsets grow in send order per partition");
        }
    }
    let identity = producer
        .identity()
        .expect("an idempotent producer has a producer id");
    assert!(identity.id >= 0);
    producer.close().await.unwrap();
    // Every acknowledged record is in the log once.
    let got = read_all(&topic, 3, "read_uncommitted").await;
    assert_eq!(got.len(), 3000);
}

#[tokio::test]
async fn transaction_protocol_version_1_commits_aborts_and_fences() {
    let _exclusive = tv_lock().write().await;
    if !Broker::from_env().version_at_least(4, 0) {
        // Kafka 3.9 has only version 1: every other test here already runs on it.
        let p = Producer::new(plain(&[("transactional.id", &unique_topic("tid-v1"))])).unwrap();
        p.init_transactions().await.unwrap();
        assert!(!p.uses_transaction_v2());
        return;
    }
    set_transaction_version(1);
    let _restore = RestoreTransactionVersion;
    let topic = topic("txn-v1", 2).await;
    let group = unique_topic("group-v1");
    let tid = unique_topic("tid-v1");
    let producer = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
    producer.init_transactions().await.unwrap();
    assert!(
        !producer.uses_transaction_v2(),
        "the cluster finalized version 1"
    );

    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "v1-commit", 5).await;
    producer
        .send_offsets_to_transaction(
            &[((topic.clone(), 1), 42)],
            &ConsumerGroupMetadata::new(&group),
        )
        .await
        .unwrap();
    producer.commit_transaction().await.unwrap();
    assert_eq!(committed_offset(&group, &topic, 1).await, 42);

    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "v1-abort", 5).await;
    producer.abort_transaction().await.unwrap();

    let newer = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
    newer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    let fenced = match producer
        .send(ProducerRecord::new(&topic, "zombie").with_partition(0))
        .await
    {
        Ok(d) => match d.await {
            Ok(_) => producer.commit_transaction().await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    assert!(
        fenced.is_err(),
        "the older producer is fenced under version 1 too"
    );
    assert_eq!(
        read_all(&topic, 2, "read_committed").await,
        values("v1-commit", 5)
    );
}
