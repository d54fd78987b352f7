//! Reading JSON objects field by field with precise errors: unknown fields with a suggestion,
//! missing fields, wrong types, values outside a set. Private to `config`.

use serde_json::{Map, Value};

use super::error::{ConfigError, KeyKind, Result};
use super::placeholder::Template;

/// Parses JSON text, mapping syntax errors to [`ConfigError::Json`].
pub(crate) fn parse_value(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| ConfigError::Json {
        line: e.line(),
        column: e.column(),
        message: syntax_message(&e),
    })
}

/// serde_json's message without its trailing " at line L column C" (we print those ourselves).
fn syntax_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// "a string", "an object", … for messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Joins a parent path and a key: `("type", "offset")` → `type.offset`.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// One JSON object being read; unknown keys were rejected when it was opened.
pub(crate) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// Opens `value` (at `path`) as an object whose keys must all be in `known`.
    pub(crate) fn open(value: &'a Value, path: &str, known: &[&str]) -> Result<Self> {
        let obj = Self::open_any(value, path)?;
        if let Some(key) = obj.map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ConfigError::unknown(
                KeyKind::Field,
                join(path, key),
                key,
                known,
            ));
        }
        Ok(obj)
    }

    /// Opens `value` as an object without checking its keys.
    pub(crate) fn open_any(value: &'a Value, path: &str) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Obj {
                path: path.to_owned(),
                map,
            }),
            other => Err(ConfigError::WrongType {
                path: if path.is_empty() {
                    "(top level)".to_owned()
                } else {
                    path.to_owned()
                },
                expected: "an object",
                found: describe(other),
            }),
        }
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub(crate) fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// Whether `key` is present with a non-null value.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The value of `key`; `null` counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn required(&self, key: &str) -> Result<&'a Value> {
        self.get(key)
            .ok_or_else(|| ConfigError::missing(KeyKind::Field, self.path_of(key), None))
    }

    /// An optional string field.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ConfigError::WrongType {
                path: self.path_of(key),
                expected: "a string",
                found: describe(other),
            }),
        }
    }

    /// A required string field.
    pub(crate) fn req_str(&self, key: &str) -> Result<&'a str> {
        self.str(key)?
            .ok_or_else(|| ConfigError::missing(KeyKind::Field, self.path_of(key), None))
    }

    /// An optional string field that may hold `{{ VAR }}` placeholders.
    pub(crate) fn template(&self, key: &str) -> Result<Option<Template>> {
        self.str(key)?
            .map(|s| template(s, &self.path_of(key)))
            .transpose()
    }

    /// A required string field that may hold `{{ VAR }}` placeholders.
    pub(crate) fn req_template(&self, key: &str) -> Result<Template> {
        template(self.req_str(key)?, &self.path_of(key))
    }

    /// An optional string field with a value from a fixed set.
    pub(crate) fn enumeration<T: Copy>(
        &self,
        key: &str,
        table: &[(&'static str, T)],
    ) -> Result<Option<T>> {
        self.str(key)?
            .map(|s| lookup_enum(s, &self.path_of(key), table))
            .transpose()
    }
}

/// Parses a template value, attributing errors to `path`.
pub(crate) fn template(raw: &str, path: &str) -> Result<Template> {
    Template::parse(raw).map_err(|e| ConfigError::Placeholder {
        path: path.to_owned(),
        offset: e.offset,
        reason: e.reason,
    })
}

/// Finds `value` in a `(name, value)` table; ASCII case is ignored.
pub(crate) fn lookup_enum<T: Copy>(
    value: &str,
    path: &str,
    table: &[(&'static str, T)],
) -> Result<T> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value.trim()))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let allowed: Vec<&'static str> = table.iter().map(|(name, _)| *name).collect();
            ConfigError::invalid_enum(path, value, &allowed)
        })
}

/// A property value: strings as they are; numbers and booleans as their JSON text, since
/// Kafka client properties are strings and `"max.poll.records": 1000` is an easy mistake.
pub(crate) fn property_value(value: &Value, path: &str) -> Result<Template> {
    match value {
        Value::String(s) => template(s, path),
        Value::Number(n) => Ok(template(&n.to_string(), path)?),
        Value::Bool(b) => Ok(template(if *b { "true" } else { "false" }, path)?),
        other => Err(ConfigError::WrongType {
            path: path.to_owned(),
            expected: "a string",
            found: describe(other),
        }),
    }
}
