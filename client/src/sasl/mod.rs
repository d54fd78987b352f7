//! SASL authentication mechanisms as explicit state machines, with no I/O.
//!
//! The module owns the client side of each mechanism's exchange: which bytes to send next and
//! how to judge the broker's answers. It does not touch sockets or Kafka framing: the connection
//! code sends `SaslHandshake` (v1) with [`Mechanism::name`], then one `SaslAuthenticate` request
//! per [`Step::Send`], carrying those bytes in `AuthBytes`, and feeds the `AuthBytes` of each
//! response back into [`SaslSession::step`] until it returns [`Step::Done`]. A broker error code
//! on either request becomes a [`SaslError`] through [`SaslError::authentication_failed`] or
//! [`SaslError::unsupported_mechanism`].
//!
//! Mechanisms live one per file: [`plain`] (RFC 4616) and [`scram`] (RFC 5802 with the hashes
//! of RFC 7677 and SHA-512, as Kafka uses them).
//!
//! ```
//! use laminar_kafka_client::sasl::{SaslConfig, Step};
//!
//! let config = SaslConfig::plain("alice", "alice-secret");
//! assert_eq!(config.mechanism().name(), "PLAIN");
//!
//! let mut session = config.start()?;
//! // First step: nothing received yet.
//! let Step::Send(token) = session.step(None)? else { unreachable!() };
//! assert_eq!(token, b"\0alice\0alice-secret");
//! // The broker answered SaslAuthenticate without an error: PLAIN is then complete.
//! assert_eq!(session.step(Some(b""))?, Step::Done);
//! # Ok::<(), laminar_kafka_client::sasl::SaslError>(())
//! ```

mod error;
pub mod plain;
pub mod scram;

use std::fmt;
use std::str::FromStr;

pub use error::SaslError;

use plain::PlainClient;
use scram::{ScramClient, ScramHash};

/// A `Result` whose error defaults to [`SaslError`].
pub type Result<T, E = SaslError> = std::result::Result<T, E>;

/// A SASL mechanism this client implements, named as in `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): user name and password in clear; use it over TLS only.
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512` (RFC 5802 with SHA-512, as Kafka defines it).
    ScramSha512,
}

impl Mechanism {
    /// Every mechanism this client implements.
    pub const ALL: [Mechanism; 3] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ];

    /// The name sent in `SaslHandshake` and used in `sasl.mechanism`, e.g. `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mechanism {
    type Err = SaslError;

    /// Parses a `sasl.mechanism` value. Names are case-sensitive, as in the Java client and
    /// the broker's `sasl.enabled.mechanisms`.
    fn from_str(name: &str) -> Result<Self> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| SaslError::UnknownMechanism {
                name: name.to_owned(),
            })
    }
}

/// A secret string (a password) whose `Debug` output is redacted.
///
/// It has no `Display`, so it cannot end up in a log line or error message by accident.
///
/// ```
/// use laminar_kafka_client::sasl::Password;
///
/// let password = Password::new("hunter2");
/// assert_eq!(format!("{password:?}"), "Password(<redacted>)");
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    /// The secret itself: for the code that must put it on the wire, and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl From<String> for Password {
    fn from(secret: String) -> Self {
        Password(secret)
    }
}

impl From<&str> for Password {
    fn from(secret: &str) -> Self {
        Password(secret.to_owned())
    }
}

/// Which SASL mechanism to use, with its credentials (`sasl.mechanism`, `sasl.username`,
/// `sasl.password`).
///
/// New mechanisms (OAUTHBEARER, AWS_MSK_IAM) will come as new variants, hence
/// `#[non_exhaustive]`. `Debug` never shows a password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslConfig {
    /// `PLAIN` with an empty authorization identity.
    Plain {
        /// The user name (`authcid`).
        username: String,
        /// The password.
        password: Password,
    },
    /// `SCRAM-SHA-256`.
    ScramSha256 {
        /// The user name, sent escaped but otherwise as given (no SASLprep, as in Java).
        username: String,
        /// The password, used as given (no SASLprep, as in Java).
        password: Password,
    },
    /// `SCRAM-SHA-512`.
    ScramSha512 {
        /// The user name, sent escaped but otherwise as given (no SASLprep, as in Java).
        username: String,
        /// The password, used as given (no SASLprep, as in Java).
        password: Password,
    },
}

impl SaslConfig {
    /// `PLAIN` with these credentials.
    pub fn plain(username: impl Into<String>, password: impl Into<Password>) -> Self {
        SaslConfig::Plain {
            username: username.into(),
            password: password.into(),
        }
    }

    /// `SCRAM-SHA-256` with these credentials.
    pub fn scram_sha256(username: impl Into<String>, password: impl Into<Password>) -> Self {
        SaslConfig::ScramSha256 {
            username: username.into(),
            password: password.into(),
        }
    }

    /// `SCRAM-SHA-512` with these credentials.
    pub fn scram_sha512(username: impl Into<String>, password: impl Into<Password>) -> Self {
        SaslConfig::ScramSha512 {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The configuration for a username/password `mechanism`, as read from `sasl.mechanism`,
    /// `sasl.username` and `sasl.password`.
    pub fn with_credentials(
        mechanism: Mechanism,
        username: impl Into<String>,
        password: impl Into<Password>,
    ) -> Self {
        match mechanism {
            Mechanism::Plain => SaslConfig::plain(username, password),
            Mechanism::ScramSha256 => SaslConfig::scram_sha256(username, password),
            Mechanism::ScramSha512 => SaslConfig::scram_sha512(username, password),
        }
    }

    /// The mechanism, whose [`name`](Mechanism::name) goes into `SaslHandshake`.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            SaslConfig::Plain { .. } => Mechanism::Plain,
            SaslConfig::ScramSha256 { .. } => Mechanism::ScramSha256,
            SaslConfig::ScramSha512 { .. } => Mechanism::ScramSha512,
        }
    }

