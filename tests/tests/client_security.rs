//! The client on every listener of the harness broker: produce and consume over PLAINTEXT,
//! SASL_PLAINTEXT and SASL_SSL with each mechanism, SSL with and without a client certificate;
//! and the errors users see for wrong credentials, an untrusted CA, unreachable or silent
//! bootstrap servers, and topics that do not exist.

use laminar_kafka_tests as support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use laminar_kafka_client::Error;
use laminar_kafka_client::admin::Admin;
use laminar_kafka_client::cluster::Cluster;
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::producer::partitioner::partition_for_key;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_client::sasl::SaslError;
use laminar_kafka_client::tls::TlsError;
use laminar_kafka_tests::{SaslMechanism, Security, unique_topic};
use support::{broker, client_config, connect_plaintext, consume_exactly, create_topics, send_all};

const PARTITIONS: i32 = 3;

/// Produces keyed records with our producer and reads them back with our consumer, both over
/// `security`; checks that the clients stayed on that listener (the broker advertises one
/// address per listener).
async fn round_trip(security: Security) {
    let broker = broker();
    let conn = connect_plaintext(broker).await;
    let topic = unique_topic(&format!("client-security-{security}"));
    create_topics(&conn, &[(&topic, PARTITIONS)]).await;

    let producer = Producer::new(client_config(broker, security, &[])).expect("producer");
    let records: Vec<(String, String)> = (0..60)
        .map(|i| (format!("key-{i}"), format!("{security} value {i}")))
        .collect();
    let delivered = send_all(
        &producer,
        records
            .iter()
            .map(|(k, v)| ProducerRecord::new(topic.clone(), v.clone()).with_key(k.clone())),
    )
    .await;
    for ((key, _), metadata) in records.iter().zip(&delivered) {
        assert_eq!(
            metadata.partition,
            partition_for_key(key.as_bytes(), PARTITIONS as usize),
            "{key}"
        );
    }
    let listener_address = broker.bootstrap(security.listener()).to_owned();
    let producer_brokers: Vec<String> = producer
        .cluster()
        .metadata()
        .brokers()
        .map(|b| b.address.clone())
        .collect();
    assert_eq!(
        producer_brokers,
        vec![listener_address.clone()],
        "over {security}"
    );
    producer.close().await.expect("close");

    let cluster = Cluster::new(client_config(broker, security, &[])).expect("cluster");
    let consumer = Consumer::with_cluster(cluster.clone()).expect("consumer");
    let assignment: Vec<(String, i32)> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
    consumer.assign(&assignment).expect("assign");
    for tp in &assignment {
        consumer.seek(tp, SeekTo::Earliest).expect("seek");
    }
    let consumed = consume_exactly(&consumer, records.len()).await;
    let mut got: Vec<(String, String, i32)> = consumed
        .iter()
        .map(|c| {
            (
                String::from_utf8(c.rec.key.clone().expect("key")).unwrap(),
                String::from_utf8(c.rec.value.clone().expect("value")).unwrap(),
                c.partition,
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String, i32)> = records
        .iter()
        .zip(&delivered)
        .map(|((k, v), m)| (k.clone(), v.clone(), m.partition))
        .collect();
    want.sort();
    assert_eq!(got, want, "over {security}");
    let consumer_brokers: Vec<String> = cluster
        .metadata()
        .brokers()
        .map(|b| b.address.clone())
        .collect();
    assert_eq!(consumer_brokers, vec![listener_address], "over {security}");
    consumer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_plaintext() {
    round_trip(Security::Plaintext).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_sasl_plaintext_with_plain() {
    round_trip(Security::SaslPlaintext(SaslMechanism::Plain)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_sasl_plaintext_with_scram_sha_256() {
    round_trip(Security::SaslPlaintext(SaslMechanism::ScramSha256)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_sasl_plaintext_with_scram_sha_512() {
    round_trip(Security::SaslPlaintext(SaslMechanism::ScramSha512)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_ssl() {
    round_trip(Security::Ssl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_mutual_tls() {
    round_trip(Security::SslClientCert).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_sasl_ssl_with_plain() {
    round_trip(Security::SaslSsl(SaslMechanism::Plain)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_sasl_ssl_with_scram_sha_256() {
    round_trip(Security::SaslSsl(SaslMechanism::ScramSha256)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_over_sasl_ssl_with_scram_sha_512() {
    round_trip(Security::SaslSsl(SaslMechanism::ScramSha512)).await;
}

const WRONG_PASSWORD: &str = "not-the-password-4711";

/// A wrong password fails `send` at once (authentication errors are not retried) with the typed
/// SASL error naming the mechanism and carrying the broker's authentication-failed code; the
/// password appears neither in the message nor in `Debug`.
async fn wrong_password_is_a_typed_sasl_error(security: Security) {
    let broker = broker();
    let mechanism = security.mechanism().expect("a SASL setup");
    let conn = connect_plaintext(broker).await;
    let topic = unique_topic("client-wrong-password");
    create_topics(&conn, &[(&topic, 1)]).await;
    let config = client_config(
        broker,
        security,
        &[("sasl.password", WRONG_PASSWORD), ("max.block.ms", "20000")],
    );
    let producer = Producer::new(config).expect("producer");
    let started = Instant::now();
    let error = producer
        .send(ProducerRecord::new(topic.clone(), "never written"))
        .await
        .expect_err("a wrong password must fail");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "authentication failure took {:?}: it must not be retried until max.block.ms",
        started.elapsed()
    );
    let message = error.to_string();
    let debug = format!("{error:?}");
    assert!(
        !message.contains(WRONG_PASSWORD) && !debug.contains(WRONG_PASSWORD),
        "{debug}"
    );
    assert!(
        !message.contains(broker.password()) && !debug.contains(broker.password()),
        "{debug}"
    );
    match &error {
        Error::Sasl { source, .. } => match source {
            SaslError::AuthenticationFailed {
                mechanism: m,
                error_code,
                ..
            } => {
                assert_eq!(m.name(), mechanism.name(), "{message}");
                assert_eq!(
                    *error_code, 58,
                    "SASL_AUTHENTICATION_FAILED expected: {message}"
                );
            }
            other => panic!("expected AuthenticationFailed over {security}, got {other:?}"),
        },
        other => panic!("expected Error::Sasl over {security}, got {other:?}"),
    }
    assert!(message.contains(mechanism.name()), "{message}");
    assert!(!error.is_retriable(), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_with_plain_over_sasl_plaintext() {
    wrong_password_is_a_typed_sasl_error(Security::SaslPlaintext(SaslMechanism::Plain)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_with_scram_sha_256_over_sasl_plaintext() {
    wrong_password_is_a_typed_sasl_error(Security::SaslPlaintext(SaslMechanism::ScramSha256)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_with_scram_sha_512_over_sasl_ssl() {
    wrong_password_is_a_typed_sasl_error(Security::SaslSsl(SaslMechanism::ScramSha512)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_with_plain_over_sasl_ssl() {
    wrong_password_is_a_typed_sasl_error(Security::SaslSsl(SaslMechanism::Plain)).await;
}

/// A CA that did not sign the broker's certificate: the handshake fails with a TLS error that
/// says the issuer is unknown, for SSL and for SASL_SSL (before any credential is sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_is_a_tls_unknown_issuer_error() {
    let broker = broker();
    for security in [Security::Ssl, Security::SaslSsl(SaslMechanism::ScramSha256)] {
        let config = client_config(
            broker,
            security,
            &[("ssl.ca.location", &broker.bad_ca_file.display().to_string())],
        );
        let admin = Admin::new(config).expect("admin");
        let started = Instant::now();
        let error = admin
            .list_topics()
            .await
            .expect_err("an untrusted CA must fail");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let message = error.to_string();
        match &error {
            Error::Tls {
                source: TlsError::Handshake { .. },
                ..
            } => {}
            other => panic!("expected a TLS handshake error over {security}, got {other:?}"),
        }
        assert!(message.contains("UnknownIssuer"), "{message}");
        assert!(!error.is_retriable(), "{message}");
    }
}

/// A port nothing listens on: the connect is refused at once, a typed connect error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_bootstrap_fails_at_once_with_a_connect_error() {
    let _broker = broker();
    let mut config = laminar_kafka_client::config::ClientConfig::new("127.0.0.1:1").unwrap();
    config
        .set("socket.connection.setup.timeout.ms", "2000")
        .unwrap();
    let admin = Admin::new(config).expect("admin");
    let started = Instant::now();
    let error = admin
        .list_topics()
        .await
        .expect_err("nothing listens on port 1");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
}

/// A socket that accepts TCP connections (the kernel completes the handshake into the backlog)
/// but never answers: the connection setup gives up after `socket.connection.setup.timeout.ms`,
/// not later and not never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_bootstrap_times_out_within_the_setup_timeout() {
    let _broker = broker();
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = blackhole.local_addr().unwrap().to_string();
    let setup_timeout = Duration::from_millis(1500);
    let mut config = laminar_kafka_client::config::ClientConfig::new(&address).unwrap();
    config
        .set(
            "socket.connection.setup.timeout.ms",
            &setup_timeout.as_millis().to_string(),
        )
        .unwrap();
    let admin = Admin::new(config).expect("admin");
    let started = Instant::now();
    let error = admin
        .list_topics()
        .await
        .expect_err("a silent broker must fail");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= setup_timeout && elapsed < setup_timeout + Duration::from_secs(2),
        "gave up after {elapsed:?} with a setup timeout of {setup_timeout:?}"
    );
    match &error {
        Error::ConnectTimeout { broker, timeout } => {
            assert_eq!(broker, &address);
            assert_eq!(*timeout, setup_timeout);
        }
        other => panic!("expected ConnectTimeout, got {other:?}"),
    }

    // The producer waits for metadata at most max.block.ms, then fails with a typed error.
    let mut config = laminar_kafka_client::config::ClientConfig::new(&address).unwrap();
    config
        .set("socket.connection.setup.timeout.ms", "500")
        .unwrap();
    config.set("max.block.ms", "2000").unwrap();
    let producer = Producer::new(config).expect("producer");
    let started = Instant::now();
    let error = producer
        .send(ProducerRecord::new("anything", "value"))
        .await
        .expect_err("no metadata from a silent broker");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(2000 + 500 + 1500),
        "took {elapsed:?}"
    );
    assert!(
        matches!(error, Error::MaxBlock { .. } | Error::ConnectTimeout { .. }),
        "{error:?}"
    );
    drop(blackhole);
}

fn assert_unknown_topic(error: &Error) {
    match error {
        Error::Broker { code, .. } => {
            assert_eq!(code.code(), 3, "{error}");
            assert_eq!(code.name(), "UnknownTopicOrPartition", "{error}");
        }
        other => panic!("expected UnknownTopicOrPartition, got {other:?}"),
    }
}

/// Producing to, or consuming from, a topic that does not exist is the broker's
/// UNKNOWN_TOPIC_OR_PARTITION as a typed error (the client never creates topics).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_topic_is_unknown_topic_or_partition_for_producer_and_consumer() {
    let broker = broker();
    let topic = unique_topic("client-no-such-topic");
    let producer = Producer::new(client_config(
        broker,
        Security::Plaintext,
        &[("max.block.ms", "1500")],
    ))
    .expect("producer");
    let started = Instant::now();
    let error = producer
        .send(ProducerRecord::new(topic.clone(), Bytes::from_static(b"v")))
        .await
        .expect_err("the topic does not exist");
    // The producer waits up to max.block.ms for the topic to appear, as the Java client does,
    // then reports it as unknown.
    assert!(
        started.elapsed() >= Duration::from_millis(1000)
            && started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_unknown_topic(&error);
    assert!(error.to_string().contains(&topic), "{error}");

    let consumer = Consumer::new(client_config(
        broker,
        Security::Plaintext,
        &[("auto.offset.reset", "earliest")],
    ))
    .expect("consumer");
    consumer.assign(&[(topic.clone(), 0)]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        match consumer.poll(Duration::from_millis(500)).await {
            Err(e) => break e,
            Ok(polled) => assert!(polled.is_empty(), "records from a missing topic"),
        }
        assert!(
            Instant::now() < deadline,
            "no error for a missing topic within 10 s"
        );
    };
    assert_unknown_topic(&error);
    // Leave nothing behind: the topic must still not exist (no auto-creation by the client).
    let admin = Admin::new(client_config(broker, Security::Plaintext, &[])).unwrap();
    assert!(!admin.list_topics().await.unwrap().contains(&topic));
}
