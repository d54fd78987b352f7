//! Connection profiles: the reusable cluster settings a table refers to — bootstrap servers,
//! authentication, an optional schema registry and extra client properties.
//!
//! This module parses and checks them and turns them into client properties; it opens no
//! connection and reads no environment variable by itself.

use serde_json::Value;

use super::error::{ConfigError, KeyKind, Result};
use super::json::{self, Obj};
use super::placeholder::Template;
use super::properties::{KafkaProperties, Properties, check_key};
use super::secret::Secret;
use super::{Env, resolve_template};

/// Cluster settings shared by every table that uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionProfile {
    /// Comma-separated `host:port` list (`bootstrapServers`).
    pub bootstrap_servers: Template,
    /// How to authenticate to the brokers.
    pub authentication: Authentication,
    /// The schema registry, if any (`schemaRegistryEnum`).
    pub schema_registry: Option<SchemaRegistry>,
    /// Extra client properties (`connectionProperties`), applied over what the typed fields
    /// imply.
    pub connection_properties: Properties,
    /// Whether this came from JSON or SQL: decides how fields are named in errors.
    pub(crate) syntax: KeyKind,
}

/// How the connector authenticates to the brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authentication {
    /// Plaintext, no authentication (`{}`).
    None,
    /// SASL with a user name and password.
    Sasl(SaslAuth),
    /// AWS MSK IAM: credentials come from the AWS environment, only the region is configured.
    AwsMskIam(AwsMskIamAuth),
}

/// SASL settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaslAuth {
    /// `SASL_PLAINTEXT` or `SASL_SSL`.
    pub protocol: SaslProtocol,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: SaslMechanism,
    /// The user name (may hold placeholders).
    pub username: Template,
    /// The password (may hold placeholders; printed as `***`).
    pub password: Secret<Template>,
}

/// The transport under SASL (`security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslProtocol {
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SaslProtocol {
    pub(crate) const NAMES: &'static [(&'static str, SaslProtocol)] = &[
        ("SASL_PLAINTEXT", SaslProtocol::SaslPlaintext),
        ("SASL_SSL", SaslProtocol::SaslSsl),
    ];

    /// The `security.protocol` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SaslProtocol::SaslSsl => "SASL_SSL",
        }
    }
}

/// The SASL mechanism (`sasl.mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// `PLAIN`: the password in clear, for TLS connections.
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    pub(crate) const NAMES: &'static [(&'static str, SaslMechanism)] = &[
        ("PLAIN", SaslMechanism::Plain),
        ("SCRAM-SHA-256", SaslMechanism::ScramSha256),
        ("SCRAM-SHA-512", SaslMechanism::ScramSha512),
    ];

    /// The `sasl.mechanism` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// AWS MSK IAM settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsMskIamAuth {
    /// The AWS region of the cluster, e.g. `us-east-1` (may hold placeholders).
    pub region: Template,
}

/// A Confluent-compatible schema registry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaRegistry {
    /// Its `http://` or `https://` URL.
    pub endpoint: Template,
    /// API key for basic authentication (printed as `***`).
    pub api_key: Option<Secret<Template>>,
    /// API secret for basic authentication (printed as `***`).
    pub api_secret: Option<Secret<Template>>,
}

/// A schema registry with placeholders filled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedSchemaRegistry {
    /// Its URL.
    pub endpoint: String,
    /// API key and secret, when it needs authentication.
    pub credentials: Option<(Secret<String>, Secret<String>)>,
}

/// A profile with placeholders filled, ready to configure a client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedProfile {
    /// Client properties: what the typed fields imply, overridden by `connectionProperties`.
    pub properties: KafkaProperties,
    /// The schema registry, if configured.
    pub schema_registry: Option<ResolvedSchemaRegistry>,
}

/// Which field of a profile, for naming it in JSON or SQL spelling.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProfileField {
    BootstrapServers,
    Username,
    Password,
    Region,
    Endpoint,
    ApiKey,
    ApiSecret,
}

