//! The `debezium_json` format: Debezium change events in JSON, with or without Kafka
//! Connect's `{"schema": …, "payload": …}` wrapper, become changelog rows.
//!
//! | `op` | rows (`_op` column) |
//! |---|---|
//! | `c` create, `r` snapshot read | `after` as `+I` |
//! | `u` update | `before` as `-U`, then `after` as `+U` (only `+U` when the event has no `before`) |
//! | `d` delete | `before` as `-D` (from the record key when the event has no `before`) |
//! | `t` truncate, `m` message | none |
//!
//! A null value (the tombstone Debezium writes after a delete, for log compaction) makes no
//! row and is not bad data. The row images are matched to columns by name with the JSON
//! format's conversions; with the wrapper, Kafka Connect's semantic types are honoured:
//! `io.debezium.time.*` integers (days, milli-, micro-, nanoseconds) and
//! `org.apache.kafka.connect.data.Decimal` (base64 unscaled bytes with the schema's scale).
//! Without it, such a decimal is read at the column's scale.
//!
//! An event is all or nothing: if its second row fails, its first is taken back.

use std::collections::HashMap;

use arrow_array::ArrayRef;
use arrow_schema::FieldRef;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::columns::{Columns, Kind, Scalar};
use super::json::{FieldIndex, json_error};
use super::{FormatError, PayloadDecoder};
use crate::schema::{CHANGE_OP_COLUMN, ChangeOp};

/// The parts of an envelope we read; the rest (`source`, `ts_ms`, `transaction`) is skipped.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    before: Option<&'a RawValue>,
    #[serde(borrow, default)]
    after: Option<&'a RawValue>,
    #[serde(default)]
    op: Option<String>,
}

/// How a field's integers or strings are to be read (Kafka Connect semantic types).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Semantic {
    Days,
    TimeMillis,
    TimeMicros,
    TimeNanos,
    TimestampMillis,
    TimestampMicros,
    TimestampNanos,
    Decimal(i8),
    VariableDecimal,
}

/// Decodes Debezium events into the payload columns plus `_op`.
#[derive(Debug)]
pub(crate) struct DebeziumDecoder {
    columns: Columns,
    index: FieldIndex,
    op: usize,
    /// The last wrapper schema seen, and what it says about each field.
    semantics: Option<(String, HashMap<String, Semantic>)>,
}

impl DebeziumDecoder {
    /// `payload_fields` must include the `_op` column.
    pub(crate) fn new(payload_fields: &[FieldRef]) -> Result<Self, FormatError> {
        let schema_error = |reason: String| FormatError::Schema {
            format: "debezium_json",
            reason,
        };
        let op = payload_fields
            .iter()
            .position(|f| f.name() == CHANGE_OP_COLUMN)
            .ok_or_else(|| schema_error(format!("no `{CHANGE_OP_COLUMN}` column")))?;
        Ok(DebeziumDecoder {
            columns: Columns::new(payload_fields).map_err(schema_error)?,
            index: FieldIndex::new(payload_fields),
            op,
            semantics: None,
        })
    }

    fn semantics_of(&mut self, schema: Option<&RawValue>) -> HashMap<String, Semantic> {
        let Some(schema) = schema else {
            return HashMap::new();
        };
        if let Some((text, map)) = &self.semantics {
            if text == schema.get() {
                return map.clone();
            }
        }
        let map = parse_semantics(schema.get());
        self.semantics = Some((schema.get().to_owned(), map.clone()));
        map
    }

    /// Appends one row image with `op`.
    fn image(
        &mut self,
        image: &RawValue,
        op: ChangeOp,
        semantics: &HashMap<String, Semantic>,
    ) -> Result<(), String> {
        let fields: serde_json::Map<String, Value> =
            serde_json::from_str(image.get()).map_err(|e| match e.classify() {
                serde_json::error::Category::Data => "a row image is not a JSON object".to_owned(),
                _ => json_error(&e),
            })?;
        let index = &self.index;
        let op_column = self.op;
        self.columns.row(|columns| {
            columns.set(op_column, Scalar::Str(op.as_str()))?;
            for (name, value) in &fields {
                let Some(i) = index.get(name) else { continue };
                if i == op_column {
                    continue;
                }
                set_field(columns, i, value, semantics.get(name).copied())?;
            }
            Ok(())
        })
    }
}

