//! SASL `OAUTHBEARER` (RFC 7628), the client side, with a pluggable async [`TokenProvider`].
//!
//! One client message, `n,,\x01auth=Bearer <token>\x01[key=value\x01…]\x01` (the GS2 header with
//! no authorization identity, the token, SASL extensions as Kafka defines them in KIP-342). The
//! broker answers an empty message on success. On failure it answers a JSON error
//! (`{"status":"invalid_token",…}`) instead; the client must then send a single `\x01`, after
//! which the broker fails the `SaslAuthenticate` request. The session keeps the JSON error so
//! that the connection can report it as [`SaslError::TokenRejected`].
//!
//! The token is fetched (asynchronously) before the session starts, once per authentication and
//! once per re-authentication, so a provider that refreshes its tokens is asked again each time.

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Mechanism, Result, SaslError, Step, describe_input};

const MECHANISM: Mechanism = Mechanism::OauthBearer;

/// The separator of RFC 7628's key/value pairs.
const KVSEP: u8 = 0x01;

/// A boxed future, for the object-safe [`TokenProvider`].
pub type TokenFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<OauthBearerToken>> + Send + 'a>>;

/// A source of OAUTHBEARER tokens.
///
/// Called for every authentication and re-authentication; implementations that talk to an
/// identity provider should cache tokens until shortly before they expire. Return
/// [`SaslError::TokenProvider`] on failure (see [`SaslError::token_provider`]).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use laminar_kafka_client::sasl::oauthbearer::{OauthBearerToken, TokenFuture, TokenProvider};
///
/// #[derive(Debug)]
/// struct Fixed;
///
/// impl TokenProvider for Fixed {
///     fn token(&self) -> TokenFuture<'_> {
///         Box::pin(async {
///             Ok(OauthBearerToken::new("abc.def.ghi", SystemTime::now() + Duration::from_secs(3600)))
///         })
///     }
/// }
/// ```
pub trait TokenProvider: fmt::Debug + Send + Sync + 'static {
    /// A token valid now.
    fn token(&self) -> TokenFuture<'_>;
}

/// An OAUTHBEARER token with its expiry and optional SASL extensions. `Debug` never shows the
/// token.
#[derive(Clone, PartialEq, Eq)]
pub struct OauthBearerToken {
    value: String,
    expires_at: SystemTime,
    extensions: Vec<(String, String)>,
}

impl OauthBearerToken {
    /// A token that expires at `expires_at`.
    pub fn new(value: impl Into<String>, expires_at: SystemTime) -> Self {
        OauthBearerToken {
            value: value.into(),
            expires_at,
            extensions: Vec::new(),
        }
    }

    /// Adds a SASL extension (KIP-342), sent as `key=value` after the token.
    pub fn with_extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((key.into(), value.into()));
        self
    }

    /// The token itself: for the SASL message, and nowhere else.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// When the token stops being valid.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// How long the token stays valid after `now` (zero once expired).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.expires_at.duration_since(now).unwrap_or_default()
    }

    /// The SASL extensions.
    pub fn extensions(&self) -> &[(String, String)] {
        &self.extensions
    }
}

impl fmt::Debug for OauthBearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OauthBearerToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// A provider that always returns the same token (e.g. one the application refreshes itself by
/// rebuilding the client). Its expiry is checked at each authentication.
#[derive(Debug, Clone)]
pub struct StaticTokenProvider(OauthBearerToken);

impl StaticTokenProvider {
    /// Always provides `token`.
    pub fn new(token: OauthBearerToken) -> Self {
        StaticTokenProvider(token)
    }
}

impl TokenProvider for StaticTokenProvider {
    fn token(&self) -> TokenFuture<'_> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}

/// A shared token provider.
pub type SharedTokenProvider = Arc<dyn TokenProvider>;

/// The error document a broker sends when it rejects a token (RFC 7628 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
pub struct ServerError {
    /// `status`, e.g. `invalid_token`.
    #[serde(default)]
    pub status: String,
    /// `scope`: the scope the broker wants, if it said.
    #[serde(default)]
    pub scope: Option<String>,
    /// `openid-configuration`: where to discover the identity provider, if the broker said.
    #[serde(default, rename = "openid-configuration")]
    pub openid_configuration: Option<String>,
}

/// The client side of one OAUTHBEARER exchange.
#[derive(Debug)]
pub struct OauthBearerClient {
    state: State,
}

#[derive(Debug)]
enum State {
    /// Nothing sent yet.
    Start(Message),
    /// The token was sent; waiting for the broker's verdict.
    ExpectOutcome,
    /// The broker rejected the token; `\x01` was sent and the broker will now fail the request.
    Rejected(ServerError),
    /// Authenticated.
    Done,
    /// A step failed.
    Failed,
}

struct Message(Vec<u8>);

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Message(<redacted>)")
    }
}

