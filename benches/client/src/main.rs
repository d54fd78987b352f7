//! Producer and consumer benchmark of laminar-kafka-client against librdkafka and the Java
//! client, on a real broker.
//!
//! `laminar-kafka-client-bench run` (what `scripts/bench-client.sh` starts) creates fresh topics,
//! runs every client as a separate process (this program again with a `produce-*`/`consume-*`
//! subcommand, or the Java performance tools), measures each process's CPU time, repeats, and
//! prints the medians and our ratios to each rival; the same goes to a JSON file.
//!
//! librdkafka is built in only with the `rival-librdkafka` feature (the newest librdkafka, built
//! from the sources the `rdkafka` crate bundles), so the default workspace build links no C
//! Kafka client.

mod clients;
mod in_flight;
mod in_memory;
mod measure;
mod report;
mod run;
mod workload;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use clients::ChildReport;
use workload::{Codec, Workload};

/// Throughput and CPU of Kafka clients, ours against librdkafka and Java.
#[derive(Debug, Parser)]
#[command(name = "laminar-kafka-client-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run the whole benchmark (all clients, codecs, repetitions).
    Run(Box<run::RunArgs>),
    /// Our idempotent producer on one partition: 5 batches in flight against 1, same run.
    InFlight(in_flight::InFlightArgs),
    /// CRC check, decompression and decoding of the workload's records in memory: the floor
    /// under the consumer's CPU per record.
    DecodeInMemory(in_memory::InMemoryArgs),
    /// Produce the workload with our client, report on stdout (one measured process).
    ProduceOurs(ChildArgs),
    /// Consume the workload with our client, report on stdout (one measured process).
    ConsumeOurs(ChildArgs),
    /// Produce the workload with librdkafka, report on stdout (one measured process).
    #[cfg(feature = "rival-librdkafka")]
    ProduceLibrdkafka(ChildArgs),
    /// Consume the workload with librdkafka, report on stdout (one measured process).
    #[cfg(feature = "rival-librdkafka")]
    ConsumeLibrdkafka(ChildArgs),
}

/// What a client process needs to know.
#[derive(Debug, Clone, Args)]
struct ChildArgs {
    /// The broker.
    #[arg(long, env = "KAFKA_BOOTSTRAP")]
    bootstrap: String,
    /// The topic (it must exist, with `--partitions` partitions).
    #[arg(long)]
    topic: String,
    /// The producer's compression.
    #[arg(long, default_value = "lz4")]
    codec: Codec,
    /// A client property set after the workload's (`KEY=VALUE`, repeatable): for experiments.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_property)]
    extra: Vec<(String, String)>,
    #[command(flatten)]
    workload: Workload,
    /// Consumers: subscribe as a member of a fresh consumer group instead of assigning the
    /// partitions (the group's join and assignment are part of the measured time).
    #[arg(long)]
    group: bool,
}

/// `KEY=VALUE` as a property pair.
pub(crate) fn parse_property(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    // What an application would use: the multi-threaded runtime, one worker per core.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")
}

fn child(run: impl FnOnce() -> Result<ChildReport>) -> Result<()> {
    let report = run()?;
    println!("{}", report.to_line());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // LAMINAR_BENCH_TRACING=info (or error, warn, debug, trace): this process and its children
    // run with a `tracing` subscriber at that level that formats every event it takes and writes
    // it nowhere, to measure what the client's events cost against a run without one.
    if let Ok(level) = std::env::var("LAMINAR_BENCH_TRACING") {
        match level.parse::<tracing_subscriber::filter::LevelFilter>() {
            Ok(level) => tracing_subscriber::fmt()
                .with_max_level(level)
                .with_writer(std::io::sink)
                .init(),
            Err(_) => {
                eprintln!(
                    "LAMINAR_BENCH_TRACING: `{level}` is not a level (error, warn, info, debug, trace)"
                );
                return ExitCode::from(2);
            }
        }
    }
    let result = match cli.command {
        Commands::Run(args) => run::run(*args),
        Commands::InFlight(a) => tokio_runtime().and_then(|rt| rt.block_on(in_flight::run(a))),
        Commands::DecodeInMemory(a) => in_memory::run(a),
        Commands::ProduceOurs(a) => child(|| {
            tokio_runtime()?.block_on(clients::ours::produce(
                &a.bootstrap,
                &a.topic,
                a.codec,
                &a.workload,
                &a.extra,
            ))
        }),
        Commands::ConsumeOurs(a) => child(|| {
            tokio_runtime()?.block_on(clients::ours::consume(
                &a.bootstrap,
                &a.topic,
                &a.workload,
                &a.extra,
                a.group,
            ))
        }),
        #[cfg(feature = "rival-librdkafka")]
        Commands::ProduceLibrdkafka(a) => child(|| {
            clients::librdkafka::produce(&a.bootstrap, &a.topic, a.codec, &a.workload, &a.extra)
        }),
        #[cfg(feature = "rival-librdkafka")]
        Commands::ConsumeLibrdkafka(a) => child(|| {
            clients::librdkafka::consume(&a.bootstrap, &a.topic, &a.workload, &a.extra, a.group)
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_parse_and_bad_ones_are_refused() {
        assert_eq!(
            parse_property("check.crcs=false"),
            Ok(("check.crcs".to_owned(), "false".to_owned()))
        );
        assert_eq!(
            parse_property("a=b=c"),
            Ok(("a".to_owned(), "b=c".to_owned()))
        );
        assert!(parse_property("novalue").is_err());
        assert!(parse_property("=x").is_err());
    }
}
