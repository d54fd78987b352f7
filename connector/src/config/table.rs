//! Tables: which topic a table reads or writes, whether it is a source or a sink with their
//! options, extra client properties, the schema registry subject and the record format.
//!
//! This module parses and checks the table on its own; checks that need the profile or the
//! column list are in [`TableDefinition`](super::TableDefinition).

use std::fmt;

use regex::Regex;
use serde_json::Value;

use super::error::{ConfigError, KeyKind, Result, TableKind};
use super::json::{self, Obj};
use super::profile::properties_from_json;
use super::properties::Properties;

/// One Kafka table's settings (the `config` object of a table).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableConfig {
    /// The topic, or a pattern of topics for a source.
    pub topic: Topic,
    /// Source or sink, with their options (`type`).
    pub kind: TableType,
    /// Extra client properties (`client_configs`), applied last.
    pub client_configs: Properties,
    /// The schema registry subject, when not `{topic}-value` (`value_subject`).
    pub value_subject: Option<String>,
    /// What to do with a record that does not decode (`bad_data`).
    pub bad_data: BadDataPolicy,
    pub(crate) syntax: KeyKind,
}

/// The topic a table uses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Topic {
    /// One topic by name.
    Name(String),
    /// Every topic whose whole name matches a regular expression (sources only).
    Pattern(TopicPattern),
}

/// A compiled topic regular expression; it must match a topic's whole name.
#[derive(Clone)]
pub struct TopicPattern {
    source: String,
    regex: Regex,
}

impl TopicPattern {
    /// Compiles `pattern`, anchored at both ends.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(1 << 20)
            .build()?;
        Ok(TopicPattern {
            source: pattern.to_owned(),
            regex,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `topic` belongs to the table.
    pub fn matches(&self, topic: &str) -> bool {
        self.regex.is_match(topic)
    }
}

impl PartialEq for TopicPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for TopicPattern {}

impl fmt::Debug for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.source)
    }
}

impl Topic {
    /// Reads a `topic` value: a legal Kafka topic name (letters, digits, `.`, `_`, `-`, at most
    /// 249 characters) is a name; anything with other characters is a regular expression.
    pub(crate) fn parse(value: &str, path: &str) -> Result<Self> {
        if value.is_empty() {
            return Err(ConfigError::invalid(path, "topic is empty"));
        }
        let legal = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        if value.bytes().all(legal) {
            if value == "." || value == ".." {
                return Err(ConfigError::invalid(
                    path,
                    "`.` and `..` are not topic names",
                ));
            }
            if value.len() > 249 {
                return Err(ConfigError::invalid(
                    path,
                    "topic names are at most 249 characters",
                ));
            }
            return Ok(Topic::Name(value.to_owned()));
        }
        TopicPattern::new(value).map(Topic::Pattern).map_err(|e| {
            let detail = match e {
                regex::Error::CompiledTooBig(_) => "it is too large".to_owned(),
                other => other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            };
            ConfigError::invalid(
                path,
                format!(
                    "not a topic name (only letters, digits, `.`, `_` and `-`) nor a valid regular \
                     expression: {detail}"
                ),
            )
        })
    }

    /// The name, or the pattern as written.
    pub fn as_str(&self) -> &str {
        match self {
            Topic::Name(name) => name,
            Topic::Pattern(p) => p.as_str(),
        }
    }
}

/// Source or sink.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableType {
    /// Reads from Kafka.
    Source(SourceConfig),
    /// Writes to Kafka.
    Sink(SinkConfig),
}

impl TableType {
    /// Which of the two.
    pub fn kind(&self) -> TableKind {
        match self {
            TableType::Source(_) => TableKind::Source,
            TableType::Sink(_) => TableKind::Sink,
        }
    }
}

/// Options of a source table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceConfig {
    /// Where to start reading.
    pub offset: SourceOffset,
    /// Whether to see records of open and aborted transactions.
    pub read_mode: ReadMode,
    /// Whether `read_mode` was written (an unwritten one gives way to the profile's
    /// `isolation.level`).
    pub(crate) read_mode_set: bool,
    /// The consumer group; overrides [`group_id_prefix`](Self::group_id_prefix).
    pub group_id: Option<String>,
    /// Prefix of the generated group id.
    pub group_id_prefix: Option<String>,
}