fn set_field(
    columns: &mut Columns,
    i: usize,
    value: &Value,
    semantic: Option<Semantic>,
) -> Result<(), String> {
    let kind = columns.columns[i].kind;
    let name = columns.columns[i].name().to_owned();
    let scalar = match (value, semantic) {
        (Value::Null, _) => Scalar::Null,
        (Value::Number(n), Some(s)) if n.as_i64().is_some() => {
            let v = n.as_i64().unwrap_or_default();
            match s {
                Semantic::Days => Scalar::Date(
                    i32::try_from(v)
                        .map_err(|_| format!("column `{name}`: date is out of range"))?,
                ),
                Semantic::TimeMillis => Scalar::TimeNanos(v.saturating_mul(1_000_000)),
                Semantic::TimeMicros => Scalar::TimeNanos(v.saturating_mul(1_000)),
                Semantic::TimeNanos => Scalar::TimeNanos(v),
                Semantic::TimestampMillis => Scalar::TimestampNanos(i128::from(v) * 1_000_000),
                Semantic::TimestampMicros => Scalar::TimestampNanos(i128::from(v) * 1_000),
                Semantic::TimestampNanos => Scalar::TimestampNanos(i128::from(v)),
                Semantic::Decimal(_) | Semantic::VariableDecimal => Scalar::Int(v),
            }
        }
        (Value::String(s), Some(Semantic::Decimal(scale))) => {
            let bytes = base64_decode(s)
                .ok_or_else(|| format!("column `{name}`: decimal is not base64"))?;
            return columns.set(i, Scalar::DecimalBytes(&bytes, scale));
        }
        (Value::Object(o), Some(Semantic::VariableDecimal)) => {
            let scale = o
                .get("scale")
                .and_then(Value::as_i64)
                .and_then(|s| i8::try_from(s).ok())
                .ok_or_else(|| format!("column `{name}`: variable-scale decimal has no scale"))?;
            let bytes = o
                .get("value")
                .and_then(Value::as_str)
                .and_then(base64_decode)
                .ok_or_else(|| format!("column `{name}`: variable-scale decimal has no value"))?;
            return columns.set(i, Scalar::DecimalBytes(&bytes, scale));
        }
        (Value::Bool(b), _) => Scalar::Bool(*b),
        (Value::Number(n), _) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(v), _, _) => Scalar::Int(v),
            (None, Some(v), _) => Scalar::UInt(v),
            (None, None, Some(v)) => Scalar::Float(v),
            _ => return Err(format!("column `{name}`: number is out of range")),
        },
        (Value::String(s), _) => match kind {
            Kind::Binary => {
                let bytes = base64_decode(s)
                    .ok_or_else(|| format!("column `{name}`: text is not base64"))?;
                return columns.set(i, Scalar::Bytes(&bytes));
            }
            // Debezium's default `decimal.handling.mode=precise` without the schema: base64
            // of the unscaled value, at the column's scale.
            Kind::Decimal128(_, scale) | Kind::Decimal256(_, scale)
                if super::columns::decimal_digits(s.trim(), 76, 0).is_err() =>
            {
                let bytes = base64_decode(s)
                    .ok_or_else(|| format!("column `{name}`: text is not a decimal number"))?;
                return columns.set(i, Scalar::DecimalBytes(&bytes, scale));
            }
            Kind::Json => Scalar::Str(s),
            _ => Scalar::Str(s),
        },
        (Value::Object(_) | Value::Array(_), _) => {
            let text = value.to_string();
            return columns.set(i, Scalar::Json(&text));
        }
    };
    columns.set(i, scalar)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
    .decode(s)
    .ok()
}

