//! The `protobuf` format: Confluent-framed Protocol Buffers. After the magic byte and the
//! schema id comes the message-index path (zig-zag varints: a count, then the index of the
//! message in the file and in each nested level; a count of `0` alone means the first message),
//! then the message.
//!
//! The registry returns `.proto` text (and the files it imports, as references); it is
//! compiled in process with `protox` (no `protoc`) into descriptors, once per schema id, and
//! messages are read with `prost-reflect`. Fields are matched to columns by name. Proto3
//! fields without presence read as their default when absent, fields with presence
//! (`optional`, messages, proto2) as null. Enums become their value's name,
//! `google.protobuf.Timestamp` a timestamp, the wrapper types their value, and other messages,
//! repeated fields and maps JSON text.
//!
//! [`proto_for`] derives a `.proto` file for a sink's columns and [`ProtoEncoder`] writes
//! rows as messages of it.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{FieldRef, TimeUnit};
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, MapKey, MessageDescriptor, ReflectMessage,
    Value,
};

use super::columns::{Columns, Kind, Scalar, shift_point};
use super::framing::confluent_schema_id;
use super::{FormatError, PayloadDecoder, temporal};
use crate::schema_registry::{RegisteredSchema, SchemaType};

/// The file name the registered schema is compiled under.
const MAIN_FILE: &str = "laminar_registered_schema.proto";

/// Longest message-index path accepted (messages nested deeper are not addressable).
const MAX_INDEXES: usize = 32;

/// Compiles `.proto` text with the files it imports (`(name, text)`), plus Google's
/// well-known types.
pub(crate) fn compile(text: &str, imports: &[(String, String)]) -> Result<DescriptorPool, String> {
    struct Files(HashMap<String, String>);
    impl protox::file::FileResolver for Files {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            match self.0.get(name) {
                Some(text) => protox::file::File::from_source(name, text),
                None => Err(protox::Error::file_not_found(name)),
            }
        }
    }
    let mut files: HashMap<String, String> = imports.iter().cloned().collect();
    files.insert(MAIN_FILE.to_owned(), text.to_owned());
    let mut chain = protox::file::ChainFileResolver::new();
    chain.add(Files(files));
    chain.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler
        .open_file(MAIN_FILE)
        .map_err(|e| format!("invalid .proto schema: {e}"))?;
    Ok(compiler.descriptor_pool())
}

/// The message a path of indexes names in the main file.
fn message_at(pool: &DescriptorPool, indexes: &[usize]) -> Result<MessageDescriptor, String> {
    let file = pool
        .get_file_by_name(MAIN_FILE)
        .ok_or("the compiled schema has no main file")?;
    let (first, rest) = indexes.split_first().ok_or("empty message index path")?;
    let mut message = file
        .messages()
        .nth(*first)
        .ok_or_else(|| format!("message index {first} is out of range"))?;
    for i in rest {
        let child = message
            .child_messages()
            .nth(*i)
            .ok_or_else(|| format!("nested message index {i} is out of range"))?;
        message = child;
    }
    Ok(message)
}

/// Reads a zig-zag varint; returns it and the bytes after it.
fn zigzag(bytes: &[u8]) -> Result<(i64, &[u8]), String> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((
                ((value >> 1) as i64) ^ -((value & 1) as i64),
                &bytes[i + 1..],
            ));
        }
    }
    Err("message index path is cut short or too long".to_owned())
}

/// The message-index path after the schema id, and the message bytes after it.
pub fn message_indexes(bytes: &[u8]) -> Result<(Vec<usize>, &[u8]), String> {
    let (count, mut rest) = zigzag(bytes)?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    let count = usize::try_from(count)
        .ok()
        .filter(|c| *c <= MAX_INDEXES)
        .ok_or_else(|| format!("message index path of length {count} is not allowed"))?;
    let mut indexes = Vec::with_capacity(count);
    for _ in 0..count {
        let (i, r) = zigzag(rest)?;
        indexes.push(usize::try_from(i).map_err(|_| format!("message index {i} is negative"))?);
        rest = r;
    }
    Ok((indexes, rest))
}

/// A message type resolved against the columns.
#[derive(Debug)]
struct Target {
    message: MessageDescriptor,
    /// The field of each column, if the message has one.
    fields: Vec<Option<FieldDescriptor>>,
}

