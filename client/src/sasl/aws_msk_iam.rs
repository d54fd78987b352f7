//! Amazon MSK IAM authentication: SASL `AWS_MSK_IAM`, and the MSK token for `OAUTHBEARER`.
//!
//! `AWS_MSK_IAM` (as AWS's Java library `aws-msk-iam-auth` speaks it) is one client message: a
//! JSON object carrying a SigV4 presign of `GET https://{broker host}/?Action=kafka-cluster%3AConnect`
//! for service `kafka-cluster` (see [`payload`]). The broker answers a JSON object with
//! `version` and `request-id` on success, or fails the SaslAuthenticate request.
//!
//! The MSK OAUTHBEARER token ([`msk_token`], [`MskTokenProvider`]) is the same presign for host
//! `kafka.{region}.amazonaws.com`, as a URL with `User-Agent` appended after signing, in
//! base64url without padding; it is valid from its `X-Amz-Date` for `X-Amz-Expires` (900 s).
//!
//! Both are checked byte for byte against vectors made with AWS's Java library
//! (`tests/java/msk-iam-vectors`).

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::oauthbearer::{OauthBearerToken, TokenFuture, TokenProvider};
use super::{Mechanism, Result, SaslError, Step, describe_input};
use crate::aws::{
    self, AwsError, Credentials, Env, KAFKA_CONNECT_ACTION, ProvideCredentials,
    presign_kafka_connect,
};

const MECHANISM: Mechanism = Mechanism::AwsMskIam;

/// The payload version of `AWS_MSK_IAM`.
pub const VERSION: &str = "2020_10_22";

/// How long a signature stays valid, as AWS's libraries sign it.
pub const EXPIRY: Duration = Duration::from_secs(900);

/// The user agent sent by default: `laminar-kafka/<version>`.
pub const USER_AGENT: &str = concat!("laminar-kafka/", env!("CARGO_PKG_VERSION"));

/// Where the credentials and region of MSK IAM come from.
#[derive(Clone)]
pub struct AwsMskIamConfig {
    credentials: Arc<dyn ProvideCredentials>,
    region: Option<String>,
    env: Env,
    user_agent: String,
}

impl fmt::Debug for AwsMskIamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsMskIamConfig")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl PartialEq for AwsMskIamConfig {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.credentials, &other.credentials)
            && self.region == other.region
            && self.user_agent == other.user_agent
    }
}

impl Eq for AwsMskIamConfig {}

impl AwsMskIamConfig {
    /// Credentials from `credentials`; the region from `region` if given, else from the broker
    /// host name (`….kafka.{region}.amazonaws.com`), else from `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`.
    pub fn new(credentials: Arc<dyn ProvideCredentials>, region: Option<String>) -> Self {
        AwsMskIamConfig {
            credentials,
            region,
            env: Env::process(),
            user_agent: USER_AGENT.to_owned(),
        }
    }

    /// The standard credentials chain of the process environment ([`aws::default_credentials`]),
    /// with `profile` overriding `AWS_PROFILE`.
    pub fn from_environment(region: Option<String>, profile: Option<&str>) -> Self {
        Self::new(aws::default_credentials(Env::process(), profile), region)
    }

    /// Reads the region fallback from `env` instead of the process environment.
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// Sends `user_agent` instead of [`USER_AGENT`].
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The credentials provider.
    pub fn credentials(&self) -> &Arc<dyn ProvideCredentials> {
        &self.credentials
    }

    /// The region to sign for when talking to `host`.
    pub fn region_for(&self, host: &str) -> Result<String> {
        self.region
            .clone()
            .or_else(|| aws::region_from_msk_host(host))
            .or_else(|| self.env.region())
            .ok_or_else(|| aws_error(AwsError::InvalidConfig {
                reason: format!(
                    "no AWS region: set sasl.aws.region (or AWS_REGION); {host} is not an MSK host name that names one"
                ),
            }))
    }

    /// Loads credentials and builds the `AWS_MSK_IAM` session for broker `host`.
    pub async fn start(&self, host: &str) -> Result<AwsMskIamClient> {
        let region = self.region_for(host)?;
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(aws_error)?;
        let payload = payload(
            &credentials,
            &region,
            host,
            &self.user_agent,
            SystemTime::now(),
        )
        .map_err(aws_error)?;
        Ok(AwsMskIamClient::new(payload))
    }
}

