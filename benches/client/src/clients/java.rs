//! The Java client through Kafka's own `ProducerPerformance` and `ConsumerPerformance` tools,
//! started as `java` directly (no shell in between, so the measured process is the JVM), with
//! the JVM options the Kafka distribution's `kafka-*-perf-test.sh` scripts use.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ChildReport, ParseError};
use crate::workload::{Codec, Workload};

/// The producer tool's class (Kafka 3.5 and later).
pub(crate) const PRODUCER_CLASS: &str = "org.apache.kafka.tools.ProducerPerformance";
/// The consumer tool's class (Kafka 3.5 and later).
pub(crate) const CONSUMER_CLASS: &str = "org.apache.kafka.tools.ConsumerPerformance";

/// JVM options of the distribution's perf-test scripts: `KAFKA_HEAP_OPTS=-Xmx512M` and
/// `KAFKA_JVM_PERFORMANCE_OPTS` of `kafka-run-class.sh`.
const JVM_OPTS: &[&str] = &[
    "-Xmx512M",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
];

/// Where the Java client lives.
#[derive(Debug, Clone)]
pub(crate) struct JavaTools {
    /// The `java` launcher.
    pub(crate) java: PathBuf,
    /// The directory of the Kafka jars.
    pub(crate) libs: PathBuf,
}

impl JavaTools {
    fn command(&self, class: &str) -> Command {
        let mut c = Command::new(&self.java);
        c.args(JVM_OPTS);
        // The tools' log4j2 configuration the harness writes next to the jars (warnings only).
        let log_config = self
            .libs
            .parent()
            .map(|p| p.join("config/tools-log4j2.properties"));
        if let Some(path) = log_config.filter(|p| p.is_file()) {
            c.arg(format!("-Dlog4j2.configurationFile={}", path.display()));
        }
        c.arg("-cp")
            .arg(format!("{}/*", self.libs.display()))
            .arg(class);
        c
    }

    /// `ProducerPerformance` sending the workload to `topic`.
    pub(crate) fn producer(
        &self,
        bootstrap: &str,
        topic: &str,
        codec: Codec,
        workload: &Workload,
    ) -> Command {
        let mut c = self.command(PRODUCER_CLASS);
        c.args(["--topic", topic])
            .args(["--num-records", &workload.records.to_string()])
            .args(["--record-size", &workload.record_size.to_string()])
            .args(["--throughput", "-1"])
            .arg("--command-property")
            .arg(format!("bootstrap.servers={bootstrap}"));
        for (k, v) in workload.java_producer_properties(codec) {
            c.arg(format!("{k}={v}"));
        }
        c
    }

    /// `ConsumerPerformance` reading the workload from `topic` in consumer group `group`, with
    /// the fetch settings written to `properties` (a file this call creates).
    pub(crate) fn consumer(
        &self,
        bootstrap: &str,
        topic: &str,
        group: &str,
        properties: &Path,
        workload: &Workload,
    ) -> std::io::Result<Command> {
        let text: String = workload
            .java_consumer_properties()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(properties, text)?;
        let mut c = self.command(CONSUMER_CLASS);
        c.args(["--bootstrap-server", bootstrap])
            .args(["--topic", topic])
            .args(["--group", group])
            .args(["--num-records", &workload.records.to_string()])
            .arg("--command-config")
            .arg(properties)
            .args(["--timeout", "60000"]);
        Ok(c)
    }
}

/// The summary line of `ProducerPerformance`:
/// `N records sent, R records/sec (M MB/sec), … ms avg latency, …`.
pub(crate) fn parse_producer(stdout: &str, record_size: usize) -> Result<ChildReport, ParseError> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" records sent, ") && l.contains(" records/sec"))
        .ok_or(ParseError::Missing("ProducerPerformance summary"))?;
    let malformed = |reason: &str| ParseError::Malformed {
        what: "ProducerPerformance summary",
        line: line.to_owned(),
        reason: reason.to_owned(),
    };
    let records: u64 = line
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| malformed("no record count"))?;
    let rate: f64 = line
        .split(", ")
        .nth(1)
        .and_then(|part| part.split(' ').next())
        .and_then(|n| n.parse().ok())
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or_else(|| malformed("no positive records/sec"))?;
    Ok(ChildReport {
        records,
        bytes: records * record_size as u64,
        seconds: records as f64 / rate,
    })
}