#[derive(Debug)]
struct Compiled {
    pool: DescriptorPool,
    targets: HashMap<Vec<usize>, Result<Arc<Target>, String>>,
}

/// Decodes Confluent-framed Protobuf payloads into the payload columns.
#[derive(Debug)]
pub(crate) struct ProtobufDecoder {
    columns: Columns,
    fields: Vec<FieldRef>,
    schemas: HashMap<u32, Result<Compiled, String>>,
}

impl ProtobufDecoder {
    pub(crate) fn new(payload_fields: &[FieldRef]) -> Result<Self, FormatError> {
        Ok(ProtobufDecoder {
            columns: Columns::new(payload_fields).map_err(|reason| FormatError::Schema {
                format: "protobuf",
                reason,
            })?,
            fields: payload_fields.to_vec(),
            schemas: HashMap::new(),
        })
    }

    fn target(&mut self, id: u32, indexes: Vec<usize>) -> Result<Arc<Target>, String> {
        let compiled = match self.schemas.get_mut(&id) {
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(format!("writer schema {id}: {e}")),
            None => {
                return Err(format!(
                    "writer schema {id} was not loaded from the registry"
                ));
            }
        };
        if let Some(t) = compiled.targets.get(&indexes) {
            return t.clone();
        }
        let target = message_at(&compiled.pool, &indexes).and_then(|message| {
            let fields: Vec<Option<FieldDescriptor>> = self
                .fields
                .iter()
                .map(|c| message.get_field_by_name(c.name()))
                .collect();
            for (c, f) in self.fields.iter().zip(&fields) {
                if f.is_none() && !c.is_nullable() {
                    return Err(format!(
                        "message `{}` has no field for NOT NULL column `{}`",
                        message.full_name(),
                        c.name()
                    ));
                }
            }
            Ok(Arc::new(Target { message, fields }))
        });
        compiled.targets.insert(indexes, target.clone());
        target
    }
}

impl PayloadDecoder for ProtobufDecoder {
    fn append(&mut self, payload: Option<&[u8]>, _key: Option<&[u8]>) -> Result<usize, String> {
        let Some(bytes) = payload else {
            return Err("null value (tombstone) where a Protobuf message was expected".to_owned());
        };
        let (id, rest) = confluent_schema_id(bytes)?;
        let (indexes, body) = message_indexes(rest)?;
        let target = self.target(id, indexes)?;
        let message = DynamicMessage::decode(target.message.clone(), body)
            .map_err(|e| format!("invalid Protobuf message: {e}"))?;
        self.columns
            .row(|columns| {
                for (i, field) in target.fields.iter().enumerate() {
                    let Some(field) = field else { continue };
                    if field.supports_presence() && !message.has_field(field) {
                        columns.set(i, Scalar::Null)?;
                        continue;
                    }
                    let value = message.get_field(field);
                    set_value(columns, i, field, &value)?;
                }
                Ok(())
            })
            .map(|()| 1)
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.columns.finish()
    }

    fn missing_schema(&self, payload: &[u8]) -> Option<u32> {
        confluent_schema_id(payload)
            .ok()
            .map(|(id, _)| id)
            .filter(|id| !self.schemas.contains_key(id))
    }

    fn add_schema(&mut self, schema: &RegisteredSchema, references: &[(String, String)]) {
        let compiled = if schema.schema_type != SchemaType::Protobuf {
            Err(format!("is {}, not PROTOBUF", schema.schema_type.as_str()))
        } else {
            compile(&schema.schema, references).map(|pool| Compiled {
                pool,
                targets: HashMap::new(),
            })
        };
        self.schemas.insert(schema.id, compiled);
    }

    fn schema_failed(&mut self, id: u32, reason: String) {
        self.schemas.insert(id, Err(reason));
    }
}

