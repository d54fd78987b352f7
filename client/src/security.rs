//! What is layered over a broker socket: TLS, then SASL authentication.
//!
//! `security.protocol` picks the layers (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); this module
//! builds them once from the configuration (so a bad CA file is reported before any connection)
//! and applies them in order while a connection is set up (`Connection::connect`): TLS around
//! the TCP stream, ApiVersions (in the connection), then the SASL exchange (SaslHandshake v1 and
//! SaslAuthenticate rounds driven by the [`sasl`](crate::sasl) state machines). The connection
//! runs the same exchange again for each re-authentication (KIP-368), over its own channel: this
//! module does not know how requests reach the broker, and does not depend on the connection.
//!
//! Token mechanisms (OAUTHBEARER, AWS_MSK_IAM) fetch their token or credentials before the
//! SaslHandshake, at every authentication and re-authentication. For OAUTHBEARER the session
//! lifetime used for re-authentication is the broker's, capped by the token's own expiry.

use std::fmt;
#[cfg(feature = "tls")]
use std::sync::Arc;

use laminar_kafka_protocol::versions::NegotiatedVersions;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{ClientConfig, OauthBearerMethod, SaslMechanism};
use crate::error::{Error, Result};
#[cfg(feature = "tls")]
use crate::log_targets;
pub use crate::sasl::Authenticated;
use crate::sasl::{Mechanism, SaslChannel, SaslConfig};
#[cfg(feature = "tls")]
use crate::tls::{self, PemSource, TlsConfig};

/// A byte stream to a broker: plain TCP or TLS over TCP.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// The security layers of a connection.
#[derive(Clone, Default)]
pub struct Security {
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ClientConfig>>,
    sasl: Option<SaslConfig>,
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Security")
            .field("tls", &self.uses_tls())
            .field("sasl", &self.sasl.as_ref().map(|s| s.mechanism().name()))
            .finish()
    }
}

fn host_of(broker: &str) -> &str {
    let host = broker.rsplit_once(':').map_or(broker, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Security {
    /// The layers `security.protocol` and the TLS/SASL properties ask for. TLS material is
    /// loaded and checked here.
    pub fn from_config(config: &ClientConfig) -> Result<Self> {
        let mut security = Security::default();
        #[cfg(not(feature = "tls"))]
        if config.security_protocol.uses_tls() {
            return Err(Error::InvalidProperty {
                name: "security.protocol".to_owned(),
                reason: "TLS is not in this build: enable the `tls` feature".to_owned(),
            });
        }
        #[cfg(feature = "tls")]
        if config.common.security_protocol.uses_tls() {
            let mut tls_config = TlsConfig::new();
            if let Some(ca) = &config.common.ssl_ca_location {
                tls_config = tls_config.with_ca_file(ca.clone());
            }
            if let (Some(cert), Some(key)) = (
                &config.common.ssl_certificate_location,
                &config.common.ssl_key_location,
            ) {
                tls_config = tls_config.with_client_certificate(
                    PemSource::File(cert.clone()),
                    PemSource::File(key.clone()),
                );
            }
            if !config.common.ssl_verify_hostname {
                tls_config = tls_config.dangerous_disable_hostname_verification();
            }
            let built = tls_config.build().map_err(|source| Error::Tls {
                broker: "(configuration)".to_owned(),
                source,
            })?;
            security.tls = Some(built);
        }
        if config.common.security_protocol.uses_sasl() {
            security.sasl = Some(sasl_config(config)?);
        }
        Ok(security)
    }

    /// These layers with `sasl` as the SASL configuration (e.g. an OAUTHBEARER provider built
    /// in code).
    pub fn with_sasl(mut self, sasl: SaslConfig) -> Self {
        self.sasl = Some(sasl);
        self
    }

    /// The SASL configuration, if SASL is on.
    pub fn sasl(&self) -> Option<&SaslConfig> {
        self.sasl.as_ref()
    }

    /// The `security.protocol` these layers make up, e.g. `SASL_SSL`, as events name it.
    pub(crate) fn protocol_name(&self) -> &'static str {
        match (self.uses_tls(), self.sasl.is_some()) {
            (false, false) => "PLAINTEXT",
            (true, false) => "SSL",
            (false, true) => "SASL_PLAINTEXT",
            (true, true) => "SASL_SSL",
        }
    }

    /// The SASL mechanism's name, or `none`, as events name it.
    pub(crate) fn mechanism_name(&self) -> &'static str {
        self.sasl.as_ref().map_or("none", |s| s.mechanism().name())
    }

    /// Whether connections are wrapped in TLS.
    pub fn uses_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Wraps the TCP stream in TLS when configured.
    #[cfg(not(feature = "tls"))]
    pub(crate) async fn wrap(&self, _broker: &str, tcp: TcpStream) -> Result<Box<dyn Transport>> {
        Ok(Box::new(tcp))
    }

    /// Wraps the TCP stream in TLS when configured.
    #[cfg(feature = "tls")]
    pub(crate) async fn wrap(&self, broker: &str, tcp: TcpStream) -> Result<Box<dyn Transport>> {
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some(config) => {
                let stream = match tls::connect(tcp, host_of(broker), config).await {
                    Ok(stream) => stream,
                    Err(source) => {
                        tracing::info!(
                            target: log_targets::SASL,
                            broker,
                            error = %source,
                            "TLS handshake failed"
                        );
                        return Err(Error::Tls {
                            broker: broker.to_owned(),
                            source,
                        });
                    }
                };
                tracing::debug!(
                    target: log_targets::SASL,
                    broker,
                    version = ?stream.get_ref().1.protocol_version(),
                    cipher_suite = ?stream.get_ref().1.negotiated_cipher_suite().map(|c| c.suite()),
                    "TLS handshake done"
                );
                Ok(Box::new(stream))
            }
        }
    }

    /// Runs the SASL exchange over `channel` when SASL is configured: the same exchange for the
    /// first authentication (over the raw stream) and for each re-authentication (KIP-368, over
    /// the multiplexed connection, whose caller holds new requests back meanwhile).
    pub(crate) async fn authenticate<C: SaslChannel>(
        &self,
        broker: &str,
        versions: &NegotiatedVersions,
        channel: &mut C,
    ) -> Result<Authenticated> {
        match &self.sasl {
            None => Ok(Authenticated::default()),
            Some(sasl) => {
                crate::sasl::authenticate(sasl, broker, host_of(broker), versions, channel).await
            }
        }
    }
}

