//! Command-line arguments.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use laminar_kafka_client::config::ClientConfig;

/// laminar-kafka: a pure-Rust Kafka client on the command line.
#[derive(Debug, Parser)]
#[command(name = "laminar-kafka", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Connection options shared by every command.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Bootstrap brokers, comma-separated host:port.
    #[arg(
        short = 'b',
        long,
        global = true,
        env = "KAFKA_BOOTSTRAP",
        default_value = "127.0.0.1:9092"
    )]
    pub(crate) brokers: String,

    /// Any client property, e.g. `-X linger.ms=20` (repeatable; Java or librdkafka names).
    #[arg(short = 'X', value_name = "PROPERTY=VALUE", global = true)]
    pub(crate) properties: Vec<String>,

    /// security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    #[arg(long, global = true)]
    pub(crate) security_protocol: Option<String>,

    /// sasl.mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long, global = true)]
    pub(crate) sasl_mechanism: Option<String>,

    /// sasl.username.
    #[arg(long, global = true)]
    pub(crate) sasl_username: Option<String>,

    /// sasl.password (prefer the environment variable to keep it out of `ps`).
    #[arg(
        long,
        global = true,
        env = "LAMINAR_KAFKA_SASL_PASSWORD",
        hide_env_values = true
    )]
    pub(crate) sasl_password: Option<String>,

    /// ssl.ca.location: a PEM file of trusted CAs.
    #[arg(long, global = true)]
    pub(crate) ca_file: Option<String>,
}

impl Common {
    /// The client configuration these options describe; `-X` properties are applied last.
    pub(crate) fn client_config(&self) -> Result<ClientConfig> {
        let mut config = ClientConfig::default();
        config.set("bootstrap.servers", &self.brokers)?;
        config.set("client.id", "laminar-kafka-cli")?;
        let typed = [
            ("security.protocol", &self.security_protocol),
            ("sasl.mechanism", &self.sasl_mechanism),
            ("sasl.username", &self.sasl_username),
            ("sasl.password", &self.sasl_password),
            ("ssl.ca.location", &self.ca_file),
        ];
        for (name, value) in typed {
            if let Some(v) = value {
                config.set(name, v)?;
            }
        }
        for p in &self.properties {
            let Some((k, v)) = p.split_once('=') else {
                bail!("-X expects PROPERTY=VALUE, got `{p}`");
            };
            config.set(k, v)?;
        }
        Ok(config)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Produce records: lines from stdin, or generated ones with --count.
    Produce(ProduceArgs),
    /// Consume records and print them.
    Consume(ConsumeArgs),
    /// Create, list, describe or delete topics.
    Topics(TopicsArgs),
    /// Produce records to a fresh topic, read them back, compare, and delete the topic.
    Roundtrip(RoundtripArgs),
    /// Run a SQL script: Kafka tables, then INSERT INTO sink SELECT … FROM source pipelines
    /// (until SIGINT/SIGTERM, which commit and stop), or a last SELECT whose rows are printed.
    #[cfg(feature = "runner")]
    Run(RunArgs),
    /// Serve the REST API (connection profiles, tables, pipelines) on an embedded database.
    #[cfg(feature = "server")]
    Serve(ServeArgs),
}

#[cfg(feature = "server")]
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where the database lives (created on first start).
    #[arg(long, default_value = "laminar-data")]
    pub(crate) data_dir: std::path::PathBuf,
    /// The address to listen on; without a token only a loopback address is allowed.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub(crate) listen: std::net::SocketAddr,
    /// A file holding the bearer token clients must send (or set LAMINAR_API_TOKEN).
    #[arg(long)]
    pub(crate) token_file: Option<std::path::PathBuf>,
}

/// How `run` prints the rows of a SELECT.
#[cfg(feature = "runner")]
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RowFormat {
    /// Aligned tables.
    Table,
    /// One JSON object per row.
    Json,
}

