//! The errors of SASL authentication.

use super::Mechanism;

/// Why a SASL exchange failed.
///
/// Each variant names the mechanism and the check that failed. No variant carries a password or
/// a value derived from one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// `sasl.mechanism` names a mechanism this client does not implement.
    #[error(
        "unknown SASL mechanism {name:?}: supported are PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM"
    )]
    UnknownMechanism {
        /// The name as configured.
        name: String,
    },

    /// The mechanism was left out of this build (its cargo feature is off).
    #[error("SASL mechanism {mechanism} is not in this build: enable the `{feature}` feature")]
    NotBuilt {
        /// The mechanism.
        mechanism: Mechanism,
        /// The cargo feature that provides it.
        feature: &'static str,
    },

    /// The broker does not enable the configured mechanism (SaslHandshake error
    /// `UNSUPPORTED_SASL_MECHANISM`).
    #[error("the broker does not enable SASL mechanism {mechanism}; it enables {enabled:?}")]
    UnsupportedMechanism {
        /// The mechanism the client asked for.
        mechanism: Mechanism,
        /// The mechanisms the broker listed in its SaslHandshake response.
        enabled: Vec<String>,
    },

    /// The broker rejected the credentials or the exchange (a SaslAuthenticate error code such
    /// as `SASL_AUTHENTICATION_FAILED`).
    #[error("{mechanism} authentication failed (broker error code {error_code}): {message}")]
    AuthenticationFailed {
        /// The mechanism used.
        mechanism: Mechanism,
        /// The broker's error code.
        error_code: i16,
        /// The broker's error message, or a description of the code if it sent none.
        message: String,
    },

    /// The credentials cannot be expressed in the mechanism.
    #[error("{mechanism}: invalid credentials: {reason}")]
    InvalidCredentials {
        /// The mechanism used.
        mechanism: Mechanism,
        /// What is wrong with them (never their value).
        reason: &'static str,
    },

    /// The operating system's random source failed while making the client nonce.
    #[error("{mechanism}: cannot generate a client nonce: {source}")]
    Random {
        /// The mechanism used.
        mechanism: Mechanism,
        /// The failure reported by the OS.
        source: getrandom::Error,
    },

    /// A nonce given for a test or vector is empty or has a character SCRAM forbids.
    #[error("{mechanism}: invalid client nonce: it must be non-empty printable ASCII without ','")]
    InvalidNonce {
        /// The mechanism used.
        mechanism: Mechanism,
    },

    /// The session was stepped when its state does not accept that input.
    #[error("{mechanism}: unexpected step with {input} in state {state}")]
    UnexpectedStep {
        /// The mechanism used.
        mechanism: Mechanism,
        /// The state the session was in.
        state: &'static str,
        /// What the caller passed.
        input: &'static str,
    },

    /// An earlier step failed; the session cannot continue.
    #[error("{mechanism}: the exchange already failed")]
    SessionFailed {
        /// The mechanism used.
        mechanism: Mechanism,
    },

    /// A server message does not follow the mechanism's syntax.
    #[error("{mechanism}: malformed {message} from the broker: {reason}")]
    MalformedServerMessage {
        /// The mechanism used.
        mechanism: Mechanism,
        /// Which message, e.g. `server-first-message`.
        message: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The server nonce does not extend the client nonce (a replay or a confused broker).
    #[error("{mechanism}: the server nonce does not start with the client nonce and extend it")]
    NonceMismatch {
        /// The mechanism used.
        mechanism: Mechanism,
    },

    /// The iteration count is outside the accepted range.
    #[error("{mechanism}: iteration count {iterations} is outside {min}..={max}")]
    IterationCount {
        /// The mechanism used.
        mechanism: Mechanism,
        /// What the broker asked for (saturated at `u64::MAX`).
        iterations: u64,
        /// The smallest accepted count.
        min: u32,
        /// The largest accepted count.
        max: u32,
    },

    /// The salt is not valid base64 or is empty.
    #[error("{mechanism}: invalid salt: {reason}")]
    InvalidSalt {
        /// The mechanism used.
        mechanism: Mechanism,
        /// What is wrong with it.
        reason: String,
    },

    /// The broker sent a mandatory extension (`m=`), which this client does not support.
    #[error("{mechanism}: the broker requires an unsupported mandatory extension (m=)")]
    UnsupportedExtension {
        /// The mechanism used.
        mechanism: Mechanism,
    },

    /// The broker ended the exchange with `e=<message>` in its server-final-message.
    #[error("{mechanism}: the broker rejected the authentication: {message}")]
    ServerError {
        /// The mechanism used.
        mechanism: Mechanism,
        /// The broker's `e=` value, e.g. `invalid-proof`.
        message: String,
    },

    /// The token to send has already expired (it is not sent).
    #[error(
        "{mechanism}: the token expired {expired_ago:?} ago; the token provider must supply a fresh one"
    )]
    TokenExpired {
        /// The mechanism used.
        mechanism: Mechanism,
        /// How long ago it expired.
        expired_ago: std::time::Duration,
    },

    /// The broker rejected the OAUTHBEARER token with an RFC 7628 error document.
    #[error(
        "{mechanism}: the broker rejected the token: status {}{}{}",
        error.status,
        error.scope.as_ref().map(|s| format!(", scope {s}")).unwrap_or_default(),
        broker_message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    TokenRejected {
        /// The mechanism used.
        mechanism: Mechanism,
        /// The broker's error document (`status`, `scope`, `openid-configuration`).
        error: Box<super::oauthbearer::ServerError>,
        /// The broker's SaslAuthenticate error message, if any.
        broker_message: Option<String>,
    },

    /// The token provider failed.
    #[error("{mechanism}: the token provider failed: {source}")]
    TokenProvider {
        /// The mechanism used.
        mechanism: Mechanism,
        /// The provider's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// AWS credentials could not be loaded, or the request could not be signed.
    #[cfg(feature = "aws-msk-iam")]
    #[error("{mechanism}: {source}")]
    Aws {
        /// The mechanism used.
        mechanism: Mechanism,
        /// What failed.
        source: Box<crate::aws::AwsError>,
    },

    /// The mechanism needs an asynchronous start (a token or credentials to fetch): use
    /// [`SaslConfig::begin`](super::SaslConfig::begin).
    #[error("{mechanism}: the exchange must be started with SaslConfig::begin")]
    NeedsAsyncStart {
        /// The mechanism used.
        mechanism: Mechanism,
    },

    /// This client was built without the mechanism (a disabled feature).
    #[error("{mechanism} is not available: the client was built without feature `{feature}`")]
    NotBuiltIn {
        /// The mechanism.
        mechanism: Mechanism,
        /// The feature that provides it.
        feature: &'static str,
    },

    /// The server signature `v=` does not match: the broker does not know the credentials (or
    /// someone in the middle does not).
    #[error("{mechanism}: the server signature does not match; the broker is not authenticated")]
    ServerSignatureMismatch {
        /// The mechanism used.
        mechanism: Mechanism,
    },
}

