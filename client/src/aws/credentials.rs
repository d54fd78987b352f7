//! AWS credentials, the provider trait, and a cache that refreshes them before they expire.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;

use super::{AwsError, Result};
use crate::secret::Secret;

/// A boxed future, for the object-safe async traits of this module.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A secret string (secret access key, session token): the client's one [`Secret`] type,
/// printed as `***`.
///
/// ```
/// use laminar_kafka_client::aws::SecretString;
///
/// let secret = SecretString::from("wJalrXUtnFEMI");
/// assert_eq!(format!("{secret:?}"), "***");
/// assert_eq!(secret.expose(), "wJalrXUtnFEMI");
/// ```
pub type SecretString = Secret;

/// A set of AWS credentials: access key id, secret access key, and for temporary credentials a
/// session token and an expiry time.
///
/// `Debug` shows the access key id (it is not secret: it appears in every signed request) and
/// where the credentials came from, never the secret key or the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
    expiry: Option<SystemTime>,
    source: &'static str,
}

impl Credentials {
    /// Credentials from their parts. `source` names where they came from, for `Debug` and errors
    /// (e.g. `"environment"`).
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        expiry: Option<SystemTime>,
        source: &'static str,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: SecretString::new(secret_access_key.into()),
            session_token: session_token.map(SecretString::new),
            expiry,
            source,
        }
    }

    /// The access key id (`AKIA…`, or `ASIA…` for temporary credentials).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    pub fn secret_access_key(&self) -> &SecretString {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&SecretString> {
        self.session_token.as_ref()
    }

    /// When temporary credentials stop working; `None` for long-term keys.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expiry
    }

    /// Where the credentials came from, e.g. `"environment"` or `"profile"`.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Whether these credentials expire within `margin` of `now`.
    pub fn expires_within(&self, margin: Duration, now: SystemTime) -> bool {
        self.expiry
            .is_some_and(|expiry| expiry <= now.checked_add(margin).unwrap_or(now))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiry", &self.expiry)
            .field("source", &self.source)
            .finish()
    }
}

/// A source of AWS credentials. Implementations may do I/O (files, HTTP); callers cache through
/// [`CachedCredentials`].
pub trait ProvideCredentials: fmt::Debug + Send + Sync + 'static {
    /// Loads credentials. [`AwsError::NotFound`] means "this source has none" (the chain then
    /// tries the next); any other error means the source is configured but failed.
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>>;
}

/// Fixed credentials, e.g. from a secret store the application reads itself.
#[derive(Debug, Clone)]
pub struct StaticCredentials(Credentials);

impl StaticCredentials {
    /// Always provides `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        StaticCredentials(credentials)
    }
}

impl ProvideCredentials for StaticCredentials {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        let credentials = self.0.clone();
        Box::pin(async move { Ok(credentials) })
    }
}

/// How long before their expiry cached credentials are replaced: the AWS SDKs' default.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Caches what another provider returns and asks it again only when the credentials are within
/// [`REFRESH_MARGIN`] of expiring. Concurrent callers wait for one refresh rather than each
/// starting their own.
#[derive(Debug)]
pub struct CachedCredentials {
    inner: Arc<dyn ProvideCredentials>,
    cached: Mutex<Option<Credentials>>,
    margin: Duration,
}

impl CachedCredentials {
    /// A cache in front of `inner`.
    pub fn new(inner: Arc<dyn ProvideCredentials>) -> Self {
        Self::with_margin(inner, REFRESH_MARGIN)
    }

    /// A cache that refreshes `margin` before expiry.
    pub fn with_margin(inner: Arc<dyn ProvideCredentials>, margin: Duration) -> Self {
        CachedCredentials {
            inner,
            cached: Mutex::new(None),
            margin,
        }
    }
}

impl ProvideCredentials for CachedCredentials {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            if let Some(credentials) = cached.as_ref() {
                if !credentials.expires_within(self.margin, SystemTime::now()) {
                    return Ok(credentials.clone());
                }
            }
            let fresh = self.inner.provide_credentials().await?;
            *cached = Some(fresh.clone());
            Ok(fresh)
        })
    }
}

