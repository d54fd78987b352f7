//! One SASL authentication on the wire: `SaslHandshake` (v1), then `SaslAuthenticate` rounds
//! driven by the mechanism's [`SaslSession`] until it is done.
//!
//! [`authenticate`] is the only place that runs this exchange, for every mechanism and for both
//! uses of it: the first authentication, over the raw stream before the connection is
//! multiplexed, and each re-authentication (KIP-368), over the multiplexed connection. The
//! caller hands it a [`SaslChannel`], its own "send this request, give me the response".
//!
//! It owns: starting the session (token mechanisms fetch their token or AWS credentials here,
//! so every re-authentication carries fresh ones), the request versions, turning broker error
//! codes into [`SaslError`]s that name the mechanism, running SCRAM's PBKDF2 step on a blocking
//! thread so it never stalls an async worker, and the session lifetime to re-authenticate
//! within. It does not touch sockets, framing, correlation ids, timeouts or the connection's
//! re-authentication gate: those belong to the channel and the connection.

use std::time::Duration;

use bytes::Bytes;
use laminar_kafka_protocol::messages::error::ResponseError;
use laminar_kafka_protocol::messages::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use laminar_kafka_protocol::messages::protocol::StrBytes;
use laminar_kafka_protocol::versions::NegotiatedVersions;

use super::{Mechanism, SaslConfig, SaslError, SaslSession, Step};
use crate::error::{Error, Result};
use crate::log_targets;

/// What a successful authentication established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Authenticated {
    /// The session lifetime the broker granted (KIP-368), if it set one: the client must
    /// re-authenticate before it ends.
    pub session_lifetime: Option<Duration>,
}

/// Where the exchange sends its requests: the raw stream during the connection's setup, the
/// multiplexed connection (past its re-authentication gate) when re-authenticating.
///
/// Each method sends one request at `version` and waits for its response. The channel reports
/// its own failures (I/O, a closed connection, a timeout) as the client's [`Error`]; the
/// exchange passes them on unchanged.
pub(crate) trait SaslChannel: Send {
    /// Sends a `SaslHandshake` request and waits for its response.
    fn handshake(
        &mut self,
        request: &SaslHandshakeRequest,
        version: i16,
    ) -> impl Future<Output = Result<SaslHandshakeResponse>> + Send;

    /// Sends a `SaslAuthenticate` request and waits for its response.
    fn authenticate(
        &mut self,
        request: &SaslAuthenticateRequest,
        version: i16,
    ) -> impl Future<Output = Result<SaslAuthenticateResponse>> + Send;
}

/// Authenticates with `sasl` to `broker` (a `host:port`, for errors) at `host` (the name the
/// token mechanisms sign for) over `channel`, with the request versions the broker negotiated.
///
/// SASL failures come back as [`Error::Sasl`] naming the broker, with a [`SaslError`] naming
/// the mechanism; neither ever carries a password, token or proof.
pub(crate) async fn authenticate<C: SaslChannel>(
    sasl: &SaslConfig,
    broker: &str,
    host: &str,
    versions: &NegotiatedVersions,
    channel: &mut C,
) -> Result<Authenticated> {
    let mechanism = sasl.mechanism().name();
    // `None` (not recorded) for the token mechanisms.
    let user = sasl.username();
    match exchange(sasl, broker, host, versions, channel).await {
        Ok(authenticated) => {
            tracing::debug!(
                target: log_targets::SASL,
                broker,
                mechanism,
                user,
                session_lifetime_ms = authenticated.session_lifetime.map(|l| l.as_millis() as u64),
                "authenticated"
            );
            Ok(authenticated)
        }
        Err(e) => {
            // The error names the mechanism and carries the broker's message, never a secret.
            tracing::info!(
                target: log_targets::SASL,
                broker,
                mechanism,
                user,
                error = %e,
                "authentication failed"
            );
            Err(e)
        }
    }
}

