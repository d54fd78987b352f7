//! A client of the Confluent Schema Registry REST API (and of registries that speak it:
//! Apicurio's `ccompat` API, Karapace, Redpanda).
//!
//! What the formats need: a schema by id (cached: the registry is asked once per id, however
//! many tasks ask at the same time), the versions of a subject, a given or the latest version,
//! registering a schema under a subject, and checking a schema's compatibility with the
//! latest version. Authentication is HTTP basic with the profile's `apiKey` / `apiSecret`.
//!
//! HTTP goes through `reqwest` on rustls with the `ring` provider. Every call is bounded: a
//! request timeout ([`DEFAULT_TIMEOUT`]) and a response size limit ([`MAX_RESPONSE_BYTES`]).
//! Errors name the URL that failed (without credentials) and never carry the API secret.
//!
//! ```no_run
//! use laminar_kafka_connector::schema_registry::{SchemaRegistryClient, SchemaType};
//!
//! # async fn example() -> Result<(), laminar_kafka_connector::schema_registry::RegistryError> {
//! let registry = SchemaRegistryClient::new("http://localhost:8081", None)?;
//! let id = registry
//!     .register("orders-value", SchemaType::Avro, r#"{"type": "string"}"#, &[])
//!     .await?;
//! let schema = registry.schema_by_id(id).await?;
//! assert_eq!(schema.schema_type, SchemaType::Avro);
//! # Ok(())
//! # }
//! ```

#![cfg_attr(not(feature = "schema-registry"), allow(dead_code, unused_imports))]

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::config::{ResolvedSchemaRegistry, Secret};

/// How long one request may take, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response body read; a registry answer is a schema, far below this.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// The media type of the registry API.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Errors of the schema registry client. Each names the URL it concerns, without credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The endpoint is not an `http://` or `https://` URL.
    #[error("schema registry endpoint `{endpoint}` is not usable: {reason}")]
    InvalidEndpoint {
        /// The endpoint as configured (credentials removed).
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// No answer: connection refused, DNS failure, TLS failure or timeout.
    #[error("schema registry at {url} is unreachable: {reason}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// What failed.
        reason: String,
    },
    /// 401 or 403: the API key or secret is wrong or lacks the permission.
    #[error(
        "schema registry refused the credentials for {url} (HTTP {status}); check `apiKey` / `apiSecret`"
    )]
    Unauthorized {
        /// The URL requested.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// 404: no such schema id, subject or version.
    #[error("not found in the schema registry: {url} ({message})")]
    NotFound {
        /// The URL requested.
        url: String,
        /// The registry's error code (`40401` subject, `40402` version, `40403` schema).
        code: Option<i32>,
        /// The registry's message.
        message: String,
    },
    /// 409: the schema is incompatible with the subject's earlier versions.
    #[error("schema is incompatible with subject at {url}: {message}")]
    Incompatible {
        /// The URL requested.
        url: String,
        /// The registry's message.
        message: String,
    },
    /// 422: the registry could not parse the schema (or another argument).
    #[error("schema registry rejected the request to {url}: {message}")]
    Rejected {
        /// The URL requested.
        url: String,
        /// The registry's error code.
        code: Option<i32>,
        /// The registry's message.
        message: String,
    },
    /// Any other error status.
    #[error("schema registry answered HTTP {status} for {url}: {message}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's message, or the start of the body.
        message: String,
    },
    /// A success status with a body that is not what the API says.
    #[error("unexpected answer from the schema registry for {url}: {reason}")]
    InvalidResponse {
        /// The URL requested.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The kind of a registered schema (`schemaType`; absent means Avro).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    /// Apache Avro (JSON schema text).
    #[default]
    Avro,
    /// Protocol Buffers (`.proto` text).
    Protobuf,
    /// JSON Schema.
    Json,
}

impl SchemaType {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }
}

/// A schema that another schema imports (Protobuf `import`, Avro named types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaReference {
    /// The name it is imported by (a `.proto` file name for Protobuf).
    pub name: String,
    /// The subject it is registered under.
    pub subject: String,
    /// Its version in that subject.
    pub version: i32,
}

/// A schema as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisteredSchema {
    /// Its global id (the one in Confluent-framed records).
    pub id: u32,
    /// Its kind.
    pub schema_type: SchemaType,
    /// Its text.
    pub schema: String,
    /// The schemas it imports.
    pub references: Vec<SchemaReference>,
}

