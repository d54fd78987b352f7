//! Sinks: Arrow rows into Kafka records — `(key, value, timestamp, headers)` per row — in the
//! table's format. The producer that sends them is the client crate's.
//!
//! The value holds every column. `key_field` picks the column whose value becomes the key (its
//! text, or its bytes for BYTEA; a null makes a null key) and `timestamp_field` the TIMESTAMP
//! column that becomes the record timestamp in milliseconds (without it the timestamp is left
//! to the producer). Avro values are framed with the id of their schema in the registry,
//! registered under `value_subject` (default `{topic}-value`) by
//! [`Encoder::avro_registered`]; Protobuf likewise with [`Encoder::protobuf_registered`].

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{FieldRef, SchemaRef, TimeUnit};
use bytes::Bytes;

#[cfg(feature = "avro")]
use super::avro;
use super::columns::{Kind, shift_point};
#[cfg(all(feature = "protobuf", feature = "schema-registry"))]
use super::protobuf;
use super::{FormatError, temporal};
use crate::config::{Format, SinkConfig};
#[cfg(all(
    feature = "schema-registry",
    any(feature = "avro", feature = "protobuf")
))]
use crate::schema_registry::{SchemaRegistryClient, SchemaType};

/// One record for the producer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodedRecord {
    /// The key, `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Milliseconds since the epoch, `None` to let the producer choose.
    pub timestamp: Option<i64>,
    /// Record headers.
    pub headers: Vec<(String, Option<Bytes>)>,
}

#[derive(Debug)]
enum Value {
    Json,
    Raw,
    /// Avro binary, framed with this schema id when there is one.
    #[cfg(feature = "avro")]
    Avro(Option<u32>),
    #[cfg(all(feature = "protobuf", feature = "schema-registry"))]
    Protobuf(protobuf::ProtoEncoder),
}

/// Encodes batches of a sink table.
#[derive(Debug)]
pub struct Encoder {
    fields: Vec<FieldRef>,
    kinds: Vec<Kind>,
    value: Value,
    key: Option<usize>,
    timestamp: Option<(usize, TimeUnit)>,
}

fn schema_error(format: &'static str, reason: String) -> FormatError {
    FormatError::Schema { format, reason }
}

impl Encoder {
    /// An encoder of `json`, `raw_string` or `raw_bytes` records. Avro and Protobuf need a
    /// registry: see [`avro_registered`](Self::avro_registered),
    /// [`protobuf_registered`](Self::protobuf_registered).
    pub fn new(schema: SchemaRef, format: Format, sink: &SinkConfig) -> Result<Self, FormatError> {
        let value = match format {
            Format::Json => Value::Json,
            Format::RawString | Format::RawBytes => {
                let payload: Vec<_> = schema.fields().iter().collect();
                match payload.as_slice() {
                    [f] if f.name() == "value"
                        && matches!(Kind::of(f), Some(Kind::Utf8 | Kind::Binary | Kind::Json)) => {}
                    _ => {
                        return Err(schema_error(
                            format.as_str(),
                            "a raw sink writes one column, `value` (TEXT or BYTEA)".into(),
                        ));
                    }
                }
                Value::Raw
            }
            // Plain Avro, unframed: registry-framed values come from `avro_registered`.
            #[cfg(feature = "avro")]
            Format::Avro => Value::Avro(None),
            #[cfg(not(feature = "avro"))]
            Format::Avro => return Err(FormatError::NotBuilt("avro")),
            Format::Protobuf => {
                return Err(schema_error(
                    "protobuf",
                    "a Protobuf sink registers its schema: use Encoder::protobuf_registered".into(),
                ));
            }
            other => return Err(FormatError::Unsupported(other.as_str())),
        };
        Self::build(schema, format, sink, value)
    }

    /// An encoder of Avro records with the schema [`avro::avro_schema_for`] derives, framed
    /// with `schema_id` (Confluent wire format) or plain when `None`.
    #[cfg(feature = "avro")]
    pub fn avro(
        schema: SchemaRef,
        sink: &SinkConfig,
        schema_id: Option<u32>,
    ) -> Result<Self, FormatError> {
        Self::build(schema, Format::Avro, sink, Value::Avro(schema_id))
    }

