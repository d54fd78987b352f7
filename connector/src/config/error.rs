//! The one error type of configuration: parsing JSON and SQL, validating, and resolving
//! `{{ VAR }}` placeholders.
//!
//! Every message names the field or option it is about, in the spelling the user wrote
//! (`authentication.password` in a JSON profile, `auth.password` in SQL), and never contains
//! the value of a secret.

use std::fmt;

/// A configuration result.
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Whether a key came from a JSON document (a *field*) or a SQL `WITH` clause (an *option*).
///
/// Only changes the noun in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// A field of a JSON object.
    Field,
    /// An option of a SQL `WITH (…)` clause.
    Option,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Field => "field",
            KeyKind::Option => "option",
        })
    }
}

/// Whether a table reads from Kafka or writes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// The table reads records from Kafka.
    Source,
    /// The table writes records to Kafka.
    Sink,
}

impl fmt::Display for TableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TableKind::Source => "source",
            TableKind::Sink => "sink",
        })
    }
}

/// Everything that can be wrong with a connection profile, a table or a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not JSON at all.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON parser expected (never echoes the input).
        message: String,
    },

    /// A value has the wrong JSON type (a string where an object belongs, …).
    #[error("`{path}` must be {expected}, found {found}")]
    WrongType {
        /// Where the value is, e.g. `type.offset`.
        path: String,
        /// What belongs there, e.g. `a string`.
        expected: &'static str,
        /// What was there, e.g. `a number`.
        found: &'static str,
    },

    /// A field or option that does not exist.
    #[error("unknown {kind} `{path}`{}", Suggestion { suggestion: suggestion.as_deref(), known })]
    Unknown {
        /// Field or option.
        kind: KeyKind,
        /// The full name as written, e.g. `type.ofset`.
        path: String,
        /// The closest known name, when one is close enough to be a likely typo.
        suggestion: Option<String>,
        /// Every name that is allowed at that place.
        known: Vec<String>,
    },

    /// A required field or option is absent.
    #[error("missing required {kind} `{path}`{}", Hint(hint))]
    Missing {
        /// Field or option.
        kind: KeyKind,
        /// The full name, e.g. `topic` or `source.offset`.
        path: String,
        /// What it is for or what to write, when that helps.
        hint: Option<String>,
    },

    /// A value outside a fixed set.
    #[error("invalid value `{value}` for `{path}`: expected one of {}", allowed.join(", "))]
    InvalidEnum {
        /// The field or option, e.g. `type.offset`.
        path: String,
        /// The value as written (shortened when long).
        value: String,
        /// Every accepted value.
        allowed: Vec<&'static str>,
    },

    /// A value that is malformed for its field (a bootstrap server without a port, a topic
    /// name with illegal characters, a regex that does not compile, …).
    #[error("invalid `{path}`: {reason}")]
    InvalidValue {
        /// The field or option.
        path: String,
        /// What is wrong, without repeating a secret.
        reason: String,
    },

    /// Fields or options that cannot be used together.
    #[error("{message}")]
    Conflict {
        /// Which ones, and why.
        message: String,
    },

    /// A source option on a sink table, or the other way round.
    #[error("{kind} `{path}` applies only to {applies_to} tables, but this table is a {table_is}")]
    WrongTableKind {
        /// Field or option.
        kind: KeyKind,
        /// The field or option, e.g. `sink.commit_mode`.
        path: String,
        /// The kind of table it belongs to.
        applies_to: TableKind,
        /// The kind this table is.
        table_is: TableKind,
    },

    /// The same SQL option twice.
    #[error("option `{option}` is given more than once")]
    DuplicateOption {
        /// The option.
        option: String,
    },

    /// `{{` that does not open a well-formed `{{ VAR }}` placeholder.
    #[error("invalid placeholder in `{path}` at byte {offset}: {reason}")]
    Placeholder {
        /// The field that holds it.
        path: String,
        /// Byte offset of the `{{` in the value.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },

    /// A `{{ VAR }}` placeholder whose variable is not set when the connection is made.
    #[error("environment variable `{var}` (used in `{path}`) is not set")]
    MissingEnvVar {
        /// The variable name.
        var: String,
        /// The field that refers to it.
        path: String,
    },

    /// The SQL text does not parse.
    #[error("SQL syntax error: {message}")]
    SqlSyntax {
        /// The parser's message, with string literals masked (they may be passwords).
        message: String,
    },

    /// A SQL construct the connector does not accept (a `CREATE TABLE … AS SELECT`, an
    /// option value that is an expression, …).
    #[error("unsupported SQL: {message}")]
    UnsupportedSql {
        /// What, and where.
        message: String,
    },

    /// A column type that has no Arrow mapping here.
    #[error(
        "column `{column}`: unsupported type `{sql_type}`; supported types: {}",
        SUPPORTED_SQL_TYPES
    )]
    UnsupportedType {
        /// The column.
        column: String,
        /// The type as written.
        sql_type: String,
    },

    /// A column declaration that is well-typed but wrong for this table.
    #[error("column `{column}`: {reason}")]
    InvalidColumn {
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
}

