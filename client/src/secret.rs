//! Values that must never be printed, and the one rule for which properties hold them.
//!
//! [`Secret`] wraps passwords, keys and tokens so that `Debug` and `Display` (and with them every
//! log line and error message) show `***`; reading the value takes an explicit
//! [`Secret::expose`]. [`is_secret_property`] decides which configuration properties are
//! secret; the client, the connector and the server all ask it.

use std::fmt;

/// A value that prints as `***`.
///
/// ```
/// use laminar_kafka_client::secret::Secret;
///
/// let password = Secret::from("hunter2");
/// assert_eq!(format!("{password:?} {password} {:?}", Some(&password)), "*** *** Some(***)");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself. Every call is a place where the secret leaves its wrapper.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Secret(value)
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

/// Whether a configuration property holds a secret, so that its value must never be shown.
///
/// Secret are the client properties declared so (`sasl.password`), every name ending in
/// `password`, `secret` or `key` (`ssl.key.password`, `ssl.keystore.key`,
/// `sasl.oauthbearer.client.secret`, a registry's `apiKey`…), and the properties that embed
/// credentials in a larger string (`sasl.jaas.config`, `sasl.oauthbearer.config`).
/// Case-insensitive.
///
/// ```
/// use laminar_kafka_client::secret::is_secret_property;
///
/// assert!(is_secret_property("sasl.password"));
/// assert!(is_secret_property("ssl.keystore.key"));
/// assert!(is_secret_property("sasl.jaas.config"));
/// assert!(is_secret_property("apiSecret"));
/// assert!(!is_secret_property("ssl.key.location"));
/// assert!(!is_secret_property("sasl.username"));
/// ```
pub fn is_secret_property(name: &str) -> bool {
    let key = name.trim().to_ascii_lowercase();
    crate::config::declared_secret(&key)
        || ["password", "secret", "key"]
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
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.to_string(), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(format!("{s:#?}"), "***");
        assert_eq!(format!("{:?}", (Secret::new(7u32), "x")), "(***, \"x\")");
        assert_eq!(s.clone().into_exposed(), "hunter2");
    }

    #[test]
    fn secret_properties_by_declaration_suffix_and_name() {
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
            "apiKey",
            " sasl.password ",
        ] {
            assert!(is_secret_property(key), "{key}");
        }
        for key in [
            "bootstrap.servers",
            "ssl.key.location",
            "sasl.username",
            "group.id",
            "ssl.keystore.location",
            "key.serializer.encoding",
        ] {
            assert!(!is_secret_property(key), "{key}");
        }
    }
}
