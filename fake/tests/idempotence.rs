//! The idempotent producer against scripted faults: the fake checks sequences as a broker
//! does, so a retry of a batch that was written is acknowledged, not written twice.

mod support;

use laminar_kafka_client::kafka_error::KafkaCode;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_fake::{ApiKey, FakeCluster, ResponseError, Rule};
use support::{assert_no_violations, config, send_all, values};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_error_and_dropped_response_leave_no_duplicate_and_keep_order() {
    let cluster = FakeCluster::builder()
        .topic("idem", 1)
        .start()
        .await
        .unwrap();
    // The first produce fails with a retriable error (nothing written); the second is
    // written but its response is lost with the connection.
    let failed = cluster.script(
        Rule::on(ApiKey::Produce)
            .partition("idem", 0)
            .once()
            .fail(ResponseError::NotEnoughReplicas),
    );
    let dropped = cluster.script(
        Rule::on(ApiKey::Produce)
            .partition("idem", 0)
            .once()
            .drop_response(),
    );
    // One request in flight: the retries happen in a fixed order, so the test replays.
    // (With several in flight and this script the client can stall, depending on the order
    // of its retries; `pipelined_batches_survive_a_late_error_and_a_dropped_response` is the
    // replayable pipelined case.)
    let producer = Producer::new(config(
        &cluster,
        &[
            ("enable.idempotence", "true"),
            ("max.in.flight.requests.per.connection", "1"),
            ("linger.ms", "2"),
            ("batch.size", "2048"),
        ],
    ))
    .unwrap();
    let vals = values("idem", 400);
    let delivered = send_all(
        &producer,
        vals.iter().map(|v| ProducerRecord::new("idem", v.clone())),
    )
    .await;
    producer.close().await.unwrap();
    assert_eq!(cluster.rule_hits(failed), 1, "the error was injected");
    assert_eq!(cluster.rule_hits(dropped), 1, "a response was dropped");

    // Every acknowledged record is in the log once, in the order it was sent, at the offset
    // its acknowledgement named.
    let log = cluster.records("idem", 0).unwrap();
    let got: Vec<&[u8]> = log.iter().map(|r| r.value.as_deref().unwrap()).collect();
    let want: Vec<&[u8]> = vals.iter().map(|v| v.as_bytes()).collect();
    assert_eq!(got, want, "no duplicate, no gap, order kept");
    for (m, r) in delivered.iter().zip(&log) {
        assert_eq!(m.offset, r.offset);
    }
    assert!(
        log.iter().all(|r| r.producer_id >= 0),
        "written idempotently"
    );
    assert!(
        cluster.request_count(0, ApiKey::Produce) >= 3,
        "the failed and the dropped request were retried"
    );
    assert_no_violations(&cluster);
}

/// Five requests in flight: the first produce's error comes late, so the batches behind it on
/// the connection reach the fake first and get OUT_OF_ORDER_SEQUENCE_NUMBER (not written);
/// the next request's response is dropped with the connection. Every batch must be retried,
/// in order, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_batches_survive_a_late_error_and_a_dropped_response() {
    let cluster = FakeCluster::builder()
        .topic("pipe", 1)
        .start()
        .await
        .unwrap();
    let late = cluster.script(
        Rule::on(ApiKey::Produce)
            .partition("pipe", 0)
            .once()
            .fail_after(
                ResponseError::NotEnoughReplicas,
                std::time::Duration::from_millis(300),
            ),
    );
    let dropped = cluster.script(
        Rule::on(ApiKey::Produce)
            .partition("pipe", 0)
            .once()
            .drop_response(),
    );
    let producer = Producer::new(config(
        &cluster,
        &[
            ("max.in.flight.requests.per.connection", "5"),
            ("linger.ms", "2"),
            ("batch.size", "2048"),
        ],
    ))
    .unwrap();
    let vals = values("pipe", 400);
    send_all(
        &producer,
        vals.iter().map(|v| ProducerRecord::new("pipe", v.clone())),
    )
    .await;
    producer.close().await.unwrap();
    assert_eq!(cluster.rule_hits(late), 1);
    assert_eq!(cluster.rule_hits(dropped), 1);
    let log = cluster.records("pipe", 0).unwrap();
    let got: Vec<&[u8]> = log.iter().map(|r| r.value.as_deref().unwrap()).collect();
    let want: Vec<&[u8]> = vals.iter().map(|v| v.as_bytes()).collect();
    assert_eq!(got, want, "no duplicate, no gap, order kept");
    assert_no_violations(&cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_response_is_waited_for() {
    let cluster = FakeCluster::builder()
        .topic("slow", 1)
        .start()
        .await
        .unwrap();
    let slow = cluster.script(
        Rule::on(ApiKey::Produce)
            .once()
            .delay(std::time::Duration::from_millis(300)),
    );
    let producer = Producer::new(config(&cluster, &[])).unwrap();
    let vals = values("slow", 20);
    send_all(
        &producer,
        vals.iter().map(|v| ProducerRecord::new("slow", v.clone())),
    )
    .await;
    producer.close().await.unwrap();
    assert_eq!(cluster.rule_hits(slow), 1);
    let log = cluster.records("slow", 0).unwrap();
    assert_eq!(log.len(), 20);
    assert_no_violations(&cluster);
}

/// An idempotent producer refused a producer id (CLUSTER_AUTHORIZATION_FAILED) fails its
/// queued records, and every later send, with that code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_producer_id_fails_queued_and_later_records_with_its_code() {
    let cluster = FakeCluster::builder()
        .topic("denied", 1)
        .start()
        .await
        .unwrap();
    let denied = cluster
        .script(Rule::on(ApiKey::InitProducerId).fail(ResponseError::ClusterAuthorizationFailed));
    let producer = Producer::new(config(&cluster, &[])).unwrap();
    let code = Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED);
    let queued = producer
        .send(ProducerRecord::new("denied", "first"))
        .await
        .unwrap();
    let e = queued.await.expect_err("no producer id: nothing is sent");
    assert!(e.is_fatal(), "{e}");
    assert_eq!(e.kafka_code(), code, "{e}");
    for _ in 0..2 {
        let e = producer
            .send(ProducerRecord::new("denied", "later"))
            .await
            .expect_err("a stopped producer takes no records");
        assert!(e.is_fatal(), "{e}");
        assert_eq!(e.kafka_code(), code, "{e}");
    }
    assert_eq!(cluster.rule_hits(denied), 1, "asked once");
    assert_eq!(producer.identity(), None);
    producer.close().await.unwrap();
    assert!(cluster.records("denied", 0).unwrap().is_empty());
}
