//! Records → Arrow rows per second on one core, for a 10-column table, against the libraries
//! used directly on the same records in the same run:
//!
//! - `json/laminar` (our decoder) vs `json/arrow-json` (arrow-json's streaming decoder, one
//!   record at a time, flushed per batch);
//! - `avro/laminar` (plain Avro into Arrow) vs `avro/apache-avro` (`from_avro_datum` into
//!   `apache_avro::types::Value`, no Arrow at all);
//! - `raw/copy` (the `Decoder`, one copy per value) vs `raw/view` (`binary_view_of`, no copy).
//!
//! `cargo bench -p laminar-kafka-connector --bench formats`
//!
//! On a shared, loaded machine the means drift by tens of percent between runs. With
//! `FORMATS_PAIRED=1` the bench instead alternates the two sides of each comparison for 300
//! rounds and prints the fastest round of each (the least disturbed) and their ratio.

use std::hint::black_box;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use laminar_kafka_connector::config::{BadDataPolicy, Format, SinkConfig};
use laminar_kafka_connector::format::{Decoder, Encoder, RecordMetadata, avro, raw};

const ROWS: usize = 4096;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("count", DataType::Int32, true),
        Field::new("active", DataType::Boolean, true),
        Field::new(
            "ts",
            // An offset zone: arrow-json (without chrono-tz) accepts no zone names.
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
        Field::new("amount", DataType::Decimal128(12, 2), true),
        Field::new("country", DataType::Utf8, true),
        Field::new("session", DataType::Int64, true),
    ]))
}

fn batch() -> RecordBatch {
    let n = ROWS as i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..n)),
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("user-{:06}", i * 7919 % 100_000)),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| ["purchase", "view_item", "click"][i as usize % 3]),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| i as f64 * 0.37),
        )),
        Arc::new(Int32Array::from_iter_values(
            (0..n).map(|i| (i % 1000) as i32),
        )),
        Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0)))),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000 + i * 1000),
            )
            .with_timezone("+00:00"),
        ),
        Arc::new(
            Decimal128Array::from_iter_values((0..n).map(|i| i128::from(i) * 101))
                .with_precision_and_scale(12, 2)
                .unwrap(),
        ),
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| ["DE", "FR", "US", "JP"][i as usize % 4]),
        )),
        Arc::new(Int64Array::from_iter_values((0..n).map(|i| i * 31))),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

fn sink() -> SinkConfig {
    laminar_kafka_connector::config::parse_table_json(
        r#"{"topic": "t", "type": {"commit_mode": "at_least_once"}}"#,
    )
    .map(|t| match t.kind {
        laminar_kafka_connector::config::TableType::Sink(s) => s,
        _ => unreachable!("a sink"),
    })
    .unwrap()
}

fn meta(offset: i64) -> RecordMetadata<'static> {
    RecordMetadata {
        topic: "events",
        partition: 0,
        offset,
        timestamp_ms: 0,
        key: None,
        headers: &[],
    }
}

fn records(format: Format) -> Vec<Bytes> {
    let mut encoder = match format {
        Format::Avro => Encoder::avro(schema(), &sink(), None).unwrap(),
        f => Encoder::new(schema(), f, &sink()).unwrap(),
    };
    encoder
        .encode(&batch())
        .unwrap()
        .into_iter()
        .map(|r| r.value.unwrap())
        .collect()
}

fn json(c: &mut Criterion) {
    let records = records(Format::Json);
    let mut group = c.benchmark_group("json");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("laminar", |b| {
        let mut d = Decoder::new(schema(), Format::Json, BadDataPolicy::Fail).unwrap();
        b.iter(|| {
            for (i, r) in records.iter().enumerate() {
                d.decode(Some(r), &meta(i as i64)).unwrap();
            }
            black_box(d.flush().unwrap())
        })
    });
    group.bench_function("arrow-json", |b| {
        let mut d = arrow_json::ReaderBuilder::new(schema())
            .with_batch_size(ROWS)
            .build_decoder()
            .unwrap();
        b.iter(|| {
            for r in &records {
                d.decode(r).unwrap();
            }
            black_box(d.flush().unwrap().unwrap())
        })
    });
    group.finish();
}

