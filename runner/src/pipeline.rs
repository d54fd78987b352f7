//! Running a planned script: each pipeline reads its source as a member of the source table's
//! consumer group, applies its query to every batch, and writes the result to its sink.
//!
//! Delivery follows the sink's `commit_mode`:
//! - `exactly_once`: read-process-write transactions. Every `commit_interval` (and before a
//!   revocation is acknowledged, and at a graceful stop) the sink's transaction commits with
//!   the source's offsets in it (KIP-447). Several processes running the same script join the
//!   same group and split the partitions; a process that dies leaves an open transaction that
//!   the coordinator aborts after `transaction.timeout.ms` (10 s unless the table sets it), and
//!   its partitions resume from the offsets committed with the last transaction. Kafka's
//!   group protocol and transactions are the whole distributed engine.
//! - `at_least_once`: at each commit the sink waits for its acknowledgements, then the
//!   source's offsets are committed to the group.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use laminar_kafka_connector::config::{CommitMode, Env, TableType};
use laminar_kafka_connector::sink::{KafkaSink, SinkOptions};
use laminar_kafka_connector::source::{KafkaSource, SourceEvent, SourceOptions};
use tokio::sync::watch;

use crate::error::RunnerError;
use crate::script::{Pipeline, Preview};

/// How a script runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// How often pipelines commit.
    pub commit_interval: Duration,
    /// `transaction.timeout.ms` of exactly-once sinks unless a table sets it.
    pub transaction_timeout: Duration,
    /// Print a progress line per pipeline on standard error this often (`None`: never).
    pub progress: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            commit_interval: Duration::from_millis(100),
            transaction_timeout: Duration::from_secs(10),
            progress: None,
        }
    }
}

impl RunOptions {
    /// With another commit interval.
    pub fn with_commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// With another transaction timeout for exactly-once sinks.
    pub fn with_transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }
}

/// Live counters of one pipeline.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Rows read from the source.
    pub rows_in: AtomicU64,
    /// Rows written to the sink.
    pub rows_out: AtomicU64,
    /// Commits done.
    pub commits: AtomicU64,
    /// Records between the positions and the ends of the source's partitions.
    pub lag: AtomicI64,
    /// Duration of the last commit, in microseconds.
    pub last_commit_us: AtomicU64,
    /// Records of the source that did not decode (dropped under `bad_data = drop`).
    pub decode_errors: AtomicU64,
    /// Lag in records per source partition, as of the last commit.
    pub partition_lag: std::sync::Mutex<Vec<(String, i32, i64)>>,
}

