//! `CREATE TABLE … WITH (connector = 'kafka', …)` into a [`TableDefinition`]: the same typed
//! configuration as the JSON API, plus an Arrow schema from the column list.
//!
//! Statements are parsed with `sqlparser` in a dialect that accepts everything its generic
//! dialect does and also a column named `key`. A script may hold other statements
//! (`INSERT … SELECT`, tables of other connectors); they are returned as text for the engine.
//!
//! Options (names case-insensitive, quoted or not):
//!
//! | option | meaning |
//! |---|---|
//! | `connector` | `'kafka'` (required) |
//! | `bootstrap_servers` | `host:port[,host:port…]` (required) |
//! | `topic` | a topic name, or a regular expression matching whole names (sources only) |
//! | `type` | `source` or `sink` (required) |
//! | `format` | `json`, `avro`, `protobuf`, `raw`, `raw_string`, `raw_bytes`, `debezium_json` (required) |
//! | `value_subject`, `bad_data` | as in the JSON table config |
//! | `source.offset`, `source.read_mode`, `source.group_id`, `source.group_id_prefix` | source options |
//! | `sink.commit_mode`, `sink.key_field`, `sink.timestamp_field` | sink options |
//! | `auth.type` | `none` (default), `sasl`, `aws_msk_iam` |
//! | `auth.protocol`, `auth.mechanism`, `auth.username`, `auth.password` | SASL |
//! | `auth.region` | AWS MSK IAM |
//! | `schema_registry.endpoint`, `schema_registry.api_key`, `schema_registry.api_secret` | schema registry |
//! | `client_configs.<property>` | any client property, applied last |
//!
//! Column types: BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, REAL, FLOAT, DOUBLE, DECIMAL(p,s)
//! (bare DECIMAL is [`DEFAULT_DECIMAL`]), TEXT/VARCHAR/CHAR/STRING, BYTEA/BINARY/VARBINARY/BLOB,
//! DATE, TIME, TIMESTAMP (nanoseconds unless a precision says otherwise), TIMESTAMP WITH TIME
//! ZONE (UTC) and JSON (text with the `arrow.json` extension type). A column is nullable unless
//! it is `NOT NULL` or in the primary key.
//!
//! Record metadata: with `format = 'raw'` (or `raw_string` / `raw_bytes`) the payload is one
//! `value` column (TEXT picks `raw_string`, BYTEA `raw_bytes`) and columns named `topic`,
//! `partition`, `offset`, `key`, `timestamp` or `headers` are filled from the record; with any
//! format a column declared `GENERATED ALWAYS AS (metadata('offset'))` is (see
//! [`crate::schema::MetadataColumn`]).
//!
//! ```
//! use laminar_kafka_connector::sql::parse_create_table;
//!
//! let table = parse_create_table(
//!     "CREATE TABLE t (id BIGINT, v TEXT) WITH (connector = 'kafka', \
//!      bootstrap_servers = 'localhost:9092', topic = 't', type = 'source', \
//!      format = 'json', 'source.offset' = 'earliest')",
//! )?;
//! assert_eq!(table.schema.as_ref().map(|s| s.fields().len()), Some(2));
//! # Ok::<(), laminar_kafka_connector::config::ConfigError>(())
//! ```

mod columns;
mod dialect;
mod options;

use arrow_schema::{DataType, Schema};
use sqlparser::ast::{CreateTableOptions, Expr, SqlOption, Statement, TableConstraint, Value};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::config::{ConfigError, Format, Result, TableDefinition, shorten};
use crate::schema::MetadataColumn;

pub use columns::DEFAULT_DECIMAL;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SqlStatement {
    /// A Kafka table.
    CreateTable(Box<TableDefinition>),
    /// Anything else (a query, another connector's table), as normalised SQL text.
    Other(String),
}

/// Most statements a script may hold, so that hostile input cannot make the result huge in
/// count (each statement is small, bounded by the input).
const MAX_STATEMENTS: usize = 10_000;

/// Parses a script: Kafka `CREATE TABLE`s become [`TableDefinition`]s, other statements are
/// passed through as text. The first problem is returned with the table it is in.
///
/// Never panics, whatever the input (sqlparser bounds its recursion).
pub fn parse_sql(sql: &str) -> Result<Vec<SqlStatement>> {
    let statements = Parser::new(&dialect::LaminarDialect)
        .with_recursion_limit(64)
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|e| ConfigError::SqlSyntax {
            message: mask_literals(sql, &e.to_string()),
        })?;
    if statements.len() > MAX_STATEMENTS {
        return Err(ConfigError::UnsupportedSql {
            message: format!("more than {MAX_STATEMENTS} statements in one script"),
        });
    }
    statements.into_iter().map(statement).collect()
}

