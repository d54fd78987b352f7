//! The `json` format: one JSON object per record, its fields matched to columns by name.
//!
//! Each record is parsed once with `serde_json`'s streaming deserializer straight into the
//! column buffers — no intermediate `Value` tree, strings borrowed from the
//! payload where they have no escapes. A record that is not an object, is not valid JSON, or
//! has a field that does not fit its column is refused alone (the row is rolled back), so the
//! other records of the batch keep their rows whatever the [`BadDataPolicy`] does with it.
//!
//! Conversions (the same for every format): numbers into integer, float and
//! decimal columns (decimals read from the number's exact text), strings into number columns
//! when they hold a number, ISO 8601 text or milliseconds since the epoch into TIMESTAMP, text
//! or days into DATE, base64 text into BYTEA, and anything into a JSON column as its raw text.
//! Fields without a column are skipped; columns without a field are null.
//!
//! [`BadDataPolicy`]: crate::config::BadDataPolicy

use std::collections::HashMap;
use std::fmt;

use arrow_array::ArrayRef;
use arrow_schema::FieldRef;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::columns::{Columns, Kind, Scalar};
use super::{FormatError, PayloadDecoder};

/// Column lookup by field name: a linear scan for the usual handful of columns (faster than
/// hashing a short key), a hash map past [`LINEAR_LOOKUP`] columns.
#[derive(Debug, Clone)]
pub(crate) struct FieldIndex {
    names: Vec<String>,
    by_name: Option<HashMap<String, usize>>,
}

/// Most columns looked up by scanning.
const LINEAR_LOOKUP: usize = 24;

impl FieldIndex {
    pub(crate) fn new(fields: &[FieldRef]) -> Self {
        let names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
        let by_name = (names.len() > LINEAR_LOOKUP).then(|| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), i))
                .collect()
        });
        FieldIndex { names, by_name }
    }

    /// Like [`get`](Self::get), trying column `hint` first.
    #[inline]
    pub(crate) fn get_hinted(&self, name: &str, hint: usize) -> Option<usize> {
        match self.names.get(hint) {
            Some(n) if n == name => Some(hint),
            _ => self.get(name),
        }
    }

    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        match &self.by_name {
            Some(map) => map.get(name).copied(),
            None => self.names.iter().position(|n| n == name),
        }
    }
}

/// Decodes JSON objects into the payload columns.
#[derive(Debug)]
pub(crate) struct JsonDecoder {
    columns: Columns,
    index: FieldIndex,
}

impl JsonDecoder {
    pub(crate) fn new(payload_fields: &[FieldRef]) -> Result<Self, FormatError> {
        let columns = Columns::new(payload_fields).map_err(|reason| FormatError::Schema {
            format: "json",
            reason,
        })?;
        Ok(JsonDecoder {
            columns,
            index: FieldIndex::new(payload_fields),
        })
    }
}

impl PayloadDecoder for JsonDecoder {
    fn append(&mut self, payload: Option<&[u8]>, _key: Option<&[u8]>) -> Result<usize, String> {
        let Some(bytes) = payload else {
            return Err("null value (tombstone) where a JSON object was expected".to_owned());
        };
        let index = &self.index;
        self.columns
            .row(|columns| read_object_into(bytes, index, columns))
            .map(|()| 1)
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.columns.finish()
    }
}

/// Parses one JSON document that must be an object and sets its fields into the current row.
pub(crate) fn read_object_into(
    bytes: &[u8],
    index: &FieldIndex,
    columns: &mut Columns,
) -> Result<(), String> {
    // One UTF-8 check of the whole record (vectorised) instead of one per string.
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "invalid JSON: not UTF-8 (invalid byte at {})",
            e.valid_up_to()
        )
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let mut error = None;
    let seed = ObjectSeed {
        index,
        columns,
        error: &mut error,
        next: 0,
    };
    let parsed = seed.deserialize(&mut de).and_then(|()| de.end());
    match (error, parsed) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(json_error(&e)),
        (None, Ok(())) => Ok(()),
    }
}

/// A `serde_json` error as text: its category and position, never the payload.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("invalid JSON: {e}")
        }
        Category::Data => format!("{e}"),
    }
}