    /// Derives the Avro schema of the columns (record `record_name`), registers it under
    /// `subject`, and returns an encoder of records framed with its id.
    #[cfg(all(feature = "avro", feature = "schema-registry"))]
    pub async fn avro_registered(
        schema: SchemaRef,
        sink: &SinkConfig,
        registry: &SchemaRegistryClient,
        subject: &str,
        record_name: &str,
    ) -> Result<Self, FormatError> {
        let fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
        let text = avro::avro_schema_for(record_name, &fields)?;
        let id = registry
            .register(subject, SchemaType::Avro, &text, &[])
            .await
            .map_err(|e| FormatError::Registry(e.to_string()))?;
        Self::avro(schema, sink, Some(id))
    }

    /// Derives a `.proto` file for the columns (message `message_name`), registers it under
    /// `subject`, and returns an encoder of records framed with its id and message index `0`.
    #[cfg(all(feature = "protobuf", feature = "schema-registry"))]
    pub async fn protobuf_registered(
        schema: SchemaRef,
        sink: &SinkConfig,
        registry: &SchemaRegistryClient,
        subject: &str,
        message_name: &str,
    ) -> Result<Self, FormatError> {
        let fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
        let text = protobuf::proto_for(message_name, &fields)?;
        let id = registry
            .register(subject, SchemaType::Protobuf, &text, &[])
            .await
            .map_err(|e| FormatError::Registry(e.to_string()))?;
        let encoder = protobuf::ProtoEncoder::new(&text, message_name, &fields, Some(id))?;
        Self::build(schema, Format::Protobuf, sink, Value::Protobuf(encoder))
    }