fn aws_error(source: AwsError) -> SaslError {
    SaslError::Aws {
        mechanism: MECHANISM,
        source: Box::new(source),
    }
}

/// The JSON client message of `AWS_MSK_IAM` for broker `host`, signed at `now` for
/// [`EXPIRY`].
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use laminar_kafka_client::aws::Credentials;
/// use laminar_kafka_client::sasl::aws_msk_iam::payload;
///
/// let credentials = Credentials::new("AKID", "SECRET", None, None, "example");
/// let json = payload(&credentials, "us-east-1", "b-1.kafka.us-east-1.amazonaws.com", "app/1",
///     UNIX_EPOCH + Duration::from_secs(1_700_000_000))?;
/// let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
/// assert_eq!(value["action"], "kafka-cluster:Connect");
/// assert_eq!(value["x-amz-credential"], "AKID/20231114/us-east-1/kafka-cluster/aws4_request");
/// # Ok::<(), laminar_kafka_client::aws::AwsError>(())
/// ```
pub fn payload(
    credentials: &Credentials,
    region: &str,
    host: &str,
    user_agent: &str,
    now: SystemTime,
) -> Result<Vec<u8>, AwsError> {
    let presigned = presign_kafka_connect(credentials, region, host, now, EXPIRY)?;
    let mut object = serde_json::Map::new();
    let mut put = |key: &str, value: &str| {
        object.insert(key.to_owned(), serde_json::Value::from(value));
    };
    put("version", VERSION);
    put("host", host);
    put("user-agent", user_agent);
    put("action", KAFKA_CONNECT_ACTION);
    put("x-amz-algorithm", &presigned.algorithm);
    put("x-amz-credential", &presigned.credential);
    put("x-amz-date", &presigned.date);
    if let Some(token) = &presigned.security_token {
        put("x-amz-security-token", token.expose());
    }
    put("x-amz-signedheaders", &presigned.signed_headers);
    put("x-amz-expires", &presigned.expires);
    put("x-amz-signature", &presigned.signature);
    serde_json::to_vec(&object).map_err(|e| AwsError::Signing {
        reason: format!("cannot write the payload: {e}"),
    })
}

/// The MSK OAUTHBEARER token for `region`, signed at `now`: the presigned
/// `https://kafka.{region}.amazonaws.com?Action=kafka-cluster%3AConnect&…&User-Agent=…` URL
/// (parameters in the order of AWS's Java library) in base64url without padding, expiring at
/// `now` + [`EXPIRY`].
pub fn msk_token(
    credentials: &Credentials,
    region: &str,
    user_agent: &str,
    now: SystemTime,
) -> Result<OauthBearerToken, AwsError> {
    let host = format!("kafka.{region}.amazonaws.com");
    let p = presign_kafka_connect(credentials, region, &host, now, EXPIRY)?;
    let enc = aws::http_encode;
    let mut url = format!("https://{host}?Action=kafka-cluster%3AConnect");
    if let Some(token) = &p.security_token {
        url.push_str("&X-Amz-Security-Token=");
        url.push_str(&enc(token.expose()));
    }
    for (name, value) in [
        ("X-Amz-Algorithm", &p.algorithm),
        ("X-Amz-Date", &p.date),
        ("X-Amz-SignedHeaders", &p.signed_headers),
        ("X-Amz-Expires", &p.expires),
        ("X-Amz-Credential", &p.credential),
        ("X-Amz-Signature", &p.signature),
    ] {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&enc(value));
    }
    url.push_str("&User-Agent=");
    url.push_str(&enc(user_agent));
    let expires_at = p.signed_at.checked_add(p.expires_in).unwrap_or(p.signed_at);
    Ok(OauthBearerToken::new(
        URL_SAFE_NO_PAD.encode(url),
        expires_at,
    ))
}

/// The OAUTHBEARER token provider for MSK: a fresh [`msk_token`] from the current credentials
/// at every authentication and re-authentication.
#[derive(Debug, Clone)]
pub struct MskTokenProvider {
    config: AwsMskIamConfig,
}

impl MskTokenProvider {
    /// Signs with `config`'s credentials; its region must be set or found in the environment
    /// (the token's host is `kafka.{region}.amazonaws.com`, not the broker's).
    pub fn new(config: AwsMskIamConfig) -> Self {
        MskTokenProvider { config }
    }
}