/// The CSV summary of `ConsumerPerformance` (a header line starting `start.time`, then the
/// values). The time is `fetch.time.ms`: the consuming time without the group join, which the
/// other consumers (assigned, not subscribed) do not have.
pub(crate) fn parse_consumer(stdout: &str, record_size: usize) -> Result<ChildReport, ParseError> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("start.time"));
    let header = lines
        .next()
        .ok_or(ParseError::Missing("ConsumerPerformance header"))?;
    let values = lines
        .find(|l| !l.trim().is_empty())
        .ok_or(ParseError::Missing("ConsumerPerformance values"))?;
    let malformed = |reason: String| ParseError::Malformed {
        what: "ConsumerPerformance summary",
        line: values.to_owned(),
        reason,
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let fields: Vec<&str> = values.split(',').map(str::trim).collect();
    if names.len() != fields.len() {
        return Err(malformed(format!(
            "{} values for {} columns",
            fields.len(),
            names.len()
        )));
    }
    let field = |name: &str| -> Result<f64, ParseError> {
        let i = names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| malformed(format!("no column {name}")))?;
        fields[i]
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| malformed(format!("{name} is `{}`", fields[i])))
    };
    let records = field("data.consumed.in.nMsg")? as u64;
    let millis = field("fetch.time.ms")?;
    if millis <= 0.0 {
        return Err(malformed("fetch.time.ms is 0".to_owned()));
    }
    Ok(ChildReport {
        records,
        bytes: records * record_size as u64,
        seconds: millis / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Output of Kafka 4.3.1's tools, as printed.
    const PRODUCER_OUT: &str = "\
200000 records sent, 129617.627997 records/sec (12.36 MB/sec), 25.91 ms avg latency, 603.00 ms max latency, 11 ms 50th, 110 ms 95th, 175 ms 99th, 190 ms 99.9th.
";
    const CONSUMER_OUT: &str = "\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-24 12:55:27:772, 2026-11-24 12:55:29:213, 19.0735, 13.2363, 200000, 138792.5052, 533, 908, 21.0060, 220264.3172
";

    #[test]
    fn producer_summary_gives_records_and_time() {
        let r = parse_producer(
            &format!("12 records sent, 2.4 records/sec\n{PRODUCER_OUT}"),
            100,
        )
        .unwrap();
        assert_eq!(r.records, 200_000);
        assert_eq!(r.bytes, 20_000_000);
        assert!((r.records as f64 / r.seconds - 129_617.627_997).abs() < 1e-3);
    }

    #[test]
    fn consumer_summary_uses_fetch_time() {
        let r = parse_consumer(&format!("WARN something\n{CONSUMER_OUT}"), 100).unwrap();
        assert_eq!(r.records, 200_000);
        assert!((r.seconds - 0.908).abs() < 1e-9);
    }

    #[test]
    fn broken_summaries_are_errors() {
        assert_eq!(
            parse_producer("nothing here", 100),
            Err(ParseError::Missing("ProducerPerformance summary"))
        );
        assert!(matches!(
            parse_producer("x records sent, 1 records/sec", 100),
            Err(ParseError::Malformed { .. })
        ));
        assert!(matches!(
            parse_producer("5 records sent, 0.0 records/sec", 100),
            Err(ParseError::Malformed { .. })
        ));
        assert_eq!(
            parse_consumer("", 100),
            Err(ParseError::Missing("ConsumerPerformance header"))
        );
        let header = CONSUMER_OUT.lines().next().unwrap();
        assert_eq!(
            parse_consumer(header, 100),
            Err(ParseError::Missing("ConsumerPerformance values"))
        );
        assert!(matches!(
            parse_consumer(&format!("{header}\n1, 2, 3\n"), 100),
            Err(ParseError::Malformed { .. })
        ));
        let zero = CONSUMER_OUT.replace(", 908,", ", 0,");
        assert!(matches!(
            parse_consumer(&zero, 100),
            Err(ParseError::Malformed { .. })
        ));
    }

    #[test]
    fn commands_carry_the_workload_settings() {
        let tools = JavaTools {
            java: "java".into(),
            libs: "/nonexistent/libs".into(),
        };
        let w = Workload {
            records: 5,
            record_size: 10,
            partitions: 6,
            batch_size: 4096,
            linger_ms: 7,
            buffer_memory: 1 << 20,
        };
        let c = tools.producer("127.0.0.1:1", "t", Codec::Lz4, &w);
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for want in [
            PRODUCER_CLASS,
            "bootstrap.servers=127.0.0.1:1",
            "compression.type=lz4",
            "batch.size=4096",
            "linger.ms=7",
            "acks=all",
            "/nonexistent/libs/*",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} in {args:?}");
        }
        let dir = std::env::temp_dir().join(format!("client-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let props = dir.join("consumer.properties");
        let c = tools.consumer("127.0.0.1:1", "t", "g", &props, &w).unwrap();
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.iter().any(|a| a == CONSUMER_CLASS));
        let written = std::fs::read_to_string(&props).unwrap();
        assert!(written.contains("max.poll.records=500\n"), "{written}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
