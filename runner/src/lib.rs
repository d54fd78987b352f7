//! Runs the Kafka connector's SQL scripts with DataFusion as the query engine.
//!
//! A script declares Kafka tables (`CREATE TABLE … WITH (connector = 'kafka', …)`, see the
//! connector's `sql` module) and then either pipelines, `INSERT INTO sink SELECT … FROM
//! source`, which run until stopped, or a last `SELECT … FROM source` whose rows are printed.
//! Everything is planned before anything connects ([`Script::parse`]): a query the runner
//! cannot stream (an aggregate without a window, a join, `ORDER BY`, `LIMIT`) or a sink whose
//! columns do not match the query is refused with the statement's number and the reason.
//!
//! Queries are filters and projections over one source: `CASE`, `LIKE`, `CAST`, DataFusion's
//! scalar functions, `JSON_VALUE(json, '$.path')` (text at a path of fields and array
//! indexes) and `NOW()`, which here is the time each batch is processed. Each source batch is
//! evaluated on its own (see [`Transform`]), so that what a transaction writes is exactly what
//! the offsets it commits have read: delivery is described in [`pipeline`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use laminar_kafka_runner::Script;
//!
//! let script = Script::parse(
//!     "CREATE TABLE src (id BIGINT, kind TEXT) WITH (connector = 'kafka', \
//!        bootstrap_servers = 'localhost:9092', topic = 'in', type = 'source', format = 'json', \
//!        'source.offset' = 'earliest');
//!      CREATE TABLE dst (id BIGINT, big BOOLEAN) WITH (connector = 'kafka', \
//!        bootstrap_servers = 'localhost:9092', topic = 'out', type = 'sink', format = 'json', \
//!        'sink.commit_mode' = 'exactly_once');
//!      INSERT INTO dst SELECT id, id > 100 FROM src WHERE kind LIKE 'order%';",
//!     None,
//! ).await?;
//! assert_eq!(script.pipelines.len(), 1);
//!
//! let err = Script::parse(
//!     "CREATE TABLE src (id BIGINT) WITH (connector = 'kafka', bootstrap_servers = 'b:9092', \
//!        topic = 'in', type = 'source', format = 'json', 'source.offset' = 'earliest');
//!      SELECT count(*) FROM src;",
//!     None,
//! ).await.unwrap_err();
//! assert!(err.to_string().starts_with("statement 2: an aggregate without a window cannot run on a stream"));
//! # Ok(()) }
//! ```

pub mod client_metrics;
mod error;
pub mod functions;
pub mod pipeline;
mod script;
mod transform;

pub use error::RunnerError;
pub use pipeline::{PipelineStats, PreviewFormat, RunOptions, run_pipeline, run_preview};
pub use script::{Pipeline, Preview, Script, source_schema};
pub use transform::Transform;