impl RegisteredSchema {
    /// A schema without references (for schemas known without asking a registry).
    pub fn new(id: u32, schema_type: SchemaType, schema: String) -> Self {
        RegisteredSchema {
            id,
            schema_type,
            schema,
            references: Vec::new(),
        }
    }
}

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// The version number in the subject.
    pub version: i32,
    /// The schema.
    pub schema: RegisteredSchema,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaBody {
    schema: String,
    #[serde(default)]
    schema_type: Option<SchemaType>,
    #[serde(default)]
    references: Option<Vec<SchemaReference>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionBody {
    subject: String,
    version: i32,
    id: u32,
    schema: String,
    #[serde(default)]
    schema_type: Option<SchemaType>,
    #[serde(default)]
    references: Option<Vec<SchemaReference>>,
}

#[derive(Deserialize)]
struct IdBody {
    id: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
struct CompatibilityBody {
    is_compatible: bool,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error_code: Option<i32>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody<'a> {
    schema: &'a str,
    schema_type: SchemaType,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    references: &'a [SchemaReference],
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters pass).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(feature = "schema-registry")]
pub use client::SchemaRegistryClient;

/// The HTTP client (feature `schema-registry`).
#[cfg(feature = "schema-registry")]
mod client {
    use super::*;

    /// A Confluent-compatible schema registry. Cheap to clone; clones share the cache.
    #[derive(Clone)]
    pub struct SchemaRegistryClient {
        pub(super) inner: Arc<Inner>,
    }

    pub(super) struct Inner {
        http: reqwest::Client,
        /// The endpoint without a trailing `/` and without credentials.
        pub(super) base: String,
        pub(super) credentials: Option<(Secret<String>, Secret<String>)>,
        by_id: Mutex<HashMap<u32, Arc<OnceCell<Arc<RegisteredSchema>>>>>,
        requests: AtomicU64,
    }

    impl fmt::Debug for SchemaRegistryClient {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SchemaRegistryClient")
                .field("endpoint", &self.inner.base)
                .field("authenticated", &self.inner.credentials.is_some())
                .finish_non_exhaustive()
        }
    }

    impl SchemaRegistryClient {
        /// A client of the registry at `endpoint`, with basic-auth `credentials` (API key and
        /// secret) if it needs them. Credentials written into the URL (`https://key:secret@host`)
        /// are taken out of it and used the same way.
        pub fn new(
            endpoint: &str,
            credentials: Option<(Secret<String>, Secret<String>)>,
        ) -> Result<Self, RegistryError> {
            Self::with_timeout(endpoint, credentials, DEFAULT_TIMEOUT)
        }

        /// A client from a profile's resolved registry settings.
        pub fn from_config(config: &ResolvedSchemaRegistry) -> Result<Self, RegistryError> {
            Self::new(&config.endpoint, config.credentials.clone())
        }

        /// Like [`new`](Self::new), with a per-request timeout.
        pub fn with_timeout(
            endpoint: &str,
            credentials: Option<(Secret<String>, Secret<String>)>,
            timeout: Duration,
        ) -> Result<Self, RegistryError> {
            let invalid = |reason: &str| RegistryError::InvalidEndpoint {
                endpoint: redact_userinfo(endpoint),
                reason: reason.to_owned(),
            };
            let mut url =
                reqwest::Url::parse(endpoint.trim()).map_err(|e| invalid(&e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("the scheme must be http or https"));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid("it has no host"));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(invalid("it must not have a query or fragment"));
            }
            let mut credentials = credentials;
            if !url.username().is_empty() {
                if credentials.is_none() {
                    let decode = |s: &str| {
                        percent_decode(s)
                            .ok_or_else(|| invalid("its user information is malformed"))
                    };
                    credentials = Some((
                        Secret::new(decode(url.username())?),
                        Secret::new(decode(url.password().unwrap_or(""))?),
                    ));
                }
                let _ = url.set_username("");
                let _ = url.set_password(None);
            }
            let base = url.as_str().trim_end_matches('/').to_owned();
            let http = reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                .user_agent(concat!("laminar-kafka/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| invalid(&format!("HTTP client: {}", e.without_url())))?;
            Ok(SchemaRegistryClient {
                inner: Arc::new(Inner {
                    http,
                    base,
                    credentials,
                    by_id: Mutex::new(HashMap::new()),
                    requests: AtomicU64::new(0),
                }),
            })
        }

        /// The endpoint, without credentials.
        pub fn endpoint(&self) -> &str {
            &self.inner.base
        }

        /// HTTP requests sent so far (for tests and metrics: the cache keeps this low).
        pub fn requests_sent(&self) -> u64 {
            self.inner.requests.load(Ordering::Relaxed)
        }

        /// The schema with global id `id`. Cached: the registry is asked once per id; concurrent
        /// callers of the same id wait for the one request. A failure is not cached.
        pub async fn schema_by_id(&self, id: u32) -> Result<Arc<RegisteredSchema>, RegistryError> {
            let cell = {
                let mut map = self
                    .inner
                    .by_id
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                map.entry(id).or_default().clone()
            };
            cell.get_or_try_init(|| async {
                let body: SchemaBody = self.get(&format!("/schemas/ids/{id}")).await?;
                Ok(Arc::new(RegisteredSchema {
                    id,
                    schema_type: body.schema_type.unwrap_or_default(),
                    schema: body.schema,
                    references: body.references.unwrap_or_default(),
                }))
            })
            .await
            .cloned()
        }

        /// The cached schema with id `id`, without asking the registry.
        pub fn cached(&self, id: u32) -> Option<Arc<RegisteredSchema>> {
            let map = self
                .inner
                .by_id
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.get(&id).and_then(|cell| cell.get().cloned())
        }

        fn remember(&self, schema: RegisteredSchema) {
            let id = schema.id;
            let cell = {
                let mut map = self
                    .inner
                    .by_id
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                map.entry(id).or_default().clone()
            };
            let _ = cell.set(Arc::new(schema));
        }

        /// The subjects the registry knows.
        pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
            self.get("/subjects").await
        }

        /// The version numbers of `subject`.
        pub async fn subject_versions(&self, subject: &str) -> Result<Vec<i32>, RegistryError> {
            self.get(&format!("/subjects/{}/versions", encode_segment(subject)))
                .await
        }

        /// Version `version` of `subject`.
        pub async fn version(
            &self,
            subject: &str,
            version: i32,
        ) -> Result<SubjectVersion, RegistryError> {
            self.subject_version(subject, &version.to_string()).await
        }

        /// The latest version of `subject`.
        pub async fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
            self.subject_version(subject, "latest").await
        }

        async fn subject_version(
            &self,
            subject: &str,
            version: &str,
        ) -> Result<SubjectVersion, RegistryError> {
            let body: VersionBody = self
                .get(&format!(
                    "/subjects/{}/versions/{version}",
                    encode_segment(subject)
                ))
                .await?;
            let schema = RegisteredSchema {
                id: body.id,
                schema_type: body.schema_type.unwrap_or_default(),
                schema: body.schema,
                references: body.references.unwrap_or_default(),
            };
            self.remember(schema.clone());
            Ok(SubjectVersion {
                subject: body.subject,
                version: body.version,
                schema,
            })
        }

        /// Registers `schema` under `subject` (a no-op returning the existing id if it is already
        /// there) and returns its global id.
        pub async fn register(
            &self,
            subject: &str,
            schema_type: SchemaType,
            schema: &str,
            references: &[SchemaReference],
        ) -> Result<u32, RegistryError> {
            let body = RegisterBody {
                schema,
                schema_type,
                references,
            };
            let answer: IdBody = self
                .post(
                    &format!("/subjects/{}/versions", encode_segment(subject)),
                    &body,
                )
                .await?;
            self.remember(RegisteredSchema {
                id: answer.id,
                schema_type,
                schema: schema.to_owned(),
                references: references.to_vec(),
            });
            Ok(answer.id)
        }

        /// Whether `schema` is compatible with the latest version of `subject` under the
        /// subject's compatibility level. A subject without versions accepts anything.
        pub async fn is_compatible(
            &self,
            subject: &str,
            schema_type: SchemaType,
            schema: &str,
            references: &[SchemaReference],
        ) -> Result<bool, RegistryError> {
            let body = RegisterBody {
                schema,
                schema_type,
                references,
            };
            let path = format!(
                "/compatibility/subjects/{}/versions/latest",
                encode_segment(subject)
            );
            match self.post::<CompatibilityBody, _>(&path, &body).await {
                Ok(answer) => Ok(answer.is_compatible),
                // 40401 / 40402: nothing registered yet, so nothing to be incompatible with.
                Err(RegistryError::NotFound {
                    code: Some(40401 | 40402),
                    ..
                }) => Ok(true),
                Err(e) => Err(e),
            }
        }

        async fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, RegistryError> {
            let url = format!("{}{path}", self.inner.base);
            let request = self.inner.http.get(&url);
            self.send(url, request).await
        }

        async fn post<T: for<'de> Deserialize<'de>, B: Serialize>(
            &self,
            path: &str,
            body: &B,
        ) -> Result<T, RegistryError> {
            let url = format!("{}{path}", self.inner.base);
            let body = serde_json::to_vec(body).map_err(|e| RegistryError::InvalidResponse {
                url: url.clone(),
                reason: format!("encoding the request: {e}"),
            })?;
            let request = self
                .inner
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body);
            self.send(url, request).await
        }

        async fn send<T: for<'de> Deserialize<'de>>(
            &self,
            url: String,
            request: reqwest::RequestBuilder,
        ) -> Result<T, RegistryError> {
            let mut request = request.header(reqwest::header::ACCEPT, CONTENT_TYPE);
            if let Some((key, secret)) = &self.inner.credentials {
                request = request.basic_auth(key.expose(), Some(secret.expose()));
            }
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let mut response = request
                .send()
                .await
                .map_err(|e| RegistryError::Unreachable {
                    url: url.clone(),
                    reason: describe(&e),
                })?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                            return Err(RegistryError::InvalidResponse {
                                url,
                                reason: format!(
                                    "the body is larger than {MAX_RESPONSE_BYTES} bytes"
                                ),
                            });
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(RegistryError::Unreachable {
                            url,
                            reason: format!("reading the answer: {}", describe(&e)),
                        });
                    }
                }
            }
            if (200..300).contains(&status) {
                return serde_json::from_slice(&body).map_err(|e| RegistryError::InvalidResponse {
                    url,
                    reason: e.to_string(),
                });
            }
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(ErrorBody {
                    error_code,
                    message: Some(message),
                }) => (error_code, message),
                Ok(ErrorBody { error_code, .. }) => (error_code, String::new()),
                Err(_) => {
                    let text = String::from_utf8_lossy(&body);
                    (None, text.chars().take(200).collect())
                }
            };
            Err(match status {
                401 | 403 => RegistryError::Unauthorized { url, status },
                404 => RegistryError::NotFound { url, code, message },
                409 => RegistryError::Incompatible { url, message },
                422 => RegistryError::Rejected { url, code, message },
                _ => RegistryError::Status {
                    url,
                    status,
                    message,
                },
            })
        }
    }

    /// A `reqwest` error's kind and cause, without its URL.
    fn describe(e: &reqwest::Error) -> String {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else if e.is_body() || e.is_decode() {
            "bad response body"
        } else {
            "request failed"
        };
        let mut out = kind.to_owned();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            let text = s.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            source = s.source();
        }
        out
    }

    fn percent_decode(s: &str) -> Option<String> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }

    /// `scheme://user:pass@host/…` with the user information replaced by `***`.
    fn redact_userinfo(endpoint: &str) -> String {
        let Some(scheme_end) = endpoint.find("://") else {
            return crate::config::shorten(endpoint);
        };
        let rest = &endpoint[scheme_end + 3..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => format!(
                "{}://***@{}",
                &endpoint[..scheme_end],
                crate::config::shorten(&rest[at + 1..])
            ),
            None => crate::config::shorten(endpoint),
        }
    }
}

