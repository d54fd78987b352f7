//! The harness: fresh topics, each client in its own measured process, repetitions, medians.
//!
//! Per repetition and codec, every producer writes the workload to a topic of its own (created
//! fresh, checked afterwards to hold exactly the records sent); then every consumer reads the
//! same topic back (the Java producer's when Java ran, so all consumers see identical batches).
//! The clients take turns in a rotating order so that a slow phase of the shared machine does
//! not always hit the same client. Topics are deleted once read.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::{ClientConfig, IsolationLevel};
use laminar_kafka_client::offsets::OffsetSpec;
use serde::Serialize;

use crate::clients::java::{self, JavaTools};
use crate::clients::{ChildReport, Client};
use crate::measure::{Finished, run_measured};
use crate::report::{self, Role, Sample};
use crate::workload::{Codec, Workload};

/// Options of the harness run.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// The broker (`bootstrap.servers`).
    #[arg(long, env = "KAFKA_BOOTSTRAP")]
    pub(crate) bootstrap: String,
    /// The directory of the Kafka jars, for the Java client.
    #[arg(long, env = "KAFKA_LIBS")]
    pub(crate) kafka_libs: Option<PathBuf>,
    /// The `java` launcher.
    #[arg(long, default_value = "java")]
    pub(crate) java: PathBuf,
    /// Runs of each client; the medians are reported.
    #[arg(long, default_value_t = 3)]
    pub(crate) repetitions: u32,
    /// Compressions to run.
    #[arg(long, value_delimiter = ',', default_value = "lz4,none")]
    pub(crate) codecs: Vec<Codec>,
    /// Clients to run (default: every client this build has).
    #[arg(long, value_delimiter = ',')]
    pub(crate) clients: Vec<Client>,
    /// Skip the consumers.
    #[arg(long)]
    pub(crate) no_consume: bool,
    /// Consumers join a fresh consumer group (subscribe) instead of assigning partitions; the
    /// Java consumer always runs as a group member.
    #[arg(long)]
    pub(crate) consume_group: bool,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "target/bench-client.json")]
    pub(crate) json: PathBuf,
    /// Time limit of one client process, in seconds.
    #[arg(long, default_value_t = 900)]
    pub(crate) process_timeout: u64,
    /// A property for our client on top of the workload's (`KEY=VALUE`, repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::parse_property)]
    pub(crate) ours_set: Vec<(String, String)>,
    /// A property for librdkafka on top of the workload's (`KEY=VALUE`, repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::parse_property)]
    pub(crate) librdkafka_set: Vec<(String, String)>,
    /// Leave the topics in place (for inspection).
    #[arg(long)]
    pub(crate) keep_topics: bool,
    /// The workload.
    #[command(flatten)]
    pub(crate) workload: Workload,
}

/// Records of the Java start-up baseline run.
const JAVA_BASELINE_RECORDS: u64 = 1000;

/// What the Java tools cost for almost no records.
#[derive(Debug, Clone, Copy, Serialize)]
struct JavaBaseline {
    records: u64,
    produce_cpu_s: f64,
    consume_cpu_s: f64,
}

/// Everything the JSON file holds.
#[derive(Debug, Serialize)]
struct Results<'a> {
    note: String,
    cores: usize,
    workload: &'a Workload,
    settings: Settings,
    /// CPU of the Java tools for a token workload (start-up, JIT), when Java ran.
    java_baseline: Option<JavaBaseline>,
    samples: &'a [Sample],
    summary: &'a [report::Summary],
    ratios: &'a [report::Ratio],
}

/// The client settings used, for the record.
#[derive(Debug, Serialize)]
struct Settings {
    producer_java_and_ours: Vec<(String, String)>,
    producer_librdkafka: Vec<(String, String)>,
    consumer_java_and_ours: Vec<(String, String)>,
    consumer_librdkafka: Vec<(String, String)>,
    ours_extra: Vec<(String, String)>,
    librdkafka_extra: Vec<(String, String)>,
    java_jvm: &'static str,
}

fn noise_note(cores: usize) -> String {
    format!(
        "{cores} cores, shared with the broker (and whatever else runs): broker and client compete \
         for the same CPUs, so run-to-run noise is large (see the min-max ranges); compare \
         medians, and CPU seconds more than throughput"
    )
}

