//! Entry points for fuzz targets: each feeds arbitrary bytes to one decoder, as a record value
//! and as a record key, and must return without panicking whatever the bytes. They build their
//! decoders on every call, so they are for fuzzing, not for speed.

use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::config::{BadDataPolicy, Format};
use crate::format::{Decoder, RecordMetadata};
use crate::schema::json_field;
#[cfg(any(feature = "avro", feature = "protobuf"))]
use crate::schema_registry::{RegisteredSchema, SchemaType};

/// A table with a column of every type the formats fill: what every entry point decodes into.
pub fn table() -> SchemaRef {
    static TABLE: OnceLock<SchemaRef> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("small", DataType::Int16, true),
                Field::new("flag", DataType::Boolean, true),
                Field::new("name", DataType::Utf8, true),
                Field::new("score", DataType::Float64, true),
                Field::new("price", DataType::Decimal128(10, 2), true),
                Field::new("wide", DataType::Decimal256(50, 5), true),
                Field::new("day", DataType::Date32, true),
                Field::new("at", DataType::Time64(TimeUnit::Microsecond), true),
                Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    true,
                ),
                Field::new("blob", DataType::Binary, true),
                json_field("doc", true),
            ]))
        })
        .clone()
}

/// The Avro writer schema of the fuzzed Avro records (every kind of Avro type).
pub const AVRO_WRITER: &str = r#"{"type": "record", "name": "F", "fields": [
    {"name": "id", "type": "long"},
    {"name": "small", "type": ["null", "int"]},
    {"name": "flag", "type": "boolean"},
    {"name": "name", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
    {"name": "score", "type": "float"},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "wide", "type": {"type": "fixed", "name": "W", "size": 20, "logicalType": "decimal", "precision": 40, "scale": 5}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": {"type": "long", "logicalType": "time-micros"}},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "blob", "type": "bytes"},
    {"name": "doc", "type": {"type": "map", "values": {"type": "array", "items": ["null", "string", "F"]}}}
]}"#;

/// The `.proto` of the fuzzed Protobuf records.
pub const PROTO: &str = r#"syntax = "proto3";
import "google/protobuf/timestamp.proto";
message F {
  int64 id = 1; optional int32 small = 2; bool flag = 3; E name = 4; double score = 5;
  string price = 6; string wide = 7; int32 day = 8; string at = 9;
  google.protobuf.Timestamp ts = 10; bytes blob = 11; repeated F doc = 12;
  map<string, F> more = 13;
}
enum E { A = 0; B = 1; }
"#;

fn meta(key: Option<&[u8]>) -> RecordMetadata<'_> {
    RecordMetadata {
        topic: "fuzz",
        partition: 0,
        offset: 0,
        timestamp_ms: 0,
        key,
        headers: &[],
    }
}

fn run(mut decoder: Decoder, data: &[u8]) {
    let _ = decoder.decode(Some(data), &meta(Some(data)));
    let _ = decoder.decode(None, &meta(Some(data)));
    let _ = decoder.flush();
}

fn decoder(format: Format) -> Option<Decoder> {
    Decoder::new(table(), format, BadDataPolicy::Fail).ok()
}

/// JSON records.
pub fn fuzz_json(data: &[u8]) {
    if let Some(d) = decoder(Format::Json) {
        run(d, data);
    }
}

/// Debezium change events (the bytes are the value and the key).
pub fn fuzz_debezium_json(data: &[u8]) {
    if let Some(d) = decoder(Format::DebeziumJson) {
        run(d, data);
    }
}

/// Avro: plain records of [`AVRO_WRITER`], and the same bytes as a Confluent-framed record
/// whose header names it (schema id 1).
pub fn fuzz_avro(data: &[u8]) {
    #[cfg(not(feature = "avro"))]
    let _ = data;
    #[cfg(feature = "avro")]
    if let Ok(d) = Decoder::plain_avro(table(), AVRO_WRITER, BadDataPolicy::Drop) {
        run(d, data);
    }
    #[cfg(feature = "avro")]
    if let Some(mut d) = decoder(Format::Avro) {
        d.add_schema(
            &RegisteredSchema::new(1, SchemaType::Avro, AVRO_WRITER.to_owned()),
            &[],
        );
        run(d, data);
    }
}

/// Arbitrary text as an Avro writer schema, then the same bytes as a record of it.
pub fn fuzz_avro_schema(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    #[cfg(not(feature = "avro"))]
    let _ = text;
    #[cfg(feature = "avro")]
    if let Ok(d) = Decoder::plain_avro(table(), text, BadDataPolicy::Fail) {
        run(d, data);
    }
}

/// Confluent-framed Protobuf records of [`PROTO`] (schema id 1).
pub fn fuzz_protobuf(data: &[u8]) {
    #[cfg(not(feature = "protobuf"))]
    let _ = data;
    #[cfg(feature = "protobuf")]
    if let Some(mut d) = decoder(Format::Protobuf) {
        d.add_schema(
            &RegisteredSchema::new(1, SchemaType::Protobuf, PROTO.to_owned()),
            &[],
        );
        run(d, data);
    }
}

/// Raw text and raw bytes records.
pub fn fuzz_raw(data: &[u8]) {
    let value = |t: DataType| Arc::new(Schema::new(vec![Field::new("value", t, true)]));
    for (schema, format) in [
        (value(DataType::Utf8), Format::RawString),
        (value(DataType::Binary), Format::RawBytes),
    ] {
        if let Ok(d) = Decoder::new(schema, format, BadDataPolicy::Fail) {
            run(d, data);
        }
    }
}
