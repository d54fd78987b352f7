//! Bad configurations and the exact message each one gives; secrets never shown; the parse
//! entry points never panic.

use laminar_kafka_connector::config::{
    ConfigError, Format, TableDefinition, parse_profile_json, parse_profile_request_json,
    parse_table_json, parse_table_request_json,
};
use laminar_kafka_connector::sql::{parse_create_table, parse_sql};
use proptest::prelude::*;

fn profile_err(body: &str) -> String {
    parse_profile_json(body).unwrap_err().to_string()
}

fn table_err(body: &str) -> String {
    parse_table_json(body).unwrap_err().to_string()
}

#[test]
fn bad_profiles_give_exact_messages() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"bootstrapServer": "b1:9092", "authentication": {}}"#,
            "unknown field `bootstrapServer`; did you mean `bootstrapServers`?",
        ),
        (
            r#"{"bootstrap_servers": "b1:9092", "authentication": {}}"#,
            "unknown field `bootstrap_servers`; did you mean `bootstrapServers`?",
        ),
        (
            r#"{"authentication": {}}"#,
            "missing required field `bootstrapServers`",
        ),
        (
            r#"{"bootstrapServers": "b1:9092"}"#,
            "missing required field `authentication` (use {} for no authentication)",
        ),
        (
            r#"{"bootstrapServers": "b1", "authentication": {}}"#,
            "invalid `bootstrapServers`: `b1` is not host:port",
        ),
        (
            r#"{"bootstrapServers": 9092, "authentication": {}}"#,
            "`bootstrapServers` must be a string, found a number",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": "none"}"#,
            "`authentication` must be an object, found a string",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {"protocol": "SASL_SSL",
                "mechanism": "SCRAM-SHA-256", "username": "u", "pasword": "x"}}"#,
            "unknown field `authentication.pasword`; did you mean `password`?",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {"protocol": "SASL_SSL",
                "mechanism": "SCRAM-SHA-256", "username": "u"}}"#,
            "missing required field `authentication.password`",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {"protocol": "SSL",
                "mechanism": "PLAIN", "username": "u", "password": "p"}}"#,
            "invalid value `SSL` for `authentication.protocol`: expected one of SASL_PLAINTEXT, SASL_SSL",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {"protocol": "SASL_SSL",
                "mechanism": "GSSAPI", "username": "u", "password": "p"}}"#,
            "invalid value `GSSAPI` for `authentication.mechanism`: expected one of PLAIN, \
             SCRAM-SHA-256, SCRAM-SHA-512",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {"username": "u", "region": "us-east-1"}}"#,
            "`authentication` mixes the SASL field `username` with the AWS MSK IAM field \
             `region`; use one kind of authentication",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {"region": "useast"}}"#,
            "invalid `authentication.region`: `useast` is not an AWS region (like us-east-1)",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {"protocol": "SASL_SSL",
                "mechanism": "PLAIN", "username": "u", "password": "{{ KAFKA_PASSWORD }"}}"#,
            "invalid placeholder in `authentication.password` at byte 0: placeholder is not \
             closed by `}}` after the variable name",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {},
                "schemaRegistryEnum": {"apiKey": "k", "apiSecret": "s"}}"#,
            "missing required field `schemaRegistryEnum.endpoint`",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {},
                "schemaRegistryEnum": {"endpoint": "registry:8081"}}"#,
            "invalid `schemaRegistryEnum.endpoint`: URL must start with http:// or https://",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {},
                "schemaRegistryEnum": {"endpoint": "http://r:8081", "apiKey": "k"}}"#,
            "`schemaRegistryEnum.apiKey` and `schemaRegistryEnum.apiSecret` must be given together",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {},
                "schemaRegistryEnum": {"endpoint": "http://r:8081", "api_key": "k"}}"#,
            "unknown field `schemaRegistryEnum.api_key`; did you mean `apiKey`?",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {},
                "connectionProperties": {"socket.timeout.ms": ["1"]}}"#,
            "`connectionProperties.socket.timeout.ms` must be a string, found an array",
        ),
        (
            r#"{"bootstrapServers": "b1:9092", "authentication": {}"#,
            "invalid JSON at line 1, column 52: EOF while parsing an object",
        ),
        ("[]", "`(top level)` must be an object, found an array"),
    ];
    for (body, expected) in cases {
        assert_eq!(profile_err(body), *expected, "{body}");
    }
}