impl ProfileField {
    pub(crate) fn name(self, syntax: KeyKind) -> &'static str {
        let json = matches!(syntax, KeyKind::Field);
        match (self, json) {
            (ProfileField::BootstrapServers, true) => "bootstrapServers",
            (ProfileField::BootstrapServers, false) => "bootstrap_servers",
            (ProfileField::Username, true) => "authentication.username",
            (ProfileField::Username, false) => "auth.username",
            (ProfileField::Password, true) => "authentication.password",
            (ProfileField::Password, false) => "auth.password",
            (ProfileField::Region, true) => "authentication.region",
            (ProfileField::Region, false) => "auth.region",
            (ProfileField::Endpoint, true) => "schemaRegistryEnum.endpoint",
            (ProfileField::Endpoint, false) => "schema_registry.endpoint",
            (ProfileField::ApiKey, true) => "schemaRegistryEnum.apiKey",
            (ProfileField::ApiKey, false) => "schema_registry.api_key",
            (ProfileField::ApiSecret, true) => "schemaRegistryEnum.apiSecret",
            (ProfileField::ApiSecret, false) => "schema_registry.api_secret",
        }
    }
}

const PROFILE_FIELDS: &[&str] = &[
    "bootstrapServers",
    "authentication",
    "schemaRegistryEnum",
    "connectionProperties",
];
const SASL_FIELDS: &[&str] = &["protocol", "mechanism", "username", "password"];
const AUTH_FIELDS: &[&str] = &["protocol", "mechanism", "username", "password", "region"];
const REGISTRY_FIELDS: &[&str] = &["endpoint", "apiKey", "apiSecret"];

impl ConnectionProfile {
    /// Builds a profile from its parts, checking every literal value (placeholders are checked
    /// once filled, by [`resolve`](Self::resolve)). `syntax` says how fields are named in errors.
    pub(crate) fn new(
        bootstrap_servers: Template,
        authentication: Authentication,
        schema_registry: Option<SchemaRegistry>,
        connection_properties: Properties,
        syntax: KeyKind,
    ) -> Result<Self> {
        let profile = ConnectionProfile {
            bootstrap_servers,
            authentication,
            schema_registry,
            connection_properties,
            syntax,
        };
        profile.check_literals()?;
        Ok(profile)
    }

    /// Reads the `config` object of a profile.
    pub(crate) fn from_json(value: &Value, path: &str) -> Result<Self> {
        let obj = Obj::open(value, path, PROFILE_FIELDS)?;
        let bootstrap = obj.req_template("bootstrapServers")?;
        let authentication = match obj.get("authentication") {
            Some(v) => Authentication::from_json(v, &obj.path_of("authentication"))?,
            None => {
                return Err(ConfigError::missing(
                    KeyKind::Field,
                    obj.path_of("authentication"),
                    Some("use {} for no authentication"),
                ));
            }
        };
        let schema_registry = match obj.get("schemaRegistryEnum") {
            Some(v) => SchemaRegistry::from_json(v, &obj.path_of("schemaRegistryEnum"))?,
            None => None,
        };
        let connection_properties = match obj.get("connectionProperties") {
            Some(v) => properties_from_json(v, &obj.path_of("connectionProperties"))?,
            None => Properties::new(),
        };
        Self::new(
            bootstrap,
            authentication,
            schema_registry,
            connection_properties,
            KeyKind::Field,
        )
    }

