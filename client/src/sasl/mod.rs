//! SASL authentication mechanisms as explicit state machines, and the one exchange that drives
//! them.
//!
//! The module owns the client side of each mechanism's exchange: which bytes to send next and
//! how to judge the broker's answers. The mechanisms do no I/O. The exchange (`exchange.rs`,
//! used by the connection for the first authentication and for every re-authentication) sends
//! `SaslHandshake` (v1) with [`Mechanism::name`], then one `SaslAuthenticate` request per
//! [`Step::Send`], carrying those bytes in `AuthBytes`, and feeds the `AuthBytes` of each
//! response back into [`SaslSession::step`] until it returns [`Step::Done`]. A broker error code
//! on either request becomes a [`SaslError`] through [`SaslError::authentication_failed`] or
//! [`SaslError::unsupported_mechanism`]. The exchange sends through a channel the caller
//! provides; it never touches sockets or Kafka framing itself.
//!
//! Mechanisms live one per file: [`plain`] (RFC 4616), [`scram`] (RFC 5802 with the hashes
//! of RFC 7677 and SHA-512, as Kafka uses them), [`oauthbearer`] (RFC 7628, with a pluggable
//! async token provider) and `aws_msk_iam` (Amazon MSK IAM, feature `aws-msk-iam`).
//!
//! Token mechanisms fetch their token or credentials before the `SaslHandshake`: the exchange
//! calls the async [`SaslConfig::begin`] (which works for every mechanism) once per
//! authentication and once per re-authentication, so each re-authentication carries a fresh
//! token. The sync [`SaslConfig::start`] serves PLAIN and SCRAM only.
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

#[cfg(feature = "aws-msk-iam")]
pub mod aws_msk_iam;
mod error;
mod exchange;
pub mod oauthbearer;
pub mod plain;
#[cfg(feature = "sasl-scram")]
pub mod scram;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use error::SaslError;
pub use exchange::Authenticated;
pub(crate) use exchange::{SaslChannel, authenticate};

#[cfg(feature = "aws-msk-iam")]
use aws_msk_iam::{AwsMskIamClient, AwsMskIamConfig};
use oauthbearer::{OauthBearerClient, ServerError, TokenProvider};
use plain::PlainClient;
#[cfg(feature = "sasl-scram")]
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
    /// `OAUTHBEARER` (RFC 7628) with a token from a [`TokenProvider`].
    OauthBearer,
    /// `AWS_MSK_IAM`: Amazon MSK IAM with AWS credentials.
    AwsMskIam,
}

impl Mechanism {
    /// Every mechanism this client implements.
    pub const ALL: [Mechanism; 5] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
        Mechanism::OauthBearer,
        Mechanism::AwsMskIam,
    ];

    /// The mechanisms configured by a user name and password.
    pub const PASSWORD: [Mechanism; 3] = [
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
            Mechanism::OauthBearer => "OAUTHBEARER",
            Mechanism::AwsMskIam => "AWS_MSK_IAM",
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

/// A password: the client's one [`Secret`](crate::secret::Secret) type, printed as `***`.
///
/// ```
/// use laminar_kafka_client::sasl::Password;
///
/// let password = Password::from("hunter2");
/// assert_eq!(format!("{password:?}"), "***");
/// assert_eq!(password.expose(), "hunter2");
/// ```
pub type Password = crate::secret::Secret;

/// Which SASL mechanism to use, with its credentials (`sasl.mechanism`, `sasl.username`,
/// `sasl.password`).
///
/// `Debug` never shows a password or token. Two token configurations are equal when they share
/// the same provider.
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
    /// `OAUTHBEARER` with tokens from a provider.
    OauthBearer {
        /// Where tokens come from; asked at every (re-)authentication.
        provider: SharedProvider,
    },
    /// `AWS_MSK_IAM` with AWS credentials.
    #[cfg(feature = "aws-msk-iam")]
    AwsMskIam(AwsMskIamConfig),
}

/// A token provider shared by the connections of a client; equal when it is the same provider.
#[derive(Debug, Clone)]
pub struct SharedProvider(pub Arc<dyn TokenProvider>);

impl PartialEq for SharedProvider {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedProvider {}

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

    /// `OAUTHBEARER` with tokens from `provider`.
    pub fn oauthbearer(provider: Arc<dyn TokenProvider>) -> Self {
        SaslConfig::OauthBearer {
            provider: SharedProvider(provider),
        }
    }

    /// `AWS_MSK_IAM` with these credentials and region settings.
    #[cfg(feature = "aws-msk-iam")]
    pub fn aws_msk_iam(config: AwsMskIamConfig) -> Self {
        SaslConfig::AwsMskIam(config)
    }