#[test]
fn bad_tables_give_exact_messages() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"type": {"offset": "latest"}}"#,
            "missing required field `topic`",
        ),
        (
            r#"{"topic": "t"}"#,
            "missing required field `type` (a source needs `offset`, a sink needs `commit_mode`)",
        ),
        (
            r#"{"topic": "t", "type": {}}"#,
            "missing required field `type.offset` (a source needs `offset`, a sink needs `commit_mode`)",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "lates"}}"#,
            "invalid value `lates` for `type.offset`: expected one of latest, earliest, group",
        ),
        (
            r#"{"topic": "t", "type": {"ofset": "latest"}}"#,
            "unknown field `type.ofset`; did you mean `offset`?",
        ),
        (
            r#"{"topic": "t", "type": {"read_mode": "read_committed"}}"#,
            "missing required field `type.offset`",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest", "read_mode": "committed"}}"#,
            "invalid value `committed` for `type.read_mode`: expected one of read_uncommitted, read_committed",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest", "key_field": "id"}}"#,
            "field `type.key_field` applies only to sink tables, but this table is a source",
        ),
        (
            r#"{"topic": "t", "type": {"commit_mode": "exactly_once", "group_id": "g"}}"#,
            "field `type.group_id` applies only to source tables, but this table is a sink",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest", "commit_mode": "exactly_once"}}"#,
            "`type` has both `offset` (source) and `commit_mode` (sink); a table is either a \
             source or a sink",
        ),
        (
            r#"{"topic": "t", "type": {"commit_mode": "once"}}"#,
            "invalid value `once` for `type.commit_mode`: expected one of at_least_once, exactly_once",
        ),
        (
            r#"{"topic": "t", "type": {"key_field": "id"}}"#,
            "missing required field `type.commit_mode`",
        ),
        (
            r#"{"topic": "events-.*", "type": {"commit_mode": "at_least_once"}}"#,
            "invalid `topic`: a sink writes to one topic, but `events-.*` is a pattern",
        ),
        (
            r#"{"topic": "", "type": {"offset": "latest"}}"#,
            "invalid `topic`: topic is empty",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest", "group_id": " "}}"#,
            "invalid `type.group_id`: must not be empty",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest"}, "clientConfigs": {}}"#,
            "unknown field `clientConfigs`; did you mean `client_configs`?",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest"}, "valueSubject": "s"}"#,
            "unknown field `valueSubject`; did you mean `value_subject`?",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest"}, "partitions": 3}"#,
            "unknown field `partitions`; expected one of: topic, type, client_configs, \
             value_subject, bad_data",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest"}, "bad_data": "skip"}"#,
            "invalid value `skip` for `bad_data`: expected one of fail, drop",
        ),
        (
            r#"{"topic": "t", "type": {"offset": "latest"}, "client_configs": {"linger.ms": "{{ }}"}}"#,
            "invalid placeholder in `client_configs.linger.ms` at byte 0: `{{` must be followed \
             by a variable name (letters, digits, `_`)",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(table_err(body), *expected, "{body}");
    }
}

#[test]
fn bad_requests_give_exact_messages() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"name": "t", "connector": "kafka", "config": {"topic": "t", "type": {"offset": "latest"}},
                "schema": {"format": {"jsn": {}}}}"#,
            "unknown field `schema.format.jsn`; did you mean `json`?",
        ),
        (
            r#"{"name": "t", "connector": "kafka", "config": {"topic": "t", "type": {"offset": "latest"}},
                "schema": {"format": {"json": {"unstructured": true}}}}"#,
            "unknown field `schema.format.json.unstructured`",
        ),
        (
            r#"{"name": "t", "connector": "kafka", "config": {"topic": "t", "type": {"offset": "latest"}},
                "schema": {"format": {"json": {}, "avro": {}}}}"#,
            "`schema.format` must name exactly one format",
        ),
        (
            r#"{"name": "t", "connector": "kafka", "config": {"topic": "t", "type": {"offset": "latest"}}}"#,
            "missing required field `schema`",
        ),
        (
            r#"{"name": "t", "connector": "postgres", "config": {}, "schema": {}}"#,
            "invalid value `postgres` for `connector`: expected one of kafka",
        ),
        (
            r#"{"name": "t", "connector": "kafka", "config": {"topic": "t", "type": {"offset": "x"}},
                "schema": {"format": {"json": {}}}}"#,
            "invalid value `x` for `config.type.offset`: expected one of latest, earliest, group",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            parse_table_request_json(body).unwrap_err().to_string(),
            *expected,
            "{body}"
        );
    }
    assert_eq!(
        parse_profile_request_json(
            r#"{"name": "p", "connector": "kafka", "config": {"bootstrapServers": "b:1"}}"#
        )
        .unwrap_err()
        .to_string(),
        "missing required field `config.authentication` (use {} for no authentication)"
    );
}