    fn name(&self, field: ProfileField) -> &'static str {
        field.name(self.syntax)
    }

    /// Checks the fields that hold no placeholder now, so mistakes show before any connection.
    fn check_literals(&self) -> Result<()> {
        if let Some(servers) = self.bootstrap_servers.as_literal() {
            check_bootstrap_servers(servers, self.name(ProfileField::BootstrapServers))?;
        }
        if let Authentication::AwsMskIam(iam) = &self.authentication {
            if let Some(region) = iam.region.as_literal() {
                check_region(region, self.name(ProfileField::Region))?;
            }
        }
        if let Some(registry) = &self.schema_registry {
            if let Some(endpoint) = registry.endpoint.as_literal() {
                check_endpoint(endpoint, self.name(ProfileField::Endpoint))?;
            }
            if registry.api_key.is_some() != registry.api_secret.is_some() {
                return Err(ConfigError::Conflict {
                    message: format!(
                        "`{}` and `{}` must be given together",
                        self.name(ProfileField::ApiKey),
                        self.name(ProfileField::ApiSecret)
                    ),
                });
            }
        }
        Ok(())
    }

    /// The client properties the typed fields imply (`bootstrap.servers`, `security.protocol`,
    /// `sasl.*`), with placeholders filled and values checked.
    pub(crate) fn typed_properties(&self, env: &Env<'_>) -> Result<KafkaProperties> {
        let mut props = KafkaProperties::new();
        let servers_name = self.name(ProfileField::BootstrapServers);
        let servers = resolve_template(&self.bootstrap_servers, servers_name, env)?;
        props.set(
            "bootstrap.servers",
            check_bootstrap_servers(&servers, servers_name)?,
        );
        match &self.authentication {
            Authentication::None => props.set("security.protocol", "PLAINTEXT"),
            Authentication::Sasl(sasl) => {
                props.set("security.protocol", sasl.protocol.as_str());
                props.set("sasl.mechanism", sasl.mechanism.as_str());
                let username =
                    resolve_template(&sasl.username, self.name(ProfileField::Username), env)?;
                if username.is_empty() {
                    return Err(ConfigError::invalid(
                        self.name(ProfileField::Username),
                        "user name is empty",
                    ));
                }
                props.set("sasl.username", username);
                props.set(
                    "sasl.password",
                    resolve_template(
                        sasl.password.expose(),
                        self.name(ProfileField::Password),
                        env,
                    )?,
                );
            }
            Authentication::AwsMskIam(iam) => {
                let name = self.name(ProfileField::Region);
                let region = resolve_template(&iam.region, name, env)?;
                check_region(&region, name)?;
                // MSK IAM over OAUTHBEARER with the MSK token, as AWS now recommends;
                // `connectionProperties` may pick the older AWS_MSK_IAM mechanism instead
                // (`sasl.mechanism` = `AWS_MSK_IAM`).
                props.set("security.protocol", "SASL_SSL");
                props.set("sasl.mechanism", "OAUTHBEARER");
                props.set("sasl.oauthbearer.method", "aws_msk_iam");
                props.set("sasl.aws.region", region);
            }
        }
        Ok(props)
    }

    /// Resolves the connection properties of this profile alone (no table): what the typed
    /// fields imply, overridden by `connectionProperties`.
    pub(crate) fn connection_properties(
        &self,
        env: &Env<'_>,
        into: &mut KafkaProperties,
    ) -> Result<()> {
        let prefix = match self.syntax {
            KeyKind::Field => "connectionProperties",
            _ => "client_configs",
        };
        resolve_properties(&self.connection_properties, prefix, env, into)
    }

    /// Fills placeholders from `env` and checks the result. Nothing connects.
    ///
    /// ```
    /// use laminar_kafka_connector::config::parse_profile_json;
    ///
    /// let profile = parse_profile_json(r#"{
    ///     "bootstrapServers": "b1:9092",
    ///     "authentication": {"protocol": "SASL_SSL", "mechanism": "PLAIN",
    ///                        "username": "u", "password": "{{ PW }}"}
    /// }"#).unwrap();
    /// let resolved = profile.resolve(&|v: &str| (v == "PW").then(|| "pw".to_owned())).unwrap();
    /// assert_eq!(resolved.properties.get("sasl.password"), Some("pw"));
    /// ```
    pub fn resolve(&self, env: &Env<'_>) -> Result<ResolvedProfile> {
        let mut properties = self.typed_properties(env)?;
        self.connection_properties(env, &mut properties)?;
        Ok(ResolvedProfile {
            properties,
            schema_registry: self.resolve_registry(env)?,
        })
    }

    pub(crate) fn resolve_registry(&self, env: &Env<'_>) -> Result<Option<ResolvedSchemaRegistry>> {
        let Some(registry) = &self.schema_registry else {
            return Ok(None);
        };
        let endpoint_name = self.name(ProfileField::Endpoint);
        let endpoint = resolve_template(&registry.endpoint, endpoint_name, env)?;
        check_endpoint(&endpoint, endpoint_name)?;
        let credentials = match (&registry.api_key, &registry.api_secret) {
            (Some(key), Some(secret)) => Some((
                Secret::new(resolve_template(
                    key.expose(),
                    self.name(ProfileField::ApiKey),
                    env,
                )?),
                Secret::new(resolve_template(
                    secret.expose(),
                    self.name(ProfileField::ApiSecret),
                    env,
                )?),
            )),
            _ => None,
        };
        Ok(Some(ResolvedSchemaRegistry {
            endpoint,
            credentials,
        }))
    }
}