impl SaslError {
    /// A [`SaslError::TokenProvider`] for an OAUTHBEARER token provider's own error.
    pub fn token_provider(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SaslError::TokenProvider {
            mechanism: Mechanism::OauthBearer,
            source: source.into(),
        }
    }

    /// The error for a `SaslAuthenticate` (or `SaslHandshake`) response with a non-zero error
    /// code, for the connection code. A missing or empty broker message is replaced by a
    /// description of the code.
    ///
    /// ```
    /// use laminar_kafka_client::sasl::{Mechanism, SaslError};
    ///
    /// let err = SaslError::authentication_failed(Mechanism::ScramSha512, 58, Some("bad user"));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "SCRAM-SHA-512 authentication failed (broker error code 58): bad user"
    /// );
    /// ```
    pub fn authentication_failed(
        mechanism: Mechanism,
        error_code: i16,
        message: Option<&str>,
    ) -> Self {
        let message = match message {
            Some(m) if !m.is_empty() => m.to_owned(),
            _ => match error_code {
                58 => "SASL_AUTHENTICATION_FAILED (no message from the broker)".to_owned(),
                34 => "ILLEGAL_SASL_STATE (no message from the broker)".to_owned(),
                33 => "UNSUPPORTED_SASL_MECHANISM (no message from the broker)".to_owned(),
                _ => "no message from the broker".to_owned(),
            },
        };
        SaslError::AuthenticationFailed {
            mechanism,
            error_code,
            message,
        }
    }

    /// The error for a `SaslHandshake` response with `UNSUPPORTED_SASL_MECHANISM`, carrying the
    /// mechanisms the broker enables.
    pub fn unsupported_mechanism<S: AsRef<str>>(
        mechanism: Mechanism,
        enabled: impl IntoIterator<Item = S>,
    ) -> Self {
        SaslError::UnsupportedMechanism {
            mechanism,
            enabled: enabled.into_iter().map(|s| s.as_ref().to_owned()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_rejection_keeps_code_and_message() {
        let err = SaslError::authentication_failed(Mechanism::Plain, 58, Some("Invalid username"));
        assert!(matches!(
            &err,
            SaslError::AuthenticationFailed { mechanism: Mechanism::Plain, error_code: 58, message }
                if message == "Invalid username"
        ));
        let err = SaslError::authentication_failed(Mechanism::Plain, 58, None);
        assert!(
            err.to_string().contains("SASL_AUTHENTICATION_FAILED"),
            "{err}"
        );
        let err = SaslError::authentication_failed(Mechanism::Plain, 99, Some(""));
        assert!(
            err.to_string().ends_with("no message from the broker"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_mechanism_lists_what_the_broker_enables() {
        let err = SaslError::unsupported_mechanism(Mechanism::ScramSha512, ["PLAIN", "GSSAPI"]);
        assert_eq!(
            err.to_string(),
            "the broker does not enable SASL mechanism SCRAM-SHA-512; it enables [\"PLAIN\", \"GSSAPI\"]"
        );
    }
}
