//! Sink encoders that register their schema in the registry, read back by the source decoder
//! through the same registry (`connector/tests/registry.sh start`).

use std::sync::Arc;

use arrow_array::{
    Date32Array, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use laminar_kafka_connector::config::{BadDataPolicy, Format, Secret, TableType};
use laminar_kafka_connector::format::{Decoder, Encoder, RecordMetadata};
use laminar_kafka_connector::schema_registry::{RegistryError, SchemaRegistryClient, SchemaType};
use laminar_kafka_connector::sql::parse_create_table;

async fn registry() -> SchemaRegistryClient {
    let var = |n: &str, d: &str| std::env::var(n).unwrap_or_else(|_| d.into());
    let url = var(
        "LAMINAR_SCHEMA_REGISTRY_URL",
        "http://127.0.0.1:18081/apis/ccompat/v7",
    );
    let client = SchemaRegistryClient::new(
        &url,
        Some((
            Secret::new(var("LAMINAR_SCHEMA_REGISTRY_KEY", "laminar-key")),
            Secret::new(var(
                "LAMINAR_SCHEMA_REGISTRY_SECRET",
                "laminar-registry-secret",
            )),
        )),
    )
    .unwrap();
    if let Err(e @ RegistryError::Unreachable { .. }) = client.subjects().await {
        panic!(
            "no schema registry answers at {url} ({e}). Start one with `connector/tests/registry.sh start`"
        );
    }
    client
}

fn unique(topic: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{topic}-{}-{nanos}", std::process::id())
}

fn batch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("result", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("total", DataType::Decimal128(12, 2), true),
        Field::new("day", DataType::Date32, true),
        Field::new(
            "processed_at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        ),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec![Some("ok"), None, Some("")])),
            Arc::new(Float64Array::from(vec![Some(1.5), Some(-0.0), None])),
            Arc::new(
                Decimal128Array::from(vec![Some(123_456), None, Some(-1)])
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ),
            Arc::new(Date32Array::from(vec![Some(0), Some(-1), None])),
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(1_700_000_000_000_001),
                None,
                Some(-1),
            ])),
        ],
    )
    .unwrap()
}

fn meta(offset: i64) -> RecordMetadata<'static> {
    RecordMetadata {
        topic: "processed",
        partition: 0,
        offset,
        timestamp_ms: 0,
        key: None,
        headers: &[],
    }
}

/// The reference page's sink table, with the schema registry and an Avro or Protobuf format.
fn sink(format: &str) -> laminar_kafka_connector::config::TableDefinition {
    parse_create_table(&format!(
        "CREATE TABLE output_events (id BIGINT, result TEXT, processed_at TIMESTAMP) WITH ( \
         connector = 'kafka', bootstrap_servers = 'localhost:9092', topic = 'processed', \
         type = 'sink', format = '{format}', 'schema_registry.endpoint' = 'http://127.0.0.1:18081', \
         'sink.commit_mode' = 'exactly_once', 'sink.key_field' = 'id', \
         'sink.timestamp_field' = 'processed_at')"
    ))
    .unwrap()
}

async fn round_trip(format: Format) {
    let registry = registry().await;
    let b = batch();
    let topic = unique("processed");
    let definition = sink(if format == Format::Avro {
        "avro"
    } else {
        "protobuf"
    });
    let TableType::Sink(sink_config) = &definition.table.kind else {
        panic!("a sink")
    };
    let subject = definition.table.value_subject(&topic);
    assert_eq!(subject, format!("{topic}-value"));
    let mut encoder = match format {
        Format::Avro => Encoder::avro_registered(
            b.schema(),
            sink_config,
            &registry,
            &subject,
            "laminar.Output",
        )
        .await
        .unwrap(),
        _ => Encoder::protobuf_registered(
            b.schema(),
            sink_config,
            &registry,
            &subject,
            "laminar.Output",
        )
        .await
        .unwrap(),
    };
    let records = encoder.encode(&b).unwrap();
    assert_eq!(records[0].key.as_deref(), Some(&b"1"[..]));
    assert_eq!(records[0].timestamp, Some(1_700_000_000_000));
    assert_eq!(records[1].timestamp, None);
    let latest = registry.latest(&subject).await.unwrap();
    let expected_type = if format == Format::Avro {
        SchemaType::Avro
    } else {
        SchemaType::Protobuf
    };
    assert_eq!(latest.schema.schema_type, expected_type);
    assert_eq!(
        &records[0].value.as_deref().unwrap()[1..5],
        &latest.schema.id.to_be_bytes()
    );

    let mut decoder = Decoder::new(b.schema(), format, BadDataPolicy::Fail).unwrap();
    for (i, r) in records.iter().enumerate() {
        decoder
            .decode_with_registry(&registry, r.value.as_deref(), &meta(i as i64))
            .await
            .unwrap();
    }
    let back = decoder.flush().unwrap();
    for c in 0..b.num_columns() {
        assert_eq!(back.column(c), b.column(c), "column {c}");
    }
}

#[tokio::test]
async fn avro_sink_registers_its_schema_and_its_records_read_back() {
    round_trip(Format::Avro).await;
}

#[tokio::test]
async fn protobuf_sink_registers_its_schema_and_its_records_read_back() {
    round_trip(Format::Protobuf).await;
}
