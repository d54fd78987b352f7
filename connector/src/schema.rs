//! Conventions on the Arrow schema of a Kafka table, shared by the SQL front end (which writes
//! them) and the formats (which read them): which columns carry Kafka record metadata rather
//! than payload, and which text columns hold JSON.
//!
//! A metadata column is an Arrow field whose metadata has [`METADATA_KEY`] set to one of the
//! [`MetadataColumn`] names. A JSON column is a `Utf8` field with the canonical Arrow extension
//! type `arrow.json`.

use arrow_schema::{DataType, Field};

/// Field-metadata key naming the Kafka metadata a column is filled from.
pub const METADATA_KEY: &str = "laminar.kafka.metadata";

/// Field-metadata key of Arrow extension types.
pub const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";

/// The canonical Arrow extension type name for JSON text.
pub const JSON_EXTENSION_NAME: &str = "arrow.json";

/// The column a changelog source (`debezium_json`) adds to its rows: what each row does to
/// the table. Its values are [`ChangeOp`] codes; rows whose code starts with `-` retract an
/// earlier row, the others insert one.
pub const CHANGE_OP_COLUMN: &str = "_op";

/// The operation of a changelog row, as written in [`CHANGE_OP_COLUMN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeOp {
    /// `+I`: a new row (Debezium `c` create, `r` snapshot read).
    Insert,
    /// `-U`: the old version of an updated row, retracted.
    UpdateBefore,
    /// `+U`: the new version of an updated row.
    UpdateAfter,
    /// `-D`: a deleted row, retracted.
    Delete,
}

impl ChangeOp {
    /// The code in the column.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Insert => "+I",
            ChangeOp::UpdateBefore => "-U",
            ChangeOp::UpdateAfter => "+U",
            ChangeOp::Delete => "-D",
        }
    }

    /// Whether the row retracts an earlier one.
    pub fn is_retraction(self) -> bool {
        matches!(self, ChangeOp::UpdateBefore | ChangeOp::Delete)
    }

    /// The operation with code `code`.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            ChangeOp::Insert,
            ChangeOp::UpdateBefore,
            ChangeOp::UpdateAfter,
            ChangeOp::Delete,
        ]
        .into_iter()
        .find(|op| op.as_str() == code)
    }
}

/// The non-null `Utf8` field [`CHANGE_OP_COLUMN`].
pub fn change_op_field() -> Field {
    Field::new(CHANGE_OP_COLUMN, DataType::Utf8, false)
}

/// Record metadata a source can expose as a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataColumn {
    /// The topic the record came from (text).
    Topic,
    /// Its partition (INT or BIGINT).
    Partition,
    /// Its offset (BIGINT).
    Offset,
    /// Its key (TEXT, BYTEA or JSON).
    Key,
    /// Its timestamp (TIMESTAMP, or BIGINT milliseconds).
    Timestamp,
    /// Its headers as a JSON object of name → value text, `null` for a null value, and an
    /// array of the values in order for a name that appears more than once (JSON or TEXT).
    Headers,
}

impl MetadataColumn {
    /// Every kind, by name.
    pub const ALL: [(&'static str, MetadataColumn); 6] = [
        ("topic", MetadataColumn::Topic),
        ("partition", MetadataColumn::Partition),
        ("offset", MetadataColumn::Offset),
        ("key", MetadataColumn::Key),
        ("timestamp", MetadataColumn::Timestamp),
        ("headers", MetadataColumn::Headers),
    ];

    /// The name used in [`METADATA_KEY`] and in `metadata('…')`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataColumn::Topic => "topic",
            MetadataColumn::Partition => "partition",
            MetadataColumn::Offset => "offset",
            MetadataColumn::Key => "key",
            MetadataColumn::Timestamp => "timestamp",
            MetadataColumn::Headers => "headers",
        }
    }

    /// The kind with that name (exact, lower case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The metadata a field is declared to hold, if any.
    pub fn of(field: &Field) -> Option<Self> {
        field
            .metadata()
            .get(METADATA_KEY)
            .and_then(|name| Self::from_name(name))
    }

    /// Whether a column of type `data_type` can hold this metadata.
    pub fn accepts(self, data_type: &DataType) -> bool {
        match self {
            MetadataColumn::Topic | MetadataColumn::Headers => {
                matches!(data_type, DataType::Utf8 | DataType::LargeUtf8)
            }
            MetadataColumn::Partition => matches!(data_type, DataType::Int32 | DataType::Int64),
            MetadataColumn::Offset => matches!(data_type, DataType::Int64),
            MetadataColumn::Key => matches!(
                data_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary
            ),
            MetadataColumn::Timestamp => {
                matches!(data_type, DataType::Timestamp(_, _) | DataType::Int64)
            }
        }
    }

    /// The types [`accepts`](Self::accepts) allows, for messages.
    pub fn expected_types(self) -> &'static str {
        match self {
            MetadataColumn::Topic => "TEXT",
            MetadataColumn::Headers => "JSON or TEXT",
            MetadataColumn::Partition => "INT or BIGINT",
            MetadataColumn::Offset => "BIGINT",
            MetadataColumn::Key => "TEXT, JSON or BYTEA",
            MetadataColumn::Timestamp => "TIMESTAMP or BIGINT",
        }
    }

    /// `field` marked as holding this metadata.
    pub fn mark(self, mut field: Field) -> Field {
        field
            .metadata_mut()
            .insert(METADATA_KEY.to_owned(), self.as_str().to_owned());
        field
    }
}

