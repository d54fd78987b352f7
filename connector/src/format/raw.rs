//! The raw formats: the whole record value in one `value` column, as UTF-8 text
//! (`raw_string`, a TEXT column) or as bytes (`raw_bytes`, a BYTEA column). A null value (a
//! tombstone) is a null `value` when the column is nullable and a bad record otherwise.
//!
//! What is copied: [`Decoder::decode`](super::Decoder::decode) gets each value as `&[u8]` and
//! copies its bytes once into the column's contiguous values buffer (Arrow's `Binary` / `Utf8`
//! layout needs the values of a column end to end, and record values in a Kafka batch are
//! interleaved with keys and headers), plus a 4-byte offset and a validity bit per row; UTF-8
//! is validated in place before the copy. Nothing else is allocated per record.
//!
//! Without any copy: [`binary_view_of`] and [`string_view_of`] build Arrow's view layout
//! (`BinaryView` / `Utf8View`) over the record batch's own buffer: the array shares that
//! allocation, and each view holds the value's offset and length in it (values of 12 bytes or
//! less are inlined in the 16-byte view itself, as the layout prescribes).

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BinaryViewBuilder, GenericByteViewBuilder, StringBuilder, StringViewBuilder,
};
use arrow_array::types::ByteViewType;
use arrow_array::{ArrayRef, BinaryViewArray, GenericByteViewArray, StringViewArray};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, FieldRef};
use bytes::Bytes;

use super::{FormatError, PayloadDecoder};
use crate::config::Format;

enum Builder {
    Text(StringBuilder),
    Bytes(BinaryBuilder),
}

/// Decodes payloads into the single `value` column.
pub(crate) struct RawDecoder {
    builder: Builder,
    nullable: bool,
}

impl RawDecoder {
    /// Checks that the payload columns are exactly `value` of the format's type.
    pub(crate) fn new(format: Format, payload_fields: &[FieldRef]) -> Result<Self, FormatError> {
        let (wanted, type_name) = match format {
            Format::RawBytes => (DataType::Binary, "BYTEA"),
            _ => (DataType::Utf8, "TEXT"),
        };
        let schema_error = |reason: String| FormatError::Schema {
            format: format.as_str(),
            reason,
        };
        let [field] = payload_fields else {
            return Err(schema_error(format!(
                "needs exactly one non-metadata column, `value` of type {type_name}; found {}",
                payload_fields.len()
            )));
        };
        if field.name() != "value" || field.data_type() != &wanted {
            return Err(schema_error(format!(
                "needs its payload column to be `value` of type {type_name}"
            )));
        }
        let builder = match format {
            Format::RawBytes => Builder::Bytes(BinaryBuilder::new()),
            _ => Builder::Text(StringBuilder::new()),
        };
        Ok(RawDecoder {
            builder,
            nullable: field.is_nullable(),
        })
    }
}

impl PayloadDecoder for RawDecoder {
    fn append(&mut self, payload: Option<&[u8]>, _key: Option<&[u8]>) -> Result<usize, String> {
        let Some(bytes) = payload else {
            if !self.nullable {
                return Err("null value (tombstone) for NOT NULL column `value`".to_owned());
            }
            match &mut self.builder {
                Builder::Text(b) => b.append_null(),
                Builder::Bytes(b) => b.append_null(),
            }
            return Ok(1);
        };
        match &mut self.builder {
            Builder::Text(b) => match std::str::from_utf8(bytes) {
                Ok(text) => b.append_value(text),
                Err(e) => {
                    return Err(format!(
                        "value is not valid UTF-8 (invalid byte at {})",
                        e.valid_up_to()
                    ));
                }
            },
            Builder::Bytes(b) => b.append_value(bytes),
        }
        Ok(1)
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        let array: ArrayRef = match &mut self.builder {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Bytes(b) => Arc::new(b.finish()),
        };
        vec![array]
    }
}

/// Record values, each a slice of `buffer` (as values decoded from a record batch are), as a
/// `BinaryView` column over `buffer` itself: nothing is copied except values of at most 12
/// bytes, which the view layout inlines. `None` is a null.
///
/// ```
/// use bytes::Bytes;
/// use arrow_array::Array;
/// use laminar_kafka_connector::format::raw::binary_view_of;
///
/// let batch = Bytes::from_static(b"..header..a value longer than twelve bytes..");
/// let value = batch.slice(10..42);
/// let column = binary_view_of(&batch, &[Some(value.clone()), None])?;
/// assert_eq!(column.value(0), &value[..]);
/// assert!(column.is_null(1));
/// assert_eq!(column.data_buffers()[0].as_ptr(), batch.as_ptr(), "shares the batch's memory");
/// # Ok::<(), laminar_kafka_connector::format::FormatError>(())
/// ```
pub fn binary_view_of(
    buffer: &Bytes,
    values: &[Option<Bytes>],
) -> Result<BinaryViewArray, FormatError> {
    views_of(
        BinaryViewBuilder::with_capacity(values.len()),
        buffer,
        values,
        "raw_bytes",
    )
}

