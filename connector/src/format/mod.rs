//! Formats: Kafka record payloads into Arrow rows of a table's schema, and rows back into
//! records for sinks.
//!
//! # Sources
//!
//! A [`Decoder`] is built from the table's schema and [`Format`]; the source feeds it one
//! record at a time — the value as `&[u8]` (or `None` for a tombstone) plus [`RecordMetadata`]
//! — and takes a [`RecordBatch`] with [`Decoder::flush`]. Columns marked as metadata (see
//! [`crate::schema`]) are filled from the metadata whatever the format; the others come from
//! the payload. A record that does not decode is handled by the [`BadDataPolicy`]: `fail`
//! returns an error naming the record's topic, partition and offset, `drop` skips it and counts
//! it in [`Decoder::dropped`]. Either way no partial row is left behind, and the rows decoded
//! before it stay.
//!
//! | format | payload | module |
//! |---|---|---|
//! | `json` | one JSON object per record, fields by column name | [`json`] |
//! | `avro` | Confluent-framed Avro, writer schema from the registry by id; or plain Avro with a given schema ([`Decoder::plain_avro`]) | [`avro`] |
//! | `protobuf` | Confluent-framed Protobuf with message indexes, `.proto` from the registry | [`protobuf`] |
//! | `debezium_json` | Debezium change events, as changelog rows with an `_op` column | [`debezium`] |
//! | `raw_string`, `raw_bytes` | the whole value in one `value` column | [`raw`] |
//!
//! Avro and Protobuf records name their writer schema by registry id. The source decodes with
//! [`Decoder::decode_with_registry`], which loads a schema (and the schemas it references) the
//! first time its id appears and never again; or it checks [`Decoder::missing_schema`] and
//! calls [`Decoder::load_schema`] itself. The hot path stays synchronous.
//!
//! All formats convert values to column types the same way (numbers into integer, float and
//! decimal columns with range checks, text or epoch milliseconds into TIMESTAMP, nested values
//! into JSON or TEXT columns as JSON text, …): see the module docs of each format.
//!
//! # Sinks
//!
//! An [`Encoder`] turns a batch into one [`EncodedRecord`] per row: key (`key_field`), value,
//! timestamp (`timestamp_field`) and headers. See [`encoder`].
//!
//! This module does not depend on the protocol crate's record types: payloads are plain bytes.

#[cfg(feature = "avro")]
pub mod avro;
mod columns;
pub mod debezium;
pub mod encoder;
#[cfg(any(feature = "avro", feature = "protobuf"))]
mod framing;
pub mod json;
#[cfg(feature = "protobuf")]
pub mod protobuf;
pub mod raw;
mod temporal;

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, SchemaRef, TimeUnit};

pub use encoder::{EncodedRecord, Encoder};

use crate::config::{BadDataPolicy, Format};
use crate::schema::MetadataColumn;
use crate::schema_registry::RegisteredSchema;
#[cfg(feature = "schema-registry")]
use crate::schema_registry::{RegistryError, SchemaRegistryClient};

/// A record's metadata, borrowed from wherever the source keeps it.
#[derive(Debug, Clone, Copy)]
pub struct RecordMetadata<'a> {
    /// Topic name.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// Key bytes, `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// Headers in order; a header value may be null.
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
}

