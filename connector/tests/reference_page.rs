//! Every JSON body and SQL statement of the connector's user documentation, verbatim, parsed
//! and checked field by field.

use arrow_schema::{DataType, TimeUnit};
use laminar_kafka_connector::config::{
    Authentication, CommitMode, ConnectionProfile, Format, ReadMode, SaslMechanism, SaslProtocol,
    SourceOffset, TableDefinition, TableType, Topic, parse_profile_json,
    parse_profile_request_json, parse_table_request_json,
};
use laminar_kafka_connector::schema::{MetadataColumn, is_json};
use laminar_kafka_connector::sql::{SqlStatement, parse_create_table, parse_sql};
use serde_json::{Value, json};

/// The profile documents show `authentication` and `schemaRegistryEnum` as fragments; complete
/// them with the other required field and parse them as a profile.
fn profile_from_fragment(fragment: &str) -> ConnectionProfile {
    let mut value: Value = serde_json::from_str(fragment).expect("fragment is JSON");
    let obj = value.as_object_mut().expect("fragment is an object");
    obj.insert("bootstrapServers".into(), json!("localhost:9092"));
    obj.entry("authentication").or_insert(json!({}));
    parse_profile_json(&value.to_string()).expect("fragment parses")
}

fn env(name: &str) -> Option<String> {
    Some(format!("<{name}>"))
}

#[test]
fn no_authentication() {
    let profile = profile_from_fragment(
        r#"{
  "authentication": {}
}"#,
    );
    assert_eq!(profile.authentication, Authentication::None);
    let resolved = profile.resolve(&env).unwrap();
    assert_eq!(
        resolved.properties.get("security.protocol"),
        Some("PLAINTEXT")
    );
    assert_eq!(resolved.properties.get("sasl.mechanism"), None);
}

#[test]
fn sasl_authentication() {
    let profile = profile_from_fragment(
        r#"{
  "authentication": {
    "protocol": "SASL_SSL",
    "mechanism": "SCRAM-SHA-256",
    "username": "kafka_user",
    "password": "{{ KAFKA_PASSWORD }}"
  }
}"#,
    );
    let Authentication::Sasl(sasl) = &profile.authentication else {
        panic!("expected SASL, got {:?}", profile.authentication);
    };
    assert_eq!(sasl.protocol, SaslProtocol::SaslSsl);
    assert_eq!(sasl.mechanism, SaslMechanism::ScramSha256);
    assert_eq!(sasl.username.raw(), "kafka_user");
    assert_eq!(
        sasl.password.expose().variables().collect::<Vec<_>>(),
        ["KAFKA_PASSWORD"]
    );
    let props = profile.resolve(&env).unwrap().properties;
    assert_eq!(props.get("security.protocol"), Some("SASL_SSL"));
    assert_eq!(props.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
    assert_eq!(props.get("sasl.username"), Some("kafka_user"));
    assert_eq!(props.get("sasl.password"), Some("<KAFKA_PASSWORD>"));
}

#[test]
fn aws_msk_iam_authentication() {
    let profile = profile_from_fragment(
        r#"{
  "authentication": {
    "region": "us-east-1"
  }
}"#,
    );
    let Authentication::AwsMskIam(iam) = &profile.authentication else {
        panic!("expected AWS MSK IAM, got {:?}", profile.authentication);
    };
    assert_eq!(iam.region.raw(), "us-east-1");
    let props = profile.resolve(&env).unwrap().properties;
    assert_eq!(props.get("security.protocol"), Some("SASL_SSL"));
    assert_eq!(props.get("sasl.mechanism"), Some("OAUTHBEARER"));
    assert_eq!(props.get("sasl.oauthbearer.method"), Some("aws_msk_iam"));
    assert_eq!(props.get("sasl.aws.region"), Some("us-east-1"));
}

