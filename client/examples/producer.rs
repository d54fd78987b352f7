//! Produces COUNT records to a topic, waits until the broker has acknowledged every one, and
//! prints where the last one was written.
//!
//! ```sh
//! scripts/kafka.sh start && eval "$(scripts/kafka.sh env)"   # sets KAFKA_BOOTSTRAP
//! scripts/kafka.sh topics --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic greetings --partitions 3
//! cargo run -p laminar-kafka-client --example producer -- greetings 1000
//! ```
//!
//! The broker address comes from `KAFKA_BOOTSTRAP` (default `127.0.0.1:19092`). The test broker
//! does not create topics on first use, hence the `topics --create`.

use std::error::Error;

use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::producer::{Producer, ProducerRecord};

const USAGE: &str = "usage: producer TOPIC [COUNT]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let topic = args.next().ok_or(USAGE)?;
    let count: usize = match args.next() {
        Some(n) => n.parse().map_err(|_| USAGE)?,
        None => 100,
    };
    if count == 0 {
        return Err(USAGE.into());
    }
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_owned());

    // Defaults are the Java client's: acks=all, idempotence on, linger.ms=5.
    let producer = Producer::new(ClientConfig::new(&bootstrap)?)?;

    // `send` only queues the record in its partition's batch (waiting when `buffer.memory` is
    // full) and returns the future of its acknowledgement; the sender task writes the batches
    // meanwhile. Records with the same key go to the same partition, in the order sent.
    let mut deliveries = Vec::with_capacity(count);
    for i in 0..count {
        let record = ProducerRecord::new(topic.as_str(), format!("greeting number {i}"))
            .with_key(format!("user-{}", i % 10));
        deliveries.push(producer.send(record).await?);
    }

    // Each future resolves once the broker has written the record's batch (or it failed).
    let mut last = None;
    for delivery in deliveries {
        last = Some(delivery.await?);
    }
    producer.close().await?;

    if let Some(last) = last {
        println!(
            "{count} records acknowledged; the last one is at {}-{} offset {}",
            last.topic, last.partition, last.offset
        );
    }
    Ok(())
}
