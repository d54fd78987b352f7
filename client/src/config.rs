//! One configuration type for every client, keyed by the property names users know.
//!
//! Properties are the Java client's names (`bootstrap.servers`, `linger.ms`, `acks`, …), with
//! librdkafka's names accepted where they differ (`sasl.mechanisms`, `ssl.ca.location`,
//! `queue.buffering.max.ms`, …), so that a connector's `connectionProperties` carry over from
//! either. Defaults are the Java client's unless a comment next to the default says why not.
//!
//! ```
//! use laminar_kafka_client::config::{Acks, ClientConfig};
//!
//! let config = ClientConfig::from_properties([
//!     ("bootstrap.servers", "127.0.0.1:9092"),
//!     ("acks", "1"),
//!     ("queue.buffering.max.ms", "20"), // librdkafka's name for linger.ms
//! ])?;
//! assert_eq!(config.producer.acks, Acks::Leader);
//! assert_eq!(config.producer.linger.as_millis(), 20);
//!
//! let err = ClientConfig::from_properties([("bootstrap.server", "x:1")]).unwrap_err();
//! assert!(err.to_string().contains("did you mean `bootstrap.servers`"));
//! # Ok::<(), laminar_kafka_client::Error>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use laminar_kafka_protocol::record::Compression;

use crate::error::{Error, Result};
pub use crate::secret::{Secret, is_secret_property};

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// No TLS, no SASL.
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether the connection is wrapped in TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether the connection authenticates with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaslMechanism {
    /// PLAIN (RFC 4616).
    #[default]
    Plain,
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
    /// OAUTHBEARER (RFC 7628).
    OauthBearer,
    /// AWS_MSK_IAM.
    AwsMskIam,
}

impl SaslMechanism {
    /// The name sent in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::OauthBearer => "OAUTHBEARER",
            Self::AwsMskIam => "AWS_MSK_IAM",
        }
    }
}

/// `sasl.oauthbearer.method`: where OAUTHBEARER tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OauthBearerMethod {
    /// `default`: the provider set with [`ClientConfig::with_oauthbearer_token_provider`].
    #[default]
    Default,
    /// `aws_msk_iam`: Amazon MSK's token, signed with AWS credentials from the standard sources
    /// for `sasl.aws.region`.
    AwsMskIam,
}

/// `acks`: how many replicas must have a record before the produce request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `0`: no response at all.
    None,
    /// `1`: the leader.
    Leader,
    /// `all` / `-1`: every in-sync replica.
    #[default]
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// `auto.offset.reset`: where a consumer starts when it has no valid position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// The log start.
    Earliest,
    /// The log end.
    #[default]
    Latest,
    /// Fail with an error.
    None,
}

/// `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Every record, including those of open and aborted transactions.
    #[default]
    ReadUncommitted,
    /// Only records of committed transactions, up to the last stable offset.
    ReadCommitted,
}

impl IsolationLevel {
    /// The value of the Fetch and ListOffsets requests' `isolation_level` field.
    pub fn as_i8(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// `group.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup/Heartbeat.
    #[default]
    Classic,
    /// ConsumerGroupHeartbeat (KIP-848).
    Consumer,
}

/// The configuration of a client, in three typed parts: the [`CommonConfig`] every client uses
/// (brokers, security, timeouts), the [`ProducerConfig`] and the [`ConsumerConfig`]. The admin
/// client reads only the common part. Every part is set from the same Java and librdkafka property
/// names ([`ClientConfig::set`]); each property belongs to one part ([`property_role`]).
///
/// ```
/// use std::time::Duration;
/// use laminar_kafka_client::config::ClientConfig;
///
/// let c = ClientConfig::from_properties([
///     ("bootstrap.servers", "b1:9092"),
///     ("linger.ms", "20"),
///     ("group.id", "readers"),
/// ])?;
/// assert_eq!(c.common.bootstrap_servers, ["b1:9092"]);
/// assert_eq!(c.producer.linger, Duration::from_millis(20));
/// assert_eq!(c.consumer.group_id.as_deref(), Some("readers"));
/// # Ok::<(), laminar_kafka_client::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientConfig {
    /// Brokers, security, timeouts and back-offs: what every client uses.
    pub common: CommonConfig,
    /// What only the producer reads.
    pub producer: ProducerConfig,
    /// What only the consumer reads.
    pub consumer: ConsumerConfig,
}