/// The SQL types a column may have, as listed in [`ConfigError::UnsupportedType`].
pub(crate) const SUPPORTED_SQL_TYPES: &str = "BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, REAL, FLOAT, \
DOUBLE, DECIMAL(p,s), NUMERIC(p,s), TEXT, VARCHAR, CHAR, STRING, BYTEA, BINARY, VARBINARY, BLOB, \
DATE, TIME, TIMESTAMP, TIMESTAMP WITH TIME ZONE, JSON";

struct Suggestion<'a> {
    suggestion: Option<&'a str>,
    known: &'a [String],
}

impl fmt::Display for Suggestion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.suggestion {
            Some(s) => write!(f, "; did you mean `{s}`?"),
            None if self.known.is_empty() => Ok(()),
            None => write!(f, "; expected one of: {}", self.known.join(", ")),
        }
    }
}

struct Hint<'a>(&'a Option<String>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, " ({h})"),
            None => Ok(()),
        }
    }
}

/// Shortens a user value for an error message: at most 64 characters, control characters
/// escaped, so a hostile value cannot flood or forge a log line.
pub(crate) fn shorten(value: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The closest of `known` to `name`, if it is close enough to be a typo: the same name up to
/// case and `_`/`.`/`-`, or within an edit distance of about a third of its length.
pub(crate) fn closest<'a, I>(name: &str, known: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    fn squash(s: &str) -> String {
        s.chars()
            .filter(|c| !matches!(c, '_' | '.' | '-'))
            .flat_map(char::to_lowercase)
            .collect()
    }
    let squashed = squash(name);
    let limit = (name.chars().count() / 3).max(2);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in known {
        let distance = if squash(candidate) == squashed {
            0
        } else {
            strsim::levenshtein(name, candidate)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

impl ConfigError {
    /// An unknown-key error with a "did you mean" for the closest known key.
    pub(crate) fn unknown(kind: KeyKind, path: String, name: &str, known: &[&str]) -> Self {
        ConfigError::Unknown {
            kind,
            path,
            suggestion: closest(name, known.iter().copied()).map(str::to_owned),
            known: known.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// A missing-key error.
    pub(crate) fn missing(kind: KeyKind, path: impl Into<String>, hint: Option<&str>) -> Self {
        ConfigError::Missing {
            kind,
            path: path.into(),
            hint: hint.map(str::to_owned),
        }
    }

    /// A value-outside-a-set error.
    pub(crate) fn invalid_enum(
        path: impl Into<String>,
        value: &str,
        allowed: &[&'static str],
    ) -> Self {
        ConfigError::InvalidEnum {
            path: path.into(),
            value: shorten(value),
            allowed: allowed.to_vec(),
        }
    }

    /// A malformed-value error.
    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::InvalidValue {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_spelling_variants() {
        let known = ["offset", "read_mode", "group_id", "group_id_prefix"];
        assert_eq!(closest("ofset", known), Some("offset"));
        assert_eq!(closest("readMode", known), Some("read_mode"));
        assert_eq!(closest("group-id", known), Some("group_id"));
        assert_eq!(closest("group_id_prefx", known), Some("group_id_prefix"));
        assert_eq!(closest("partition", known), None);
        assert_eq!(
            closest("bootstrapServers", ["bootstrap_servers", "topic"]),
            Some("bootstrap_servers")
        );
    }

    #[test]
    fn shorten_cuts_long_values_and_escapes_control_characters() {
        assert_eq!(shorten("abc"), "abc");
        assert_eq!(shorten("a\nb"), "a\\nb");
        let long = "x".repeat(100);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), 65);
        assert!(short.ends_with('…'));
    }
}
