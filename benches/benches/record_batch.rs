//! Record-batch decode and encode: laminar-kafka's codec against the `kafka-protocol` crate's, on
//! the same bytes in the same run, with bare CRC-32C and bare decompression as reference points.
//!
//! Workload: one batch of 10,000 records, 10-byte keys, 100-byte JSON-like values
//! ([`laminar_kafka_benches::event_records`]), uncompressed, LZ4 and zstd.
//!
//! - "decode": ours verifies the CRC and visits every record's key and value (summing their
//!   lengths through `black_box`); kafka-protocol's `RecordBatchDecoder` verifies the CRC and
//!   materialises every record (its only mode), and we sum the same lengths.
//! - "encode": ours appends the 10,000 records to a reused builder and takes the batch as a new
//!   `Bytes`; kafka-protocol encodes the same records from its `Record` structs into a reused
//!   buffer.
//! - kafka-protocol's compression features are off in our build, so its compressed decode and
//!   encode go through its `decode_with_custom_compression`/`encode_with_custom_compression`
//!   hooks. "kafka-protocol" uses lz4_flex (frame format, 64 KiB independent blocks, fast mode,
//!   like ours) and zstd level 3: the same codecs as ours, so the difference is the codec around
//!   them. kafka-protocol's built-in LZ4 codec instead uses the C `lz4` crate at level 4, which
//!   is LZ4's high-compression (HC) mode: "kafka-protocol-builtin-lz4-hc" plugs exactly that
//!   configuration (C lz4, level 4, independent blocks) into the same hooks, which is what a
//!   kafka-protocol user with default features gets. lz4_flex has no HC mode, so our encoder is
//!   always fast mode (the Java client's default level 9 is HC too; LZ4 frames decode the same
//!   either way).
//! - references: `crc32c` over the batch's CRC-covered range; lz4_flex's frame decoder and zstd's
//!   one-shot decompression of the batch's compressed payload into a buffer.
//!
//! On a machine shared with other work, criterion's groups run one after the other under whatever
//! load there is at the time, so their ratios drift. With `RECORD_BATCH_INTERLEAVED=N` set, the
//! decode comparisons first run interleaved, N rounds of each in turn, and the fastest time of
//! each is printed with the ratios (the load then hits every contender alike):
//! `RECORD_BATCH_INTERLEAVED=200 cargo bench -p laminar-kafka-benches --bench record_batch -- decode/`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use laminar_kafka_benches::{BenchRecord, event_records};
use laminar_kafka_protocol::messages::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};
use laminar_kafka_protocol::record::{BatchBuilder, Compression, DecodeOptions, batches};

const RECORDS: usize = 10_000;
/// Size of a batch header; the compressed payload follows it.
const HEADER: usize = 61;

fn build(codec: Compression, records: &[BenchRecord]) -> Bytes {
    let mut b = BatchBuilder::new(codec);
    for r in records {
        b.append(r.timestamp, Some(&r.key), Some(&r.value), &[])
            .expect("append");
    }
    b.finish().expect("finish")
}

fn kp_records(records: &[BenchRecord]) -> Vec<KpRecord> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| KpRecord {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: KpTimestampType::Creation,
            offset: i as i64,
            // kafka-protocol starts a new batch whenever offset - sequence changes, so a
            // constant -1 would make 10,000 one-record batches.
            sequence: i as i32,
            timestamp: r.timestamp,
            key: Some(Bytes::copy_from_slice(&r.key)),
            value: Some(Bytes::copy_from_slice(&r.value)),
            headers: Default::default(),
        })
        .collect()
}

fn kp_decompress(buf: &mut Bytes, codec: KpCompression) -> anyhow::Result<Bytes> {
    let mut out = Vec::with_capacity(buf.len() * 4);
    match codec {
        KpCompression::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(&buf[..]).read_to_end(&mut out)?;
        }
        KpCompression::Zstd => {
            zstd::stream::read::Decoder::new(&buf[..])?.read_to_end(&mut out)?;
        }
        other => anyhow::bail!("{other:?} not used in this benchmark"),
    }
    Ok(out.into())
}

fn kp_compress(
    input: &mut BytesMut,
    out: &mut BytesMut,
    codec: KpCompression,
) -> anyhow::Result<()> {
    match codec {
        KpCompression::Lz4 => {
            let mut info = lz4_flex::frame::FrameInfo::new();
            info.block_size = lz4_flex::frame::BlockSize::Max64KB;
            info.block_mode = lz4_flex::frame::BlockMode::Independent;
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(input)?;
            out.extend_from_slice(&enc.finish()?);
        }
        KpCompression::Zstd => {
            out.extend_from_slice(&zstd::bulk::compress(input, 3)?);
        }
        other => anyhow::bail!("{other:?} not used in this benchmark"),
    }
    Ok(())
}

