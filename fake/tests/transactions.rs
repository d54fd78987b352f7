//! Transactions through the fake's coordinator: control records, the last stable offset and
//! aborted transactions make only committed records visible to read_committed.

mod support;

use std::time::{Duration, Instant};

use laminar_kafka_client::kafka_error::KafkaCode;
use laminar_kafka_client::producer::{ConsumerGroupMetadata, Producer, ProducerRecord, TxnState};
use laminar_kafka_fake::{ApiKey, FakeCluster, ResponseError, Rule};
use support::{
    assert_no_violations, config, consume_exactly, consume_for, consumer_from_beginning, values,
};

async fn send_in_txn(producer: &Producer, topic: &str, vals: &[String], commit: bool) {
    producer.begin_transaction().unwrap();
    let mut futures = Vec::new();
    for v in vals {
        futures.push(
            producer
                .send(ProducerRecord::new(topic.to_owned(), v.clone()))
                .await
                .unwrap(),
        );
    }
    if commit {
        producer.commit_transaction().await.unwrap();
        for f in futures {
            f.await.unwrap();
        }
    } else {
        producer.flush().await.unwrap();
        producer.abort_transaction().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_sees_committed_transactions_only() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("txn", 1)
        .start()
        .await
        .unwrap();
    let producer = Producer::new(config(&cluster, &[("transactional.id", "fake-txn-1")])).unwrap();
    producer.init_transactions().await.unwrap();
    let committed = values("committed", 30);
    let aborted = values("aborted", 30);
    let later = values("later", 30);
    send_in_txn(&producer, "txn", &committed, true).await;
    send_in_txn(&producer, "txn", &aborted, false).await;
    send_in_txn(&producer, "txn", &later, true).await;
    producer.close().await.unwrap();

    let log = cluster.records("txn", 0).unwrap();
    assert_eq!(log.len(), 90);
    assert!(log.iter().all(|r| r.transactional && !r.pending));
    assert_eq!(log.iter().filter(|r| r.aborted).count(), 30);
    // Three markers: the high watermark is past them.
    assert_eq!(cluster.high_watermark("txn", 0).unwrap(), 93);

    let consumer = consumer_from_beginning(
        config(&cluster, &[("isolation.level", "read_committed")]),
        "txn",
        1,
    );
    let got: Vec<Vec<u8>> = consume_exactly(&consumer, 60)
        .await
        .into_iter()
        .map(|c| c.2)
        .collect();
    let want: Vec<Vec<u8>> = committed
        .iter()
        .chain(&later)
        .map(|v| v.clone().into_bytes())
        .collect();
    assert_eq!(got, want);
    assert!(
        consume_for(&consumer, Duration::from_millis(300))
            .await
            .is_empty()
    );
    consumer.close().await;

    let uncommitted = consumer_from_beginning(
        config(&cluster, &[("isolation.level", "read_uncommitted")]),
        "txn",
        1,
    );
    assert_eq!(consume_exactly(&uncommitted, 90).await.len(), 90);
    uncommitted.close().await;
    assert_no_violations(&cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_holds_read_committed_back() {
    let cluster = FakeCluster::builder()
        .topic("open", 1)
        .start()
        .await
        .unwrap();
    let producer =
        Producer::new(config(&cluster, &[("transactional.id", "fake-txn-open")])).unwrap();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    let open = values("open", 5);
    for v in &open {
        producer
            .send(ProducerRecord::new("open", v.clone()))
            .await
            .unwrap();
    }
    producer.flush().await.unwrap();
    assert!(
        cluster
            .records("open", 0)
            .unwrap()
            .iter()
            .all(|r| r.pending)
    );

    let consumer = consumer_from_beginning(
        config(&cluster, &[("isolation.level", "read_committed")]),
        "open",
        1,
    );
    assert!(
        consume_for(&consumer, Duration::from_millis(500))
            .await
            .is_empty()
    );
    producer.commit_transaction().await.unwrap();
    assert_eq!(consume_exactly(&consumer, 5).await.len(), 5);
    consumer.close().await;
    producer.close().await.unwrap();
    assert_no_violations(&cluster);
}

/// Under transaction protocol v2 a produce adds its partition itself, and the broker answers
/// CONCURRENT_TRANSACTIONS while the previous transaction's markers are still being written.
/// That is retriable (as in the Java client): the batch is sent again and the transaction
/// commits, instead of turning abortable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_answered_concurrent_transactions_is_retried_and_the_transaction_commits() {
    let cluster = FakeCluster::builder()
        .topic("txn-concurrent", 1)
        .start()
        .await
        .unwrap();
    let refused = cluster.script(
        Rule::on(ApiKey::Produce)
            .partition("txn-concurrent", 0)
            .times(2)
            .fail(ResponseError::ConcurrentTransactions),
    );
    let producer = Producer::new(config(
        &cluster,
        &[("transactional.id", "fake-txn-concurrent")],
    ))
    .unwrap();
    producer.init_transactions().await.unwrap();
    let first = values("first", 20);
    send_in_txn(&producer, "txn-concurrent", &first, true).await;
    producer.close().await.unwrap();
    assert_eq!(
        cluster.rule_hits(refused),
        2,
        "the script answered CONCURRENT_TRANSACTIONS"
    );

    let log = cluster.records("txn-concurrent", 0).unwrap();
    let committed: Vec<&[u8]> = log
        .iter()
        .filter(|r| !r.aborted)
        .map(|r| r.value.as_deref().unwrap_or_default())
        .collect();
    let want: Vec<&[u8]> = first.iter().map(|v| v.as_bytes()).collect();
    assert_eq!(committed, want, "every record once, in order, committed");
    assert_no_violations(&cluster);
}

/// A Produce answered PRODUCER_FENCED stops the producer: the record fails with the code, and
/// every later call repeats it with the same code (not only the first error that reported it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_producer_reports_producer_fenced_on_every_later_call() {
    let cluster = FakeCluster::builder()
        .topic("fenced", 1)
        .start()
        .await
        .unwrap();
    let fenced = cluster.script(
        Rule::on(ApiKey::Produce)
            .partition("fenced", 0)
            .once()
            .fail(ResponseError::ProducerFenced),
    );
    let producer =
        Producer::new(config(&cluster, &[("transactional.id", "fake-txn-fenced")])).unwrap();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    let delivery = producer
        .send(ProducerRecord::new("fenced", "zombie"))
        .await
        .unwrap();
    let e = delivery.await.expect_err("the broker fenced the producer");
    assert!(e.is_fatal(), "{e}");
    assert_eq!(e.kafka_code(), Some(KafkaCode::PRODUCER_FENCED), "{e}");
    assert_eq!(cluster.rule_hits(fenced), 1);

    let later = [
        producer
            .send(ProducerRecord::new("fenced", "after"))
            .await
            .map(drop),
        producer.commit_transaction().await,
        producer.abort_transaction().await,
        producer.begin_transaction(),
    ];
    for e in later {
        let e = e.expect_err("a fenced producer refuses every call");
        assert!(e.is_fatal(), "{e}");
        assert_eq!(e.kafka_code(), Some(KafkaCode::PRODUCER_FENCED), "{e}");
    }
    match producer.transaction_state() {
        Some(TxnState::FatalError(cause)) => {
            assert_eq!(cause.code(), Some(KafkaCode::PRODUCER_FENCED))
        }
        other => panic!("fatally failed, not {other:?}"),
    }
    producer.close().await.unwrap();
    assert!(
        cluster.records("fenced", 0).unwrap().is_empty(),
        "nothing written"
    );
}

/// A transactional id the producer may not use stops it at `init_transactions`; later calls
/// say so with the same code, so that a caller tells it from a fenced producer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_transactional_id_reports_its_code_on_every_later_call() {
    let cluster = FakeCluster::builder()
        .topic("refused", 1)
        .start()
        .await
        .unwrap();
    let refused = cluster.script(
        Rule::on(ApiKey::InitProducerId)
            .key("fake-txn-refused")
            .fail(ResponseError::TransactionalIdAuthorizationFailed),
    );
    let producer = Producer::new(config(
        &cluster,
        &[("transactional.id", "fake-txn-refused")],
    ))
    .unwrap();
    let code = Some(KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    let e = producer.init_transactions().await.unwrap_err();
    assert!(e.is_fatal(), "{e}");
    assert_eq!(e.kafka_code(), code, "{e}");
    let later = [
        producer.init_transactions().await,
        producer.begin_transaction(),
        producer
            .send(ProducerRecord::new("refused", "v"))
            .await
            .map(drop),
    ];
    for e in later {
        let e = e.expect_err("a refused producer refuses every call");
        assert!(e.is_fatal(), "{e}");
        assert_eq!(e.kafka_code(), code, "{e}");
    }
    assert_eq!(
        cluster.rule_hits(refused),
        1,
        "a stopped producer asks the coordinator nothing more"
    );
    producer.close().await.unwrap();
}

fn requests_of(cluster: &FakeCluster, api: ApiKey) -> usize {
    cluster.requests().iter().filter(|r| r.api == api).count()
}

/// A transaction in which nothing was sent and no offsets were added ends locally: neither
/// commit nor abort sends EndTxn (the coordinator never heard of it), and the producer is ready
/// for the next one, which does end with EndTxn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_transaction_ends_without_end_txn() {
    let cluster = FakeCluster::builder()
        .topic("empty", 1)
        .start()
        .await
        .unwrap();
    let producer =
        Producer::new(config(&cluster, &[("transactional.id", "fake-txn-empty")])).unwrap();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    producer.commit_transaction().await.unwrap();
    assert_eq!(producer.transaction_state(), Some(TxnState::Ready));
    producer.begin_transaction().unwrap();
    producer.abort_transaction().await.unwrap();
    assert_eq!(producer.transaction_state(), Some(TxnState::Ready));
    assert_eq!(
        requests_of(&cluster, ApiKey::EndTxn),
        0,
        "nothing to end at the coordinator"
    );
    assert_eq!(requests_of(&cluster, ApiKey::AddPartitionsToTxn), 0);

    send_in_txn(&producer, "empty", &values("kept", 3), true).await;
    assert_eq!(requests_of(&cluster, ApiKey::EndTxn), 1);
    producer.close().await.unwrap();
    let log = cluster.records("empty", 0).unwrap();
    assert_eq!(log.len(), 3);
    assert!(
        log.iter()
            .all(|r| r.transactional && !r.pending && !r.aborted)
    );
    assert_no_violations(&cluster);
}

