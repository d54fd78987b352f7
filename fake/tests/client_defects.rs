//! Client defects of issue 14, driven through the fake cluster and written against the
//! intended behaviour. These fail until the client's fixes land; each names its defect.
//!
//! - (5) MESSAGE_TOO_LARGE: the producer splits the batch and delivers every record.
//! - (1) Follower fetching (KIP-392): the consumer fetches from the preferred read replica the
//!   leader names, and falls back to the leader when that replica answers an error.
//! - (11) `send_offsets_to_transaction` retries a transient coordinator error.

mod support;

use std::time::{Duration, Instant};

use laminar_kafka_client::producer::{ConsumerGroupMetadata, Producer, ProducerRecord};
use laminar_kafka_fake::{ApiKey, FakeCluster, ResponseError, Rule};
use support::{
    assert_no_violations, config, consume_exactly, consumer_from_beginning, send_all, values,
};

/// Defect 5. The topic takes batches of at most 8 KiB while the producer builds batches of up
/// to 64 KiB: every large batch is answered MESSAGE_TOO_LARGE (as a broker with
/// `max.message.bytes=8192` does) until the producer splits it. A one-shot scripted error
/// would let a plain retry of the same batch pass, so the limit is the fake's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_too_large_splits_the_batch_and_delivers_every_record() {
    let cluster = FakeCluster::builder()
        .topic("split", 1)
        .max_message_bytes(8 * 1024)
        .start()
        .await
        .unwrap();
    let producer = Producer::new(config(
        &cluster,
        &[
            ("batch.size", "65536"),
            ("linger.ms", "100"),
            ("compression.type", "none"),
            ("delivery.timeout.ms", "20000"),
        ],
    ))
    .unwrap();
    // 600 records of ~100 bytes: about 60 KiB, one batch before any split.
    let vals: Vec<String> = (0..600)
        .map(|i| format!("{i:05}-{}", "x".repeat(90)))
        .collect();
    let delivered = send_all(
        &producer,
        vals.iter().map(|v| ProducerRecord::new("split", v.clone())),
    )
    .await;
    producer.close().await.unwrap();

    let log = cluster.records("split", 0).unwrap();
    let got: Vec<&[u8]> = log.iter().map(|r| r.value.as_deref().unwrap()).collect();
    let want: Vec<&[u8]> = vals.iter().map(|v| v.as_bytes()).collect();
    assert_eq!(got, want, "every record once, in order");
    for (m, r) in delivered.iter().zip(&log) {
        assert_eq!(m.offset, r.offset);
    }
    assert_no_violations(&cluster);
}

/// Defect 1, first half. Broker 0 leads `follow-0` and names broker 1 (the client's rack) as
/// the preferred read replica: every fetch to the leader comes back empty with that
/// pointer. The records can only be read from broker 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_fetches_from_the_preferred_read_replica() {
    let cluster = FakeCluster::builder().brokers(3).start().await.unwrap();
    cluster
        .create_topic_with_replicas("follow", vec![vec![0, 1, 2]])
        .unwrap();
    let producer = Producer::new(config(&cluster, &[])).unwrap();
    send_all(
        &producer,
        values("f", 50)
            .into_iter()
            .map(|v| ProducerRecord::new("follow", v)),
    )
    .await;
    cluster
        .set_preferred_read_replica("follow", 0, Some(1))
        .unwrap();
    cluster.clear_requests();

    let consumer =
        consumer_from_beginning(config(&cluster, &[("client.rack", "rack-1")]), "follow", 1);
    let consumed = consume_exactly(&consumer, 50).await;
    assert_eq!(consumed.last().unwrap().1, 49);
    assert!(
        cluster
            .requests()
            .iter()
            .any(|r| r.broker == 1 && r.api == ApiKey::Fetch && r.names("follow", 0)),
        "the records came from the preferred read replica (broker 1)"
    );

    // Defect 1, second half: the replica starts failing and the leader stops pointing to it.
    // Once the consumer has met the replica's error, new records arrive: it must fetch them
    // from the leader.
    let before_rule = cluster.requests().len();
    let broken = cluster.script(
        Rule::on(ApiKey::Fetch)
            .broker(1)
            .partition("follow", 0)
            .fail(ResponseError::NotLeaderOrFollower),
    );
    cluster
        .set_preferred_read_replica("follow", 0, None)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.rule_hits(broken) == 0 {
        assert!(
            Instant::now() < deadline,
            "the consumer stopped fetching from the replica"
        );
        let polled = consumer.poll(Duration::from_millis(50)).await.unwrap();
        assert!(polled.is_empty(), "nothing new was written yet");
    }
    send_all(
        &producer,
        values("g", 20)
            .into_iter()
            .map(|v| ProducerRecord::new("follow", v)),
    )
    .await;
    producer.close().await.unwrap();
    let rest = consume_exactly(&consumer, 20).await;
    assert_eq!(rest.first().unwrap().1, 50);
    let requests = cluster.requests();
    let fetch_of = |broker: i32| {
        move |r: &laminar_kafka_fake::ReceivedRequest| {
            r.broker == broker && r.api == ApiKey::Fetch && r.names("follow", 0)
        }
    };
    let first_error = before_rule
        + requests[before_rule..]
            .iter()
            .position(fetch_of(1))
            .expect("the replica was asked and answered the error");
    assert!(
        requests[first_error + 1..].iter().any(fetch_of(0)),
        "after the replica's error the consumer fetched from the leader"
    );
    consumer.close().await;
    assert_no_violations(&cluster);
}