fn avro(c: &mut Criterion) {
    let records = records(Format::Avro);
    let fields: Vec<FieldRef> = schema().fields().iter().cloned().collect();
    let writer = avro::avro_schema_for("Event", &fields).unwrap();
    let reference = apache_avro::Schema::parse_str(&writer).unwrap();
    let mut group = c.benchmark_group("avro");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("laminar", |b| {
        let mut d = Decoder::plain_avro(schema(), &writer, BadDataPolicy::Fail).unwrap();
        b.iter(|| {
            for (i, r) in records.iter().enumerate() {
                d.decode(Some(r), &meta(i as i64)).unwrap();
            }
            black_box(d.flush().unwrap())
        })
    });
    group.bench_function("apache-avro", |b| {
        b.iter(|| {
            for r in &records {
                black_box(apache_avro::from_avro_datum(&reference, &mut &r[..], None).unwrap());
            }
        })
    });
    group.finish();
}

fn raw(c: &mut Criterion) {
    // Values of 100 bytes, slices of one buffer as in a decompressed record batch.
    let mut buffer = Vec::new();
    let mut ranges = Vec::new();
    for i in 0..ROWS {
        buffer.extend_from_slice(b"key+headers");
        let start = buffer.len();
        buffer.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, 100));
        ranges.push(start..buffer.len());
    }
    let buffer = Bytes::from(buffer);
    let values: Vec<Option<Bytes>> = ranges
        .iter()
        .map(|r| Some(buffer.slice(r.clone())))
        .collect();
    let value_schema = Arc::new(Schema::new(vec![Field::new(
        "value",
        DataType::Binary,
        true,
    )]));
    let mut group = c.benchmark_group("raw");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("copy", |b| {
        let mut d =
            Decoder::new(value_schema.clone(), Format::RawBytes, BadDataPolicy::Fail).unwrap();
        b.iter(|| {
            for (i, v) in values.iter().enumerate() {
                d.decode(v.as_deref(), &meta(i as i64)).unwrap();
            }
            black_box(d.flush().unwrap())
        })
    });
    group.bench_function("view", |b| {
        b.iter(|| black_box(raw::binary_view_of(&buffer, &values).unwrap()))
    });
    group.finish();
}

/// Alternates `a` and `b` and returns the fastest round of each, in seconds.
fn paired(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let (mut best_a, mut best_b) = (f64::MAX, f64::MAX);
    for _ in 0..300 {
        let t = std::time::Instant::now();
        a();
        best_a = best_a.min(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        b();
        best_b = best_b.min(t.elapsed().as_secs_f64());
    }
    (best_a, best_b)
}

fn report(name: &str, ours: f64, theirs: f64, baseline: &str) {
    let rate = |s: f64| ROWS as f64 / s / 1e6;
    println!(
        "{name}: laminar {:.3} ms ({:.2} M rows/s), {baseline} {:.3} ms ({:.2} M rows/s), \
         laminar/{baseline} time = {:.2}",
        ours * 1e3,
        rate(ours),
        theirs * 1e3,
        rate(theirs),
        ours / theirs
    );
}

fn paired_comparisons() {
    let records = records(Format::Json);
    let mut ours = Decoder::new(schema(), Format::Json, BadDataPolicy::Fail).unwrap();
    let mut theirs = arrow_json::ReaderBuilder::new(schema())
        .with_batch_size(ROWS)
        .build_decoder()
        .unwrap();
    let (a, b) = paired(
        || {
            for (i, r) in records.iter().enumerate() {
                ours.decode(Some(r), &meta(i as i64)).unwrap();
            }
            black_box(ours.flush().unwrap());
        },
        || {
            for r in &records {
                theirs.decode(r).unwrap();
            }
            black_box(theirs.flush().unwrap().unwrap());
        },
    );
    report("json", a, b, "arrow-json");

    let records = records_avro();
    let fields: Vec<FieldRef> = schema().fields().iter().cloned().collect();
    let writer = avro::avro_schema_for("Event", &fields).unwrap();
    let reference = apache_avro::Schema::parse_str(&writer).unwrap();
    let mut ours = Decoder::plain_avro(schema(), &writer, BadDataPolicy::Fail).unwrap();
    let (a, b) = paired(
        || {
            for (i, r) in records.iter().enumerate() {
                ours.decode(Some(r), &meta(i as i64)).unwrap();
            }
            black_box(ours.flush().unwrap());
        },
        || {
            for r in &records {
                black_box(apache_avro::from_avro_datum(&reference, &mut &r[..], None).unwrap());
            }
        },
    );
    report("avro", a, b, "apache-avro");
}

fn records_avro() -> Vec<Bytes> {
    records(Format::Avro)
}

criterion_group!(benches, json, avro, raw);

fn main() {
    if std::env::var_os("FORMATS_PAIRED").is_some() {
        paired_comparisons();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
