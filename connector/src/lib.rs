//! The Kafka connector that a streaming SQL engine embeds: connection profiles, tables and SQL
//! `WITH` options, the formats that turn records into rows and back, and the source and sink
//! operators.

pub use laminar_kafka_client as client;