/// Field name → semantic type, from a Kafka Connect envelope schema (the `before` / `after`
/// structs). Unknown shapes give an empty map: fields are then read by their JSON type.
fn parse_semantics(schema: &str) -> HashMap<String, Semantic> {
    let mut out = HashMap::new();
    let Ok(schema) = serde_json::from_str::<Value>(schema) else {
        return out;
    };
    let Some(parts) = schema.get("fields").and_then(Value::as_array) else {
        return out;
    };
    for part in parts {
        let which = part.get("field").and_then(Value::as_str);
        if !matches!(which, Some("before" | "after")) {
            continue;
        }
        for f in part
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(field), Some(name)) = (
                f.get("field").and_then(Value::as_str),
                f.get("name").and_then(Value::as_str),
            ) else {
                continue;
            };
            let semantic = match name {
                "io.debezium.time.Date" | "org.apache.kafka.connect.data.Date" => Semantic::Days,
                "io.debezium.time.Time" | "org.apache.kafka.connect.data.Time" => {
                    Semantic::TimeMillis
                }
                "io.debezium.time.MicroTime" => Semantic::TimeMicros,
                "io.debezium.time.NanoTime" => Semantic::TimeNanos,
                "io.debezium.time.Timestamp" | "org.apache.kafka.connect.data.Timestamp" => {
                    Semantic::TimestampMillis
                }
                "io.debezium.time.MicroTimestamp" => Semantic::TimestampMicros,
                "io.debezium.time.NanoTimestamp" => Semantic::TimestampNanos,
                "org.apache.kafka.connect.data.Decimal" => {
                    let scale = f
                        .get("parameters")
                        .and_then(|p| p.get("scale"))
                        .and_then(|s| match s {
                            Value::String(s) => s.parse::<i8>().ok(),
                            Value::Number(n) => n.as_i64().and_then(|n| i8::try_from(n).ok()),
                            _ => None,
                        });
                    match scale {
                        Some(s) => Semantic::Decimal(s),
                        None => continue,
                    }
                }
                "io.debezium.data.VariableScaleDecimal" => Semantic::VariableDecimal,
                _ => continue,
            };
            out.insert(field.to_owned(), semantic);
        }
    }
    out
}

fn is_null(v: Option<&RawValue>) -> bool {
    v.is_none_or(|v| v.get() == "null")
}