    /// The configuration for a username/password `mechanism`, as read from `sasl.mechanism`,
    /// `sasl.username` and `sasl.password`. Token mechanisms are configured otherwise
    /// ([`SaslConfig::oauthbearer`], `SaslConfig::aws_msk_iam`) and give
    /// [`SaslError::InvalidCredentials`] here.
    pub fn with_credentials(
        mechanism: Mechanism,
        username: impl Into<String>,
        password: impl Into<Password>,
    ) -> Result<Self> {
        match mechanism {
            Mechanism::Plain => Ok(SaslConfig::plain(username, password)),
            Mechanism::ScramSha256 => Ok(SaslConfig::scram_sha256(username, password)),
            Mechanism::ScramSha512 => Ok(SaslConfig::scram_sha512(username, password)),
            Mechanism::OauthBearer | Mechanism::AwsMskIam => Err(SaslError::InvalidCredentials {
                mechanism,
                reason: "this mechanism takes a token or AWS credentials, not a user name and password",
            }),
        }
    }

    /// The mechanism, whose [`name`](Mechanism::name) goes into `SaslHandshake`.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            SaslConfig::Plain { .. } => Mechanism::Plain,
            SaslConfig::ScramSha256 { .. } => Mechanism::ScramSha256,
            SaslConfig::ScramSha512 { .. } => Mechanism::ScramSha512,
            SaslConfig::OauthBearer { .. } => Mechanism::OauthBearer,
            #[cfg(feature = "aws-msk-iam")]
            SaslConfig::AwsMskIam(_) => Mechanism::AwsMskIam,
        }
    }

    /// The user name of a username/password mechanism, for events (never the password).
    pub(crate) fn username(&self) -> Option<&str> {
        match self {
            SaslConfig::Plain { username, .. }
            | SaslConfig::ScramSha256 { username, .. }
            | SaslConfig::ScramSha512 { username, .. } => Some(username),
            _ => None,
        }
    }

    /// Starts one authentication exchange (one per connection, and again on each
    /// re-authentication).
    ///
    /// Fails if the credentials cannot be expressed in the mechanism (a NUL byte in a PLAIN
    /// user name or password) or if the operating system's random source fails (SCRAM nonce).
    /// Token mechanisms fail with [`SaslError::NeedsAsyncStart`]: use [`begin`](Self::begin).
    pub fn start(&self) -> Result<SaslSession> {
        let inner = match self {
            SaslConfig::Plain { username, password } => {
                SessionInner::Plain(PlainClient::new(username, password)?)
            }
            #[cfg(feature = "sasl-scram")]
            SaslConfig::ScramSha256 { username, password } => {
                SessionInner::Scram(ScramClient::new(ScramHash::Sha256, username, password)?)
            }
            #[cfg(feature = "sasl-scram")]
            SaslConfig::ScramSha512 { username, password } => {
                SessionInner::Scram(ScramClient::new(ScramHash::Sha512, username, password)?)
            }
            #[cfg(not(feature = "sasl-scram"))]
            SaslConfig::ScramSha256 { .. } | SaslConfig::ScramSha512 { .. } => {
                return Err(SaslError::NotBuilt {
                    mechanism: self.mechanism(),
                    feature: "sasl-scram",
                });
            }
            other => {
                return Err(SaslError::NeedsAsyncStart {
                    mechanism: other.mechanism(),
                });
            }
        };
        Ok(SaslSession {
            inner,
            token_lifetime: None,
        })
    }

    /// Starts one authentication exchange with broker `host` (a host name or address, no
    /// port), fetching what token mechanisms need first: an OAUTHBEARER token from its
    /// provider, AWS credentials for `AWS_MSK_IAM`. Called once per connection and again on
    /// each re-authentication, so a re-authentication always carries a fresh token.
    pub async fn begin(&self, host: &str) -> Result<SaslSession> {
        match self {
            SaslConfig::OauthBearer { provider } => {
                let token = provider.0.token().await?;
                let now = SystemTime::now();
                let client = OauthBearerClient::new(&token, now)?;
                Ok(SaslSession {
                    inner: SessionInner::OauthBearer(client),
                    token_lifetime: Some(token.remaining(now)),
                })
            }
            #[cfg(feature = "aws-msk-iam")]
            SaslConfig::AwsMskIam(config) => Ok(SaslSession {
                inner: SessionInner::AwsMskIam(config.start(host).await?),
                token_lifetime: None,
            }),
            _ => {
                let _ = host;
                self.start()
            }
        }
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
    token_lifetime: Option<Duration>,
}

#[derive(Debug)]
enum SessionInner {
    Plain(PlainClient),
    #[cfg(feature = "sasl-scram")]
    Scram(ScramClient),
    OauthBearer(OauthBearerClient),
    #[cfg(feature = "aws-msk-iam")]
    AwsMskIam(AwsMskIamClient),
}

