//! Kafka client properties keyed by their librdkafka / Java names (`bootstrap.servers`,
//! `sasl.password`, `max.poll.records`, …): [`Properties`] as configured (values may hold
//! placeholders) and [`KafkaProperties`] once resolved.
//!
//! Both print the values of sensitive keys (see [`is_secret_property`]) as `***`.

use std::collections::BTreeMap;
use std::fmt;

use super::error::{ConfigError, Result};
use super::placeholder::Template;
use super::secret::is_secret_property;

/// Checks a property name: non-empty, printable ASCII without spaces, as Kafka's are.
pub(crate) fn check_key(key: &str, path: &str) -> Result<()> {
    if key.is_empty() {
        return Err(ConfigError::invalid(path, "property name is empty"));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::invalid(
            path,
            "property name must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// Client properties as configured: `connectionProperties` of a profile or `client_configs`
/// of a table. Values may hold `{{ VAR }}` placeholders.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: BTreeMap<String, Template>,
}

impl Properties {
    /// No properties.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn insert(&mut self, key: String, value: Template) {
        self.entries.insert(key, value);
    }

    /// The configured value of `key`.
    pub fn get(&self, key: &str) -> Option<&Template> {
        self.entries.get(key)
    }

    /// All entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Template)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .map(|(k, v)| (k, Masked::new(k, v.raw()))),
            )
            .finish()
    }
}

/// Resolved client properties: the flat map a Kafka client is configured from.
///
/// ```
/// use laminar_kafka_connector::config::KafkaProperties;
///
/// let mut props = KafkaProperties::new();
/// props.set("sasl.username", "alice");
/// props.set("sasl.password", "hunter2");
/// assert_eq!(props.get("sasl.password"), Some("hunter2"));
/// assert_eq!(format!("{props:?}"), r#"{"sasl.password": ***, "sasl.username": "alice"}"#);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaProperties {
    entries: BTreeMap<String, String>,
}

impl KafkaProperties {
    /// No properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key`, replacing any earlier value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.insert(key.into(), value.into());
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// All entries in key order, secrets included: callers that print must mask
    /// [`is_secret_property`] themselves (or print the map with `{:?}`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The map itself, secrets included.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.entries
    }
}

impl fmt::Debug for KafkaProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, Masked::new(k, v))))
            .finish()
    }
}

/// A property value that prints as `***` when its key is sensitive.
struct Masked<'a> {
    value: &'a str,
    sensitive: bool,
}

impl<'a> Masked<'a> {
    fn new(key: &str, value: &'a str) -> Self {
        Masked {
            value,
            sensitive: is_secret_property(key),
        }
    }
}

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sensitive {
            f.write_str("***")
        } else {
            fmt::Debug::fmt(self.value, f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_are_masked_in_debug() {
        let mut p = Properties::new();
        p.insert("ssl.key.password".into(), Template::parse("pw1").unwrap());
        p.insert("linger.ms".into(), Template::parse("5").unwrap());
        let shown = format!("{p:?}");
        assert_eq!(shown, r#"{"linger.ms": "5", "ssl.key.password": ***}"#);
    }

    #[test]
    fn property_names_are_checked() {
        assert!(check_key("max.poll.records", "p").is_ok());
        assert_eq!(
            check_key("", "client_configs").unwrap_err().to_string(),
            "invalid `client_configs`: property name is empty"
        );
        assert_eq!(
            check_key("max poll", "client_configs.max poll")
                .unwrap_err()
                .to_string(),
            "invalid `client_configs.max poll`: property name must be printable ASCII without spaces"
        );
    }
}