/// The part of the configuration every client uses: brokers, security, timeouts, back-offs.
#[derive(Clone)]
pub struct CommonConfig {
    /// `bootstrap.servers`: `host:port` addresses to start from.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`.
    pub client_id: String,
    /// `client.rack`.
    pub client_rack: Option<String>,
    /// `security.protocol`.
    pub security_protocol: SecurityProtocol,
    /// `sasl.mechanism` (librdkafka: `sasl.mechanisms`).
    pub sasl_mechanism: SaslMechanism,
    /// `sasl.username`.
    pub sasl_username: Option<String>,
    /// `sasl.password`.
    pub sasl_password: Option<Secret>,
    /// `sasl.aws.region`: the AWS region of an MSK cluster (AWS_MSK_IAM, and the MSK
    /// OAUTHBEARER token). Unset: from the broker host name, then `AWS_REGION`.
    pub sasl_aws_region: Option<String>,
    /// `sasl.aws.profile`: the profile of the shared AWS files, instead of `AWS_PROFILE`.
    pub sasl_aws_profile: Option<String>,
    /// `sasl.oauthbearer.method`: `default` (a provider set in code) or `aws_msk_iam`.
    pub sasl_oauthbearer_method: OauthBearerMethod,
    /// The OAUTHBEARER token provider, set with
    /// [`with_oauthbearer_token_provider`](ClientConfig::with_oauthbearer_token_provider).
    pub oauthbearer_token_provider:
        Option<std::sync::Arc<dyn crate::sasl::oauthbearer::TokenProvider>>,
    /// `ssl.ca.location`: a PEM file of trusted CAs; the system roots when unset.
    pub ssl_ca_location: Option<PathBuf>,
    /// `ssl.certificate.location`: the client certificate chain (PEM) for mutual TLS.
    pub ssl_certificate_location: Option<PathBuf>,
    /// `ssl.key.location`: the client private key (PEM) for mutual TLS.
    pub ssl_key_location: Option<PathBuf>,
    /// `ssl.endpoint.identification.algorithm`: `https` (verify the host name) or empty/`none`.
    pub ssl_verify_hostname: bool,
    /// `socket.connection.setup.timeout.ms`.
    pub connect_timeout: Duration,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `metadata.max.age.ms`.
    pub metadata_max_age: Duration,
    /// `reconnect.backoff.ms`.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`.
    pub reconnect_backoff_max: Duration,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
    /// `receive.message.max.bytes`: the largest response frame accepted.
    pub receive_message_max_bytes: usize,
    /// `statistics.interval.ms`: how often the statistics callback is called; zero (the
    /// default) for never.
    pub statistics_interval: Duration,
    /// The statistics callback, set with
    /// [`with_statistics_callback`](ClientConfig::with_statistics_callback).
    pub statistics_callback: Option<crate::stats::StatisticsCallback>,
}

/// The producer's part of the configuration (`acks`, `linger.ms`, `enable.idempotence`, …).
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `acks`.
    pub acks: Acks,
    /// `linger.ms`.
    pub linger: Duration,
    /// `batch.size`.
    pub batch_size: usize,
    /// `compression.type`.
    pub compression: Compression,
    /// `delivery.timeout.ms`.
    pub delivery_timeout: Duration,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight_per_connection: usize,
    /// `buffer.memory`.
    pub buffer_memory: usize,
    /// `max.request.size`.
    pub max_request_size: usize,
    /// `max.block.ms`: how long `send` may wait for buffer space or metadata.
    pub max_block: Duration,
    /// `enable.idempotence`.
    pub enable_idempotence: bool,
    /// `transactional.id`.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`.
    pub transaction_timeout: Duration,
}