impl TokenProvider for MskTokenProvider {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            let region = self.config.region_for("")?;
            let credentials = self
                .config
                .credentials
                .provide_credentials()
                .await
                .map_err(aws_error)?;
            msk_token(
                &credentials,
                &region,
                &self.config.user_agent,
                SystemTime::now(),
            )
            .map_err(aws_error)
        })
    }
}

/// The client side of one `AWS_MSK_IAM` exchange.
#[derive(Debug)]
pub struct AwsMskIamClient {
    state: State,
    request_id: Option<String>,
}

#[derive(Debug)]
enum State {
    Start(Payload),
    ExpectResponse,
    Done,
    Failed,
}

struct Payload(Vec<u8>);

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload(<{} bytes>)", self.0.len())
    }
}

#[derive(serde::Deserialize)]
struct ServerResponse {
    version: String,
    #[serde(rename = "request-id")]
    request_id: String,
}

impl AwsMskIamClient {
    /// An exchange that sends `payload` (from [`payload`]).
    pub fn new(payload: Vec<u8>) -> Self {
        AwsMskIamClient {
            state: State::Start(Payload(payload)),
            request_id: None,
        }
    }

    /// Advances the exchange: `None` first (returns the payload), then the bytes of the
    /// successful SaslAuthenticate response (the broker's JSON; returns [`Step::Done`]).
    pub fn step(&mut self, server_bytes: Option<&[u8]>) -> Result<Step> {
        let (next, result) = match (mem::replace(&mut self.state, State::Failed), server_bytes) {
            (State::Start(payload), None) => (State::ExpectResponse, Ok(Step::Send(payload.0))),
            (State::ExpectResponse, Some(bytes)) => match parse_response(bytes) {
                Ok(response) => {
                    self.request_id = Some(response.request_id);
                    (State::Done, Ok(Step::Done))
                }
                Err(e) => (State::Failed, Err(e)),
            },
            (State::Failed, _) => (
                State::Failed,
                Err(SaslError::SessionFailed {
                    mechanism: MECHANISM,
                }),
            ),
            (state, input) => (
                State::Failed,
                Err(SaslError::UnexpectedStep {
                    mechanism: MECHANISM,
                    state: state.name(),
                    input: describe_input(input),
                }),
            ),
        };
        self.state = next;
        result
    }

