//! The `WITH (…)` options of a Kafka `CREATE TABLE`, into a connection profile, a table and a
//! format. Option names are case-insensitive; `client_configs.<property>` passes any client
//! property through.

use std::collections::BTreeMap;

use crate::config::{
    Authentication, AwsMskIamAuth, BadDataPolicy, CommitMode, ConfigError, ConnectionProfile,
    Format, KeyKind, Properties, ReadMode, Result, SaslAuth, SaslMechanism, SaslProtocol,
    SchemaRegistry, Secret, SinkConfig, SourceConfig, SourceOffset, TableConfig, TableKind,
    TableType, Topic, check_key, lookup_enum, non_empty, parse_template,
};

/// Every option name, for "did you mean".
pub(crate) const KNOWN_OPTIONS: &[&str] = &[
    "connector",
    "bootstrap_servers",
    "topic",
    "type",
    "format",
    "value_subject",
    "bad_data",
    "source.offset",
    "source.read_mode",
    "source.group_id",
    "source.group_id_prefix",
    "sink.commit_mode",
    "sink.key_field",
    "sink.timestamp_field",
    "auth.type",
    "auth.protocol",
    "auth.mechanism",
    "auth.username",
    "auth.password",
    "auth.region",
    "schema_registry.endpoint",
    "schema_registry.api_key",
    "schema_registry.api_secret",
    "client_configs.<property>",
];

const CLIENT_CONFIGS: &str = "client_configs.";

/// `auth.type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthType {
    None,
    Sasl,
    AwsMskIam,
}

const AUTH_TYPES: &[(&str, AuthType)] = &[
    ("none", AuthType::None),
    ("sasl", AuthType::Sasl),
    ("aws_msk_iam", AuthType::AwsMskIam),
];

const TABLE_TYPES: &[(&str, TableKind)] =
    &[("source", TableKind::Source), ("sink", TableKind::Sink)];

/// SQL format names: the configuration's, plus `raw`.
#[derive(Debug, Clone, Copy)]
enum SqlFormat {
    Known(Format),
    Raw,
}

const SQL_FORMATS: &[(&str, SqlFormat)] = &[
    ("json", SqlFormat::Known(Format::Json)),
    ("avro", SqlFormat::Known(Format::Avro)),
    ("protobuf", SqlFormat::Known(Format::Protobuf)),
    ("raw", SqlFormat::Raw),
    ("raw_string", SqlFormat::Known(Format::RawString)),
    ("raw_bytes", SqlFormat::Known(Format::RawBytes)),
    ("debezium_json", SqlFormat::Known(Format::DebeziumJson)),
];

/// The options of one statement, by lower-case name.
pub(crate) struct Options {
    values: BTreeMap<String, String>,
    client_configs: Vec<(String, String)>,
}

/// What the options describe.
pub(crate) struct Parsed {
    pub(crate) profile: ConnectionProfile,
    pub(crate) table: TableConfig,
    /// `None` for `raw`: decided by the type of the `value` column.
    pub(crate) format: Option<Format>,
}

