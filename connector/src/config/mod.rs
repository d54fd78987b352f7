//! Configuration of Kafka tables: connection profiles (cluster, authentication, schema
//! registry), table settings (topic, source or sink options, client properties), `{{ VAR }}`
//! placeholders and secrets.
//!
//! The flow is parse → check → resolve:
//!
//! 1. [`parse_profile_json`], [`parse_table_json`] (or the request forms, or
//!    [`crate::sql::parse_sql`]) read the user's text into typed values, rejecting unknown
//!    fields with a suggestion, missing fields, bad enum values and malformed literals.
//! 2. [`TableDefinition::new`] checks what needs the profile, the table and the columns together.
//! 3. [`TableDefinition::resolve`] fills placeholders from an environment lookup and yields the
//!    flat client properties ([`KafkaProperties`], keyed by librdkafka / Java names). The
//!    profile's typed fields come first, its `connectionProperties` override them, the
//!    table's own fields (`group_id`, `offset`, `read_mode`, …) override the profile, and the
//!    table's `client_configs` override everything.
//!
//! Nothing here opens a connection or reads the process environment on its own. Secrets are
//! held in [`Secret`] and print as `***`; errors never contain them.
//!
//! ```
//! use laminar_kafka_connector::config::{parse_profile_json, parse_table_json, Format, TableDefinition};
//!
//! let profile = parse_profile_json(r#"{
//!     "bootstrapServers": "b1:9092,b2:9092",
//!     "authentication": {"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-256",
//!                        "username": "app", "password": "{{ KAFKA_PASSWORD }}"}
//! }"#)?;
//! let table = parse_table_json(r#"{"topic": "events", "type": {"offset": "earliest"}}"#)?;
//! let definition = TableDefinition::new("events", profile, table, Format::Json, None)?;
//!
//! let env = |name: &str| (name == "KAFKA_PASSWORD").then(|| "s3cret".to_owned());
//! let resolved = definition.resolve(&env)?;
//! assert_eq!(resolved.properties.get("group.id"), Some("laminar-events"));
//! assert_eq!(resolved.properties.get("auto.offset.reset"), Some("earliest"));
//! assert!(!format!("{resolved:?}").contains("s3cret"));
//! # Ok::<(), laminar_kafka_connector::config::ConfigError>(())
//! ```

mod error;
mod json;
mod placeholder;
mod profile;
mod properties;
mod secret;
mod table;

use arrow_schema::{DataType, Schema, SchemaRef};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub use error::{ConfigError, KeyKind, Result, TableKind};
pub use placeholder::{PlaceholderError, Template, process_env};
pub use profile::{
    Authentication, AwsMskIamAuth, ConnectionProfile, ResolvedProfile, ResolvedSchemaRegistry,
    SaslAuth, SaslMechanism, SaslProtocol, SchemaRegistry,
};
pub use properties::{KafkaProperties, Properties};
pub use secret::{Secret, is_secret_property};
pub use table::{
    BadDataPolicy, CommitMode, Format, ReadMode, SinkConfig, SourceConfig, SourceOffset,
    TableConfig, TableType, Topic, TopicPattern,
};

#[cfg(test)]
pub(crate) use error::SUPPORTED_SQL_TYPES;
pub(crate) use error::{closest, shorten};
pub(crate) use json::{lookup_enum, template as parse_template};
pub(crate) use properties::check_key;
pub(crate) use table::non_empty;

use crate::schema::MetadataColumn;
use json::Obj;

/// An environment lookup: the value of a variable, or `None` when it is not set. Pass
/// [`process_env`] for the process environment, or a closure in tests. It is `Send + Sync`
/// so that a source or sink can be opened inside a spawned task.
pub type Env<'a> = dyn Fn(&str) -> Option<String> + Send + Sync + 'a;

/// Fills the placeholders of a field, naming the field if a variable is missing.
pub(crate) fn resolve_template(template: &Template, path: &str, env: &Env<'_>) -> Result<String> {
    template
        .resolve(env)
        .map_err(|var| ConfigError::MissingEnvVar {
            var,
            path: path.to_owned(),
        })
}

/// Parses a connection profile: the `config` object, with `bootstrapServers`,
/// `authentication`, `schemaRegistryEnum` and `connectionProperties`.
///
/// Never panics, whatever the input.
pub fn parse_profile_json(text: &str) -> Result<ConnectionProfile> {
    ConnectionProfile::from_json(&json::parse_value(text)?, "")
}

/// Parses a table: the `config` object, with `topic`, `type`, `client_configs`,
/// `value_subject` and `bad_data`.
///
/// Never panics, whatever the input.
pub fn parse_table_json(text: &str) -> Result<TableConfig> {
    TableConfig::from_json(&json::parse_value(text)?, "")
}

