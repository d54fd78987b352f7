//! The source and sink operators against the broker, each beside its rival in the same run:
//!
//! - source `raw`: topic → Arrow batches (`value BYTEA`), against the bare client consumer
//!   reading the same topic (every value touched);
//! - source `json`: topic → Arrow batches of a 5-column table, against arrow-json decoding
//!   the same payloads from memory (no Kafka at all);
//! - sink: Arrow → topic, `exactly_once` with a checkpoint every second, against
//!   `at_least_once` with the same checkpoints.
//!
//! Rows per second (wall) and CPU microseconds per row (user + system of the whole process,
//! from `/proc/self/stat`), median of `ROUNDS` rounds; the ratios compare medians.
//!
//! ```sh
//! scripts/kafka.sh start && eval "$(scripts/kafka.sh env)"
//! cargo bench -p laminar-kafka-connector --bench operators          # 500,000 rows
//! OPERATORS_ROWS=2000000 cargo bench -p laminar-kafka-connector --bench operators
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_connector::sink::{KafkaSink, SinkOptions};
use laminar_kafka_connector::source::{KafkaSource, SourceEvent, SourceOptions};
use laminar_kafka_connector::sql::parse_create_table;

const PARTITIONS: i32 = 6;
const ROUNDS: usize = 3;

fn rows() -> usize {
    std::env::var("OPERATORS_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000)
}

fn bootstrap() -> String {
    if let Ok(b) = std::env::var("KAFKA_BOOTSTRAP") {
        return b;
    }
    let out =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/kafka.sh"))
            .arg("env")
            .output()
            .expect("run scripts/kafka.sh env");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("export KAFKA_BOOTSTRAP="))
        .map(|v| v.trim_matches(|c| c == '"' || c == '\'').to_owned())
        .expect("no broker: start one with `scripts/kafka.sh start`")
}

/// CPU seconds (user + system) of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[derive(Clone, Copy)]
struct Measure {
    rows_per_s: f64,
    cpu_us_per_row: f64,
}

async fn measure<F, Fut>(n: usize, mut run: F) -> Measure
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut results = Vec::new();
    for _ in 0..ROUNDS {
        let cpu = cpu_seconds();
        let start = Instant::now();
        let got = run().await;
        let wall = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        assert_eq!(got, n, "a round saw {got} rows, not {n}");
        results.push(Measure {
            rows_per_s: n as f64 / wall,
            cpu_us_per_row: cpu * 1e6 / n as f64,
        });
    }
    let median = |f: fn(&Measure) -> f64| {
        let mut v: Vec<f64> = results.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Measure {
        rows_per_s: median(|m| m.rows_per_s),
        cpu_us_per_row: median(|m| m.cpu_us_per_row),
    }
}

fn json_value(i: usize) -> String {
    // About 100 bytes.
    format!(
        r#"{{"id":{i},"user_id":"user-{:06}","event_type":"{}","score":{}.5,"note":"n{:08}"}}"#,
        i * 7919 % 100_000,
        ["purchase_item", "view_item", "click"][i % 3],
        i % 100,
        i
    )
}

fn raw_value(i: usize) -> String {
    format!("{i:0100}")
}

async fn fill(bootstrap: &str, topic: &str, n: usize, value: fn(usize) -> String) {
    let config = ClientConfig::new(bootstrap).unwrap();
    let admin = Admin::new(config.clone()).unwrap();
    admin
        .create_topics(&[NewTopic::new(topic, PARTITIONS, 1)])
        .await
        .expect("create topic");
    let mut c = config;
    c.set("linger.ms", "20").unwrap();
    c.set("compression.type", "lz4").unwrap();
    let producer = Producer::new(c).unwrap();
    let mut deliveries = Vec::with_capacity(n);
    for i in 0..n {
        deliveries.push(
            producer
                .send(ProducerRecord::new(topic, value(i)).with_partition(i as i32 % PARTITIONS))
                .await
                .unwrap(),
        );
    }
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close().await.unwrap();
}