fn set_value(
    columns: &mut Columns,
    i: usize,
    field: &FieldDescriptor,
    value: &Value,
) -> Result<(), String> {
    let scalar = match value {
        Value::Bool(b) => Scalar::Bool(*b),
        Value::I32(v) => Scalar::Int(i64::from(*v)),
        Value::I64(v) => Scalar::Int(*v),
        Value::U32(v) => Scalar::Int(i64::from(*v)),
        Value::U64(v) => Scalar::UInt(*v),
        Value::F32(v) => Scalar::Float(f64::from(*v)),
        Value::F64(v) => Scalar::Float(*v),
        Value::String(s) => Scalar::Str(s),
        Value::Bytes(b) => Scalar::Bytes(b),
        Value::EnumNumber(n) => match field.kind().as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => return columns.set(i, Scalar::Str(v.name())),
            None => Scalar::Int(i64::from(*n)),
        },
        Value::Message(m) => {
            let name = m.descriptor().full_name().to_owned();
            match name.as_str() {
                "google.protobuf.Timestamp" => {
                    let get = |n: &str| m.get_field_by_name(n).map(|v| v.into_owned());
                    let seconds = match get("seconds") {
                        Some(Value::I64(s)) => s,
                        _ => 0,
                    };
                    let nanos = match get("nanos") {
                        Some(Value::I32(n)) => n,
                        _ => 0,
                    };
                    Scalar::TimestampNanos(i128::from(seconds) * 1_000_000_000 + i128::from(nanos))
                }
                n if n.starts_with("google.protobuf.")
                    && n.ends_with("Value")
                    && n != "google.protobuf.Value" =>
                {
                    // Wrapper types: their one field `value`.
                    match m.descriptor().get_field_by_name("value") {
                        Some(inner) => {
                            let v = m.get_field(&inner).into_owned();
                            return set_value(columns, i, &inner, &v);
                        }
                        None => Scalar::Null,
                    }
                }
                _ => {
                    let text = to_json(value, field, 0)?.to_string();
                    return columns.set(i, Scalar::Json(&text));
                }
            }
        }
        Value::List(_) | Value::Map(_) => {
            let text = to_json(value, field, 0)?.to_string();
            return columns.set(i, Scalar::Json(&text));
        }
    };
    columns.set(i, scalar)
}

