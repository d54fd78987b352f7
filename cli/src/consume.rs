//! `laminar-kafka consume`: assigned partitions (kcat -C) or a group member (kcat -G), printed
//! with kcat's format strings or as JSON lines.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use base64::Engine;
use laminar_kafka_client::admin::Admin;
use laminar_kafka_client::cluster::Cluster;
use laminar_kafka_client::config::{ClientConfig, IsolationLevel};
use laminar_kafka_client::consumer::{
    ConsumedRecord, Consumer, GroupConsumer, Polled, SeekTo, Subscription,
};
use laminar_kafka_client::offsets::{OffsetSpec, TopicPartition};

use crate::args::{ConsumeArgs, From, Isolation};
use crate::progress::Progress;

/// How often a group member commits what it printed.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// One piece of a kcat format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    KeyLen,
    ValueLen,
    Timestamp,
    Headers,
}

/// How records are printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    Format(Vec<Token>),
    Json,
    None,
}

/// Parses a kcat format string (`%t %p %o %k %s %K %S %T %h %%`, `\n \t \r \\`).
pub(crate) fn parse_format(fmt: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut lit = Vec::new();
    let mut chars = fmt.chars();
    let flush = |lit: &mut Vec<u8>, tokens: &mut Vec<Token>| {
        if !lit.is_empty() {
            tokens.push(Token::Literal(std::mem::take(lit)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let t = match chars.next() {
                    Some('t') => Token::Topic,
                    Some('p') => Token::Partition,
                    Some('o') => Token::Offset,
                    Some('k') => Token::Key,
                    Some('s') => Token::Value,
                    Some('K') => Token::KeyLen,
                    Some('S') => Token::ValueLen,
                    Some('T') => Token::Timestamp,
                    Some('h') => Token::Headers,
                    Some('%') => {
                        lit.push(b'%');
                        continue;
                    }
                    Some(other) => bail!(
                        "unknown format placeholder `%{other}`: use %t %p %o %k %s %K %S %T %h or %%"
                    ),
                    None => bail!("the format ends with a lone `%`: write %% for a percent sign"),
                };
                flush(&mut lit, &mut tokens);
                tokens.push(t);
            }
            '\\' => match chars.next() {
                Some('n') => lit.push(b'\n'),
                Some('t') => lit.push(b'\t'),
                Some('r') => lit.push(b'\r'),
                Some('0') => lit.push(0),
                Some('\\') => lit.push(b'\\'),
                Some(other) => {
                    lit.push(b'\\');
                    let mut b = [0u8; 4];
                    lit.extend_from_slice(other.encode_utf8(&mut b).as_bytes());
                }
                None => lit.push(b'\\'),
            },
            c => {
                let mut b = [0u8; 4];
                lit.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    flush(&mut lit, &mut tokens);
    Ok(tokens)
}

/// The output `-f`, `-K` and `--json` ask for.
pub(crate) fn output(args: &ConsumeArgs) -> Result<Output> {
    if args.json {
        return Ok(Output::Json);
    }
    if let Some(d) = &args.key_delimiter {
        let mut t = vec![Token::Key];
        t.extend(parse_format(d)?);
        t.push(Token::Value);
        t.push(Token::Literal(b"\n".to_vec()));
        return Ok(Output::Format(t));
    }
    Ok(match args.format.as_str() {
        "json" => Output::Json,
        "none" => Output::None,
        "value" => Output::Format(parse_format("%s\\n")?),
        "kv" => Output::Format(parse_format("%k\\t%s\\n")?),
        f => Output::Format(parse_format(f)?),
    })
}

fn write_format(out: &mut impl Write, tokens: &[Token], r: &ConsumedRecord<'_>) -> Result<()> {
    for t in tokens {
        match t {
            Token::Literal(b) => out.write_all(b)?,
            Token::Topic => out.write_all(r.topic.as_bytes())?,
            Token::Partition => write!(out, "{}", r.partition)?,
            Token::Offset => write!(out, "{}", r.offset())?,
            Token::Key => out.write_all(r.key().unwrap_or_default())?,
            Token::Value => out.write_all(r.value().unwrap_or_default())?,
            Token::KeyLen => write!(out, "{}", r.key().map_or(-1, |k| k.len() as i64))?,
            Token::ValueLen => write!(out, "{}", r.value().map_or(-1, |v| v.len() as i64))?,
            Token::Timestamp => write!(out, "{}", r.timestamp())?,
            Token::Headers => {
                for (i, h) in r.record.headers().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(h.key())?;
                    out.write_all(b"=")?;
                    out.write_all(h.value().unwrap_or_default())?;
                }
            }
        }
    }
    Ok(())
}

/// `"name": text` when the bytes are UTF-8, else `"name_base64": base64`.
fn json_bytes(obj: &mut serde_json::Map<String, serde_json::Value>, name: &str, b: Option<&[u8]>) {
    match b {
        None => {
            obj.insert(name.to_owned(), serde_json::Value::Null);
        }
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => {
                obj.insert(name.to_owned(), s.into());
            }
            Err(_) => {
                obj.insert(
                    format!("{name}_base64"),
                    base64::engine::general_purpose::STANDARD.encode(b).into(),
                );
            }
        },
    }
}

/// One record as a JSON object.
pub(crate) fn record_json(r: &ConsumedRecord<'_>) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("topic".into(), r.topic.into());
    obj.insert("partition".into(), r.partition.into());
    obj.insert("offset".into(), r.offset().into());
    obj.insert("timestamp".into(), r.timestamp().into());
    json_bytes(&mut obj, "key", r.key());
    json_bytes(&mut obj, "value", r.value());
    let headers: Vec<serde_json::Value> = r
        .record
        .headers()
        .map(|h| {
            let mut o = serde_json::Map::new();
            json_bytes(&mut o, "key", Some(h.key()));
            json_bytes(&mut o, "value", h.value());
            serde_json::Value::Object(o)
        })
        .collect();
    obj.insert("headers".into(), headers.into());
    serde_json::Value::Object(obj)
}

fn print(out: &mut impl Write, output: &Output, r: &ConsumedRecord<'_>) -> Result<()> {
    match output {
        Output::None => Ok(()),
        Output::Format(t) => write_format(out, t, r),
        Output::Json => {
            serde_json::to_writer(&mut *out, &record_json(r))?;
            out.write_all(b"\n")?;
            Ok(())
        }
    }
}

/// Either kind of consumer, for the one poll loop.
enum Reader {
    Assigned(Consumer),
    Group(GroupConsumer),
}

impl Reader {
    async fn poll(&self, timeout: Duration) -> laminar_kafka_client::Result<Polled> {
        match self {
            Reader::Assigned(c) => c.poll(timeout).await,
            Reader::Group(g) => g.poll(timeout).await,
        }
    }

    fn positions(&self) -> HashMap<TopicPartition, i64> {
        match self {
            Reader::Assigned(c) => c.positions(),
            Reader::Group(g) => g.positions(),
        }
    }
}

pub(crate) async fn run(mut config: ClientConfig, args: ConsumeArgs) -> Result<()> {
    let output = output(&args)?;
    if let Some(i) = args.isolation {
        config.set(
            "isolation.level",
            match i {
                Isolation::ReadCommitted => "read_committed",
                Isolation::ReadUncommitted => "read_uncommitted",
            },
        )?;
    }
    let isolation = config.consumer.isolation_level;
    crate::stats::print_to_stderr(&mut config, args.stats)?;
    let (reader, mut ends) = match &args.group {
        Some(group) => {
            if args.partition.is_some() {
                bail!("--partition and --group exclude each other: the group assigns partitions");
            }
            let reset = match args.from {
                From::Earliest => "earliest",
                From::Latest => "latest",
                _ => bail!(
                    "with --group, --from takes earliest or latest (where partitions without a committed offset start); use `groups reset-offsets` to move the group"
                ),
            };
            config.set("group.id", group)?;
            config.set("auto.offset.reset", reset)?;
            config.set("enable.auto.commit", "false")?;
            // The statistics are the consumer's, not this look-up's.
            let mut lookup = config.clone();
            lookup.common.statistics_callback = None;
            let admin = Admin::new(lookup)?;
            let refs: Vec<&str> = args.topic.iter().map(String::as_str).collect();
            admin.describe_topics(&refs).await?;
            admin.close().await;
            let g = GroupConsumer::new(config)?;
            g.subscribe(Subscription::topics(args.topic.clone()))?;
            (Reader::Group(g), None)
        }
        None => {
            if args.topic.len() > 1 {
                bail!("several topics need --group; without it, consume one topic");
            }
            let topic_name = &args.topic[0];
            let cluster = Cluster::new(config)?;
            let topic = cluster.topic(topic_name).await?;
            let partitions: Vec<TopicPartition> = match args.partition {
                Some(p) => {
                    if topic.partition(p).is_none() {
                        return Err(crate::exit::NotFound(format!(
                            "topic `{topic_name}` has no partition {p} (it has {})",
                            topic.partitions.len()
                        ))
                        .into());
                    }
                    vec![(topic_name.clone(), p)]
                }
                None => topic
                    .partitions
                    .iter()
                    .map(|p| (topic_name.clone(), p.partition))
                    .collect(),
            };
            let admin = Admin::from_cluster(cluster.clone());
            let latest = list(&admin, &partitions, OffsetSpec::Latest, isolation).await?;
            let earliest = match args.from {
                From::BeforeEnd(_) => {
                    list(&admin, &partitions, OffsetSpec::Earliest, isolation).await?
                }
                _ => BTreeMap::new(),
            };
            let consumer = Consumer::with_cluster(cluster)?;
            consumer.assign(&partitions)?;
            for tp in &partitions {
                let to = match args.from {
                    From::Earliest => SeekTo::Earliest,
                    From::Latest => SeekTo::Latest,
                    From::Offset(o) => SeekTo::Offset(o),
                    From::Timestamp(t) => SeekTo::Timestamp(t),
                    From::BeforeEnd(n) => {
                        let end = latest.get(tp).copied().unwrap_or(0);
                        let start = earliest.get(tp).copied().unwrap_or(0);
                        SeekTo::Offset((end - n).max(start))
                    }
                };
                consumer.seek(tp, to)?;
            }
            (Reader::Assigned(consumer), Some(latest))
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut progress = Progress::new("consumed");
    let mut last_record = Instant::now();
    // The next offset after the last record printed, per partition: what a group commits.
    let mut printed: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut committed: Vec<(TopicPartition, i64)> = Vec::new();
    let mut last_commit = Instant::now();
    let idle = (args.idle_timeout_ms > 0).then(|| Duration::from_millis(args.idle_timeout_ms));
    let result: Result<()> = async {
        'outer: loop {
            if args.count.is_some_and(|c| progress.records() >= c) {
                break;
            }
            if idle.is_some_and(|d| last_record.elapsed() >= d) {
                break;
            }
            if args.until_end && at_end(&reader, &mut ends, isolation) {
                break;
            }
            let polled = reader.poll(Duration::from_millis(200)).await?;
            let mut any = false;
            for r in polled.iter() {
                let r = r?;
                print(&mut out, &output, &r)?;
                printed.insert((r.topic.to_owned(), r.partition), r.offset() + 1);
                any = true;
                progress.add(1, r.value().map_or(0, |v| v.len() as u64));
                last_record = Instant::now();
                if args.count.is_some_and(|c| progress.records() >= c) {
                    break 'outer;
                }
            }
            if any {
                out.flush()?;
            }
            // A member commits what it printed about once a second, so that lag tools see it
            // while it runs; a failure here (a rebalance) is retried by the next commit, and
            // the last commit's error is reported.
            if let Reader::Group(g) = &reader
                && last_commit.elapsed() >= COMMIT_INTERVAL
            {
                last_commit = Instant::now();
                let offsets: Vec<(TopicPartition, i64)> =
                    printed.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
                if !offsets.is_empty()
                    && offsets != committed
                    && g.commit_offsets_sync(&offsets).await.is_ok()
                {
                    committed = offsets;
                }
            }
        }
        out.flush()?;
        Ok(())
    }
    .await;
    drop(out);
    match reader {
        Reader::Assigned(c) => c.close().await,
        Reader::Group(g) => {
            // Commit what was printed, even after a write error (what reached stdout counts).
            let offsets: Vec<(TopicPartition, i64)> = printed.into_iter().collect();
            let committed = if offsets.is_empty() {
                Ok(())
            } else {
                g.commit_offsets_sync(&offsets).await
            };
            g.close().await;
            if result.is_ok() {
                committed?;
            }
        }
    }
    result?;
    progress.finish();
    Ok(())
}

async fn list(
    admin: &Admin,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, i64>> {
    let wanted: Vec<(TopicPartition, OffsetSpec)> =
        partitions.iter().map(|tp| (tp.clone(), spec)).collect();
    Ok(admin
        .list_offsets(&wanted, isolation)
        .await?
        .into_iter()
        .map(|(tp, o)| (tp, o.offset))
        .collect())
}

/// Whether every partition has been read to its end (`-e`): the end listed at start for
/// assigned partitions, the last fetch's watermark for a group's.
fn at_end(
    reader: &Reader,
    ends: &mut Option<BTreeMap<TopicPartition, i64>>,
    isolation: IsolationLevel,
) -> bool {
    let positions = reader.positions();
    match (reader, ends) {
        (Reader::Assigned(_), Some(ends)) => ends
            .iter()
            .all(|(tp, end)| positions.get(tp).is_some_and(|p| p >= end) || *end == 0),
        (Reader::Group(g), _) => {
            let assigned = g.assignment();
            !assigned.is_empty()
                && assigned.iter().all(|tp| {
                    let Some(w) = g.watermarks(tp) else {
                        return false;
                    };
                    let end = if isolation == IsolationLevel::ReadCommitted {
                        w.last_stable_offset
                    } else {
                        w.high_watermark
                    };
                    positions.get(tp).is_some_and(|p| *p >= end)
                })
        }
        _ => false,
    }
}
