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
//!
//! The format is four parts, one file each, plus the decoder here that ties them to the
//! framing and the registry:
//!
//! - `reader`: the cursor over one Avro datum and the reading of a value of a writer type into
//!   a column builder (or past it, or into JSON text). It knows Avro binary, not the table.
//! - `plan`: a parsed writer schema and its resolution against the table's columns, done once
//!   per schema. It decides which field fills which column; the reader does the reading.
//! - `writer`: Arrow rows encoded as Avro datums (sinks). It never reads.
//! - `schema`: the mapping between Avro schemas and Arrow schemas, both ways: the columns of a
//!   given reader schema, and the Avro schema of a sink's columns. It touches no datum.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_schema::FieldRef;

use super::columns::Columns;
use super::{FormatError, PayloadDecoder};
use crate::schema_registry::RegisteredSchema;

mod plan;
mod reader;
mod schema;
mod writer;

use plan::{Plan, WriterSchema};

pub use super::framing::{CONFLUENT_MAGIC, confluent_schema_id};
pub use schema::{arrow_schema_of, avro_schema_for};
pub use writer::write_datum;

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};

    use super::*;
    use crate::config::{BadDataPolicy, Format};
    use crate::format::{Decoder, FormatError, RecordMetadata};
    use crate::schema_registry::SchemaType;

    /// The metadata of a record at `offset` of `t/1`, for the tests of every part.
    pub(super) fn meta(offset: i64) -> RecordMetadata<'static> {
        RecordMetadata {
            topic: "t",
            partition: 1,
            offset,
            timestamp_ms: 0,
            key: None,
            headers: &[],
        }
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
}