/// Errors of decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A record that does not fit the schema, under the `fail` policy.
    #[error("record at {topic}/{partition}@{offset}: {reason}")]
    BadRecord {
        /// Its topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// What is wrong (never the payload itself).
        reason: String,
    },
    /// The schema does not suit the format (a raw format without a `value` column, …).
    #[error("schema does not suit format `{format}`: {reason}")]
    Schema {
        /// The format.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The operation does not apply to this format (a changelog format for a sink, a
    /// registry format without a registry).
    #[error("format `{0}` is not supported here")]
    Unsupported(&'static str),
    /// The format was left out of this build (its cargo feature is off).
    #[error("format `{0}` is not in this build: enable the connector's `{0}` feature")]
    NotBuilt(&'static str),
    /// A row that cannot be encoded for a sink (a null in a NOT NULL column, a value out of
    /// the format's range).
    #[error("encoding a row: {0}")]
    Encode(String),
    /// A record names a writer schema that has not been loaded (decode it with
    /// [`Decoder::decode_with_registry`], or load the schema first). Not bad data: whatever
    /// the policy, the record is not dropped.
    #[error("record at {topic}/{partition}@{offset}: writer schema {id} is not loaded")]
    SchemaNotLoaded {
        /// Its topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// The registry id it names.
        id: u32,
    },
    /// The schema registry failed while looking up a writer schema.
    #[error("schema registry: {0}")]
    Registry(String),
    /// Arrow refused the assembled batch (a bug if it happens: columns are built to the schema).
    #[error("building the batch: {0}")]
    Arrow(String),
}

impl From<ArrowError> for FormatError {
    fn from(e: ArrowError) -> Self {
        FormatError::Arrow(e.to_string())
    }
}

/// The part of a format that reads payloads into the schema's payload columns.
pub(crate) trait PayloadDecoder: Send {
    /// Appends the rows of one payload (one for most formats; none, one or two for change
    /// events), or appends nothing and says why not. `key` is the record's key.
    fn append(&mut self, payload: Option<&[u8]>, key: Option<&[u8]>) -> Result<usize, String>;
    /// The payload columns built so far, in schema order of the payload fields; resets.
    fn finish(&mut self) -> Vec<ArrayRef>;
    /// The registry id of the writer schema `payload` needs, when it has not been added yet.
    fn missing_schema(&self, _payload: &[u8]) -> Option<u32> {
        None
    }
    /// [`missing_schema`](Self::missing_schema) of an optional payload.
    fn missing_schema_of(&self, payload: Option<&[u8]>) -> Option<u32> {
        payload.and_then(|p| self.missing_schema(p))
    }
    /// Adds a writer schema fetched from the registry, with the text of the schemas it
    /// references (dependencies first). A schema that does not suit the table is remembered
    /// as such: its records are bad records.
    fn add_schema(&mut self, _schema: &RegisteredSchema, _references: &[(String, String)]) {}
    /// Remembers that writer schema `id` cannot be had (the registry does not know it).
    #[cfg_attr(not(feature = "schema-registry"), allow(dead_code))]
    fn schema_failed(&mut self, _id: u32, _reason: String) {}
}

/// Most schemas one writer schema may reference, directly or not.
#[cfg(feature = "schema-registry")]
const MAX_REFERENCES: usize = 256;

/// One metadata column's pending values.
#[derive(Debug)]
enum MetaValues {
    Text(Vec<Option<String>>),
    Binary(Vec<Option<Vec<u8>>>),
    Int32(Vec<i32>),
    Int64(Vec<Option<i64>>),
}

#[derive(Debug)]
struct MetaColumn {
    kind: MetadataColumn,
    field: Arc<Field>,
    values: MetaValues,
}

/// A value computed for a metadata column before anything is appended.
#[derive(Clone)]
enum MetaValue {
    Text(Option<String>),
    Binary(Option<Vec<u8>>),
    Int32(i32),
    Int64(Option<i64>),
}

impl MetaColumn {
    fn new(kind: MetadataColumn, field: Arc<Field>) -> Self {
        let values = match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => MetaValues::Text(Vec::new()),
            DataType::Binary | DataType::LargeBinary => MetaValues::Binary(Vec::new()),
            DataType::Int32 => MetaValues::Int32(Vec::new()),
            _ => MetaValues::Int64(Vec::new()),
        };
        MetaColumn {
            kind,
            field,
            values,
        }
    }

    /// The value of this column for `meta`, or why the record cannot fill it.
    fn value(&self, meta: &RecordMetadata<'_>) -> Result<MetaValue, String> {
        let text = |bytes: Option<&[u8]>, what: &str| -> Result<Option<String>, String> {
            bytes
                .map(|b| {
                    std::str::from_utf8(b)
                        .map(str::to_owned)
                        .map_err(|_| format!("{what} is not valid UTF-8"))
                })
                .transpose()
        };
        Ok(match (&self.values, self.kind) {
            (MetaValues::Text(_), MetadataColumn::Topic) => {
                MetaValue::Text(Some(meta.topic.to_owned()))
            }
            (MetaValues::Text(_), MetadataColumn::Key) => MetaValue::Text(text(meta.key, "key")?),
            (MetaValues::Text(_), MetadataColumn::Headers) => {
                let mut object = serde_json::Map::new();
                let mut repeated: Vec<&str> = Vec::new();
                for (name, value) in meta.headers {
                    let value = text(
                        *value,
                        &format!("header `{}`", crate::config::shorten(name)),
                    )?;
                    let value = value.map_or(serde_json::Value::Null, serde_json::Value::String);
                    // Kafka allows a name twice; keep every value, in order, in an array.
                    match object.get_mut(*name) {
                        None => {
                            object.insert((*name).to_owned(), value);
                        }
                        Some(serde_json::Value::Array(values)) if repeated.contains(name) => {
                            values.push(value);
                        }
                        Some(first) => {
                            let first = first.take();
                            object.insert(
                                (*name).to_owned(),
                                serde_json::Value::Array(vec![first, value]),
                            );
                            repeated.push(name);
                        }
                    }
                }
                MetaValue::Text(Some(serde_json::Value::Object(object).to_string()))
            }
            (MetaValues::Binary(_), _) => MetaValue::Binary(meta.key.map(<[u8]>::to_vec)),
            (MetaValues::Int32(_), _) => MetaValue::Int32(meta.partition),
            (MetaValues::Int64(_), MetadataColumn::Partition) => {
                MetaValue::Int64(Some(i64::from(meta.partition)))
            }
            (MetaValues::Int64(_), MetadataColumn::Offset) => MetaValue::Int64(Some(meta.offset)),
            (MetaValues::Int64(_), _) => MetaValue::Int64(Some(self.timestamp(meta.timestamp_ms)?)),
            (MetaValues::Text(_), kind) => {
                return Err(format!("no text form for {}", kind.as_str()));
            }
        })
    }

    /// A millisecond timestamp in the column's unit.
    fn timestamp(&self, ms: i64) -> Result<i64, String> {
        let factor = match self.field.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => return Ok(ms.div_euclid(1000)),
            DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
            DataType::Timestamp(TimeUnit::Nanosecond, _) => 1_000_000,
            _ => 1,
        };
        ms.checked_mul(factor)
            .ok_or_else(|| format!("timestamp {ms} ms is out of range"))
    }

    fn push(&mut self, value: MetaValue) {
        match (&mut self.values, value) {
            (MetaValues::Text(v), MetaValue::Text(x)) => v.push(x),
            (MetaValues::Binary(v), MetaValue::Binary(x)) => v.push(x),
            (MetaValues::Int32(v), MetaValue::Int32(x)) => v.push(x),
            (MetaValues::Int64(v), MetaValue::Int64(x)) => v.push(x),
            // `value` builds the variant of `self.values`; nothing else reaches here.
            _ => {}
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match &mut self.values {
            MetaValues::Text(v) => Arc::new(StringArray::from(std::mem::take(v))),
            MetaValues::Binary(v) => {
                let values = std::mem::take(v);
                Arc::new(BinaryArray::from_iter(values))
            }
            MetaValues::Int32(v) => Arc::new(Int32Array::from(std::mem::take(v))),
            MetaValues::Int64(v) => {
                let values = std::mem::take(v);
                match self.field.data_type() {
                    DataType::Timestamp(unit, tz) => {
                        let tz = tz.clone();
                        match unit {
                            TimeUnit::Second => {
                                Arc::new(TimestampSecondArray::from(values).with_timezone_opt(tz))
                            }
                            TimeUnit::Millisecond => Arc::new(
                                TimestampMillisecondArray::from(values).with_timezone_opt(tz),
                            ),
                            TimeUnit::Microsecond => Arc::new(
                                TimestampMicrosecondArray::from(values).with_timezone_opt(tz),
                            ),
                            TimeUnit::Nanosecond => Arc::new(
                                TimestampNanosecondArray::from(values).with_timezone_opt(tz),
                            ),
                        }
                    }
                    _ => Arc::new(Int64Array::from(values)),
                }
            }
        }
    }
}

/// Decodes records of one table into Arrow batches.
pub struct Decoder {
    schema: SchemaRef,
    format: Format,
    payload: Box<dyn PayloadDecoder>,
    /// Schema index of each payload column, in the order the payload decoder builds them.
    payload_indices: Vec<usize>,
    metadata: Vec<(usize, MetaColumn)>,
    policy: BadDataPolicy,
    rows: usize,
    dropped: u64,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("format", &self.format)
            .field("rows", &self.rows)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder for `schema` (the table's, metadata columns included) in `format`. Avro and
    /// Protobuf records are Confluent-framed; their writer schemas are loaded from the registry
    /// with [`decode_with_registry`](Self::decode_with_registry) (or added with
    /// [`add_schema`](Self::add_schema)).
    pub fn new(
        schema: SchemaRef,
        format: Format,
        policy: BadDataPolicy,
    ) -> Result<Self, FormatError> {
        Self::build(schema, format, policy, |fields| {
            Ok(match format {
                Format::RawString | Format::RawBytes => {
                    Box::new(raw::RawDecoder::new(format, fields)?)
                }
                Format::Json => Box::new(json::JsonDecoder::new(fields)?),
                #[cfg(feature = "avro")]
                Format::Avro => Box::new(avro::AvroDecoder::registry(fields)?),
                #[cfg(not(feature = "avro"))]
                Format::Avro => return Err(FormatError::NotBuilt("avro")),
                #[cfg(feature = "protobuf")]
                Format::Protobuf => Box::new(protobuf::ProtobufDecoder::new(fields)?),
                #[cfg(not(feature = "protobuf"))]
                Format::Protobuf => return Err(FormatError::NotBuilt("protobuf")),
                Format::DebeziumJson => Box::new(debezium::DebeziumDecoder::new(fields)?),
            })
        })
    }

    /// A decoder of plain Avro records (no registry framing) all written with the Avro
    /// schema `writer_schema` (JSON text), resolved against the table's columns.
    #[cfg(feature = "avro")]
    pub fn plain_avro(
        schema: SchemaRef,
        writer_schema: &str,
        policy: BadDataPolicy,
    ) -> Result<Self, FormatError> {
        Self::build(schema, Format::Avro, policy, |fields| {
            Ok(Box::new(avro::AvroDecoder::plain(fields, writer_schema)?))
        })
    }

    fn build(
        schema: SchemaRef,
        format: Format,
        policy: BadDataPolicy,
        payload: impl FnOnce(&[arrow_schema::FieldRef]) -> Result<Box<dyn PayloadDecoder>, FormatError>,
    ) -> Result<Self, FormatError> {
        // A changelog's rows carry what they do to the table.
        let schema = if format == Format::DebeziumJson
            && schema
                .field_with_name(crate::schema::CHANGE_OP_COLUMN)
                .is_err()
        {
            let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
            fields.push(Arc::new(crate::schema::change_op_field()));
            Arc::new(arrow_schema::Schema::new_with_metadata(
                fields,
                schema.metadata().clone(),
            ))
        } else {
            schema
        };
        let mut metadata = Vec::new();
        let mut payload_indices = Vec::new();
        let mut payload_fields = Vec::new();
        for (index, field) in schema.fields().iter().enumerate() {
            match MetadataColumn::of(field) {
                Some(kind) => {
                    if !kind.accepts(field.data_type()) {
                        return Err(FormatError::Schema {
                            format: format.as_str(),
                            reason: format!(
                                "column `{}` holds the record's {} and needs type {}",
                                field.name(),
                                kind.as_str(),
                                kind.expected_types()
                            ),
                        });
                    }
                    metadata.push((index, MetaColumn::new(kind, field.clone())));
                }
                None => {
                    payload_indices.push(index);
                    payload_fields.push(field.clone());
                }
            }
        }
        let payload = payload(&payload_fields)?;
        Ok(Decoder {
            schema,
            format,
            payload,
            payload_indices,
            metadata,
            policy,
            rows: 0,
            dropped: 0,
        })
    }

    /// The registry id of the writer schema this payload needs, if it has not been loaded.
    pub fn missing_schema(&self, payload: Option<&[u8]>) -> Option<u32> {
        payload.and_then(|p| self.payload.missing_schema(p))
    }

    /// Adds a writer schema (with the text of the schemas it references, dependencies first,
    /// as `(name, text)`).
    pub fn add_schema(&mut self, schema: &RegisteredSchema, references: &[(String, String)]) {
        self.payload.add_schema(schema, references);
    }

    /// Loads writer schema `id` and everything it references from `registry`. A schema the
    /// registry does not know makes the records that use it bad records; a registry that
    /// cannot be asked is an error (the record can be retried).
    #[cfg(feature = "schema-registry")]
    pub async fn load_schema(
        &mut self,
        registry: &SchemaRegistryClient,
        id: u32,
    ) -> Result<(), FormatError> {
        match fetch_with_references(registry, id).await {
            Ok((schema, references)) => {
                self.payload.add_schema(&schema, &references);
                Ok(())
            }
            Err(RegistryError::NotFound { message, .. }) => {
                self.payload
                    .schema_failed(id, format!("the registry does not know it ({message})"));
                Ok(())
            }
            Err(e) => Err(FormatError::Registry(e.to_string())),
        }
    }

    /// [`decode`](Self::decode), loading the record's writer schema from `registry` first
    /// when it is not loaded yet (once per schema id).
    #[cfg(feature = "schema-registry")]
    pub async fn decode_with_registry(
        &mut self,
        registry: &SchemaRegistryClient,
        payload: Option<&[u8]>,
        meta: &RecordMetadata<'_>,
    ) -> Result<(), FormatError> {
        if let Some(id) = self.missing_schema(payload) {
            self.load_schema(registry, id).await?;
        }
        self.decode(payload, meta)
    }

    /// Decodes one record. Under `drop`, a bad record is counted and `Ok` returned.
    pub fn decode(
        &mut self,
        payload: Option<&[u8]>,
        meta: &RecordMetadata<'_>,
    ) -> Result<(), FormatError> {
        let values = if self.metadata.is_empty() {
            Ok(Vec::new())
        } else {
            self.metadata
                .iter()
                .map(|(_, column)| column.value(meta))
                .collect::<Result<Vec<_>, _>>()
        };
        let outcome = values.and_then(|values| {
            self.payload
                .append(payload, meta.key)
                .map(|rows| (rows, values))
        });
        match outcome {
            Ok((rows, values)) => {
                for ((_, column), value) in self.metadata.iter_mut().zip(values) {
                    for _ in 1..rows {
                        column.push(value.clone());
                    }
                    if rows > 0 {
                        column.push(value);
                    }
                }
                self.rows += rows;
                Ok(())
            }
            Err(_) if self.payload.missing_schema_of(payload).is_some() => {
                Err(FormatError::SchemaNotLoaded {
                    topic: meta.topic.to_owned(),
                    partition: meta.partition,
                    offset: meta.offset,
                    id: self.payload.missing_schema_of(payload).unwrap_or_default(),
                })
            }
            Err(reason) => match self.policy {
                BadDataPolicy::Drop => {
                    self.dropped += 1;
                    Ok(())
                }
                BadDataPolicy::Fail => Err(FormatError::BadRecord {
                    topic: meta.topic.to_owned(),
                    partition: meta.partition,
                    offset: meta.offset,
                    reason,
                }),
            },
        }
    }

    /// The schema of the batches [`flush`](Self::flush) returns: the table's, plus
    /// [`CHANGE_OP_COLUMN`](crate::schema::CHANGE_OP_COLUMN) for `debezium_json`.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows decoded since the last flush.
    pub fn pending_rows(&self) -> usize {
        self.rows
    }

    /// Records dropped under the `drop` policy, since the decoder was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The rows decoded since the last flush, as one batch of the table's schema.
    pub fn flush(&mut self) -> Result<RecordBatch, FormatError> {
        let mut columns: Vec<Option<ArrayRef>> = vec![None; self.schema.fields().len()];
        for (index, array) in self.payload_indices.iter().zip(self.payload.finish()) {
            columns[*index] = Some(array);
        }
        for (index, column) in &mut self.metadata {
            columns[*index] = Some(column.finish());
        }
        let rows = std::mem::take(&mut self.rows);
        let columns = columns
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| FormatError::Arrow("a column was not built".to_owned()))?;
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?)
    }
}