/// A valid Kafka CREATE TABLE with `extra` options appended and `columns` as its column list.
fn sql(columns: &str, options: &str) -> String {
    format!(
        "CREATE TABLE t ({columns}) WITH (connector = 'kafka', bootstrap_servers = 'b1:9092', \
         topic = 't', format = 'json'{options})"
    )
}

fn sql_err(text: &str) -> String {
    parse_sql(text).unwrap_err().to_string()
}

#[test]
fn bad_sql_gives_exact_messages() {
    let source = ", type = 'source', 'source.offset' = 'latest'";
    let cases: Vec<(String, &str)> = vec![
        (
            sql("id BIGINT", ", type = 'source', 'source.ofset' = 'latest'"),
            "unknown option `source.ofset`; did you mean `source.offset`?",
        ),
        (
            sql("id BIGINT", ", type = 'source', bootstrapServers = 'x', 'source.offset' = 'latest'"),
            "unknown option `bootstrapServers`; did you mean `bootstrap_servers`?",
        ),
        (
            sql("id BIGINT", ", type = 'source'"),
            "missing required option `source.offset` (one of latest, earliest, group)",
        ),
        (
            sql("id BIGINT", ", type = 'source', 'source.offset' = 'begin'"),
            "invalid value `begin` for `source.offset`: expected one of latest, earliest, group",
        ),
        (
            sql("id BIGINT", ", 'source.offset' = 'latest'"),
            "missing required option `type` (one of source, sink)",
        ),
        (
            sql("id BIGINT", ", type = 'stream', 'source.offset' = 'latest'"),
            "invalid value `stream` for `type`: expected one of source, sink",
        ),
        (
            sql("id BIGINT", ", type = 'source', 'source.offset' = 'latest', 'sink.commit_mode' = 'exactly_once'"),
            "option `sink.commit_mode` applies only to sink tables, but this table is a source",
        ),
        (
            sql("id BIGINT", ", type = 'sink', 'source.offset' = 'latest'"),
            "option `source.offset` applies only to source tables, but this table is a sink",
        ),
        (
            sql("id BIGINT", ", type = 'sink', 'sink.commit_mode' = 'exactly_once', 'sink.key_field' = 'user_id'"),
            "invalid `sink.key_field`: no column named `user_id`",
        ),
        (
            sql("id BIGINT", ", type = 'sink', 'sink.commit_mode' = 'exactly_once', 'sink.timestamp_field' = 'id'"),
            "invalid `sink.timestamp_field`: column `id` is not a TIMESTAMP",
        ),
        (
            sql("id BIGINT", &format!("{source}, 'auth.username' = 'u'")),
            "missing required option `auth.type` (`auth.username` needs 'auth.type' = 'sasl' or 'aws_msk_iam')",
        ),
        (
            sql("id BIGINT", &format!("{source}, 'auth.type' = 'kerberos'")),
            "invalid value `kerberos` for `auth.type`: expected one of none, sasl, aws_msk_iam",
        ),
        (
            sql("id BIGINT", &format!("{source}, 'auth.type' = 'sasl', 'auth.protocol' = 'SASL_SSL', 'auth.mechanism' = 'PLAIN', 'auth.username' = 'u'")),
            "missing required option `auth.password`",
        ),
        (
            sql("id BIGINT", &format!("{source}, 'auth.type' = 'sasl', 'auth.region' = 'us-east-1'")),
            "option `auth.region` does not apply to 'auth.type' = 'sasl'",
        ),
        (
            sql("id BIGINT", &format!("{source}, 'auth.type' = 'aws_msk_iam'")),
            "missing required option `auth.region` (the cluster's AWS region, like us-east-1)",
        ),
        (
            sql("id BIGINT", &format!("{source}, 'schema_registry.api_key' = 'k'")),
            "missing required option `schema_registry.endpoint`",
        ),
        (
            sql("id BIGINT", &format!("{source}, 'schema_registry.endpoint' = 'http://r:1', 'schema_registry.api_secret' = 's'")),
            "`schema_registry.api_key` and `schema_registry.api_secret` must be given together",
        ),
        (
            sql("id BIGINT", &format!("{source}, topic = 'u'")),
            "option `topic` is given more than once",
        ),
        (
            sql("id BIGINT", &format!("{source}, 'client_configs.linger ms' = '5'")),
            "invalid `client_configs.linger ms`: property name must be printable ASCII without spaces",
        ),
        (
            sql("g GEOMETRY", source),
            "column `g`: unsupported type `GEOMETRY`; supported types: BOOLEAN, TINYINT, \
             SMALLINT, INT, BIGINT, REAL, FLOAT, DOUBLE, DECIMAL(p,s), NUMERIC(p,s), TEXT, \
             VARCHAR, CHAR, STRING, BYTEA, BINARY, VARBINARY, BLOB, DATE, TIME, TIMESTAMP, \
             TIMESTAMP WITH TIME ZONE, JSON",
        ),
        (
            sql("a INT, A TEXT", source),
            "column `A`: declared more than once",
        ),
        (
            sql("a INT, PRIMARY KEY (b)", source),
            "column `b`: named in PRIMARY KEY but not declared",
        ),
        (
            sql("a INT", &format!("{source}, bootstrap_servers2 = 'x'")),
            "unknown option `bootstrap_servers2`; did you mean `bootstrap_servers`?",
        ),
        (
            "CREATE TABLE t (a INT) WITH (conector = 'kafka')".to_owned(),
            "unknown option `conector`; did you mean `connector`?",
        ),
        (
            "CREATE TABLE t (a INT) WITH (connector = 'kafka', 'auth.password' = 'x' 'y')".to_owned(),
            "SQL syntax error: sql parser error: Expected: ), found: '***' at Line: 1, Column: 73",
        ),
        (
            "CREATE TABLE t (a INT) WITH (bootstrap_servers = 'b1:9092')".to_owned(),
            "missing required option `connector` (connector = 'kafka')",
        ),
        (
            "CREATE TABLE t (a INT) WITH (connector = 'kafka', type = 'source', topic = 't', \
             format = 'json', 'source.offset' = 'latest')"
                .to_owned(),
            "missing required option `bootstrap_servers` (host:port[,host:port…])",
        ),
        (
            sql("a INT", &format!("{source}, 'auth.type' = 'sasl', 'auth.protocol' = 'SASL_SSL', \
                'auth.mechanism' = 'PLAIN', 'auth.username' = 'u', 'auth.password' = '{{{{ PW'")),
            "invalid placeholder in `auth.password` at byte 0: placeholder is not closed by `}}` \
             after the variable name",
        ),
        (
            "CREATE TABLE t (a INT) WITH (connector = 'kafka', bootstrap_servers = 'b1:9092', \
             topic = 't', type = 'source', 'source.offset' = 'latest', format = 'avro')"
                .to_owned(),
            "missing required option `schema_registry.endpoint` (format `avro` takes its schemas \
             from a schema registry)",
        ),
        (
            "CREATE TABLE t (a INT) WITH (connector = 'kafka', bootstrap_servers = 'b1:9092', \
             topic = 't', type = 'source', 'source.offset' = 'latest', format = 'xml')"
                .to_owned(),
            "invalid value `xml` for `format`: expected one of json, avro, protobuf, raw, \
             raw_string, raw_bytes, debezium_json",
        ),
        (
            "CREATE TABLE t (a INT, value TEXT) WITH (connector = 'kafka', bootstrap_servers = 'b1:9092', \
             topic = 't', type = 'source', 'source.offset' = 'latest', format = 'raw')"
                .to_owned(),
            "column `a`: format `raw_string` has one payload column, `value`; other columns must \
             be record metadata (topic, partition, offset, key, timestamp, headers)",
        ),
        (
            "CREATE TABLE t (value TEXT, offset INT) WITH (connector = 'kafka', bootstrap_servers = 'b1:9092', \
             topic = 't', type = 'source', 'source.offset' = 'latest', format = 'raw')"
                .to_owned(),
            "column `offset`: the record's offset needs type BIGINT",
        ),
        (
            "CREATE TABLE t (value TEXT, partition INT) WITH (connector = 'kafka', bootstrap_servers = 'b1:9092', \
             topic = 't', type = 'sink', 'sink.commit_mode' = 'at_least_once', format = 'raw')"
                .to_owned(),
            "column `partition`: reads the record's partition, which only source tables have",
        ),
        (
            "CREATE TABLE t (value BIGINT) WITH (connector = 'kafka', bootstrap_servers = 'b1:9092', \
             topic = 't', type = 'source', 'source.offset' = 'latest', format = 'raw_bytes')"
                .to_owned(),
            "column `value`: format `raw_bytes` needs type BYTEA",
        ),
        (
            sql("a INT", &format!("{source}, 'client_configs.linger.ms' = now()")),
            "unsupported SQL: table `t`: option `client_configs.linger.ms` must be a string, \
             number or boolean literal",
        ),
        (
            "CREATE TABLE t (a INT WITH (".to_owned(),
            "SQL syntax error: sql parser error: Expected: ',' or ')' after column definition, \
             found: WITH at Line: 1, Column: 23",
        ),
    ];
    for (text, expected) in &cases {
        assert_eq!(sql_err(text), *expected, "{text}");
    }
}

