//! A SQL script as the runner sees it: Kafka tables (`CREATE TABLE … WITH (connector =
//! 'kafka', …)`), pipelines (`INSERT INTO sink SELECT … FROM source`) and an optional last
//! `SELECT … FROM source` to preview. Everything is checked and planned before anything
//! connects: unknown tables and columns, a query the runner cannot stream, a sink whose
//! columns do not match the query.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use laminar_kafka_connector::config::{Format, TableDefinition, TableKind, Template};
use laminar_kafka_connector::schema::{change_op_field, unstructured_schema};
use laminar_kafka_connector::sql::{SqlStatement, parse_sql};

use crate::error::RunnerError;
use crate::functions::{json_value_udf, now_udf};
use crate::transform::{SinkCast, Transform};

/// `INSERT INTO sink SELECT … FROM source`, planned.
#[derive(Debug)]
pub struct Pipeline {
    /// 1-based position of the statement.
    pub statement: usize,
    /// The source table.
    pub source: TableDefinition,
    /// The sink table.
    pub sink: TableDefinition,
    /// The compiled SELECT.
    pub transform: Arc<Transform>,
    pub(crate) cast: SinkCast,
}

/// A last `SELECT … FROM source`, planned: its rows are printed.
#[derive(Debug)]
pub struct Preview {
    /// 1-based position of the statement.
    pub statement: usize,
    /// The source table.
    pub source: TableDefinition,
    /// The compiled SELECT.
    pub transform: Arc<Transform>,
}

/// A checked and planned script.
#[derive(Debug)]
pub struct Script {
    /// The Kafka tables, by name.
    pub tables: BTreeMap<String, TableDefinition>,
    /// The INSERT pipelines, in script order.
    pub pipelines: Vec<Pipeline>,
    /// The preview query, when the script ends with a SELECT.
    pub preview: Option<Preview>,
}

/// The rows a source table emits: its columns (or the unstructured ones), plus the change-op
/// column of `debezium_json`.
pub fn source_schema(table: &TableDefinition) -> SchemaRef {
    let base = table
        .schema
        .clone()
        .unwrap_or_else(|| unstructured_schema(table.format));
    if table.format == Format::DebeziumJson
        && base
            .field_with_name(laminar_kafka_connector::schema::CHANGE_OP_COLUMN)
            .is_err()
    {
        let mut fields: Vec<_> = base.fields().iter().cloned().collect();
        fields.push(Arc::new(change_op_field()));
        return Arc::new(Schema::new_with_metadata(fields, base.metadata().clone()));
    }
    base
}

/// The query engine's session: one partition, the runner's functions.
pub(crate) fn session() -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .with_information_schema(false);
    let ctx = SessionContext::new_with_config(config);
    ctx.register_udf(json_value_udf());
    ctx.register_udf(now_udf());
    ctx
}

impl Script {
    /// Parses and plans `sql`. `bootstrap_servers`, when given, replaces every table's broker
    /// list (`--set bootstrap_servers=…`).
    pub async fn parse(sql: &str, bootstrap_servers: Option<&str>) -> Result<Self, RunnerError> {
        Self::parse_with_tables(sql, bootstrap_servers, Vec::new()).await
    }

