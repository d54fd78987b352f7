//! Typed column buffers shared by the payload decoders (JSON, Avro, Protobuf, Debezium).
//!
//! A decoder starts a row, sets the columns it finds with [`Scalar`]s, and ends the row; a
//! column it did not set becomes null (or the row is refused if the column is `NOT NULL`). A
//! row that fails half-way is rolled back in every column, so a bad record never leaves a
//! partial row and never disturbs the rows before it. Values go straight into plain vectors
//! that become Arrow buffers without another copy at [`Columns::finish`].
//!
//! The conversions from a [`Scalar`] to a column type are in one place,
//! [`Column::set`], so every format accepts the same things for the same column type.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
    Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, StringArray,
    Time32MillisecondArray, Time32SecondArray, Time64MicrosecondArray, Time64NanosecondArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray,
};
use arrow_buffer::{
    BooleanBuffer, BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer, i256,
};
use arrow_schema::{DataType, FieldRef, TimeUnit};

use super::temporal;
use crate::schema::is_json;

/// One value as a decoder found it, before conversion to the column's type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    /// An explicit null.
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// Text (for a number column, the number's text).
    Str(&'a str),
    Bytes(&'a [u8]),
    /// A decimal as big-endian two's complement bytes with its scale (Avro `decimal`).
    DecimalBytes(&'a [u8], i8),
    /// Days since 1970-01-01.
    Date(i32),
    /// Nanoseconds since midnight.
    TimeNanos(i64),
    /// Nanoseconds since the epoch.
    TimestampNanos(i128),
    /// JSON text of a nested value (an object, an array, or any value of a JSON column).
    Json(&'a str),
}

impl Scalar<'_> {
    fn kind_name(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Int(_) | Scalar::UInt(_) => "an integer",
            Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Bytes(_) => "bytes",
            Scalar::DecimalBytes(..) => "a decimal",
            Scalar::Date(_) => "a date",
            Scalar::TimeNanos(_) => "a time",
            Scalar::TimestampNanos(_) => "a timestamp",
            Scalar::Json(_) => "a nested value",
        }
    }
}

/// Column storage by physical type.
#[derive(Debug)]
enum Data {
    Bool(BooleanBufferBuilder),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    I128(Vec<i128>),
    I256(Vec<i256>),
    /// Variable-length: `offsets` has one more entry than there are values.
    Var {
        offsets: Vec<i32>,
        data: Vec<u8>,
    },
}

impl Data {
    fn truncate(&mut self, len: usize) {
        match self {
            Data::Bool(b) => b.truncate(len),
            Data::I8(v) => v.truncate(len),
            Data::I16(v) => v.truncate(len),
            Data::I32(v) => v.truncate(len),
            Data::I64(v) => v.truncate(len),
            Data::F32(v) => v.truncate(len),
            Data::F64(v) => v.truncate(len),
            Data::I128(v) => v.truncate(len),
            Data::I256(v) => v.truncate(len),
            Data::Var { offsets, data } => {
                offsets.truncate(len + 1);
                data.truncate(offsets[len] as usize);
            }
        }
    }

    fn push_default(&mut self) {
        match self {
            Data::Bool(b) => b.append(false),
            Data::I8(v) => v.push(0),
            Data::I16(v) => v.push(0),
            Data::I32(v) => v.push(0),
            Data::I64(v) => v.push(0),
            Data::F32(v) => v.push(0.0),
            Data::F64(v) => v.push(0.0),
            Data::I128(v) => v.push(0),
            Data::I256(v) => v.push(i256::ZERO),
            Data::Var { offsets, data } => offsets.push(data.len() as i32),
        }
    }
}

/// Most bytes a variable-length column holds in one batch (Arrow's `i32` offsets).
const MAX_VAR_BYTES: usize = i32::MAX as usize;

/// The logical type of a column, as the conversions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Decimal128(u8, i8),
    Decimal256(u8, i8),
    Utf8,
    Json,
    Binary,
    Date32,
    Time(TimeUnit),
    Timestamp(TimeUnit),
}

