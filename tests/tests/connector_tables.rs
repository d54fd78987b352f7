//! The reference page's tables moving rows through the connector's operators against the
//! broker: the SQL and JSON examples verbatim but for the broker address and topic names.

mod connector_support;

use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use connector_support::*;
use laminar_kafka_client::consumer::GroupOffsets;
use laminar_kafka_connector::config::{
    TableDefinition, parse_profile_json, parse_table_request_json,
};
use laminar_kafka_connector::sink::{KafkaSink, SinkOptions};
use laminar_kafka_connector::source::{KafkaSource, SourceEvent, SourceOptions};
use laminar_kafka_connector::sql::parse_create_table;
use laminar_kafka_tests::unique_topic;

fn no_env(_: &str) -> Option<String> {
    None
}

/// A page example with its broker address and topic replaced.
fn page_sql(sql: &str, topic_in_page: &str, topic: &str) -> TableDefinition {
    let sql = sql
        .replace("localhost:9092", &bootstrap())
        .replace("kafka:9092", &bootstrap())
        .replace(&format!("'{topic_in_page}'"), &format!("'{topic}'"));
    parse_create_table(&sql).expect("page SQL parses")
}

/// Polls until `rows` rows arrived (or fails after 30 s).
async fn read_rows(source: &mut KafkaSource, rows: usize) -> Vec<RecordBatch> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    let mut n = 0;
    while n < rows {
        assert!(
            Instant::now() < deadline,
            "only {n} of {rows} rows within 30 s"
        );
        if let SourceEvent::Batches(batches) =
            source.poll(Duration::from_millis(200)).await.expect("poll")
        {
            for b in batches {
                n += b.rows.num_rows();
                out.push(b.rows);
            }
        }
    }
    out
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&batches[0].schema(), batches).unwrap()
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