/// The consumer's part of the configuration (`group.id`, `fetch.*`, `isolation.level`, …).
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// `group.id`.
    pub group_id: Option<String>,
    /// `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// `group.protocol`.
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor`: the broker-side assignor under `group.protocol=consumer`
    /// (`uniform`, `range`); the broker's default when unset.
    pub group_remote_assignor: Option<String>,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `isolation.level`.
    pub isolation_level: IsolationLevel,
    /// `enable.auto.commit`.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval: Duration,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms`.
    pub max_poll_interval: Duration,
    /// `max.poll.records`.
    pub max_poll_records: usize,
    /// `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait: Duration,
    /// `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: i32,
    /// `check.crcs`.
    pub check_crcs: bool,
    /// `partition.assignment.strategy`: assignor names in preference order.
    pub partition_assignment_strategy: Vec<String>,
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: Vec::new(),
            client_id: "laminar-kafka".to_owned(),
            client_rack: None,
            security_protocol: SecurityProtocol::Plaintext,
            // Java defaults to GSSAPI, which this client does not offer; PLAIN is librdkafka's
            // default once a username is set.
            sasl_mechanism: SaslMechanism::Plain,
            sasl_username: None,
            sasl_password: None,
            sasl_aws_region: None,
            sasl_aws_profile: None,
            sasl_oauthbearer_method: OauthBearerMethod::Default,
            oauthbearer_token_provider: None,
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_verify_hostname: true,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            metadata_max_age: Duration::from_secs(300),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            // librdkafka's default; Java has no such limit on the client side.
            receive_message_max_bytes: 100_000_000,
            statistics_interval: Duration::ZERO,
            statistics_callback: None,
        }
    }
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            compression: Compression::None,
            delivery_timeout: Duration::from_secs(120),
            max_in_flight_per_connection: 5,
            buffer_memory: 32 * 1024 * 1024,
            max_request_size: 1024 * 1024,
            max_block: Duration::from_secs(60),
            enable_idempotence: true,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            group_id: None,
            group_instance_id: None,
            group_protocol: GroupProtocol::Classic,
            group_remote_assignor: None,
            auto_offset_reset: OffsetReset::Latest,
            isolation_level: IsolationLevel::ReadUncommitted,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            max_poll_records: 500,
            fetch_min_bytes: 1,
            fetch_max_bytes: 52_428_800,
            fetch_max_wait: Duration::from_millis(500),
            max_partition_fetch_bytes: 1_048_576,
            check_crcs: true,
            partition_assignment_strategy: vec![
                "range".to_owned(),
                "cooperative-sticky".to_owned(),
            ],
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("common", &self.common)
            .field("producer", &self.producer)
            .field("consumer", &self.consumer)
            .finish()
    }
}

impl fmt::Debug for CommonConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("client_id", &self.client_id)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("sasl_password", &self.sasl_password)
            .field("sasl_aws_region", &self.sasl_aws_region)
            .field("sasl_oauthbearer_method", &self.sasl_oauthbearer_method)
            .field(
                "oauthbearer_token_provider",
                &self.oauthbearer_token_provider.is_some(),
            )
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("statistics_interval", &self.statistics_interval)
            .field("statistics_callback", &self.statistics_callback.is_some())
            .finish_non_exhaustive()
    }
}

type Parsed = std::result::Result<(), String>;

/// The part of the configuration a property belongs to.
///
/// ```
/// use laminar_kafka_client::config::{Role, property_role};
///
/// assert_eq!(property_role("linger.ms"), Some(Role::Producer));
/// assert_eq!(property_role("group.id"), Some(Role::Consumer));
/// assert_eq!(property_role("sasl.mechanisms"), Some(Role::Common));
/// assert_eq!(property_role("no.such.property"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// [`CommonConfig`]: every client.
    Common,
    /// [`ProducerConfig`].
    Producer,
    /// [`ConsumerConfig`].
    Consumer,
}

/// How a property's value is applied: to the one part it belongs to.
#[derive(Clone, Copy)]
enum Apply {
    Common(fn(&mut CommonConfig, &str) -> Parsed),
    Producer(fn(&mut ProducerConfig, &str) -> Parsed),
    Consumer(fn(&mut ConsumerConfig, &str) -> Parsed),
}

impl Apply {
    fn role(self) -> Role {
        match self {
            Apply::Common(_) => Role::Common,
            Apply::Producer(_) => Role::Producer,
            Apply::Consumer(_) => Role::Consumer,
        }
    }

    fn run(self, config: &mut ClientConfig, value: &str) -> Parsed {
        match self {
            Apply::Common(f) => f(&mut config.common, value),
            Apply::Producer(f) => f(&mut config.producer, value),
            Apply::Consumer(f) => f(&mut config.consumer, value),
        }
    }
}

/// One known property: its name, the other names it is known by, and how to apply a value.
struct Property {
    name: &'static str,
    aliases: &'static [&'static str],
    apply: Apply,
    secret: bool,
}

fn parse_bool(v: &str) -> std::result::Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected `true` or `false`, got `{v}`")),
    }
}

fn parse_num<T: std::str::FromStr>(v: &str, min: i64, max: i64) -> std::result::Result<T, String> {
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| format!("expected an integer, got `{v}`"))?;
    if n < min || n > max {
        return Err(format!("{n} is outside the allowed range {min}..={max}"));
    }
    v.trim()
        .parse()
        .map_err(|_| format!("expected an integer, got `{v}`"))
}

fn parse_ms(v: &str) -> std::result::Result<Duration, String> {
    parse_num::<u64>(v, 0, i32::MAX as i64).map(Duration::from_millis)
}

fn parse_enum<T: Copy>(v: &str, choices: &[(&str, T)]) -> std::result::Result<T, String> {
    let lower = v.trim().to_ascii_lowercase();
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&lower))
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let allowed: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            format!("`{v}` is not one of {}", allowed.join(", "))
        })
}

