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
    /// Bootstrap brokers, comma-separated host:port [env: KAFKA_BOOTSTRAP; default 127.0.0.1:9092].
    #[arg(short = 'b', long, global = true)]
    pub(crate) brokers: Option<String>,

    /// A connection profile JSON file (bootstrapServers, authentication, connectionProperties;
    /// `{{ VAR }}` placeholders filled from the environment). Flags given here win over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) profile: Option<std::path::PathBuf>,

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

    /// Show the client's events on stderr: -v info, -vv debug, -vvv trace (every request).
    /// Without it, warnings only.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Show these areas' events at debug on stderr, comma-separated (librdkafka's `debug`):
    /// connection, sasl, metadata, producer, txn, consumer, group, admin, or all.
    #[arg(
        long = "debug",
        value_name = "AREA,...",
        value_enum,
        value_delimiter = ',',
        global = true
    )]
    pub(crate) debug: Vec<crate::logging::Area>,
}

impl Common {
    /// The brokers this command talks to: `-b`, else the profile's, else `KAFKA_BOOTSTRAP`,
    /// else 127.0.0.1:9092.
    pub(crate) fn bootstrap(&self, profile: Option<&str>) -> String {
        self.brokers
            .clone()
            .or_else(|| profile.map(str::to_owned))
            .or_else(|| {
                std::env::var("KAFKA_BOOTSTRAP")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "127.0.0.1:9092".to_owned())
    }

    /// The client configuration these options describe: the profile first, then the typed
    /// flags, then `-X` properties.
    pub(crate) fn client_config(&self) -> Result<ClientConfig> {
        let mut config = ClientConfig::default();
        let profile = match &self.profile {
            Some(path) => Some(crate::profile::load(path)?),
            None => None,
        };
        let profile_brokers = profile
            .as_ref()
            .and_then(|p| p.get("bootstrap.servers").map(str::to_owned));
        config.set("client.id", "laminar-kafka-cli")?;
        if let Some(p) = &profile {
            for (k, v) in p.iter() {
                if k != "bootstrap.servers" {
                    config.set(k, v).with_context(|| {
                        format!("profile {}: property `{k}`", self.profile_name())
                    })?;
                }
            }
        }
        config.set(
            "bootstrap.servers",
            &self.bootstrap(profile_brokers.as_deref()),
        )?;
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

    fn profile_name(&self) -> String {
        self.profile
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Produce records: lines from stdin, or generated ones with --count.
    Produce(ProduceArgs),
    /// Consume records and print them.
    Consume(ConsumeArgs),
    /// Create, list, describe, alter or delete topics.
    Topics(TopicsArgs),
    /// Brokers, controller, topics, partitions, leaders, replicas and ISR (kcat -L).
    Metadata(MetadataArgs),
    /// Consumer groups: list, describe, lag, reset-offsets.
    Groups(GroupsArgs),
    /// The earliest and latest offset of each partition of a topic.
    Offsets(OffsetsArgs),
    /// Print a shell completion script: bash, zsh or fish.
    Completions(CompletionsArgs),
    /// Print the man page (roff) generated from these definitions.
    Man,
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
    /// Split each input line at the first DELIM into key and value (kcat -K).
    #[arg(
        short = 'K',
        long,
        visible_alias = "key-separator",
        value_name = "DELIM"
    )]
    pub(crate) key_delimiter: Option<String>,
    /// The same key for every record.
    #[arg(short, long)]
    pub(crate) key: Option<String>,
    /// A header `name=value` for every record (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME=VALUE")]
    pub(crate) headers: Vec<String>,
    /// Read records from this file instead of stdin (one per line, or see --whole-file).
    #[arg(long, value_name = "FILE")]
    pub(crate) file: Option<std::path::PathBuf>,
    /// The whole input (file or stdin) is one record.
    #[arg(long)]
    pub(crate) whole_file: bool,
    /// Send all records in one transaction with this transactional.id (committed at the end,
    /// aborted on any error).
    #[arg(long, value_name = "TRANSACTIONAL_ID", num_args = 0..=1, default_missing_value = "")]
    pub(crate) transactional: Option<String>,
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
    /// Print the client's statistics (brokers, partitions, totals) as one JSON line to stderr
    /// every SECONDS.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) stats: Option<f64>,
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
    /// This many records before the end.
    BeforeEnd(i64),
    /// The first record at or after this time (ms since the epoch).
    Timestamp(i64),
}

/// Parses `--from`: earliest|beginning, latest|end, OFFSET, -N, s@MS or @MS (a timestamp).
pub(crate) fn parse_from(s: &str) -> Result<From, String> {
    let bad = || {
        format!(
            "`{s}` is not earliest, latest, an offset, -N (N before the end) or s@MILLIS (a timestamp)"
        )
    };
    match s {
        "earliest" | "beginning" => Ok(From::Earliest),
        "latest" | "end" => Ok(From::Latest),
        _ => {
            if let Some(ts) = s.strip_prefix("s@").or_else(|| s.strip_prefix('@')) {
                return ts
                    .parse::<i64>()
                    .ok()
                    .filter(|t| *t >= 0)
                    .map(From::Timestamp)
                    .ok_or_else(bad);
            }
            if let Some(n) = s.strip_prefix('-') {
                return n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .map(From::BeforeEnd)
                    .ok_or_else(bad);
            }
            s.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(From::Offset)
                .ok_or_else(bad)
        }
    }
}

/// `--isolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Isolation {
    /// Every record, aborted transactions included.
    #[value(alias = "read_uncommitted")]
    ReadUncommitted,
    /// Only committed records.
    #[value(alias = "read_committed")]
    ReadCommitted,
}

