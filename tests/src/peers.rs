//! The interop peers against the harness broker: kcat and the Java console producer and
//! consumer, each for one security setup, with the right password unless told otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::broker::{Broker, Security};
use crate::process::{Output, run};
use crate::{HarnessError, Result, unique_topic};

/// kcat runs against the harness broker; build with [`Broker::kcat`].
#[derive(Debug, Clone)]
pub struct Kcat<'a> {
    pub(crate) broker: &'a Broker,
    pub(crate) security: Security,
    pub(crate) password: String,
    pub(crate) ca_file: PathBuf,
    pub(crate) config: Vec<(String, String)>,
    pub(crate) timeout: Duration,
}

impl Kcat<'_> {
    /// Authenticates with this password instead of the right one.
    pub fn password(mut self, password: &str) -> Self {
        self.password = password.to_owned();
        self
    }

    /// Trusts this CA file instead of the harness CA.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.ca_file = path.as_ref().to_owned();
        self
    }

    /// Sets a librdkafka property (`-X key=value`).
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.config.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The deadline of each run (default 30 s); produce also gives up delivering after it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command(&self) -> Command {
        let listener = self.security.listener();
        let mut command = Command::new("kcat");
        command
            .args(["-b", self.broker.bootstrap(listener)])
            .args(["-X", &format!("security.protocol={}", listener.protocol())]);
        if listener.is_tls() {
            command
                .arg("-X")
                .arg(format!("ssl.ca.location={}", self.ca_file.display()));
        }
        if self.security == Security::SslClientCert {
            command
                .arg("-X")
                .arg(format!(
                    "ssl.certificate.location={}",
                    self.broker.client_cert_file.display()
                ))
                .arg("-X")
                .arg(format!(
                    "ssl.key.location={}",
                    self.broker.client_key_file.display()
                ));
        }
        if let Some(mechanism) = self.security.mechanism() {
            command
                .args(["-X", &format!("sasl.mechanisms={mechanism}")])
                .args(["-X", &format!("sasl.username={}", self.broker.username)])
                .args(["-X", &format!("sasl.password={}", self.password)]);
        }
        for (key, value) in &self.config {
            command.args(["-X", &format!("{key}={value}")]);
        }
        command
    }

    fn run(&self, command: Command, stdin: Option<&[u8]>) -> Result<Output> {
        let mut secrets = self.broker.secrets();
        secrets.push(self.password.clone());
        run(command, stdin, self.timeout, &secrets)
    }

    /// Produces `values` (one message each, no key) to `topic` and waits for their delivery.
    pub fn produce(&self, topic: &str, values: &[&str]) -> Result<()> {
        let mut input = Vec::new();
        for value in values {
            if value.contains('\n') {
                return Err(HarnessError::UnexpectedOutput {
                    command: "kcat -P".to_owned(),
                    detail: format!("value {value:?} contains the message delimiter"),
                });
            }
            input.extend_from_slice(value.as_bytes());
            input.push(b'\n');
        }
        // Fail delivery before the deadline kills kcat, so the error says why.
        let delivery_ms = self
            .timeout
            .saturating_sub(Duration::from_secs(2))
            .as_millis()
            .max(1000);
        let mut command = self.command();
        command
            .args(["-P", "-t", topic])
            .args(["-X", &format!("message.timeout.ms={delivery_ms}")]);
        let output = self.run(command, Some(&input))?;
        // kcat reports failed deliveries on stderr; older versions still exit 0.
        if output.stderr.contains("Delivery failed") || output.stderr.contains("ERROR") {
            return Err(HarnessError::UnexpectedOutput {
                command: format!("kcat -P -t {topic}"),
                detail: output.stderr,
            });
        }
        Ok(())
    }

    /// Consumes `count` messages from the beginning of every partition of `topic`, returning their
    /// values (delimited by newlines).
    pub fn consume(&self, topic: &str, count: usize) -> Result<Vec<String>> {
        let mut command = self.command();
        command.args([
            "-C",
            "-q",
            "-t",
            topic,
            "-o",
            "beginning",
            "-c",
            &count.to_string(),
        ]);
        let output = self.run(command, None)?;
        let values: Vec<String> = output.stdout.lines().map(str::to_owned).collect();
        if values.len() != count {
            return Err(HarnessError::UnexpectedOutput {
                command: format!("kcat -C -t {topic} -c {count}"),
                detail: format!("{} messages instead of {count}", values.len()),
            });
        }
        Ok(values)
    }

    /// Asks for one topic's metadata (`kcat -L -t topic`) and returns kcat's listing, which names
    /// the broker's error for the topic if there is one.
    pub fn topic_metadata(&self, topic: &str) -> Result<String> {
        let mut command = self.command();
        let metadata_timeout = self
            .timeout
            .saturating_sub(Duration::from_secs(2))
            .as_secs()
            .max(1);
        command.args(["-L", "-t", topic, "-m", &metadata_timeout.to_string()]);
        Ok(self.run(command, None)?.stdout)
    }

    /// Asks for cluster metadata (`kcat -L`) and returns kcat's listing.
    pub fn metadata(&self) -> Result<String> {
        let mut command = self.command();
        let metadata_timeout = self
            .timeout
            .saturating_sub(Duration::from_secs(2))
            .as_secs()
            .max(1);
        command.args(["-L", "-m", &metadata_timeout.to_string()]);
        Ok(self.run(command, None)?.stdout)
    }
}