fn opt_string(v: &str) -> Option<String> {
    let t = v.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

macro_rules! prop {
    ($part:ident $name:literal, [$($alias:literal),*], |$c:ident, $v:ident| $body:expr) => {
        Property { name: $name, aliases: &[$($alias),*], apply: prop!(@apply $part, $c, $v, $body), secret: false }
    };
    (secret $part:ident $name:literal, [$($alias:literal),*], |$c:ident, $v:ident| $body:expr) => {
        Property { name: $name, aliases: &[$($alias),*], apply: prop!(@apply $part, $c, $v, $body), secret: true }
    };
    (@apply common, $c:ident, $v:ident, $body:expr) => { Apply::Common(|$c, $v| { $body; Ok(()) }) };
    (@apply producer, $c:ident, $v:ident, $body:expr) => { Apply::Producer(|$c, $v| { $body; Ok(()) }) };
    (@apply consumer, $c:ident, $v:ident, $body:expr) => { Apply::Consumer(|$c, $v| { $body; Ok(()) }) };
}

const I32: i64 = i32::MAX as i64;

static PROPERTIES: &[Property] = &[
    prop!(common "bootstrap.servers", ["metadata.broker.list"], |c, v| {
        let servers: Vec<String> = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if servers.is_empty() {
            return Err("expected a comma-separated list of host:port".to_owned());
        }
        for s in &servers {
            let port_ok = s
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(format!("`{s}` is not host:port"));
            }
        }
        c.bootstrap_servers = servers
    }),
    prop!(common "client.id", [], |c, v| c.client_id = v.trim().to_owned()),
    prop!(common "client.rack", [], |c, v| c.client_rack = opt_string(v)),
    prop!(common "security.protocol", [], |c, v| {
        c.security_protocol = parse_enum(
            v,
            &[
                ("PLAINTEXT", SecurityProtocol::Plaintext),
                ("SSL", SecurityProtocol::Ssl),
                ("SASL_PLAINTEXT", SecurityProtocol::SaslPlaintext),
                ("SASL_SSL", SecurityProtocol::SaslSsl),
            ],
        )?
    }),
    prop!(common "sasl.mechanism", ["sasl.mechanisms"], |c, v| {
        c.sasl_mechanism = parse_enum(
            v,
            &[
                ("PLAIN", SaslMechanism::Plain),
                ("SCRAM-SHA-256", SaslMechanism::ScramSha256),
                ("SCRAM-SHA-512", SaslMechanism::ScramSha512),
                ("OAUTHBEARER", SaslMechanism::OauthBearer),
                ("AWS_MSK_IAM", SaslMechanism::AwsMskIam),
            ],
        )?
    }),
    prop!(common "sasl.username", [], |c, v| c.sasl_username =
        Some(v.to_owned())),
    prop!(secret common "sasl.password", [], |c, v| c.sasl_password = Some(Secret::from(v))),
    prop!(common "sasl.aws.region", [], |c, v| {
        let region = opt_string(v);
        if let Some(r) = &region {
            if !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(format!("`{r}` is not an AWS region name"));
            }
        }
        c.sasl_aws_region = region
    }),
    prop!(common "sasl.aws.profile", [], |c, v| c.sasl_aws_profile =
        opt_string(v)),
    prop!(common "sasl.oauthbearer.method", [], |c, v| {
        c.sasl_oauthbearer_method = parse_enum(
            v,
            &[
                ("default", OauthBearerMethod::Default),
                ("aws_msk_iam", OauthBearerMethod::AwsMskIam),
            ],
        )?
    }),
    prop!(common "ssl.ca.location", [], |c, v| c.ssl_ca_location =
        opt_string(v).map(PathBuf::from)),
    prop!(common "ssl.certificate.location", [], |c, v| {
        c.ssl_certificate_location = opt_string(v).map(PathBuf::from)
    }),
    prop!(common "ssl.key.location", [], |c, v| c.ssl_key_location =
        opt_string(v).map(PathBuf::from)),
    prop!(common "ssl.endpoint.identification.algorithm", [], |c, v| {
        c.ssl_verify_hostname = match v.trim().to_ascii_lowercase().as_str() {
            "https" => true,
            "" | "none" => false,
            _ => return Err(format!("`{v}` is not one of https, none, or empty")),
        }
    }),
    prop!(common "socket.connection.setup.timeout.ms", [], |c, v| c
        .connect_timeout =
        parse_ms(v)?),
    prop!(common "request.timeout.ms", ["socket.timeout.ms"], |c, v| c
        .request_timeout =
        parse_ms(v)?),
    prop!(common "metadata.max.age.ms", [], |c, v| c.metadata_max_age =
        parse_ms(v)?),
    prop!(common "reconnect.backoff.ms", [], |c, v| c.reconnect_backoff =
        parse_ms(v)?),
    prop!(common "reconnect.backoff.max.ms", [], |c, v| c
        .reconnect_backoff_max =
        parse_ms(v)?),
    prop!(common "statistics.interval.ms", [], |c, v| c.statistics_interval =
        parse_ms(v)?),
    prop!(common "retry.backoff.ms", [], |c, v| c.retry_backoff =
        parse_ms(v)?),
    prop!(common "retry.backoff.max.ms", [], |c, v| c.retry_backoff_max =
        parse_ms(v)?),
    prop!(common "receive.message.max.bytes", [], |c, v| {
        c.receive_message_max_bytes = parse_num(v, 1000, I32)?
    }),
    prop!(producer "acks", ["request.required.acks"], |c, v| {
        c.acks = parse_enum(
            v,
            &[
                ("all", Acks::All),
                ("-1", Acks::All),
                ("1", Acks::Leader),
                ("0", Acks::None),
            ],
        )?
    }),
    prop!(producer "linger.ms", ["queue.buffering.max.ms"], |c, v| c.linger =
        parse_ms(v)?),
    prop!(producer "batch.size", [], |c, v| c.batch_size =
        parse_num(v, 0, I32)?),
    prop!(producer "compression.type", ["compression.codec"], |c, v| {
        c.compression = parse_enum(
            v,
            &[
                ("none", Compression::None),
                ("gzip", Compression::Gzip),
                ("snappy", Compression::Snappy),
                ("lz4", Compression::Lz4),
                ("zstd", Compression::Zstd),
            ],
        )?
    }),
    prop!(producer "delivery.timeout.ms", ["message.timeout.ms"], |c, v| {
        c.delivery_timeout = parse_ms(v)?
    }),
    prop!(
        producer "max.in.flight.requests.per.connection",
        ["max.in.flight"],
        |c, v| { c.max_in_flight_per_connection = parse_num(v, 1, 1_000_000)? }
    ),
    prop!(producer "buffer.memory", [], |c, v| c.buffer_memory =
        parse_num(v, 1024, i64::MAX)?),
    prop!(producer "max.request.size", ["message.max.bytes"], |c, v| {
        c.max_request_size = parse_num(v, 1000, I32)?
    }),
    prop!(producer "max.block.ms", [], |c, v| c.max_block = parse_ms(v)?),
    prop!(producer "enable.idempotence", [], |c, v| c.enable_idempotence =
        parse_bool(v)?),
    prop!(producer "transactional.id", [], |c, v| c.transactional_id =
        opt_string(v)),
    prop!(producer "transaction.timeout.ms", [], |c, v| c.transaction_timeout =
        parse_ms(v)?),
    prop!(consumer "group.id", [], |c, v| c.group_id = opt_string(v)),
    prop!(consumer "group.instance.id", [], |c, v| c.group_instance_id =
        opt_string(v)),
    prop!(consumer "group.protocol", [], |c, v| {
        c.group_protocol = parse_enum(
            v,
            &[
                ("classic", GroupProtocol::Classic),
                ("consumer", GroupProtocol::Consumer),
            ],
        )?
    }),
    prop!(consumer "group.remote.assignor", [], |c, v| c
        .group_remote_assignor =
        opt_string(v)),
    prop!(consumer "auto.offset.reset", [], |c, v| {
        c.auto_offset_reset = parse_enum(
            v,
            &[
                ("earliest", OffsetReset::Earliest),
                ("latest", OffsetReset::Latest),
                ("none", OffsetReset::None),
                // librdkafka's synonyms
                ("smallest", OffsetReset::Earliest),
                ("beginning", OffsetReset::Earliest),
                ("largest", OffsetReset::Latest),
                ("end", OffsetReset::Latest),
                ("error", OffsetReset::None),
            ],
        )?
    }),
    prop!(consumer "isolation.level", [], |c, v| {
        c.isolation_level = parse_enum(
            v,
            &[
                ("read_uncommitted", IsolationLevel::ReadUncommitted),
                ("read_committed", IsolationLevel::ReadCommitted),
            ],
        )?
    }),
    prop!(consumer "enable.auto.commit", [], |c, v| c.enable_auto_commit =
        parse_bool(v)?),
    prop!(consumer "auto.commit.interval.ms", [], |c, v| c
        .auto_commit_interval =
        parse_ms(v)?),
    prop!(consumer "session.timeout.ms", [], |c, v| c.session_timeout =
        parse_ms(v)?),
    prop!(consumer "heartbeat.interval.ms", [], |c, v| c.heartbeat_interval =
        parse_ms(v)?),
    prop!(consumer "max.poll.interval.ms", [], |c, v| c.max_poll_interval =
        parse_ms(v)?),
    prop!(consumer "max.poll.records", [], |c, v| c.max_poll_records =
        parse_num(v, 1, I32)?),
    prop!(consumer "fetch.min.bytes", [], |c, v| c.fetch_min_bytes =
        parse_num(v, 0, I32)?),
    prop!(consumer "fetch.max.bytes", [], |c, v| c.fetch_max_bytes =
        parse_num(v, 0, I32)?),
    prop!(consumer "fetch.max.wait.ms", ["fetch.wait.max.ms"], |c, v| c
        .fetch_max_wait =
        parse_ms(v)?),
    prop!(consumer "max.partition.fetch.bytes", [], |c, v| {
        c.max_partition_fetch_bytes = parse_num(v, 0, I32)?
    }),
    prop!(consumer "check.crcs", [], |c, v| c.check_crcs = parse_bool(v)?),
    prop!(consumer "partition.assignment.strategy", [], |c, v| {
        let names: Vec<String> = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if names.is_empty() {
            return Err("expected at least one assignor".to_owned());
        }
        c.partition_assignment_strategy = names
    }),
];

