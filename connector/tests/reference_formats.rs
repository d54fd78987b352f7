//! The tables of the connector's user documentation (the same SQL, verbatim) read and write
//! records in their formats: every source builds a decoder that turns a typical record into
//! the documented columns, every sink an encoder that honours `key_field`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampNanosecondType};
use arrow_array::{
    Array, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use laminar_kafka_connector::config::{TableDefinition, TableType};
use laminar_kafka_connector::format::{Decoder, Encoder, RecordMetadata};
use laminar_kafka_connector::sql::parse_create_table;

fn decoder(t: &TableDefinition) -> Decoder {
    Decoder::new(t.schema.clone().unwrap(), t.format, t.table.bad_data).unwrap()
}

fn meta<'a>(topic: &'a str, key: Option<&'a [u8]>) -> RecordMetadata<'a> {
    RecordMetadata {
        topic,
        partition: 4,
        offset: 77,
        timestamp_ms: 1_700_000_000_000,
        key,
        headers: &[],
    }
}

#[test]
fn simple_source_table_reads_json_events() {
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
    let mut d = decoder(&t);
    d.decode(
        Some(br#"{"id": 1, "user_id": "u1", "event_type": "view", "timestamp": "2024-05-01T10:00:00Z"}"#),
        &meta("events", None),
    )
    .unwrap();
    let b = d.flush().unwrap();
    assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), 1);
    assert_eq!(b.column(2).as_string::<i32>().value(0), "view");
    assert_eq!(
        b.column(3)
            .as_primitive::<TimestampNanosecondType>()
            .value(0),
        1_714_557_600_000_000_000
    );
}

#[test]
fn event_stream_processing_keeps_the_payload_json_and_keys_the_sink_by_user() {
    let source = parse_create_table(
        "CREATE TABLE raw_events (
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
);",
    )
    .unwrap();
    let mut d = decoder(&source);
    d.decode(
        Some(br#"{"event_id": 9, "user_id": "ann", "event_type": "purchase_book", "payload": {"score": 0.75}}"#),
        &meta("raw_events", None),
    )
    .unwrap();
    let b = d.flush().unwrap();
    // JSON_VALUE(payload, '$.score') has the field's JSON text to work on.
    assert_eq!(
        b.column(3).as_string::<i32>().value(0),
        r#"{"score": 0.75}"#
    );

    let sink = parse_create_table(
        "CREATE TABLE processed_events (
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
);",
    )
    .unwrap();
    let TableType::Sink(config) = &sink.table.kind else {
        panic!("a sink")
    };
    let schema = sink.schema.clone().unwrap();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![9])),
            Arc::new(StringArray::from(vec!["ann"])),
            Arc::new(StringArray::from(vec!["transaction"])),
            Arc::new(Float64Array::from(vec![0.75])),
            Arc::new(TimestampNanosecondArray::from(vec![
                1_714_557_600_000_000_000,
            ])),
        ],
    )
    .unwrap();
    let records = Encoder::new(schema, sink.format, config)
        .unwrap()
        .encode(&batch)
        .unwrap();
    assert_eq!(records[0].key.as_deref(), Some(&b"ann"[..]));
    assert_eq!(
        std::str::from_utf8(records[0].value.as_deref().unwrap()).unwrap(),
        r#"{"event_id":9,"user_id":"ann","event_category":"transaction","score":0.75,"processed_at":"2024-05-01T10:00:00.000000000"}"#
    );
}

#[test]
fn schema_registry_table_builds_an_avro_decoder() {
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
    let d = decoder(&t);
    assert_eq!(d.missing_schema(Some(&[0, 0, 0, 0, 12, 2])), Some(12));
}

#[test]
fn cdc_table_reads_debezium_updates_as_retract_and_insert() {
    let t = parse_create_table(
        "CREATE TABLE cdc_orders (
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
);",
    )
    .unwrap();
    let mut d = decoder(&t);
    d.decode(
        Some(br#"{"before": {"order_id": 3, "status": "new"}, "after": {"order_id": 3, "status": "paid"}, "op": "u"}"#),
        &meta("mysql.shop.orders", None),
    )
    .unwrap();
    let b = d.flush().unwrap();
    assert_eq!(b.schema().field(5).name(), "_op");
    let ops = b.column(5).as_string::<i32>();
    assert_eq!((ops.value(0), ops.value(1)), ("-U", "+U"));
    let status = b.column(3).as_string::<i32>();
    assert_eq!((status.value(0), status.value(1)), ("new", "paid"));
}

#[test]
fn multi_topic_consumer_reads_raw_values_and_metadata() {
    let t = parse_create_table(
        "CREATE TABLE all_events (
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
    let mut d = decoder(&t);
    d.decode(Some(b"hello"), &meta("events-clicks", Some(b"k")))
        .unwrap();
    let b = d.flush().unwrap();
    assert_eq!(b.column(0).as_string::<i32>().value(0), "events-clicks");
    assert_eq!(b.column(1).as_primitive::<Int32Type>().value(0), 4);
    assert_eq!(b.column(2).as_primitive::<Int64Type>().value(0), 77);
    assert_eq!(b.column(3).as_string::<i32>().value(0), "k");
    assert_eq!(b.column(4).as_string::<i32>().value(0), "hello");
    assert!(b.column(5).is_valid(0));
}