#[test]
fn no_schema_registry() {
    let profile = profile_from_fragment(
        r#"{
  "schemaRegistryEnum": {}
}"#,
    );
    assert_eq!(profile.schema_registry, None);
    assert_eq!(profile.resolve(&env).unwrap().schema_registry, None);
}

#[test]
fn confluent_schema_registry() {
    let profile = profile_from_fragment(
        r#"{
  "schemaRegistryEnum": {
    "endpoint": "http://schema-registry:8081",
    "apiKey": "{{ SCHEMA_REGISTRY_KEY }}",
    "apiSecret": "{{ SCHEMA_REGISTRY_SECRET }}"
  }
}"#,
    );
    let registry = profile.schema_registry.as_ref().expect("a registry");
    assert_eq!(registry.endpoint.raw(), "http://schema-registry:8081");
    let resolved = profile.resolve(&env).unwrap().schema_registry.unwrap();
    assert_eq!(resolved.endpoint, "http://schema-registry:8081");
    let (key, secret) = resolved.credentials.expect("credentials");
    assert_eq!(key.expose(), "<SCHEMA_REGISTRY_KEY>");
    assert_eq!(secret.expose(), "<SCHEMA_REGISTRY_SECRET>");
}

#[test]
fn create_connection_profile_request() {
    let request = parse_profile_request_json(
        r#"{
    "name": "production_kafka",
    "connector": "kafka",
    "config": {
      "bootstrapServers": "broker1:9092,broker2:9092,broker3:9092",
      "authentication": {
        "protocol": "SASL_SSL",
        "mechanism": "SCRAM-SHA-256",
        "username": "app_user",
        "password": "{{ KAFKA_PASSWORD }}"
      },
      "schemaRegistryEnum": {
        "endpoint": "http://schema-registry:8081",
        "apiKey": "{{ REGISTRY_KEY }}",
        "apiSecret": "{{ REGISTRY_SECRET }}"
      },
      "connectionProperties": {
        "socket.timeout.ms": "60000",
        "session.timeout.ms": "30000"
      }
    }
  }"#,
    )
    .unwrap();
    assert_eq!(request.name, "production_kafka");
    let profile = &request.config;
    assert_eq!(
        profile.bootstrap_servers.raw(),
        "broker1:9092,broker2:9092,broker3:9092"
    );
    assert!(matches!(profile.authentication, Authentication::Sasl(_)));
    assert_eq!(profile.connection_properties.len(), 2);
    let resolved = profile.resolve(&env).unwrap();
    let props = &resolved.properties;
    assert_eq!(
        props.get("bootstrap.servers"),
        Some("broker1:9092,broker2:9092,broker3:9092")
    );
    assert_eq!(props.get("sasl.username"), Some("app_user"));
    assert_eq!(props.get("sasl.password"), Some("<KAFKA_PASSWORD>"));
    assert_eq!(props.get("socket.timeout.ms"), Some("60000"));
    assert_eq!(props.get("session.timeout.ms"), Some("30000"));
    let registry = resolved.schema_registry.unwrap();
    assert_eq!(registry.endpoint, "http://schema-registry:8081");
    assert_eq!(registry.credentials.unwrap().0.expose(), "<REGISTRY_KEY>");
}