impl SourceConfig {
    /// The consumer group of table `table_name`: `group_id` if given, otherwise
    /// `{group_id_prefix}-{table_name}`, or `laminar-{table_name}` without a prefix. The
    /// generated id depends only on the table, so a restarted table finds its group again
    /// (which `offset = group` relies on).
    ///
    /// ```
    /// use laminar_kafka_connector::config::{parse_table_json, TableType};
    ///
    /// let table = parse_table_json(r#"{"topic": "t", "type": {"offset": "group", "group_id_prefix": "app"}}"#).unwrap();
    /// let TableType::Source(source) = &table.kind else { unreachable!() };
    /// assert_eq!(source.group_id("events"), "app-events");
    /// ```
    pub fn group_id(&self, table_name: &str) -> String {
        match (&self.group_id, &self.group_id_prefix) {
            (Some(id), _) => id.clone(),
            (None, Some(prefix)) => format!("{prefix}-{table_name}"),
            (None, None) => format!("laminar-{table_name}"),
        }
    }
}

/// Where a source starts reading when it has no position of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceOffset {
    /// Only records produced from now on.
    Latest,
    /// From the oldest record still in the topic.
    Earliest,
    /// From the offsets committed by the consumer group (`latest` where it has none).
    Group,
}

impl SourceOffset {
    pub(crate) const NAMES: &'static [(&'static str, SourceOffset)] = &[
        ("latest", SourceOffset::Latest),
        ("earliest", SourceOffset::Earliest),
        ("group", SourceOffset::Group),
    ];
}

/// Transaction isolation of a source (`isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReadMode {
    /// Every record, including those of open and aborted transactions.
    #[default]
    ReadUncommitted,
    /// Only records of committed transactions (and non-transactional ones).
    ReadCommitted,
}

impl ReadMode {
    pub(crate) const NAMES: &'static [(&'static str, ReadMode)] = &[
        ("read_uncommitted", ReadMode::ReadUncommitted),
        ("read_committed", ReadMode::ReadCommitted),
    ];

    /// The `isolation.level` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadMode::ReadUncommitted => "read_uncommitted",
            ReadMode::ReadCommitted => "read_committed",
        }
    }
}

/// Options of a sink table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkConfig {
    /// Delivery guarantee.
    pub commit_mode: CommitMode,
    /// Column whose value becomes the record key.
    pub key_field: Option<String>,
    /// Column whose value becomes the record timestamp (event time when absent).
    pub timestamp_field: Option<String>,
}

/// Delivery guarantee of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitMode {
    /// Idempotent producer; a failure may write a record twice.
    AtLeastOnce,
    /// Transactions committed with each checkpoint.
    ExactlyOnce,
}

impl CommitMode {
    pub(crate) const NAMES: &'static [(&'static str, CommitMode)] = &[
        ("at_least_once", CommitMode::AtLeastOnce),
        ("exactly_once", CommitMode::ExactlyOnce),
    ];
}

/// What a source does with a record that does not decode into the table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BadDataPolicy {
    /// Stop with an error naming the record's topic, partition and offset.
    #[default]
    Fail,
    /// Skip it and count it.
    Drop,
}

impl BadDataPolicy {
    pub(crate) const NAMES: &'static [(&'static str, BadDataPolicy)] =
        &[("fail", BadDataPolicy::Fail), ("drop", BadDataPolicy::Drop)];
}

/// How record values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// One JSON object per record; columns are its fields.
    Json,
    /// Confluent-framed Avro, schemas from the registry.
    Avro,
    /// Confluent-framed Protobuf, schemas from the registry.
    Protobuf,
    /// The value as UTF-8 text in one `value` column.
    RawString,
    /// The value as bytes in one `value` column.
    RawBytes,
    /// Debezium change events in JSON.
    DebeziumJson,
}

