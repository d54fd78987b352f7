//! `laminar-kafka run` against the broker: the reference page's scripts as written (the broker
//! given with `--set bootstrap_servers=…`, topic and group names made unique), a preview, bad
//! scripts, and exactly-once under kills with three runner processes sharing the work.

#![cfg(feature = "runner")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::backoff::SplitMix;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::producer::{Producer, ProducerRecord};
use laminar_kafka_tests::{Broker, unique_topic};

const EVENT_PIPELINE: &str = include_str!("../../examples/sql/event_processing.sql");
const CDC: &str = include_str!("../../examples/sql/cdc_orders.sql");

fn bootstrap() -> String {
    Broker::from_env().plaintext.clone()
}

fn config(extra: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new(&bootstrap()).unwrap();
    c.set("max.block.ms", "20000").unwrap();
    for (k, v) in extra {
        c.set(k, v).unwrap();
    }
    c
}

async fn create(topic: &str, partitions: i32) {
    let admin = Admin::new(config(&[])).unwrap();
    admin
        .create_topics(&[NewTopic::new(topic, partitions, 1)])
        .await
        .unwrap();
    admin.close().await;
}

async fn produce(topic: &str, partitions: i32, values: impl IntoIterator<Item = String>) {
    let producer = Producer::new(config(&[("linger.ms", "5")])).unwrap();
    let mut deliveries = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        let record = ProducerRecord::new(topic, v).with_partition(i as i32 % partitions);
        deliveries.push(producer.send(record).await.unwrap());
    }
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close().await.unwrap();
}

/// Every committed record of `topic`: (key, value).
async fn read_committed(topic: &str, partitions: i32) -> Vec<(Option<String>, String)> {
    let consumer = Consumer::new(config(&[
        ("isolation.level", "read_committed"),
        ("fetch.max.wait.ms", "50"),
    ]))
    .unwrap();
    let tps: Vec<_> = (0..partitions).map(|p| (topic.to_owned(), p)).collect();
    consumer.assign(&tps).unwrap();
    for tp in &tps {
        consumer.seek(tp, SeekTo::Earliest).unwrap();
    }
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet = 0;
    while quiet < 2 {
        assert!(Instant::now() < deadline, "reading {topic} took over 60 s");
        let polled = consumer.poll(Duration::from_millis(200)).await.unwrap();
        for r in polled.iter() {
            let r = r.unwrap();
            out.push((
                r.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned(),
            ));
        }
        let lag = consumer.lag();
        if polled.is_empty() && lag.len() == tps.len() && lag.values().all(|l| l.lag == Some(0)) {
            quiet += 1;
        }
    }
    consumer.close().await;
    out
}

/// The page's event pipeline with its topics and group renamed.
fn event_script(input: &str, output: &str, group: &str, extra: &str) -> PathBuf {
    let sql = EVENT_PIPELINE
        .replace("'raw_events'", &format!("'{input}'"))
        .replace("'processed_events'", &format!("'{output}'"))
        .replace("'event_processor'", &format!("'{group}'"))
        .replace(
            "'source.group_id' =",
            &format!("{extra}'source.group_id' ="),
        );
    let path = std::env::temp_dir().join(format!("{}.sql", unique_topic("script")));
    std::fs::write(&path, sql).unwrap();
    path
}

fn laminar(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_laminar-kafka"));
    c.args(args);
    c
}

fn spawn_run(script: &Path) -> Child {
    spawn_run_with(script, &[])
}