#[test]
fn create_source_table_request() {
    let request = parse_table_request_json(
        r#"{
    "name": "events_source",
    "connector": "kafka",
    "connectionProfileId": "prof_abc123",
    "config": {
      "topic": "events",
      "type": {
        "offset": "earliest",
        "read_mode": "read_committed",
        "group_id": "event_processor"
      },
      "client_configs": {
        "max.poll.records": "1000"
      }
    },
    "schema": {
      "format": {
        "json": {}
      }
    }
  }"#,
    )
    .unwrap();
    assert_eq!(request.name, "events_source");
    assert_eq!(
        request.connection_profile_id.as_deref(),
        Some("prof_abc123")
    );
    assert_eq!(request.format, Format::Json);
    let table = &request.config;
    assert_eq!(table.topic, Topic::Name("events".into()));
    assert_eq!(table.value_subject("events"), "events-value");
    let TableType::Source(source) = &table.kind else {
        panic!("expected a source");
    };
    assert_eq!(source.offset, SourceOffset::Earliest);
    assert_eq!(source.read_mode, ReadMode::ReadCommitted);
    assert_eq!(source.group_id("events_source"), "event_processor");

    let profile = profile_from_fragment(r#"{"authentication": {}}"#);
    let definition =
        TableDefinition::new(&request.name, profile, request.config, request.format, None).unwrap();
    let resolved = definition.resolve(&env).unwrap();
    let props = &resolved.properties;
    assert_eq!(resolved.group_id.as_deref(), Some("event_processor"));
    assert_eq!(props.get("group.id"), Some("event_processor"));
    assert_eq!(props.get("isolation.level"), Some("read_committed"));
    assert_eq!(props.get("auto.offset.reset"), Some("earliest"));
    assert_eq!(props.get("max.poll.records"), Some("1000"));
}

#[test]
fn create_sink_table_request() {
    let request = parse_table_request_json(
        r#"{
    "name": "events_sink",
    "connector": "kafka",
    "connectionProfileId": "prof_abc123",
    "config": {
      "topic": "processed_events",
      "type": {
        "commit_mode": "exactly_once",
        "key_field": "user_id",
        "timestamp_field": "event_time"
      }
    },
    "schema": {
      "format": {
        "json": {}
      }
    }
  }"#,
    )
    .unwrap();
    assert_eq!(request.name, "events_sink");
    assert_eq!(request.format, Format::Json);
    let TableType::Sink(sink) = &request.config.kind else {
        panic!("expected a sink");
    };
    assert_eq!(sink.commit_mode, CommitMode::ExactlyOnce);
    assert_eq!(sink.key_field.as_deref(), Some("user_id"));
    assert_eq!(sink.timestamp_field.as_deref(), Some("event_time"));
    assert_eq!(request.config.topic, Topic::Name("processed_events".into()));

    let profile = profile_from_fragment(r#"{"authentication": {}}"#);
    let definition =
        TableDefinition::new(&request.name, profile, request.config, request.format, None).unwrap();
    let resolved = definition.resolve(&env).unwrap();
    assert_eq!(resolved.group_id, None);
    assert_eq!(resolved.properties.get("acks"), Some("all"));
    assert_eq!(resolved.properties.get("enable.idempotence"), Some("true"));
    assert_eq!(resolved.properties.get("group.id"), None);
}

// ---------------------------------------------------------------------------------------------
// SQL

fn columns(definition: &TableDefinition) -> Vec<(String, DataType)> {
    definition
        .schema
        .as_ref()
        .expect("SQL tables have a schema")
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

fn col(name: &str, data_type: DataType) -> (String, DataType) {
    (name.to_owned(), data_type)
}

const TS: DataType = DataType::Timestamp(TimeUnit::Nanosecond, None);

fn source(definition: &TableDefinition) -> &laminar_kafka_connector::config::SourceConfig {
    match &definition.table.kind {
        TableType::Source(s) => s,
        other => panic!("expected a source, got {other:?}"),
    }
}

fn sink(definition: &TableDefinition) -> &laminar_kafka_connector::config::SinkConfig {
    match &definition.table.kind {
        TableType::Sink(s) => s,
        other => panic!("expected a sink, got {other:?}"),
    }
}

#[test]
fn sql_simple_source_table() {
    let t = parse_create_table(
        "CREATE TABLE events (
    id BIGINT,
    user_id TEXT,
    event_type TEXT,
    timestamp TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'events',
    type = 'source',
    format = 'json',
    'source.offset' = 'earliest'
);",
    )
    .unwrap();
    assert_eq!(t.name, "events");
    assert_eq!(
        columns(&t),
        [
            col("id", DataType::Int64),
            col("user_id", DataType::Utf8),
            col("event_type", DataType::Utf8),
            col("timestamp", TS),
        ]
    );
    // With the json format, `timestamp` is a field of the JSON value, not record metadata.
    let schema = t.schema.as_ref().unwrap();
    assert!(
        schema
            .fields()
            .iter()
            .all(|f| MetadataColumn::of(f).is_none())
    );
    assert_eq!(t.format, Format::Json);
    assert_eq!(t.table.topic, Topic::Name("events".into()));
    assert_eq!(source(&t).offset, SourceOffset::Earliest);
    assert_eq!(source(&t).read_mode, ReadMode::ReadUncommitted);
    assert_eq!(t.profile.authentication, Authentication::None);
    let resolved = t.resolve(&env).unwrap();
    let props = &resolved.properties;
    assert_eq!(props.get("bootstrap.servers"), Some("localhost:9092"));
    assert_eq!(props.get("security.protocol"), Some("PLAINTEXT"));
    assert_eq!(props.get("group.id"), Some("laminar-events"));
    assert_eq!(props.get("isolation.level"), Some("read_uncommitted"));
    assert_eq!(props.get("auto.offset.reset"), Some("earliest"));
}

