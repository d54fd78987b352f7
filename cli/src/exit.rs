//! Exit codes scripts can rely on, and the hint that ends an error line.
//!
//! 0 success; 1 usage or any other error; 2 cannot connect or authenticate; 3 not found
//! (topic, partition, group).

use laminar_kafka_client::Error;

/// Usage errors and anything not classified below.
pub(crate) const USAGE: u8 = 1;
/// Cannot reach or authenticate to the cluster.
pub(crate) const CONNECTION: u8 = 2;
/// A topic, partition or group does not exist.
pub(crate) const NOT_FOUND: u8 = 3;

/// Something the user named does not exist.
#[derive(Debug)]
pub(crate) struct NotFound(pub(crate) String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotFound {}

/// Kafka error codes that mean "not found": UNKNOWN_TOPIC_OR_PARTITION, GROUP_ID_NOT_FOUND,
/// UNKNOWN_TOPIC_ID.
const NOT_FOUND_CODES: [i16; 3] = [3, GROUP_ID_NOT_FOUND, 100];
/// GROUP_ID_NOT_FOUND.
const GROUP_ID_NOT_FOUND: i16 = 69;
/// Kafka error codes that mean "not allowed": TOPIC, GROUP, CLUSTER and TRANSACTIONAL_ID
/// authorization failed, SASL_AUTHENTICATION_FAILED.
const AUTH_CODES: [i16; 5] = [29, 30, 31, 53, 58];

/// The exit code for `e` and a hint saying what to do.
pub(crate) fn classify(e: &anyhow::Error) -> (u8, Option<&'static str>) {
    for cause in e.chain() {
        if cause.downcast_ref::<NotFound>().is_some() {
            return (NOT_FOUND, None);
        }
        if let Some(e) = cause.downcast_ref::<Error>() {
            return match e {
                Error::Connect { .. } | Error::ConnectTimeout { .. } => (
                    CONNECTION,
                    Some("is a broker listening there? set --brokers or --profile"),
                ),
                Error::ConnectionClosed { reason, .. }
                    if reason.as_deref().is_some_and(|r| r.contains("TLS")) =>
                {
                    (CONNECTION, None)
                }
                Error::Io { .. }
                | Error::ConnectionClosed { .. }
                | Error::RequestTimeout { .. } => (
                    CONNECTION,
                    Some("check --brokers and --security-protocol against the broker's listener"),
                ),
                #[cfg(feature = "tls")]
                Error::Tls { .. } => (
                    CONNECTION,
                    Some("check --ca-file and that the listener speaks TLS"),
                ),
                Error::Sasl { .. } => (
                    CONNECTION,
                    Some("check --sasl-mechanism, --sasl-username and the password"),
                ),
                Error::Broker { code, .. } if code.code() == GROUP_ID_NOT_FOUND => (
                    NOT_FOUND,
                    Some("`laminar-kafka groups list` shows the groups"),
                ),
                Error::Broker { code, .. } if NOT_FOUND_CODES.contains(&code.code()) => (
                    NOT_FOUND,
                    Some("`laminar-kafka topics list` shows the topics; `topics create` makes one"),
                ),
                Error::Broker { code, .. } if AUTH_CODES.contains(&code.code()) => (
                    CONNECTION,
                    Some("the user lacks the ACL for this, or the credentials are wrong"),
                ),
                Error::UnknownProperty { .. } | Error::InvalidProperty { .. } => (USAGE, None),
                _ => (USAGE, None),
            };
        }
    }
    (USAGE, None)
}

/// Whether the error is only a closed stdout (`| head`): not a failure.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}