impl OauthBearerClient {
    /// A new exchange with `token`, checked at `now`: an expired token is refused here
    /// ([`SaslError::TokenExpired`]) rather than sent, and a token or extension that cannot be
    /// written in the message is [`SaslError::InvalidCredentials`].
    pub fn new(token: &OauthBearerToken, now: SystemTime) -> Result<Self> {
        if token.expires_at <= now {
            let ago = now.duration_since(token.expires_at).unwrap_or_default();
            return Err(SaslError::TokenExpired {
                mechanism: MECHANISM,
                expired_ago: ago,
            });
        }
        // RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        let value = token.expose();
        let body = value.trim_end_matches('=');
        if body.is_empty()
            || !body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        {
            return Err(SaslError::InvalidCredentials {
                mechanism: MECHANISM,
                reason: "the token is empty or has characters a bearer token cannot have",
            });
        }
        let mut message = Vec::with_capacity(24 + value.len());
        message.extend_from_slice(b"n,,");
        message.push(KVSEP);
        message.extend_from_slice(b"auth=Bearer ");
        message.extend_from_slice(value.as_bytes());
        message.push(KVSEP);
        for (key, value) in &token.extensions {
            // KIP-342: keys are ALPHA+, `auth` is reserved; values are VCHAR, SP, HTAB, CR, LF.
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) || key == "auth" {
                return Err(SaslError::InvalidCredentials {
                    mechanism: MECHANISM,
                    reason: "a SASL extension name must be letters only and not `auth`",
                });
            }
            if !value
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) || b" \t\r\n".contains(&b))
            {
                return Err(SaslError::InvalidCredentials {
                    mechanism: MECHANISM,
                    reason: "a SASL extension value has a character RFC 7628 forbids",
                });
            }
            message.extend_from_slice(key.as_bytes());
            message.push(b'=');
            message.extend_from_slice(value.as_bytes());
            message.push(KVSEP);
        }
        message.push(KVSEP);
        Ok(OauthBearerClient {
            state: State::Start(Message(message)),
        })
    }

    /// Advances the exchange: `None` first (returns the client message), then the bytes of each
    /// successful SaslAuthenticate response.
    pub fn step(&mut self, server_bytes: Option<&[u8]>) -> Result<Step> {
        let (next, result) = match (mem::replace(&mut self.state, State::Failed), server_bytes) {
            (State::Start(message), None) => (State::ExpectOutcome, Ok(Step::Send(message.0))),
            (State::ExpectOutcome, Some([])) => (State::Done, Ok(Step::Done)),
            (State::ExpectOutcome, Some(bytes)) => match parse_server_error(bytes) {
                Ok(error) => (State::Rejected(error), Ok(Step::Send(vec![KVSEP]))),
                Err(e) => (State::Failed, Err(e)),
            },
            (State::Rejected(error), Some(_)) => {
                // The broker should have failed the request instead of answering `\x01`.
                (State::Failed, Err(rejected(error, None)))
            }
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

    /// The broker's rejection, once it sent one: the connection turns the failed
    /// SaslAuthenticate that follows into [`SaslError::TokenRejected`].
    pub fn rejection(&self) -> Option<&ServerError> {
        match &self.state {
            State::Rejected(error) => Some(error),
            _ => None,
        }
    }
}

/// The typed error for a rejection, with the broker's SaslAuthenticate message if any.
pub(crate) fn rejected(error: ServerError, broker_message: Option<&str>) -> SaslError {
    SaslError::TokenRejected {
        mechanism: MECHANISM,
        error: Box::new(error),
        broker_message: broker_message.filter(|m| !m.is_empty()).map(str::to_owned),
    }
}

fn parse_server_error(bytes: &[u8]) -> Result<ServerError> {
    let malformed = |reason: String| SaslError::MalformedServerMessage {
        mechanism: MECHANISM,
        message: "error response",
        reason,
    };
    if bytes.len() > 64 * 1024 {
        return Err(malformed(format!("{} bytes is too long", bytes.len())));
    }
    let error: ServerError =
        serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
    if error.status.is_empty() {
        return Err(malformed("no `status`".to_owned()));
    }
    Ok(error)
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Start(_) => "Start",
            State::ExpectOutcome => "ExpectOutcome",
            State::Rejected(_) => "Rejected",
            State::Done => "Done",
            State::Failed => "Failed",
        }
    }
}