    /// Starts one authentication exchange (one per connection, and again on each
    /// re-authentication).
    ///
    /// Fails if the credentials cannot be expressed in the mechanism (a NUL byte in a PLAIN
    /// user name or password) or if the operating system's random source fails (SCRAM nonce).
    pub fn start(&self) -> Result<SaslSession> {
        let inner = match self {
            SaslConfig::Plain { username, password } => {
                SessionInner::Plain(PlainClient::new(username, password)?)
            }
            SaslConfig::ScramSha256 { username, password } => {
                SessionInner::Scram(ScramClient::new(ScramHash::Sha256, username, password)?)
            }
            SaslConfig::ScramSha512 { username, password } => {
                SessionInner::Scram(ScramClient::new(ScramHash::Sha512, username, password)?)
            }
        };
        Ok(SaslSession { inner })
    }
}

/// What the connection does after a [`SaslSession::step`].
#[derive(Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes as the `AuthBytes` of the next `SaslAuthenticate` request, then call
    /// `step` again with the `AuthBytes` of its response.
    Send(Vec<u8>),
    /// Authentication is complete (for SCRAM: the broker proved it knows the credentials).
    Done,
}

impl fmt::Debug for Step {
    // The tokens hold credentials (PLAIN sends the password): show only their length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Send(bytes) => write!(f, "Send(<{} bytes>)", bytes.len()),
            Step::Done => f.write_str("Done"),
        }
    }
}

/// One authentication exchange in progress; see the [module docs](self) for how to drive it.
///
/// A failed step leaves the session failed: every later step returns
/// [`SaslError::SessionFailed`]. `Debug` shows the mechanism and state, never a secret.
#[derive(Debug)]
pub struct SaslSession {
    inner: SessionInner,
}

#[derive(Debug)]
enum SessionInner {
    Plain(PlainClient),
    Scram(ScramClient),
}

impl SaslSession {
    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        match &self.inner {
            SessionInner::Plain(_) => Mechanism::Plain,
            SessionInner::Scram(client) => client.mechanism(),
        }
    }

    /// Advances the exchange.
    ///
    /// Pass `None` on the first call (nothing received yet), then `Some(auth_bytes)` of each
    /// `SaslAuthenticate` response that carried no error code.
    ///
    /// This never blocks on I/O, but SCRAM's answer to the server-first-message runs PBKDF2 for
    /// the broker's iteration count: about 1 ms at Kafka's default of 4096 (SHA-512, release
    /// build), up to about 0.3 s at [`scram::MAX_ITERATIONS`]. Callers that must not stall an
    /// async worker that long can run that step on a blocking thread.
    pub fn step(&mut self, server_bytes: Option<&[u8]>) -> Result<Step> {
        match &mut self.inner {
            SessionInner::Plain(client) => client.step(server_bytes),
            SessionInner::Scram(client) => client.step(server_bytes),
        }
    }

    /// Whether the exchange has completed successfully.
    pub fn is_done(&self) -> bool {
        match &self.inner {
            SessionInner::Plain(client) => client.is_done(),
            SessionInner::Scram(client) => client.is_done(),
        }
    }
}

/// Which input a state machine got when it expected another: for [`SaslError::UnexpectedStep`].
pub(crate) fn describe_input(server_bytes: Option<&[u8]>) -> &'static str {
    match server_bytes {
        None => "no server message",
        Some(_) => "a server message",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_round_trip_and_unknown_names_are_rejected() {
        for mechanism in Mechanism::ALL {
            assert_eq!(mechanism.name().parse::<Mechanism>().unwrap(), mechanism);
        }
        assert_eq!(Mechanism::ScramSha512.to_string(), "SCRAM-SHA-512");
        let err = "scram-sha-256".parse::<Mechanism>().unwrap_err();
        assert!(matches!(&err, SaslError::UnknownMechanism { name } if name == "scram-sha-256"));
        let err = "GSSAPI".parse::<Mechanism>().unwrap_err();
        assert!(err.to_string().contains("GSSAPI"), "{err}");
    }

    #[test]
    fn config_debug_never_shows_the_password() {
        for mechanism in Mechanism::ALL {
            let config = SaslConfig::with_credentials(mechanism, "alice", "s3cr3t-pw");
            assert_eq!(config.mechanism(), mechanism);
            let debug = format!("{config:?}");
            assert!(!debug.contains("s3cr3t-pw"), "{debug}");
            assert!(debug.contains("alice"), "{debug}");

            let mut session = config.start().unwrap();
            assert_eq!(session.mechanism(), mechanism);
            let step = session.step(None).unwrap();
            for debug in [format!("{session:?}"), format!("{step:?}")] {
                assert!(!debug.contains("s3cr3t-pw"), "{debug}");
            }
        }
    }

    #[test]
    fn a_failed_session_stays_failed() {
        let mut session = SaslConfig::scram_sha256("u", "p").start().unwrap();
        session.step(None).unwrap();
        let err = session.step(Some(b"not a scram message")).unwrap_err();
        assert!(
            matches!(err, SaslError::MalformedServerMessage { .. }),
            "{err}"
        );
        let err = session.step(Some(b"r=x,s=c2FsdA==,i=4096")).unwrap_err();
        assert!(
            matches!(
                err,
                SaslError::SessionFailed {
                    mechanism: Mechanism::ScramSha256
                }
            ),
            "{err}"
        );
        assert!(!session.is_done());
    }
}