impl SaslSession {
    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        match &self.inner {
            SessionInner::Plain(_) => Mechanism::Plain,
            #[cfg(feature = "sasl-scram")]
            SessionInner::Scram(client) => client.mechanism(),
            SessionInner::OauthBearer(_) => Mechanism::OauthBearer,
            #[cfg(feature = "aws-msk-iam")]
            SessionInner::AwsMskIam(_) => Mechanism::AwsMskIam,
        }
    }

    /// How long the token this exchange sends stays valid (OAUTHBEARER), measured when the
    /// session began: the connection re-authenticates before it runs out.
    pub fn token_lifetime(&self) -> Option<Duration> {
        self.token_lifetime
    }

    /// Whether this step runs an expensive computation (SCRAM's PBKDF2) that belongs on a
    /// blocking thread.
    pub fn step_is_expensive(&self, server_bytes: Option<&[u8]>) -> bool {
        #[cfg(feature = "sasl-scram")]
        let scram = matches!(self.inner, SessionInner::Scram(_));
        #[cfg(not(feature = "sasl-scram"))]
        let scram = false;
        scram && server_bytes.is_some()
    }

    /// The error for a `SaslAuthenticate` response with a non-zero error code in this
    /// exchange: [`SaslError::TokenRejected`] when an OAUTHBEARER broker already explained its
    /// rejection, [`SaslError::AuthenticationFailed`] otherwise.
    pub fn failure(&self, error_code: i16, message: Option<&str>) -> SaslError {
        if let SessionInner::OauthBearer(client) = &self.inner {
            if let Some(rejection) = client.rejection() {
                return oauthbearer::rejected(ServerError::clone(rejection), message);
            }
        }
        SaslError::authentication_failed(self.mechanism(), error_code, message)
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
            #[cfg(feature = "sasl-scram")]
            SessionInner::Scram(client) => client.step(server_bytes),
            SessionInner::OauthBearer(client) => client.step(server_bytes),
            #[cfg(feature = "aws-msk-iam")]
            SessionInner::AwsMskIam(client) => client.step(server_bytes),
        }
    }

    /// Whether the exchange has completed successfully.
    pub fn is_done(&self) -> bool {
        match &self.inner {
            SessionInner::Plain(client) => client.is_done(),
            #[cfg(feature = "sasl-scram")]
            SessionInner::Scram(client) => client.is_done(),
            SessionInner::OauthBearer(client) => client.is_done(),
            #[cfg(feature = "aws-msk-iam")]
            SessionInner::AwsMskIam(client) => client.is_done(),
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
        for mechanism in Mechanism::PASSWORD {
            let config = SaslConfig::with_credentials(mechanism, "alice", "s3cr3t-pw").unwrap();
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
    fn token_mechanisms_take_no_password_and_need_an_async_start() {
        for mechanism in [Mechanism::OauthBearer, Mechanism::AwsMskIam] {
            let err = SaslConfig::with_credentials(mechanism, "u", "p").unwrap_err();
            assert!(matches!(err, SaslError::InvalidCredentials { .. }), "{err}");
        }
        let token =
            oauthbearer::OauthBearerToken::new("tok", SystemTime::now() + Duration::from_secs(60));
        let config =
            SaslConfig::oauthbearer(Arc::new(oauthbearer::StaticTokenProvider::new(token)));
        assert_eq!(config.mechanism(), Mechanism::OauthBearer);
        assert_eq!(config, config.clone());
        let err = config.start().unwrap_err();
        assert!(matches!(err, SaslError::NeedsAsyncStart { .. }), "{err}");
    }

    #[tokio::test]
    async fn begin_fetches_a_token_and_reports_its_lifetime() {
        let token =
            oauthbearer::OauthBearerToken::new("tok", SystemTime::now() + Duration::from_secs(60));
        let config =
            SaslConfig::oauthbearer(Arc::new(oauthbearer::StaticTokenProvider::new(token)));
        let mut session = config.begin("broker").await.unwrap();
        let lifetime = session.token_lifetime().unwrap();
        assert!(lifetime > Duration::from_secs(55) && lifetime <= Duration::from_secs(60));
        session.step(None).unwrap();
        session
            .step(Some(br#"{"status":"invalid_token"}"#))
            .unwrap();
        let err = session.failure(58, Some("Authentication failed"));
        assert!(
            matches!(&err, SaslError::TokenRejected { error, .. } if error.status == "invalid_token"),
            "{err}"
        );

        // PLAIN through begin, too.
        let mut session = SaslConfig::plain("a", "b").begin("broker").await.unwrap();
        assert!(session.token_lifetime().is_none());
        assert!(matches!(session.step(None).unwrap(), Step::Send(_)));
        let err = session.failure(58, None);
        assert!(
            matches!(err, SaslError::AuthenticationFailed { .. }),
            "{err}"
        );
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
