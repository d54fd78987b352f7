//! From a resolved table to the Kafka client's configuration: the one place where the
//! connector's flat properties become a [`ClientConfig`].

use laminar_kafka_client::config::ClientConfig;

use crate::config::{KafkaProperties, ResolvedTable};
use crate::error::ConnectorError;

/// The client configuration of a resolved table, with `overrides` applied last (settings the
/// operator needs whatever the user wrote, such as `enable.auto.commit=false` for a source
/// that commits at checkpoints).
///
/// A property the client does not know is an error naming it, with the nearest known name.
///
/// ```
/// use laminar_kafka_connector::client::client_config;
/// use laminar_kafka_connector::config::{parse_profile_json, parse_table_json, Format, TableDefinition};
///
/// let profile = parse_profile_json(r#"{"bootstrapServers": "b:9092", "authentication": {}}"#)?;
/// let table = parse_table_json(r#"{"topic": "t", "type": {"offset": "earliest", "group_id": "g"}}"#)?;
/// let resolved = TableDefinition::new("t", profile, table, Format::Json, None)?.resolve(&|_| None)?;
/// let config = client_config("t", &resolved, &[("enable.auto.commit", "false")])?;
/// assert_eq!(config.consumer.group_id.as_deref(), Some("g"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client_config(
    table: &str,
    resolved: &ResolvedTable,
    overrides: &[(&str, &str)],
) -> Result<ClientConfig, ConnectorError> {
    config_of(table, &resolved.properties, overrides)
}

pub(crate) fn config_of(
    table: &str,
    properties: &KafkaProperties,
    overrides: &[(&str, &str)],
) -> Result<ClientConfig, ConnectorError> {
    let mut properties = properties.clone();
    for (k, v) in overrides {
        properties.set(*k, *v);
    }
    ClientConfig::from_properties(properties.iter()).map_err(|e| ConnectorError::client(table, e))
}
