//! Plays a streaming engine around the connector's operators, for the exactly-once tests: `n`
//! subtasks each copy their share of a topic through a `KafkaSource` into a `KafkaSink`.
//!
//! - `eos` and `alo`: a checkpoint barrier every `--interval-ms`; the subtasks' source and sink
//!   states are stored together in `STATE_DIR/checkpoint.json` (written to a temporary file,
//!   synced, renamed), then each subtask is told the checkpoint completed. At start the last
//!   stored checkpoint is restored.
//! - `native`: no checkpoint store; every `--interval-ms` each subtask commits its source's
//!   offsets inside its sink's transaction (KIP-447). At start the sources resume from the
//!   group's committed offsets.
//!
//! With `--exit-when-idle-ms MS` it stops by itself (after a last checkpoint or commit) once
//! no subtask has read a record for that long; otherwise it runs until killed. It is a test
//! harness, not a product.
//!
//! Usage: `engine_driver BOOTSTRAP INPUT OUTPUT GROUP MODE PARALLELISM STATE_DIR INTERVAL_MS
//! EXIT_WHEN_IDLE_MS` (MODE: eos, alo or native; EXIT_WHEN_IDLE_MS 0 for never)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use laminar_kafka_connector::config::TableDefinition;
use laminar_kafka_connector::sink::{KafkaSink, SinkOptions, SinkState};
use laminar_kafka_connector::source::{KafkaSource, SourceEvent, SourceOptions, SourceState};
use laminar_kafka_connector::sql::parse_create_table;
use tokio::sync::{mpsc, oneshot};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A subtask that does not answer a command within this long has stalled: the driver stops
/// with an error naming it rather than hanging.
const STALL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Eos,
    Alo,
    Native,
}

enum Command {
    Barrier(
        u64,
        oneshot::Sender<Result<(String, String, Instant), String>>,
    ),
    Complete(u64, oneshot::Sender<Result<(), String>>),
    Commit(oneshot::Sender<Result<Instant, String>>),
    Stop(oneshot::Sender<()>),
}

fn tables(
    bootstrap: &str,
    input: &str,
    output: &str,
    group: &str,
    mode: Mode,
) -> (TableDefinition, TableDefinition) {
    let source = parse_create_table(&format!(
        "CREATE TABLE copy_in (value BYTEA) WITH (connector = 'kafka', \
         bootstrap_servers = '{bootstrap}', topic = '{input}', type = 'source', format = 'raw', \
         'source.offset' = 'earliest', 'source.group_id' = '{group}', \
         'client_configs.fetch.max.wait.ms' = '50')"
    ))
    .expect("source table");
    let commit_mode = if mode == Mode::Alo {
        "at_least_once"
    } else {
        "exactly_once"
    };
    let sink = parse_create_table(&format!(
        "CREATE TABLE copy_out (value BYTEA) WITH (connector = 'kafka', \
         bootstrap_servers = '{bootstrap}', topic = '{output}', type = 'sink', format = 'raw', \
         'sink.commit_mode' = '{commit_mode}', 'client_configs.linger.ms' = '5')"
    ))
    .expect("sink table");
    (source, sink)
}

fn env(_: &str) -> Option<String> {
    None
}

/// One subtask: polls its source, writes to its sink, obeys commands between polls.
async fn subtask(
    mut source: KafkaSource,
    mut sink: KafkaSink,
    mut commands: mpsc::Receiver<Command>,
) -> Result<(), BoxError> {
    let mut last_record = Instant::now();
    loop {
        while let Ok(command) = commands.try_recv() {
            match command {
                Command::Barrier(epoch, reply) => {
                    let source_state = source.checkpoint(epoch);
                    let result = sink
                        .checkpoint(epoch)
                        .await
                        .map(|s| (source_state.to_json(), s.to_json(), last_record))
                        .map_err(|e| e.to_string());
                    let failed = result.is_err();
                    let _ = reply.send(result);
                    if failed {
                        return Err("checkpoint failed".into());
                    }
                }
                Command::Complete(epoch, reply) => {
                    let mut result = sink.checkpoint_complete(epoch).await;
                    if result.is_ok() {
                        // A failed group commit only delays what lag tools see.
                        let _ = source.checkpoint_complete(epoch).await;
                    }
                    let failed = result.is_err();
                    let _ = reply.send(result.as_mut().map(|_| ()).map_err(|e| e.to_string()));
                    if failed {
                        return Err("commit failed".into());
                    }
                }
                Command::Commit(reply) => {
                    let mut offsets: Vec<_> = source.positions().into_iter().collect();
                    offsets.sort();
                    let result = sink
                        .commit_with_offsets(&offsets, &source.group_metadata())
                        .await
                        .map(|_| last_record)
                        .map_err(|e| e.to_string());
                    let failed = result.is_err();
                    let _ = reply.send(result);
                    if failed {
                        return Err("transaction commit failed".into());
                    }
                }
                Command::Stop(reply) => {
                    sink.close().await?;
                    source.close().await;
                    let _ = reply.send(());
                    return Ok(());
                }
            }
        }
        match source.poll(Duration::from_millis(20)).await? {
            SourceEvent::Batches(batches) => {
                last_record = Instant::now();
                for b in batches {
                    sink.write(&b.rows).await?;
                }
            }
            SourceEvent::Revoked(r) => r.acknowledge(),
            _ => {}
        }
    }
}

