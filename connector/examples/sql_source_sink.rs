//! The connector as an engine embeds it: a source and a sink table declared in SQL, exactly as
//! on the reference page (`CREATE TABLE … WITH (connector = 'kafka', …)`), opened as a
//! `KafkaSource` and a `KafkaSink`, and batches copied from one to the other with the engine's
//! checkpoints driving the sink's transactions. Stops once no row arrived for 10 seconds.
//!
//! ```sh
//! scripts/kafka.sh start && eval "$(scripts/kafka.sh env)"   # sets KAFKA_BOOTSTRAP
//! for t in events processed; do
//!     scripts/kafka.sh topics --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic $t
//! done
//! echo '{"id": 1, "user_id": "u1", "event_type": "click", "timestamp": "2024-05-01T10:00:00Z"}' |
//!     laminar-kafka -b "$KAFKA_BOOTSTRAP" produce -t events
//! cargo run -p laminar-kafka-connector --example sql_source_sink -- events processed
//! laminar-kafka -b "$KAFKA_BOOTSTRAP" consume -t processed --isolation read-committed -e -f '%k %s\n'
//! ```
//!
//! The broker address comes from `KAFKA_BOOTSTRAP` (default `127.0.0.1:19092`) and replaces
//! the page's `localhost:9092`; the two arguments replace its topic names. What this does is
//! `INSERT INTO output_events SELECT id, event_type, timestamp FROM events`, which
//! `laminar-kafka run` would plan with DataFusion; here the projection is done by hand on the
//! Arrow batches.

use std::error::Error;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use laminar_kafka_connector::config::{TableDefinition, process_env};
use laminar_kafka_connector::sink::{KafkaSink, SinkOptions};
use laminar_kafka_connector::source::{KafkaSource, SourceEvent, SourceOptions};
use laminar_kafka_connector::sql::parse_create_table;

const USAGE: &str = "usage: sql_source_sink SOURCE_TOPIC SINK_TOPIC";
const IDLE: Duration = Duration::from_secs(10);

/// The reference page's simple source table.
const SOURCE_SQL: &str = "CREATE TABLE events (
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

/// The reference page's sink table: JSON values keyed by `id`, written in transactions.
const SINK_SQL: &str = "CREATE TABLE output_events (
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
);";

/// A page table with its broker address and topic replaced.
fn page_table(
    sql: &str,
    page_topic: &str,
    topic: &str,
    bootstrap: &str,
) -> Result<TableDefinition, Box<dyn Error>> {
    let sql = sql
        .replace("'localhost:9092'", &format!("'{bootstrap}'"))
        .replace(
            &format!("topic = '{page_topic}'"),
            &format!("topic = '{topic}'"),
        );
    Ok(parse_create_table(&sql)?)
}

/// `SELECT id, event_type AS result, timestamp AS processed_at`: the source's columns under the
/// sink's names (the types are the same: BIGINT, TEXT, TIMESTAMP).
fn project(rows: &RecordBatch, sink: &TableDefinition) -> Result<RecordBatch, Box<dyn Error>> {
    let schema = sink
        .schema
        .clone()
        .ok_or("a SQL table always has columns")?;
    let column = |name: &str| {
        rows.column_by_name(name)
            .cloned()
            .ok_or_else(|| format!("the source has no column `{name}`"))
    };
    Ok(RecordBatch::try_new(
        schema,
        vec![column("id")?, column("event_type")?, column("timestamp")?],
    )?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(source_topic), Some(sink_topic)) = (args.next(), args.next()) else {
        return Err(USAGE.into());
    };
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());
    let source_table = page_table(SOURCE_SQL, "events", &source_topic, &bootstrap)?;
    let sink_table = page_table(SINK_SQL, "processed", &sink_topic, &bootstrap)?;

    // `{{ VAR }}` placeholders in the tables (none here) would come from the environment.
    // The sink first: with a checkpoint state it would commit or abort what an earlier run
    // left open before anything is read. Subtask 0 of 1 reads every partition.
    let mut sink =
        KafkaSink::open(&sink_table, &process_env, SinkOptions::subtask(0), None).await?;
    let mut source = KafkaSource::open(
        &source_table,
        &process_env,
        SourceOptions::subtask(0, 1),
        None,
    )
    .await?;

    let mut epoch = 0;
    let mut copied = 0;
    let mut last_rows = Instant::now();
    while last_rows.elapsed() < IDLE {
        let batches = match source.poll(Duration::from_millis(500)).await? {
            SourceEvent::Batches(batches) => batches,
            // Only with consumer-group partitioning: finish what was written, then let go.
            SourceEvent::Revoked(revoked) => {
                revoked.acknowledge();
                continue;
            }
            _ => continue,
        };
        for batch in &batches {
            sink.write(&project(&batch.rows, &sink_table)?).await?;
            copied += batch.rows.num_rows();
        }
        last_rows = Instant::now();

        // A checkpoint: the sink prepares its transaction (flushed, not yet visible), the
        // source notes its offsets. An engine would store both states durably before
        // completing; after a crash, opening both with them resumes exactly there.
        epoch += 1;
        let sink_state = sink.checkpoint(epoch).await?;
        let source_state = source.checkpoint(epoch);
        let prepared: Vec<&str> = sink_state
            .pending
            .iter()
            .map(|p| p.transactional_id.as_str())
            .collect();
        let offsets: Vec<String> = source_state
            .offsets
            .iter()
            .map(|o| format!("{}-{}@{}", o.topic, o.partition, o.offset))
            .collect();
        println!("checkpoint {epoch}: prepared {prepared:?}, source at {offsets:?}");
        // Stored: the prepared transaction commits, and the offsets go to the group for the
        // lag tools.
        sink.checkpoint_complete(epoch).await?;
        source.checkpoint_complete(epoch).await?;
    }

    println!("copied {copied} rows from {source_topic} to {sink_topic} in {epoch} checkpoints");
    // Aborts the open (empty) transaction; committed ones stay committed.
    sink.close().await?;
    source.close().await;
    Ok(())
}
