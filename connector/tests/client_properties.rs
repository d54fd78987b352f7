//! The properties a table resolves to are the client's own configuration: every one is a
//! property the client knows, with a value it accepts, and `client_configs` win over the
//! profile's `connectionProperties`.

use laminar_kafka_client::config::{
    Acks, ClientConfig, IsolationLevel, SaslMechanism, SecurityProtocol,
};
use laminar_kafka_connector::sql::parse_create_table;

fn env(name: &str) -> Option<String> {
    Some(format!("secret-of-{name}"))
}

fn client_config(sql: &str) -> ClientConfig {
    let table = parse_create_table(sql).expect("the statement parses");
    let resolved = table.resolve(&env).expect("the table resolves");
    ClientConfig::from_properties(resolved.properties.iter())
        .unwrap_or_else(|e| panic!("the client refuses the connector's properties: {e}"))
}

#[test]
fn a_sasl_source_table_configures_the_client() {
    let c = client_config(
        "CREATE TABLE secure_events (id BIGINT, data TEXT) WITH (
            connector = 'kafka',
            bootstrap_servers = 'broker1:9092,broker2:9092',
            topic = 'secure_events',
            type = 'source',
            format = 'json',
            'auth.type' = 'sasl',
            'auth.protocol' = 'SASL_SSL',
            'auth.mechanism' = 'SCRAM-SHA-256',
            'auth.username' = 'reader',
            'auth.password' = '{{ KAFKA_PASSWORD }}',
            'source.offset' = 'latest',
            'source.read_mode' = 'read_committed',
            'source.group_id' = 'secure_reader'
        );",
    );
    assert_eq!(c.common.bootstrap_servers, ["broker1:9092", "broker2:9092"]);
    assert_eq!(c.common.security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(c.common.sasl_mechanism, SaslMechanism::ScramSha256);
    assert_eq!(c.common.sasl_username.as_deref(), Some("reader"));
    assert_eq!(
        c.common.sasl_password.as_ref().map(|p| p.expose().as_str()),
        Some("secret-of-KAFKA_PASSWORD")
    );
    assert_eq!(c.consumer.group_id.as_deref(), Some("secure_reader"));
    assert_eq!(c.consumer.isolation_level, IsolationLevel::ReadCommitted);
    c.validate().unwrap();
}

#[test]
fn an_aws_msk_iam_table_configures_the_client_for_oauthbearer() {
    let c = client_config(
        "CREATE TABLE msk (id BIGINT) WITH (
            connector = 'kafka',
            bootstrap_servers = 'b-1.msk.us-east-1.amazonaws.com:9098',
            topic = 'events',
            type = 'source',
            format = 'json',
            'auth.type' = 'aws_msk_iam',
            'auth.region' = 'us-east-1',
            'source.offset' = 'earliest'
        );",
    );
    assert_eq!(c.common.security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(c.common.sasl_mechanism, SaslMechanism::OauthBearer);
    c.validate().unwrap();
}

#[test]
fn client_configs_override_what_the_table_implies() {
    let c = client_config(
        "CREATE TABLE out (id BIGINT, payload TEXT) WITH (
            connector = 'kafka',
            bootstrap_servers = 'localhost:9092',
            topic = 'out',
            type = 'sink',
            format = 'json',
            'sink.commit_mode' = 'at_least_once',
            'client_configs.linger.ms' = '25',
            'client_configs.compression.type' = 'zstd'
        );",
    );
    assert_eq!(c.producer.linger.as_millis(), 25);
    assert_eq!(
        c.producer.compression,
        laminar_kafka_client::protocol::record::Compression::Zstd
    );
    assert_eq!(c.producer.acks, Acks::All);
}

#[test]
fn an_unknown_client_property_is_refused_by_name() {
    let table = parse_create_table(
        "CREATE TABLE t (id BIGINT) WITH (
            connector = 'kafka',
            bootstrap_servers = 'localhost:9092',
            topic = 't',
            type = 'source',
            format = 'json',
            'source.offset' = 'earliest',
            'client_configs.lingr.ms' = '5'
        );",
    )
    .unwrap();
    let props = table.resolve(&env).unwrap().properties;
    let err = ClientConfig::from_properties(props.iter()).unwrap_err();
    assert!(
        err.to_string().contains("did you mean `linger.ms`"),
        "{err}"
    );
}