/// Sets the fields of a JSON object into the current row. Conversion errors are kept in
/// `error` (with our wording) and the parse is stopped with a placeholder error.
struct ObjectSeed<'a> {
    index: &'a FieldIndex,
    columns: &'a mut Columns,
    error: &'a mut Option<String>,
    /// The column the next key most likely names (records usually keep their field order).
    next: usize,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(column) = map.next_key_seed(KeySeed(self.index, self.next))? {
            match column {
                Some(i) => {
                    self.next = i + 1;
                    map.next_value_seed(ValueSeed {
                        columns: &mut *self.columns,
                        column: i,
                        error: &mut *self.error,
                    })?
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(not_object(self.error, "an array"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(not_object(self.error, "a string"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(not_object(self.error, "a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(not_object(self.error, "a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(not_object(self.error, "a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(not_object(self.error, "a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(not_object(self.error, "null"))
    }
}

/// Reads a key straight into its column index (serde's `Cow<str>` would allocate every key).
struct KeySeed<'a>(&'a FieldIndex, usize);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.get_hinted(v, self.1))
    }
}

fn not_object<E: de::Error>(slot: &mut Option<String>, found: &str) -> E {
    *slot = Some(format!("expected a JSON object, found {found}"));
    E::custom("not an object")
}

/// Reads one field's value into its column.
struct ValueSeed<'a> {
    columns: &'a mut Columns,
    column: usize,
    error: &'a mut Option<String>,
}

impl ValueSeed<'_> {
    fn fail<E: de::Error>(self, reason: &str) -> Result<(), E> {
        let name = self.columns.columns[self.column].name();
        *self.error = Some(format!("column `{name}`: {reason}"));
        Err(E::custom("conversion failed"))
    }

    fn set<E: de::Error>(self, value: Scalar<'_>) -> Result<(), E> {
        match self.columns.set(self.column, value) {
            Ok(()) => Ok(()),
            Err(e) => {
                *self.error = Some(e);
                Err(E::custom("conversion failed"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.columns.columns[self.column].kind {
            // JSON columns keep the text as written; decimals are read from the number's exact
            // text rather than through a float.
            Kind::Json | Kind::Decimal128(..) | Kind::Decimal256(..) => {
                let raw = <&'de RawValue as de::Deserialize<'de>>::deserialize(deserializer)?;
                let text = raw.get();
                let json = self.columns.columns[self.column].kind == Kind::Json;
                if text == "null" {
                    self.set(Scalar::Null)
                } else if json {
                    self.set(Scalar::Json(text))
                } else if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
                {
                    if inner.contains('\\') {
                        self.fail("text is not a decimal number")
                    } else {
                        self.set(Scalar::Str(inner))
                    }
                } else if text.starts_with(['{', '[']) {
                    self.set(Scalar::Json(text))
                } else if text == "true" || text == "false" {
                    self.set(Scalar::Bool(text == "true"))
                } else {
                    self.set(Scalar::Str(text))
                }
            }
            Kind::Binary => deserializer.deserialize_any(Base64Visitor(self)),
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.set(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.set(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.set(Scalar::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.set(Scalar::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.set(Scalar::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.set(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.set(Scalar::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A nested object in a column that is not JSON: only TEXT takes it, as its JSON text.
        let value: serde_json::Map<String, serde_json::Value> =
            de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(&mut map))?;
        let text = serde_json::Value::Object(value).to_string();
        self.set(Scalar::Json(&text))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let value: Vec<serde_json::Value> =
            de::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(&mut seq))?;
        let text = serde_json::Value::Array(value).to_string();
        self.set(Scalar::Json(&text))
    }
}

/// BYTEA columns take base64 text (standard alphabet, padding optional), as Kafka Connect's
/// and Debezium's JSON converters write bytes.
struct Base64Visitor<'a>(ValueSeed<'a>);

impl<'de> Visitor<'de> for Base64Visitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("base64 text")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        use base64::Engine;
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        match engine.decode(v) {
            Ok(bytes) => self.0.set(Scalar::Bytes(&bytes)),
            Err(_) => self.0.fail("text is not base64"),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.set(Scalar::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.set(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.set(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.set(Scalar::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.set(Scalar::Float(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.0.set(Scalar::Json("{}"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.0.set(Scalar::Json("[]"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Decimal128Type, Float64Type, Int16Type, Int64Type, TimestampMillisecondType,
    };
    use arrow_array::{Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};

    use crate::config::{BadDataPolicy, Format};
    use crate::format::{Decoder, FormatError, RecordMetadata};
    use crate::schema::json_field;

    fn meta(offset: i64) -> RecordMetadata<'static> {
        RecordMetadata {
            topic: "events",
            partition: 0,
            offset,
            timestamp_ms: 0,
            key: None,
            headers: &[],
        }
    }

    fn schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("small", DataType::Int16, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Float64, true),
            Field::new("price", DataType::Decimal128(10, 2), true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("day", DataType::Date32, true),
            Field::new("blob", DataType::Binary, true),
            Field::new("ok", DataType::Boolean, true),
            json_field("payload", true),
        ]))
    }

    fn decode(
        records: &[&str],
        policy: BadDataPolicy,
    ) -> (Result<RecordBatch, FormatError>, Vec<FormatError>, u64) {
        let mut d = Decoder::new(schema(), Format::Json, policy).unwrap();
        let mut errors = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if let Err(e) = d.decode(Some(r.as_bytes()), &meta(i as i64)) {
                errors.push(e);
            }
        }
        let dropped = d.dropped();
        (d.flush(), errors, dropped)
    }

    #[test]
    fn fields_become_typed_columns_and_json_columns_keep_their_text() {
        let (batch, errors, _) = decode(
            &[
                r#"{"id": 1, "small": -3, "name": "a\"b", "score": 1.5, "price": 12.345,
                    "at": "2024-01-02T03:04:05.678Z", "day": "2024-02-29", "blob": "AAH/",
                    "ok": true, "payload": {"score": 0.25, "tags": ["x"]}, "unknown": [1, {"a": 2}]}"#,
                r#"{"id": 2, "price": "0.1", "at": 1700000000123, "payload": "text", "name": {"n": 1}}"#,
                r#"{"id": 3, "payload": null, "price": 1e2}"#,
            ],
            BadDataPolicy::Fail,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let batch = batch.unwrap();
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(
            batch.column(0).as_primitive::<Int64Type>().values(),
            &[1, 2, 3]
        );
        assert_eq!(batch.column(1).as_primitive::<Int16Type>().value(0), -3);
        assert!(batch.column(1).is_null(1));
        let names = batch.column(2).as_string::<i32>();
        assert_eq!(names.value(0), "a\"b");
        assert_eq!(
            names.value(1),
            r#"{"n":1}"#,
            "a nested object in TEXT is its JSON"
        );
        assert_eq!(batch.column(3).as_primitive::<Float64Type>().value(0), 1.5);
        let prices = batch.column(4).as_primitive::<Decimal128Type>();
        assert_eq!(
            (prices.value(0), prices.value(1), prices.value(2)),
            (1235, 10, 10000)
        );
        let at = batch.column(5).as_primitive::<TimestampMillisecondType>();
        assert_eq!(at.value(0), 1_704_164_645_678);
        assert_eq!(
            at.value(1),
            1_700_000_000_123,
            "numbers are epoch milliseconds"
        );
        assert_eq!(
            batch.column(6).as_primitive::<Date32Type>().value(0),
            19_782
        );
        assert_eq!(batch.column(7).as_binary::<i32>().value(0), &[0, 1, 255]);
        assert!(batch.column(8).as_boolean().value(0));
        let payload = batch.column(9).as_string::<i32>();
        assert_eq!(payload.value(0), r#"{"score": 0.25, "tags": ["x"]}"#);
        assert_eq!(payload.value(1), r#""text""#);
        assert!(payload.is_null(2));
    }

    #[test]
    fn a_bad_record_fails_with_its_position_and_keeps_the_other_rows() {
        let records = [
            r#"{"id": 1}"#,
            r#"{"id": "x"}"#,
            r#"{"id": 3, "small": 70000}"#,
            r#"[1, 2]"#,
            r#"{"id": 5} trailing"#,
            r#"{"id": 6, "name": "#,
            r#"{"name": "no id"}"#,
            r#"{"id": 8, "ok": "maybe"}"#,
            r#"{"id": 9, "blob": "!!"}"#,
            r#"{"id": 10, "at": "yesterday"}"#,
            r#"{"id": 11, "price": 123456789.5}"#,
            r#"{"id": 12}"#,
        ];
        let (batch, errors, _) = decode(&records, BadDataPolicy::Fail);
        let batch = batch.unwrap();
        assert_eq!(
            batch.column(0).as_primitive::<Int64Type>().values(),
            &[1, 12]
        );
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "record at events/0@1: column `id`: text is not a whole number",
                "record at events/0@2: column `small`: 70000 is out of range",
                "record at events/0@3: expected a JSON object, found an array",
                "record at events/0@4: invalid JSON: trailing characters at line 1 column 11",
                "record at events/0@5: invalid JSON: EOF while parsing a value at line 1 column 18",
                "record at events/0@6: no value for NOT NULL column `id`",
                "record at events/0@7: column `ok` of type Boolean cannot hold a string",
                "record at events/0@8: column `blob`: text is not base64",
                "record at events/0@9: column `at`: text is not an ISO 8601 / RFC 3339 timestamp",
                "record at events/0@10: column `price`: does not fit DECIMAL(10,2)",
            ]
        );
        for m in &messages {
            assert!(
                !m.contains("maybe") && !m.contains("yesterday"),
                "payload leaked: {m}"
            );
        }

        let (batch, errors, dropped) = decode(&records, BadDataPolicy::Drop);
        assert!(errors.is_empty());
        assert_eq!(dropped, 10);
        assert_eq!(batch.unwrap().num_rows(), 2);
    }

    #[test]
    fn a_tombstone_is_a_bad_record_for_json() {
        let mut d = Decoder::new(schema(), Format::Json, BadDataPolicy::Fail).unwrap();
        let e = d.decode(None, &meta(4)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "record at events/0@4: null value (tombstone) where a JSON object was expected"
        );
    }
}