    fn build(
        schema: SchemaRef,
        format: Format,
        sink: &SinkConfig,
        value: Value,
    ) -> Result<Self, FormatError> {
        let fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
        let kinds = fields
            .iter()
            .map(|f| {
                Kind::of(f).ok_or_else(|| {
                    schema_error(
                        format.as_str(),
                        format!("column `{}` has type {}", f.name(), f.data_type()),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let position = |name: &str, what: &str| {
            fields.iter().position(|f| f.name() == name).ok_or_else(|| {
                schema_error(format.as_str(), format!("{what} `{name}` is not a column"))
            })
        };
        let key = sink
            .key_field
            .as_deref()
            .map(|k| position(k, "key_field"))
            .transpose()?;
        let timestamp = match sink.timestamp_field.as_deref() {
            None => None,
            Some(name) => {
                let i = position(name, "timestamp_field")?;
                match kinds[i] {
                    Kind::Timestamp(unit) => Some((i, unit)),
                    _ => {
                        return Err(schema_error(
                            format.as_str(),
                            format!("timestamp_field `{name}` is not a TIMESTAMP column"),
                        ));
                    }
                }
            }
        };
        #[cfg(feature = "avro")]
        if let Value::Avro(_) = value {
            // Checks every column has an Avro form before the first row.
            avro::avro_schema_for("Row", &fields)?;
        }
        Ok(Encoder {
            fields,
            kinds,
            value,
            key,
            timestamp,
        })
    }

    /// The records of `batch` (whose columns must be the table's), one per row.
    pub fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<EncodedRecord>, FormatError> {
        if batch.num_columns() != self.fields.len() {
            return Err(FormatError::Encode(format!(
                "batch has {} columns, the table {}",
                batch.num_columns(),
                self.fields.len()
            )));
        }
        for (field, array) in self.fields.iter().zip(batch.columns()) {
            if field.data_type() != array.data_type() {
                return Err(FormatError::Encode(format!(
                    "column `{}` is {} in the batch, {} in the table",
                    field.name(),
                    array.data_type(),
                    field.data_type()
                )));
            }
        }
        let columns = batch.columns();
        // Every value of the batch goes into one buffer, which the records then share.
        let mut all: Vec<u8> = Vec::new();
        let mut pending = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let key = match self.key {
                Some(k) => key_bytes(&columns[k], self.kinds[k], row)?,
                None => None,
            };
            let timestamp = match self.timestamp {
                Some((i, unit)) if columns[i].is_valid(row) => {
                    let v = timestamp_value(&columns[i], unit, row);
                    Some(
                        temporal::nanos_to_unit(
                            i128::from(v) * temporal::unit_nanos(unit),
                            TimeUnit::Millisecond,
                        )
                        .ok_or_else(|| FormatError::Encode("timestamp is out of range".into()))?,
                    )
                }
                _ => None,
            };
            let start = all.len();
            let present = match &mut self.value {
                Value::Json => {
                    write_json_row(&self.fields, &self.kinds, columns, row, &mut all)?;
                    true
                }
                Value::Raw => match self.kinds[0] {
                    _ if columns[0].is_null(row) => false,
                    Kind::Binary => {
                        all.extend_from_slice(columns[0].as_binary::<i32>().value(row));
                        true
                    }
                    _ => {
                        all.extend_from_slice(columns[0].as_string::<i32>().value(row).as_bytes());
                        true
                    }
                },
                #[cfg(feature = "avro")]
                Value::Avro(id) => {
                    if let Some(id) = id {
                        all.push(avro::CONFLUENT_MAGIC);
                        all.extend_from_slice(&id.to_be_bytes());
                    }
                    avro::write_datum(&self.fields, columns, row, &mut all)?;
                    true
                }
                #[cfg(all(feature = "protobuf", feature = "schema-registry"))]
                Value::Protobuf(encoder) => {
                    encoder.write_row(columns, row, &mut all)?;
                    true
                }
            };
            pending.push((key, present.then_some(start..all.len()), timestamp));
        }
        let all = Bytes::from(all);
        Ok(pending
            .into_iter()
            .map(|(key, span, timestamp)| EncodedRecord {
                key,
                value: span.map(|r| all.slice(r)),
                timestamp,
                headers: Vec::new(),
            })
            .collect())
    }
}

fn timestamp_value(array: &ArrayRef, unit: TimeUnit, row: usize) -> i64 {
    match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
    }
}

/// The key of a row: a BYTEA column's bytes, a TEXT or JSON column's text, anything else its
/// JSON text without quotes (`42`, `2024-01-02`).
fn key_bytes(array: &ArrayRef, kind: Kind, row: usize) -> Result<Option<Bytes>, FormatError> {
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match kind {
        Kind::Binary => Bytes::copy_from_slice(array.as_binary::<i32>().value(row)),
        Kind::Utf8 | Kind::Json => {
            Bytes::copy_from_slice(array.as_string::<i32>().value(row).as_bytes())
        }
        _ => {
            let mut text = Vec::new();
            json_cell(array, kind, row, &mut text)?;
            let text = match (text.first(), text.last()) {
                (Some(b'"'), Some(b'"')) if text.len() >= 2 => text[1..text.len() - 1].to_vec(),
                _ => text,
            };
            Bytes::from(text)
        }
    }))
}

/// Writes one row as a JSON object; the inverse of the `json` decoder.
pub(crate) fn write_json_row(
    fields: &[FieldRef],
    kinds: &[Kind],
    columns: &[ArrayRef],
    row: usize,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    out.push(b'{');
    for (i, ((field, kind), array)) in fields.iter().zip(kinds).zip(columns).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(field.name(), out);
        out.push(b':');
        json_cell(array, *kind, row, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_json_string(s: &str, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// One value as JSON: numbers as numbers (decimals exactly), text as strings, JSON columns as
/// their text, bytes as base64, dates and times as ISO 8601, non-finite floats as null.
pub(crate) fn json_cell(
    array: &ArrayRef,
    kind: Kind,
    row: usize,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    use std::io::Write;
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let mut text = String::new();
    match kind {
        Kind::Bool => out.extend_from_slice(if array.as_boolean().value(row) {
            b"true"
        } else {
            b"false"
        }),
        Kind::Int8 => {
            let _ = write!(out, "{}", array.as_primitive::<Int8Type>().value(row));
        }
        Kind::Int16 => {
            let _ = write!(out, "{}", array.as_primitive::<Int16Type>().value(row));
        }
        Kind::Int32 => {
            let _ = write!(out, "{}", array.as_primitive::<Int32Type>().value(row));
        }
        Kind::Int64 => {
            let _ = write!(out, "{}", array.as_primitive::<Int64Type>().value(row));
        }
        Kind::Float32 | Kind::Float64 => {
            let v = match kind {
                Kind::Float32 => f64::from(array.as_primitive::<Float32Type>().value(row)),
                _ => array.as_primitive::<Float64Type>().value(row),
            };
            match serde_json::Number::from_f64(v) {
                Some(n) => {
                    let _ = write!(out, "{n}");
                }
                None => out.extend_from_slice(b"null"),
            }
        }
        Kind::Decimal128(_, s) => {
            let v = array.as_primitive::<Decimal128Type>().value(row);
            out.extend_from_slice(shift_point(&v.to_string(), s).as_bytes());
        }
        Kind::Decimal256(_, s) => {
            let v = array.as_primitive::<Decimal256Type>().value(row);
            out.extend_from_slice(shift_point(&v.to_string(), s).as_bytes());
        }
        Kind::Utf8 => write_json_string(array.as_string::<i32>().value(row), out),
        Kind::Json => {
            let raw = array.as_string::<i32>().value(row);
            if serde_json::from_str::<serde::de::IgnoredAny>(raw).is_err() {
                return Err(FormatError::Encode(format!(
                    "row {row}: a JSON column holds text that is not JSON"
                )));
            }
            out.extend_from_slice(raw.as_bytes());
        }
        Kind::Binary => {
            use base64::Engine;
            let b = array.as_binary::<i32>().value(row);
            text = base64::engine::general_purpose::STANDARD.encode(b);
            write_json_string(&text, out);
        }
        Kind::Date32 => {
            temporal::format_date(
                i64::from(array.as_primitive::<Date32Type>().value(row)),
                &mut text,
            );
            write_json_string(&text, out);
        }
        Kind::Time(unit) => {
            let nanos = match unit {
                TimeUnit::Second => {
                    i64::from(array.as_primitive::<Time32SecondType>().value(row)) * 1_000_000_000
                }
                TimeUnit::Millisecond => {
                    i64::from(array.as_primitive::<Time32MillisecondType>().value(row)) * 1_000_000
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<Time64MicrosecondType>().value(row) * 1_000
                }
                TimeUnit::Nanosecond => array.as_primitive::<Time64NanosecondType>().value(row),
            };
            temporal::format_time(nanos, unit, &mut text);
            write_json_string(&text, out);
        }
        Kind::Timestamp(unit) => {
            let utc = matches!(
                array.data_type(),
                arrow_schema::DataType::Timestamp(_, Some(_))
            );
            temporal::format_timestamp(timestamp_value(array, unit, row), unit, utc, &mut text);
            write_json_string(&text, out);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BadDataPolicy, CommitMode};
    use crate::format::{Decoder, RecordMetadata};
    use crate::schema::json_field;
    use arrow_array::{
        BinaryArray, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray,
        TimestampMillisecondArray,
    };
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    pub(crate) fn sink(key: Option<&str>, ts: Option<&str>) -> SinkConfig {
        SinkConfig {
            commit_mode: CommitMode::AtLeastOnce,
            key_field: key.map(str::to_owned),
            timestamp_field: ts.map(str::to_owned),
        }
    }

    pub(crate) fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("user", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("price", DataType::Decimal128(8, 3), true),
            Field::new("day", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("blob", DataType::Binary, true),
            json_field("payload", true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![7, 8])),
                Arc::new(StringArray::from(vec![Some("ann \"q\""), None])),
                Arc::new(Float64Array::from(vec![Some(0.25), Some(f64::NAN)])),
                Arc::new(
                    Decimal128Array::from(vec![Some(-1_500), None])
                        .with_precision_and_scale(8, 3)
                        .unwrap(),
                ),
                Arc::new(Date32Array::from(vec![Some(19_782), None])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![Some(1_700_000_000_123), None])
                        .with_timezone("UTC"),
                ),
                Arc::new(BinaryArray::from(vec![Some(&[0u8, 255][..]), None])),
                Arc::new(StringArray::from(vec![Some(r#"{"a":[1,2]}"#), None])),
            ],
        )
        .unwrap()
    }

    fn meta(offset: i64) -> RecordMetadata<'static> {
        RecordMetadata {
            topic: "t",
            partition: 0,
            offset,
            timestamp_ms: 0,
            key: None,
            headers: &[],
        }
    }

    #[test]
    fn json_rows_carry_key_and_timestamp_and_decode_back() {
        let b = batch();
        let mut e = Encoder::new(b.schema(), Format::Json, &sink(Some("id"), Some("at"))).unwrap();
        let records = e.encode(&b).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].key.as_deref(), Some(&b"7"[..]));
        assert_eq!(records[0].timestamp, Some(1_700_000_000_123));
        assert_eq!(records[1].timestamp, None);
        assert_eq!(
            std::str::from_utf8(records[0].value.as_deref().unwrap()).unwrap(),
            r#"{"id":7,"user":"ann \"q\"","score":0.25,"price":-1.500,"day":"2024-02-29","at":"2023-11-14T22:13:20.123Z","blob":"AP8=","payload":{"a":[1,2]}}"#
        );
        let mut d = Decoder::new(b.schema(), Format::Json, BadDataPolicy::Fail).unwrap();
        for (i, r) in records.iter().enumerate() {
            d.decode(r.value.as_deref(), &meta(i as i64)).unwrap();
        }
        let back = d.flush().unwrap();
        // NaN has no JSON form and comes back as null; everything else is unchanged.
        assert!(back.column(2).is_null(1));
        for c in [0, 1, 3, 4, 5, 6, 7] {
            assert_eq!(back.column(c), b.column(c), "column {c}");
        }
    }

    #[test]
    fn avro_rows_are_framed_and_decode_back() {
        let b = batch();
        let mut e = Encoder::avro(b.schema(), &sink(Some("user"), None), Some(9)).unwrap();
        let records = e.encode(&b).unwrap();
        assert_eq!(records[0].key.as_deref(), Some(&b"ann \"q\""[..]));
        assert_eq!(records[1].key, None, "a null key column makes a null key");
        let value = records[0].value.as_deref().unwrap();
        assert_eq!(&value[..5], &[0, 0, 0, 0, 9]);
        let fields: Vec<FieldRef> = b.schema().fields().iter().cloned().collect();
        let writer = avro::avro_schema_for("Row", &fields).unwrap();
        let mut d = Decoder::new(b.schema(), Format::Avro, BadDataPolicy::Fail).unwrap();
        d.add_schema(
            &crate::schema_registry::RegisteredSchema::new(9, SchemaType::Avro, writer),
            &[],
        );
        for (i, r) in records.iter().enumerate() {
            d.decode(r.value.as_deref(), &meta(i as i64)).unwrap();
        }
        assert_eq!(d.flush().unwrap(), b);
    }

    #[test]
    fn raw_sinks_write_the_value_column_and_nulls_as_tombstones() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "value",
            DataType::Binary,
            true,
        )]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(BinaryArray::from(vec![Some(&b"x"[..]), None]))],
        )
        .unwrap();
        let mut e = Encoder::new(schema, Format::RawBytes, &sink(None, None)).unwrap();
        let r = e.encode(&b).unwrap();
        assert_eq!(r[0].value.as_deref(), Some(&b"x"[..]));
        assert_eq!(r[1].value, None);
        let e = Encoder::new(batch().schema(), Format::RawString, &sink(None, None)).unwrap_err();
        assert!(e.to_string().contains("one column, `value`"), "{e}");
        let e =
            Encoder::new(batch().schema(), Format::Json, &sink(None, Some("user"))).unwrap_err();
        assert!(e.to_string().contains("is not a TIMESTAMP"), "{e}");
    }
}
