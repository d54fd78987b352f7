//! The harness broker: its listeners and security setups, read from the environment that
//! `scripts/kafka.sh env` prints, and checked to answer.

use std::fmt;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::peers::{JavaClient, Kcat};
use crate::process::{Output, run};
use crate::{DEFAULT_TIMEOUT, HarnessError, Result};

/// How long [`Broker::check_reachable`] waits for each listener's TCP connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One of the broker's client listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// No TLS, no authentication.
    Plaintext,
    /// SASL without TLS.
    SaslPlaintext,
    /// TLS; a client certificate is asked for but not required.
    Ssl,
    /// SASL over TLS.
    SaslSsl,
}

impl Listener {
    /// All four, in port order.
    pub const ALL: [Listener; 4] = [
        Listener::Plaintext,
        Listener::SaslPlaintext,
        Listener::Ssl,
        Listener::SaslSsl,
    ];

    /// The Kafka `security.protocol` name.
    pub fn protocol(self) -> &'static str {
        match self {
            Listener::Plaintext => "PLAINTEXT",
            Listener::SaslPlaintext => "SASL_PLAINTEXT",
            Listener::Ssl => "SSL",
            Listener::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the listener speaks TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Listener::Ssl | Listener::SaslSsl)
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.protocol())
    }
}

/// A SASL mechanism the broker accepts for the test user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
}

impl SaslMechanism {
    /// All three.
    pub const ALL: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ];

    /// The mechanism's SASL name.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// Whether this is one of the SCRAM mechanisms.
    pub fn is_scram(self) -> bool {
        !matches!(self, SaslMechanism::Plain)
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a client connects: a listener, and for SASL the mechanism, for SSL whether it shows the
/// client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// The PLAINTEXT listener.
    Plaintext,
    /// The SASL_PLAINTEXT listener with a mechanism.
    SaslPlaintext(SaslMechanism),
    /// The SSL listener, no client certificate.
    Ssl,
    /// The SSL listener with the harness' client certificate (mutual TLS).
    SslClientCert,
    /// The SASL_SSL listener with a mechanism.
    SaslSsl(SaslMechanism),
}

impl Security {
    /// The listener this connects to.
    pub fn listener(self) -> Listener {
        match self {
            Security::Plaintext => Listener::Plaintext,
            Security::SaslPlaintext(_) => Listener::SaslPlaintext,
            Security::Ssl | Security::SslClientCert => Listener::Ssl,
            Security::SaslSsl(_) => Listener::SaslSsl,
        }
    }

    /// The SASL mechanism, if any.
    pub fn mechanism(self) -> Option<SaslMechanism> {
        match self {
            Security::SaslPlaintext(m) | Security::SaslSsl(m) => Some(m),
            _ => None,
        }
    }

    /// File name of this setup's Java client properties in the harness' properties directory.
    pub fn java_properties_file_name(self) -> String {
        let listener = self.listener().protocol().to_ascii_lowercase();
        match self {
            Security::SslClientCert => "ssl-mtls.properties".to_owned(),
            _ => match self.mechanism() {
                Some(m) => format!("{listener}-{}.properties", m.name().to_ascii_lowercase()),
                None => format!("{listener}.properties"),
            },
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Security::SslClientCert => f.write_str("SSL with client certificate"),
            _ => match self.mechanism() {
                Some(m) => write!(f, "{} with {m}", self.listener()),
                None => write!(f, "{}", self.listener()),
            },
        }
    }
}