impl Format {
    /// Names accepted in JSON (`{"json": {}}`) and SQL (`format = 'json'`). SQL also accepts
    /// `raw`, which picks `raw_string` or `raw_bytes` by the type of the `value` column.
    pub(crate) const NAMES: &'static [(&'static str, Format)] = &[
        ("json", Format::Json),
        ("avro", Format::Avro),
        ("protobuf", Format::Protobuf),
        ("raw_string", Format::RawString),
        ("raw_bytes", Format::RawBytes),
        ("debezium_json", Format::DebeziumJson),
    ];

    /// The format's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Avro => "avro",
            Format::Protobuf => "protobuf",
            Format::RawString => "raw_string",
            Format::RawBytes => "raw_bytes",
            Format::DebeziumJson => "debezium_json",
        }
    }

    /// Whether values carry a schema id to look up in a schema registry.
    pub fn needs_schema_registry(self) -> bool {
        matches!(self, Format::Avro | Format::Protobuf)
    }

    /// Whether the payload is one `value` column.
    pub fn is_raw(self) -> bool {
        matches!(self, Format::RawString | Format::RawBytes)
    }

    /// Reads a `format` object: `{"json": {}}`.
    pub(crate) fn from_json(value: &Value, path: &str) -> Result<Self> {
        let obj = Obj::open_any(value, path)?;
        let names: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
        let mut entries = obj.map().iter();
        let (name, options) = match (entries.next(), entries.next()) {
            (Some(entry), None) => entry,
            (None, _) => {
                return Err(ConfigError::missing(
                    KeyKind::Field,
                    path,
                    Some("one of json, avro, protobuf, raw, raw_string, raw_bytes, debezium_json"),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict {
                    message: format!("`{path}` must name exactly one format"),
                });
            }
        };
        // `raw`, as in SQL: text, since a JSON table body declares no `value` column whose
        // type could ask for bytes.
        let found = match name.as_str() {
            "raw" => Some(Format::RawString),
            _ => Self::NAMES.iter().find(|(n, _)| n == name).map(|(_, f)| *f),
        };
        let Some(format) = found else {
            return Err(ConfigError::unknown(
                KeyKind::Field,
                json::join(path, name),
                name,
                &names,
            ));
        };
        // No format takes options yet; reject any so that a typo is not silently ignored.
        Obj::open(options, &json::join(path, name), &[])?;
        Ok(format)
    }
}

const TABLE_FIELDS: &[&str] = &[
    "topic",
    "type",
    "client_configs",
    "value_subject",
    "bad_data",
];
const SOURCE_FIELDS: &[&str] = &["offset", "read_mode", "group_id", "group_id_prefix"];
const SINK_FIELDS: &[&str] = &["commit_mode", "key_field", "timestamp_field"];
const TYPE_FIELDS: &[&str] = &[
    "offset",
    "read_mode",
    "group_id",
    "group_id_prefix",
    "commit_mode",
    "key_field",
    "timestamp_field",
];

/// Checks a non-empty identifier-like option (group ids, column names, subjects).
pub(crate) fn non_empty(value: &str, path: &str) -> Result<String> {
    if value.trim().is_empty() {
        Err(ConfigError::invalid(path, "must not be empty"))
    } else {
        Ok(value.to_owned())
    }
}

impl TableConfig {
    /// Builds a table from its parts, checking what needs both the topic and the kind.
    pub(crate) fn new(
        topic: Topic,
        kind: TableType,
        client_configs: Properties,
        value_subject: Option<String>,
        bad_data: BadDataPolicy,
        syntax: KeyKind,
    ) -> Result<Self> {
        if let (Topic::Pattern(p), TableType::Sink(_)) = (&topic, &kind) {
            return Err(ConfigError::invalid(
                "topic",
                format!(
                    "a sink writes to one topic, but `{}` is a pattern",
                    super::error::shorten(p.as_str())
                ),
            ));
        }
        Ok(TableConfig {
            topic,
            kind,
            client_configs,
            value_subject,
            bad_data,
            syntax,
        })
    }

    /// Reads the `config` object of a table.
    pub(crate) fn from_json(value: &Value, path: &str) -> Result<Self> {
        let obj = Obj::open(value, path, TABLE_FIELDS)?;
        let topic = Topic::parse(obj.req_str("topic")?, &obj.path_of("topic"))?;
        let kind = match obj.get("type") {
            Some(v) => table_type_from_json(v, &obj.path_of("type"))?,
            None => {
                return Err(ConfigError::missing(
                    KeyKind::Field,
                    obj.path_of("type"),
                    Some("a source needs `offset`, a sink needs `commit_mode`"),
                ));
            }
        };
        let client_configs = match obj.get("client_configs") {
            Some(v) => properties_from_json(v, &obj.path_of("client_configs"))?,
            None => Properties::new(),
        };
        let value_subject = obj
            .str("value_subject")?
            .map(|s| non_empty(s, &obj.path_of("value_subject")))
            .transpose()?;
        let bad_data = obj
            .enumeration("bad_data", BadDataPolicy::NAMES)?
            .unwrap_or_default();
        Self::new(
            topic,
            kind,
            client_configs,
            value_subject,
            bad_data,
            KeyKind::Field,
        )
    }

    /// The schema registry subject of the values of `topic`: `value_subject` with `{topic}`
    /// replaced by the topic name, or `{topic}-value`.
    pub fn value_subject(&self, topic: &str) -> String {
        match &self.value_subject {
            Some(subject) => subject.replace("{topic}", topic),
            None => format!("{topic}-value"),
        }
    }

    /// Source or sink.
    pub fn table_kind(&self) -> TableKind {
        self.kind.kind()
    }