/// Parses a script that must be exactly one Kafka `CREATE TABLE`.
pub fn parse_create_table(sql: &str) -> Result<TableDefinition> {
    let mut statements = parse_sql(sql)?;
    match (statements.pop(), statements.is_empty()) {
        (Some(SqlStatement::CreateTable(table)), true) => Ok(*table),
        (None, _) => Err(ConfigError::UnsupportedSql {
            message: "no statement".to_owned(),
        }),
        _ => Err(ConfigError::UnsupportedSql {
            message: "expected exactly one CREATE TABLE … WITH (connector = 'kafka', …)".to_owned(),
        }),
    }
}

/// Masks the string literals of `sql` wherever a parser message quotes them: the literal next
/// to a syntax error may be a password.
fn mask_literals(sql: &str, message: &str) -> String {
    let Ok(tokens) = Tokenizer::new(&dialect::LaminarDialect, sql).tokenize() else {
        // Tokenizer errors quote no literal.
        return message.to_owned();
    };
    let mut message = message.to_owned();
    for token in tokens {
        let quoted = match token {
            Token::SingleQuotedString(s)
            | Token::NationalStringLiteral(s)
            | Token::EscapedStringLiteral(s)
            | Token::UnicodeStringLiteral(s)
            | Token::HexStringLiteral(s) => format!("'{s}'"),
            Token::DoubleQuotedString(s) => format!("\"{s}\""),
            _ => continue,
        };
        if message.contains(&quoted) {
            message = message.replace(&quoted, "'***'");
        }
    }
    message
}

fn statement(statement: Statement) -> Result<SqlStatement> {
    let Statement::CreateTable(create) = &statement else {
        return Ok(SqlStatement::Other(statement.to_string()));
    };
    let CreateTableOptions::With(with) = &create.table_options else {
        return Ok(SqlStatement::Other(statement.to_string()));
    };
    let table_name = create
        .name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map_or_else(|| part.to_string(), |i| i.value.clone())
        })
        .collect::<Vec<_>>()
        .join(".");
    let in_table = |e: ConfigError| in_table(&table_name, e);
    let pairs = with
        .iter()
        .map(option_pair)
        .collect::<Result<Vec<_>>>()
        .map_err(in_table)?;
    // Another connector's table has other options: decide on `connector` before checking them.
    let connector = pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("connector"))
        .map(|(_, v)| v.as_str());
    match connector {
        Some(c) if !c.eq_ignore_ascii_case("kafka") => {
            return Ok(SqlStatement::Other(statement.to_string()));
        }
        Some(_) => {}
        None if pairs
            .iter()
            .any(|(k, _)| crate::config::closest(k, ["connector"]).is_some()) => {}
        None => {
            return Err(in_table(ConfigError::missing(
                crate::config::KeyKind::Option,
                "connector",
                Some("connector = 'kafka'"),
            )));
        }
    }
    let options = options::Options::new(pairs).map_err(in_table)?;
    if create.query.is_some() || create.like.is_some() || create.clone.is_some() {
        return Err(in_table(ConfigError::UnsupportedSql {
            message:
                "a Kafka table declares its columns; AS SELECT, LIKE and CLONE are not supported"
                    .to_owned(),
        }));
    }
    kafka_table(&table_name, create, &options).map_err(in_table)
}

/// Adds the table name to an error, so that a script with many tables says which one.
fn in_table(table: &str, error: ConfigError) -> ConfigError {
    match error {
        ConfigError::UnsupportedSql { message } if !message.starts_with("table `") => {
            ConfigError::UnsupportedSql {
                message: format!("table `{table}`: {message}"),
            }
        }
        other => other,
    }
}

fn option_pair(option: &SqlOption) -> Result<(String, String)> {
    let SqlOption::KeyValue { key, value } = option else {
        return Err(ConfigError::UnsupportedSql {
            message: format!(
                "`{}` is not a `name = value` option",
                shorten(&option.to_string())
            ),
        });
    };
    let name = key
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map_or_else(|| part.to_string(), |i| i.value.clone())
        })
        .collect::<Vec<_>>()
        .join(".");
    let text = match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Number(n, _) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            _ => None.ok_or_else(|| not_literal(&name))?,
        },
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => format!("-{n}"),
                _ => return Err(not_literal(&name)),
            },
            _ => return Err(not_literal(&name)),
        },
        _ => return Err(not_literal(&name)),
    };
    Ok((name, text))
}

fn not_literal(name: &str) -> ConfigError {
    ConfigError::UnsupportedSql {
        message: format!(
            "option `{}` must be a string, number or boolean literal",
            shorten(name)
        ),
    }
}

