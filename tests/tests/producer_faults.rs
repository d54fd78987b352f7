//! The producer on the paths a healthy broker rarely takes: a batch over the topic's
//! `max.message.bytes`, a batch the broker rejects, a coordinator connection lost in the middle
//! of a transaction, and two-phase commit handed over to another producer.

use laminar_kafka_client::error::Error;
use laminar_kafka_client::producer::{ConsumerGroupMetadata, Producer, ProducerRecord, TxnState};
use laminar_kafka_tests::proxy::Proxy;
use laminar_kafka_tests::{
    Broker, RestoreTransactionVersion, config_at, create_topic, plain, read_all, send_values,
    set_transaction_version, tv_lock, unique_topic, values,
};

#[tokio::test]
async fn a_batch_over_max_message_bytes_is_split_and_written_once_in_order() {
    let topic = create_topic("split", 1, &[("max.message.bytes", "4096")]).await;
    // One batch of about 400 × 110 bytes: ten times what the topic takes.
    let producer = Producer::new(plain(&[
        ("linger.ms", "200"),
        ("batch.size", "1000000"),
        ("compression.type", "none"),
    ]))
    .unwrap();
    let sent = values(&format!("{:0>100}", "split"), 400);
    let mut deliveries = Vec::new();
    for v in &sent {
        deliveries.push(
            producer
                .send(ProducerRecord::new(&topic, v.clone()).with_partition(0))
                .await
                .unwrap(),
        );
    }
    let mut offsets = Vec::new();
    for d in deliveries {
        offsets.push(d.await.expect("every record of the split batch").offset);
    }
    assert_eq!(
        offsets,
        (0..400).collect::<Vec<i64>>(),
        "offsets in send order, each record once"
    );
    let identity = producer.identity().expect("idempotent by default");

    // One record alone over the limit fails with the broker's typed error…
    let too_large = producer
        .send(ProducerRecord::new(&topic, vec![b'x'; 6000]).with_partition(0))
        .await
        .unwrap()
        .await
        .expect_err("a single record over max.message.bytes");
    assert_eq!(
        too_large.kafka_code().map(|c| c.code()),
        Some(10),
        "MESSAGE_TOO_LARGE: {too_large}"
    );
    // …and gives its sequence number back: the next batch follows without
    // OUT_OF_ORDER_SEQUENCE_NUMBER and without an epoch bump.
    send_values(&producer, &topic, "after", 5).await;
    assert_eq!(
        producer.identity(),
        Some(identity),
        "same producer id and epoch after a rejected batch"
    );
    producer.close().await.unwrap();

    let mut expected = sent.clone();
    expected.extend(values("after", 5));
    assert_eq!(read_all(&topic, 1, "read_uncommitted").await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_offsets_to_transaction_survives_lost_coordinator_connections() {
    let _tv = tv_lock().read().await;
    let broker = Broker::from_env();
    let topic = create_topic("offsets-cut", 1, &[]).await;
    let group = unique_topic("offsets-cut-group");
    let proxy = Proxy::listen(&broker.proxied, &broker.proxied_target).await;
    let producer = Producer::new(config_at(
        &broker.proxied,
        &[
            ("transactional.id", &unique_topic("tid-offsets-cut")),
            ("retry.backoff.ms", "20"),
            ("reconnect.backoff.ms", "20"),
        ],
    ))
    .unwrap();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, "with-offsets", 3).await;
    // Every connection (the transaction and group coordinators' among them) is lost just
    // before the offsets go: FindCoordinator, AddOffsetsToTxn and TxnOffsetCommit must be
    // tried again on new connections.
    assert!(
        proxy.cut_all() > 0,
        "the client connected through the proxy"
    );
    producer
        .send_offsets_to_transaction(
            &[((topic.clone(), 0), 42)],
            &ConsumerGroupMetadata::new(&group),
        )
        .await
        .expect("send_offsets_to_transaction retries a lost connection");
    producer.commit_transaction().await.unwrap();
    producer.close().await.unwrap();
    drop(proxy);
    assert_eq!(
        read_all(&topic, 1, "read_committed").await,
        values("with-offsets", 3)
    );
}

/// The 2PC hand-over: `first` prepares, `second` resumes and ends the transaction.
async fn resumed_transactions_fence_and_never_get_stuck(label: &str) {
    let topic = create_topic(&format!("2pc-{label}"), 1, &[]).await;

    // A prepared transaction with records: the resumer commits it and takes no records of
    // its own into it; the preparer is fenced afterwards.
    let tid = unique_topic(&format!("tid-2pc-{label}"));
    let first = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
    first.init_transactions().await.unwrap();
    first.begin_transaction().unwrap();
    send_values(&first, &topic, "prepared", 3).await;
    let prepared = first.prepare_transaction().await.unwrap();

    let second = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
    second.resume_transaction(&prepared).await.unwrap();
    let refused = second
        .send(ProducerRecord::new(&topic, "into-the-resumed").with_partition(0))
        .await
        .expect_err("a resumed transaction takes no records");
    assert!(
        matches!(
            refused,
            Error::TransactionState {
                operation: "send",
                ..
            }
        ),
        "{refused}"
    );
    second.commit_transaction().await.unwrap();
    assert_eq!(second.transaction_state(), Some(TxnState::Ready));
    let bumped = second.identity().unwrap();
    assert_eq!(bumped.id, prepared.producer_id);
    assert!(
        bumped.epoch > prepared.producer_epoch,
        "ending the resumed transaction bumps the epoch: {bumped:?} after {prepared:?}"
    );

    // The preparer, still alive, can neither end the transaction nor start another one.
    let zombie = async {
        first.commit_transaction().await?;
        first.begin_transaction()?;
        first
            .send(ProducerRecord::new(&topic, "zombie").with_partition(0))
            .await?
            .await?;
        first.commit_transaction().await
    }
    .await;
    assert!(zombie.is_err(), "the preparing producer is fenced");

    // The resumer goes on with transactions of its own.
    second.begin_transaction().unwrap();
    send_values(&second, &topic, "next", 2).await;
    second.commit_transaction().await.unwrap();

    // An empty prepared transaction ends, committed or aborted, and the resumer goes on.
    for commit in [true, false] {
        let tid = unique_topic(&format!("tid-2pc-empty-{label}"));
        let preparer = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
        preparer.init_transactions().await.unwrap();
        preparer.begin_transaction().unwrap();
        let prepared = preparer.prepare_transaction().await.unwrap();
        let resumer = Producer::new(plain(&[("transactional.id", &tid)])).unwrap();
        resumer.resume_transaction(&prepared).await.unwrap();
        let ended = if commit {
            resumer.commit_transaction().await
        } else {
            resumer.abort_transaction().await
        };
        ended.unwrap_or_else(|e| panic!("ending an empty prepared transaction: {e}"));
        resumer.begin_transaction().unwrap();
        send_values(&resumer, &topic, &format!("after-empty-{commit}"), 1).await;
        resumer.commit_transaction().await.unwrap();
    }

    let mut expected = values("prepared", 3);
    expected.extend(values("next", 2));
    expected.extend(values("after-empty-true", 1));
    expected.extend(values("after-empty-false", 1));
    assert_eq!(read_all(&topic, 1, "read_committed").await, expected);
}

#[tokio::test]
async fn resumed_transaction_fences_the_preparer_and_an_empty_one_ends() {
    let _tv = tv_lock().read().await;
    resumed_transactions_fence_and_never_get_stuck("default").await;
}

#[tokio::test]
async fn resumed_transaction_under_protocol_version_1_fences_the_preparer() {
    let _exclusive = tv_lock().write().await;
    if !Broker::from_env().version_at_least(4, 0) {
        // Kafka 3.9 has only version 1: the test above already ran on it.
        return;
    }
    set_transaction_version(1);
    let _restore = RestoreTransactionVersion;
    resumed_transactions_fence_and_never_get_stuck("v1").await;
}