fn lookup(name: &str) -> Option<&'static Property> {
    PROPERTIES
        .iter()
        .find(|p| p.name == name || p.aliases.contains(&name))
}

/// The part of the configuration a property (by any of its names) belongs to; `None` for a name
/// this client does not know.
pub fn property_role(name: &str) -> Option<Role> {
    lookup(name.trim()).map(|p| p.apply.role())
}

/// Every property name this client accepts (canonical names, then aliases).
pub fn known_properties() -> impl Iterator<Item = &'static str> {
    PROPERTIES
        .iter()
        .map(|p| p.name)
        .chain(PROPERTIES.iter().flat_map(|p| p.aliases.iter().copied()))
}

/// Whether `name` (lower case) is a client property declared secret; [`is_secret_property`] is
/// the whole rule.
pub(crate) fn declared_secret(name: &str) -> bool {
    lookup(name).is_some_and(|p| p.secret)
}

/// The closest known property name to `name`, if one is close enough to be a likely typo.
pub fn suggest_property(name: &str) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for candidate in known_properties() {
        let d = strsim::levenshtein(name, candidate);
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    let (d, candidate) = best?;
    // Allow about a third of the name to differ, so that `bootstrap.server` finds its match
    // but `foo` does not "match" `acks`.
    (d <= (name.len().max(candidate.len()) / 3).max(2)).then_some(candidate)
}

