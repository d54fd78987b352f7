//! The workload every client runs, and the settings each client gets for it.
//!
//! One place decides the properties, so that the three clients see the same batching, buffering,
//! acknowledgement and fetch settings as far as their configurations map onto each other.

use std::fmt;
use std::str::FromStr;

use clap::Args;
use serde::Serialize;

/// Compression codecs the benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Codec {
    /// `compression.type=none`.
    None,
    /// `compression.type=lz4`.
    Lz4,
}

impl Codec {
    /// The value of `compression.type` (the same name in all three clients).
    pub(crate) fn property(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Lz4 => "lz4",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.property())
    }
}

/// A codec name the benchmark does not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression `{0}` (expected none or lz4)")]
pub(crate) struct UnknownCodec(String);

impl FromStr for Codec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Codec::None),
            "lz4" => Ok(Codec::Lz4),
            other => Err(UnknownCodec(other.to_owned())),
        }
    }
}

/// What one producer or consumer process does: the shape of the data and the client settings.
#[derive(Debug, Clone, PartialEq, Eq, Args, Serialize)]
pub(crate) struct Workload {
    /// Records to produce, and to read back.
    #[arg(long, default_value_t = 2_000_000)]
    pub(crate) records: u64,
    /// Bytes of each record's value (records have no key).
    #[arg(long, default_value_t = 100)]
    pub(crate) record_size: usize,
    /// Partitions of each fresh topic.
    #[arg(long, default_value_t = 6)]
    pub(crate) partitions: i32,
    /// `batch.size` for every producer.
    #[arg(long, default_value_t = 262_144)]
    pub(crate) batch_size: usize,
    /// `linger.ms` for every producer.
    #[arg(long, default_value_t = 10)]
    pub(crate) linger_ms: u64,
    /// Producer memory for queued records (`buffer.memory`; librdkafka:
    /// `queue.buffering.max.kbytes` of the same size).
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    pub(crate) buffer_memory: usize,
}

/// Produce requests in flight per connection (the Java and our default, librdkafka's limit with
/// idempotence).
const MAX_IN_FLIGHT: &str = "5";
/// `fetch.max.bytes`, the Java and librdkafka default.
const FETCH_MAX_BYTES: &str = "52428800";
/// `max.partition.fetch.bytes`, the Java and librdkafka default.
const MAX_PARTITION_FETCH_BYTES: &str = "1048576";
/// `fetch.max.wait.ms` (librdkafka: `fetch.wait.max.ms`), the Java and librdkafka default.
const FETCH_MAX_WAIT_MS: &str = "500";
/// `max.poll.records`, the Java default (librdkafka has no such setting).
const MAX_POLL_RECORDS: &str = "500";

/// Seed of the payload's letters, fixed so every run and every client sends the same bytes.
const PAYLOAD_SEED: u64 = 0x5eed_1a41_4a2f_0001;

impl Workload {
    /// The value every producer sends with every record: `record_size` pseudo-random capital
    /// letters, as the Java `ProducerPerformance` makes its payload (and reuses it for every
    /// record), so that compression sees the same data in all three clients.
    pub(crate) fn payload(&self) -> Vec<u8> {
        // xorshift64*: deterministic and dependency-free; quality is irrelevant here.
        let mut state = PAYLOAD_SEED;
        (0..self.record_size)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                b'A' + ((r >> 33) % 26) as u8
            })
            .collect()
    }

    /// Producer properties under the names the Java client and ours share.
    pub(crate) fn java_producer_properties(&self, codec: Codec) -> Vec<(String, String)> {
        props(&[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("compression.type", codec.property()),
            ("batch.size", &self.batch_size.to_string()),
            ("linger.ms", &self.linger_ms.to_string()),
            ("buffer.memory", &self.buffer_memory.to_string()),
            ("max.in.flight.requests.per.connection", MAX_IN_FLIGHT),
        ])
    }

    /// The same producer settings in librdkafka's terms.
    pub(crate) fn librdkafka_producer_properties(&self, codec: Codec) -> Vec<(String, String)> {
        props(&[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("compression.type", codec.property()),
            ("batch.size", &self.batch_size.to_string()),
            ("linger.ms", &self.linger_ms.to_string()),
            // buffer.memory: librdkafka bounds its queue by bytes and by messages; the byte
            // bound is the one that maps, so the message bound is lifted above it.
            (
                "queue.buffering.max.kbytes",
                &(self.buffer_memory / 1024).max(1).to_string(),
            ),
            ("queue.buffering.max.messages", "10000000"),
            // librdkafka's default cap of 10,000 records per batch would cut batches short of
            // batch.size for small records; the byte limit is the one the others have.
            ("batch.num.messages", "1000000"),
            ("max.in.flight.requests.per.connection", MAX_IN_FLIGHT),
        ])
    }

    /// Consumer fetch settings under the Java names (ours accepts them too).
    pub(crate) fn java_consumer_properties(&self) -> Vec<(String, String)> {
        props(&[
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("fetch.min.bytes", "1"),
            ("fetch.max.bytes", FETCH_MAX_BYTES),
            ("max.partition.fetch.bytes", MAX_PARTITION_FETCH_BYTES),
            ("fetch.max.wait.ms", FETCH_MAX_WAIT_MS),
            ("max.poll.records", MAX_POLL_RECORDS),
            ("check.crcs", "true"),
        ])
    }

    /// The same fetch settings in librdkafka's terms.
    pub(crate) fn librdkafka_consumer_properties(&self) -> Vec<(String, String)> {
        props(&[
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            ("fetch.min.bytes", "1"),
            ("fetch.max.bytes", FETCH_MAX_BYTES),
            ("max.partition.fetch.bytes", MAX_PARTITION_FETCH_BYTES),
            ("fetch.wait.max.ms", FETCH_MAX_WAIT_MS),
            ("check.crcs", "true"),
            // librdkafka stops prefetching a partition once 100,000 records wait in its queue
            // (the default) and resumes only after a back-off: reading 2M records back took
            // 5.6 s with the default and 1.4 s with this (same CPU), so a throughput-minded
            // user raises it. Memory stays bounded by queued.max.messages.kbytes (64 MiB).
            ("queued.min.messages", "1000000"),
        ])
    }

    /// The arguments that hand this workload to a child process of this binary.
    pub(crate) fn to_args(&self) -> Vec<String> {
        vec![
            "--records".into(),
            self.records.to_string(),
            "--record-size".into(),
            self.record_size.to_string(),
            "--partitions".into(),
            self.partitions.to_string(),
            "--batch-size".into(),
            self.batch_size.to_string(),
            "--linger-ms".into(),
            self.linger_ms.to_string(),
            "--buffer-memory".into(),
            self.buffer_memory.to_string(),
        ]
    }
}

fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use laminar_kafka_client::config::ClientConfig;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        workload: Workload,
    }

    fn workload() -> Workload {
        Cli::parse_from(["bench"]).workload
    }

    #[test]
    fn defaults_are_the_documented_workload() {
        let w = workload();
        assert_eq!(w.records, 2_000_000);
        assert_eq!(w.record_size, 100);
        assert_eq!(w.partitions, 6);
        assert_eq!(w.batch_size, 262_144);
        assert_eq!(w.linger_ms, 10);
    }

    #[test]
    fn child_arguments_reproduce_the_workload() {
        let w = Workload {
            records: 7,
            record_size: 33,
            partitions: 2,
            batch_size: 1000,
            linger_ms: 3,
            buffer_memory: 4096,
        };
        let mut argv = vec!["bench".to_owned()];
        argv.extend(w.to_args());
        assert_eq!(Cli::parse_from(argv).workload, w);
    }

    #[test]
    fn payload_is_capital_letters_of_the_record_size_and_stable() {
        let w = workload();
        let p = w.payload();
        assert_eq!(p.len(), 100);
        assert!(p.iter().all(u8::is_ascii_uppercase));
        assert_eq!(p, w.payload());
        // Not one repeated letter: compression must have some work to do.
        let distinct: std::collections::BTreeSet<u8> = p.iter().copied().collect();
        assert!(distinct.len() > 10, "{distinct:?}");
    }

    #[test]
    fn our_client_accepts_every_java_property() {
        let w = workload();
        for codec in [Codec::None, Codec::Lz4] {
            let config =
                ClientConfig::from_properties(w.java_producer_properties(codec)).expect("producer");
            assert_eq!(config.producer.batch_size, 262_144);
            assert_eq!(config.producer.linger, std::time::Duration::from_millis(10));
            assert!(config.producer.enable_idempotence);
        }
        let config = ClientConfig::from_properties(w.java_consumer_properties()).expect("consumer");
        assert_eq!(config.consumer.max_poll_records, 500);
        assert!(config.consumer.check_crcs);
    }

    #[test]
    fn librdkafka_gets_the_same_batching_and_memory() {
        let w = workload();
        let java: std::collections::HashMap<_, _> =
            w.java_producer_properties(Codec::Lz4).into_iter().collect();
        let rd: std::collections::HashMap<_, _> = w
            .librdkafka_producer_properties(Codec::Lz4)
            .into_iter()
            .collect();
        for key in [
            "acks",
            "enable.idempotence",
            "compression.type",
            "batch.size",
            "linger.ms",
        ] {
            assert_eq!(java[key], rd[key], "{key}");
        }
        assert_eq!(
            rd["queue.buffering.max.kbytes"].parse::<usize>().unwrap() * 1024,
            java["buffer.memory"].parse::<usize>().unwrap()
        );
    }

    #[test]
    fn codec_names_round_trip_and_unknown_names_fail() {
        for c in [Codec::None, Codec::Lz4] {
            assert_eq!(c.property().parse::<Codec>(), Ok(c));
        }
        assert_eq!(
            "zstd".parse::<Codec>().unwrap_err().to_string(),
            "unknown compression `zstd` (expected none or lz4)"
        );
    }
}
