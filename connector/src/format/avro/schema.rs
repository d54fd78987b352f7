//! The mapping between Avro schemas and Arrow schemas: the columns of a table read with a
//! given Avro reader schema ([`arrow_schema_of`]), and the Avro schema of a sink's columns
//! ([`avro_schema_for`]).
//!
//! This file owns the type correspondence only; it reads and writes no datum.

use std::sync::Arc;

use apache_avro::schema::Schema;
use arrow_schema::{DataType, FieldRef, TimeUnit};

use super::plan::WriterSchema;
use crate::format::FormatError;
use crate::format::columns::Kind;

/// The Avro type of one Arrow column, without nullability.
fn avro_type(field: &FieldRef) -> Result<serde_json::Value, String> {
    use serde_json::json;
    let kind = Kind::of(field).ok_or_else(|| {
        format!(
            "column `{}` has type {}, which has no Avro form here",
            field.name(),
            field.data_type()
        )
    })?;
    Ok(match kind {
        Kind::Bool => json!("boolean"),
        Kind::Int8 | Kind::Int16 | Kind::Int32 => json!("int"),
        Kind::Int64 => json!("long"),
        Kind::Float32 => json!("float"),
        Kind::Float64 => json!("double"),
        Kind::Decimal128(p, s) | Kind::Decimal256(p, s) => {
            json!({"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s})
        }
        Kind::Utf8 => json!("string"),
        // Kafka Connect's convention for JSON text in Avro.
        Kind::Json => json!({"type": "string", "connect.name": "io.debezium.data.Json"}),
        Kind::Binary => json!("bytes"),
        Kind::Date32 => json!({"type": "int", "logicalType": "date"}),
        Kind::Time(TimeUnit::Second | TimeUnit::Millisecond) => {
            json!({"type": "int", "logicalType": "time-millis"})
        }
        // Avro has no nanosecond time: TIME(9) is written in microseconds.
        Kind::Time(_) => json!({"type": "long", "logicalType": "time-micros"}),
        Kind::Timestamp(unit) => {
            let utc = matches!(field.data_type(), DataType::Timestamp(_, Some(_)));
            let precision = match unit {
                TimeUnit::Second | TimeUnit::Millisecond => "millis",
                TimeUnit::Microsecond => "micros",
                TimeUnit::Nanosecond => "nanos",
            };
            let logical = if utc {
                format!("timestamp-{precision}")
            } else {
                format!("local-timestamp-{precision}")
            };
            json!({"type": "long", "logicalType": logical})
        }
    })
}

/// The columns of a table read with Avro schema `text` (a record): one column per field, for
/// tables declared without columns whose reader schema is given (or taken from the registry).
/// `["null", T]` is a nullable `T`; records, arrays, maps, other unions and durations are JSON
/// columns; enums and uuids TEXT; fixed BYTEA; decimals DECIMAL(p,s) (wider than 76 digits is
/// an error); timestamps with their unit (UTC for `timestamp-*`, no zone for
/// `local-timestamp-*`).
///
/// ```
/// use laminar_kafka_connector::format::avro::arrow_schema_of;
///
/// let schema = arrow_schema_of(r#"{"type": "record", "name": "R", "fields": [
///     {"name": "id", "type": "long"}, {"name": "note", "type": ["null", "string"]}]}"#)?;
/// assert_eq!(schema.field(0).name(), "id");
/// assert!(!schema.field(0).is_nullable() && schema.field(1).is_nullable());
/// # Ok::<(), laminar_kafka_connector::format::FormatError>(())
/// ```
pub fn arrow_schema_of(text: &str) -> Result<arrow_schema::Schema, FormatError> {
    let schema_error = |reason: String| FormatError::Schema {
        format: "avro",
        reason,
    };
    let writer = WriterSchema::parse(text, &[]).map_err(schema_error)?;
    let Schema::Record(record) = writer.deref(&writer.schema).map_err(schema_error)? else {
        return Err(schema_error("the schema is not a record".into()));
    };
    let fields = record
        .fields
        .iter()
        .map(|f| arrow_field(&writer, &f.name, &f.schema).map_err(schema_error))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(arrow_schema::Schema::new(fields))
}

fn arrow_field(
    w: &WriterSchema,
    name: &str,
    schema: &Schema,
) -> Result<arrow_schema::Field, String> {
    use arrow_schema::Field;
    let schema = w.deref(schema)?;
    if let Schema::Union(u) = schema {
        let variants = u.variants();
        let non_null: Vec<&Schema> = variants.iter().filter(|v| **v != Schema::Null).collect();
        return match non_null.as_slice() {
            [one] if variants.len() == 2 => Ok(arrow_field(w, name, one)?.with_nullable(true)),
            _ => Ok(crate::schema::json_field(name, true)),
        };
    }
    let utc = || Some(Arc::from("UTC"));
    let t = match schema {
        Schema::Null => return Ok(Field::new(name, DataType::Utf8, true)),
        Schema::Boolean => DataType::Boolean,
        Schema::Int => DataType::Int32,
        Schema::Long => DataType::Int64,
        Schema::Float => DataType::Float32,
        Schema::Double => DataType::Float64,
        Schema::Bytes | Schema::Fixed(_) | Schema::BigDecimal => DataType::Binary,
        Schema::String | Schema::Enum(_) | Schema::Uuid => DataType::Utf8,
        Schema::Decimal(d) => {
            let p = u8::try_from(d.precision)
                .ok()
                .filter(|p| (1..=76).contains(p));
            let s = i8::try_from(d.scale).ok();
            match (p, s) {
                (Some(p), Some(s)) if p <= 38 => DataType::Decimal128(p, s),
                (Some(p), Some(s)) => DataType::Decimal256(p, s),
                _ => return Err(format!("field `{name}`: decimal precision is above 76")),
            }
        }
        Schema::Date => DataType::Date32,
        Schema::TimeMillis => DataType::Time32(TimeUnit::Millisecond),
        Schema::TimeMicros => DataType::Time64(TimeUnit::Microsecond),
        Schema::TimestampMillis => DataType::Timestamp(TimeUnit::Millisecond, utc()),
        Schema::TimestampMicros => DataType::Timestamp(TimeUnit::Microsecond, utc()),
        Schema::TimestampNanos => DataType::Timestamp(TimeUnit::Nanosecond, utc()),
        Schema::LocalTimestampMillis => DataType::Timestamp(TimeUnit::Millisecond, None),
        Schema::LocalTimestampMicros => DataType::Timestamp(TimeUnit::Microsecond, None),
        Schema::LocalTimestampNanos => DataType::Timestamp(TimeUnit::Nanosecond, None),
        Schema::Record(_)
        | Schema::Array(_)
        | Schema::Map(_)
        | Schema::Duration
        | Schema::Union(_)
        | Schema::Ref { .. } => return Ok(crate::schema::json_field(name, false)),
    };
    Ok(Field::new(name, t, false))
}

/// Avro names: letters, digits and `_`, not starting with a digit.
fn avro_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The Avro record schema (JSON text) of a sink with these columns: record `name` (a full
/// name, `namespace.Name`), one field per column, nullable columns as `["null", T]` with
/// default `null`.
pub fn avro_schema_for(name: &str, fields: &[FieldRef]) -> Result<String, FormatError> {
    let schema_error = |reason: String| FormatError::Schema {
        format: "avro",
        reason,
    };
    let (namespace, short) = match name.rsplit_once('.') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, name),
    };
    if !avro_name(short) || namespace.is_some_and(|ns| !ns.split('.').all(avro_name)) {
        return Err(schema_error(format!("`{name}` is not an Avro record name")));
    }
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        if !avro_name(field.name()) {
            return Err(schema_error(format!(
                "column `{}` is not a valid Avro field name (letters, digits, `_`)",
                field.name()
            )));
        }
        let t = avro_type(field).map_err(schema_error)?;
        out.push(if field.is_nullable() {
            serde_json::json!({"name": field.name(), "type": ["null", t], "default": null})
        } else {
            serde_json::json!({"name": field.name(), "type": t})
        });
    }
    let mut record = serde_json::json!({"type": "record", "name": short, "fields": out});
    if let Some(ns) = namespace {
        record["namespace"] = serde_json::Value::String(ns.to_owned());
    }
    let text = record.to_string();
    // Checked by the reference implementation, so a registry will accept it.
    Schema::parse_str(&text).map_err(|e| schema_error(format!("derived schema: {e}")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use apache_avro::types::Value as AvroValue;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    use super::*;
    use crate::config::BadDataPolicy;
    use crate::format::Decoder;
    use crate::format::avro::tests::meta;

    #[test]
    fn a_given_reader_schema_gives_the_columns_and_reads_its_records() {
        let text = r#"{"type": "record", "name": "R", "fields": [
            {"name": "id", "type": "long"},
            {"name": "price", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}]},
            {"name": "at", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A"]}},
            {"name": "either", "type": ["int", "string"]}]}"#;
        let schema = arrow_schema_of(text).unwrap();
        let types: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| {
                format!(
                    "{}{}",
                    f.data_type(),
                    if f.is_nullable() { "?" } else { "" }
                )
            })
            .collect();
        assert_eq!(
            types,
            [
                "Int64",
                "Decimal128(9, 2)?",
                "Timestamp(µs)",
                "Utf8",
                "Utf8",
                "Utf8?"
            ]
        );
        assert!(crate::schema::is_json(schema.field(3)));
        let record = AvroValue::Record(vec![
            ("id".into(), AvroValue::Long(1)),
            (
                "price".into(),
                AvroValue::Union(0, Box::new(AvroValue::Null)),
            ),
            ("at".into(), AvroValue::LocalTimestampMicros(5)),
            ("tags".into(), AvroValue::Array(vec![])),
            ("kind".into(), AvroValue::Enum(0, "A".into())),
            (
                "either".into(),
                AvroValue::Union(0, Box::new(AvroValue::Int(3))),
            ),
        ]);
        let datum = apache_avro::to_avro_datum(&Schema::parse_str(text).unwrap(), record).unwrap();
        let mut d = Decoder::plain_avro(Arc::new(schema), text, BadDataPolicy::Fail).unwrap();
        d.decode(Some(&datum), &meta(0)).unwrap();
        let b = d.flush().unwrap();
        assert_eq!(b.column(5).as_string::<i32>().value(0), "3");
        assert!(b.column(1).is_null(0));
    }
}