#[test]
fn other_statements_and_connectors_pass_through() {
    let statements = parse_sql(
        "CREATE TABLE p (a INT); \
         CREATE TABLE q (a INT) WITH (connector = 'filesystem', path = '/tmp'); \
         SELECT 1",
    )
    .unwrap();
    assert_eq!(statements.len(), 3);
    for s in &statements {
        assert!(
            matches!(s, laminar_kafka_connector::sql::SqlStatement::Other(_)),
            "{s:?}"
        );
    }
    assert_eq!(
        parse_create_table("SELECT 1").unwrap_err().to_string(),
        "unsupported SQL: expected exactly one CREATE TABLE … WITH (connector = 'kafka', …)"
    );
}

#[test]
fn missing_environment_variables_are_named_with_their_field() {
    let profile = parse_profile_json(
        r#"{"bootstrapServers": "{{ BROKERS }}", "authentication": {"protocol": "SASL_SSL",
            "mechanism": "PLAIN", "username": "{{USER}}", "password": "{{ KAFKA_PASSWORD }}"},
            "connectionProperties": {"ssl.key.password": "{{ KEY_PW }}"}}"#,
    )
    .unwrap();
    let table = parse_table_json(
        r#"{"topic": "t", "type": {"offset": "latest"}, "client_configs": {"client.id": "{{ CLIENT }}"}}"#,
    )
    .unwrap();
    let definition = TableDefinition::new("t", profile, table, Format::Json, None).unwrap();
    let vars = [
        ("BROKERS", "b1:9092"),
        ("USER", "u"),
        ("KAFKA_PASSWORD", "pw"),
        ("KEY_PW", "kpw"),
        ("CLIENT", "c"),
    ];
    let expected = [
        "environment variable `BROKERS` (used in `bootstrapServers`) is not set",
        "environment variable `USER` (used in `authentication.username`) is not set",
        "environment variable `KAFKA_PASSWORD` (used in `authentication.password`) is not set",
        "environment variable `KEY_PW` (used in `connectionProperties.ssl.key.password`) is not set",
        "environment variable `CLIENT` (used in `client_configs.client.id`) is not set",
    ];
    // Drop one variable at a time: the error names exactly that one.
    for (missing, message) in expected.iter().enumerate() {
        let env = |name: &str| {
            vars.iter()
                .enumerate()
                .find(|(i, (n, _))| *n == name && *i != missing)
                .map(|(_, (_, v))| (*v).to_owned())
        };
        assert_eq!(definition.resolve(&env).unwrap_err().to_string(), *message);
    }
    // A variable that resolves to a bad value is checked after substitution.
    let env = |name: &str| match name {
        "BROKERS" => Some("no-port".to_owned()),
        _ => Some("x".to_owned()),
    };
    assert_eq!(
        definition.resolve(&env).unwrap_err().to_string(),
        "invalid `bootstrapServers`: `no-port` is not host:port"
    );

    let t = parse_create_table(&sql(
        "a INT",
        ", type = 'source', 'source.offset' = 'latest', 'auth.type' = 'sasl', \
         'auth.protocol' = 'SASL_SSL', 'auth.mechanism' = 'PLAIN', 'auth.username' = 'u', \
         'auth.password' = '{{ KAFKA_PASSWORD }}'",
    ))
    .unwrap();
    assert_eq!(
        t.resolve(&|_| None).unwrap_err().to_string(),
        "environment variable `KAFKA_PASSWORD` (used in `auth.password`) is not set"
    );
}

