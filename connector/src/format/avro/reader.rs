//! Reading Avro binary: a cursor over one datum, and one value of a writer type read into a
//! column builder, read past, or read as JSON text (nested values in JSON or TEXT columns).
//!
//! This file owns the wire format of a datum and its bounds (lengths and counts checked against
//! the bytes left, nesting and item counts capped). It does not decide which field goes to
//! which column: the plan does, once per writer schema.

use apache_avro::schema::{Schema, UnionSchema};

use super::plan::WriterSchema;
use crate::format::columns::{Columns, Scalar};

/// Deepest nesting of Avro types read (records in arrays in maps …).
const MAX_DEPTH: usize = 64;

/// Most array or map items in one record, whatever their size (items of type `null` take no
/// bytes, so the byte count alone does not bound them).
const MAX_ITEMS: usize = 1 << 20;

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

    pub(super) fn remaining(&self) -> usize {
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

fn too_deep() -> String {
    format!("values are nested deeper than {MAX_DEPTH} levels")
}

/// Reads one value of `schema` into column `column`.
pub(super) fn read_into(
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
pub(super) fn skip(
    w: &WriterSchema,
    schema: &Schema,
    r: &mut Reader<'_>,
    depth: usize,
) -> Result<(), String> {
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
            let text = crate::format::columns::unscaled_text(bytes)
                .ok_or("decimal is wider than 256 bits")?;
            let text = crate::format::columns::shift_point(&text, scale);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_schema::{DataType, Field, FieldRef};

    use super::super::plan::{Plan, WriterSchema};
    use super::super::writer::put_long;
    use crate::format::columns::Columns;

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