fn no_env(_: &str) -> Option<String> {
    None
}

async fn read_with_source(sql: &str, n: usize) -> usize {
    let table = parse_create_table(sql).unwrap();
    let mut source = KafkaSource::open(&table, &no_env, SourceOptions::subtask(0, 1), None)
        .await
        .unwrap();
    let mut got = 0;
    while got < n {
        if let SourceEvent::Batches(batches) = source.poll(Duration::from_secs(1)).await.unwrap() {
            for b in batches {
                got += b.rows.num_rows();
                std::hint::black_box(&b.rows);
            }
        }
    }
    source.close().await;
    got
}

async fn read_with_consumer(bootstrap: &str, topic: &str, n: usize) -> usize {
    let mut c = ClientConfig::new(bootstrap).unwrap();
    c.set("max.poll.records", "10000").unwrap();
    let consumer = Consumer::new(c).unwrap();
    let tps: Vec<_> = (0..PARTITIONS).map(|p| (topic.to_owned(), p)).collect();
    consumer.assign(&tps).unwrap();
    for tp in &tps {
        consumer.seek(tp, SeekTo::Earliest).unwrap();
    }
    let mut got = 0;
    let mut bytes = 0usize;
    while got < n {
        let polled = consumer.poll(Duration::from_secs(1)).await.unwrap();
        for r in polled.iter() {
            bytes += r.unwrap().value().map_or(0, <[u8]>::len);
            got += 1;
        }
    }
    std::hint::black_box(bytes);
    consumer.close().await;
    got
}

fn json_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("note", DataType::Utf8, true),
    ]))
}

fn arrow_json(payloads: &[String]) -> usize {
    let mut decoder = arrow_json::ReaderBuilder::new(json_schema())
        .with_batch_size(10_000)
        .build_decoder()
        .unwrap();
    let mut rows = 0;
    for chunk in payloads.chunks(10_000) {
        for p in chunk {
            decoder.decode(p.as_bytes()).unwrap();
        }
        if let Some(b) = decoder.flush().unwrap() {
            rows += b.num_rows();
            std::hint::black_box(&b);
        }
    }
    rows
}

fn sink_batches(n: usize) -> Vec<RecordBatch> {
    (0..n)
        .step_by(5_000)
        .map(|from| {
            let to = (from + 5_000).min(n);
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from_iter_values(from as i64..to as i64)),
                Arc::new(StringArray::from_iter_values(
                    (from..to).map(|i| format!("user-{:06}", i % 100_000)),
                )),
                Arc::new(StringArray::from_iter_values(
                    (from..to).map(|i| ["transaction", "browse", "other"][i % 3]),
                )),
                Arc::new(Float64Array::from_iter_values((from..to).map(|i| i as f64))),
                Arc::new(StringArray::from_iter_values(
                    (from..to).map(|i| format!("n{i:08}")),
                )),
            ];
            RecordBatch::try_new(json_schema(), columns).unwrap()
        })
        .collect()
}

async fn write_with_sink(bootstrap: &str, mode: &str, batches: &[RecordBatch]) -> usize {
    let topic = format!("bench-sink-{mode}-{}", std::process::id());
    let admin = Admin::new(ClientConfig::new(bootstrap).unwrap()).unwrap();
    let _ = admin
        .create_topics(&[NewTopic::new(topic.as_str(), PARTITIONS, 1)])
        .await;
    let table = parse_create_table(&format!(
        "CREATE TABLE bench_out (id BIGINT, user_id TEXT, event_type TEXT, score DOUBLE, \
         note TEXT) WITH (connector = 'kafka', bootstrap_servers = '{bootstrap}', \
         topic = '{topic}', type = 'sink', format = 'json', 'sink.commit_mode' = '{mode}', \
         'sink.key_field' = 'user_id', 'client_configs.linger.ms' = '5', \
         'client_configs.compression.type' = 'lz4')"
    ))
    .unwrap();
    let mut sink = KafkaSink::open(
        &table,
        &no_env,
        SinkOptions::subtask(0).with_transactional_id_prefix(topic.clone()),
        None,
    )
    .await
    .unwrap();
    let mut epoch = 0;
    let mut last = Instant::now();
    let mut rows = 0;
    for b in batches {
        sink.write(b).await.unwrap();
        rows += b.num_rows();
        if last.elapsed() >= Duration::from_secs(1) {
            epoch += 1;
            sink.checkpoint(epoch).await.unwrap();
            sink.checkpoint_complete(epoch).await.unwrap();
            last = Instant::now();
        }
    }
    epoch += 1;
    sink.checkpoint(epoch).await.unwrap();
    sink.checkpoint_complete(epoch).await.unwrap();
    sink.close().await.unwrap();
    rows
}

