//! Values that must never be printed: passwords, API keys and secrets.
//!
//! [`Secret`] wraps them so that `Debug`, `Display` and therefore every log line and error
//! message show `***`; reading the value takes an explicit [`Secret::expose`]. Which client
//! properties are secret is decided by [`is_sensitive_key`].

use std::fmt;

/// A value that prints as `***`.
///
/// ```
/// use laminar_kafka_connector::config::Secret;
///
/// let password = Secret::new(String::from("hunter2"));
/// assert_eq!(format!("{password:?} {password}"), "*** ***");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself. Every call site is a place where the secret leaves its wrapper.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Whether a Kafka client property holds a secret: its name ends in `password`, `secret` or
/// `key` (`sasl.password`, `ssl.key.password`, `ssl.keystore.key`, `sasl.oauthbearer.client.secret`,
/// …), or it is one of the properties that embed credentials in a larger string
/// (`sasl.jaas.config`, `sasl.oauthbearer.config`). Case-insensitive.
///
/// ```
/// use laminar_kafka_connector::config::is_sensitive_key;
///
/// assert!(is_sensitive_key("sasl.password"));
/// assert!(is_sensitive_key("ssl.keystore.key"));
/// assert!(is_sensitive_key("sasl.jaas.config"));
/// assert!(!is_sensitive_key("ssl.key.location"));
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "key"]
        .iter()
        .any(|suffix| key.ends_with(suffix))
        || key.contains("jaas")
        || key == "sasl.oauthbearer.config"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_masked_in_debug_and_display_even_nested() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.to_string(), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(format!("{s:#?}"), "***");
        assert_eq!(s.clone().into_exposed(), "hunter2");
    }

    #[test]
    fn sensitive_keys_are_recognised_by_suffix_and_name() {
        for key in [
            "sasl.password",
            "SSL.KEY.PASSWORD",
            "ssl.keystore.password",
            "ssl.truststore.password",
            "ssl.keystore.key",
            "sasl.oauthbearer.client.secret",
            "sasl.jaas.config",
            "sasl.oauthbearer.config",
            "my.api_key",
        ] {
            assert!(is_sensitive_key(key), "{key}");
        }
        for key in [
            "bootstrap.servers",
            "ssl.key.location",
            "sasl.username",
            "group.id",
            "ssl.keystore.location",
        ] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }
}