#[cfg(all(test, feature = "schema-registry"))]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_and_credentials_never_shown() {
        let e = SchemaRegistryClient::new("ftp://registry:8081", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "schema registry endpoint `ftp://registry:8081` is not usable: the scheme must be \
             http or https"
        );
        let e = SchemaRegistryClient::new("registry:8081 x", None).unwrap_err();
        assert!(matches!(e, RegistryError::InvalidEndpoint { .. }), "{e}");
        let e = SchemaRegistryClient::new("http://k:hunter2@h:1/?q", None).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");

        let c =
            SchemaRegistryClient::new("https://key:se%2Fcret@registry:8081/base/", None).unwrap();
        assert_eq!(c.endpoint(), "https://registry:8081/base");
        let (key, secret) = c.inner.credentials.as_ref().unwrap();
        assert_eq!(
            (key.expose().as_str(), secret.expose().as_str()),
            ("key", "se/cret")
        );
        assert!(!format!("{c:?}").contains("cret"));
    }

    #[test]
    fn subjects_are_encoded_as_one_path_segment() {
        assert_eq!(encode_segment("orders-value"), "orders-value");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_a_typed_error_naming_the_url() {
        // Port 9 on loopback: nothing listens there in the test environment.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let c = SchemaRegistryClient::new(
            &format!("http://127.0.0.1:{port}"),
            Some((Secret::new("k".into()), Secret::new("hunter2".into()))),
        )
        .unwrap();
        let e = c.schema_by_id(7).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "schema registry at http://127.0.0.1:{port}/schemas/ids/7 is unreachable: connection failed"
            )),
            "{text}"
        );
        assert!(!text.contains("hunter2") && !format!("{e:?}").contains("hunter2"));
        // A failure is not cached: the next call asks again.
        let _ = c.schema_by_id(7).await;
        assert_eq!(c.requests_sent(), 2);
    }
}