fn write_state(dir: &Path, text: &str) -> std::io::Result<()> {
    let tmp = dir.join("checkpoint.json.tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join("checkpoint.json"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let [
        _,
        bootstrap,
        input,
        output,
        group,
        mode,
        parallelism,
        state_dir,
        interval,
        idle,
    ] = &args[..]
    else {
        return Err(
            "usage: engine_driver BOOTSTRAP INPUT OUTPUT GROUP MODE PARALLELISM \
                    STATE_DIR INTERVAL_MS EXIT_WHEN_IDLE_MS"
                .into(),
        );
    };
    let mode = match mode.as_str() {
        "eos" => Mode::Eos,
        "alo" => Mode::Alo,
        "native" => Mode::Native,
        other => return Err(format!("unknown mode {other}").into()),
    };
    let n: usize = parallelism.parse()?;
    let interval = Duration::from_millis(interval.parse()?);
    let idle: u64 = idle.parse()?;
    let dir = PathBuf::from(state_dir);
    std::fs::create_dir_all(&dir)?;
    let (source_table, sink_table) = tables(bootstrap, input, output, group, mode);

    // The last stored checkpoint: (epoch, [(source state, sink state)]).
    let restored: Option<(u64, Vec<(String, String)>)> =
        match std::fs::read_to_string(dir.join("checkpoint.json")) {
            Ok(text) => Some(serde_json::from_str(&text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
    let mut epoch = restored.as_ref().map_or(0, |(e, _)| *e);
    let mut handles = Vec::new();
    let mut senders = Vec::new();
    // Subtasks open side by side; each opens its sink first: its InitProducerId aborts what a
    // killed run left open, including offsets committed in that run's transaction, which the
    // source's committed-offset lookup would otherwise wait for.
    let mut opening = Vec::new();
    for i in 0..n {
        let (source_state, sink_state) = match (&restored, mode) {
            (Some((_, states)), Mode::Eos | Mode::Alo) => {
                let (s, k) = &states[i];
                (
                    Some(SourceState::from_json(&source_table.name, s)?),
                    Some(SinkState::from_json(&sink_table.name, k)?),
                )
            }
            _ => (None, None),
        };
        let mut options =
            SinkOptions::subtask(i).with_transactional_id_prefix(format!("{group}-tx"));
        if mode == Mode::Native {
            options = options.kafka_transactions();
        }
        let (source_table, sink_table) = (source_table.clone(), sink_table.clone());
        opening.push(tokio::spawn(async move {
            let started = Instant::now();
            let sink = KafkaSink::open(&sink_table, &env, options, sink_state).await?;
            let sink_ms = started.elapsed().as_millis();
            let source = KafkaSource::open(
                &source_table,
                &env,
                SourceOptions::subtask(i, n),
                source_state,
            )
            .await?;
            let total_ms = started.elapsed().as_millis();
            if total_ms > 5_000 {
                eprintln!("engine_driver: subtask {i} took {sink_ms} ms to open its sink, {total_ms} ms in all");
            }
            Ok::<_, BoxError>((source, sink))
        }));
    }
    for o in opening {
        let (source, sink) = o.await??;
        let (tx, rx) = mpsc::channel(4);
        senders.push(tx);
        handles.push(tokio::spawn(subtask(source, sink, rx)));
    }
    eprintln!("engine_driver: {n} subtasks running from checkpoint {epoch}");
    let started = Instant::now();
    loop {
        tokio::time::sleep(interval).await;
        let mut last_records = Vec::new();
        if mode == Mode::Native {
            for tx in &senders {
                let (reply, rx) = oneshot::channel();
                tx.send(Command::Commit(reply)).await?;
                let last = tokio::time::timeout(STALL, rx)
                    .await
                    .map_err(|_| "transaction commit stalled".to_owned())??
                    .map_err(|e| format!("commit: {e}"))?;
                last_records.push(last);
            }
        } else {
            epoch += 1;
            let mut states = Vec::new();
            for (i, tx) in senders.iter().enumerate() {
                let (reply, rx) = oneshot::channel();
                tx.send(Command::Barrier(epoch, reply)).await?;
                let (source, sink, last) = tokio::time::timeout(STALL, rx)
                    .await
                    .map_err(|_| format!("subtask {i}: checkpoint {epoch} stalled"))??
                    .map_err(|e| format!("checkpoint: {e}"))?;
                states.push((source, sink));
                last_records.push(last);
            }
            write_state(&dir, &serde_json::to_string(&(epoch, &states))?)?;
            for tx in &senders {
                let (reply, rx) = oneshot::channel();
                tx.send(Command::Complete(epoch, reply)).await?;
                tokio::time::timeout(STALL, rx)
                    .await
                    .map_err(|_| format!("checkpoint {epoch}: completion stalled"))??
                    .map_err(|e| format!("complete: {e}"))?;
            }
        }
        let quiet = last_records
            .iter()
            .map(|t| t.elapsed())
            .min()
            .unwrap_or_default();
        // Idle: no subtask had a record for `idle`, and the run is at least that old. A subtask
        // whose partitions hold nothing new keeps the time it started as its last record, which
        // can be a moment before `started`: comparing `quiet` with the run's age instead of
        // with `idle` kept such a run going forever.
        let idle_for = Duration::from_millis(idle);
        if idle > 0 && quiet >= idle_for && started.elapsed() >= idle_for {
            break;
        }
    }
    eprintln!("engine_driver: idle after checkpoint {epoch}, stopping");
    for (i, tx) in senders.iter().enumerate() {
        let (reply, rx) = oneshot::channel();
        tx.send(Command::Stop(reply)).await?;
        tokio::time::timeout(STALL, rx)
            .await
            .map_err(|_| format!("subtask {i}: stop stalled"))?
            .map_err(|_| format!("subtask {i}: stopped with an error"))?;
    }
    for h in handles {
        h.await??;
    }
    eprintln!("engine_driver: idle, stopped after checkpoint {epoch}");
    Ok(())
}