    /// Whether the exchange has completed successfully.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The broker's `request-id`, once authenticated (quote it to AWS support).
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

fn parse_response(bytes: &[u8]) -> Result<ServerResponse> {
    let malformed = |reason: String| SaslError::MalformedServerMessage {
        mechanism: MECHANISM,
        message: "server response",
        reason,
    };
    if bytes.is_empty() {
        return Err(malformed(
            "empty; the broker must answer with a JSON object".to_owned(),
        ));
    }
    let response: ServerResponse =
        serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    if response.version != VERSION {
        return Err(malformed(format!(
            "version {:?}, expected {VERSION:?}",
            response.version
        )));
    }
    Ok(response)
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Start(_) => "Start",
            State::ExpectResponse => "ExpectResponse",
            State::Done => "Done",
            State::Failed => "Failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::aws::StaticCredentials;

    /// Vectors from AWS's Java library: `tests/java/msk-iam-vectors`.
    const VECTORS: &str = include_str!("../../tests/data/msk_iam_vectors.jsonl");

    #[derive(serde::Deserialize)]
    struct Vector {
        case: String,
        kind: String,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        region: String,
        host: String,
        time: String,
        expiry_seconds: u64,
        user_agent: String,
        output: String,
    }

    fn vectors() -> Vec<Vector> {
        let v: Vec<Vector> = VECTORS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(v.len() >= 5, "the vector file is complete");
        v
    }

    fn credentials(v: &Vector) -> Credentials {
        Credentials::new(
            &v.access_key_id,
            &v.secret_access_key,
            v.session_token.clone(),
            None,
            "test",
        )
    }

    fn at(v: &Vector) -> SystemTime {
        crate::aws::parse_time(&v.time).unwrap()
    }

    #[test]
    fn payloads_match_aws_java_library() {
        let mut checked = 0;
        for v in vectors().iter().filter(|v| v.kind == "aws_msk_iam_payload") {
            let expected: serde_json::Value = serde_json::from_str(&v.output).unwrap();
            let presigned = presign_kafka_connect(
                &credentials(v),
                &v.region,
                &v.host,
                at(v),
                Duration::from_secs(v.expiry_seconds),
            )
            .unwrap();
            assert_eq!(
                presigned.signature, expected["x-amz-signature"],
                "{}: signature",
                v.case
            );
            if v.expiry_seconds == EXPIRY.as_secs() {
                let ours =
                    payload(&credentials(v), &v.region, &v.host, &v.user_agent, at(v)).unwrap();
                let ours: serde_json::Value = serde_json::from_slice(&ours).unwrap();
                assert_eq!(ours, expected, "{}", v.case);
            }
            checked += 1;
        }
        assert_eq!(checked, 3);
    }

    #[test]
    fn the_published_go_vector_is_in_the_set() {
        let v = vectors();
        let go = v.iter().find(|v| v.case == "published-go-vector").unwrap();
        let expected: serde_json::Value = serde_json::from_str(&go.output).unwrap();
        assert_eq!(
            expected["x-amz-signature"],
            "6b8d25f9b45b9c7db9da855a49112d80379224153a27fd279c305a5b7940d1a7"
        );
    }

    #[test]
    fn oauthbearer_tokens_match_aws_java_library() {
        let mut checked = 0;
        for v in vectors().iter().filter(|v| v.kind == "oauthbearer_token") {
            let token = msk_token(&credentials(v), &v.region, &v.user_agent, at(v)).unwrap();
            assert_eq!(token.expose(), v.output, "{}", v.case);
            assert_eq!(token.expires_at(), at(v) + EXPIRY, "{}", v.case);
            assert!(!token.expose().contains('=') && !token.expose().contains('+'));
            checked += 1;
        }
        assert_eq!(checked, 2);
    }

    #[test]
    fn the_exchange_reads_the_broker_response() {
        let mut c = AwsMskIamClient::new(b"{}".to_vec());
        assert_eq!(c.step(None).unwrap(), Step::Send(b"{}".to_vec()));
        let step = c
            .step(Some(br#"{"version":"2020_10_22","request-id":"a1b2"}"#))
            .unwrap();
        assert_eq!(step, Step::Done);
        assert_eq!(c.request_id(), Some("a1b2"));

        for bad in [
            &b""[..],
            b"not json",
            br#"{"version":"1999","request-id":"x"}"#,
        ] {
            let mut c = AwsMskIamClient::new(b"{}".to_vec());
            c.step(None).unwrap();
            let err = c.step(Some(bad)).unwrap_err();
            assert!(
                matches!(err, SaslError::MalformedServerMessage { .. }),
                "{err}"
            );
            assert!(err.to_string().contains("AWS_MSK_IAM"), "{err}");
        }
    }

    #[tokio::test]
    async fn the_region_comes_from_config_then_host_then_environment() {
        let creds: Arc<dyn ProvideCredentials> = Arc::new(StaticCredentials::new(
            Credentials::new("AKID", "S", Some("TOKEN".into()), None, "test"),
        ));
        let env = Env::from_map(HashMap::from([(
            "AWS_REGION".to_owned(),
            "eu-north-1".to_owned(),
        )]));
        let msk_host = "b-1.c.x.c2.kafka.ap-south-1.amazonaws.com";
        let c = AwsMskIamConfig::new(creds.clone(), Some("us-west-2".into())).with_env(env.clone());
        assert_eq!(c.region_for(msk_host).unwrap(), "us-west-2");
        let c = AwsMskIamConfig::new(creds.clone(), None).with_env(env.clone());
        assert_eq!(c.region_for(msk_host).unwrap(), "ap-south-1");
        assert_eq!(c.region_for("127.0.0.1").unwrap(), "eu-north-1");
        let c = AwsMskIamConfig::new(creds.clone(), None).with_env(Env::from_map(HashMap::new()));
        let err = c.region_for("127.0.0.1").unwrap_err();
        assert!(err.to_string().contains("sasl.aws.region"), "{err}");

        // A session: the payload carries the session token and the broker host.
        let c = AwsMskIamConfig::new(creds.clone(), Some("us-east-1".into()));
        let mut session = c.start("broker.example").await.unwrap();
        let Step::Send(bytes) = session.step(None).unwrap() else {
            panic!()
        };
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["host"], "broker.example");
        assert_eq!(json["x-amz-security-token"], "TOKEN");
        assert_eq!(json["x-amz-expires"], "900");
        assert!(!format!("{session:?}").contains("TOKEN"));

        // The token provider signs a fresh token each time it is asked.
        let provider = MskTokenProvider::new(c);
        let a = provider.token().await.unwrap();
        assert!(a.remaining(SystemTime::now()) > Duration::from_secs(890));
    }
}
