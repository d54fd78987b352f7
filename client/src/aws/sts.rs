//! Web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` exchanged for temporary
//! credentials by STS `AssumeRoleWithWebIdentity` (an unsigned request: the token is the proof),
//! as on EKS with IAM roles for service accounts.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::http::{self, Url, encode_query_value, excerpt};
use super::{AwsError, BoxFuture, Credentials, Env, ProvideCredentials, Result};

const SOURCE: &str = "web identity";

/// How long one STS call may take.
const STS_TIMEOUT: Duration = Duration::from_secs(10);

/// Credentials for a role assumed with a web identity token.
#[derive(Debug, Clone)]
pub struct WebIdentityProvider {
    env: Env,
    settings: Option<Settings>,
}

#[derive(Debug, Clone)]
struct Settings {
    role_arn: String,
    token_file: PathBuf,
    session_name: Option<String>,
}

impl WebIdentityProvider {
    /// Reads `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and `AWS_ROLE_SESSION_NAME` from `env`
    /// when asked for credentials. The STS endpoint is `AWS_ENDPOINT_URL_STS` (or
    /// `AWS_ENDPOINT_URL`) if set, else the regional one of `AWS_REGION`, else the global one.
    pub fn new(env: Env) -> Self {
        WebIdentityProvider {
            env,
            settings: None,
        }
    }

    /// A provider for a role and token file given by a profile.
    pub(crate) fn with_settings(
        env: Env,
        role_arn: String,
        token_file: PathBuf,
        session_name: Option<String>,
    ) -> Self {
        WebIdentityProvider {
            env,
            settings: Some(Settings {
                role_arn,
                token_file,
                session_name,
            }),
        }
    }

    fn settings(&self) -> Result<Settings> {
        if let Some(s) = &self.settings {
            return Ok(s.clone());
        }
        match (
            self.env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
            self.env.get("AWS_ROLE_ARN"),
        ) {
            (Some(file), Some(role)) => Ok(Settings {
                role_arn: role,
                token_file: PathBuf::from(file),
                session_name: self.env.get("AWS_ROLE_SESSION_NAME"),
            }),
            (None, _) => Err(AwsError::NotFound {
                source_name: SOURCE,
                reason: "AWS_WEB_IDENTITY_TOKEN_FILE is not set".to_owned(),
            }),
            (Some(_), None) => Err(AwsError::InvalidConfig {
                reason: "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not".to_owned(),
            }),
        }
    }

    fn endpoint(&self) -> Result<Url> {
        let url = match self
            .env
            .get("AWS_ENDPOINT_URL_STS")
            .or_else(|| self.env.get("AWS_ENDPOINT_URL"))
        {
            Some(url) => url,
            None => match self.env.region() {
                Some(region) if region.starts_with("cn-") => {
                    format!("https://sts.{region}.amazonaws.com.cn/")
                }
                Some(region) => format!("https://sts.{region}.amazonaws.com/"),
                None => "https://sts.amazonaws.com/".to_owned(),
            },
        };
        Url::parse(&url).map_err(|reason| AwsError::InvalidConfig {
            reason: format!("invalid STS endpoint: {reason}"),
        })
    }

    async fn load(&self) -> Result<Credentials> {
        let settings = self.settings()?;
        let token =
            std::fs::read_to_string(&settings.token_file).map_err(|source| AwsError::Io {
                path: settings.token_file.clone(),
                source,
            })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(AwsError::InvalidConfig {
                reason: format!(
                    "the web identity token file {} is empty",
                    settings.token_file.display()
                ),
            });
        }
        let session_name = settings.session_name.clone().unwrap_or_else(|| {
            let millis = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            format!("laminar-kafka-{millis}")
        });
        let form = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
            encode_query_value(&settings.role_arn),
            encode_query_value(&session_name),
            encode_query_value(token),
        );
        let url = self.endpoint()?;
        let response = http::request(
            SOURCE,
            "POST",
            &url,
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("accept", "text/xml"),
            ],
            Some(Bytes::from(form)),
            STS_TIMEOUT,
        )
        .await?;
        let body = std::str::from_utf8(&response.body).map_err(|_| AwsError::InvalidResponse {
            source_name: SOURCE,
            reason: "the response is not UTF-8".to_owned(),
        })?;
        if response.status != 200 {
            let message = match (xml_text(body, "Code"), xml_text(body, "Message")) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code,
                _ => excerpt(body.as_bytes(), 200),
            };
            return Err(AwsError::HttpStatus {
                source_name: SOURCE,
                endpoint: url.display_endpoint(),
                status: response.status,
                message,
            });
        }
        parse_assume_role_response(body)
    }
}

impl ProvideCredentials for WebIdentityProvider {
    fn provide_credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(self.load())
    }
}