/// Schema `id` and the schemas it references, transitively, dependencies first.
#[cfg(feature = "schema-registry")]
async fn fetch_with_references(
    registry: &SchemaRegistryClient,
    id: u32,
) -> Result<(Arc<RegisteredSchema>, Vec<(String, String)>), RegistryError> {
    let schema = registry.schema_by_id(id).await?;
    let mut ordered: Vec<(String, String)> = Vec::new();
    let mut seen: std::collections::HashSet<(String, i32)> = std::collections::HashSet::new();
    // Depth-first, post-order: a reference's own references come before it.
    let mut stack: Vec<(crate::schema_registry::SchemaReference, bool)> = schema
        .references
        .iter()
        .rev()
        .map(|r| (r.clone(), false))
        .collect();
    let mut texts: std::collections::HashMap<(String, i32), Arc<RegisteredSchema>> =
        std::collections::HashMap::new();
    while let Some((reference, expanded)) = stack.pop() {
        let key = (reference.subject.clone(), reference.version);
        if expanded {
            if let Some(s) = texts.get(&key) {
                if !ordered.iter().any(|(n, _)| *n == reference.name) {
                    ordered.push((reference.name.clone(), s.schema.clone()));
                }
            }
            continue;
        }
        if !seen.insert(key.clone()) {
            continue;
        }
        if seen.len() > MAX_REFERENCES {
            return Err(RegistryError::InvalidResponse {
                url: registry.endpoint().to_owned(),
                reason: format!("schema {id} references more than {MAX_REFERENCES} schemas"),
            });
        }
        let version = registry
            .version(&reference.subject, reference.version)
            .await?;
        let referenced = Arc::new(version.schema);
        stack.push((reference, true));
        for r in referenced.references.iter().rev() {
            stack.push((r.clone(), false));
        }
        texts.insert(key, referenced);
    }
    Ok((schema, ordered))
}