#[cfg(feature = "runner")]
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The SQL script.
    pub(crate) script: std::path::PathBuf,
    /// `NAME=VALUE` for `{{ NAME }}` placeholders (the environment otherwise);
    /// `bootstrap_servers=HOST:PORT,…` replaces every table's brokers. Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub(crate) set: Vec<String>,
    /// Stop a SELECT preview after this many rows.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// How a SELECT preview prints rows.
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: RowFormat,
    /// How often pipelines commit (transactions with their offsets, or acknowledged writes).
    #[arg(long, default_value_t = 100)]
    pub(crate) commit_interval_ms: u64,
    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<String>,
    /// Print a progress line per pipeline every second (always on when stderr is a terminal).
    #[arg(long)]
    pub(crate) progress: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ProduceArgs {
    /// The topic.
    #[arg(short, long)]
    pub(crate) topic: String,
    /// Send every record to this partition (default: by key, or sticky for unkeyed).
    #[arg(short, long)]
    pub(crate) partition: Option<i32>,
    /// Split each input line at the first SEP into key and value.
    #[arg(long, value_name = "SEP")]
    pub(crate) key_separator: Option<String>,
    /// The same key for every record.
    #[arg(short, long)]
    pub(crate) key: Option<String>,
    /// A header `name=value` for every record (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME=VALUE")]
    pub(crate) headers: Vec<String>,
    /// Generate this many records instead of reading stdin.
    #[arg(short = 'n', long)]
    pub(crate) count: Option<u64>,
    /// Size in bytes of each generated value.
    #[arg(short, long, default_value_t = 100)]
    pub(crate) size: usize,
    /// compression.type: none, gzip, snappy, lz4, zstd.
    #[arg(short = 'z', long)]
    pub(crate) compression: Option<String>,
    /// acks: 0, 1 or all.
    #[arg(long)]
    pub(crate) acks: Option<String>,
}

/// Where consumption starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum From {
    /// The log start.
    Earliest,
    /// The log end.
    Latest,
    /// An exact offset.
    Offset(i64),
}

fn parse_from(s: &str) -> Result<From, String> {
    match s {
        "earliest" | "beginning" => Ok(From::Earliest),
        "latest" | "end" => Ok(From::Latest),
        n => n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(From::Offset)
            .ok_or_else(|| format!("`{n}` is not earliest, latest or an offset")),
    }
}

/// How consumed records are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// The value only (UTF-8, lossy).
    Value,
    /// `key<TAB>value`.
    Kv,
    /// One JSON object per record with topic, partition, offset, timestamp, key, value, headers.
    Json,
    /// Print nothing per record; only the summary.
    None,
}

#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    /// The topic.
    #[arg(short, long)]
    pub(crate) topic: String,
    /// Only this partition (default: all of them).
    #[arg(short, long)]
    pub(crate) partition: Option<i32>,
    /// Where to start: earliest, latest, or an offset.
    #[arg(long, default_value = "earliest", value_parser = parse_from)]
    pub(crate) from: From,
    /// Stop after this many records.
    #[arg(short = 'n', long)]
    pub(crate) count: Option<u64>,
    /// Stop when no record arrived for this long (ms); 0 waits forever.
    #[arg(long, default_value_t = 0)]
    pub(crate) idle_timeout_ms: u64,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Value)]
    pub(crate) format: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct TopicsArgs {
    #[command(subcommand)]
    pub(crate) command: TopicsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TopicsCommand {
    /// Create a topic.
    Create {
        /// The topic.
        name: String,
        /// Number of partitions.
        #[arg(short, long, default_value_t = 1)]
        partitions: i32,
        /// Replication factor.
        #[arg(short, long, default_value_t = 1)]
        replication_factor: i16,
        /// A topic config `name=value` (repeatable).
        #[arg(short, long = "config", value_name = "NAME=VALUE")]
        configs: Vec<String>,
    },
    /// List topics.
    List,
    /// Describe topics: partitions, leaders, replicas, ISR, and configs.
    Describe {
        /// The topics.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Delete topics.
    Delete {
        /// The topics.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RoundtripArgs {
    /// Records to send.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    pub(crate) count: u64,
    /// Partitions of the fresh topic.
    #[arg(short, long, default_value_t = 3)]
    pub(crate) partitions: i32,
    /// compression.type for the producer.
    #[arg(short = 'z', long, default_value = "lz4")]
    pub(crate) compression: String,
    /// Keep the topic afterwards.
    #[arg(long)]
    pub(crate) keep_topic: bool,
}

/// Splits `name=value`.
pub(crate) fn split_pair(s: &str, what: &str) -> Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("{what} expects NAME=VALUE, got `{s}`"))?;
    Ok((k.to_owned(), v.to_owned()))
}