/// The exchange itself, for [`authenticate`].
async fn exchange<C: SaslChannel>(
    sasl: &SaslConfig,
    broker: &str,
    host: &str,
    versions: &NegotiatedVersions,
    channel: &mut C,
) -> Result<Authenticated> {
    let mechanism = sasl.mechanism();
    let sasl_err = |source: SaslError| Error::Sasl {
        broker: broker.to_owned(),
        source,
    };
    let protocol_err = |source| Error::Protocol {
        broker: broker.to_owned(),
        source,
    };
    let mut session = sasl.begin(host).await.map_err(sasl_err)?;

    let handshake_version = versions
        .version_at_most(ApiKey::SaslHandshake, 1)
        .map_err(protocol_err)?;
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
    let response = channel.handshake(&handshake, handshake_version).await?;
    check_handshake(mechanism, &response).map_err(sasl_err)?;

    let auth_version = versions
        .version(ApiKey::SaslAuthenticate)
        .map_err(protocol_err)?;
    let mut server: Option<Bytes> = None;
    let mut lifetime = None;
    loop {
        let step;
        (session, step) = step_off_the_workers(session, server.take()).await?;
        let Step::Send(bytes) = step.map_err(sasl_err)? else {
            break;
        };
        let request = SaslAuthenticateRequest::default().with_auth_bytes(bytes.into());
        let response = channel.authenticate(&request, auth_version).await?;
        if response.error_code != 0 {
            return Err(sasl_err(
                session.failure(response.error_code, response.error_message.as_deref()),
            ));
        }
        if response.session_lifetime_ms > 0 {
            lifetime = Some(Duration::from_millis(response.session_lifetime_ms as u64));
        }
        if session.is_done() {
            break;
        }
        server = Some(response.auth_bytes);
    }
    Ok(Authenticated {
        session_lifetime: session_lifetime(lifetime, &session),
    })
}

/// The handshake's verdict: the broker enables the mechanism, or the typed error why not.
fn check_handshake(
    mechanism: Mechanism,
    response: &SaslHandshakeResponse,
) -> Result<(), SaslError> {
    match ResponseError::try_from_code(response.error_code) {
        None => Ok(()),
        Some(ResponseError::UnsupportedSaslMechanism) => Err(SaslError::unsupported_mechanism(
            mechanism,
            response.mechanisms.iter().map(|m| m.to_string()),
        )),
        Some(_) => Err(SaslError::authentication_failed(
            mechanism,
            response.error_code,
            None,
        )),
    }
}

/// Advances `session` with the broker's last `AuthBytes`. The step that runs PBKDF2 (SCRAM's
/// answer to the server-first-message, up to about 0.3 s) runs on a blocking thread; the
/// others are cheap and run in place.
async fn step_off_the_workers(
    mut session: SaslSession,
    server: Option<Bytes>,
) -> Result<(SaslSession, Result<Step, SaslError>)> {
    if !session.step_is_expensive(server.as_deref()) {
        let step = session.step(server.as_deref());
        return Ok((session, step));
    }
    tokio::task::spawn_blocking(move || {
        let step = session.step(server.as_deref());
        (session, step)
    })
    .await
    .map_err(|_| Error::Closed)
}