/// Runs one pipeline until `stop` turns true (then commits and closes) or an error.
pub async fn run_pipeline(
    pipeline: &Pipeline,
    env: &Env<'_>,
    options: &RunOptions,
    stats: Arc<PipelineStats>,
    stop: watch::Receiver<bool>,
) -> Result<(), RunnerError> {
    let sink_name = pipeline.sink.name.clone();
    let exactly_once = matches!(
        &pipeline.sink.table.kind,
        TableType::Sink(s) if s.commit_mode == CommitMode::ExactlyOnce
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut sink_options = SinkOptions::subtask(0)
        .with_transactional_id_prefix(format!(
            "laminar-{sink_name}-{}-{nanos:x}",
            std::process::id()
        ))
        .with_transaction_timeout(options.transaction_timeout);
    if exactly_once {
        sink_options = sink_options.kafka_transactions();
    }
    // The sink first: a transactional producer must exist before records are consumed.
    let mut sink = KafkaSink::open(&pipeline.sink, env, sink_options, None).await?;
    let mut source =
        KafkaSource::open(&pipeline.source, env, SourceOptions::consumer_group(), None).await?;
    let execute = |message: String| RunnerError::Execute {
        pipeline: sink_name.clone(),
        message,
    };
    let mut epoch = 0u64;
    let mut last_commit = Instant::now();
    let mut dirty = false;
    loop {
        if *stop.borrow() {
            break;
        }
        // Not raced against `stop`: a poll cut short could lose records whose offsets the
        // final commit would then include.
        match source.poll(Duration::from_millis(50)).await? {
            SourceEvent::Batches(batches) => {
                for b in batches {
                    let out = pipeline
                        .transform
                        .apply(&b.rows)
                        .and_then(|o| pipeline.cast.apply(&o))
                        .map_err(|e| execute(format!("{}/{}: {e}", b.topic, b.partition)))?;
                    stats
                        .rows_in
                        .fetch_add(b.rows.num_rows() as u64, Ordering::Relaxed);
                    stats
                        .rows_out
                        .fetch_add(out.num_rows() as u64, Ordering::Relaxed);
                    sink.write(&out).await?;
                    dirty = true;
                }
            }
            SourceEvent::Revoked(revoked) => {
                // Finish what was written for these partitions before they move.
                commit(&mut sink, &mut source, exactly_once, &mut epoch, &stats).await?;
                dirty = false;
                last_commit = Instant::now();
                revoked.acknowledge();
            }
            _ => {}
        }
        if dirty && last_commit.elapsed() >= options.commit_interval {
            commit(&mut sink, &mut source, exactly_once, &mut epoch, &stats).await?;
            dirty = false;
            last_commit = Instant::now();
            let metrics = source.metrics();
            let lag: i64 = metrics.values().filter_map(|m| m.lag_records).sum();
            stats.lag.store(lag, Ordering::Relaxed);
            stats.decode_errors.store(
                metrics.values().map(|m| m.decode_errors).sum(),
                Ordering::Relaxed,
            );
            *stats
                .partition_lag
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = metrics
                .iter()
                .filter_map(|((t, p), m)| m.lag_records.map(|l| (t.clone(), *p, l)))
                .collect();
        }
    }
    commit(&mut sink, &mut source, exactly_once, &mut epoch, &stats).await?;
    sink.close().await?;
    source.close().await;
    Ok(())
}

async fn commit(
    sink: &mut KafkaSink,
    source: &mut KafkaSource,
    exactly_once: bool,
    epoch: &mut u64,
    stats: &PipelineStats,
) -> Result<(), RunnerError> {
    let started = Instant::now();
    if exactly_once {
        let mut offsets: Vec<_> = source.positions().into_iter().collect();
        offsets.sort();
        sink.commit_with_offsets(&offsets, &source.group_metadata())
            .await?;
    } else {
        *epoch += 1;
        sink.checkpoint(*epoch).await?;
        source.checkpoint(*epoch);
        // A failed group commit (a rebalance under way) only means those records are read
        // again: at least once.
        let _ = source.checkpoint_complete(*epoch).await;
    }
    stats.commits.fetch_add(1, Ordering::Relaxed);
    stats
        .last_commit_us
        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    Ok(())
}

/// How preview rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreviewFormat {
    /// An aligned table per batch.
    Table,
    /// One JSON object per row.
    JsonLines,
}

/// Prints the rows of a preview query until `limit` rows (or `stop`).
pub async fn run_preview(
    preview: &Preview,
    env: &Env<'_>,
    format: PreviewFormat,
    limit: Option<usize>,
    out: &mut (dyn Write + Send),
    stop: watch::Receiver<bool>,
) -> Result<usize, RunnerError> {
    let mut source =
        KafkaSource::open(&preview.source, env, SourceOptions::subtask(0, 1), None).await?;
    let mut printed = 0usize;
    let execute = |message: String| RunnerError::Execute {
        pipeline: format!("preview of {}", preview.source.name),
        message,
    };
    'outer: loop {
        if *stop.borrow() || limit.is_some_and(|l| printed >= l) {
            break;
        }
        if let SourceEvent::Batches(batches) = source.poll(Duration::from_millis(100)).await? {
            for b in batches {
                let mut rows = preview
                    .transform
                    .apply(&b.rows)
                    .map_err(|e| execute(e.to_string()))?;
                if let Some(l) = limit {
                    let room = l - printed;
                    if rows.num_rows() > room {
                        rows = rows.slice(0, room);
                    }
                }
                if rows.num_rows() == 0 {
                    continue;
                }
                printed += rows.num_rows();
                let text = match format {
                    PreviewFormat::Table => arrow::util::pretty::pretty_format_batches(&[rows])
                        .map(|t| format!("{t}\n"))
                        .map_err(|e| execute(e.to_string()))?,
                    PreviewFormat::JsonLines => {
                        let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
                        w.write(&rows).map_err(|e| execute(e.to_string()))?;
                        w.finish().map_err(|e| execute(e.to_string()))?;
                        String::from_utf8_lossy(&w.into_inner()).into_owned()
                    }
                };
                out.write_all(text.as_bytes())
                    .and_then(|_| out.flush())
                    .map_err(|e| execute(format!("writing rows: {e}")))?;
                if limit.is_some_and(|l| printed >= l) {
                    break 'outer;
                }
            }
        }
    }
    source.close().await;
    Ok(printed)
}