#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    /// The topic (repeatable with --group).
    #[arg(short, long, required = true)]
    pub(crate) topic: Vec<String>,
    /// Only this partition (default: all of them).
    #[arg(short, long)]
    pub(crate) partition: Option<i32>,
    /// Join this consumer group: subscribe, and commit what was printed.
    #[arg(short = 'G', long, value_name = "GROUP")]
    pub(crate) group: Option<String>,
    /// Where to start: earliest, latest, OFFSET, -N (N before the end) or s@MILLIS
    /// (a timestamp). With --group: where a partition without a committed offset starts.
    #[arg(short = 'o', long, default_value = "earliest", value_parser = parse_from, allow_hyphen_values = true)]
    pub(crate) from: From,
    /// Stop after this many records.
    #[arg(short = 'c', long = "count", visible_short_alias = 'n')]
    pub(crate) count: Option<u64>,
    /// Stop at the end of every partition (kcat -e).
    #[arg(short = 'e', long = "until-end", visible_alias = "until")]
    pub(crate) until_end: bool,
    /// Stop when no record arrived for this long (ms); 0 waits forever.
    #[arg(long, default_value_t = 0)]
    pub(crate) idle_timeout_ms: u64,
    /// kcat's format string: %t topic, %p partition, %o offset, %k key, %s value, %K key
    /// length, %S value length, %T timestamp, %h headers, %%, \n \t \r \\; or one of
    /// value, kv, json, none.
    #[arg(short, long, default_value = "value")]
    pub(crate) format: String,
    /// One JSON object per record (value and key as text, or `*_base64` when not UTF-8).
    #[arg(short = 'J', long)]
    pub(crate) json: bool,
    /// Print `key DELIM value` (kcat -K).
    #[arg(short = 'K', long, value_name = "DELIM")]
    pub(crate) key_delimiter: Option<String>,
    /// isolation.level.
    #[arg(long, value_enum)]
    pub(crate) isolation: Option<Isolation>,
    /// Print the client's statistics (brokers, partitions, totals) as one JSON line to stderr
    /// every SECONDS.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) stats: Option<f64>,
}

#[derive(Debug, Args)]
pub(crate) struct MetadataArgs {
    /// Only these topics (default: all).
    #[arg(short, long)]
    pub(crate) topic: Vec<String>,
    /// JSON instead of text.
    #[arg(short = 'J', long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct OffsetsArgs {
    /// The topic.
    pub(crate) topic: String,
    /// JSON instead of text.
    #[arg(short = 'J', long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GroupsArgs {
    #[command(subcommand)]
    pub(crate) command: GroupsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GroupsCommand {
    /// List consumer groups with their state.
    List {
        /// JSON instead of text.
        #[arg(short = 'J', long)]
        json: bool,
    },
    /// State, assignor and members with their partitions.
    Describe {
        /// The group.
        group: String,
        /// JSON instead of text.
        #[arg(short = 'J', long)]
        json: bool,
    },
    /// Committed offset, log end and lag per partition (kafka-consumer-groups --describe).
    Lag {
        /// The group.
        group: String,
        /// JSON instead of text.
        #[arg(short = 'J', long)]
        json: bool,
    },
    /// Move a group's committed offsets; a dry run unless --execute (as the Java tool).
    ResetOffsets {
        /// The group (it must have no active members).
        group: String,
        /// earliest, latest, OFFSET, -N or s@MILLIS.
        #[arg(long, value_parser = parse_from, allow_hyphen_values = true)]
        to: From,
        /// Only this topic (default: every topic the group has committed offsets for).
        #[arg(short, long)]
        topic: Option<String>,
        /// Commit the new offsets (otherwise only print them).
        #[arg(long)]
        execute: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: Shell,
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
    /// Set (`--config k=v`) or reset to the default (`--delete k`) topic configs.
    Alter {
        /// The topic.
        name: String,
        /// A topic config `name=value` to set (repeatable).
        #[arg(short, long = "config", value_name = "NAME=VALUE")]
        configs: Vec<String>,
        /// A topic config to reset to its default (repeatable).
        #[arg(long = "delete-config", value_name = "NAME")]
        delete: Vec<String>,
    },
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
