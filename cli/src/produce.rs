//! `laminar-kafka produce`: lines of stdin or a file (or a whole file) as records, or generated
//! ones; optionally all in one transaction.

use std::collections::VecDeque;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::producer::{DeliveryFuture, Producer, ProducerRecord};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use crate::args::{ProduceArgs, split_pair};
use crate::progress::Progress;

/// Deliveries kept in flight before the oldest is awaited: bounds memory for endless input
/// while letting batching work.
const WINDOW: usize = 100_000;

struct Sender<'a> {
    producer: Producer,
    args: &'a ProduceArgs,
    headers: Vec<(String, Option<Bytes>)>,
    pending: VecDeque<(DeliveryFuture, u64)>,
    progress: Progress,
    failed: Option<laminar_kafka_client::Error>,
}

impl Sender<'_> {
    async fn send(&mut self, key: Option<Bytes>, value: Bytes) -> Result<()> {
        let size = value.len() as u64;
        let mut r = ProducerRecord::new(self.args.topic.clone(), value);
        r.key = key.or_else(|| self.args.key.clone().map(Bytes::from));
        r.partition = self.args.partition;
        r.headers = self.headers.clone();
        self.pending.push_back((self.producer.send(r).await?, size));
        if self.pending.len() >= WINDOW {
            self.settle_one().await;
        }
        Ok(())
    }

    async fn settle_one(&mut self) {
        if let Some((d, size)) = self.pending.pop_front() {
            match d.await {
                Ok(_) => self.progress.add(1, size),
                Err(e) => {
                    if self.failed.is_none() {
                        self.failed = Some(e);
                    }
                }
            }
        }
    }

    async fn line(&mut self, line: String) -> Result<()> {
        let (key, value) = match &self.args.key_delimiter {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(Bytes::from(k.to_owned())), v.to_owned()),
                None => (None, line),
            },
            None => (None, line),
        };
        self.send(key, Bytes::from(value)).await
    }
}

pub(crate) async fn run(mut config: ClientConfig, args: ProduceArgs) -> Result<()> {
    if let Some(c) = &args.compression {
        config.set("compression.type", c)?;
    }
    if let Some(a) = &args.acks {
        config.set("acks", a)?;
        if a != "all" && a != "-1" {
            config.set("enable.idempotence", "false")?;
        }
    }
    let transactional = args.transactional.is_some();
    if let Some(id) = &args.transactional {
        let id = if id.is_empty() {
            format!("laminar-kafka-cli-{}", std::process::id())
        } else {
            id.clone()
        };
        config.set("transactional.id", &id)?;
    }
    if args.count.is_some() && (args.file.is_some() || args.whole_file) {
        bail!("--count generates records: leave out --file and --whole-file");
    }
    let headers: Vec<(String, Option<Bytes>)> = args
        .headers
        .iter()
        .map(|h| split_pair(h, "--header").map(|(k, v)| (k, Some(Bytes::from(v)))))
        .collect::<Result<_>>()?;
    let input: Option<Box<dyn AsyncRead + Unpin + Send>> = match (&args.file, args.count) {
        (Some(path), _) => {
            Some(Box::new(tokio::fs::File::open(path).await.with_context(
                || format!("cannot open {}: check the path", path.display()),
            )?))
        }
        (None, None) => Some(Box::new(tokio::io::stdin())),
        (None, Some(_)) => None,
    };
    crate::stats::print_to_stderr(&mut config, args.stats)?;
    let producer = Producer::new(config)?;
    if transactional {
        producer.init_transactions().await?;
        producer.begin_transaction()?;
    }
    let mut s = Sender {
        producer,
        args: &args,
        headers,
        pending: VecDeque::new(),
        progress: Progress::new("produced"),
        failed: None,
    };
    let sent: Result<()> = async {
        match input {
            None => {
                let value = Bytes::from(
                    (0..args.size)
                        .map(|i| b'a' + (i % 26) as u8)
                        .collect::<Vec<u8>>(),
                );
                for i in 0..args.count.unwrap_or(0) {
                    let key = args
                        .key
                        .is_none()
                        .then(|| Bytes::from(format!("key-{}", i % 1000)));
                    s.send(key, value.clone()).await?;
                }
            }
            Some(mut input) if args.whole_file => {
                let mut all = Vec::new();
                input.read_to_end(&mut all).await?;
                s.send(None, Bytes::from(all)).await?;
            }
            Some(input) => {
                let mut lines = BufReader::new(input).lines();
                while let Some(line) = lines.next_line().await? {
                    s.line(line).await?;
                }
            }
        }
        s.producer.flush().await?;
        while !s.pending.is_empty() {
            s.settle_one().await;
        }
        Ok(())
    }
    .await;
    let outcome = match (sent, s.failed.take()) {
        (Ok(()), None) => {
            if transactional {
                s.producer.commit_transaction().await?;
            }
            Ok(())
        }
        (Err(e), _) => Err(e),
        (Ok(()), Some(e)) => Err(anyhow::Error::new(e).context("some records were not delivered")),
    };
    if outcome.is_err() && transactional {
        let _ = s.producer.abort_transaction().await;
    }
    s.producer.close().await?;
    outcome?;
    s.progress.finish();
    Ok(())
}