    /// How a field of `type` is named here: `type.key_field` in JSON, `sink.key_field` in SQL.
    pub(crate) fn type_field_name(&self, field: &str) -> String {
        match self.syntax {
            KeyKind::Field => format!("type.{field}"),
            _ => format!("{}.{field}", self.table_kind()),
        }
    }
}

fn table_type_from_json(value: &Value, path: &str) -> Result<TableType> {
    let obj = Obj::open(value, path, TYPE_FIELDS)?;
    let first_of = |fields: &[&'static str]| fields.iter().copied().find(|f| obj.has(f));
    let source_field = first_of(SOURCE_FIELDS);
    let sink_field = first_of(SINK_FIELDS);
    let kind = match (obj.has("offset"), obj.has("commit_mode")) {
        (true, true) => {
            return Err(ConfigError::Conflict {
                message: format!(
                    "`{path}` has both `offset` (source) and `commit_mode` (sink); a table is \
                     either a source or a sink"
                ),
            });
        }
        (true, false) => TableKind::Source,
        (false, true) => TableKind::Sink,
        (false, false) => match (source_field, sink_field) {
            (Some(_), _) => TableKind::Source,
            (None, Some(_)) => TableKind::Sink,
            (None, None) => {
                return Err(ConfigError::missing(
                    KeyKind::Field,
                    json::join(path, "offset"),
                    Some("a source needs `offset`, a sink needs `commit_mode`"),
                ));
            }
        },
    };
    let stray = match kind {
        TableKind::Source => sink_field.map(|f| (f, TableKind::Sink)),
        TableKind::Sink => source_field.map(|f| (f, TableKind::Source)),
    };
    if let Some((field, applies_to)) = stray {
        return Err(ConfigError::WrongTableKind {
            kind: KeyKind::Field,
            path: obj.path_of(field),
            applies_to,
            table_is: kind,
        });
    }
    let optional = |key: &str| -> Result<Option<String>> {
        obj.str(key)?
            .map(|s| non_empty(s, &obj.path_of(key)))
            .transpose()
    };
    Ok(match kind {
        TableKind::Source => TableType::Source(SourceConfig {
            offset: obj
                .enumeration("offset", SourceOffset::NAMES)?
                .ok_or_else(|| ConfigError::missing(KeyKind::Field, obj.path_of("offset"), None))?,
            read_mode: obj
                .enumeration("read_mode", ReadMode::NAMES)?
                .unwrap_or_default(),
            read_mode_set: obj.map().contains_key("read_mode"),
            group_id: optional("group_id")?,
            group_id_prefix: optional("group_id_prefix")?,
        }),
        TableKind::Sink => TableType::Sink(SinkConfig {
            commit_mode: obj
                .enumeration("commit_mode", CommitMode::NAMES)?
                .ok_or_else(|| {
                    ConfigError::missing(KeyKind::Field, obj.path_of("commit_mode"), None)
                })?,
            key_field: optional("key_field")?,
            timestamp_field: optional("timestamp_field")?,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_and_patterns_are_told_apart() {
        assert_eq!(
            Topic::parse("mysql.shop.orders", "topic").unwrap(),
            Topic::Name("mysql.shop.orders".into())
        );
        let Topic::Pattern(p) = Topic::parse("events-.*", "topic").unwrap() else {
            panic!("expected a pattern");
        };
        assert!(p.matches("events-clicks"));
        assert!(p.matches("events-"));
        assert!(!p.matches("raw_events-x"), "patterns match whole names");
        assert!(!p.matches("events"));
        assert_eq!(
            Topic::parse("a(", "topic").unwrap_err().to_string(),
            "invalid `topic`: not a topic name (only letters, digits, `.`, `_` and `-`) nor a \
             valid regular expression: error: unclosed group"
        );
        assert_eq!(
            Topic::parse("..", "topic").unwrap_err().to_string(),
            "invalid `topic`: `.` and `..` are not topic names"
        );
        assert!(Topic::parse(&"a".repeat(250), "topic").is_err());
        assert!(Topic::parse(&"a".repeat(249), "topic").is_ok());
    }

    #[test]
    fn generated_group_ids_are_stable_per_table() {
        let mut source = SourceConfig {
            offset: SourceOffset::Group,
            read_mode: ReadMode::ReadUncommitted,
            read_mode_set: false,
            group_id: None,
            group_id_prefix: None,
        };
        assert_eq!(source.group_id("events"), "laminar-events");
        source.group_id_prefix = Some("team".into());
        assert_eq!(source.group_id("events"), "team-events");
        source.group_id = Some("explicit".into());
        assert_eq!(source.group_id("events"), "explicit");
    }
}