#[test]
fn precedence_is_typed_then_connection_properties_then_client_configs() {
    let profile = parse_profile_json(
        r#"{"bootstrapServers": "b1:9092", "authentication": {},
            "connectionProperties": {"security.protocol": "SSL", "isolation.level": "read_committed",
                                     "linger.ms": "1"}}"#,
    )
    .unwrap();
    let table = parse_table_json(
        r#"{"topic": "t", "type": {"offset": "latest"},
            "client_configs": {"linger.ms": "2", "max.poll.records": 10}}"#,
    )
    .unwrap();
    let definition = TableDefinition::new("t", profile, table, Format::Json, None).unwrap();
    let props = definition.resolve(&|_| None).unwrap().properties;
    assert_eq!(props.get("security.protocol"), Some("SSL"));
    assert_eq!(props.get("isolation.level"), Some("read_committed"));
    assert_eq!(props.get("linger.ms"), Some("2"));
    assert_eq!(props.get("max.poll.records"), Some("10"));
    assert_eq!(props.get("group.id"), Some("laminar-t"));
}

// ---------------------------------------------------------------------------------------------
// Secrets

const SECRETS: [&str; 5] = [
    "hunter2-pw",
    "KEY-abc123",
    "SECRET-xyz789",
    "kpw-555",
    "jaas-777",
];