#[test]
fn sql_source_with_authentication() {
    let t = parse_create_table(
        "CREATE TABLE secure_events (
    id BIGINT,
    data TEXT
) WITH (
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
    'source.group_id' = 'secure_reader'
);",
    )
    .unwrap();
    assert_eq!(t.name, "secure_events");
    assert_eq!(
        columns(&t),
        [col("id", DataType::Int64), col("data", DataType::Utf8)]
    );
    let Authentication::Sasl(sasl) = &t.profile.authentication else {
        panic!("expected SASL");
    };
    assert_eq!(sasl.protocol, SaslProtocol::SaslSsl);
    assert_eq!(sasl.mechanism, SaslMechanism::ScramSha256);
    assert_eq!(sasl.username.raw(), "reader");
    assert_eq!(source(&t).offset, SourceOffset::Latest);
    assert_eq!(source(&t).group_id.as_deref(), Some("secure_reader"));
    let props = t.resolve(&env).unwrap().properties;
    assert_eq!(
        props.get("bootstrap.servers"),
        Some("broker1:9092,broker2:9092")
    );
    assert_eq!(props.get("security.protocol"), Some("SASL_SSL"));
    assert_eq!(props.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
    assert_eq!(props.get("sasl.username"), Some("reader"));
    assert_eq!(props.get("sasl.password"), Some("<KAFKA_PASSWORD>"));
    assert_eq!(props.get("group.id"), Some("secure_reader"));
    assert_eq!(props.get("auto.offset.reset"), Some("latest"));
}

#[test]
fn sql_sink_table() {
    let t = parse_create_table(
        "CREATE TABLE output_events (
    id BIGINT,
    result TEXT,
    processed_at TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'processed',
    type = 'sink',
    format = 'json',
    'sink.commit_mode' = 'exactly_once',
    'sink.key_field' = 'id'
);",
    )
    .unwrap();
    assert_eq!(t.name, "output_events");
    assert_eq!(
        columns(&t),
        [
            col("id", DataType::Int64),
            col("result", DataType::Utf8),
            col("processed_at", TS),
        ]
    );
    assert_eq!(t.table.topic, Topic::Name("processed".into()));
    assert_eq!(sink(&t).commit_mode, CommitMode::ExactlyOnce);
    assert_eq!(sink(&t).key_field.as_deref(), Some("id"));
    assert_eq!(sink(&t).timestamp_field, None);
    let props = t.resolve(&env).unwrap().properties;
    assert_eq!(props.get("acks"), Some("all"));
    assert_eq!(props.get("group.id"), None);
}