/// The SASL configuration `sasl.mechanism` and its properties ask for.
fn sasl_config(config: &ClientConfig) -> Result<SaslConfig> {
    let invalid = |name: &str, reason: String| Error::InvalidProperty {
        name: name.to_owned(),
        reason,
    };
    let mechanism = match config.common.sasl_mechanism {
        SaslMechanism::Plain => Mechanism::Plain,
        SaslMechanism::ScramSha256 => Mechanism::ScramSha256,
        SaslMechanism::ScramSha512 => Mechanism::ScramSha512,
        SaslMechanism::OauthBearer => {
            if let Some(provider) = &config.common.oauthbearer_token_provider {
                return Ok(SaslConfig::oauthbearer(provider.clone()));
            }
            return match config.common.sasl_oauthbearer_method {
                OauthBearerMethod::AwsMskIam => msk_oauthbearer(config),
                _ => Err(invalid(
                    "sasl.mechanism",
                    "OAUTHBEARER needs a token provider: set one with \
                     ClientConfig::with_oauthbearer_token_provider, or set \
                     sasl.oauthbearer.method=aws_msk_iam for Amazon MSK"
                        .to_owned(),
                )),
            };
        }
        SaslMechanism::AwsMskIam => return aws_msk_iam(config),
    };
    let username = config.common.sasl_username.clone().unwrap_or_default();
    let password = config
        .common
        .sasl_password
        .as_ref()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    SaslConfig::with_credentials(mechanism, username, password)
        .map_err(|e| invalid("sasl.mechanism", e.to_string()))
}

#[cfg(feature = "aws-msk-iam")]
fn msk_config(config: &ClientConfig) -> crate::sasl::aws_msk_iam::AwsMskIamConfig {
    crate::sasl::aws_msk_iam::AwsMskIamConfig::from_environment(
        config.common.sasl_aws_region.clone(),
        config.common.sasl_aws_profile.as_deref(),
    )
}

#[cfg(feature = "aws-msk-iam")]
fn aws_msk_iam(config: &ClientConfig) -> Result<SaslConfig> {
    Ok(SaslConfig::aws_msk_iam(msk_config(config)))
}