fn line(name: &str, m: Measure) {
    println!(
        "{name:<34} {:>12.0} rows/s {:>8.3} CPU-µs/row",
        m.rows_per_s, m.cpu_us_per_row
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = rows();
    let bootstrap = bootstrap();
    let tag = std::process::id();
    let raw_topic = format!("bench-raw-{tag}");
    let json_topic = format!("bench-json-{tag}");
    eprintln!("filling {raw_topic} and {json_topic} with {n} records each");
    fill(&bootstrap, &raw_topic, n, raw_value).await;
    fill(&bootstrap, &json_topic, n, json_value).await;
    let with_opts = |topic: &str, columns: &str, format: &str| {
        format!(
            "CREATE TABLE bench_in ({columns}) WITH (connector = 'kafka', \
             bootstrap_servers = '{bootstrap}', topic = '{topic}', type = 'source', \
             format = '{format}', 'source.offset' = 'earliest', \
             'client_configs.max.poll.records' = '10000')"
        )
    };
    let raw_sql = with_opts(&raw_topic, "value BYTEA", "raw");
    let json_sql = with_opts(
        &json_topic,
        "id BIGINT, user_id TEXT, event_type TEXT, score DOUBLE, note TEXT",
        "json",
    );
    println!("{n} records of ~100 B, {PARTITIONS} partitions, median of {ROUNDS} rounds");

    let consumer = measure(n, || read_with_consumer(&bootstrap, &raw_topic, n)).await;
    let source_raw = measure(n, || read_with_source(&raw_sql, n)).await;
    line("client consumer (raw)", consumer);
    line("KafkaSource raw → Arrow", source_raw);
    println!(
        "  source raw / consumer: {:.2}x throughput, {:.2}x CPU per row",
        source_raw.rows_per_s / consumer.rows_per_s,
        source_raw.cpu_us_per_row / consumer.cpu_us_per_row
    );

    let payloads: Vec<String> = (0..n).map(json_value).collect();
    let arrow = measure(n, || {
        let rows = arrow_json(&payloads);
        async move { rows }
    })
    .await;
    let source_json = measure(n, || read_with_source(&json_sql, n)).await;
    line("arrow-json from memory", arrow);
    line("KafkaSource json → Arrow", source_json);
    println!(
        "  source json / arrow-json: {:.2}x CPU per row ({:.2}x throughput)",
        source_json.cpu_us_per_row / arrow.cpu_us_per_row,
        source_json.rows_per_s / arrow.rows_per_s
    );

    let batches = sink_batches(n);
    let alo = measure(n, || write_with_sink(&bootstrap, "at_least_once", &batches)).await;
    let eos = measure(n, || write_with_sink(&bootstrap, "exactly_once", &batches)).await;
    line("KafkaSink at_least_once (1 s)", alo);
    line("KafkaSink exactly_once (1 s)", eos);
    println!(
        "  exactly_once / at_least_once: {:.2}x throughput, {:.2}x CPU per row",
        eos.rows_per_s / alo.rows_per_s,
        eos.cpu_us_per_row / alo.cpu_us_per_row
    );
}
