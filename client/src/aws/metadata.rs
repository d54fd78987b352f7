//! Credentials from the endpoints of the machine: the container credentials endpoint (ECS, EKS
//! Pod Identity) and the EC2 instance metadata service (IMDSv2).

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use super::http::{self, Url, excerpt};
use super::sts::parse_rfc3339;
use super::{AwsError, BoxFuture, Credentials, Env, ProvideCredentials, Result};

const CONTAINER: &str = "container";
const IMDS: &str = "instance metadata";

/// How long one call to a local metadata endpoint may take (the SDKs use 1 s for IMDS).
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

/// The credential document both endpoints serve.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    code: Option<String>,
    message: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
}

fn parse_document(source_name: &'static str, body: &[u8]) -> Result<Credentials> {
    let invalid = |reason: String| AwsError::InvalidResponse {
        source_name,
        reason,
    };
    // Never echo the body: it holds the secret key.
    let doc: Document = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("not a credential document: {e}")))?;
    if let Some(code) = doc.code.as_deref().filter(|c| *c != "Success") {
        return Err(invalid(format!(
            "code {code}: {}",
            doc.message.as_deref().unwrap_or("no message")
        )));
    }
    let (Some(access_key), Some(secret)) = (doc.access_key_id, doc.secret_access_key) else {
        return Err(invalid(
            "the document lacks AccessKeyId or SecretAccessKey".to_owned(),
        ));
    };
    let expiry = doc
        .expiration
        .as_deref()
        .map(parse_rfc3339)
        .transpose()
        .map_err(|e| invalid(format!("Expiration: {e}")))?;
    Ok(Credentials::new(
        access_key,
        secret,
        doc.token,
        expiry,
        source_name,
    ))
}

/// Credentials from `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (relative to `169.254.170.2`) or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the `Authorization` header from
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
///
/// A full URI over plain `http` must point at a loopback address or at the container endpoints
/// (`169.254.170.2`, `169.254.170.23`, `fd00:ec2::23`), as the SDKs require.
#[derive(Debug, Clone)]
pub struct ContainerProvider {
    env: Env,
}

impl ContainerProvider {
    /// Reads the variables of `env` when asked for credentials.
    pub fn new(env: Env) -> Self {
        ContainerProvider { env }
    }

    fn url(&self) -> Result<Url> {
        let config = |reason: String| AwsError::InvalidConfig { reason };
        if let Some(relative) = self.env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            if !relative.starts_with('/') {
                return Err(config(
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with /".to_owned(),
                ));
            }
            return Url::parse(&format!("http://169.254.170.2{relative}")).map_err(config);
        }
        let Some(full) = self.env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") else {
            return Err(AwsError::NotFound {
                source_name: CONTAINER,
                reason: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set"
                    .to_owned(),
            });
        };
        let url = Url::parse(&full)
            .map_err(|e| config(format!("AWS_CONTAINER_CREDENTIALS_FULL_URI: {e}")))?;
        if !url.https && !allowed_http_host(&url.host) {
            return Err(config(format!(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to a loopback \
                 address or the container endpoint, not {}",
                url.host
            )));
        }
        Ok(url)
    }

    fn authorization(&self) -> Result<Option<String>> {
        let token = match self.env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            Some(path) => Some(
                std::fs::read_to_string(&path).map_err(|source| AwsError::Io {
                    path: path.into(),
                    source,
                })?,
            ),
            None => self.env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        };
        let token = token.map(|t| t.trim().to_owned());
        if token.as_deref().is_some_and(|t| t.contains(['\r', '\n'])) {
            return Err(AwsError::InvalidConfig {
                reason: "the container authorization token contains a line break".to_owned(),
            });
        }
        Ok(token)
    }

    async fn load(&self) -> Result<Credentials> {
        let url = self.url()?;
        let authorization = self.authorization()?;
        let mut headers = vec![("accept", "application/json")];
        if let Some(token) = &authorization {
            headers.push(("authorization", token.as_str()));
        }
        let response =
            http::request(CONTAINER, "GET", &url, &headers, None, METADATA_TIMEOUT).await?;
        if response.status != 200 {
            return Err(AwsError::HttpStatus {
                source_name: CONTAINER,
                endpoint: url.display_endpoint(),
                status: response.status,
                message: excerpt(&response.body, 200),
            });
        }
        parse_document(CONTAINER, &response.body)
    }
}

fn allowed_http_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            v4.is_loopback() || [[169, 254, 170, 2], [169, 254, 170, 23]].contains(&v4.octets())
        }
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6 == std::net::Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23)
        }
        Err(_) => false,
    }
}