/// Runs the benchmark and prints the table; writes the JSON file.
pub(crate) fn run(args: RunArgs) -> Result<()> {
    let clients = select_clients(&args.clients)?;
    if args.repetitions == 0 {
        bail!("--repetitions must be at least 1");
    }
    let java_tools = if clients.contains(&Client::Java) {
        let libs = args
            .kafka_libs
            .clone()
            .context("the Java client needs --kafka-libs or KAFKA_LIBS (scripts/kafka.sh env)")?;
        if !libs.is_dir() {
            bail!("KAFKA_LIBS {} is not a directory", libs.display());
        }
        Some(JavaTools {
            java: args.java.clone(),
            libs,
        })
    } else {
        None
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let note = noise_note(cores);
    let w = &args.workload;
    eprintln!(
        "client benchmark: {} records x {} B, {} partitions, acks=all, idempotent, batch.size={}, \
         linger.ms={}, buffer.memory={}; clients {:?}; codecs {:?}; {} repetitions\nnote: {note}",
        w.records,
        w.record_size,
        w.partitions,
        w.batch_size,
        w.linger_ms,
        w.buffer_memory,
        clients,
        args.codecs,
        args.repetitions
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let admin = runtime.block_on(async {
        Admin::new(ClientConfig::new(&args.bootstrap).context("bootstrap.servers")?)
            .context("admin client")
    })?;
    let harness = Harness {
        args: &args,
        java: java_tools,
        runtime: &runtime,
        admin: &admin,
        exe: std::env::current_exe().context("the path of this program")?,
        tag: format!("client-bench-{}", std::process::id()),
    };

    let java_baseline = if clients.contains(&Client::Java) {
        Some(harness.java_baseline()?)
    } else {
        None
    };
    let mut samples = Vec::new();
    for rep in 1..=args.repetitions {
        for &codec in &args.codecs {
            let order = rotated(&clients, rep);
            let mut topics = Vec::new();
            let result = harness.repetition(rep, codec, &order, &mut topics, &mut samples);
            if !args.keep_topics && !topics.is_empty() {
                let names: Vec<&str> = topics.iter().map(|(_, t)| t.as_str()).collect();
                if let Err(e) = runtime.block_on(admin.delete_topics(&names)) {
                    eprintln!("warning: deleting {names:?}: {e}");
                }
            }
            result?;
        }
    }
    runtime.block_on(admin.close());

    let summary = report::summarize(&samples);
    let ratios = report::ratios(&summary);
    println!("\n{}", report::table(&summary, &ratios));
    println!(
        "medians of {} runs; throughput by each client's own clock (first send to last ack, \
         assignment to last record; Java: its tool's summary, consumer without the group join); \
         CPU = user+sys of the whole client process, start-up included (the JVM's too)\nnote: {note}",
        args.repetitions
    );
    if let Some(b) = &java_baseline {
        println!(
            "Java start-up baseline ({} records): producer {:.2} CPU-s, consumer {:.2} CPU-s, \
             included in the Java rows above",
            b.records, b.produce_cpu_s, b.consume_cpu_s
        );
    }
    let results = Results {
        note,
        cores,
        workload: w,
        settings: Settings {
            producer_java_and_ours: w.java_producer_properties(Codec::Lz4),
            producer_librdkafka: w.librdkafka_producer_properties(Codec::Lz4),
            consumer_java_and_ours: w.java_consumer_properties(),
            consumer_librdkafka: w.librdkafka_consumer_properties(),
            ours_extra: args.ours_set.clone(),
            librdkafka_extra: args.librdkafka_set.clone(),
            java_jvm: "-Xmx512M -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
                       -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
                       -XX:MaxInlineLevel=15",
        },
        java_baseline,
        samples: &samples,
        summary: &summary,
        ratios: &ratios,
    };
    if let Some(dir) = args.json.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("writing {}", args.json.display()))?;
    println!("results: {}", args.json.display());
    Ok(())
}

/// The clients to run: those asked for, or every one this build has.
fn select_clients(asked: &[Client]) -> Result<Vec<Client>> {
    if asked.is_empty() {
        return Ok(Client::ALL.into_iter().filter(|c| c.available()).collect());
    }
    let mut out = Vec::new();
    for &c in asked {
        if !c.available() {
            bail!("{c} is not in this build: build with --features rival-librdkafka");
        }
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// `clients` starting at a different one each repetition.
fn rotated(clients: &[Client], rep: u32) -> Vec<Client> {
    let mut v = clients.to_vec();
    if !v.is_empty() {
        let n = v.len();
        v.rotate_left(rep as usize % n);
    }
    v
}

/// The topic consumers read: the Java producer's if it ran, else librdkafka's, else ours.
fn source_topic(topics: &[(Client, String)]) -> Option<&str> {
    [Client::Java, Client::Librdkafka, Client::Ours]
        .into_iter()
        .find_map(|c| topics.iter().find(|(k, _)| *k == c))
        .map(|(_, t)| t.as_str())
}

struct Harness<'a> {
    args: &'a RunArgs,
    java: Option<JavaTools>,
    runtime: &'a tokio::runtime::Runtime,
    admin: &'a Admin,
    exe: PathBuf,
    tag: String,
}

impl Harness<'_> {
    fn repetition(
        &self,
        rep: u32,
        codec: Codec,
        order: &[Client],
        topics: &mut Vec<(Client, String)>,
        samples: &mut Vec<Sample>,
    ) -> Result<()> {
        for &client in order {
            let topic = format!("{}-{rep}-{codec}-{client}", self.tag);
            self.create_topic(&topic)?;
            topics.push((client, topic.clone()));
            let sample = self.measure(
                Role::Produce,
                client,
                codec,
                rep,
                &topic,
                &self.args.workload,
            )?;
            self.check_topic(&topic, &self.args.workload)?;
            samples.push(sample);
        }
        if self.args.no_consume {
            return Ok(());
        }
        let source = source_topic(topics)
            .context("no topic to consume")?
            .to_owned();
        for &client in order {
            let sample = self.measure(
                Role::Consume,
                client,
                codec,
                rep,
                &source,
                &self.args.workload,
            )?;
            samples.push(sample);
        }
        Ok(())
    }

    fn measure(
        &self,
        role: Role,
        client: Client,
        codec: Codec,
        rep: u32,
        topic: &str,
        w: &Workload,
    ) -> Result<Sample> {
        let limit = Duration::from_secs(self.args.process_timeout);
        let what = format!("{} {codec} {client} (repetition {rep})", role.name());
        let (finished, report): (Finished, ChildReport) = match client {
            Client::Java => {
                let tools = self.java.as_ref().context("Java tools")?;
                let props = std::env::temp_dir().join(format!("{topic}-consumer.properties"));
                let mut command = match role {
                    Role::Produce => tools.producer(&self.args.bootstrap, topic, codec, w),
                    Role::Consume => tools
                        .consumer(&self.args.bootstrap, topic, topic, &props, w)
                        .with_context(|| format!("writing {}", props.display()))?,
                };
                let finished = run_measured(&mut command, limit).context(what.clone())?;
                let _ = std::fs::remove_file(&props);
                let report = match role {
                    Role::Produce => java::parse_producer(&finished.stdout, w.record_size),
                    Role::Consume => java::parse_consumer(&finished.stdout, w.record_size),
                }
                .with_context(|| format!("{what}: {}", finished.stdout))?;
                (finished, report)
            }
            Client::Ours | Client::Librdkafka => {
                let sub = match (role, client) {
                    (Role::Produce, Client::Ours) => "produce-ours",
                    (Role::Consume, Client::Ours) => "consume-ours",
                    (Role::Produce, _) => "produce-librdkafka",
                    (Role::Consume, _) => "consume-librdkafka",
                };
                let mut command = Command::new(&self.exe);
                command
                    .arg(sub)
                    .args(["--bootstrap", &self.args.bootstrap])
                    .args(["--topic", topic])
                    .args(["--codec", codec.property()])
                    .args(w.to_args());
                if role == Role::Consume && self.args.consume_group {
                    command.arg("--group");
                }
                let extra = match client {
                    Client::Ours => &self.args.ours_set,
                    _ => &self.args.librdkafka_set,
                };
                for (k, v) in extra {
                    command.arg(format!("--set={k}={v}"));
                }
                let finished = run_measured(&mut command, limit).context(what.clone())?;
                let report = ChildReport::from_output(&finished.stdout)
                    .with_context(|| format!("{what}: {}", finished.stdout))?;
                (finished, report)
            }
        };
        if report.records != w.records {
            bail!("{what}: {} records, expected {}", report.records, w.records);
        }
        let value_bytes = w.records * w.record_size as u64;
        if report.bytes != value_bytes {
            bail!(
                "{what}: {} bytes of values, expected {value_bytes}",
                report.bytes
            );
        }
        let sample = Sample {
            role,
            codec,
            client,
            repetition: rep,
            topic: topic.to_owned(),
            records: report.records,
            bytes: report.bytes,
            client_seconds: report.seconds,
            wall_seconds: finished.wall.as_secs_f64(),
            cpu_user: finished.cpu.user,
            cpu_sys: finished.cpu.sys,
        };
        eprintln!(
            "{what}: {:.0} records/s, {:.2} CPU-s ({:.2} user + {:.2} sys), {:.3} CPU-µs/record, \
             {:.2} s in the client, {:.2} s wall",
            report.records as f64 / report.seconds,
            finished.cpu.total(),
            finished.cpu.user,
            finished.cpu.sys,
            finished.cpu.total() * 1e6 / report.records.max(1) as f64,
            report.seconds,
            finished.wall.as_secs_f64()
        );
        Ok(sample)
    }

    /// CPU of the Java tools for a token workload: the JVM's start-up, class loading and JIT
    /// warm-up, which every Java run pays on top of its records.
    fn java_baseline(&self) -> Result<JavaBaseline> {
        let w = Workload {
            records: JAVA_BASELINE_RECORDS,
            ..self.args.workload.clone()
        };
        let topic = format!("{}-java-baseline", self.tag);
        self.create_topic(&topic)?;
        let result = (|| {
            let produce = self.measure(Role::Produce, Client::Java, Codec::Lz4, 0, &topic, &w)?;
            let consume = self.measure(Role::Consume, Client::Java, Codec::Lz4, 0, &topic, &w)?;
            Ok(JavaBaseline {
                records: JAVA_BASELINE_RECORDS,
                produce_cpu_s: produce.cpu_user + produce.cpu_sys,
                consume_cpu_s: consume.cpu_user + consume.cpu_sys,
            })
        })();
        if !self.args.keep_topics {
            let _ = self
                .runtime
                .block_on(self.admin.delete_topics(&[topic.as_str()]));
        }
        result
    }

    /// Creates `topic` and waits until every partition has a leader.
    fn create_topic(&self, topic: &str) -> Result<()> {
        let w = &self.args.workload;
        self.runtime.block_on(async {
            self.admin
                .create_topics(&[NewTopic::new(topic, w.partitions, 1)])
                .await
                .with_context(|| format!("creating {topic}"))?;
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(t) = self.admin.describe_topics(&[topic]).await {
                    if t.iter().all(|t| {
                        t.partitions.len() == w.partitions as usize
                            && t.partitions.iter().all(|p| p.leader >= 0)
                    }) {
                        return Ok(());
                    }
                }
                if Instant::now() > deadline {
                    bail!("{topic} has no leaders 30 s after its creation");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }

    /// Checks that `topic` holds exactly the workload's records: nothing lost, nothing doubled.
    fn check_topic(&self, topic: &str, w: &Workload) -> Result<()> {
        let wanted: Vec<_> = (0..w.partitions)
            .map(|p| ((topic.to_owned(), p), OffsetSpec::Latest))
            .collect();
        let offsets = self
            .runtime
            .block_on(
                self.admin
                    .list_offsets(&wanted, IsolationLevel::ReadUncommitted),
            )
            .with_context(|| format!("end offsets of {topic}"))?;
        let total: i64 = offsets.values().map(|o| o.offset.max(0)).sum();
        if u64::try_from(total).ok() != Some(w.records) {
            bail!("{topic} holds {total} records, expected {}", w.records);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_starts_each_repetition_with_another_client() {
        let c = [Client::Ours, Client::Librdkafka, Client::Java];
        assert_eq!(
            rotated(&c, 1),
            vec![Client::Librdkafka, Client::Java, Client::Ours]
        );
        assert_eq!(rotated(&c, 3), c.to_vec());
        assert!(rotated(&[], 2).is_empty());
    }

    #[test]
    fn consumers_read_the_java_topic_first() {
        let topics = vec![
            (Client::Ours, "a".to_owned()),
            (Client::Java, "b".to_owned()),
        ];
        assert_eq!(source_topic(&topics), Some("b"));
        assert_eq!(source_topic(&topics[..1]), Some("a"));
        assert_eq!(source_topic(&[]), None);
    }

    #[test]
    fn client_selection_defaults_to_the_build_and_rejects_what_is_missing() {
        let all = select_clients(&[]).unwrap();
        assert!(all.contains(&Client::Ours) && all.contains(&Client::Java));
        assert_eq!(
            all.contains(&Client::Librdkafka),
            cfg!(feature = "rival-librdkafka")
        );
        assert_eq!(
            select_clients(&[Client::Java, Client::Java]).unwrap(),
            vec![Client::Java]
        );
        if !cfg!(feature = "rival-librdkafka") {
            assert!(select_clients(&[Client::Librdkafka]).is_err());
        }
    }
}