#[cfg(feature = "aws-msk-iam")]
fn msk_oauthbearer(config: &ClientConfig) -> Result<SaslConfig> {
    let msk = msk_config(config);
    // The token names its region in its host: it must be known before any broker is.
    msk.region_for("").map_err(|_| Error::InvalidProperty {
        name: "sasl.aws.region".to_owned(),
        reason: "required by sasl.oauthbearer.method=aws_msk_iam (or set AWS_REGION)".to_owned(),
    })?;
    Ok(SaslConfig::oauthbearer(std::sync::Arc::new(
        crate::sasl::aws_msk_iam::MskTokenProvider::new(msk),
    )))
}

#[cfg(not(feature = "aws-msk-iam"))]
fn aws_msk_iam(_config: &ClientConfig) -> Result<SaslConfig> {
    Err(not_built_in())
}

#[cfg(not(feature = "aws-msk-iam"))]
fn msk_oauthbearer(_config: &ClientConfig) -> Result<SaslConfig> {
    Err(not_built_in())
}

#[cfg(not(feature = "aws-msk-iam"))]
fn not_built_in() -> Error {
    Error::InvalidProperty {
        name: "sasl.mechanism".to_owned(),
        reason: "Amazon MSK IAM needs the client built with feature `aws-msk-iam`".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn host_is_taken_from_host_port_and_ipv6_literals() {
        assert_eq!(host_of("broker-1:9092"), "broker-1");
        assert_eq!(host_of("127.0.0.1:19094"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9093"), "::1");
    }

    #[test]
    fn sasl_without_tls_and_tls_without_sasl_follow_the_protocol() {
        let mut c = ClientConfig::new("a:1").unwrap();
        c.set("security.protocol", "SASL_PLAINTEXT").unwrap();
        c.set("sasl.mechanism", "SCRAM-SHA-512").unwrap();
        c.set("sasl.username", "u").unwrap();
        c.set("sasl.password", "very-secret-pw").unwrap();
        let s = Security::from_config(&c).unwrap();
        assert!(s.tls.is_none());
        assert_eq!(s.sasl.as_ref().unwrap().mechanism(), Mechanism::ScramSha512);
        assert!(!format!("{s:?}").contains("very-secret-pw"));

        let mut c = ClientConfig::new("a:1").unwrap();
        c.set("security.protocol", "SSL").unwrap();
        let s = Security::from_config(&c).unwrap();
        assert!(s.tls.is_some() && s.sasl.is_none());
    }

    #[test]
    fn token_mechanisms_are_built_from_their_properties() {
        let mut c = ClientConfig::new("a:1").unwrap();
        c.set("security.protocol", "SASL_SSL").unwrap();
        c.set("sasl.mechanism", "OAUTHBEARER").unwrap();
        let err = Security::from_config(&c).unwrap_err().to_string();
        assert!(
            err.contains("with_oauthbearer_token_provider") && err.contains("aws_msk_iam"),
            "{err}"
        );

        let token = crate::sasl::oauthbearer::OauthBearerToken::new(
            "t",
            std::time::SystemTime::now() + Duration::from_secs(60),
        );
        let c2 = c
            .clone()
            .with_oauthbearer_token_provider(std::sync::Arc::new(
                crate::sasl::oauthbearer::StaticTokenProvider::new(token),
            ));
        let s = Security::from_config(&c2).unwrap();
        assert_eq!(s.sasl().unwrap().mechanism(), Mechanism::OauthBearer);

        #[cfg(feature = "aws-msk-iam")]
        {
            c.set("sasl.oauthbearer.method", "aws_msk_iam").unwrap();
            c.set("sasl.aws.region", "eu-central-1").unwrap();
            let s = Security::from_config(&c).unwrap();
            assert_eq!(s.sasl().unwrap().mechanism(), Mechanism::OauthBearer);

            c.set("sasl.mechanism", "AWS_MSK_IAM").unwrap();
            let s = Security::from_config(&c).unwrap();
            assert_eq!(s.sasl().unwrap().mechanism(), Mechanism::AwsMskIam);
            assert!(format!("{s:?}").contains("AWS_MSK_IAM"));
        }
    }

    #[test]
    fn an_unreadable_ca_file_fails_before_connecting() {
        let mut c = ClientConfig::new("a:1").unwrap();
        c.set("security.protocol", "SSL").unwrap();
        c.set("ssl.ca.location", "/nonexistent/ca.pem").unwrap();
        let err = Security::from_config(&c).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