/// kafka-protocol's built-in LZ4 codec (`src/compression/lz4.rs`): C lz4, level 4 (HC).
fn kp_compress_builtin_hc(
    input: &mut BytesMut,
    out: &mut BytesMut,
    _codec: KpCompression,
) -> anyhow::Result<()> {
    let mut enc = lz4::EncoderBuilder::new()
        .level(4)
        .block_mode(lz4::BlockMode::Independent)
        .build(Vec::new())?;
    enc.write_all(input)?;
    let (buf, result) = enc.finish();
    result?;
    out.extend_from_slice(&buf);
    Ok(())
}

/// kafka-protocol's built-in LZ4 decoder: the C lz4 frame decoder.
fn kp_decompress_builtin(buf: &mut Bytes, _codec: KpCompression) -> anyhow::Result<Bytes> {
    let mut out = Vec::with_capacity(buf.len() * 4);
    lz4::Decoder::new(&buf[..])?.read_to_end(&mut out)?;
    Ok(out.into())
}

fn kp_codec(codec: Compression) -> KpCompression {
    match codec {
        Compression::None => KpCompression::None,
        Compression::Lz4 => KpCompression::Lz4,
        Compression::Zstd => KpCompression::Zstd,
        other => unreachable!("{other} not benchmarked"),
    }
}

fn ours_decode(bytes: &Bytes) -> usize {
    ours_decode_with(bytes, DecodeOptions::default())
}

fn ours_decode_with(bytes: &Bytes, options: DecodeOptions) -> usize {
    let mut total = 0usize;
    for batch in batches(bytes.clone(), options) {
        let batch = batch.expect("valid batch");
        let records = batch.records().expect("records");
        for r in records.iter() {
            let r = r.expect("valid record");
            total += black_box(r.key()).map_or(0, <[u8]>::len);
            total += black_box(r.value()).map_or(0, <[u8]>::len);
        }
    }
    total
}

fn kp_decode(bytes: &Bytes, codec: Compression) -> usize {
    let mut buf = bytes.clone();
    let set = if codec == Compression::None {
        RecordBatchDecoder::decode(&mut buf).expect("kp decode")
    } else {
        RecordBatchDecoder::decode_with_custom_compression(&mut buf, Some(kp_decompress))
            .expect("kp decode")
    };
    set.records
        .iter()
        .map(|r| {
            black_box(&r.key).as_ref().map_or(0, |k| k.len())
                + black_box(&r.value).as_ref().map_or(0, |v| v.len())
        })
        .sum()
}

/// The bare decompression of `payload` into `out` (the reference for compressed decoding).
fn bare_decompress(
    codec: Compression,
    payload: &[u8],
    out: &mut Vec<u8>,
    zstd: &mut zstd::bulk::Decompressor<'_>,
) -> usize {
    out.clear();
    match codec {
        Compression::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(payload)
                .read_to_end(out)
                .expect("lz4");
        }
        Compression::Zstd => {
            zstd.decompress_to_buffer(payload, out).expect("zstd");
        }
        _ => {}
    }
    out.len()
}

