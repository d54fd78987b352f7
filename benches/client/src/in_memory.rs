//! The floor under the consumer's CPU per record: CRC check, decompression and record decoding
//! of the benchmark's own records, in memory, with no broker and no client around them.
//!
//! `laminar-kafka-client-bench decode-in-memory` builds batches as the producer does (the
//! workload's payload, `batch.size` of uncompressed records per batch, the chosen codec), then
//! reads them back with the consumer's decoder (CRC checked, decompressed, every record's value
//! visited) in several rounds and prints the fastest round's CPU-µs per record. The consume
//! phase of `run` reports the consumer's CPU-µs per record; their ratio is what the consumer
//! costs on top of decoding.

use std::hint::black_box;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Args;
use laminar_kafka_client::protocol::record::{BatchBuilder, Compression, DecodeOptions, batches};
use nix::sys::resource::{UsageWho, getrusage};

use crate::workload::{Codec, Workload};

/// Options of `decode-in-memory`.
#[derive(Debug, Clone, Args)]
pub(crate) struct InMemoryArgs {
    /// The compression of the batches.
    #[arg(long, default_value = "lz4")]
    codec: Codec,
    /// Rounds over all records; the fastest is reported.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    #[command(flatten)]
    workload: Workload,
}

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).context("getrusage")?;
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Ok(tv(usage.user_time()) + tv(usage.system_time()))
}

/// The workload's records as producer batches of about `batch.size` uncompressed bytes.
fn build(workload: &Workload, codec: Codec) -> Result<Vec<Bytes>> {
    let compression = match codec {
        Codec::None => Compression::None,
        Codec::Lz4 => Compression::Lz4,
    };
    let value = workload.payload();
    let mut out = Vec::new();
    let mut builder = BatchBuilder::new(compression);
    let mut next_offset = 0i64;
    builder.set_base_offset(next_offset);
    for _ in 0..workload.records {
        if !builder.is_empty() && builder.uncompressed_size() + value.len() > workload.batch_size {
            next_offset += builder.len() as i64;
            out.push(builder.finish().context("batch")?);
            builder = BatchBuilder::new(compression);
            builder.set_base_offset(next_offset);
        }
        builder
            .append(0, None, Some(&value), &[])
            .context("append")?;
    }
    if !builder.is_empty() {
        out.push(builder.finish().context("batch")?);
    }
    Ok(out)
}

/// One round: every batch CRC checked, decompressed and its records' values visited; the
/// records and value bytes seen.
fn decode_all(batches_in: &[Bytes]) -> Result<(u64, u64)> {
    let options = DecodeOptions::default().with_verify_crc(true);
    let (mut records, mut bytes) = (0u64, 0u64);
    for wire in batches_in {
        for batch in batches(wire.clone(), options) {
            let batch = batch.context("batch")?;
            let recs = batch.records().context("records")?;
            for r in recs.iter() {
                let r = r.context("record")?;
                records += 1;
                bytes += r.value().map_or(0, |v| v.len() as u64);
            }
        }
    }
    Ok((records, bytes))
}

pub(crate) fn run(args: InMemoryArgs) -> Result<()> {
    let built = build(&args.workload, args.codec)?;
    let wire: usize = built.iter().map(Bytes::len).sum();
    eprintln!(
        "{} records in {} batches of {} ({} bytes on the wire)",
        args.workload.records,
        built.len(),
        args.codec,
        wire
    );
    let mut best = f64::INFINITY;
    for round in 0..args.rounds.max(1) {
        let before = cpu_time()?;
        let (records, bytes) = black_box(decode_all(black_box(&built))?);
        let cpu = cpu_time()? - before;
        anyhow::ensure!(
            records == args.workload.records,
            "decoded {records} records, built {}",
            args.workload.records
        );
        let per_record = cpu.as_secs_f64() * 1e6 / records as f64;
        eprintln!(
            "round {round}: {per_record:.4} CPU-µs/record ({bytes} value bytes, {cpu:?} CPU)"
        );
        best = best.min(per_record);
    }
    println!(
        "decode in memory ({}, {} B values, batch.size {}): {best:.4} CPU-µs/record (fastest of {} rounds)",
        args.codec, args.workload.record_size, args.workload.batch_size, args.rounds
    );
    Ok(())
}
