//! SASL `PLAIN` (RFC 4616): one client message, `\0<username>\0<password>`.
//!
//! The authorization identity is left empty (the broker then uses the user name), as the Java
//! client does. The broker's SaslAuthenticate response carries no meaningful bytes: an error
//! code there is the rejection, so any bytes received afterwards complete the exchange.

use std::mem;

use super::{Mechanism, Password, Result, SaslError, Step, describe_input};

const MECHANISM: Mechanism = Mechanism::Plain;

/// The client side of one `PLAIN` exchange.
#[derive(Debug)]
pub struct PlainClient {
    state: State,
}

#[derive(Debug)]
enum State {
    /// Nothing sent yet.
    Start(Start),
    /// The token was sent; waiting for the broker's verdict.
    ExpectOutcome,
    /// Authenticated.
    Done,
    /// A step failed.
    Failed,
}

struct Start {
    token: Vec<u8>,
}

impl std::fmt::Debug for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Start { token: <redacted> }")
    }
}

impl PlainClient {
    /// A new exchange. Fails if the user name or password contains a NUL byte, which would
    /// change the message's meaning.
    pub fn new(username: &str, password: &Password) -> Result<Self> {
        if username.contains('\0') {
            return Err(SaslError::InvalidCredentials {
                mechanism: MECHANISM,
                reason: "the user name contains a NUL character",
            });
        }
        if password.expose().contains('\0') {
            return Err(SaslError::InvalidCredentials {
                mechanism: MECHANISM,
                reason: "the password contains a NUL character",
            });
        }
        let mut token = Vec::with_capacity(2 + username.len() + password.expose().len());
        token.push(0);
        token.extend_from_slice(username.as_bytes());
        token.push(0);
        token.extend_from_slice(password.expose().as_bytes());
        Ok(PlainClient {
            state: State::Start(Start { token }),
        })
    }

    /// Advances the exchange: `None` first (returns the token to send), then the bytes of the
    /// successful SaslAuthenticate response (returns [`Step::Done`]).
    pub fn step(&mut self, server_bytes: Option<&[u8]>) -> Result<Step> {
        let (next, result) = match (mem::replace(&mut self.state, State::Failed), server_bytes) {
            (State::Start(start), None) => (State::ExpectOutcome, Ok(Step::Send(start.token))),
            (State::ExpectOutcome, Some(_)) => (State::Done, Ok(Step::Done)),
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
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Start(_) => "Start",
            State::ExpectOutcome => "ExpectOutcome",
            State::Done => "Done",
            State::Failed => "Failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_empty_authzid_user_and_password_then_completes() {
        let mut client = PlainClient::new("alice", &Password::from("pa ss")).unwrap();
        assert_eq!(
            client.step(None).unwrap(),
            Step::Send(b"\0alice\0pa ss".to_vec())
        );
        assert!(!client.is_done());
        assert_eq!(client.step(Some(b"")).unwrap(), Step::Done);
        assert!(client.is_done());
    }

    #[test]
    fn utf8_credentials_are_sent_as_utf8() {
        let mut client = PlainClient::new("jörg", &Password::from("pässwörd")).unwrap();
        let Step::Send(token) = client.step(None).unwrap() else {
            panic!("expected a token");
        };
        assert_eq!(token, "\0jörg\0pässwörd".as_bytes());
    }

    #[test]
    fn nul_in_credentials_is_rejected_without_echoing_them() {
        let err = PlainClient::new("al\0ice", &Password::from("x")).unwrap_err();
        assert!(matches!(err, SaslError::InvalidCredentials { .. }), "{err}");
        let err = PlainClient::new("alice", &Password::from("sec\0ret")).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        assert!(!err.to_string().contains("sec"), "{err}");
    }

    #[test]
    fn out_of_order_steps_are_errors() {
        let mut client = PlainClient::new("a", &Password::from("b")).unwrap();
        let err = client.step(Some(b"early")).unwrap_err();
        assert!(
            matches!(
                err,
                SaslError::UnexpectedStep {
                    state: "Start",
                    input: "a server message",
                    ..
                }
            ),
            "{err}"
        );
        assert!(matches!(
            client.step(None).unwrap_err(),
            SaslError::SessionFailed { .. }
        ));

        let mut client = PlainClient::new("a", &Password::from("b")).unwrap();
        client.step(None).unwrap();
        let err = client.step(None).unwrap_err();
        assert!(
            matches!(
                err,
                SaslError::UnexpectedStep {
                    state: "ExpectOutcome",
                    ..
                }
            ),
            "{err}"
        );

        let mut client = PlainClient::new("a", &Password::from("b")).unwrap();
        client.step(None).unwrap();
        client.step(Some(b"")).unwrap();
        let err = client.step(Some(b"")).unwrap_err();
        assert!(
            matches!(err, SaslError::UnexpectedStep { state: "Done", .. }),
            "{err}"
        );
    }
}