/// The interleaved comparison: the fastest of `rounds` runs of each contender, taken in turn.
fn interleaved(codec: Compression, bytes: &Bytes, uncompressed: usize, rounds: usize) {
    let payload = bytes.slice(HEADER..);
    let mut out = Vec::with_capacity(uncompressed);
    let mut zstd = zstd::bulk::Decompressor::new().expect("zstd");
    let no_crc = DecodeOptions::default().with_verify_crc(false);
    let names = [
        "laminar",
        "laminar-without-crc",
        "kafka-protocol",
        "bare-crc32c",
        "bare-decompress",
    ];
    let mut best = [f64::MAX; 5];
    for _ in 0..rounds {
        for (i, slot) in best.iter_mut().enumerate() {
            let start = Instant::now();
            match i {
                0 => black_box(ours_decode(black_box(bytes))),
                1 => black_box(ours_decode_with(black_box(bytes), no_crc)),
                2 => black_box(kp_decode(black_box(bytes), codec)),
                3 => black_box(crc32c::crc32c(black_box(&bytes[21..]))) as usize,
                _ => black_box(bare_decompress(codec, &payload, &mut out, &mut zstd)),
            };
            *slot = slot.min(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    let shown = if codec == Compression::None { 4 } else { 5 };
    let figures: Vec<String> = names[..shown]
        .iter()
        .zip(&best)
        .map(|(n, t)| format!("{n} {t:.1} us"))
        .collect();
    eprintln!("interleaved decode/{codec}: {}", figures.join(", "));
    if codec == Compression::None {
        eprintln!(
            "  kafka-protocol / laminar: {:.2}x; record walk without CRC: {:.2} ns per record",
            best[2] / best[0],
            best[1] * 1000.0 / RECORDS as f64
        );
    } else {
        eprintln!(
            "  laminar / bare decompression: {:.3}x; kafka-protocol / laminar: {:.2}x",
            best[0] / best[4],
            best[2] / best[0]
        );
    }
}

fn bench(c: &mut Criterion) {
    let interleaved_rounds: Option<usize> = std::env::var("RECORD_BATCH_INTERLEAVED")
        .ok()
        .and_then(|v| v.parse().ok());
    let records = event_records(RECORDS);
    let kp = kp_records(&records);
    let expected_total: usize = records.iter().map(|r| r.key.len() + r.value.len()).sum();

    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let bytes = build(codec, &records);
        let uncompressed = build(Compression::None, &records).len();
        eprintln!(
            "{codec}: batch {} bytes ({:.2}x of {uncompressed} uncompressed)",
            bytes.len(),
            uncompressed as f64 / bytes.len() as f64
        );
        assert_eq!(ours_decode(&bytes), expected_total);
        assert_eq!(kp_decode(&bytes, codec), expected_total);
        // kafka-protocol's encoder writes the same records as one batch too.
        let mut kp_bytes = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut kp_bytes,
            &kp,
            &RecordEncodeOptions {
                version: 2,
                compression: KpCompression::None,
            },
        )
        .expect("kp encode");
        assert_eq!(
            batches(kp_bytes.freeze(), DecodeOptions::default()).count(),
            1
        );

        if let Some(rounds) = interleaved_rounds {
            interleaved(codec, &bytes, uncompressed, rounds);
        }

        let mut g = c.benchmark_group(format!("decode/{codec}"));
        g.throughput(Throughput::Elements(RECORDS as u64));
        g.bench_function("laminar", |b| b.iter(|| ours_decode(black_box(&bytes))));
        g.bench_function("laminar-without-crc", |b| {
            let options = DecodeOptions::default().with_verify_crc(false);
            b.iter(|| ours_decode_with(black_box(&bytes), options))
        });
        g.bench_function("kafka-protocol", |b| {
            b.iter(|| kp_decode(black_box(&bytes), codec))
        });
        if codec == Compression::Lz4 {
            g.bench_function("kafka-protocol-builtin-lz4", |b| {
                b.iter(|| {
                    let mut buf = black_box(&bytes).clone();
                    let set = RecordBatchDecoder::decode_with_custom_compression(
                        &mut buf,
                        Some(kp_decompress_builtin),
                    )
                    .expect("kp decode");
                    set.records
                        .iter()
                        .map(|r| {
                            black_box(&r.key).as_ref().map_or(0, |k| k.len())
                                + black_box(&r.value).as_ref().map_or(0, |v| v.len())
                        })
                        .sum::<usize>()
                })
            });
        }
        g.bench_function("bare-crc32c", |b| {
            b.iter(|| crc32c::crc32c(black_box(&bytes[21..])))
        });
        let payload = bytes.slice(HEADER..);
        match codec {
            Compression::Lz4 => {
                g.bench_function("bare-lz4_flex-decompress", |b| {
                    let mut out = Vec::with_capacity(uncompressed);
                    b.iter(|| {
                        out.clear();
                        lz4_flex::frame::FrameDecoder::new(black_box(&payload[..]))
                            .read_to_end(&mut out)
                            .expect("lz4");
                        out.len()
                    })
                });
            }
            Compression::Zstd => {
                g.bench_function("bare-zstd-decompress", |b| {
                    let mut d = zstd::bulk::Decompressor::new().expect("zstd");
                    let mut out = Vec::with_capacity(uncompressed);
                    b.iter(|| {
                        out.clear();
                        d.decompress_to_buffer(black_box(&payload[..]), &mut out)
                            .expect("zstd")
                    })
                });
            }
            _ => {}
        }
        g.finish();

        let mut g = c.benchmark_group(format!("encode/{codec}"));
        g.throughput(Throughput::Elements(RECORDS as u64));
        // Ours hands out each batch as its own `Bytes` (a producer keeps it until acknowledged);
        // the builder itself is reused.
        g.bench_function("laminar", |b| {
            let mut builder = BatchBuilder::new(codec);
            b.iter(|| {
                for r in &records {
                    builder
                        .append(r.timestamp, Some(&r.key), Some(&r.value), &[])
                        .expect("append");
                }
                builder.finish().expect("finish")
            })
        });
        g.bench_function("kafka-protocol", |b| {
            let options = RecordEncodeOptions {
                version: 2,
                compression: kp_codec(codec),
            };
            let mut out = BytesMut::with_capacity(bytes.len() * 2);
            b.iter(|| {
                out.clear();
                if codec == Compression::None {
                    RecordBatchEncoder::encode(&mut out, &kp, &options).expect("kp encode");
                } else {
                    RecordBatchEncoder::encode_with_custom_compression(
                        &mut out,
                        &kp,
                        &options,
                        Some(kp_compress),
                    )
                    .expect("kp encode");
                }
                out.len()
            })
        });
        if codec == Compression::Lz4 {
            g.bench_function("kafka-protocol-builtin-lz4-hc", |b| {
                let options = RecordEncodeOptions {
                    version: 2,
                    compression: KpCompression::Lz4,
                };
                let mut out = BytesMut::with_capacity(bytes.len() * 2);
                b.iter(|| {
                    out.clear();
                    RecordBatchEncoder::encode_with_custom_compression(
                        &mut out,
                        &kp,
                        &options,
                        Some(kp_compress_builtin_hc),
                    )
                    .expect("kp encode");
                    out.len()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