impl ClientConfig {
    /// Sets the OAUTHBEARER token provider (for `sasl.mechanism=OAUTHBEARER`), asked for a token
    /// at every authentication and re-authentication.
    pub fn with_oauthbearer_token_provider(
        mut self,
        provider: std::sync::Arc<dyn crate::sasl::oauthbearer::TokenProvider>,
    ) -> Self {
        self.common.oauthbearer_token_provider = Some(provider);
        self
    }

    /// Sets the statistics callback, called by the producer, consumer or admin client with a
    /// [`Statistics`](crate::stats::Statistics) snapshot every `statistics.interval.ms` (when
    /// that is not zero) from a task of the client, until the client is closed or dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use laminar_kafka_client::config::ClientConfig;
    ///
    /// let mut config = ClientConfig::new("127.0.0.1:9092")?
    ///     .with_statistics_callback(Arc::new(|stats: &laminar_kafka_client::stats::Statistics| {
    ///         println!("{} records sent", stats.totals.record_send_total);
    ///     }));
    /// config.set("statistics.interval.ms", "5000")?;
    /// assert_eq!(config.common.statistics_interval.as_millis(), 5000);
    /// # Ok::<(), laminar_kafka_client::Error>(())
    /// ```
    pub fn with_statistics_callback(mut self, callback: crate::stats::StatisticsCallback) -> Self {
        self.common.statistics_callback = Some(callback);
        self
    }

    /// A configuration with every default and the given bootstrap servers.
    pub fn new(bootstrap_servers: &str) -> Result<Self> {
        let mut c = Self::default();
        c.set("bootstrap.servers", bootstrap_servers)?;
        Ok(c)
    }