    /// [`parse`](Self::parse), with tables declared elsewhere (a server's stored tables)
    /// usable by name as if the script had created them first.
    pub async fn parse_with_tables(
        sql: &str,
        bootstrap_servers: Option<&str>,
        declared: Vec<TableDefinition>,
    ) -> Result<Self, RunnerError> {
        let statements = parse_sql(sql)?;
        let ctx = session();
        let mut tables = BTreeMap::new();
        for table in declared {
            if table.table.table_kind() == TableKind::Source {
                let provider = MemTable::try_new(source_schema(&table), vec![vec![]])
                    .map_err(|e| RunnerError::plan(0, e))?;
                ctx.register_table(table.name.as_str(), Arc::new(provider))
                    .map_err(|e| RunnerError::plan(0, e))?;
            }
            tables.insert(table.name.clone(), table);
        }
        let mut pipelines = Vec::new();
        let mut preview = None;
        let count = statements.len();
        for (i, statement) in statements.into_iter().enumerate() {
            let n = i + 1;
            match statement {
                SqlStatement::CreateTable(table) => {
                    let mut table = *table;
                    if let Some(servers) = bootstrap_servers {
                        table.profile.bootstrap_servers =
                            Template::parse(servers).map_err(|e| {
                                RunnerError::statement(n, format!("--set bootstrap_servers: {e:?}"))
                            })?;
                    }
                    if table.table.table_kind() == TableKind::Source {
                        let provider = MemTable::try_new(source_schema(&table), vec![vec![]])
                            .map_err(|e| RunnerError::plan(n, e))?;
                        ctx.register_table(table.name.as_str(), Arc::new(provider))
                            .map_err(|e| RunnerError::plan(n, e))?;
                    }
                    if tables.insert(table.name.clone(), table).is_some() {
                        return Err(RunnerError::statement(
                            n,
                            "a table of that name is already declared",
                        ));
                    }
                }
                SqlStatement::Other(text) => {
                    let parsed = Parser::parse_sql(&GenericDialect {}, &text)
                        .map_err(|e| RunnerError::statement(n, e.to_string()))?;
                    let [parsed] = parsed.as_slice() else {
                        return Err(RunnerError::statement(n, "expected one statement"));
                    };
                    match parsed {
                        Statement::Insert(insert) => {
                            let sink_name = insert.table.to_string();
                            let Some(sink) = tables.get(&sink_name) else {
                                return Err(RunnerError::statement(
                                    n,
                                    format!(
                                        "INSERT INTO {sink_name}: no Kafka table of that name is declared before it"
                                    ),
                                ));
                            };
                            if sink.table.table_kind() != TableKind::Sink {
                                return Err(RunnerError::statement(
                                    n,
                                    format!(
                                        "INSERT INTO {sink_name}: it is a source table (type = 'source')"
                                    ),
                                ));
                            }
                            let Some(query) = &insert.source else {
                                return Err(RunnerError::statement(n, "INSERT without a SELECT"));
                            };
                            let transform = Transform::plan(&ctx, n, &query.to_string()).await?;
                            let source = source_of(&tables, n, &transform)?;
                            let cast = match &sink.schema {
                                Some(sink_schema) => {
                                    SinkCast::new(n, &sink_name, transform.schema(), sink_schema)?
                                }
                                // A sink declared without columns writes the query's.
                                None => {
                                    check_sink_fields(n, &sink_name, sink, transform.schema())?;
                                    SinkCast::identity(transform.schema())
                                }
                            };
                            pipelines.push(Pipeline {
                                statement: n,
                                source,
                                sink: sink.clone(),
                                transform: Arc::new(transform),
                                cast,
                            });
                        }
                        Statement::Query(query) => {
                            if n != count {
                                return Err(RunnerError::statement(
                                    n,
                                    "a SELECT previews rows and must be the script's last statement",
                                ));
                            }
                            let transform = Transform::plan(&ctx, n, &query.to_string()).await?;
                            let source = source_of(&tables, n, &transform)?;
                            preview = Some(Preview {
                                statement: n,
                                source,
                                transform: Arc::new(transform),
                            });
                        }
                        other => {
                            let text = other.to_string();
                            let head: String = text.chars().take(40).collect();
                            return Err(RunnerError::statement(
                                n,
                                format!(
                                    "`{head}…` is not something the runner runs (Kafka CREATE TABLE, INSERT INTO … SELECT, or a last SELECT)"
                                ),
                            ));
                        }
                    }
                }
                _ => return Err(RunnerError::statement(n, "unsupported statement")),
            }
        }
        if pipelines.is_empty() && preview.is_none() {
            return Err(RunnerError::statement(
                count.max(1),
                "the script has no INSERT INTO … SELECT and no SELECT: nothing to run",
            ));
        }
        Ok(Script {
            tables,
            pipelines,
            preview,
        })
    }
}

/// The `key_field` and `timestamp_field` of a sink without declared columns must be columns
/// of the query.
fn check_sink_fields(
    statement: usize,
    sink_name: &str,
    sink: &TableDefinition,
    query: &Schema,
) -> Result<(), RunnerError> {
    let laminar_kafka_connector::config::TableType::Sink(config) = &sink.table.kind else {
        return Ok(());
    };
    for (what, field) in [
        ("key_field", &config.key_field),
        ("timestamp_field", &config.timestamp_field),
    ] {
        if let Some(name) = field
            && query.field_with_name(name).is_err()
        {
            return Err(RunnerError::statement(
                statement,
                format!(
                    "INSERT INTO {sink_name}: its {what} `{name}` is not a column of the query"
                ),
            ));
        }
    }
    Ok(())
}

fn source_of(
    tables: &BTreeMap<String, TableDefinition>,
    statement: usize,
    transform: &Transform,
) -> Result<TableDefinition, RunnerError> {
    tables.get(transform.source()).cloned().ok_or_else(|| {
        RunnerError::statement(
            statement,
            format!("no source table `{}`", transform.source()),
        )
    })
}
