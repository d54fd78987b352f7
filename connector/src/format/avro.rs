//! The `avro` format: Avro binary records, Confluent-framed (magic byte `0`, the writer
//! schema's registry id as a big-endian `u32`, then the Avro datum) with writer schemas from
//! the schema registry, or plain (no framing) with one writer schema given up front.
//!
//! Decoding is schema resolution done once per writer schema: the writer's record fields are
//! matched to the table's columns by name (or alias) into a plan; each record is then read
//! straight from the bytes into the column buffers, skipping fields no column wants, with no
//! intermediate value tree. Promotions follow the Avro specification (`int` → `long` → `float`
//! → `double`, `string` ↔ `bytes`) and the conversions every format shares (see
//! the JSON format); logical types become their Arrow types (decimal, date, time, timestamp, uuid
//! as text). A union's `null` branch is a null; nested records, arrays, maps and durations go
//! into JSON or TEXT columns as JSON text. A column the writer does not have is null, and is an
//! error for a `NOT NULL` column.
//!
//! The `apache-avro` crate parses and checks schemas; the hot path is ours (measured in
//! `benches/formats.rs` against `apache_avro::from_avro_datum`). Every length and count is
//! checked against the bytes left, nesting is bounded, and no input panics.
//!
//! [`avro_schema_for`] derives the Avro schema of a sink from its Arrow columns, and
//! [`write_datum`] encodes a row with it.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::schema::{Name, RecordSchema, ResolvedSchema, Schema, UnionSchema};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, FieldRef, TimeUnit};

use super::columns::{Columns, Kind, Scalar};
use super::{FormatError, PayloadDecoder};
use crate::schema_registry::RegisteredSchema;

pub use super::framing::{CONFLUENT_MAGIC, confluent_schema_id};

/// Deepest nesting of Avro types read (records in arrays in maps …).
const MAX_DEPTH: usize = 64;

/// Most array or map items in one record, whatever their size (items of type `null` take no
/// bytes, so the byte count alone does not bound them).
const MAX_ITEMS: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Reading Avro binary

