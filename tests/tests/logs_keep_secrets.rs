//! The client's events hold no secret, at any level: every event of every crate (ours by area
//! target, rustls' `log` records through the bridge) is captured at TRACE while the client
//! connects through each listener and SASL mechanism of the harness broker (PLAINTEXT, SSL with
//! and without a client certificate, SASL_PLAINTEXT and SASL_SSL with PLAIN, SCRAM-SHA-256 and
//! SCRAM-SHA-512, the re-authentication listener, OAUTHBEARER), produces and consumes a record
//! on each, and fails to authenticate with a wrong password (or a rejected token) on each
//! mechanism. The capture must hold the expected events, and none of the secrets, raw or in the
//! encodings the mechanisms send them in.

use laminar_kafka_tests as support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use laminar_kafka_client::Error;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::connection::{Connection, ConnectionConfig};
use laminar_kafka_client::consumer::{GroupConsumer, Subscription};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_client::protocol::messages::messages::MetadataRequest;
use laminar_kafka_client::sasl::oauthbearer::{
    OauthBearerToken, StaticTokenProvider, TokenProvider, unsecured_jws,
};
use laminar_kafka_tests::group::broker_runs_the_consumer_protocol;
use laminar_kafka_tests::{Broker, SaslMechanism, Security, unique_topic};
use support::{
    client_config, connect_plaintext, consume_exactly, consumer_from_beginning, create_topics,
    send_all,
};
use tracing_subscriber::fmt::MakeWriter;

/// The wrong password of the failing authentications: a secret like the right one.
const WRONG_PASSWORD: &str = "wrong-pa55word-for-the-log-test";

/// Where the events go: one buffer for the whole test binary.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A TRACE subscriber for everything, writing into `capture` (no colours, every field).
fn subscriber(capture: Capture) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(capture)
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish()
}

/// The process' subscriber, installed once (with the `log` bridge, so that rustls' records
/// are captured too).
fn global_capture() -> Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            tracing_subscriber::fmt()
                .with_writer(capture.clone())
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .try_init()
                .expect("the only subscriber of this test binary");
            capture
        })
        .clone()
}

/// The forms a secret may take in a log, by name: itself, base64 (standard and URL-safe) of
/// itself and of the PLAIN message that carries it (`\0user\0password`).
fn secret_forms(username: &str, secret: &str) -> [(&'static str, String); 5] {
    let plain_message = format!("\0{username}\0{secret}");
    [
        ("raw", secret.to_owned()),
        ("base64", STANDARD.encode(secret)),
        ("base64url", URL_SAFE_NO_PAD.encode(secret)),
        ("PLAIN message in base64", STANDARD.encode(&plain_message)),
        // The PLAIN message as Rust's `Debug` shows it (`\0` escaped).
        (
            "PLAIN message in Debug",
            format!("{plain_message:?}").trim_matches('"').to_owned(),
        ),
    ]
}

/// Markers of SASL messages that must never be logged: SCRAM's client-final-message (with its
/// proof) and OAUTHBEARER's initial response (with its token).
const SASL_MESSAGE_MARKERS: [&str; 3] = ["c=biws,r=", ",p=", "auth=Bearer"];

/// Every form of every secret, and every SASL message marker, found in `output`: described
/// by the secret's index and the form's name, so that a failure does not print the secret.
fn leaks(output: &str, username: &str, secrets: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        for (form, value) in secret_forms(username, secret) {
            if output.contains(value.as_str()) {
                found.push(format!("secret {i} ({form})"));
            }
        }
    }
    found.extend(
        SASL_MESSAGE_MARKERS
            .iter()
            .filter(|m| output.contains(**m))
            .map(|m| format!("SASL message `{m}`")),
    );
    found
}

/// Lines of `output` holding every one of `parts`.
fn lines_with<'a>(output: &'a str, parts: &[&str]) -> Vec<&'a str> {
    output
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