fn spawn_run_with(script: &Path, extra: &[&str]) -> Child {
    let servers = format!("bootstrap_servers={}", bootstrap());
    let mut args = vec!["run", script.to_str().unwrap(), "--set", &servers];
    args.extend_from_slice(extra);
    laminar(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn event(i: usize) -> String {
    let kind = ["purchase_item", "view_page", "login", "purchase_gift"][i % 4];
    format!(
        r#"{{"event_id": {i}, "user_id": "u{}", "event_type": "{kind}", "payload": {{"score": {}.5}}, "timestamp": "2024-05-01T10:00:00Z"}}"#,
        i % 50,
        i % 10
    )
}

fn category(i: usize) -> &'static str {
    ["transaction", "browse", "other", "transaction"][i % 4]
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("laminar-kafka run did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Output rows by event id, checked against the transform.
fn check_rows(rows: &[(Option<String>, String)]) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for (key, value) in rows {
        let v: serde_json::Value = serde_json::from_str(value).unwrap();
        let id = v["event_id"].as_u64().unwrap();
        let i = id as usize;
        assert_eq!(v["event_category"], category(i), "{value}");
        assert_eq!(v["score"].as_f64(), Some((i % 10) as f64 + 0.5), "{value}");
        assert_eq!(key.as_deref(), Some(format!("u{}", i % 50).as_str()));
        assert!(v["processed_at"].is_string(), "{value}");
        *seen.entry(id).or_default() += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_event_pipeline_runs_and_stops_gracefully() {
    let input = unique_topic("raw_events");
    let output = unique_topic("processed_events");
    create(&input, 3).await;
    create(&output, 3).await;
    let mut events: Vec<String> = (0..40).map(event).collect();
    // A record without event_type is filtered out by the WHERE.
    events.push(
        r#"{"event_id": 999, "user_id": "x", "event_type": null, "payload": {}, "timestamp": "2024-05-01T10:00:00Z"}"#
            .to_owned(),
    );
    produce(&input, 3, events).await;
    let script = event_script(&input, &output, &unique_topic("event_processor"), "");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let mut child = spawn_run_with(&script, &["--metrics", &metrics_addr]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = read_committed(&output, 3).await;
        if rows.len() >= 40 {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "{} of 40 rows after 60 s",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let seen = check_rows(&rows);
    assert_eq!(seen.len(), 40);
    assert!(seen.values().all(|n| *n == 1));
    assert!(
        !seen.contains_key(&999),
        "the WHERE drops events without a type"
    );
    // Prometheus text: records in (41) and out (40), per-partition lag.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let out = Command::new("curl")
            .args(["-s", &format!("http://{metrics_addr}/metrics")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("laminar_records_in_total{pipeline=\"processed_events\"} 41") {
            break text;
        }
        assert!(Instant::now() < deadline, "metrics: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        text.contains("laminar_records_out_total{pipeline=\"processed_events\"} 40"),
        "{text}"
    );
    let partition_lag = format!(
        "laminar_source_partition_lag_records{{pipeline=\"processed_events\",topic=\"{input}\",partition=\"0\"}} 0"
    );
    assert!(text.contains(&partition_lag), "{text}");
    // The Kafka clients' statistics: the source's consumer read the 41 records, the sink's
    // producer had its 40 acknowledged, and each broker carried bytes both ways.
    let value = |prefix: &str| -> Vec<f64> {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect()
    };
    assert!(
        value("laminar_kafka_records_consumed_total ")
            .iter()
            .any(|v| *v >= 41.0),
        "{text}"
    );
    assert!(
        value("laminar_kafka_record_ack_total ")
            .iter()
            .any(|v| *v >= 40.0),
        "{text}"
    );
    for family in [
        "laminar_kafka_incoming_bytes_total{broker=",
        "laminar_kafka_outgoing_bytes_total{broker=",
        "laminar_kafka_requests_total{broker=",
    ] {
        assert!(value(family).iter().any(|v| *v > 0.0), "{family}: {text}");
    }
    sigterm(&child);
    let status = tokio::task::spawn_blocking(move || wait(&mut child, Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(status.success(), "a graceful stop exits 0: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_cdc_script_previews_the_changelog_as_json_lines() {
    let topic = unique_topic("mysql.shop.orders");
    create(&topic, 1).await;
    produce(
        &topic,
        1,
        [
            r#"{"before": null, "after": {"order_id": 1, "customer_id": 7, "total": "10.50", "status": "new", "updated_at": 1714557600000}, "op": "c"}"#,
            r#"{"before": {"order_id": 1, "customer_id": 7, "total": "10.50", "status": "new", "updated_at": 1714557600000}, "after": {"order_id": 1, "customer_id": 7, "total": "10.50", "status": "paid", "updated_at": 1714557660000}, "op": "u"}"#,
        ]
        .map(str::to_owned),
    )
    .await;
    let sql = CDC.replace("'mysql.shop.orders'", &format!("'{topic}'"));
    let path = std::env::temp_dir().join(format!("{}.sql", unique_topic("cdc")));
    std::fs::write(&path, sql).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        laminar(&[
            "run",
            path.to_str().unwrap(),
            "--set",
            &format!("bootstrap_servers={}", bootstrap()),
            "--format",
            "json",
            "--limit",
            "3",
        ])
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ops: Vec<&str> = lines.iter().map(|l| l["_op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["+I", "-U", "+U"]);
    assert_eq!(lines[2]["status"], "paid");
}

#[test]
fn bad_scripts_are_refused_at_start_naming_the_statement() {
    let tables = "CREATE TABLE src (id BIGINT, kind TEXT) WITH (connector = 'kafka', \
        bootstrap_servers = '127.0.0.1:1', topic = 'in', type = 'source', format = 'json', \
        'source.offset' = 'earliest');
        CREATE TABLE dst (id BIGINT, flag BOOLEAN) WITH (connector = 'kafka', \
        bootstrap_servers = '127.0.0.1:1', topic = 'out', type = 'sink', format = 'json', \
        'sink.commit_mode' = 'exactly_once');";
    let cases = [
        ("INSERT INTO dst SELECT id, nope FROM src;", "statement 3: "),
        (
            "INSERT INTO dst SELECT id FROM src;",
            "statement 3: INSERT INTO dst: the query has 1 columns, the table 2 (id, flag)",
        ),
        (
            "INSERT INTO dst SELECT id, now() FROM src;",
            "statement 3: INSERT INTO dst: column `flag` is Boolean but the query gives Timestamp",
        ),
        (
            "INSERT INTO dst SELECT kind, count(*) FROM src GROUP BY kind;",
            "statement 3: an aggregate without a window cannot run on a stream",
        ),
        (
            "INSERT INTO src SELECT id, kind FROM src;",
            "statement 3: INSERT INTO src: it is a source table",
        ),
        (
            "INSERT INTO missing SELECT id FROM src;",
            "statement 3: INSERT INTO missing: no Kafka table of that name",
        ),
        (
            "SELECT a.id FROM src a JOIN src b ON a.id = b.id;",
            "statement 3: a join cannot run on a stream",
        ),
    ];
    for (statement, expected) in cases {
        let path = std::env::temp_dir().join(format!("{}.sql", unique_topic("bad")));
        std::fs::write(&path, format!("{tables}\n{statement}")).unwrap();
        let out = laminar(&["run", path.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{statement}: accepted");
        assert!(stderr.contains(expected), "{statement}: {stderr}");
        if statement.contains("nope") {
            assert!(
                stderr.contains("nope"),
                "the unknown column is named: {stderr}"
            );
        }
    }
}

const RECORDS: usize = 200_000;
const PARTITIONS: i32 = 6;
const KILLS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_stay_exactly_once_while_one_is_killed_again_and_again() {
    let seed = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SplitMix::from_entropy().next_u64());
    eprintln!("KILL_SEED={seed}");
    let mut rng = SplitMix::with_seed(seed);
    let input = unique_topic("raw_events");
    let output = unique_topic("processed_events");
    create(&input, PARTITIONS).await;
    create(&output, PARTITIONS).await;
    // Short session timeouts so that a killed member's partitions move within seconds.
    let script = event_script(
        &input,
        &output,
        &unique_topic("event_processor"),
        "'client_configs.session.timeout.ms' = '6000', \
         'client_configs.heartbeat.interval.ms' = '500', ",
    );
    let writer = {
        let input = input.clone();
        tokio::spawn(async move {
            for slice in 0..20 {
                let from = slice * (RECORDS / 20);
                produce(&input, PARTITIONS, (from..from + RECORDS / 20).map(event)).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let mut runners: Vec<Child> = (0..3).map(|_| spawn_run(&script)).collect();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(500 + rng.next_u64() % 1500)).await;
        let victim = (rng.next_u64() % 3) as usize;
        runners[victim].kill().unwrap();
        runners[victim].wait().unwrap();
        runners[victim] = spawn_run(&script);
    }
    writer.await.unwrap();
    // Until every input is in the output (dead members' transactions time out in 10 s).
    let deadline = Instant::now() + Duration::from_secs(240);
    let rows = loop {
        let rows = read_committed(&output, PARTITIONS).await;
        // Every event has a type, so every one passes the WHERE.
        let distinct = check_rows(&rows).len();
        if distinct == RECORDS {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "{distinct} of {RECORDS} events in the output after the deadline"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    for r in &runners {
        sigterm(r);
    }
    for mut r in runners {
        let status = tokio::task::spawn_blocking(move || wait(&mut r, Duration::from_secs(60)))
            .await
            .unwrap();
        assert!(status.success(), "{status}");
    }
    // Nothing more was committed by the stop, and every event is there once.
    let rows = if read_committed(&output, PARTITIONS).await.len() != rows.len() {
        read_committed(&output, PARTITIONS).await
    } else {
        rows
    };
    let seen = check_rows(&rows);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "events written twice: {twice:?}");
    assert_eq!(seen.len(), RECORDS);
}

const ALL_EVENTS: &str = include_str!("../../examples/sql/all_events.sql");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_multi_topic_preview_picks_up_a_topic_created_while_running() {
    let prefix = unique_topic("events");
    let (first, second) = (format!("{prefix}-1"), format!("{prefix}-2"));
    create(&first, 1).await;
    let sql = ALL_EVENTS.replace("'events-.*'", &format!("'{prefix}-.*'"));
    let path = std::env::temp_dir().join(format!("{}.sql", unique_topic("all")));
    std::fs::write(&path, sql).unwrap();
    let mut child = laminar(&[
        "run",
        path.to_str().unwrap(),
        "--set",
        &format!("bootstrap_servers={}", bootstrap()),
        "--format",
        "json",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    // `latest`: write until the preview shows a row of the first topic.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rows = Vec::new();
    'first: loop {
        assert!(Instant::now() < deadline, "no row of {first}: {rows:?}");
        produce(&first, 1, ["one".to_owned()]).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        while let Ok(v) = rx.try_recv() {
            rows.push(v);
            if rows.last().unwrap()["topic"] == first.as_str() {
                break 'first;
            }
        }
    }
    create(&second, 1).await;
    produce(&second, 1, ["two".to_owned()]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let row = loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(v) if v["topic"] == second.as_str() => break v,
            Ok(_) => {}
            Err(_) => assert!(Instant::now() < deadline, "no row of {second}"),
        }
    };
    assert_eq!(row["value"], "two");
    assert_eq!(row["partition"], 0);
    let _ = child.kill();
    let _ = child.wait();
}
