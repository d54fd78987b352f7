//! `laminar-kafka produce`.

use std::collections::VecDeque;

use anyhow::{Result, bail};
use bytes::Bytes;
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::producer::{DeliveryFuture, Producer, ProducerRecord};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::args::{ProduceArgs, split_pair};
use crate::progress::Progress;

/// Deliveries kept in flight before the oldest is awaited: bounds memory for endless input
/// while letting batching work.
const WINDOW: usize = 100_000;

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
    let headers: Vec<(String, Option<Bytes>)> = args
        .headers
        .iter()
        .map(|h| split_pair(h, "--header").map(|(k, v)| (k, Some(Bytes::from(v)))))
        .collect::<Result<_>>()?;
    let producer = Producer::new(config)?;
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut progress = Progress::new("produced");
    let make = |key: Option<Bytes>, value: Bytes| {
        let mut r = ProducerRecord::new(args.topic.clone(), value);
        r.key = key.or_else(|| args.key.clone().map(Bytes::from));
        r.partition = args.partition;
        r.headers = headers.clone();
        r
    };
    let mut failed = None;
    let mut on_done =
        |result: laminar_kafka_client::Result<_>, progress: &mut Progress, n: u64| match result {
            Ok(_) => progress.add(1, n),
            Err(e) => {
                if failed.is_none() {
                    failed = Some(e);
                }
            }
        };
    if let Some(count) = args.count {
        let value = Bytes::from(
            (0..args.size)
                .map(|i| b'a' + (i % 26) as u8)
                .collect::<Vec<u8>>(),
        );
        for i in 0..count {
            let key = args
                .key
                .is_none()
                .then(|| Bytes::from(format!("key-{}", i % 1000)));
            pending.push_back(producer.send(make(key, value.clone())).await?);
            if pending.len() >= WINDOW
                && let Some(d) = pending.pop_front()
            {
                on_done(d.await, &mut progress, args.size as u64);
            }
        }
    } else {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            let (key, value) = match &args.key_separator {
                Some(sep) => match line.split_once(sep.as_str()) {
                    Some((k, v)) => (Some(Bytes::from(k.to_owned())), v.to_owned()),
                    None => (None, line),
                },
                None => (None, line),
            };
            pending.push_back(producer.send(make(key, Bytes::from(value))).await?);
            if pending.len() >= WINDOW
                && let Some(d) = pending.pop_front()
            {
                on_done(d.await, &mut progress, 0);
            }
        }
    }
    producer.flush().await?;
    let size = if args.count.is_some() {
        args.size as u64
    } else {
        0
    };
    while let Some(d) = pending.pop_front() {
        on_done(d.await, &mut progress, size);
    }
    producer.close().await?;
    progress.finish();
    if let Some(e) = failed {
        bail!("some records were not delivered: {e}");
    }
    Ok(())
}