const SIMPLE_SOURCE: &str = "CREATE TABLE events (
    id BIGINT,
    user_id TEXT,
    event_type TEXT,
    timestamp TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'events',
    type = 'source',
    format = 'json',
    'source.offset' = 'earliest'
);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_simple_source_table_reads_json_rows() {
    let topic = topic("events", 1).await;
    produce(
        &topic,
        1,
        (1..=3).map(|i| {
            (
                None,
                format!(
                    r#"{{"id": {i}, "user_id": "u{i}", "event_type": "click", "timestamp": "2024-05-0{i}T10:00:00Z"}}"#
                ),
            )
        }),
    )
    .await;
    let table = page_sql(SIMPLE_SOURCE, "events", &topic);
    let mut source = KafkaSource::open(&table, &no_env, SourceOptions::subtask(0, 1), None)
        .await
        .expect("source opens");
    let batch = concat(&read_rows(&mut source, 3).await);
    let ids: Vec<i64> = batch
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(
        strings(&batch, "user_id"),
        [Some("u1".into()), Some("u2".into()), Some("u3".into())]
    );
    let ts = batch
        .column_by_name("timestamp")
        .unwrap()
        .as_any()
        .downcast_ref::<TimestampNanosecondArray>()
        .expect("TIMESTAMP is nanoseconds")
        .value(0);
    assert_eq!(ts, 1_714_557_600_000_000_000);

    // Lag reaches zero once everything is read; counters per partition.
    let metrics = source.metrics();
    let m = &metrics[&(topic.clone(), 0)];
    assert_eq!(m.records, 3);
    assert_eq!(m.lag_records, Some(0));
    assert_eq!(m.lag_ms, Some(0));
    assert_eq!(m.position, Some(3));
    source.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_resumes_from_its_checkpoint_and_commits_it_to_the_group() {
    let topic = topic("ckpt", 1).await;
    produce(
        &topic,
        1,
        (0..10).map(|i| (None, format!(r#"{{"id": {i}}}"#))),
    )
    .await;
    let group = unique_topic("ckpt-group");
    let sql = format!(
        "CREATE TABLE t (id BIGINT) WITH (connector = 'kafka', bootstrap_servers = '{}', \
         topic = '{topic}', type = 'source', format = 'json', 'source.offset' = 'earliest', \
         'source.group_id' = '{group}', 'client_configs.max.poll.records' = '4')",
        bootstrap()
    );
    let table = parse_create_table(&sql).unwrap();
    let mut source = KafkaSource::open(&table, &no_env, SourceOptions::subtask(0, 1), None)
        .await
        .unwrap();
    let first = concat(&read_rows(&mut source, 1).await);
    let read = first.num_rows() as i64;
    assert!(read <= 4, "max.poll.records from client_configs applies");
    let state = source.checkpoint(1);
    assert_eq!(state.offsets[0].offset, read);
    source.checkpoint_complete(1).await.expect("commit");
    source.close().await;

    let offsets = GroupOffsets::new(
        laminar_kafka_client::cluster::Cluster::new(client_config(&[])).unwrap(),
        group.clone(),
    )
    .unwrap();
    let committed = offsets.committed(&[(topic.clone(), 0)]).await.unwrap();
    assert_eq!(committed.get(&(topic.clone(), 0)), Some(&read));

    let state =
        laminar_kafka_connector::source::SourceState::from_json("t", &state.to_json()).unwrap();
    let mut source = KafkaSource::open(&table, &no_env, SourceOptions::subtask(0, 1), Some(state))
        .await
        .unwrap();
    let rest = concat(&read_rows(&mut source, (10 - read) as usize).await);
    let ids = rest
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(
        ids,
        (read..10).collect::<Vec<_>>(),
        "resumes exactly at the checkpoint"
    );
    source.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_rest_source_body_without_columns_reads_value_and_metadata() {
    let topic = topic("events", 1).await;
    produce(
        &topic,
        1,
        [(Some("k1".to_owned()), r#"{"a": 1}"#.to_owned())],
    )
    .await;
    let profile = parse_profile_json(&format!(
        r#"{{"bootstrapServers": "{}", "authentication": {{}}}}"#,
        bootstrap()
    ))
    .unwrap();
    let body = r#"{
    "name": "events_source",
    "connector": "kafka",
    "connectionProfileId": "prof_abc123",
    "config": {
      "topic": "events",
      "type": {
        "offset": "earliest",
        "read_mode": "read_committed",
        "group_id": "event_processor"
      },
      "client_configs": {
        "max.poll.records": "1000"
      }
    },
    "schema": {
      "format": {
        "json": {}
      }
    }
  }"#
    .replace(r#""topic": "events""#, &format!(r#""topic": "{topic}""#));
    let request = parse_table_request_json(&body).expect("page body parses");
    let table =
        TableDefinition::new(request.name, profile, request.config, request.format, None).unwrap();
    let mut source = KafkaSource::open(&table, &no_env, SourceOptions::subtask(0, 1), None)
        .await
        .unwrap();
    let batch = concat(&read_rows(&mut source, 1).await);
    assert_eq!(strings(&batch, "value"), [Some(r#"{"a": 1}"#.into())]);
    assert_eq!(strings(&batch, "topic"), [Some(topic.clone())]);
    assert_eq!(
        batch
            .column_by_name("key")
            .unwrap()
            .as_binary::<i32>()
            .value(0),
        b"k1"
    );
    assert_eq!(
        batch
            .column_by_name("offset")
            .unwrap()
            .as_primitive::<Int64Type>()
            .value(0),
        0
    );
    source.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_sink_table_writes_keyed_json_visible_once_its_checkpoint_completes() {
    let topic = topic("processed", 2).await;
    let table = page_sql(
        "CREATE TABLE output_events (
    id BIGINT,
    result TEXT,
    processed_at TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'processed',
    type = 'sink',
    format = 'json',
    'sink.commit_mode' = 'exactly_once',
    'sink.key_field' = 'id'
);",
        "processed",
        &topic,
    );
    let mut sink = KafkaSink::open(
        &table,
        &no_env,
        SinkOptions::subtask(0).with_transactional_id_prefix(unique_topic("sink-tx")),
        None,
    )
    .await
    .expect("sink opens");
    let schema = table.schema.clone().unwrap();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            std::sync::Arc::new(Int64Array::from(vec![1, 2, 3])),
            std::sync::Arc::new(StringArray::from(vec!["a", "b", "c"])),
            std::sync::Arc::new(TimestampNanosecondArray::from(vec![
                1_714_557_600_000_000_000;
                3
            ])),
        ],
    )
    .unwrap();
    sink.write(&batch).await.unwrap();
    let state = sink.checkpoint(1).await.expect("prepared");
    assert_eq!(
        state.pending.len(),
        1,
        "the transaction is prepared, not committed"
    );
    assert!(
        read_all(&topic, 2, true).await.is_empty(),
        "read_committed sees nothing before the checkpoint completes"
    );
    sink.checkpoint_complete(1).await.expect("committed");
    let mut records = read_all(&topic, 2, true).await;
    records.sort_by(|a, b| a.2.cmp(&b.2));
    let keys: Vec<_> = records.iter().map(|r| r.2.clone().unwrap()).collect();
    assert_eq!(keys, [b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    let value: serde_json::Value = serde_json::from_slice(&records[0].3).unwrap();
    assert_eq!(value["id"], 1);
    assert_eq!(value["result"], "a");
    sink.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_transaction_is_committed_by_the_next_run_from_the_checkpoint() {
    let topic = topic("recover", 1).await;
    let prefix = unique_topic("recover-tx");
    let table = parse_create_table(&format!(
        "CREATE TABLE out (value TEXT) WITH (connector = 'kafka', bootstrap_servers = '{}', \
         topic = '{topic}', type = 'sink', format = 'raw', 'sink.commit_mode' = 'exactly_once')",
        bootstrap()
    ))
    .unwrap();
    let options = || SinkOptions::subtask(0).with_transactional_id_prefix(prefix.clone());
    let batch = |v: &str| {
        RecordBatch::try_new(
            table.schema.clone().unwrap(),
            vec![std::sync::Arc::new(StringArray::from(vec![v]))],
        )
        .unwrap()
    };
    // Run 1: checkpoint 1 is stored, but the run dies before it hears that it completed, with
    // more rows written after it.
    let mut sink = KafkaSink::open(&table, &no_env, options(), None)
        .await
        .unwrap();
    sink.write(&batch("in-checkpoint-1")).await.unwrap();
    let state = sink.checkpoint(1).await.unwrap();
    sink.write(&batch("after-checkpoint-1")).await.unwrap();
    drop(sink);
    // Run 2 restores checkpoint 1: its transaction commits, the later one is aborted.
    let sink = KafkaSink::open(&table, &no_env, options(), Some(state.clone()))
        .await
        .expect("restore");
    let values: Vec<_> = read_all(&topic, 1, true)
        .await
        .into_iter()
        .map(|r| r.3)
        .collect();
    assert_eq!(values, [b"in-checkpoint-1".to_vec()]);
    drop(sink);
    // Restoring the same checkpoint again finds its transaction already committed: no error,
    // nothing written twice.
    let sink = KafkaSink::open(&table, &no_env, options(), Some(state))
        .await
        .expect("a second restore of a committed checkpoint");
    let values: Vec<_> = read_all(&topic, 1, true)
        .await
        .into_iter()
        .map(|r| r.3)
        .collect();
    assert_eq!(values, [b"in-checkpoint-1".to_vec()]);
    sink.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_multi_topic_source_sees_a_topic_created_after_start() {
    let prefix = unique_topic("events");
    let first = format!("{prefix}-1");
    create(&first, 1).await;
    let table = page_sql(
        "CREATE TABLE all_events (
    topic TEXT,
    partition INT,
    offset BIGINT,
    key TEXT,
    value TEXT,
    timestamp TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'events-.*',  -- Regex pattern for multiple topics
    type = 'source',
    format = 'raw',
    'source.offset' = 'latest'
);",
        "events-.*",
        &format!("{prefix}-.*"),
    );
    let mut source = KafkaSource::open(
        &table,
        &no_env,
        SourceOptions::subtask(0, 1).with_discovery_interval(Duration::from_millis(300)),
        None,
    )
    .await
    .unwrap();
    // `latest`: the first topic's position is its end, resolved before anything is written.
    let deadline = Instant::now() + Duration::from_secs(20);
    while source.positions().is_empty() {
        assert!(Instant::now() < deadline, "no position for {first}");
        let _ = source.poll(Duration::from_millis(100)).await.unwrap();
    }
    produce(&first, 1, [(Some("a".into()), "one".into())]).await;
    let second = format!("{prefix}-2");
    create(&second, 1).await;
    produce(&second, 1, [(None, "two".into())]).await;
    let batches = read_rows(&mut source, 2).await;
    let mut seen: Vec<(Option<String>, Option<String>)> = batches
        .iter()
        .flat_map(|b| strings(b, "topic").into_iter().zip(strings(b, "value")))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (Some(first.clone()), Some("one".into())),
            (Some(second.clone()), Some("two".into()))
        ]
    );
    source.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_debezium_table_reads_inserts_updates_and_deletes() {
    let topic = topic("mysql.shop.orders", 1).await;
    let insert = r#"{"before": null, "after": {"order_id": 1, "customer_id": 7, "total": "10.50", "status": "new", "updated_at": 1714557600000}, "op": "c"}"#;
    let update = r#"{"before": {"order_id": 1, "customer_id": 7, "total": "10.50", "status": "new", "updated_at": 1714557600000}, "after": {"order_id": 1, "customer_id": 7, "total": "10.50", "status": "paid", "updated_at": 1714557660000}, "op": "u"}"#;
    let delete = r#"{"before": {"order_id": 1, "customer_id": 7, "total": "10.50", "status": "paid", "updated_at": 1714557660000}, "after": null, "op": "d"}"#;
    produce(
        &topic,
        1,
        [insert, update, delete].map(|v| (None, v.to_owned())),
    )
    .await;
    let table = page_sql(
        "CREATE TABLE cdc_orders (
    order_id BIGINT PRIMARY KEY,
    customer_id BIGINT,
    total DECIMAL,
    status TEXT,
    updated_at TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'mysql.shop.orders',
    type = 'source',
    format = 'debezium_json',
    'source.offset' = 'earliest'
);",
        "mysql.shop.orders",
        &topic,
    );
    let mut source = KafkaSource::open(&table, &no_env, SourceOptions::subtask(0, 1), None)
        .await
        .unwrap();
    let batch = concat(&read_rows(&mut source, 4).await);
    let ops = strings(&batch, laminar_kafka_connector::schema::CHANGE_OP_COLUMN);
    assert_eq!(ops, ["+I", "-U", "+U", "-D"].map(|s| Some(s.to_owned())));
    assert_eq!(
        strings(&batch, "status"),
        ["new", "new", "paid", "paid"].map(|s| Some(s.to_owned()))
    );
    source.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_fails_naming_the_record_or_is_dropped_and_counted() {
    let topic = topic("bad", 1).await;
    produce(
        &topic,
        1,
        [r#"{"id": 1}"#, "not json", r#"{"id": 3}"#].map(|v| (None, v.to_owned())),
    )
    .await;
    let sql = |policy: &str| {
        parse_create_table(&format!(
            "CREATE TABLE t (id BIGINT) WITH (connector = 'kafka', bootstrap_servers = '{}', \
             topic = '{topic}', type = 'source', format = 'json', 'source.offset' = 'earliest', \
             bad_data = '{policy}')",
            bootstrap()
        ))
        .unwrap()
    };
    let mut source = KafkaSource::open(&sql("fail"), &no_env, SourceOptions::subtask(0, 1), None)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        assert!(
            Instant::now() < deadline,
            "the bad record never failed the source"
        );
        match source.poll(Duration::from_millis(200)).await {
            Err(e) => break e,
            Ok(_) => continue,
        }
    };
    assert!(
        err.to_string().contains(&format!("record at {topic}/0@1")),
        "{err}"
    );
    source.close().await;

    let mut source = KafkaSource::open(&sql("drop"), &no_env, SourceOptions::subtask(0, 1), None)
        .await
        .unwrap();
    let batch = concat(&read_rows(&mut source, 2).await);
    let ids = batch
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(ids, [1, 3]);
    assert_eq!(source.metrics()[&(topic.clone(), 0)].decode_errors, 1);
    source.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_partitioned_sources_share_the_partitions() {
    let topic = topic("grouped", 4).await;
    produce(
        &topic,
        4,
        (0..40).map(|i| (None, format!(r#"{{"id": {i}}}"#))),
    )
    .await;
    let group = unique_topic("grouped-g");
    let table = parse_create_table(&format!(
        "CREATE TABLE t (id BIGINT) WITH (connector = 'kafka', bootstrap_servers = '{}', \
         topic = '{topic}', type = 'source', format = 'json', 'source.offset' = 'earliest', \
         'source.group_id' = '{group}')",
        bootstrap()
    ))
    .unwrap();
    let mut a = KafkaSource::open(&table, &no_env, SourceOptions::consumer_group(), None)
        .await
        .unwrap();
    let mut b = KafkaSource::open(&table, &no_env, SourceOptions::consumer_group(), None)
        .await
        .unwrap();
    let mut ids: Vec<i64> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ids.len() < 40 {
        assert!(Instant::now() < deadline, "read {} of 40", ids.len());
        for s in [&mut a, &mut b] {
            match s.poll(Duration::from_millis(100)).await.unwrap() {
                SourceEvent::Batches(batches) => {
                    for batch in batches {
                        ids.extend(batch.rows.column(0).as_primitive::<Int64Type>().values());
                    }
                }
                SourceEvent::Revoked(r) => r.acknowledge(),
                _ => {}
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every record once");
    // Both members end up with a share, and together they own every partition.
    loop {
        let (sa, sb) = (a.assignment().len(), b.assignment().len());
        if sa > 0 && sb > 0 && sa + sb == 4 {
            break;
        }
        assert!(Instant::now() < deadline, "assignments {sa} + {sb}");
        for s in [&mut a, &mut b] {
            if let SourceEvent::Revoked(r) = s.poll(Duration::from_millis(100)).await.unwrap() {
                r.acknowledge();
            }
        }
    }
    a.close().await;
    b.close().await;
}

/// The test registry of `connector/tests/registry.sh` (its `env` output, or its defaults).
fn registry_env(name: &str) -> Option<String> {
    let var = |n: &str, default: &str| std::env::var(n).unwrap_or_else(|_| default.to_owned());
    match name {
        "REGISTRY_KEY" => Some(var("LAMINAR_SCHEMA_REGISTRY_KEY", "laminar-key")),
        "REGISTRY_SECRET" => Some(var(
            "LAMINAR_SCHEMA_REGISTRY_SECRET",
            "laminar-registry-secret",
        )),
        _ => None,
    }
}

fn registry_url() -> String {
    std::env::var("LAMINAR_SCHEMA_REGISTRY_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:18081/apis/ccompat/v7".to_owned())
}

/// A sink in `format` registers its schema and writes framed values; the page's registry
/// source table reads them back as rows.
async fn registry_round_trip(format: &str) {
    let topic = topic(&format!("{format}_events"), 1).await;
    let registry = |sql: &str| {
        sql.replace("http://registry:8081", &registry_url())
            .replace("'avro'", &format!("'{format}'"))
    };
    let sink = parse_create_table(&registry(&format!(
        "CREATE TABLE avro_out (id BIGINT, data TEXT) WITH (connector = 'kafka', \
         bootstrap_servers = '{}', topic = '{topic}', type = 'sink', format = 'avro', \
         'schema_registry.endpoint' = 'http://registry:8081', \
         'schema_registry.api_key' = '{{{{ REGISTRY_KEY }}}}', \
         'schema_registry.api_secret' = '{{{{ REGISTRY_SECRET }}}}', \
         'sink.commit_mode' = 'at_least_once')",
        bootstrap()
    )))
    .unwrap();
    let mut writer = match KafkaSink::open(&sink, &registry_env, SinkOptions::subtask(0), None)
        .await
    {
        Ok(w) => w,
        Err(e) => panic!(
            "{e}: the registry tests need the test registry: `connector/tests/registry.sh start`"
        ),
    };
    let batch = RecordBatch::try_new(
        sink.schema.clone().unwrap(),
        vec![
            std::sync::Arc::new(Int64Array::from(vec![7, 8])),
            std::sync::Arc::new(StringArray::from(vec![Some("x"), None])),
        ],
    )
    .unwrap();
    writer.write(&batch).await.unwrap();
    writer.checkpoint(1).await.unwrap();
    writer.close().await.unwrap();

    let page = "CREATE TABLE avro_events (
    id BIGINT,
    data TEXT
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'avro_events',
    type = 'source',
    format = 'avro',
    'schema_registry.endpoint' = 'http://registry:8081',
    'schema_registry.api_key' = '{{ REGISTRY_KEY }}',
    'schema_registry.api_secret' = '{{ REGISTRY_SECRET }}',
    'source.offset' = 'earliest'
);";
    let source = parse_create_table(
        &registry(page)
            .replace("localhost:9092", &bootstrap())
            .replace("'avro_events'", &format!("'{topic}'")),
    )
    .unwrap();
    let mut reader = KafkaSource::open(&source, &registry_env, SourceOptions::subtask(0, 1), None)
        .await
        .unwrap();
    let batch = concat(&read_rows(&mut reader, 2).await);
    let ids = batch
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(ids, [7, 8], "{format}");
    assert_eq!(
        strings(&batch, "data"),
        [Some("x".to_owned()), None],
        "{format}"
    );
    reader.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_registry_table_reads_what_an_avro_sink_registered_and_wrote() {
    registry_round_trip("avro").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protobuf_sink_and_source_round_trip_through_the_registry() {
    registry_round_trip("protobuf").await;
}
