//! KIP-368: a connection re-authenticates before the session lifetime the broker grants runs
//! out, without failing the requests around it.
//!
//! The harness' REAUTH listener (SASL_PLAINTEXT) grants sessions of `KAFKA_REAUTH_MS` (3 s): a
//! client that does not re-authenticate in time is disconnected by the broker.

use std::time::{Duration, Instant};

use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::connection::{Connection, ConnectionConfig};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_client::protocol::messages::messages::MetadataRequest;
use laminar_kafka_tests::{Broker, unique_topic};

fn reauth_config(mechanism: &str) -> ClientConfig {
    let broker = Broker::from_env();
    ClientConfig::from_properties([
        ("bootstrap.servers", broker.reauth.as_str()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", mechanism),
        ("sasl.username", broker.username.as_str()),
        ("sasl.password", broker.password()),
    ])
    .unwrap()
}

#[tokio::test]
async fn a_connection_reauthenticates_with_each_mechanism_before_its_session_ends() {
    let broker = Broker::from_env();
    let session = Duration::from_millis(broker.reauth_ms);
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let config = reauth_config(mechanism);
        let conn = Connection::connect(
            &config.common.bootstrap_servers[0],
            &ConnectionConfig::from_client_config(&config).unwrap(),
        )
        .await
        .unwrap();
        let started = Instant::now();
        // Two and a half session lifetimes of steady requests.
        while started.elapsed() < session * 5 / 2 {
            conn.send(&MetadataRequest::default())
                .await
                .unwrap_or_else(|e| panic!("{mechanism}: a request failed: {e}"));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            conn.reauthentications() >= 2,
            "{mechanism}: re-authenticated {} times in {:?} with {:?} sessions",
            conn.reauthentications(),
            started.elapsed(),
            session
        );
        assert!(
            !conn.is_closed(),
            "{mechanism}: the broker never had to cut the connection"
        );
    }
}

#[tokio::test]
async fn a_long_produce_runs_across_reauthentications_without_losing_records() {
    let broker = Broker::from_env();
    let topic = unique_topic("reauth");
    Admin::new(reauth_config("SCRAM-SHA-512"))
        .unwrap()
        .create_topics(&[NewTopic::new(&topic, 2, 1)])
        .await
        .unwrap();
    let producer = Producer::new(reauth_config("SCRAM-SHA-512")).unwrap();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut deliveries = Vec::new();
    while started.elapsed() < Duration::from_millis(broker.reauth_ms * 3) {
        deliveries.push(
            producer
                .send(ProducerRecord::new(&topic, format!("r-{sent}")))
                .await
                .unwrap(),
        );
        sent += 1;
        if sent.is_multiple_of(100) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let mut offsets = 0;
    for d in deliveries {
        d.await.expect("acknowledged across re-authentications");
        offsets += 1;
    }
    producer.close().await.unwrap();
    assert_eq!(offsets, sent);
    assert!(sent > 1000, "the produce ran long enough: {sent} records");
}

/// Requests sent back to back from two tasks keep passing through re-authentications: a
/// request never waits at the re-authentication gate while the re-authentication waits for it.
#[tokio::test]
async fn back_to_back_requests_from_two_tasks_never_stall_at_a_reauthentication() {
    let broker = Broker::from_env();
    let session = Duration::from_millis(broker.reauth_ms);
    let config = reauth_config("SCRAM-SHA-256");
    let conn = Connection::connect(
        &config.common.bootstrap_servers[0],
        &ConnectionConfig::from_client_config(&config).unwrap(),
    )
    .await
    .unwrap();
    let run_for = session * 5 / 2;
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let mut slowest = Duration::ZERO;
                let mut sent = 0u64;
                while started.elapsed() < run_for {
                    let at = Instant::now();
                    conn.send(&MetadataRequest::default())
                        .await
                        .unwrap_or_else(|e| panic!("request {sent} failed: {e}"));
                    slowest = slowest.max(at.elapsed());
                    sent += 1;
                }
                (sent, slowest)
            })
        })
        .collect();
    for task in tasks {
        let (sent, slowest) = task.await.unwrap();
        assert!(sent > 100, "only {sent} requests in {run_for:?}");
        assert!(
            slowest < Duration::from_secs(1),
            "a request took {slowest:?} (of {sent})"
        );
    }
    assert!(
        conn.reauthentications() >= 2,
        "re-authenticated {} times in {run_for:?} with {session:?} sessions",
        conn.reauthentications()
    );
    assert!(!conn.is_closed());
}