/// A request to create a connection profile: `{"name", "connector": "kafka", "config"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileRequest {
    /// The profile's name.
    pub name: String,
    /// The profile.
    pub config: ConnectionProfile,
}

/// A request to create a table: `{"name", "connector": "kafka", "connectionProfileId",
/// "config", "schema": {"format": …}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableRequest {
    /// The table's name.
    pub name: String,
    /// The profile it uses, by id.
    pub connection_profile_id: Option<String>,
    /// The table.
    pub config: TableConfig,
    /// The record format (`schema.format`).
    pub format: Format,
}

fn check_connector(obj: &Obj<'_>) -> Result<()> {
    let connector = obj.req_str("connector")?;
    if connector != "kafka" {
        return Err(ConfigError::invalid_enum(
            obj.path_of("connector"),
            connector,
            &["kafka"],
        ));
    }
    Ok(())
}

/// Parses a profile creation request. Never panics, whatever the input.
pub fn parse_profile_request_json(text: &str) -> Result<ProfileRequest> {
    let value = json::parse_value(text)?;
    let obj = Obj::open(&value, "", &["name", "connector", "config"])?;
    check_connector(&obj)?;
    Ok(ProfileRequest {
        name: non_empty(obj.req_str("name")?, "name")?,
        config: ConnectionProfile::from_json(obj.required("config")?, "config")?,
    })
}

/// Parses a table creation request. Never panics, whatever the input.
pub fn parse_table_request_json(text: &str) -> Result<TableRequest> {
    let value = json::parse_value(text)?;
    let obj = Obj::open(
        &value,
        "",
        &[
            "name",
            "connector",
            "connectionProfileId",
            "config",
            "schema",
        ],
    )?;
    check_connector(&obj)?;
    let name = non_empty(obj.req_str("name")?, "name")?;
    let connection_profile_id = obj.str("connectionProfileId")?.map(str::to_owned);
    let config = TableConfig::from_json(obj.required("config")?, "config")?;
    let schema = Obj::open(obj.required("schema")?, "schema", &["format"])?;
    let format = Format::from_json(schema.required("format")?, "schema.format")?;
    Ok(TableRequest {
        name,
        connection_profile_id,
        config,
        format,
    })
}

macro_rules! deserialize_via_value {
    ($ty:ty, $read:expr) => {
        /// Accepts the same JSON as the `parse_*` functions, with the same checks.
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(
                deserializer: D,
            ) -> std::result::Result<Self, D::Error> {
                let value = Value::deserialize(deserializer)?;
                $read(&value).map_err(serde::de::Error::custom)
            }
        }
    };
}

deserialize_via_value!(ConnectionProfile, |v| ConnectionProfile::from_json(v, ""));
deserialize_via_value!(TableConfig, |v| TableConfig::from_json(v, ""));
deserialize_via_value!(Format, |v| Format::from_json(v, ""));

/// A table ready to be opened: its profile, settings, format and (when declared) columns,
/// checked together.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TableDefinition {
    /// The table's name (also the default consumer group suffix).
    pub name: String,
    /// Cluster settings.
    pub profile: ConnectionProfile,
    /// Table settings.
    pub table: TableConfig,
    /// Record format.
    pub format: Format,
    /// The columns, when declared (always, from SQL).
    pub schema: Option<SchemaRef>,
    /// Primary key columns, in order.
    pub primary_key: Vec<String>,
}

/// A table with placeholders filled: what a source or sink is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedTable {
    /// Flat client properties, secrets included (masked in `Debug`).
    pub properties: KafkaProperties,
    /// The schema registry, if the profile has one.
    pub schema_registry: Option<ResolvedSchemaRegistry>,
    /// The consumer group of a source.
    pub group_id: Option<String>,
}

impl TableDefinition {
    /// Puts a table together and checks it: a registry for formats that need one, the sink's
    /// `key_field`/`timestamp_field` among the columns, the single `value` column of the raw
    /// formats, metadata columns only on sources.
    pub fn new(
        name: impl Into<String>,
        profile: ConnectionProfile,
        table: TableConfig,
        format: Format,
        schema: Option<Schema>,
    ) -> Result<Self> {
        let definition = TableDefinition {
            name: name.into(),
            profile,
            table,
            format,
            schema: schema.map(std::sync::Arc::new),
            primary_key: Vec::new(),
        };
        definition.validate()?;
        Ok(definition)
    }

