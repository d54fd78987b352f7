//! `laminar-kafka consume`.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use laminar_kafka_client::cluster::Cluster;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{ConsumedRecord, Consumer, SeekTo};

use crate::args::{ConsumeArgs, From, OutputFormat};
use crate::progress::Progress;

fn json_string(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "null".to_owned(),
        Some(b) => {
            let s = String::from_utf8_lossy(b);
            let mut out = String::with_capacity(s.len() + 2);
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

fn print(
    out: &mut impl Write,
    format: OutputFormat,
    r: &ConsumedRecord<'_>,
) -> std::io::Result<()> {
    match format {
        OutputFormat::None => Ok(()),
        OutputFormat::Value => {
            out.write_all(r.value().unwrap_or_default())?;
            out.write_all(b"\n")
        }
        OutputFormat::Kv => {
            out.write_all(r.key().unwrap_or_default())?;
            out.write_all(b"\t")?;
            out.write_all(r.value().unwrap_or_default())?;
            out.write_all(b"\n")
        }
        OutputFormat::Json => {
            let headers: Vec<String> = r
                .record
                .headers()
                .map(|h| {
                    format!(
                        "[{},{}]",
                        json_string(Some(h.key())),
                        json_string(h.value())
                    )
                })
                .collect();
            writeln!(
                out,
                "{{\"topic\":{},\"partition\":{},\"offset\":{},\"timestamp\":{},\"key\":{},\"value\":{},\"headers\":[{}]}}",
                json_string(Some(r.topic.as_bytes())),
                r.partition,
                r.offset(),
                r.timestamp(),
                json_string(r.key()),
                json_string(r.value()),
                headers.join(",")
            )
        }
    }
}

pub(crate) async fn run(config: ClientConfig, args: ConsumeArgs) -> Result<()> {
    let cluster = Cluster::new(config)?;
    let topic = cluster.topic(&args.topic).await?;
    let partitions: Vec<(String, i32)> = match args.partition {
        Some(p) => vec![(args.topic.clone(), p)],
        None => (0..topic.partitions.len() as i32)
            .map(|p| (args.topic.clone(), p))
            .collect(),
    };
    let consumer = Consumer::with_cluster(cluster)?;
    consumer.assign(&partitions)?;
    let to = match args.from {
        From::Earliest => SeekTo::Earliest,
        From::Latest => SeekTo::Latest,
        From::Offset(o) => SeekTo::Offset(o),
    };
    for tp in &partitions {
        consumer.seek(tp, to)?;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut progress = Progress::new("consumed");
    let mut last_record = Instant::now();
    let idle = (args.idle_timeout_ms > 0).then(|| Duration::from_millis(args.idle_timeout_ms));
    'outer: loop {
        if args.count.is_some_and(|c| progress.records() >= c) {
            break;
        }
        if idle.is_some_and(|d| last_record.elapsed() >= d) {
            break;
        }
        let polled = consumer.poll(Duration::from_millis(200)).await?;
        for r in polled.iter() {
            let r = r?;
            print(&mut out, args.format, &r)?;
            progress.add(1, r.value().map_or(0, |v| v.len() as u64));
            last_record = Instant::now();
            if args.count.is_some_and(|c| progress.records() >= c) {
                break 'outer;
            }
        }
    }
    out.flush()?;
    drop(out);
    consumer.close().await;
    progress.finish();
    Ok(())
}