/// The credentials in an `AssumeRoleWithWebIdentityResponse`.
fn parse_assume_role_response(body: &str) -> Result<Credentials> {
    let invalid = |reason: String| AwsError::InvalidResponse {
        source_name: SOURCE,
        reason,
    };
    let credentials = xml_element(body, "Credentials")
        .ok_or_else(|| invalid("no <Credentials> element in the STS response".to_owned()))?;
    let field = |name: &str| {
        xml_text(credentials, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(format!("no <{name}> in the STS credentials")))
    };
    let access_key = field("AccessKeyId")?;
    let secret = field("SecretAccessKey")?;
    let token = field("SessionToken")?;
    let expiration = field("Expiration")?;
    let expiry = parse_rfc3339(&expiration).map_err(|e| invalid(format!("Expiration: {e}")))?;
    Ok(Credentials::new(
        access_key,
        secret,
        Some(token),
        Some(expiry),
        SOURCE,
    ))
}

/// The content of the first `<name>…</name>` element (no attributes are expected).
fn xml_element<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(&body[start..end])
}

/// The text of the first `<name>` element, with XML entities decoded.
fn xml_text(body: &str, name: &str) -> Option<String> {
    let raw = xml_element(body, name)?.trim();
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let (entity, len) = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&apos;", '\''),
        ]
        .iter()
        .find(|(e, _)| rest.starts_with(e))
        .map(|(e, c)| (*c, e.len()))
        .unwrap_or(('&', 1));
        out.push(entity);
        rest = &rest[len..];
    }
    out.push_str(rest);
    Some(out)
}

/// An RFC 3339 time (`2021-10-14T13:05:00Z`) as a `SystemTime`.
pub(crate) fn parse_rfc3339(text: &str) -> std::result::Result<SystemTime, String> {
    let parsed =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
    let nanos = parsed.unix_timestamp_nanos();
    if nanos < 0 {
        return Err(format!("{text:?} is before 1970"));
    }
    let nanos = u64::try_from(nanos).map_err(|_| format!("{text:?} is too far ahead"))?;
    Ok(UNIX_EPOCH + Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::aws::http::test_server;

    const RESPONSE: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>
    <Credentials>
      <AccessKeyId>ASIAWEBIDENTITY</AccessKeyId>
      <SecretAccessKey>wJalr/secret&amp;key</SecretAccessKey>
      <SessionToken>FwoGZXIvYXdz&lt;token&gt;</SessionToken>
      <Expiration>2030-01-02T03:04:05Z</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

    #[test]
    fn the_sts_response_is_read() {
        let c = parse_assume_role_response(RESPONSE).unwrap();
        assert_eq!(c.access_key_id(), "ASIAWEBIDENTITY");
        assert_eq!(c.secret_access_key().expose(), "wJalr/secret&key");
        assert_eq!(c.session_token().unwrap().expose(), "FwoGZXIvYXdz<token>");
        assert_eq!(
            c.expiry().unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_893_553_445)
        );
        let err =
            parse_assume_role_response("<Credentials><AccessKeyId>x</AccessKeyId></Credentials>")
                .unwrap_err();
        assert!(err.to_string().contains("SecretAccessKey"), "{err}");
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[tokio::test]
    async fn assume_role_with_web_identity_against_a_local_sts() {
        let dir = std::env::temp_dir().join(format!("laminar-aws-sts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token_file = dir.join("token");
        std::fs::write(&token_file, "eyJhbGciOi.jwt+token/=\n").unwrap();
        let (base, log) = test_server::start(Arc::new(|seen| {
            if seen.method == "POST" {
                (200, RESPONSE.to_owned())
            } else {
                (400, "<Error><Code>Bad</Code></Error>".to_owned())
            }
        }))
        .await;
        let env = Env::from_map(HashMap::from([
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE".to_owned(),
                token_file.display().to_string(),
            ),
            (
                "AWS_ROLE_ARN".to_owned(),
                "arn:aws:iam::123456789012:role/kafka".to_owned(),
            ),
            ("AWS_ENDPOINT_URL_STS".to_owned(), base.clone()),
        ]));
        let c = WebIdentityProvider::new(env)
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(c.access_key_id(), "ASIAWEBIDENTITY");
        let seen = log.lock().unwrap()[0].clone();
        assert_eq!(
            seen.target, "/",
            "the token travels in the body, not the URL"
        );
        assert_eq!(
            seen.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );

        // STS refuses: its code and message are reported.
        let (base, _) = test_server::start(Arc::new(|_| {
            (
                403,
                "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>expired</Message></Error></ErrorResponse>"
                    .to_owned(),
            )
        }))
        .await;
        let env = Env::from_map(HashMap::from([
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE".to_owned(),
                token_file.display().to_string(),
            ),
            (
                "AWS_ROLE_ARN".to_owned(),
                "arn:aws:iam::1:role/r".to_owned(),
            ),
            ("AWS_ENDPOINT_URL_STS".to_owned(), base),
        ]));
        let err = WebIdentityProvider::new(env)
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AwsError::HttpStatus { status: 403, message, .. } if message == "InvalidIdentityToken: expired"),
            "{err}"
        );
        assert!(!err.to_string().contains("jwt+token"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_token_file_without_a_role_is_a_configuration_error() {
        let env = Env::from_map(HashMap::from([(
            "AWS_WEB_IDENTITY_TOKEN_FILE".to_owned(),
            "/x".to_owned(),
        )]));
        let err = WebIdentityProvider::new(env)
            .provide_credentials()
            .await
            .unwrap_err();
        assert!(matches!(err, AwsError::InvalidConfig { .. }), "{err}");
    }
}