async fn offsets_in_transaction_survive(rule: Rule) {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("eos-out", 1)
        .topic("eos-in", 1)
        .start()
        .await
        .unwrap();
    let producer = Producer::new(config(
        &cluster,
        &[("transactional.id", "fake-eos"), ("retry.backoff.ms", "20")],
    ))
    .unwrap();
    producer.init_transactions().await.unwrap();
    let what = format!("{:?} {:?}", rule.api(), rule.action());
    let transient = cluster.script(rule);
    producer.begin_transaction().unwrap();
    producer
        .send(ProducerRecord::new("eos-out", "result"))
        .await
        .unwrap();
    producer
        .send_offsets_to_transaction(
            &[(("eos-in".to_owned(), 0), 42)],
            &ConsumerGroupMetadata::new("fake-eos-group"),
        )
        .await
        .unwrap_or_else(|e| panic!("send_offsets_to_transaction after one {what}: {e}"));
    producer.commit_transaction().await.unwrap();
    producer.close().await.unwrap();
    assert_eq!(cluster.rule_hits(transient), 1, "the error was injected");
    assert_eq!(
        cluster.committed_offset("fake-eos-group", "eos-in", 0),
        Some(42),
        "the offsets committed with the transaction"
    );
    let out = cluster.records("eos-out", 0).unwrap();
    assert_eq!(out.len(), 1);
    assert!(!out[0].aborted && !out[0].pending);
    assert_no_violations(&cluster);
}

/// Defect 11: the lookup of the group's coordinator (FindCoordinator for the group, made by
/// `send_offsets_to_transaction` before TxnOffsetCommit) answers COORDINATOR_LOAD_IN_PROGRESS
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_offsets_retries_a_group_coordinator_loading() {
    offsets_in_transaction_survive(
        Rule::on(ApiKey::FindCoordinator)
            .key("fake-eos-group")
            .once()
            .fail(ResponseError::CoordinatorLoadInProgress),
    )
    .await;
}

/// Defect 11: the same lookup answers COORDINATOR_NOT_AVAILABLE once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_offsets_retries_a_group_coordinator_not_available() {
    offsets_in_transaction_survive(
        Rule::on(ApiKey::FindCoordinator)
            .key("fake-eos-group")
            .once()
            .fail(ResponseError::CoordinatorNotAvailable),
    )
    .await;
}

/// Defect 11: the group coordinator's connection drops with TxnOffsetCommit unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_offsets_retries_a_lost_connection_to_the_group_coordinator() {
    offsets_in_transaction_survive(Rule::on(ApiKey::TxnOffsetCommit).once().disconnect()).await;
}

/// Defect 11: AddOffsetsToTxn answered COORDINATOR_LOAD_IN_PROGRESS once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_offsets_retries_add_offsets_load_in_progress() {
    offsets_in_transaction_survive(
        Rule::on(ApiKey::AddOffsetsToTxn)
            .once()
            .fail(ResponseError::CoordinatorLoadInProgress),
    )
    .await;
}

/// Defect 11: TxnOffsetCommit answered COORDINATOR_NOT_AVAILABLE once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_offsets_retries_txn_offset_commit_not_available() {
    offsets_in_transaction_survive(
        Rule::on(ApiKey::TxnOffsetCommit)
            .once()
            .fail(ResponseError::CoordinatorNotAvailable),
    )
    .await;
}