    pub(crate) fn with_primary_key(mut self, primary_key: Vec<String>) -> Self {
        self.primary_key = primary_key;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::invalid("name", "table name is empty"));
        }
        if self.format.needs_schema_registry() && self.profile.schema_registry.is_none() {
            let path = match self.profile.syntax {
                KeyKind::Field => "schemaRegistryEnum.endpoint",
                _ => "schema_registry.endpoint",
            };
            return Err(ConfigError::missing(
                self.profile.syntax,
                path,
                Some(&format!(
                    "format `{}` takes its schemas from a schema registry",
                    self.format.as_str()
                )),
            ));
        }
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let kind = self.table.table_kind();
        for field in schema.fields() {
            if let Some(meta) = MetadataColumn::of(field) {
                if kind == TableKind::Sink {
                    return Err(ConfigError::InvalidColumn {
                        column: field.name().clone(),
                        reason: format!(
                            "reads the record's {}, which only source tables have",
                            meta.as_str()
                        ),
                    });
                }
                if !meta.accepts(field.data_type()) {
                    return Err(ConfigError::InvalidColumn {
                        column: field.name().clone(),
                        reason: format!(
                            "the record's {} needs type {}",
                            meta.as_str(),
                            meta.expected_types()
                        ),
                    });
                }
            }
        }
        if self.format.is_raw() {
            let payload: Vec<_> = schema
                .fields()
                .iter()
                .filter(|f| MetadataColumn::of(f).is_none())
                .collect();
            let (wanted, type_name) = match self.format {
                Format::RawString => (DataType::Utf8, "TEXT"),
                _ => (DataType::Binary, "BYTEA"),
            };
            match payload.as_slice() {
                [f] if f.name() == "value" && f.data_type() == &wanted => {}
                [f] if f.name() == "value" => {
                    return Err(ConfigError::InvalidColumn {
                        column: "value".to_owned(),
                        reason: format!("format `{}` needs type {type_name}", self.format.as_str()),
                    });
                }
                _ => {
                    let extra = payload
                        .iter()
                        .find(|f| f.name() != "value")
                        .map(|f| f.name().clone());
                    return Err(match extra {
                        Some(column) => ConfigError::InvalidColumn {
                            column,
                            reason: format!(
                                "format `{}` has one payload column, `value`; other columns must \
                                 be record metadata (topic, partition, offset, key, timestamp, \
                                 headers)",
                                self.format.as_str()
                            ),
                        },
                        None => ConfigError::InvalidColumn {
                            column: "value".to_owned(),
                            reason: format!(
                                "format `{}` needs a `value` column of type {type_name}",
                                self.format.as_str()
                            ),
                        },
                    });
                }
            }
        }
        if let TableType::Sink(sink) = &self.table.kind {
            if let Some(key) = &sink.key_field {
                if schema.field_with_name(key).is_err() {
                    return Err(ConfigError::invalid(
                        self.table.type_field_name("key_field"),
                        format!("no column named `{}`", shorten(key)),
                    ));
                }
            }
            if let Some(ts) = &sink.timestamp_field {
                match schema.field_with_name(ts) {
                    Err(_) => {
                        return Err(ConfigError::invalid(
                            self.table.type_field_name("timestamp_field"),
                            format!("no column named `{}`", shorten(ts)),
                        ));
                    }
                    Ok(f) if !matches!(f.data_type(), DataType::Timestamp(_, _)) => {
                        return Err(ConfigError::invalid(
                            self.table.type_field_name("timestamp_field"),
                            format!("column `{ts}` is not a TIMESTAMP"),
                        ));
                    }
                    Ok(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Fills placeholders from `env` and builds the client properties. Later steps override
    /// earlier ones: the client's defaults, the profile (its typed fields, then its
    /// `connectionProperties`), the table's own fields (`group_id`, `offset`, `read_mode`, the
    /// sink's delivery settings), and last the table's `client_configs`. A missing variable is
    /// an error naming it and the field that uses it.
    pub fn resolve(&self, env: &Env<'_>) -> Result<ResolvedTable> {
        let mut properties = self.profile.typed_properties(env)?;
        self.profile.connection_properties(env, &mut properties)?;
        let group_id = match &self.table.kind {
            TableType::Source(source) => {
                // The table's own fields beat the profile; a generated group id or an unwritten
                // read mode give way to what the profile sets.
                let explicit_group = source.group_id.is_some() || source.group_id_prefix.is_some();
                if explicit_group || !properties.contains_key("group.id") {
                    properties.set("group.id", source.group_id(&self.name));
                }
                let group = properties.get("group.id").unwrap_or_default().to_owned();
                if source.read_mode_set || !properties.contains_key("isolation.level") {
                    properties.set("isolation.level", source.read_mode.as_str());
                }
                match source.offset {
                    SourceOffset::Earliest => properties.set("auto.offset.reset", "earliest"),
                    SourceOffset::Latest => properties.set("auto.offset.reset", "latest"),
                    SourceOffset::Group => {}
                }
                Some(group)
            }
            TableType::Sink(_) => {
                properties.set("acks", "all");
                properties.set("enable.idempotence", "true");
                None
            }
        };
        profile::resolve_properties(
            &self.table.client_configs,
            "client_configs",
            env,
            &mut properties,
        )?;
        Ok(ResolvedTable {
            properties,
            schema_registry: self.profile.resolve_registry(env)?,
            group_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Stored {
        profile: ConnectionProfile,
        table: TableConfig,
        format: Format,
    }

    #[test]
    fn types_deserialize_inside_other_documents_with_the_same_checks() {
        let stored: Stored = serde_json::from_str(
            r#"{"profile": {"bootstrapServers": "b:9092", "authentication": {}},
                "table": {"topic": "t", "type": {"commit_mode": "at_least_once"}},
                "format": {"raw_bytes": {}}}"#,
        )
        .unwrap();
        assert_eq!(stored.format, Format::RawBytes);
        assert_eq!(stored.table.table_kind(), TableKind::Sink);
        assert_eq!(stored.profile.bootstrap_servers.raw(), "b:9092");

        let err = serde_json::from_str::<Stored>(
            r#"{"profile": {"bootstrapServers": "b:9092", "authentication": {}},
                "table": {"topic": "t", "type": {"offset": "newest"}},
                "format": {"json": {}}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "invalid value `newest` for `type.offset`: expected one of latest, earliest, group"
            ),
            "{err}"
        );
    }

    #[test]
    fn table_fields_override_the_profile_and_client_configs_override_both() {
        let profile = parse_profile_json(
            r#"{"bootstrapServers": "b:9092", "authentication": {},
                "connectionProperties": {"group.id": "profile-group",
                                         "isolation.level": "read_uncommitted",
                                         "fetch.max.wait.ms": "100"}}"#,
        )
        .unwrap();
        let table = parse_table_json(
            r#"{"topic": "t", "type": {"offset": "earliest", "group_id": "table-group",
                                       "read_mode": "read_committed"},
                "client_configs": {"fetch.max.wait.ms": "5"}}"#,
        )
        .unwrap();
        let resolved = TableDefinition::new("t", profile, table, Format::Json, None)
            .unwrap()
            .resolve(&|_| None)
            .unwrap();
        assert_eq!(resolved.properties.get("group.id"), Some("table-group"));
        assert_eq!(resolved.group_id.as_deref(), Some("table-group"));
        assert_eq!(
            resolved.properties.get("isolation.level"),
            Some("read_committed")
        );
        assert_eq!(resolved.properties.get("fetch.max.wait.ms"), Some("5"));

        // What the table does not write (a generated group id, the default read mode) gives
        // way to the profile.
        let profile = parse_profile_json(
            r#"{"bootstrapServers": "b:9092", "authentication": {},
                "connectionProperties": {"group.id": "shared", "isolation.level": "read_committed"}}"#,
        )
        .unwrap();
        let table = parse_table_json(r#"{"topic": "t", "type": {"offset": "group"}}"#).unwrap();
        let resolved = TableDefinition::new("t", profile, table, Format::Json, None)
            .unwrap()
            .resolve(&|_| None)
            .unwrap();
        assert_eq!(resolved.group_id.as_deref(), Some("shared"));
        assert_eq!(
            resolved.properties.get("isolation.level"),
            Some("read_committed")
        );
    }

    #[test]
    fn value_subject_defaults_to_topic_value_and_expands_topic() {
        let table = parse_table_json(r#"{"topic": "t", "type": {"offset": "latest"}}"#).unwrap();
        assert_eq!(table.value_subject("orders"), "orders-value");
        let table = parse_table_json(
            r#"{"topic": "t", "type": {"offset": "latest"}, "value_subject": "{topic}-v2"}"#,
        )
        .unwrap();
        assert_eq!(table.value_subject("orders"), "orders-v2");
    }

    #[test]
    fn schema_checks_apply_to_json_tables_with_columns() {
        use arrow_schema::Field;
        let profile =
            parse_profile_json(r#"{"bootstrapServers": "b:9092", "authentication": {}}"#).unwrap();
        let table = parse_table_json(
            r#"{"topic": "t", "type": {"commit_mode": "exactly_once", "key_field": "id"}}"#,
        )
        .unwrap();
        let schema = Schema::new(vec![Field::new("user", DataType::Utf8, true)]);
        let err =
            TableDefinition::new("t", profile, table, Format::Json, Some(schema)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `type.key_field`: no column named `id`"
        );
    }
}
