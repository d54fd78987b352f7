//! Secrets out of stored documents before they leave the server: every field whose name says
//! password, secret or key (the profile's `password`, the registry's `apiKey` and `apiSecret`,
//! `sasl.password`-like client properties) is replaced by `********`, placeholders included.

use serde_json::Value;

/// What a masked value reads as.
pub(crate) const MASK: &str = "********";

fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("password")
        || lower.contains("secret")
        || lower.ends_with("apikey")
        || lower.ends_with("api_key")
        || lower.ends_with("key.password")
        || lower.contains("sasl.jaas.config")
        || laminar_kafka_connector::config::is_secret_property(name)
}

/// `value` with every secret field masked.
pub(crate) fn mask(mut value: Value) -> Value {
    mask_in(&mut value);
    value
}

fn mask_in(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_name(k) && !v.is_null() && !v.is_object() {
                    *v = Value::String(MASK.to_owned());
                } else {
                    mask_in(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_keys_and_secrets_are_masked_everywhere() {
        let v = mask(serde_json::json!({
            "bootstrapServers": "b:9092",
            "authentication": {"username": "u", "password": "{{ KAFKA_PASSWORD }}"},
            "schemaRegistryEnum": {"endpoint": "http://r", "apiKey": "k1", "apiSecret": "s1"},
            "connectionProperties": {"ssl.key.password": "kp", "linger.ms": "5"}
        }));
        let text = v.to_string();
        for secret in ["KAFKA_PASSWORD", "k1", "s1", "kp"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(v["authentication"]["username"], "u");
        assert_eq!(v["connectionProperties"]["linger.ms"], "5");
        assert_eq!(v["schemaRegistryEnum"]["endpoint"], "http://r");
    }
}