#[test]
fn sql_with_schema_registry() {
    let t = parse_create_table(
        "CREATE TABLE avro_events (
    id BIGINT,
    data TEXT
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'avro_events',
    type = 'source',
    format = 'avro',
    'schema_registry.endpoint' = 'http://registry:8081',
    'schema_registry.api_key' = '{{ REGISTRY_KEY }}',
    'schema_registry.api_secret' = '{{ REGISTRY_SECRET }}',
    'source.offset' = 'earliest'
);",
    )
    .unwrap();
    assert_eq!(t.format, Format::Avro);
    assert_eq!(t.table.value_subject("avro_events"), "avro_events-value");
    let registry = t.profile.schema_registry.as_ref().unwrap();
    assert_eq!(registry.endpoint.raw(), "http://registry:8081");
    let resolved = t.resolve(&env).unwrap().schema_registry.unwrap();
    assert_eq!(resolved.endpoint, "http://registry:8081");
    let (key, secret) = resolved.credentials.unwrap();
    assert_eq!(key.expose(), "<REGISTRY_KEY>");
    assert_eq!(secret.expose(), "<REGISTRY_SECRET>");
}

#[test]
fn sql_event_stream_processing() {
    let statements = parse_sql(
        "-- Source table for raw events
CREATE TABLE raw_events (
    event_id BIGINT,
    user_id TEXT,
    event_type TEXT,
    payload JSON,
    timestamp TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'kafka:9092',
    topic = 'raw_events',
    type = 'source',
    format = 'json',
    'source.offset' = 'earliest',
    'source.group_id' = 'event_processor'
);

-- Sink table for processed events
CREATE TABLE processed_events (
    event_id BIGINT,
    user_id TEXT,
    event_category TEXT,
    score DOUBLE,
    processed_at TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'kafka:9092',
    topic = 'processed_events',
    type = 'sink',
    format = 'json',
    'sink.commit_mode' = 'exactly_once',
    'sink.key_field' = 'user_id'
);

-- Processing pipeline
INSERT INTO processed_events
SELECT 
    event_id,
    user_id,
    CASE 
        WHEN event_type LIKE 'purchase%' THEN 'transaction'
        WHEN event_type LIKE 'view%' THEN 'browse'
        ELSE 'other'
    END as event_category,
    CAST(JSON_VALUE(payload, '$.score') AS DOUBLE) as score,
    NOW() as processed_at
FROM raw_events
WHERE event_type IS NOT NULL;",
    )
    .unwrap();
    assert_eq!(statements.len(), 3);
    let SqlStatement::CreateTable(raw) = &statements[0] else {
        panic!("expected a table");
    };
    assert_eq!(raw.name, "raw_events");
    assert_eq!(
        columns(raw),
        [
            col("event_id", DataType::Int64),
            col("user_id", DataType::Utf8),
            col("event_type", DataType::Utf8),
            col("payload", DataType::Utf8),
            col("timestamp", TS),
        ]
    );
    assert!(is_json(raw.schema.as_ref().unwrap().field(3)));
    assert!(!is_json(raw.schema.as_ref().unwrap().field(2)));
    assert_eq!(source(raw).group_id.as_deref(), Some("event_processor"));
    assert_eq!(
        raw.resolve(&env)
            .unwrap()
            .properties
            .get("bootstrap.servers"),
        Some("kafka:9092")
    );

    let SqlStatement::CreateTable(processed) = &statements[1] else {
        panic!("expected a table");
    };
    assert_eq!(processed.name, "processed_events");
    assert_eq!(
        columns(processed),
        [
            col("event_id", DataType::Int64),
            col("user_id", DataType::Utf8),
            col("event_category", DataType::Utf8),
            col("score", DataType::Float64),
            col("processed_at", TS),
        ]
    );
    assert_eq!(sink(processed).commit_mode, CommitMode::ExactlyOnce);
    assert_eq!(sink(processed).key_field.as_deref(), Some("user_id"));

    let SqlStatement::Other(insert) = &statements[2] else {
        panic!("expected the INSERT to pass through");
    };
    assert!(insert.starts_with("INSERT INTO processed_events SELECT event_id, user_id, CASE"));
    assert!(insert.contains("CAST(JSON_VALUE(payload, '$.score') AS DOUBLE) AS score"));
}