/// The Java console producer and consumer against the harness broker; build with
/// [`Broker::java`].
#[derive(Debug, Clone)]
pub struct JavaClient<'a> {
    pub(crate) broker: &'a Broker,
    pub(crate) security: Security,
    pub(crate) password: Option<String>,
    pub(crate) timeout: Duration,
}

impl JavaClient<'_> {
    /// Authenticates with this password instead of the right one.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// The deadline of each run (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Produces `values` (one message each, no key) with the console producer.
    pub fn produce(&self, topic: &str, values: &[&str]) -> Result<()> {
        let properties = self.properties()?;
        let delivery_ms = self
            .timeout
            .saturating_sub(Duration::from_secs(5))
            .as_millis()
            .max(1000);
        let mut input = values.join("\n").into_bytes();
        input.push(b'\n');
        let result = self.run_tool(
            "console-producer",
            &[
                "--bootstrap-server",
                self.bootstrap(),
                self.config_flag("--producer.config"),
                &properties.path().display().to_string(),
                "--topic",
                topic,
                "--producer-property",
                &format!("delivery.timeout.ms={delivery_ms}"),
                "--producer-property",
                &format!("request.timeout.ms={}", delivery_ms.min(30_000)),
            ],
            Some(&input),
        );
        let output = result?;
        if output.stderr.contains("ERROR") {
            return Err(HarnessError::UnexpectedOutput {
                command: format!("console-producer --topic {topic}"),
                detail: output.stderr,
            });
        }
        Ok(())
    }

    /// Consumes `count` messages from the beginning of `topic` with the console consumer,
    /// returning their values.
    pub fn consume(&self, topic: &str, count: usize) -> Result<Vec<String>> {
        let properties = self.properties()?;
        let wait_ms = self
            .timeout
            .saturating_sub(Duration::from_secs(5))
            .as_millis()
            .max(1000);
        let output = self.run_tool(
            "console-consumer",
            &[
                "--bootstrap-server",
                self.bootstrap(),
                self.config_flag("--consumer.config"),
                &properties.path().display().to_string(),
                "--topic",
                topic,
                "--from-beginning",
                "--max-messages",
                &count.to_string(),
                "--timeout-ms",
                &wait_ms.to_string(),
            ],
            None,
        )?;
        let values: Vec<String> = output.stdout.lines().map(str::to_owned).collect();
        if values.len() != count {
            return Err(HarnessError::UnexpectedOutput {
                command: format!("console-consumer --topic {topic} --max-messages {count}"),
                detail: format!(
                    "{} messages instead of {count}; stderr: {}",
                    values.len(),
                    output.stderr
                ),
            });
        }
        Ok(values)
    }

    /// Lists the topics with the Java topics tool: a cheap way to see whether the client
    /// authenticates.
    pub fn list_topics(&self) -> Result<Vec<String>> {
        let properties = self.properties()?;
        let output = self.run_tool(
            "topics",
            &[
                "--bootstrap-server",
                self.bootstrap(),
                "--command-config",
                &properties.path().display().to_string(),
                "--list",
            ],
            None,
        )?;
        Ok(output.stdout.lines().map(str::to_owned).collect())
    }

    fn bootstrap(&self) -> &str {
        self.broker.bootstrap(self.security.listener())
    }

    /// The console tools' client-config flag: `--command-config` from Kafka 4.2 on (KIP-1147; the
    /// old flags still work there but print a deprecation notice on stdout, among the messages),
    /// `legacy` before.
    fn config_flag(&self, legacy: &'static str) -> &'static str {
        if self.broker.version_at_least(4, 2) {
            "--command-config"
        } else {
            legacy
        }
    }

    fn run_tool(&self, tool: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        let mut command = Command::new(&self.broker.harness);
        command.arg(tool).args(args);
        let mut secrets = self.broker.secrets();
        secrets.extend(self.password.clone());
        run(command, stdin, self.timeout, &secrets)
    }

    /// The properties file for this client: the harness' own, or a temporary copy with the
    /// password replaced.
    fn properties(&self) -> Result<PropertiesFile> {
        let base = self.broker.java_properties(self.security);
        let Some(password) = &self.password else {
            return Ok(PropertiesFile::Shared(base));
        };
        let text = std::fs::read_to_string(&base).map_err(|source| HarnessError::TempFile {
            path: base.clone(),
            source,
        })?;
        let quoted = format!("password=\"{}\"", self.broker.password());
        if !text.contains(&quoted) {
            return Err(HarnessError::UnexpectedOutput {
                command: format!("read {}", base.display()),
                detail: "no SASL password to replace".to_owned(),
            });
        }
        let text = text.replace(&quoted, &format!("password=\"{password}\""));
        let path =
            std::env::temp_dir().join(format!("{}.properties", unique_topic("laminar-client")));
        std::fs::write(&path, text).map_err(|source| HarnessError::TempFile {
            path: path.clone(),
            source,
        })?;
        Ok(PropertiesFile::Temporary(path))
    }
}

enum PropertiesFile {
    Shared(PathBuf),
    Temporary(PathBuf),
}

impl PropertiesFile {
    fn path(&self) -> &Path {
        match self {
            PropertiesFile::Shared(p) | PropertiesFile::Temporary(p) => p,
        }
    }
}

impl Drop for PropertiesFile {
    fn drop(&mut self) {
        if let PropertiesFile::Temporary(path) = self {
            // Best effort: a leftover file in the temp dir holds only a wrong password.
            let _ = std::fs::remove_file(path);
        }
    }
}