/// Produces one record with a producer and reads it back with a consumer, both on `config`.
async fn produce_and_consume_one(config: ClientConfig, what: &str) {
    let broker = support::broker();
    let topic = unique_topic("logs-keep-secrets");
    create_topics(&connect_plaintext(broker).await, &[(&topic, 1)]).await;
    let producer = Producer::new(config.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    send_all(
        &producer,
        [ProducerRecord::new(topic.clone(), format!("over {what}"))],
    )
    .await;
    producer
        .close()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let consumer = consumer_from_beginning(config, &topic, 1);
    let got = consume_exactly(&consumer, 1).await;
    assert_eq!(
        got[0].rec.value.as_deref(),
        Some(format!("over {what}").as_bytes()),
        "{what}"
    );
    consumer.close().await;
}

/// A group member over `config` reads one record and leaves: joins, assignments, commits and
/// revocations are logged on the way.
async fn consume_one_in_a_group(config: ClientConfig, what: &str) {
    let broker = support::broker();
    let topic = unique_topic("logs-keep-secrets-group");
    create_topics(&connect_plaintext(broker).await, &[(&topic, 1)]).await;
    let producer = Producer::new(config.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    send_all(
        &producer,
        [ProducerRecord::new(topic.clone(), "in a group")],
    )
    .await;
    producer
        .close()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut config = config;
    config
        .set("group.id", &unique_topic("logs-keep-secrets-group"))
        .unwrap()
        .set("auto.offset.reset", "earliest")
        .unwrap();
    let member = GroupConsumer::new(config).unwrap_or_else(|e| panic!("{what}: {e}"));
    member
        .subscribe(Subscription::topics([topic.as_str()]))
        .unwrap();
    let deadline = Instant::now() + support::WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "{what}: no record within {:?}",
            support::WAIT
        );
        let polled = member
            .poll(Duration::from_millis(500))
            .await
            .unwrap_or_else(|e| panic!("{what}: poll: {e}"));
        if polled.iter().next().is_some() {
            break;
        }
    }
    member.close().await;
}

/// A connection with `config` must fail with the typed SASL error.
async fn expect_authentication_failure(config: &ClientConfig, what: &str) {
    let conn_config = ConnectionConfig::from_client_config(config).unwrap();
    match Connection::connect(&config.common.bootstrap_servers[0], &conn_config).await {
        Err(Error::Sasl { .. }) => {}
        Err(other) => panic!("{what}: expected a SASL error, got {other:?}"),
        Ok(_) => panic!("{what}: a wrong secret authenticated"),
    }
}

fn reauth_config(broker: &Broker, mechanism: &str, password: &str) -> ClientConfig {
    ClientConfig::from_properties([
        ("bootstrap.servers", broker.reauth.as_str()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", mechanism),
        ("sasl.username", broker.username.as_str()),
        ("sasl.password", password),
        ("max.block.ms", "20000"),
    ])
    .unwrap()
}

fn oauth_config(broker: &Broker, provider: Arc<dyn TokenProvider>) -> ClientConfig {
    let bootstrap = broker.oauth.clone().expect(
        "the harness broker has no OAUTH listener (KAFKA_BOOTSTRAP_OAUTH): restart it with \
         scripts/kafka.sh stop && scripts/kafka.sh start",
    );
    ClientConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("max.block.ms", "20000"),
    ])
    .unwrap()
    .with_oauthbearer_token_provider(provider)
}