impl Kind {
    /// The kind of a field, or `None` for a type the formats do not fill.
    pub(crate) fn of(field: &FieldRef) -> Option<Kind> {
        Some(match field.data_type() {
            DataType::Boolean => Kind::Bool,
            DataType::Int8 => Kind::Int8,
            DataType::Int16 => Kind::Int16,
            DataType::Int32 => Kind::Int32,
            DataType::Int64 => Kind::Int64,
            DataType::Float32 => Kind::Float32,
            DataType::Float64 => Kind::Float64,
            DataType::Decimal128(p, s) => Kind::Decimal128(*p, *s),
            DataType::Decimal256(p, s) => Kind::Decimal256(*p, *s),
            DataType::Utf8 if is_json(field) => Kind::Json,
            DataType::Utf8 => Kind::Utf8,
            DataType::Binary => Kind::Binary,
            DataType::Date32 => Kind::Date32,
            DataType::Time32(u @ (TimeUnit::Second | TimeUnit::Millisecond)) => Kind::Time(*u),
            DataType::Time64(u @ (TimeUnit::Microsecond | TimeUnit::Nanosecond)) => Kind::Time(*u),
            DataType::Timestamp(u, _) => Kind::Timestamp(*u),
            _ => return None,
        })
    }
}

/// One column being built.
#[derive(Debug)]
pub(crate) struct Column {
    pub(crate) field: FieldRef,
    pub(crate) kind: Kind,
    data: Data,
    valid: BooleanBufferBuilder,
    /// Whether the current row has a value for this column yet.
    set: bool,
}

/// Scratch text for conversions that need it (numbers written as text).
fn number_text(buf: &mut String, v: impl std::fmt::Display) -> &str {
    use std::fmt::Write;
    buf.clear();
    let _ = write!(buf, "{v}");
    buf
}

impl Column {
    /// A column for `field`, or why the formats cannot fill its type.
    pub(crate) fn new(field: FieldRef) -> Result<Self, String> {
        let kind = Kind::of(&field).ok_or_else(|| {
            format!(
                "column `{}` has type {}, which formats do not decode",
                field.name(),
                field.data_type()
            )
        })?;
        let data = match kind {
            Kind::Bool => Data::Bool(BooleanBufferBuilder::new(0)),
            Kind::Int8 => Data::I8(Vec::new()),
            Kind::Int16 => Data::I16(Vec::new()),
            Kind::Int32 | Kind::Date32 => Data::I32(Vec::new()),
            Kind::Time(TimeUnit::Second | TimeUnit::Millisecond) => Data::I32(Vec::new()),
            Kind::Int64 | Kind::Time(_) | Kind::Timestamp(_) => Data::I64(Vec::new()),
            Kind::Float32 => Data::F32(Vec::new()),
            Kind::Float64 => Data::F64(Vec::new()),
            Kind::Decimal128(..) => Data::I128(Vec::new()),
            Kind::Decimal256(..) => Data::I256(Vec::new()),
            Kind::Utf8 | Kind::Json | Kind::Binary => Data::Var {
                offsets: vec![0],
                data: Vec::new(),
            },
        };
        Ok(Column {
            field,
            kind,
            data,
            valid: BooleanBufferBuilder::new(0),
            set: false,
        })
    }

    /// The column's name.
    pub(crate) fn name(&self) -> &str {
        self.field.name()
    }

    fn push_var(&mut self, bytes: &[u8]) -> Result<(), String> {
        let Data::Var { offsets, data } = &mut self.data else {
            return Err("internal: not a variable-length column".to_owned());
        };
        if data.len() + bytes.len() > MAX_VAR_BYTES {
            return Err(format!(
                "column `{}` would exceed 2 GiB in one batch; flush more often",
                self.field.name()
            ));
        }
        data.extend_from_slice(bytes);
        offsets.push(data.len() as i32);
        Ok(())
    }

    /// Sets this row's value. A second value in the same row replaces the first (the last one
    /// wins, as with duplicate JSON keys).
    pub(crate) fn set(&mut self, rows: usize, value: Scalar<'_>) -> Result<(), String> {
        if self.set {
            self.data.truncate(rows);
            self.valid.truncate(rows);
            self.set = false;
        }
        if let Scalar::Null = value {
            if !self.field.is_nullable() {
                return Err(format!("null for NOT NULL column `{}`", self.field.name()));
            }
            self.data.push_default();
            self.valid.append(false);
            self.set = true;
            return Ok(());
        }
        self.convert(value).map_err(|reason| match reason {
            Some(reason) => format!("column `{}`: {reason}", self.field.name()),
            None => format!(
                "column `{}` of type {} cannot hold {}",
                self.field.name(),
                self.field.data_type(),
                value.kind_name()
            ),
        })?;
        self.valid.append(true);
        self.set = true;
        Ok(())
    }