/// Tries providers in order and returns the first credentials found; when none has any, the
/// error lists every source tried and why it had none.
#[derive(Debug)]
pub struct ChainProvider {
    providers: Vec<(&'static str, Arc<dyn ProvideCredentials>)>,
}

impl ChainProvider {
    /// A chain of `(source name, provider)` pairs, tried in order.
    pub fn new(providers: Vec<(&'static str, Arc<dyn ProvideCredentials>)>) -> Self {
        ChainProvider { providers }
    }
}

impl ProvideCredentials for ChainProvider {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(async move {
            let mut tried = Vec::with_capacity(self.providers.len());
            for (name, provider) in &self.providers {
                match provider.provide_credentials().await {
                    Ok(credentials) => return Ok(credentials),
                    Err(AwsError::NotFound { reason, .. }) => {
                        tried.push(format!("{name} ({reason})"))
                    }
                    Err(AwsError::NoCredentials { tried: inner }) => tried.extend(inner),
                    Err(other) => return Err(other),
                }
            }
            Err(AwsError::NoCredentials { tried })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        lifetime: Duration,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = SystemTime::now() + self.lifetime;
            Box::pin(async move {
                Ok(Credentials::new(
                    format!("AKID{n}"),
                    "secret",
                    Some("token".to_owned()),
                    Some(expiry),
                    "test",
                ))
            })
        }
    }

    #[derive(Debug)]
    struct Missing(&'static str);

    impl ProvideCredentials for Missing {
        fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
            Box::pin(async move {
                Err(AwsError::NotFound {
                    source_name: "test",
                    reason: self.0.to_owned(),
                })
            })
        }
    }

    #[test]
    fn debug_never_shows_the_secret_or_the_token() {
        let c = Credentials::new(
            "AKIDEXAMPLE",
            "very-secret-key",
            Some("session-tok".into()),
            None,
            "test",
        );
        let debug = format!("{c:?}");
        assert!(debug.contains("AKIDEXAMPLE"), "{debug}");
        assert!(
            !debug.contains("very-secret-key") && !debug.contains("session-tok"),
            "{debug}"
        );
    }

    #[tokio::test]
    async fn the_cache_refreshes_only_near_expiry() {
        let long = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime: Duration::from_secs(3600),
        });
        let cache = CachedCredentials::new(long.clone());
        let a = cache.provide_credentials().await.unwrap();
        let b = cache.provide_credentials().await.unwrap();
        assert_eq!(a.access_key_id(), b.access_key_id());
        assert_eq!(long.calls.load(Ordering::SeqCst), 1);

        // Credentials that expire inside the margin are fetched again on every use.
        let short = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime: Duration::from_secs(60),
        });
        let cache = CachedCredentials::new(short.clone());
        let a = cache.provide_credentials().await.unwrap();
        let b = cache.provide_credentials().await.unwrap();
        assert_ne!(a.access_key_id(), b.access_key_id());
        assert_eq!(short.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_empty_chain_lists_every_source_tried() {
        let chain = ChainProvider::new(vec![
            (
                "environment",
                Arc::new(Missing("AWS_ACCESS_KEY_ID is not set")),
            ),
            ("profile", Arc::new(Missing("no file"))),
        ]);
        let err = chain.provide_credentials().await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("environment (AWS_ACCESS_KEY_ID is not set)")
                && text.contains("profile (no file)"),
            "{text}"
        );

        let chain = ChainProvider::new(vec![
            ("environment", Arc::new(Missing("unset"))),
            (
                "counting",
                Arc::new(Counting {
                    calls: AtomicUsize::new(0),
                    lifetime: Duration::from_secs(10),
                }),
            ),
        ]);
        assert_eq!(
            chain.provide_credentials().await.unwrap().access_key_id(),
            "AKID0"
        );
    }
}