fn assert_hidden(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "secret {secret} leaked in: {text}");
    }
}

#[test]
fn secrets_never_appear_in_debug_or_display() {
    let profile_json = r#"{
        "bootstrapServers": "b1:9092",
        "authentication": {"protocol": "SASL_SSL", "mechanism": "PLAIN",
                           "username": "u", "password": "hunter2-pw"},
        "schemaRegistryEnum": {"endpoint": "http://r:8081", "apiKey": "KEY-abc123",
                               "apiSecret": "SECRET-xyz789"},
        "connectionProperties": {"ssl.key.password": "kpw-555",
                                 "sasl.jaas.config": "jaas-777"}
    }"#;
    let profile = parse_profile_json(profile_json).unwrap();
    assert_hidden(&format!("{profile:?}"));
    assert_hidden(&format!("{profile:#?}"));
    let table = parse_table_json(r#"{"topic": "t", "type": {"offset": "latest"}}"#).unwrap();
    let definition = TableDefinition::new("t", profile, table, Format::Json, None).unwrap();
    assert_hidden(&format!("{definition:?}"));
    let resolved = definition.resolve(&|_| None).unwrap();
    assert_hidden(&format!("{resolved:?}"));
    assert_hidden(&format!("{:?}", resolved.properties));
    // The values are there for the client, behind explicit calls.
    assert_eq!(resolved.properties.get("sasl.password"), Some("hunter2-pw"));
    assert_eq!(resolved.properties.get("ssl.key.password"), Some("kpw-555"));

    let from_sql = parse_create_table(&sql(
        "a INT",
        ", type = 'source', 'source.offset' = 'latest', 'auth.type' = 'sasl', \
         'auth.protocol' = 'SASL_SSL', 'auth.mechanism' = 'PLAIN', 'auth.username' = 'u', \
         'auth.password' = 'hunter2-pw', 'schema_registry.endpoint' = 'http://r:1', \
         'schema_registry.api_key' = 'KEY-abc123', 'schema_registry.api_secret' = 'SECRET-xyz789', \
         'client_configs.ssl.key.password' = 'kpw-555'",
    ))
    .unwrap();
    assert_hidden(&format!("{from_sql:?}"));
    assert_hidden(&format!("{:?}", from_sql.resolve(&|_| None).unwrap()));
}