    /// Pushes a converted value; `Err(None)` means the value's kind does not fit at all.
    fn convert(&mut self, value: Scalar<'_>) -> Result<(), Option<String>> {
        let mut scratch = String::new();
        match self.kind {
            Kind::Bool => {
                let b = match value {
                    Scalar::Bool(b) => b,
                    Scalar::Str("true") => true,
                    Scalar::Str("false") => false,
                    _ => return Err(None),
                };
                if let Data::Bool(v) = &mut self.data {
                    v.append(b);
                }
            }
            Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => {
                let v = integer(value)?;
                let out_of_range = || Some(format!("{v} is out of range"));
                match &mut self.data {
                    Data::I8(d) => d.push(i8::try_from(v).map_err(|_| out_of_range())?),
                    Data::I16(d) => d.push(i16::try_from(v).map_err(|_| out_of_range())?),
                    Data::I32(d) => d.push(i32::try_from(v).map_err(|_| out_of_range())?),
                    Data::I64(d) => d.push(i64::try_from(v).map_err(|_| out_of_range())?),
                    _ => return Err(None),
                }
            }
            Kind::Float32 | Kind::Float64 => {
                let v = match value {
                    Scalar::Float(f) => f,
                    Scalar::Int(i) => i as f64,
                    Scalar::UInt(u) => u as f64,
                    Scalar::Str(s) => s
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| Some("text is not a number".to_owned()))?,
                    _ => return Err(None),
                };
                match &mut self.data {
                    Data::F32(d) => d.push(v as f32),
                    Data::F64(d) => d.push(v),
                    _ => return Err(None),
                }
            }
            Kind::Decimal128(p, s) if matches!(value, Scalar::Str(_) | Scalar::Int(_)) => {
                // The common cases without allocating: decimal text, or an integer.
                let v = match value {
                    Scalar::Str(t) => decimal_i128(t.trim(), p, s),
                    Scalar::Int(i) => decimal_i128_from_int(i, p, s),
                    _ => return Err(None),
                }
                .map_err(Some)?;
                if let Data::I128(d) = &mut self.data {
                    d.push(v);
                }
            }
            Kind::Decimal128(p, s) | Kind::Decimal256(p, s) => {
                let digits = match value {
                    Scalar::Int(i) => decimal_digits(number_text(&mut scratch, i), p, s),
                    Scalar::UInt(u) => decimal_digits(number_text(&mut scratch, u), p, s),
                    Scalar::Float(f) if f.is_finite() => {
                        decimal_digits(number_text(&mut scratch, f), p, s)
                    }
                    Scalar::Str(t) => decimal_digits(t.trim(), p, s),
                    Scalar::DecimalBytes(bytes, scale) => {
                        let text = unscaled_text(bytes)
                            .ok_or_else(|| Some("decimal is wider than 256 bits".to_owned()))?;
                        let text = shift_point(&text, scale);
                        decimal_digits(&text, p, s)
                    }
                    _ => return Err(None),
                }
                .map_err(Some)?;
                match &mut self.data {
                    Data::I128(d) => d.push(
                        digits
                            .parse::<i128>()
                            .map_err(|_| Some(format!("does not fit DECIMAL({p},{s})")))?,
                    ),
                    Data::I256(d) => d.push(
                        i256::from_string(&digits)
                            .ok_or_else(|| Some(format!("does not fit DECIMAL({p},{s})")))?,
                    ),
                    _ => return Err(None),
                }
            }
            Kind::Utf8 | Kind::Json => {
                let json = self.kind == Kind::Json;
                match value {
                    // Text into a JSON column (Avro and Protobuf carry JSON as strings): kept
                    // as written when it is JSON, else stored as a JSON string.
                    Scalar::Str(s)
                        if json && serde_json::from_str::<serde::de::IgnoredAny>(s).is_err() =>
                    {
                        let quoted = serde_json::to_string(s).map_err(|e| Some(e.to_string()))?;
                        self.push_var(quoted.as_bytes()).map_err(Some)?;
                    }
                    Scalar::Str(s) | Scalar::Json(s) => {
                        self.push_var(s.as_bytes()).map_err(Some)?
                    }
                    Scalar::Bool(b) => self
                        .push_var(if b { b"true" } else { b"false" })
                        .map_err(Some)?,
                    Scalar::Int(i) => {
                        let t = number_text(&mut scratch, i);
                        let t = t.as_bytes().to_vec();
                        self.push_var(&t).map_err(Some)?;
                    }
                    Scalar::UInt(u) => {
                        let t = number_text(&mut scratch, u).as_bytes().to_vec();
                        self.push_var(&t).map_err(Some)?;
                    }
                    Scalar::Float(f) if f.is_finite() => {
                        let t = number_text(&mut scratch, f).as_bytes().to_vec();
                        self.push_var(&t).map_err(Some)?;
                    }
                    Scalar::DecimalBytes(bytes, scale) => {
                        let text = unscaled_text(bytes)
                            .ok_or_else(|| Some("decimal is wider than 256 bits".to_owned()))?;
                        self.push_var(shift_point(&text, scale).as_bytes())
                            .map_err(Some)?;
                    }
                    Scalar::Date(d) if !json => {
                        temporal::format_date(i64::from(d), &mut scratch);
                        let t = scratch.as_bytes().to_vec();
                        self.push_var(&t).map_err(Some)?;
                    }
                    Scalar::TimestampNanos(n) if !json => {
                        let n = i64::try_from(n)
                            .map_err(|_| Some("timestamp is out of range".to_owned()))?;
                        temporal::format_timestamp(n, TimeUnit::Nanosecond, true, &mut scratch);
                        let t = scratch.as_bytes().to_vec();
                        self.push_var(&t).map_err(Some)?;
                    }
                    _ => return Err(None),
                }
            }
            Kind::Binary => match value {
                Scalar::Bytes(b) => self.push_var(b).map_err(Some)?,
                Scalar::Str(s) => self.push_var(s.as_bytes()).map_err(Some)?,
                _ => return Err(None),
            },
            Kind::Date32 => {
                let days = match value {
                    Scalar::Date(d) => d,
                    Scalar::Int(i) => {
                        i32::try_from(i).map_err(|_| Some(format!("{i} days is out of range")))?
                    }
                    Scalar::Str(s) => temporal::parse_date(s)
                        .ok_or_else(|| Some("text is not a date (YYYY-MM-DD)".to_owned()))?,
                    Scalar::TimestampNanos(n) => i32::try_from(n.div_euclid(86_400_000_000_000))
                        .map_err(|_| Some("date is out of range".to_owned()))?,
                    _ => return Err(None),
                };
                if let Data::I32(d) = &mut self.data {
                    d.push(days);
                }
            }
            Kind::Time(unit) => {
                let nanos = match value {
                    Scalar::TimeNanos(n) => n,
                    // A bare number is milliseconds since midnight.
                    Scalar::Int(ms) => ms
                        .checked_mul(1_000_000)
                        .ok_or_else(|| Some(format!("{ms} ms is out of range")))?,
                    Scalar::Str(s) => temporal::parse_time(s)
                        .ok_or_else(|| Some("text is not a time (HH:MM:SS[.f])".to_owned()))?,
                    _ => return Err(None),
                };
                if !(0..86_400_000_000_000).contains(&nanos) {
                    return Err(Some("time of day is out of range".to_owned()));
                }
                let v = nanos / temporal::unit_nanos(unit) as i64;
                match &mut self.data {
                    Data::I32(d) => d.push(v as i32),
                    Data::I64(d) => d.push(v),
                    _ => return Err(None),
                }
            }
            Kind::Timestamp(unit) => {
                let nanos = match value {
                    Scalar::TimestampNanos(n) => n,
                    // A bare number is milliseconds since the epoch, like Kafka's timestamps.
                    Scalar::Int(ms) => i128::from(ms) * 1_000_000,
                    Scalar::UInt(ms) => i128::from(ms) * 1_000_000,
                    Scalar::Str(s) => temporal::parse_timestamp_nanos(s).ok_or_else(|| {
                        Some("text is not an ISO 8601 / RFC 3339 timestamp".to_owned())
                    })?,
                    Scalar::Date(d) => i128::from(d) * 86_400_000_000_000,
                    _ => return Err(None),
                };
                let v = temporal::nanos_to_unit(nanos, unit)
                    .ok_or_else(|| Some("timestamp is out of range".to_owned()))?;
                if let Data::I64(d) = &mut self.data {
                    d.push(v);
                }
            }
        }
        Ok(())
    }

    fn end_row(&mut self) -> Result<(), String> {
        if !self.set {
            if !self.field.is_nullable() {
                return Err(format!(
                    "no value for NOT NULL column `{}`",
                    self.field.name()
                ));
            }
            self.data.push_default();
            self.valid.append(false);
        }
        Ok(())
    }

    fn rollback(&mut self, rows: usize) {
        self.data.truncate(rows);
        self.valid.truncate(rows);
        self.set = false;
    }

    fn finish(&mut self) -> ArrayRef {
        let nulls = {
            let buffer: BooleanBuffer = self.valid.finish();
            let nulls = NullBuffer::new(buffer);
            (nulls.null_count() > 0).then_some(nulls)
        };
        let dt = self.field.data_type().clone();
        macro_rules! prim {
            ($array:ty, $v:expr) => {
                Arc::new(<$array>::new(ScalarBuffer::from(std::mem::take($v)), nulls))
            };
        }
        let array: ArrayRef = match (&mut self.data, self.kind) {
            (Data::Bool(b), _) => Arc::new(BooleanArray::new(b.finish(), nulls)),
            (Data::I8(v), _) => prim!(Int8Array, v),
            (Data::I16(v), _) => prim!(Int16Array, v),
            (Data::I32(v), Kind::Date32) => prim!(Date32Array, v),
            (Data::I32(v), Kind::Time(TimeUnit::Second)) => prim!(Time32SecondArray, v),
            (Data::I32(v), Kind::Time(_)) => prim!(Time32MillisecondArray, v),
            (Data::I32(v), _) => prim!(Int32Array, v),
            (Data::I64(v), Kind::Time(TimeUnit::Microsecond)) => prim!(Time64MicrosecondArray, v),
            (Data::I64(v), Kind::Time(_)) => prim!(Time64NanosecondArray, v),
            (Data::I64(v), Kind::Timestamp(unit)) => {
                let tz = match &dt {
                    DataType::Timestamp(_, tz) => tz.clone(),
                    _ => None,
                };
                let values = ScalarBuffer::from(std::mem::take(v));
                match unit {
                    TimeUnit::Second => {
                        Arc::new(TimestampSecondArray::new(values, nulls).with_timezone_opt(tz))
                    }
                    TimeUnit::Millisecond => Arc::new(
                        TimestampMillisecondArray::new(values, nulls).with_timezone_opt(tz),
                    ),
                    TimeUnit::Microsecond => Arc::new(
                        TimestampMicrosecondArray::new(values, nulls).with_timezone_opt(tz),
                    ),
                    TimeUnit::Nanosecond => {
                        Arc::new(TimestampNanosecondArray::new(values, nulls).with_timezone_opt(tz))
                    }
                }
            }
            (Data::I64(v), _) => prim!(Int64Array, v),
            (Data::F32(v), _) => prim!(Float32Array, v),
            (Data::F64(v), _) => prim!(Float64Array, v),
            (Data::I128(v), _) => Arc::new(
                Decimal128Array::new(ScalarBuffer::from(std::mem::take(v)), nulls)
                    .with_data_type(dt),
            ),
            (Data::I256(v), _) => Arc::new(
                Decimal256Array::new(ScalarBuffer::from(std::mem::take(v)), nulls)
                    .with_data_type(dt),
            ),
            (Data::Var { offsets, data }, kind) => {
                let offsets =
                    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                let values = Buffer::from_vec(std::mem::take(data));
                if kind == Kind::Binary {
                    Arc::new(BinaryArray::new(offsets, values, nulls))
                } else {
                    // Every value was appended from a `&str`, so this validation cannot fail.
                    match StringArray::try_new(offsets.clone(), values.clone(), nulls.clone()) {
                        Ok(a) => Arc::new(a),
                        Err(_) => Arc::new(StringArray::new_null(offsets.len() - 1)),
                    }
                }
            }
        };
        array
    }
}

