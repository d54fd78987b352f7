//! Measurements, their medians, our ratios to each rival, and how they are shown.
//!
//! Throughput is records (and MiB of record values) per second of the client's own measured
//! time; CPU is user + system seconds of the whole client process (start-up included, for the
//! JVM too), and CPU µs per record is that divided by the records.

use std::fmt::Write as _;

use serde::Serialize;

use crate::clients::Client;
use crate::measure::median;
use crate::workload::Codec;

/// Producing or consuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Producing the workload.
    Produce,
    /// Reading it back.
    Consume,
}

impl Role {
    /// Its name in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Produce => "produce",
            Role::Consume => "consume",
        }
    }
}

/// One measured run of one client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Sample {
    /// What the client did.
    pub(crate) role: Role,
    /// The producer's compression (for consumers: of the topic read).
    pub(crate) codec: Codec,
    /// Which client.
    pub(crate) client: Client,
    /// Which repetition (from 1).
    pub(crate) repetition: u32,
    /// The topic.
    pub(crate) topic: String,
    /// Records produced and acknowledged, or consumed.
    pub(crate) records: u64,
    /// Bytes of record values.
    pub(crate) bytes: u64,
    /// The client's own time for the work (see [`crate::clients::ChildReport`]).
    pub(crate) client_seconds: f64,
    /// The process's wall time, start-up included.
    pub(crate) wall_seconds: f64,
    /// User CPU seconds of the process.
    pub(crate) cpu_user: f64,
    /// System CPU seconds of the process.
    pub(crate) cpu_sys: f64,
}

impl Sample {
    fn records_per_s(&self) -> f64 {
        self.records as f64 / self.client_seconds
    }

    fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.client_seconds
    }

    fn cpu_s(&self) -> f64 {
        self.cpu_user + self.cpu_sys
    }

    fn cpu_us_per_record(&self) -> f64 {
        self.cpu_s() * 1e6 / self.records.max(1) as f64
    }
}

/// The medians of one client's runs of one role and codec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Summary {
    /// What the client did.
    pub(crate) role: Role,
    /// The compression.
    pub(crate) codec: Codec,
    /// Which client.
    pub(crate) client: Client,
    /// How many runs the medians are of.
    pub(crate) runs: usize,
    /// Median records per second.
    pub(crate) records_per_s: f64,
    /// Slowest and fastest run, records per second.
    pub(crate) records_per_s_range: (f64, f64),
    /// Median MiB of values per second.
    pub(crate) mib_per_s: f64,
    /// Median CPU seconds (user + system).
    pub(crate) cpu_s: f64,
    /// Least and most CPU seconds of a run.
    pub(crate) cpu_s_range: (f64, f64),
    /// Median user CPU seconds.
    pub(crate) cpu_user_s: f64,
    /// Median system CPU seconds.
    pub(crate) cpu_sys_s: f64,
    /// Median CPU microseconds per record.
    pub(crate) cpu_us_per_record: f64,
    /// Median wall seconds of the process.
    pub(crate) wall_s: f64,
}

/// Our numbers relative to one rival's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Ratio {
    /// What was done.
    pub(crate) role: Role,
    /// The compression.
    pub(crate) codec: Codec,
    /// The rival.
    pub(crate) rival: Client,
    /// Our median records/s over the rival's (above 1: we are faster).
    pub(crate) throughput: f64,
    /// Our median CPU per record over the rival's (below 1: we use less).
    pub(crate) cpu_per_record: f64,
}

fn range(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        })
}

/// The medians per role, codec and client, in that order.
pub(crate) fn summarize(samples: &[Sample]) -> Vec<Summary> {
    let mut keys: Vec<(Role, Codec, Client)> = samples
        .iter()
        .map(|s| (s.role, s.codec, s.client))
        .collect();
    keys.sort_by_key(|(r, c, k)| (*r, *c as u8, *k));
    keys.dedup();
    keys.into_iter()
        .filter_map(|(role, codec, client)| {
            let runs: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.role == role && s.codec == codec && s.client == client)
                .collect();
            let of = |f: fn(&Sample) -> f64| runs.iter().map(|s| f(s)).collect::<Vec<f64>>();
            let rps = of(Sample::records_per_s);
            let cpu = of(Sample::cpu_s);
            Some(Summary {
                role,
                codec,
                client,
                runs: runs.len(),
                records_per_s: median(&rps)?,
                records_per_s_range: range(&rps),
                mib_per_s: median(&of(Sample::mib_per_s))?,
                cpu_s: median(&cpu)?,
                cpu_s_range: range(&cpu),
                cpu_user_s: median(&of(|s| s.cpu_user))?,
                cpu_sys_s: median(&of(|s| s.cpu_sys))?,
                cpu_us_per_record: median(&of(Sample::cpu_us_per_record))?,
                wall_s: median(&of(|s| s.wall_seconds))?,
            })
        })
        .collect()
}