/// The coordinator requests of a transactional call run beside the produce work: while
/// TxnOffsetCommit waits for its answer, records sent in the same transaction are written and
/// acknowledged, and the commit then carries both. (A broker answers one connection's requests
/// in order, so the group's coordinator is a broker that neither leads the partition nor
/// coordinates the transaction.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_delivered_while_a_coordinator_request_waits() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .topic("beside", 1)
        .start()
        .await
        .unwrap();
    let tid = "fake-txn-beside";
    let group_id = (0..100)
        .map(|i| format!("fake-beside-group-{i}"))
        .find(|g| cluster.coordinator(g) != cluster.coordinator(tid))
        .expect("a group coordinated elsewhere");
    let group_coordinator = cluster.coordinator(&group_id);
    if cluster.leader("beside", 0).unwrap().0 == group_coordinator {
        let other = cluster
            .broker_ids()
            .into_iter()
            .find(|b| *b != group_coordinator)
            .unwrap();
        cluster.move_leader("beside", 0, other).unwrap();
    }
    let slow = cluster.script(
        Rule::on(ApiKey::TxnOffsetCommit)
            .once()
            .delay(Duration::from_millis(1500)),
    );
    let producer = Producer::new(config(&cluster, &[("transactional.id", tid)])).unwrap();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    // The topic's metadata and the partition's place in the transaction come first: a
    // Metadata request on the group coordinator's connection would wait behind the delay.
    producer
        .send(ProducerRecord::new("beside", "first"))
        .await
        .unwrap()
        .await
        .unwrap();
    let group = ConsumerGroupMetadata::new(group_id.clone());
    let offsets = [(("beside".to_owned(), 0), 42)];
    let started = Instant::now();
    let send_offsets = async {
        producer
            .send_offsets_to_transaction(&offsets, &group)
            .await
            .unwrap();
        started.elapsed()
    };
    let produce = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut deliveries = Vec::new();
        for v in values("beside", 10) {
            deliveries.push(
                producer
                    .send(ProducerRecord::new("beside", v))
                    .await
                    .unwrap(),
            );
        }
        for d in deliveries {
            d.await.unwrap();
        }
        started.elapsed()
    };
    let (offsets_done, produce_done) = tokio::join!(send_offsets, produce);
    assert_eq!(cluster.rule_hits(slow), 1);
    assert!(
        offsets_done >= Duration::from_millis(1500),
        "TxnOffsetCommit was delayed: {offsets_done:?}"
    );
    assert!(
        produce_done < offsets_done,
        "records acknowledged after {produce_done:?}, only once TxnOffsetCommit answered \
         ({offsets_done:?})"
    );
    producer.commit_transaction().await.unwrap();
    producer.close().await.unwrap();
    assert_eq!(cluster.committed_offset(&group_id, "beside", 0), Some(42));
    let log = cluster.records("beside", 0).unwrap();
    assert_eq!(log.len(), 11);
    assert!(
        log.iter()
            .all(|r| r.transactional && !r.pending && !r.aborted)
    );
    assert_no_violations(&cluster);
}