/// The lifetime to re-authenticate within: the broker's (KIP-368), capped by the token's
/// expiry when the mechanism sends one. Without a broker lifetime the broker does not expect
/// re-authentication, and none is scheduled (as in the Java client).
fn session_lifetime(broker: Option<Duration>, session: &SaslSession) -> Option<Duration> {
    match (broker, session.token_lifetime()) {
        (Some(broker), Some(token)) => Some(broker.min(token)),
        (broker, _) => broker,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::SystemTime;

    use laminar_kafka_protocol::messages::messages::{ApiVersionsResponse, api_versions_response};

    use super::*;
    use crate::sasl::oauthbearer::{OauthBearerToken, StaticTokenProvider};

    const PASSWORD: &str = "pa55-w0rd-never-shown";

    /// A request the scripted channel received.
    #[derive(Debug, PartialEq)]
    enum Sent {
        Handshake(String),
        Authenticate(Vec<u8>),
    }

    type Answer = Box<dyn FnMut(&[u8]) -> Result<SaslAuthenticateResponse> + Send>;

    /// A channel that answers from a script and records what it was sent.
    struct Scripted {
        handshake: SaslHandshakeResponse,
        rounds: VecDeque<Answer>,
        sent: Vec<Sent>,
    }

    impl Scripted {
        fn new(rounds: Vec<Answer>) -> Self {
            Scripted {
                handshake: SaslHandshakeResponse::default(),
                rounds: rounds.into(),
                sent: Vec::new(),
            }
        }
    }

    impl SaslChannel for Scripted {
        async fn handshake(
            &mut self,
            request: &SaslHandshakeRequest,
            _version: i16,
        ) -> Result<SaslHandshakeResponse> {
            self.sent
                .push(Sent::Handshake(request.mechanism.to_string()));
            Ok(self.handshake.clone())
        }

        async fn authenticate(
            &mut self,
            request: &SaslAuthenticateRequest,
            _version: i16,
        ) -> Result<SaslAuthenticateResponse> {
            self.sent
                .push(Sent::Authenticate(request.auth_bytes.to_vec()));
            let mut answer = self
                .rounds
                .pop_front()
                .expect("the exchange sent more rounds than scripted");
            answer(&request.auth_bytes)
        }
    }

    fn versions() -> NegotiatedVersions {
        let api = |key: ApiKey, max: i16| {
            api_versions_response::ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(0)
                .with_max_version(max)
        };
        NegotiatedVersions::from_response(&ApiVersionsResponse::default().with_api_keys(vec![
            api(ApiKey::SaslHandshake, 1),
            api(ApiKey::SaslAuthenticate, 2),
        ]))
    }

    fn ok(auth_bytes: &[u8], session_lifetime_ms: i64) -> Result<SaslAuthenticateResponse> {
        Ok(SaslAuthenticateResponse::default()
            .with_auth_bytes(Bytes::copy_from_slice(auth_bytes))
            .with_session_lifetime_ms(session_lifetime_ms))
    }

    fn failed(code: i16, message: &str) -> Result<SaslAuthenticateResponse> {
        Ok(SaslAuthenticateResponse::default()
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(message.to_owned()))))
    }

    fn assert_no_secret(texts: &[String]) {
        for text in texts {
            assert!(!text.contains(PASSWORD), "a secret leaked: {text}");
        }
    }

    /// SCRAM against a scripted broker that computes its side of RFC 5802.
    #[cfg(feature = "sasl-scram")]
    mod scram {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD as BASE64;
        use hmac::{Hmac, KeyInit, Mac};
        use sha2::Sha256;

        use super::*;

        fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }

        /// The broker's side of SCRAM-SHA-256 (RFC 5802) for `PASSWORD`, as scripted answers.
        fn scram_server(server_final_error: Option<&'static str>) -> Vec<Answer> {
            let state = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let first_state = state.clone();
            let salt = b"salt-of-the-test".to_vec();
            let first: Answer = Box::new(move |client_first| {
                let client_first = std::str::from_utf8(client_first).unwrap();
                let bare = client_first.strip_prefix("n,,").unwrap();
                let nonce = bare.split(',').find_map(|f| f.strip_prefix("r=")).unwrap();
                let server_first = format!("r={nonce}srv,s={},i=4096", BASE64.encode(&salt));
                *first_state.lock().unwrap() = format!("{bare},{server_first}");
                ok(server_first.as_bytes(), 0)
            });
            let salt = b"salt-of-the-test".to_vec();
            let last: Answer = Box::new(move |client_final| {
                if let Some(error) = server_final_error {
                    return ok(format!("e={error}").as_bytes(), 0);
                }
                let client_final = std::str::from_utf8(client_final).unwrap();
                let without_proof = client_final.rsplit_once(",p=").unwrap().0;
                let auth_message = format!("{},{without_proof}", state.lock().unwrap());
                let mut salted = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(PASSWORD.as_bytes(), &salt, 4096, &mut salted);
                let server_key = hmac(&salted, b"Server Key");
                let signature = hmac(&server_key, auth_message.as_bytes());
                ok(format!("v={}", BASE64.encode(signature)).as_bytes(), 3_000)
            });
            vec![first, last]
        }

        #[tokio::test]
        async fn scram_rounds_run_in_order_and_the_broker_lifetime_is_kept() {
            let sasl = SaslConfig::scram_sha256("alice", PASSWORD);
            let mut channel = Scripted::new(scram_server(None));
            let auth = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
                .await
                .unwrap();
            assert_eq!(auth.session_lifetime, Some(Duration::from_millis(3_000)));
            assert!(channel.rounds.is_empty());
            let [handshake, first, last] = &channel.sent[..] else {
                panic!("{:?}", channel.sent);
            };
            assert_eq!(handshake, &Sent::Handshake("SCRAM-SHA-256".to_owned()));
            let (Sent::Authenticate(first), Sent::Authenticate(last)) = (first, last) else {
                panic!("{:?}", channel.sent);
            };
            assert!(first.starts_with(b"n,,n=alice,r="), "{first:?}");
            assert!(last.starts_with(b"c=biws,r="), "{last:?}");
            assert!(last.windows(3).any(|w| w == b"srv"), "{last:?}");
        }

        #[tokio::test]
        async fn a_server_error_mid_exchange_is_typed_and_names_the_mechanism() {
            // The server-final-message carries `e=`.
            let sasl = SaslConfig::scram_sha512("alice", PASSWORD);
            let mut channel = Scripted::new(scram_server(Some("invalid-proof")));
            let err = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    &err,
                    Error::Sasl {
                        broker,
                        source: SaslError::ServerError {
                            mechanism: Mechanism::ScramSha512,
                            message,
                        },
                    } if broker == "b:9092" && message == "invalid-proof"
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("SCRAM-SHA-512"), "{err}");
            assert_no_secret(&[err.to_string(), format!("{err:?}")]);

            // The second SaslAuthenticate fails with SASL_AUTHENTICATION_FAILED.
            let sasl = SaslConfig::scram_sha256("alice", PASSWORD);
            let mut rounds = scram_server(None);
            rounds[1] = Box::new(|_| failed(58, "Authentication failed during authentication"));
            let mut channel = Scripted::new(rounds);
            let err = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    &err,
                    Error::Sasl {
                        source: SaslError::AuthenticationFailed {
                            mechanism: Mechanism::ScramSha256,
                            error_code: 58,
                            ..
                        },
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(channel.sent.len(), 3);
            assert_no_secret(&[err.to_string(), format!("{err:?}")]);
        }
    }

    #[tokio::test]
    async fn secrets_never_reach_errors_or_debug_output() {
        let mechanisms: &[Mechanism] = if cfg!(feature = "sasl-scram") {
            &Mechanism::PASSWORD
        } else {
            &[Mechanism::Plain]
        };
        for &mechanism in mechanisms {
            let sasl = SaslConfig::with_credentials(mechanism, "alice", PASSWORD).unwrap();
            let mut channel = Scripted::new(vec![
                Box::new(|_| failed(58, "")),
                Box::new(|_| failed(58, "")),
            ]);
            let err = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
                .await
                .unwrap_err();
            assert!(err.to_string().contains(mechanism.name()), "{err}");
            assert_no_secret(&[
                err.to_string(),
                format!("{err:?}"),
                format!("{sasl:?}"),
                format!("{:?}", sasl.begin("b").await.unwrap()),
            ]);
        }
    }

    #[tokio::test]
    async fn plain_is_one_round_and_a_handshake_error_names_what_the_broker_enables() {
        let sasl = SaslConfig::plain("alice", PASSWORD);
        let mut channel = Scripted::new(vec![Box::new(|_| ok(b"", 0))]);
        let auth = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
            .await
            .unwrap();
        // No broker lifetime: no re-authentication.
        assert_eq!(auth, Authenticated::default());
        assert_eq!(
            channel.sent,
            [
                Sent::Handshake("PLAIN".to_owned()),
                Sent::Authenticate(format!("\0alice\0{PASSWORD}").into_bytes()),
            ]
        );

        let mut channel = Scripted::new(Vec::new());
        channel.handshake = SaslHandshakeResponse::default()
            .with_error_code(33)
            .with_mechanisms(vec![StrBytes::from_static_str("SCRAM-SHA-512")]);
        let err = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Sasl {
                    source: SaslError::UnsupportedMechanism {
                        mechanism: Mechanism::Plain,
                        enabled,
                    },
                    ..
                } if enabled == &["SCRAM-SHA-512"]
            ),
            "{err:?}"
        );
        assert_eq!(channel.sent.len(), 1);

        channel.handshake = SaslHandshakeResponse::default().with_error_code(34);
        let err = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Sasl {
                    source: SaslError::AuthenticationFailed {
                        mechanism: Mechanism::Plain,
                        error_code: 34,
                        ..
                    },
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn oauthbearer_sends_the_token_and_a_rejection_is_typed() {
        let token = OauthBearerToken::new(
            "tok-never-shown",
            SystemTime::now() + Duration::from_secs(30),
        );
        let sasl = SaslConfig::oauthbearer(std::sync::Arc::new(StaticTokenProvider::new(token)));
        let mut channel = Scripted::new(vec![Box::new(|_| ok(b"", 3_600_000))]);
        let auth = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
            .await
            .unwrap();
        // The token's expiry caps the broker's hour.
        let lifetime = auth.session_lifetime.unwrap();
        assert!(lifetime <= Duration::from_secs(30) && lifetime > Duration::from_secs(25));
        let Sent::Authenticate(first) = &channel.sent[1] else {
            panic!("{:?}", channel.sent);
        };
        assert!(first.windows(15).any(|w| w == b"tok-never-shown"));

        let mut channel = Scripted::new(vec![
            Box::new(|_| ok(br#"{"status":"invalid_token"}"#, 0)),
            Box::new(|_| failed(58, "Authentication failed")),
        ]);
        let err = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Sasl {
                    source: SaslError::TokenRejected {
                        mechanism: Mechanism::OauthBearer,
                        error,
                        ..
                    },
                    ..
                } if error.status == "invalid_token"
            ),
            "{err:?}"
        );
        assert_eq!(channel.sent[2], Sent::Authenticate(vec![0x01]));
        assert!(
            !format!("{err} {err:?}").contains("tok-never-shown"),
            "{err:?}"
        );
    }

    #[cfg(feature = "aws-msk-iam")]
    #[tokio::test]
    async fn aws_msk_iam_signs_for_the_host_and_a_bad_answer_names_the_mechanism() {
        use crate::aws::{Credentials, StaticCredentials};
        use crate::sasl::aws_msk_iam::AwsMskIamConfig;

        let credentials = Credentials::new(
            "AKID",
            "secret-key-never-shown",
            Some("session-token".into()),
            None,
            "test",
        );
        let sasl = SaslConfig::aws_msk_iam(AwsMskIamConfig::new(
            std::sync::Arc::new(StaticCredentials::new(credentials)),
            Some("eu-west-1".into()),
        ));
        let mut channel = Scripted::new(vec![Box::new(|_| {
            ok(br#"{"version":"2020_10_22","request-id":"r-1"}"#, 60_000)
        })]);
        let auth = authenticate(
            &sasl,
            "b.example:9098",
            "b.example",
            &versions(),
            &mut channel,
        )
        .await
        .unwrap();
        assert_eq!(auth.session_lifetime, Some(Duration::from_secs(60)));
        assert_eq!(channel.sent[0], Sent::Handshake("AWS_MSK_IAM".to_owned()));
        let Sent::Authenticate(payload) = &channel.sent[1] else {
            panic!("{:?}", channel.sent);
        };
        let payload: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(payload["host"], "b.example");

        let mut channel = Scripted::new(vec![Box::new(|_| ok(b"not json", 0))]);
        let err = authenticate(
            &sasl,
            "b.example:9098",
            "b.example",
            &versions(),
            &mut channel,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Sasl {
                    source: SaslError::MalformedServerMessage {
                        mechanism: Mechanism::AwsMskIam,
                        ..
                    },
                    ..
                }
            ),
            "{err:?}"
        );
        let text = format!("{err} {err:?} {sasl:?}");
        assert!(!text.contains("secret-key-never-shown"), "{text}");
    }

    #[tokio::test]
    async fn a_channel_failure_is_passed_on_unchanged() {
        let sasl = SaslConfig::plain("alice", PASSWORD);
        let mut channel = Scripted::new(vec![Box::new(|_| {
            Err(Error::ConnectionClosed {
                broker: "b:9092".to_owned(),
                reason: Some("gone".to_owned()),
            })
        })]);
        let err = authenticate(&sasl, "b:9092", "b", &versions(), &mut channel)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::ConnectionClosed { reason: Some(r), .. } if r == "gone"),
            "{err:?}"
        );
    }

    #[test]
    fn the_token_expiry_caps_the_broker_session_lifetime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let token = OauthBearerToken::new("t", SystemTime::now() + Duration::from_secs(30));
        let sasl = SaslConfig::oauthbearer(std::sync::Arc::new(StaticTokenProvider::new(token)));
        let session = rt.block_on(sasl.begin("h")).unwrap();
        let capped = session_lifetime(Some(Duration::from_secs(3600)), &session).unwrap();
        assert!(capped <= Duration::from_secs(30) && capped > Duration::from_secs(25));
        assert_eq!(
            session_lifetime(Some(Duration::from_secs(3)), &session),
            Some(Duration::from_secs(3))
        );
        // No broker lifetime: the broker does not expect re-authentication.
        assert_eq!(session_lifetime(None, &session), None);
        let plain = SaslConfig::plain("u", "p").start().unwrap();
        assert_eq!(
            session_lifetime(Some(Duration::from_secs(9)), &plain),
            Some(Duration::from_secs(9))
        );
    }
}