/// Resolves `props` into `into`, naming fields `prefix.key` in errors.
pub(crate) fn resolve_properties(
    props: &Properties,
    prefix: &str,
    env: &Env<'_>,
    into: &mut KafkaProperties,
) -> Result<()> {
    for (key, value) in props.iter() {
        let value = resolve_template(value, &format!("{prefix}.{key}"), env)?;
        into.set(key, value);
    }
    Ok(())
}

impl Authentication {
    fn from_json(value: &Value, path: &str) -> Result<Self> {
        let obj = Obj::open(value, path, AUTH_FIELDS)?;
        let sasl_key = SASL_FIELDS.iter().find(|k| obj.has(k));
        match (sasl_key, obj.has("region")) {
            (Some(key), true) => Err(ConfigError::Conflict {
                message: format!(
                    "`{path}` mixes the SASL field `{key}` with the AWS MSK IAM field `region`; \
                     use one kind of authentication"
                ),
            }),
            (None, true) => Ok(Authentication::AwsMskIam(AwsMskIamAuth {
                region: obj.req_template("region")?,
            })),
            (Some(_), false) => {
                let protocol = obj
                    .enumeration("protocol", SaslProtocol::NAMES)?
                    .ok_or_else(|| {
                        ConfigError::missing(KeyKind::Field, obj.path_of("protocol"), None)
                    })?;
                let mechanism = obj
                    .enumeration("mechanism", SaslMechanism::NAMES)?
                    .ok_or_else(|| {
                        ConfigError::missing(KeyKind::Field, obj.path_of("mechanism"), None)
                    })?;
                Ok(Authentication::Sasl(SaslAuth {
                    protocol,
                    mechanism,
                    username: obj.req_template("username")?,
                    password: Secret::new(obj.req_template("password")?),
                }))
            }
            (None, false) => Ok(Authentication::None),
        }
    }
}

impl SchemaRegistry {
    fn from_json(value: &Value, path: &str) -> Result<Option<Self>> {
        let obj = Obj::open(value, path, REGISTRY_FIELDS)?;
        if obj.map().values().all(Value::is_null) {
            return Ok(None);
        }
        Ok(Some(SchemaRegistry {
            endpoint: obj.req_template("endpoint")?,
            api_key: obj.template("apiKey")?.map(Secret::new),
            api_secret: obj.template("apiSecret")?.map(Secret::new),
        }))
    }
}

/// Reads an object of client properties.
pub(crate) fn properties_from_json(value: &Value, path: &str) -> Result<Properties> {
    let obj = Obj::open_any(value, path)?;
    let mut props = Properties::new();
    for (key, value) in obj.map() {
        let key_path = obj.path_of(key);
        check_key(key, &key_path)?;
        if value.is_null() {
            continue;
        }
        props.insert(key.clone(), json::property_value(value, &key_path)?);
    }
    Ok(props)
}