/// A whole-number scalar as `i128` (wide enough for every `i64` and `u64`).
fn integer(value: Scalar<'_>) -> Result<i128, Option<String>> {
    Ok(match value {
        Scalar::Int(i) => i128::from(i),
        Scalar::UInt(u) => i128::from(u),
        Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 1e19 => f as i128,
        Scalar::Float(_) => return Err(Some("number is not a whole number".to_owned())),
        Scalar::Str(s) => s
            .trim()
            .parse::<i128>()
            .map_err(|_| Some("text is not a whole number".to_owned()))?,
        _ => return Err(None),
    })
}

/// The decimal text of a big-endian two's complement integer of at most 32 bytes.
pub(crate) fn unscaled_text(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return Some("0".to_owned());
    }
    if bytes.len() <= 16 {
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
        let mut buf = [fill; 16];
        buf[16 - bytes.len()..].copy_from_slice(bytes);
        return Some(i128::from_be_bytes(buf).to_string());
    }
    if bytes.len() <= 32 {
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
        let mut buf = [fill; 32];
        buf[32 - bytes.len()..].copy_from_slice(bytes);
        return Some(i256::from_be_bytes(buf).to_string());
    }
    None
}

/// An integer's text divided by 10^scale, as decimal text.
pub(crate) fn shift_point(int_text: &str, scale: i8) -> String {
    if scale <= 0 {
        let mut s = int_text.to_owned();
        if int_text != "0" {
            s.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        }
        return s;
    }
    let (sign, digits) = match int_text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int_text),
    };
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits.to_owned()
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

