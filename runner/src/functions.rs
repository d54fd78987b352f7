//! Scalar functions the reference page's SQL uses that DataFusion lacks or evaluates once per
//! query: `JSON_VALUE(json, '$.path')` and a `NOW()` evaluated per batch.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// One step of a JSON path: a field or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Field(String),
    Index(usize),
}

/// Parses `$.a.b[0]["c d"]`; `None` when it is not such a path.
pub(crate) fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Field(r[..end].to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            if let Some(quoted) = inner
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            {
                steps.push(Step::Field(quoted.to_owned()));
            } else {
                steps.push(Step::Index(inner.parse().ok()?));
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The value at `steps` in `json`, as text: strings unquoted, other scalars as written,
/// objects and arrays as JSON; `None` when absent, null, or `json` is not JSON.
pub(crate) fn json_value(json: &str, steps: &[Step]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut at = &value;
    for step in steps {
        at = match step {
            Step::Field(name) => at.get(name)?,
            Step::Index(i) => at.get(*i)?,
        };
    }
    match at {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonValue {
    signature: Signature,
}

impl ScalarUDFImpl for JsonValue {
    fn name(&self) -> &str {
        "json_value"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [json, path] = args.args.as_slice() else {
            return exec_err!("JSON_VALUE takes two arguments: a JSON text and a path");
        };
        let ColumnarValue::Scalar(path) = path else {
            return exec_err!("JSON_VALUE's path must be a constant, such as '$.score'");
        };
        let path = match path {
            ScalarValue::Utf8(Some(p))
            | ScalarValue::LargeUtf8(Some(p))
            | ScalarValue::Utf8View(Some(p)) => p.clone(),
            _ => return exec_err!("JSON_VALUE's path must be a string"),
        };
        let Some(steps) = parse_path(&path) else {
            return exec_err!("JSON_VALUE path `{path}` is not of the form $.field[index]…");
        };
        let rows = args.number_rows;
        let texts: ArrayRef = json.to_array(rows)?;
        let texts = arrow::compute::cast(&texts, &DataType::Utf8)?;
        let texts = texts
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        let mut out = StringBuilder::with_capacity(texts.len(), texts.len() * 8);
        for i in 0..texts.len() {
            if texts.is_null(i) {
                out.append_null();
            } else {
                out.append_option(json_value(texts.value(i), &steps));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `JSON_VALUE(json_text, '$.path')`: the value at the path as text (NULL when absent).
pub fn json_value_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(JsonValue {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Now {
    signature: Signature,
}

impl ScalarUDFImpl for Now {
    fn name(&self) -> &str {
        "now"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Nanosecond,
            Some("+00:00".into()),
        ))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        Ok(ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(
            Some(now),
            Some("+00:00".into()),
        )))
    }
}

/// `NOW()` as the time each batch is processed, not the time the query started (a stream's
/// query never ends, so a statement-time `NOW()` would stand still).
pub fn now_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Now {
        signature: Signature::nullary(Volatility::Volatile),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_fields_indexes_and_quoted_names() {
        assert_eq!(
            parse_path("$.a.b[2]['c d']"),
            Some(vec![
                Step::Field("a".into()),
                Step::Field("b".into()),
                Step::Index(2),
                Step::Field("c d".into())
            ])
        );
        assert_eq!(parse_path("$"), Some(vec![]));
        assert_eq!(parse_path("a.b"), None);
        assert_eq!(parse_path("$..a"), None);
        assert_eq!(parse_path("$[x]"), None);
    }

    #[test]
    fn values_come_out_as_text() {
        let doc = r#"{"score": 1.5, "tags": ["a", {"b": true}], "name": "n", "nothing": null}"#;
        let at = |p: &str| json_value(doc, &parse_path(p).unwrap());
        assert_eq!(at("$.score").as_deref(), Some("1.5"));
        assert_eq!(at("$.tags[0]").as_deref(), Some("a"));
        assert_eq!(at("$.tags[1].b").as_deref(), Some("true"));
        assert_eq!(at("$.tags[1]").as_deref(), Some(r#"{"b":true}"#));
        assert_eq!(at("$.name").as_deref(), Some("n"));
        assert_eq!(at("$.nothing"), None);
        assert_eq!(at("$.missing"), None);
        assert_eq!(json_value("not json", &[]), None);
    }
}