/// Like [`binary_view_of`], for text: each value is checked to be UTF-8 (in place).
pub fn string_view_of(
    buffer: &Bytes,
    values: &[Option<Bytes>],
) -> Result<StringViewArray, FormatError> {
    views_of(
        StringViewBuilder::with_capacity(values.len()),
        buffer,
        values,
        "raw_string",
    )
}

fn views_of<T: ByteViewType + ?Sized>(
    mut builder: GenericByteViewBuilder<T>,
    buffer: &Bytes,
    values: &[Option<Bytes>],
    format: &'static str,
) -> Result<GenericByteViewArray<T>, FormatError> {
    let bad = |i: usize, reason: &str| FormatError::Schema {
        format,
        reason: format!("value {i}: {reason}"),
    };
    if u32::try_from(buffer.len()).is_err() {
        return Err(bad(0, "the buffer is larger than 4 GiB"));
    }
    let block = builder.append_block(Buffer::from(buffer.clone()));
    let base = buffer.as_ptr() as usize;
    for (i, value) in values.iter().enumerate() {
        let Some(value) = value else {
            builder.append_null();
            continue;
        };
        let offset = (value.as_ptr() as usize).wrapping_sub(base);
        if value.is_empty() {
            builder
                .try_append_view(block, 0, 0)
                .map_err(|e| bad(i, &e.to_string()))?;
            continue;
        }
        if (value.as_ptr() as usize) < base || offset + value.len() > buffer.len() {
            return Err(bad(i, "it is not a slice of the buffer"));
        }
        // Both fit in u32: the buffer is at most 4 GiB and the value lies inside it.
        builder
            .try_append_view(block, offset as u32, value.len() as u32)
            .map_err(|_| bad(i, "it is not valid UTF-8"))?;
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type, TimestampNanosecondType};

    use crate::config::BadDataPolicy;
    use crate::format::{Decoder, FormatError, RecordMetadata};
    use crate::sql::parse_create_table;

    fn table(columns: &str, format: &str) -> crate::config::TableDefinition {
        parse_create_table(&format!(
            "CREATE TABLE t ({columns}) WITH (connector = 'kafka', bootstrap_servers = 'b:9092', \
             topic = 'events-.*', type = 'source', format = '{format}', 'source.offset' = 'latest')"
        ))
        .unwrap()
    }

    fn meta<'a>(
        offset: i64,
        key: Option<&'a [u8]>,
        headers: &'a [(&'a str, Option<&'a [u8]>)],
    ) -> RecordMetadata<'a> {
        RecordMetadata {
            topic: "events-a",
            partition: 3,
            offset,
            timestamp_ms: 1_700_000_000_123,
            key,
            headers,
        }
    }

    #[test]
    fn raw_string_fills_value_and_every_metadata_column() {
        let t = table(
            "topic TEXT, partition INT, offset BIGINT, key TEXT, value TEXT, timestamp TIMESTAMP, headers JSON",
            "raw",
        );
        let mut d = Decoder::new(t.schema.clone().unwrap(), t.format, BadDataPolicy::Fail).unwrap();
        let headers: &[(&str, Option<&[u8]>)] = &[
            ("trace", Some(b"abc")),
            ("empty", None),
            ("hop", Some(b"1")),
            ("hop", Some(b"2")),
            ("hop", None),
        ];
        d.decode(Some(b"hello"), &meta(10, Some(b"k1"), headers))
            .unwrap();
        d.decode(None, &meta(11, None, &[])).unwrap();
        let batch = d.flush().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "events-a");
        assert_eq!(
            batch.column(1).as_primitive::<Int32Type>().values(),
            &[3, 3]
        );
        assert_eq!(
            batch.column(2).as_primitive::<Int64Type>().values(),
            &[10, 11]
        );
        let keys = batch.column(3).as_string::<i32>();
        assert_eq!(keys.value(0), "k1");
        assert!(keys.is_null(1));
        let values = batch.column(4).as_string::<i32>();
        assert_eq!(values.value(0), "hello");
        assert!(values.is_null(1), "a tombstone is a null value");
        assert_eq!(
            batch
                .column(5)
                .as_primitive::<TimestampNanosecondType>()
                .value(0),
            1_700_000_000_123_000_000
        );
        assert_eq!(
            batch.column(6).as_string::<i32>().value(0),
            r#"{"empty":null,"hop":["1","2",null],"trace":"abc"}"#
        );
        assert_eq!(batch.column(6).as_string::<i32>().value(1), "{}");
        // Flushing starts a new batch.
        assert_eq!(d.flush().unwrap().num_rows(), 0);
    }

    #[test]
    fn raw_bytes_keeps_bytes_as_they_are() {
        let t = table("value BYTEA, key BYTEA", "raw");
        assert_eq!(t.format, crate::config::Format::RawBytes);
        let mut d = Decoder::new(t.schema.clone().unwrap(), t.format, BadDataPolicy::Fail).unwrap();
        d.decode(Some(&[0xff, 0x00]), &meta(1, Some(&[0xfe]), &[]))
            .unwrap();
        let batch = d.flush().unwrap();
        assert_eq!(batch.column(0).as_binary::<i32>().value(0), &[0xff, 0x00]);
        assert_eq!(batch.column(1).as_binary::<i32>().value(0), &[0xfe]);
    }

    #[test]
    fn bad_records_fail_with_their_position_or_are_dropped_and_counted() {
        let t = table("value TEXT NOT NULL, key TEXT", "raw");
        let schema = t.schema.clone().unwrap();
        let mut d = Decoder::new(schema.clone(), t.format, BadDataPolicy::Fail).unwrap();
        assert_eq!(
            d.decode(Some(&[b'a', 0xff]), &meta(7, None, &[]))
                .unwrap_err(),
            FormatError::BadRecord {
                topic: "events-a".into(),
                partition: 3,
                offset: 7,
                reason: "value is not valid UTF-8 (invalid byte at 1)".into(),
            }
        );
        assert_eq!(
            d.decode(Some(b"ok"), &meta(8, Some(&[0xff]), &[]))
                .unwrap_err()
                .to_string(),
            "record at events-a/3@8: key is not valid UTF-8"
        );
        assert_eq!(
            d.decode(None, &meta(9, None, &[])).unwrap_err().to_string(),
            "record at events-a/3@9: null value (tombstone) for NOT NULL column `value`"
        );
        // Nothing partial was left behind by the failures.
        d.decode(Some(b"good"), &meta(10, None, &[])).unwrap();
        let batch = d.flush().unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.column(0).as_string::<i32>().value(0), "good");

        let mut d = Decoder::new(schema, t.format, BadDataPolicy::Drop).unwrap();
        d.decode(Some(b"a"), &meta(1, None, &[])).unwrap();
        d.decode(Some(&[0xff]), &meta(2, None, &[])).unwrap();
        d.decode(Some(b"b"), &meta(3, Some(&[0xff]), &[])).unwrap();
        d.decode(Some(b"c"), &meta(4, None, &[])).unwrap();
        assert_eq!(d.dropped(), 2);
        let batch = d.flush().unwrap();
        assert_eq!(batch.num_rows(), 2);
        let values = batch.column(0).as_string::<i32>();
        assert_eq!((values.value(0), values.value(1)), ("a", "c"));
    }

    #[test]
    fn view_columns_point_into_the_batch_buffer() {
        use arrow_array::Array;
        let batch =
            bytes::Bytes::from(b"xxshortxxa value that is well over twelve bytes\xff".to_vec());
        let short = batch.slice(2..7);
        let long = batch.slice(9..47);
        let column =
            super::string_view_of(&batch, &[Some(short.clone()), None, Some(long.clone())])
                .unwrap();
        assert_eq!(column.value(0), "short");
        assert!(column.is_null(1));
        assert_eq!(column.value(2).as_bytes(), &long[..]);
        assert_eq!(column.data_buffers()[0].as_ptr(), batch.as_ptr());
        // The long value is read from the batch's memory, not a copy.
        assert_eq!(column.value(2).as_ptr(), long.as_ptr());
        let invalid = batch.slice(47..48);
        assert!(super::string_view_of(&batch, &[Some(invalid.clone())]).is_err());
        assert!(super::binary_view_of(&batch, &[Some(invalid)]).is_ok());
        let elsewhere = bytes::Bytes::from_static(b"not in the batch at all, no");
        assert!(super::binary_view_of(&batch, &[Some(elsewhere)]).is_err());
    }

    #[test]
    fn schemas_that_do_not_suit_the_format_are_rejected() {
        use arrow_schema::{DataType, Field, Schema};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("value", DataType::Utf8, true),
            Field::new("extra", DataType::Utf8, true),
        ]));
        assert_eq!(
            Decoder::new(
                schema,
                crate::config::Format::RawString,
                BadDataPolicy::Fail
            )
            .unwrap_err()
            .to_string(),
            "schema does not suit format `raw_string`: needs exactly one non-metadata column, \
             `value` of type TEXT; found 2"
        );
        let schema = Arc::new(Schema::new(vec![Field::new("value", DataType::Utf8, true)]));
        assert_eq!(
            Decoder::new(schema, crate::config::Format::RawBytes, BadDataPolicy::Fail)
                .unwrap_err()
                .to_string(),
            "schema does not suit format `raw_bytes`: needs its payload column to be `value` of \
             type BYTEA"
        );
    }
}