/// A cursor over one datum.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    items: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            items: 0,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    #[inline]
    fn long(&mut self) -> Result<i64, String> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| "datum ends inside a number".to_owned())?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err("number is longer than 64 bits".into());
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err("number is longer than 64 bits".into())
    }

    fn int(&mut self) -> Result<i32, String> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| format!("int {v} is out of range"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!(
                "length {n} runs past the end of the datum ({} bytes left)",
                self.remaining()
            ));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.long()?;
        let len = usize::try_from(len).map_err(|_| format!("negative length {len}"))?;
        self.take(len)
    }

    #[inline]
    fn str(&mut self) -> Result<&'a str, String> {
        std::str::from_utf8(self.bytes()?).map_err(|_| "string is not valid UTF-8".to_owned())
    }

    fn float(&mut self) -> Result<f32, String> {
        let b = self.take(4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn double(&mut self) -> Result<f64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    fn boolean(&mut self) -> Result<bool, String> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("boolean byte is {b}, not 0 or 1")),
        }
    }

    /// The item count of the next array or map block (0 at the end), checked against the
    /// bytes left and the item budget.
    fn block(&mut self) -> Result<usize, String> {
        let count = self.long()?;
        let count = if count < 0 {
            // A negative count is followed by the block's size in bytes.
            let _size = self.long()?;
            count.checked_neg().ok_or("block count is out of range")?
        } else {
            count
        };
        let count = usize::try_from(count).map_err(|_| "block count is out of range")?;
        self.items = self.items.saturating_add(count);
        if self.items > MAX_ITEMS || count > self.remaining().saturating_mul(8).max(64) {
            return Err(format!(
                "block of {count} items is larger than the datum allows"
            ));
        }
        Ok(count)
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas

/// A parsed writer schema with the named types it may refer to.
#[derive(Debug)]
pub(crate) struct WriterSchema {
    schema: Schema,
    names: HashMap<Name, Schema>,
}

impl WriterSchema {
    /// Parses `text`, with `references` (schemas it names, in dependency order) known.
    pub(crate) fn parse(text: &str, references: &[String]) -> Result<Self, String> {
        let (schema, known) = if references.is_empty() {
            (
                Schema::parse_str(text).map_err(|e| format!("invalid Avro schema: {e}"))?,
                Vec::new(),
            )
        } else {
            Schema::parse_str_with_list(text, references)
                .map_err(|e| format!("invalid Avro schema: {e}"))?
        };
        let mut all: Vec<&Schema> = known.iter().collect();
        all.push(&schema);
        let resolved =
            ResolvedSchema::try_from(all).map_err(|e| format!("invalid Avro schema: {e}"))?;
        let names = resolved
            .get_names()
            .iter()
            .map(|(n, s)| (n.clone(), (*s).clone()))
            .collect();
        Ok(WriterSchema { schema, names })
    }

    fn deref<'s>(&'s self, schema: &'s Schema) -> Result<&'s Schema, String> {
        match schema {
            Schema::Ref { name } => self
                .names
                .get(name)
                .ok_or_else(|| format!("schema refers to unknown type `{}`", name.fullname(None))),
            other => Ok(other),
        }
    }
}

/// What to do with one writer field.
#[derive(Debug)]
enum Step {
    /// Read it into this payload column.
    Column(usize),
    /// Read past it.
    Skip,
}

/// How to read records of one writer schema into the table's columns.
#[derive(Debug)]
pub(crate) struct Plan {
    writer: WriterSchema,
    /// For a record writer: one step per writer field, in writer order.
    fields: Vec<(Schema, Step)>,
    /// For a non-record writer: the single payload column it fills.
    whole: Option<usize>,
}

impl Plan {
    /// Resolves `writer` against the payload `columns`.
    pub(crate) fn new(writer: WriterSchema, columns: &[FieldRef]) -> Result<Self, String> {
        let top = writer.deref(&writer.schema)?.clone();
        let Schema::Record(RecordSchema { fields, .. }) = &top else {
            return match columns {
                [_] => Ok(Plan {
                    writer,
                    fields: Vec::new(),
                    whole: Some(0),
                }),
                _ => Err(format!(
                    "the writer schema is not a record, so the table needs exactly one column; it \
                     has {}",
                    columns.len()
                )),
            };
        };
        let mut steps = Vec::with_capacity(fields.len());
        let mut used = vec![false; columns.len()];
        for field in fields {
            let names = std::iter::once(&field.name).chain(field.aliases.iter().flatten());
            let index = columns
                .iter()
                .position(|c| names.clone().any(|n| n == c.name()));
            let step = match index {
                Some(i) if !used[i] => {
                    used[i] = true;
                    Step::Column(i)
                }
                _ => Step::Skip,
            };
            steps.push((field.schema.clone(), step));
        }
        for (column, used) in columns.iter().zip(&used) {
            if !used && !column.is_nullable() {
                return Err(format!(
                    "the writer schema has no field for NOT NULL column `{}`",
                    column.name()
                ));
            }
        }
        Ok(Plan {
            writer,
            fields: steps,
            whole: None,
        })
    }

    /// Reads one datum into the current row of `columns`.
    pub(crate) fn read(&self, datum: &[u8], columns: &mut Columns) -> Result<(), String> {
        let mut r = Reader::new(datum);
        if let Some(column) = self.whole {
            read_into(
                &self.writer,
                &self.writer.schema,
                &mut r,
                columns,
                column,
                0,
            )?;
        } else {
            for (schema, step) in &self.fields {
                match step {
                    Step::Column(c) => read_into(&self.writer, schema, &mut r, columns, *c, 0)?,
                    Step::Skip => skip(&self.writer, schema, &mut r, 0)?,
                }
            }
        }
        if !r.at_end() {
            return Err(format!(
                "{} bytes left after the datum; the writer schema does not match the record",
                r.remaining()
            ));
        }
        Ok(())
    }
}

fn too_deep() -> String {
    format!("values are nested deeper than {MAX_DEPTH} levels")
}

/// Reads one value of `schema` into column `column`.
fn read_into(
    w: &WriterSchema,
    schema: &Schema,
    r: &mut Reader<'_>,
    columns: &mut Columns,
    column: usize,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let value = match schema {
        Schema::Null => Scalar::Null,
        Schema::Boolean => Scalar::Bool(r.boolean()?),
        Schema::Int | Schema::Long => Scalar::Int(r.long()?),
        Schema::Float => Scalar::Float(f64::from(r.float()?)),
        Schema::Double => Scalar::Float(r.double()?),
        Schema::Bytes => Scalar::Bytes(r.bytes()?),
        Schema::String => Scalar::Str(r.str()?),
        Schema::Uuid => {
            let b = r.bytes()?;
            if b.len() == 16 {
                let text = uuid_text(b);
                return columns.set(column, Scalar::Str(&text));
            }
            Scalar::Str(std::str::from_utf8(b).map_err(|_| "uuid is not valid UTF-8")?)
        }
        Schema::Decimal(d) => {
            let scale = i8::try_from(d.scale).map_err(|_| "decimal scale is out of range")?;
            let bytes = match w.deref(&d.inner)? {
                Schema::Fixed(f) => r.take(f.size)?,
                _ => r.bytes()?,
            };
            Scalar::DecimalBytes(bytes, scale)
        }
        Schema::BigDecimal => Scalar::Bytes(r.bytes()?),
        Schema::Date => Scalar::Date(r.int()?),
        Schema::TimeMillis => Scalar::TimeNanos(i64::from(r.int()?) * 1_000_000),
        Schema::TimeMicros => {
            let v = r.long()?;
            Scalar::TimeNanos(v.checked_mul(1_000).ok_or("time is out of range")?)
        }
        Schema::TimestampMillis | Schema::LocalTimestampMillis => {
            Scalar::TimestampNanos(i128::from(r.long()?) * 1_000_000)
        }
        Schema::TimestampMicros | Schema::LocalTimestampMicros => {
            Scalar::TimestampNanos(i128::from(r.long()?) * 1_000)
        }
        Schema::TimestampNanos | Schema::LocalTimestampNanos => {
            Scalar::TimestampNanos(i128::from(r.long()?))
        }
        Schema::Enum(e) => {
            let i = r.long()?;
            let symbol = usize::try_from(i)
                .ok()
                .and_then(|i| e.symbols.get(i))
                .ok_or_else(|| format!("enum index {i} is out of range"))?;
            Scalar::Str(symbol)
        }
        Schema::Fixed(f) => Scalar::Bytes(r.take(f.size)?),
        Schema::Union(u) => {
            let branch = union_branch(u, r)?;
            return read_into(w, branch, r, columns, column, depth + 1);
        }
        Schema::Ref { .. } => {
            let target = w.deref(schema)?;
            return read_into(w, target, r, columns, column, depth + 1);
        }
        Schema::Record(_) | Schema::Array(_) | Schema::Map(_) | Schema::Duration => {
            let value = to_json(w, schema, r, depth)?;
            let text = value.to_string();
            return columns.set(column, Scalar::Json(&text));
        }
    };
    columns.set(column, value)
}

fn union_branch<'s>(u: &'s UnionSchema, r: &mut Reader<'_>) -> Result<&'s Schema, String> {
    let i = r.long()?;
    usize::try_from(i)
        .ok()
        .and_then(|i| u.variants().get(i))
        .ok_or_else(|| format!("union branch {i} is out of range"))
}

fn uuid_text(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Reads past one value of `schema`.
fn skip(w: &WriterSchema, schema: &Schema, r: &mut Reader<'_>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    match schema {
        Schema::Null => {}
        Schema::Boolean => {
            r.boolean()?;
        }
        Schema::Int
        | Schema::Long
        | Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos
        | Schema::Enum(_) => {
            r.long()?;
        }
        Schema::Float => {
            r.take(4)?;
        }
        Schema::Double => {
            r.take(8)?;
        }
        Schema::Bytes | Schema::String | Schema::Uuid | Schema::BigDecimal => {
            r.bytes()?;
        }
        Schema::Fixed(f) => {
            r.take(f.size)?;
        }
        Schema::Duration => {
            r.take(12)?;
        }
        Schema::Decimal(d) => match w.deref(&d.inner)? {
            Schema::Fixed(f) => {
                r.take(f.size)?;
            }
            _ => {
                r.bytes()?;
            }
        },
        Schema::Union(u) => {
            let branch = union_branch(u, r)?;
            skip(w, branch, r, depth + 1)?;
        }
        Schema::Record(rec) => {
            for f in &rec.fields {
                skip(w, &f.schema, r, depth + 1)?;
            }
        }
        Schema::Array(a) => loop {
            let n = r.block()?;
            if n == 0 {
                break;
            }
            for _ in 0..n {
                skip(w, &a.items, r, depth + 1)?;
            }
        },
        Schema::Map(m) => loop {
            let n = r.block()?;
            if n == 0 {
                break;
            }
            for _ in 0..n {
                r.bytes()?;
                skip(w, &m.types, r, depth + 1)?;
            }
        },
        Schema::Ref { .. } => {
            let target = w.deref(schema)?;
            skip(w, target, r, depth + 1)?;
        }
    }
    Ok(())
}

/// Reads one value of `schema` as JSON (for nested values in JSON or TEXT columns).
fn to_json(
    w: &WriterSchema,
    schema: &Schema,
    r: &mut Reader<'_>,
    depth: usize,
) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let number = |f: f64| serde_json::Number::from_f64(f).map_or(J::Null, J::Number);
    let bytes_text = |b: &[u8]| J::String(b.iter().map(|&c| char::from(c)).collect());
    Ok(match schema {
        Schema::Null => J::Null,
        Schema::Boolean => J::Bool(r.boolean()?),
        Schema::Int
        | Schema::Long
        | Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => J::from(r.long()?),
        Schema::Float => number(f64::from(r.float()?)),
        Schema::Double => number(r.double()?),
        // Avro's JSON encoding of bytes: one character per byte (U+0000 … U+00FF).
        Schema::Bytes | Schema::BigDecimal => bytes_text(r.bytes()?),
        Schema::String => J::String(r.str()?.to_owned()),
        Schema::Uuid => {
            let b = r.bytes()?;
            J::String(if b.len() == 16 {
                uuid_text(b)
            } else {
                String::from_utf8_lossy(b).into_owned()
            })
        }
        Schema::Fixed(f) => bytes_text(r.take(f.size)?),
        Schema::Decimal(d) => {
            let bytes = match w.deref(&d.inner)? {
                Schema::Fixed(f) => r.take(f.size)?,
                _ => r.bytes()?,
            };
            let scale = i8::try_from(d.scale).map_err(|_| "decimal scale is out of range")?;
            let text =
                super::columns::unscaled_text(bytes).ok_or("decimal is wider than 256 bits")?;
            let text = super::columns::shift_point(&text, scale);
            J::String(text)
        }
        Schema::Duration => {
            let b = r.take(12)?;
            let part = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            serde_json::json!({"months": part(0), "days": part(4), "millis": part(8)})
        }
        Schema::Enum(e) => {
            let i = r.long()?;
            J::String(
                usize::try_from(i)
                    .ok()
                    .and_then(|i| e.symbols.get(i))
                    .ok_or_else(|| format!("enum index {i} is out of range"))?
                    .clone(),
            )
        }
        Schema::Union(u) => {
            let branch = union_branch(u, r)?;
            to_json(w, branch, r, depth + 1)?
        }
        Schema::Record(rec) => {
            let mut object = serde_json::Map::new();
            for f in &rec.fields {
                object.insert(f.name.clone(), to_json(w, &f.schema, r, depth + 1)?);
            }
            J::Object(object)
        }
        Schema::Array(a) => {
            let mut items = Vec::new();
            loop {
                let n = r.block()?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    items.push(to_json(w, &a.items, r, depth + 1)?);
                }
            }
            J::Array(items)
        }
        Schema::Map(m) => {
            let mut object = serde_json::Map::new();
            loop {
                let n = r.block()?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    let key = r.str()?.to_owned();
                    object.insert(key, to_json(w, &m.types, r, depth + 1)?);
                }
            }
            J::Object(object)
        }
        Schema::Ref { .. } => {
            let target = w.deref(schema)?;
            to_json(w, target, r, depth + 1)?
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The decoder

/// Where writer schemas come from.
#[derive(Debug)]
enum Source {
    /// Confluent framing; schemas by id, added as the registry returns them.
    Registry(HashMap<u32, Result<Arc<Plan>, String>>),
    /// No framing; one schema for every record.
    Plain(Arc<Plan>),
}

/// Decodes Avro payloads into the payload columns.
#[derive(Debug)]
pub(crate) struct AvroDecoder {
    columns: Columns,
    fields: Vec<FieldRef>,
    source: Source,
}

impl AvroDecoder {
    /// A decoder of Confluent-framed records; writer schemas are added with
    /// [`add_schema`](PayloadDecoder::add_schema).
    pub(crate) fn registry(payload_fields: &[FieldRef]) -> Result<Self, FormatError> {
        Ok(AvroDecoder {
            columns: columns_for(payload_fields)?,
            fields: payload_fields.to_vec(),
            source: Source::Registry(HashMap::new()),
        })
    }

    /// A decoder of unframed records all written with `writer_schema`.
    pub(crate) fn plain(
        payload_fields: &[FieldRef],
        writer_schema: &str,
    ) -> Result<Self, FormatError> {
        let schema_error = |reason: String| FormatError::Schema {
            format: "avro",
            reason,
        };
        let writer = WriterSchema::parse(writer_schema, &[]).map_err(schema_error)?;
        let plan = Plan::new(writer, payload_fields).map_err(schema_error)?;
        Ok(AvroDecoder {
            columns: columns_for(payload_fields)?,
            fields: payload_fields.to_vec(),
            source: Source::Plain(Arc::new(plan)),
        })
    }
}

fn columns_for(fields: &[FieldRef]) -> Result<Columns, FormatError> {
    Columns::new(fields).map_err(|reason| FormatError::Schema {
        format: "avro",
        reason,
    })
}

impl PayloadDecoder for AvroDecoder {
    fn append(&mut self, payload: Option<&[u8]>, _key: Option<&[u8]>) -> Result<usize, String> {
        let Some(bytes) = payload else {
            return Err("null value (tombstone) where an Avro record was expected".to_owned());
        };
        let (plan, datum) = match &self.source {
            Source::Plain(plan) => (plan.clone(), bytes),
            Source::Registry(plans) => {
                let (id, datum) = confluent_schema_id(bytes)?;
                match plans.get(&id) {
                    Some(Ok(plan)) => (plan.clone(), datum),
                    Some(Err(e)) => return Err(format!("writer schema {id}: {e}")),
                    None => {
                        return Err(format!(
                            "writer schema {id} was not loaded from the registry"
                        ));
                    }
                }
            }
        };
        self.columns.row(|c| plan.read(datum, c)).map(|()| 1)
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.columns.finish()
    }

    fn missing_schema(&self, payload: &[u8]) -> Option<u32> {
        match &self.source {
            Source::Registry(plans) => confluent_schema_id(payload)
                .ok()
                .map(|(id, _)| id)
                .filter(|id| !plans.contains_key(id)),
            Source::Plain(_) => None,
        }
    }

    fn add_schema(&mut self, schema: &RegisteredSchema, references: &[(String, String)]) {
        if let Source::Registry(plans) = &mut self.source {
            let references: Vec<String> = references.iter().map(|(_, t)| t.clone()).collect();
            let plan = if schema.schema_type != crate::schema_registry::SchemaType::Avro {
                Err(format!("is {}, not AVRO", schema.schema_type.as_str()))
            } else {
                WriterSchema::parse(&schema.schema, &references)
                    .and_then(|w| Plan::new(w, &self.fields))
                    .map(Arc::new)
            };
            plans.insert(schema.id, plan);
        }
    }

    fn schema_failed(&mut self, id: u32, reason: String) {
        if let Source::Registry(plans) = &mut self.source {
            plans.insert(id, Err(reason));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Arrow → Avro (sinks, and reader schemas)

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

fn put_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// Minimal big-endian two's complement bytes of `v`.
fn decimal_bytes(be: &[u8]) -> &[u8] {
    let mut start = 0;
    while start + 1 < be.len() {
        let (b, next) = (be[start], be[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    &be[start..]
}

/// Appends row `row` of `columns` as an Avro datum of the schema [`avro_schema_for`] derives
/// from the same fields.
pub fn write_datum(
    fields: &[FieldRef],
    columns: &[ArrayRef],
    row: usize,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    for (field, array) in fields.iter().zip(columns) {
        let kind = Kind::of(field).ok_or_else(|| FormatError::Schema {
            format: "avro",
            reason: format!("column `{}` has no Avro form", field.name()),
        })?;
        if field.is_nullable() {
            if array.is_null(row) {
                out.push(0); // branch 0: null
                continue;
            }
            out.push(2); // branch 1, zig-zag encoded
        } else if array.is_null(row) {
            return Err(FormatError::Encode(format!(
                "null in NOT NULL column `{}`",
                field.name()
            )));
        }
        match kind {
            Kind::Bool => out.push(u8::from(array.as_boolean().value(row))),
            Kind::Int8 => put_long(out, i64::from(array.as_primitive::<Int8Type>().value(row))),
            Kind::Int16 => put_long(out, i64::from(array.as_primitive::<Int16Type>().value(row))),
            Kind::Int32 => put_long(out, i64::from(array.as_primitive::<Int32Type>().value(row))),
            Kind::Int64 => put_long(out, array.as_primitive::<Int64Type>().value(row)),
            Kind::Float32 => {
                out.extend_from_slice(&array.as_primitive::<Float32Type>().value(row).to_le_bytes())
            }
            Kind::Float64 => {
                out.extend_from_slice(&array.as_primitive::<Float64Type>().value(row).to_le_bytes())
            }
            Kind::Decimal128(..) => {
                let be = array
                    .as_primitive::<Decimal128Type>()
                    .value(row)
                    .to_be_bytes();
                put_bytes(out, decimal_bytes(&be));
            }
            Kind::Decimal256(..) => {
                let be = array
                    .as_primitive::<Decimal256Type>()
                    .value(row)
                    .to_be_bytes();
                put_bytes(out, decimal_bytes(&be));
            }
            Kind::Utf8 | Kind::Json => {
                put_bytes(out, array.as_string::<i32>().value(row).as_bytes())
            }
            Kind::Binary => put_bytes(out, array.as_binary::<i32>().value(row)),
            Kind::Date32 => put_long(
                out,
                i64::from(array.as_primitive::<Date32Type>().value(row)),
            ),
            Kind::Time(TimeUnit::Second) => put_long(
                out,
                i64::from(array.as_primitive::<Time32SecondType>().value(row)) * 1000,
            ),
            Kind::Time(TimeUnit::Millisecond) => put_long(
                out,
                i64::from(array.as_primitive::<Time32MillisecondType>().value(row)),
            ),
            Kind::Time(TimeUnit::Microsecond) => put_long(
                out,
                array.as_primitive::<Time64MicrosecondType>().value(row),
            ),
            Kind::Time(TimeUnit::Nanosecond) => put_long(
                out,
                array.as_primitive::<Time64NanosecondType>().value(row) / 1000,
            ),
            Kind::Timestamp(TimeUnit::Second) => {
                let v = array.as_primitive::<TimestampSecondType>().value(row);
                let ms = v.checked_mul(1000).ok_or_else(|| {
                    FormatError::Encode(format!("timestamp in `{}` is out of range", field.name()))
                })?;
                put_long(out, ms);
            }
            Kind::Timestamp(TimeUnit::Millisecond) => put_long(
                out,
                array.as_primitive::<TimestampMillisecondType>().value(row),
            ),
            Kind::Timestamp(TimeUnit::Microsecond) => put_long(
                out,
                array.as_primitive::<TimestampMicrosecondType>().value(row),
            ),
            Kind::Timestamp(TimeUnit::Nanosecond) => put_long(
                out,
                array.as_primitive::<TimestampNanosecondType>().value(row),
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use apache_avro::types::Value as AvroValue;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Float32Type, Int64Type, TimestampMicrosecondType};
    use arrow_array::{
        Array, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, RecordBatch,
        StringArray, TimestampMicrosecondArray,
    };
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};

    use super::*;
    use crate::config::{BadDataPolicy, Format};
    use crate::format::{Decoder, FormatError, RecordMetadata};
    use crate::schema::json_field;
    use crate::schema_registry::SchemaType;

    fn meta(offset: i64) -> RecordMetadata<'static> {
        RecordMetadata {
            topic: "t",
            partition: 1,
            offset,
            timestamp_ms: 0,
            key: None,
            headers: &[],
        }
    }

    fn table() -> Arc<ArrowSchema> {
        Arc::new(ArrowSchema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("price", DataType::Decimal128(9, 2), true),
            Field::new("day", DataType::Date32, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("ok", DataType::Boolean, true),
            Field::new("score", DataType::Float64, true),
            json_field("detail", true),
        ]))
    }

    #[test]
    fn rows_written_from_arrow_read_back_and_through_the_reference_implementation() {
        let schema = table();
        let fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
        let text = avro_schema_for("laminar.Order", &fields).unwrap();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, -2])),
            Arc::new(StringArray::from(vec![Some("a"), None])),
            Arc::new(
                Decimal128Array::from(vec![Some(-12345), Some(1)])
                    .with_precision_and_scale(9, 2)
                    .unwrap(),
            ),
            Arc::new(Date32Array::from(vec![Some(19_000), None])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(1_700_000_000_000_001), None])
                    .with_timezone("UTC"),
            ),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false)])),
            Arc::new(Float64Array::from(vec![Some(0.5), None])),
            Arc::new(StringArray::from(vec![Some(r#"{"k":[1]}"#), None])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns.clone()).unwrap();
        let reference = Schema::parse_str(&text).unwrap();
        let mut d = Decoder::plain_avro(schema.clone(), &text, BadDataPolicy::Fail).unwrap();
        for row in 0..2 {
            let mut datum = Vec::new();
            write_datum(&fields, &columns, row, &mut datum).unwrap();
            // The reference implementation reads what we write.
            let value = apache_avro::from_avro_datum(&reference, &mut &datum[..], None).unwrap();
            let AvroValue::Record(values) = value else {
                panic!("not a record")
            };
            assert_eq!(
                values[0],
                ("id".into(), AvroValue::Long(if row == 0 { 1 } else { -2 }))
            );
            d.decode(Some(&datum), &meta(row as i64)).unwrap();
        }
        let back = d.flush().unwrap();
        assert_eq!(back, batch);
    }

    #[test]
    fn writer_schemas_are_resolved_against_the_columns() {
        // Written by the reference implementation with a different field order, extra fields,
        // unions, promotions, an enum, a nested record, a fixed decimal and an alias.
        let writer = r#"{"type": "record", "name": "W", "fields": [
            {"name": "extra", "type": {"type": "array", "items": "string"}},
            {"name": "score", "type": "int"},
            {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A", "B"]}},
            {"name": "detail", "type": ["null", {"type": "record", "name": "D", "fields": [
                {"name": "x", "type": "long"}, {"name": "m", "type": {"type": "map", "values": "double"}}]}]},
            {"name": "price", "type": {"type": "fixed", "name": "F", "size": 3, "logicalType": "decimal", "precision": 6, "scale": 3}},
            {"name": "identifier", "aliases": ["id"], "type": "long"},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "skipped", "type": ["null", "D"]}
        ]}"#;
        let schema = Schema::parse_str(writer).unwrap();
        let detail = AvroValue::Record(vec![
            ("x".into(), AvroValue::Long(7)),
            (
                "m".into(),
                AvroValue::Map([("a".to_owned(), AvroValue::Double(1.5))].into()),
            ),
        ]);
        let record = AvroValue::Record(vec![
            (
                "extra".into(),
                AvroValue::Array(vec![AvroValue::String("e".into()); 3]),
            ),
            ("score".into(), AvroValue::Int(3)),
            ("kind".into(), AvroValue::Enum(1, "B".into())),
            (
                "detail".into(),
                AvroValue::Union(1, Box::new(detail.clone())),
            ),
            (
                "price".into(),
                AvroValue::Decimal(apache_avro::Decimal::from(vec![0xff, 0xff, 0x85])),
            ),
            ("identifier".into(), AvroValue::Long(42)),
            ("at".into(), AvroValue::TimestampMillis(1_000)),
            ("skipped".into(), AvroValue::Union(1, Box::new(detail))),
        ]);
        let datum = apache_avro::to_avro_datum(&schema, record).unwrap();

        let table = Arc::new(ArrowSchema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("score", DataType::Float32, true),
            Field::new("kind", DataType::Utf8, true),
            json_field("detail", true),
            Field::new("price", DataType::Decimal128(9, 2), true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("absent", DataType::Date32, true),
        ]));
        let mut d = Decoder::plain_avro(table, writer, BadDataPolicy::Fail).unwrap();
        d.decode(Some(&datum), &meta(0)).unwrap();
        let b = d.flush().unwrap();
        assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), 42);
        assert_eq!(b.column(1).as_primitive::<Float32Type>().value(0), 3.0);
        assert_eq!(b.column(2).as_string::<i32>().value(0), "B");
        assert_eq!(
            b.column(3).as_string::<i32>().value(0),
            r#"{"m":{"a":1.5},"x":7}"#
        );
        // -123 at scale 3 is -0.123, rounded to scale 2.
        assert_eq!(b.column(4).as_primitive::<Decimal128Type>().value(0), -12);
        assert_eq!(
            b.column(5)
                .as_primitive::<TimestampMicrosecondType>()
                .value(0),
            1_000_000
        );
        assert!(b.column(6).is_null(0));
    }

    #[test]
    fn schemas_that_cannot_fill_the_table_are_refused_early() {
        let table = Arc::new(ArrowSchema::new(vec![Field::new(
            "id",
            DataType::Int64,
            false,
        )]));
        let e = Decoder::plain_avro(
            table.clone(),
            r#"{"type": "record", "name": "R", "fields": [{"name": "other", "type": "long"}]}"#,
            BadDataPolicy::Fail,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "schema does not suit format `avro`: the writer schema has no field for NOT NULL \
             column `id`"
        );
        assert!(Decoder::plain_avro(table, "{", BadDataPolicy::Fail).is_err());
    }

    #[test]
    fn framed_records_need_their_schema_and_bad_ones_are_refused_alone() {
        let table = Arc::new(ArrowSchema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let mut d = Decoder::new(table, Format::Avro, BadDataPolicy::Fail).unwrap();
        let writer = r#"{"type": "record", "name": "R", "fields": [
            {"name": "id", "type": "long"}, {"name": "name", "type": "string"}]}"#;
        let framed = |id: u32, body: &[u8]| {
            let mut v = vec![0];
            v.extend_from_slice(&id.to_be_bytes());
            v.extend_from_slice(body);
            v
        };
        let good = framed(5, &[0x54, 0x04, b'h', b'i']); // id 42, "hi"
        assert_eq!(d.missing_schema(Some(&good)), Some(5));
        let e = d.decode(Some(&good), &meta(0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "record at t/1@0: writer schema 5 is not loaded"
        );
        assert!(matches!(e, FormatError::SchemaNotLoaded { id: 5, .. }));
        // Not bad data: even under `drop` the record is not dropped silently.
        let mut dropping = Decoder::new(
            Arc::new(ArrowSchema::new(vec![Field::new(
                "id",
                DataType::Int64,
                true,
            )])),
            Format::Avro,
            BadDataPolicy::Drop,
        )
        .unwrap();
        assert!(matches!(
            dropping.decode(Some(&good), &meta(0)),
            Err(FormatError::SchemaNotLoaded { id: 5, .. })
        ));
        assert_eq!(dropping.dropped(), 0);
        d.add_schema(
            &RegisteredSchema {
                id: 5,
                schema_type: SchemaType::Avro,
                schema: writer.into(),
                references: vec![],
            },
            &[],
        );
        assert_eq!(d.missing_schema(Some(&good)), None);
        d.decode(Some(&good), &meta(1)).unwrap();
        let cases: [(&[u8], &str); 6] = [
            (
                &[1, 0, 0, 0, 5, 0],
                "value does not start with the schema registry magic byte 0 (found 1)",
            ),
            (
                &[0, 0, 0],
                "value is shorter than the 5-byte schema registry header",
            ),
            (&framed(5, &[0x54])[..], "datum ends inside a number"),
            (&framed(5, &[0x54, 0x7f])[..], "length -64 runs past"),
            (
                &framed(5, &[0x54, 0x02, 0xff])[..],
                "string is not valid UTF-8",
            ),
            (
                &framed(5, &[0x54, 0x00, 0x00])[..],
                "1 bytes left after the datum",
            ),
        ];
        for (i, (bytes, reason)) in cases.iter().enumerate() {
            let e = d
                .decode(Some(bytes), &meta(10 + i as i64))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(reason) || e.contains("negative length"),
                "{e} vs {reason}"
            );
        }
        d.decode(Some(&framed(5, &[0x02, 0x00])), &meta(20))
            .unwrap();
        let b = d.flush().unwrap();
        assert_eq!(b.column(0).as_primitive::<Int64Type>().values(), &[42, 1]);
        assert_eq!(b.column(1).as_string::<i32>().value(0), "hi");
    }

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

    #[test]
    fn hostile_counts_and_nesting_are_bounded() {
        let writer = WriterSchema::parse(
            r#"{"type": "record", "name": "R", "fields": [{"name": "a", "type": {"type": "array", "items": "null"}}]}"#,
            &[],
        )
        .unwrap();
        let fields: Vec<FieldRef> = vec![Arc::new(Field::new("b", DataType::Utf8, true))];
        let plan = Plan::new(writer, &fields).unwrap();
        let mut columns = Columns::new(&fields).unwrap();
        // An array block claiming 2^62 null items in 10 bytes.
        let mut datum = Vec::new();
        put_long(&mut datum, 1 << 62);
        let e = columns.row(|c| plan.read(&datum, c)).unwrap_err();
        assert!(e.contains("larger than the datum allows"), "{e}");
    }
}