/// The harness broker, as described by the variables of `scripts/kafka.sh env`.
#[derive(Clone)]
pub struct Broker {
    /// Kafka version, e.g. `4.3.1` (`KAFKA_VERSION`).
    pub version: String,
    /// Bootstrap `host:port` of the PLAINTEXT listener (`KAFKA_BOOTSTRAP`).
    pub plaintext: String,
    /// Bootstrap of the SASL_PLAINTEXT listener (`KAFKA_BOOTSTRAP_SASL_PLAINTEXT`).
    pub sasl_plaintext: String,
    /// Bootstrap of the SSL listener (`KAFKA_BOOTSTRAP_SSL`).
    pub ssl: String,
    /// Bootstrap of the SASL_SSL listener (`KAFKA_BOOTSTRAP_SASL_SSL`).
    pub sasl_ssl: String,
    /// Bootstrap of the REAUTH listener: SASL_PLAINTEXT with sessions of `reauth_ms`
    /// (`KAFKA_BOOTSTRAP_REAUTH`).
    pub reauth: String,
    /// The session lifetime of the REAUTH listener in ms (`KAFKA_REAUTH_MS`).
    pub reauth_ms: u64,
    /// The address the PROXIED listener advertises, where a test's proxy must listen
    /// (`KAFKA_BOOTSTRAP_PROXIED`).
    pub proxied: String,
    /// Where the PROXIED listener really listens: the proxy's target
    /// (`KAFKA_PROXIED_TARGET`).
    pub proxied_target: String,
    /// Bootstrap of the OAUTH listener: SASL_PLAINTEXT with OAUTHBEARER only, validating
    /// unsecured JWS tokens, with sessions of `reauth_ms` (`KAFKA_BOOTSTRAP_OAUTH`). `None` for a
    /// harness broker started before the listener existed.
    pub oauth: Option<String>,
    /// SASL user, valid for every mechanism (`KAFKA_SASL_USERNAME`).
    pub username: String,
    password: String,
    /// PEM file of the CA that signed the broker's certificate (`KAFKA_CA_FILE`).
    pub ca_file: PathBuf,
    /// PEM file of an unrelated CA, for "wrong CA" tests (`KAFKA_BAD_CA_FILE`).
    pub bad_ca_file: PathBuf,
    /// PEM client certificate signed by the CA (`KAFKA_CLIENT_CERT_FILE`).
    pub client_cert_file: PathBuf,
    /// PEM (PKCS#8) private key of the client certificate (`KAFKA_CLIENT_KEY_FILE`).
    pub client_key_file: PathBuf,
    /// Directory of the Kafka jars (`KAFKA_LIBS`).
    pub libs: PathBuf,
    /// Path of `scripts/kafka.sh`, which runs the Java tools (`KAFKA_HARNESS`).
    pub harness: PathBuf,
    /// Directory of the Java tools' client properties (`KAFKA_JAVA_PROPERTIES_DIR`).
    pub java_properties_dir: PathBuf,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("version", &self.version)
            .field("plaintext", &self.plaintext)
            .field("sasl_plaintext", &self.sasl_plaintext)
            .field("ssl", &self.ssl)
            .field("sasl_ssl", &self.sasl_ssl)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("ca_file", &self.ca_file)
            .field("libs", &self.libs)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// The harness broker, checked once per test binary that every listener accepts a TCP
    /// connection.
    ///
    /// # Panics
    /// When the variables are missing or the broker does not answer, with a message that says how
    /// to start it: broker tests fail rather than skip.
    pub fn from_env() -> &'static Broker {
        static BROKER: OnceLock<Result<Broker, String>> = OnceLock::new();
        let found = BROKER.get_or_init(|| {
            let broker = Broker::try_from_env().map_err(|e| e.to_string())?;
            broker.check_reachable().map_err(|e| e.to_string())?;
            Ok(broker)
        });
        match found {
            Ok(broker) => broker,
            Err(message) => panic!("no test broker: {message}"),
        }
    }

    /// Reads the broker's description from the process environment, without connecting.
    ///
    /// When none of the harness variables is set (`KAFKA_BOOTSTRAP` is absent) but the harness
    /// broker of this checkout runs, its variables are read from `scripts/kafka.sh env`, so that a
    /// plain `cargo test` works once the broker is up.
    pub fn try_from_env() -> Result<Broker> {
        if std::env::var_os("KAFKA_BOOTSTRAP").is_some() {
            return Broker::from_vars(|name| std::env::var(name).ok());
        }
        let vars = running_harness_env()?;
        Broker::from_vars(|name| vars.get(name).cloned())
    }

    /// Reads the broker's description through `lookup` (a variable name to its value), without
    /// connecting.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Broker> {
        let get = |name: &'static str| -> Result<String> {
            match lookup(name) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(HarnessError::MissingVariable { name }),
            }
        };
        let address = |name: &'static str| -> Result<String> {
            let value = get(name)?;
            match value.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(value),
                _ => Err(HarnessError::InvalidVariable {
                    name,
                    value,
                    reason: "expected host:port".to_owned(),
                }),
            }
        };
        let file = |name: &'static str| -> Result<PathBuf> {
            let path = PathBuf::from(get(name)?);
            if path.exists() {
                Ok(path)
            } else {
                Err(HarnessError::InvalidVariable {
                    name,
                    value: path.display().to_string(),
                    reason: "no such file or directory".to_owned(),
                })
            }
        };
        Ok(Broker {
            version: get("KAFKA_VERSION")?,
            plaintext: address("KAFKA_BOOTSTRAP")?,
            sasl_plaintext: address("KAFKA_BOOTSTRAP_SASL_PLAINTEXT")?,
            ssl: address("KAFKA_BOOTSTRAP_SSL")?,
            sasl_ssl: address("KAFKA_BOOTSTRAP_SASL_SSL")?,
            reauth: address("KAFKA_BOOTSTRAP_REAUTH")?,
            reauth_ms: get("KAFKA_REAUTH_MS")?.parse().map_err(|_| {
                HarnessError::InvalidVariable {
                    name: "KAFKA_REAUTH_MS",
                    value: lookup("KAFKA_REAUTH_MS").unwrap_or_default(),
                    reason: "expected milliseconds".to_owned(),
                }
            })?,
            proxied: address("KAFKA_BOOTSTRAP_PROXIED")?,
            proxied_target: address("KAFKA_PROXIED_TARGET")?,
            oauth: match lookup("KAFKA_BOOTSTRAP_OAUTH") {
                Some(v) if !v.is_empty() => Some(address("KAFKA_BOOTSTRAP_OAUTH")?),
                _ => None,
            },
            username: get("KAFKA_SASL_USERNAME")?,
            password: get("KAFKA_SASL_PASSWORD")?,
            ca_file: file("KAFKA_CA_FILE")?,
            bad_ca_file: file("KAFKA_BAD_CA_FILE")?,
            client_cert_file: file("KAFKA_CLIENT_CERT_FILE")?,
            client_key_file: file("KAFKA_CLIENT_KEY_FILE")?,
            libs: file("KAFKA_LIBS")?,
            harness: file("KAFKA_HARNESS")?,
            java_properties_dir: file("KAFKA_JAVA_PROPERTIES_DIR")?,
        })
    }

    /// Checks that every listener accepts a TCP connection.
    pub fn check_reachable(&self) -> Result<()> {
        for listener in Listener::ALL {
            let address = self.bootstrap(listener);
            let connect = || -> io::Result<()> {
                let mut last =
                    io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
                for addr in address.to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                        Ok(_) => return Ok(()),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            };
            connect().map_err(|source| HarnessError::Unreachable {
                listener,
                address: address.to_owned(),
                source,
            })?;
        }
        Ok(())
    }

    /// The SASL password of [`Broker::username`] (for every mechanism).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The major version of the broker (`4` for `4.3.1`).
    pub fn major_version(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// Whether the broker's version is `major.minor` or later.
    pub fn version_at_least(&self, major: u32, minor: u32) -> bool {
        let (have_major, have_minor, _) = parse_version(&self.version);
        (have_major, have_minor) >= (major, minor)
    }

    /// Bootstrap `host:port` of a listener.
    pub fn bootstrap(&self, listener: Listener) -> &str {
        match listener {
            Listener::Plaintext => &self.plaintext,
            Listener::SaslPlaintext => &self.sasl_plaintext,
            Listener::Ssl => &self.ssl,
            Listener::SaslSsl => &self.sasl_ssl,
        }
    }

    /// The Java client properties file for a security setup (made by `scripts/kafka.sh start`).
    pub fn java_properties(&self, security: Security) -> PathBuf {
        self.java_properties_dir
            .join(security.java_properties_file_name())
    }

    /// Runs a Java tool of the Kafka distribution by its harness name (`topics`,
    /// `console-producer`, `producer-perf`…; see `scripts/kafka.sh`), which finds the right class
    /// for this Kafka version. Fails on a non-zero exit.
    pub fn run_tool(
        &self,
        tool: &str,
        args: &[&str],
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output> {
        let mut command = Command::new(&self.harness);
        command.arg(tool).args(args);
        self.run_checked(command, stdin, timeout)
    }

    /// Creates a topic with `partitions` partitions (one replica) through the Java topics tool.
    pub fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        self.create_topic_with_configs(topic, partitions, &[])
    }

    /// Creates a topic with topic-level configs (e.g. `("cleanup.policy", "compact")`).
    pub fn create_topic_with_configs(
        &self,
        topic: &str,
        partitions: u32,
        configs: &[(&str, &str)],
    ) -> Result<()> {
        let partitions = partitions.to_string();
        let configs: Vec<String> = configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec![
            "--bootstrap-server",
            &self.plaintext,
            "--create",
            "--topic",
            topic,
            "--partitions",
            &partitions,
            "--replication-factor",
            "1",
        ];
        for config in &configs {
            args.extend(["--config", config.as_str()]);
        }
        self.run_tool("topics", &args, None, DEFAULT_TIMEOUT)?;
        Ok(())
    }

    /// Deletes a topic through the Java topics tool.
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        let args = [
            "--bootstrap-server",
            &self.plaintext,
            "--delete",
            "--topic",
            topic,
        ];
        self.run_tool("topics", &args, None, DEFAULT_TIMEOUT)?;
        Ok(())
    }

    /// A kcat (librdkafka) client for a security setup.
    pub fn kcat(&self, security: Security) -> Kcat<'_> {
        Kcat {
            broker: self,
            security,
            password: self.password.clone(),
            ca_file: self.ca_file.clone(),
            config: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Whether the installed kcat can authenticate with SCRAM to this broker. Debian's kcat is
    /// built on librdkafka 2.0.2, whose SCRAM exchange Kafka 4 brokers reject as invalid
    /// credentials (librdkafka fixed it in 2.6.1); Kafka 3.x brokers accept it.
    pub fn kcat_supports_scram(&self) -> Result<bool> {
        if self.major_version() < 4 {
            return Ok(true);
        }
        let mut command = Command::new("kcat");
        command.arg("-V");
        let output = self.run_checked(command, None, Duration::from_secs(10))?;
        let version = output
            .stdout
            .split_whitespace()
            .skip_while(|w| *w != "librdkafka")
            .nth(1)
            .map(parse_version)
            .ok_or_else(|| HarnessError::UnexpectedOutput {
                command: "kcat -V".to_owned(),
                detail: "no librdkafka version in its output".to_owned(),
            })?;
        Ok(version >= (2, 6, 1))
    }

    /// A Java client (the console producer and consumer of the Kafka distribution) for a
    /// security setup.
    pub fn java(&self, security: Security) -> JavaClient<'_> {
        JavaClient {
            broker: self,
            security,
            password: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub(crate) fn secrets(&self) -> Vec<String> {
        vec![self.password.clone()]
    }

    fn run_checked(
        &self,
        command: Command,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output> {
        run(command, stdin, timeout, &self.secrets())
    }
}

/// The variables of `scripts/kafka.sh env` when this checkout's harness broker (of the version in
/// `KAFKA_VERSION`, default the script's) runs; `MissingVariable` otherwise.
fn running_harness_env() -> Result<std::collections::HashMap<String, String>> {
    let not_running = || HarnessError::MissingVariable {
        name: "KAFKA_BOOTSTRAP",
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka.sh");
    if !script.exists() {
        return Err(not_running());
    }
    let mut status = Command::new(&script);
    status.arg("status");
    run(status, None, Duration::from_secs(30), &[]).map_err(|_| not_running())?;
    let mut env = Command::new(&script);
    env.arg("env");
    let output = run(env, None, Duration::from_secs(30), &[]).map_err(|_| not_running())?;
    Ok(parse_exports(&output.stdout))
}

/// Parses `export NAME=VALUE` lines as `scripts/kafka.sh env` prints them (values quoted by
/// bash's `printf %q`, which escapes with backslashes).
pub fn parse_exports(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(name, quoted)| {
            let mut value = String::with_capacity(quoted.len());
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
            (name.to_owned(), value)
        })
        .collect()
}

fn parse_version(text: &str) -> (u32, u32, u32) {
    let mut parts = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full_env() -> HashMap<&'static str, String> {
        let existing = env!("CARGO_MANIFEST_DIR").to_owned();
        let mut vars = HashMap::new();
        for (name, value) in [
            ("KAFKA_VERSION", "4.3.1"),
            ("KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
            ("KAFKA_BOOTSTRAP_SASL_PLAINTEXT", "127.0.0.1:19093"),
            ("KAFKA_BOOTSTRAP_SSL", "127.0.0.1:19094"),
            ("KAFKA_BOOTSTRAP_SASL_SSL", "127.0.0.1:19095"),
            ("KAFKA_BOOTSTRAP_REAUTH", "127.0.0.1:19097"),
            ("KAFKA_REAUTH_MS", "3000"),
            ("KAFKA_BOOTSTRAP_PROXIED", "127.0.0.1:19099"),
            ("KAFKA_PROXIED_TARGET", "127.0.0.1:19098"),
            ("KAFKA_SASL_USERNAME", "laminar"),
            ("KAFKA_SASL_PASSWORD", "s3cret-value"),
        ] {
            vars.insert(name, value.to_owned());
        }
        for name in [
            "KAFKA_CA_FILE",
            "KAFKA_BAD_CA_FILE",
            "KAFKA_CLIENT_CERT_FILE",
            "KAFKA_CLIENT_KEY_FILE",
            "KAFKA_LIBS",
            "KAFKA_HARNESS",
            "KAFKA_JAVA_PROPERTIES_DIR",
        ] {
            vars.insert(name, existing.clone());
        }
        vars
    }

    fn broker_from(vars: &HashMap<&'static str, String>) -> Result<Broker> {
        Broker::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn the_oauth_listener_is_optional_but_checked_when_set() {
        let mut vars = full_env();
        assert_eq!(broker_from(&vars).unwrap().oauth, None);
        vars.insert("KAFKA_BOOTSTRAP_OAUTH", "127.0.0.1:19100".to_owned());
        assert_eq!(
            broker_from(&vars).unwrap().oauth.as_deref(),
            Some("127.0.0.1:19100")
        );
        vars.insert("KAFKA_BOOTSTRAP_OAUTH", "no-port".to_owned());
        assert!(broker_from(&vars).is_err());
    }

    #[test]
    fn complete_environment_describes_the_broker() {
        let broker = broker_from(&full_env()).unwrap();
        assert_eq!(broker.bootstrap(Listener::SaslSsl), "127.0.0.1:19095");
        assert_eq!(broker.password(), "s3cret-value");
        assert_eq!(broker.major_version(), 4);
        assert!(!format!("{broker:?}").contains("s3cret-value"));
    }

    #[test]
    fn missing_variable_names_it_and_says_how_to_start_the_broker() {
        let mut vars = full_env();
        vars.remove("KAFKA_BOOTSTRAP_SSL");
        let message = broker_from(&vars).unwrap_err().to_string();
        assert!(
            message.contains("KAFKA_BOOTSTRAP_SSL is not set"),
            "{message}"
        );
        assert!(message.contains("scripts/kafka.sh start"), "{message}");
        assert!(
            message.contains("eval \"$(scripts/kafka.sh env)\""),
            "{message}"
        );
    }

    #[test]
    fn empty_variable_counts_as_missing() {
        let mut vars = full_env();
        vars.insert("KAFKA_SASL_PASSWORD", String::new());
        assert!(matches!(
            broker_from(&vars),
            Err(HarnessError::MissingVariable {
                name: "KAFKA_SASL_PASSWORD"
            })
        ));
    }

    #[test]
    fn malformed_bootstrap_and_missing_files_are_rejected() {
        let mut vars = full_env();
        vars.insert("KAFKA_BOOTSTRAP", "127.0.0.1".to_owned());
        assert!(matches!(
            broker_from(&vars),
            Err(HarnessError::InvalidVariable {
                name: "KAFKA_BOOTSTRAP",
                ..
            })
        ));
        let mut vars = full_env();
        vars.insert("KAFKA_CA_FILE", "/nonexistent/ca.pem".to_owned());
        let message = broker_from(&vars).unwrap_err().to_string();
        assert!(message.contains("KAFKA_CA_FILE"), "{message}");
        assert!(message.contains("no such file"), "{message}");
    }

    #[test]
    fn unreachable_listener_is_an_error_that_says_how_to_start() {
        // Bind and drop a listener to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut vars = full_env();
        vars.insert("KAFKA_BOOTSTRAP", format!("127.0.0.1:{port}"));
        let error = broker_from(&vars).unwrap().check_reachable().unwrap_err();
        let message = error.to_string();
        assert!(matches!(
            error,
            HarnessError::Unreachable {
                listener: Listener::Plaintext,
                ..
            }
        ));
        assert!(message.contains("scripts/kafka.sh start"), "{message}");
    }

    #[test]
    fn java_properties_files_follow_the_harness_names() {
        assert_eq!(
            Security::Plaintext.java_properties_file_name(),
            "plaintext.properties"
        );
        assert_eq!(
            Security::SslClientCert.java_properties_file_name(),
            "ssl-mtls.properties"
        );
        assert_eq!(
            Security::SaslSsl(SaslMechanism::ScramSha512).java_properties_file_name(),
            "sasl_ssl-scram-sha-512.properties"
        );
        assert_eq!(
            Security::SaslPlaintext(SaslMechanism::Plain).java_properties_file_name(),
            "sasl_plaintext-plain.properties"
        );
    }

    #[test]
    fn harness_exports_are_unquoted() {
        let vars = parse_exports(
            "export KAFKA_VERSION=4.3.1\n\
             export KAFKA_SASL_MECHANISMS=PLAIN\\ SCRAM-SHA-256\\ SCRAM-SHA-512\n\
             note: not an export\n\
             export KAFKA_CA_FILE=/a\\ dir/ca.pem\n",
        );
        assert_eq!(vars.len(), 3);
        assert_eq!(vars["KAFKA_VERSION"], "4.3.1");
        assert_eq!(
            vars["KAFKA_SASL_MECHANISMS"],
            "PLAIN SCRAM-SHA-256 SCRAM-SHA-512"
        );
        assert_eq!(vars["KAFKA_CA_FILE"], "/a dir/ca.pem");
    }

    #[test]
    fn versions_parse_leniently() {
        assert_eq!(parse_version("2.0.2"), (2, 0, 2));
        assert_eq!(parse_version("2.6.1-RC2"), (2, 6, 1));
        assert!(parse_version("2.10.0") >= (2, 6, 1));
        assert_eq!(parse_version("garbage"), (0, 0, 0));
    }
}
