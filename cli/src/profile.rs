//! `--profile FILE`: a connection profile of the connector (the reference page's JSON, either
//! the `config` object or the whole `{"name", "connector", "config"}` request), parsed and
//! resolved by the connector's own code so the three front ends agree on its meaning.

use std::path::Path;

use anyhow::{Context, Result};
use laminar_kafka_connector::config::{
    KafkaProperties, parse_profile_json, parse_profile_request_json, process_env,
};

/// Reads, parses and resolves the profile at `path` (`{{ VAR }}` from the environment).
pub(crate) fn load(path: &Path) -> Result<KafkaProperties> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the profile {shown}: check the path"))?;
    let profile = match parse_profile_json(&text) {
        Ok(p) => p,
        Err(first) => match parse_profile_request_json(&text) {
            Ok(r) => r.config,
            Err(_) => return Err(first).with_context(|| format!("profile {shown}")),
        },
    };
    let resolved = profile
        .resolve(&|name: &str| process_env(name))
        .with_context(|| format!("profile {shown}: set the variables it names"))?;
    Ok(resolved.properties)
}