/// Our ratios to every rival measured for the same role and codec.
pub(crate) fn ratios(summaries: &[Summary]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for ours in summaries.iter().filter(|s| s.client == Client::Ours) {
        for rival in summaries
            .iter()
            .filter(|s| s.client != Client::Ours && s.role == ours.role && s.codec == ours.codec)
        {
            out.push(Ratio {
                role: ours.role,
                codec: ours.codec,
                rival: rival.client,
                throughput: ours.records_per_s / rival.records_per_s,
                cpu_per_record: ours.cpu_us_per_record / rival.cpu_us_per_record,
            });
        }
    }
    out
}

/// The results as a text table, with the ratios under it.
pub(crate) fn table(summaries: &[Summary], ratios: &[Ratio]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<8} {:<5} {:<11} {:>4} {:>12} {:>21} {:>8} {:>8} {:>15} {:>8} {:>8} {:>7}",
        "role",
        "codec",
        "client",
        "runs",
        "records/s",
        "(min-max)",
        "MiB/s",
        "CPU s",
        "(min-max)",
        "user s",
        "sys s",
        "CPU µs/rec"
    );
    for s in summaries {
        let _ = writeln!(
            t,
            "{:<8} {:<5} {:<11} {:>4} {:>12.0} {:>21} {:>8.1} {:>8.2} {:>15} {:>8.2} {:>8.2} {:>10.3}",
            s.role.name(),
            s.codec.property(),
            s.client.name(),
            s.runs,
            s.records_per_s,
            format!(
                "({:.0}-{:.0})",
                s.records_per_s_range.0, s.records_per_s_range.1
            ),
            s.mib_per_s,
            s.cpu_s,
            format!("({:.2}-{:.2})", s.cpu_s_range.0, s.cpu_s_range.1),
            s.cpu_user_s,
            s.cpu_sys_s,
            s.cpu_us_per_record,
        );
    }
    if !ratios.is_empty() {
        let _ = writeln!(
            t,
            "\nours / rival: throughput (>1 = we are faster), CPU per record (<1 = we use less)"
        );
        for r in ratios {
            let _ = writeln!(
                t,
                "{:<8} {:<5} vs {:<11} throughput {:>6.2}x   CPU/record {:>6.2}x",
                r.role.name(),
                r.codec.property(),
                r.rival.name(),
                r.throughput,
                r.cpu_per_record
            );
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(client: Client, rep: u32, seconds: f64, cpu: f64) -> Sample {
        Sample {
            role: Role::Produce,
            codec: Codec::Lz4,
            client,
            repetition: rep,
            topic: "t".into(),
            records: 1_000_000,
            bytes: 100_000_000,
            client_seconds: seconds,
            wall_seconds: seconds + 0.5,
            cpu_user: cpu * 0.75,
            cpu_sys: cpu * 0.25,
        }
    }

    #[test]
    fn summaries_take_medians_and_ranges() {
        let samples = vec![
            sample(Client::Ours, 1, 1.0, 2.0),
            sample(Client::Ours, 2, 4.0, 1.0),
            sample(Client::Ours, 3, 2.0, 3.0),
        ];
        let s = summarize(&samples);
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(s.runs, 3);
        assert_eq!(s.records_per_s, 500_000.0);
        assert_eq!(s.records_per_s_range, (250_000.0, 1_000_000.0));
        assert_eq!(s.cpu_s, 2.0);
        assert_eq!(s.cpu_s_range, (1.0, 3.0));
        assert!((s.cpu_us_per_record - 2.0).abs() < 1e-12);
        assert!((s.mib_per_s - 100_000_000.0 / 1_048_576.0 / 2.0).abs() < 1e-9);
    }

    #[test]
    fn ratios_compare_ours_to_each_rival_of_the_same_role_and_codec() {
        let mut samples = vec![
            sample(Client::Ours, 1, 1.0, 1.0),
            sample(Client::Librdkafka, 1, 2.0, 2.0),
            sample(Client::Java, 1, 0.5, 4.0),
        ];
        let mut other = sample(Client::Java, 1, 10.0, 10.0);
        other.role = Role::Consume;
        samples.push(other);
        let r = ratios(&summarize(&samples));
        assert_eq!(r.len(), 2, "{r:?}");
        let rd = r.iter().find(|r| r.rival == Client::Librdkafka).unwrap();
        assert_eq!(rd.throughput, 2.0);
        assert_eq!(rd.cpu_per_record, 0.5);
        let java = r.iter().find(|r| r.rival == Client::Java).unwrap();
        assert_eq!(java.throughput, 0.5);
        assert_eq!(java.cpu_per_record, 0.25);
    }

    #[test]
    fn table_lists_every_summary_and_ratio() {
        let samples = vec![
            sample(Client::Ours, 1, 1.0, 1.0),
            sample(Client::Java, 1, 2.0, 2.0),
        ];
        let s = summarize(&samples);
        let text = table(&s, &ratios(&s));
        assert!(text.contains("produce  lz4   ours"), "{text}");
        assert!(text.contains("produce  lz4   java"), "{text}");
        assert!(text.contains("throughput   2.00x"), "{text}");
        assert!(text.contains("CPU/record   0.50x"), "{text}");
    }
}
