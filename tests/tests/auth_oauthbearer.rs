//! SASL OAUTHBEARER against the harness' OAUTH listener: Kafka's unsecured JWS validator
//! (`alg: none` tokens, checked for syntax and expiry), sessions of `KAFKA_REAUTH_MS` (3 s)
//! capped by each token's expiry, so clients must re-authenticate with fresh tokens (KIP-368).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use laminar_kafka_client::Error;
use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::{ClientConfig, IsolationLevel};
use laminar_kafka_client::connection::{Connection, ConnectionConfig};
use laminar_kafka_client::offsets::OffsetSpec;
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_client::protocol::messages::messages::MetadataRequest;
use laminar_kafka_client::sasl::SaslError;
use laminar_kafka_client::sasl::oauthbearer::{
    OauthBearerToken, TokenFuture, TokenProvider, unsecured_jws,
};
use laminar_kafka_tests::{Broker, unique_topic};

/// Makes unsecured JWS tokens for subject `laminar` that live `lifetime`, counting the calls.
/// `claimed_lifetime` is what it tells the client (to get a stale token past the client's own
/// expiry check, so that the broker judges it).
#[derive(Debug)]
struct UnsecuredTokens {
    lifetime: Duration,
    past: bool,
    calls: AtomicUsize,
}

impl UnsecuredTokens {
    fn living(lifetime: Duration) -> Arc<Self> {
        Arc::new(UnsecuredTokens {
            lifetime,
            past: false,
            calls: AtomicUsize::new(0),
        })
    }