/// A value as JSON (the proto3 JSON mapping, simplified: 64-bit integers as numbers).
fn to_json(
    value: &Value,
    field: &FieldDescriptor,
    depth: usize,
) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    if depth > 64 {
        return Err("values are nested deeper than 64 levels".into());
    }
    let number = |f: f64| serde_json::Number::from_f64(f).map_or(J::Null, J::Number);
    Ok(match value {
        Value::Bool(b) => J::Bool(*b),
        Value::I32(v) => J::from(*v),
        Value::I64(v) => J::from(*v),
        Value::U32(v) => J::from(*v),
        Value::U64(v) => J::from(*v),
        Value::F32(v) => number(f64::from(*v)),
        Value::F64(v) => number(*v),
        Value::String(s) => J::String(s.clone()),
        Value::Bytes(b) => {
            use base64::Engine;
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Value::EnumNumber(n) => match field.kind().as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => J::String(v.name().to_owned()),
            None => J::from(*n),
        },
        Value::Message(m) => {
            let mut object = serde_json::Map::new();
            for (f, v) in m.fields() {
                object.insert(f.json_name().to_owned(), to_json(v, &f, depth + 1)?);
            }
            J::Object(object)
        }
        Value::List(items) => J::Array(
            items
                .iter()
                .map(|v| to_json(v, field, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(map) => {
            let value_field = field
                .kind()
                .as_message()
                .and_then(|entry| entry.get_field_by_name("value"));
            let mut object = serde_json::Map::new();
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in entries {
                let key = match k {
                    MapKey::Bool(b) => b.to_string(),
                    MapKey::I32(v) => v.to_string(),
                    MapKey::I64(v) => v.to_string(),
                    MapKey::U32(v) => v.to_string(),
                    MapKey::U64(v) => v.to_string(),
                    MapKey::String(s) => s.clone(),
                };
                let v = match &value_field {
                    Some(f) => to_json(v, f, depth + 1)?,
                    None => to_json(v, field, depth + 1)?,
                };
                object.insert(key, v);
            }
            J::Object(object)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Arrow → Protobuf

/// A proto3 message name or field name.
fn proto_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A proto3 file with one message `name` (`package.Message` or `Message`) with a field per
/// column, numbered from 1 in column order. Nullable columns are `optional` so that a null
/// stays a null. DECIMAL is its exact text (`string`), DATE days since 1970-01-01 (`int32`),
/// TIME its ISO text (`string`), TIMESTAMP a `google.protobuf.Timestamp`, JSON its text.
pub fn proto_for(name: &str, fields: &[FieldRef]) -> Result<String, FormatError> {
    let schema_error = |reason: String| FormatError::Schema {
        format: "protobuf",
        reason,
    };
    let (package, message) = match name.rsplit_once('.') {
        Some((p, m)) => (Some(p), m),
        None => (None, name),
    };
    if !proto_name(message) || package.is_some_and(|p| !p.split('.').all(proto_name)) {
        return Err(schema_error(format!(
            "`{name}` is not a Protobuf message name"
        )));
    }
    let mut body = String::new();
    let mut timestamps = false;
    for (i, field) in fields.iter().enumerate() {
        if !proto_name(field.name()) {
            return Err(schema_error(format!(
                "column `{}` is not a valid Protobuf field name",
                field.name()
            )));
        }
        let kind = Kind::of(field).ok_or_else(|| {
            schema_error(format!("column `{}` has no Protobuf form", field.name()))
        })?;
        let t = match kind {
            Kind::Bool => "bool",
            Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Date32 => "int32",
            Kind::Int64 => "int64",
            Kind::Float32 => "float",
            Kind::Float64 => "double",
            Kind::Decimal128(..)
            | Kind::Decimal256(..)
            | Kind::Utf8
            | Kind::Json
            | Kind::Time(_) => "string",
            Kind::Binary => "bytes",
            Kind::Timestamp(_) => {
                timestamps = true;
                "google.protobuf.Timestamp"
            }
        };
        let optional = if field.is_nullable() && !matches!(kind, Kind::Timestamp(_)) {
            "optional "
        } else {
            ""
        };
        body.push_str(&format!("  {optional}{t} {} = {};\n", field.name(), i + 1));
    }
    let mut text = String::from("syntax = \"proto3\";\n");
    if let Some(p) = package {
        text.push_str(&format!("package {p};\n"));
    }
    if timestamps {
        text.push_str("import \"google/protobuf/timestamp.proto\";\n");
    }
    text.push_str(&format!("message {message} {{\n{body}}}\n"));
    // Compiled here so that a registry is never sent a file we cannot read back.
    compile(&text, &[]).map_err(schema_error)?;
    Ok(text)
}

/// Writes rows as messages of a `.proto` from [`proto_for`].
#[derive(Debug)]
pub struct ProtoEncoder {
    message: MessageDescriptor,
    fields: Vec<(FieldDescriptor, Kind)>,
    schema_id: Option<u32>,
}

impl ProtoEncoder {
    /// An encoder of message `name` of `proto` for these columns; framed with `schema_id` and
    /// message index `0` when it is given.
    pub fn new(
        proto: &str,
        name: &str,
        columns: &[FieldRef],
        schema_id: Option<u32>,
    ) -> Result<Self, FormatError> {
        let schema_error = |reason: String| FormatError::Schema {
            format: "protobuf",
            reason,
        };
        let pool = compile(proto, &[]).map_err(schema_error)?;
        let message = pool
            .get_message_by_name(name)
            .ok_or_else(|| schema_error(format!("no message `{name}` in the schema")))?;
        let fields = columns
            .iter()
            .map(|c| {
                let f = message.get_field_by_name(c.name()).ok_or_else(|| {
                    schema_error(format!("message `{name}` has no field `{}`", c.name()))
                })?;
                let kind = Kind::of(c).ok_or_else(|| {
                    schema_error(format!("column `{}` has no Protobuf form", c.name()))
                })?;
                Ok((f, kind))
            })
            .collect::<Result<Vec<_>, FormatError>>()?;
        Ok(ProtoEncoder {
            message,
            fields,
            schema_id,
        })
    }

    /// Appends row `row` as a (framed) message.
    pub fn write_row(
        &self,
        columns: &[ArrayRef],
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        if let Some(id) = self.schema_id {
            out.push(0);
            out.extend_from_slice(&id.to_be_bytes());
            out.push(0); // message index path [0]
        }
        let mut message = DynamicMessage::new(self.message.clone());
        for ((field, kind), array) in self.fields.iter().zip(columns) {
            if array.is_null(row) {
                continue;
            }
            let value = proto_value(array, *kind, row, field)?;
            message.set_field(field, value);
        }
        message
            .encode(out)
            .map_err(|e| FormatError::Encode(format!("Protobuf: {e}")))
    }
}

fn proto_value(
    array: &ArrayRef,
    kind: Kind,
    row: usize,
    field: &FieldDescriptor,
) -> Result<Value, FormatError> {
    let mut text = String::new();
    Ok(match kind {
        Kind::Bool => Value::Bool(array.as_boolean().value(row)),
        Kind::Int8 => Value::I32(i32::from(array.as_primitive::<Int8Type>().value(row))),
        Kind::Int16 => Value::I32(i32::from(array.as_primitive::<Int16Type>().value(row))),
        Kind::Int32 => Value::I32(array.as_primitive::<Int32Type>().value(row)),
        Kind::Date32 => Value::I32(array.as_primitive::<Date32Type>().value(row)),
        Kind::Int64 => Value::I64(array.as_primitive::<Int64Type>().value(row)),
        Kind::Float32 => Value::F32(array.as_primitive::<Float32Type>().value(row)),
        Kind::Float64 => Value::F64(array.as_primitive::<Float64Type>().value(row)),
        Kind::Decimal128(_, s) => Value::String(shift_point(
            &array
                .as_primitive::<Decimal128Type>()
                .value(row)
                .to_string(),
            s,
        )),
        Kind::Decimal256(_, s) => Value::String(shift_point(
            &array
                .as_primitive::<Decimal256Type>()
                .value(row)
                .to_string(),
            s,
        )),
        Kind::Utf8 | Kind::Json => Value::String(array.as_string::<i32>().value(row).to_owned()),
        Kind::Binary => Value::Bytes(bytes::Bytes::copy_from_slice(
            array.as_binary::<i32>().value(row),
        )),
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
            Value::String(text)
        }
        Kind::Timestamp(unit) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row)
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
            };
            let nanos = i128::from(v) * temporal::unit_nanos(unit);
            let seconds = i64::try_from(nanos.div_euclid(1_000_000_000))
                .map_err(|_| FormatError::Encode("timestamp is out of range".into()))?;
            let sub = nanos.rem_euclid(1_000_000_000) as i32;
            let desc =
                field.kind().as_message().cloned().ok_or_else(|| {
                    FormatError::Encode("timestamp field is not a message".into())
                })?;
            let mut ts = DynamicMessage::new(desc);
            ts.set_field_by_name("seconds", Value::I64(seconds));
            ts.set_field_by_name("nanos", Value::I32(sub));
            Value::Message(ts)
        }
    })
}

/// A Confluent Protobuf frame around `body`.
#[cfg(test)]
fn frame(id: u32, indexes: &[i64], body: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&id.to_be_bytes());
    let mut put = |x: i64| {
        let mut z = ((x << 1) ^ (x >> 63)) as u64;
        while z >= 0x80 {
            v.push((z as u8) | 0x80);
            z >>= 7;
        }
        v.push(z as u8);
    };
    if indexes == [0] {
        put(0);
    } else {
        put(indexes.len() as i64);
        for i in indexes {
            put(*i);
        }
    }
    v.extend_from_slice(body);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BadDataPolicy, Format};
    use crate::format::{Decoder, RecordMetadata};
    use crate::schema::json_field;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int64Type, TimestampMicrosecondType};
    use arrow_schema::{DataType, Field, Schema};

    const PROTO: &str = r#"
        syntax = "proto3";
        package shop;
        import "google/protobuf/timestamp.proto";
        import "common.proto";
        message Other { int32 x = 1; }
        message Order {
          int64 id = 1;
          string customer = 2;
          Status status = 3;
          google.protobuf.Timestamp created = 4;
          repeated string tags = 5;
          map<string, int32> counts = 6;
          optional string note = 7;
          common.Money amount = 8;
          message Line { string sku = 1; int32 qty = 2; }
          repeated Line lines = 9;
        }
        enum Status { NEW = 0; SHIPPED = 1; }
    "#;
    const COMMON: &str = r#"syntax = "proto3"; package common; message Money { string currency = 1; int64 units = 2; }"#;

    fn meta(offset: i64) -> RecordMetadata<'static> {
        RecordMetadata {
            topic: "orders",
            partition: 2,
            offset,
            timestamp_ms: 0,
            key: None,
            headers: &[],
        }
    }

    #[test]
    fn registry_messages_with_imports_decode_by_message_index() {
        let imports = vec![("common.proto".to_owned(), COMMON.to_owned())];
        let pool = compile(PROTO, &imports).unwrap();
        let order = pool.get_message_by_name("shop.Order").unwrap();
        let mut m = DynamicMessage::new(order.clone());
        m.set_field_by_name("id", Value::I64(5));
        m.set_field_by_name("customer", Value::String("Zoë".into()));
        m.set_field_by_name("status", Value::EnumNumber(1));
        let mut ts = DynamicMessage::new(
            pool.get_message_by_name("google.protobuf.Timestamp")
                .unwrap(),
        );
        ts.set_field_by_name("seconds", Value::I64(1_700_000_000));
        ts.set_field_by_name("nanos", Value::I32(123_456_000));
        m.set_field_by_name("created", Value::Message(ts));
        m.set_field_by_name("tags", Value::List(vec![Value::String("a".into())]));
        let mut money = DynamicMessage::new(pool.get_message_by_name("common.Money").unwrap());
        money.set_field_by_name("currency", Value::String("EUR".into()));
        money.set_field_by_name("units", Value::I64(12));
        m.set_field_by_name("amount", Value::Message(money));
        let body = m.encode_to_vec();
        let line = pool.get_message_by_name("shop.Order.Line").unwrap();
        let mut l = DynamicMessage::new(line);
        l.set_field_by_name("sku", Value::String("x".into()));

        let table = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("customer", DataType::Utf8, true),
            Field::new("status", DataType::Utf8, true),
            Field::new(
                "created",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            json_field("tags", true),
            json_field("amount", true),
            Field::new("note", DataType::Utf8, true),
            Field::new("sku", DataType::Utf8, true),
        ]));
        let mut d = Decoder::new(table, Format::Protobuf, BadDataPolicy::Fail).unwrap();
        let framed = frame(3, &[1], &body);
        assert_eq!(d.missing_schema(Some(&framed)), Some(3));
        d.add_schema(
            &RegisteredSchema::new(3, SchemaType::Protobuf, PROTO.to_owned()),
            &imports,
        );
        d.decode(Some(&framed), &meta(0)).unwrap();
        // Path [1, 0] is Order.Line, which has no `id` for the NOT NULL column.
        d.decode(Some(&frame(3, &[1, 0], &l.encode_to_vec())), &meta(1))
            .unwrap_err();
        // `id` is NOT NULL and Line has none: refused, and the batch keeps its rows.
        let e = d
            .decode(Some(&frame(3, &[0], &[])), &meta(2))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "record at orders/2@2: message `shop.Other` has no field for NOT NULL column `id`"
        );
        let e = d
            .decode(Some(&frame(3, &[7], &[])), &meta(3))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("message index 7 is out of range"), "{e}");
        let e = d
            .decode(Some(&frame(3, &[1], &[0x0a, 0x05])), &meta(4))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid Protobuf message"), "{e}");
        let b = d.flush().unwrap();
        assert_eq!(b.num_rows(), 1);
        assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), 5);
        assert_eq!(b.column(1).as_string::<i32>().value(0), "Zoë");
        assert_eq!(b.column(2).as_string::<i32>().value(0), "SHIPPED");
        assert_eq!(
            b.column(3)
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            1_700_000_000_123_456
        );
        assert_eq!(b.column(4).as_string::<i32>().value(0), r#"["a"]"#);
        assert_eq!(
            b.column(5).as_string::<i32>().value(0),
            r#"{"currency":"EUR","units":12}"#
        );
        assert!(b.column(6).is_null(0), "unset optional field is null");
        assert!(b.column(7).is_null(0));
    }

    #[test]
    fn index_paths_are_read_as_the_wire_format_says() {
        assert_eq!(message_indexes(&[0, 9]).unwrap(), (vec![0], &[9][..]));
        assert_eq!(message_indexes(&[4, 2, 4]).unwrap(), (vec![1, 2], &[][..]));
        assert!(message_indexes(&[3]).is_err(), "negative count");
        assert!(message_indexes(&[0x80]).is_err());
        assert!(message_indexes(&[200, 1]).is_err(), "too long a path");
    }

    #[test]
    fn bad_proto_text_makes_its_records_bad() {
        let table = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let mut d = Decoder::new(table, Format::Protobuf, BadDataPolicy::Drop).unwrap();
        d.add_schema(
            &RegisteredSchema::new(
                1,
                SchemaType::Protobuf,
                "syntax = \"proto3\"; message {".into(),
            ),
            &[],
        );
        d.decode(Some(&frame(1, &[0], &[])), &meta(0)).unwrap();
        assert_eq!(d.dropped(), 1);
    }
}
