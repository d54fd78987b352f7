//! AWS_MSK_IAM wiring against the harness broker, which (like any non-MSK broker) does not
//! enable the mechanism: the client signs its payload and asks for the mechanism, and reports
//! what the broker enables instead; without credentials it says which sources it tried. The
//! payload itself is checked against AWS's Java library in the client's unit tests.
//!
//! Credentials come from fixed values or a fixed environment here: nothing reaches for
//! instance metadata.

use std::collections::HashMap;
use std::sync::Arc;

use laminar_kafka_client::Error;
use laminar_kafka_client::aws::{self, AwsError, Credentials, Env, StaticCredentials};
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::connection::{Connection, ConnectionConfig};
use laminar_kafka_client::sasl::aws_msk_iam::AwsMskIamConfig;
use laminar_kafka_client::sasl::{Mechanism, SaslConfig, SaslError};
use laminar_kafka_tests::Broker;

fn connection_config(sasl: SaslConfig) -> (String, ConnectionConfig) {
    let broker = Broker::from_env();
    let config = ClientConfig::from_properties([
        ("bootstrap.servers", broker.sasl_plaintext.as_str()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", broker.username.as_str()),
        ("sasl.password", broker.password()),
    ])
    .unwrap();
    let mut connection = ConnectionConfig::from_client_config(&config).unwrap();
    connection.security = connection.security.with_sasl(sasl);
    (broker.sasl_plaintext.clone(), connection)
}

#[tokio::test]
async fn a_broker_without_aws_msk_iam_answers_with_the_mechanisms_it_enables() {
    let credentials = Arc::new(StaticCredentials::new(Credentials::new(
        "AKIDEXAMPLE",
        "example-secret",
        Some("example-session-token".to_owned()),
        None,
        "test",
    )));
    let sasl = SaslConfig::aws_msk_iam(AwsMskIamConfig::new(
        credentials,
        Some("us-east-1".to_owned()),
    ));
    let (bootstrap, config) = connection_config(sasl);
    let err = Connection::connect(&bootstrap, &config).await.unwrap_err();
    match &err {
        Error::Sasl {
            source:
                SaslError::UnsupportedMechanism {
                    mechanism: Mechanism::AwsMskIam,
                    enabled,
                },
            ..
        } => assert!(enabled.iter().any(|m| m == "PLAIN"), "{err}"),
        other => panic!("expected UNSUPPORTED_SASL_MECHANISM, got {other}"),
    }
    let text = err.to_string();
    assert!(
        !text.contains("example-secret") && !text.contains("example-session-token"),
        "{text}"
    );
}

#[tokio::test]
async fn without_credentials_the_error_lists_every_source_tried() {
    let home = std::env::temp_dir().join(format!("laminar-no-aws-{}", std::process::id()));
    let env = Env::from_map(HashMap::from([
        ("HOME".to_owned(), home.display().to_string()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
    ]));
    let sasl = SaslConfig::aws_msk_iam(
        AwsMskIamConfig::new(
            aws::default_credentials(env.clone(), None),
            Some("eu-west-1".to_owned()),
        )
        .with_env(env),
    );
    let (bootstrap, config) = connection_config(sasl);
    let err = Connection::connect(&bootstrap, &config).await.unwrap_err();
    let Error::Sasl {
        source: SaslError::Aws { source, .. },
        ..
    } = &err
    else {
        panic!("expected an AWS credentials error, got {err}");
    };
    let AwsError::NoCredentials { tried } = source.as_ref() else {
        panic!("expected NoCredentials, got {source}");
    };
    assert_eq!(tried.len(), 5, "{err}");
    for name in [
        "environment",
        "profile",
        "web identity",
        "container",
        "instance metadata",
    ] {
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}
