//! The Kafka connector that a streaming SQL engine embeds: connection profiles, tables and SQL
//! `WITH` options, the formats that turn records into rows and back, and the source and sink
//! operators.
//!
//! - [`config`]: profiles, tables, placeholders, secrets, validation, client properties.
//! - [`sql`]: `CREATE TABLE … WITH (…)` into the same configuration plus an Arrow schema.
//! - [`format`](mod@format): record payloads and metadata into Arrow batches (JSON, Avro,
//!   Protobuf, Debezium JSON, raw), and Arrow rows into records for sinks.
//! - [`schema`]: conventions on table schemas (metadata columns, JSON columns).
//! - [`schema_registry`]: a client of the Confluent Schema Registry API.
//! - [`source`]: the source operator, a table read as Arrow batches with checkpoints.
//! - [`sink`]: the sink operator, Arrow batches written at least once or exactly once.
//! - [`client`]: the Kafka client configuration of a resolved table.

pub mod client;
pub mod config;
mod error;
pub mod format;
#[doc(hidden)]
pub mod fuzz;
pub mod schema;
pub mod schema_registry;
pub mod sink;
pub mod source;
pub mod sql;

pub use config::{ConfigError, parse_profile_json, parse_table_json};
pub use error::ConnectorError;
pub use sql::parse_sql;
