//! The broker harness itself: every listener and mechanism carries messages for the interop peers
//! (kcat, the Java console tools), and wrong credentials or a wrong CA fail as they should. If these
//! fail, every other broker test's failure is suspect.

use std::time::Duration;

use laminar_kafka_tests::{Broker, SaslMechanism, Security, unique_topic};

/// Deadline of runs that are expected to fail: kcat keeps retrying until its metadata timeout.
const SHORT: Duration = Duration::from_secs(5);

fn values(topic: &str) -> Vec<String> {
    (0..3).map(|i| format!("{topic}-value-{i}")).collect()
}

fn kcat_round_trip(security: Security) {
    let broker = Broker::from_env();
    let topic = unique_topic("harness-kcat");
    broker.create_topic(&topic, 1).unwrap();
    let sent = values(&topic);
    let sent_refs: Vec<&str> = sent.iter().map(String::as_str).collect();
    broker
        .kcat(security)
        .produce(&topic, &sent_refs)
        .unwrap_or_else(|e| panic!("kcat produce over {security}: {e}"));
    let received = broker
        .kcat(security)
        .consume(&topic, sent.len())
        .unwrap_or_else(|e| panic!("kcat consume over {security}: {e}"));
    assert_eq!(received, sent, "over {security}");
}

fn java_round_trip(security: Security) {
    let broker = Broker::from_env();
    let topic = unique_topic("harness-java");
    broker.create_topic(&topic, 1).unwrap();
    let sent = values(&topic);
    let sent_refs: Vec<&str> = sent.iter().map(String::as_str).collect();
    broker
        .java(security)
        .produce(&topic, &sent_refs)
        .unwrap_or_else(|e| panic!("Java console producer over {security}: {e}"));
    let received = broker
        .java(security)
        .consume(&topic, sent.len())
        .unwrap_or_else(|e| panic!("Java console consumer over {security}: {e}"));
    assert_eq!(received, sent, "over {security}");
}

#[test]
fn kcat_round_trip_over_plaintext() {
    kcat_round_trip(Security::Plaintext);
}

#[test]
fn kcat_round_trip_over_sasl_plaintext_with_plain() {
    kcat_round_trip(Security::SaslPlaintext(SaslMechanism::Plain));
}

#[test]
fn kcat_round_trip_over_ssl_without_client_certificate() {
    kcat_round_trip(Security::Ssl);
}

#[test]
fn kcat_round_trip_over_ssl_with_client_certificate() {
    kcat_round_trip(Security::SslClientCert);
}

#[test]
fn kcat_round_trip_over_sasl_ssl_with_plain() {
    kcat_round_trip(Security::SaslSsl(SaslMechanism::Plain));
}

/// Debian's kcat cannot do SCRAM against Kafka 4 (librdkafka < 2.6.1): where it can, the round
/// trip must work; where it cannot, the failure must be the known authentication error, so that a
/// change in either shows up here.
#[test]
fn kcat_scram_works_or_fails_only_with_the_known_librdkafka_limitation() {
    let broker = Broker::from_env();
    for mechanism in [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512] {
        let security = Security::SaslSsl(mechanism);
        if broker.kcat_supports_scram().unwrap() {
            kcat_round_trip(security);
        } else {
            let error = broker.kcat(security).timeout(SHORT).metadata().expect_err(
                "kcat SCRAM against Kafka 4 was expected to fail; update kcat_supports_scram",
            );
            let stderr = error.stderr().unwrap_or_default();
            assert!(
                stderr.contains("Authentication failed"),
                "{mechanism}: {error}"
            );
        }
    }
}

#[test]
fn java_console_round_trip_over_sasl_ssl_with_scram_sha_512() {
    java_round_trip(Security::SaslSsl(SaslMechanism::ScramSha512));
}

#[test]
fn java_console_round_trip_over_sasl_ssl_with_scram_sha_256() {
    java_round_trip(Security::SaslSsl(SaslMechanism::ScramSha256));
}

#[test]
fn java_console_round_trip_over_sasl_ssl_with_plain() {
    java_round_trip(Security::SaslSsl(SaslMechanism::Plain));
}

#[test]
fn java_console_round_trip_over_sasl_plaintext_with_scram_sha_256() {
    java_round_trip(Security::SaslPlaintext(SaslMechanism::ScramSha256));
}

#[test]
fn java_console_round_trip_over_ssl_with_client_certificate() {
    java_round_trip(Security::SslClientCert);
}

#[test]
fn wrong_plain_password_is_rejected() {
    let broker = Broker::from_env();
    for security in [
        Security::SaslPlaintext(SaslMechanism::Plain),
        Security::SaslSsl(SaslMechanism::Plain),
    ] {
        let error = broker
            .kcat(security)
            .password("not-the-password")
            .timeout(SHORT)
            .metadata()
            .expect_err("a wrong PLAIN password must not authenticate");
        let stderr = error.stderr().unwrap_or_default();
        assert!(
            stderr.contains("Authentication failed: Invalid username or password"),
            "{security}: {error}"
        );
        assert!(!error.to_string().contains("not-the-password"), "{error}");
    }
}

#[test]
fn wrong_scram_password_is_rejected() {
    let broker = Broker::from_env();
    for mechanism in [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512] {
        let security = Security::SaslSsl(mechanism);
        // The right password works with the same client, so the failure below is the password's.
        broker.java(security).list_topics().unwrap();
        let error = broker
            .java(security)
            .password("not-the-password")
            .list_topics()
            .expect_err("a wrong SCRAM password must not authenticate");
        let message = error.to_string();
        assert!(
            message.contains("Authentication failed") && message.contains(mechanism.name()),
            "{mechanism}: {message}"
        );
        assert!(!message.contains("not-the-password"), "{message}");
    }
}

#[test]
fn unrelated_ca_fails_the_tls_handshake() {
    let broker = Broker::from_env();
    for security in [Security::Ssl, Security::SaslSsl(SaslMechanism::Plain)] {
        broker.kcat(security).metadata().unwrap();
        let error = broker
            .kcat(security)
            .ca_file(&broker.bad_ca_file)
            .timeout(SHORT)
            .metadata()
            .expect_err("a server certificate from another CA must be rejected");
        let stderr = error.stderr().unwrap_or_default();
        assert!(
            stderr.contains("certificate verify failed"),
            "{security}: {error}"
        );
    }
}

#[test]
fn topics_are_not_created_on_first_use() {
    let broker = Broker::from_env();
    let topic = unique_topic("harness-absent");
    let kcat = broker.kcat(Security::Plaintext);
    for _ in 0..2 {
        // Asked twice: a broker that auto-created topics would know it the second time.
        let listing = kcat.topic_metadata(&topic).unwrap();
        assert!(
            listing.contains(&format!(
                "topic \"{topic}\" with 0 partitions: Broker: Unknown topic or partition"
            )),
            "{listing}"
        );
    }
    let created = unique_topic("harness-present");
    broker.create_topic(&created, 2).unwrap();
    let listing = kcat.topic_metadata(&created).unwrap();
    assert!(
        listing.contains(&format!("topic \"{created}\" with 2 partitions:")),
        "{listing}"
    );
}