/// An unsecured JWS for `laminar` expiring at `exp`, which the client is told expires at
/// `claimed` (to get an expired token past the client's own check to the broker).
fn token(exp: SystemTime, claimed: SystemTime) -> (String, Arc<dyn TokenProvider>) {
    let jws = unsecured_jws("laminar", exp - Duration::from_secs(600), exp);
    let provider = StaticTokenProvider::new(OauthBearerToken::new(jws.clone(), claimed));
    (jws, Arc::new(provider))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_event_at_any_level() {
    let capture = global_capture();
    let broker = Broker::from_env();
    let password = broker.password();
    let username = broker.username.as_str();

    // Every listener and mechanism, with the right credentials.
    let setups = [
        Security::Plaintext,
        Security::Ssl,
        Security::SslClientCert,
        Security::SaslPlaintext(SaslMechanism::Plain),
        Security::SaslPlaintext(SaslMechanism::ScramSha256),
        Security::SaslPlaintext(SaslMechanism::ScramSha512),
        Security::SaslSsl(SaslMechanism::Plain),
        Security::SaslSsl(SaslMechanism::ScramSha256),
        Security::SaslSsl(SaslMechanism::ScramSha512),
    ];
    for security in setups {
        let config = client_config(broker, security, &[("max.block.ms", "20000")]);
        produce_and_consume_one(config, &security.to_string()).await;
    }

    // A group member over SASL_SSL.
    consume_one_in_a_group(
        client_config(
            broker,
            Security::SaslSsl(SaslMechanism::ScramSha512),
            &[("max.block.ms", "20000")],
        ),
        "a group over SASL_SSL",
    )
    .await;

    // And one of the broker-driven protocol (KIP-848), where the broker runs it (Kafka 4 on;
    // the 3.9 line refuses it, which tests/tests/group_features.rs asserts).
    let kip_848 = broker_runs_the_consumer_protocol().await;
    if kip_848 {
        consume_one_in_a_group(
            client_config(
                broker,
                Security::SaslPlaintext(SaslMechanism::ScramSha256),
                &[("max.block.ms", "20000"), ("group.protocol", "consumer")],
            ),
            "a KIP-848 group over SASL_PLAINTEXT",
        )
        .await;
    }

    // A CA that did not sign the broker's certificate: the TLS handshake fails.
    let mut untrusted = client_config(broker, Security::Ssl, &[]);
    untrusted
        .set("ssl.ca.location", &broker.bad_ca_file.display().to_string())
        .unwrap();
    let conn_config = ConnectionConfig::from_client_config(&untrusted).unwrap();
    match Connection::connect(&broker.ssl, &conn_config).await {
        Err(Error::Tls { .. }) => {}
        other => panic!("an untrusted CA: expected a TLS error, got {other:?}"),
    }

    // The re-authentication listener: a record, and a connection per mechanism kept busy past
    // its session lifetime, so that each re-authenticates (KIP-368).
    produce_and_consume_one(
        reauth_config(broker, "SCRAM-SHA-256", password),
        "the re-authentication listener",
    )
    .await;
    let session = Duration::from_millis(broker.reauth_ms);
    for mechanism in SaslMechanism::ALL {
        let config = reauth_config(broker, mechanism.name(), password);
        let conn = Connection::connect(
            &config.common.bootstrap_servers[0],
            &ConnectionConfig::from_client_config(&config).unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("{mechanism} on the re-authentication listener: {e}"));
        let started = Instant::now();
        while conn.reauthentications() == 0 {
            assert!(
                started.elapsed() < session * 3,
                "{mechanism}: no re-authentication within {:?}",
                session * 3
            );
            conn.send(&MetadataRequest::default())
                .await
                .unwrap_or_else(|e| panic!("{mechanism}: a request failed: {e}"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        conn.close();
    }

    // OAUTHBEARER: a valid token, then one the broker rejects (expired, though the client is
    // told otherwise).
    let now = SystemTime::now();
    let (good_token, good) = token(
        now + Duration::from_secs(600),
        now + Duration::from_secs(600),
    );
    produce_and_consume_one(oauth_config(broker, good), "OAUTHBEARER").await;
    let (bad_token, bad) = token(
        now - Duration::from_secs(60),
        now + Duration::from_secs(600),
    );
    expect_authentication_failure(&oauth_config(broker, bad), "an expired OAUTHBEARER token").await;

    // A wrong password on every mechanism, over both SASL listeners.
    for security in setups.into_iter().filter(|s| s.mechanism().is_some()) {
        let config = client_config(broker, security, &[("sasl.password", WRONG_PASSWORD)]);
        expect_authentication_failure(&config, &format!("a wrong password over {security}")).await;
    }

    let output = capture.text();
    assert!(!output.is_empty(), "no event was captured");

    // The expected events are there.
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] {
        let quoted = format!("\"{mechanism}\"");
        assert!(
            !lines_with(&output, &["laminar_kafka::sasl", " authenticated", &quoted]).is_empty(),
            "no authentication event for {mechanism}"
        );
        assert!(
            !lines_with(
                &output,
                &["laminar_kafka::sasl", "authentication failed", &quoted]
            )
            .is_empty(),
            "no authentication failure event for {mechanism}"
        );
    }
    assert!(
        !lines_with(&output, &["laminar_kafka::sasl", "re-authenticated"]).is_empty(),
        "no re-authentication event"
    );
    assert!(
        !lines_with(&output, &["laminar_kafka::sasl", "TLS handshake done"]).is_empty(),
        "no TLS handshake event"
    );
    for security in ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] {
        let field = format!("security=\"{security}\"");
        assert!(
            !lines_with(&output, &["laminar_kafka::connection", "connected", &field]).is_empty(),
            "no connect event over {security}"
        );
    }
    assert!(
        !lines_with(
            &output,
            &["TRACE", "laminar_kafka::connection", "correlation_id="]
        )
        .is_empty(),
        "no per-request trace event"
    );
    assert!(
        !lines_with(&output, &["laminar_kafka::metadata", "metadata refreshed"]).is_empty(),
        "no metadata refresh event"
    );
    assert!(
        !lines_with(
            &output,
            &["INFO", "laminar_kafka::sasl", "TLS handshake failed"]
        )
        .is_empty(),
        "no TLS handshake failure event"
    );
    for (level, event) in [
        ("DEBUG", "joining"),
        ("INFO", "joined the group"),
        ("INFO", "joined the group (KIP-848)"),
        ("INFO", "assignment received"),
        ("DEBUG", "offsets committed"),
        ("INFO", "partitions revoked"),
    ]
    .into_iter()
    .filter(|(_, event)| kip_848 || !event.contains("KIP-848"))
    {
        assert!(
            !lines_with(&output, &[level, "laminar_kafka::group", event]).is_empty(),
            "no `{event}` group event at {level}"
        );
    }
    assert!(
        output.lines().any(|l| l.contains(" rustls::")),
        "rustls' records did not reach the capture"
    );

    // And no secret, in any form.
    // Reported by index: 0 the password, 1 the wrong one, 2 and 3 the tokens.
    let secrets = [password, WRONG_PASSWORD, &good_token, &bad_token];
    let found = leaks(&output, username, &secrets);
    assert!(
        found.is_empty(),
        "secrets in the log ({} bytes captured): {found:?}",
        output.len()
    );
}

/// The search itself: a secret logged in any of its forms, through the same kind of
/// subscriber, is found; a log without it is clean.
#[test]
fn the_search_finds_a_secret_logged_in_any_form() {
    let username = "alice";
    let secret = "s3cret-of-alice";
    let events: [(&str, String); 5] = [
        ("raw", secret.to_owned()),
        ("base64", STANDARD.encode(secret)),
        ("base64url", URL_SAFE_NO_PAD.encode(secret)),
        (
            "PLAIN message in base64",
            STANDARD.encode(format!("\0{username}\0{secret}")),
        ),
        (
            "PLAIN message in Debug",
            format!("{:?}", format!("\0{username}\0{secret}")),
        ),
    ];
    for (what, value) in events {
        let capture = Capture::default();
        tracing::subscriber::with_default(subscriber(capture.clone()), || {
            tracing::trace!(target: "laminar_kafka::sasl", auth_bytes = %value, "sent");
        });
        let output = capture.text();
        assert!(output.contains("sent"), "{what}: nothing captured");
        let found = leaks(&output, username, &[secret]);
        assert!(
            found.iter().any(|f| f.starts_with("secret 0 (")),
            "{what}: a logged secret was not found in {output}"
        );
        assert!(
            !found.iter().any(|f| f.contains(secret)),
            "{what}: the report names the secret: {found:?}"
        );
    }
    for marker in SASL_MESSAGE_MARKERS {
        let capture = Capture::default();
        tracing::subscriber::with_default(subscriber(capture.clone()), || {
            tracing::debug!(message_bytes = marker, "sent");
        });
        assert_eq!(
            leaks(&capture.text(), username, &[secret]),
            vec![format!("SASL message `{marker}`")]
        );
    }
    let capture = Capture::default();
    tracing::subscriber::with_default(subscriber(capture.clone()), || {
        tracing::info!(target: "laminar_kafka::sasl", user = username, mechanism = "PLAIN", "authenticated");
    });
    let clean = capture.text();
    assert!(clean.contains("authenticated"));
    assert_eq!(leaks(&clean, username, &[secret]), Vec::<String>::new());
}
