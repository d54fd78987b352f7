//! Writing Avro binary: one Arrow row encoded as a datum of the schema the `schema` part
//! derives from the same columns ([`write_datum`]), for sinks.
//!
//! This file owns the encoding of each Arrow type; the Avro schema it follows is derived
//! elsewhere, and nothing here reads a datum.

use arrow_array::{Array, ArrayRef};
use arrow_schema::{FieldRef, TimeUnit};

use crate::format::FormatError;
use crate::format::columns::Kind;

pub(super) fn put_long(out: &mut Vec<u8>, v: i64) {
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

/// Appends row `row` of `columns` as an Avro datum of the schema
/// [`avro_schema_for`](super::avro_schema_for) derives from the same fields.
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

    use apache_avro::schema::Schema;
    use apache_avro::types::Value as AvroValue;
    use arrow_array::{
        BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, RecordBatch,
        StringArray, TimestampMicrosecondArray,
    };
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};

    use super::*;
    use crate::config::BadDataPolicy;
    use crate::format::Decoder;
    use crate::format::avro::avro_schema_for;
    use crate::format::avro::tests::meta;
    use crate::schema::json_field;

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
}