fn kafka_table(
    name: &str,
    create: &sqlparser::ast::CreateTable,
    options: &options::Options,
) -> Result<SqlStatement> {
    let parsed = options.parse()?;
    let mut columns = create
        .columns
        .iter()
        .map(columns::column)
        .collect::<Result<Vec<_>>>()?;
    let mut primary_key: Vec<String> = columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.field.name().clone())
        .collect();
    for constraint in &create.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                if !primary_key.is_empty() {
                    return Err(ConfigError::UnsupportedSql {
                        message: "more than one PRIMARY KEY".to_owned(),
                    });
                }
                for index_column in &pk.columns {
                    let Expr::Identifier(ident) = &index_column.column.expr else {
                        return Err(ConfigError::UnsupportedSql {
                            message: "PRIMARY KEY lists column names only".to_owned(),
                        });
                    };
                    let Some(column) = columns.iter_mut().find(|c| c.field.name() == &ident.value)
                    else {
                        return Err(ConfigError::InvalidColumn {
                            column: ident.value.clone(),
                            reason: "named in PRIMARY KEY but not declared".to_owned(),
                        });
                    };
                    column.field = column.field.clone().with_nullable(false);
                    primary_key.push(ident.value.clone());
                }
            }
            other => {
                return Err(ConfigError::UnsupportedSql {
                    message: format!(
                        "constraint `{}` is not supported on Kafka tables",
                        shorten(&other.to_string())
                    ),
                });
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for column in &columns {
        if !seen.insert(column.field.name().to_ascii_lowercase()) {
            return Err(ConfigError::InvalidColumn {
                column: column.field.name().clone(),
                reason: "declared more than once".to_owned(),
            });
        }
    }

    let format = match parsed.format {
        Some(f) => f,
        None => {
            let value = columns.iter().find(|c| c.field.name() == "value");
            match value.map(|c| c.field.data_type()) {
                Some(DataType::Binary) => Format::RawBytes,
                _ => Format::RawString,
            }
        }
    };
    if format.is_raw() {
        // The raw formats' payload is `value`; the metadata columns go by their names.
        for column in &mut columns {
            if column.metadata.is_none() {
                if let Some(kind) = MetadataColumn::from_name(column.field.name()) {
                    column.field = kind.mark(column.field.clone());
                    column.metadata = Some(kind);
                }
            }
        }
    }
    let schema = Schema::new(columns.into_iter().map(|c| c.field).collect::<Vec<_>>());
    let definition =
        TableDefinition::new(name, parsed.profile, parsed.table, format, Some(schema))?
            .with_primary_key(primary_key);
    Ok(SqlStatement::CreateTable(Box::new(definition)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(kind: &str) -> Result<TableDefinition> {
        parse_create_table(&format!(
            "CREATE TABLE t (id BIGINT, off BIGINT GENERATED ALWAYS AS (metadata('offset')) VIRTUAL) \
             WITH (connector = 'kafka', bootstrap_servers = 'b:9092', topic = 't', type = '{kind}', \
             format = 'json', 'source.offset' = 'group', 'sink.commit_mode' = 'at_least_once')"
        ))
    }

    #[test]
    fn generated_metadata_columns_work_with_any_format_on_sources_only() {
        // Both kinds' options are given, so each parse fails on the other kind's option first.
        assert_eq!(
            table("source").unwrap_err().to_string(),
            "option `sink.commit_mode` applies only to sink tables, but this table is a source"
        );
        let t = parse_create_table(
            "CREATE TABLE t (id BIGINT, off BIGINT GENERATED ALWAYS AS (metadata('offset')) \
             VIRTUAL) WITH (connector = 'kafka', bootstrap_servers = 'b:9092', topic = 't', \
             type = 'source', format = 'json', 'source.offset' = 'group')",
        )
        .unwrap();
        let schema = t.schema.unwrap();
        assert_eq!(MetadataColumn::of(schema.field(0)), None);
        assert_eq!(
            MetadataColumn::of(schema.field(1)),
            Some(MetadataColumn::Offset)
        );
        let err = parse_create_table(
            "CREATE TABLE t (id BIGINT, off BIGINT GENERATED ALWAYS AS (metadata('offset')) \
             VIRTUAL) WITH (connector = 'kafka', bootstrap_servers = 'b:9092', topic = 't', \
             type = 'sink', format = 'json', 'sink.commit_mode' = 'at_least_once')",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "column `off`: reads the record's offset, which only source tables have"
        );
    }

    #[test]
    fn parser_messages_mask_the_statements_literals_only() {
        let sql = "SELECT 'hunter2' 'x'";
        assert_eq!(
            mask_literals(sql, "found: 'x' near 'hunter2', expected ','"),
            "found: '***' near '***', expected ','"
        );
    }
}
