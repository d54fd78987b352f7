//! `{{ VAR }}` placeholders: configuration values filled from the environment when the
//! connection is made, so that profiles and `CREATE TABLE` statements can be stored without
//! credentials.
//!
//! A [`Template`] is checked when the configuration is parsed (a `{{` must open a well-formed
//! placeholder) and filled by [`Template::resolve`] with a lookup function, never by reading
//! the process environment itself, so tests and embedders choose where variables come from.
//! Substituted text is not scanned again: a variable whose value contains `{{` is taken as is.

use std::fmt;

/// Where a placeholder was malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderError {
    /// Byte offset of the offending `{{`.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(String),
}

/// A string that may contain `{{ VAR }}` placeholders (spaces inside the braces optional; a
/// name is a letter or `_` followed by letters, digits and `_`).
///
/// ```
/// use laminar_kafka_connector::config::Template;
///
/// let t = Template::parse("SASL {{ USER }}:{{PASS}}").unwrap();
/// let env = |name: &str| match name {
///     "USER" => Some("alice".to_owned()),
///     "PASS" => Some("s3cret".to_owned()),
///     _ => None,
/// };
/// assert_eq!(t.resolve(&env).unwrap(), "SASL alice:s3cret");
/// assert_eq!(Template::parse("{{ USER }}").unwrap().resolve(&|_| None), Err("USER".to_owned()));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    parts: Vec<Part>,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_part(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn skip_blanks(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

impl Template {
    /// Parses a value, checking every `{{`.
    pub fn parse(raw: &str) -> Result<Self, PlaceholderError> {
        let bytes = raw.as_bytes();
        let mut parts = Vec::new();
        let mut literal_start = 0;
        let mut i = 0;
        while i + 1 < bytes.len() {
            if bytes[i] != b'{' || bytes[i + 1] != b'{' {
                i += 1;
                continue;
            }
            let open = i;
            let name_start = skip_blanks(bytes, i + 2);
            if name_start >= bytes.len() || !is_name_start(bytes[name_start]) {
                return Err(PlaceholderError {
                    offset: open,
                    reason: "`{{` must be followed by a variable name (letters, digits, `_`)",
                });
            }
            let mut name_end = name_start + 1;
            while name_end < bytes.len() && is_name_part(bytes[name_end]) {
                name_end += 1;
            }
            let close = skip_blanks(bytes, name_end);
            if close + 1 >= bytes.len() || bytes[close] != b'}' || bytes[close + 1] != b'}' {
                return Err(PlaceholderError {
                    offset: open,
                    reason: "placeholder is not closed by `}}` after the variable name",
                });
            }
            // All indices here sit on ASCII bytes, so they are char boundaries.
            if literal_start < open {
                parts.push(Part::Literal(raw[literal_start..open].to_owned()));
            }
            parts.push(Part::Var(raw[name_start..name_end].to_owned()));
            i = close + 2;
            literal_start = i;
        }
        if literal_start < raw.len() {
            parts.push(Part::Literal(raw[literal_start..].to_owned()));
        }
        Ok(Template {
            raw: raw.to_owned(),
            parts,
        })
    }

    /// The value as written, placeholders included.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The value, if it has no placeholder.
    pub fn as_literal(&self) -> Option<&str> {
        self.parts
            .iter()
            .all(|p| matches!(p, Part::Literal(_)))
            .then_some(self.raw.as_str())
    }

    /// The names of the variables it refers to, in order of appearance.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Fills every placeholder from `env`; on failure returns the name of the first variable
    /// that `env` does not know.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        let mut out = String::with_capacity(self.raw.len());
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(name) => match env(name) {
                    Some(value) => out.push_str(&value),
                    None => return Err(name.clone()),
                },
            }
        }
        Ok(out)
    }
}

/// Shows the text as written: a template in a non-secret field holds no secret (secret fields
/// wrap it in [`Secret`](super::Secret)).
impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.raw, f)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Looks variables up in the process environment; a variable that is not valid UTF-8 counts
/// as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KAFKA_PASSWORD" => Some("pw".to_owned()),
            "A" => Some("{{ B }}".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn placeholders_with_and_without_spaces_resolve() {
        for raw in [
            "{{ KAFKA_PASSWORD }}",
            "{{KAFKA_PASSWORD}}",
            "{{  KAFKA_PASSWORD\t}}",
        ] {
            let t = Template::parse(raw).unwrap();
            assert_eq!(t.variables().collect::<Vec<_>>(), ["KAFKA_PASSWORD"]);
            assert_eq!(t.as_literal(), None);
            assert_eq!(t.resolve(&env).unwrap(), "pw");
        }
        let t = Template::parse("a{{A}}b{{ EMPTY }}c").unwrap();
        // Substituted text is not expanded again.
        assert_eq!(t.resolve(&env).unwrap(), "a{{ B }}bc");
    }

    #[test]
    fn literals_pass_through() {
        for raw in ["", "plain", "a } b }} c", "{ single }", "ünïcödé"] {
            let t = Template::parse(raw).unwrap();
            assert_eq!(t.as_literal(), Some(raw));
            assert_eq!(t.resolve(&|_| None).unwrap(), raw);
        }
    }

    #[test]
    fn missing_variable_is_named() {
        let t = Template::parse("x{{ KAFKA_PASSWORD }}{{ NOPE }}").unwrap();
        assert_eq!(t.resolve(&env), Err("NOPE".to_owned()));
    }

    #[test]
    fn malformed_placeholders_are_rejected_with_their_offset() {
        let cases = [
            (
                "{{",
                0,
                "`{{` must be followed by a variable name (letters, digits, `_`)",
            ),
            (
                "ab{{ }}",
                2,
                "`{{` must be followed by a variable name (letters, digits, `_`)",
            ),
            (
                "{{ 1A }}",
                0,
                "`{{` must be followed by a variable name (letters, digits, `_`)",
            ),
            (
                "{{ A }",
                0,
                "placeholder is not closed by `}}` after the variable name",
            ),
            (
                "{{ A B }}",
                0,
                "placeholder is not closed by `}}` after the variable name",
            ),
            (
                "ok {{A}} {{ A-B }}",
                9,
                "placeholder is not closed by `}}` after the variable name",
            ),
        ];
        for (raw, offset, reason) in cases {
            assert_eq!(
                Template::parse(raw),
                Err(PlaceholderError { offset, reason }),
                "{raw}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_and_resolve_never_panic(raw in ".*") {
            if let Ok(t) = Template::parse(&raw) {
                let _ = t.resolve(&|name| Some(name.to_lowercase()));
                prop_assert_eq!(t.raw(), raw.as_str());
            }
        }

        #[test]
        fn braces_heavy_strings_never_panic(raw in "[{} a_Z0\t]{0,40}") {
            if let Ok(t) = Template::parse(&raw) {
                let resolved = t.resolve(&|_| Some(String::new())).unwrap();
                prop_assert!(resolved.len() <= raw.len());
            }
        }

        #[test]
        fn text_without_double_brace_is_literal(raw in "[^{]*") {
            let t = Template::parse(&raw).unwrap();
            prop_assert_eq!(t.as_literal(), Some(raw.as_str()));
        }
    }
}
