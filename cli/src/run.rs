//! `laminar-kafka run SCRIPT.sql`: runs the connector's SQL pipelines until interrupted, or
//! prints the rows of a last `SELECT`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use laminar_kafka_runner::{
    PipelineStats, PreviewFormat, RunOptions, Script, run_pipeline, run_preview,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use crate::args::{RowFormat, RunArgs};

/// Turns SIGINT and SIGTERM into a stop request: pipelines commit and close.
fn stop_on_signals() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("laminar-kafka: stopping: committing and closing");
        let _ = tx.send(true);
    });
    rx
}

/// A metric: name, Prometheus type, and how to read it from a pipeline's counters.
type Metric = (&'static str, &'static str, fn(&PipelineStats) -> String);

/// The placeholder lookup shared by the pipeline tasks.
type SharedEnv = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Prometheus text of every pipeline's counters.
fn prometheus(stats: &[(String, Arc<PipelineStats>)]) -> String {
    let mut out = String::new();
    let metrics: [Metric; 6] = [
        ("laminar_records_in_total", "counter", |s| {
            s.rows_in.load(Ordering::Relaxed).to_string()
        }),
        ("laminar_records_out_total", "counter", |s| {
            s.rows_out.load(Ordering::Relaxed).to_string()
        }),
        ("laminar_commits_total", "counter", |s| {
            s.commits.load(Ordering::Relaxed).to_string()
        }),
        ("laminar_source_lag_records", "gauge", |s| {
            s.lag.load(Ordering::Relaxed).to_string()
        }),
        ("laminar_decode_errors_total", "counter", |s| {
            s.decode_errors.load(Ordering::Relaxed).to_string()
        }),
        ("laminar_commit_latency_seconds", "gauge", |s| {
            format!(
                "{:.6}",
                s.last_commit_us.load(Ordering::Relaxed) as f64 / 1e6
            )
        }),
    ];
    for (name, kind, value) in metrics {
        out.push_str(&format!("# TYPE {name} {kind}\n"));
        for (pipeline, s) in stats {
            out.push_str(&format!("{name}{{pipeline=\"{pipeline}\"}} {}\n", value(s)));
        }
    }
    out.push_str("# TYPE laminar_source_partition_lag_records gauge\n");
    for (pipeline, s) in stats {
        let lags = s.partition_lag.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, partition, lag) in lags.iter() {
            out.push_str(&format!(
                "laminar_source_partition_lag_records{{pipeline=\"{pipeline}\",topic=\"{topic}\",partition=\"{partition}\"}} {lag}\n"
            ));
        }
    }
    out
}

/// Serves the metrics as Prometheus text on `addr` (any path).
async fn serve_metrics(
    addr: String,
    stats: Vec<(String, Arc<PipelineStats>)>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("--metrics {addr}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let mut body = prometheus(&stats);
            body.push_str(&laminar_kafka_runner::client_metrics::prometheus(
                &laminar_kafka_client::stats::all(),
            ));
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                // The request is not parsed: every path answers with the metrics.
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    tokio::io::AsyncReadExt::read(&mut socket, &mut buf),
                )
                .await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(())
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let sql = std::fs::read_to_string(&args.script)
        .with_context(|| format!("reading {}", args.script.display()))?;
    let mut vars = HashMap::new();
    let mut bootstrap = None;
    for set in &args.set {
        let Some((k, v)) = set.split_once('=') else {
            bail!("--set {set}: expected NAME=VALUE");
        };
        if k == "bootstrap_servers" {
            bootstrap = Some(v.to_owned());
        } else {
            vars.insert(k.to_owned(), v.to_owned());
        }
    }
    let env = move |name: &str| vars.get(name).cloned().or_else(|| std::env::var(name).ok());
    let script = Script::parse(&sql, bootstrap.as_deref())
        .await
        .with_context(|| format!("{}", args.script.display()))?;
    let stop = stop_on_signals();

    if let Some(preview) = &script.preview {
        if !script.pipelines.is_empty() {
            bail!("a script either runs INSERT pipelines or previews a SELECT, not both");
        }
        let format = match args.format {
            RowFormat::Table => PreviewFormat::Table,
            RowFormat::Json => PreviewFormat::JsonLines,
        };
        let mut out = std::io::stdout();
        run_preview(preview, &env, format, args.limit, &mut out, stop).await?;
        return Ok(());
    }

    let options =
        RunOptions::default().with_commit_interval(Duration::from_millis(args.commit_interval_ms));
    let script = Arc::new(script);
    let env: SharedEnv = Arc::new(env);
    let mut stats = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..script.pipelines.len() {
        let s = Arc::new(PipelineStats::default());
        stats.push((script.pipelines[i].sink.name.clone(), s.clone()));
        let (script, env, options, stop) =
            (script.clone(), env.clone(), options.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            run_pipeline(&script.pipelines[i], &*env, &options, s, stop).await
        }));
    }
    if let Some(addr) = &args.metrics {
        serve_metrics(addr.clone(), stats.clone()).await?;
    }
    let progress = args.progress || std::io::stderr().is_terminal();
    let reporter = progress.then(|| {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut last: Vec<(u64, u64)> = vec![(0, 0); stats.len()];
            let mut at = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let secs = at.elapsed().as_secs_f64().max(0.001);
                at = Instant::now();
                for ((name, s), prev) in stats.iter().zip(last.iter_mut()) {
                    let (i, o) = (s.rows_in.load(Ordering::Relaxed), s.rows_out.load(Ordering::Relaxed));
                    eprintln!(
                        "{name}: in {:.0}/s out {:.0}/s (total {i} → {o}), lag {}, {} commits, last {:.1} ms",
                        (i - prev.0) as f64 / secs,
                        (o - prev.1) as f64 / secs,
                        s.lag.load(Ordering::Relaxed),
                        s.commits.load(Ordering::Relaxed),
                        s.last_commit_us.load(Ordering::Relaxed) as f64 / 1000.0,
                    );
                    *prev = (i, o);
                }
            }
        })
    });
    let mut first_error = None;
    for t in tasks {
        let result = t.await.context("a pipeline task panicked")?;
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    if let Some(r) = reporter {
        r.abort();
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
