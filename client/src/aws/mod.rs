//! AWS support for MSK IAM authentication: credentials from the standard sources, and SigV4
//! presigning of the `kafka-cluster:Connect` action.
//!
//! This module owns what AWS defines: where credentials come from ([`default_credentials`],
//! the same sources in the same order as the AWS SDKs), how they are cached and refreshed
//! ([`CachedCredentials`]), and the SigV4 presign that both MSK mechanisms sign
//! ([`presign_kafka_connect`]). The SASL side (the `AWS_MSK_IAM` message and the OAUTHBEARER
//! token built from the presign) lives in [`crate::sasl::aws_msk_iam`].
//!
//! Secrets never appear in `Debug` output, errors or logs: secret keys and session tokens are
//! [`SecretString`]s, and HTTP errors name the endpoint without its query string.
//!
//! Note: the signer (`aws-sigv4`) emits `tracing` events at TRACE level that include the
//! canonical request, and with it a session token; an application that installs a `tracing`
//! subscriber should keep the `aws_sigv4` target below TRACE.

mod credentials;
mod http;
mod metadata;
mod profile;
mod sigv4;
mod sts;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use credentials::{
    BoxFuture, CachedCredentials, ChainProvider, Credentials, ProvideCredentials, REFRESH_MARGIN,
    SecretString, StaticCredentials,
};
pub use metadata::{ContainerProvider, ImdsProvider};
pub use profile::ProfileProvider;
pub use sigv4::{KAFKA_CONNECT_ACTION, Presigned, SERVICE, presign_kafka_connect};
pub use sts::WebIdentityProvider;

#[cfg(test)]
pub(crate) use sts::parse_rfc3339 as parse_time;

/// Percent-encodes a query value as SigV4 does.
pub(crate) fn http_encode(value: &str) -> String {
    http::encode_query_value(value)
}

/// A `Result` whose error defaults to [`AwsError`].
pub type Result<T, E = AwsError> = std::result::Result<T, E>;

/// Why AWS credentials could not be had, or a request could not be signed.
///
/// No variant carries a secret key, a session token or a web identity token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    /// This source has no credentials (the chain tries the next one).
    #[error("no credentials from {source_name}: {reason}")]
    NotFound {
        /// The source, e.g. `environment`.
        source_name: &'static str,
        /// Why it has none, e.g. `AWS_ACCESS_KEY_ID is not set`.
        reason: String,
    },
    /// No source in the chain had credentials.
    #[error("no AWS credentials found; tried: {}", tried.join("; "))]
    NoCredentials {
        /// Each source tried, with why it had none.
        tried: Vec<String>,
    },
    /// A configuration value (environment variable, profile setting) is invalid.
    #[error("invalid AWS configuration: {reason}")]
    InvalidConfig {
        /// What is wrong (never a secret value).
        reason: String,
    },
    /// A shared config or credentials file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An HTTP request to a credentials endpoint failed before a response arrived.
    #[error("{source_name}: request to {endpoint} failed: {reason}")]
    Http {
        /// The source, e.g. `instance metadata`.
        source_name: &'static str,
        /// Scheme, host and path of the endpoint (no query string).
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// A credentials endpoint answered with an error status.
    #[error("{source_name}: {endpoint} answered HTTP {status}: {message}")]
    HttpStatus {
        /// The source.
        source_name: &'static str,
        /// Scheme, host and path of the endpoint (no query string).
        endpoint: String,
        /// The status code.
        status: u16,
        /// The service's error message, if it sent one (shortened).
        message: String,
    },
    /// A credentials endpoint answered with a document this client cannot read.
    #[error("{source_name}: invalid response: {reason}")]
    InvalidResponse {
        /// The source.
        source_name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// SigV4 signing failed.
    #[error("cannot sign the request: {reason}")]
    Signing {
        /// What failed.
        reason: String,
    },
}

/// Looks up one environment variable.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The environment variables that configure AWS, read through a function so tests need not
/// touch the process environment. Empty values count as unset, as in the AWS SDKs.
#[derive(Clone)]
pub struct Env(Arc<Lookup>);

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env(Arc::new(|name| std::env::var(name).ok()))
    }

    /// A fixed set of variables.
    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Env(Arc::new(move |name| vars.get(name).cloned()))
    }

    /// A variable's value, `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// The region the SDKs would use: `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    pub fn region(&self) -> Option<String> {
        self.get("AWS_REGION")
            .or_else(|| self.get("AWS_DEFAULT_REGION"))
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env")
    }
}

/// Long-term or session keys from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`.
#[derive(Debug, Clone)]
pub struct EnvironmentProvider {
    env: Env,
}

impl EnvironmentProvider {
    /// Reads `env`.
    pub fn new(env: Env) -> Self {
        EnvironmentProvider { env }
    }