/// Checks a bootstrap server list and returns it normalised (entries trimmed, joined by `,`).
pub(crate) fn check_bootstrap_servers(servers: &str, path: &str) -> Result<String> {
    let mut out = Vec::new();
    for entry in servers.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err(ConfigError::invalid(
                path,
                if out.is_empty() && servers.trim().is_empty() {
                    "no bootstrap server given (expected host:port[,host:port…])".to_owned()
                } else {
                    "empty entry in the server list".to_owned()
                },
            ));
        }
        let shown = crate::config::error::shorten(entry);
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() => (host, port),
            _ => {
                return Err(ConfigError::invalid(
                    path,
                    format!("`{shown}` is not host:port"),
                ));
            }
        };
        let host_ok = if let Some(inner) = host.strip_prefix('[') {
            inner
                .strip_suffix(']')
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
        } else {
            host.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        if !host_ok {
            return Err(ConfigError::invalid(
                path,
                format!("`{shown}` has an invalid host name"),
            ));
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 && !port.starts_with('+') => {}
            _ => {
                return Err(ConfigError::invalid(
                    path,
                    format!("`{shown}` has an invalid port (expected 1-65535)"),
                ));
            }
        }
        out.push(entry);
    }
    Ok(out.join(","))
}

/// Checks an AWS region name such as `us-east-1`.
pub(crate) fn check_region(region: &str, path: &str) -> Result<()> {
    let ok = !region.is_empty()
        && region.len() <= 32
        && region.split('-').count() >= 3
        && region.split('-').all(|p| !p.is_empty())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            path,
            format!(
                "`{}` is not an AWS region (like us-east-1)",
                crate::config::error::shorten(region)
            ),
        ))
    }
}

/// Checks a schema registry URL: `http://` or `https://` and a host.
pub(crate) fn check_endpoint(endpoint: &str, path: &str) -> Result<()> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    let reason = match rest {
        None => "must start with http:// or https://",
        Some(rest) if rest.is_empty() || rest.starts_with(['/', ':']) => "has no host",
        Some(_)
            if endpoint
                .chars()
                .any(|c| c.is_whitespace() || c.is_control()) =>
        {
            "must not contain spaces"
        }
        Some(_) => return Ok(()),
    };
    Err(ConfigError::invalid(path, format!("URL {reason}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_servers_are_checked_and_normalised() {
        assert_eq!(
            check_bootstrap_servers("b1:9092, b2:9093 ,[::1]:9094", "s").unwrap(),
            "b1:9092,b2:9093,[::1]:9094"
        );
        let cases = [
            (
                "",
                "no bootstrap server given (expected host:port[,host:port…])",
            ),
            ("b1:9092,,b2:9092", "empty entry in the server list"),
            ("b1", "`b1` is not host:port"),
            (":9092", "`:9092` is not host:port"),
            ("b1:0", "`b1:0` has an invalid port (expected 1-65535)"),
            (
                "b1:70000",
                "`b1:70000` has an invalid port (expected 1-65535)",
            ),
            ("b1:+1", "`b1:+1` has an invalid port (expected 1-65535)"),
            ("b 1:9092", "`b 1:9092` has an invalid host name"),
            ("[zz]:9092", "`[zz]:9092` has an invalid host name"),
        ];
        for (input, reason) in cases {
            assert_eq!(
                check_bootstrap_servers(input, "bootstrapServers")
                    .unwrap_err()
                    .to_string(),
                format!("invalid `bootstrapServers`: {reason}"),
                "{input}"
            );
        }
    }

    #[test]
    fn regions_and_endpoints_are_checked() {
        for ok in ["us-east-1", "us-gov-west-1", "cn-north-1", "eu-central-2"] {
            assert!(check_region(ok, "r").is_ok(), "{ok}");
        }
        for bad in ["", "useast1", "US-EAST-1", "us--1", "us east 1"] {
            assert!(check_region(bad, "r").is_err(), "{bad}");
        }
        assert!(check_endpoint("http://registry:8081", "e").is_ok());
        assert!(check_endpoint("https://r.example.com/path", "e").is_ok());
        assert_eq!(
            check_endpoint("registry:8081", "e")
                .unwrap_err()
                .to_string(),
            "invalid `e`: URL must start with http:// or https://"
        );
        assert_eq!(
            check_endpoint("http://", "e").unwrap_err().to_string(),
            "invalid `e`: URL has no host"
        );
    }
}