/// An unsecured JWS (`alg: none`) as Kafka's `OAuthBearerUnsecuredLoginCallbackHandler` makes it,
/// for brokers with the unsecured validator (development and tests only): header
/// `{"alg":"none"}`, claims `sub`, `iat` and `exp` (seconds), base64url without padding, and an
/// empty signature.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use laminar_kafka_client::sasl::oauthbearer::unsecured_jws;
///
/// let jws = unsecured_jws("alice", UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(60));
/// assert_eq!(jws, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImlhdCI6MCwiZXhwIjo2MH0.");
/// ```
pub fn unsecured_jws(subject: &str, issued_at: SystemTime, expires_at: SystemTime) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    };
    // Claims in a fixed order; the subject JSON-escaped.
    let claims = format!(
        r#"{{"sub":{},"iat":{},"exp":{}}}"#,
        serde_json::Value::from(subject),
        secs(issued_at),
        secs(expires_at)
    );
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn token(value: &str) -> OauthBearerToken {
        OauthBearerToken::new(value, UNIX_EPOCH + Duration::from_secs(1000))
    }

    #[test]
    fn the_client_message_follows_rfc_7628() {
        let t = token("abc.DEF-_~+/==").with_extension("traceId", "x y");
        let mut c = OauthBearerClient::new(&t, UNIX_EPOCH).unwrap();
        assert_eq!(
            c.step(None).unwrap(),
            Step::Send(b"n,,\x01auth=Bearer abc.DEF-_~+/==\x01traceId=x y\x01\x01".to_vec())
        );
        assert_eq!(c.step(Some(b"")).unwrap(), Step::Done);
        assert!(c.is_done());
    }

    #[test]
    fn a_rejection_is_acknowledged_with_kvsep_and_kept() {
        let mut c = OauthBearerClient::new(&token("t"), UNIX_EPOCH).unwrap();
        c.step(None).unwrap();
        let step = c
            .step(Some(br#"{"status":"invalid_token","scope":"kafka"}"#))
            .unwrap();
        assert_eq!(step, Step::Send(vec![0x01]));
        let rejection = c.rejection().unwrap().clone();
        assert_eq!(rejection.status, "invalid_token");
        assert_eq!(rejection.scope.as_deref(), Some("kafka"));
        assert!(!c.is_done());
        let err = rejected(rejection, Some("Authentication failed"));
        assert!(
            err.to_string().contains("invalid_token")
                && err.to_string().contains("Authentication failed"),
            "{err}"
        );

        let mut c = OauthBearerClient::new(&token("t"), UNIX_EPOCH).unwrap();
        c.step(None).unwrap();
        let err = c.step(Some(b"\x00garbage")).unwrap_err();
        assert!(
            matches!(err, SaslError::MalformedServerMessage { .. }),
            "{err}"
        );
        assert!(matches!(
            c.step(Some(b"")).unwrap_err(),
            SaslError::SessionFailed { .. }
        ));
    }

    #[test]
    fn expired_and_malformed_tokens_are_refused_before_sending() {
        let t = token("abc");
        let err = OauthBearerClient::new(&t, UNIX_EPOCH + Duration::from_secs(1005)).unwrap_err();
        assert!(
            matches!(err, SaslError::TokenExpired { expired_ago, .. } if expired_ago == Duration::from_secs(5)),
            "{err}"
        );
        for bad in ["", "has space", "a\x01b", "==", "é"] {
            let err = OauthBearerClient::new(&token(bad), UNIX_EPOCH).unwrap_err();
            assert!(
                matches!(err, SaslError::InvalidCredentials { .. }),
                "{bad:?}: {err}"
            );
            assert!(!bad.is_empty() && !err.to_string().contains(bad) || bad.is_empty());
        }
        for (k, v) in [("auth", "x"), ("a1", "x"), ("", "x"), ("ok", "\x01")] {
            let err =
                OauthBearerClient::new(&token("t").with_extension(k, v), UNIX_EPOCH).unwrap_err();
            assert!(
                matches!(err, SaslError::InvalidCredentials { .. }),
                "{k}={v:?}: {err}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let t = token("super-secret-token");
        let c = OauthBearerClient::new(&t, UNIX_EPOCH).unwrap();
        for debug in [format!("{t:?}"), format!("{c:?}")] {
            assert!(!debug.contains("super-secret-token"), "{debug}");
        }
    }

    #[test]
    fn unsecured_jws_has_the_claims_kafka_checks() {
        use base64::Engine as _;
        let jws = unsecured_jws(
            "laminar",
            UNIX_EPOCH + Duration::from_secs(100),
            UNIX_EPOCH + Duration::from_secs(200),
        );
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "");
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["sub"], "laminar");
        assert_eq!(claims["iat"], 100);
        assert_eq!(claims["exp"], 200);
    }
}