    fn load(&self) -> Result<Credentials> {
        let not_found = |reason: &str| AwsError::NotFound {
            source_name: "environment",
            reason: reason.to_owned(),
        };
        let Some(access_key) = self.env.get("AWS_ACCESS_KEY_ID") else {
            return Err(not_found("AWS_ACCESS_KEY_ID is not set"));
        };
        let Some(secret) = self.env.get("AWS_SECRET_ACCESS_KEY") else {
            return Err(AwsError::InvalidConfig {
                reason: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".to_owned(),
            });
        };
        Ok(Credentials::new(
            access_key.trim(),
            secret.trim(),
            self.env
                .get("AWS_SESSION_TOKEN")
                .map(|t| t.trim().to_owned()),
            None,
            "environment",
        ))
    }
}

impl ProvideCredentials for EnvironmentProvider {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        let result = self.load();
        Box::pin(async move { result })
    }
}

/// The standard credentials chain, cached: environment variables; the shared credentials and
/// config files (`AWS_PROFILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`); web identity
/// (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, STS AssumeRoleWithWebIdentity); the container
/// endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`); instance metadata (IMDSv2).
///
/// `profile` overrides `AWS_PROFILE` (the `sasl.aws.profile` property).
pub fn default_credentials(env: Env, profile: Option<&str>) -> Arc<dyn ProvideCredentials> {
    let chain = ChainProvider::new(vec![
        (
            "environment",
            Arc::new(EnvironmentProvider::new(env.clone())) as Arc<dyn ProvideCredentials>,
        ),
        (
            "profile",
            Arc::new(ProfileProvider::new(
                env.clone(),
                profile.map(str::to_owned),
            )),
        ),
        (
            "web identity",
            Arc::new(WebIdentityProvider::new(env.clone())),
        ),
        ("container", Arc::new(ContainerProvider::new(env.clone()))),
        ("instance metadata", Arc::new(ImdsProvider::new(env))),
    ]);
    Arc::new(CachedCredentials::new(Arc::new(chain)))
}

/// The region in an MSK broker host name (`b-1.cluster.abc.c2.kafka.us-east-1.amazonaws.com`,
/// or `….kafka-serverless.us-east-1.amazonaws.com`), if it is one.
///
/// ```
/// use laminar_kafka_client::aws::region_from_msk_host;
///
/// assert_eq!(
///     region_from_msk_host("b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com").as_deref(),
///     Some("eu-west-1")
/// );
/// assert_eq!(region_from_msk_host("localhost"), None);
/// ```
pub fn region_from_msk_host(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let kafka = labels
        .iter()
        .rposition(|l| *l == "kafka" || *l == "kafka-serverless")?;
    let region = labels.get(kafka + 1)?;
    let rest = &labels[kafka + 2..];
    let is_aws = matches!(rest, ["amazonaws", "com"] | ["amazonaws", "com", "cn"]);
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (is_aws && valid).then(|| (*region).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::from_map(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[tokio::test]
    async fn environment_keys_with_and_without_session_token() {
        let p = EnvironmentProvider::new(env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "SECRET"),
        ]));
        let c = p.provide_credentials().await.unwrap();
        assert_eq!(c.access_key_id(), "AKID");
        assert_eq!(c.secret_access_key().expose(), "SECRET");
        assert!(c.session_token().is_none());
        assert_eq!(c.source(), "environment");

        let p = EnvironmentProvider::new(env(&[
            ("AWS_ACCESS_KEY_ID", "ASIA"),
            ("AWS_SECRET_ACCESS_KEY", "SECRET"),
            ("AWS_SESSION_TOKEN", "TOKEN"),
        ]));
        let c = p.provide_credentials().await.unwrap();
        assert_eq!(c.session_token().unwrap().expose(), "TOKEN");

        let p = EnvironmentProvider::new(env(&[("AWS_ACCESS_KEY_ID", "AKID")]));
        let err = p.provide_credentials().await.unwrap_err();
        assert!(matches!(err, AwsError::InvalidConfig { .. }), "{err}");
        let p = EnvironmentProvider::new(env(&[("AWS_ACCESS_KEY_ID", "")]));
        let err = p.provide_credentials().await.unwrap_err();
        assert!(matches!(err, AwsError::NotFound { .. }), "{err}");
    }

    #[tokio::test]
    async fn the_default_chain_says_which_sources_it_tried() {
        let dir = std::env::temp_dir().join(format!("laminar-aws-empty-{}", std::process::id()));
        let chain = default_credentials(
            env(&[
                ("HOME", dir.to_str().unwrap()),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ]),
            None,
        );
        let err = chain.provide_credentials().await.unwrap_err();
        let AwsError::NoCredentials { tried } = &err else {
            panic!("{err}")
        };
        let names: Vec<&str> = tried
            .iter()
            .map(|t| t.split(" (").next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "environment",
                "profile",
                "web identity",
                "container",
                "instance metadata"
            ],
            "{err}"
        );
    }

    #[test]
    fn msk_host_names_give_their_region() {
        assert_eq!(
            region_from_msk_host("b-3.x.y.c4.kafka.ap-southeast-2.amazonaws.com").as_deref(),
            Some("ap-southeast-2")
        );
        assert_eq!(
            region_from_msk_host("boot-abc.c1.kafka-serverless.us-east-2.amazonaws.com").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_from_msk_host("kafka.example.com"), None);
        assert_eq!(region_from_msk_host("127.0.0.1"), None);
    }
}