impl ProvideCredentials for ContainerProvider {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(self.load())
    }
}

/// Credentials of the instance profile from the EC2 instance metadata service, IMDSv2 only (a
/// session token from `PUT /latest/api/token`, then the role and its credentials).
///
/// `AWS_EC2_METADATA_DISABLED=true` turns it off; `AWS_EC2_METADATA_SERVICE_ENDPOINT` (or
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`) moves it. Off EC2 nothing answers: that is
/// "not found" after two seconds at most.
#[derive(Debug, Clone)]
pub struct ImdsProvider {
    env: Env,
}

impl ImdsProvider {
    /// Reads the variables of `env` when asked for credentials.
    pub fn new(env: Env) -> Self {
        ImdsProvider { env }
    }

    fn base(&self) -> Result<Option<String>> {
        if self
            .env
            .get("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            return Ok(None);
        }
        let base = match self.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            Some(endpoint) => endpoint.trim_end_matches('/').to_owned(),
            None => match self.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") {
                Some(mode) if mode.eq_ignore_ascii_case("ipv6") => {
                    "http://[fd00:ec2::254]".to_owned()
                }
                Some(mode) if !mode.eq_ignore_ascii_case("ipv4") => {
                    return Err(AwsError::InvalidConfig {
                        reason: format!(
                            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6, not {mode:?}"
                        ),
                    });
                }
                _ => "http://169.254.169.254".to_owned(),
            },
        };
        Ok(Some(base))
    }

    async fn load(&self) -> Result<Credentials> {
        let Some(base) = self.base()? else {
            return Err(AwsError::NotFound {
                source_name: IMDS,
                reason: "AWS_EC2_METADATA_DISABLED is true".to_owned(),
            });
        };
        let url = |path: &str| {
            Url::parse(&format!("{base}{path}")).map_err(|reason| AwsError::InvalidConfig {
                reason: format!("AWS_EC2_METADATA_SERVICE_ENDPOINT: {reason}"),
            })
        };
        let token_url = url("/latest/api/token")?;
        let token = match http::request(
            IMDS,
            "PUT",
            &token_url,
            &[("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
            None,
            METADATA_TIMEOUT,
        )
        .await
        {
            Ok(r) if r.status == 200 => String::from_utf8(r.body.to_vec())
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty() && !t.contains(['\r', '\n']))
                .ok_or_else(|| AwsError::InvalidResponse {
                    source_name: IMDS,
                    reason: "the session token is empty or not text".to_owned(),
                })?,
            Ok(r) => {
                return Err(AwsError::NotFound {
                    source_name: IMDS,
                    reason: format!(
                        "{} answered HTTP {} for an IMDSv2 session token",
                        token_url.display_endpoint(),
                        r.status
                    ),
                });
            }
            Err(AwsError::Http { reason, .. }) => {
                return Err(AwsError::NotFound {
                    source_name: IMDS,
                    reason: format!("{}: {reason}", token_url.display_endpoint()),
                });
            }
            Err(e) => return Err(e),
        };
        let headers = [("x-aws-ec2-metadata-token", token.as_str())];
        let roles_url = url("/latest/meta-data/iam/security-credentials/")?;
        let roles =
            http::request(IMDS, "GET", &roles_url, &headers, None, METADATA_TIMEOUT).await?;
        if roles.status == 404 {
            return Err(AwsError::NotFound {
                source_name: IMDS,
                reason: "the instance has no instance profile".to_owned(),
            });
        }
        if roles.status != 200 {
            return Err(AwsError::HttpStatus {
                source_name: IMDS,
                endpoint: roles_url.display_endpoint(),
                status: roles.status,
                message: excerpt(&roles.body, 200),
            });
        }
        let role = std::str::from_utf8(&roles.body)
            .ok()
            .and_then(|text| text.lines().map(str::trim).find(|l| !l.is_empty()))
            .filter(|r| {
                r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
            })
            .ok_or_else(|| AwsError::InvalidResponse {
                source_name: IMDS,
                reason: "the instance profile role name is missing or invalid".to_owned(),
            })?
            .to_owned();
        let credentials_url = url(&format!(
            "/latest/meta-data/iam/security-credentials/{role}"
        ))?;
        let response = http::request(
            IMDS,
            "GET",
            &credentials_url,
            &headers,
            None,
            METADATA_TIMEOUT,
        )
        .await?;
        if response.status != 200 {
            return Err(AwsError::HttpStatus {
                source_name: IMDS,
                endpoint: credentials_url.display_endpoint(),
                status: response.status,
                message: excerpt(&response.body, 200),
            });
        }
        parse_document(IMDS, &response.body)
    }
}

impl ProvideCredentials for ImdsProvider {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(self.load())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::aws::http::test_server;

    const DOC: &str = r#"{"Code":"Success","LastUpdated":"2030-01-01T00:00:00Z","Type":"AWS-HMAC",
        "AccessKeyId":"ASIAMETADATA","SecretAccessKey":"meta-secret","Token":"meta-token",
        "Expiration":"2030-01-01T06:00:00Z"}"#;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::from_map(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn documents_are_read_and_failures_do_not_echo_secrets() {
        let c = parse_document(CONTAINER, DOC.as_bytes()).unwrap();
        assert_eq!(c.access_key_id(), "ASIAMETADATA");
        assert_eq!(c.session_token().unwrap().expose(), "meta-token");
        assert!(c.expiry().unwrap() > UNIX_EPOCH + Duration::from_secs(1_893_456_000));
        let err = parse_document(
            IMDS,
            br#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("AssumeRoleUnauthorizedAccess"),
            "{err}"
        );
        let err = parse_document(IMDS, br#"{"SecretAccessKey":"leak-me", "AccessKeyId": 3}"#)
            .unwrap_err();
        assert!(!err.to_string().contains("leak-me"), "{err}");
    }

    #[test]
    fn plain_http_full_uris_are_limited_to_local_endpoints() {
        for ok in [
            "127.0.0.1",
            "localhost",
            "::1",
            "169.254.170.2",
            "169.254.170.23",
            "fd00:ec2::23",
        ] {
            assert!(allowed_http_host(ok), "{ok}");
        }
        for bad in [
            "10.0.0.1",
            "example.com",
            "169.254.169.254",
            "fd00:ec2::254",
        ] {
            assert!(!allowed_http_host(bad), "{bad}");
        }
        let err = ContainerProvider::new(env(&[(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://attacker.example/creds",
        )]))
        .url()
        .unwrap_err();
        assert!(matches!(err, AwsError::InvalidConfig { .. }), "{err}");
    }

    #[tokio::test]
    async fn container_credentials_with_an_authorization_token() {
        let (base, log) = test_server::start(Arc::new(|seen| match seen.header("authorization") {
            Some("Bearer pod-token") => (200, DOC.to_owned()),
            _ => (401, "unauthorized".to_owned()),
        }))
        .await;
        let dir =
            std::env::temp_dir().join(format!("laminar-aws-container-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token_file = dir.join("token");
        std::fs::write(&token_file, "Bearer pod-token\n").unwrap();
        let full = format!("{base}/v1/credentials");
        let c = ContainerProvider::new(env(&[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                token_file.to_str().unwrap(),
            ),
        ]))
        .provide_credentials()
        .await
        .unwrap();
        assert_eq!(c.access_key_id(), "ASIAMETADATA");
        assert_eq!(log.lock().unwrap()[0].target, "/v1/credentials");

        let err = ContainerProvider::new(env(&[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong"),
        ]))
        .provide_credentials()
        .await
        .unwrap_err();
        assert!(
            matches!(err, AwsError::HttpStatus { status: 401, .. }),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn imds_v2_session_role_and_credentials() {
        let (base, log) = test_server::start(Arc::new(|seen| {
            match (seen.method.as_str(), seen.target.as_str()) {
                ("PUT", "/latest/api/token") => (200, "imds-session".to_owned()),
                (_, _) if seen.header("x-aws-ec2-metadata-token") != Some("imds-session") => {
                    (401, String::new())
                }
                ("GET", "/latest/meta-data/iam/security-credentials/") => {
                    (200, "kafka-role\n".to_owned())
                }
                ("GET", "/latest/meta-data/iam/security-credentials/kafka-role") => {
                    (200, DOC.to_owned())
                }
                _ => (404, String::new()),
            }
        }))
        .await;
        let c = ImdsProvider::new(env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &base)]))
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(c.source(), "instance metadata");
        assert!(c.expiry().unwrap() > SystemTime::now());
        let seen = log.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[0].header("x-aws-ec2-metadata-token-ttl-seconds"),
            Some("21600")
        );

        // Nothing listening: "not found", quickly.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let err = ImdsProvider::new(env(&[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            &format!("http://{addr}"),
        )]))
        .provide_credentials()
        .await
        .unwrap_err();
        assert!(matches!(err, AwsError::NotFound { .. }), "{err}");
    }
}
