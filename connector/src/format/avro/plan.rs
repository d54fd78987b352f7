//! Schema resolution: a parsed writer schema, and the plan that matches its record fields to
//! the table's columns by name or alias, once per writer schema.
//!
//! This file owns which writer field fills which column, which are read past, and which
//! `NOT NULL` columns no writer field can fill. The bytes of each record are read by the
//! reader, field by field, as the plan says.

use std::collections::HashMap;

use apache_avro::schema::{Name, RecordSchema, ResolvedSchema, Schema};
use arrow_schema::FieldRef;

use super::reader::{Reader, read_into, skip};
use crate::format::columns::Columns;

/// A parsed writer schema with the named types it may refer to.
#[derive(Debug)]
pub(crate) struct WriterSchema {
    pub(super) schema: Schema,
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

    pub(super) fn deref<'s>(&'s self, schema: &'s Schema) -> Result<&'s Schema, String> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use apache_avro::types::Value as AvroValue;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Float32Type, Int64Type, TimestampMicrosecondType};
    use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};

    use super::*;
    use crate::config::BadDataPolicy;
    use crate::format::Decoder;
    use crate::format::avro::tests::meta;
    use crate::schema::json_field;

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
}