#[test]
fn secrets_never_appear_in_errors() {
    let errors: Vec<ConfigError> = vec![
        // A secret next to the error.
        parse_profile_json(
            r#"{"bootstrapServers": "b1", "authentication": {"protocol": "SASL_SSL",
                "mechanism": "PLAIN", "username": "u", "password": "hunter2-pw"}}"#,
        )
        .unwrap_err(),
        // A malformed placeholder inside a secret.
        parse_profile_json(
            r#"{"bootstrapServers": "b1:9092", "authentication": {"protocol": "SASL_SSL",
                "mechanism": "PLAIN", "username": "u", "password": "hunter2-pw{{"}}"#,
        )
        .unwrap_err(),
        // A wrong type where a secret belongs.
        parse_profile_json(
            r#"{"bootstrapServers": "b1:9092", "authentication": {},
                "schemaRegistryEnum": {"endpoint": "http://r:1", "apiKey": "KEY-abc123",
                "apiSecret": ["SECRET-xyz789"]}}"#,
        )
        .unwrap_err(),
        // A SQL syntax error right at a secret literal.
        parse_sql("CREATE TABLE t (a INT) WITH ('auth.password' = 'hunter2-pw' 'KEY-abc123')")
            .unwrap_err(),
        parse_sql("CREATE TABLE t (a INT) WITH ('auth.password' 'hunter2-pw')").unwrap_err(),
        // JSON syntax error inside a secret.
        parse_profile_json(r#"{"authentication": {"password": "hunter2-pw\q"}}"#).unwrap_err(),
    ];
    for error in &errors {
        assert_hidden(&error.to_string());
        assert_hidden(&format!("{error:?}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Totality

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn entry_points_never_panic_on_arbitrary_text(text in ".{0,300}") {
        let _ = parse_profile_json(&text);
        let _ = parse_table_json(&text);
        let _ = parse_profile_request_json(&text);
        let _ = parse_table_request_json(&text);
        let _ = parse_sql(&text);
    }

    #[test]
    fn json_entry_points_never_panic_on_json_like_text(
        text in r#"[{}\[\]":, a-z0-9._{}-]{0,200}"#,
    ) {
        let _ = parse_profile_json(&text);
        let _ = parse_table_json(&text);
        let _ = parse_table_request_json(&text);
    }

    #[test]
    fn table_fields_never_panic(
        topic in ".{0,40}",
        offset in "(latest|earliest|group|.{0,8})",
        group in ".{0,20}",
        subject in ".{0,20}",
    ) {
        let body = serde_json::json!({
            "topic": topic,
            "type": {"offset": offset, "group_id": group},
            "value_subject": subject,
            "client_configs": {"client.id": group},
        });
        if let Ok(table) = parse_table_json(&body.to_string()) {
            let _ = table.value_subject(&topic);
        }
    }

    #[test]
    fn sql_with_arbitrary_option_values_never_panics(
        topic in "[^']{0,30}",
        servers in "[^']{0,30}",
        password in "[^']{0,30}",
        column_type in "(INT|TEXT|JSON|DECIMAL\\([0-9]{1,3},[0-9]{1,3}\\)|TIMESTAMP\\([0-9]{1,2}\\)|[A-Z]{1,8})",
    ) {
        let text = format!(
            "CREATE TABLE t (c {column_type}) WITH (connector = 'kafka', bootstrap_servers = '{servers}', \
             topic = '{topic}', type = 'source', format = 'json', 'source.offset' = 'latest', \
             'auth.type' = 'sasl', 'auth.protocol' = 'SASL_SSL', 'auth.mechanism' = 'PLAIN', \
             'auth.username' = 'u', 'auth.password' = '{password}')"
        );
        match parse_sql(&text) {
            Ok(statements) => {
                for s in statements {
                    if let laminar_kafka_connector::sql::SqlStatement::CreateTable(t) = s {
                        let _ = t.resolve(&|name| Some(name.to_owned()));
                    }
                }
            }
            Err(e) => {
                // The password may legitimately appear when another field holds the same text.
                let elsewhere = servers.contains(&password) || topic.contains(&password)
                    || column_type.contains(&password);
                if password.len() >= 4 && !elsewhere && !e.to_string().contains("`auth.password`") {
                    prop_assert!(!e.to_string().contains(&password), "{}", e);
                }
            }
        }
    }
}
