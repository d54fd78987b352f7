//! `in-flight`: our idempotent producer on one partition with 5 batches in flight against 1,
//! in the same run, on fresh one-partition topics.
//!
//! Both cases run in this process, alternating (1, 5, 5, 1, …) so that a drift of the machine
//! weighs on both; each reports records per second and the CPU time of this process per
//! record (`getrusage(RUSAGE_SELF)` across the produce). The medians and the ratio of
//! throughput (5 over 1) are printed.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::ClientConfig;
use nix::sys::resource::{UsageWho, getrusage};

use crate::clients::ours;
use crate::workload::{Codec, Workload};

/// What `in-flight` runs.
#[derive(Debug, Clone, Args)]
pub(crate) struct InFlightArgs {
    /// The broker.
    #[arg(long, env = "KAFKA_BOOTSTRAP")]
    bootstrap: String,
    /// Records per produce.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Bytes of each record's value.
    #[arg(long, default_value_t = 100)]
    record_size: usize,
    /// `batch.size` (the Java client's default).
    #[arg(long, default_value_t = 16_384)]
    batch_size: usize,
    /// `linger.ms` (the Java client's default since 4.0).
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// The codec.
    #[arg(long, default_value = "lz4")]
    codec: Codec,
    /// Produces per case.
    #[arg(long, default_value_t = 3)]
    repetitions: usize,
}

fn cpu_seconds() -> Result<f64> {
    let u = getrusage(UsageWho::RUSAGE_SELF).context("getrusage")?;
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    Ok(t(u.user_time()) + t(u.system_time()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Runs the comparison and prints it.
pub(crate) async fn run(args: InFlightArgs) -> Result<()> {
    let workload = Workload {
        records: args.records,
        record_size: args.record_size,
        partitions: 1,
        batch_size: args.batch_size,
        linger_ms: args.linger_ms,
        buffer_memory: 32 * 1024 * 1024,
    };
    let admin = Admin::new(
        ClientConfig::from_properties([("bootstrap.servers", args.bootstrap.as_str())])
            .context("admin configuration")?,
    )?;
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut cpu: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for rep in 0..args.repetitions {
        let order: [usize; 2] = if rep % 2 == 0 { [1, 5] } else { [5, 1] };
        for in_flight in order {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let topic = format!("bench-in-flight-{in_flight}-{rep}-{nanos}");
            admin
                .create_topics(&[NewTopic::new(&topic, 1, 1)])
                .await
                .context("create topic")?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let extra = vec![(
                "max.in.flight.requests.per.connection".to_owned(),
                in_flight.to_string(),
            )];
            let cpu_before = cpu_seconds()?;
            let report =
                ours::produce(&args.bootstrap, &topic, args.codec, &workload, &extra).await?;
            let cpu_used = cpu_seconds()? - cpu_before;
            let rate = report.records as f64 / report.seconds;
            let slot = usize::from(in_flight == 5);
            rates[slot].push(rate);
            cpu[slot].push(cpu_used * 1e6 / report.records.max(1) as f64);
            println!(
                "in flight {in_flight}: {:>10.0} records/s, {:.3} µs CPU per record ({:.2} s)",
                rate,
                cpu_used * 1e6 / report.records.max(1) as f64,
                report.seconds
            );
            let _ = admin.delete_topics(&[topic.as_str()]).await;
        }
    }
    let [one, five] = rates.map(median);
    let [cpu_one, cpu_five] = cpu.map(median);
    println!(
        "single partition, {} records of {} bytes, batch.size {}, linger.ms {}, {}: \
         median {:.0} records/s with 1 in flight, {:.0} with 5; ratio {:.2}; \
         CPU per record {:.3} µs and {:.3} µs",
        args.records,
        args.record_size,
        args.batch_size,
        args.linger_ms,
        args.codec,
        one,
        five,
        five / one.max(1.0),
        cpu_one,
        cpu_five
    );
    Ok(())
}