impl Options {
    /// Collects `(name, value)` pairs, rejecting duplicates and unknown names.
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Result<Self> {
        let mut values = BTreeMap::new();
        let mut client_configs: Vec<(String, String)> = Vec::new();
        for (key, value) in pairs {
            let lower = key.to_ascii_lowercase();
            if lower.starts_with(CLIENT_CONFIGS) {
                let property = key[CLIENT_CONFIGS.len()..].to_owned();
                check_key(&property, &key)?;
                if client_configs.iter().any(|(p, _)| *p == property) {
                    return Err(ConfigError::DuplicateOption { option: key });
                }
                client_configs.push((property, value));
                continue;
            }
            if !KNOWN_OPTIONS.contains(&lower.as_str()) {
                return Err(ConfigError::unknown(
                    KeyKind::Option,
                    key.clone(),
                    &key,
                    KNOWN_OPTIONS,
                ));
            }
            if values.insert(lower, value).is_some() {
                return Err(ConfigError::DuplicateOption { option: key });
            }
        }
        Ok(Options {
            values,
            client_configs,
        })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    fn required(&self, key: &str, hint: Option<&str>) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| ConfigError::missing(KeyKind::Option, key, hint))
    }

    fn enumeration<T: Copy>(&self, key: &str, table: &[(&'static str, T)]) -> Result<Option<T>> {
        self.get(key)
            .map(|v| lookup_enum(v, key, table))
            .transpose()
    }

    fn required_enum<T: Copy>(&self, key: &str, table: &[(&'static str, T)]) -> Result<T> {
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        let hint = format!("one of {}", names.join(", "));
        lookup_enum(self.required(key, Some(&hint))?, key, table)
    }

    fn name(&self, key: &str) -> Result<Option<String>> {
        self.get(key).map(|v| non_empty(v, key)).transpose()
    }

    fn present<'a>(&self, keys: &[&'a str]) -> Option<&'a str> {
        keys.iter().copied().find(|k| self.values.contains_key(*k))
    }

    /// Builds the profile, the table and the format.
    pub(crate) fn parse(&self) -> Result<Parsed> {
        let kind = self.required_enum("type", TABLE_TYPES)?;
        let (other, other_kind) = match kind {
            TableKind::Source => ("sink.", TableKind::Sink),
            TableKind::Sink => ("source.", TableKind::Source),
        };
        if let Some(stray) = self.values.keys().find(|k| k.starts_with(other)) {
            return Err(ConfigError::WrongTableKind {
                kind: KeyKind::Option,
                path: stray.clone(),
                applies_to: other_kind,
                table_is: kind,
            });
        }
        let table_type = match kind {
            TableKind::Source => TableType::Source(SourceConfig {
                offset: self.required_enum("source.offset", SourceOffset::NAMES)?,
                read_mode: self
                    .enumeration("source.read_mode", ReadMode::NAMES)?
                    .unwrap_or_default(),
                read_mode_set: self.get("source.read_mode").is_some(),
                group_id: self.name("source.group_id")?,
                group_id_prefix: self.name("source.group_id_prefix")?,
            }),
            TableKind::Sink => TableType::Sink(SinkConfig {
                commit_mode: self.required_enum("sink.commit_mode", CommitMode::NAMES)?,
                key_field: self.name("sink.key_field")?,
                timestamp_field: self.name("sink.timestamp_field")?,
            }),
        };

        let bootstrap = parse_template(
            self.required("bootstrap_servers", Some("host:port[,host:port…]"))?,
            "bootstrap_servers",
        )?;
        let authentication = self.authentication()?;
        let schema_registry = self.schema_registry()?;
        let profile = ConnectionProfile::new(
            bootstrap,
            authentication,
            schema_registry,
            Properties::new(),
            KeyKind::Option,
        )?;

        let topic = Topic::parse(self.required("topic", None)?, "topic")?;
        let mut client_configs = Properties::new();
        for (property, value) in &self.client_configs {
            let path = format!("{CLIENT_CONFIGS}{property}");
            client_configs.insert(property.clone(), parse_template(value, &path)?);
        }
        let value_subject = self.name("value_subject")?;
        let bad_data = self
            .enumeration("bad_data", BadDataPolicy::NAMES)?
            .unwrap_or_default();
        let table = TableConfig::new(
            topic,
            table_type,
            client_configs,
            value_subject,
            bad_data,
            KeyKind::Option,
        )?;

        let format = match self.required_enum("format", SQL_FORMATS)? {
            SqlFormat::Known(f) => Some(f),
            SqlFormat::Raw => None,
        };
        Ok(Parsed {
            profile,
            table,
            format,
        })
    }

    fn authentication(&self) -> Result<Authentication> {
        const SASL: &[&str] = &[
            "auth.protocol",
            "auth.mechanism",
            "auth.username",
            "auth.password",
        ];
        const IAM: &[&str] = &["auth.region"];
        let Some(auth_type) = self.enumeration("auth.type", AUTH_TYPES)? else {
            if let Some(option) = self.present(SASL).or_else(|| self.present(IAM)) {
                return Err(ConfigError::missing(
                    KeyKind::Option,
                    "auth.type",
                    Some(&format!(
                        "`{option}` needs 'auth.type' = 'sasl' or 'aws_msk_iam'"
                    )),
                ));
            }
            return Ok(Authentication::None);
        };
        let stray = |options: &[&str], auth: &str| -> Result<()> {
            match self.present(options) {
                Some(option) => Err(ConfigError::Conflict {
                    message: format!("option `{option}` does not apply to 'auth.type' = '{auth}'"),
                }),
                None => Ok(()),
            }
        };
        match auth_type {
            AuthType::None => {
                stray(SASL, "none")?;
                stray(IAM, "none")?;
                Ok(Authentication::None)
            }
            AuthType::Sasl => {
                stray(IAM, "sasl")?;
                Ok(Authentication::Sasl(SaslAuth {
                    protocol: self.required_enum("auth.protocol", SaslProtocol::NAMES)?,
                    mechanism: self.required_enum("auth.mechanism", SaslMechanism::NAMES)?,
                    username: parse_template(
                        self.required("auth.username", None)?,
                        "auth.username",
                    )?,
                    password: Secret::new(parse_template(
                        self.required("auth.password", None)?,
                        "auth.password",
                    )?),
                }))
            }
            AuthType::AwsMskIam => {
                stray(SASL, "aws_msk_iam")?;
                Ok(Authentication::AwsMskIam(AwsMskIamAuth {
                    region: parse_template(
                        self.required(
                            "auth.region",
                            Some("the cluster's AWS region, like us-east-1"),
                        )?,
                        "auth.region",
                    )?,
                }))
            }
        }
    }

    fn schema_registry(&self) -> Result<Option<SchemaRegistry>> {
        const KEYS: &[&str] = &[
            "schema_registry.endpoint",
            "schema_registry.api_key",
            "schema_registry.api_secret",
        ];
        if self.present(KEYS).is_none() {
            return Ok(None);
        }
        let secret = |key: &str| -> Result<Option<Secret<crate::config::Template>>> {
            self.get(key)
                .map(|v| parse_template(v, key).map(Secret::new))
                .transpose()
        };
        Ok(Some(SchemaRegistry {
            endpoint: parse_template(
                self.required("schema_registry.endpoint", None)?,
                "schema_registry.endpoint",
            )?,
            api_key: secret("schema_registry.api_key")?,
            api_secret: secret("schema_registry.api_secret")?,
        }))
    }
}