#[test]
fn sql_cdc_with_debezium_format() {
    let statements = parse_sql(
        "-- Source table for CDC events
CREATE TABLE cdc_orders (
    order_id BIGINT PRIMARY KEY,
    customer_id BIGINT,
    total DECIMAL,
    status TEXT,
    updated_at TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'mysql.shop.orders',
    type = 'source',
    format = 'debezium_json',
    'source.offset' = 'earliest'
);

-- Debezium format automatically handles:
-- - Insert/Update/Delete operations
-- - Before/After states
-- - Schema evolution",
    )
    .unwrap();
    assert_eq!(statements.len(), 1);
    let SqlStatement::CreateTable(t) = &statements[0] else {
        panic!("expected a table");
    };
    assert_eq!(t.name, "cdc_orders");
    assert_eq!(t.format, Format::DebeziumJson);
    assert_eq!(t.table.topic, Topic::Name("mysql.shop.orders".into()));
    assert_eq!(t.primary_key, ["order_id"]);
    assert_eq!(
        columns(t),
        [
            col("order_id", DataType::Int64),
            col("customer_id", DataType::Int64),
            col("total", DataType::Decimal128(38, 10)),
            col("status", DataType::Utf8),
            col("updated_at", TS),
        ]
    );
    let schema = t.schema.as_ref().unwrap();
    assert!(
        !schema.field(0).is_nullable(),
        "primary key columns are NOT NULL"
    );
    assert!(schema.field(1).is_nullable());
}

#[test]
fn sql_multi_topic_consumer() {
    let statements = parse_sql(
        "-- Consume from multiple topics using regex
CREATE TABLE all_events (
    topic TEXT,
    partition INT,
    offset BIGINT,
    key TEXT,
    value TEXT,
    timestamp TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'events-.*',  -- Regex pattern for multiple topics
    type = 'source',
    format = 'raw',
    'source.offset' = 'latest'
);",
    )
    .unwrap();
    let [SqlStatement::CreateTable(t)] = statements.as_slice() else {
        panic!("expected one table, got {statements:?}");
    };
    assert_eq!(t.name, "all_events");
    let Topic::Pattern(pattern) = &t.table.topic else {
        panic!("expected a topic pattern, got {:?}", t.table.topic);
    };
    assert_eq!(pattern.as_str(), "events-.*");
    assert!(pattern.matches("events-clicks"));
    assert!(!pattern.matches("other"));
    assert_eq!(t.format, Format::RawString, "raw with a TEXT value column");
    assert_eq!(source(t).offset, SourceOffset::Latest);
    let schema = t.schema.as_ref().unwrap();
    let metadata: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), MetadataColumn::of(f)))
        .collect();
    assert_eq!(
        metadata,
        [
            ("topic", Some(MetadataColumn::Topic)),
            ("partition", Some(MetadataColumn::Partition)),
            ("offset", Some(MetadataColumn::Offset)),
            ("key", Some(MetadataColumn::Key)),
            ("value", None),
            ("timestamp", Some(MetadataColumn::Timestamp)),
        ]
    );
    assert_eq!(
        columns(t),
        [
            col("topic", DataType::Utf8),
            col("partition", DataType::Int32),
            col("offset", DataType::Int64),
            col("key", DataType::Utf8),
            col("value", DataType::Utf8),
            col("timestamp", TS),
        ]
    );
    let props = t.resolve(&env).unwrap().properties;
    assert_eq!(props.get("auto.offset.reset"), Some("latest"));
    assert_eq!(props.get("group.id"), Some("laminar-all_events"));
}