    /// Sets one property by name. Unknown names and ill-typed values are errors that name the
    /// property (and suggest the nearest known one).
    pub fn set(&mut self, name: &str, value: &str) -> Result<&mut Self> {
        let key = name.trim();
        let Some(prop) = lookup(key) else {
            return Err(Error::UnknownProperty {
                name: key.to_owned(),
                suggestion: suggest_property(key),
            });
        };
        prop.apply
            .run(self, value)
            .map_err(|reason| Error::InvalidProperty {
                name: key.to_owned(),
                reason: if prop.secret || is_secret_property(key) {
                    "the value is not valid".to_owned()
                } else {
                    reason
                },
            })?;
        Ok(self)
    }

    /// Builds a configuration from `(name, value)` pairs, applied in order (later pairs win).
    pub fn from_properties<K, V>(props: impl IntoIterator<Item = (K, V)>) -> Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = Self::default();
        for (k, v) in props {
            c.set(k.as_ref(), v.as_ref())?;
        }
        Ok(c)
    }

    /// Checks the combination of settings, as the Java client does when a client is created.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name: &str, reason: &str| {
            Err(Error::InvalidProperty {
                name: name.to_owned(),
                reason: reason.to_owned(),
            })
        };
        if self.common.bootstrap_servers.is_empty() {
            return invalid(
                "bootstrap.servers",
                "at least one broker address is required",
            );
        }
        if self.common.security_protocol.uses_sasl()
            && matches!(
                self.common.sasl_mechanism,
                SaslMechanism::Plain | SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512
            )
        {
            if self.common.sasl_username.is_none() {
                return invalid(
                    "sasl.username",
                    &format!(
                        "required by sasl.mechanism {}",
                        self.common.sasl_mechanism.name()
                    ),
                );
            }
            if self.common.sasl_password.is_none() {
                return invalid(
                    "sasl.password",
                    &format!(
                        "required by sasl.mechanism {}",
                        self.common.sasl_mechanism.name()
                    ),
                );
            }
        }
        if self.common.ssl_certificate_location.is_some() != self.common.ssl_key_location.is_some()
        {
            return invalid(
                "ssl.key.location",
                "a client certificate and its key go together: set both ssl.certificate.location and ssl.key.location",
            );
        }
        if self.producer.enable_idempotence && self.producer.max_in_flight_per_connection > 5 {
            return invalid(
                "max.in.flight.requests.per.connection",
                "must be at most 5 when enable.idempotence is true",
            );
        }
        if self.producer.enable_idempotence && self.producer.acks != Acks::All {
            return invalid("acks", "must be `all` when enable.idempotence is true");
        }
        if self.producer.transactional_id.is_some() && !self.producer.enable_idempotence {
            return invalid(
                "enable.idempotence",
                "a transactional producer needs enable.idempotence=true",
            );
        }
        if self.consumer.heartbeat_interval >= self.consumer.session_timeout {
            return invalid(
                "heartbeat.interval.ms",
                "must be lower than session.timeout.ms",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_applies_to_its_own_part_only() {
        // A value each property accepts, so that applying it must change its part.
        let samples = [
            ("bootstrap.servers", "other:1"),
            ("metadata.broker.list", "other:1"),
            ("linger.ms", "77"),
            ("acks", "0"),
            ("group.id", "g"),
            ("fetch.min.bytes", "7"),
            ("client.id", "x"),
            ("isolation.level", "read_committed"),
            ("batch.size", "1000"),
        ];
        for (name, value) in samples {
            let before = ClientConfig::default();
            let mut after = ClientConfig::default();
            after.set(name, value).unwrap();
            let changed = [
                (
                    Role::Common,
                    format!("{:?}", before.common) != format!("{:?}", after.common),
                ),
                (
                    Role::Producer,
                    format!("{:?}", before.producer) != format!("{:?}", after.producer),
                ),
                (
                    Role::Consumer,
                    format!("{:?}", before.consumer) != format!("{:?}", after.consumer),
                ),
            ];
            let role = property_role(name).unwrap();
            for (part, did) in changed {
                assert_eq!(did, part == role, "{name} changed {part:?}: {did}");
            }
        }
        assert!(known_properties().all(|p| property_role(p).is_some()));
    }

    #[test]
    fn aws_and_oauthbearer_properties() {
        let c = ClientConfig::from_properties([
            ("sasl.mechanism", "AWS_MSK_IAM"),
            ("sasl.aws.region", "us-east-1"),
            ("sasl.aws.profile", "kafka"),
            ("sasl.oauthbearer.method", "AWS_MSK_IAM"),
        ])
        .unwrap();
        assert_eq!(c.common.sasl_mechanism, SaslMechanism::AwsMskIam);
        assert_eq!(c.common.sasl_aws_region.as_deref(), Some("us-east-1"));
        assert_eq!(c.common.sasl_aws_profile.as_deref(), Some("kafka"));
        assert_eq!(
            c.common.sasl_oauthbearer_method,
            OauthBearerMethod::AwsMskIam
        );
        let err = ClientConfig::from_properties([("sasl.aws.region", "us east/1")]).unwrap_err();
        assert!(err.to_string().contains("sasl.aws.region"), "{err}");
        let err = ClientConfig::from_properties([("sasl.oauthbearer.method", "oidc")]).unwrap_err();
        assert!(err.to_string().contains("aws_msk_iam"), "{err}");
        // Token mechanisms need no user name or password.
        let c = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
        ])
        .unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn java_and_librdkafka_names_set_the_same_fields() {
        let java = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1,b:2"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("linger.ms", "7"),
            ("compression.type", "zstd"),
            ("acks", "all"),
            ("delivery.timeout.ms", "1000"),
        ])
        .unwrap();
        let rdkafka = ClientConfig::from_properties([
            ("metadata.broker.list", " a:1 , b:2 "),
            ("sasl.mechanisms", "scram-sha-512"),
            ("queue.buffering.max.ms", "7"),
            ("compression.codec", "ZSTD"),
            ("request.required.acks", "-1"),
            ("message.timeout.ms", "1000"),
        ])
        .unwrap();
        assert_eq!(java.common.bootstrap_servers, vec!["a:1", "b:2"]);
        assert_eq!(
            rdkafka.common.bootstrap_servers,
            java.common.bootstrap_servers
        );
        assert_eq!(rdkafka.common.sasl_mechanism, SaslMechanism::ScramSha512);
        assert_eq!(rdkafka.producer.linger, java.producer.linger);
        assert_eq!(rdkafka.producer.compression, Compression::Zstd);
        assert_eq!(rdkafka.producer.acks, Acks::All);
        assert_eq!(rdkafka.producer.delivery_timeout, Duration::from_secs(1));
    }

    #[test]
    fn unknown_properties_suggest_the_nearest_known_one() {
        let err = ClientConfig::from_properties([("lingr.ms", "5")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown configuration property `lingr.ms` (did you mean `linger.ms`?)"
        );
        let err = ClientConfig::from_properties([("zzzzzz", "5")]).unwrap_err();
        assert_eq!(err.to_string(), "unknown configuration property `zzzzzz`");
    }

    #[test]
    fn ill_typed_values_name_the_property_and_the_allowed_values() {
        let err = ClientConfig::from_properties([("acks", "2")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for `acks`: `2` is not one of all, -1, 1, 0"
        );
        let err = ClientConfig::from_properties([("linger.ms", "soon")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for `linger.ms`: expected an integer, got `soon`"
        );
        let err = ClientConfig::from_properties([("batch.size", "-1")]).unwrap_err();
        assert!(
            err.to_string().contains("outside the allowed range"),
            "{err}"
        );
        let err = ClientConfig::from_properties([("bootstrap.servers", "localhost")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for `bootstrap.servers`: `localhost` is not host:port"
        );
    }

    #[test]
    fn passwords_never_show() {
        let c = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("sasl.password", "hunter2-very-secret"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            c.common.sasl_password.as_ref().unwrap().expose(),
            "hunter2-very-secret"
        );
        assert_eq!(c.common.sasl_password.as_ref().unwrap().to_string(), "***");
        assert!(is_secret_property("sasl.password"));
        assert!(!is_secret_property("sasl.username"));
    }

    #[test]
    fn validation_catches_inconsistent_combinations() {
        let mut c = ClientConfig::new("a:1").unwrap();
        c.validate().unwrap();
        c.set("security.protocol", "SASL_SSL").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid value for `sasl.username`: required by sasl.mechanism PLAIN"
        );
        c.set("sasl.username", "u")
            .unwrap()
            .set("sasl.password", "p")
            .unwrap();
        c.validate().unwrap();
        c.set("acks", "1").unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("enable.idempotence")
        );
        c.set("enable.idempotence", "false").unwrap();
        c.validate().unwrap();
        assert!(ClientConfig::default().validate().is_err());
    }

    #[test]
    fn defaults_match_the_java_client() {
        let c = ClientConfig::default();
        assert_eq!(c.producer.acks, Acks::All);
        assert_eq!(c.producer.batch_size, 16_384);
        assert_eq!(c.producer.linger, Duration::from_millis(5));
        assert!(c.producer.enable_idempotence);
        assert_eq!(c.producer.max_in_flight_per_connection, 5);
        assert_eq!(c.consumer.fetch_max_bytes, 52_428_800);
        assert_eq!(c.consumer.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(c.consumer.session_timeout, Duration::from_secs(45));
    }
}