/// Whether a field holds JSON text (extension type `arrow.json`).
pub fn is_json(field: &Field) -> bool {
    field
        .metadata()
        .get(EXTENSION_NAME_KEY)
        .is_some_and(|name| name == JSON_EXTENSION_NAME)
}

/// A nullable-or-not `Utf8` field marked as JSON text.
pub fn json_field(name: impl Into<String>, nullable: bool) -> Field {
    let mut field = Field::new(name, DataType::Utf8, nullable);
    field.metadata_mut().insert(
        EXTENSION_NAME_KEY.to_owned(),
        JSON_EXTENSION_NAME.to_owned(),
    );
    field
}

/// The columns of a source table declared without any (a JSON API body with only a format):
/// the record's value in one `value` column — JSON text for `json`, TEXT for `raw_string`,
/// BYTEA for `raw_bytes` and every other format — followed by the record's metadata: `topic`,
/// `partition`, `offset`, `key` (BYTEA), `timestamp` (TIMESTAMP in milliseconds, UTC) and
/// `headers` (JSON).
///
/// ```
/// use laminar_kafka_connector::config::Format;
/// use laminar_kafka_connector::schema::{unstructured_schema, MetadataColumn};
///
/// let schema = unstructured_schema(Format::Json);
/// let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
/// assert_eq!(names, ["value", "topic", "partition", "offset", "key", "timestamp", "headers"]);
/// assert_eq!(MetadataColumn::of(schema.field(1)), Some(MetadataColumn::Topic));
/// ```
pub fn unstructured_schema(format: crate::config::Format) -> arrow_schema::SchemaRef {
    use crate::config::Format;
    use arrow_schema::TimeUnit;
    let value = match format {
        Format::Json => json_field("value", true),
        Format::RawString => Field::new("value", DataType::Utf8, true),
        _ => Field::new("value", DataType::Binary, true),
    };
    let fields = vec![
        value,
        MetadataColumn::Topic.mark(Field::new("topic", DataType::Utf8, false)),
        MetadataColumn::Partition.mark(Field::new("partition", DataType::Int32, false)),
        MetadataColumn::Offset.mark(Field::new("offset", DataType::Int64, false)),
        MetadataColumn::Key.mark(Field::new("key", DataType::Binary, true)),
        MetadataColumn::Timestamp.mark(Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        )),
        MetadataColumn::Headers.mark(json_field("headers", false)),
    ];
    std::sync::Arc::new(arrow_schema::Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::TimeUnit;

    #[test]
    fn metadata_marks_round_trip_and_types_are_checked() {
        for (name, kind) in MetadataColumn::ALL {
            assert_eq!(MetadataColumn::from_name(name), Some(kind));
            let f = kind.mark(Field::new("c", DataType::Utf8, true));
            assert_eq!(MetadataColumn::of(&f), Some(kind));
        }
        assert_eq!(
            MetadataColumn::of(&Field::new("topic", DataType::Utf8, true)),
            None
        );
        assert!(
            MetadataColumn::Timestamp.accepts(&DataType::Timestamp(TimeUnit::Nanosecond, None))
        );
        assert!(!MetadataColumn::Offset.accepts(&DataType::Int32));
        assert!(!MetadataColumn::Topic.accepts(&DataType::Binary));
    }

    #[test]
    fn json_fields_are_recognised() {
        assert!(is_json(&json_field("payload", true)));
        assert!(!is_json(&Field::new("payload", DataType::Utf8, true)));
    }
}