impl PayloadDecoder for DebeziumDecoder {
    fn append(&mut self, payload: Option<&[u8]>, key: Option<&[u8]>) -> Result<usize, String> {
        // The tombstone after a delete: nothing to do.
        let Some(bytes) = payload else { return Ok(0) };
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err("a Debezium event is a JSON object".to_owned());
        }
        let outer: Envelope<'_> =
            serde_json::from_slice(bytes).map_err(|e| match e.classify() {
                serde_json::error::Category::Data => "a Debezium event is a JSON object".to_owned(),
                _ => json_error(&e),
            })?;
        let (envelope, schema) = match (outer.payload, &outer.op) {
            (Some(p), None) if p.get() != "null" => {
                let inner: Envelope<'_> = serde_json::from_str(p.get())
                    .map_err(|_| "the `payload` of a Debezium event is not an object".to_owned())?;
                (inner, outer.schema)
            }
            (Some(_), None) => return Ok(0),
            _ => (outer, None),
        };
        let semantics = self.semantics_of(schema);
        let op = envelope
            .op
            .as_deref()
            .ok_or("the Debezium event has no `op`")?;
        let start = self.columns.rows();
        let mut result = || -> Result<usize, String> {
            match op {
                "c" | "r" => {
                    let after = envelope
                        .after
                        .filter(|a| !is_null(Some(a)))
                        .ok_or_else(|| format!("op `{op}` without an `after` image"))?;
                    self.image(after, ChangeOp::Insert, &semantics)?;
                    Ok(1)
                }
                "u" => {
                    let after = envelope
                        .after
                        .filter(|a| !is_null(Some(a)))
                        .ok_or("op `u` without an `after` image")?;
                    let mut rows = 0;
                    if let Some(before) = envelope.before.filter(|b| !is_null(Some(b))) {
                        self.image(before, ChangeOp::UpdateBefore, &semantics)?;
                        rows += 1;
                    }
                    self.image(after, ChangeOp::UpdateAfter, &semantics)?;
                    Ok(rows + 1)
                }
                "d" => {
                    if let Some(before) = envelope.before.filter(|b| !is_null(Some(b))) {
                        self.image(before, ChangeOp::Delete, &semantics)?;
                        return Ok(1);
                    }
                    // Without a `before` image, the key (its payload, if wrapped) names the row.
                    let key = key.ok_or("op `d` without a `before` image or a key")?;
                    let key_text = std::str::from_utf8(key)
                        .map_err(|_| "the record key is not UTF-8 JSON".to_owned())?;
                    let whole: &RawValue = serde_json::from_str(key_text)
                        .map_err(|_| "the record key is not JSON".to_owned())?;
                    let wrapped: Option<Envelope<'_>> = serde_json::from_str(key_text).ok();
                    let image = match wrapped {
                        Some(Envelope {
                            schema: Some(_),
                            payload: Some(p),
                            ..
                        }) => p,
                        _ => whole,
                    };
                    self.image(image, ChangeOp::Delete, &HashMap::new())?;
                    Ok(1)
                }
                "t" | "m" => Ok(0),
                other => Err(format!(
                    "unknown Debezium op `{}`",
                    crate::config::shorten(other)
                )),
            }
        };
        let outcome = result();
        if outcome.is_err() {
            self.columns.truncate_rows(start);
        }
        outcome
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.columns.finish()
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Int64Type, TimestampNanosecondType};

    use crate::config::BadDataPolicy;
    use crate::format::{Decoder, RecordMetadata};
    use crate::sql::parse_create_table;

    /// The reference page's CDC table.
    fn decoder(policy: BadDataPolicy) -> Decoder {
        let t = parse_create_table(
            "CREATE TABLE cdc_orders (order_id BIGINT PRIMARY KEY, customer_id BIGINT, \
             total DECIMAL, status TEXT, updated_at TIMESTAMP) WITH (connector = 'kafka', \
             bootstrap_servers = 'localhost:9092', topic = 'mysql.shop.orders', \
             type = 'source', format = 'debezium_json', 'source.offset' = 'earliest')",
        )
        .unwrap();
        Decoder::new(t.schema.clone().unwrap(), t.format, policy).unwrap()
    }

    fn meta(offset: i64, key: Option<&'static [u8]>) -> RecordMetadata<'static> {
        RecordMetadata {
            topic: "mysql.shop.orders",
            partition: 0,
            offset,
            timestamp_ms: 0,
            key,
            headers: &[],
        }
    }

    const WRAPPED_UPDATE: &str = r#"{
      "schema": {"type": "struct", "name": "mysql.shop.orders.Envelope", "fields": [
        {"field": "before", "type": "struct", "optional": true, "fields": [
          {"field": "order_id", "type": "int64"},
          {"field": "total", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
           "parameters": {"scale": "2", "connect.decimal.precision": "10"}},
          {"field": "updated_at", "type": "int64", "name": "io.debezium.time.MicroTimestamp"}]},
        {"field": "after", "type": "struct", "optional": true, "fields": [
          {"field": "order_id", "type": "int64"},
          {"field": "total", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
           "parameters": {"scale": "2"}},
          {"field": "updated_at", "type": "int64", "name": "io.debezium.time.MicroTimestamp"}]},
        {"field": "op", "type": "string"}]},
      "payload": {
        "before": {"order_id": 1, "customer_id": 7, "total": "AKQ=", "status": "new", "updated_at": 1700000000000000},
        "after": {"order_id": 1, "customer_id": 7, "total": "AMg=", "status": "paid", "updated_at": 1700000001000000},
        "source": {"db": "shop"}, "op": "u", "ts_ms": 1700000001001}
    }"#;

    #[test]
    fn events_become_changelog_rows_with_and_without_the_schema_wrapper() {
        let mut d = decoder(BadDataPolicy::Fail);
        assert_eq!(d.schema().fields().last().unwrap().name(), "_op");
        let insert = br#"{"before": null, "after": {"order_id": 1, "customer_id": 7, "total": 1.64, "status": "new", "updated_at": "2023-11-14T22:13:20Z"}, "op": "c"}"#;
        d.decode(Some(insert), &meta(0, None)).unwrap();
        d.decode(Some(WRAPPED_UPDATE.as_bytes()), &meta(1, None))
            .unwrap();
        let delete = br#"{"before": {"order_id": 1, "customer_id": 7, "status": "paid"}, "after": null, "op": "d"}"#;
        d.decode(Some(delete), &meta(2, Some(br#"{"order_id": 1}"#)))
            .unwrap();
        // The tombstone that follows a delete.
        d.decode(None, &meta(3, Some(br#"{"order_id": 1}"#)))
            .unwrap();
        // A delete without `before` (REPLICA IDENTITY DEFAULT): the key names the row.
        let bare = br#"{"schema": null, "payload": {"before": null, "after": null, "op": "d"}}"#;
        d.decode(
            Some(bare),
            &meta(
                4,
                Some(br#"{"schema": {"type": "struct"}, "payload": {"order_id": 9}}"#),
            ),
        )
        .unwrap();
        d.decode(
            Some(br#"{"op": "t", "before": null, "after": null}"#),
            &meta(5, None),
        )
        .unwrap();
        let b = d.flush().unwrap();
        let ops: Vec<&str> = (0..b.num_rows())
            .map(|i| b.column(5).as_string::<i32>().value(i))
            .collect();
        assert_eq!(ops, ["+I", "-U", "+U", "-D", "-D"]);
        assert_eq!(
            b.column(0).as_primitive::<Int64Type>().values(),
            &[1, 1, 1, 1, 9]
        );
        let totals = b.column(2).as_primitive::<Decimal128Type>();
        // DECIMAL is DECIMAL(38,10): 1.64, then 1.64 and 2.00 from base64 at scale 2.
        assert_eq!(totals.value(0), 16_400_000_000);
        assert_eq!(totals.value(1), 16_400_000_000);
        assert_eq!(totals.value(2), 20_000_000_000);
        assert!(totals.is_null(3));
        let at = b.column(4).as_primitive::<TimestampNanosecondType>();
        assert_eq!(at.value(0), 1_700_000_000_000_000_000);
        assert_eq!(at.value(2), 1_700_000_001_000_000_000, "MicroTimestamp");
        assert_eq!(b.column(3).as_string::<i32>().value(2), "paid");
    }

    #[test]
    fn a_bad_event_leaves_no_half_update_behind() {
        let mut d = decoder(BadDataPolicy::Fail);
        // `before` is fine, `after` has no primary key value (NOT NULL).
        let bad = br#"{"before": {"order_id": 1}, "after": {"status": "x"}, "op": "u"}"#;
        let e = d.decode(Some(bad), &meta(0, None)).unwrap_err().to_string();
        assert_eq!(
            e,
            "record at mysql.shop.orders/0@0: no value for NOT NULL column `order_id`"
        );
        for (payload, reason) in [
            (
                &br#"{"op": "x", "after": {}}"#[..],
                "unknown Debezium op `x`",
            ),
            (
                br#"{"after": {"order_id": 1}}"#,
                "the Debezium event has no `op`",
            ),
            (
                br#"{"op": "c", "after": null}"#,
                "op `c` without an `after` image",
            ),
            (
                br#"{"op": "d", "before": null}"#,
                "op `d` without a `before` image or a key",
            ),
            (br#"[1]"#, "a Debezium event is a JSON object"),
            (
                br#"{"op": "c", "after": [1]}"#,
                "a row image is not a JSON object",
            ),
        ] {
            let e = d
                .decode(Some(payload), &meta(1, None))
                .unwrap_err()
                .to_string();
            assert!(e.ends_with(reason), "{e}");
        }
        let ok = br#"{"op": "r", "after": {"order_id": 2}}"#;
        d.decode(Some(ok), &meta(2, None)).unwrap();
        let b = d.flush().unwrap();
        assert_eq!(b.num_rows(), 1);
        assert_eq!(b.column(5).as_string::<i32>().value(0), "+I");
    }
}