fn decimal_i128_from_int(v: i64, precision: u8, scale: i8) -> Result<i128, String> {
    let does_not_fit = || format!("does not fit DECIMAL({precision},{scale})");
    let v = i128::from(v);
    let scaled = if scale >= 0 {
        v.checked_mul(POW10[scale as usize])
            .ok_or_else(does_not_fit)?
    } else {
        let d = POW10[(-scale) as usize];
        let q = v / d;
        let r = (v % d).abs();
        if r * 2 >= d { q + v.signum() } else { q }
    };
    if scaled.unsigned_abs() >= POW10[usize::from(precision.min(38))].unsigned_abs() {
        return Err(does_not_fit());
    }
    Ok(scaled)
}

/// Decimal text as the unscaled `i128` of a `DECIMAL(precision ≤ 38, scale)`, rounded half
/// away from zero, without allocating; the same results as [`decimal_digits`].
pub(crate) fn decimal_i128(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let not_decimal = || "text is not a decimal number".to_owned();
    let does_not_fit = || format!("does not fit DECIMAL({precision},{scale})");
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mantissa, exponent) = match rest.iter().position(|b| *b == b'e' || *b == b'E') {
        Some(i) => {
            let exp = std::str::from_utf8(&rest[i + 1..])
                .ok()
                .and_then(|e| e.parse::<i32>().ok())
                .filter(|e| e.abs() <= 1000)
                .ok_or_else(not_decimal)?;
            (&rest[..i], exp)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|b| *b == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &[][..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(not_decimal());
    }
    let shift = i64::from(exponent) - frac_part.len() as i64 + i64::from(scale);
    let total = int_part.len() + frac_part.len();
    // Digits kept before scaling, and whether the first dropped one rounds up.
    let keep = if shift >= 0 {
        total
    } else {
        total.saturating_sub((-shift) as usize)
    };
    let mut acc: i128 = 0;
    let mut round_up = false;
    for (i, &b) in int_part.iter().chain(frac_part).enumerate() {
        if !b.is_ascii_digit() {
            return Err(not_decimal());
        }
        let d = i128::from(b - b'0');
        if i < keep {
            acc = acc
                .checked_mul(10)
                .and_then(|a| a.checked_add(d))
                .ok_or_else(does_not_fit)?;
        } else if i == keep && shift < 0 && (-shift) as usize <= total {
            round_up = d >= 5;
        }
    }
    if round_up {
        acc += 1;
    }
    if shift > 0 && acc != 0 {
        let factor = POW10.get(shift as usize).ok_or_else(does_not_fit)?;
        acc = acc.checked_mul(*factor).ok_or_else(does_not_fit)?;
    }
    if acc >= POW10[usize::from(precision.min(38))] {
        return Err(does_not_fit());
    }
    Ok(if negative { -acc } else { acc })
}

/// Decimal text (`-12.5`, `1e3`, `0.125E-1`) as the digits of the unscaled integer of a
/// `DECIMAL(precision, scale)`, rounded half away from zero; an error if it does not fit.
///
/// Not `arrow_cast::parse::parse_decimal`: it truncates the digits past `scale` where this
/// rounds (`12.345` as `DECIMAL(10,2)` is 12.34 there, 12.35 here; `99.995` fits
/// `DECIMAL(4,2)` there and not here), and its errors do not name the column's type.
pub(crate) fn decimal_digits(text: &str, precision: u8, scale: i8) -> Result<String, String> {
    let not_decimal = || "text is not a decimal number".to_owned();
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mantissa, exponent) = match rest.iter().position(|b| *b == b'e' || *b == b'E') {
        Some(i) => {
            let exp = std::str::from_utf8(&rest[i + 1..])
                .ok()
                .and_then(|e| e.parse::<i32>().ok())
                .filter(|e| e.abs() <= 1000)
                .ok_or_else(not_decimal)?;
            (&rest[..i], exp)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|b| *b == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &[][..]),
    };
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.iter().chain(frac_part).all(u8::is_ascii_digit)
    {
        return Err(not_decimal());
    }
    // digits × 10^(exponent − frac_len) = value; we want value × 10^scale.
    let mut digits: Vec<u8> = int_part.iter().chain(frac_part).copied().collect();
    let shift = i64::from(exponent) - frac_part.len() as i64 + i64::from(scale);
    let mut round_up = false;
    if shift >= 0 {
        if shift > 100 {
            // Leading zeros aside, this cannot fit any precision ≤ 76 unless the digits are 0.
            if digits.iter().all(|d| *d == b'0') {
                digits = vec![b'0'];
            } else {
                return Err(format!("does not fit DECIMAL({precision},{scale})"));
            }
        } else {
            digits.extend(std::iter::repeat_n(b'0', shift as usize));
        }
    } else {
        let drop = (-shift) as usize;
        if drop >= digits.len() {
            round_up = drop == digits.len() && digits.first().is_some_and(|d| *d >= b'5');
            digits = vec![b'0'];
        } else {
            round_up = digits[digits.len() - drop] >= b'5';
            digits.truncate(digits.len() - drop);
        }
    }
    if round_up {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let first = digits
        .iter()
        .position(|d| *d != b'0')
        .unwrap_or(digits.len());
    let significant = &digits[first..];
    if significant.len() > usize::from(precision) {
        return Err(format!("does not fit DECIMAL({precision},{scale})"));
    }
    let mut out = String::with_capacity(significant.len() + 1);
    if significant.is_empty() {
        out.push('0');
    } else {
        if negative {
            out.push('-');
        }
        out.extend(significant.iter().map(|d| char::from(*d)));
    }
    Ok(out)
}

/// The columns of one payload, built row by row.
#[derive(Debug)]
pub(crate) struct Columns {
    pub(crate) columns: Vec<Column>,
    rows: usize,
}

impl Columns {
    /// Columns for `fields` (the payload fields, in schema order).
    pub(crate) fn new(fields: &[FieldRef]) -> Result<Self, String> {
        Ok(Columns {
            columns: fields
                .iter()
                .map(|f| Column::new(f.clone()))
                .collect::<Result<_, _>>()?,
            rows: 0,
        })
    }

    /// Rows completed since the last finish.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Forgets the rows after the first `rows` (and any row in progress).
    pub(crate) fn truncate_rows(&mut self, rows: usize) {
        let rows = rows.min(self.rows);
        for c in &mut self.columns {
            c.rollback(rows);
        }
        self.rows = rows;
    }

    /// Sets column `index` of the current row.
    #[inline]
    pub(crate) fn set(&mut self, index: usize, value: Scalar<'_>) -> Result<(), String> {
        let rows = self.rows;
        self.columns[index].set(rows, value)
    }

    /// Completes the row: unset columns become null. On error the row is rolled back.
    pub(crate) fn end_row(&mut self) -> Result<(), String> {
        for i in 0..self.columns.len() {
            if let Err(e) = self.columns[i].end_row() {
                self.abort_row();
                return Err(e);
            }
            self.columns[i].set = false;
        }
        self.rows += 1;
        Ok(())
    }

    /// Forgets everything set since the last completed row.
    pub(crate) fn abort_row(&mut self) {
        let rows = self.rows;
        for c in &mut self.columns {
            c.rollback(rows);
        }
    }

    /// Runs `fill` for one row and completes it, or rolls it back if anything fails.
    pub(crate) fn row<F>(&mut self, fill: F) -> Result<(), String>
    where
        F: FnOnce(&mut Self) -> Result<(), String>,
    {
        match fill(self) {
            Ok(()) => self.end_row(),
            Err(e) => {
                self.abort_row();
                Err(e)
            }
        }
    }

    /// The built arrays, in field order; starts over.
    pub(crate) fn finish(&mut self) -> Vec<ArrayRef> {
        self.rows = 0;
        self.columns.iter_mut().map(Column::finish).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Int32Type};
    use arrow_schema::Field;

    #[test]
    fn decimal_text_is_scaled_rounded_and_checked() {
        assert_eq!(decimal_digits("12.345", 10, 2).unwrap(), "1235");
        assert_eq!(decimal_digits("-12.344", 10, 2).unwrap(), "-1234");
        assert_eq!(decimal_digits("1e3", 10, 2).unwrap(), "100000");
        assert_eq!(decimal_digits("0.5", 3, 0).unwrap(), "1");
        assert_eq!(decimal_digits("-0.001", 3, 2).unwrap(), "0");
        assert_eq!(decimal_digits(".5", 3, 1).unwrap(), "5");
        assert!(decimal_digits("1000", 3, 0).is_err());
        assert!(
            decimal_digits("99.995", 4, 2).is_err(),
            "rounds up past precision"
        );
        assert!(decimal_digits("1e999", 38, 0).is_err());
        assert!(decimal_digits("abc", 3, 0).is_err());
        assert!(decimal_digits("", 3, 0).is_err());
        assert!(decimal_digits("-", 3, 0).is_err());
        assert_eq!(shift_point("-5", 3), "-0.005");
        assert_eq!(shift_point("12345", 2), "123.45");
        assert_eq!(unscaled_text(&[0xff, 0x85]).unwrap(), "-123");
    }

    #[test]
    fn the_fast_decimal_path_agrees_with_the_general_one() {
        let texts = [
            "12.345",
            "-12.344",
            "1e3",
            "0.5",
            "-0.001",
            ".5",
            "1000",
            "99.995",
            "1e999",
            "abc",
            "",
            "-",
            "0",
            "-0.5",
            "123456789012345678901234567890.123",
            "5e-1",
            "4.9999e-1",
            "0.00000000001",
            "1.",
            "+7.25",
            "1e-1000",
            "9.5",
            "-9.5",
            "1.2.3",
            "1e",
            "00012.50",
        ];
        for text in texts {
            for (p, s) in [(3, 0), (10, 2), (38, 10), (5, 5), (38, 0), (4, 2)] {
                let general = decimal_digits(text, p, s).and_then(|d| {
                    d.parse::<i128>()
                        .map_err(|_| format!("does not fit DECIMAL({p},{s})"))
                });
                assert_eq!(
                    decimal_i128(text, p, s),
                    general,
                    "{text} as DECIMAL({p},{s})"
                );
            }
        }
    }

    #[test]
    fn a_failed_row_leaves_no_trace_and_last_value_wins() {
        let fields: Vec<FieldRef> = vec![
            Arc::new(Field::new("a", DataType::Int32, false)),
            Arc::new(Field::new("b", DataType::Utf8, true)),
            Arc::new(Field::new("d", DataType::Decimal128(5, 2), true)),
        ];
        let mut c = Columns::new(&fields).unwrap();
        c.row(|c| {
            c.set(0, Scalar::Int(1))?;
            c.set(1, Scalar::Str("x"))?;
            c.set(1, Scalar::Str("yz"))?;
            c.set(2, Scalar::Str("1.5"))
        })
        .unwrap();
        let err = c
            .row(|c| {
                c.set(1, Scalar::Str("partial"))?;
                c.set(0, Scalar::Int(1 << 40))
            })
            .unwrap_err();
        assert_eq!(err, "column `a`: 1099511627776 is out of range");
        let err = c.row(|c| c.set(1, Scalar::Str("no a"))).unwrap_err();
        assert_eq!(err, "no value for NOT NULL column `a`");
        c.row(|c| c.set(0, Scalar::Int(2))).unwrap();
        let arrays = c.finish();
        assert_eq!(arrays[0].as_primitive::<Int32Type>().values(), &[1, 2]);
        let b = arrays[1].as_string::<i32>();
        assert_eq!(b.value(0), "yz");
        assert!(b.is_null(1));
        assert_eq!(b.len(), 2);
        assert_eq!(arrays[2].as_primitive::<Decimal128Type>().value(0), 150);
        assert_eq!(arrays[2].data_type(), &DataType::Decimal128(5, 2));
    }
}