    /// Tokens whose `exp` claim is a minute in the past, while the client is told they are
    /// valid.
    fn expired() -> Arc<Self> {
        Arc::new(UnsecuredTokens {
            lifetime: Duration::from_secs(60),
            past: true,
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl TokenProvider for UnsecuredTokens {
    fn token(&self) -> TokenFuture<'_> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = SystemTime::now();
        let (issued, exp) = if self.past {
            (now - self.lifetime * 2, now - self.lifetime)
        } else {
            (now, now + self.lifetime)
        };
        let jws = unsecured_jws("laminar", issued, exp);
        // The token's `exp` claim has whole seconds: report the expiry the broker will see.
        let whole_secs = exp
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| Duration::from_secs(d.as_secs()))
            .unwrap_or_default();
        let claimed = if self.past {
            now + self.lifetime
        } else {
            SystemTime::UNIX_EPOCH + whole_secs
        };
        Box::pin(async move { Ok(OauthBearerToken::new(jws, claimed)) })
    }
}

fn oauth_bootstrap() -> String {
    Broker::from_env().oauth.clone().expect(
        "the harness broker has no OAUTH listener (KAFKA_BOOTSTRAP_OAUTH): restart it with \
         scripts/kafka.sh stop && scripts/kafka.sh start",
    )
}

fn oauth_config(provider: Arc<dyn TokenProvider>) -> ClientConfig {
    ClientConfig::from_properties([
        ("bootstrap.servers", oauth_bootstrap().as_str()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
    ])
    .unwrap()
    .with_oauthbearer_token_provider(provider)
}

async fn connect(provider: Arc<dyn TokenProvider>) -> Result<Connection, Error> {
    let config = oauth_config(provider);
    Connection::connect(
        &config.common.bootstrap_servers[0],
        &ConnectionConfig::from_client_config(&config).unwrap(),
    )
    .await
}

#[tokio::test]
async fn an_unsecured_token_authenticates_and_each_reauthentication_fetches_a_new_one() {
    let broker = Broker::from_env();
    let session = Duration::from_millis(broker.reauth_ms);
    let tokens = UnsecuredTokens::living(Duration::from_secs(600));
    let conn = connect(tokens.clone()).await.unwrap();
    assert_eq!(tokens.calls(), 1);
    let started = Instant::now();
    while started.elapsed() < session * 5 / 2 {
        conn.send(&MetadataRequest::default())
            .await
            .unwrap_or_else(|e| panic!("a request failed: {e}"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reauths = conn.reauthentications();
    assert!(
        reauths >= 2,
        "re-authenticated {reauths} times in {:?} with {session:?} sessions",
        started.elapsed()
    );
    assert_eq!(
        tokens.calls() as u64,
        1 + reauths,
        "one fresh token per authentication"
    );
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn a_token_that_expires_before_the_session_limit_is_replaced_in_time() {
    // Tokens live 2 s, less than the listener's session limit: the broker caps the session at
    // the token's expiry, and the client must re-authenticate before it.
    let tokens = UnsecuredTokens::living(Duration::from_secs(2));
    let conn = connect(tokens.clone()).await.unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        conn.send(&MetadataRequest::default())
            .await
            .unwrap_or_else(|e| panic!("a request failed after {:?}: {e}", started.elapsed()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reauths = conn.reauthentications();
    assert!(
        reauths >= 3,
        "re-authenticated {reauths} times in 6 s with 2 s tokens"
    );
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn an_expired_token_is_rejected_by_the_broker_with_a_typed_error() {
    let err = connect(UnsecuredTokens::expired()).await.unwrap_err();
    match &err {
        Error::Sasl {
            source: SaslError::TokenRejected { error, .. },
            ..
        } => assert_eq!(error.status, "invalid_token", "{err}"),
        other => panic!("expected a token rejection, got {other}"),
    }
}

#[tokio::test]
async fn a_token_known_to_be_expired_is_never_sent() {
    #[derive(Debug)]
    struct Stale;
    impl TokenProvider for Stale {
        fn token(&self) -> TokenFuture<'_> {
            Box::pin(async {
                let now = SystemTime::now();
                let exp = now - Duration::from_secs(5);
                Ok(OauthBearerToken::new(
                    unsecured_jws("laminar", exp, exp),
                    exp,
                ))
            })
        }
    }
    let err = connect(Arc::new(Stale)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Sasl {
                source: SaslError::TokenExpired { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_failing_token_provider_fails_the_connection_with_its_reason() {
    #[derive(Debug)]
    struct Broken;
    impl TokenProvider for Broken {
        fn token(&self) -> TokenFuture<'_> {
            Box::pin(async { Err(SaslError::token_provider("identity provider unreachable")) })
        }
    }
    let err = connect(Arc::new(Broken)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Sasl {
                source: SaslError::TokenProvider { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("identity provider unreachable"),
        "{err}"
    );
}

#[tokio::test]
async fn a_long_produce_runs_across_oauthbearer_reauthentications_without_losing_records() {
    let broker = Broker::from_env();
    let topic = unique_topic("oauth-reauth");
    let tokens = UnsecuredTokens::living(Duration::from_secs(600));
    let admin = Admin::new(oauth_config(tokens.clone())).unwrap();
    admin
        .create_topics(&[NewTopic::new(&topic, 2, 1)])
        .await
        .unwrap();
    let producer = Producer::new(oauth_config(tokens.clone())).unwrap();
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
    for d in deliveries {
        d.await.expect("acknowledged across re-authentications");
    }
    producer.close().await.unwrap();
    assert!(sent > 1000, "the produce ran long enough: {sent} records");
    // Every record is in the log: the end offsets add up to what was sent.
    let wanted: Vec<_> = (0..2)
        .map(|p| ((topic.clone(), p), OffsetSpec::Latest))
        .collect();
    let ends = admin
        .list_offsets(&wanted, IsolationLevel::ReadUncommitted)
        .await
        .unwrap();
    let total: i64 = ends.values().map(|o| o.offset).sum();
    assert_eq!(total as u64, sent);
    assert!(
        tokens.calls() > 3,
        "the clients re-authenticated with fresh tokens ({} tokens)",
        tokens.calls()
    );
    admin.close().await;
}
